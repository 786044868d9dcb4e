import subprocess

from testbed import network


def render(allowed):
    return network.render_ruleset(
        table="gateway_testbed_unit", bridge="gwtb0", subnet="10.213.0.0/24", allowed=allowed
    )


def test_ruleset_admits_only_the_listed_source_endpoints():
    text = render({"192.0.2.80": [443, 80], "192.0.2.81": [3128]})
    assert "elements = { 192.0.2.80 . 80, 192.0.2.80 . 443, 192.0.2.81 . 3128 }" in text
    forward = text.split("chain forward")[1].split("}")[0]
    # Anything from the bridge that is not a listed source or a reply is dropped.
    assert forward.strip().splitlines()[-1].strip() == 'iifname "gwtb0" drop'
    assert 'ip saddr 10.213.0.0/24 oifname != "gwtb0" masquerade' in text
    # Host-to-host traffic is left to the hosts' firewalls, before any drop.
    rules = [line.strip() for line in forward.splitlines()]
    host_to_host = rules.index("ip saddr 10.213.0.0/24 ip daddr 10.213.0.0/24 accept")
    assert host_to_host < rules.index('oifname "gwtb0" drop')


def test_ruleset_without_sources_still_parses_as_an_empty_set():
    assert "elements" not in render({})


def test_ruleset_is_valid_nftables():
    result = subprocess.run(
        ["nft", "--check", "--file", "-"],
        input=render({"192.0.2.80": [80]}),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
