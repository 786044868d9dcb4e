"""The provisioning CLI's local parts: refusals before any host is contacted, the plan table,
the 0600 keys file."""

import stat

import pytest

from provisioning import cli
from provisioning.plan import Change

HOST = {"name": "h", "data": {"private_address": "10.0.0.9", "environment": "testbed"}}


@pytest.fixture
def offline(monkeypatch):
    """Inventory and secret store stand-ins; any attempt to reach a host fails the test."""
    monkeypatch.setattr(cli, "endpoints", lambda inventory: ("testbed", HOST, HOST))

    class Store:
        def __init__(self, env):
            pass

        def values(self):
            return {"litellm_master_key": "sk-a", "saas_api_master_key": "b"}

    monkeypatch.setattr(cli, "SecretStore", Store)

    def no_hosts(*args):
        raise AssertionError("a host was contacted")

    monkeypatch.setattr(cli, "services", no_hosts)


def test_a_bad_spec_stops_before_any_host_is_contacted(offline, tmp_path, capsys):
    spec = tmp_path / "seed.yaml"
    spec.write_text("teams:\n  - id: t\n    name: T\n    organization: nobody\n")
    code = cli.main(["plan", "--inventory", "inventories/x.py", "--spec", str(spec)])
    assert code == cli.EXIT_INPUT
    error = capsys.readouterr().err
    assert f"{spec}: teams[0].model_groups: required key is missing" in error
    assert f"{spec}: teams[0].max_budget: required key is missing" in error


def test_a_credential_without_its_secret_stops_before_any_host(offline, tmp_path, capsys):
    spec = tmp_path / "seed.yaml"
    spec.write_text(
        "credentials:\n  - name: c\n    provider: openai\n    api_key: {env: UNSET_FOR_TEST}\n"
    )
    assert cli.main(["apply", "--inventory", "i.py", "--spec", str(spec)]) == cli.EXIT_INPUT
    assert "environment variable UNSET_FOR_TEST is not set" in capsys.readouterr().err


def test_plan_and_apply_need_a_spec(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["apply", "--inventory", "i.py"])
    assert "apply needs --spec FILE" in capsys.readouterr().err


def test_plan_table_lists_changes_and_counts():
    table = cli.plan_table(
        [
            Change("model", "gpt-4-turbo", "updated", ("input_cost_per_token",)),
            Change("team", "test-team", "unchanged"),
            Change("team", "new-team", "created"),
        ]
    ).splitlines()
    assert table[0].split() == ["KIND", "NAME", "ACTION", "FIELDS"]
    assert table[1].split() == ["model", "gpt-4-turbo", "updated", "input_cost_per_token"]
    assert table[-1] == "plan: 1 created, 1 updated, 1 unchanged"


def test_issued_keys_are_merged_into_a_private_file(tmp_path):
    path = tmp_path / "keys" / "testbed-team-keys.json"
    cli.write_keys(path, {"a": "sk-1"})
    cli.write_keys(path, {"b": "sk-2"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().count("sk-") == 2
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
