import pytest


@pytest.fixture
def isolated_secrets(tmp_path, monkeypatch):
    """A secret store and identity of the test's own, under tmp_path; nothing from the machine."""
    monkeypatch.setenv("GATEWAY_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("GATEWAY_AGE_IDENTITY", raising=False)
    monkeypatch.delenv("GATEWAY_AGE_IDENTITY_FILE", raising=False)
    return tmp_path
