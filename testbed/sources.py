"""The package sources the control machine is configured with, and how guests reach them.

Everything here is derived from the control machine's own apt, pip and npm configuration so
that guests reach exactly the registries this machine reaches, and nothing else.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

APT_SOURCES_LIST = Path("/etc/apt/sources.list")
APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")
# apt settings worth carrying into guests: how to reach the mirror, not what to fetch.
APT_SETTINGS_CARRIED = re.compile(
    r"^Acquire::(https?::Proxy\S*|Check-Valid-Until|Check-Date|Retries|https?::Timeout) "
)


@dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str | None = None


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


def parse_deb822(text: str) -> list[AptSource]:
    """Parse the `deb` stanzas of a deb822 .sources file (Enabled: no is honoured)."""
    sources = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0].isspace() and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            sources.append(
                AptSource(
                    uri=uri,
                    suites=tuple(fields.get("suites", "").split()),
                    components=tuple(fields.get("components", "").split()),
                    signed_by=fields.get("signed-by"),
                )
            )
    return sources


def parse_one_line(text: str) -> list[AptSource]:
    """Parse `deb [options] URI suite components...` lines of a sources.list file."""
    sources = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        options = {}
        rest = line[4:].strip()
        if rest.startswith("["):
            opts, _, rest = rest[1:].partition("]")
            options = dict(o.split("=", 1) for o in opts.split() if "=" in o)
        parts = rest.split()
        if len(parts) >= 2:
            sources.append(
                AptSource(parts[0], (parts[1],), tuple(parts[2:]), options.get("signed-by"))
            )
    return sources


def control_apt_sources() -> list[AptSource]:
    sources: list[AptSource] = []
    if APT_SOURCES_LIST.exists():
        sources += parse_one_line(APT_SOURCES_LIST.read_text())
    for path in sorted(APT_SOURCES_DIR.glob("*.list")):
        sources += parse_one_line(path.read_text())
    for path in sorted(APT_SOURCES_DIR.glob("*.sources")):
        sources += parse_deb822(path.read_text())
    return sources


def debian_sources(sources: list[AptSource], host_suite: str) -> list[AptSource]:
    """The control machine's Debian sources (those naming its own release) moved to `suite`.

    Suites like `bookworm-security` keep their suffix: `trixie-security`."""
    host_release = _control_release()
    moved = []
    for source in sources:
        suites = [s for s in source.suites if s.split("-")[0] == host_release]
        if not suites:
            continue
        new = tuple(host_suite + s[len(host_release) :] for s in suites)
        moved.append(AptSource(source.uri, new, source.components, source.signed_by))
    return moved


def _control_release() -> str:
    fields = dict(
        line.split("=", 1)
        for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    return fields.get("VERSION_CODENAME", "").strip('"')


def main_mirror(sources: list[AptSource], suite: str) -> AptSource:
    """The source debootstrap uses: the one that carries `suite` itself with `main`."""
    for source in sources:
        if suite in source.suites and "main" in source.components:
            return source
    raise LookupError(f"no apt source on this machine carries {suite} main")


def render_deb822(sources: list[AptSource]) -> str:
    stanzas = []
    for source in sources:
        lines = [
            "Types: deb",
            f"URIs: {source.uri}",
            f"Suites: {' '.join(source.suites)}",
            f"Components: {' '.join(source.components)}",
        ]
        if source.signed_by:
            lines.append(f"Signed-By: {source.signed_by}")
        stanzas.append("\n".join(lines))
    return "# Written by the testbed at every start: the control machine's Debian sources.\n" + (
        "\n\n".join(stanzas) + "\n"
    )


def carried_apt_settings(apt_config_dump: str) -> str:
    kept = [line for line in apt_config_dump.splitlines() if APT_SETTINGS_CARRIED.match(line)]
    return "".join(line + "\n" for line in kept)


def control_apt_settings() -> str:
    dump = subprocess.run(["apt-config", "dump"], capture_output=True, text=True, check=False)
    return carried_apt_settings(dump.stdout)


def parse_pip_config(text: str) -> list[str]:
    """Index URLs from `pip config list` output (`scope.key='value'` lines)."""
    urls = []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.split(".")[-1] in ("index-url", "extra-index-url"):
            urls += value.strip().strip("'\"").split()
    return urls


def control_pip_urls() -> list[str]:
    """The indexes this machine's pip uses, plus pip's own default when no index-url is set."""
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    urls = parse_pip_config(listing)
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        urls += os.environ.get(var, "").split()
    if not any(line.split("=")[0].endswith(".index-url") for line in listing.splitlines()) and (
        "PIP_INDEX_URL" not in os.environ
    ):
        urls += _pip_default_urls()
    return urls


def _pip_default_urls() -> list[str]:
    try:
        from pip._internal.models.index import PyPI  # pip's own notion of its default index
    except ImportError:
        return []
    return [PyPI.url, f"https://{PyPI.file_storage_domain}/"]


def control_npm_urls() -> list[str]:
    npm = shutil.which("npm")
    if not npm:
        return []
    out = subprocess.run(
        [npm, "config", "get", "registry"], capture_output=True, text=True, check=False, timeout=60
    )
    return [out.stdout.strip()] if out.returncode == 0 and out.stdout.strip() else []


def proxy_urls() -> list[str]:
    return [
        os.environ[v]
        for v in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
        if os.environ.get(v)
    ]


def endpoints_of(urls: list[str]) -> list[Endpoint]:
    """Network endpoints of http(s) URLs; file: and other local schemes need no network."""
    found = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue
        port = parts.port or (443 if parts.scheme == "https" else 80)
        endpoint = Endpoint(parts.hostname, port)
        if endpoint not in found:
            found.append(endpoint)
    return found


def control_endpoints(apt_sources: list[AptSource]) -> list[Endpoint]:
    urls = [s.uri for s in apt_sources] + control_pip_urls() + control_npm_urls() + proxy_urls()
    return endpoints_of(urls)


def resolve(endpoints: list[Endpoint]) -> dict[str, list[str]]:
    """IPv4 addresses of each endpoint's host name, as this machine resolves them now."""
    addresses: dict[str, list[str]] = {}
    for endpoint in endpoints:
        if endpoint.host in addresses:
            continue
        try:
            infos = socket.getaddrinfo(
                endpoint.host, endpoint.port, socket.AF_INET, socket.SOCK_STREAM
            )
        except socket.gaierror:
            continue
        addresses[endpoint.host] = sorted({info[4][0] for info in infos})
    return addresses


def extra_ca_certificates() -> list[Path]:
    """The CA certificates the machine's administrator added (HTTPS to registries is re-signed)."""
    return sorted(
        Path(p) for p in glob.glob("/usr/local/share/ca-certificates/**/*.crt", recursive=True)
    )
