"""Organizations: list and create, edit, delete when empty."""

from __future__ import annotations

from fastapi import APIRouter, Request

from saas_api import organizations as service
from saas_api.admin.forms import FormErrors, optional_text, refusal, text, validated
from saas_api.admin.web import LoginDep, audited, done, form_of, render
from saas_api.deps import SessionDep
from saas_api.errors import ApiError
from saas_api.schemas import OrganizationCreate, OrganizationUpdate

router = APIRouter(prefix="/organizations")
FIELDS = ("name", "organization_id", "litellm_organization_id")


async def _list_page(request, db, *, status=200, errors=None, values=None):
    organizations = await service.list_all(db)
    return await render(
        request,
        db,
        "organizations.html",
        status_code=status,
        organizations=organizations,
        team_counts=await service.team_counts(db),
        errors=errors or {},
        values=values or {},
        nav="organizations",
    )


@router.get("")
async def organizations_page(request: Request, login: LoginDep, db: SessionDep):
    return await _list_page(request, db)


@router.post("")
async def create_organization(request: Request, login: LoginDep, db: SessionDep):
    values = await form_of(request, login)
    errors = FormErrors()
    data = {field: optional_text(values, field) for field in FIELDS}
    data["name"] = text(values, "name")
    body = validated(OrganizationCreate, {k: v for k, v in data.items() if v is not None}, errors)
    if body is not None:
        try:
            org, created = await service.create(db, body)
        except ApiError as error:
            refusal(errors, error, FIELDS, conflict_field="organization_id")
            await audited(
                request,
                login,
                "organization.create",
                kind="organization",
                object_id=data["organization_id"],
                detail={"name": data["name"]},
                outcome=error.detail,
            )
        else:
            message = (
                f"Organization {org.name!r} created."
                if created
                else f"Organization {org.name!r} already existed, exactly so: nothing changed."
            )
            await audited(
                request,
                login,
                "organization.create",
                kind="organization",
                object_id=org.id,
                detail={"name": org.name},
                outcome="ok" if created else "unchanged",
            )
            return await done(db, login, f"/organizations/{org.id}", message)
    return await _list_page(request, db, status=422, errors=errors, values=data)


async def _detail_page(request, db, organization_id, *, status=200, errors=None, values=None):
    org = await service.get(db, organization_id)
    return await render(
        request,
        db,
        "organization.html",
        status_code=status,
        org=org,
        teams=await service.teams_of(db, org.id),
        errors=errors or {},
        values=values or {"name": org.name, "litellm_organization_id": org.litellm_organization_id},
        nav="organizations",
    )


@router.get("/{organization_id}")
async def organization_page(
    organization_id: str, request: Request, login: LoginDep, db: SessionDep
):
    return await _detail_page(request, db, organization_id)


@router.post("/{organization_id}")
async def update_organization(
    organization_id: str, request: Request, login: LoginDep, db: SessionDep
):
    values = await form_of(request, login)
    errors = FormErrors()
    data = {
        "name": text(values, "name"),
        "litellm_organization_id": optional_text(values, "litellm_organization_id"),
    }
    body = validated(OrganizationUpdate, data, errors)
    if body is not None:
        try:
            org = await service.update(db, organization_id, body)
        except ApiError as error:
            refusal(errors, error, FIELDS)
            await audited(
                request,
                login,
                "organization.update",
                kind="organization",
                object_id=organization_id,
                detail=data,
                outcome=error.detail,
            )
        else:
            await audited(
                request,
                login,
                "organization.update",
                kind="organization",
                object_id=organization_id,
                detail=data,
            )
            return await done(
                db, login, f"/organizations/{org.id}", f"Organization {org.name!r} saved."
            )
    return await _detail_page(request, db, organization_id, status=422, errors=errors, values=data)


@router.get("/{organization_id}/delete")
async def delete_organization_page(
    organization_id: str, request: Request, login: LoginDep, db: SessionDep
):
    return await _confirm_delete(request, db, organization_id)


async def _confirm_delete(request, db, organization_id, *, status=200, error=None):
    org = await service.get(db, organization_id)
    teams = await service.teams_of(db, org.id)
    return await render(
        request,
        db,
        "confirm.html",
        status_code=status,
        title=f"Delete organization {org.name}",
        lost=[f"the organization {org.name!r} ({org.id})"],
        blocked_by=[f"team {t.name!r} ({t.team_id})" for t in teams],
        blocked_reason="It still has teams: delete them first.",
        action=f"/organizations/{org.id}/delete",
        back=f"/organizations/{org.id}",
        error=error,
        nav="organizations",
    )


@router.post("/{organization_id}/delete")
async def delete_organization(
    organization_id: str, request: Request, login: LoginDep, db: SessionDep
):
    await form_of(request, login)
    try:
        org = await service.get(db, organization_id)
        name = org.name
        await service.delete(db, organization_id)
    except ApiError as error:
        await audited(
            request,
            login,
            "organization.delete",
            kind="organization",
            object_id=organization_id,
            outcome=error.detail,
        )
        return await _confirm_delete(request, db, organization_id, status=409, error=error.detail)
    await audited(
        request, login, "organization.delete", kind="organization", object_id=organization_id
    )
    return await done(db, login, "/organizations", f"Organization {name!r} deleted.")
