"""The docker-compose dev target as a developer uses it: `make dev` from a clean clone of this
repository (its own venv and `dev` secret store; the shared download caches), on this machine's
Docker engine (started by make dev when none answers), then the setup guide's requests on
localhost as written, the LiteLLM UI in a real browser, the verification suite through
testinfra's docker backend, a second run that changes nothing, the dev loop, bad input, data
kept across dev-down, and dev-purge.

The tests share one stack (building and starting it costs minutes) and run in file order; they
sit next to the single-topology testbed, whose deployed llm host the image's venv is compared
with."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import pytest

from bundle.secret_store import SecretStore
from compose import engine

from .conftest import REPO, ssh
from .test_saas_api import (
    SEED_CREATE_ORG,
    SEED_CREATE_TEAM,
    SEED_GET_TEAM,
    SEED_TEAM_REQUEST,
    seed_curl,
)

pytestmark = pytest.mark.parametrize("topology", ["single"], indirect=True)

# Its own project and network, so a developer's own dev stack (gateway-dev) is never touched.
PROJECT, SUBNET = "gateway-e2e", "172.29.214.0/24"
SERVICES = {"postgres", "redis", "litellm", "saas-api", "admin", "fake-provider"}
LITELLM, SAAS_API = "http://localhost:8002", "http://localhost:8003"
ADMIN_PANEL = "http://127.0.0.1:3000"
ARTIFACTS = REPO / "test-artifacts"
MAKE_SECONDS = 2400


@dataclass
class Dev:
    clone: Path
    client: docker.DockerClient
    outputs: dict[str, str]  # every make dev output, for the secret grep
    first: subprocess.CompletedProcess

    def make(self, target: str, *, env: dict | None = None, timeout: int = MAKE_SECONDS):
        started = time.monotonic()
        done = subprocess.run(
            ["make", target],
            cwd=self.clone,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        done.seconds = time.monotonic() - started
        self.outputs[f"make {target} #{len(self.outputs)}"] = done.stdout + done.stderr
        return done

    def secrets(self) -> dict[str, str]:
        os.environ["GATEWAY_SECRETS_DIR"] = str(self.clone / "secrets")
        try:
            return SecretStore("dev").values()
        finally:
            del os.environ["GATEWAY_SECRETS_DIR"]

    def containers(self) -> dict[str, docker.models.containers.Container]:
        found = self.client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={PROJECT}"}
        )
        return {c.labels["com.docker.compose.service"]: c for c in found}

    def state(self) -> dict[str, tuple[str, str, str]]:
        """service -> (container id, image id, start time)."""
        return {
            service: (c.id, c.image.id, c.attrs["State"]["StartedAt"])
            for service, c in self.containers().items()
        }


def summary(output: str) -> str:
    return output[output.index("The dev stack is up") :]


def ok(done) -> str:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def dev(topology, tmp_path_factory):
    clone = tmp_path_factory.mktemp("dev") / "clone"
    cloned = subprocess.run(
        ["git", "clone", "-q", str(REPO), str(clone)], capture_output=True, text=True, check=False
    )
    assert cloned.returncode == 0, cloned.stderr
    with (clone / "group_data" / "dev.py").open("a") as settings_file:
        settings_file.write(f'\ndev_project = "{PROJECT}"\ndev_subnet = "{SUBNET}"\n')
    engine_was_running = engine.answering_address() is not None
    stack = Dev(clone, None, {}, None)
    # Nothing of an earlier run's stack (another clone's, with other secrets).
    ok(stack.make("dev-purge"))
    stack.first = stack.make("dev")
    ok(stack.first)
    stack.client = engine.client(start=False)
    yield stack
    stack.make("dev-purge")
    if not engine_was_running:
        engine.stop_own_engine()


def test_make_dev_brings_every_service_up_healthy_with_ports_on_loopback_only(dev):
    containers = dev.containers()
    assert set(containers) == SERVICES
    for service, container in containers.items():
        assert container.attrs["State"]["Health"]["Status"] == "healthy", service
    published = {
        service: {
            (binding["HostIp"], binding["HostPort"])
            for bindings in (c.attrs["HostConfig"]["PortBindings"] or {}).values()
            for binding in bindings
        }
        for service, c in containers.items()
    }
    assert published == {
        "postgres": set(),
        "redis": set(),
        "fake-provider": set(),
        "litellm": {("127.0.0.1", "8002")},
        "saas-api": {("127.0.0.1", "8003")},
        "admin": {("127.0.0.1", "3000")},
    }
    print(f"cold make dev (from a clean clone): {dev.first.seconds:.0f} s")
    print(dev.first.stderr.strip().splitlines()[-1])


def test_the_guides_requests_answer_on_localhost_as_written(dev):
    secrets = dev.secrets()
    admin = {"MASTER_KEY": secrets["saas_api_master_key"]}
    org = seed_curl(SEED_CREATE_ORG, SAAS_API, LITELLM, **admin)
    assert org["name"] == "Test Org" and org["litellm_organization_id"] == "test-org"
    team = seed_curl(
        SEED_CREATE_TEAM.replace("org_...", org["organization_id"]), SAAS_API, LITELLM, **admin
    )
    assert team["team_id"] == "test-team" and team["model_groups"] == ["standard-models"]
    info = seed_curl(SEED_GET_TEAM.format(team_id="test-team"), SAAS_API, LITELLM, **admin)
    key = info["virtual_key"]
    assert key.startswith("sk-") and key == team["virtual_key"]
    answer = seed_curl(SEED_TEAM_REQUEST, SAAS_API, LITELLM, TEAM_VIRTUAL_KEY=key)
    assert answer["choices"][0]["message"]["content"]
    # gpt-4-turbo exists in LiteLLM but is outside the team's group.
    outside = httpx.post(
        f"{LITELLM}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "gpt-4-turbo", "messages": [{"role": "user", "content": "not mine"}]},
        timeout=60,
    )
    assert outside.status_code == 403, outside.text[:300]
    keys_file = dev.clone / "secrets" / "dev-team-keys.json"
    assert keys_file.stat().st_mode & 0o777 == 0o600
    assert json.loads(keys_file.read_text())["test-team"] == key


def test_the_admin_panel_answers_on_loopback_port_3000(dev):
    health = httpx.get(f"{ADMIN_PANEL}/health", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}, health.text[:300]
    ready = httpx.get(f"{ADMIN_PANEL}/health/ready", timeout=10)
    assert ready.json() == {"ready": True, "database": "ok", "litellm": "ok"}, ready.text[:300]
    assert "http://localhost:3000" in summary(dev.first.stdout)


def test_the_admin_panel_logs_in_at_the_guides_address_and_lists_the_seeded_team(dev):
    """http://localhost:3000, as Step 3 of the guide says: its Secure cookie works there too
    (a browser treats localhost as a secure origin)."""
    from .admin_panel import AdminBrowser

    with AdminBrowser(
        "http://localhost:3000", ARTIFACTS / "dev", names={"localhost": None}, ca_file=None
    ) as browser:
        browser.open("/")
        assert browser.path == "/login"
        browser.fill({"key": dev.secrets()["saas_api_master_key"], "name": "dev-e2e"})
        browser.press("Log in")
        assert browser.path == "/", browser.errors()
        browser.screenshot("dashboard")
        browser.open("/teams?q=test-team")
        assert "test-team" in browser.texts("tbody tr td:first-child .sub")
        browser.screenshot("teams")
        assert browser.console_errors() == []


def test_the_litellm_ui_logs_in_with_the_master_key(dev):
    from .litellm_ui import login_to_litellm_ui

    screenshot = ARTIFACTS / "litellm-ui-dev.png"
    result = login_to_litellm_ui(LITELLM, dev.secrets()["litellm_master_key"], screenshot)
    assert result["logged_in"], result
    assert result["url"].startswith(f"{LITELLM}/ui"), result
    assert screenshot.stat().st_size > 10_000


def test_the_verification_suite_passes_against_the_containers(dev):
    done = subprocess.run(
        [dev.clone / ".venv" / "bin" / "python", "-m", "pytest", "tests/verify", "--dev-stack"]
        + ["-q", "-p", "no:cacheprovider"],
        cwd=dev.clone,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    last = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", last) and "failed" not in last, last


def test_the_image_venv_is_the_deployed_hosts_lock_digest(dev, first_deploy, roles):
    on_host = ssh(roles["llm"], "readlink /opt/litellm/venv", check=True).stdout.strip()
    litellm = dev.containers()["litellm"]
    exit_code, output = litellm.exec_run(["readlink", "/opt/litellm/venv"])
    assert exit_code == 0
    assert output.decode().strip() == on_host
    assert re.fullmatch(r"/opt/litellm/venvs/litellm-[0-9a-f]{16}-cp3[0-9]+", on_host)


def test_a_second_make_dev_builds_and_restarts_nothing_and_prints_the_same(dev):
    before = dev.state()
    images_before = {i.id for i in dev.client.images.list()}
    second = dev.make("dev")
    ok(second)
    assert dev.state() == before
    assert {i.id for i in dev.client.images.list()} == images_before
    assert "==> building image" not in second.stdout
    assert "nothing to create or start" in second.stdout
    assert summary(second.stdout) == summary(dev.first.stdout)
    print(f"warm make dev: {second.seconds:.1f} s")


def test_a_saas_api_source_edit_shows_on_localhost_within_10_seconds(dev):
    source = dev.clone / "saas_api" / "src" / "saas_api" / "routes" / "health.py"
    original = source.read_text()
    marker = f"edited-{time.time_ns()}"
    before = dev.state()
    try:
        source.write_text(original.replace('{"status": "ok"}', f'{{"status": "{marker}"}}', 1))
        seconds = wait_for_health_status(marker, timeout=10)
        print(f"source edit visible after {seconds:.1f} s")
    finally:
        source.write_text(original)
    wait_for_health_status("ok", timeout=30)
    assert dev.state() == before  # reloaded in place: no rebuild, no new container


def wait_for_health_status(status: str, *, timeout: float) -> float:
    started = time.monotonic()
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{SAAS_API}/health", timeout=2).json().get("status") == status:
                return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"/health never said {status!r}"
        time.sleep(0.2)


def test_no_dev_secret_is_in_the_compose_file_the_images_or_the_output(dev):
    secrets = {name: value.encode() for name, value in dev.secrets().items()}
    places = {"compose/compose.yaml": (dev.clone / "compose" / "compose.yaml").read_bytes()}
    places |= {name: text.encode() for name, text in dev.outputs.items()}
    for service, container in dev.containers().items():
        image = container.image
        places[f"docker history {service}"] = json.dumps(image.history()).encode()
        places[f"docker inspect {service}"] = json.dumps(container.attrs).encode()
        hits = image_tar_hits(image, secrets)
        assert hits == set(), f"{service}'s saved image holds {sorted(hits)}"
    for place, content in places.items():
        found = sorted(name for name, value in secrets.items() if value in content)
        assert found == [], f"{place} holds {found}"


def image_tar_hits(image, secrets: dict[str, bytes]) -> set[str]:
    """Stream `docker save` of the image and look for every secret (across chunk edges)."""
    overlap = max(len(v) for v in secrets.values())
    tail, hits = b"", set()
    for chunk in image.save(chunk_size=4 << 20):
        window = tail + chunk
        hits |= {name for name, value in secrets.items() if value in window}
        tail = window[-overlap:]
    return hits


def test_bad_input_gets_one_clear_line_and_changes_nothing(dev):
    before = dev.state()
    no_engine = dev.make("dev", env={"DOCKER_HOST": "unix:///run/gateway-dev/nothing.sock"})
    assert no_engine.returncode != 0
    assert "DOCKER_HOST=unix:///run/gateway-dev/nothing.sock" in last_line(no_engine)
    assert "unset DOCKER_HOST" in last_line(no_engine)

    settings_file = dev.clone / "group_data" / "dev.py"
    original = settings_file.read_text()
    try:
        settings_file.write_text(original + '\ndev_litellm_port = "8o02"\n')
        malformed = dev.make("dev")
    finally:
        settings_file.write_text(original)
    assert malformed.returncode != 0
    assert last_line(malformed) == (
        "dev: group_data/dev.py: dev_litellm_port = '8o02'; set it to a port number from 1024 "
        "to 65535 (or remove it for the default)"
    )
    assert dev.state() == before


def last_line(done) -> str:
    lines = [line for line in done.stderr.strip().splitlines() if not line.startswith("make")]
    return lines[-1]


def test_dev_down_then_dev_keeps_teams_keys_and_spend(dev):
    secrets = dev.secrets()
    saas = httpx.Client(
        base_url=SAAS_API, headers={"X-Admin-Key": secrets["saas_api_master_key"]}, timeout=120
    )
    team = saas.post(
        "/api/teams/create",
        json={"name": "Kept Team", "organization_id": "test-org", "litellm_team_id": "kept-team"}
        | {"max_budget": 50.0},
    )
    assert team.status_code in (200, 201), team.text[:300]
    key = team.json()["virtual_key"]
    for _ in range(3):
        answer = chat(key)
        assert answer.status_code == 200, answer.text[:300]
    master = {"Authorization": f"Bearer {secrets['litellm_master_key']}"}
    # Spend is written in batches (every litellm_spend_write_interval s) and on a graceful stop.
    spend_before = key_spend(master, key)

    down = dev.make("dev-down")
    ok(down)
    assert dev.containers() == {}
    volumes = {v.name for v in dev.client.volumes.list()}
    assert {f"{PROJECT}_postgres-data", f"{PROJECT}_redis-data"} <= volumes

    # A taken port stops make dev before anything starts.
    with socket.socket() as squatter:
        # (the stack's closed connections leave 8003 in TIME_WAIT)
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", 8003))
        squatter.listen()
        taken = dev.make("dev")
    assert taken.returncode != 0
    assert "port 8003" in last_line(taken) and "dev_saas_api_port" in last_line(taken)
    assert dev.containers() == {}

    ok(dev.make("dev"))
    again = saas.get("/api/teams/kept-team")
    assert again.status_code == 200 and again.json()["virtual_key"] == key
    assert chat(key).status_code == 200
    info = httpx.get(f"{LITELLM}/key/info", params={"key": key}, headers=master, timeout=60)
    assert info.json()["info"]["spend"] >= spend_before > 0


def chat(key: str) -> httpx.Response:
    return httpx.post(
        f"{LITELLM}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "keep me"}]},
        timeout=60,
    )


def key_spend(master: dict, key: str, timeout: float = 60) -> float:
    """The key's spend once LiteLLM has written it (its batch interval is 10 s + 0-5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        info = httpx.get(f"{LITELLM}/key/info", params={"key": key}, headers=master, timeout=60)
        spend = info.json()["info"]["spend"] or 0
        if spend > 0 or time.monotonic() > deadline:
            return spend
        time.sleep(2)


def test_dev_purge_leaves_no_container_network_or_volume(dev):
    ok(dev.make("dev-purge"))
    label = {"label": f"com.docker.compose.project={PROJECT}"}
    assert dev.client.containers.list(all=True, filters=label) == []
    assert dev.client.networks.list(filters=label) == []
    assert dev.client.volumes.list(filters=label) == []
    assert not [n for n in dev.client.networks.list() if n.name.startswith(PROJECT)]
    assert not [v for v in dev.client.volumes.list() if v.name.startswith(PROJECT)]
