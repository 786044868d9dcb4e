"""Offline custody of an environment's secret store: the only way back after the control machine
is lost. Without `secrets/<env>.age` and its age identity, every secret is gone, and with the
LiteLLM salt key every provider credential stored in LiteLLM's database (LiteLLM encrypts them
with it and has no rotation): a database restore alone cannot serve a single request.

`export` writes the store and its identity, as they are, into a new folder on the medium the
operator names (kept offline, away from the control machine), and records which store that
copy holds in `secrets/<env>.custody` (a digest and a date, no secret). The deploy warns while
no copy holds the current store. `restore` is the way back on a fresh clone: it installs both
from such a folder after checking that the identity opens the store."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyrage
from pyrage import x25519

from bundle.secret_store import (
    REPO,
    SecretStore,
    SecretStoreError,
    secrets_dir,
    utc_now,
    write_private,
)

FOLDER_PREFIX = "gateway-custody"


@dataclass(frozen=True)
class CustodyRecord:
    exported: str
    store_sha256: str
    folder: str


def record_path(env: str) -> Path:
    return secrets_dir() / f"{env}.custody"


def store_digest(store: SecretStore) -> str:
    return hashlib.sha256(store.path.read_bytes()).hexdigest()


def last_record(env: str) -> CustodyRecord | None:
    path = record_path(env)
    if not path.exists():
        return None
    try:
        return CustodyRecord(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None


def _record(env: str, store_data: bytes, folder: Path) -> None:
    record = CustodyRecord(
        exported=utc_now(), store_sha256=hashlib.sha256(store_data).hexdigest(), folder=str(folder)
    )
    write_private(record_path(env), json.dumps(record.__dict__, indent=1).encode())


def _identity_text(store: SecretStore) -> str:
    """The identity as a key file holds it (validated by SecretStore.identity())."""
    return str(store.identity()) + "\n"


def export(store: SecretStore, medium: Path) -> Path:
    """Copy the store and its identity into a new folder under `medium`; the folder's path."""
    if not store.exists():
        raise SecretStoreError(f"{store.path}: does not exist yet; run a deploy or `init` first")
    medium = medium.resolve()
    if medium == REPO or REPO in medium.parents:
        raise SecretStoreError(
            f"{medium}: is inside the repository; custody belongs on another medium"
        )
    if not medium.is_dir():
        raise SecretStoreError(f"{medium}: not a directory; mount the offline medium first")
    identity = _identity_text(store)
    store.read()  # refuse to put a store the identity cannot open into custody
    stamp = utc_now().replace(":", "")
    folder = medium / f"{FOLDER_PREFIX}-{store.env}-{stamp}"
    folder.mkdir(mode=0o700)
    data = store.path.read_bytes()
    write_private(folder / f"{store.env}.age", data)
    write_private(folder / f"{store.env}.agekey", identity.encode())
    write_private(
        folder / "README.txt",
        (
            f"Secret store of the gateway environment {store.env!r}, exported {utc_now()}.\n"
            f"{store.env}.age sha256 {hashlib.sha256(data).hexdigest()}\n"
            f"{store.env}.agekey is its age identity: whoever holds both holds every secret.\n"
            "Keep this folder offline. To restore on a fresh clone of the repository:\n"
            f"  .venv/bin/python -m bundle.secrets restore {store.env} <this folder>\n"
        ).encode(),
    )
    _record(store.env, data, folder)
    return folder


def restore(store: SecretStore, folder: Path) -> None:
    """Install the store and identity from a custody folder; refuse to replace different ones."""
    source_store, source_key = folder / f"{store.env}.age", folder / f"{store.env}.agekey"
    for path in (source_store, source_key):
        if not path.is_file():
            raise SecretStoreError(f"{path}: missing; name a folder `export` wrote for {store.env}")
    data, key_text = source_store.read_bytes(), source_key.read_text()
    try:
        identity = x25519.Identity.from_str(key_text.strip())
        pyrage.decrypt(data, [identity])
    except Exception:
        raise SecretStoreError(
            f"{source_key}: does not open {source_store}; this custody copy is damaged"
        ) from None
    target_key = Path(store.identity_source())
    if os.environ.get("GATEWAY_AGE_IDENTITY"):
        raise SecretStoreError(
            "unset GATEWAY_AGE_IDENTITY: restore installs the identity as a file"
        )
    for target, content in ((store.path, data), (target_key, key_text.encode())):
        if target.exists() and target.read_bytes() != content:
            raise SecretStoreError(
                f"{target}: exists and differs from the custody copy; move it away first "
                "(nothing was changed)"
            )
    write_private(target_key, key_text.encode())
    write_private(store.path, data)
    _record(store.env, data, folder)


def warning(store: SecretStore) -> str | None:
    """What the deploy says while no custody copy holds the current store (None: one does)."""
    if not store.exists():
        return None
    record = last_record(store.env)
    export_hint = f"run `python -m bundle.secrets export {store.env} <offline medium>`"
    if record is None:
        return (
            f"{store.path} has never been exported for custody: {export_hint} and keep it "
            "offline; without it, losing this machine loses every secret and every provider "
            "credential stored in LiteLLM"
        )
    if record.store_sha256 != store_digest(store):
        return (
            f"{store.path} changed since its custody copy of {record.exported} "
            f"({record.folder}): {export_hint} again"
        )
    return None
