"""Model groups: named sets of LiteLLM model names that teams are given access through (the
rules: saas_api/model_groups.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from saas_api import model_groups as service
from saas_api.deps import AdminDep, LiteLLMDep, SessionDep, VaultDep
from saas_api.models import ModelGroup
from saas_api.schemas import ModelGroupCreate, ModelGroupOut, ModelGroupUpdate

router = APIRouter(prefix="/api/model-groups", tags=["model groups"], dependencies=[AdminDep])


async def out(session, group: ModelGroup) -> ModelGroupOut:
    return ModelGroupOut(
        name=group.name,
        description=group.description,
        models=group.models,
        teams=await service.group_teams(session, group.name),
        managed_by=group.managed_by,
        created_at=group.created_at,
        updated_at=group.updated_at,
    )


@router.post("/create", response_model=ModelGroupOut, status_code=201)
async def create_model_group(
    body: ModelGroupCreate, session: SessionDep, litellm: LiteLLMDep, response: Response
):
    group, created = await service.create(session, litellm, body)
    if not created:
        response.status_code = 200
    return await out(session, group)


@router.get("", response_model=list[ModelGroupOut])
async def list_model_groups(session: SessionDep):
    return [await out(session, g) for g in await service.list_all(session)]


@router.get("/{name}", response_model=ModelGroupOut)
async def get_model_group(name: str, session: SessionDep):
    return await out(session, await service.get(session, name))


@router.put("/{name}", response_model=ModelGroupOut)
async def update_model_group(
    name: str, body: ModelGroupUpdate, session: SessionDep, litellm: LiteLLMDep, vault: VaultDep
):
    return await out(session, await service.update(session, litellm, vault, name, body))


@router.delete("/{name}")
async def delete_model_group(name: str, session: SessionDep):
    await service.delete(session, name)
    return {"deleted": name}
