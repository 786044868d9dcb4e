"""The dashboard: how many of everything, total spend, the teams nearest their budget, and
whether LiteLLM and the database answer."""

from __future__ import annotations

from fastapi import APIRouter, Request

from saas_api import organizations as organization_service
from saas_api import readiness
from saas_api import teams as team_service
from saas_api.admin.web import LoginDep, render
from saas_api.deps import LiteLLMDep, SessionDep
from saas_api.litellm import LiteLLMError

router = APIRouter()
NEAREST = 8


@router.get("/")
async def dashboard(request: Request, login: LoginDep, db: SessionDep, litellm: LiteLLMDep):
    counts = await team_service.status_counts(db)
    budgets = await team_service.budgets(db)
    try:
        spends, spend_error = await litellm.team_spends(), None
    except LiteLLMError as error:
        spends, spend_error = {}, str(error)
    nearest = sorted(
        (
            {
                "team_id": team_id,
                "name": name,
                "status": status,
                "budget": float(budget),
                "spend": spends.get(team_id, 0.0),
                "used": spends.get(team_id, 0.0) / float(budget) if budget else 1.0,
            }
            for team_id, (name, budget, status) in budgets.items()
            if status in ("active", "suspended")
        ),
        key=lambda row: (-row["used"], row["team_id"]),
    )[:NEAREST]
    return await render(
        request,
        db,
        "dashboard.html",
        organizations=len(await organization_service.list_all(db)),
        teams=sum(counts.values()),
        active=counts.get("active", 0),
        suspended=counts.get("suspended", 0),
        unsettled=counts.get("creating", 0) + counts.get("deleting", 0),
        total_spend=sum(spends.get(team_id, 0.0) for team_id in budgets),
        spend_error=spend_error,
        nearest=nearest,
        health=await readiness.check(db, litellm),
        nav="dashboard",
    )
