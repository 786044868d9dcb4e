"""Organizations: the customers; each holds teams."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from saas_api.deps import AdminDep, SessionDep
from saas_api.errors import ApiError, not_found
from saas_api.models import Organization, Team
from saas_api.schemas import (
    OrganizationCreate,
    OrganizationOut,
    OrganizationUpdate,
    TeamSummary,
)

router = APIRouter(prefix="/api/organizations", tags=["organizations"], dependencies=[AdminDep])


def out(org: Organization, teams: list[Team] | None = None) -> OrganizationOut:
    return OrganizationOut(
        organization_id=org.id,
        name=org.name,
        litellm_organization_id=org.litellm_organization_id,
        managed_by=org.managed_by,
        created_at=org.created_at,
        updated_at=org.updated_at,
        teams=None
        if teams is None
        else [TeamSummary(team_id=t.team_id, name=t.name, status=t.status) for t in teams],
    )


async def _get(session, organization_id: str) -> Organization:
    org = await session.get(Organization, organization_id)
    if org is None:
        raise not_found("organization", organization_id)
    return org


@router.post("/create", response_model=OrganizationOut, status_code=201)
async def create_organization(body: OrganizationCreate, session: SessionDep, response: Response):
    """Same id (or, without one, same name) and same content: 200 with the existing one."""
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
            raise ApiError(
                409, f"name: an organization named {body.name!r} already exists", fields=["name"]
            ) from None
        await session.refresh(org)
        return out(org)
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
    response.status_code = 200
    return out(existing)


@router.get("", response_model=list[OrganizationOut])
async def list_organizations(session: SessionDep):
    return [out(o) for o in await session.scalars(select(Organization).order_by(Organization.id))]


@router.get("/{organization_id}", response_model=OrganizationOut)
async def get_organization(organization_id: str, session: SessionDep):
    org = await _get(session, organization_id)
    teams = await session.scalars(
        select(Team).where(Team.organization_id == org.id).order_by(Team.team_id)
    )
    return out(org, list(teams))


@router.put("/{organization_id}", response_model=OrganizationOut)
async def update_organization(organization_id: str, body: OrganizationUpdate, session: SessionDep):
    org = await _get(session, organization_id)
    if body.name is None and "name" in body.model_fields_set:
        raise ApiError(422, "name: cannot be null")
    for field in body.model_fields_set:
        setattr(org, field, getattr(body, field))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ApiError(409, f"name: an organization named {body.name!r} already exists") from None
    await session.refresh(org)
    return out(org)


@router.delete("/{organization_id}")
async def delete_organization(organization_id: str, session: SessionDep):
    org = await _get(session, organization_id)
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
    return {"deleted": organization_id}
