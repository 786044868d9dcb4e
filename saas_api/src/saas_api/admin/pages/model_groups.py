"""Model groups: create and edit by choosing from the models LiteLLM serves; which teams use a
group; delete when none does."""

from __future__ import annotations

from fastapi import APIRouter, Request

from saas_api import model_groups as service
from saas_api.admin.forms import FormErrors, choices, names_list, refusal, text, validated
from saas_api.admin.web import LoginDep, audited, done, form_of, render
from saas_api.deps import LiteLLMDep, SessionDep, VaultDep
from saas_api.errors import ApiError
from saas_api.schemas import ModelGroupCreate, ModelGroupUpdate

router = APIRouter(prefix="/model-groups")
FIELDS = ("name", "models", "description")


async def _models_or_error(litellm) -> tuple[list[str], str | None]:
    try:
        return await service.available_models(litellm), None
    except ApiError as error:
        return [], error.detail


def _chosen(values: dict) -> list[str]:
    """The ticked models, then any typed in (LiteLLM may know them by now, or not)."""
    picked = choices(values, "models") + names_list(values, "other_models")
    return list(dict.fromkeys(picked))


def _typed(values: dict) -> dict:
    """What the form showed, to show it again after a refusal: the ticks as ticks, the typed
    names as typed."""
    return {
        "models": choices(values, "models"),
        "other_models": text(values, "other_models"),
        "description": text(values, "description"),
    }


@router.get("")
async def model_groups_page(request: Request, login: LoginDep, db: SessionDep):
    groups = await service.list_all(db)
    used_by = {g.name: await service.group_teams(db, g.name) for g in groups}
    return await render(
        request, db, "model_groups.html", groups=groups, used_by=used_by, nav="model-groups"
    )


async def _form_page(request, db, litellm, *, group=None, status=200, errors=None, values=None):
    available, unavailable = await _models_or_error(litellm)
    values = values or (
        {"name": group.name, "description": group.description, "models": group.models}
        if group
        else {"models": []}
    )
    chosen = list(values.get("models") or [])
    return await render(
        request,
        db,
        "model_group_form.html",
        status_code=status,
        group=group,
        teams=await service.group_teams(db, group.name) if group else [],
        available=available,
        # Models of the group LiteLLM no longer lists stay visible (and ticked) so they can go.
        listed=available + [m for m in chosen if m not in available],
        unavailable=unavailable,
        errors=errors or {},
        values=values,
        nav="model-groups",
    )


@router.get("/new")
async def new_model_group_page(
    request: Request, login: LoginDep, db: SessionDep, litellm: LiteLLMDep
):
    return await _form_page(request, db, litellm)


@router.post("/new")
async def create_model_group(
    request: Request, login: LoginDep, db: SessionDep, litellm: LiteLLMDep
):
    values = await form_of(request, login)
    errors = FormErrors()
    data = {
        "name": text(values, "name"),
        "models": _chosen(values),
        "description": text(values, "description"),
    }
    if not data["models"]:
        errors.add("models", "choose at least one model")
    body = validated(ModelGroupCreate, data, errors)
    if body is not None and not errors:
        try:
            group, created = await service.create(db, litellm, body)
        except ApiError as error:
            refusal(errors, error, FIELDS, conflict_field="name")
            await audited(
                request,
                login,
                "model_group.create",
                kind="model_group",
                object_id=data["name"],
                detail={"models": data["models"]},
                outcome=error.detail,
            )
        else:
            await audited(
                request,
                login,
                "model_group.create",
                kind="model_group",
                object_id=group.name,
                detail={"models": group.models},
                outcome="ok" if created else "unchanged",
            )
            message = (
                f"Model group {group.name!r} created."
                if created
                else f"Model group {group.name!r} already existed, exactly so: nothing changed."
            )
            return await done(db, login, f"/model-groups/{group.name}", message)
    values = {**_typed(values), "name": data["name"]}
    return await _form_page(request, db, litellm, status=422, errors=errors, values=values)


@router.get("/{name}")
async def model_group_page(
    name: str, request: Request, login: LoginDep, db: SessionDep, litellm: LiteLLMDep
):
    return await _form_page(request, db, litellm, group=await service.get(db, name))


@router.post("/{name}")
async def update_model_group(
    name: str,
    request: Request,
    login: LoginDep,
    db: SessionDep,
    litellm: LiteLLMDep,
    vault: VaultDep,
):
    values = await form_of(request, login)
    errors = FormErrors()
    data = {"name": name, "models": _chosen(values), "description": text(values, "description")}
    if not data["models"]:
        errors.add("models", "choose at least one model")
    body = validated(
        ModelGroupUpdate, {"models": data["models"], "description": data["description"]}, errors
    )
    if body is not None and not errors:
        try:
            await service.update(db, litellm, vault, name, body)
        except ApiError as error:
            refusal(errors, error, FIELDS)
            await audited(
                request,
                login,
                "model_group.update",
                kind="model_group",
                object_id=name,
                detail={"models": data["models"]},
                outcome=error.detail,
            )
        else:
            await audited(
                request,
                login,
                "model_group.update",
                kind="model_group",
                object_id=name,
                detail={"models": data["models"]},
            )
            return await done(db, login, f"/model-groups/{name}", f"Model group {name!r} saved.")
    group = await service.get(db, name)
    return await _form_page(
        request, db, litellm, group=group, status=422, errors=errors, values=_typed(values)
    )


async def _confirm_delete(request, db, name, *, status=200, error=None):
    group = await service.get(db, name)
    teams = await service.group_teams(db, name)
    return await render(
        request,
        db,
        "confirm.html",
        status_code=status,
        title=f"Delete model group {name}",
        lost=[f"the model group {name!r} ({', '.join(group.models)})"],
        blocked_by=[f"team {t}" for t in teams],
        blocked_reason="Teams use it: change their groups first.",
        action=f"/model-groups/{name}/delete",
        back=f"/model-groups/{name}",
        error=error,
        nav="model-groups",
    )


@router.get("/{name}/delete")
async def delete_model_group_page(name: str, request: Request, login: LoginDep, db: SessionDep):
    return await _confirm_delete(request, db, name)


@router.post("/{name}/delete")
async def delete_model_group(name: str, request: Request, login: LoginDep, db: SessionDep):
    await form_of(request, login)
    try:
        await service.delete(db, name)
    except ApiError as error:
        await audited(
            request,
            login,
            "model_group.delete",
            kind="model_group",
            object_id=name,
            outcome=error.detail,
        )
        return await _confirm_delete(request, db, name, status=409, error=error.detail)
    await audited(request, login, "model_group.delete", kind="model_group", object_id=name)
    return await done(db, login, "/model-groups", f"Model group {name!r} deleted.")
