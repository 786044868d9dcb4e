"""The secrets a deploy uses, read once per run from the environment's secret store.

Tasks take values from here at the moment they need them; secrets never go into host data,
operation arguments or commands, so pyinfra cannot print them."""

from __future__ import annotations

import functools

from bundle.preflight import PreflightError
from bundle.secret_store import SecretStore, SecretStoreError


@functools.cache
def secrets_for(environment: str) -> dict[str, str]:
    try:
        return SecretStore(environment).ensure()
    except SecretStoreError as error:
        raise PreflightError(str(error)) from None
