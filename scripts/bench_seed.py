"""Benchmark seeding: apply a generated spec of --teams teams (one credential, one model on the
fake provider, one group, one organization) to a deployed environment, then time the plan of
the same spec, which must find nothing to do. Prints the numbers.

The objects are the benchmark's own (`bench-seed-*`), created on the first run and reused: a
second run measures an apply with nothing to create; `--fresh` deletes the benchmark's teams
first, so the apply creates every one of them. Reaches the services the way the CLI does (SSH
tunnels via the first llm and api hosts). The CPU time each host's services spent during the
apply is read from their systemd units' cgroups (cpu.stat), over SSH.

Run: python scripts/bench_seed.py [--inventory inventories/testbed.py] [--teams 1000]
     [--concurrency N] [--fresh] --provider-url http://<fake provider>:9999/v1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bundle.inventory_data import load_hosts  # noqa: E402
from bundle.secret_store import SecretStore  # noqa: E402
from bundle.ssh_tunnel import ssh_argv  # noqa: E402
from provisioning.apply import apply, make_plan, progress_lines  # noqa: E402
from provisioning.cli import CliError, concurrency_for, endpoints, services  # noqa: E402
from provisioning.spec import parse_spec  # noqa: E402
from scripts.unit_cpu import unit_cpu  # noqa: E402
from tests.fakes.seed_spec import many_teams  # noqa: E402

KEY_ENV = "BENCH_SEED_PROVIDER_KEY"


def service_cpu(hosts: list[dict]) -> dict[tuple[str, str], float]:
    """(host, unit) → CPU seconds so far, for every host of the inventory."""
    return {
        (host["name"], unit): seconds
        for host in hosts
        for unit, seconds in unit_cpu(ssh_argv(host["name"], host["data"])).items()
    }


def delete_bench_teams(saas, concurrency: int) -> int:
    """Delete every `bench-seed-team-*` (the SaaS API deletes its LiteLLM team and key too)."""
    names = [t["team_id"] for t in saas.teams() if t["team_id"].startswith("bench-seed-team-")]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda n: saas.request("DELETE", f"/api/teams/{n}", missing_ok=True), names))
    return len(names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inventory", default="inventories/testbed.py")
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--provider-url", required=True)
    parser.add_argument("--concurrency", type=int, help="default: as the CLI sizes it")
    parser.add_argument("--fresh", action="store_true", help="delete the bench teams first")
    args = parser.parse_args()
    os.environ.setdefault(KEY_ENV, "sk-bench-seed-provider")
    try:
        environment, llm, api = endpoints(args.inventory)
    except CliError as error:
        print(f"bench_seed: {error}", file=sys.stderr)
        return 2
    store = SecretStore(environment).values()
    concurrency = args.concurrency or concurrency_for(api)
    spec = parse_spec(many_teams(args.teams, args.provider_url, key_env=KEY_ENV), "generated")
    secrets = {c.name: os.environ[KEY_ENV] for c in spec.credentials}
    hosts = load_hosts(args.inventory)
    with services(llm, api, store) as (litellm, saas):
        if args.fresh:
            started = time.monotonic()
            deleted = delete_bench_teams(saas, concurrency)
            print(f"deleted {deleted} bench team(s) in {time.monotonic() - started:.1f} s")
        cpu_before = service_cpu(hosts)
        started = time.monotonic()
        changes = make_plan(spec, secrets, litellm, saas)
        first_plan = time.monotonic() - started
        counts = Counter(c.action for c in changes)
        writes_before = litellm.writes + saas.writes
        started = time.monotonic()
        apply(
            spec,
            secrets,
            changes,
            litellm,
            saas,
            concurrency=concurrency,
            progress=progress_lines(lambda line: print(f"  {line}", flush=True), every_seconds=5),
            notice=lambda message: print(f"  {message}", flush=True),
        )
        applied = time.monotonic() - started
        cpu_used = {
            unit: seconds - cpu_before.get(unit, 0.0)
            for unit, seconds in service_cpu(hosts).items()
        }
        writes = litellm.writes + saas.writes - writes_before
        started = time.monotonic()
        again = make_plan(spec, secrets, litellm, saas)
        no_change_plan = time.monotonic() - started
        writes_after = litellm.writes + saas.writes - writes - writes_before
    left = Counter(c.action for c in again)
    print(f"teams in spec                 {args.teams}")
    print(f"first plan                    {first_plan:8.1f} s  {dict(counts)}")
    print(
        f"apply (incl. read-back plan)  {applied:8.1f} s  {writes} write requests, "
        f"up to {concurrency} at once"
    )
    if counts["created"]:
        print(f"  per created team            {applied / max(1, counts['created']):8.3f} s")
    print(
        f"no-change plan                {no_change_plan:8.1f} s  {dict(left)}, "
        f"{writes_after} writes"
    )
    print(f"CPU seconds during the apply ({applied:.1f} s), per host and unit:")
    busy = sorted(cpu_used.items(), key=lambda item: -item[1])
    for (host, unit), seconds in busy:
        if seconds >= 0.5:
            print(f"  {host:<12} {unit:<40} {seconds:8.1f}")
    return 0 if set(left) == {"unchanged"} else 1


if __name__ == "__main__":
    sys.exit(main())
