"""The per-environment secret store: every credential the stack needs, generated once, kept
encrypted at rest with age, and never regenerated or overwritten by accident.

The store is `secrets/<env>.age` (outside git). Its identity (age private key) comes from
`GATEWAY_AGE_IDENTITY` (the key itself), `GATEWAY_AGE_IDENTITY_FILE`, or the default key file
`~/.config/gateway-bundle/<env>.agekey`; the testbed environment creates its own on first use.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyrage
from pyrage import x25519

REPO = Path(__file__).resolve().parent.parent
FORMAT = 1
SELF_PROVISIONED_ENVIRONMENTS = ("testbed", "dev")
PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "example",
    "todo",
    "xxxx",
    "secret",
    "password",
    "default",
    "dummy",
)
PASSWORD_ALPHABET = string.ascii_letters + string.digits


class SecretStoreError(Exception):
    """A problem with the store the operator can fix; the message says which file and how."""


def _master_key() -> str:
    return "sk-" + secrets.token_hex(32)


def _password() -> str:
    # Letters and digits only: these go into connection URLs and config files unescaped.
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(40))


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _ssh_key() -> str:
    """An ed25519 private key in OpenSSH's format, without a passphrase (a service uses it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode()
    )


def ssh_public_key(private_key: str, comment: str) -> str:
    """The `ssh-ed25519 AAAA... comment` line of an ssh-key secret."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_ssh_private_key(private_key.encode(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return f"{public.decode()} {comment}"


@dataclass(frozen=True)
class SecretSpec:
    name: str
    generate: Callable[[], str]
    kind: str  # "sk-key", "password", "fernet" or "ssh-key"
    affects: str
    rotatable: bool = True
    # Why `rotate` is refused, for the secrets that can never change.
    refusal: str = ""


SPECS = {
    spec.name: spec
    for spec in (
        SecretSpec(
            "litellm_master_key",
            _master_key,
            "sk-key",
            "LiteLLM's admin API and UI login, and the SaaS API's LiteLLM client; redeploy the "
            "llm and api hosts, then use the new key everywhere the old one was used",
        ),
        SecretSpec(
            "litellm_salt_key",
            _master_key,
            "sk-key",
            "nothing: it can never change",
            rotatable=False,
            refusal=(
                "litellm_salt_key can never change: LiteLLM encrypts stored provider credentials "
                "and model keys with it and cannot re-encrypt them"
            ),
        ),
        SecretSpec(
            "saas_api_master_key",
            _master_key,
            "sk-key",
            "the SaaS API's X-Admin-Key; redeploy the api hosts and give operators the new key",
        ),
        SecretSpec(
            "saas_api_key_encryption_secret",
            _fernet_key,
            "fernet",
            "the SaaS API's encryption of stored team keys; keys stored under the old secret "
            "become unreadable unless the api re-encrypts them first",
        ),
        SecretSpec(
            "postgres_litellm_password",
            _password,
            "password",
            "PostgreSQL role litellm and LiteLLM's database URL; redeploy db, then llm",
        ),
        SecretSpec(
            "postgres_saas_password",
            _password,
            "password",
            "PostgreSQL role saas and the SaaS API's database URL; redeploy db, then api",
        ),
        SecretSpec(
            "redis_litellm_password",
            _password,
            "password",
            "Redis ACL user litellm and LiteLLM's Redis settings; redeploy cache, then llm",
        ),
        # Refused rather than rotatable with a warning: pgBackRest (2.45) cannot re-key a
        # repository, so a new pass would make every backup and archived WAL unreadable
        # while the deploy happily wrote it to the hosts; the only way to a new key is a new
        # repository, which is an operator's decision, not a command's.
        SecretSpec(
            "pgbackrest_cipher_pass",
            _password,
            "password",
            "nothing: it can never change",
            rotatable=False,
            refusal=(
                "pgbackrest_cipher_pass can never change: it encrypts the backup repository "
                "(pgBackRest cannot re-key it), so every existing backup and archived WAL "
                "would become unreadable; to use a new key, start a new repository"
            ),
        ),
        # pgBackRest between the db host and the `backup` host, one key per direction, each
        # admitted by its peer only from that peer's address and only to run pgBackRest.
        SecretSpec(
            "pgbackrest_db_ssh_key",
            _ssh_key,
            "ssh-key",
            "postgres@db's key to the backup host (WAL archiving, restores); redeploy db and "
            "backup together",
        ),
        SecretSpec(
            "pgbackrest_backup_ssh_key",
            _ssh_key,
            "ssh-key",
            "pgbackrest@backup's key to the db host (backups); redeploy db and backup together",
        ),
    )
}


def check_value(name: str, value: str) -> None:
    """Refuse hand-supplied values that are placeholders, weak or of the wrong shape."""
    spec = SPECS[name]
    lowered = value.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        raise SecretStoreError(f"{name}: refusing a placeholder-like value; supply a random one")
    if spec.kind == "sk-key":
        body = value[3:]
        if (
            not value.startswith("sk-")
            or len(body) < 32
            or not re.fullmatch(r"[A-Za-z0-9_-]+", body)
        ):
            raise SecretStoreError(
                f"{name}: must be 'sk-' followed by at least 32 letters, digits, '-' or '_'"
            )
        if len(set(body)) < 12:
            raise SecretStoreError(f"{name}: too little variety to be random")
    elif spec.kind == "password":
        if len(value) < 24 or not re.fullmatch(r"[A-Za-z0-9._~-]+", value):
            raise SecretStoreError(
                f"{name}: must be at least 24 characters of letters, digits and . _ ~ -"
            )
        if len(set(value)) < 12:
            raise SecretStoreError(f"{name}: too little variety to be random")
    elif spec.kind == "ssh-key":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        try:
            key = serialization.load_ssh_private_key(value.encode(), password=None)
        except (ValueError, TypeError):
            key = None
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise SecretStoreError(
                f"{name}: must be an ed25519 private key in OpenSSH format without a "
                "passphrase (ssh-keygen -t ed25519 -N '')"
            )
    elif spec.kind == "fernet":
        try:
            decoded = base64.urlsafe_b64decode(value.encode())
        except ValueError:
            decoded = b""
        if len(decoded) != 32 or len(set(decoded)) < 12:
            raise SecretStoreError(f"{name}: must be 32 random bytes, url-safe base64 encoded")


def secrets_dir() -> Path:
    return Path(os.environ.get("GATEWAY_SECRETS_DIR", REPO / "secrets"))


def store_path(env: str) -> Path:
    return secrets_dir() / f"{env}.age"


def default_identity_file(env: str) -> Path:
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "gateway-bundle" / f"{env}.agekey"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_private(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class SecretStore:
    def __init__(self, env: str):
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", env):
            raise SecretStoreError(
                f"environment name {env!r} must be lower-case letters, digits, - or _"
            )
        self.env = env
        self.path = store_path(env)

    # identity ---------------------------------------------------------------------------

    def identity_source(self) -> str:
        if os.environ.get("GATEWAY_AGE_IDENTITY"):
            return "GATEWAY_AGE_IDENTITY"
        return os.environ.get("GATEWAY_AGE_IDENTITY_FILE") or str(default_identity_file(self.env))

    def identity(self, *, create: bool = False) -> x25519.Identity:
        text = os.environ.get("GATEWAY_AGE_IDENTITY")
        if not text:
            path = Path(self.identity_source())
            if not path.exists():
                if not create:
                    raise SecretStoreError(
                        f"no age identity for environment {self.env} at {path}; run "
                        f"`python -m bundle.secrets init {self.env}` or set "
                        "GATEWAY_AGE_IDENTITY_FILE"
                    )
                write_private(path, (str(x25519.Identity.generate()) + "\n").encode())
            text = next(
                (
                    line.strip()
                    for line in path.read_text().splitlines()
                    if line.startswith("AGE-SECRET-KEY-")
                ),
                "",
            )
        try:
            return x25519.Identity.from_str(text.strip())
        except Exception:
            raise SecretStoreError(
                f"{self.identity_source()}: not an age identity (AGE-SECRET-KEY-…)"
            ) from None

    # contents -----------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> dict:
        """The decrypted document; {} when the store does not exist yet."""
        if not self.path.exists():
            return {}
        identity = self.identity()
        try:
            plaintext = pyrage.decrypt(self.path.read_bytes(), [identity])
        except pyrage.DecryptError as error:
            if "No matching keys" in str(error):
                raise SecretStoreError(
                    f"{self.path}: cannot be decrypted with the identity from "
                    f"{self.identity_source()}; use the key this store was created with"
                ) from None
            raise SecretStoreError(
                f"{self.path}: is damaged ({error}); restore it from your backup (it was not "
                "changed)"
            ) from None
        try:
            document = json.loads(plaintext)
            entries = document["secrets"]
            assert document.get("format") == FORMAT and isinstance(entries, dict)
        except (ValueError, KeyError, AssertionError, TypeError):
            raise SecretStoreError(
                f"{self.path}: decrypts but is not a secret store of format {FORMAT}; restore it "
                "from your backup (it was not changed)"
            ) from None
        for name, entry in entries.items():
            if name not in SPECS or not isinstance(entry, dict) or "value" not in entry:
                raise SecretStoreError(f"{self.path}: entry {name!r} is unknown or malformed")
        return document

    def _save(self, document: dict, identity: x25519.Identity) -> None:
        data = json.dumps(document, indent=1, sort_keys=True).encode()
        write_private(self.path, pyrage.encrypt(data, [identity.to_public()]))

    @contextlib.contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def ensure(self, *, create_identity: bool | None = None) -> dict[str, str]:
        """Generate whatever secret is missing (never touching existing ones); return all."""
        if create_identity is None:
            create_identity = self.env in SELF_PROVISIONED_ENVIRONMENTS
        with self._locked():
            identity = self.identity(create=create_identity)
            document = self.read() or {"format": FORMAT, "environment": self.env, "secrets": {}}
            entries = document["secrets"]
            missing = [name for name in SPECS if name not in entries]
            for name in missing:
                entries[name] = {"value": SPECS[name].generate(), "created": utc_now()}
            if missing:
                self._save(document, identity)
            return {name: entry["value"] for name, entry in entries.items()}

    def values(self) -> dict[str, str]:
        return {name: e["value"] for name, e in self.read().get("secrets", {}).items()}

    def listing(self) -> list[tuple[str, str, str | None]]:
        """(name, created, rotated) for every stored secret; never values."""
        entries = self.read().get("secrets", {})
        return [(n, e.get("created", "?"), e.get("rotated")) for n, e in sorted(entries.items())]

    def get(self, name: str) -> str:
        self._known(name)
        entries = self.read().get("secrets", {})
        if name not in entries:
            raise SecretStoreError(f"{self.path}: has no {name} yet; run a deploy or `init` first")
        return entries[name]["value"]

    def set(self, name: str, value: str) -> None:
        """Store an operator-supplied value for a secret that does not exist yet."""
        self._known(name)
        check_value(name, value)
        with self._locked():
            identity = self.identity(create=self.env in SELF_PROVISIONED_ENVIRONMENTS)
            document = self.read() or {"format": FORMAT, "environment": self.env, "secrets": {}}
            if name in document["secrets"]:
                raise SecretStoreError(
                    f"{self.path}: {name} already exists and is never overwritten"
                    + ("" if SPECS[name].rotatable else f"; {SPECS[name].refusal}")
                    + ("; use `rotate` to replace it" if SPECS[name].rotatable else "")
                )
            document["secrets"][name] = {"value": value, "created": utc_now()}
            self._save(document, identity)

    def rotate(self, name: str) -> str:
        """Replace one secret with a new random value; return what that affects."""
        self._known(name)
        if not SPECS[name].rotatable:
            raise SecretStoreError(SPECS[name].refusal)
        with self._locked():
            identity = self.identity()
            document = self.read()
            if name not in document.get("secrets", {}):
                raise SecretStoreError(f"{self.path}: has no {name} to rotate")
            entry = document["secrets"][name]
            entry["value"] = SPECS[name].generate()
            entry["rotated"] = utc_now()
            self._save(document, identity)
        return SPECS[name].affects

    @staticmethod
    def _known(name: str) -> None:
        if name not in SPECS:
            raise SecretStoreError(f"unknown secret {name!r}; known: {', '.join(SPECS)}")
