"""Seeding 1,000 teams with the CLI's parallel apply, on the single testbed, with one failure
injected by the system itself: a team made by hand beforehand holds the name the spec gives one
of its teams, so the SaaS API refuses that create (409). The failure stops new writes; every
team the apply did write is whole (active, one LiteLLM team, one key), the rest untouched; the
report names the failed team. With the hand-made team gone, the next apply creates exactly
the rest, and the one after changes nothing. State is read back with raw clients.

Last in its topology (last_in_topology): 1,000 more teams on the testbed would change what the
tests after it list and restore."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
import yaml

from tests.fakes.seed_spec import many_teams

from .conftest import secret
from .test_provisioning import cli

pytestmark = [
    pytest.mark.parametrize("topology", ["single"], indirect=True),
    pytest.mark.last_in_topology,
]
TEAMS, PREFIX = 1000, "scale"
OBSTRUCTED = f"{PREFIX}-team-00200"
ENV = {"SCALE_PROVIDER_KEY": "sk-fake-provider-key"}


def write_spec(path, provider_url, teams):
    spec = many_teams(teams, provider_url, key_env="SCALE_PROVIDER_KEY", prefix=PREFIX)
    path.write_text(yaml.safe_dump(spec))
    return path


def saas_teams(saas_api) -> dict[str, str]:
    answer = httpx.get(
        f"{saas_api}/api/teams",
        params={"organization_id": f"{PREFIX}-org"},
        headers={"X-Admin-Key": secret("saas_api_master_key")},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text[:300]
    return {t["team_id"]: t["status"] for t in answer.json()}


def litellm_keys_by_team(admin) -> dict[str, int]:
    """How many keys LiteLLM holds for each of the test's teams (its /key/list, every page)."""
    counts: dict[str, int] = {}
    page = 1
    while True:
        body = admin.get(
            "/key/list", params={"return_full_object": "true", "size": 100, "page": page}
        ).json()
        for key in body["keys"]:
            if (key.get("team_id") or "").startswith(f"{PREFIX}-team-"):
                counts[key["team_id"]] = counts.get(key["team_id"], 0) + 1
        if page >= body["total_pages"]:
            return counts
        page += 1


def test_a_thousand_teams_with_one_refused_then_a_rerun_finishes_them(
    saas_api, admin, fake_provider_url, tmp_path
):
    keys_file = tmp_path / "keys.json"
    # The spec's credential, model, group and organization first, then a team by hand that
    # takes the name the spec gives OBSTRUCTED.
    base_spec = write_spec(tmp_path / "base.yaml", fake_provider_url, 0)
    base = cli("apply", "--spec", str(base_spec), "--yes", env=ENV)
    assert base.returncode == 0, base.stdout[-2000:] + base.stderr[-2000:]
    intruder = httpx.post(
        f"{saas_api}/api/teams/create",
        headers={"X-Admin-Key": secret("saas_api_master_key")},
        json={
            "name": f"{PREFIX} team 00200",
            "organization_id": f"{PREFIX}-org",
            "model_groups": [f"{PREFIX}-group"],
            "max_budget": 1.0,
            "litellm_team_id": f"{PREFIX}-by-hand",
        },
        timeout=120,
    )
    assert intruder.status_code == 201, intruder.text[:300]

    spec = write_spec(tmp_path / "seed.yaml", fake_provider_url, TEAMS)
    started = time.monotonic()
    first = cli("apply", "--spec", str(spec), "--yes", "--keys-file", str(keys_file), env=ENV)
    print(f"first apply: {time.monotonic() - started:.1f} s\n{first.stdout[-1500:]}{first.stderr}")
    assert first.returncode == 1, first.stdout[-2000:] + first.stderr[-2000:]
    assert "applying 1000 change(s), up to " in first.stdout
    failed = re.findall(r"^  (team \S+): created: (.*)$", first.stderr, re.MULTILINE)
    assert [team for team, _ in failed] == [f"team {OBSTRUCTED}"], first.stderr
    assert "409" in failed[0][1] and "already exists" in failed[0][1], failed
    assert "1 change(s) failed" in first.stderr
    not_started = int(re.search(r"(\d+) change\(s\) not started", first.stderr).group(1))

    # Every team written is whole, none is half-made, the rest were not touched.
    stored = saas_teams(saas_api)
    spec_teams = {t for t in stored if t.startswith(f"{PREFIX}-team-")}
    assert set(stored.values()) == {"active"}, stored
    assert OBSTRUCTED not in stored
    assert len(spec_teams) == TEAMS - 1 - not_started
    keys = json.loads(keys_file.read_text())
    assert set(keys) == spec_teams
    assert litellm_keys_by_team(admin) == dict.fromkeys(spec_teams, 1)

    removed = httpx.delete(
        f"{saas_api}/api/teams/{PREFIX}-by-hand",
        headers={"X-Admin-Key": secret("saas_api_master_key")},
        timeout=120,
    )
    assert removed.status_code in (200, 204), removed.text[:300]
    started = time.monotonic()
    rerun = cli("apply", "--spec", str(spec), "--yes", "--keys-file", str(keys_file), env=ENV)
    print(f"rerun: {time.monotonic() - started:.1f} s\n{rerun.stdout[-800:]}")
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    remaining = TEAMS - len(spec_teams)
    assert f"plan: {remaining} created, {len(spec_teams) + 4} unchanged" in rerun.stdout

    every = {f"{PREFIX}-team-{n:05d}" for n in range(TEAMS)}
    assert saas_teams(saas_api) == dict.fromkeys(every, "active")
    assert set(json.loads(keys_file.read_text())) == every
    assert litellm_keys_by_team(admin) == dict.fromkeys(every, 1)

    started = time.monotonic()
    again = cli("apply", "--spec", str(spec), "--yes", env=ENV)
    print(f"third apply (plan only): {time.monotonic() - started:.1f} s")
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"plan: {TEAMS + 4} unchanged" in again.stdout and "No change" in again.stdout
