"""Teams: list with search and pagination; create under an organization; edit; top up; suspend
and resume; rotate and reveal the key; usage; delete. Every change is the domain layer's
(saas_api/teams.py), so the API's validation, idempotency and crash-safety rules hold here."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Query, Request

from saas_api import model_groups as group_service
from saas_api import organizations as organization_service
from saas_api import teams as service
from saas_api import usage
from saas_api.admin import chart
from saas_api.admin.forms import (
    FormErrors,
    choices,
    number,
    optional_text,
    refusal,
    text,
    validated,
)
from saas_api.admin.web import AdminSettingsDep, LoginDep, audited, done, form_of, render
from saas_api.deps import LiteLLMDep, SessionDep, SettingsDep, VaultDep
from saas_api.errors import ApiError
from saas_api.schemas import CreditRequest, TeamCreate, TeamUpdate

router = APIRouter(prefix="/teams")
FIELDS = (
    "name",
    "organization_id",
    "litellm_team_id",
    "model_groups",
    "max_budget",
    "budget_duration",
    "rpm_limit",
    "tpm_limit",
)
STATUSES = ("active", "suspended", "creating", "deleting")


@router.get("")
async def teams_page(
    request: Request,
    login: LoginDep,
    db: SessionDep,
    settings: AdminSettingsDep,
    q: str = Query(default="", max_length=200),
    status: str = Query(default=""),
    organization: str = Query(default="", max_length=128),
    page: int = Query(default=1, ge=1, le=100_000),
):
    size = settings.admin_page_size
    teams, total = await service.page(
        db,
        search=q.strip() or None,
        status=status if status in STATUSES else None,
        organization_id=organization or None,
        offset=(page - 1) * size,
        limit=size,
    )
    organizations = await organization_service.list_all(db)
    return await render(
        request,
        db,
        "teams.html",
        teams=teams,
        total=total,
        page=page,
        pages=max(1, -(-total // size)),
        q=q,
        status_filter=status,
        organization=organization,
        organizations=organizations,
        org_names={org.id: org.name for org in organizations},
        statuses=STATUSES,
        nav="teams",
    )


def _typed(values: dict) -> dict:
    """The form as it was typed, to show it again after a refusal."""
    shown = {field: text(values, field) for field in FIELDS if field != "model_groups"}
    return shown | {"model_groups": choices(values, "model_groups")}


def _team_data(values: dict, errors: FormErrors) -> dict:
    """The form as the API's request body: numbers as numbers, empty limits as none."""
    return {
        "name": text(values, "name"),
        "organization_id": text(values, "organization_id"),
        "litellm_team_id": optional_text(values, "litellm_team_id"),
        "model_groups": choices(values, "model_groups"),
        "max_budget": number(values, "max_budget", errors),
        "budget_duration": optional_text(values, "budget_duration"),
        "rpm_limit": number(values, "rpm_limit", errors, integer=True),
        "tpm_limit": number(values, "tpm_limit", errors, integer=True),
    }


async def _form_page(request, db, *, team=None, status=200, errors=None, values=None):
    if values is None:
        values = (
            {
                "name": team.name,
                "organization_id": team.organization_id,
                "model_groups": team.group_names,
                "max_budget": team.max_budget,
                "budget_duration": team.budget_duration,
                "rpm_limit": team.rpm_limit,
                "tpm_limit": team.tpm_limit,
            }
            if team
            else {"organization_id": request.query_params.get("organization", "")}
        )
    return await render(
        request,
        db,
        "team_form.html",
        status_code=status,
        team=team,
        organizations=await organization_service.list_all(db),
        groups=await group_service.list_all(db),
        errors=errors or {},
        values=values,
        nav="teams",
    )


@router.get("/new")
async def new_team_page(request: Request, login: LoginDep, db: SessionDep):
    return await _form_page(request, db)


@router.post("/new")
async def create_team(
    request: Request,
    login: LoginDep,
    db: SessionDep,
    litellm: LiteLLMDep,
    vault: VaultDep,
    settings: SettingsDep,
):
    values = await form_of(request, login)
    errors = FormErrors()
    data = _team_data(values, errors)
    if data["max_budget"] is None and "max_budget" not in errors:
        errors.add("max_budget", "is required")
    given = {k: v for k, v in data.items() if v not in (None, [])}
    # Validated even when a number did not parse, so every field's problem shows at once.
    body = validated(TeamCreate, given, errors)
    detail = {k: v for k, v in given.items() if k != "litellm_team_id"}
    if body is not None and not errors:
        try:
            team, created = await service.create_team(
                db, litellm, vault, body, settings.default_model_group
            )
        except ApiError as error:
            refusal(errors, error, FIELDS, conflict_field="litellm_team_id")
            await audited(
                request,
                login,
                "team.create",
                kind="team",
                object_id=error.extra.get("team_id") or data["litellm_team_id"],
                detail=detail,
                outcome=error.detail,
            )
        else:
            await audited(
                request,
                login,
                "team.create",
                kind="team",
                object_id=team.team_id,
                detail=detail,
                outcome="ok" if created else "unchanged",
            )
            message = (
                f"Team {team.name!r} created with its virtual key."
                if created
                else f"Team {team.name!r} already existed, exactly so: nothing changed."
            )
            return await done(db, login, f"/teams/{team.team_id}", message)
    return await _form_page(request, db, status=422, errors=errors, values=_typed(values))


async def _team_page(
    request, db, litellm, team_id, *, status=200, revealed=None, errors=None, reference=None
):
    team = await service.load_team(db, team_id)
    spend = await usage.team_spend(litellm, team_id)
    return await render(
        request,
        db,
        "team.html",
        status_code=status,
        team=team,
        organization=await organization_service.get(db, team.organization_id),
        models=await service.team_models(db, team),
        spend=spend,
        remaining=None if spend is None else max(float(team.max_budget) - spend, 0.0),
        revealed_key=revealed,
        # A fresh reference per form: a double-submitted top-up counts once (the API's rule).
        # After a refusal the same one, so that the retry the refusal asks for counts once too.
        credit_reference=reference or f"panel-{secrets.token_hex(8)}",
        errors=errors or {},
        nav="teams",
    )


@router.get("/{team_id}")
async def team_page(
    team_id: str, request: Request, login: LoginDep, db: SessionDep, litellm: LiteLLMDep
):
    return await _team_page(request, db, litellm, team_id)


@router.get("/{team_id}/edit")
async def edit_team_page(team_id: str, request: Request, login: LoginDep, db: SessionDep):
    return await _form_page(request, db, team=await service.load_team(db, team_id))


@router.post("/{team_id}/edit")
async def update_team(
    team_id: str,
    request: Request,
    login: LoginDep,
    db: SessionDep,
    litellm: LiteLLMDep,
    vault: VaultDep,
):
    values = await form_of(request, login)
    errors = FormErrors()
    data = _team_data(values, errors)
    data.pop("litellm_team_id")
    data.pop("organization_id")  # a team stays in its organization
    if data["max_budget"] is None and "max_budget" not in errors:
        errors.add("max_budget", "is required")
    if not data["model_groups"]:
        errors.add("model_groups", "choose at least one model group")
    body = validated(TeamUpdate, data, errors)
    if body is not None and not errors:
        try:
            team = await service.update_team(db, litellm, vault, team_id, body)
        except ApiError as error:
            refusal(errors, error, FIELDS)
            await audited(
                request,
                login,
                "team.update",
                kind="team",
                object_id=team_id,
                detail=data,
                outcome=error.detail,
            )
        else:
            await audited(
                request, login, "team.update", kind="team", object_id=team_id, detail=data
            )
            return await done(db, login, f"/teams/{team_id}", f"Team {team.name!r} saved.")
    team = await service.load_team(db, team_id)
    values = _typed(values) | {"organization_id": team.organization_id}
    return await _form_page(request, db, team=team, status=422, errors=errors, values=values)


@router.post("/{team_id}/credits")
async def add_credits(
    team_id: str,
    request: Request,
    login: LoginDep,
    db: SessionDep,
    litellm: LiteLLMDep,
    vault: VaultDep,
):
    values = await form_of(request, login)
    errors = FormErrors()
    data = {
        "amount": number(values, "amount", errors),
        "reference": optional_text(values, "reference"),
    }
    if data["amount"] is None and "amount" not in errors:
        errors.add("amount", "is required")
    given = {k: v for k, v in data.items() if v is not None}
    body = validated(CreditRequest, given, errors)
    if body is not None and not errors:
        try:
            team = await service.add_credits(db, litellm, vault, team_id, body)
        except ApiError as error:
            refusal(errors, error, ("amount",))
            await audited(
                request,
                login,
                "team.credits",
                kind="team",
                object_id=team_id,
                detail=data,
                outcome=error.detail,
            )
        else:
            await audited(
                request, login, "team.credits", kind="team", object_id=team_id, detail=data
            )
            return await done(
                db,
                login,
                f"/teams/{team_id}",
                f"Added ${body.amount:,.2f}: the budget is now ${float(team.max_budget):,.2f}.",
            )
    return await _team_page(
        request, db, litellm, team_id, status=422, errors=errors, reference=data["reference"]
    )


async def _status_change(request, login, db, litellm, vault, team_id, status, action, said):
    await form_of(request, login)
    try:
        team = await service.set_status(db, litellm, vault, team_id, status)
    except ApiError as error:
        await audited(request, login, action, kind="team", object_id=team_id, outcome=error.detail)
        return await _team_page(
            request, db, litellm, team_id, status=error.status, errors={"__all__": error.detail}
        )
    await audited(request, login, action, kind="team", object_id=team_id)
    return await done(db, login, f"/teams/{team_id}", f"Team {team.name!r} {said}.")


@router.post("/{team_id}/suspend")
async def suspend_team(
    team_id: str,
    request: Request,
    login: LoginDep,
    db: SessionDep,
    litellm: LiteLLMDep,
    vault: VaultDep,
):
    return await _status_change(
        request,
        login,
        db,
        litellm,
        vault,
        team_id,
        "suspended",
        "team.suspend",
        "suspended: its key is refused until you resume it",
    )


@router.post("/{team_id}/resume")
async def resume_team(
    team_id: str,
    request: Request,
    login: LoginDep,
    db: SessionDep,
    litellm: LiteLLMDep,
    vault: VaultDep,
):
    return await _status_change(
        request,
        login,
        db,
        litellm,
        vault,
        team_id,
        "active",
        "team.resume",
        "resumed: its key works again",
    )


@router.post("/{team_id}/reveal")
async def reveal_key(
    team_id: str,
    request: Request,
    login: LoginDep,
    db: SessionDep,
    litellm: LiteLLMDep,
    vault: VaultDep,
):
    """The key on this one answer only (never cached: no-store), and the log says who saw it."""
    await form_of(request, login)
    team = await service.load_team(db, team_id)
    service.require_settled(team)
    key = vault.decrypt(team.key_ciphertext)
    await audited(request, login, "team.reveal_key", kind="team", object_id=team_id)
    return await _team_page(request, db, litellm, team_id, revealed=key)


async def _confirm(request, db, team_id, kind, *, status=200, error=None):
    team = await service.load_team(db, team_id)
    if kind == "rotate":
        lost = [f"the current virtual key of {team.name!r} (it stops working at once)"]
        title, button = f"Rotate the key of team {team.name}", "Rotate the key"
    else:
        lost = [
            f"the team {team.name!r} ({team.team_id}), "
            f"its budget of ${float(team.max_budget):,.2f}",
            "its virtual key, in LiteLLM too (it stops working at once)",
            "its team in LiteLLM (spend records stay in LiteLLM's logs)",
        ]
        title, button = f"Delete team {team.name}", "Delete the team"
    return await render(
        request,
        db,
        "confirm.html",
        status_code=status,
        title=title,
        lost=lost,
        blocked_by=[],
        action=f"/teams/{team_id}/{kind}",
        back=f"/teams/{team_id}",
        button=button,
        error=error,
        nav="teams",
    )


@router.get("/{team_id}/rotate")
async def rotate_page(team_id: str, request: Request, login: LoginDep, db: SessionDep):
    return await _confirm(request, db, team_id, "rotate")


@router.post("/{team_id}/rotate")
async def rotate_key(
    team_id: str,
    request: Request,
    login: LoginDep,
    db: SessionDep,
    litellm: LiteLLMDep,
    vault: VaultDep,
):
    await form_of(request, login)
    try:
        team = await service.load_team(db, team_id, for_update=True)
        await service.rotate_key(db, litellm, vault, team)
    except ApiError as error:
        await audited(
            request, login, "team.rotate_key", kind="team", object_id=team_id, outcome=error.detail
        )
        return await _confirm(
            request, db, team_id, "rotate", status=error.status, error=error.detail
        )
    await audited(request, login, "team.rotate_key", kind="team", object_id=team_id)
    return await done(
        db,
        login,
        f"/teams/{team_id}",
        "Key rotated: the old key no longer works. Reveal the new one to hand it over.",
    )


@router.get("/{team_id}/delete")
async def delete_page(team_id: str, request: Request, login: LoginDep, db: SessionDep):
    return await _confirm(request, db, team_id, "delete")


@router.post("/{team_id}/delete")
async def delete_team(
    team_id: str,
    request: Request,
    login: LoginDep,
    db: SessionDep,
    litellm: LiteLLMDep,
    vault: VaultDep,
):
    await form_of(request, login)
    try:
        team = await service.load_team(db, team_id, for_update=True)
        name = team.name
        await service.delete_team(db, litellm, vault, team)
    except ApiError as error:
        await audited(
            request, login, "team.delete", kind="team", object_id=team_id, outcome=error.detail
        )
        return await _confirm(
            request, db, team_id, "delete", status=error.status, error=error.detail
        )
    await audited(request, login, "team.delete", kind="team", object_id=team_id)
    return await done(db, login, "/teams", f"Team {name!r} deleted, with its key and LiteLLM team.")


@router.get("/{team_id}/usage")
async def usage_page(
    team_id: str, request: Request, login: LoginDep, db: SessionDep, litellm: LiteLLMDep
):
    team = await service.load_team(db, team_id)
    try:
        report, error = await usage.team_usage(litellm, team), None
    except ApiError as refused:
        report, error = None, refused.detail
    return await render(
        request,
        db,
        "team_usage.html",
        team=team,
        report=report,
        error=error,
        days=chart.daily_bars(report.days) if report else None,
        nav="teams",
    )
