"""PostgreSQL backups for the `db` group with Debian's pgBackRest: every WAL segment archived
(PostgreSQL's archive_command, set by tasks/postgres.py), full and differential backups on
systemd timers with count-based retention, the repository encrypted with a key from the secret
store. Both databases (LiteLLM's and the SaaS API's) are one cluster: backed up and restored
together. The CLI is `python -m bundle.backup` (status, backup, restore).

Without a `backup` group (the single topology) the repository is /var/lib/pgbackrest on the db
host itself, which does not survive the loss of that host; the deploy says so. With one, the
repository is on the backup host: pgBackRest 2.45 only backs up from the repository's host, so
the backup host pulls backups from the db host over SSH and the db host pushes its WAL to the
backup host over SSH (docs/research/pgbackrest-2.45.md). Each direction has its own key from the
secret store, admitted only from the peer's address and only to run pgBackRest; each side pins
the other's host key, read from the peer at every deploy (a db host set up anew has new ones).

Order across hosts (deploy.py): the db host's and the backup host's files before the data tier's
barrier, the stanza and the first backup (run on the repository's host) after it, when both
ends can reach each other."""

from __future__ import annotations

from pyinfra import host, inventory, logger
from pyinfra.api import deploy
from pyinfra.operations import apt, files, server, systemd

from bundle import firewall, pgbackrest, settings
from bundle.data import settings_reader
from bundle.deploy_secrets import secrets_for
from bundle.errors import PreflightError
from bundle.facts import ClusterSystemId, FileText, HostPlatform, PgBackRestState
from bundle.operations import rendered_file, unit_file
from bundle.secret_store import ssh_public_key
from tasks.base import DEFAULTS as BASE_DEFAULTS

DEFAULTS = settings.defaults("postgres_versions", prefix="backup_")
# Each side's private key, by the group whose hosts use it to reach the other side.
SSH_KEYS = {"db": "pgbackrest_db_ssh_key", "backup": "pgbackrest_backup_ssh_key"}
HOST_KEY = "/etc/ssh/ssh_host_ed25519_key.pub"
SINGLE_HOST_WARNING = (
    "Backups: the repository is on the db host itself ({host}:{path}); it does not survive the "
    "loss of that host. Add a `backup` group host for backups that do."
)

setting = settings_reader(DEFAULTS)
_warned = set()


def backup_host():
    """The host holding the repository when it is not the db host, else None."""
    group = inventory.get_group("backup", [])
    return group[0] if group else None


def ssh_port(of) -> int:
    return of.data.get("base_ssh_port") or BASE_DEFAULTS["base_ssh_port"]


def _db_host():
    return inventory.get_group("db")[0]


def _postgres_version(of) -> int:
    # Read from the db host's data (its deploy reads the same key).
    versions = of.data.get("postgres_versions") or DEFAULTS["postgres_versions"]
    return versions[of.get_fact(HostPlatform)["codename"]]


def _data_directory(version: int) -> str:
    return f"/var/lib/postgresql/{version}/main"


def _config(*, secrets, version: int, repository: bool, repository_host=None, db_host=None):
    """pgbackrest.conf: with the repository (its key, its retention) where it is kept; with the
    peer's address where the other end is another host."""
    return rendered_file(
        "backup/pgbackrest.conf.j2",
        pgbackrest.CONFIG,
        mode="640",
        user="root",
        group=pgbackrest.USER,
        stanza=pgbackrest.STANZA,
        ssh_user=pgbackrest.USER,
        data_directory=_data_directory(version),
        repository=(
            {
                "path": pgbackrest.REPOSITORY,
                "cipher_pass": secrets["pgbackrest_cipher_pass"],
                "retention_full": setting("backup_retention_full"),
                "retention_diff": setting("backup_retention_diff"),
            }
            if repository
            else None
        ),
        repository_host=repository_host,
        db_host=db_host,
        process_max=setting("backup_process_max"),
        spool=pgbackrest.SPOOL,
        lock=pgbackrest.LOCK,
        log=pgbackrest.LOG,
    )


def _backup_units(*, private_network: bool, writable) -> list:
    """The oneshot backup unit and its two timers, on the repository's host."""
    units = [
        unit_file(
            "backup/pgbackrest-backup@.service.j2",
            "/etc/systemd/system/pgbackrest-backup@.service",
            stanza=pgbackrest.STANZA,
            binary=pgbackrest.BINARY,
            writable_paths=writable,
            private_network=private_network,
        )
    ]
    for kind in pgbackrest.BACKUP_TYPES:
        units.append(
            unit_file(
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
    return units


@deploy("PostgreSQL backups")
def deploy_backup():
    """The db host's side: the whole thing in the single topology, the archive's sending end
    and the SSH account the backup host reads the cluster through otherwise."""
    version = _postgres_version(host)
    secrets = secrets_for(host.data.get("environment"))
    repository_host = backup_host()
    if repository_host is not None:
        apt.packages(name="Install pgBackRest", packages=["pgbackrest"], no_recommends=True)
        _config(
            secrets=secrets,
            version=version,
            repository=False,
            repository_host=repository_host.data.get("private_address"),
        )
        _ssh_peer(secrets, own_group="db", peer=repository_host)
        return

    if host.name not in _warned:
        _warned.add(host.name)
        logger.warning(SINGLE_HOST_WARNING.format(host=host.name, path=pgbackrest.REPOSITORY))
    # Read before anything changes: None on the first deploy (pgBackRest not installed yet).
    state = host.get_fact(PgBackRestState, stanza=pgbackrest.STANZA)
    cluster = host.get_fact(
        ClusterSystemId, version=version, data_directory=_data_directory(version)
    )
    apt.packages(name="Install pgBackRest", packages=["pgbackrest"], no_recommends=True)
    _config(secrets=secrets, version=version, repository=True)
    # The repository and the server are both on this host: no network at all.
    _backup_units(
        private_network=True, writable=pgbackrest.postgres_paths(repository_on_db_host=True)
    )
    _stanza_backup_and_timers(state, cluster, f"postgresql@{version}-main.service")


@deploy("PostgreSQL backup repository")
def deploy_backup_repository():
    """The backup host's files: pgBackRest with the repository and its key, the SSH account
    the db host archives through, the backup unit and its timers."""
    db = _db_host()
    version = _postgres_version(db)
    secrets = secrets_for(host.data.get("environment"))
    apt.packages(name="Install pgBackRest", packages=["pgbackrest"], no_recommends=True)
    # pgBackRest's lock path, as on the db host (tasks/postgres.py): /run is made anew at boot.
    tmpfiles = rendered_file(
        "postgres/gateway-pgbackrest.tmpfiles.j2",
        "/etc/tmpfiles.d/gateway-pgbackrest.conf",
        paths=(pgbackrest.LOCK,),
    )
    server.shell(
        name="Create pgBackRest's lock directory",
        commands=["systemd-tmpfiles --create /etc/tmpfiles.d/gateway-pgbackrest.conf"],
        _if=tmpfiles.did_change,
    )
    _config(
        secrets=secrets,
        version=version,
        repository=True,
        db_host=db.data.get("private_address"),
    )
    _ssh_peer(secrets, own_group="backup", peer=db)
    _backup_units(
        private_network=False, writable=(pgbackrest.REPOSITORY, pgbackrest.LOG, pgbackrest.LOCK)
    )


@deploy("PostgreSQL backups from the backup host")
def deploy_backup_schedule():
    """After the data tier: both ends are set up and reach each other. The stanza, the first
    backup and the timers, from the repository's host."""
    db = _db_host()
    version = _postgres_version(db)
    state = host.get_fact(PgBackRestState, stanza=pgbackrest.STANZA)
    cluster = db.get_fact(ClusterSystemId, version=version, data_directory=_data_directory(version))
    _stanza_backup_and_timers(state, cluster, cluster_unit=None)


def _ssh_peer(secrets, *, own_group: str, peer) -> None:
    """postgres's SSH files for pgBackRest's link to `peer`: our key to reach it, its pinned
    host key, and its key admitted here from its address only, to run pgBackRest only; the
    firewall opens SSH to that one address."""
    home = f"{pgbackrest.HOME}/.ssh"
    peer_group = "backup" if own_group == "db" else "db"
    address = peer.data.get("private_address")
    peer_key = ssh_public_key(secrets[SSH_KEYS[peer_group]], f"pgbackrest@{peer.name}")
    host_key = peer.get_fact(FileText, path=HOST_KEY)
    if not host_key:
        raise PreflightError(f"{peer.name}: no SSH host key at {HOST_KEY} to pin for pgBackRest")
    files.directory(
        name=f"Create {home}", path=home, mode="700", user=pgbackrest.USER, group=pgbackrest.USER
    )
    owned = {"mode": "600", "user": pgbackrest.USER, "group": pgbackrest.USER}
    rendered_file(
        "backup/ssh_file.j2",
        f"{home}/id_ed25519",
        name=f"Render {home}/id_ed25519 (pgBackRest's key to {peer.name})",
        text=secrets[SSH_KEYS[own_group]].strip(),
        **owned,
    )
    rendered_file(
        "backup/ssh_file.j2",
        f"{home}/known_hosts",
        text=f"{address} {' '.join(host_key.split()[:2])}",
        **owned,
    )
    rendered_file(
        "backup/ssh_file.j2",
        f"{home}/authorized_keys",
        text=pgbackrest.forced_command_key(peer_key, address),
        **owned,
    )
    rendered_file(
        "backup/ssh_config.j2",
        f"{home}/config",
        peer=peer.name,
        address=address,
        ssh_user=pgbackrest.USER,
        port=ssh_port(peer),
        home=pgbackrest.HOME,
        **owned,
    )
    firewall.allow_port("backup", ssh_port(host), [address])


def _stanza_backup_and_timers(state, cluster, cluster_unit: str | None) -> None:
    """The stanza once, a first full backup while it has none (a restore point right after
    the first deploy), and the timers; nothing when the repository belongs to another cluster.
    Never `stanza-upgrade` (it would adopt any cluster)."""
    refusal = pgbackrest.repository_refusal(state["info"] if state else None, cluster)
    if refusal:
        logger.warning(refusal)
        host.noop(refusal)
        return
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
            commands=([f"systemctl is-active --quiet {cluster_unit}"] if cluster_unit else [])
            + [
                f"runuser -u postgres -- {pgbackrest.BINARY} --stanza={pgbackrest.STANZA} "
                "stanza-create"
            ],
        )
    if info is not None and info.backups:
        host.noop(f"the repository holds {len(info.backups)} backup(s)")
    else:
        server.shell(
            name="Check WAL archiving and take the first full backup",
            commands=[
                # check: forces a WAL switch and waits until that segment is in the repository.
                f"runuser -u postgres -- {pgbackrest.BINARY} --stanza={pgbackrest.STANZA} check",
                "systemctl start --wait " + pgbackrest.BACKUP_UNIT.format(kind="full"),
            ],
        )
    for kind in pgbackrest.BACKUP_TYPES:
        systemd.service(
            name=f"Start and enable the {kind} backup timer",
            service=f"pgbackrest-backup-{kind}.timer",
            running=True,
            enabled=True,
        )
