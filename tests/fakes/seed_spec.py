"""The guide's example seed spec (examples/seed.yaml) made fit for a test run: every name
suffixed so runs never collide, every credential pointed at the fake provider (which speaks
OpenAI's API, so every model is routed as openai/...)."""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed.yaml"


def example_for_fake_provider(provider_url: str, *, key_env: str | None = None) -> dict:
    """`provider_url` is the fake provider's OpenAI base (ending in /v1). With `key_env`, every
    credential reads its key from that environment variable."""
    data = yaml.safe_load(EXAMPLE.read_text())
    suffix = uuid.uuid4().hex[:6]
    rename = {}
    for credential in data["credentials"]:
        credential["name"] += f"-{suffix}"
        credential["api_base"] = provider_url
        if key_env:
            credential["api_key"] = {"env": key_env}
    names = [c["name"] for c in data["credentials"]]
    for model in data["models"]:
        rename[model["name"]] = model["name"] = f"{model['name']}-{suffix}"
        model["credential"] = next(n for n in names if n.startswith(model["credential"]))
        model["model"] = "openai/" + model["model"].split("/", 1)[1]
    for group in data["model_groups"]:
        group["name"] += f"-{suffix}"
        group["models"] = [rename[m] for m in group["models"]]
    for org in data["organizations"]:
        org["id"] += f"-{suffix}"
        org["name"] += f" {suffix}"
    for team in data["teams"]:
        team["id"] += f"-{suffix}"
        team["organization"] += f"-{suffix}"
        team["model_groups"] = [g + f"-{suffix}" for g in team["model_groups"]]
    return data


def write_for_fake_provider(source: Path, provider_url: str, key_env: str, dest: Path) -> Path:
    """`source` as written (names kept, for `make demo` and `make dev`), every credential pointed
    at the fake provider (it speaks OpenAI's and Anthropic's API) and keyed from `key_env`;
    written to `dest` under a header naming its source."""
    data = yaml.safe_load(source.read_text())
    for credential in data.get("credentials", []):
        credential["api_base"] = provider_url
        credential["api_key"] = {"env": key_env}
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(
        f"# Generated from {source.name} for the fake provider at {provider_url}.\n"
        + yaml.safe_dump(data, sort_keys=False)
    )
    return dest


def many_teams(teams: int, provider_url: str, *, key_env: str, prefix: str = "bench-seed") -> dict:
    """A spec of one credential (its key from `key_env`), model, group and organization and
    `teams` teams, every name starting with `prefix`: the benchmark's and the scale test's."""
    return {
        "credentials": [
            {
                "name": f"{prefix}-cred",
                "provider": "openai",
                "api_base": provider_url,
                "api_key": {"env": key_env},
            }
        ],
        "models": [
            {
                "name": f"{prefix}-model",
                "model": "openai/bench",
                "credential": f"{prefix}-cred",
                "input_cost_per_1k_tokens": 0.001,
                "output_cost_per_1k_tokens": 0.002,
            }
        ],
        "model_groups": [{"name": f"{prefix}-group", "models": [f"{prefix}-model"]}],
        "organizations": [{"id": f"{prefix}-org", "name": f"{prefix} organization"}],
        "teams": [
            {
                "id": f"{prefix}-team-{n:05d}",
                "name": f"{prefix} team {n:05d}",
                "organization": f"{prefix}-org",
                "model_groups": [f"{prefix}-group"],
                "max_budget": 10.0,
                "rpm_limit": 600,
            }
            for n in range(teams)
        ],
    }
