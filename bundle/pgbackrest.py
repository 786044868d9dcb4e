"""pgBackRest as the bundle uses it: where its files live on a db host, and the pure logic the
deploy and the backup CLI share (reading `pgbackrest info --output=json`, checking a restore
target). No I/O here, so unit tests cover it whole.

The repository is on the db host itself (/var/lib/pgbackrest) unless the inventory has a
`backup` group; with one, pgBackRest 2.45 can only pull (backups run on the backup host, the db
host pushes WAL to it over SSH; docs/research/pgbackrest-2.45.md), which `repository_on_db_host`
is the switch for. On both hosts pgBackRest runs as `postgres`, the package's own owner of its
directories (postgresql-common, which it depends on, makes that account on the backup host
too)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

STANZA = "main"
CONFIG = "/etc/pgbackrest/pgbackrest.conf"
REPOSITORY = "/var/lib/pgbackrest"
SPOOL = "/var/spool/pgbackrest"
LOG = "/var/log/pgbackrest"
# Not pgBackRest's default /tmp/pgbackrest: PostgreSQL's PrivateTmp would give archive-push a
# /tmp of its own, where `pgbackrest stop` and the backup's lock could not see it.
LOCK = "/run/pgbackrest"
BINARY = "/usr/bin/pgbackrest"
ARCHIVE_COMMAND = f"{BINARY} --stanza={STANZA} archive-push %p"
BACKUP_UNIT = "pgbackrest-backup@{kind}.service"
BACKUP_TYPES = ("full", "diff")
# pgBackRest's own account on the db host and on the backup host, and its home there.
USER = "postgres"
HOME = "/var/lib/postgresql"


def postgres_paths(*, repository_on_db_host: bool) -> tuple[str, ...]:
    """What archive-push (run by the PostgreSQL server) writes: the async spool, its log, its
    lock, and in the single topology the repository itself."""
    return (SPOOL, LOG, LOCK) + ((REPOSITORY,) if repository_on_db_host else ())


def forced_command_key(public_key: str, peer_address: str) -> str:
    """An authorized_keys line admitting `public_key` from `peer_address` only, to run only
    pgBackRest: the remote end's command line without its first word (the binary's path) goes
    to our binary; no shell, no forwarding, no terminal (docs/research/pgbackrest-2.45.md)."""
    return (
        f'restrict,from="{peer_address}",command="{BINARY} ${{SSH_ORIGINAL_COMMAND#* }}" '
        f"{public_key}"
    )


def repository_refusal(info: StanzaInfo | None, cluster: int | None) -> str | None:
    """Why the deploy must leave the repository alone (None: it may create the stanza or use
    it). A repository of another cluster means the db host was set up anew: archiving into it
    is refused by pgBackRest, and the stanza must never be "upgraded" onto the new cluster, or
    its backups would stop being restorable; the operator restores instead. `cluster` is None
    when the db host has no cluster yet: a new host about to get an empty one."""
    if info is None or not info.exists or info.system_id == cluster:
        return None
    this = f"this one {cluster}" if cluster is not None else "the db host has no cluster yet"
    return (
        f"Backups: the repository's stanza {STANZA} belongs to another cluster (system id "
        f"{info.system_id}, {this}): the db host was set up anew. Skipping the backup setup; "
        "restore with `python -m bundle.backup restore --inventory <inventory>`, then deploy "
        "again"
    )


class InfoError(Exception):
    """`pgbackrest info` could not be read; the message says why."""


@dataclass(frozen=True)
class Backup:
    label: str
    kind: str  # full, diff, incr
    start: int  # epoch seconds
    stop: int
    database_size: int  # bytes of the cluster
    repository_size: int  # bytes this backup added to the repository (compressed)


@dataclass(frozen=True)
class StanzaInfo:
    """What a deploy and an operator need from `pgbackrest info --output=json`."""

    status_code: int  # 0 ok, 1 missing stanza path, 2 no valid backups, 3 missing stanza data
    status_message: str
    system_id: int | None  # of the repository's current database, None without a stanza
    backups: tuple[Backup, ...]
    wal_min: str | None
    wal_max: str | None
    backup_running: bool

    @property
    def exists(self) -> bool:
        return self.system_id is not None

    @property
    def earliest_restorable(self) -> int | None:
        """Epoch seconds a restore target must be later than: the oldest backup's stop."""
        return min((b.stop for b in self.backups), default=None)


# Codes of `info`'s stanza status (pgBackRest's INFO_STANZA_STATUS_CODE_*).
STATUS_OK, STATUS_MISSING_STANZA_PATH, STATUS_NO_BACKUP, STATUS_MISSING_STANZA_DATA = 0, 1, 2, 3


def parse_info(text: str) -> StanzaInfo:
    """The stanza's state from `info --output=json`. pgBackRest exits 0 even when it failed
    (a wrong key gives raw bytes, an unreadable repository a status 99): both raise."""
    import json

    try:
        stanzas = json.loads(text)
        stanza = next(s for s in stanzas if s.get("name") == STANZA)
    except (ValueError, TypeError, StopIteration):
        raise InfoError(
            "pgbackrest info did not answer with the stanza's JSON (a wrong repository key "
            "gives unreadable output)"
        ) from None
    status = stanza.get("status", {})
    code, message = int(status.get("code", 99)), str(status.get("message", ""))
    if code not in (STATUS_OK, STATUS_MISSING_STANZA_PATH, STATUS_NO_BACKUP):
        repo_errors = [r.get("status", {}).get("message", "") for r in stanza.get("repo", []) if r]
        raise InfoError(f"repository: {'; '.join(m for m in repo_errors if m) or message}")
    current = [db for db in stanza.get("db", []) if db.get("repo-key", 1) == 1]
    system_id = int(current[-1]["system-id"]) if current else None
    backups = tuple(
        Backup(
            label=b["label"],
            kind=b["type"],
            start=int(b["timestamp"]["start"]),
            stop=int(b["timestamp"]["stop"]),
            database_size=int(b.get("info", {}).get("size", 0)),
            repository_size=int(b.get("info", {}).get("repository", {}).get("delta", 0)),
        )
        for b in stanza.get("backup", [])
    )
    archives = [a for a in stanza.get("archive", []) if a.get("min")]
    lock = stanza.get("status", {}).get("lock", {}).get("backup", {})
    return StanzaInfo(
        status_code=code,
        status_message=message,
        system_id=system_id,
        backups=backups,
        wal_min=archives[0]["min"] if archives else None,
        wal_max=archives[-1]["max"] if archives else None,
        backup_running=bool(lock.get("held")),
    )


class TargetError(Exception):
    """A restore target that cannot be used; the message says why and what to give instead."""


def parse_target(text: str) -> datetime:
    """`--to` as an aware UTC time: ISO 8601 (`2026-05-01T10:00:00+02:00`, `... 10:00:00Z`);
    without an offset it is read as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TargetError(
            f"--to {text!r}: not a time; give ISO 8601, e.g. 2026-05-01T10:00:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_target(target: datetime, info: StanzaInfo, now: datetime) -> None:
    """Refuse a target no backup can reach: not after the oldest backup's stop (pgBackRest
    would fail only after PostgreSQL was stopped) or in the future (recovery would end before
    it and PostgreSQL would refuse to start)."""
    earliest = info.earliest_restorable
    if earliest is None:
        raise TargetError("the repository has no backup yet; run `backup` first")
    # pgBackRest compares whole seconds (the stop time is truncated): one second of margin.
    if target.timestamp() < earliest + 1:
        raise TargetError(
            f"--to {format_time(target)} is before the oldest backup's end "
            f"({format_time(epoch(earliest))}); give a later time"
        )
    if target > now:
        raise TargetError(
            f"--to {format_time(target)} is in the future (now {format_time(now)}); "
            "give a past time, or leave --to out for the latest state"
        )


def epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def recovery_target(target: datetime) -> str:
    """The target as PostgreSQL's recovery_target_time reads it (microseconds, explicit UTC)."""
    return target.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def restore_options(target: datetime | None) -> list[str]:
    """pgBackRest restore options: a delta restore (only changed files are rewritten) to the
    end of the archive, or to `target`, promoting once there."""
    options = [f"--stanza={STANZA}", "--delta"]
    if target is not None:
        options += [
            "--type=time",
            f"--target={recovery_target(target)}",
            "--target-action=promote",
        ]
    return options


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
