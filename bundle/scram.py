"""PostgreSQL SCRAM-SHA-256 password verifiers, computed on the control machine.

Hosts receive only the verifier (what PostgreSQL stores), never the password; and a stored
verifier can be checked against the password we hold, which makes setting it idempotent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

ITERATIONS = 4096  # PostgreSQL's default scram_iterations
_FORMAT = re.compile(r"^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$")


def verifier(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def matches(password: str, stored: str) -> bool:
    """Whether `stored` (from pg_authid.rolpassword) is a SCRAM verifier of `password`."""
    found = _FORMAT.match(stored or "")
    if not found:
        return False
    iterations, salt = int(found.group(1)), base64.b64decode(found.group(2))
    return hmac.compare_digest(verifier(password, salt=salt, iterations=iterations), stored)
