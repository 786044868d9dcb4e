"""A team's own view, authenticated by its virtual key: nothing of any other team."""

from __future__ import annotations

from fastapi import APIRouter

from saas_api import usage
from saas_api.deps import CallerTeamDep, LiteLLMDep
from saas_api.schemas import UsageOut

router = APIRouter(prefix="/api/me", tags=["team"])


@router.get("/usage", response_model=UsageOut)
async def my_usage(team: CallerTeamDep, litellm: LiteLLMDep):
    return await usage.team_usage(litellm, team)
