"""A chat-completion load client that runs on a deployed host with nothing but Python's standard
library (scripts/bench_edge.py sends it over SSH as `python3 -c`).

Reads its job as JSON on standard input (so keys never appear in argv):
  {"requests": N, "concurrency": C, "timeout": seconds, "warmup": W,
   "targets": [{"label", "scheme", "name", "address", "port", "path", "model",
                "key" (or null), "ca_pem" (or null: the system's roots)}]}
For each target: W warm-up requests, N one at a time, then N x 2 with C in flight, each thread
on its own keep-alive connection. Prints one JSON object: {label: {"sequential": run,
"concurrent": run}} with run = {"latencies": [s, ...], "failures": {why: n}, "seconds": s}.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import sys
import threading
import time
from collections import Counter

PROMPT = [{"role": "user", "content": "Say hello to the benchmark please"}]


class PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to `address` while SNI, certificate check and Host name `host` (no DNS needed)."""

    def __init__(self, host, port, *, address, context, timeout):
        super().__init__(host, port, context=context, timeout=timeout)
        self.address, self.tls = address, context

    def connect(self):
        raw = socket.create_connection((self.address, self.port), self.timeout)
        # As http.client's own connect() does: without it, Nagle's algorithm holds the request's
        # second TLS record until the server's delayed ACK, 40 ms later.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


class Target:
    def __init__(self, spec: dict, timeout: float):
        self.spec, self.timeout = spec, timeout
        self.body = json.dumps({"model": spec["model"], "messages": PROMPT}).encode()
        self.headers = {"Content-Type": "application/json", "Host": spec["name"]}
        if spec.get("key"):
            self.headers["Authorization"] = f"Bearer {spec['key']}"
        self.context = None
        if spec["scheme"] == "https":
            self.context = ssl.create_default_context(cadata=spec.get("ca_pem") or None)
            if not spec.get("ca_pem"):
                self.context.load_default_certs()

    def connection(self):
        spec = self.spec
        if self.context is not None:
            return PinnedHTTPS(
                spec["name"],
                spec["port"],
                address=spec["address"],
                context=self.context,
                timeout=self.timeout,
            )
        return http.client.HTTPConnection(spec["address"], spec["port"], timeout=self.timeout)

    def call(self, conn) -> tuple[float, str]:
        started = time.perf_counter()
        try:
            conn.request("POST", self.spec["path"], body=self.body, headers=self.headers)
            answer = conn.getresponse()
            data = answer.read()
            seconds = time.perf_counter() - started
            if answer.status != 200:
                return seconds, f"HTTP {answer.status}"
            json.loads(data)["choices"][0]["message"]
            return seconds, "ok"
        except TimeoutError:
            return time.perf_counter() - started, "timeout"
        except (OSError, http.client.HTTPException, ValueError, KeyError, IndexError) as exc:
            return time.perf_counter() - started, type(exc).__name__


def measure(target: Target, requests: int, threads: int) -> dict:
    latencies, failures, lock, issued = [], Counter(), threading.Lock(), [0]

    def worker():
        conn = target.connection()
        while True:
            with lock:
                if issued[0] >= requests:
                    break
                issued[0] += 1
            seconds, outcome = target.call(conn)
            with lock:
                if outcome == "ok":
                    latencies.append(seconds)
                else:
                    failures[outcome] += 1
            if outcome != "ok":
                conn.close()
                conn = target.connection()
        conn.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return {
        "latencies": latencies,
        "failures": dict(failures),
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    job = json.load(sys.stdin)
    report = {}
    for spec in job["targets"]:
        target = Target(spec, job["timeout"])
        measure(target, job["warmup"], 1)
        report[spec["label"]] = {
            "sequential": measure(target, job["requests"], 1),
            "concurrent": measure(target, 2 * job["requests"], job["concurrency"]),
        }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
