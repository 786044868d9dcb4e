"""The LiteLLM tier on the testbed, in both topologies: the seed's admin workflow through
LiteLLM's API with the master key (credential, model, team, key), inference through the fake
provider with the team's key, the limits that must refuse (403, 422, 429), exact spend, the
admin UI in a real browser, and faults: killed processes and a PostgreSQL restart under load.

The API is reached through an SSH tunnel to the first `llm` host's private address, as an
operator would; state is read back with psql on the database, never through LiteLLM alone."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid

import httpx
import pytest

from .conftest import REPO, answering, deploy_json, psql_as_litellm, secret, ssh
from .through_the_edge import NOTICED_WITHIN, EdgeLoad, edge_chats, edge_serves_again

PORT = 4000
INPUT_COST, OUTPUT_COST = 0.000002, 0.000004
# A key for load through the edge (tens of requests a second): never rate limited.
LOAD_RPM = 1_000_000
ARTIFACTS = REPO / "test-artifacts"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ok(response):
    assert response.status_code == 200, (response.status_code, response.text[:500])
    return response.json()


def sql(roles, query):
    result = psql_as_litellm(roles, sql=query)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="session")
def catalog(admin, fake_provider_url):
    """The seed's setup, through the API: a provider credential, two models using it (with
    prices), and names for what the tests create."""
    names = {"credential": unique("fake-cred"), "model": unique("fake-gpt")}
    names["other_model"] = names["model"] + "-other"
    names["provider_key"] = "sk-fake-" + uuid.uuid4().hex
    ok(
        admin.post(
            "/credentials",
            json={
                "credential_name": names["credential"],
                "credential_values": {"api_key": names["provider_key"]},
                "credential_info": {"custom_llm_provider": "openai"},
            },
        )
    )
    for model in (names["model"], names["other_model"]):
        ok(
            admin.post(
                "/model/new",
                json={
                    "model_name": model,
                    "litellm_params": {
                        "model": "openai/fake-model",
                        "api_base": fake_provider_url,
                        "litellm_credential_name": names["credential"],
                        "input_cost_per_token": INPUT_COST,
                        "output_cost_per_token": OUTPUT_COST,
                    },
                    "model_info": {"id": model + "-id"},
                },
            )
        )
    return names


def team_key(admin, catalog, *, max_budget=10.0, rpm_limit=1000, models=None):
    """A new team with a budget and models, and a key generated for it."""
    team = unique("team")
    models = models or [catalog["model"]]
    ok(admin.post("/team/new", json={"team_id": team, "max_budget": max_budget, "models": models}))
    key = ok(
        admin.post(
            "/key/generate",
            json={
                "team_id": team,
                "models": models,
                "key_alias": team + "-key",
                "rpm_limit": rpm_limit,
            },
        )
    )["key"]
    return team, key


def chat(litellm, key, model, text="one two three", **extra):
    return httpx.post(
        f"{litellm}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": text}], **extra},
        timeout=60,
    )


def test_a_credential_is_stored_encrypted(catalog, roles):
    stored = sql(
        roles,
        'SELECT credential_values::text FROM "LiteLLM_CredentialsTable" '
        f"WHERE credential_name = '{catalog['credential']}'",
    )
    assert stored and catalog["provider_key"] not in stored


def test_models_are_stored_in_the_database(catalog, roles):
    rows = sql(
        roles,
        'SELECT model_name FROM "LiteLLM_ProxyModelTable" '
        f"WHERE model_name LIKE '{catalog['model']}%' ORDER BY 1",
    )
    assert rows.split() == [catalog["model"], catalog["other_model"]]


def test_a_team_key_completes_through_the_fake_provider(litellm, admin, catalog):
    _, key = team_key(admin, catalog)
    answer = ok(chat(litellm, key, catalog["model"]))
    assert answer["choices"][0]["message"]["content"]
    assert answer["usage"]["prompt_tokens"] == 3


def test_a_team_key_streams(litellm, admin, catalog):
    _, key = team_key(admin, catalog)
    chunks = []
    with httpx.stream(
        "POST",
        f"{litellm}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "model": catalog["model"],
            "stream": True,
            "messages": [{"role": "user", "content": "a b"}],
        },
        timeout=60,
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert len(chunks) > 2 and text.split()


def test_a_model_outside_the_keys_list_is_refused(litellm, admin, catalog):
    _, key = team_key(admin, catalog)
    assert chat(litellm, key, catalog["other_model"]).status_code == 403


def test_an_unknown_key_is_refused(litellm, catalog):
    assert chat(litellm, "sk-" + uuid.uuid4().hex, catalog["model"]).status_code == 401


def test_exceeding_the_rpm_limit_is_refused(litellm, admin, catalog):
    _, key = team_key(admin, catalog, rpm_limit=2)
    statuses = [chat(litellm, key, catalog["model"]).status_code for _ in range(4)]
    assert statuses[:2] == [200, 200] and 429 in statuses[2:], statuses


def test_an_exhausted_budget_is_refused(litellm, admin, catalog):
    # One request costs about 3 × 2e-6 + 7 × 4e-6 = 3.4e-5: the budget is gone after the first.
    _, key = team_key(admin, catalog, max_budget=0.00001)
    statuses = []
    for _ in range(10):
        statuses.append(chat(litellm, key, catalog["model"]).status_code)
        if statuses[-1] == 422:
            break
        time.sleep(1)
    assert statuses[0] == 200 and statuses[-1] == 422, statuses


def test_spend_is_usage_times_prices_exactly(litellm, admin, catalog):
    _, key = team_key(admin, catalog)
    expected = 0.0
    for text in ("one", "one two", "one two three four five"):
        usage = ok(chat(litellm, key, catalog["model"], text))["usage"]
        expected += usage["prompt_tokens"] * INPUT_COST + usage["completion_tokens"] * OUTPUT_COST
    spend, deadline = None, time.monotonic() + 90  # spend is written in batches
    while time.monotonic() < deadline:
        spend = ok(admin.get("/key/info", params={"key": key}))["info"]["spend"]
        if spend == pytest.approx(expected, rel=1e-9, abs=1e-12):
            break
        time.sleep(3)
    assert spend == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_the_admin_ui_logs_in_with_the_master_key(litellm):
    from .litellm_ui import login_to_litellm_ui

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"litellm-ui-{uuid.uuid4().hex[:6]}.png"
    result = login_to_litellm_ui(litellm, secret("litellm_master_key"), screenshot)
    assert result["logged_in"], result
    assert screenshot.stat().st_size > 10_000
    wrong = login_to_litellm_ui(litellm, "sk-wrong-" + uuid.uuid4().hex, ARTIFACTS / "ui-wrong.png")
    assert not wrong["logged_in"], wrong


def test_rerunning_migrations_changes_nothing(litellm, roles):
    llm, before = roles["llm"], sql(roles, 'SELECT count(*) FROM "_prisma_migrations"')
    rerun = ssh(
        llm,
        "/opt/litellm/venv/bin/python /opt/litellm/engine/migrate.py "
        "--env-file /etc/litellm/litellm.env",
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert ", 0 to apply" in rerun.stdout
    assert sql(roles, 'SELECT count(*) FROM "_prisma_migrations"') == before
    assert int(before) >= 200


# The instance behind the `litellm` tunnel (port 4000); the host runs another on 4001.
INSTANCE = f"litellm@{PORT}.service"


def main_pid(host, port=PORT) -> str:
    return ssh(host, f"systemctl show -P MainPID litellm@{port}.service").stdout.strip()


def service_pids(host, pattern):
    """PIDs in the tunnel's LiteLLM instance whose command line matches `pattern` (a pgrep
    regex)."""
    in_unit = f"sh -c 'grep -q {INSTANCE} /proc/$0/cgroup && echo $0'"
    listed = ssh(host, f"pgrep -f -- '{pattern}' | xargs -r -n1 {in_unit}")
    return [int(p) for p in listed.stdout.split()]


def serve_within(litellm, key, model, seconds):
    """Seconds until a completion succeeds again, or None after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if chat(litellm, key, model).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    return None


def test_killing_the_engine_bridge_recovers_within_10_s(litellm, admin, catalog, roles):
    team, key = team_key(admin, catalog)
    llm = roles["llm"]
    bridges = service_pids(llm, "engine/bin/query-engine")
    assert bridges, "no engine bridge process found"
    ssh(llm, f"kill -9 {' '.join(map(str, bridges))}")
    recovered = serve_within(litellm, key, catalog["model"], 10)
    print(f"served again {recovered} s after kill -9 of {len(bridges)} bridge(s)")
    assert recovered is not None
    assert ok(admin.get("/team/info", params={"team_id": team}))["team_id"] == team
    assert set(service_pids(llm, "engine/bin/query-engine")) - set(bridges)


def test_killing_a_proxy_keeps_the_service_serving_with_keys_models_and_spend_intact(
    litellm, admin, catalog, roles
):
    """kill -9 of one LiteLLM instance's main process while a team key's completions flow
    through the edge: the other instances serve them (none may fail once the edge's health
    check noticed, and never 10 s after the kill); the killed one comes back by itself with the
    key, its spend and the models."""
    team, key = team_key(admin, catalog, rpm_limit=LOAD_RPM)
    ok(chat(litellm, key, catalog["model"]))
    time.sleep(12)  # one spend batch
    spend_before = ok(admin.get("/key/info", params={"key": key}))["info"]["spend"]
    assert spend_before > 0
    llm = roles["llm"]
    killed_pid = main_pid(llm)
    edge_team = {"key": key, "model": catalog["model"]}
    with EdgeLoad(roles["address"][roles["edge"]], edge_team, api=False) as load:
        load.run_for(10)
        assert load.failures(since=0) == [], "requests failed before the kill"
        killed = ssh(llm, f"kill -9 {killed_pid}")
        killed_at = time.monotonic()
        assert killed.returncode == 0, killed.stderr
        back = ssh(llm, f"/opt/litellm/wait-ready {PORT}", timeout=400)
        back_after = time.monotonic() - killed_at
        load.run_for(10)
    assert back.returncode == 0, back.stdout + back.stderr
    failures = load.failures(since=killed_at)
    print(
        f"kill -9 of {INSTANCE}: {len(load.records)} requests through the edge, "
        f"{len(failures)} failed {[round(at - killed_at, 1) for at, _, _ in failures]} s after "
        f"the kill; the instance was ready again after {back_after:.0f} s"
    )
    assert [f for f in failures if f[0] > killed_at + NOTICED_WITHIN] == [], failures
    assert main_pid(llm) not in ("0", killed_pid)
    assert ok(chat(litellm, key, catalog["model"]))  # the killed instance itself serves again
    info = ok(admin.get("/key/info", params={"key": key}))["info"]
    assert info["team_id"] == team and info["spend"] >= spend_before
    models = ok(admin.get("/model/info"))["data"]
    assert catalog["model"] in {m["model_name"] for m in models}


def restarted_ports(report) -> dict[int, list[str]]:
    """Port -> hosts where "Restart LiteLLM on port <port>" changed something (pyinfra's JSON;
    a name may carry its deploy's prefix)."""
    found = {}
    for op in report["results"]["operations"]:
        match = re.search(r"Restart LiteLLM on port (\d+)", op["name"])
        if match:
            found[int(match.group(1))] = op["success"]
    return found


@pytest.mark.parametrize("topology", ["single"], indirect=True)
def test_a_config_change_restarts_one_instance_at_a_time_and_the_host_keeps_serving(
    first_deploy, roles, litellm, admin, catalog, topology
):
    """A deploy that changes LiteLLM's config (and one that changes it back) restarts every
    instance, each only after the one before is ready again: a team key's completions through
    the edge, whose only upstreams are this host's two instances, keep succeeding, and the
    team's spend is every one of them."""
    team, key = team_key(admin, catalog, max_budget=100.0, rpm_limit=LOAD_RPM)
    llm = roles["llm"]
    main_pids = {port: main_pid(llm, port) for port in (PORT, PORT + 1)}
    edge_team = {"key": key, "model": catalog["model"]}
    with EdgeLoad(roles["address"][roles["edge"]], edge_team, api=False) as load:
        load.run_for(10)
        changed, changed_seconds = deploy_json(
            "inventories/testbed.py", "--data", "litellm_request_timeout=601"
        )
        restored, restored_seconds = deploy_json("inventories/testbed.py")
        load.run_for(10)
    for report in (changed, restored):
        assert restarted_ports(report) == {PORT: [llm], PORT + 1: [llm]}
    for port, before in main_pids.items():
        assert main_pid(llm, port) not in ("0", before), port
    failures = load.failures(since=0)
    print(
        f"two rolling restarts (deploys of {changed_seconds:.0f} s and {restored_seconds:.0f} s): "
        f"{len(load.records)} requests through the edge, {len(failures)} failed: {failures[:5]}"
    )
    assert failures == []
    # Every request of the load asks the same ("drill"), so each costs what one more does.
    one = ok(chat(litellm, key, catalog["model"], "drill"))["usage"]
    expected = cost_of([one] * (len(load.records) + 1))
    assert team_spend(roles, team, settled_with=expected) == pytest.approx(expected, rel=1e-9)


def test_a_postgres_restart_under_load_needs_no_proxy_restart(litellm, admin, catalog, roles):
    _, key = team_key(admin, catalog, rpm_limit=LOAD_RPM)
    llm, db = roles["llm"], roles["db"]
    main = main_pid(llm)
    results, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            try:
                results.append((time.monotonic(), chat(litellm, key, catalog["model"]).status_code))
            except httpx.TransportError:
                results.append((time.monotonic(), 0))

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    restarted = ssh(db, "systemctl restart 'postgresql@*-main'", timeout=120)
    restarted_at = time.monotonic()
    time.sleep(20)
    stop.set()
    for thread in threads:
        thread.join(timeout=90)
    assert restarted.returncode == 0, restarted.stderr
    after = [status for at, status in results if at > restarted_at + 10]
    assert after and all(status == 200 for status in after), after
    assert main_pid(llm) == main
    failures = sum(status != 200 for _, status in results)
    print(f"{len(results)} requests under a PostgreSQL restart, {failures} failed")


def cost_of(usages) -> float:
    return sum(
        u["prompt_tokens"] * INPUT_COST + u["completion_tokens"] * OUTPUT_COST for u in usages
    )


def team_spend(roles, team, *, settled_with=None, within=30) -> float:
    """The team's spend as PostgreSQL holds it; with `settled_with`, polled until it equals that
    (or `within` seconds passed)."""
    deadline = time.monotonic() + within
    while True:
        spend = float(
            sql(roles, f"SELECT spend FROM \"LiteLLM_TeamTable\" WHERE team_id = '{team}'")
        )
        if settled_with is None or spend == pytest.approx(settled_with, rel=1e-9):
            return spend
        if time.monotonic() > deadline:
            return spend
        time.sleep(1)


# kill -9 of every proxy right after a burst may lose at most this much of its traffic (the
# spend_flush callback's litellm_spend_flush_seconds is 0.5).
LOSS_BOUND_SECONDS = 1.0
DRILL_REQUESTS = 60


@pytest.mark.parametrize("topology", ["single"], indirect=True)
def test_a_kill_9_of_every_proxy_right_after_requests_loses_at_most_a_second_of_spend(
    first_deploy, roles, admin, catalog, topology
):
    """The crash drill: a team key's completions through the edge (both instances serve them),
    then kill -9 of both instances' main processes at once, no shutdown hook running; once they
    are back, the team's spend in PostgreSQL is compared with what the requests cost."""
    team, key = team_key(admin, catalog, max_budget=100.0, rpm_limit=LOAD_RPM)
    llm, edge = roles["llm"], roles["address"][roles["edge"]]
    usages, rate = edge_chats(edge, key, catalog["model"], DRILL_REQUESTS)
    pids = [main_pid(llm, port) for port in (PORT, PORT + 1)]
    killed = ssh(llm, f"kill -9 {' '.join(pids)}")
    assert killed.returncode == 0, killed.stderr
    back = ssh(llm, "/opt/litellm/wait-ready", timeout=400)
    assert back.returncode == 0, back.stdout + back.stderr
    expected, recorded = cost_of(usages), team_spend(roles, team)
    lost = round((expected - recorded) / (expected / DRILL_REQUESTS), 1)
    # Before the next test: the edge serves again (and its own answer's spend comes after the
    # read above).
    edge_after = edge_serves_again(edge, key, catalog["model"])
    print(
        f"kill -9 of both proxies right after {DRILL_REQUESTS} requests at {rate:.1f} req/s: "
        f"{lost} requests' spend lost ({lost / DRILL_REQUESTS:.1%}), the bound "
        f"{rate * LOSS_BOUND_SECONDS:.0f}; the edge served again {edge_after:.1f} s after both "
        "were ready"
    )
    assert recorded <= expected * (1 + 1e-9), "more spend recorded than the requests cost"
    assert lost <= rate * LOSS_BOUND_SECONDS


@pytest.mark.parametrize("topology", ["single"], indirect=True)
def test_a_systemctl_restart_keeps_every_requests_spend(
    first_deploy, roles, admin, catalog, topology
):
    team, key = team_key(admin, catalog, max_budget=100.0, rpm_limit=LOAD_RPM)
    llm = roles["llm"]
    usages, _ = edge_chats(roles["address"][roles["edge"]], key, catalog["model"], DRILL_REQUESTS)
    restarted = ssh(llm, f"systemctl restart litellm@{PORT} litellm@{PORT + 1}", timeout=120)
    assert restarted.returncode == 0, restarted.stderr
    back = ssh(llm, "/opt/litellm/wait-ready", timeout=400)
    assert back.returncode == 0, back.stdout + back.stderr
    assert team_spend(roles, team) == pytest.approx(cost_of(usages), rel=1e-9)
    edge_serves_again(roles["address"][roles["edge"]], key, catalog["model"])


def test_litellm_ports_are_closed_to_non_peers(first_deploy, roles, topology):
    address = roles["address"][roles["llm"]]
    # The control machine is never a peer; in split, neither is the database host.
    sources = [None] + ([roles["db"]] if topology == "split" else [])
    assert answering((s, address, port) for s in sources for port in (PORT, PORT + 1)) == []
