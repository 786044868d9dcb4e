"""Virtual key values: generated here (so a retried create reuses the same key), stored encrypted,
and identified by the same SHA-256 hash LiteLLM stores, never by reading a key back."""

from __future__ import annotations

import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken


class KeyVault:
    """Encrypts key values at rest with the key-encryption secret (Fernet: AES-128-CBC + HMAC)."""

    def __init__(self, secret: str):
        self._fernet = Fernet(secret.encode())

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise RuntimeError(
                "a stored virtual key cannot be decrypted: KEY_ENCRYPTION_SECRET is not the one "
                "it was stored with"
            ) from None


def new_key() -> str:
    """A LiteLLM virtual key value (LiteLLM requires the `sk-` prefix)."""
    return "sk-" + secrets.token_urlsafe(32)


def key_hash(value: str) -> str:
    """The token LiteLLM stores for a key: the hex SHA-256 of the key value."""
    return hashlib.sha256(value.encode()).hexdigest()
