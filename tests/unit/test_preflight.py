"""Preflight over real pyinfra Inventory objects: every problem of every host, one line each
with host, key, value, source and remedy."""

import re

import pytest
from pyinfra.api import Inventory

from bundle import settings
from bundle.preflight import PreflightError, check_inventory, inventory_problems

GOOD = {
    "environment": "testbed",
    "base_admin_cidrs": ["10.213.0.1/32"],
    "edge_tls_mode": "internal",
    "edge_gateway_host": "gateway.testbed.internal",
    "edge_api_host": "api.testbed.internal",
    "edge_admin_host": "admin.testbed.internal",
    "edge_admin_cidrs": ["10.213.0.1/32"],
}
ALL_ROLES = ("db", "cache", "llm", "api", "edge")


def make(hosts=None, all_data=None, override=None, group_data=None):
    """hosts: {name: (groups, host data)}; group_data: {group: data} as the inventory file's."""
    hosts = hosts or {"gw1": (ALL_ROLES, {"private_address": "10.213.0.2"})}
    groups = {}
    for name, (member_of, _) in hosts.items():
        for group in member_of:
            groups.setdefault(group, ([], dict((group_data or {}).get(group, {}))))[0].append(name)
    names = [(name, data) for name, (_, data) in hosts.items()]
    return Inventory((names, GOOD | (all_data or {})), override_data=override, **groups)


def problems(inventory, tmp_path=None):
    found, _ = inventory_problems(inventory, tmp_path or _no_group_data())
    return found


def _no_group_data():
    from pathlib import Path

    return Path("/nonexistent-group-data")


def test_a_good_single_host_inventory_passes_without_warnings():
    assert inventory_problems(make(), _no_group_data()) == ([], [])


# The sweep: each was accepted, broke a service or crashed before.
@pytest.mark.parametrize(
    ("key", "value", "what"),
    [
        ("base_journald_max_use", "lots", "not in that format, expected a size such as 512M"),
        ("base_unattended_reboot_time", "25:99", "expected a time of day, HH:MM"),
        ("base_apt_cache_seconds", -1, "out of range, expected a whole number from 0"),
        ("base_ntp_servers", "pool", "not a list"),
        ("litellm_readiness_timeout", -1, "out of range"),
        ("litellm_request_timeout", "abc", "not a whole number"),
        ("litellm_spend_write_interval", 0, "out of range"),
        ("litellm_workers", 0, "out of range, expected a whole number from 1 to 64"),
        ("postgres_tls_days", -1, "out of range"),
        ("saas_api_db_pool_limit", 0, "out of range"),
        ("redis_maxmemory_mb", -5, "out of range"),
        ("litellm_prisma_engine", "turbo", "not one of those, expected one of bundled, native"),
        ("edge_health_interval", "fast", "expected a duration such as 2s"),
        ("edge_max_request_body", "huge", "expected a size such as 64MB"),
        ("edge_tls_protocols", "ssl3", "expected one of tls1.2, tls1.3"),
        ("saas_api_workers", "abc", "not a whole number"),
        ("edge_public_cidrs", ["not-a-cidr"], "entry 'not-a-cidr' is not an IP network"),
        ("base_ssh_port", 70000, "out of range, expected a port from 1 to 65535"),
        ("edge_admin_cidrs", ["0.0.0.0/0"], "admits the whole internet"),
        ("edge_tls_mode", "bogus", "not one of those"),
        ("litellm_instances", 0, "out of range"),
        ("litellm_port", 443, "out of range, expected a port from 1024"),
        ("litellm_spend_flush_seconds", 2, "out of range"),
        ("litellm_lock", "litellm-9.9.9", "does not exist"),
        ("base_unattended_reboot", "yes", "not True or False"),
        ("backup_full_schedule", "Sun 25:99", "refused by systemd-analyze calendar"),
        ("edge_acme_email", "ops-at-corp", "not an e-mail address"),
        ("edge_gateway_host", "gateway.example.com", "a placeholder"),
        ("edge_inference_paths", ["chat"], "entry 'chat' is not in that format"),
        ("private_address", "0.0.0.0", "not an address a host's peers can reach"),  # noqa: S104
    ],
)
def test_a_wrong_value_is_one_line_with_host_key_source_and_remedy(key, value, what):
    [line] = problems(make(override={key: value}))
    assert line.startswith(f"gw1: {key} = {value!r} (from --data): ")
    assert what in line
    required = settings.BY_KEY[key].required
    assert line.endswith(
        "; fix it in --data" + ("" if required else " (or remove it for the default)")
    )


def test_every_problem_of_every_host_is_listed_at_once():
    inventory = make(
        {
            "llm1": (("llm",), {"private_address": "10.0.0.1", "litellm_workers": "abc"}),
            "api1": (("api",), {"private_address": "10.0.0.2", "saas_api_workers": 0}),
        },
        all_data={"base_ssh_port": 0},
    )
    found = problems(inventory)
    assert len(found) == 3
    # The value both hosts get from one file: one line naming both.
    assert found[0].startswith("llm1, api1: base_ssh_port = 0 (from group_data/all.py): ")
    assert found[1].startswith("llm1: litellm_workers = 'abc' (from llm1's entry")
    assert found[2].startswith("api1: saas_api_workers = 0 (from api1's entry")


def test_the_source_is_the_layer_pyinfra_took_the_value_from(tmp_path):
    (tmp_path / "llm.py").write_text("litellm_workers = 'x'\n")
    inventory = make(
        {
            "llm1": (("llm",), {"private_address": "10.0.0.1", "litellm_instances": 0}),
            "api1": (("api",), {"private_address": "10.0.0.2"}),
        },
        group_data={"llm": {"litellm_workers": "x"}, "api": {"saas_api_workers": "y"}},
    )
    found = problems(inventory, tmp_path)
    assert "llm1: litellm_instances = 0 (from llm1's entry in the inventory file)" in found[0]
    assert "litellm_workers = 'x' (from group_data/llm.py)" in found[1]
    assert "api1: saas_api_workers = 'y' (from the inventory file's `api` group)" in found[2]


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("litelm_workers", "did you mean litellm_workers?"),
        ("redis_max_memory_mb", "did you mean redis_maxmemory_mb?"),
        ("edge_tls_mdoe", "did you mean edge_tls_mode?"),
        ("saas_api_frobnicate", "see README, Settings"),
    ],
)
def test_an_unknown_key_like_ours_is_refused_with_the_nearest_name(key, hint):
    [line] = problems(make(override={key: 2}))
    assert line == (
        f"gw1: {key} = 2 (from --data): unknown setting ({hint}); rename or remove it in --data"
    )


def test_retired_port_keys_say_what_holds_instead():
    [line] = problems(make(override={"postgres_port": "abc"}))
    assert "not a setting: PostgreSQL listens on 5432 (fixed); remove it from --data" in line


def test_foreign_keys_pass_and_unrelated_ones_are_only_warned_about():
    inventory = make(override={"ssh_user": "root", "_sudo": True, "colour": "blue"})
    found, warnings = inventory_problems(inventory, _no_group_data())
    assert found == []
    assert warnings == ["gw1: colour (from --data) is not a setting of this bundle; it is ignored"]


def test_a_key_where_it_has_no_effect_is_warned_about(tmp_path):
    (tmp_path / "db.py").write_text("litellm_workers = 4\n")
    inventory = make(
        {
            "db1": (("db",), {"private_address": "10.0.0.1"}),
            "llm1": (("llm",), {"private_address": "10.0.0.2"}),
        },
        group_data={"db": {"litellm_workers": 4}},
    )
    found, warnings = inventory_problems(inventory, tmp_path)
    assert found == []
    assert (
        "litellm_workers (set in group_data/db.py) has no effect: llm hosts read it, and it "
        "reaches none of them"
    ) in warnings
    # group_data/all.py's edge names reach every host, and this inventory has no edge.
    assert "edge_gateway_host (set in group_data/all.py) has no effect" in " ".join(warnings)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"saas_api_port": 4000},
            "gw1: the SaaS API and LiteLLM instance 1 (litellm_port + 0) both need port 4000; "
            "move saas_api_port in --data",
        ),
        (
            {"saas_api_admin_port": 4001},
            "gw1: the admin panel and LiteLLM instance 2 (litellm_port + 1) both need port 4001",
        ),
        ({"saas_api_port": 3000}, "the admin panel and the SaaS API both need port 3000"),
        ({"litellm_port": 5431}, "both need port 5432; move litellm_port"),
        ({"base_ssh_port": 443}, "the edge and SSH both need port 443; move base_ssh_port"),
        ({"base_ssh_port": 6379}, "Redis and SSH both need port 6379"),
        (
            {"litellm_workers": 1, "litellm_instances": 3},
            "gw1: litellm_workers = 1 (from --data): fewer workers than litellm_instances (3): "
            "each instance needs one; raise it to at least 3 or lower litellm_instances",
        ),
    ],
)
def test_collisions_and_mismatches_on_one_host_are_refused(data, expected):
    [line] = problems(make(override=data))
    assert expected in line


def test_ports_of_roles_on_different_hosts_do_not_collide():
    inventory = make(
        {
            "llm1": (("llm",), {"private_address": "10.0.0.1"}),
            "api1": (("api",), {"private_address": "10.0.0.2", "saas_api_port": 4000}),
        }
    )
    assert problems(inventory) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"edge_api_host": "gateway.testbed.internal"},
            "gw1: edge_api_host = 'gateway.testbed.internal' (from --data): the same name as "
            "edge_gateway_host",
        ),
        ({"edge_admin_host": "API.testbed.internal"}, "the same name as edge_api_host"),
        ({"edge_tls_mode": "acme"}, "gw1: edge_acme_email is missing: edge_tls_mode is acme"),
        ({"edge_tls_mode": "files"}, "gw1: edge_tls_certificate = None: edge_tls_mode is files"),
    ],
)
def test_the_edges_rules_between_keys(change, expected):
    found = problems(make(override=change))
    assert any(expected in line for line in found), found


def test_acme_and_files_modes_pass_when_complete(tmp_path):
    assert problems(make(override={"edge_tls_mode": "acme", "edge_acme_email": "o@corp.net"})) == []
    cert, key = tmp_path / "edge.crt", tmp_path / "edge.key"
    cert.write_text("x")
    key.write_text("y")
    files = {"edge_tls_mode": "files", "edge_tls_certificate": str(cert), "edge_tls_key": str(key)}
    assert problems(make(override=files)) == []


def test_a_required_key_missing_names_where_to_set_it():
    inventory = make({"db1": (("db",), {})}, all_data={"base_admin_cidrs": None})
    assert problems(inventory) == [
        "db1: private_address is missing: expected the IP address the host's peers reach it on "
        "(where the host's peers reach it; services listen only there); set it in the host's "
        "entry in its inventory file",
        "db1: base_admin_cidrs is missing: expected a list of operators' IP networks (never "
        '0.0.0.0/0 or ::/0), e.g. ["198.51.100.0/24"] (networks allowed to SSH in; there is no '
        "safe default); set it in group_data/<environment>.py",
    ]


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (
            {
                "a": (("db",), {"private_address": "10.0.0.1"}),
                "b": (("cache",), {"private_address": "10.0.0.1"}),
            },
            "b: private_address '10.0.0.1' is also a's",
        ),
        (
            {
                "a": (("llm",), {"private_address": "10.0.0.1"}),
                "b": (("llm",), {"private_address": "10.0.0.2", "litellm_lock": "litellm-1.108.7"}),
            },
            "litellm_lock differs between llm hosts (a: litellm, b: litellm-1.108.7)",
        ),
        (
            {"a": (("db", "backup"), {"private_address": "10.0.0.1"})},
            "a: in both `db` and `backup`",
        ),
        (
            {
                "a": (("backup",), {"private_address": "10.0.0.1"}),
                "b": (("backup",), {"private_address": "10.0.0.2"}),
            },
            "the `backup` group has 2 hosts",
        ),
        (
            {"a": (("backup",), {"private_address": "10.0.0.1"})},
            "a `backup` host needs exactly one host in `db`, the inventory has 0",
        ),
    ],
)
def test_rules_between_hosts(hosts, expected):
    found = problems(make(hosts))
    assert any(expected in line for line in found), found


def test_check_inventory_raises_once_with_every_line_and_warns():
    inventory = make(override={"litellm_workers": 0, "saas_api_workers": 0, "colour": 1})
    warned = []
    with pytest.raises(PreflightError) as refused:
        check_inventory(inventory, warned.append, _no_group_data())
    lines = str(refused.value).splitlines()
    assert lines[0] == "preflight: 2 problems in the inventory; no host was changed:"
    assert [re.sub(r" = .*", "", line) for line in lines[1:]] == [
        "gw1: litellm_workers",
        "gw1: saas_api_workers",
    ]
    assert len(warned) == 1
    check_inventory(inventory, warned.append, _no_group_data())  # the next host: checked already


def test_the_seed_spec_is_checked_when_the_settings_are_good(tmp_path):
    spec = tmp_path / "seed.yaml"
    spec.write_text("organizations: [ {name: }\n")
    found = problems(make(override={"seed_spec": str(spec)}))
    assert len(found) == 1
    assert found[0].startswith("gw1: seed_spec (group_data) names a spec with problems")
