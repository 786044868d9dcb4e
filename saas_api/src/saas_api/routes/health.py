"""Liveness (the process answers) and readiness (its database and LiteLLM answer)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from saas_api.deps import LiteLLMDep, SessionDep
from saas_api.litellm import LiteLLMError

router = APIRouter(tags=["health"])


@router.get("/health")
async def health():
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(session: SessionDep, litellm: LiteLLMDep):
    checks = {}
    try:
        await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001  any failure means not ready; its class says why
        checks["database"] = f"unavailable: {type(error).__name__}"
    try:
        body = await litellm.readiness()
        checks["litellm"] = "ok" if body.get("db") == "connected" else f"db {body.get('db')}"
    except LiteLLMError as error:
        checks["litellm"] = f"unavailable: {error}"
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse(status_code=200 if ok else 503, content={"ready": ok, **checks})
