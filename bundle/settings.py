"""Every setting a deploy reads: its kind (what it accepts), its default and why, and the host
groups that read it. The one source of truth: each task's DEFAULTS come from here
(`defaults`), preflight checks every host's data against it (bundle/preflight.py) and the
README's settings table is generated from it (`python -m bundle.settings`)."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bundle import litellm_release

PLACEHOLDERS = ("changeme", "change-me", "change_me", "todo", "xxx", "example")
HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$",
    re.IGNORECASE,
)
# Fixed, not settings: the data services listen on their standard ports (their clients, the
# firewall and the backups all assume them).
POSTGRES_PORT = 5432
REDIS_PORT = 6379
EDGE_PORTS = (80, 443)


@dataclass(frozen=True)
class Kind:
    """What a setting accepts: `expected` for the error message and the README; `problem`
    returns why a value is refused, or None."""

    expected: str
    problem: Callable[[Any], str | None]
    # Refused values, for the e2e sweep: one out of range or format, one of the wrong type.
    invalid: Any = None
    wrong_type: Any = 12345


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole(low: int, high: int, unit: str = "") -> Kind:
    suffix = f" {unit}" if unit else ""

    def problem(value):
        if not _is_int(value):
            return "not a whole number"
        if not low <= value <= high:
            return "out of range"
        return None

    return Kind(f"a whole number from {low} to {high}{suffix}", problem, high + 1, "abc")


def port(low: int = 1, high: int = 65535) -> Kind:
    return Kind(f"a port from {low} to {high}", whole(low, high).problem, high + 1, "abc")


def seconds_fraction(high: float) -> Kind:
    def problem(value):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "not a number"
        return None if 0 < value <= high else "out of range"

    return Kind(f"a number of seconds above 0 and at most {high}", problem, high * 2, "abc")


def choice(*values: str) -> Kind:
    def problem(value):
        return None if value in values else "not one of those"

    return Kind("one of " + ", ".join(values), problem, "bogus")


def pattern(expected: str, regex: str, invalid: str) -> Kind:
    compiled = re.compile(regex)

    def problem(value):
        if not isinstance(value, str):
            return "not a string"
        return None if compiled.fullmatch(value) else "not in that format"

    return Kind(expected, problem, invalid)


def list_of(item: Kind, *, empty: bool = True) -> Kind:
    def problem(value):
        if isinstance(value, str) or not isinstance(value, list | tuple):
            return "not a list"
        if not value and not empty:
            return "empty"
        for entry in value:
            if item.problem(entry):
                return f"entry {entry!r} is {item.problem(entry)}"
        return None

    what = f"a list{'' if empty else ' (not empty)'} of: {item.expected}"
    return Kind(what, problem, [item.invalid], "a-string")


def _flag(value):
    return None if isinstance(value, bool) else "not True or False"


def _host_name(value):
    if not isinstance(value, str) or not HOST_NAME.match(value):
        return "not a DNS name"
    if any(p in value.lower() for p in PLACEHOLDERS):
        return "a placeholder"
    return None


def _email(value):
    if not isinstance(value, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        return "not an e-mail address"
    if any(p in value.lower() for p in PLACEHOLDERS):
        return "a placeholder"
    return None


def _address(value):
    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        return "not an IP address"
    if address.is_unspecified or address.is_multicast or address.is_loopback:
        return "not an address a host's peers can reach"
    return None


def _server(value):
    if _host_name(value) is None or _address(value) is None:
        return None
    return "not a host name or address"


def networks(*, everyone: bool) -> Kind:
    """A non-empty list of IP networks; `everyone` admits 0.0.0.0/0 (the public edge)."""

    def problem(value):
        if isinstance(value, str) or not isinstance(value, list | tuple):
            return "not a list"
        if not value:
            return "empty"
        for entry in value:
            text = str(entry)
            if any(p in text.lower() for p in PLACEHOLDERS):
                return f"entry {text!r} is a placeholder"
            try:
                network = ipaddress.ip_network(text, strict=False)
            except ValueError:
                return f"entry {text!r} is not an IP network"
            if network.prefixlen == 0 and not everyone:
                return f"entry {text!r} admits the whole internet"
        return None

    what = "IP networks" if everyone else "operators' IP networks (never 0.0.0.0/0 or ::/0)"
    invalid = ["not-a-network"] if everyone else ["0.0.0.0/0"]
    return Kind(f'a list of {what}, e.g. ["198.51.100.0/24"]', problem, invalid, "10.0.0.0/8")


def _calendar(value):
    """systemd's own parser where this machine has it (it is what the timer will read)."""
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        return "not a calendar expression"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return None if re.fullmatch(r"[A-Za-z0-9 ,.:*/~-]+", value) else "not valid"
    result = subprocess.run(
        [analyze, "calendar", "--", value], capture_output=True, text=True, check=False
    )
    return None if result.returncode == 0 else "refused by systemd-analyze calendar"


def _mapping_of_versions(value):
    if not isinstance(value, dict) or not value:
        return "not a mapping"
    for codename, version in value.items():
        if not isinstance(codename, str) or not _is_int(version) or not 10 <= version <= 99:
            return f"entry {codename!r}: {version!r} is not a release and a major version"
    return None


def _lock(value):
    try:
        litellm_release.check_lock("-", value)
    except Exception as error:  # PreflightError: its text says which lock and why
        return str(error).split("; ", 1)[0].removeprefix("-: ")
    return None


FLAG = Kind("True or False", _flag, "yes", 1)
HOST = Kind(
    "a DNS name clients can use (its DNS record pointing at the edge)", _host_name, "gw_1.lan"
)
EMAIL = Kind("an e-mail address (ACME's contact)", _email, "ops-at-corp")
ADDRESS = Kind("the IP address the host's peers reach it on", _address, "0.0.0.0")  # noqa: S104
SERVER = Kind("an NTP server's host name or address", _server, "ntp server")
PATH = pattern("a path to a file on the control machine", r"\S.*", " leading-space")
ENVIRONMENT = pattern("a name of lowercase letters, digits and -", r"[a-z0-9][a-z0-9-]*", "Prod!")
PACKAGE = pattern("a Debian package name", r"[a-z0-9][a-z0-9+.-]+", "Not A Package")
URL_PATH = pattern("a path starting with /", r"/\S*", "chat/completions")
MODEL_GROUP = pattern("a model group's name", r"[A-Za-z0-9][A-Za-z0-9._-]*", "standard models")
# Caddy's durations are Go's (with d for days); its sizes humanized byte counts.
CADDY_DURATION = pattern(
    "a duration such as 2s, 500ms or 1m30s", r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+", "fast"
)
CADDY_SIZE = pattern(
    "a size such as 64MB or 1GiB", r"\d+(\.\d+)?\s*([kKmMgGtT]i?[bB]?|[bB])?", "huge"
)
JOURNALD_SIZE = pattern("a size such as 512M or 1G (K, M, G, T)", r"\d+[KMGT]?", "lots")
SYSTEMD_SPAN = pattern(
    "a time span such as 10m, 2h or 1month",
    r"(\d+\s*(usec|us|msec|ms|seconds?|sec|s|minutes?|min|m|hours?|hr|h|days?|d|weeks?|w"
    r"|months?|M|years?|y)\s*)+",
    "a while",
)
TIME_OF_DAY = pattern("a time of day, HH:MM", r"([01]\d|2[0-3]):[0-5]\d", "25:99")
CALENDAR = Kind(
    "a systemd calendar event (OnCalendar), e.g. 'Sun *-*-* 02:30'", _calendar, "Sun 25:99"
)
LOCK = Kind(
    "the name of a hash-locked LiteLLM lock in bundle/requirements/ (without .lock)",
    _lock,
    "litellm-0.0.1",
)
VERSIONS = Kind(
    "a mapping of Debian release to PostgreSQL major version",
    _mapping_of_versions,
    {"bookworm": 5},
    "15",
)


@dataclass(frozen=True)
class Setting:
    key: str
    kind: Kind
    default: Any
    reason: str
    # The host groups whose deploys read it (None: every host).
    groups: tuple[str, ...] | None = None
    # No safe default: preflight refuses a host that needs it and lacks it.
    required: bool = False
    # Where it is set when not in group_data (private_address: each host's inventory entry).
    where: str = "group_data/<environment>.py"


SERVICE_GROUPS = ("db", "cache", "llm", "api", "edge", "backup")
DB_HOSTS = ("db", "backup")

SETTINGS = (
    # Everywhere.
    Setting(
        "environment",
        ENVIRONMENT,
        None,
        "names the secret store `secrets/<env>.age`",
        required=True,
    ),
    Setting(
        "private_address",
        ADDRESS,
        None,
        "where the host's peers reach it; services listen only there",
        groups=SERVICE_GROUPS,
        required=True,
        where="the host's entry in its inventory file",
    ),
    # tasks/base.py
    Setting(
        "base_packages",
        list_of(PACKAGE, empty=False),
        [
            "ca-certificates",
            "netbase",
            "curl",
            "less",
            "procps",
            "nftables",
            "chrony",
            "unattended-upgrades",
            "apt-listchanges",
            "openssh-server",
        ],
        "what every host needs: time sync, security upgrades, the firewall, SSH",
    ),
    Setting(
        "base_apt_cache_seconds",
        whole(0, 604800, "seconds"),
        86400,
        "apt-get update at most this often during deploys",
    ),
    Setting(
        "base_admin_cidrs",
        networks(everyone=False),
        None,
        "networks allowed to SSH in; there is no safe default",
        required=True,
    ),
    Setting(
        "base_ssh_port", port(), 22, "SSH's port (the firewall opens it to the admin networks)"
    ),
    Setting("base_ntp_servers", list_of(SERVER), [], "empty keeps Debian's chrony pool"),
    Setting("base_journald_max_use", JOURNALD_SIZE, "1G", "the journal's cap on disk"),
    Setting("base_journald_keep_free", JOURNALD_SIZE, "2G", "disk the journal leaves free"),
    Setting("base_journald_max_retention", SYSTEMD_SPAN, "1month", "older journal entries go"),
    Setting(
        "base_unattended_reboot",
        FLAG,
        False,
        "reboot when a security upgrade needs it (off: services restart, the host does not)",
    ),
    Setting("base_unattended_reboot_time", TIME_OF_DAY, "04:30", "when such a reboot happens"),
    Setting(
        "base_dpkg_lock_timeout",
        whole(0, 86400, "seconds"),
        600,
        "wait this long for a running apt (unattended-upgrades) to finish",
    ),
    Setting(
        "apply_held_updates",
        FLAG,
        False,
        "installs a held PostgreSQL/Redis update (--limit <host> --data apply_held_updates=True)",
        groups=("db", "cache"),
    ),
    # tasks/postgres.py, tasks/backup.py
    Setting(
        "postgres_versions",
        VERSIONS,
        {"bookworm": 15, "trixie": 17},
        "Debian's PostgreSQL major version per release",
        groups=DB_HOSTS,
    ),
    Setting(
        "postgres_tls_days",
        whole(1, 36500, "days"),
        3650,
        "validity of the server's self-signed certificate (clients pin it)",
        groups=("db",),
    ),
    Setting(
        "backup_archive_timeout",
        whole(10, 3600, "seconds"),
        60,
        "a WAL segment with changes is archived after this: the bound on what a restore loses",
        groups=("db",),
    ),
    Setting(
        "backup_retention_full",
        whole(1, 999),
        2,
        "full backups kept (with the WAL to restore from them)",
        groups=DB_HOSTS,
    ),
    Setting(
        "backup_retention_diff", whole(1, 999), 6, "differential backups kept", groups=DB_HOSTS
    ),
    Setting(
        "backup_full_schedule", CALENDAR, "Sun *-*-* 02:30", "a weekly full backup", groups=DB_HOSTS
    ),
    Setting(
        "backup_diff_schedule",
        CALENDAR,
        "Mon..Sat *-*-* 02:30",
        "a differential on the other days",
        groups=DB_HOSTS,
    ),
    Setting(
        "backup_randomized_delay",
        SYSTEMD_SPAN,
        "10m",
        "spreads the start so that environments do not back up in the same second",
        groups=DB_HOSTS,
    ),
    Setting(
        "backup_process_max",
        whole(1, 64),
        2,
        "processes compressing and encrypting files in a backup or restore",
        groups=DB_HOSTS,
    ),
    # tasks/redis.py
    Setting(
        "redis_maxmemory_mb",
        whole(16, 1048576, "MiB"),
        None,
        "unset: a quarter of the host's memory, an eighth when it shares the host "
        "(bundle/sizing.py)",
        groups=("cache",),
    ),
    # tasks/litellm.py (and its clients, which read the llm hosts' ports)
    Setting(
        "litellm_port",
        port(1024, 65535 - 16),
        4000,
        "the first instance's port; the others follow it",
        groups=("llm",),
    ),
    Setting(
        "litellm_instances",
        whole(1, 16),
        2,
        "proxies per host: a restart or crash of one leaves the others serving",
        groups=("llm",),
    ),
    Setting(
        "litellm_lock",
        LOCK,
        litellm_release.DEFAULT,
        "the release: an upgrade is a new lock named here, a rollback the previous name",
        groups=("llm",),
    ),
    Setting(
        "litellm_prisma_engine",
        choice("bundled", "native"),
        "bundled",
        "bundled: our bridge over Prisma's WebAssembly engine (nothing downloaded); native: "
        "upstream's binaries, for hosts that reach binaries.prisma.sh",
        groups=("llm",),
    ),
    Setting(
        "litellm_workers",
        whole(1, 64),
        None,
        "worker processes per host, shared among its instances (at least one each); unset: "
        "one per core, at most 8",
        groups=("llm",),
    ),
    Setting(
        "litellm_db_pool_limit",
        whole(1, 100),
        10,
        "database connections per worker (PostgreSQL reserves workers × this per host)",
        groups=("llm", "db"),
    ),
    Setting(
        "litellm_spend_write_interval",
        whole(1, 3600, "seconds"),
        10,
        "LiteLLM's batch interval for spend writes",
        groups=("llm",),
    ),
    Setting(
        "litellm_spend_flush_seconds",
        seconds_fraction(1),
        0.5,
        "each worker writes spend at most this often: what a kill -9 can lose under load",
        groups=("llm",),
    ),
    Setting(
        "litellm_request_timeout",
        whole(1, 86400, "seconds"),
        600,
        "a provider request's limit",
        groups=("llm",),
    ),
    Setting(
        "litellm_readiness_timeout",
        whole(10, 3600, "seconds"),
        300,
        "how long a (re)started instance may take to serve",
        groups=("llm",),
    ),
    # tasks/saas_api.py (the edge reads the api hosts' ports)
    Setting("saas_api_port", port(1024), 8003, "the setup guide's SaaS API port", groups=("api",)),
    Setting(
        "saas_api_workers",
        whole(1, 64),
        None,
        "unset: one per core, at most 8",
        groups=("api", "db"),
    ),
    Setting(
        "saas_api_db_pool_limit",
        whole(1, 100),
        10,
        "connections per worker (PostgreSQL reserves workers × this per host)",
        groups=("api", "db"),
    ),
    Setting(
        "saas_api_default_model_group",
        MODEL_GROUP,
        None,
        "the model group a team created without groups gets; unset refuses such requests",
        groups=("api",),
    ),
    Setting(
        "saas_api_admin_port",
        port(1024),
        3000,
        "the setup guide's admin panel port",
        groups=("api",),
    ),
    Setting(
        "saas_api_admin_workers",
        whole(1, 16),
        2,
        "a few operators need few workers",
        groups=("api", "db"),
    ),
    Setting(
        "saas_api_readiness_timeout",
        whole(10, 3600, "seconds"),
        120,
        "how long a (re)started SaaS API may take to serve",
        groups=("api",),
    ),
    # tasks/edge.py
    Setting(
        "edge_tls_mode",
        choice("acme", "internal", "files"),
        "acme",
        "acme: Let's Encrypt; internal: Caddy's own CA (the testbed); files: your own",
        groups=("edge",),
    ),
    Setting(
        "edge_acme_email", EMAIL, None, "ACME's contact; needed in acme mode", groups=("edge",)
    ),
    Setting(
        "edge_tls_certificate",
        PATH,
        None,
        "files mode: the full chain, covering the three names",
        groups=("edge",),
    ),
    Setting("edge_tls_key", PATH, None, "files mode: its key", groups=("edge",)),
    Setting(
        "edge_tls_protocols",
        choice("tls1.2", "tls1.3"),
        "tls1.3",
        "the oldest protocol offered: Mozilla's modern profile is TLS 1.3 only",
        groups=("edge",),
    ),
    Setting(
        "edge_gateway_host",
        HOST,
        None,
        "LiteLLM's name, for the teams' apps",
        groups=("edge",),
        required=True,
    ),
    Setting("edge_api_host", HOST, None, "the SaaS API's name", groups=("edge",), required=True),
    Setting(
        "edge_admin_host",
        HOST,
        None,
        "the admin panel's name (admin networks only)",
        groups=("edge",),
        required=True,
    ),
    Setting(
        "edge_admin_cidrs",
        networks(everyone=False),
        None,
        "who reaches LiteLLM's UI and admin API, the SaaS admin routes and the admin panel",
        groups=("edge",),
        required=True,
    ),
    Setting(
        "edge_public_cidrs",
        networks(everyone=True),
        ["0.0.0.0/0", "::/0"],
        "who may reach 80/443: everyone, unless the edge sits behind something narrower",
        groups=("edge",),
    ),
    Setting(
        "edge_inference_paths",
        list_of(URL_PATH, empty=False),
        ["/chat/completions", "/v1/*", "/embeddings", "/models", "/health/liveliness"],
        "LiteLLM's paths open to everyone on the gateway's name",
        groups=("edge",),
    ),
    Setting(
        "edge_health_interval",
        CADDY_DURATION,
        "2s",
        "active health checks' period",
        groups=("edge",),
    ),
    Setting(
        "edge_health_timeout", CADDY_DURATION, "2s", "a health check's limit", groups=("edge",)
    ),
    Setting(
        "edge_try_duration",
        CADDY_DURATION,
        "5s",
        "how long a request is retried on other instances",
        groups=("edge",),
    ),
    Setting(
        "edge_max_request_body",
        CADDY_SIZE,
        "64MB",
        "bodies are buffered for retries; larger ones are refused (413)",
        groups=("edge",),
    ),
    # tasks/seed.py (checked as a whole by check_seed_spec)
    Setting(
        "seed_spec",
        PATH,
        None,
        "the seed spec applied after the deploy (examples/seed.yaml); unset: no seed",
        groups=("api",),
    ),
)
BY_KEY = {setting.key: setting for setting in SETTINGS}
# Data keys that belong to pyinfra and its connectors, or to the dev target.
FOREIGN_PREFIXES = ("ssh_", "_", "winrm_", "docker_", "chroot_", "local_", "dev_")
# Our keys' prefixes: an unknown key with one of them is a mistake, never someone else's.
OUR_PREFIXES = (
    "base_",
    "backup_",
    "postgres_",
    "redis_",
    "litellm_",
    "saas_api_",
    "edge_",
    "seed_",
)
# Keys that were settings once, or look like they should be, and what holds instead.
FIXED = {
    "postgres_port": f"PostgreSQL listens on {POSTGRES_PORT} (fixed)",
    "redis_port": f"Redis listens on {REDIS_PORT} (fixed)",
}


def defaults(*keys: str, prefix: str | None = None) -> dict[str, Any]:
    """A task's DEFAULTS: the named keys and every key with `prefix`, with their defaults."""
    chosen = [s for s in SETTINGS if s.key in keys or (prefix and s.key.startswith(prefix))]
    missing = set(keys) - {s.key for s in chosen}
    if missing:
        raise KeyError(f"not in bundle/settings.py: {', '.join(sorted(missing))}")
    return {s.key: s.default for s in chosen}


def markdown() -> str:
    """The README's settings table."""
    lines = ["| key | accepts | default | read on | why |", "|---|---|---|---|---|"]
    for s in SETTINGS:
        default = (
            "required" if s.required else ("unset" if s.default is None else f"`{s.default!r}`")
        )
        hosts = "every host" if s.groups is None else ", ".join(f"`{g}`" for g in s.groups)
        expected = s.kind.expected.replace("|", "\\|")
        lines.append(f"| `{s.key}` | {expected} | {default} | {hosts} | {s.reason} |")
    return "\n".join(lines) + "\n"


README_START = "<!-- settings: generated by `python -m bundle.settings` -->\n"
README_END = "<!-- /settings -->"


def with_table(readme: str) -> str:
    """The README with the table between its markers replaced by the schema's."""
    head, _, rest = readme.partition(README_START)
    _, _, tail = rest.partition(README_END)
    return head + README_START + markdown() + README_END + tail


if __name__ == "__main__":
    # Rewrites the README's table; prints nothing when it was up to date.
    from pathlib import Path

    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text()
    if with_table(text) != text:
        readme.write_text(with_table(text))
        print(f"{readme.name}: settings table rewritten")
