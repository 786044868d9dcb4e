"""The seeding CLI against the deployed testbed, as an operator runs it: the guide's example
(pointed at the fake provider) applied, the issued key serving, then apply and plan again
reporting no change. Services are reached through the CLI's own SSH tunnels."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import httpx
import yaml

from tests.fakes.seed_spec import example_for_fake_provider

from .conftest import REPO, pyinfra, secret


def cli(*args, env=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "provisioning", *args, "--inventory", "inventories/testbed.py"],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_cli_seeds_the_example_then_reports_no_change(
    litellm, saas_api, fake_provider_url, tmp_path
):
    spec = example_for_fake_provider(fake_provider_url, key_env="SEED_PROVIDER_KEY")
    spec_file = tmp_path / "seed.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    keys_file = tmp_path / "keys.json"
    env = {"SEED_PROVIDER_KEY": "sk-fake-provider-key"}

    first = cli("apply", "--spec", str(spec_file), "--yes", "--keys-file", str(keys_file), env=env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "plan: 8 created" in first.stdout and "applied 8 change(s)" in first.stdout
    assert "[8/8] team" in first.stdout
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    team_id = spec["teams"][0]["id"]
    key = json.loads(keys_file.read_text())[team_id]
    assert key not in first.stdout + first.stderr

    # Every LiteLLM worker lists the new models once apply returns: each read is a fresh
    # connection, which the kernel hands to either worker (2 per host on the testbed).
    wanted = {m["name"] for m in spec["models"]}
    admin = {"Authorization": f"Bearer {secret('litellm_master_key')}"}
    for _ in range(12):
        with httpx.Client(timeout=30) as fresh:
            listed = fresh.get(f"{litellm}/model/info", headers=admin).json()["data"]
        assert wanted <= {m["model_name"] for m in listed}, "a worker still lists old models"

    model = spec["model_groups"][0]["models"][0]
    answer = httpx.post(
        f"{litellm}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "seeded"}]},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text[:300]

    again = cli("apply", "--spec", str(spec_file), "--yes", env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "plan: 8 unchanged" in again.stdout and "No change" in again.stdout
    planned = cli("plan", "--spec", str(spec_file), env=env)
    assert planned.returncode == 0 and "plan: 8 unchanged" in planned.stdout
    report = cli("drift")
    assert team_id not in report.stdout, report.stdout


def deploy_with_seed(spec_file, *flags, env=None):
    """deploy.py with group_data's seed_spec set to `spec_file` for this run (pyinfra --data)."""
    return pyinfra(
        "-y",
        *flags,
        "inventories/testbed.py",
        "deploy.py",
        "--data",
        f"seed_spec={spec_file}",
        env={**os.environ, **(env or {})},
        timeout=1200,
    )


def seed_results(report) -> list[dict]:
    return [op for op in report["results"]["operations"] if "Apply the seed spec" in op["name"]]


def test_a_bad_seed_spec_stops_the_deploy_before_any_host_changes(first_deploy, tmp_path):
    spec = example_for_fake_provider("http://192.0.2.1/v1", key_env="SEED_UNSET_KEY")
    spec["model_groups"][0]["models"].append("no-such-model")
    spec_file = tmp_path / "bad-seed.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    result = deploy_with_seed(spec_file, env={"SEED_UNSET_KEY": ""})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{spec_file}: model_groups[0].models" in output, output[-3000:]
    assert f"{spec_file}: credentials[0].api_key" in output, output[-3000:]
    assert "Starting operation" not in output


def test_the_deploy_seeds_then_a_second_deploy_reports_no_change(
    first_deploy, roles, litellm, saas_api, fake_provider_url, tmp_path
):
    spec = example_for_fake_provider(fake_provider_url, key_env="SEED_PROVIDER_KEY")
    spec_file = tmp_path / "seed.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    env = {"SEED_PROVIDER_KEY": "sk-fake-provider-key"}
    team_id = spec["teams"][0]["id"]

    first = deploy_with_seed(spec_file, "--json", env=env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    (seed,) = seed_results(json.loads(first.stdout))
    assert seed["success"] == [roles["api"]] and seed["error"] == [], seed
    assert "seed [8/8] team" in first.stderr
    keys_file = REPO / "secrets" / "testbed-team-keys.json"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    key = json.loads(keys_file.read_text())[team_id]
    assert key not in first.stdout + first.stderr
    # Read back with raw clients: the SaaS API's team and LiteLLM serving its key.
    team = httpx.get(
        f"{saas_api}/api/teams/{team_id}",
        headers={"X-Admin-Key": secret("saas_api_master_key")},
        timeout=30,
    )
    assert team.status_code == 200 and team.json()["status"] == "active", team.text[:300]
    model = spec["model_groups"][0]["models"][0]
    answer = httpx.post(
        f"{litellm}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "seeded by deploy"}]},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text[:300]

    second = deploy_with_seed(spec_file, "--json", env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    report = json.loads(second.stdout)
    for op in report["results"]["operations"]:
        assert op["success"] == [] and op["error"] == [], op["name"]
    assert len(seed_results(report)) == 1
