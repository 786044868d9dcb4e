"""What hosts the deploy accepts (bundle/platforms.py) and the wheels it fetches for each."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from bundle.facts import HostPlatform
from bundle.platforms import Target, fleet_problems, platform_problem

TRIXIE = {
    "id": "debian",
    "codename": "trixie",
    "pretty": "Debian GNU/Linux 13 (trixie)",
    "machine": "x86_64",
    "glibc": "2.41",
    "python": "3.13",
}
BOOKWORM = TRIXIE | {
    "codename": "bookworm",
    "pretty": "Debian GNU/Linux 12 (bookworm)",
    "glibc": "2.36",
    "python": "3.11",
}
VERSIONS = {"bookworm": 15, "trixie": 17}


def test_the_fact_parses_what_the_host_prints():
    output = [f"{key}={value}" for key, value in TRIXIE.items()]
    assert HostPlatform().process(output) == TRIXIE
    assert HostPlatform().process(["id=", "codename="])["codename"] is None


def test_the_fact_reads_this_machine():
    found = subprocess.run(
        ["sh", "-c", HostPlatform().command()], capture_output=True, text=True, check=True
    )
    fact = HostPlatform().process(found.stdout.splitlines())
    assert fact["python"].count(".") == 1 and fact["machine"]
    assert fact["glibc"].startswith("2.")


def test_pip_ranks_platforms_as_the_target_would():
    args = Target(python="3.13", glibc="2.41").pip_download_args()
    assert args[:6] == ["--implementation", "cp", "--python-version", "3.13", "--abi", "cp313"]
    platforms = args[7::2]
    assert platforms[0] == "manylinux_2_41_x86_64"
    assert platforms.index("manylinux_2_17_x86_64") + 1 == platforms.index("manylinux2014_x86_64")
    assert platforms[-2:] == ["manylinux_2_5_x86_64", "manylinux1_x86_64"]
    assert "manylinux_2_42_x86_64" not in platforms and "linux_x86_64" not in platforms


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        (TRIXIE, None),
        (BOOKWORM, None),
        (
            TRIXIE | {"codename": "bullseye", "pretty": "Debian GNU/Linux 11 (bullseye)"},
            "db1: runs Debian GNU/Linux 11 (bullseye) (x86_64); supported: Debian 12 (bookworm) "
            "and Debian 13 (trixie) on x86_64: reinstall it with one of those, or take it out of "
            "the inventory",
        ),
        (
            TRIXIE | {"id": "ubuntu", "codename": "noble", "pretty": "Ubuntu 24.04 LTS"},
            "db1: runs Ubuntu 24.04 LTS (x86_64); supported:",
        ),
        (TRIXIE | {"machine": "aarch64"}, "db1: runs Debian GNU/Linux 13 (trixie) on aarch64;"),
        (TRIXIE | {"python": None}, "neither python3 nor its apt candidate was found"),
        (None, "db1: could not read /etc/os-release"),
    ],
)
def test_unsupported_platforms_get_one_line_naming_host_release_and_what_is_supported(
    found, expected
):
    problem = platform_problem("db1", found)
    if expected is None:
        assert problem is None
    else:
        assert problem.startswith("db1: ") and expected.removeprefix("db1: ") in problem


def host(name, *groups, **data):
    return SimpleNamespace(name=name, groups=list(groups), data=data)


def test_a_mixed_fleet_is_accepted_when_db_and_backup_share_a_release():
    hosts = [host("db1", "db", "cache"), host("backup1", "backup"), host("llm1", "llm", "api")]
    found = {"db1": BOOKWORM, "backup1": BOOKWORM, "llm1": TRIXIE}
    assert fleet_problems(hosts, lambda h: found[h.name], lambda h: VERSIONS) == []


def test_db_and_backup_on_different_releases_are_refused():
    hosts = [host("db1", "db"), host("backup1", "backup")]
    found = {"db1": BOOKWORM, "backup1": TRIXIE}
    (problem,) = fleet_problems(hosts, lambda h: found[h.name], lambda h: VERSIONS)
    assert "(backup1: trixie, db1: bookworm): pgBackRest must be the same version" in problem


def test_a_db_release_without_a_postgres_version_is_refused():
    hosts = [host("db1", "db")]
    (problem,) = fleet_problems(hosts, lambda h: TRIXIE, lambda h: {"bookworm": 15})
    assert problem.startswith("db1: runs trixie but postgres_versions has no entry for it")


def test_every_unsupported_host_is_listed_and_nothing_else_is_checked_then():
    hosts = [host("a", "db"), host("b", "backup"), host("c", "llm")]
    old = BOOKWORM | {"codename": "bullseye", "pretty": "Debian GNU/Linux 11 (bullseye)"}
    found = {"a": old, "b": TRIXIE, "c": old}
    problems = fleet_problems(hosts, lambda h: found[h.name], lambda h: VERSIONS)
    assert [p.split(":")[0] for p in problems] == ["a", "c"]
