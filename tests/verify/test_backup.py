"""What the backup deploy promises on `db` hosts, one fact per test: WAL reaches the
repository, a recent backup exists, the timers are armed, the key stays private."""

import json
import time

import pytest

from .conftest import as_user

pytestmark = pytest.mark.roles("db")

CONFIG = "/etc/pgbackrest/pgbackrest.conf"
# A backup at least weekly (the full timer) plus the diffs in between: older means the timers
# stopped working.
MAX_BACKUP_AGE = 8 * 24 * 3600


def info(host) -> dict:
    out = host.check_output(
        as_user(host, "postgres", "pgbackrest --stanza=main --output=json info")
    )
    return json.loads(out)[0]


def test_wal_archiving_reaches_the_repository(host):
    # check forces a WAL switch and fails unless that segment is archived (within 60 s).
    result = host.run(as_user(host, "postgres", "pgbackrest --stanza=main check"))
    assert result.rc == 0, result.stderr


def test_the_repository_is_encrypted(host):
    assert info(host)["cipher"] == "aes-256-cbc"


def test_a_recent_backup_exists(host):
    backups = info(host)["backup"]
    assert backups, "no backup in the repository"
    assert time.time() - backups[-1]["timestamp"]["stop"] < MAX_BACKUP_AGE


def test_the_stanza_belongs_to_this_cluster(host):
    system_id = host.check_output(
        as_user(
            host, "postgres", "psql -XAtq -c 'SELECT system_identifier FROM pg_control_system()'"
        )
    )
    assert info(host)["db"][-1]["system-id"] == int(system_id)


@pytest.mark.parametrize("kind", ["full", "diff"])
def test_the_backup_timers_are_enabled_and_persistent(host, kind):
    timer = f"pgbackrest-backup-{kind}.timer"
    assert host.service(timer).is_enabled and host.service(timer).is_running
    assert host.check_output(f"systemctl show -P Persistent {timer}") == "yes"


def test_the_config_is_not_world_readable(host):
    config = host.file(CONFIG)
    assert (config.user, config.group) == ("root", "postgres")
    assert config.mode & 0o007 == 0


def test_the_cipher_pass_is_in_no_command_line(host):
    secret = next(
        line.split("=", 1)[1].strip()
        for line in host.check_output(f"cat {CONFIG}").splitlines()
        if line.startswith("repo1-cipher-pass=")
    )
    assert secret not in host.check_output("ps -eo args --no-headers")


def test_archive_command_is_pgbackrest(host):
    command = host.check_output(as_user(host, "postgres", "psql -XAtq -c 'SHOW archive_command'"))
    assert "pgbackrest --stanza=main archive-push %p" in command


def test_the_lock_path_is_shared_with_the_sandboxed_server(host):
    lock = host.file("/run/pgbackrest")
    assert lock.is_directory and lock.user == "postgres"
