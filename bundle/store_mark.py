"""Which secret store a host was deployed with, so that a deploy with another store is refused
before it changes anything.

A control machine that lost `secrets/<env>.age` (a fresh clone, another laptop, `secrets init`
run again) holds a store with new values. Deploying it would re-password every role and, worse,
hand LiteLLM a new salt key and pgBackRest a new repository key: every provider credential in
LiteLLM's database and every backup already taken would become unreadable, with no way back
but the old store. So each host keeps a mark naming its store, and preflight compares it.

The mark is derived from the salt key, the one secret that can never change for the life of a
store (`rotate` refuses it), so rotating any other secret keeps it. It is an HMAC of a fixed
label under that key: it tells stores apart and reveals nothing of the key."""

from __future__ import annotations

import hashlib
import hmac
import weakref
from collections.abc import Callable
from pathlib import Path

from bundle.errors import PreflightError

PATH = "/etc/gateway/secret-store-id"
LABEL = b"gateway-bundle secret store id"

_checked: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def store_id(secrets: dict[str, str]) -> str:
    return hmac.new(secrets["litellm_salt_key"].encode(), LABEL, hashlib.sha256).hexdigest()[:32]


def mark_problems(hosts, expected: str, mark_of: Callable, store_path) -> list[str]:
    """A line for every host whose mark names another store; hosts without a mark (new, or
    deployed before marks existed) are taken as this store's. `mark_of(host)` is its
    SecretStoreMark fact."""
    foreign = [host.name for host in hosts if mark_of(host) not in (None, expected)]
    if not foreign:
        return []
    env = Path(store_path).name.removesuffix(".age")
    return [
        f"{', '.join(foreign)}: deployed with another secret store than {store_path} ({PATH} "
        "names another store). Deploying this one would replace every password and make LiteLLM's "
        "stored provider credentials and the existing backups unreadable. Restore the store "
        f"these hosts were deployed with (`python -m bundle.secrets restore {env} <custody "
        "folder>`); hosts whose data is to be thrown away must be reinstalled first (the "
        "testbed: `python -m testbed down --purge`)."
    ]


def check_store_marks(inventory, secrets: dict[str, str], store_path, mark_of: Callable) -> None:
    """Raise PreflightError when a host this run deploys to was deployed with another store;
    deploy.py calls it for each host, it reads every host's mark the first time."""
    if inventory in _checked:
        return
    _checked[inventory] = True
    hosts = list(inventory.iter_activated_hosts())
    problems = mark_problems(hosts, store_id(secrets), mark_of, store_path)
    if problems:
        raise PreflightError("preflight: no host was changed:\n" + "\n".join(problems))
