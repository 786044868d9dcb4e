"""Data-tier servers held out of unattended upgrades, and upgraded when the operator says so.

Debian's postgresql-<major> and redis-server packages restart their service when they are
upgraded. Left to unattended-upgrades, that happens at a random time of apt-daily-upgrade's
window, on the db and the cache host alike, under every `llm` and `api` host at once, and
nobody is told. Held, such an update waits: every deploy warns about a pending one, and
`--data apply_held_updates=True` (with `--limit <host>`, one host at a time) installs it, lets
the package restart the service and waits until it answers again. Security updates of every
other package stay unattended."""

from __future__ import annotations

from pyinfra import host, logger
from pyinfra.operations import apt, server

from bundle.facts import PendingUpgrades
from bundle.operations import rendered_file


def held_server_packages(
    *, task: str, label: str, packages: list[str], ready_command: str, conf_name: str
) -> None:
    """Hold `packages` out of unattended upgrades on this host; warn about pending updates of
    them, or install those when the host's data says `apply_held_updates`, then wait for
    `ready_command` to succeed (60 s at most)."""
    rendered_file(
        "shared/held-updates.conf.j2",
        f"/etc/apt/apt.conf.d/51gateway-hold-{conf_name}",
        task=task,
        label=label,
        packages=packages,
    )
    pending = {
        name: versions
        for name, versions in (host.get_fact(PendingUpgrades) or {}).items()
        if name in packages
    }
    if not pending:
        return
    listed = ", ".join(f"{name} {old} -> {new}" for name, (old, new) in sorted(pending.items()))
    if not host.data.get("apply_held_updates"):
        logger.warning(
            f"{host.name}: {label} update pending ({listed}); held from unattended upgrades: "
            f"install it with `--limit {host.name} --data apply_held_updates=True`"
        )
        return
    apt.packages(
        name=f"Install the held {label} update ({listed})",
        packages=sorted(pending),
        latest=True,
        no_recommends=True,
    )
    server.shell(
        name=f"Wait until {label} answers after its update",
        commands=[f"timeout 60 sh -c 'until {ready_command}; do sleep 1; done'"],
    )
