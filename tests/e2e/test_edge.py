"""The TLS edge on the testbed, in both topologies: clients reach LiteLLM and the SaaS API only
through Caddy over TLS that verifies against the CA the deploy fetched; inference and team
self-service are public; LiteLLM's UI and admin API, the SaaS admin routes and the whole admin
panel answer only the admin network (the control machine) and are refused from every other
address; the admin panel's port on the api hosts answers the edge only.

"The internet" is a network namespace this module plugs into the testbed's bridge at an address
no host has: not in the admin networks, not a peer of any role. A TCP port scan from there must
find 80 and 443 on the edge and nothing else on any host.

Requests use curl with --resolve (the testbed has no DNS for the edge's names)."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from provisioning.apply import apply, make_plan
from provisioning.clients import LiteLLMAdmin, SaasAdmin
from provisioning.spec import parse_spec
from testbed import network, paths, state, topology
from tests.fakes.seed_spec import example_for_fake_provider

from .conftest import REPO, answering, probe, secret, ssh
from .through_the_edge import ADMIN, API, CA, GATEWAY, NOTICED_WITHIN, EdgeLoad

ARTIFACTS = REPO / "test-artifacts"
FAKE_PROVIDER_KEY = "sk-fake-provider-key"
ADMIN_PORT = 3000  # saas_api_admin_port's default


def curl_args(name: str, address: str, path: str, *, ca: str, scheme="https", extra=()):
    port = 443 if scheme == "https" else 80
    return [
        "curl",
        "-sS",
        "--max-time",
        "30",
        "--resolve",
        f"{name}:{port}:{address}",
        "--cacert",
        ca,
        "-o",
        "/dev/stderr",
        "-w",
        "%{http_code}",
        *extra,
        f"{scheme}://{name}{path}",
    ]


def from_admin(name, path, roles, **kwargs) -> tuple[int, str]:
    """A request from the control machine, which is the admin network."""
    args = curl_args(name, roles["address"][roles["edge"]], path, ca=str(CA), **kwargs)
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    return int(done.stdout or 0), done.stderr


def from_outside(internet, name, path, roles, **kwargs) -> tuple[int, str]:
    """The same request from the internet namespace."""
    args = curl_args(name, roles["address"][roles["edge"]], path, ca=str(CA), **kwargs)
    done = subprocess.run(
        ["ip", "netns", "exec", internet, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return int(done.stdout or 0), done.stderr


def header_args(headers: dict[str, str]) -> list[str]:
    return [arg for key, value in headers.items() for arg in ("-H", f"{key}: {value}")]


@pytest.fixture(scope="module")
def outsider(first_deploy):
    """The internet: a namespace on the testbed's bridge at the subnet's last-but-one address
    (hosts count up from .11), removed again after this module."""
    current = state.load()
    address = ipaddress.IPv4Network(current.subnet).broadcast_address - 1
    assert str(address) not in {h.address for h in current.hosts}
    network.ensure_host_network(
        name="internet",
        address=str(address),
        mac=topology.mac_for(address),
        subnet=current.subnet,
    )
    yield paths.netns_name("internet")
    subprocess.run(["ip", "link", "del", paths.veth_name("internet")], check=False)
    subprocess.run(["ip", "netns", "del", paths.netns_name("internet")], check=False)


@pytest.fixture(scope="module")
def team(litellm, saas_api, fake_provider_url):
    """The guide's example seeded (names unique to this run): its team id, key and models."""
    data = example_for_fake_provider(fake_provider_url)
    secrets = {c["name"]: FAKE_PROVIDER_KEY for c in data["credentials"]}
    spec = parse_spec(data, "seed.yaml", lambda ref: True)
    with (
        LiteLLMAdmin(litellm, secret("litellm_master_key")) as admin_litellm,
        SaasAdmin(saas_api, secret("saas_api_master_key")) as saas,
    ):
        result = apply(
            spec, secrets, make_plan(spec, secrets, admin_litellm, saas), admin_litellm, saas
        )
    team_id = data["teams"][0]["id"]
    return {
        "id": team_id,
        "key": result.issued_keys[team_id],
        "model": data["model_groups"][0]["models"][0],
    }


def chat_args(key: str, model: str) -> list[str]:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "via the edge"}]})
    return [
        *header_args({"Authorization": f"Bearer {key}", "Content-Type": "application/json"}),
        "-d",
        body,
    ]


def test_tls_verifies_against_the_fetched_ca_and_http_redirects(first_deploy, roles):
    assert CA.exists(), "the deploy did not fetch the edge's CA"
    status, body = from_admin(GATEWAY, "/health/liveliness", roles)
    assert status == 200, body
    status, _ = from_admin(GATEWAY, "/health/liveliness", roles, scheme="http")
    assert status in (301, 308)
    # TLS 1.2 is refused: the edge speaks TLS 1.3 only.
    status, error = from_admin(GATEWAY, "/health/liveliness", roles, extra=("--tls-max", "1.2"))
    assert status == 0 and "alert" in error.lower(), error


@pytest.mark.parametrize("site", [API, ADMIN])
def test_security_headers_are_set(first_deploy, roles, site):
    status, headers = from_admin(site, "/health", roles, extra=("-D", "/dev/stderr"))
    assert status == 200
    lowered = headers.lower()
    assert "strict-transport-security: max-age=31536000" in lowered
    assert "x-content-type-options: nosniff" in lowered
    assert "x-frame-options: deny" in lowered
    assert "\nserver:" not in lowered


def test_a_team_key_works_over_tls_from_outside(first_deploy, roles, outsider, team):
    status, body = from_outside(
        outsider, GATEWAY, "/chat/completions", roles, extra=chat_args(team["key"], team["model"])
    )
    assert status == 200, body[:300]
    assert json.loads(body)["choices"][0]["message"]["content"]
    usage_headers = header_args({"Authorization": f"Bearer {team['key']}"})
    status, body = from_outside(outsider, API, "/api/me/usage", roles, extra=usage_headers)
    assert status == 200, body[:300]


@pytest.mark.parametrize(
    ("site", "path"),
    [
        (GATEWAY, "/ui/"),
        (GATEWAY, "/login"),
        (GATEWAY, "/key/list"),
        (GATEWAY, "/model/new"),
        (GATEWAY, "/team/list"),
        (API, "/api/teams"),
        (API, "/api/organizations"),
    ],
)
def test_admin_surfaces_are_refused_from_outside_and_served_to_admins(
    first_deploy, roles, outsider, site, path
):
    credentials = (
        {"Authorization": f"Bearer {secret('litellm_master_key')}"}
        if site == GATEWAY
        else {"X-Admin-Key": secret("saas_api_master_key")}
    )
    status, body = from_outside(outsider, site, path, roles, extra=header_args(credentials))
    assert status == 403 and body == "forbidden", body[:300]
    status, body = from_admin(site, path, roles, extra=header_args(credentials))
    # The service's own answer (GET on a POST route is 405), not the edge's refusal.
    assert status in (200, 307, 405) and body != "forbidden", body[:300]


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/", "/login"])
def test_the_admin_panel_is_refused_from_outside(first_deploy, roles, outsider, path):
    status, body = from_outside(outsider, ADMIN, path, roles)
    assert status == 403 and body == "forbidden", body[:300]


def test_the_admin_panel_answers_the_admin_network(first_deploy, roles):
    status, body = from_admin(ADMIN, "/health", roles)
    assert status == 200 and json.loads(body) == {"status": "ok"}, body[:300]
    status, body = from_admin(ADMIN, "/health/ready", roles)
    assert status == 200, body[:300]
    assert json.loads(body) == {"ready": True, "database": "ok", "litellm": "ok"}


def test_the_admin_panels_port_answers_the_edge_only(first_deploy, roles):
    current = state.load()
    closed = []
    for api in in_group("api"):
        address = roles["address"][api]
        assert probe(roles["edge"], address, ADMIN_PORT).stdout.strip() == "open", api
        # The control machine is the admin network, but it reaches the panel through the edge;
        # so does every other host (split), an api host's own loopback aside.
        others = [h.name for h in current.hosts if "edge" not in h.groups and h.name != api]
        closed += [(source, address, ADMIN_PORT) for source in [None, *others]]
    assert answering(closed) == []


def open_ports(namespace: str, addresses: list[str]) -> set[tuple[str, int]]:
    """Every TCP port answering SYN-ACK on `addresses`, scanned from `namespace` (nmap, SYN
    scan of all 65,535 ports)."""
    scan = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            namespace,
            "nmap",
            "-n",
            "-Pn",
            "-sS",
            "-p-",
            # One bridge away, answers come within a millisecond: a probe unanswered for
            # 50 ms is dropped, and is sent once more.
            "--min-rate",
            "30000",
            "--initial-rtt-timeout",
            "20ms",
            "--max-rtt-timeout",
            "50ms",
            "--max-retries",
            "1",
            "--host-timeout",
            "10m",
            "-oX",
            "-",
            *addresses,
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        check=True,
    )
    report = ET.fromstring(scan.stdout)  # noqa: S314 (nmap's report, written on this machine)
    scanned = {h.find("address").get("addr") for h in report.iter("host")}
    assert scanned == set(addresses), f"nmap did not finish every host: {scanned}"
    return {
        (host.find("address").get("addr"), int(port.get("portid")))
        for host in report.iter("host")
        for port in host.iter("port")
        if port.find("state").get("state") == "open"
    }


def test_a_port_scan_from_the_internet_finds_only_80_and_443_on_the_edge(
    first_deploy, roles, outsider
):
    addresses = sorted(set(roles["address"].values()))
    edge = roles["address"][roles["edge"]]
    assert open_ports(outsider, addresses) == {(edge, 80), (edge, 443)}


def test_the_litellm_ui_logs_in_through_the_edge(first_deploy, roles, topology):
    from .litellm_ui import login_to_litellm_ui

    screenshot = ARTIFACTS / f"litellm-ui-through-the-edge-{topology}.png"
    result = login_to_litellm_ui(
        f"https://{GATEWAY}",
        secret("litellm_master_key"),
        screenshot,
        address=roles["address"][roles["edge"]],
        ca_file=CA,
    )
    assert result["logged_in"], result
    assert result["url"].startswith(f"https://{GATEWAY}/"), result
    assert screenshot.stat().st_size > 10_000


def test_the_admin_network_reads_team_info_through_the_edge(first_deploy, roles, team):
    status, body = from_admin(
        API,
        f"/api/teams/{team['id']}",
        roles,
        extra=header_args({"X-Admin-Key": secret("saas_api_master_key")}),
    )
    assert status == 200, body[:300]
    assert json.loads(body)["virtual_key"] == team["key"]


def in_group(group: str) -> list[str]:
    return [h.name for h in state.load().hosts if group in h.groups]


LITELLM_UNITS = "litellm@4000.service litellm@4001.service"  # the default two instances


def take_down(llm: str, api: str, *, kill: bool) -> None:
    """Stop the SaaS API on `api`; stop every LiteLLM instance on `llm`, or `kill` -9 their
    main processes (systemd restarts them, which takes LiteLLM's start-up)."""
    stop_litellm = (
        f"for unit in {LITELLM_UNITS}; do kill -9 $(systemctl show -P MainPID $unit); done"
        if kill
        else f"systemctl stop {LITELLM_UNITS}"
    )
    for host, command in ((llm, stop_litellm), (api, "systemctl stop saas-api.service")):
        done = ssh(host, command, timeout=120)
        assert done.returncode == 0, done.stderr


def start_services(llm: str, api: str) -> None:
    for host, units, root in (
        (llm, LITELLM_UNITS, "/opt/litellm"),
        (api, "saas-api.service", "/opt/saas-api"),
    ):
        started = ssh(host, f"systemctl start {units} && {root}/wait-ready", timeout=400)
        assert started.returncode == 0, started.stdout + started.stderr


@pytest.mark.parametrize("topology", ["split"], indirect=True)
def test_one_llm_and_one_api_host_down_and_back_cost_no_request(
    first_deploy, roles, team, topology
):
    """Stop LiteLLM on one llm host and the SaaS API on one api host while requests flow through
    the edge; start them again; then take down the other pair (LiteLLM by kill -9 this time), so
    only the hosts that came back serve (which proves they rejoined). Failures are counted from
    each stop on; none may happen once the edge's active health check had time to notice."""
    (llm1, llm2), (api1, api2) = in_group("llm"), in_group("api")
    failures, late = [], []
    with EdgeLoad(roles["address"][roles["edge"]], team) as load:
        load.run_for(20)
        assert load.failures(since=0) == [], "requests failed before the drill"
        for down, back, kill in (((llm2, api2), None, False), ((llm1, api1), (llm2, api2), True)):
            if back:
                start_services(*back)
            stopped_at = time.monotonic()
            take_down(*down, kill=kill)
            load.run_until(stopped_at + NOTICED_WITHIN + 15)
            failures += load.failures(since=stopped_at)
            late += load.failures(since=stopped_at + NOTICED_WITHIN)
        start_services(llm1, api1)
        load.run_for(20)
    served = len(load.records)
    print(f"drill: {served} requests through the edge, {len(failures)} failed: {failures[:10]}")
    # Before the check notices, requests the round robin sends to the dead host fail when
    # Caddy cannot replay their body elsewhere (1-7 seen per drill); after it, none may.
    assert late == [], f"failures after the health check noticed: {late[:10]}"
