"""The host releases the bundle deploys to, and the Python wheels the control machine fetches for
each: Debian 12 (bookworm) and Debian 13 (trixie) on x86_64, mixed in one fleet if need be.

What a host runs is read from the host (bundle.facts.HostPlatform): its release, machine, the
python3 it has or its apt would install, and its glibc. The wheelhouse for a host is downloaded
for that Python and glibc (`pip download --python-version --abi --platform`), so the control
machine's own Python does not matter and each release gets its own wheelhouse, built once."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass

# Code name -> how a person names it. Anything else is refused by preflight.
RELEASES = {"bookworm": "Debian 12 (bookworm)", "trixie": "Debian 13 (trixie)"}
# The wheels are fetched for x86_64 and every test host is one; others are untested, refused.
MACHINES = ("x86_64",)
SUPPORTED = f"{' and '.join(RELEASES.values())} on {', '.join(MACHINES)}"
# Legacy manylinux names pip still ranks next to their glibc (PEP 600).
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


@dataclass(frozen=True)
class Target:
    """What the wheels of a wheelhouse must run on."""

    python: str  # "3.13"
    glibc: str  # "2.41"
    machine: str = "x86_64"

    @property
    def python_tag(self) -> str:
        return "cp" + self.python.replace(".", "")

    @property
    def tag(self) -> str:
        """Names the wheelhouse cached for this target."""
        return f"{self.python_tag}-glibc{self.glibc.replace('.', '_')}-{self.machine}"

    @property
    def site_packages(self) -> str:
        return f"lib/python{self.python}/site-packages"

    def pip_download_args(self) -> list[str]:
        """`pip download` options selecting this target's wheels, ranked as the target's own pip
        would rank them: the newest manylinux its glibc runs first."""
        major, minor = (int(part) for part in self.glibc.split(".")[:2])
        platforms = []
        for glibc_minor in range(minor, 4, -1):
            platforms.append(f"manylinux_{major}_{glibc_minor}_{self.machine}")
            if glibc_minor in LEGACY_MANYLINUX:
                platforms.append(f"{LEGACY_MANYLINUX[glibc_minor]}_{self.machine}")
        args = ["--implementation", "cp", "--python-version", self.python]
        args += ["--abi", self.python_tag]
        for name in platforms:
            args += ["--platform", name]
        return args


def local_target() -> Target:
    """The control machine itself (integration tests run LiteLLM here)."""
    return Target(
        python="{}.{}".format(*sys.version_info[:2]),
        glibc=platform.libc_ver()[1],
        machine=platform.machine(),
    )


def target_of(found: dict) -> Target:
    """The target of a host whose HostPlatform fact is `found` (checked by preflight)."""
    return Target(python=found["python"], glibc=found["glibc"], machine=found["machine"])


def platform_problem(name: str, found: dict | None) -> str | None:
    """One line when the host `name` runs something the bundle does not deploy to."""
    if not found:
        return f"{name}: could not read /etc/os-release; supported: {SUPPORTED}"
    runs = found.get("pretty") or f"{found.get('id')} {found.get('codename')}"
    machine = found.get("machine")
    if found.get("id") != "debian" or found.get("codename") not in RELEASES:
        return (
            f"{name}: runs {runs} ({machine}); supported: {SUPPORTED}: reinstall it with one of "
            "those, or take it out of the inventory"
        )
    if machine not in MACHINES:
        return f"{name}: runs {runs} on {machine}; supported: {SUPPORTED}"
    if not found.get("python") or not found.get("glibc"):
        return (
            f"{name}: runs {runs} but neither python3 nor its apt candidate was found "
            "(`apt-get update` on the host, then deploy again)"
        )
    return None


def fleet_problems(hosts, found_of, postgres_versions_of) -> list[str]:
    """Every host on a supported platform, then what must agree between hosts: the db host and
    the backup repository's host on one release (pgBackRest must be the same version at both
    ends, and Debian ships 2.45 in bookworm, 2.55 in trixie), and a PostgreSQL version for the
    release of each db host. `found_of(host)` is its HostPlatform fact."""
    found = {host.name: found_of(host) for host in hosts}
    problems = [p for p in (platform_problem(h.name, found[h.name]) for h in hosts) if p]
    if problems:
        return problems
    ends = {h.name: found[h.name]["codename"] for h in hosts if {"db", "backup"} & set(h.groups)}
    if len(set(ends.values())) > 1:
        shown = ", ".join(f"{name}: {release}" for name, release in sorted(ends.items()))
        problems.append(
            f"the db and backup hosts run different releases ({shown}): pgBackRest must be the "
            "same version at both ends and each release ships its own; put them on one release"
        )
    for host in hosts:
        release, versions = found[host.name]["codename"], postgres_versions_of(host)
        # A malformed value is reported by the settings' own check.
        if "db" in host.groups and isinstance(versions, dict) and release not in versions:
            problems.append(
                f"{host.name}: runs {release} but postgres_versions has no entry for it; add "
                f"'{release}': <major version> where postgres_versions is set (or remove it)"
            )
    return problems
