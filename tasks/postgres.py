"""PostgreSQL for the `db` group: two databases, each owned by its own login role, reachable
only by the peers that need them, over TLS when they are on another host."""

from __future__ import annotations

from pyinfra import host, inventory
from pyinfra.api import HiddenValue, deploy
from pyinfra.facts.files import File
from pyinfra.operations import apt, server, systemd

from bundle import firewall, peers, pgbackrest, settings, sizing
from bundle.data import settings_reader
from bundle.deploy_secrets import secrets_for
from bundle.facts import HostPlatform, MemoryMb
from bundle.held_updates import held_server_packages
from bundle.operations import (
    postgres_login_role,
    rendered_file,
    running_service,
    validated_file,
)
from bundle.render import render

DEFAULTS = settings.defaults("postgres_versions", "postgres_tls_days", "backup_archive_timeout")

# Which role, database and client group belong together.
CLIENTS = (
    ("litellm", "litellm", "llm", "postgres_litellm_password"),
    ("saas", "saas", "api", "postgres_saas_password"),
)


setting = settings_reader(DEFAULTS)

# What the sandboxed server may write (templates/postgres/postgresql-gateway.conf.j2): its data
# directory, its logs (pg_ctlcluster's log file) and its socket and PID file; and what its
# archive_command (pgBackRest's archive-push) writes, bundle.pgbackrest.postgres_paths.
WRITABLE_PATHS = ("/var/lib/postgresql", "/var/log/postgresql", "/run/postgresql")


def repository_on_db_host() -> bool:
    """The backup repository is on the db host unless the inventory has a `backup` group."""
    return not inventory.get_group("backup", [])


def hba_rules(own_address: str) -> tuple[list[dict], list[str], bool]:
    """pg_hba rules, the remote peers' addresses and whether any client is on this host."""
    rules, remote, local = [], [], False
    for role, database, group, _ in CLIENTS:
        for address in sorted(peers.client_addresses(group)):
            if address == own_address:
                local = True
                rules.append(
                    {"type": "host", "database": database, "role": role, "address": "127.0.0.1/32"}
                )
            else:
                remote.append(address)
                rules.append(
                    {
                        "type": "hostssl",
                        "database": database,
                        "role": role,
                        "address": f"{address}/32",
                    }
                )
    unique = []
    for rule in rules:
        if rule not in unique:
            unique.append(rule)
    return unique, sorted(set(remote)), local


@deploy("PostgreSQL")
def deploy_postgres():
    codename = host.get_fact(HostPlatform)["codename"]
    version = setting("postgres_versions")[codename]
    conf_dir = f"/etc/postgresql/{version}/main"
    unit = f"postgresql@{version}-main.service"
    own_address = host.data.get("private_address")
    rules, remote_peers, local_clients = hba_rules(own_address)
    listen = peers.listen_addresses(own_address, remote_peers, local_clients)
    memory = host.get_fact(MemoryMb)
    clients = sizing.client_connections(
        [h.data for h in inventory.get_group("llm", [])],
        [h.data for h in inventory.get_group("api", [])],
    )

    apt.packages(
        name="Install PostgreSQL",
        packages=["postgresql", "openssl"],
        no_recommends=True,
    )
    held_server_packages(
        task="tasks/postgres.py",
        label="PostgreSQL",
        packages=[f"postgresql-{version}", f"postgresql-client-{version}"],
        ready_command="pg_isready -q",
        conf_name="postgres",
    )
    key, cert = f"{conf_dir}/server.key", f"{conf_dir}/server.crt"
    if host.get_fact(File, path=key):
        host.noop(f"{key} exists: the TLS key is made once and kept")
    else:
        # The private key is made on the host and never leaves it.
        server.shell(
            name="Create this host's PostgreSQL TLS key and certificate",
            commands=[
                f"test -s {key} || ( umask 077 && openssl req -x509 -newkey ec "
                "-pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                f"-days {setting('postgres_tls_days')} -subj /CN={host.name} "
                f"-addext subjectAltName=IP:{own_address} -keyout {key} -out {cert} 2>/dev/null "
                f"&& chown postgres:postgres {key} {cert} )"
            ],
        )
    text = render(
        "postgres/50-gateway.conf.j2",
        listen_addresses=listen,
        memory_mb=memory,
        client_connections=clients,
        ssl_cert_file=cert,
        ssl_key_file=key,
        archive_command=pgbackrest.ARCHIVE_COMMAND,
        archive_timeout=setting("backup_archive_timeout"),
        **sizing.postgres_settings(memory, clients),
    )
    hba = rendered_file(
        "postgres/pg_hba.conf.j2",
        f"{conf_dir}/pg_hba.conf",
        mode="640",
        user="postgres",
        group="postgres",
        rules=rules,
    )
    archive_paths = pgbackrest.postgres_paths(repository_on_db_host=repository_on_db_host())
    # They must exist before the sandbox names them (systemd refuses to start a unit whose
    # ReadWritePaths are missing), i.e. before the pgbackrest package would make them; the
    # tmpfiles entry also brings back /run/pgbackrest at every boot.
    tmpfiles = rendered_file(
        "postgres/gateway-pgbackrest.tmpfiles.j2",
        "/etc/tmpfiles.d/gateway-pgbackrest.conf",
        paths=archive_paths,
    )
    server.shell(
        name="Create the directories PostgreSQL's archive command writes",
        commands=["systemd-tmpfiles --create /etc/tmpfiles.d/gateway-pgbackrest.conf"],
        _if=tmpfiles.did_change,
    )
    sandbox = rendered_file(
        "postgres/postgresql-gateway.conf.j2",
        f"/etc/systemd/system/{unit}.d/gateway.conf",
        writable_paths=WRITABLE_PATHS + archive_paths,
    )
    systemd.daemon_reload(name="Reload systemd for PostgreSQL's sandbox", _if=sandbox.did_change)
    configured_and_restarted(version, text, sandbox, reload_when=[hba])
    secrets = secrets_for(host.data.get("environment"))
    for role, database, _, secret in CLIENTS:
        postgres_login_role(
            name=f"Ensure role {role} owns database {database}",
            role=role,
            password=HiddenValue(secrets[secret]),
            database=database,
        )
    firewall.allow_port("postgres", 5432, remote_peers)


def conf_path(version: int) -> str:
    return f"/etc/postgresql/{version}/main/conf.d/50-gateway.conf"


def conf_check(version: int) -> str:
    """PostgreSQL's own parse of a candidate conf.d file: `postgres -C` (fine while the server
    runs) on a configuration that includes the live postgresql.conf (and so conf.d), then the
    candidate, as the server will read them. Its message names the parameter and the value."""
    return (
        # From /: postgres complains about a working directory it cannot enter (root's).
        "cd / && t=$(mktemp /tmp/postgres-candidate-XXXXXX.conf) && "
        f"printf \"include '%s'\\ninclude '%s'\\n\" /etc/postgresql/{version}/main/postgresql.conf "
        "{path} > $t && chmod 644 $t && "
        f"runuser -u postgres -- /usr/lib/postgresql/{version}/bin/postgres -C data_directory "
        "-c config_file=$t > /dev/null; rc=$?; rm -f $t; exit $rc"
    )


def configured_and_restarted(version: int, text: str, *changes, reload_when=()) -> None:
    """conf.d/50-gateway.conf as `text`, live only once PostgreSQL accepted it; restarted when it
    or one of `changes` changed, and put back (restarted on the previous file) should the
    server not come back on it."""
    path = conf_path(version)
    conf = validated_file(
        name=f"Render {path} (checked by PostgreSQL first)",
        content=text,
        dest=path,
        validate=conf_check(version),
        user="postgres",
        group="postgres",
        keep_previous=True,
    )
    running_service(
        f"postgresql@{version}-main.service",
        "PostgreSQL",
        restart_when=[*changes, conf],
        reload_when=reload_when,
        restore=[path],
        log_tail=f"/var/log/postgresql/postgresql-{version}-main.log",
    )
