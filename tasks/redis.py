"""Redis for the `cache` group: LiteLLM's cache, rate-limit counters and spend buffers, behind
an ACL user, reachable only from the `llm` peers, persisted across restarts."""

from __future__ import annotations

import hashlib

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import apt

from bundle import firewall, peers, settings, sizing
from bundle.data import settings_reader
from bundle.deploy_secrets import secrets_for
from bundle.facts import MemoryMb
from bundle.held_updates import held_server_packages
from bundle.operations import applied_sysctls, rendered_file, running_service

DEFAULTS = settings.defaults("redis_maxmemory_mb")

OTHER_ROLES = ("db", "llm", "api", "edge")


setting = settings_reader(DEFAULTS)


@deploy("Redis")
def deploy_redis():
    own_address = host.data.get("private_address")
    clients = peers.client_addresses("llm")
    remote_peers, local_client = sorted(clients - {own_address}), own_address in clients
    bind = peers.listen_addresses(own_address, remote_peers, local_client)
    memory = host.get_fact(MemoryMb)
    shares_host = any(role in host.groups for role in OTHER_ROLES)
    maxmemory = setting("redis_maxmemory_mb") or sizing.redis_maxmemory_mb(memory, shares_host)

    apt.packages(name="Install Redis", packages=["redis-server"], no_recommends=True)
    held_server_packages(
        task="tasks/redis.py",
        label="Redis",
        packages=["redis-server", "redis-tools"],
        # Type=notify: active means it accepts connections again.
        ready_command="systemctl is-active --quiet redis-server",
        conf_name="redis",
    )
    applied_sysctls(
        "redis/90-redis.conf.j2",
        "/etc/sysctl.d/90-redis.conf",
        label="Redis's kernel settings",
        kernel_global=True,
    )
    password = secrets_for(host.data.get("environment"))["redis_litellm_password"]
    acl = rendered_file(
        "redis/users.acl.j2",
        "/etc/redis/users.acl",
        # Redis stores and compares only this hash; the password never reaches this host.
        litellm_password_sha256=hashlib.sha256(password.encode()).hexdigest(),
        mode="600",
        user="redis",
        group="redis",
    )
    conf = rendered_file(
        "redis/redis.conf.j2",
        "/etc/redis/redis.conf",
        mode="640",
        group="redis",
        bind=bind,
        memory_mb=memory,
        shares_host=shares_host,
        maxmemory_mb=maxmemory,
        supervised="systemd",
        pidfile="/run/redis/redis-server.pid",
        aclfile="/etc/redis/users.acl",
    )
    # A restart, not a reload: bind addresses and the ACL file are read at start. Nothing is lost:
    # Redis writes its append-only file on shutdown and replays it on start.
    running_service("redis-server.service", "Redis", restart_when=[acl, conf])
    firewall.allow_port("redis", 6379, remote_peers)
