"""Benchmark three LiteLLM configurations side by side on one llm host; prints one table.

  ours      /etc/litellm/config.yaml as deployed (with the spend_flush callback beside it)
  guide     the setup guide's litellm_config.yaml as written (its REDIS_* variables are ours)
  defaults  LiteLLM's defaults with only what a database-backed proxy needs: the master key,
            the database, models in the database

Each runs in turn as a transient unit (`gateway-bench-<name>`) beside the deployed instances:
the venv, environment file, unit environment and worker count of litellm@<port>, on 127.0.0.1
only, with DISABLE_SCHEMA_UPDATE (the deployed instances own the schema; a benchmark never
migrates it) and without LITELLM_LOG for the other two (a logging choice of ours). Each is
stopped when measured, and stops by itself after RUNTIME_MAX_SECONDS whatever happens here.

For each: a warm-up, --requests chat completions one at a time, then --concurrent-requests with
--concurrency in flight, through the same client and SSH tunnel, with the benchmark's own team
key (bench_litellm.py's, created once) and model. The CPU each request cost is read from the
units' cgroups over the measured window: the LiteLLM unit's (its engine bridge included), and
Redis's and PostgreSQL's on the same host. "per core" is requests per CPU second of the LiteLLM
unit: what one core of an llm host serves, whatever the client and the tunnel cost here;
"logs" is journald's CPU, which writes what the instance logs.

Run: python scripts/bench_litellm_configs.py [--inventory inventories/testbed.py]
     [--requests N] [--concurrent-requests M] [--concurrency C] [--configs ours,guide,defaults]
     [--rounds R]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bundle.litellm_layout import VENV  # noqa: E402
from scripts.bench_litellm import (  # noqa: E402
    Admin,
    BenchError,
    LlmHost,
    Run,
    bench_key_value,
    chat,
    client_for,
    concurrent,
    ensure_key,
    ensure_team,
    llm_host,
    master_key,
    ms,
    on_host,
    sequential,
    tunnel,
)
from scripts.unit_cpu import unit_cpu  # noqa: E402

UNIT_PREFIX = "gateway-bench-"
RUN_DIR = "/run/gateway-bench"
ETC = "/etc/litellm"
RUNTIME_MAX_SECONDS = 1800
# Environment of the deployed unit that is our tuning, not what the host needs to run LiteLLM.
OURS_ONLY_ENVIRONMENT = ("LITELLM_LOG",)

# The setup guide's "litellm_config.yaml Structure", verbatim.
GUIDE_CONFIG = """\
# Model definitions (if not using database)
model_list: []

# General settings
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  database_url: os.environ/DATABASE_URL
  store_model_in_db: true  # Use database for model management

  # Redis caching
  cache: true
  cache_params:
    type: "redis"
    host: os.environ/REDIS_HOST
    port: os.environ/REDIS_PORT
    password: os.environ/REDIS_PASSWORD
    ttl: 600  # Cache TTL in seconds

  # Cost tracking
  track_cost_per_deployment: true

# Router settings
router_settings:
  redis_host: os.environ/REDIS_HOST
  redis_port: os.environ/REDIS_PORT
  redis_password: os.environ/REDIS_PASSWORD
  enable_pre_call_checks: true
  routing_strategy: "usage-based-routing"
  num_retries: 3
  timeout: 600
  redis_enabled: true
"""

DEFAULTS_CONFIG = """\
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  database_url: os.environ/DATABASE_URL
  store_model_in_db: true
"""

# name → (config path on the host, its text to write there or None: already there)
CONFIGS = {
    "ours": (f"{ETC}/config.yaml", None),
    "guide": (f"{RUN_DIR}/guide.yaml", GUIDE_CONFIG),
    "defaults": (f"{RUN_DIR}/defaults.yaml", DEFAULTS_CONFIG),
}


@dataclass
class Measured:
    run: Run
    cpu: dict[str, float]  # "litellm", "redis", "postgresql", "journald" → CPU s over the run

    def per_request_ms(self, part: str) -> str:
        done = len(self.run.latencies)
        return f"{self.cpu[part] * 1000 / done:.1f}" if done else "-"

    @property
    def per_core(self) -> float:
        return len(self.run.latencies) / self.cpu["litellm"] if self.cpu["litellm"] else 0.0


# the deployed unit, and transient ones like it ---------------------------------------------------


def deployed_unit(host: LlmHost) -> tuple[list[str], int]:
    """(Environment= assignments, worker count) of the deployed litellm@<port>."""
    unit = f"litellm@{host.port}.service"
    environment = shlex.split(on_host(host, f"systemctl show -P Environment {unit}"))
    start = on_host(host, f"systemctl show -P ExecStart {unit}")
    workers = re.search(r"--num_workers (\d+)", start)
    if not environment or workers is None:
        raise BenchError(f"{host.name}: {unit} has no Environment or --num_workers; deployed?")
    return environment, int(workers.group(1))


def write_on_host(host: LlmHost, path: str, text: str) -> None:
    """A file only root and the litellm group read (configs carry no secret, but keep it so)."""
    command = f"install -d -m 750 -g litellm {RUN_DIR} && umask 027 && cat > {path}"
    on_host(host, f"{command} && chgrp litellm {path}", stdin=text)


def start_command(name: str, config: str, port: int, environment: list[str], workers: int) -> str:
    if name != "ours":
        environment = [a for a in environment if a.partition("=")[0] not in OURS_ONLY_ENVIRONMENT]
    argv = [
        "systemd-run",
        f"--unit={UNIT_PREFIX}{name}",
        "--collect",
        "--quiet",
        "-p", "User=litellm",
        "-p", "Group=litellm",
        "-p", f"EnvironmentFile={ETC}/litellm.env",
        "-p", "WorkingDirectory=/var/lib/litellm",
        "-p", "KillMode=mixed",
        "-p", "TimeoutStopSec=30",
        "-p", f"RuntimeMaxSec={RUNTIME_MAX_SECONDS}",
        *(f"--setenv={a}" for a in [*environment, "DISABLE_SCHEMA_UPDATE=true"]),
        f"{VENV}/bin/litellm",
        "--config", config,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--num_workers", str(workers),
    ]  # fmt: skip
    return shlex.join(argv)


def stop(host: LlmHost, name: str) -> None:
    with contextlib.suppress(BenchError, subprocess.TimeoutExpired):
        on_host(host, f"systemctl stop {UNIT_PREFIX}{name}.service || true", timeout=90)


def wait_ready(host: LlmHost, name: str, url: str, key: str, model: str) -> float:
    """Seconds until the instance serves a chat completion with the key; its journal's warnings
    about ignored settings are printed (they say what of a config LiteLLM did not apply)."""
    unit, started = f"{UNIT_PREFIX}{name}.service", time.monotonic()
    with client_for(url, key, timeout=10, connections=1) as client:
        while True:
            state = on_host(host, f"systemctl is-active {unit} || true").strip()
            if state not in ("active", "activating"):
                raise BenchError(f"{unit} is {state}: see `journalctl -u {unit}` on {host.name}")
            try:
                if chat(client, model)[1] == "ok":
                    break
            except httpx.HTTPError:
                pass  # the tunnel drops connections while nothing listens
            if time.monotonic() - started > host.readiness_timeout:
                raise BenchError(f"{unit} not serving {host.readiness_timeout} s after its start")
            time.sleep(1)
    # This start's lines only: the journal keeps those of earlier runs under the same unit name.
    invocation = on_host(host, f"systemctl show -P InvocationID {unit}").strip()
    ignored = on_host(
        host,
        f"journalctl -q -o cat _SYSTEMD_INVOCATION_ID={invocation} | grep 'Ignoring this key'"
        " || true",
    )
    for line in sorted(set(ignored.splitlines())):
        print(f"    {name}: LiteLLM says: {line.strip()[:160]}", flush=True)
    return time.monotonic() - started


# measuring -------------------------------------------------------------------------------------


def cpu_parts(host: LlmHost, name: str) -> dict[str, float]:
    units = unit_cpu(host.ssh)

    def total(prefix: str) -> float:
        # A templated unit (postgresql@15-main) lives in its own slice (system-postgresql.slice).
        return sum(
            s
            for u, s in units.items()
            if (u.startswith(prefix) and u.endswith(".service")) or u == f"system-{prefix}.slice"
        )

    return {
        "litellm": units.get(f"{UNIT_PREFIX}{name}.service", 0.0),
        "redis": total("redis"),
        "postgresql": total("postgresql"),
        "journald": total("systemd-journald"),
    }


def measured(host: LlmHost, name: str, work) -> Measured:
    before = cpu_parts(host, name)
    run = work()
    after = cpu_parts(host, name)
    return Measured(run, {part: after[part] - before[part] for part in before})


def bench_config(host, name, port, environment, workers, key, model, args) -> list[Measured]:
    config, text = CONFIGS[name]
    if text is not None:
        write_on_host(host, config, text)
    stop(host, name)  # one left by an interrupted run
    print(f"  {name}: starting {UNIT_PREFIX}{name} ({workers} workers) on 127.0.0.1:{port}")
    on_host(host, start_command(name, config, port, environment, workers))
    try:
        with tunnel(host, "127.0.0.1", port) as url:
            ready = wait_ready(host, name, url, key, model)
            print(f"  {name}: serving after {ready:.0f} s; measuring", flush=True)
            c = args.concurrency
            with client_for(url, key, args.timeout, c) as client:
                for _ in range(args.warmup):
                    chat(client, model)

                def call():
                    return chat(client, model)

                runs = [
                    measured(host, name, lambda: sequential("1 in flight", call, args.requests)),
                    measured(
                        host,
                        name,
                        lambda: concurrent(f"{c} in flight", call, args.concurrent_requests, c),
                    ),
                ]
    finally:
        stop(host, name)
    return runs


# output ----------------------------------------------------------------------------------------

HEADER = (
    f"{'config':<10} {'in flight':<12} {'n':>5} {'p50 ms':>7} {'p95 ms':>7} {'req/s':>7}"
    f" {'per core':>8}  {'CPU ms/request: LiteLLM':>23} {'Redis':>6} {'PG':>6} {'logs':>6}"
    "  failures"
)


def row(name: str, m: Measured) -> str:
    run = m.run
    return (
        f"{name:<10} {run.label:<12} {run.count:>5} {ms(run.latencies, 0.5):>7}"
        f" {ms(run.latencies, 0.95):>7} {run.rate:>7} {m.per_core:>8.1f}"
        f"  {m.per_request_ms('litellm'):>23} {m.per_request_ms('redis'):>6}"
        f" {m.per_request_ms('postgresql'):>6} {m.per_request_ms('journald'):>6}  {run.failed}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default="inventories/testbed.py")
    parser.add_argument("--model", default="gpt-3.5-turbo", help="a model LiteLLM serves")
    parser.add_argument("--requests", type=int, default=300, help="one at a time, per config")
    parser.add_argument("--concurrent-requests", type=int, default=600, help="per config")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--warmup", type=int, default=20, help="requests before measuring")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per request")
    parser.add_argument("--port-base", type=int, default=4100, help="ports base, base+1, ...")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="which, in this order")
    parser.add_argument("--rounds", type=int, default=1, help="every config this many times")
    parser.add_argument("--team-id", default="bench-team")
    parser.add_argument("--key-alias", default="bench-key")
    args = parser.parse_args()
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CONFIGS))
    if args.rounds < 1:
        sys.exit(f"bench: --rounds: {args.rounds}; at least 1")
    if unknown or not names:
        sys.exit(f"bench: --configs: {unknown or 'none given'}; choose from {', '.join(CONFIGS)}")
    try:
        bench(args, names)
    except BenchError as exc:
        sys.exit(f"bench: {exc}")


def bench(args, names: list[str]) -> None:
    host = llm_host(args.inventory)
    master = master_key(host.environment)
    key = bench_key_value(master, args.key_alias)
    environment, workers = deployed_unit(host)
    with tunnel(host, host.address, host.port) as litellm_url:
        admin = Admin(litellm_url, master, [master, key])
        with contextlib.closing(admin.client):
            served = {m["model_name"] for m in admin.call("GET", "/model/info")["data"]}
            if args.model not in served:
                raise BenchError(f"LiteLLM serves no model {args.model!r}; --model one of {served}")
            ensure_team(admin, args.team_id, args.model)
            ensure_key(admin, key, args.key_alias, args.team_id, args.model)
    print(
        f"LiteLLM on {host.name}: {workers} workers per config (as litellm@{host.port}), "
        f"model {args.model}, key {args.key_alias}; {args.requests} requests one at a time, "
        f"{args.concurrent_requests} with {args.concurrency} in flight, each config in turn",
        flush=True,
    )
    # Rounds interleave the configs, so a slow spell of a shared machine hits each alike.
    rounds = []
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number} of {args.rounds}", flush=True)
        rounds.append(
            {
                name: bench_config(
                    host, name, args.port_base + i, environment, workers, key, args.model, args
                )
                for i, name in enumerate(names)
            }
        )
    print(HEADER)
    for round_number, results in enumerate(rounds, 1):
        for name, runs in results.items():
            for m in runs:
                print(row(name if args.rounds == 1 else f"{name} {round_number}", m))
    if "ours" in names and "guide" in names:
        ratios = [r["ours"][-1].per_core / r["guide"][-1].per_core for r in rounds]
        print(
            f"ours vs guide at {args.concurrency} in flight, requests per LiteLLM core: "
            + ", ".join(f"{ratio:.2f}x" for ratio in ratios)
        )


if __name__ == "__main__":
    main()
