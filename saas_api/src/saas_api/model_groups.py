"""Model groups: named sets of LiteLLM model names that teams are given access through. The
rules behind the API's routes and the admin panel's forms alike."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_api import teams as team_service
from saas_api.errors import ApiError, not_found
from saas_api.keys import KeyVault
from saas_api.litellm import LiteLLMClient, LiteLLMError
from saas_api.models import ModelGroup, Team, TeamModelGroup
from saas_api.schemas import ModelGroupCreate, ModelGroupUpdate


async def get(session: AsyncSession, name: str) -> ModelGroup:
    group = await session.get(ModelGroup, name)
    if group is None:
        raise not_found("model group", name)
    return group


async def list_all(session: AsyncSession) -> list[ModelGroup]:
    return list(await session.scalars(select(ModelGroup).order_by(ModelGroup.name)))


async def group_teams(session: AsyncSession, name: str) -> list[str]:
    """The ids of the teams that use the group."""
    return list(
        await session.scalars(
            select(TeamModelGroup.team_id)
            .where(TeamModelGroup.group_name == name)
            .order_by(TeamModelGroup.team_id)
        )
    )


async def available_models(litellm: LiteLLMClient) -> list[str]:
    """The model names LiteLLM serves now, asked live (never cached)."""
    try:
        return sorted(await litellm.model_names())
    except LiteLLMError as error:
        raise ApiError(503, f"models: cannot read them from LiteLLM ({error})") from None


async def check_models_exist(litellm: LiteLLMClient, models: list[str]) -> None:
    """Every name must be a model LiteLLM serves now."""
    try:
        known = await litellm.model_names()
    except LiteLLMError as error:
        raise ApiError(
            503, f"models: cannot check them against LiteLLM ({error})", fields=["models"]
        ) from None
    unknown = [m for m in models if m not in known]
    if unknown:
        raise ApiError(
            422,
            f"models: not known to LiteLLM: {', '.join(unknown)} (add them to LiteLLM first; "
            "names must match exactly)",
            unknown_models=unknown,
            fields=["models"],
        )


async def create(
    session: AsyncSession, litellm: LiteLLMClient, body: ModelGroupCreate
) -> tuple[ModelGroup, bool]:
    """The group and whether this call created it; the same name with the same content is the
    existing one, with other content a conflict."""
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
        return existing, False
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
    return group, True


async def update(
    session: AsyncSession,
    litellm: LiteLLMClient,
    vault: KeyVault,
    name: str,
    body: ModelGroupUpdate,
) -> ModelGroup:
    """A change of models reaches the LiteLLM team and key of every team using the group."""
    group = await get(session, name)
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
    return group


async def delete(session: AsyncSession, name: str) -> None:
    """Only a group no team uses goes."""
    group = await get(session, name)
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
