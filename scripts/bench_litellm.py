"""Benchmark the deployed LiteLLM proxy against the provider behind it; prints a table.

  provider direct   the model's provider (its api_base), through an SSH tunnel via the llm host
  LiteLLM key       the same chat completion through LiteLLM with a virtual key
  sequential        one request at a time: p50/p95/mean latency, requests/s
  concurrent        --concurrency requests in flight: requests/s, p50/p95, failures
  stream            time to the first streamed chunk
  cold start        `systemctl restart litellm@<port>` (the benchmarked instance), then time until
                    /health/readiness reports the database connected, and until the first chat
                    completion succeeds
  spend             what LiteLLM recorded on the key against what its responses said they cost

The first `llm` host of the inventory, its `private_address` and its first LiteLLM instance
(`litellm_port`) are used; the
master key is read from the environment's secret store in-process and never printed. The key
and team are the benchmark's own (`--team-id`, `--key-alias`), created on the first run and
reused afterwards. Both paths cross an SSH tunnel, so compare them with each other.

Run: python scripts/bench_litellm.py [--inventory inventories/testbed.py] [--requests N]
[--concurrency C] [--skip-cold]. Restarts that instance once unless --skip-cold.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bundle.inventory_data import InventoryError, load_hosts  # noqa: E402
from bundle.ssh_tunnel import TunnelError, ssh_argv, ssh_tunnel  # noqa: E402

PROMPT = [{"role": "user", "content": "Say hello to the benchmark please"}]
HIGH_LIMIT = 1_000_000  # requests/tokens per minute: the benchmark must never hit a limit


class BenchError(Exception):
    """Stops the run with one line a person reads."""


@dataclass(frozen=True)
class LlmHost:
    name: str
    address: str
    port: int
    environment: str
    readiness_timeout: int
    ssh: tuple[str, ...]  # ssh argv up to (and including) the destination


@dataclass
class Run:
    label: str
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    failures: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies) + sum(self.failures.values())

    @property
    def rate(self) -> str:
        """Successful requests per second, for a table."""
        return f"{len(self.latencies) / self.seconds:.1f}" if self.seconds else "-"

    @property
    def failed(self) -> str:
        """The failures by reason, for a table."""
        return ", ".join(f"{why} x{n}" for why, n in self.failures.items()) or "0"


# inventory and connections ---------------------------------------------------------------------


def llm_host(inventory: str) -> LlmHost:
    """The first `llm` host exactly as pyinfra sees it (group_data merged), via its own CLI."""
    try:
        loaded = load_hosts(inventory)
    except InventoryError as error:
        raise BenchError(str(error)) from None
    hosts = [h for h in loaded if "llm" in h["groups"]]
    if not hosts:
        raise BenchError(f"{inventory}: no host in the `llm` group; nothing to benchmark")
    name, data = hosts[0]["name"], hosts[0]["data"]
    if not data.get("private_address") or not data.get("environment"):
        raise BenchError(f"{inventory}: {name} needs private_address and environment")
    return LlmHost(
        name=name,
        address=data["private_address"],
        port=int(data.get("litellm_port") or 4000),
        environment=data["environment"],
        readiness_timeout=int(data.get("litellm_readiness_timeout") or 300),
        ssh=ssh_argv(name, data),
    )


def on_host(host: LlmHost, command: str, timeout: float = 60, stdin: str | None = None) -> str:
    result = subprocess.run(
        [*host.ssh, command],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"{host.name}: `{command}` failed: {result.stderr.strip()[-500:]}")
    return result.stdout


@contextlib.contextmanager
def tunnel(host: LlmHost, target: str, port: int):
    """127.0.0.1:<free port> forwarded to target:port as seen from the llm host; always closed."""
    *ssh, via = host.ssh
    try:
        with ssh_tunnel(ssh, via, target, port, timeout=15) as url:
            yield url
    except TunnelError as error:
        raise BenchError(str(error)) from None


def master_key(environment: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bundle.secrets", "get", environment, "litellm_master_key"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise BenchError(f"cannot read litellm_master_key of {environment}: {result.stderr[-300:]}")
    return result.stdout.strip()


# the benchmark's team and key ------------------------------------------------------------------


class Admin:
    """LiteLLM's admin API with the master key; error text is scrubbed of every secret."""

    def __init__(self, base_url: str, key: str, secrets: list[str]):
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        self.secrets = secrets

    def call(self, method: str, path: str, missing_ok: bool = False, **kwargs) -> dict | None:
        answer = self.client.request(method, path, **kwargs)
        if answer.status_code == 404 and missing_ok:
            return None
        if answer.status_code != 200:
            raise BenchError(
                f"{method} {path}: {answer.status_code} {scrub(answer.text, self.secrets)}"
            )
        return answer.json()


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text[:300]


def bench_key_value(master: str, alias: str) -> str:
    """The key's value, derived from the master key: the same on every run, so an existing key
    is reused without ever being read back (LiteLLM shows a key's value only at creation)."""
    digest = hmac.new(master.encode(), f"bench key {alias}".encode(), hashlib.sha256).hexdigest()
    return f"sk-bench-{digest[:40]}"


def ensure_team(admin: Admin, team_id: str, model: str) -> str:
    wanted = {"models": [model], "rpm_limit": HIGH_LIMIT, "tpm_limit": HIGH_LIMIT}
    live = admin.call("GET", "/team/info", missing_ok=True, params={"team_id": team_id})
    if live is None:
        admin.call("POST", "/team/new", json={"team_id": team_id, "team_alias": team_id, **wanted})
        return "created"
    info = live.get("team_info") or {}
    if any(info.get(k) != v for k, v in wanted.items()):
        admin.call("POST", "/team/update", json={"team_id": team_id, **wanted})
        return "updated"
    return "unchanged"


def ensure_key(admin: Admin, value: str, alias: str, team_id: str, model: str) -> str:
    wanted = {"team_id": team_id, "models": [model], "rpm_limit": HIGH_LIMIT}
    wanted["tpm_limit"] = HIGH_LIMIT
    token = hashlib.sha256(value.encode()).hexdigest()
    live = admin.call("GET", "/key/info", missing_ok=True, params={"key": value})
    if live is None:
        # An alias held by another key (say, derived from a rotated master key) is replaced:
        # it is the benchmark's own.
        listed = admin.call(
            "GET", "/key/list", params={"key_alias": alias, "return_full_object": "true"}
        )
        stale = [k["token"] for k in listed.get("keys", []) if k.get("token") != token]
        if stale:
            admin.call("POST", "/key/delete", json={"keys": stale})
        admin.call("POST", "/key/generate", json={"key": value, "key_alias": alias, **wanted})
        return "created" + (" (replaced a stale one)" if stale else "")
    info = live.get("info") or {}
    if info.get("key_alias") != alias or any(info.get(k) != v for k, v in wanted.items()):
        admin.call("POST", "/key/update", json={"key": value, "key_alias": alias, **wanted})
        return "updated"
    return "unchanged"


def key_spend(admin: Admin, value: str) -> float:
    return float((admin.call("GET", "/key/info", params={"key": value})["info"]).get("spend") or 0)


# load ------------------------------------------------------------------------------------------


def chat(client: httpx.Client, model: str, counter: Counter | None = None) -> tuple[float, str]:
    """One chat completion: (seconds, "ok" or why not). LiteLLM's cost header is summed."""
    started = time.perf_counter()
    body = {"model": model, "messages": PROMPT}
    try:
        answer = client.post("/v1/chat/completions", json=body)
        seconds = time.perf_counter() - started
        if answer.status_code != 200:
            return seconds, f"HTTP {answer.status_code}"
        answer.json()["choices"][0]["message"]
        if counter is not None:
            cost = answer.headers.get("x-litellm-response-cost")
            counter["cost"] += float(cost) if cost else 0.0
            counter["uncosted" if not cost else "costed"] += 1
        return seconds, "ok"
    except httpx.TimeoutException:
        return time.perf_counter() - started, "timeout"
    except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
        return time.perf_counter() - started, type(exc).__name__


def first_chunk(client: httpx.Client, model: str) -> tuple[float, str]:
    """Seconds to the first streamed chunk carrying data, then the stream is read to its end."""
    started, first = time.perf_counter(), None
    body = {"model": model, "messages": PROMPT, "stream": True}
    try:
        with client.stream("POST", "/v1/chat/completions", json=body) as answer:
            if answer.status_code != 200:
                return time.perf_counter() - started, f"HTTP {answer.status_code}"
            for line in answer.iter_lines():
                if first is None and line.startswith("data:") and line != "data: [DONE]":
                    first = time.perf_counter() - started
        return (first, "ok") if first is not None else (0.0, "no chunk")
    except httpx.TimeoutException:
        return time.perf_counter() - started, "timeout"
    except httpx.HTTPError as exc:
        return time.perf_counter() - started, type(exc).__name__


def sequential(label: str, call, requests: int) -> Run:
    run = Run(label)
    started = time.perf_counter()
    for _ in range(requests):
        seconds, outcome = call()
        if outcome == "ok":
            run.latencies.append(seconds)
        else:
            run.failures[outcome] += 1
    run.seconds = time.perf_counter() - started
    return run


def concurrent(label: str, call, requests: int, concurrency: int) -> Run:
    run, lock, issued = Run(label), threading.Lock(), [0]

    def worker():
        while True:
            with lock:
                if issued[0] >= requests:
                    return
                issued[0] += 1
            seconds, outcome = call()
            with lock:
                if outcome == "ok":
                    run.latencies.append(seconds)
                else:
                    run.failures[outcome] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - started
    return run


def client_for(base_url: str, key: str | None, timeout: float, connections: int) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, limits=limits)


# cold start ------------------------------------------------------------------------------------


def cold_start(host: LlmHost, base_url: str, key: str, model: str) -> list[tuple[str, str]]:
    """Restart the instance on the benchmarked port (litellm@<port>); time (from issuing the
    restart) until the port answers, until readiness reports the database connected and until
    a chat completion succeeds."""
    rows, marks, unit = [], {}, f"litellm@{host.port}.service"
    restarts_before = int(on_host(host, f"systemctl show -P NRestarts {unit}") or 0)
    probe = httpx.Client(base_url=base_url, timeout=2)
    api = client_for(base_url, key, timeout=10, connections=1)
    try:
        started = time.monotonic()
        on_host(host, f"systemctl restart {unit}", timeout=120)
        marks["restart command returned"] = time.monotonic() - started
        deadline = started + host.readiness_timeout
        last = "nothing yet"
        while "first chat completion OK" not in marks:
            if time.monotonic() > deadline:
                raise BenchError(
                    f"LiteLLM not ready {host.readiness_timeout} s after the restart ({last})"
                )
            try:
                if "readiness: db connected" not in marks:
                    answer = probe.get("/health/readiness")
                    marks.setdefault("port answers HTTP", time.monotonic() - started)
                    last = f"readiness {answer.status_code} {answer.text[:120]}"
                    if answer.status_code == 200 and answer.json().get("db") == "connected":
                        marks["readiness: db connected"] = time.monotonic() - started
                        continue
                else:
                    seconds, outcome = chat(api, model)
                    last = f"chat {outcome}"
                    if outcome == "ok":
                        marks["first chat completion OK"] = time.monotonic() - started
                        marks["  that request's latency"] = seconds
                        continue
            except (httpx.HTTPError, ValueError) as exc:
                last = type(exc).__name__  # the tunnel drops connections while nothing listens
            time.sleep(0.2)
    finally:
        probe.close()
        api.close()
    restarts = int(on_host(host, f"systemctl show -P NRestarts {unit}") or 0)
    for label, seconds in marks.items():
        rows.append((label, f"{seconds:7.1f} s"))
    if restarts != restarts_before:
        rows.append(("systemd restarts during cold start", str(restarts - restarts_before)))
    return rows


# spend -----------------------------------------------------------------------------------------


def same_spend(recorded: float, expected: float) -> bool:
    return abs(recorded - expected) <= max(1e-9, expected * 1e-6)


def settled_spend(admin: Admin, value: str, before: float, expected: float, wait: float):
    """(recorded spend, seconds waited): LiteLLM writes spend in batches, so poll until the key's
    spend reaches what the responses cost, or until `wait` s have passed."""
    started = time.monotonic()
    while True:
        recorded = key_spend(admin, value) - before
        waited = time.monotonic() - started
        if same_spend(recorded, expected) or waited > wait:
            return recorded, waited
        time.sleep(1)


# output ----------------------------------------------------------------------------------------


def ms(values: list[float], quantile: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000:.1f}"


def table_row(run: Run) -> str:
    mean = f"{statistics.fmean(run.latencies) * 1000:.1f}" if run.latencies else "-"
    return (
        f"{run.label:<40} {run.count:>5} {ms(run.latencies, 0.5):>8} {ms(run.latencies, 0.95):>8}"
        f" {mean:>8} {run.rate:>8}  {run.failed}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default="inventories/testbed.py")
    parser.add_argument("--model", default="fake-gpt", help="a model name LiteLLM serves")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per path")
    parser.add_argument("--concurrent-requests", type=int, help="default: 2 x --requests")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--stream-requests", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=30, help="seconds per request")
    parser.add_argument("--team-id", default="bench-team")
    parser.add_argument("--key-alias", default="bench-key")
    parser.add_argument("--skip-cold", action="store_true", help="do not restart litellm")
    args = parser.parse_args()
    try:
        bench(args)
    except BenchError as exc:
        sys.exit(f"bench: {exc}")


def bench(args) -> None:
    host = llm_host(args.inventory)
    master = master_key(host.environment)
    key = bench_key_value(master, args.key_alias)
    concurrent_requests = args.concurrent_requests or 2 * args.requests
    spent: Counter = Counter()
    with contextlib.ExitStack() as stack:
        litellm_url = stack.enter_context(tunnel(host, host.address, host.port))
        admin = Admin(litellm_url, master, [master, key])
        stack.callback(admin.client.close)
        models = admin.call("GET", "/model/info")["data"]
        deployment = next((m for m in models if m["model_name"] == args.model), None)
        if deployment is None:
            raise BenchError(f"LiteLLM serves no model {args.model!r} (see /model/info)")
        params = deployment["litellm_params"]
        api_base = urlsplit(params.get("api_base") or "")
        if api_base.scheme != "http" or not api_base.hostname:
            raise BenchError(f"{args.model}: api_base {params.get('api_base')!r} is not http://")
        provider_model = params["model"].split("/", 1)[-1]
        provider_url = stack.enter_context(tunnel(host, api_base.hostname, api_base.port or 80))
        provider_url += api_base.path.removesuffix("/v1").rstrip("/")

        team = ensure_team(admin, args.team_id, args.model)
        key_state = ensure_key(admin, key, args.key_alias, args.team_id, args.model)
        spend_before = key_spend(admin, key)

        c = args.concurrency
        direct = stack.enter_context(client_for(provider_url, None, args.timeout, c))
        proxied = stack.enter_context(client_for(litellm_url, key, args.timeout, c))
        for client, model in ((direct, provider_model), (proxied, args.model)):
            for _ in range(5):  # warm-up: connections open, LiteLLM's caches filled
                chat(client, model, spent if client is proxied else None)

        def to_provider():
            return chat(direct, provider_model)

        def to_litellm():
            return chat(proxied, args.model, spent)

        runs = [
            sequential("provider direct, sequential", to_provider, args.requests),
            sequential("LiteLLM key, sequential", to_litellm, args.requests),
            concurrent(f"provider direct, {c} in flight", to_provider, concurrent_requests, c),
            concurrent(f"LiteLLM key, {c} in flight", to_litellm, concurrent_requests, c),
            sequential(
                "provider direct, stream first chunk",
                lambda: first_chunk(direct, provider_model),
                args.stream_requests,
            ),
            sequential(
                "LiteLLM key, stream first chunk",
                lambda: first_chunk(proxied, args.model),
                args.stream_requests,
            ),
        ]
        streamed = runs[-1].count - sum(runs[-1].failures.values())
        # Streamed responses carry no cost header; they cost what a plain completion does.
        per_request = spent["cost"] / max(1, spent["costed"])
        expected = spent["cost"] + streamed * per_request
        recorded, waited = settled_spend(admin, key, spend_before, expected, wait=60)
        cold = [] if args.skip_cold else cold_start(host, litellm_url, key, args.model)

    print(
        f"LiteLLM {host.name} {host.address}:{host.port}, model {args.model} -> "
        f"{params['api_base']} ({provider_model}); team {args.team_id} {team}, "
        f"key {args.key_alias} {key_state}; timeout {args.timeout:g} s per request; "
        "both paths through SSH tunnels"
    )
    print(f"{'':<40} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'req/s':>8}  failures")
    for run in runs:
        print(table_row(run))
    costed = spent["costed"] + streamed
    print(
        f"spend on {args.key_alias}: {recorded:.6f} recorded for {costed} requests, "
        f"{expected:.6f} expected from the cost headers"
        + (f" (settled after {waited:.0f} s)" if same_spend(recorded, expected) else " MISMATCH")
        + (f"; {spent['uncosted']} responses without a cost header" if spent["uncosted"] else "")
    )
    if cold:
        print(f"cold start (from issuing `systemctl restart litellm@{host.port}`):")
        for label, value in cold:
            print(f"  {label:<38} {value}")


if __name__ == "__main__":
    main()
