"""What the LiteLLM deploy promises on `llm` hosts so far (install stage), one fact per test."""

import pytest

pytestmark = pytest.mark.roles("llm")

VENV = "/opt/litellm/venv"


def pinned(host):
    """name -> version from the lock the venv was installed from."""
    lock = host.file(f"{VENV}/requirements.lock").content_string
    pins = {}
    for line in lock.splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(" ")[0].split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_litellm_and_prisma_are_the_pinned_releases(host):
    versions = host.check_output(
        f'{VENV}/bin/python -c "from importlib.metadata import version as v; '
        "print(v('litellm'), v('prisma'))\""
    )
    assert versions == "1.108.7 0.15.0"


def test_every_locked_package_is_installed_at_its_pinned_version(host):
    frozen = host.check_output(f"{VENV}/bin/python -m pip freeze --all --disable-pip-version-check")
    installed = {
        name.lower().replace("_", "-"): version
        for name, _, version in (line.partition("==") for line in frozen.splitlines())
    }
    missing = {n: v for n, v in pinned(host).items() if installed.get(n) != v}
    assert missing == {}


def test_venv_is_owned_by_root_and_not_writable_by_others(host):
    writable = host.check_output(
        f"find -L {VENV}/ -xdev \\( ! -user root -o -perm -o+w \\) -print -quit"
    )
    assert writable == ""


def test_venv_is_reached_through_its_versioned_symlink(host):
    assert host.file(VENV).is_symlink
    assert host.file(VENV).linked_to.startswith("/opt/litellm/venvs/litellm-")


def test_pushed_wheelhouse_is_private_to_root(host):
    tar = host.file("/var/cache/gateway-bundle/litellm-wheelhouse.tar")
    assert (tar.user, tar.mode) == ("root", 0o600)
