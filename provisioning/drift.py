"""Where LiteLLM and the SaaS API disagree about teams and keys; read-only.

The SaaS API is the record: each active or suspended team must have its LiteLLM team (same
models and budget) and exactly one LiteLLM key, the one whose hash the SaaS API stores, allowed
the same models and blocked exactly when the team is suspended. LiteLLM teams and keys that name
a SaaS team in their metadata but have none are orphans. Keys are compared by hash only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Drift:
    kind: str  # "team" or "key"
    name: str  # team id, or key alias
    problem: str
    # The SaaS team whose stored state repairs it (pushing it again); None for orphans.
    team_id: str | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.problem}"


def compare(saas_teams: list[dict], litellm_teams: list[dict], litellm_keys: list[dict]):
    """Pure comparison of the three listings (see the module docstring)."""
    found: list[Drift] = []
    teams = {t["team_id"]: t for t in litellm_teams}
    keys_by_team: dict[str, list[dict]] = {}
    for key in litellm_keys:
        keys_by_team.setdefault(key.get("team_id"), []).append(key)
    known = set()
    for team in saas_teams:
        team_id = team["team_id"]
        known.add(team_id)
        if team["status"] not in ("active", "suspended"):
            continue
        live = teams.get(team_id)
        if live is None:
            found.append(Drift("team", team_id, "missing in LiteLLM", team_id))
            continue
        if sorted(live.get("models") or []) != sorted(team["models"]):
            found.append(
                Drift("team", team_id, "LiteLLM team models differ from its groups'", team_id)
            )
        if live.get("max_budget") is None or abs(live["max_budget"] - team["max_budget"]) > 1e-9:
            found.append(Drift("team", team_id, "LiteLLM team budget differs", team_id))
        keys = keys_by_team.get(team_id, [])
        current = [k for k in keys if k.get("token") == team["key_hash"]]
        if not current:
            found.append(
                Drift("key", team["key_alias"], "the team's key is missing in LiteLLM", team_id)
            )
        for key in current:
            if sorted(key.get("models") or []) != sorted(team["models"]):
                found.append(Drift("key", team["key_alias"], "allowed models differ", team_id))
            if bool(key.get("blocked")) != (team["status"] == "suspended"):
                found.append(Drift("key", team["key_alias"], "blocked state differs", team_id))
        for key in keys:
            if key.get("token") != team["key_hash"]:
                found.append(
                    Drift("key", key.get("key_alias") or "(no alias)", f"orphan key of {team_id}")
                )
    for team_id, live in sorted(teams.items()):
        if "saas_organization_id" in (live.get("metadata") or {}) and team_id not in known:
            found.append(Drift("team", team_id, "orphan LiteLLM team (no SaaS team)"))
    for key in litellm_keys:
        owner = (key.get("metadata") or {}).get("saas_team_id")
        if owner and owner not in known:
            found.append(
                Drift("key", key.get("key_alias") or "(no alias)", f"orphan key of {owner}")
            )
    return found


def drift(snapshot: dict[str, list[dict]]) -> list[Drift]:
    """The drift in a live snapshot (provisioning.snapshot.read)."""
    return compare(snapshot["teams"], snapshot["litellm_teams"], snapshot["litellm_keys"])
