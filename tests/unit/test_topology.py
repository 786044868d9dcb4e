import pytest

from testbed import topology


def test_single_topology_is_one_host_with_every_role():
    hosts = topology.plan(hosts=None, topology="single", subnet="10.213.0.0/24")
    assert [(h.name, h.address) for h in hosts] == [("gateway1", "10.213.0.11")]
    assert set(hosts[0].groups) == {"db", "cache", "llm", "api", "edge"}


def test_split_topology_spreads_roles_with_two_llm_and_api_hosts_and_a_backup_host():
    hosts = topology.plan(hosts=None, topology="split", subnet="10.213.0.0/24")
    by_role = {}
    for host in hosts:
        for role in host.groups:
            by_role.setdefault(role, []).append(host.name)
    assert by_role == {
        "db": ["db1"],
        "cache": ["cache1"],
        "llm": ["llm1", "llm2"],
        "api": ["api1", "api2"],
        "edge": ["edge1"],
        "backup": ["backup1"],
    }
    assert len({h.address for h in hosts}) == len(hosts)


def test_numbered_hosts_have_no_roles_and_distinct_fixed_macs():
    hosts = topology.plan(hosts=3, topology=None, subnet="10.213.0.0/24")
    assert [h.name for h in hosts] == ["host1", "host2", "host3"]
    assert all(h.groups == () for h in hosts)
    assert [h.mac for h in hosts] == ["02:00:0a:d5:00:0b", "02:00:0a:d5:00:0c", "02:00:0a:d5:00:0d"]


def test_mac_is_stable_for_an_address():
    again = topology.plan(hosts=3, topology=None, subnet="10.213.0.0/24")
    assert again == topology.plan(hosts=3, topology=None, subnet="10.213.0.0/24")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hosts": 0, "topology": None, "suite": "bookworm"}, "--hosts must be between 1 and 16"),
        ({"hosts": 17, "topology": None, "suite": "bookworm"}, "--hosts must be between 1 and 16"),
        ({"hosts": None, "topology": "mesh", "suite": "bookworm"}, "unknown topology 'mesh'"),
        ({"hosts": None, "topology": None, "suite": "buster"}, "unknown suite 'buster'"),
        ({"hosts": 2, "topology": "split", "suite": "bookworm"}, "either --hosts N or --topology"),
        (
            {"hosts": None, "topology": None, "suite": "trixie", "by_group": {"db": "bookworm"}},
            "--group-suite needs --topology split",
        ),
    ],
)
def test_bad_requests_are_refused_with_a_sentence(kwargs, message):
    with pytest.raises(ValueError, match=message):
        topology.validate_request(**kwargs)


def test_subnet_too_small_is_refused():
    with pytest.raises(ValueError, match="too small"):
        topology.plan(hosts=4, topology=None, subnet="10.213.0.0/28")


def test_gateway_is_the_first_address():
    assert topology.gateway_address("10.213.0.0/24") == "10.213.0.1"


def test_a_mixed_split_gives_the_named_groups_their_own_release():
    by_group = topology.group_suites(["db=bookworm", "cache=bookworm", "backup=bookworm"])
    hosts = topology.plan(hosts=None, topology="split", subnet="10.213.0.0/24", by_group=by_group)
    assert {h.name: h.suite for h in hosts} == {
        "db1": "bookworm",
        "cache1": "bookworm",
        "llm1": "",
        "llm2": "",
        "api1": "",
        "api2": "",
        "edge1": "",
        "backup1": "bookworm",
    }
    assert all(topology.HostSpec.from_json(h.to_json()) == h for h in hosts)
    described = topology.describe(hosts=None, topology="split", by_group=by_group)
    assert described == "topology split (backup on bookworm, cache on bookworm, db on bookworm)"


@pytest.mark.parametrize("value", ["db", "db=buster", "mesh=trixie"])
def test_a_bad_group_suite_is_refused_with_a_sentence(value):
    with pytest.raises(ValueError, match="expected GROUP=SUITE"):
        topology.group_suites([value])
