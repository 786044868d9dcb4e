"""Small facts the bundle's deploys read before deciding what to change."""

from __future__ import annotations

import json

from pyinfra.api import FactBase


class ContainerType(FactBase):
    """
    The container technology the host runs in, or ``None`` on a VM or bare metal.

    .. code:: python

        "systemd-nspawn"
    """

    def command(self) -> str:
        # Exits 1 and prints "none" outside a container.
        return "systemd-detect-virt --container || true"

    def process(self, output):
        value = "".join(output).strip()
        return None if value in ("", "none") else value


class SecretStoreMark(FactBase):
    """
    The id of the secret store this host was last deployed with (bundle/store_mark.py), or
    ``None`` when it has none yet.

    .. code:: python

        "0f3c9a5e81d24b6f9e2a7c4d1b8e6f03"
    """

    def command(self, path: str) -> str:
        return f"cat {path} 2>/dev/null || true"

    def process(self, output):
        return "".join(output).strip() or None


class SshClientAddress(FactBase):
    """
    The address this deploy's own SSH connection comes from, or ``None`` when unknown
    (for example when sudo cleared the environment).

    .. code:: python

        "203.0.113.7"
    """

    def command(self) -> str:
        return 'echo "${SSH_CONNECTION:-}"'

    def process(self, output):
        fields = "".join(output).split()
        return fields[0] if fields else None


class MemoryMb(FactBase):
    """
    Total memory in MiB, from /proc/meminfo (present before any package is installed, so the
    value is the same on a first and a second run).

    .. code:: python

        24032
    """

    def command(self) -> str:
        return "awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo"

    def process(self, output):
        return int("".join(output).strip() or 0)


class HostPlatform(FactBase):
    """
    What the host runs (bundle.platforms): its release from /etc/os-release, machine, glibc, and
    python3's ``major.minor`` (the installed one, else the one its apt would install, so a host
    without python3 yet still tells which wheels it needs).

    .. code:: python

        {"id": "debian", "codename": "trixie", "pretty": "Debian GNU/Linux 13 (trixie)",
         "machine": "x86_64", "glibc": "2.41", "python": "3.13"}
    """

    def command(self) -> str:
        python = "python3 -c 'import sys; print(*sys.version_info[:2], sep=\".\")' 2>/dev/null"
        candidate = (
            "apt-cache show --no-all-versions python3 2>/dev/null"
            " | sed -n 's/^Version: \\([0-9]*[.][0-9]*\\).*/\\1/p'"
        )
        return (
            ". /etc/os-release 2>/dev/null; "
            'echo "id=$ID"; echo "codename=$VERSION_CODENAME"; echo "pretty=$PRETTY_NAME"; '
            'echo "machine=$(uname -m)"; '
            'echo "glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | cut -d" " -f2)"; '
            f'echo "python=$({python} || {candidate})"'
        )

    def process(self, output):
        found = dict(line.split("=", 1) for line in output if "=" in line)
        return {key: value.strip() or None for key, value in found.items()}


_PSQL = "runuser -u postgres -- psql -XAtq -F '|' -c"


class PostgresRoles(FactBase):
    """
    Login roles and their stored password verifiers; ``{}`` when PostgreSQL is not running.

    .. code:: python

        {"litellm": {"superuser": False, "login": True, "verifier": "SCRAM-SHA-256$4096:..."}}
    """

    def command(self) -> str:
        query = "SELECT rolname, rolsuper, rolcanlogin, coalesce(rolpassword, '') FROM pg_authid"
        return f'{_PSQL} "{query}" 2>/dev/null || true'

    def process(self, output):
        roles = {}
        for line in output:
            name, superuser, login, verifier = line.split("|", 3)
            roles[name] = {
                "superuser": superuser == "t",
                "login": login == "t",
                "verifier": verifier,
            }
        return roles


class PostgresDatabases(FactBase):
    """
    Databases with their owner and whether PUBLIC may connect; ``{}`` when not running.

    .. code:: python

        {"litellm": {"owner": "litellm", "public_connect": False}}
    """

    def command(self) -> str:
        query = (
            "SELECT datname, pg_get_userbyid(datdba), "
            "has_database_privilege('public', oid, 'CONNECT') FROM pg_database"
        )
        return f'{_PSQL} "{query}" 2>/dev/null || true'

    def process(self, output):
        databases = {}
        for line in output:
            name, owner, public_connect = line.split("|", 2)
            databases[name] = {"owner": owner, "public_connect": public_connect == "t"}
        return databases


class FileText(FactBase):
    """
    A small text file's content, stripped; ``None`` when it does not exist.

    .. code:: python

        "b7afce30ac17e2fe"
    """

    def command(self, path: str) -> str:
        return f"cat {path} 2>/dev/null || true"

    def process(self, output):
        return "\n".join(output).strip() or None


class LiteLLMPendingMigrations(FactBase):
    """
    How many of LiteLLM's shipped migrations the database has not applied yet, as counted by
    the bundled engine's runner; ``None`` when that cannot be known (no venv or environment
    file yet, database unreachable).

    .. code:: python

        0
    """

    def command(self, python: str, runner: str, env_file: str) -> str:
        return (
            f"test -x {python} && test -f {runner} && test -f {env_file} "
            f"&& {python} {runner} --env-file {env_file} --pending 2>/dev/null || true"
        )

    def process(self, output):
        # The count is the last line; warnings (e.g. a changed checksum) may come before it.
        words = output[-1].split() if output else []
        return int(words[1]) if len(words) == 2 and words[0] == "pending" else None


class SaasApiPendingMigrations(LiteLLMPendingMigrations):
    """
    How many SaaS API schema revisions the database lacks, as `saas-api-migrate --pending`
    counts them; ``None`` when that cannot be known (no venv or environment file yet).

    .. code:: python

        0
    """

    def command(self, migrate: str, env_file: str) -> str:
        return (
            f"test -x {migrate} && test -f {env_file} "
            f"&& {migrate} --env-file {env_file} --pending 2>/dev/null || true"
        )


class SeedSnapshot(FactBase):
    """
    The live state seeding plans against (provisioning.snapshot), read on an `api` host with
    the SaaS API's venv and environment file; ``None`` when it cannot be read (first deploy,
    a service down). It holds no secret: credentials appear as fingerprints, keys as hashes.

    .. code:: python

        {"credentials": [...], "models": [...], "teams": [...], ...}
    """

    def command(self, python: str, reader: str, env_file: str, saas_url: str) -> str:
        return (
            f"test -x {python} && test -f {reader}/provisioning/snapshot.py && test -f {env_file} "
            f"&& cd {reader} && {python} -m provisioning.snapshot --env-file {env_file} "
            f"--saas-url {saas_url} 2>/dev/null || true"
        )

    def process(self, output):
        text = "".join(output).strip()
        try:
            return json.loads(text) if text else None
        except ValueError:
            return None


class PendingUpgrades(FactBase):
    """
    Installed packages the package lists have a newer version of, as `apt-get upgrade` would
    install them now (a simulation: nothing changes, no lock taken): name -> (installed,
    candidate).

    .. code:: python

        {"postgresql-15": ("15.8-0+deb12u1", "15.10-0+deb12u1")}
    """

    def command(self) -> str:
        return "LC_ALL=C apt-get -s -o Debug::NoLocking=1 upgrade 2>/dev/null || true"

    def process(self, output):
        pending = {}
        for line in output:
            # Inst postgresql-15 [15.8-0+deb12u1] (15.10-0+deb12u1 Debian-Security:12/... [amd64])
            fields = line.split()
            if len(fields) >= 4 and fields[0] == "Inst" and fields[2].startswith("["):
                pending[fields[1]] = (fields[2].strip("[]"), fields[3].lstrip("("))
        return pending


class PgBackRestState(FactBase):
    """
    The cluster's system id and the repository's stanza, as this host's own pgBackRest sees
    them (on a backup host, which runs no cluster, the system id is ``None``); ``None`` before
    pgBackRest is installed. ``info`` is ``None`` when the stanza could not be read, with
    ``error`` saying why.

    .. code:: python

        {"cluster_system_id": 7312..., "info": StanzaInfo(...), "error": None}
    """

    def command(self, stanza: str) -> str:
        # pgBackRest prints raw bytes when a wrong key garbles the repository's files: only
        # printable ASCII reaches the parser (valid JSON is ASCII here).
        system_id = "SELECT system_identifier FROM pg_control_system()"
        return (
            "command -v pgbackrest >/dev/null || exit 0; "
            f"echo system-id:$(runuser -u postgres -- psql -XAtq -c '{system_id}' 2>/dev/null); "
            f"runuser -u postgres -- pgbackrest --stanza={stanza} --output=json info 2>/dev/null "
            "| LC_ALL=C tr -cd '\\11\\12\\15\\40-\\176'; true"
        )

    def process(self, output):
        from bundle.pgbackrest import InfoError, parse_info

        if not output or not output[0].startswith("system-id:"):
            return None
        system_id = output[0].split(":", 1)[1].strip()
        state = {"cluster_system_id": int(system_id) if system_id.isdigit() else None}
        try:
            state |= {"info": parse_info("\n".join(output[1:])), "error": None}
        except InfoError as error:
            state |= {"info": None, "error": str(error)}
        return state


class ClusterSystemId(FactBase):
    """
    The system identifier of the PostgreSQL cluster in ``data_directory``, read from its control
    file (the server need not run); ``None`` when there is no cluster there.

    .. code:: python

        7312046517623456789
    """

    def command(self, version: int, data_directory: str) -> str:
        return (
            f"test -f {data_directory}/global/pg_control || exit 0; "
            f"runuser -u postgres -- /usr/lib/postgresql/{version}/bin/pg_controldata "
            f"-D {data_directory} 2>/dev/null | sed -n 's/^Database system identifier: *//p'"
        )

    def process(self, output):
        text = "".join(output).strip()
        return int(text) if text.isdigit() else None
