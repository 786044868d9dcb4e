"""The dev target's settings: group_data/all.py, then group_data/dev.py, over the defaults below.

Each value is checked before anything starts; a bad one stops `make dev` with one line naming
the file, the key and what to put there."""

from __future__ import annotations

import difflib
import ipaddress
import runpy
from dataclasses import dataclass
from pathlib import Path

from bundle import settings as schema
from bundle.platforms import RELEASES

REPO = Path(__file__).resolve().parent.parent
FILES = (REPO / "group_data" / "all.py", REPO / "group_data" / "dev.py")

DEFAULTS = {
    "environment": "dev",
    # The setup guide's ports, published on 127.0.0.1 only.
    "dev_litellm_port": 8002,
    "dev_saas_api_port": 8003,
    # The admin panel's (the setup guide's admin panel port).
    "dev_admin_port": 3000,
    # Compose's project name: prefixes containers, networks and volumes.
    "dev_project": "gateway-dev",
    # The Debian release of the images: the hosts' release.
    "dev_suite": "bookworm",
    # The base image (None: debian:<dev_suite>-slim); when it is neither present nor pullable
    # (air-gapped machines), make dev builds the same release itself with debootstrap and
    # `docker import`.
    "dev_base_image": None,
    # False applies the seed spec as written: its credentials then read real provider keys
    # (OPENAI_API_KEY, ANTHROPIC_API_KEY) from the environment of `make dev`.
    "dev_fake_provider": True,
    "dev_seed_spec": "examples/seed.yaml",
    # The compose network (pg_hba.conf admits the client roles from it only, over TLS).
    "dev_subnet": "172.29.213.0/24",
    # PostgreSQL and Redis stay unpublished unless this asks (127.0.0.1:5432 and :6379).
    "dev_publish_data_ports": False,
    # Memory PostgreSQL is sized for (bundle/sizing.py), and Redis's maxmemory.
    "dev_postgres_memory_mb": 1024,
    "dev_redis_maxmemory_mb": 256,
    # Seconds to wait for every service to report healthy.
    "dev_health_timeout": 600,
}
# Production settings the dev stack renders with too: their kinds and defaults are the
# deploy's (bundle/settings.py).
SHARED_KEYS = (
    "litellm_spend_write_interval",
    "litellm_spend_flush_seconds",
    "litellm_request_timeout",
    "saas_api_default_model_group",
)
DEFAULTS |= schema.defaults(*SHARED_KEYS)
SUITES = tuple(RELEASES)


class SettingsError(Exception):
    """A dev setting the developer must fix; the message names file and key."""


@dataclass(frozen=True)
class DevSettings:
    values: dict
    origin: dict  # key -> the file that set it (or "default")

    def __getitem__(self, key: str):
        return self.values[key]


def load(files: tuple[Path, ...] = FILES) -> DevSettings:
    values, origin = dict(DEFAULTS), dict.fromkeys(DEFAULTS, "compose/settings.py (default)")
    for path in files:
        if not path.exists():
            continue
        shown = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
        try:
            found = runpy.run_path(str(path))
        except Exception as error:  # noqa: BLE001 - any error in the file is the developer's to fix
            raise SettingsError(f"{shown}: cannot be read ({error})") from None
        for key, value in found.items():
            if key == "environment" or key.startswith("dev_") or key in SHARED_KEYS:
                values[key], origin[key] = value, shown
    if values["dev_base_image"] is None:
        values["dev_base_image"] = f"debian:{values['dev_suite']}-slim"
    settings = DevSettings(values, origin)
    check(settings)
    return settings


def check(settings: DevSettings) -> None:
    problems = []

    def problem(key: str, expected: str) -> None:
        problems.append(
            f"{settings.origin[key]}: {key} = {settings[key]!r}; set it to {expected}"
            + (" (or remove it for the default)" if "default" not in settings.origin[key] else "")
        )

    ports = ("dev_litellm_port", "dev_saas_api_port", "dev_admin_port")
    for key in ports:
        if not _whole(settings[key], 1024, 65535):
            problem(key, "a port number from 1024 to 65535")
    for n, key in enumerate(ports[1:], 1):
        if settings[key] in [settings[other] for other in ports[:n]]:
            problem(key, f"a port other than {' and '.join(ports[:n])}")
    for key, low, high in (
        ("dev_postgres_memory_mb", 256, 65536),
        ("dev_redis_maxmemory_mb", 64, 65536),
        ("dev_health_timeout", 30, 3600),
    ):
        if not _whole(settings[key], low, high):
            problem(key, f"a whole number from {low} to {high}")
    if settings["environment"] != "dev":
        problem("environment", '"dev" (the dev target has its own secret store)')
    if settings["dev_suite"] not in SUITES:
        problem("dev_suite", " or ".join(repr(s) for s in SUITES))
    for key in ("dev_fake_provider", "dev_publish_data_ports"):
        if not isinstance(settings[key], bool):
            problem(key, "True or False")
    project = settings["dev_project"]
    if not (isinstance(project, str) and project.replace("-", "").isalnum() and project.islower()):
        problem("dev_project", "lower-case letters, digits and '-'")
    for key in ("dev_base_image", "dev_seed_spec"):
        if not isinstance(settings[key], str) or not settings[key]:
            problem(key, "a non-empty string")
    if (
        isinstance(settings["dev_seed_spec"], str)
        and not (REPO / settings["dev_seed_spec"]).is_file()
    ):
        problem("dev_seed_spec", "a seed spec file (path from the repository root)")
    try:
        network = ipaddress.ip_network(settings["dev_subnet"])
        if network.version != 4 or not network.is_private or network.num_addresses < 16:
            raise ValueError
    except (TypeError, ValueError):
        problem(
            "dev_subnet", 'a private IPv4 network of at least 16 addresses, e.g. "172.29.213.0/24"'
        )
    for key in SHARED_KEYS:
        kind = schema.BY_KEY[key].kind
        if settings[key] is not None and kind.problem(settings[key]):
            problem(key, kind.expected)
    known = set(DEFAULTS)
    for key in settings.values:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            problems.append(
                f"{settings.origin[key]}: {key} is not a dev setting"
                + (
                    f"; did you mean {near[0]}?"
                    if near
                    else f"; the known ones are in {__name__.replace('.', '/')}.py"
                )
            )
    if problems:
        raise SettingsError("\n".join(problems))


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
