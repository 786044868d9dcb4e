"""The secrets a deploy uses, read once per run from the environment's secret store.

Tasks take values from here at the moment they need them; secrets never go into host data,
operation arguments or commands, so pyinfra cannot print them."""

from __future__ import annotations

import functools

from pyinfra import logger

from bundle import custody
from bundle.preflight import PreflightError
from bundle.secret_store import SecretStore, SecretStoreError


@functools.cache
def secrets_for(environment: str) -> dict[str, str]:
    """Every secret of the environment (missing ones generated now); says once per run when no
    offline custody copy holds the store as it is."""
    try:
        store = SecretStore(environment)
        values = store.ensure()
    except SecretStoreError as error:
        raise PreflightError(str(error)) from None
    warning = custody.warning(store)
    if warning:
        logger.warning(f"Secrets: {warning}")
    return values
