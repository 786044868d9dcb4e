"""The backup pieces that need no host: rendered files, the info parser, restore targets, the
CLI's arguments and the secret's refusal to rotate."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bundle import pgbackrest
from bundle.backup import parse_args, status_lines
from bundle.backup_hosts import pgbackrest_command
from bundle.render import render
from bundle.secret_store import SPECS, SecretStore, SecretStoreError, check_value, ssh_public_key
from tests.unit.test_data_tier_rendering import postgres_conf

CIPHER = "Ab3dEfGh1jKlMn0pQrStUvWxYz0123456789abcd"


def config(**overrides):
    context = {
        "stanza": "main",
        "data_directory": "/var/lib/postgresql/15/main",
        "repository": {
            "path": pgbackrest.REPOSITORY,
            "cipher_pass": CIPHER,
            "retention_full": 2,
            "retention_diff": 6,
        },
        "repository_host": None,
        "db_host": None,
        "ssh_user": pgbackrest.USER,
        "process_max": 2,
        "spool": pgbackrest.SPOOL,
        "lock": pgbackrest.LOCK,
        "log": pgbackrest.LOG,
    } | overrides
    return render("backup/pgbackrest.conf.j2", **context)


def options(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
    )


def test_the_single_host_config_holds_an_encrypted_repository_with_retention():
    values = options(config())
    assert values["repo1-path"] == "/var/lib/pgbackrest"
    assert values["repo1-cipher-type"] == "aes-256-cbc"
    assert values["repo1-cipher-pass"] == CIPHER
    assert values["repo1-retention-full"] == "2" and values["repo1-retention-diff"] == "6"
    assert values["compress-type"] == "zst"
    assert values["archive-async"] == "y" and values["spool-path"] == "/var/spool/pgbackrest"
    assert values["lock-path"] == "/run/pgbackrest"
    assert values["pg1-path"] == "/var/lib/postgresql/15/main"
    assert "[main]" in config()
    assert not any(key.endswith("-host") for key in values)


def test_a_db_host_with_a_backup_host_points_at_it_and_gets_no_key():
    values = options(config(repository=None, repository_host="10.0.0.9"))
    assert values["repo1-host"] == "10.0.0.9" and values["repo1-host-user"] == "postgres"
    assert not [k for k in values if k.startswith("repo1-") and not k.startswith("repo1-host")]
    assert values["archive-async"] == "y" and values["pg1-path"] == "/var/lib/postgresql/15/main"
    assert "pg1-host" not in values


def test_the_backup_host_keeps_the_repository_and_reads_the_cluster_over_ssh():
    values = options(config(db_host="10.0.0.11"))
    assert values["repo1-path"] == "/var/lib/pgbackrest"
    assert values["repo1-cipher-pass"] == CIPHER
    assert values["pg1-host"] == "10.0.0.11" and values["pg1-host-user"] == "postgres"
    assert "repo1-host" not in values


def test_a_peer_key_is_admitted_from_its_address_only_to_run_pgbackrest():
    line = pgbackrest.forced_command_key("ssh-ed25519 AAAAC3Nz peer", "10.0.0.9")
    assert line == (
        'restrict,from="10.0.0.9",command="/usr/bin/pgbackrest ${SSH_ORIGINAL_COMMAND#* }" '
        "ssh-ed25519 AAAAC3Nz peer"
    )


def stanza(system_id, backups=()):
    return pgbackrest.StanzaInfo(0, "ok", system_id, tuple(backups), None, None, False)


@pytest.mark.parametrize(
    ("info", "cluster"),
    [(None, None), (None, 7), (stanza(None), 7), (stanza(7), 7)],
)
def test_the_deploy_sets_up_or_uses_a_repository_of_this_cluster(info, cluster):
    assert pgbackrest.repository_refusal(info, cluster) is None


@pytest.mark.parametrize(("cluster", "said"), [(8, "this one 8"), (None, "has no cluster yet")])
def test_the_deploy_leaves_a_repository_of_another_cluster_alone(cluster, said):
    refusal = pgbackrest.repository_refusal(stanza(7), cluster)
    assert "system id 7" in refusal and said in refusal
    assert "python -m bundle.backup restore" in refusal


def test_a_db_side_command_in_the_split_reads_no_key():
    command = pgbackrest_command("--stanza=main", "check", with_key=False)
    assert "PGBACKREST_REPO1_CIPHER_PASS" not in command
    assert command.startswith("exec runuser -u postgres -- /usr/bin/pgbackrest ")


def test_the_ssh_keys_are_generated_as_ed25519_and_checked():
    key = SPECS["pgbackrest_db_ssh_key"].generate()
    assert key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    check_value("pgbackrest_db_ssh_key", key)
    public = ssh_public_key(key, "pgbackrest@db1")
    assert public.startswith("ssh-ed25519 AAAA") and public.endswith(" pgbackrest@db1")
    assert key != SPECS["pgbackrest_db_ssh_key"].generate()
    with pytest.raises(SecretStoreError, match="ed25519 private key"):
        check_value("pgbackrest_backup_ssh_key", "not a key at all, just some words 123")


def test_postgres_archives_with_pgbackrest_within_the_timeout():
    text = postgres_conf(archive_command=pgbackrest.ARCHIVE_COMMAND, archive_timeout=60)
    assert "archive_mode = on" in text
    assert "archive_command = '/usr/bin/pgbackrest --stanza=main archive-push %p'" in text
    assert "archive_timeout = 60" in text


def test_postgres_without_an_archive_command_does_not_archive():
    assert "archive_mode" not in postgres_conf()


def test_the_postgres_sandbox_may_write_where_archive_push_writes():
    paths = pgbackrest.postgres_paths(repository_on_db_host=True)
    text = render("postgres/postgresql-gateway.conf.j2", writable_paths=paths)
    for path in ("/var/spool/pgbackrest", "/var/log/pgbackrest", "/run/pgbackrest"):
        assert f"ReadWritePaths={path}" in text
    assert "ReadWritePaths=/var/lib/pgbackrest" in text
    assert "/var/lib/pgbackrest" not in pgbackrest.postgres_paths(repository_on_db_host=False)


def test_the_directories_are_made_at_boot_for_postgres():
    text = render("postgres/gateway-pgbackrest.tmpfiles.j2", paths=("/run/pgbackrest",))
    assert "d /run/pgbackrest 0750 postgres postgres -" in text


def test_the_backup_unit_is_a_sandboxed_oneshot_as_postgres():
    text = render(
        "backup/pgbackrest-backup@.service.j2",
        stanza="main",
        binary="/usr/bin/pgbackrest",
        writable_paths=pgbackrest.postgres_paths(repository_on_db_host=True),
        private_network=True,
    )
    assert "Type=oneshot" in text and "User=postgres" in text
    assert "ExecStart=/usr/bin/pgbackrest --stanza=main --type=%i backup" in text
    assert "ProtectSystem=strict" in text and "PrivateNetwork=yes" in text
    assert "RestrictAddressFamilies=AF_UNIX\n" in text
    assert "cipher" not in text


@pytest.mark.parametrize("kind", ["full", "diff"])
def test_the_timers_are_persistent_and_start_their_instance(kind):
    text = render(
        "backup/pgbackrest-backup.timer.j2",
        kind=kind,
        schedule="Sun *-*-* 02:30",
        randomized_delay="10m",
    )
    assert "OnCalendar=Sun *-*-* 02:30" in text and "Persistent=true" in text
    assert f"Unit=pgbackrest-backup@{kind}.service" in text


INFO = {
    "archive": [
        {"id": "15-1", "min": "000000010000000000000002", "max": "000000010000000000000009"}
    ],
    "backup": [
        {
            "label": "20261201-160550F",
            "type": "full",
            "timestamp": {"start": 1796141150, "stop": 1796141154},
            "info": {"size": 44215668, "repository": {"delta": 5093904, "size": 5093904}},
        },
        {
            "label": "20261201-160550F_20261201-160659D",
            "type": "diff",
            "timestamp": {"start": 1796141219, "stop": 1796141221},
            "info": {"size": 44215668, "repository": {"delta": 39731, "size": 5093904}},
        },
    ],
    "cipher": "aes-256-cbc",
    "db": [{"id": 1, "repo-key": 1, "system-id": 7714366081854393883, "version": "15"}],
    "name": "main",
    "repo": [{"cipher": "aes-256-cbc", "key": 1, "status": {"code": 0, "message": "ok"}}],
    "status": {"code": 0, "lock": {"backup": {"held": False}}, "message": "ok"},
}


def test_info_gives_backups_wal_range_and_the_earliest_restorable_time():
    info = pgbackrest.parse_info(json.dumps([INFO]))
    assert info.exists and info.system_id == 7714366081854393883  # beyond a double's precision
    assert [b.kind for b in info.backups] == ["full", "diff"]
    assert info.earliest_restorable == 1796141154
    assert (info.wal_min, info.wal_max) == ("000000010000000000000002", "000000010000000000000009")
    lines = status_lines(info, {"wal": "000000010000000000000009", "at": 1796141300})
    assert lines[0] == "backups: 2"
    assert "earliest restorable time: after 2026-12-01 16:05:54 UTC" in lines


def test_info_without_a_stanza_is_empty_not_an_error():
    missing = {"name": "main", "status": {"code": 1, "message": "missing stanza path"}}
    info = pgbackrest.parse_info(json.dumps([missing | {"backup": [], "db": [], "archive": []}]))
    assert not info.exists and info.backups == () and info.earliest_restorable is None


@pytest.mark.parametrize("text", ["\x93garbled\x00", "", "[]"])
def test_unreadable_info_is_an_error(text):
    with pytest.raises(pgbackrest.InfoError):
        pgbackrest.parse_info(text)


def test_a_repository_error_in_info_is_an_error():
    broken = INFO | {
        "status": {"code": 99, "message": "other"},
        "repo": [{"key": 1, "status": {"code": 99, "message": "[FormatError] unable to load"}}],
    }
    with pytest.raises(pgbackrest.InfoError, match="FormatError"):
        pgbackrest.parse_info(json.dumps([broken]))


NOW = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("2026-12-01T16:05:54Z", "before the oldest backup"),  # its stop second itself
        ("2020-01-01", "before the oldest backup"),
        ("2026-12-01T18:00:00+00:00", "in the future"),
    ],
)
def test_unreachable_targets_are_refused(target, why):
    info = pgbackrest.parse_info(json.dumps([INFO]))
    with pytest.raises(pgbackrest.TargetError, match=why):
        pgbackrest.check_target(pgbackrest.parse_target(target), info, NOW)


def test_a_target_after_the_oldest_backup_is_accepted_and_passed_exactly():
    info = pgbackrest.parse_info(json.dumps([INFO]))
    target = pgbackrest.parse_target("2026-12-01T17:30:00+01:00")  # 16:30 UTC
    pgbackrest.check_target(target, info, NOW)
    assert pgbackrest.restore_options(target) == [
        "--stanza=main",
        "--delta",
        "--type=time",
        "--target=2026-12-01 16:30:00.000000+00",
        "--target-action=promote",
    ]
    assert pgbackrest.restore_options(None) == ["--stanza=main", "--delta"]


def test_no_backup_means_no_target():
    empty = pgbackrest.parse_info(json.dumps([INFO | {"backup": []}]))
    with pytest.raises(pgbackrest.TargetError, match="no backup"):
        pgbackrest.check_target(NOW, empty, NOW)


def test_a_target_without_an_offset_is_utc():
    assert pgbackrest.parse_target("2026-12-01 16:30:00") == datetime(
        2026, 12, 1, 16, 30, tzinfo=UTC
    )


def test_the_cli_refuses_a_malformed_target(capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(["restore", "--inventory", "inventories/testbed.py", "--to", "yesterday"])
    assert exited.value.code == 2
    assert "not a time; give ISO 8601" in capsys.readouterr().err


def test_the_cli_knows_only_full_and_diff_backups():
    assert parse_args(["backup", "--inventory", "i.py"]).type == "full"
    with pytest.raises(SystemExit):
        parse_args(["backup", "--inventory", "i.py", "--type", "incr"])


def test_the_key_reaches_pgbackrest_on_standard_input_only():
    command = pgbackrest_command("--stanza=main", "info")
    assert "read -r PGBACKREST_REPO1_CIPHER_PASS" in command
    assert command.endswith("/usr/bin/pgbackrest --stanza=main info")


def test_the_cipher_pass_can_never_be_rotated(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    store = SecretStore("testbed")
    store.ensure()
    assert not SPECS["pgbackrest_cipher_pass"].rotatable
    with pytest.raises(SecretStoreError, match="cannot re-key"):
        store.rotate("pgbackrest_cipher_pass")
    with pytest.raises(SecretStoreError, match="never overwritten.*cannot re-key"):
        store.set("pgbackrest_cipher_pass", "Zq8" + CIPHER)
    with pytest.raises(SecretStoreError, match="LiteLLM encrypts"):
        store.rotate("litellm_salt_key")
