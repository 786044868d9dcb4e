"""plan(): created / updated (with the differing fields) / unchanged / deleted (prune only,
never an object seeding did not create), in dependency order, never a secret value."""

from pathlib import Path

from provisioning.plan import (
    MANAGED_BY,
    Change,
    desired_state,
    fingerprint,
    live_credentials,
    live_model_groups,
    live_models,
    live_organizations,
    live_teams,
    plan,
)
from provisioning.spec import env_secret_checker, load_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed.yaml"
SECRETS = {"openai-main": "sk-test-openai", "anthropic-main": "sk-ant-test"}


def desired():
    env = {"OPENAI_API_KEY": "x", "ANTHROPIC_API_KEY": "y"}
    return desired_state(load_spec(EXAMPLE, env_secret_checker(env)), SECRETS)


def live_as_the_apis_answer():
    """What LiteLLM and the SaaS API answer once the example is applied."""
    credentials = [
        {
            "credential_name": name,
            "credential_values": {"api_key": "sk****"},
            "credential_info": {
                "custom_llm_provider": provider,
                "secret_fingerprint": fingerprint(SECRETS[name]),
                "managed_by": MANAGED_BY,
            },
        }
        for name, provider in (("openai-main", "openai"), ("anthropic-main", "anthropic"))
    ]
    models = [
        {
            "model_name": name,
            "litellm_params": {
                "model": model,
                "litellm_credential_name": credential,
                "input_cost_per_token": cin,
                "output_cost_per_token": cout,
            },
            "model_info": {"id": name, "mode": "chat", "managed_by": MANAGED_BY},
        }
        for name, model, credential, cin, cout in (
            ("gpt-4-turbo", "openai/gpt-4-turbo", "openai-main", 0.00001, 0.00003),
            (
                "claude-3-sonnet",
                "anthropic/claude-3-sonnet-20240229",
                "anthropic-main",
                0.000003,
                0.000015,
            ),
            ("gpt-3.5-turbo", "openai/gpt-3.5-turbo", "openai-main", 0.0000005, 0.0000015),
        )
    ]
    groups = [
        {
            "name": "standard-models",
            "models": ["gpt-3.5-turbo", "claude-3-sonnet"],
            "description": "The guide's example group",
            "managed_by": MANAGED_BY,
        }
    ]
    organizations = [
        {
            "organization_id": "test-org",
            "name": "Test Org",
            "litellm_organization_id": "test-org",
            "managed_by": MANAGED_BY,
        }
    ]
    teams = [
        {
            "team_id": "test-team",
            "name": "Test Team",
            "organization_id": "test-org",
            "model_groups": ["standard-models"],
            "max_budget": 100.0,
            "budget_duration": None,
            "rpm_limit": None,
            "tpm_limit": None,
            "metadata": {},
            "managed_by": MANAGED_BY,
        }
    ]
    return {
        "credential": live_credentials(credentials),
        "model": live_models(models),
        "model_group": live_model_groups(groups),
        "organization": live_organizations(organizations),
        "team": live_teams(teams),
    }


def test_empty_live_state_creates_everything_in_dependency_order():
    changes = plan(desired(), {})
    assert [c.action for c in changes] == ["created"] * 8
    kinds = [c.kind for c in changes]
    assert kinds == sorted(
        kinds, key=["credential", "model", "model_group", "organization", "team"].index
    )


def test_applied_example_is_all_unchanged():
    changes = plan(desired(), live_as_the_apis_answer())
    assert {c.action for c in changes} == {"unchanged"}, [str(c) for c in changes]


def test_a_price_a_group_and_a_budget_change_are_exactly_three_updates():
    live = live_as_the_apis_answer()
    live["model"]["gpt-4-turbo"]["input_cost_per_token"] = 0.00002
    live["model_group"]["standard-models"]["models"] = ["gpt-3.5-turbo"]
    live["team"]["test-team"]["max_budget"] = 50.0
    updates = [c for c in plan(desired(), live) if c.action != "unchanged"]
    assert updates == [
        Change("model", "gpt-4-turbo", "updated", ("input_cost_per_token",)),
        Change("model_group", "standard-models", "updated", ("models",)),
        Change("team", "test-team", "updated", ("max_budget",)),
    ]


def test_a_changed_secret_is_an_update_of_api_key_without_its_value():
    live = live_as_the_apis_answer()
    live["credential"]["openai-main"]["api_key"] = fingerprint("sk-old-value")
    (update,) = [c for c in plan(desired(), live) if c.action == "updated"]
    assert update == Change("credential", "openai-main", "updated", ("api_key",))
    assert "sk-" not in str(update)


def test_prune_deletes_only_what_seeding_manages_and_the_spec_dropped():
    live = live_as_the_apis_answer()
    live["model"]["old-model"] = dict(live["model"]["gpt-4-turbo"], name="old-model")
    live["model"]["someone-elses"] = dict(live["model"]["gpt-4-turbo"], _managed=False)
    live["team"]["old-team"] = dict(live["team"]["test-team"])
    live["organization"]["old-org"] = dict(live["organization"]["test-org"], name="Old")
    # Added by hand in the SaaS admin panel: no managed_by.
    by_hand = live_teams(
        [
            {
                "team_id": "customer-team",
                "name": "C",
                "organization_id": "test-org",
                "model_groups": [],
                "max_budget": 5,
                "metadata": {},
            }
        ]
    )
    live["team"] |= by_hand
    live["model_group"] |= live_model_groups([{"name": "hand-group", "models": ["x"]}])
    live["organization"] |= live_organizations([{"organization_id": "hand", "name": "H"}])
    assert all(c.action != "deleted" for c in plan(desired(), live))
    deleted = [c for c in plan(desired(), live, prune=True) if c.action == "deleted"]
    assert deleted == [
        Change("team", "old-team", "deleted"),
        Change("organization", "old-org", "deleted"),
        Change("model", "old-model", "deleted"),
    ]
