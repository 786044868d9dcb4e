"""What the Redis deploy promises on `cache` hosts, one fact per test."""

import pytest

from .conftest import MAX_EXPOSURE, exposure, listening_addresses

pytestmark = pytest.mark.roles("cache")


def config(host):
    text = host.file("/etc/redis/redis.conf").content_string
    return dict(line.split(" ", 1) for line in text.splitlines() if line and line[0] != "#")


def test_redis_is_running_and_enabled(host):
    service = host.service("redis-server")
    assert service.is_running and service.is_enabled


def test_the_units_exposure_is_low(host):
    score, summary = exposure(host, "redis-server.service")
    assert score <= MAX_EXPOSURE, summary


def test_listens_only_on_loopback_or_the_private_address(host, inventory_host):
    bound = listening_addresses(host, 6379)
    assert bound and bound <= {"127.0.0.1", inventory_host.data["private_address"]}


@pytest.mark.dev_stack
def test_unauthenticated_commands_are_refused(host):
    bind = config(host)["bind"].split()[0]
    assert "NOAUTH" in host.run(f"redis-cli -h {bind} ping").stdout


@pytest.mark.dev_stack
def test_default_user_is_off(host):
    acl = host.file("/etc/redis/users.acl").content_string
    assert any(line.startswith("user default off") for line in acl.splitlines())


@pytest.mark.dev_stack
def test_protected_mode_is_on(host):
    assert config(host)["protected-mode"] == "yes"


@pytest.mark.dev_stack
def test_dangerous_commands_are_denied_to_litellm(host):
    acl = host.file("/etc/redis/users.acl").content_string
    litellm = next(line for line in acl.splitlines() if line.startswith("user litellm"))
    assert "-@dangerous" in litellm and " on " in litellm


@pytest.mark.dev_stack
def test_passwords_are_stored_only_as_hashes(host):
    acl = host.file("/etc/redis/users.acl").content_string
    litellm = next(line for line in acl.splitlines() if line.startswith("user litellm"))
    assert " #" in litellm and " >" not in litellm


@pytest.mark.dev_stack
def test_eviction_never_touches_keys_without_ttl(host):
    assert config(host)["maxmemory-policy"] == "volatile-lru"


@pytest.mark.dev_stack
def test_memory_is_capped(host):
    assert config(host)["maxmemory"].endswith("mb") and int(config(host)["maxmemory"][:-2]) > 0


@pytest.mark.dev_stack
def test_append_only_persistence_is_on(host):
    assert config(host)["appendonly"] == "yes"


@pytest.mark.dev_stack
def test_acl_file_is_private_to_redis(host):
    acl = host.file("/etc/redis/users.acl")
    assert (acl.user, acl.group, acl.mode) == ("redis", "redis", 0o600)


def test_unattended_upgrades_leave_redis_to_the_operator(host):
    # apt's own merged configuration, as unattended-upgrades reads it.
    held = host.check_output("apt-config dump Unattended-Upgrade::Package-Blacklist")
    assert '"^redis-server$"' in held and '"^redis-tools$"' in held
