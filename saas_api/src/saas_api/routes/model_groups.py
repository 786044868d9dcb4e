"""Model groups: named sets of LiteLLM model names that teams are given access through."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from saas_api import teams as team_service
from saas_api.deps import AdminDep, LiteLLMDep, SessionDep, VaultDep
from saas_api.errors import ApiError, not_found
from saas_api.litellm import LiteLLMClient, LiteLLMError
from saas_api.models import ModelGroup, Team, TeamModelGroup
from saas_api.schemas import ModelGroupCreate, ModelGroupOut, ModelGroupUpdate

router = APIRouter(prefix="/api/model-groups", tags=["model groups"], dependencies=[AdminDep])


async def group_teams(session, name: str) -> list[str]:
    return list(
        await session.scalars(
            select(TeamModelGroup.team_id)
            .where(TeamModelGroup.group_name == name)
            .order_by(TeamModelGroup.team_id)
        )
    )


async def out(session, group: ModelGroup) -> ModelGroupOut:
    return ModelGroupOut(
        name=group.name,
        description=group.description,
        models=group.models,
        teams=await group_teams(session, group.name),
        managed_by=group.managed_by,
        created_at=group.created_at,
        updated_at=group.updated_at,
    )


async def check_models_exist(litellm: LiteLLMClient, models: list[str]) -> None:
    """Every name must be a model LiteLLM serves now; asked live, never cached."""
    try:
        known = await litellm.model_names()
    except LiteLLMError as error:
        raise ApiError(503, f"models: cannot check them against LiteLLM ({error})") from None
    unknown = [m for m in models if m not in known]
    if unknown:
        raise ApiError(
            422,
            f"models: not known to LiteLLM: {', '.join(unknown)} (add them to LiteLLM first; "
            "names must match exactly)",
            unknown_models=unknown,
        )


async def _get(session, name: str) -> ModelGroup:
    group = await session.get(ModelGroup, name)
    if group is None:
        raise not_found("model group", name)
    return group


@router.post("/create", response_model=ModelGroupOut, status_code=201)
async def create_model_group(
    body: ModelGroupCreate, session: SessionDep, litellm: LiteLLMDep, response: Response
):
    existing = await session.get(ModelGroup, body.name)
    if existing is not None:
        differing = [
            field
            for field, wanted, have in (
                ("models", sorted(body.models), sorted(existing.models)),
                ("description", body.description, existing.description),
            )
            if wanted != have
        ]
        if differing:
            raise ApiError(
                409,
                f"model group {body.name!r} already exists with different {', '.join(differing)}",
                fields=differing,
            )
        response.status_code = 200
        return await out(session, existing)
    await check_models_exist(litellm, body.models)
    group = ModelGroup(
        name=body.name,
        models=body.models,
        description=body.description,
        managed_by=body.managed_by,
    )
    session.add(group)
    await session.commit()
    await session.refresh(group)
    return await out(session, group)


@router.get("", response_model=list[ModelGroupOut])
async def list_model_groups(session: SessionDep):
    groups = await session.scalars(select(ModelGroup).order_by(ModelGroup.name))
    return [await out(session, g) for g in groups]


@router.get("/{name}", response_model=ModelGroupOut)
async def get_model_group(name: str, session: SessionDep):
    return await out(session, await _get(session, name))


@router.put("/{name}", response_model=ModelGroupOut)
async def update_model_group(
    name: str, body: ModelGroupUpdate, session: SessionDep, litellm: LiteLLMDep, vault: VaultDep
):
    """A change of models reaches the LiteLLM team and key of every team using the group."""
    group = await _get(session, name)
    if body.models is not None:
        await check_models_exist(litellm, body.models)
        group.models = body.models
    if body.description is not None:
        group.description = body.description
    await session.commit()
    await session.refresh(group)
    failed = []
    for team_id in await group_teams(session, name):
        team = await session.get(Team, team_id)
        if team is None or team.status not in ("active", "suspended"):
            continue
        try:
            await team_service.push(session, litellm, vault, team, "model group change")
        except ApiError:
            failed.append(team_id)
    if failed:
        raise ApiError(
            503,
            f"model group {name!r} saved, but LiteLLM was not updated for team(s) "
            f"{', '.join(failed)}: repeat the request",
            teams=failed,
        )
    return await out(session, group)


@router.delete("/{name}")
async def delete_model_group(name: str, session: SessionDep):
    group = await _get(session, name)
    teams = await group_teams(session, name)
    if teams:
        raise ApiError(
            409,
            f"model group {name!r} is assigned to team(s) {', '.join(teams)}: "
            "change their groups first",
            teams=teams,
        )
    await session.delete(group)
    await session.commit()
    return {"deleted": name}
