"""The base every host gets: packages, time, security updates, journald, SSH and a firewall."""

from __future__ import annotations

import ipaddress
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import apt, files, systemd
from pyinfra.operations.util import any_changed

from bundle import settings, store_mark
from bundle.data import settings_reader
from bundle.deploy_secrets import secrets_for
from bundle.facts import ContainerType, SshClientAddress
from bundle.operations import applied_sysctls, rendered_file, running_service, validated_file
from bundle.render import render

# Every key with its default and its reason: bundle/settings.py.
DEFAULTS = settings.defaults(prefix="base_")

FIREWALL_TABLE = "gateway_firewall"
# Later roles drop `<role>.nft` files here: accept rules included into the input chain.
FIREWALL_RULES_DIR = "/etc/nftables.d"


setting = settings_reader(DEFAULTS)


def admin_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    # Preflight has already checked the value; here it only needs parsing.
    return [ipaddress.ip_network(c, strict=False) for c in setting("base_admin_cidrs")]


def firewall_context() -> dict:
    networks = admin_networks()
    return {
        "table": FIREWALL_TABLE,
        "rules_dir": FIREWALL_RULES_DIR,
        "ssh_port": setting("base_ssh_port"),
        "admin_v4": [str(n) for n in networks if n.version == 4],
        "admin_v6": [str(n) for n in networks if n.version == 6],
    }


@deploy("Base host")
def deploy_base():
    in_container = host.get_fact(ContainerType)
    _mark_secret_store()
    _install_packages()
    _configure_time(in_container)
    _configure_updates()
    _configure_journald()
    _configure_sysctls()
    _configure_ssh()
    _configure_firewall()


def _mark_secret_store():
    # First, before any secret reaches the host: the next deploy refuses another store.
    files.put(
        name="Record which secret store this host is deployed with",
        src=StringIO(store_mark.store_id(secrets_for(host.data.get("environment"))) + "\n"),
        dest=store_mark.PATH,
        mode="644",
    )


def _install_packages():
    apt.update(
        name="Refresh the apt package lists",
        cache_time=setting("base_apt_cache_seconds"),
    )
    apt.packages(
        name="Install the base packages",
        packages=setting("base_packages"),
        no_recommends=True,
    )


def _configure_time(in_container):
    sandbox = rendered_file(
        "base/chrony-sandbox.conf.j2", "/etc/systemd/system/chrony.service.d/sandbox.conf"
    )
    systemd.daemon_reload(name="Reload systemd for chrony's sandbox", _if=sandbox.did_change)
    changes = [
        rendered_file(
            "base/gateway-chrony.conf.j2",
            "/etc/chrony/conf.d/gateway.conf",
            servers=setting("base_ntp_servers"),
        ),
        sandbox,
    ]
    if in_container:
        dropin = rendered_file(
            "base/chrony-container.conf.j2",
            "/etc/systemd/system/chrony.service.d/container.conf",
            name="Let chrony run in measure-only mode inside the container",
        )
        systemd.daemon_reload(name="Reload systemd for chrony's drop-in", _if=dropin.did_change)
        changes.append(dropin)
    else:
        host.noop("chrony sets the clock itself: this host is not a container")
    running_service("chrony.service", "chrony", restart_when=changes)


def _configure_updates():
    rendered_file(
        "base/20auto-upgrades.j2",
        "/etc/apt/apt.conf.d/20auto-upgrades",
        automatic_reboot=setting("base_unattended_reboot"),
        reboot_time=setting("base_unattended_reboot_time"),
        dpkg_lock_timeout=setting("base_dpkg_lock_timeout"),
    )
    timers = ("apt-daily.timer", "apt-daily-upgrade.timer")
    # Images (our testbed's among them) may ship these masked so nothing holds the dpkg lock
    # before the first deploy; a server we manage runs them.
    unmasked = [
        files.link(name=f"Unmask {timer}", path=f"/etc/systemd/system/{timer}", present=False)
        for timer in timers
    ]
    systemd.daemon_reload(name="Reload systemd after unmasking", _if=any_changed(*unmasked))
    for timer in timers:
        systemd.service(
            name=f"Start and enable {timer}",
            service=timer,
            running=True,
            enabled=True,
        )
    guard = rendered_file(
        "base/unattended-upgrades-sandbox.conf.j2",
        "/etc/systemd/system/unattended-upgrades.service.d/sandbox.conf",
    )
    systemd.daemon_reload(
        name="Reload systemd for the upgrade guard's sandbox", _if=guard.did_change
    )
    running_service("unattended-upgrades.service", "the upgrade guard", restart_when=[guard])


def _configure_journald():
    conf = rendered_file(
        "base/50-gateway.conf.j2",
        "/etc/systemd/journald.conf.d/50-gateway.conf",
        max_use=setting("base_journald_max_use"),
        keep_free=setting("base_journald_keep_free"),
        max_retention=setting("base_journald_max_retention"),
    )
    systemd.service(
        name="Restart systemd-journald to load the size cap",
        service="systemd-journald.service",
        restarted=True,
        _if=conf.did_change,
    )


def _configure_sysctls():
    applied_sysctls(
        "base/90-gateway-net.conf.j2",
        "/etc/sysctl.d/90-gateway-net.conf",
        label="the network sysctls",
        kernel_global=False,  # per network namespace
    )
    applied_sysctls(
        "base/90-gateway-kernel.conf.j2",
        "/etc/sysctl.d/90-gateway-kernel.conf",
        label="the kernel sysctls",
        kernel_global=True,
    )


def _configure_ssh():
    conf = validated_file(
        name="Render /etc/ssh/sshd_config.d/00-gateway-hardening.conf",
        content=render("base/00-gateway-hardening.conf.j2", ssh_port=setting("base_ssh_port")),
        dest="/etc/ssh/sshd_config.d/00-gateway-hardening.conf",
        # Check the candidate exactly as sshd will read it: first, then the live config.
        validate=(
            "printf 'Include {path}\\nInclude /etc/ssh/sshd_config\\n' > /run/sshd-candidate.conf"
            " && mkdir -p /run/sshd && sshd -t -f /run/sshd-candidate.conf;"
            " rc=$?; rm -f /run/sshd-candidate.conf; exit $rc"
        ),
    )
    systemd.service(
        name="Reload sshd to apply the hardening",
        service="ssh.service",
        reloaded=True,
        _if=conf.did_change,
    )


def _configure_firewall():
    _refuse_lockout()
    files.directory(
        name=f"Create {FIREWALL_RULES_DIR} for the roles' rules",
        path=FIREWALL_RULES_DIR,
        mode="755",
    )
    conf = validated_file(
        name="Render /etc/nftables.conf",
        content=render("base/nftables.conf.j2", **firewall_context()),
        dest="/etc/nftables.conf",
        mode="755",
        validate="nft --check --file {path}",
    )
    running_service("nftables.service", "nftables", reload_when=[conf])


def _refuse_lockout():
    """Never install a firewall that would cut off the connection this deploy runs over."""
    client = host.get_fact(SshClientAddress)
    if client is None:
        host.noop("cannot see this deploy's SSH client address; not checking for lockout")
        return
    address = ipaddress.ip_address(client)
    if not any(address in network for network in admin_networks()):
        raise DeployError(
            f"{host.name}: base_admin_cidrs does not contain {client}, the address this deploy "
            "connects from; the firewall would lock it out. Add it (or its network) to "
            "base_admin_cidrs in group_data"
        )
