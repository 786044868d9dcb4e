import hashlib
import tarfile

import pytest

from bundle import artifacts
from bundle.platforms import Target

TRIXIE = Target(python="3.13", glibc="2.41")


@pytest.fixture
def fake_lock(tmp_path, monkeypatch):
    requirements = tmp_path / "requirements"
    requirements.mkdir()
    (requirements / "demo.lock").write_text("demo==1.0 --hash=sha256:00\n")
    monkeypatch.setattr(artifacts, "REQUIREMENTS", requirements)
    monkeypatch.setenv("GATEWAY_ARTIFACT_CACHE", str(tmp_path / "cache"))
    house = tmp_path / "cache" / "wheelhouse" / f"{artifacts.artifact_name('demo')}-{TRIXIE.tag}"
    house.mkdir(parents=True)
    for name in ("b-2.0-py3-none-any.whl", "a-1.0-py3-none-any.whl"):
        (house / name).write_bytes(name.encode() * 100)
    (house / ".complete").write_text("x\n")
    return requirements / "demo.lock"


def test_the_artifact_name_follows_the_lock_content(fake_lock):
    before = artifacts.artifact_name("demo")
    fake_lock.write_text("demo==1.1 --hash=sha256:11\n")
    assert artifacts.artifact_name("demo") != before
    assert before.startswith("demo-") and len(before) == len("demo-") + 16


def test_each_python_gets_its_own_venv_name_and_wheelhouse(fake_lock):
    bookworm = Target(python="3.11", glibc="2.36")
    assert artifacts.venv_name("demo", None, TRIXIE) == artifacts.artifact_name("demo") + "-cp313"
    assert artifacts.venv_name("demo", None, bookworm).endswith("-cp311")
    # glibc 2.41 and 2.36 must not collapse into one file name (Path.with_suffix would).
    assert artifacts.bundle_tar("demo", None, TRIXIE).name.endswith("-cp313-glibc2_41-x86_64.tar")


def test_the_tar_is_byte_identical_when_rebuilt(fake_lock):
    first = artifacts.bundle_tar("demo", None, TRIXIE)
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    first.unlink()
    assert (
        hashlib.sha256(artifacts.bundle_tar("demo", None, TRIXIE).read_bytes()).hexdigest()
        == digest
    )


def test_the_tar_holds_sorted_root_owned_wheels_and_the_lock(fake_lock):
    with tarfile.open(artifacts.bundle_tar("demo", None, TRIXIE)) as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == [
        "a-1.0-py3-none-any.whl",
        "b-2.0-py3-none-any.whl",
        "requirements.lock",
    ]
    assert {(m.uid, m.gid, m.mtime, m.mode) for m in members} == {(0, 0, 0, 0o644)}


def test_the_real_lock_pins_litellm_and_prisma_with_hashes():
    lock = (artifacts.REQUIREMENTS / "litellm.lock").read_text()
    assert "\nlitellm==1.108.12 \\\n" in lock and "\nprisma==0.15.0 \\\n" in lock
    pins = [line for line in lock.splitlines() if "==" in line and not line.startswith(" ")]
    hashes = lock.count("--hash=sha256:")
    assert len(pins) > 100 and hashes >= len(pins)
