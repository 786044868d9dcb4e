"""Offline custody of the secret store (bundle/custody.py, `python -m bundle.secrets export|
restore`): a copy that a fresh clone can be restored from, the record the deploy's warning reads,
and refusals that change nothing. Files are read back raw (bytes, pyrage), not through the code
under test."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest
from pyrage import x25519

from bundle import custody
from bundle.secret_store import SecretStore, SecretStoreError

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("isolated_secrets")


@pytest.fixture
def medium(tmp_path):
    path = tmp_path / "usb"
    path.mkdir()
    return path


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "bundle.secrets", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env or os.environ,
        check=False,
    )


def test_an_export_holds_the_store_and_an_identity_that_opens_it(medium):
    store = SecretStore("prod")
    values = store.ensure(create_identity=True)
    folder = custody.export(store, medium)
    assert folder.parent == medium
    copy, key = (folder / "prod.age").read_bytes(), (folder / "prod.agekey").read_text()
    assert copy == store.path.read_bytes()
    opened = pyrage.decrypt(copy, [x25519.Identity.from_str(key.strip())]).decode()
    assert values["litellm_salt_key"] in opened
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert values["litellm_salt_key"] not in (folder / "README.txt").read_text()


def test_the_deploy_warns_until_an_export_holds_the_current_store(medium):
    store = SecretStore("prod")
    store.ensure(create_identity=True)
    assert "never been exported" in custody.warning(store)
    custody.export(store, medium)
    assert custody.warning(store) is None
    store.rotate("postgres_saas_password")
    assert "changed since its custody copy" in custody.warning(store)


def test_a_fresh_clone_is_restored_from_the_custody_folder_alone(tmp_path, medium, monkeypatch):
    store = SecretStore("prod")
    values = store.ensure(create_identity=True)
    folder = custody.export(store, medium)
    # Another machine: no store, no identity, no record.
    monkeypatch.setenv("GATEWAY_SECRETS_DIR", str(tmp_path / "clone" / "secrets"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "clone" / "config"))
    restored = cli("restore", "prod", str(folder))
    assert restored.returncode == 0, restored.stderr
    assert values["litellm_salt_key"] not in restored.stdout + restored.stderr
    fresh = SecretStore("prod")
    assert fresh.path.read_bytes() == (folder / "prod.age").read_bytes()
    assert Path(fresh.identity_source()).read_text() == (folder / "prod.agekey").read_text()
    assert custody.warning(fresh) is None


def test_restore_never_replaces_a_different_store(tmp_path, medium, monkeypatch):
    SecretStore("prod").ensure(create_identity=True)
    folder = custody.export(SecretStore("prod"), medium)
    monkeypatch.setenv("GATEWAY_SECRETS_DIR", str(tmp_path / "other" / "secrets"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "other" / "config"))
    other = SecretStore("prod")
    other.ensure(create_identity=True)
    before = other.path.read_bytes()
    with pytest.raises(SecretStoreError, match="exists and differs from the custody copy"):
        custody.restore(other, folder)
    assert other.path.read_bytes() == before


def test_a_damaged_copy_is_refused_and_nothing_is_installed(tmp_path, medium, monkeypatch):
    SecretStore("prod").ensure(create_identity=True)
    folder = custody.export(SecretStore("prod"), medium)
    (folder / "prod.agekey").write_text(str(x25519.Identity.generate()) + "\n")
    monkeypatch.setenv("GATEWAY_SECRETS_DIR", str(tmp_path / "clone" / "secrets"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "clone" / "config"))
    fresh = SecretStore("prod")
    with pytest.raises(SecretStoreError, match="does not open"):
        custody.restore(fresh, folder)
    assert not fresh.path.exists() and not Path(fresh.identity_source()).exists()


def test_export_refuses_a_folder_inside_the_repository():
    store = SecretStore("prod")
    store.ensure(create_identity=True)
    result = cli("export", "prod", str(REPO / "secrets"))
    assert result.returncode == 1
    assert "inside the repository" in result.stderr
    assert not list((REPO / "secrets").glob("gateway-custody-*"))
