"""A team's spend as LiteLLM counts it: the total from its team record, the per-model and per-day
split from its daily activity (LiteLLM's `model_spend` fields stay empty in this version)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from saas_api.errors import ApiError
from saas_api.litellm import LiteLLMClient, LiteLLMError
from saas_api.models import Team
from saas_api.schemas import DaySpend, ModelSpend, UsageOut


async def team_spend(litellm: LiteLLMClient, team_id: str) -> float | None:
    """LiteLLM's spend for the team (batched: it trails requests by the spend write interval);
    None when LiteLLM cannot say."""
    try:
        info = await litellm.get_team(team_id)
    except LiteLLMError:
        return None
    return None if info is None else float(info.get("spend") or 0.0)


async def team_usage(litellm: LiteLLMClient, team: Team) -> UsageOut:
    try:
        info = await litellm.get_team(team.team_id)
        # Dates are LiteLLM's UTC days; one day of margin on both sides.
        today = datetime.now(UTC).date()
        activity = await litellm.team_daily_activity(
            team.team_id,
            start=(team.created_at.astimezone(UTC).date() - timedelta(days=1)).isoformat(),
            end=(today + timedelta(days=1)).isoformat(),
        )
    except LiteLLMError as error:
        raise ApiError(503, f"usage: LiteLLM is unavailable ({error})") from None
    if info is None:
        raise ApiError(502, f"usage: LiteLLM has no team {team.team_id!r}")
    per_model: dict[str, float] = defaultdict(float)
    per_day: dict[str, float] = defaultdict(float)
    for day in activity.get("results", []):
        if day.get("date"):
            per_day[str(day["date"])] += float(day.get("metrics", {}).get("spend") or 0.0)
        for model, entry in (day.get("breakdown", {}).get("model_groups") or {}).items():
            per_model[model] += float(entry.get("metrics", {}).get("spend") or 0.0)
    spend = float(info.get("spend") or 0.0)
    budget = float(team.max_budget)
    return UsageOut(
        team_id=team.team_id,
        max_budget=budget,
        spend=spend,
        remaining_budget=max(budget - spend, 0.0),
        budget_duration=team.budget_duration,
        models=[ModelSpend(model=m, spend=round(s, 10)) for m, s in sorted(per_model.items())],
        days=[DaySpend(date=d, spend=round(s, 10)) for d, s in sorted(per_day.items())],
    )
