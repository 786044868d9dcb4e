"""`python -m bundle.backup status|backup|restore --inventory inventories/<env>.py`: the
operator's view of PostgreSQL's backups (tasks/backup.py). One cluster holds both databases
(LiteLLM's and the SaaS API's): they are backed up and restored together.

- `status`: the backups (times, sizes), the WAL archive's range, the last archive push and
  the earliest time a restore can reach.
- `backup [--type full|diff]`: one backup now, through the same systemd unit the timers start.
- `restore [--to TIME] [--yes]`: checks everything it can while PostgreSQL still runs (the
  host answers, the key from the secret store opens the repository, the target is reachable);
  any failure is one line and exit 1 with nothing changed. Then it stops LiteLLM and the SaaS
  API, stops PostgreSQL, restores (delta, to TIME or to the end of the archive), starts it and
  waits for it to accept writes, starts the services again and takes a fresh full backup."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, datetime

from bundle import pgbackrest
from bundle.backup_hosts import (
    BackupError,
    Environment,
    active_units,
    last_line,
    load,
    pgbackrest_command,
    psql_command,
    wait_ready_scripts,
)
from bundle.pgbackrest import InfoError, StanzaInfo, TargetError
from bundle.secret_store import SecretStore, SecretStoreError

PROMOTION_TIMEOUT = 600
# pgBackRest's exit codes that mean the key does not open the repository: a wrong key (95
# "unable to flush"), none configured (37), and 2.45's client crashing on one (>= 128).
KEY_FAILURES = {95: "is not the key this repository was encrypted with", 37: "is missing"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bundle.backup", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("status", "backups, the WAL archive and the earliest restorable time"),
        ("backup", "take a backup now"),
        ("restore", "restore the cluster (both databases) to the latest state or to --to"),
    ):
        one = sub.add_parser(name, help=text)
        one.add_argument("--inventory", required=True, help="e.g. inventories/prod.py")
    sub.choices["backup"].add_argument("--type", choices=pgbackrest.BACKUP_TYPES, default="full")
    restore = sub.choices["restore"]
    restore.add_argument(
        "--to",
        type=_target,
        metavar="TIME",
        help="ISO 8601 time to restore to (UTC without an offset); default: the latest state",
    )
    restore.add_argument("--yes", action="store_true", help="restore without asking")
    return parser.parse_args(argv)


def _target(text: str) -> datetime:
    try:
        return pgbackrest.parse_target(text)
    except TargetError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        env = load(args.inventory)
        key = cipher_pass(env)
        if args.command == "status":
            status(env, key)
        elif args.command == "backup":
            backup(env, key, args.type)
        else:
            restore(env, key, args.to, ask=not args.yes)
    except (BackupError, SecretStoreError, TargetError, InfoError) as error:
        print(f"backup: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("backup: interrupted", file=sys.stderr)
        return 130
    return 0


def step(text: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", flush=True)


def cipher_pass(env: Environment) -> str:
    store = SecretStore(env.environment)
    try:
        return store.get("pgbackrest_cipher_pass")
    except SecretStoreError as error:
        raise SecretStoreError(
            f"{error}; the repository key (pgbackrest_cipher_pass) is needed to read the backups"
        ) from None


# --- reading the repository --------------------------------------------------------------


def open_repository(env: Environment, key: str) -> None:
    """The repository answers and `key` opens it: its backup.info decrypts (docs/research)."""
    host = env.repository_host
    result = host.run(
        pgbackrest_command(
            f"--stanza={pgbackrest.STANZA}", "repo-get", f"backup/{pgbackrest.STANZA}/backup.info"
        ),
        stdin=key + "\n",
        timeout=120,
    )
    if result.returncode == 0 and result.stdout.lstrip().startswith("[backrest]"):
        return
    where = f"{host.name}:{pgbackrest.REPOSITORY}"
    if result.returncode in KEY_FAILURES or result.returncode >= 128:
        reason = KEY_FAILURES.get(result.returncode, "does not open it (pgBackRest crashed)")
        store = SecretStore(env.environment).path
        raise BackupError(
            f"{where}: the repository key pgbackrest_cipher_pass in {store} "
            f"{reason}; restore the store that made the repository (python -m bundle.secrets "
            "restore)"
        )
    if "does not exist" in result.stderr or "unable to open missing file" in result.stderr:
        raise BackupError(f"{where}: no stanza {pgbackrest.STANZA} yet; run the deploy first")
    raise BackupError(f"{where}: the repository cannot be read: {last_line(result.stderr)}")


def read_info(env: Environment, key: str) -> StanzaInfo:
    out = env.repository_host.check(
        pgbackrest_command(f"--stanza={pgbackrest.STANZA}", "--output=json", "info"),
        "pgbackrest info",
        stdin=key + "\n",
        timeout=120,
    )
    return pgbackrest.parse_info(out)


def archiver(env: Environment) -> dict:
    """PostgreSQL's own record of archive pushes (pg_stat_archiver); {} when it is down."""
    result = env.db.run(
        psql_command(
            "SELECT coalesce(last_archived_wal, ''), "
            "coalesce(extract(epoch FROM last_archived_time)::bigint::text, ''), "
            "coalesce(last_failed_wal, ''), "
            "coalesce(extract(epoch FROM last_failed_time)::bigint::text, ''), failed_count "
            "FROM pg_stat_archiver"
        ),
        timeout=60,
    )
    if result.returncode != 0 or "|" not in result.stdout:
        return {}
    wal, at, failed_wal, failed_at, failed_count = result.stdout.strip().split("|")
    return {
        "wal": wal,
        "at": int(at) if at else None,
        "failed_wal": failed_wal,
        "failed_at": int(failed_at) if failed_at else None,
        "failed_count": int(failed_count),
    }


# --- status ----------------------------------------------------------------------------------


def status(env: Environment, key: str) -> None:
    open_repository(env, key)
    info = read_info(env, key)
    where = "on the backup host"
    if env.backup is None:
        where = "on the db host itself: it does not survive that host"
    print(
        f"stanza {pgbackrest.STANZA}: repository {env.repository_host.name}:"
        f"{pgbackrest.REPOSITORY} ({where})"
    )
    for line in status_lines(info, archiver(env)):
        print(line)


def status_lines(info: StanzaInfo, pushed: dict) -> list[str]:
    t = lambda s: pgbackrest.format_time(pgbackrest.epoch(s))  # noqa: E731
    running = " (one is running now)" if info.backup_running else ""
    lines = [f"backups: {len(info.backups)}{running}"]
    for b in info.backups:
        lines.append(
            f"  {b.label:<32} {b.kind:<4} {t(b.start)} -> {t(b.stop)}  "
            f"database {pgbackrest.human_size(b.database_size)}, "
            f"in the repository {pgbackrest.human_size(b.repository_size)}"
        )
    lines.append(f"WAL archive: {info.wal_min or '-'} .. {info.wal_max or '-'}")
    if pushed.get("at"):
        lines.append(f"last archive push: {pushed['wal']} at {t(pushed['at'])}")
    else:
        lines.append("last archive push: none yet (or PostgreSQL is not running)")
    if pushed.get("failed_at") and (pushed.get("at") or 0) < pushed["failed_at"]:
        lines.append(
            f"last archive FAILURE: {pushed['failed_wal']} at {t(pushed['failed_at'])} "
            f"({pushed['failed_count']} failures); see /var/log/postgresql on the db host"
        )
    earliest = info.earliest_restorable
    lines.append(
        "earliest restorable time: "
        + (f"after {t(earliest)}" if earliest is not None else "none (no backup yet)")
    )
    return lines


# --- backup ----------------------------------------------------------------------------------


def backup(env: Environment, key: str, kind: str) -> None:
    open_repository(env, key)
    run_backup(env, key, kind)


def run_backup(env: Environment, key: str, kind: str) -> None:
    """`systemctl start --wait` of the backup unit, with the repository's lock polled for
    progress while it runs."""
    unit = pgbackrest.BACKUP_UNIT.format(kind=kind)
    host = env.repository_host
    before = {b.label for b in read_info(env, key).backups}
    step(f"{kind} backup on {host.name} ({unit})")
    done = threading.Event()
    started = time.monotonic()

    def progress():
        while not done.wait(5):
            print(f"  ... running, {time.monotonic() - started:.0f} s", flush=True)

    threading.Thread(target=progress, daemon=True).start()
    try:
        result = host.run(f"systemctl start --wait {unit}", timeout=24 * 3600)
    finally:
        done.set()
    if result.returncode != 0:
        journal = host.run(f"journalctl -u {unit} -n 5 --no-pager -o cat", timeout=60).stdout
        raise BackupError(
            f"{host.name}: {unit} failed: {last_line(journal) or last_line(result.stderr)}"
        )
    new = [b for b in read_info(env, key).backups if b.label not in before]
    if not new:
        raise BackupError(f"{host.name}: {unit} finished but the repository shows no new backup")
    b = new[-1]
    step(
        f"backup {b.label} done in {time.monotonic() - started:.0f} s: database "
        f"{pgbackrest.human_size(b.database_size)}, "
        f"{pgbackrest.human_size(b.repository_size)} added to the repository"
    )


# --- restore ---------------------------------------------------------------------------------


def restore(env: Environment, key: str, target: datetime | None, *, ask: bool) -> None:
    db = env.db
    # Pre-checks, all while PostgreSQL runs: a failure here has changed nothing (and prints
    # nothing but its one line).
    open_repository(env, key)
    info = read_info(env, key)
    if target is not None:
        pgbackrest.check_target(target, info, datetime.now(UTC))
    elif not info.backups:
        raise BackupError("the repository has no backup yet; run `backup` first")
    cluster = cluster_unit(env)
    # A db host set up anew runs another cluster than the repository's: nothing of it is in
    # the archive (pgBackRest refuses it), so there is no WAL of it to close first.
    own_cluster = cluster_system_id(env) == info.system_id
    writers = {host.name: active_units(host) for host in env.writers}
    goal = pgbackrest.format_time(target) if target else "the latest archived state"
    stopping = [f"{name}: {' '.join(units)}" for name, units in writers.items() if units]
    print(
        f"Restore both databases (one cluster) on {db.name} to {goal}. This stops "
        + ("; ".join(stopping) + "; " if stopping else "")
        + f"then {cluster} on {db.name}; every change after that point is lost."
        + ("" if own_cluster else " The running cluster is not the repository's: it is replaced.")
    )
    if ask and input("Type 'restore' to go on: ").strip() != "restore":
        raise BackupError("not confirmed; nothing changed")

    started = time.monotonic()
    stop_writers(env, writers)
    try:
        if own_cluster:
            close_wal(env, key)
    except BackupError:
        start_writers(env, writers)
        raise
    step(f"stopping {cluster}")
    db.check(f"systemctl stop {cluster}", f"stopping {cluster}", timeout=300)
    step(f"restoring to {goal} (delta: only changed files are rewritten)")
    restored = db.run(
        env.db_pgbackrest(*pgbackrest.restore_options(target), "restore"),
        stdin=env.db_stdin(key),
        timeout=24 * 3600,
    )
    if restored.returncode != 0:
        raise BackupError(
            f"{db.name}: pgbackrest restore failed (exit {restored.returncode}): "
            f"{last_line(restored.stderr)}; PostgreSQL and the services are stopped: fix and run "
            "restore again"
        )
    step(f"starting {cluster} and waiting for the recovery to end")
    db.check(f"systemctl start {cluster}", f"starting {cluster}", timeout=300)
    wait_for_promotion(env, cluster)
    start_writers(env, writers)
    step(f"restored in {time.monotonic() - started:.0f} s; a fresh full backup from here on")
    run_backup(env, key, "full")


def close_wal(env: Environment, key: str) -> None:
    """Everything up to now is in the archive before the server stops: a commit (so a time
    target has a record after it to stop at) and `check`, which switches the WAL segment and
    waits until it is archived."""
    step("closing the WAL: a commit, a segment switch, wait until it is archived")
    env.db.check(psql_command("SELECT txid_current()"), "the closing commit", timeout=60)
    env.db.check(
        env.db_pgbackrest(f"--stanza={pgbackrest.STANZA}", "check"),
        "pgbackrest check",
        stdin=env.db_stdin(key),
        timeout=300,
    )


def cluster_system_id(env: Environment) -> int | None:
    out = env.db.check(
        psql_command("SELECT system_identifier FROM pg_control_system()"),
        "reading the cluster's system id",
        timeout=60,
    )
    return int(out.strip()) if out.strip().isdigit() else None


def cluster_unit(env: Environment) -> str:
    out = env.db.check(
        "systemctl list-units --plain --no-legend --state=active 'postgresql@*-main.service'",
        "finding the PostgreSQL cluster",
    )
    units = [line.split()[0] for line in out.splitlines() if line.strip()]
    if not units:
        raise BackupError(f"{env.db.name}: PostgreSQL is not running; start it first")
    return units[0]


def _systemctl_writers(
    env: Environment, writers: dict[str, list[str]], verb: str, doing: str
) -> None:
    for host in env.writers:
        if writers[host.name]:
            units = " ".join(writers[host.name])
            step(f"{doing} {units} on {host.name}")
            host.check(f"systemctl {verb} {units}", f"{doing} services", timeout=300)


def stop_writers(env: Environment, writers: dict[str, list[str]]) -> None:
    _systemctl_writers(env, writers, "stop", "stopping")


def start_writers(env: Environment, writers: dict[str, list[str]]) -> None:
    _systemctl_writers(env, writers, "start", "starting")
    for host in env.writers:
        for script in wait_ready_scripts(host):
            if any(_serves(unit, script) for unit in writers[host.name]):
                host.check(f"test ! -x {script} || {script}", f"{script}", timeout=900)
    step("the services are ready")


def _serves(unit: str, script: str) -> bool:
    if script.endswith("wait-admin-ready"):
        return unit == "saas-admin.service"
    return unit.startswith("litellm@") if "/litellm/" in script else unit == "saas-api.service"


def wait_for_promotion(env: Environment, cluster: str) -> None:
    """PostgreSQL replays the archive read-only, then promotes; a target beyond the archive's
    end makes it exit instead (`recovery ended before configured recovery target`)."""
    deadline = time.monotonic() + PROMOTION_TIMEOUT
    while time.monotonic() < deadline:
        answer = env.db.run(psql_command("SELECT pg_is_in_recovery()"), timeout=60)
        if answer.returncode == 0 and answer.stdout.strip() == "f":
            step("PostgreSQL accepts writes (new timeline)")
            return
        if env.db.run(f"systemctl is-failed --quiet {cluster}", timeout=60).returncode == 0:
            log = env.db.run(
                "tail -n 20 /var/log/postgresql/postgresql-*-main.log | grep -E 'FATAL|PANIC'",
                timeout=60,
            ).stdout
            raise BackupError(
                f"{env.db.name}: PostgreSQL stopped during recovery: {last_line(log)}; the "
                "services are stopped: restore again to another time"
            )
        time.sleep(2)
    raise BackupError(f"{env.db.name}: still recovering after {PROMOTION_TIMEOUT} s")


if __name__ == "__main__":
    sys.exit(main())
