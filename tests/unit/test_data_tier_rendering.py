"""What the PostgreSQL and Redis deploys write, rendered exactly as their tasks render it."""

import base64
import hashlib
import re
import subprocess

import pytest

from bundle import scram, sizing
from bundle.facts import PendingUpgrades
from bundle.firewall import VALIDATE, render_rules
from bundle.render import render


def hba(rules):
    return render("postgres/pg_hba.conf.j2", rules=rules)


REMOTE_RULES = [
    {"type": "hostssl", "database": "litellm", "role": "litellm", "address": "10.0.0.21/32"},
    {"type": "hostssl", "database": "saas", "role": "saas", "address": "10.0.0.31/32"},
]


def effective_lines(text):
    return [line.split() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_pg_hba_is_scram_only_with_one_line_per_peer_and_role():
    lines = effective_lines(hba(REMOTE_RULES))
    assert lines[0] == ["local", "all", "postgres", "peer"]
    assert lines[1:] == [
        ["hostssl", "litellm", "litellm", "10.0.0.21/32", "scram-sha-256"],
        ["hostssl", "saas", "saas", "10.0.0.31/32", "scram-sha-256"],
    ]


def test_pg_hba_never_trusts_or_uses_md5():
    words = [word for line in effective_lines(hba(REMOTE_RULES)) for word in line]
    assert "trust" not in words and "md5" not in words and "password" not in words


def postgres_conf(**overrides):
    context = {
        "listen_addresses": ["10.0.0.11"],
        "memory_mb": 8192,
        "client_connections": 60,
        "ssl_cert_file": "/c",
        "ssl_key_file": "/k",
        "archive_command": None,
        "archive_timeout": None,
        **sizing.postgres_settings(8192, 60),
    } | overrides
    return render("postgres/50-gateway.conf.j2", **context)


def test_postgres_listens_only_on_the_given_addresses():
    assert "listen_addresses = '10.0.0.11'" in postgres_conf()
    assert "listen_addresses = '127.0.0.1'" in postgres_conf(listen_addresses=["127.0.0.1"])
    assert "*" not in postgres_conf().split("listen_addresses")[1].splitlines()[0]


def test_postgres_requires_scram_and_tls():
    text = postgres_conf()
    assert "password_encryption = scram-sha-256" in text
    assert "ssl = on" in text and "ssl_min_protocol_version = 'TLSv1.2'" in text


def test_postgres_sizing_follows_memory_and_clients():
    small = sizing.postgres_settings(2048, 40)
    big = sizing.postgres_settings(65536, 400)
    assert small["max_connections"] == 100  # a floor, for the operator's own sessions
    assert big["max_connections"] == 420
    assert small["shared_buffers"] == "512MB" and big["shared_buffers"] == "8192MB"
    assert big["effective_cache_size"] == "49152MB"


def test_client_connections_count_workers_times_pool_per_host():
    llm = [{"litellm_workers": 4, "litellm_db_pool_limit": 10}, {}]
    # Each api host also runs the admin panel's workers (default 2), with the same pool.
    api = [{"saas_api_workers": 3}, {"saas_api_admin_workers": 4}]
    assert sizing.client_connections(llm, api) == 4 * 10 + 2 * 10 + (3 + 2) * 10 + (2 + 4) * 10


@pytest.mark.parametrize(
    ("data", "api_workers"),
    [({}, 1), ({}, 2), ({}, 8), ({"saas_api_admin_workers": 6}, 3), ({"saas_api_workers": 8}, 8)],
)
def test_the_saas_api_and_its_admin_panel_never_open_more_than_postgres_reserves(data, api_workers):
    # Both apps read one environment file: one pool size for every process of either.
    pool = sizing.pool_limit(data, api_workers, "saas_api")
    panel_workers = data.get("saas_api_admin_workers", 2)
    opened = (api_workers + panel_workers) * pool
    assert opened <= sizing.client_connections([], [data])


def test_the_saas_api_keeps_its_pool_of_ten_on_two_cores():
    assert sizing.pool_limit({}, 2, "saas_api") == 10


def test_redis_is_protected_bound_and_persistent():
    text = render(
        "redis/redis.conf.j2",
        bind=["10.0.0.12"],
        memory_mb=4096,
        shares_host=False,
        maxmemory_mb=1024,
        supervised="systemd",
        pidfile="/run/redis/redis-server.pid",
        aclfile="/etc/redis/users.acl",
    )
    settings = dict(line.split(" ", 1) for line in text.splitlines() if line and line[0] != "#")
    assert settings["bind"] == "10.0.0.12"
    assert settings["protected-mode"] == "yes"
    assert settings["maxmemory"] == "1024mb"
    assert settings["maxmemory-policy"] == "volatile-lru"
    assert settings["appendonly"] == "yes" and settings["appendfsync"] == "everysec"
    assert settings["aclfile"] == "/etc/redis/users.acl"
    assert "requirepass" not in settings


def test_redis_acl_turns_the_default_user_off_and_hashes_the_password():
    digest = hashlib.sha256(b"p" * 40).hexdigest()
    text = render("redis/users.acl.j2", litellm_password_sha256=digest)
    default, litellm = text.strip().splitlines()
    assert default.startswith("user default off") and "-@all" in default
    assert f"#{digest}" in litellm and "-@dangerous" in litellm
    assert "p" * 40 not in text


def test_redis_memory_leaves_room_for_neighbours():
    assert sizing.redis_maxmemory_mb(16384, shares_host=False) == 4096
    assert sizing.redis_maxmemory_mb(16384, shares_host=True) == 2048


def test_scram_verifier_round_trip():
    stored = scram.verifier("correct horse battery staple")
    assert stored.startswith("SCRAM-SHA-256$4096:")
    assert scram.matches("correct horse battery staple", stored)
    assert not scram.matches("correct horse battery stapler", stored)
    assert scram.verifier("x") != scram.verifier("x")  # fresh salt every time


def test_scram_matches_refuses_other_formats():
    assert not scram.matches("pw", "md5" + hashlib.md5(b"pwuser").hexdigest())  # noqa: S324
    assert not scram.matches("pw", "")


def test_scram_verifier_is_deterministic_for_a_given_salt():
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    assert scram.verifier("pencil", salt=salt) == scram.verifier("pencil", salt=salt)


@pytest.mark.parametrize(
    ("peers", "expected"),
    [
        (["10.0.0.21", "10.0.0.22"], "ip saddr { 10.0.0.21, 10.0.0.22 } tcp dport 5432 accept"),
        (["2001:db8::5"], "ip6 saddr { 2001:db8::5 } tcp dport 5432 accept"),
        (["0.0.0.0/0", "::/0"], "ip6 saddr { ::/0 } tcp dport 5432 accept"),
        (["198.51.100.0/24"], "ip saddr { 198.51.100.0/24 } tcp dport 5432 accept"),
    ],
)
def test_role_rules_admit_only_the_peers(peers, expected, tmp_path):
    text = render_rules("postgres", 5432, peers)
    assert expected in text
    candidate = tmp_path / "candidate.nft"
    candidate.write_text(text)
    check = subprocess.run(["sh", "-c", VALIDATE.format(path=candidate)], capture_output=True)
    assert check.returncode == 0, check.stderr


def test_role_rules_admit_several_ports_as_one_set(tmp_path):
    text = render_rules("llm", [4000, 4001], ["10.0.0.31"])
    assert "ip saddr { 10.0.0.31 } tcp dport { 4000, 4001 } accept" in text
    candidate = tmp_path / "candidate.nft"
    candidate.write_text(text)
    check = subprocess.run(["sh", "-c", VALIDATE.format(path=candidate)], capture_output=True)
    assert check.returncode == 0, check.stderr


def test_role_rules_without_remote_peers_open_nothing(tmp_path):
    text = render_rules("redis", 6379, [])
    assert [line for line in text.splitlines() if line and not line.startswith("#")] == []
    candidate = tmp_path / "candidate.nft"
    candidate.write_text(text)
    assert subprocess.run(["sh", "-c", VALIDATE.format(path=candidate)]).returncode == 0


def test_role_rule_validation_rejects_garbage(tmp_path):
    candidate = tmp_path / "candidate.nft"
    candidate.write_text("ip saddr { nonsense tcp dport accept\n")
    assert (
        subprocess.run(
            ["sh", "-c", VALIDATE.format(path=candidate)], capture_output=True
        ).returncode
        != 0
    )


def test_held_updates_blacklist_exactly_the_named_packages():
    text = render(
        "shared/held-updates.conf.j2",
        task="tasks/redis.py",
        label="Redis",
        packages=["redis-server", "redis-tools"],
    )
    assert re.findall(r'"\^([^"]+)\$";', text) == ["redis-server", "redis-tools"]
    assert "Unattended-Upgrade::Package-Blacklist {" in text


def test_pending_upgrades_are_read_from_apt_gets_simulation():
    output = [
        "Reading package lists...",
        "Inst postgresql-15 [15.8-0+deb12u1] (15.10-0+deb12u1 Debian-Security:12/stable-security"
        " [amd64])",
        "Inst libpq5 [15.8-0+deb12u1] (15.10-0+deb12u1 Debian-Security:12/stable-security [amd64])",
        "Conf postgresql-15 (15.10-0+deb12u1 Debian-Security:12/stable-security [amd64])",
        "Inst newpkg (1.0 Debian:12/stable [amd64])",
    ]
    assert PendingUpgrades().process(output) == {
        "postgresql-15": ("15.8-0+deb12u1", "15.10-0+deb12u1"),
        "libpq5": ("15.8-0+deb12u1", "15.10-0+deb12u1"),
    }
