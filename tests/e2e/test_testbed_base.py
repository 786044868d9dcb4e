"""The testbed and the base deploy, end to end: 3 real Debian hosts under systemd.

The tests run in file order and share one testbed: bad input first (nothing may change), then
boot, deploy twice, verify, probe the firewall from outside, reboot, and finally tear down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from testbed import cgroups, guest, network, paths, procs, state

from .conftest import deploy_json, pyinfra, run, run_testbed, run_verify_suite, ssh

HOSTS = ["host1", "host2", "host3"]


def kernel_snapshot():
    """What `up` would create: compared before and after refused commands."""
    return {
        "state_file": paths.STATE_FILE.exists(),
        "leftovers": sorted(network.leftovers() + cgroups.leftovers()),
        "mounts": sorted(guest.our_mounts()),
        "supervisors": sorted(procs.supervisor_pids()),
    }


@pytest.fixture(scope="module")
def clean_start(root_only):
    """Start from nothing; yields the control machine's IP forwarding setting to restore."""
    run_testbed("down", "--purge", check=True)
    yield network.IP_FORWARD.read_text().strip()
    run_testbed("down", "--purge")  # whatever happened above, leave nothing behind


@pytest.fixture(scope="module")
def three_hosts(clean_start):
    result = run_testbed("up", "--hosts", "3", check=True, timeout=1200)
    return result


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["up", "--hosts", "0"], "--hosts must be between 1 and 16"),
        (["up", "--suite", "buster"], "unknown suite 'buster'"),
        (["up", "--topology", "mesh"], "unknown topology 'mesh'"),
    ],
)
def test_bad_up_requests_fail_with_one_line_and_change_nothing(clean_start, args, expected):
    before = kernel_snapshot()
    result = run_testbed(*args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert kernel_snapshot() == before


def test_up_refuses_to_run_without_root(clean_start):
    before = kernel_snapshot()
    result = run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            sys.executable,
            "-m",
            "testbed",
            "up",
            "--hosts",
            "3",
        ],
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "must run as root" in lines[0], result.stderr
    assert kernel_snapshot() == before


def test_up_boots_three_running_hosts(three_hosts):
    for name in HOSTS:
        assert ssh(name, "systemctl is-system-running").stdout.strip() == "running"
    status = run_testbed("status", check=True).stdout
    header, *rows = [line.split() for line in status.splitlines()[1:]]
    state = header.index("STATE")
    assert [row[state] for row in rows] == ["running"] * 3


def test_each_host_has_its_own_address_and_identity(three_hosts):
    seen = {}
    for name in HOSTS:
        address = ssh(name, "ip -4 -o addr show eth0", check=True).stdout.split()[3]
        machine_id = ssh(name, "cat /etc/machine-id", check=True).stdout.strip()
        host_key = ssh(name, "cat /etc/ssh/ssh_host_ed25519_key.pub", check=True).stdout.split()[1]
        seen[name] = (address, machine_id, host_key)
    for column in range(3):
        assert len({values[column] for values in seen.values()}) == 3


def test_hosts_trust_the_control_machines_extra_cas(three_hosts):
    from testbed.sources import extra_ca_certificates

    for cert in extra_ca_certificates():
        found = ssh("host1", f"cat /usr/local/share/ca-certificates/control-machine/{cert.name}")
        assert found.stdout == cert.read_text()
    bundle = ssh("host1", "cat /etc/ssl/certs/ca-certificates.crt", check=True).stdout
    for cert in extra_ca_certificates():
        body = "".join(cert.read_text().split("-----")[2].split())
        assert body in "".join(bundle.split())


def test_hosts_reach_the_configured_apt_sources(three_hosts):
    result = ssh("host1", "apt-get update -q", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Err:" not in result.stdout


def test_second_up_changes_nothing(three_hosts):
    supervisors = {name: procs.supervisor_pids(name) for name in HOSTS}
    boot_ids = {name: ssh(name, "cat /proc/sys/kernel/random/boot_id").stdout for name in HOSTS}
    result = run_testbed("up", "--hosts", "3", check=True)
    assert "were already running" in result.stderr
    assert {name: procs.supervisor_pids(name) for name in HOSTS} == supervisors
    assert {n: ssh(n, "cat /proc/sys/kernel/random/boot_id").stdout for n in HOSTS} == boot_ids


def test_up_with_another_shape_is_refused(three_hosts):
    result = run_testbed("up", "--topology", "split")
    assert result.returncode != 0
    assert "down --purge" in result.stderr
    assert len(state.load().hosts) == 3


def test_first_base_deploy_succeeds(three_hosts):
    report, seconds = deploy_json()
    print(f"first base deploy: {seconds:.1f}s")
    errors = [op["name"] for op in report["results"]["operations"] if op["error"]]
    assert errors == []
    changed = [op["name"] for op in report["results"]["operations"] if op["success"]]
    assert "Base host | Render /etc/nftables.conf" in changed


def test_second_base_deploy_changes_nothing_on_any_host(three_hosts):
    report, seconds = deploy_json()
    print(f"second base deploy: {seconds:.1f}s")
    operations = report["results"]["operations"]
    assert operations, "the deploy ran no operation"
    for op in operations:
        assert op["success"] == [] and op["error"] == [], op["name"]
        assert sorted(op["no_change"]) == HOSTS, op["name"]


def test_verification_suite_passes(three_hosts):
    run_verify_suite()


def test_firewall_drops_an_unlisted_port_from_outside(three_hosts):
    """A listener on host1 answers locally but not from the control machine."""
    listener = "timeout 30 python3 -m http.server 18080 --bind 0.0.0.0 >/dev/null 2>&1 &"
    ssh("host1", listener, check=True)
    local = ssh("host1", "sleep 1; timeout 5 bash -c '</dev/tcp/127.0.0.1/18080' && echo open")
    assert local.stdout.strip() == "open"
    address = state.load().host("host1").address
    probe = run(["timeout", "5", "bash", "-c", f"</dev/tcp/{address}/18080"])
    assert probe.returncode == 124  # dropped: no answer at all, not even a refusal


def test_ssh_is_dropped_from_a_host_outside_the_admin_networks(three_hosts):
    target = state.load().host("host1").address
    probe = ssh("host2", f"timeout 5 bash -c '</dev/tcp/{target}/22' && echo open")
    assert probe.stdout.strip() == ""
    assert probe.returncode == 124


def test_missing_admin_cidrs_stops_the_deploy_before_any_change(three_hosts, tmp_path):
    """An inventory whose environment sets no base_admin_cidrs: one line, non-zero, no operation."""
    host = state.load().host("host1")
    inventory = tmp_path / "staging.py"
    inventory.write_text(
        textwrap.dedent(f"""\
        from testbed.inventory import connection_data
        hosts = [("host1", connection_data({host.address!r}))]
    """)
    )
    fingerprint = ssh("host1", "sha256sum /etc/nftables.conf", check=True).stdout
    result = pyinfra("-y", inventory, "deploy.py")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    errors = [line for line in output.splitlines() if "base_admin_cidrs" in line]
    assert len(errors) == 1 and "host1: base_admin_cidrs is missing: " in errors[0], output
    assert "group_data/" in errors[0]
    assert "Starting operation" not in output
    assert ssh("host1", "sha256sum /etc/nftables.conf", check=True).stdout == fingerprint


def test_an_invalid_config_never_replaces_the_live_one(three_hosts, tmp_path):
    """validated_file: the candidate fails `nft --check`, the deploy fails, the live file stays."""
    deploy_file = tmp_path / "broken_firewall.py"
    deploy_file.write_text(
        textwrap.dedent("""\
        from bundle.operations import validated_file

        validated_file(
            name="Render a broken /etc/nftables.conf",
            content="table inet gateway_firewall { chain input { policy nonsense; } }\\n",
            dest="/etc/nftables.conf",
            mode="755",
            validate="nft --check --file {path}",
        )
        """)
    )
    before = ssh("host1", "sha256sum /etc/nftables.conf; ls -a /etc", check=True).stdout
    result = pyinfra("-y", "inventories/testbed.py", "--limit", "host1", deploy_file)
    assert result.returncode != 0
    assert ssh("host1", "sha256sum /etc/nftables.conf; ls -a /etc", check=True).stdout == before


def test_pyinfra_reboot_brings_a_host_back_healthy(three_hosts):
    boot_id = ssh("host2", "cat /proc/sys/kernel/random/boot_id", check=True).stdout
    result = pyinfra(
        "-y", "inventories/testbed.py", "--limit", "host2", "server.reboot", timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert ssh("host2", "cat /proc/sys/kernel/random/boot_id", check=True).stdout != boot_id
    uptime = float(ssh("host2", "cut -d' ' -f1 /proc/uptime", check=True).stdout)
    assert uptime < 120
    assert ssh("host2", "systemctl is-system-running --wait").stdout.strip() == "running"
    ruleset = json.loads(
        ssh("host2", "nft --json list chain inet gateway_firewall input", check=True).stdout
    )
    chain = next(i["chain"] for i in ruleset["nftables"] if "chain" in i)
    assert chain["policy"] == "drop"  # the firewall came back with the host


def test_down_purge_leaves_nothing_behind(three_hosts, clean_start):
    result = run_testbed("down", "--purge", check=True, timeout=300)
    assert result.returncode == 0
    assert network.leftovers() == []
    assert cgroups.leftovers() == []
    assert guest.our_mounts() == []
    assert procs.supervisor_pids() == [] and procs.container_pids() == []
    assert not paths.STATE_DIR.exists()
    mounts = Path("/proc/self/mounts").read_text()
    assert str(paths.HOSTS_DIR) not in mounts
    ip_netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert paths.PREFIX not in ip_netns
    assert network.IP_FORWARD.read_text().strip() == clean_start
