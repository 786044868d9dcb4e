"""Request and response bodies, one family per resource. Requests are strict (a string is not a
number) and refuse unknown fields, so a typo is an error naming the field, not a silent no-op."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][\w.\-]*$")]
Name = Annotated[str, Field(min_length=1, max_length=256)]
Money = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
Limit = Annotated[int, Field(ge=1, le=10**9)]
# LiteLLM's budget periods: seconds, minutes, hours, days, months ("30d", "1mo").
Duration = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,5}(s|m|h|d|mo)$")]
ModelName = Annotated[str, Field(min_length=1, max_length=256)]
# Set at creation by a tool managing the object (the seed: "gateway-seed"); never changed after.
ManagedBy = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.\-]*$")]


def _distinct(models: list[str]) -> list[str]:
    duplicates = sorted({m for m in models if models.count(m) > 1})
    if duplicates:
        raise ValueError(f"lists {', '.join(duplicates)} more than once")
    return models


ModelList = Annotated[
    list[ModelName], Field(min_length=1, max_length=500), AfterValidator(_distinct)
]
GroupList = Annotated[list[Identifier], Field(max_length=50), AfterValidator(_distinct)]


class Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


# organizations --------------------------------------------------------------------------------


class OrganizationCreate(Request):
    name: Name
    litellm_organization_id: Identifier | None = None
    organization_id: Identifier | None = None
    managed_by: ManagedBy | None = None


class OrganizationUpdate(Request):
    name: Name | None = None
    litellm_organization_id: Identifier | None = None


class TeamSummary(BaseModel):
    team_id: str
    name: str
    status: str


class OrganizationOut(BaseModel):
    organization_id: str
    name: str
    litellm_organization_id: str | None
    managed_by: str | None
    created_at: datetime
    updated_at: datetime
    teams: list[TeamSummary] | None = None


# model groups ---------------------------------------------------------------------------------


class ModelGroupCreate(Request):
    name: Identifier
    models: ModelList
    description: Annotated[str, Field(max_length=2000)] = ""
    managed_by: ManagedBy | None = None


class ModelGroupUpdate(Request):
    models: ModelList | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None


class ModelGroupOut(BaseModel):
    name: str
    description: str
    models: list[str]
    teams: list[str]
    managed_by: str | None
    created_at: datetime
    updated_at: datetime


# teams ----------------------------------------------------------------------------------------

Metadata = Annotated[dict[str, Any], Field(max_length=50)]


class TeamCreate(Request):
    name: Name
    organization_id: Identifier
    litellm_team_id: Identifier | None = None
    max_budget: Money
    model_groups: GroupList | None = None
    budget_duration: Duration | None = None
    rpm_limit: Limit | None = None
    tpm_limit: Limit | None = None
    metadata: Metadata | None = None
    managed_by: ManagedBy | None = None


class TeamUpdate(Request):
    """Omitted fields stay as they are; an explicit null clears a limit or the budget period."""

    name: Name | None = None
    max_budget: Money | None = None
    model_groups: Annotated[GroupList, Field(min_length=1)] | None = None
    budget_duration: Duration | None = None
    rpm_limit: Limit | None = None
    tpm_limit: Limit | None = None
    metadata: Metadata | None = None


class CreditRequest(Request):
    amount: Annotated[float, Field(gt=0, le=1e9, allow_inf_nan=False)]
    # Makes a retried top-up count once: the same reference adds nothing the second time.
    reference: Identifier | None = None


class TeamOut(BaseModel):
    team_id: str
    name: str
    organization_id: str
    status: str
    max_budget: float
    budget_duration: str | None
    rpm_limit: int | None
    tpm_limit: int | None
    metadata: dict[str, Any]
    model_groups: list[str]
    models: list[str]
    key_alias: str
    # LiteLLM's token for the key (its SHA-256): identifies it without revealing it.
    key_hash: str
    managed_by: str | None
    created_at: datetime
    updated_at: datetime
    # Only on the single-team answer (never in lists): the key itself and LiteLLM's spend.
    virtual_key: str | None = None
    spend: float | None = None
    remaining_budget: float | None = None


class ModelSpend(BaseModel):
    model: str
    spend: float


class DaySpend(BaseModel):
    date: str  # YYYY-MM-DD, LiteLLM's UTC day
    spend: float


class UsageOut(BaseModel):
    team_id: str
    max_budget: float
    spend: float
    remaining_budget: float
    budget_duration: str | None
    models: list[ModelSpend]
    days: list[DaySpend] = []
