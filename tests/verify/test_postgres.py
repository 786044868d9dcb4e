"""What the PostgreSQL deploy promises on `db` hosts, one fact per test."""

import ipaddress

import pytest

from .conftest import MAX_EXPOSURE, as_user, exposure, listening_addresses

pytestmark = pytest.mark.roles("db")


def sql(host, query):
    return host.check_output(as_user(host, "postgres", f"psql -XAtq -F '|' -c \"{query}\""))


def cluster_unit(host) -> str:
    units = host.check_output(
        "systemctl list-units --plain --no-legend 'postgresql@*' | cut -d' ' -f1"
    )
    return units.splitlines()[0]


def test_postgresql_is_running_and_enabled(host):
    service = host.service(cluster_unit(host))
    assert service.is_running and service.is_enabled


def test_the_server_runs_sandboxed_as_postgres(host):
    unit = cluster_unit(host)
    assert host.check_output(f"systemctl show -P User {unit}") == "postgres"
    score, summary = exposure(host, unit)
    assert score <= MAX_EXPOSURE, summary


def test_listens_only_on_loopback_or_the_private_address(host, inventory_host):
    bound = listening_addresses(host, 5432)
    assert bound and bound <= {"127.0.0.1", inventory_host.data["private_address"]}


@pytest.mark.dev_stack
def test_every_client_rule_uses_scram(host):
    methods = sql(host, "SELECT type, user_name, auth_method FROM pg_hba_file_rules").splitlines()
    for line in methods:
        kind, users, method = line.split("|")
        if kind == "local" and users == "{postgres}":
            assert method == "peer"
        else:
            assert method == "scram-sha-256", line


@pytest.mark.dev_stack
def test_no_rule_trusts_or_uses_md5(host):
    methods = set(sql(host, "SELECT auth_method FROM pg_hba_file_rules").split())
    assert not methods & {"trust", "md5", "password", "ident"}


@pytest.mark.dev_stack
def test_remote_clients_must_use_tls(host):
    rules = sql(host, "SELECT type, address FROM pg_hba_file_rules WHERE address IS NOT NULL")
    for line in rules.splitlines():
        kind, address = line.split("|")
        if not ipaddress.ip_address(address).is_loopback:
            assert kind == "hostssl", line


@pytest.mark.dev_stack
@pytest.mark.parametrize(("database", "owner"), [("litellm", "litellm"), ("saas", "saas")])
def test_each_database_is_owned_by_its_own_role(host, database, owner):
    assert (
        sql(host, f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{database}'")
        == owner
    )


@pytest.mark.dev_stack
@pytest.mark.parametrize("role", ["litellm", "saas"])
def test_client_roles_have_no_superuser_rights(host, role):
    flags = sql(
        host,
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication FROM pg_roles "
        f"WHERE rolname = '{role}'",
    )
    assert flags == "f|f|f|f"


@pytest.mark.dev_stack
@pytest.mark.parametrize("database", ["litellm", "saas"])
def test_public_cannot_connect_to_the_databases(host, database):
    assert sql(host, f"SELECT has_database_privilege('public', '{database}', 'CONNECT')") == "f"


@pytest.mark.dev_stack
@pytest.mark.parametrize("role", ["litellm", "saas"])
def test_passwords_are_stored_as_scram_verifiers(host, role):
    stored = sql(host, f"SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'")
    assert stored.startswith("SCRAM-SHA-256$")


@pytest.mark.dev_stack
def test_password_encryption_is_scram(host):
    assert sql(host, "SHOW password_encryption") == "scram-sha-256"


@pytest.mark.dev_stack
def test_tls_is_on(host):
    assert sql(host, "SHOW ssl") == "on"


@pytest.mark.dev_stack
def test_tls_key_is_private_to_postgres(host):
    key = host.file(sql(host, "SHOW ssl_key_file"))
    assert (key.user, key.group, key.mode) == ("postgres", "postgres", 0o600)


@pytest.mark.dev_stack
def test_pg_hba_is_not_world_readable(host):
    hba = host.file(sql(host, "SHOW hba_file"))
    assert hba.user == "postgres" and hba.mode & 0o007 == 0


@pytest.mark.dev_stack
def test_the_server_is_the_releases_own_postgresql(host):
    expected = {"bookworm": 15, "trixie": 17}[host.system_info.codename]
    assert int(sql(host, "SHOW server_version_num")) // 10000 == expected


def test_unattended_upgrades_leave_postgresql_to_the_operator(host):
    # apt's own merged configuration, as unattended-upgrades reads it.
    major = sql(host, "SHOW server_version_num")[:2]
    held = host.check_output("apt-config dump Unattended-Upgrade::Package-Blacklist")
    assert f'"^postgresql-{major}$"' in held
