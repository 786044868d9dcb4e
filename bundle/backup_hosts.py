"""The hosts a backup or restore touches, reached over SSH with the inventory's own connection
data (as the verification suite and provisioning do): the db host, the repository's host (the
`backup` host, or the db host itself in the single topology) and the LiteLLM and SaaS API hosts
whose services write to the databases.

The repository key goes to pgBackRest only through its environment
(PGBACKREST_REPO1_CIPHER_PASS), read by the remote shell from standard input: never in argv, on
the host's disk or in any output."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass, field

from bundle import pgbackrest
from bundle.inventory_data import InventoryError, load_hosts
from bundle.ssh_tunnel import ssh_argv

# Units that write to the databases, per group, and the scripts that say they serve again.
WRITERS = {
    "llm": ("litellm@*.service", ("/opt/litellm/wait-ready",)),
    "api": (
        "saas-api.service saas-admin.service",
        ("/opt/saas-api/wait-ready", "/opt/saas-api/wait-admin-ready"),
    ),
}
# ssh's own exit code when it could not connect (or lost the connection).
SSH_FAILED = 255


class BackupError(Exception):
    """One line for the operator: what failed, where, and what to do."""


@dataclass
class Host:
    name: str
    data: dict
    groups: tuple[str, ...]

    def run(self, command: str, *, stdin: str = "", timeout: float = 600):
        """`command` on the host; a connection failure is a BackupError naming the host."""
        try:
            result = subprocess.run(
                [*ssh_argv(self.name, self.data), command],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BackupError(
                f"{self.name}: `{command[:60]}` did not finish in {timeout:.0f} s"
            ) from None
        if result.returncode == SSH_FAILED and not result.stdout:
            raise BackupError(
                f"{self.name}: unreachable over SSH ({last_line(result.stderr) or 'no answer'}); "
                "check the host and the inventory's connection data"
            )
        return result

    def check(self, command: str, what: str, **kwargs) -> str:
        """`command`'s standard output; a failure is one line naming the host and `what`."""
        result = self.run(command, **kwargs)
        if result.returncode != 0:
            detail = last_line(result.stderr) or last_line(result.stdout)
            raise BackupError(f"{self.name}: {what} failed (exit {result.returncode}): {detail}")
        return result.stdout


def last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


@dataclass
class Environment:
    """An inventory as a backup sees it."""

    inventory: str
    environment: str
    db: Host
    writers: list[Host] = field(default_factory=list)  # llm and api hosts
    backup: Host | None = None  # the `backup` host, when the repository is not on the db host

    @property
    def repository_host(self) -> Host:
        return self.backup or self.db

    def db_pgbackrest(self, *args: str) -> str:
        """A pgBackRest command on the db host: with the key in the single topology; with a
        backup host, pgBackRest reads the cipher settings from there (and 2.45's db-side client
        must not be given them: docs/research/pgbackrest-2.45.md)."""
        return pgbackrest_command(*args, with_key=self.backup is None)

    def db_stdin(self, key: str) -> str:
        return key + "\n" if self.backup is None else ""


def load(inventory: str) -> Environment:
    try:
        hosts = [Host(h["name"], h["data"], tuple(h["groups"])) for h in load_hosts(inventory)]
    except InventoryError as error:
        raise BackupError(str(error)) from None
    dbs = [h for h in hosts if "db" in h.groups]
    if not dbs:
        raise BackupError(f"{inventory}: no host in the `db` group; nothing is backed up")
    backups = [h for h in hosts if "backup" in h.groups]
    if len(backups) > 1:
        raise BackupError(f"{inventory}: {len(backups)} hosts in `backup`; give it exactly one")
    environment = dbs[0].data.get("environment")
    if not environment:
        raise BackupError(f"{inventory}: `environment` is not set (group_data)")
    writers = [h for h in hosts if set(WRITERS) & set(h.groups)]
    return Environment(inventory, environment, dbs[0], writers, backups[0] if backups else None)


def pgbackrest_command(*args: str, with_key: bool = True) -> str:
    """A pgBackRest command as its account, with the repository key read from standard input
    into its environment (`with_key`)."""
    command = f"exec runuser -u {pgbackrest.USER} -- {pgbackrest.BINARY} " + " ".join(
        map(shlex.quote, args)
    )
    if not with_key:
        return command
    return (
        "IFS= read -r PGBACKREST_REPO1_CIPHER_PASS; export PGBACKREST_REPO1_CIPHER_PASS; " + command
    )


def psql_command(sql: str) -> str:
    """psql as postgres on the db host (peer authentication over the local socket)."""
    return f"cd / && runuser -u postgres -- psql -XAtq -F '|' -c {shlex.quote(sql)}"


def active_units(host: Host) -> list[str]:
    """The host's running units that write to the databases."""
    patterns = " ".join(WRITERS[g][0] for g in WRITERS if g in host.groups)
    out = host.check(
        f"systemctl list-units --plain --no-legend --state=active {patterns}",
        "listing the services that write to the database",
    )
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def wait_ready_scripts(host: Host) -> list[str]:
    return [script for g in WRITERS if g in host.groups for script in WRITERS[g][1]]
