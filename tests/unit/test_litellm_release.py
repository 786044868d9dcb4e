"""Choosing the LiteLLM release (litellm_lock), and switching venvs without reinstalling."""

from __future__ import annotations

import pytest

from bundle import artifacts, litellm_release, operations
from bundle.preflight import PreflightError

LOCKS = litellm_release.REQUIREMENTS
PREVIOUS = "litellm-1.108.7"  # the release pinned before today's, kept for rollbacks
GOOD = "litellm==1.0 \\\n    --hash=sha256:aa\nprisma==0.15.0 \\\n    --hash=sha256:bb\n"


@pytest.fixture
def requirements(tmp_path, monkeypatch):
    (tmp_path / "litellm.lock").write_text(GOOD)
    (tmp_path / "litellm-next.lock").write_text(GOOD.replace("1.0", "1.1"))
    monkeypatch.setattr(artifacts, "REQUIREMENTS", tmp_path)
    return tmp_path


def test_the_default_and_the_previous_release_are_hash_locked_litellm_locks():
    assert litellm_release.check_lock("llm1", None) == "litellm"
    assert litellm_release.check_lock("llm1", PREVIOUS) == PREVIOUS
    assert {"litellm", PREVIOUS} <= set(litellm_release.lock_names())


def test_the_previous_release_is_older_with_the_same_migrations_and_its_own_venv():
    today = litellm_release.pinned((LOCKS / "litellm.lock").read_text())
    previous = litellm_release.pinned((LOCKS / f"{PREVIOUS}.lock").read_text())
    assert (previous["litellm"], today["litellm"]) == ("1.108.7", "1.108.12")
    # The upgrade drill asserts no migration is applied twice; both ship the same ones.
    assert previous["litellm-proxy-extras"] == today["litellm-proxy-extras"]
    assert artifacts.artifact_name("litellm", PREVIOUS) != artifacts.artifact_name("litellm")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, "litellm_lock = 3 is not a lock name"),
        ("../saas_api", "litellm_lock = '../saas_api' is not a lock name"),
        ("saas_api", "litellm_lock = 'saas_api' is not a lock name"),
        ("litellm-gone", "bundle/requirements/litellm-gone.lock does not exist"),
        ("litellm-loose", "'litellm>=1' without an exact pin and hash"),
        ("litellm-nohash", "'litellm==1.0' without an exact pin and hash"),
        ("litellm-noprisma", "does not pin prisma"),
    ],
)
def test_a_bad_lock_is_one_line_naming_the_key_the_file_and_the_remedy(
    requirements, value, expected
):
    (requirements / "litellm-loose.lock").write_text("litellm>=1\n")
    (requirements / "litellm-nohash.lock").write_text("litellm==1.0\nprisma==0.15.0\n")
    (requirements / "litellm-noprisma.lock").write_text("litellm==1.0 --hash=sha256:aa\n")
    with pytest.raises(PreflightError) as error:
        litellm_release.check_lock("llm1", value, requirements)
    message = str(error.value)
    assert expected in message
    assert message.startswith("llm1: litellm_lock") and "\n" not in message
    assert "set litellm_lock in group_data/<environment>.py to one of: litellm," in message


def test_every_llm_host_runs_the_same_lock():
    litellm_release.check_same_lock({"llm1": "litellm", "llm2": "litellm"})
    with pytest.raises(PreflightError, match="differs between llm hosts .llm1: a, llm2: b"):
        litellm_release.check_same_lock({"llm2": "b", "llm1": "a"})


def test_the_artifact_follows_the_chosen_locks_bytes_not_its_name(requirements):
    default, other = (
        artifacts.artifact_name("litellm"),
        artifacts.artifact_name("litellm", "litellm-next"),
    )
    assert default != other and other.startswith("litellm-")
    (requirements / "litellm-copy.lock").write_text(GOOD)
    assert artifacts.artifact_name("litellm", "litellm-copy") == default
    assert artifacts.lock_path("litellm", "litellm-next") == requirements / "litellm-next.lock"


class FakeHost:
    """pyinfra's host as an operation sees it: facts by path, noops recorded."""

    def __init__(self, files):
        self.files, self.noops = files, []

    def get_fact(self, fact, path):
        return self.files.get(path)

    def noop(self, text):
        self.noops.append(text)


def commands(monkeypatch, files, op, **kwargs):
    fake = FakeHost(files)
    monkeypatch.setattr(operations, "host", fake)
    return [str(c) for c in op._inner(**kwargs)], fake.noops


VENV = {"tar": "/c/l.tar", "root": "/opt/litellm", "artifact": "litellm-new"}


def test_a_new_venv_is_built_then_the_link_switched_keeping_the_previous_one(monkeypatch):
    ran, _ = commands(monkeypatch, {}, operations.venv_from_wheelhouse, **VENV)
    assert any("pip install" in c and "--require-hashes" in c for c in ran)
    assert "ln -sfn /opt/litellm/venvs/litellm-new /opt/litellm/venv.new" in ran[-1]
    assert '! -name litellm-new ! -name "$previous"' in ran[-1]


def test_switching_back_to_a_kept_venv_installs_nothing(monkeypatch):
    files = {"/opt/litellm/venvs/litellm-new/.gateway-artifact": "litellm-new"}
    ran, _ = commands(monkeypatch, files, operations.venv_from_wheelhouse, **VENV)
    assert (
        len(ran) == 1
        and "pip" not in ran[0]
        and "rm -rf /opt/litellm/venvs/litellm-new" not in ran[0]
    )
    assert "mv -T /opt/litellm/venv.new /opt/litellm/venv" in ran[0]


def test_the_current_venv_is_no_change(monkeypatch):
    files = {"/opt/litellm/venv/.gateway-artifact": "litellm-new"}
    ran, noops = commands(monkeypatch, files, operations.venv_from_wheelhouse, **VENV)
    assert ran == [] and noops == ["/opt/litellm/venv holds litellm-new"]


def test_switching_back_to_a_kept_engine_unpacks_nothing(monkeypatch):
    release = {"tar": "/c/e.tar", "releases": "/opt/litellm/engines", "link": "/opt/litellm/engine"}
    files = {"/opt/litellm/engines/engine-a/.gateway-release": "engine-a"}
    ran, _ = commands(
        monkeypatch, files, operations.release_from_tar, **release, release="engine-a"
    )
    assert len(ran) == 1 and "tar -xf" not in ran[0] and "ln -sfn" in ran[0]
    ran, _ = commands(monkeypatch, {}, operations.release_from_tar, **release, release="engine-a")
    assert any("tar -xf" in c for c in ran)
