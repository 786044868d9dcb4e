"""Whether the service's dependencies answer: its database and LiteLLM (for the API's
/health/ready and the admin panel's dashboard)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from saas_api.litellm import LiteLLMClient, LiteLLMError

# Readiness answers within a few seconds even when a dependency hangs.
CHECK_SECONDS = 5


async def check(session: AsyncSession, litellm: LiteLLMClient) -> dict[str, str]:
    """{"database": "ok" | why not, "litellm": "ok" | why not}."""
    checks = {}
    try:
        await asyncio.wait_for(session.execute(text("SELECT 1")), CHECK_SECONDS)
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001  any failure means not ready; its class says why
        checks["database"] = f"unavailable: {type(error).__name__}"
    try:
        body = await asyncio.wait_for(litellm.readiness(), CHECK_SECONDS)
        checks["litellm"] = "ok" if body.get("db") == "connected" else f"db {body.get('db')}"
    except (LiteLLMError, TimeoutError) as error:
        checks["litellm"] = f"unavailable: {str(error) or type(error).__name__}"
    return checks


def all_ok(checks: dict[str, str]) -> bool:
    return all(value == "ok" for value in checks.values())
