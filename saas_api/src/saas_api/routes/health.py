"""Liveness (the process answers) and readiness (its database and LiteLLM answer)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from saas_api import readiness
from saas_api.deps import LiteLLMDep, SessionDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health():
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(session: SessionDep, litellm: LiteLLMDep):
    checks = await readiness.check(session, litellm)
    ok = readiness.all_ok(checks)
    return JSONResponse(status_code=200 if ok else 503, content={"ready": ok, **checks})
