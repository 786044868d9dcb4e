"""PostgreSQL backups for the `db` group with Debian's pgBackRest: every WAL segment archived
(PostgreSQL's archive_command, set by tasks/postgres.py), full and differential backups on
systemd timers with count-based retention, the repository encrypted with a key from the secret
store. Both databases (LiteLLM's and the SaaS API's) are one cluster: backed up and restored
together. The CLI is `python -m bundle.backup` (status, backup, restore).

Single topology (no `backup` group): the repository is /var/lib/pgbackrest on the db host
itself, which does not survive the loss of that host; the deploy says so. A `backup` group
(pgBackRest 2.45 pulls from the backup host) is the next step and refused until it exists."""

from __future__ import annotations

import re

from pyinfra import host, inventory, logger
from pyinfra.api import deploy
from pyinfra.operations import apt, server, systemd

from bundle import pgbackrest
from bundle.data import settings_reader
from bundle.deploy_secrets import secrets_for
from bundle.facts import OsCodename, PgBackRestState
from bundle.operations import rendered_file
from bundle.preflight import PreflightError

DEFAULTS = {
    # Full backups kept (with the WAL needed to restore from them), and differentials kept.
    "backup_retention_full": 2,
    "backup_retention_diff": 6,
    # systemd OnCalendar values: a weekly full, a differential on the other days.
    "backup_full_schedule": "Sun *-*-* 02:30",
    "backup_diff_schedule": "Mon..Sat *-*-* 02:30",
    # Spreads the start so that many environments do not back up in the same second.
    "backup_randomized_delay": "10m",
    # Processes compressing and encrypting files in a backup or restore.
    "backup_process_max": 2,
}
# Debian's PostgreSQL major version per release (as tasks/postgres.py).
POSTGRES_VERSIONS = {"bookworm": 15, "trixie": 17}
SINGLE_HOST_WARNING = (
    "Backups: the repository is on the db host itself ({host}:{path}); it does not survive the "
    "loss of that host. Add a `backup` group host for backups that do."
)

setting = settings_reader(DEFAULTS)
_warned = set()


def check_backup_settings(name: str, data) -> None:
    """Preflight for the backup settings of a db host: one line naming the key and the remedy."""
    for key in ("backup_retention_full", "backup_retention_diff", "backup_process_max"):
        value = data.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 999
        ):
            raise PreflightError(
                f"{name}: {key} = {value!r}; set a whole number from 1 to 999 in "
                "group_data/<environment>.py"
            )
    for key in ("backup_full_schedule", "backup_diff_schedule", "backup_randomized_delay"):
        value = data.get(key)
        if value is not None and (
            not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9 ,.:*/~-]+", value)
        ):
            raise PreflightError(
                f"{name}: {key} = {value!r}; set a systemd time value (OnCalendar, e.g. "
                "'Sun *-*-* 02:30', or a span like '10m') in group_data/<environment>.py"
            )
    if inventory.get_group("backup", []):
        raise PreflightError(
            "inventory: the `backup` group is not supported yet (backups pulled from a backup "
            "host come next); remove it to keep the repository on the db host"
        )


@deploy("PostgreSQL backups")
def deploy_backup():
    # tasks/postgres.py's setting of the same name, when an environment overrides it.
    versions = host.data.get("postgres_versions") or POSTGRES_VERSIONS
    version = versions[host.get_fact(OsCodename)]
    cluster_unit = f"postgresql@{version}-main.service"
    writable = pgbackrest.postgres_paths(repository_on_db_host=True)
    if host.name not in _warned:
        _warned.add(host.name)
        logger.warning(SINGLE_HOST_WARNING.format(host=host.name, path=pgbackrest.REPOSITORY))

    # Read before anything changes: None on the first deploy (pgBackRest not installed yet).
    state = host.get_fact(PgBackRestState, stanza=pgbackrest.STANZA)
    apt.packages(name="Install pgBackRest", packages=["pgbackrest"], no_recommends=True)
    secrets = secrets_for(host.data.get("environment"))
    rendered_file(
        "backup/pgbackrest.conf.j2",
        pgbackrest.CONFIG,
        mode="640",
        user="root",
        group="postgres",
        stanza=pgbackrest.STANZA,
        data_directory=f"/var/lib/postgresql/{version}/main",
        repository={
            "path": pgbackrest.REPOSITORY,
            "cipher_pass": secrets["pgbackrest_cipher_pass"],
            "retention_full": setting("backup_retention_full"),
            "retention_diff": setting("backup_retention_diff"),
        },
        process_max=setting("backup_process_max"),
        spool=pgbackrest.SPOOL,
        lock=pgbackrest.LOCK,
        log=pgbackrest.LOG,
    )
    units = [
        rendered_file(
            "backup/pgbackrest-backup@.service.j2",
            "/etc/systemd/system/pgbackrest-backup@.service",
            stanza=pgbackrest.STANZA,
            binary=pgbackrest.BINARY,
            writable_paths=writable,
            # The repository and the server are both on this host: no network at all.
            private_network=True,
        )
    ]
    for kind in pgbackrest.BACKUP_TYPES:
        units.append(
            rendered_file(
                "backup/pgbackrest-backup.timer.j2",
                f"/etc/systemd/system/pgbackrest-backup-{kind}.timer",
                kind=kind,
                schedule=setting(f"backup_{kind}_schedule"),
                randomized_delay=setting("backup_randomized_delay"),
            )
        )
    systemd.daemon_reload(
        name="Reload systemd for the backup units",
        _if=lambda: any(unit.did_change() for unit in units),
    )

    if not _repository_matches_cluster(state):
        return
    _first_stanza_and_backup(state, cluster_unit)
    for kind in pgbackrest.BACKUP_TYPES:
        systemd.service(
            name=f"Start and enable the {kind} backup timer",
            service=f"pgbackrest-backup-{kind}.timer",
            running=True,
            enabled=True,
        )


def _repository_matches_cluster(state) -> bool:
    """False, with the reason said once, when the repository belongs to another cluster (this
    db host was redeployed and initdb made a new one): archiving into it is refused by
    pgBackRest, and the stanza must never be "upgraded" onto the empty cluster; the operator
    restores instead."""
    if not state or not state["info"] or not state["info"].exists:
        return True
    repository, cluster = state["info"].system_id, state["cluster_system_id"]
    if cluster is None or repository == cluster:
        return True
    message = (
        f"Backups: the repository's stanza {pgbackrest.STANZA} belongs to another cluster "
        f"(system id {repository}, this one {cluster}): this db host was set up anew. Skipping "
        "the backup setup; restore with `python -m bundle.backup restore --inventory <inventory>`"
        ", then deploy again"
    )
    logger.warning(message)
    host.noop(message)
    return False


def _first_stanza_and_backup(state, cluster_unit: str) -> None:
    """The stanza once, and a first full backup while the stanza has none, so a restore point
    exists right after the first deploy. Never `stanza-upgrade` (it would adopt any cluster)."""
    info = state["info"] if state else None
    if info is not None and info.exists:
        host.noop(f"stanza {pgbackrest.STANZA} exists and matches this cluster")
    elif state and state["error"]:
        # A repository pgBackRest cannot read (a wrong key) is not an absent one.
        raise PreflightError(f"{host.name}: backup repository: {state['error']}")
    else:
        # stanza-create itself refuses a repository of another cluster ([028]), which covers
        # the first deploy, when no fact could be read.
        server.shell(
            name="Create the pgBackRest stanza",
            commands=[
                f"systemctl is-active --quiet {cluster_unit}",
                f"runuser -u postgres -- {pgbackrest.BINARY} --stanza={pgbackrest.STANZA} "
                "stanza-create",
            ],
        )
    if info is not None and info.backups:
        host.noop(f"the repository holds {len(info.backups)} backup(s)")
        return
    server.shell(
        name="Check WAL archiving and take the first full backup",
        commands=[
            # check: forces a WAL switch and waits until that segment is in the repository.
            f"runuser -u postgres -- {pgbackrest.BINARY} --stanza={pgbackrest.STANZA} check",
            "systemctl start --wait " + pgbackrest.BACKUP_UNIT.format(kind="full"),
        ],
    )
