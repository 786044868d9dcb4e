"""Benchmark seeding: apply a generated spec of --teams teams (one credential, one model on the
fake provider, one group, one organization) to a deployed environment, then time the plan of
the same spec, which must find nothing to do. Prints the numbers.

The objects are the benchmark's own (`bench-seed-*`), created on the first run and reused: a
second run measures an apply with nothing to create. Reaches the services the way the CLI does
(SSH tunnels via the first llm and api hosts).

Run: python scripts/bench_seed.py [--inventory inventories/testbed.py] [--teams 1000]
     --provider-url http://<fake provider>:9999/v1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bundle.secret_store import SecretStore  # noqa: E402
from provisioning.apply import apply, make_plan  # noqa: E402
from provisioning.cli import CliError, endpoints, services  # noqa: E402
from provisioning.spec import parse_spec  # noqa: E402

KEY_ENV = "BENCH_SEED_PROVIDER_KEY"


def generated_spec(teams: int, provider_url: str) -> dict:
    return {
        "credentials": [
            {
                "name": "bench-seed-cred",
                "provider": "openai",
                "api_base": provider_url,
                "api_key": {"env": KEY_ENV},
            }
        ],
        "models": [
            {
                "name": "bench-seed-model",
                "model": "openai/bench",
                "credential": "bench-seed-cred",
                "input_cost_per_1k_tokens": 0.001,
                "output_cost_per_1k_tokens": 0.002,
            }
        ],
        "model_groups": [{"name": "bench-seed-group", "models": ["bench-seed-model"]}],
        "organizations": [{"id": "bench-seed-org", "name": "Bench Seed Org"}],
        "teams": [
            {
                "id": f"bench-seed-team-{n:05d}",
                "name": f"Bench Seed Team {n:05d}",
                "organization": "bench-seed-org",
                "model_groups": ["bench-seed-group"],
                "max_budget": 10.0,
                "rpm_limit": 600,
            }
            for n in range(teams)
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inventory", default="inventories/testbed.py")
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--provider-url", required=True)
    args = parser.parse_args()
    os.environ.setdefault(KEY_ENV, "sk-bench-seed-provider")
    try:
        environment, llm, api = endpoints(args.inventory)
    except CliError as error:
        print(f"bench_seed: {error}", file=sys.stderr)
        return 2
    store = SecretStore(environment).values()
    spec = parse_spec(generated_spec(args.teams, args.provider_url), "generated")
    secrets = {"bench-seed-cred": os.environ[KEY_ENV]}
    with services(llm, api, store) as (litellm, saas):
        started = time.monotonic()
        changes = make_plan(spec, secrets, litellm, saas)
        first_plan = time.monotonic() - started
        counts = Counter(c.action for c in changes)
        started = time.monotonic()
        last = [0.0]

        def progress(done, total, change):
            if time.monotonic() - last[0] > 10 or done == total:
                last[0] = time.monotonic()
                print(f"  [{done}/{total}] {change}", flush=True)

        apply(spec, secrets, changes, litellm, saas, progress=progress)
        applied = time.monotonic() - started
        writes = litellm.writes + saas.writes
        started = time.monotonic()
        again = make_plan(spec, secrets, litellm, saas)
        no_change_plan = time.monotonic() - started
        writes_after = litellm.writes + saas.writes - writes
    left = Counter(c.action for c in again)
    print(f"teams in spec                 {args.teams}")
    print(f"first plan                    {first_plan:8.1f} s  {dict(counts)}")
    print(f"apply (incl. read-back plan)  {applied:8.1f} s  {writes} write requests")
    if counts["created"]:
        print(f"  per created team            {applied / max(1, counts['created']):8.3f} s")
    print(
        f"no-change plan                {no_change_plan:8.1f} s  {dict(left)}, "
        f"{writes_after} writes"
    )
    return 0 if set(left) == {"unchanged"} else 1


if __name__ == "__main__":
    sys.exit(main())
