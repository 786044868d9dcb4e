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

from .conftest import REPO


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
