from testbed.inventory import groups_for
from testbed.state import TestbedState as State
from testbed.topology import plan


def state_for(**kwargs):
    return State(
        shape="x",
        suite="bookworm",
        subnet="10.213.0.0/24",
        gateway="10.213.0.1",
        image="/img",
        hosts=plan(subnet="10.213.0.0/24", **kwargs),
    )


def test_single_host_is_in_every_role_group():
    groups = groups_for(state_for(hosts=None, topology="single"))
    for role in ("db", "cache", "llm", "api", "edge"):
        assert [name for name, _ in groups[role]] == ["gateway1"]
    ((name, data),) = groups["testbed_hosts"]
    assert data["ssh_hostname"] == "10.213.0.11"
    assert data["ssh_strict_host_key_checking"] == "yes"


def test_split_hosts_fill_their_own_groups_only():
    groups = groups_for(state_for(hosts=None, topology="split"))
    assert [n for n, _ in groups["llm"]] == ["llm1", "llm2"]
    assert [n for n, _ in groups["edge"]] == ["edge1"]
    assert [n for n, _ in groups["backup"]] == ["backup1"]
    assert len(groups["testbed_hosts"]) == 8


def test_the_single_host_keeps_its_own_backups():
    assert "backup" not in groups_for(state_for(hosts=None, topology="single"))


def test_role_less_hosts_have_no_role_groups():
    assert set(groups_for(state_for(hosts=3, topology=None))) == {"testbed_hosts"}
