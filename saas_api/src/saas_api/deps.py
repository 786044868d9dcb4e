"""Named dependencies for the routes: the database session, the LiteLLM client, the key vault,
and the two ways in: the admin key (X-Admin-Key) and a team's own virtual key (Bearer)."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_api.errors import ApiError
from saas_api.keys import KeyVault, key_hash
from saas_api.litellm import LiteLLMClient
from saas_api.models import Team
from saas_api.settings import Settings


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _litellm(request: Request) -> LiteLLMClient:
    return request.app.state.litellm


def _vault(request: Request) -> KeyVault:
    return request.app.state.vault


SessionDep = Annotated[AsyncSession, Depends(_session)]
SettingsDep = Annotated[Settings, Depends(_settings)]
LiteLLMDep = Annotated[LiteLLMClient, Depends(_litellm)]
VaultDep = Annotated[KeyVault, Depends(_vault)]


def _admin(
    settings: SettingsDep,
    x_admin_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    if not x_admin_key:
        raise ApiError(401, "X-Admin-Key header is missing: admin routes need the SaaS master key")
    expected = settings.master_key.get_secret_value()
    if not hmac.compare_digest(x_admin_key.encode(), expected.encode()):
        raise ApiError(403, "X-Admin-Key is not valid")


AdminDep = Depends(_admin)


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


async def _team_of_key(session: AsyncSession, key: str) -> Team | None:
    team = await session.scalar(select(Team).where(Team.key_hash == key_hash(key)))
    return team if team is not None and team.status in ("active", "suspended") else None


async def _caller_team(
    session: SessionDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Team:
    key = _bearer(authorization)
    if key is None:
        raise ApiError(401, "Authorization: Bearer <team virtual key> is missing")
    team = await _team_of_key(session, key)
    if team is None:
        raise ApiError(401, "the bearer key is not a current team key")
    return team


CallerTeamDep = Annotated[Team, Depends(_caller_team)]


async def _admin_or_team(
    settings: SettingsDep,
    session: SessionDep,
    x_admin_key: Annotated[str | None, Header(include_in_schema=False)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Team | None:
    """None for the admin; the caller's team for a team key. Routes check the team matches."""
    if x_admin_key is not None:
        _admin(settings, x_admin_key)
        return None
    return await _caller_team(session, authorization)


AdminOrTeamDep = Annotated[Team | None, Depends(_admin_or_team)]
