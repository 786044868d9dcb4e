"""The seed spec: one YAML file describing credentials and models (LiteLLM) and model groups,
organizations and teams (SaaS API), validated whole before any HTTP call.

Every problem is collected, not just the first: structure (types, required and unknown keys),
duplicates, cross-references (a group naming an unknown model, a team naming an unknown group or
organization) and credentials whose secret is not set. Each message names the file, the path in
it and what to do."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][\w.\-]*$")]
Label = Annotated[str, Field(min_length=1, max_length=256)]
Price = Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)]
Limit = Annotated[int, Field(ge=1, le=10**9)]


class SpecError(Exception):
    """The spec cannot be used; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class SecretRef(Strict):
    """Where a credential's secret comes from: never the value itself."""

    env: Name | None = None
    secret: Name | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.env is None) == (self.secret is None):
            raise ValueError("give exactly one of `env: VARIABLE` or `secret: store-entry`")
        return self

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"secret {self.secret}"


class Credential(Strict):
    name: Name
    provider: Name
    api_key: SecretRef
    api_base: Annotated[str, Field(pattern=r"^https?://")] | None = None
    api_version: Label | None = None


class Model(Strict):
    name: Label  # the public model name teams ask for
    model: Annotated[str, Field(pattern=r"^[\w.\-]+/.+$")]  # <provider>/<provider's id>
    credential: Name
    # LiteLLM's model_info.id: our identity for this deployment (names are not unique in LiteLLM).
    id: Name | None = None
    mode: Literal["chat", "completion", "embedding"] = "chat"
    # Prices as the setup guide gives them: per 1,000 tokens.
    input_cost_per_1k_tokens: Price = 0.0
    output_cost_per_1k_tokens: Price = 0.0
    rpm: Limit | None = None
    tpm: Limit | None = None

    @property
    def model_id(self) -> str:
        return self.id or self.name


class ModelGroup(Strict):
    name: Name
    models: Annotated[list[Label], Field(min_length=1)]
    description: Annotated[str, Field(max_length=2000)] = ""


class Organization(Strict):
    id: Name
    name: Label
    litellm_organization_id: Name | None = None


class Team(Strict):
    id: Name
    name: Label
    organization: Name
    model_groups: Annotated[list[Name], Field(min_length=1)]
    max_budget: Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
    budget_duration: Annotated[str, Field(pattern=r"^[1-9][0-9]{0,5}(s|m|h|d|mo)$")] | None = None
    rpm_limit: Limit | None = None
    tpm_limit: Limit | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Spec(Strict):
    credentials: list[Credential] = Field(default_factory=list)
    models: list[Model] = Field(default_factory=list)
    model_groups: list[ModelGroup] = Field(default_factory=list)
    organizations: list[Organization] = Field(default_factory=list)
    teams: list[Team] = Field(default_factory=list)


def _path(location: tuple) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def _structure_problems(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors(include_input=False):
        location = tuple(p for p in item["loc"] if not str(p).startswith("function-"))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key: remove it or check its spelling"
        elif item["type"] == "missing":
            message = "required key is missing"
        problems.append((_path(location), message))
    return problems


def _duplicates(items, key: Callable, what: str, section: str) -> list[tuple[str, str]]:
    counts = Counter(key(item) for item in items)
    return [
        (f"{section}[{index}]", f"{what} {key(item)!r} appears {counts[key(item)]} times")
        for index, item in enumerate(items)
        if counts[key(item)] > 1 and [key(i) for i in items].index(key(item)) != index
    ]


def _cross_reference_problems(
    spec: Spec, secret_is_set: Callable[[SecretRef], bool]
) -> list[tuple[str, str]]:
    problems = []
    problems += _duplicates(spec.credentials, lambda c: c.name, "credential", "credentials")
    problems += _duplicates(spec.models, lambda m: m.model_id, "model id", "models")
    problems += _duplicates(spec.model_groups, lambda g: g.name, "model group", "model_groups")
    problems += _duplicates(spec.organizations, lambda o: o.id, "organization id", "organizations")
    problems += _duplicates(
        spec.organizations, lambda o: o.name, "organization name", "organizations"
    )
    problems += _duplicates(spec.teams, lambda t: t.id, "team id", "teams")
    problems += _duplicates(
        spec.teams, lambda t: (t.organization, t.name), "team name in organization", "teams"
    )
    credentials = {c.name for c in spec.credentials}
    model_names = {m.name for m in spec.models}
    groups = {g.name for g in spec.model_groups}
    organizations = {o.id for o in spec.organizations}
    for index, credential in enumerate(spec.credentials):
        if not secret_is_set(credential.api_key):
            problems.append(
                (
                    f"credentials[{index}].api_key",
                    f"{credential.api_key.describe()} is not set: set it before seeding",
                )
            )
    for index, model in enumerate(spec.models):
        if model.credential not in credentials:
            problems.append(
                (
                    f"models[{index}].credential",
                    f"unknown credential {model.credential!r}: add it under `credentials`",
                )
            )
    for index, group in enumerate(spec.model_groups):
        for position, name in enumerate(group.models):
            if name not in model_names:
                problems.append(
                    (
                        f"model_groups[{index}].models[{position}]",
                        f"unknown model {name!r}: add it under `models` (names match exactly)",
                    )
                )
    for index, team in enumerate(spec.teams):
        if team.organization not in organizations:
            problems.append(
                (
                    f"teams[{index}].organization",
                    f"unknown organization {team.organization!r}: add it under `organizations`",
                )
            )
        for position, name in enumerate(team.model_groups):
            if name not in groups:
                problems.append(
                    (
                        f"teams[{index}].model_groups[{position}]",
                        f"unknown model group {name!r}: add it under `model_groups`",
                    )
                )
    return problems


def env_secret_checker(
    environ: Mapping[str, str] | None = None, store: Mapping[str, str] | None = None
) -> Callable[[SecretRef], bool]:
    environ = os.environ if environ is None else environ
    store = store or {}
    return lambda ref: bool(environ.get(ref.env)) if ref.env else bool(store.get(ref.secret))


def parse_spec(
    data: Any, source: str, secret_is_set: Callable[[SecretRef], bool] | None = None
) -> Spec:
    """The validated spec, or SpecError listing every problem as `source: path: message`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError([f"{source}: (top level): must be a mapping of sections"])
    try:
        spec = Spec.model_validate(data)
    except ValidationError as error:
        raise SpecError(
            [f"{source}: {path}: {message}" for path, message in _structure_problems(error)]
        ) from None
    problems = _cross_reference_problems(spec, secret_is_set or env_secret_checker())
    if problems:
        raise SpecError([f"{source}: {path}: {message}" for path, message in problems])
    return spec


def load_spec(path: str | Path, secret_is_set: Callable[[SecretRef], bool] | None = None) -> Spec:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise SpecError([f"{path}: cannot be read ({error.strerror})"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(parse)"
        raise SpecError([f"{path}: {where}: not valid YAML ({error})"]) from None
    return parse_spec(data, str(path), secret_is_set)
