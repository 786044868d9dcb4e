"""What the backup deploy promises on `db` hosts and the `backup` host, one fact per test: WAL
reaches the repository, a recent backup exists, the timers are armed where the repository is,
the key stays private, and with a backup host each side admits the other only to run
pgBackRest, from its address only."""

import json
import time

import pytest

from .conftest import admitted_sources, as_user, peer_addresses

pytestmark = pytest.mark.roles("db", "backup")

CONFIG = "/etc/pgbackrest/pgbackrest.conf"
SSH_DIR = "/var/lib/postgresql/.ssh"
# A backup at least weekly (the full timer) plus the diffs in between: older means the timers
# stopped working.
MAX_BACKUP_AGE = 8 * 24 * 3600


def info(host) -> dict:
    out = host.check_output(
        as_user(host, "postgres", "pgbackrest --stanza=main --output=json info")
    )
    return json.loads(out)[0]


def holds_repository(host) -> bool:
    return "\nrepo1-path=" in host.check_output(f"cat {CONFIG}")


def has_backup_host(inventory_hosts) -> bool:
    return any("backup" in h.groups for h in inventory_hosts)


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


@pytest.mark.roles("db")
def test_the_stanza_belongs_to_this_cluster(host):
    system_id = host.check_output(
        as_user(
            host, "postgres", "psql -XAtq -c 'SELECT system_identifier FROM pg_control_system()'"
        )
    )
    assert info(host)["db"][-1]["system-id"] == int(system_id)


@pytest.mark.parametrize("kind", ["full", "diff"])
def test_the_backup_timers_are_enabled_and_persistent_where_the_repository_is(host, kind):
    timer = f"pgbackrest-backup-{kind}.timer"
    if not holds_repository(host):  # a db host with a backup host: backups run there
        assert not host.file(f"/etc/systemd/system/{timer}").exists
        return
    assert host.service(timer).is_enabled and host.service(timer).is_running
    assert host.check_output(f"systemctl show -P Persistent {timer}") == "yes"


def test_the_config_is_not_world_readable(host):
    config = host.file(CONFIG)
    assert (config.user, config.group) == ("root", "postgres")
    assert config.mode & 0o007 == 0


def test_the_repository_is_only_where_its_key_is(host, inventory_host, inventory_hosts):
    # With a backup host, the db host keeps neither the repository nor its key.
    expected = "backup" in inventory_host.groups or not has_backup_host(inventory_hosts)
    assert holds_repository(host) == expected
    assert ("repo1-cipher-pass=" in host.check_output(f"cat {CONFIG}")) == expected
    if not expected:
        assert host.check_output("ls -A /var/lib/pgbackrest") == ""


def test_the_cipher_pass_is_in_no_command_line(host):
    if not holds_repository(host):
        return  # no key on this host (the test above)
    secret = next(
        line.split("=", 1)[1].strip()
        for line in host.check_output(f"cat {CONFIG}").splitlines()
        if line.startswith("repo1-cipher-pass=")
    )
    assert secret not in host.check_output("ps -eo args --no-headers")


@pytest.mark.roles("db")
def test_archive_command_is_pgbackrest(host):
    command = host.check_output(as_user(host, "postgres", "psql -XAtq -c 'SHOW archive_command'"))
    assert "pgbackrest --stanza=main archive-push %p" in command


def test_the_lock_path_is_shared_with_the_sandboxed_server(host):
    lock = host.file("/run/pgbackrest")
    assert lock.is_directory and lock.user == "postgres"


def peer_of(inventory_host, inventory_hosts) -> set[str]:
    other = "db" if "backup" in inventory_host.groups else "backup"
    return peer_addresses(inventory_hosts, other, inventory_host)


def test_the_peer_may_only_run_pgbackrest_from_its_own_address(
    host, inventory_host, inventory_hosts
):
    peers = peer_of(inventory_host, inventory_hosts)
    authorized = host.file(f"{SSH_DIR}/authorized_keys")
    if not peers:  # no backup host: nobody logs in as postgres
        assert not authorized.exists
        return
    (peer,) = peers
    lines = [line for line in authorized.content_string.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith(
        f'restrict,from="{peer}",command="/usr/bin/pgbackrest ${{SSH_ORIGINAL_COMMAND#* }}" '
    )
    for name, mode in (("", 0o700), ("/id_ed25519", 0o600), ("/authorized_keys", 0o600)):
        path = host.file(SSH_DIR + name)
        assert (path.user, path.mode) == ("postgres", mode), name
    # The peer's host key is pinned; no prompt, no hang.
    config = host.file(f"{SSH_DIR}/config").content_string
    assert "StrictHostKeyChecking yes" in config and "BatchMode yes" in config
    assert host.file(f"{SSH_DIR}/known_hosts").content_string.startswith(f"{peer} ssh-ed25519 ")


def test_ssh_is_open_to_the_peer_and_the_admin_networks_only(host, inventory_host, inventory_hosts):
    peers = peer_of(inventory_host, inventory_hosts)
    port = inventory_host.data.get("base_ssh_port", 22)
    sources = admitted_sources(host, port)
    assert None not in sources  # never from anywhere
    # Beside the base firewall's rule for the admin networks (its named sets), the peer only.
    extra = [s for s in sources if not all(x.startswith("@admin_") for x in s)]
    assert extra == ([peers] if peers else []), sources
