"""The admin panel through the edge on the testbed, in headless Chromium, as the setup guide's
Step 3 uses it: log in with the SaaS API's admin key, create an organization, a model group from
LiteLLM's models and a team with a budget, then the team's whole life: its key through the
gateway, top-up, suspend/resume, rotation, usage, deletion. Every page seen is kept as a
screenshot in test-artifacts/. What the panel did is read back from LiteLLM's own API and
through the gateway, never from the panel."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from provisioning.apply import apply, make_plan
from provisioning.clients import LiteLLMAdmin, SaasAdmin
from provisioning.spec import parse_spec
from tests.fakes.seed_spec import example_for_fake_provider
from tests.page_text import dollars_shown

from .admin_panel import AdminBrowser
from .conftest import REPO, secret, ssh
from .through_the_edge import ADMIN, CA, GATEWAY

# Last in its topology (before the demo, which replaces the testbed; pytest keeps the two in
# collection order): the session's tunnels to LiteLLM and the SaaS API, which this module
# would open first, must not predate the data tier's host reboots, which leave them dead.
pytestmark = [
    pytest.mark.parametrize("topology", ["single"], indirect=True),
    pytest.mark.last_in_topology,
]
ARTIFACTS = REPO / "test-artifacts"
FAKE_PROVIDER_KEY = "sk-fake-provider-key"


@pytest.fixture(scope="module")
def model(litellm, saas_api, fake_provider_url) -> str:
    """A model LiteLLM serves through the fake provider (the guide's example, seeded)."""
    data = example_for_fake_provider(fake_provider_url)
    data["model_groups"], data["organizations"], data["teams"] = [], [], []
    secrets = {c["name"]: FAKE_PROVIDER_KEY for c in data["credentials"]}
    spec = parse_spec(data, "seed.yaml", lambda ref: True)
    with (
        LiteLLMAdmin(litellm, secret("litellm_master_key")) as admin_litellm,
        SaasAdmin(saas_api, secret("saas_api_master_key")) as saas,
    ):
        apply(spec, secrets, make_plan(spec, secrets, admin_litellm, saas), admin_litellm, saas)
    return data["models"][0]["name"]


def through_gateway(roles, key: str, model: str) -> int:
    """A chat completion with `key` through the edge's gateway site; its HTTP status."""
    edge = roles["address"][roles["edge"]]
    with httpx.Client(verify=str(CA), timeout=60) as client:
        answer = client.post(
            f"https://{edge}/chat/completions",
            headers={"Host": GATEWAY, "Authorization": f"Bearer {key}"},
            extensions={"sni_hostname": GATEWAY},
            json={"model": model, "messages": [{"role": "user", "content": "from the panel"}]},
        )
    return answer.status_code


def eventually(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.fixture(scope="module")
def browser(first_deploy, roles):
    edge = roles["address"][roles["edge"]]
    with AdminBrowser(f"https://{ADMIN}", ARTIFACTS, names={ADMIN: edge}, ca_file=CA) as b:
        yield b


def revealed_key(browser) -> str:
    browser.press("Reveal key")
    key = browser.text("#revealed-key")
    assert key.startswith("sk-"), "no key on the page after Reveal key"
    browser.screenshot("team-key-revealed", mask="#revealed-key")
    return key


def test_step_3_of_the_guide_and_a_teams_whole_life_in_the_browser(browser, roles, admin, model):
    admin_key = secret("saas_api_master_key")
    suffix = uuid.uuid4().hex[:6]
    org, group, team = f"Acme {suffix}", f"standard-{suffix}", f"Engineering {suffix}"

    browser.open("/")
    assert browser.path == "/login"
    browser.screenshot("login")
    browser.fill({"key": "sk-not-the-admin-key-" + suffix, "name": "e2e"})
    browser.press("Log in")
    assert "not the admin key" in " ".join(browser.errors())
    browser.screenshot("login-refused")
    browser.fill({"key": admin_key, "name": "e2e"})
    browser.press("Log in")
    assert browser.path == "/", browser.errors()
    assert "Signed in as e2e" in browser.text(".whoami")
    browser.screenshot("dashboard-empty")

    browser.open("/organizations")
    browser.fill({"name": org})
    browser.press("Create organization")
    assert browser.flash() == f"Organization {org!r} created."
    org_id = browser.path.removeprefix("/organizations/")
    browser.screenshot("organization")

    browser.open("/model-groups/new")
    assert model in browser.texts(".check code"), "LiteLLM's model is not offered"
    browser.fill({"name": group, "other_models": "no-such-model"})
    browser.tick("models", model)
    browser.press("Create model group")
    assert "not known to LiteLLM: no-such-model" in browser.field_error("models")
    browser.screenshot("model-group-unknown-model-refused")
    browser.fill({"other_models": ""})
    browser.press("Create model group")
    assert browser.flash() == f"Model group {group!r} created."
    browser.screenshot("model-group")

    browser.open(f"/teams/new?organization={org_id}")
    browser.fill({"name": team, "max_budget": "-1", "budget_duration": "30d"})
    browser.tick("model_groups", group)
    browser.press("Create team")
    assert "greater than or equal to 0" in browser.field_error("max_budget")
    browser.screenshot("team-negative-budget-refused")
    browser.fill({"max_budget": "5"})
    browser.press("Create team")
    assert browser.flash() == f"Team {team!r} created with its virtual key."
    team_id = browser.path.removeprefix("/teams/")
    assert "sk-" not in browser.html
    browser.screenshot("team")

    key = revealed_key(browser)
    assert through_gateway(roles, key, model) == 200

    browser.fill({"amount": "2.50"}, form="form[action$='/credits']")
    browser.press("Add credits")
    assert "the budget is now $7.50" in browser.flash()
    assert "$7.50" in browser.text(".budget")
    assert (
        admin.get("/team/info", params={"team_id": team_id}).json()["team_info"]["max_budget"]
        == 7.5
    )

    browser.press("Suspend")
    assert "suspended" in browser.flash()
    browser.screenshot("team-suspended")
    assert through_gateway(roles, key, model) == 401
    browser.press("Resume")
    assert through_gateway(roles, key, model) == 200

    browser.open(f"/teams/{team_id}/rotate")
    browser.screenshot("team-rotate-confirm")
    browser.press("Rotate the key")
    assert "Key rotated" in browser.flash()
    new_key = revealed_key(browser)
    assert new_key != key
    assert through_gateway(roles, key, model) == 401
    assert through_gateway(roles, new_key, model) == 200

    def spend_recorded():
        info = admin.get("/key/info", params={"key": new_key}).json()["info"]
        return info["spend"] if info["spend"] > 0 else None

    key_spend = eventually(spend_recorded, timeout=90, what="LiteLLM's spend for the new key")

    def team_caught_up():
        # LiteLLM commits a batch's key spend before its team spend, in a second transaction.
        info = admin.get("/team/info", params={"team_id": team_id}).json()["team_info"]
        return info["spend"] if info["spend"] >= key_spend else None

    team_spend = eventually(team_caught_up, timeout=30, what="the team's spend up to its key's")
    browser.open(f"/teams/{team_id}/usage")
    shown, within = dollars_shown(browser.text("#usage-spend"))
    assert abs(shown - team_spend) <= within, (shown, team_spend)
    assert model in browser.text("main")
    assert browser.driver.find_elements("css selector", "svg.chart rect.bar")
    browser.screenshot("team-usage")

    browser.open(f"/teams?q={suffix}")
    assert browser.texts("tbody tr td:first-child a") == [team]
    browser.screenshot("teams-search")
    browser.open("/")
    browser.screenshot("dashboard")

    browser.open(f"/teams/{team_id}/delete")
    browser.screenshot("team-delete-confirm")
    browser.press("Delete the team")
    assert browser.flash().startswith(f"Team {team!r} deleted")
    assert admin.get("/team/info", params={"team_id": team_id}).status_code in (400, 404)
    assert through_gateway(roles, new_key, model) == 401

    browser.open(f"/model-groups/{group}/delete")
    browser.press("Delete")
    browser.open(f"/organizations/{org_id}/delete")
    browser.press("Delete")
    assert browser.flash() == f"Organization {org!r} deleted."

    browser.open("/audit")
    browser.screenshot("audit-log")
    rows = [
        [cell.text.strip() for cell in row.find_elements("css selector", "td")]
        for row in browser.driver.find_elements("css selector", "table.audit tbody tr")
    ]
    mine = [
        (r[3], r[4].split("\n")[0], r[6].split("\n")[0])
        for r in reversed(rows)
        if r[1].startswith("e2e")
    ]
    assert mine == [
        ("login", "", "refused"),
        ("login", "", "ok"),
        ("organization.create", org_id, "ok"),
        ("model_group.create", group, "refused"),
        ("model_group.create", group, "ok"),
        ("team.create", team_id, "ok"),
        ("team.reveal_key", team_id, "ok"),
        ("team.credits", team_id, "ok"),
        ("team.suspend", team_id, "ok"),
        ("team.resume", team_id, "ok"),
        ("team.rotate_key", team_id, "ok"),
        ("team.reveal_key", team_id, "ok"),
        ("team.delete", team_id, "ok"),
        ("model_group.delete", group, "ok"),
        ("organization.delete", org_id, "ok"),
    ]
    # Who: the name given at login; from where: this machine, not the edge's address.
    control = [r[2] for r in rows if r[1].startswith("e2e")]
    assert set(control) == {state_gateway()}, control

    secrets_seen = (admin_key, key, new_key)
    for page in browser.pages:
        assert admin_key not in page
    assert not [u for u in browser.requested_urls() if any(s in u for s in secrets_seen)]
    assert browser.console_errors() == []
    journal = ssh(
        roles["api"],
        "journalctl -u saas-admin.service -u saas-api.service --no-pager -o cat"
        " | grep -cF -f /dev/stdin || true",
        input="\n".join(secrets_seen) + "\n",
    )
    assert journal.stdout.strip() == "0", "a key is in the api host's journal"


def state_gateway() -> str:
    """The control machine's address on the testbed's bridge (the admin network)."""
    from testbed import state

    return state.load().gateway
