"""Organizations, the customers: each holds teams. The rules behind the API's routes and the
admin panel's forms alike."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from saas_api.errors import ApiError, not_found
from saas_api.models import Organization, Team
from saas_api.schemas import OrganizationCreate, OrganizationUpdate


async def get(session: AsyncSession, organization_id: str) -> Organization:
    org = await session.get(Organization, organization_id)
    if org is None:
        raise not_found("organization", organization_id)
    return org


async def list_all(session: AsyncSession) -> list[Organization]:
    return list(await session.scalars(select(Organization).order_by(Organization.id)))


async def teams_of(session: AsyncSession, organization_id: str) -> list[Team]:
    return list(
        await session.scalars(
            select(Team).where(Team.organization_id == organization_id).order_by(Team.team_id)
        )
    )


async def team_counts(session: AsyncSession) -> dict[str, int]:
    """Teams per organization id (organizations without teams are absent)."""
    rows = await session.execute(
        select(Team.organization_id, func.count()).group_by(Team.organization_id)
    )
    return dict(rows.all())


def _name_taken(name: str) -> ApiError:
    return ApiError(409, f"name: an organization named {name!r} already exists", fields=["name"])


async def create(session: AsyncSession, body: OrganizationCreate) -> tuple[Organization, bool]:
    """The organization and whether this call created it. The same id (or, without one, the
    same name) with the same content is the existing one; with other content, a conflict."""
    if body.organization_id:
        existing = await session.get(Organization, body.organization_id)
    else:
        existing = await session.scalar(select(Organization).where(Organization.name == body.name))
    if existing is None:
        org = Organization(
            id=body.organization_id or f"org_{secrets.token_hex(8)}",
            name=body.name,
            litellm_organization_id=body.litellm_organization_id,
            managed_by=body.managed_by,
        )
        session.add(org)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            raise _name_taken(body.name) from None
        await session.refresh(org)
        return org, True
    differing = [
        field
        for field, wanted, have in (
            ("name", body.name, existing.name),
            (
                "litellm_organization_id",
                body.litellm_organization_id,
                existing.litellm_organization_id,
            ),
        )
        if wanted != have
    ]
    if differing:
        raise ApiError(
            409,
            f"organization {existing.id!r} already exists with different {', '.join(differing)}",
            fields=differing,
        )
    return existing, False


async def update(
    session: AsyncSession, organization_id: str, body: OrganizationUpdate
) -> Organization:
    """Sets the fields the request names; omitted ones stay."""
    org = await get(session, organization_id)
    if body.name is None and "name" in body.model_fields_set:
        raise ApiError(422, "name: cannot be null", fields=["name"])
    for field in body.model_fields_set:
        setattr(org, field, getattr(body, field))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise _name_taken(body.name) from None
    await session.refresh(org)
    return org


async def delete(session: AsyncSession, organization_id: str) -> None:
    """Only an empty organization goes: its teams must be deleted first."""
    org = await get(session, organization_id)
    count = await session.scalar(
        select(func.count()).select_from(Team).where(Team.organization_id == org.id)
    )
    if count:
        raise ApiError(
            409,
            f"organization {organization_id!r} still has {count} team(s): delete them first",
        )
    await session.delete(org)
    await session.commit()
