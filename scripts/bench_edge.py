"""Benchmark a team-key chat completion through the TLS edge, against LiteLLM directly and against
the model's provider directly, in one run; prints p50/p95/mean latency and requests/s.

All three are measured from the same place, the first `edge` host (scripts/load_client.py runs
there over SSH, standard library only), so each path differs only by what it passes through:

  provider direct   the model's api_base (the fake provider on the testbed)
  LiteLLM direct    the first `llm` host's private address and port, with the team's key
  through the edge  https://<edge_gateway_host> at the edge's own address, TLS verified against
                    the edge's CA (internal mode) or the system's roots, with the team's key

The team key is read from the keys file the seed wrote (secrets/<environment>-team-keys.json) and
travels to the edge host on SSH's standard input, never in argv or output. The model's api_base
is read from LiteLLM's /model/info through the edge with the master key, so run this from the
admin network.

Run: python scripts/bench_edge.py [--inventory inventories/testbed.py] [--team test-team]
[--model gpt-3.5-turbo] [--requests 200] [--concurrency 8]. `make demo` seeds what it needs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bundle.inventory_data import InventoryError, load_hosts  # noqa: E402
from bundle.secret_store import SecretStore  # noqa: E402
from bundle.ssh_tunnel import ssh_argv  # noqa: E402
from provisioning.cli import default_keys_file  # noqa: E402
from tasks.edge import ca_certificate_path  # noqa: E402

LOAD_CLIENT = REPO / "scripts" / "load_client.py"


class BenchError(Exception):
    """Stops the run with one line a person reads."""


def first_host(hosts: list[dict], group: str, inventory: str) -> dict:
    for item in hosts:
        if group in item["groups"]:
            return item
    raise BenchError(f"{inventory}: no host in the `{group}` group")


def team_key(environment: str, team: str) -> str:
    path = default_keys_file(environment)
    try:
        keys = json.loads(path.read_text())
    except FileNotFoundError:
        raise BenchError(f"{path} is missing: seed a team first (make demo)") from None
    if team not in keys:
        raise BenchError(f"{path} holds no key for team {team!r} (--team); it has {sorted(keys)}")
    return keys[team]


def provider_of(edge: dict, model: str, master_key: str, ca: Path | None) -> tuple[dict, str]:
    """(where the provider listens, the provider's model name), from LiteLLM's /model/info and,
    for a model using a stored credential, that credential's api_base."""
    name = edge["data"]["edge_gateway_host"]

    def admin_get(path: str) -> dict:
        try:
            with httpx.Client(verify=str(ca) if ca else True, timeout=30) as client:
                answer = client.get(
                    f"https://{edge['data']['private_address']}{path}",
                    headers={"Authorization": f"Bearer {master_key}", "Host": name},
                    extensions={"sni_hostname": name},
                )
        except httpx.HTTPError as error:
            raise BenchError(f"https://{name}{path}: {error}") from None
        if answer.status_code != 200:
            raise BenchError(
                f"https://{name}{path} answered {answer.status_code}: run this from an address "
                "in edge_admin_cidrs"
            )
        return answer.json()

    deployment = next(
        (d for d in admin_get("/model/info")["data"] if d["model_name"] == model), None
    )
    if deployment is None:
        raise BenchError(f"LiteLLM serves no model {model!r} (--model)")
    params = deployment["litellm_params"]
    api_base = params.get("api_base")
    if not api_base and params.get("litellm_credential_name"):
        for credential in admin_get("/credentials")["credentials"]:
            if credential["credential_name"] == params["litellm_credential_name"]:
                api_base = (credential.get("credential_info") or {}).get("api_base")
    base = urlsplit(api_base or "")
    if base.scheme != "http" or not base.hostname:
        raise BenchError(f"{model}: its api_base {api_base!r} is not an http:// provider")
    where = {"address": base.hostname, "port": base.port or 80, "path": base.path}
    return where, params["model"].split("/", 1)[-1]


def run_on(host: dict, job: dict) -> dict:
    command = "python3 -c " + shlex.quote(LOAD_CLIENT.read_text())
    done = subprocess.run(
        [*ssh_argv(host["name"], host["data"]), command],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"{host['name']}: the load client failed: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout)


def quantile_ms(values: list[float], quantile: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000:.1f}"


def row(label: str, run: dict) -> str:
    latencies = run["latencies"]
    count = len(latencies) + sum(run["failures"].values())
    mean = f"{statistics.fmean(latencies) * 1000:.1f}" if latencies else "-"
    rate = f"{len(latencies) / run['seconds']:.1f}" if run["seconds"] else "-"
    failed = ", ".join(f"{why} x{n}" for why, n in run["failures"].items()) or "0"
    return (
        f"{label:<36} {count:>5} {quantile_ms(latencies, 0.5):>8} "
        f"{quantile_ms(latencies, 0.95):>8} {mean:>8} {rate:>8}  {failed}"
    )


def bench(args) -> None:
    try:
        hosts = load_hosts(args.inventory)
    except InventoryError as error:
        raise BenchError(str(error)) from None
    edge = first_host(hosts, "edge", args.inventory)
    llm = first_host(hosts, "llm", args.inventory)
    environment = edge["data"]["environment"]
    internal = edge["data"].get("edge_tls_mode") == "internal"
    ca = ca_certificate_path(environment) if internal else None
    if ca is not None and not ca.exists():
        raise BenchError(f"{ca} is missing: deploy the edge first")
    key = team_key(environment, args.team)
    master = SecretStore(environment).values()["litellm_master_key"]
    provider, provider_model = provider_of(edge, args.model, master, ca)

    common = {"key": key, "model": args.model, "ca_pem": None}
    targets = [
        {
            "label": "provider direct",
            "scheme": "http",
            "name": provider["address"],
            **provider,
            "path": provider["path"].rstrip("/") + "/chat/completions",
            "key": None,
            "model": provider_model,
            "ca_pem": None,
        },
        {
            "label": f"LiteLLM direct ({llm['name']})",
            "scheme": "http",
            "name": llm["data"]["private_address"],
            "address": llm["data"]["private_address"],
            "port": int(llm["data"].get("litellm_port") or 4000),
            "path": "/v1/chat/completions",
            **common,
        },
        {
            "label": "through the edge (TLS)",
            "scheme": "https",
            "name": edge["data"]["edge_gateway_host"],
            "address": edge["data"]["private_address"],
            "port": 443,
            "path": "/v1/chat/completions",
            **common,
            "ca_pem": ca.read_text() if ca else None,
        },
    ]
    job = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "timeout": args.timeout,
        "warmup": 5,
        "targets": targets,
    }
    print(
        f"from {edge['name']}: model {args.model} ({provider_model} at "
        f"{provider['address']}:{provider['port']}), team {args.team}; "
        f"{args.requests} sequential, then {2 * args.requests} with {args.concurrency} in flight",
        flush=True,
    )
    report = run_on(edge, job)
    print(f"{'':<36} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'req/s':>8}  failures")
    for mode in ("sequential", "concurrent"):
        for target in targets:
            suffix = "1 at a time" if mode == "sequential" else f"{args.concurrency} in flight"
            print(row(f"{target['label']}, {suffix}", report[target["label"]][mode]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default="inventories/testbed.py")
    parser.add_argument("--team", default="test-team", help="a seeded team (its key is used)")
    parser.add_argument("--model", default="gpt-3.5-turbo", help="a model the team may use")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per path")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per request")
    args = parser.parse_args()
    try:
        bench(args)
    except BenchError as error:
        sys.exit(f"bench: {error}")


if __name__ == "__main__":
    main()
