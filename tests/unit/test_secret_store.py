import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest
from pyrage import x25519

from bundle.secret_store import SPECS, SecretStore, SecretStoreError, check_value

pytestmark = pytest.mark.usefixtures("isolated_secrets")


def identity_of(store):
    return x25519.Identity.from_str(Path(store.identity_source()).read_text().strip())


def raw_document(store):
    """Decrypt the file with the identity file directly (not through the code under test)."""
    identity = identity_of(store)
    return json.loads(pyrage.decrypt(store.path.read_bytes(), [identity]))


def test_testbed_store_generates_every_secret_once_with_its_own_key():
    store = SecretStore("testbed")
    values = store.ensure()
    assert set(values) == set(SPECS)
    assert re.fullmatch(r"sk-[0-9a-f]{64}", values["litellm_master_key"])
    assert re.fullmatch(r"sk-[0-9a-f]{64}", values["litellm_salt_key"])
    assert re.fullmatch(r"[A-Za-z0-9]{40}", values["postgres_litellm_password"])
    assert len(set(values.values())) == len(values)
    assert raw_document(store)["secrets"]["litellm_salt_key"]["value"] == values["litellm_salt_key"]
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.identity_source()).st_mode) == 0o600


def test_second_ensure_reuses_and_does_not_rewrite(tmp_path):
    store = SecretStore("testbed")
    first = store.ensure()
    before = store.path.read_bytes()
    assert SecretStore("testbed").ensure() == first
    assert store.path.read_bytes() == before


def test_a_missing_secret_is_added_without_touching_the_others():
    store = SecretStore("testbed")
    first = store.ensure()
    document = raw_document(store)
    del document["secrets"]["redis_litellm_password"]
    identity = identity_of(store)
    store.path.write_bytes(pyrage.encrypt(json.dumps(document).encode(), [identity.to_public()]))
    second = store.ensure()
    assert second["redis_litellm_password"] != first["redis_litellm_password"]
    assert {k: v for k, v in second.items() if k != "redis_litellm_password"} == {
        k: v for k, v in first.items() if k != "redis_litellm_password"
    }


def test_other_environments_need_an_existing_identity():
    with pytest.raises(SecretStoreError, match=r"no age identity for environment prod.*init prod"):
        SecretStore("prod").ensure()
    assert not SecretStore("prod").path.exists()


def test_salt_key_can_never_change():
    store = SecretStore("testbed")
    salt = store.ensure()["litellm_salt_key"]
    with pytest.raises(SecretStoreError, match="can never change"):
        store.rotate("litellm_salt_key")
    with pytest.raises(SecretStoreError, match="never overwritten"):
        store.set("litellm_salt_key", "sk-" + "0123456789abcdef" * 4)
    assert raw_document(store)["secrets"]["litellm_salt_key"]["value"] == salt


def test_rotate_replaces_one_secret_and_says_what_it_affects():
    store = SecretStore("testbed")
    first = store.ensure()
    affects = store.rotate("postgres_saas_password")
    assert "saas" in affects
    second = store.values()
    assert second["postgres_saas_password"] != first["postgres_saas_password"]
    assert {k: v for k, v in second.items() if k != "postgres_saas_password"} == {
        k: v for k, v in first.items() if k != "postgres_saas_password"
    }
    assert raw_document(store)["secrets"]["postgres_saas_password"]["rotated"]


def test_wrong_key_gives_a_clear_error(monkeypatch):
    store = SecretStore("testbed")
    store.ensure()
    monkeypatch.setenv("GATEWAY_AGE_IDENTITY", str(x25519.Identity.generate()))
    with pytest.raises(
        SecretStoreError, match=r"cannot be decrypted with the identity from GATEWAY"
    ):
        store.ensure()


def test_corrupted_file_gives_a_clear_error_and_is_left_untouched():
    store = SecretStore("testbed")
    store.ensure()
    damaged = bytearray(store.path.read_bytes())
    damaged[-20] ^= 0xFF
    store.path.write_bytes(bytes(damaged))
    with pytest.raises(SecretStoreError, match="is damaged.*restore it from your backup"):
        store.ensure()
    assert store.path.read_bytes() == bytes(damaged)


def test_foreign_plaintext_is_refused_and_left_untouched():
    store = SecretStore("testbed")
    store.ensure()
    identity = identity_of(store)
    store.path.write_bytes(pyrage.encrypt(b'{"hello": 1}', [identity.to_public()]))
    before = store.path.read_bytes()
    with pytest.raises(SecretStoreError, match="not a secret store"):
        store.ensure()
    assert store.path.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("litellm_master_key", "sk-changeme-changeme-changeme-changeme", "placeholder"),
        ("litellm_master_key", "0123456789abcdef0123456789abcdef0123", "must be 'sk-'"),
        ("litellm_master_key", "sk-short", "must be 'sk-'"),
        ("litellm_master_key", "sk-" + "a" * 40, "too little variety"),
        ("postgres_saas_password", "hunter2", "at least 24 characters"),
        ("postgres_saas_password", "ab" * 20, "too little variety"),
        ("postgres_saas_password", "has spaces and is long enough ok", "at least 24 characters"),
        ("saas_api_key_encryption_secret", "not-base64-of-32-bytes", "32 random bytes"),
    ],
)
def test_weak_or_placeholder_values_are_refused(name, value, message):
    with pytest.raises(SecretStoreError, match=message):
        check_value(name, value)


def test_a_good_hand_supplied_value_is_stored_once():
    store = SecretStore("testbed")
    value = "sk-9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddccbbaa"
    store.set("saas_api_master_key", value)
    assert store.ensure()["saas_api_master_key"] == value
    with pytest.raises(SecretStoreError, match="never overwritten.*rotate"):
        store.set("saas_api_master_key", "sk-0a1b2c3d4e5f60718293a4b5c6d7e8f9aabbccddeeff")


def run_cli(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "bundle.secrets", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=os.environ.copy(),
    )


def test_cli_list_shows_names_and_dates_but_never_values():
    init = run_cli("init", "testbed")
    assert init.returncode == 0, init.stderr
    values = SecretStore("testbed").values()
    listing = run_cli("list", "testbed")
    assert listing.returncode == 0
    for name, value in values.items():
        assert name in listing.stdout
        assert value not in listing.stdout + listing.stderr + init.stdout + init.stderr


def test_cli_get_prints_exactly_one_value():
    run_cli("init", "testbed")
    result = run_cli("get", "testbed", "redis_litellm_password")
    assert result.stdout.strip() == SecretStore("testbed").values()["redis_litellm_password"]


def test_cli_rotate_refuses_the_salt_key_with_one_line():
    run_cli("init", "testbed")
    result = run_cli("rotate", "testbed", "litellm_salt_key")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "can never change" in result.stderr


def test_cli_set_reads_stdin_and_refuses_weak_values():
    result = run_cli("set", "testbed", "postgres_saas_password", stdin="password123\n")
    assert result.returncode == 1 and "placeholder" in result.stderr
    assert not SecretStore("testbed").path.exists()
