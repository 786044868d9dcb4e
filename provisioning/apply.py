"""Carry out a plan: each change is one write to LiteLLM or the SaaS API, in the plan's order
(credentials → models → groups → organizations → teams; deletions last, reversed). Afterwards
the live state is read back and planned again: anything not "unchanged" then is an error.

Issued team keys are returned to the caller (the CLI writes them to a 0600 file); nothing here
prints a secret."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from provisioning import snapshot
from provisioning.clients import LiteLLMAdmin, ProvisioningError, SaasAdmin
from provisioning.drift import drift
from provisioning.plan import (
    MANAGED_BY,
    Change,
    desired_state,
    fingerprint,
    live_credentials,
    live_model_groups,
    live_models,
    live_organizations,
    live_teams,
    per_token,
    plan,
)
from provisioning.spec import Spec

# Every LiteLLM worker keeps its own copy of the database's models and reloads it on this
# interval (tasks/litellm.py writes it into general_settings.proxy_config_reload_interval_seconds).
# Until each worker has reloaded, /model/info answers from whichever worker takes the connection:
# a read right after /model/new may not list the new model yet.
LITELLM_MODEL_RELOAD_SECONDS = 30
# The SaaS API's live check of a group's models lags /model/new by up to one reload.
MODEL_VISIBILITY_SECONDS = 3 * LITELLM_MODEL_RELOAD_SECONDS


@dataclass
class Result:
    changes: list[Change]
    issued_keys: dict[str, str] = field(default_factory=dict)  # team id → virtual key


def live_state(snapshot: dict[str, list[dict]]) -> dict[str, dict[str, dict]]:
    return {
        "credential": live_credentials(snapshot["credentials"]),
        "model": live_models(snapshot["models"]),
        "model_group": live_model_groups(snapshot["model_groups"]),
        "organization": live_organizations(snapshot["organizations"]),
        "team": live_teams(snapshot["teams"]),
    }


def plan_against(
    spec: Spec, secrets: dict[str, str], snapshot: dict[str, list[dict]], *, prune: bool = False
) -> list[Change]:
    """The spec's changes against a live snapshot, plus a repair for every spec team whose
    LiteLLM side drifted (the SaaS API pushes its stored state again: field `litellm`)."""
    changes = plan(desired_state(spec, secrets), live_state(snapshot), prune=prune)
    drifted = {d.team_id for d in drift(snapshot) if d.team_id}
    return [
        Change(c.kind, c.name, "updated", ("litellm",))
        if c.kind == "team" and c.action == "unchanged" and c.name in drifted
        else c
        for c in changes
    ]


def make_plan(
    spec: Spec,
    secrets: dict[str, str],
    litellm: LiteLLMAdmin,
    saas: SaasAdmin,
    *,
    prune: bool = False,
) -> list[Change]:
    """plan_against() the live state read now."""
    return plan_against(spec, secrets, snapshot.read(litellm, saas), prune=prune)


def apply(
    spec: Spec,
    secrets: dict[str, str],
    changes: list[Change],
    litellm: LiteLLMAdmin,
    saas: SaasAdmin,
    *,
    progress: Callable[[int, int, Change], None] = lambda done, total, change: None,
    notice: Callable[[str], None] = lambda message: None,
    model_reload_seconds: float = LITELLM_MODEL_RELOAD_SECONDS,
) -> Result:
    """Write `changes`, then read back. `model_reload_seconds`: LiteLLM's model reload
    interval, waited out after model writes when it runs several processes; 0 when one
    process serves every request (nothing to wait for)."""
    by_kind = {
        "credential": {c.name: c for c in spec.credentials},
        "model": {m.model_id: m for m in spec.models},
        "model_group": {g.name: g for g in spec.model_groups},
        "organization": {o.id: o for o in spec.organizations},
        "team": {t.id: t for t in spec.teams},
    }
    result = Result(changes)
    todo = [c for c in changes if c.action != "unchanged"]
    last_model_write = None
    for done, change in enumerate(todo, 1):
        progress(done, len(todo), change)
        item = by_kind[change.kind].get(change.name)
        writer = WRITERS[change.kind]
        issued = writer(change, item, secrets, litellm, saas)
        if issued:
            result.issued_keys[change.name] = issued
        if change.kind == "model":
            last_model_write = time.monotonic()
    if last_model_write is not None and model_reload_seconds:
        _wait_for_every_worker(last_model_write + model_reload_seconds, notice)
    if todo:
        prune = any(c.action == "deleted" for c in changes)
        left = [
            c
            for c in make_plan(spec, secrets, litellm, saas, prune=prune)
            if c.action != "unchanged"
        ]
        if left:
            raise ProvisioningError(
                "read back after applying, these still differ: " + "; ".join(map(str, left))
            )
    return result


def _wait_for_every_worker(reloaded_by: float, notice: Callable[[str], None]) -> None:
    """Until every LiteLLM worker has reloaded its models, both the read-back below and the next
    plan could see an old copy and plan the same model write again (a second seed must change
    nothing). The workers cannot be asked one by one, so wait out one reload interval."""
    left = reloaded_by + 5 - time.monotonic()
    if left > 0:
        notice(f"waiting {left:.0f} s for every LiteLLM worker to load the model changes")
        time.sleep(left)


# one writer per kind ---------------------------------------------------------------------------


def _credential(change, credential, secrets, litellm, saas):
    if change.action == "deleted":
        litellm.request("DELETE", f"/credentials/{change.name}", missing_ok=True)
        return None
    values = {"api_key": secrets[credential.name]}
    info = {
        "custom_llm_provider": credential.provider,
        "secret_fingerprint": fingerprint(secrets[credential.name]),
        "managed_by": MANAGED_BY,
    }
    for optional in ("api_base", "api_version"):
        value = getattr(credential, optional)
        info[optional] = value
        if value is not None:
            values[optional] = value
    body = {
        "credential_name": credential.name,
        "credential_values": values,
        "credential_info": info,
    }
    if change.action == "created":
        litellm.request("POST", "/credentials", json=body)
    else:
        litellm.request("PATCH", f"/credentials/{credential.name}", json=body)
    return None


def _model(change, model, secrets, litellm, saas):
    if change.action == "deleted":
        litellm.request("POST", "/model/delete", json={"id": change.name}, missing_ok=True)
        return None
    params = {
        "model": model.model,
        "litellm_credential_name": model.credential,
        "input_cost_per_token": per_token(model.input_cost_per_1k_tokens),
        "output_cost_per_token": per_token(model.output_cost_per_1k_tokens),
        "rpm": model.rpm,
        "tpm": model.tpm,
    }
    body = {
        "model_name": model.name,
        "litellm_params": params,
        "model_info": {"id": model.model_id, "mode": model.mode, "managed_by": MANAGED_BY},
    }
    if change.action == "created":
        litellm.request("POST", "/model/new", json=body)
    else:
        litellm.request("POST", "/model/update", json=body)
    return None


def _model_group(change, group, secrets, litellm, saas):
    if change.action == "deleted":
        saas.request("DELETE", f"/api/model-groups/{change.name}", missing_ok=True)
        return None
    body = {"models": group.models, "description": group.description}
    deadline = time.monotonic() + MODEL_VISIBILITY_SECONDS
    while True:
        try:
            if change.action == "created":
                saas.request(
                    "POST",
                    "/api/model-groups/create",
                    json={"name": group.name, "managed_by": MANAGED_BY, **body},
                )
            else:
                saas.request("PUT", f"/api/model-groups/{group.name}", json=body)
            return None
        except ProvisioningError as error:
            if "not known to LiteLLM" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(3)


def _organization(change, organization, secrets, litellm, saas):
    if change.action == "deleted":
        saas.request("DELETE", f"/api/organizations/{change.name}", missing_ok=True)
        return None
    body = {
        "name": organization.name,
        "litellm_organization_id": organization.litellm_organization_id,
    }
    if change.action == "created":
        saas.request(
            "POST",
            "/api/organizations/create",
            json={"organization_id": organization.id, "managed_by": MANAGED_BY, **body},
        )
    else:
        saas.request("PUT", f"/api/organizations/{organization.id}", json=body)
    return None


TEAM_FIELDS = ("name", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "metadata")


def _team(change, team, secrets, litellm, saas):
    if change.action == "deleted":
        saas.request("DELETE", f"/api/teams/{change.name}", missing_ok=True)
        return None
    body = {field: getattr(team, field) for field in TEAM_FIELDS} | {
        "model_groups": team.model_groups
    }
    if change.action == "created":
        created = saas.request(
            "POST",
            "/api/teams/create",
            json=body
            | {
                "litellm_team_id": team.id,
                "organization_id": team.organization,
                "managed_by": MANAGED_BY,
            },
        )
        return created.get("virtual_key")
    if "organization" in change.fields:
        raise ProvisioningError(
            f"team {team.id}: its organization cannot change; delete the team (drop it from the "
            "spec and apply with --prune) and create it again under the new organization"
        )
    # `litellm` alone (a drift repair) sends an empty change: the SaaS API pushes its state.
    saas.request(
        "PUT", f"/api/teams/{team.id}", json={f: body[f] for f in change.fields if f in body}
    )
    return None


WRITERS = {
    "credential": _credential,
    "model": _model,
    "model_group": _model_group,
    "organization": _organization,
    "team": _team,
}
