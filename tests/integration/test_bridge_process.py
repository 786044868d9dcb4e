"""The query-engine command itself, driven over HTTP as prisma-client-py drives it: command line,
loopback-only listening, status/metrics/query endpoints, TLS modes, database down at start,
signals, and no secrets in its command line or logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import QUERY_ENGINE, free_port, run

ENGINE_VERSION = "393aa359c9ad4a4bb28630fb5613f9c281cde053"


class Bridge:
    """One query-engine process started the way prisma-client-py starts it."""

    def __init__(self, schema: Path, url: str, log: Path, extra_env=None):
        self.port = free_port()
        self.log_path = log
        self.log = log.open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PRISMA", "DATABASE"))}
        env.update(
            PRISMA_DML_PATH=str(schema),
            DATABASE_URL=url,
            RUST_LOG="error",
            RUST_LOG_FORMAT="json",
            PRISMA_CLIENT_ENGINE_TYPE="binary",
            PRISMA_ENGINE_PROTOCOL="graphql",
        )
        env.update(extra_env or {})
        self.process = subprocess.Popen(
            [str(QUERY_ENGINE), "-p", str(self.port), "--enable-metrics", "--enable-raw-queries"],
            env=env,
            stdout=self.log,
            stderr=self.log,
        )

    def request(self, method, path, body=None, headers=None, timeout=10):
        data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        req = urllib.request.Request(
            f"http://localhost:{self.port}{path}",
            data=None if data is None else data.encode(),
            method=method,
            headers={"Accept": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def status(self):
        try:
            return self.request("GET", "/status", timeout=2)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None, ""

    def wait_status(self, expected, timeout=30):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"query-engine exited {self.process.returncode}\n{self.logs()}")
            last = self.status()
            if last[0] == expected:
                return last
            time.sleep(0.1)
        pytest.fail(f"/status never answered {expected} (last: {last})\n{self.logs()}")

    def query(self, graphql, tx=None):
        headers = {"X-transaction-id": tx} if tx else {}
        status, text = self.request(
            "POST", "/", {"query": graphql, "variables": {}, "operation_name": "query"}, headers
        )
        assert status == 200, text
        return json.loads(text)

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGINT, timeout=10):
        """Signal the process; return its exit code and how long it took to exit."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                pytest.fail(f"query-engine ignored {sig!r} for {timeout}s\n{self.logs()}")
        self.log.close()
        return self.process.returncode, time.monotonic() - started


@pytest.fixture
def bridges(litellm_files, tmp_path):
    started = []

    def start(url, **kwargs):
        bridge = Bridge(
            litellm_files["schema"], url, tmp_path / f"bridge-{len(started)}.log", **kwargs
        )
        started.append(bridge)
        return bridge

    yield start
    for bridge in started:
        if bridge.process.poll() is None:
            bridge.process.kill()
            bridge.process.wait(timeout=10)


def listening_addresses(pid):
    """Local addresses of the process's listening TCP sockets, from `ss`."""
    out = run(["ss", "-Hltnp"], timeout=10).stdout
    return sorted(
        line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if f"pid={pid}," in line
    )


def test_version_exits_zero(engine_ready):
    result = run([QUERY_ENGINE, "--version"], timeout=30)
    assert result.stdout == f"query-engine {ENGINE_VERSION}\n"
    assert result.returncode == 0


def test_usage_errors(engine_ready, tmp_path):
    assert run([QUERY_ENGINE, "--bogus"], timeout=30, check=False).returncode == 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRISMA")}
    result = run([QUERY_ENGINE, "-p", str(free_port())], env=env, timeout=30, check=False)
    assert result.returncode == 1
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["level"] == "ERROR" and "PRISMA_DML_PATH" in line["fields"]["message"]


def test_serves_status_metrics_and_graphql_on_loopback_only(bridges, litellm_db):
    bridge = bridges(litellm_db.url())
    assert bridge.wait_status(200)[1] == '{"status":"ok"}'
    assert listening_addresses(bridge.process.pid) in (["127.0.0.1"], ["127.0.0.1", "[::1]"])

    status, text = bridge.request("GET", "/metrics?format=json")
    assert (status, json.loads(text)) == (200, {"counters": [], "gauges": [], "histograms": []})
    assert bridge.request("GET", "/metrics?format=prometheus") == (200, "")
    assert bridge.request("GET", "/nope")[0] == 404

    # the GraphQL prisma-client-py renders: lists open with a comma, Json as JSON text
    created = bridge.query(
        "mutation {\n  result: createOneLiteLLM_Config\n  (\n    data: {\n"
        '      param_name: "bridge-direct"\n      param_value: "{\\"list\\": [1, 2]}"\n'
        "    }\n  )\n  {\n    param_name\n    param_value\n  }\n}"
    )
    assert created == {
        "data": {"result": {"param_name": "bridge-direct", "param_value": '{"list":[1,2]}'}}
    }
    many = bridge.query(
        "query { result: findManyLiteLLM_Config ( where: { param_name: { in: [, "
        '"bridge-direct", "other", ] } } ) { param_name } }'
    )
    assert many == {"data": {"result": [{"param_name": "bridge-direct"}]}}
    raw = bridge.query(
        "mutation { result: queryRaw ( query: \"SELECT $1::int + 1 AS n, 'x'::name AS nm\""
        ' parameters: "[41]" ) }'
    )
    assert raw == {
        "data": {
            "result": {"columns": ["n", "nm"], "types": ["int", "string"], "rows": [[42, "x"]]}
        }
    }

    invalid = bridge.query("query { result: findManyLiteLLM_Config ( where: { ) }")
    assert invalid["errors"][0]["user_facing_error"]["error_code"] == "P2009"
    unknown = bridge.query("query { result: findManyNothing { id } }")
    assert "unknown operation findManyNothing" in unknown["errors"][0]["error"]

    code, seconds = bridge.stop(signal.SIGTERM)
    assert code == 0 and seconds < 5


def test_transactions_over_http(bridges, litellm_db):
    bridge = bridges(litellm_db.url())
    bridge.wait_status(200)
    status, text = bridge.request("POST", "/transaction/start", {"timeout": 5000, "max_wait": 2000})
    tx = json.loads(text)["id"]
    bridge.query(
        'mutation { result: createOneLiteLLM_Config ( data: { param_name: "http-tx"'
        ' param_value: "1" } ) { param_name } }',
        tx=tx,
    )
    assert json.loads(bridge.request("POST", f"/transaction/{tx}/rollback")[1]) == {}
    again = json.loads(bridge.request("POST", f"/transaction/{tx}/rollback")[1])
    assert again["errors"][0]["user_facing_error"]["error_code"] == "P2028"
    assert again["errors"][0]["error"].startswith("Transaction already closed")
    assert (
        litellm_db.psql("SELECT count(*) FROM \"LiteLLM_Config\" WHERE param_name = 'http-tx'")
        == "0"
    )
    assert bridge.stop()[0] == 0


def test_database_down_at_start_is_retried_then_served(bridges, litellm_db):
    litellm_db.stop()
    try:
        bridge = bridges(litellm_db.url())
        time.sleep(3)
        status, text = bridge.status()
        assert status == 503 and "cannot connect to the database" in text
        assert bridge.process.poll() is None  # retrying, not crash-looping
        attempts = [line for line in bridge.logs().splitlines() if "cannot connect" in line]
        assert 2 <= len(attempts) <= 6  # backing off: 0.25 s, 0.5 s, 1 s, 2 s …
    finally:
        litellm_db.start()
    bridge.wait_status(200, timeout=30)
    assert bridge.query("query { result: aggregateLiteLLM_Config { _count { _all } } }")["data"]
    assert bridge.stop()[0] == 0


def test_no_secrets_in_command_line_or_logs(bridges, litellm_db):
    wrong = litellm_db.url().replace(litellm_db.password, "wrong-" + litellm_db.password[:8])
    failing = bridges(wrong)
    working = bridges(litellm_db.url(), extra_env={"RUST_LOG": "info"})
    working.wait_status(200)
    time.sleep(1.5)
    assert failing.status()[0] == 503
    for bridge in (failing, working):
        cmdline = Path(f"/proc/{bridge.process.pid}/cmdline").read_bytes().decode()
        assert litellm_db.password not in cmdline and "postgresql://" not in cmdline
    working.query('mutation { result: executeRaw ( query: "SELECT 1" parameters: "[]" ) }')
    for bridge in (failing, working):
        assert bridge.stop()[0] == 0
        logs = bridge.logs()
        assert logs  # the failing one logged its retries
        for secret in (litellm_db.password, litellm_db.password[:8], "postgresql://"):
            assert secret not in logs
        for line in logs.strip().splitlines():
            json.loads(line)  # every log line is one JSON object
    assert "password authentication failed" in failing.logs()


def test_tls_modes(bridges, litellm_db, tmp_path):
    server_cert = litellm_db.data / "server.crt"
    other_ca = tmp_path / "other.crt"
    run(
        ["openssl", "req", "-new", "-x509", "-days", "1", "-nodes", "-subj", "/CN=other",
         "-newkey", "rsa:2048", "-keyout", tmp_path / "other.key", "-out", other_ca],
    )  # fmt: skip
    verified = bridges(litellm_db.url(sslmode="verify-ca", sslrootcert=server_cert))
    prefer = bridges(litellm_db.url(sslmode="prefer"))
    wrong_ca = bridges(litellm_db.url(sslmode="verify-ca", sslrootcert=other_ca))
    plain = bridges(litellm_db.url(sslmode="disable"))
    verified.wait_status(200)
    prefer.wait_status(200)
    time.sleep(1.5)
    assert wrong_ca.status()[0] == 503
    assert "certificate" in wrong_ca.logs()
    assert plain.status()[0] == 503
    assert "no encryption" in plain.logs()  # pg_hba allows TLS only
    ssl_in_use = verified.query(
        'mutation { result: queryRaw ( query: "SELECT ssl FROM pg_stat_ssl WHERE pid = '
        'pg_backend_pid()" parameters: "[]" ) }'
    )
    assert ssl_in_use["data"]["result"]["rows"] == [[True]]
    for bridge in (verified, prefer, wrong_ca, plain):
        assert bridge.stop()[0] == 0
