"""The SaaS API's pieces that need nothing running: settings refusals, the rendered unit and
environment file, the wait-ready script, the migration fact, the wheel artifact, the LiteLLM
client's turns over its instances."""

import asyncio
import configparser
import hashlib
import http.server
import json
import secrets
import subprocess
import sys
import tarfile
import threading

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from saas_api.keys import KeyVault, key_hash, new_key
from saas_api.litellm import LiteLLMClient
from saas_api.settings import Settings

from bundle import artifacts
from bundle.facts import SaasApiPendingMigrations
from bundle.platforms import local_target
from bundle.render import render

GOOD = {
    "database_url": "postgresql://saas@10.0.0.2:5432/saas?sslmode=require",
    "master_key": secrets.token_urlsafe(32),
    "litellm_proxy_url": "http://10.0.0.3:4000",
    "litellm_master_key": "sk-" + secrets.token_urlsafe(32),
    "key_encryption_secret": Fernet.generate_key().decode(),
}


def test_settings_accept_generated_secrets():
    settings = Settings(**GOOD)
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg://saas@")
    assert settings.default_model_group is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("master_key", "change-me-change-me-change-me-change-me", "placeholder"),
        ("master_key", "Xq7-tiny", "shorter"),
        ("litellm_master_key", "sk-litellm-your-super-secure-key-here-0000", "placeholder"),
        ("litellm_master_key", secrets.token_urlsafe(32), "sk-"),
        ("key_encryption_secret", "not-a-fernet-key", "Fernet"),
        ("database_url", "postgresql://saas:hunter2@db/saas", "password"),
        ("database_url", "mysql://saas@db/saas", "postgresql"),
    ],
)
def test_settings_refuse_placeholders_and_malformed_values(field, value, message):
    with pytest.raises(ValidationError) as error:
        Settings(**(GOOD | {field: value}))
    assert message in str(error.value)
    assert value not in str(error.value)


@pytest.mark.parametrize("missing", ["master_key", "litellm_master_key", "key_encryption_secret"])
def test_required_secrets_have_no_default(missing, monkeypatch):
    for name in GOOD:
        monkeypatch.delenv(name.upper(), raising=False)
    with pytest.raises(ValidationError, match=missing):
        Settings(**{k: v for k, v in GOOD.items() if k != missing})


def test_keys_are_litellm_shaped_and_stored_encrypted():
    key = new_key()
    assert key.startswith("sk-") and len(key) <= 100
    assert key_hash(key) == hashlib.sha256(key.encode()).hexdigest()
    vault = KeyVault(Fernet.generate_key().decode())
    token = vault.encrypt(key)
    assert key not in token and vault.decrypt(token) == key
    with pytest.raises(RuntimeError, match="KEY_ENCRYPTION_SECRET"):
        KeyVault(Fernet.generate_key().decode()).decrypt(token)


def unit(**overrides):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    text = render(
        "saas_api/saas-api.service.j2",
        **({"listen_address": "10.0.0.5", "port": 8003, "workers": 3} | overrides),
    )
    parser.read_string(text)
    return parser


def test_unit_listens_on_the_private_address_sandboxed_without_secrets():
    service = unit()["Service"]
    assert "--host 10.0.0.5 --port 8003 --workers 3" in service["ExecStart"]
    assert service["User"] == "saas-api"
    assert service["EnvironmentFile"] == "/etc/saas-api/saas-api.env"
    for setting in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "MemoryDenyWriteExecute"):
        assert service[setting] == "yes"
    assert service["ProtectSystem"] == "strict"


def admin_unit(**overrides):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    context = {"listen_address": "10.0.0.5", "port": 3000, "workers": 2}
    context["forwarded_allow_ips"] = ["10.0.0.11", "10.0.0.12"]
    parser.read_string(render("saas_api/saas-admin.service.j2", **(context | overrides)))
    return parser


def test_the_admin_panel_unit_runs_the_panel_app_on_the_private_address():
    service = admin_unit()["Service"]
    command = service["ExecStart"]
    assert command.startswith(
        "/opt/saas-api/venv/bin/uvicorn --factory saas_api.admin.app:create_app "
        "--host 10.0.0.5 --port 3000 --workers 2 "
    )
    assert "--no-server-header --no-access-log" in command
    # The browser's address from X-Forwarded-For, believed from the edge hosts only.
    assert "--proxy-headers --forwarded-allow-ips 10.0.0.11,10.0.0.12 " in command
    assert (service["User"], service["Group"]) == ("saas-api", "saas-api")


def test_without_edge_hosts_the_admin_panel_believes_no_forwarded_header():
    command = admin_unit(forwarded_allow_ips=[])["Service"]["ExecStart"]
    assert "--no-proxy-headers" in command and "--forwarded-allow-ips" not in command


def service_lines(template: str, **context) -> list[str]:
    """The [Service] section's settings, in order (repeated keys included), comments dropped."""
    text = render(template, **context)
    section = text.split("[Service]\n", 1)[1].split("\n[", 1)[0]
    return [line for line in section.splitlines() if line and not line.startswith("#")]


def test_the_admin_panel_reads_the_same_environment_with_the_same_sandbox():
    context = {"listen_address": "10.0.0.5", "port": 3000, "workers": 2}
    api = service_lines("saas_api/saas-api.service.j2", **context)
    panel = service_lines(
        "saas_api/saas-admin.service.j2", **context, forwarded_allow_ips=["10.0.0.11"]
    )
    differ = [line for line in panel if line not in api] + [
        line for line in api if line not in panel
    ]
    assert [line.split("=", 1)[0] for line in differ] == ["ExecStart", "ExecStart"]
    assert len(panel) == len(api) > 30
    assert "EnvironmentFile=/etc/saas-api/saas-api.env" in panel
    assert "MemoryDenyWriteExecute=yes" in panel and "CapabilityBoundingSet=" in panel
    assert admin_unit()["Install"]["WantedBy"] == "multi-user.target"


def test_environment_file_has_no_password_in_the_url_and_an_optional_default_group():
    context = {
        "database_url": "postgresql://saas@10.0.0.2:5432/saas?sslmode=require",
        "database_password": "pw",
        "master_key": "mk",
        "litellm_url": "http://10.0.0.3:4000",
        "litellm_master_key": "sk-x",
        "key_encryption_secret": "kek",
        "pool_size": 10,
    }
    without = render("saas_api/saas-api.env.j2", **context, default_model_group=None)
    assert "DEFAULT_MODEL_GROUP" not in without
    assert "PGPASSWORD=pw\n" in without
    with_group = render("saas_api/saas-api.env.j2", **context, default_model_group="standard")
    assert "DEFAULT_MODEL_GROUP=standard\n" in with_group


def wait_ready_script(tmp_path, instances: dict, *, key="db", value="connected", timeout=3):
    script = tmp_path / "wait-ready"
    script.write_text(
        render(
            "shared/wait-ready.py.j2",
            task="t",
            label="X",
            instances=instances,
            key=key,
            value=value,
            timeout=timeout,
        )
    )
    return lambda *names: subprocess.run(
        [sys.executable, str(script), *names], capture_output=True, text=True, timeout=30
    )


@pytest.fixture
def readiness_server():
    """/ready answers {"db": "connected"}, /starting {"db": "disconnected"}."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = json.dumps({"db": "connected" if self.path == "/ready" else "disconnected"})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_wait_ready_waits_for_the_named_instances_or_all(tmp_path, readiness_server):
    run = wait_ready_script(
        tmp_path,
        {
            "4000": {"unit": "litellm@4000.service", "url": f"{readiness_server}/ready"},
            "4001": {"unit": "litellm@4001.service", "url": f"{readiness_server}/starting"},
        },
    )
    ready = run("4000")
    assert ready.returncode == 0 and "(litellm@4000.service) ready after" in ready.stdout
    for waiting in (run("4001"), run()):  # one named, or all by default
        assert waiting.returncode != 0
        assert "(litellm@4001.service) not ready after 3 s" in waiting.stderr
        assert "'db': 'disconnected'" in waiting.stderr
    unknown = run("4002")
    assert unknown.returncode != 0 and "unknown instance '4002'" in unknown.stderr


def test_wait_ready_compares_json_values(tmp_path, readiness_server):
    url = f"{readiness_server}/ready"
    run = wait_ready_script(tmp_path, {"x": {"unit": "x.service", "url": url}}, value=True)
    assert run().returncode != 0  # "connected" is not true
    run = wait_ready_script(tmp_path, {"x": {"unit": "x.service", "url": url}})
    assert run().returncode == 0


def test_pending_migrations_fact_reads_the_last_line():
    fact = SaasApiPendingMigrations()
    assert fact.process(["warning", "pending 1"]) == 1
    assert fact.process([]) is None
    assert "--env-file /etc/saas-api/saas-api.env --pending" in fact.command(
        "/opt/saas-api/venv/bin/saas-api-migrate", "/etc/saas-api/saas-api.env"
    )


def test_saas_api_tar_pins_its_own_wheel_by_hash():
    tar_path = artifacts.saas_api_tar(local_target())
    with tarfile.open(tar_path) as archive:
        assert all(member.mtime == 0 for member in archive.getmembers())
        names = archive.getnames()
        lock = archive.extractfile("requirements.lock").read().decode()
        wheel_name = next(n for n in names if n.startswith("saas_api-"))
        wheel = archive.extractfile(wheel_name).read()
    assert f"--hash=sha256:{hashlib.sha256(wheel).hexdigest()}" in lock
    assert "fastapi==" in lock and "sqlalchemy==" in lock


def litellm_over(urls, refused=()):
    """A LiteLLMClient whose transport answers for every URL but the `refused` ones (connection
    refused), and the host:port of every attempt, in order."""
    attempts = []

    def answer(request):
        attempts.append(f"{request.url.host}:{request.url.port}")
        if attempts[-1] in refused:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"status": "healthy"})

    return LiteLLMClient(urls, "sk-test", transport=httpx.MockTransport(answer)), attempts


def test_the_litellm_client_takes_turns_over_its_instances():
    client, attempts = litellm_over(["http://10.0.0.3:4000", "http://10.0.0.3:4001"])
    asyncio.run(asyncio.wait_for(_readiness(client, 4), 10))
    assert attempts == ["10.0.0.3:4000", "10.0.0.3:4001"] * 2


def test_the_litellm_client_passes_over_an_instance_that_refused():
    urls = ["http://10.0.0.3:4000", "http://10.0.0.4:4000", "http://10.0.0.5:4000"]
    client, attempts = litellm_over(urls, refused={"10.0.0.4:4000"})
    asyncio.run(asyncio.wait_for(_readiness(client, 6), 10))
    # Tried once (refused, the request went on to the next), then left out of the turns.
    assert attempts.count("10.0.0.4:4000") == 1
    assert len(attempts) == 7 and attempts[:3] == [
        "10.0.0.3:4000",
        "10.0.0.4:4000",
        "10.0.0.5:4000",
    ]


async def _readiness(client, times):
    try:
        for _ in range(times):
            assert (await client.readiness())["status"] == "healthy"
    finally:
        await client.close()
