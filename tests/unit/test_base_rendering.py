"""What the base deploy writes to hosts, rendered exactly as tasks/base.py renders it."""

import subprocess

from bundle.render import render


def firewall(**overrides):
    context = {
        "table": "gateway_firewall",
        "rules_dir": "/nonexistent-unit-test.d",
        "ssh_port": 22,
        "admin_v4": ["198.51.100.0/24"],
        "admin_v6": [],
    }
    return render("base/nftables.conf.j2", **(context | overrides))


def nft_check(text):
    return subprocess.run(
        ["nft", "--check", "--file", "-"], input=text, capture_output=True, text=True
    )


def input_chain(text):
    return text.split("chain input {")[1].split("chain forward {")[0]


def test_firewall_drops_inbound_and_admits_ssh_only_from_admin_networks():
    text = firewall()
    chain = input_chain(text)
    assert "policy drop;" in chain
    ssh_rules = [line.strip() for line in chain.splitlines() if "dport 22" in line]
    assert ssh_rules == ["ip saddr @admin_v4 tcp dport 22 accept"]
    assert "elements = { 198.51.100.0/24 }" in text
    assert nft_check(text).returncode == 0, nft_check(text).stderr


def test_firewall_includes_the_roles_rule_directory_inside_the_input_chain():
    assert 'include "/nonexistent-unit-test.d/*.nft"' in input_chain(firewall())


def test_firewall_with_ipv6_admins_and_another_port_is_valid():
    text = firewall(admin_v4=[], admin_v6=["2001:db8::/32"], ssh_port=2222)
    assert "ip6 saddr @admin_v6 tcp dport 2222 accept" in text
    assert "admin_v4" not in text
    assert nft_check(text).returncode == 0, nft_check(text).stderr


def test_firewall_replaces_only_its_own_table():
    text = firewall()
    assert "flush ruleset" not in text
    assert "delete table inet gateway_firewall" in text
    assert "policy drop;" in text.split("chain forward {")[1].split("}")[0]


def test_sshd_hardening_turns_off_every_password_path():
    text = render("base/00-gateway-hardening.conf.j2", ssh_port=22)
    settings = dict(line.split(" ", 1) for line in text.splitlines() if line and line[0] != "#")
    assert settings["PasswordAuthentication"] == "no"
    assert settings["KbdInteractiveAuthentication"] == "no"
    assert settings["PermitEmptyPasswords"] == "no"
    assert settings["AuthenticationMethods"] == "publickey"
    assert settings["PermitRootLogin"] == "prohibit-password"


def test_unattended_upgrades_run_daily_and_wait_for_the_dpkg_lock():
    text = render(
        "base/20auto-upgrades.j2",
        automatic_reboot=False,
        reboot_time="04:30",
        dpkg_lock_timeout=600,
    )
    assert 'APT::Periodic::Unattended-Upgrade "1";' in text
    assert 'APT::Periodic::Update-Package-Lists "1";' in text
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in text
    assert "Automatic-Reboot-Time" not in text
    assert 'DPkg::Lock::Timeout "600";' in text


def test_automatic_reboot_gets_its_time():
    text = render(
        "base/20auto-upgrades.j2", automatic_reboot=True, reboot_time="03:15", dpkg_lock_timeout=60
    )
    assert 'Unattended-Upgrade::Automatic-Reboot-Time "03:15";' in text


def test_journald_is_capped():
    text = render("base/50-gateway.conf.j2", max_use="1G", keep_free="2G", max_retention="1month")
    assert "SystemMaxUse=1G" in text and "SystemKeepFree=2G" in text
    assert "MaxRetentionSec=1month" in text


def test_network_sysctls_are_per_namespace_and_kernel_ones_separate():
    net = render("base/90-gateway-net.conf.j2")
    kernel = render("base/90-gateway-kernel.conf.j2")
    keys = lambda text: [l.split("=")[0].strip() for l in text.splitlines() if "=" in l]  # noqa: E731,E741
    assert keys(net) and all(k.startswith("net.") for k in keys(net))
    assert keys(kernel) and not any(k.startswith("net.") for k in keys(kernel))


def test_chrony_container_dropin_measures_without_setting_the_clock():
    text = render("base/chrony-container.conf.j2")
    assert "ConditionCapability=\n" in text
    assert "ExecStart=\n" in text and " -x" in text


def test_chrony_sources_list_each_server():
    text = render("base/gateway-chrony.conf.j2", servers=["ntp1.test", "ntp2.test"])
    assert "server ntp1.test iburst" in text and "server ntp2.test iburst" in text
    assert "server" not in render("base/gateway-chrony.conf.j2", servers=[]).split("\n", 1)[1]
