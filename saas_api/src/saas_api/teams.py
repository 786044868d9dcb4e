"""Teams and their LiteLLM side, crash-safe.

The rule: the database records what we intend first (team id, key alias, a key value generated
here, encrypted), then LiteLLM is brought to match, adopting whatever an earlier interrupted
attempt left there, and only then is the team marked active. Every step can be repeated, so a
retry after a failure at any point converges on exactly one LiteLLM team and one key."""

from __future__ import annotations

import secrets
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from saas_api.errors import ApiError
from saas_api.keys import KeyVault, key_hash, new_key
from saas_api.litellm import LiteLLMClient, LiteLLMRejected, LiteLLMUnavailable
from saas_api.models import Credit, ModelGroup, Organization, Team, TeamModelGroup
from saas_api.schemas import CreditRequest, TeamCreate, TeamUpdate

# What a create request says, compared field by field with an existing team on a retry.
COMPARED_FIELDS = (
    "name",
    "organization_id",
    "max_budget",
    "budget_duration",
    "rpm_limit",
    "tpm_limit",
    "metadata",
    "model_groups",
)


def money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.000001"))


async def load_team(session: AsyncSession, team_id: str, *, for_update: bool = False) -> Team:
    query = select(Team).where(Team.team_id == team_id)
    if for_update:
        # The row as the lock finds it, not as this session last saw it.
        query = query.with_for_update().execution_options(populate_existing=True)
    team = await session.scalar(query)
    if team is None:
        raise ApiError(404, f"team {team_id!r} does not exist")
    return team


async def page(
    session: AsyncSession,
    *,
    search: str | None = None,
    status: str | None = None,
    organization_id: str | None = None,
    offset: int = 0,
    limit: int = 25,
) -> tuple[list[Team], int]:
    """One page of teams by id, and how many match: `search` is a case-insensitive part of the
    team's id or name, or of its organization's id or name."""
    query = select(Team)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.join(Organization).where(
            Team.team_id.ilike(pattern)
            | Team.name.ilike(pattern)
            | Organization.id.ilike(pattern)
            | Organization.name.ilike(pattern)
        )
    if status:
        query = query.where(Team.status == status)
    if organization_id:
        query = query.where(Team.organization_id == organization_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Team.team_id).offset(offset).limit(limit))
    return list(rows), int(total or 0)


async def status_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(Team.status, func.count()).group_by(Team.status))
    return dict(rows.all())


async def budgets(session: AsyncSession) -> dict[str, tuple[str, Decimal, str]]:
    """(name, max_budget, status) of every team by id, for the dashboard's budget table."""
    rows = await session.execute(select(Team.team_id, Team.name, Team.max_budget, Team.status))
    return {team_id: (name, budget, status) for team_id, name, budget, status in rows.all()}


async def resolve_groups(
    session: AsyncSession, names: list[str] | None, default_group: str | None, *, field: str
) -> list[ModelGroup]:
    """The model groups a team gets. None means the configured default; there is no "all
    models" (LiteLLM reads an empty model list as every model)."""
    if not names:
        if not default_group:
            raise ApiError(
                422,
                f"{field}: a team needs at least one model group and no default is configured "
                "(DEFAULT_MODEL_GROUP); name the groups this team may use",
            )
        names = [default_group]
    rows = await session.scalars(select(ModelGroup).where(ModelGroup.name.in_(names)))
    found = {group.name: group for group in rows}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ApiError(422, f"{field}: unknown model group(s): {', '.join(unknown)}")
    return [found[n] for n in names]


def union_models(groups: list[ModelGroup]) -> list[str]:
    return sorted({model for group in groups for model in group.models})


async def team_models(session: AsyncSession, team: Team) -> list[str]:
    groups = await session.scalars(select(ModelGroup).where(ModelGroup.name.in_(team.group_names)))
    return union_models(list(groups))


def _differences(team: Team, request: TeamCreate, groups: list[str]) -> list[str]:
    wanted = {
        "name": request.name,
        "organization_id": request.organization_id,
        "max_budget": money(request.max_budget),
        "budget_duration": request.budget_duration,
        "rpm_limit": request.rpm_limit,
        "tpm_limit": request.tpm_limit,
        "metadata": request.metadata or {},
        "model_groups": sorted(groups),
    }
    have = {
        "name": team.name,
        "organization_id": team.organization_id,
        "max_budget": money(team.max_budget),
        "budget_duration": team.budget_duration,
        "rpm_limit": team.rpm_limit,
        "tpm_limit": team.tpm_limit,
        "metadata": team.metadata_,
        "model_groups": team.group_names,
    }
    return [field for field in COMPARED_FIELDS if wanted[field] != have[field]]


# the LiteLLM side -----------------------------------------------------------------------------


def litellm_team_fields(team: Team, models: list[str]) -> dict:
    """Everything LiteLLM's team carries; explicit nulls clear limits LiteLLM would keep."""
    return {
        "team_alias": team.name,
        "max_budget": float(team.max_budget),
        "budget_duration": team.budget_duration,
        "rpm_limit": team.rpm_limit,
        "tpm_limit": team.tpm_limit,
        "models": models,
        "metadata": {**team.metadata_, "saas_organization_id": team.organization_id},
    }


async def ensure_litellm_team(
    litellm: LiteLLMClient, team: Team, models: list[str], *, new: bool = False
) -> None:
    """`new`: the team was recorded by this request, so LiteLLM most likely has no such team:
    create it straight away (LiteLLM refuses an existing team id with a 400, adopted below)
    instead of asking first. Every LiteLLM admin request costs it 20-70 ms of CPU."""
    if not models:
        raise ApiError(422, f"team {team.team_id!r} would get no models (LiteLLM reads: all)")
    fields = litellm_team_fields(team, models)
    if new or await litellm.get_team(team.team_id) is None:
        try:
            await litellm.create_team(team.team_id, **fields)
            return
        except LiteLLMRejected:
            # Created meanwhile by a concurrent retry: adopt it below.
            if await litellm.get_team(team.team_id) is None:
                raise
    await litellm.update_team(team.team_id, **fields)


async def ensure_litellm_key(
    litellm: LiteLLMClient, team: Team, key: str, alias: str, models: list[str], *, new=False
) -> None:
    """`new`: the key value was generated by this request and never sent anywhere, so LiteLLM
    cannot have it. Otherwise ask first: LiteLLM answers a /key/generate of a key it already
    holds with 200 again, not with a refusal."""
    fields = {"models": models, "team_id": team.team_id, "key_alias": alias}
    if new or await litellm.get_key(key) is None:
        try:
            await litellm.generate_key(key, metadata={"saas_team_id": team.team_id}, **fields)
            return
        except LiteLLMRejected:
            if await litellm.get_key(key) is None:
                raise
    await litellm.update_key(key, **fields)


async def sync_litellm(litellm: LiteLLMClient, vault: KeyVault, team: Team, models: list[str]):
    """Make LiteLLM's team and key match the stored team (idempotent)."""
    key = vault.decrypt(team.key_ciphertext)
    await ensure_litellm_team(litellm, team, models)
    await ensure_litellm_key(litellm, team, key, team.key_alias(), models)
    await litellm.set_key_blocked(key, team.status == "suspended")


def litellm_failure(error: Exception, team_id: str, action: str) -> ApiError:
    if isinstance(error, LiteLLMUnavailable):
        return ApiError(
            503,
            f"{action}: LiteLLM is unavailable ({error}); the change is recorded, retry the same "
            "request to finish it",
            team_id=team_id,
        )
    return ApiError(502, f"{action}: LiteLLM refused it ({error})", team_id=team_id)


# create ---------------------------------------------------------------------------------------


async def record_intent(
    session: AsyncSession, vault: KeyVault, request: TeamCreate, groups: list[str]
) -> Team:
    """Step 1: the team row in state `creating`, with the identity LiteLLM will get."""
    key = new_key()
    team = Team(
        team_id=request.litellm_team_id or f"team_{secrets.token_hex(8)}",
        name=request.name,
        organization_id=request.organization_id,
        max_budget=money(request.max_budget),
        budget_duration=request.budget_duration,
        rpm_limit=request.rpm_limit,
        tpm_limit=request.tpm_limit,
        metadata_=request.metadata or {},
        managed_by=request.managed_by,
        status="creating",
        key_generation=1,
        key_ciphertext=vault.encrypt(key),
        key_hash=key_hash(key),
        group_links=[TeamModelGroup(group_name=name) for name in groups],
    )
    session.add(team)
    await session.commit()
    return team


async def mark_active(session: AsyncSession, team: Team) -> None:
    """Last step: LiteLLM has the team and the key."""
    team.status = "active"
    await session.commit()


async def find_existing(session: AsyncSession, request: TeamCreate) -> Team | None:
    if request.litellm_team_id:
        return await session.get(Team, request.litellm_team_id, populate_existing=True)
    return await session.scalar(
        select(Team).where(
            Team.organization_id == request.organization_id, Team.name == request.name
        )
    )


async def create_team(
    session: AsyncSession,
    litellm: LiteLLMClient,
    vault: KeyVault,
    request: TeamCreate,
    default_group: str | None,
) -> tuple[Team, bool]:
    """Returns the team and whether this call created it (False: an identical one existed)."""
    if await session.get(Organization, request.organization_id) is None:
        raise ApiError(
            422, f"organization_id: organization {request.organization_id!r} does not exist"
        )
    groups = await resolve_groups(
        session, request.model_groups, default_group, field="model_groups"
    )
    group_names = [g.name for g in groups]
    created = False
    team = await find_existing(session, request)
    if team is None:
        try:
            team = await record_intent(session, vault, request, group_names)
            created = True
        except IntegrityError:
            await session.rollback()  # a concurrent identical request won the insert
            team = await find_existing(session, request)
            if team is None:
                raise ApiError(
                    409, "a team with this name already exists in the organization"
                ) from None
    if not created:
        differing = _differences(team, request, group_names)
        if differing:
            raise ApiError(
                409,
                f"team {team.team_id!r} already exists with different {', '.join(differing)}",
                fields=differing,
            )
        if team.status not in ("creating", "active", "suspended"):
            raise ApiError(409, f"team {team.team_id!r} is being deleted")
    if team.status == "creating":
        # One request at a time brings LiteLLM in line: an identical create running now (a
        # client's retry beside its lost first attempt) holds this lock until it has marked the
        # team active, and this one then finds nothing left to do instead of racing it through
        # LiteLLM's check-then-insert of the same team and key.
        team = await load_team(session, team.team_id, for_update=True)
    if team.status == "creating":
        try:
            models = union_models(groups)
            key = vault.decrypt(team.key_ciphertext)
            await ensure_litellm_team(litellm, team, models, new=created)
            await ensure_litellm_key(litellm, team, key, team.key_alias(), models, new=created)
        except (LiteLLMUnavailable, LiteLLMRejected) as error:
            raise litellm_failure(error, team.team_id, "team creation") from None
        await mark_active(session, team)
    return team, created


# changes --------------------------------------------------------------------------------------


async def push(
    session: AsyncSession, litellm: LiteLLMClient, vault: KeyVault, team: Team, action: str
) -> None:
    """After a committed change: bring LiteLLM in line. On failure the stored change stands and
    repeating the request (or any later change) finishes it."""
    models = await team_models(session, team)
    try:
        await sync_litellm(litellm, vault, team, models)
    except (LiteLLMUnavailable, LiteLLMRejected) as error:
        raise litellm_failure(error, team.team_id, action) from None


def require_settled(team: Team) -> None:
    if team.status == "creating":
        raise ApiError(
            409,
            f"team {team.team_id!r} is still being created: repeat its create request to finish",
        )
    if team.status == "deleting":
        raise ApiError(409, f"team {team.team_id!r} is being deleted: repeat the delete")


async def update_team(
    session: AsyncSession, litellm: LiteLLMClient, vault: KeyVault, team_id: str, body: TeamUpdate
) -> Team:
    """Sets the fields the request names (omitted ones stay), then pushes the stored change to
    LiteLLM's team and key."""
    team = await load_team(session, team_id, for_update=True)
    require_settled(team)
    fields = body.model_fields_set
    for required in ("name", "max_budget", "model_groups", "metadata"):
        if required in fields and getattr(body, required) is None:
            raise ApiError(422, f"{required}: cannot be null", fields=[required])
    if "model_groups" in fields:
        groups = await resolve_groups(session, body.model_groups, None, field="model_groups")
        wanted = {g.name for g in groups}
        team.group_links = [link for link in team.group_links if link.group_name in wanted] + [
            TeamModelGroup(group_name=name) for name in sorted(wanted - set(team.group_names))
        ]
    for field in ("name", "budget_duration", "rpm_limit", "tpm_limit"):
        if field in fields:
            setattr(team, field, getattr(body, field))
    if "max_budget" in fields:
        team.max_budget = money(body.max_budget)
    if "metadata" in fields:
        team.metadata_ = body.metadata
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ApiError(
            409, f"name: the organization already has a team named {body.name!r}", fields=["name"]
        ) from None
    await session.refresh(team)
    await push(session, litellm, vault, team, "team update")
    return team


async def set_status(
    session: AsyncSession, litellm: LiteLLMClient, vault: KeyVault, team_id: str, status: str
) -> Team:
    """`suspended`: the key stops working (LiteLLM blocks it), spend and budget are kept;
    `active`: it works again."""
    action = {"suspended": "team suspension", "active": "team resumption"}[status]
    team = await load_team(session, team_id, for_update=True)
    require_settled(team)
    team.status = status
    await session.commit()
    await session.refresh(team)
    await push(session, litellm, vault, team, action)
    return team


async def add_credits(
    session: AsyncSession,
    litellm: LiteLLMClient,
    vault: KeyVault,
    team_id: str,
    body: CreditRequest,
) -> Team:
    """Adds `amount` to the team's max_budget. With a `reference`, a repeat adds nothing."""
    team = await load_team(session, team_id, for_update=True)
    require_settled(team)
    already = body.reference is not None and await session.scalar(
        select(Credit.id).where(Credit.team_id == team_id, Credit.reference == body.reference)
    )
    if not already:
        amount = money(body.amount)
        session.add(Credit(team_id=team_id, amount=amount, reference=body.reference))
        team.max_budget = money(team.max_budget) + amount
        await session.commit()
        await session.refresh(team)
    await push(session, litellm, vault, team, "budget top-up")
    return team


async def rotate_key(
    session: AsyncSession, litellm: LiteLLMClient, vault: KeyVault, team: Team
) -> None:
    """New key first (recorded, then issued), old key deleted, then the swap: a retry after any
    failure reuses the recorded next key, so no second key is ever issued."""
    require_settled(team)
    if team.pending_key_ciphertext is None:
        key = new_key()
        team.pending_key_ciphertext = vault.encrypt(key)
        team.pending_key_hash = key_hash(key)
        await session.commit()
    new_value = vault.decrypt(team.pending_key_ciphertext)
    old_value = vault.decrypt(team.key_ciphertext)
    generation = team.key_generation + 1
    models = await team_models(session, team)
    try:
        await ensure_litellm_key(litellm, team, new_value, team.key_alias(generation), models)
        await litellm.set_key_blocked(new_value, team.status == "suspended")
        await litellm.set_key_blocked(old_value, True)
        await litellm.delete_key(old_value)
    except (LiteLLMUnavailable, LiteLLMRejected) as error:
        raise litellm_failure(error, team.team_id, "key rotation") from None
    team.key_ciphertext, team.key_hash = team.pending_key_ciphertext, team.pending_key_hash
    team.pending_key_ciphertext = team.pending_key_hash = None
    team.key_generation = generation
    await session.commit()


async def delete_team(
    session: AsyncSession, litellm: LiteLLMClient, vault: KeyVault, team: Team
) -> None:
    team.status = "deleting"
    await session.commit()
    keys = [team.key_ciphertext, team.pending_key_ciphertext]
    try:
        for ciphertext in filter(None, keys):
            key = vault.decrypt(ciphertext)
            await litellm.set_key_blocked(key, True)
            await litellm.delete_key(key)
        await litellm.delete_team(team.team_id)
    except (LiteLLMUnavailable, LiteLLMRejected) as error:
        raise litellm_failure(error, team.team_id, "team deletion") from None
    await session.delete(team)
    await session.commit()
