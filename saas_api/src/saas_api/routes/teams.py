"""Teams: each is a LiteLLM team plus one virtual key, limited to its model groups' models."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from saas_api import teams as service
from saas_api import usage
from saas_api.deps import (
    AdminDep,
    AdminOrTeamDep,
    LiteLLMDep,
    SessionDep,
    SettingsDep,
    VaultDep,
)
from saas_api.errors import ApiError
from saas_api.keys import KeyVault
from saas_api.models import ModelGroup, Team
from saas_api.schemas import CreditRequest, TeamCreate, TeamOut, TeamUpdate, UsageOut

router = APIRouter(prefix="/api/teams", tags=["teams"])


async def out(
    session,
    team: Team,
    *,
    vault: KeyVault | None = None,
    litellm=None,
    group_models: dict[str, list[str]] | None = None,
) -> TeamOut:
    """The team; with `vault` its key, with `litellm` its spend (both for one team only).
    `group_models` (every group's models, read once) spares a list one query per team."""
    if group_models is None:
        models = await service.team_models(session, team)
    else:
        models = sorted({m for name in team.group_names for m in group_models.get(name, [])})
    answer = TeamOut(
        team_id=team.team_id,
        name=team.name,
        organization_id=team.organization_id,
        status=team.status,
        max_budget=float(team.max_budget),
        budget_duration=team.budget_duration,
        rpm_limit=team.rpm_limit,
        tpm_limit=team.tpm_limit,
        metadata=team.metadata_,
        model_groups=team.group_names,
        models=models,
        key_alias=team.key_alias(),
        key_hash=team.key_hash,
        managed_by=team.managed_by,
        created_at=team.created_at,
        updated_at=team.updated_at,
    )
    if vault is not None and team.status in ("active", "suspended"):
        answer.virtual_key = vault.decrypt(team.key_ciphertext)
    if litellm is not None and team.status in ("active", "suspended"):
        spend = await usage.team_spend(litellm, team.team_id)
        if spend is not None:
            answer.spend = spend
            answer.remaining_budget = max(float(team.max_budget) - spend, 0.0)
    return answer


@router.post("/create", response_model=TeamOut, status_code=201, dependencies=[AdminDep])
async def create_team(
    body: TeamCreate,
    session: SessionDep,
    litellm: LiteLLMDep,
    vault: VaultDep,
    settings: SettingsDep,
    response: Response,
):
    team, created = await service.create_team(
        session, litellm, vault, body, settings.default_model_group
    )
    if not created:
        response.status_code = 200
    await session.refresh(team)
    return await out(session, team, vault=vault)


@router.get("", response_model=list[TeamOut], dependencies=[AdminDep])
async def list_teams(session: SessionDep, organization_id: str | None = Query(default=None)):
    query = select(Team).order_by(Team.team_id)
    if organization_id is not None:
        query = query.where(Team.organization_id == organization_id)
    groups = {g.name: g.models for g in await session.scalars(select(ModelGroup))}
    return [await out(session, t, group_models=groups) for t in await session.scalars(query)]


@router.get("/{team_id}", response_model=TeamOut, dependencies=[AdminDep])
async def get_team(team_id: str, session: SessionDep, vault: VaultDep, litellm: LiteLLMDep):
    team = await service.load_team(session, team_id)
    return await out(session, team, vault=vault, litellm=litellm)


@router.put("/{team_id}", response_model=TeamOut, dependencies=[AdminDep])
async def update_team(
    team_id: str, body: TeamUpdate, session: SessionDep, litellm: LiteLLMDep, vault: VaultDep
):
    """Omitted fields stay; the stored change is pushed to LiteLLM's team and key."""
    team = await service.update_team(session, litellm, vault, team_id, body)
    return await out(session, team, vault=vault, litellm=litellm)


@router.post("/{team_id}/suspend", response_model=TeamOut, dependencies=[AdminDep])
async def suspend_team(team_id: str, session: SessionDep, litellm: LiteLLMDep, vault: VaultDep):
    """The key stops working (LiteLLM blocks it); spend and budget are kept."""
    return await out(
        session, await service.set_status(session, litellm, vault, team_id, "suspended")
    )


@router.post("/{team_id}/resume", response_model=TeamOut, dependencies=[AdminDep])
async def resume_team(team_id: str, session: SessionDep, litellm: LiteLLMDep, vault: VaultDep):
    return await out(session, await service.set_status(session, litellm, vault, team_id, "active"))


@router.post("/{team_id}/rotate-key", response_model=TeamOut, dependencies=[AdminDep])
async def rotate_team_key(team_id: str, session: SessionDep, litellm: LiteLLMDep, vault: VaultDep):
    """A new key that works at once; the old one is deleted from LiteLLM."""
    team = await service.load_team(session, team_id, for_update=True)
    await service.rotate_key(session, litellm, vault, team)
    await session.refresh(team)
    return await out(session, team, vault=vault)


@router.post("/{team_id}/credits", response_model=TeamOut, dependencies=[AdminDep])
async def add_credits(
    team_id: str, body: CreditRequest, session: SessionDep, litellm: LiteLLMDep, vault: VaultDep
):
    """Adds `amount` to the team's max_budget. With a `reference`, a repeat adds nothing."""
    team = await service.add_credits(session, litellm, vault, team_id, body)
    return await out(session, team, litellm=litellm)


@router.get("/{team_id}/usage", response_model=UsageOut)
async def team_usage(
    team_id: str, caller: AdminOrTeamDep, session: SessionDep, litellm: LiteLLMDep
):
    """For the admin, or for the team itself with its own key; never another team's."""
    if caller is not None and caller.team_id != team_id:
        raise ApiError(403, "a team key can read only its own team's usage")
    team = await service.load_team(session, team_id)
    return await usage.team_usage(litellm, team)


@router.delete("/{team_id}", dependencies=[AdminDep])
async def delete_team(team_id: str, session: SessionDep, litellm: LiteLLMDep, vault: VaultDep):
    """Removes the LiteLLM key(s) and team, then the team; a repeat finishes an interrupted one."""
    team = await service.load_team(session, team_id, for_update=True)
    await service.delete_team(session, litellm, vault, team)
    return {"deleted": team_id}
