"""Liveness (the process answers) and readiness (its database and LiteLLM answer)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from saas_api.deps import LiteLLMDep, SessionDep
from saas_api.litellm import LiteLLMError

router = APIRouter(tags=["health"])
# Readiness answers within a few seconds even when a dependency hangs.
CHECK_SECONDS = 5


@router.get("/health")
async def health():
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(session: SessionDep, litellm: LiteLLMDep):
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
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse(status_code=200 if ok else 503, content={"ready": ok, **checks})
