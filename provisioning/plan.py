"""What seeding would change: the spec and the live state brought to one shape per kind
(identity → comparable fields), then diffed. Identities are ours: credential name,
`model_info.id`, group name, organization id, team id.

A Change names its kind, identity, action and the fields that differ — never a value, so a plan
can be printed: a credential's secret shows up only as the field `api_key`, compared through a
fingerprint LiteLLM keeps in the credential's info (it never returns the value itself)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from provisioning.spec import Spec

KINDS = ("credential", "model", "model_group", "organization", "team")
Action = Literal["created", "updated", "unchanged", "deleted"]
# Marks what seeding created in LiteLLM, so pruning never touches anything else there.
MANAGED_BY = "gateway-seed"


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    action: Action
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        suffix = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{self.kind} {self.name}: {self.action}{suffix}"


def fingerprint(secret: str) -> str:
    """Identifies a secret value without revealing it (API keys are high-entropy)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:24]


def per_token(per_1k: float) -> float:
    return round(per_1k / 1000, 12)


def desired_state(spec: Spec, secrets: dict[str, str]) -> dict[str, dict[str, dict]]:
    """The spec as comparable fields per kind; `secrets` maps credential name → value."""
    return {
        "credential": {
            c.name: {
                "provider": c.provider,
                "api_base": c.api_base,
                "api_version": c.api_version,
                "api_key": fingerprint(secrets[c.name]),
            }
            for c in spec.credentials
        },
        "model": {
            m.model_id: {
                "name": m.name,
                "model": m.model,
                "credential": m.credential,
                "mode": m.mode,
                "input_cost_per_token": per_token(m.input_cost_per_1k_tokens),
                "output_cost_per_token": per_token(m.output_cost_per_1k_tokens),
                "rpm": m.rpm,
                "tpm": m.tpm,
            }
            for m in spec.models
        },
        "model_group": {
            g.name: {"models": sorted(g.models), "description": g.description}
            for g in spec.model_groups
        },
        "organization": {
            o.id: {"name": o.name, "litellm_organization_id": o.litellm_organization_id}
            for o in spec.organizations
        },
        "team": {
            t.id: {
                "name": t.name,
                "organization": t.organization,
                "model_groups": sorted(t.model_groups),
                "max_budget": round(t.max_budget, 6),
                "budget_duration": t.budget_duration,
                "rpm_limit": t.rpm_limit,
                "tpm_limit": t.tpm_limit,
                "metadata": t.metadata,
            }
            for t in spec.teams
        },
    }


def _managed(item: dict) -> bool:
    return item.get("managed_by") == MANAGED_BY


def _float(value) -> float | None:
    return None if value is None else float(value)


def live_credentials(listing: list[dict]) -> dict[str, dict]:
    """From LiteLLM's GET /credentials (values come back masked: the fingerprint is in info)."""
    live = {}
    for item in listing:
        info = item.get("credential_info") or {}
        live[item["credential_name"]] = {
            "provider": info.get("custom_llm_provider"),
            "api_base": info.get("api_base"),
            "api_version": info.get("api_version"),
            "api_key": info.get("secret_fingerprint"),
            "_managed": _managed(info),
        }
    return live


def live_models(listing: list[dict]) -> dict[str, dict]:
    """From LiteLLM's GET /model/info (one entry per deployment, keyed by model_info.id)."""
    live = {}
    for item in listing:
        info, params = item.get("model_info") or {}, item.get("litellm_params") or {}
        if not info.get("id"):
            continue
        live[info["id"]] = {
            "name": item.get("model_name"),
            "model": params.get("model"),
            "credential": params.get("litellm_credential_name"),
            "mode": info.get("mode"),
            "input_cost_per_token": _float(params.get("input_cost_per_token")),
            "output_cost_per_token": _float(params.get("output_cost_per_token")),
            "rpm": params.get("rpm"),
            "tpm": params.get("tpm"),
            "_managed": _managed(info),
        }
    return live


def live_model_groups(listing: list[dict]) -> dict[str, dict]:
    return {
        g["name"]: {
            "models": sorted(g["models"]),
            "description": g.get("description", ""),
            "_managed": _managed(g),
        }
        for g in listing
    }


def live_organizations(listing: list[dict]) -> dict[str, dict]:
    return {
        o["organization_id"]: {
            "name": o["name"],
            "litellm_organization_id": o.get("litellm_organization_id"),
            "_managed": _managed(o),
        }
        for o in listing
    }


def live_teams(listing: list[dict]) -> dict[str, dict]:
    return {
        t["team_id"]: {
            "name": t["name"],
            "organization": t["organization_id"],
            "model_groups": sorted(t["model_groups"]),
            "max_budget": round(float(t["max_budget"]), 6),
            "budget_duration": t.get("budget_duration"),
            "rpm_limit": t.get("rpm_limit"),
            "tpm_limit": t.get("tpm_limit"),
            "metadata": t.get("metadata") or {},
            "_managed": _managed(t),
        }
        for t in listing
    }


def plan(
    desired: dict[str, dict[str, dict]],
    live: dict[str, dict[str, dict]],
    *,
    prune: bool = False,
) -> list[Change]:
    """Creates and updates in dependency order (credentials first, teams last), then, with
    `prune`, deletions of what the spec no longer names, in reverse order. Only what seeding
    created (marked `managed_by: gateway-seed`) is ever pruned: objects added by hand stay."""
    changes: list[Change] = []
    for kind in KINDS:
        have = live.get(kind, {})
        for name, wanted in desired.get(kind, {}).items():
            current = have.get(name)
            if current is None:
                changes.append(Change(kind, name, "created"))
                continue
            differing = tuple(f for f in wanted if wanted[f] != current.get(f))
            changes.append(Change(kind, name, "updated" if differing else "unchanged", differing))
    if prune:
        for kind in reversed(KINDS):
            for name, current in sorted(live.get(kind, {}).items()):
                if name in desired.get(kind, {}):
                    continue
                if not current.get("_managed"):
                    continue
                changes.append(Change(kind, name, "deleted"))
    return changes
