"""The seed spec's validation: one malformed spec per rule, each with its message; every
problem reported at once, before anything is called."""

import copy
from pathlib import Path

import pytest
import yaml

from provisioning.spec import SpecError, env_secret_checker, load_spec, parse_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed.yaml"
ENV = {"OPENAI_API_KEY": "sk-test-openai", "ANTHROPIC_API_KEY": "sk-ant-test"}


def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def problems(data, environ=ENV) -> list[str]:
    with pytest.raises(SpecError) as error:
        parse_spec(data, "seed.yaml", env_secret_checker(environ))
    return error.value.problems


def test_the_example_is_valid():
    spec = load_spec(EXAMPLE, env_secret_checker(ENV))
    assert [m.name for m in spec.models] == ["gpt-4-turbo", "claude-3-sonnet", "gpt-3.5-turbo"]
    assert spec.models[0].input_cost_per_1k_tokens == 0.01
    assert spec.teams[0].model_groups == ["standard-models"]


def mutated(change) -> dict:
    data = copy.deepcopy(example())
    change(data)
    return data


CASES = {
    "unknown key": (
        lambda d: d["teams"][0].update(colour="red"),
        "seed.yaml: teams[0].colour: unknown key",
    ),
    "missing key": (
        lambda d: d["models"][0].pop("credential"),
        "seed.yaml: models[0].credential: required key is missing",
    ),
    "wrong type": (
        lambda d: d["teams"][0].update(max_budget="100"),
        "seed.yaml: teams[0].max_budget:",
    ),
    "negative price": (
        lambda d: d["models"][1].update(input_cost_per_1k_tokens=-1),
        "seed.yaml: models[1].input_cost_per_1k_tokens: Input should be greater than or equal to 0",
    ),
    "model without provider": (
        lambda d: d["models"][0].update(model="gpt-4-turbo"),
        "seed.yaml: models[0].model: String should match pattern",
    ),
    "inline secret": (
        lambda d: d["credentials"][0].update(api_key="sk-live-123"),
        "seed.yaml: credentials[0].api_key:",
    ),
    "two secret sources": (
        lambda d: d["credentials"][0].update(api_key={"env": "A", "secret": "b"}),
        "give exactly one of `env: VARIABLE` or `secret: store-entry`",
    ),
    "duplicate credential": (
        lambda d: d["credentials"].append(dict(d["credentials"][0])),
        "seed.yaml: credentials[2]: credential 'openai-main' appears 2 times",
    ),
    "duplicate model id": (
        lambda d: d["models"].append(dict(d["models"][0])),
        "seed.yaml: models[3]: model id 'gpt-4-turbo' appears 2 times",
    ),
    "duplicate team name in an organization": (
        lambda d: d["teams"].append(d["teams"][0] | {"id": "other-id"}),
        "seed.yaml: teams[1]: team name in organization ('test-org', 'Test Team') appears 2 times",
    ),
    "group naming an unknown model": (
        lambda d: d["model_groups"][0]["models"].append("gpt-9"),
        "seed.yaml: model_groups[0].models[2]: unknown model 'gpt-9': add it under `models`",
    ),
    "team naming an unknown group": (
        lambda d: d["teams"][0].update(model_groups=["premium"]),
        "seed.yaml: teams[0].model_groups[0]: unknown model group 'premium'",
    ),
    "team naming an unknown organization": (
        lambda d: d["teams"][0].update(organization="nobody"),
        "seed.yaml: teams[0].organization: unknown organization 'nobody'",
    ),
    "team without groups": (
        lambda d: d["teams"][0].update(model_groups=[]),
        "seed.yaml: teams[0].model_groups: List should have at least 1 item",
    ),
    "model naming an unknown credential": (
        lambda d: d["models"][0].update(credential="azure-openai"),
        "seed.yaml: models[0].credential: unknown credential 'azure-openai'",
    ),
    "bad budget duration": (
        lambda d: d["teams"][0].update(budget_duration="1y"),
        "seed.yaml: teams[0].budget_duration: String should match pattern",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_rule_has_its_message(case):
    change, expected = CASES[case]
    found = problems(mutated(change))
    assert any(expected in line for line in found), found


def test_a_credential_whose_secret_is_not_set_is_named():
    found = problems(example(), environ={"OPENAI_API_KEY": "sk-x"})
    assert found == [
        "seed.yaml: credentials[1].api_key: environment variable ANTHROPIC_API_KEY is not set: "
        "set it before seeding"
    ]


def test_every_cross_reference_problem_is_reported_at_once():
    def break_three(d):
        d["model_groups"][0]["models"].append("gpt-9")
        d["teams"][0].update(organization="nobody", model_groups=["premium"])

    assert len(problems(mutated(break_three))) == 3


def test_files_that_are_not_yaml_or_not_a_mapping(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("teams: [\n")
    with pytest.raises(SpecError, match=r"broken.yaml: line \d+: not valid YAML"):
        load_spec(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="must be a mapping"):
        load_spec(listed)
    with pytest.raises(SpecError, match="cannot be read"):
        load_spec(tmp_path / "missing.yaml")


def test_secret_values_never_appear_in_problems():
    data = mutated(lambda d: d["credentials"][0].update(api_key="sk-live-very-secret"))
    assert not any("sk-live-very-secret" in line for line in problems(data))
