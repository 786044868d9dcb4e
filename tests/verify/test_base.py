"""What the base deploy promises on every host, one fact per test."""

import ipaddress
import json
import subprocess

import pytest

from .conftest import MAX_EXPOSURE, exposure


def nft_input_chain(host):
    listing = json.loads(host.check_output("nft --json list chain inet gateway_firewall input"))
    return next(item["chain"] for item in listing["nftables"] if "chain" in item)


def nft_rules(host):
    listing = json.loads(host.check_output("nft --json list table inet gateway_firewall"))
    return [item["rule"] for item in listing["nftables"] if "rule" in item]


def test_systemd_is_running_with_no_failed_units(host):
    assert host.run("systemctl is-system-running").stdout.strip() == "running"


def test_firewall_drops_inbound_by_default(host):
    assert nft_input_chain(host)["policy"] == "drop"


def test_firewall_admits_ssh_only_from_admin_networks(host, inventory_host):
    ssh_rules = [r for r in nft_rules(host) if r["chain"] == "input" and '"dport"' in json.dumps(r)]
    port_22 = [r for r in ssh_rules if '"right": 22' in json.dumps(r)]
    admin_rules = [r for r in port_22 if '"@admin_v' in json.dumps(r["expr"])]
    assert len(admin_rules) == 1
    # The only other SSH rule: pgBackRest's peer, between a db host and the backup host
    # (test_backup.py checks its one address).
    assert len(port_22) - 1 <= (1 if {"db", "backup"} & set(inventory_host.groups) else 0)
    listing = json.loads(host.check_output("nft --json list set inet gateway_firewall admin_v4"))
    (admin_set,) = [item["set"] for item in listing["nftables"] if "set" in item]
    elements = {
        f"{e['prefix']['addr']}/{e['prefix']['len']}" if isinstance(e, dict) else f"{e}/32"
        for e in admin_set["elem"]
    }
    expected = {
        str(ipaddress.ip_network(c, strict=False))
        for c in inventory_host.data.get("base_admin_cidrs")
        if ipaddress.ip_network(c, strict=False).version == 4
    }
    assert elements == expected


def test_firewall_is_loaded_at_boot(host):
    assert host.service("nftables").is_enabled


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("passwordauthentication", "no"),
        ("kbdinteractiveauthentication", "no"),
        ("permitemptypasswords", "no"),
        ("authenticationmethods", "publickey"),
        ("permitrootlogin", "without-password"),
    ],
)
def test_sshd_effective_setting(host, keyword, value):
    effective = dict(
        line.split(" ", 1) for line in host.check_output("sshd -T").splitlines() if " " in line
    )
    assert effective[keyword] == value


def test_ssh_offers_public_keys_only(inventory_host):
    """From outside: a password attempt is not even offered a password prompt."""
    data = inventory_host.data
    args = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "ConnectTimeout=10",
    ]
    if data.get("ssh_known_hosts_file"):
        args += ["-o", f"UserKnownHostsFile={data.get('ssh_known_hosts_file')}"]
        args += ["-o", "StrictHostKeyChecking=yes"]
    target = f"{data.get('ssh_user') or 'root'}@{data.get('ssh_hostname') or inventory_host.name}"
    result = subprocess.run([*args, target, "true"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr


def test_unattended_upgrades_installed(host):
    assert host.package("unattended-upgrades").is_installed


def test_unattended_upgrades_enabled(host):
    assert host.check_output("apt-config shell V APT::Periodic::Unattended-Upgrade") == "V='1'"


def test_apt_upgrade_timer_active(host):
    timer = host.service("apt-daily-upgrade.timer")
    assert timer.is_enabled and timer.is_running


def test_time_sync_active(host):
    chrony = host.service("chrony")
    assert chrony.is_enabled and chrony.is_running


def test_time_sync_daemon_answers(host):
    assert host.run("chronyc -n tracking").rc == 0


@pytest.mark.parametrize("unit", ["chrony.service", "unattended-upgrades.service"])
def test_the_base_units_exposure_is_low(host, unit):
    score, summary = exposure(host, unit)
    assert score <= MAX_EXPOSURE, summary


def test_the_upgrade_guard_is_running(host):
    guard = host.service("unattended-upgrades")
    assert guard.is_enabled and guard.is_running


def test_journald_size_is_capped(host):
    config = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    caps = [line for line in config.splitlines() if line.startswith("SystemMaxUse=")]
    assert caps, "no SystemMaxUse= in the effective journald configuration"
