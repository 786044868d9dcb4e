"""Small facts the bundle's deploys read before deciding what to change."""

from __future__ import annotations

from pyinfra.api import FactBase


class ContainerType(FactBase):
    """
    The container technology the host runs in, or ``None`` on a VM or bare metal.

    .. code:: python

        "systemd-nspawn"
    """

    def command(self) -> str:
        # Exits 1 and prints "none" outside a container.
        return "systemd-detect-virt --container || true"

    def process(self, output):
        value = "".join(output).strip()
        return None if value in ("", "none") else value


class SshClientAddress(FactBase):
    """
    The address this deploy's own SSH connection comes from, or ``None`` when unknown
    (for example when sudo cleared the environment).

    .. code:: python

        "203.0.113.7"
    """

    def command(self) -> str:
        return 'echo "${SSH_CONNECTION:-}"'

    def process(self, output):
        fields = "".join(output).split()
        return fields[0] if fields else None
