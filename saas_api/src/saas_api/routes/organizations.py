"""Organizations: the customers; each holds teams (the rules: saas_api/organizations.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from saas_api import organizations as service
from saas_api.deps import AdminDep, SessionDep
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


@router.post("/create", response_model=OrganizationOut, status_code=201)
async def create_organization(body: OrganizationCreate, session: SessionDep, response: Response):
    """Same id (or, without one, same name) and same content: 200 with the existing one."""
    org, created = await service.create(session, body)
    if not created:
        response.status_code = 200
    return out(org)


@router.get("", response_model=list[OrganizationOut])
async def list_organizations(session: SessionDep):
    return [out(o) for o in await service.list_all(session)]


@router.get("/{organization_id}", response_model=OrganizationOut)
async def get_organization(organization_id: str, session: SessionDep):
    org = await service.get(session, organization_id)
    return out(org, await service.teams_of(session, org.id))


@router.put("/{organization_id}", response_model=OrganizationOut)
async def update_organization(organization_id: str, body: OrganizationUpdate, session: SessionDep):
    return out(await service.update(session, organization_id, body))


@router.delete("/{organization_id}")
async def delete_organization(organization_id: str, session: SessionDep):
    await service.delete(session, organization_id)
    return {"deleted": organization_id}
