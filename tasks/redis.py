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
from bundle.operations import applied_sysctls, rendered_file, running_service, validated_file
from bundle.render import render

DEFAULTS = settings.defaults("redis_maxmemory_mb")

OTHER_ROLES = ("db", "llm", "api", "edge")
CONF = "/etc/redis/redis.conf"
# The candidate loaded by a throwaway redis-server as the redis user: no TCP port, its own
# socket, directory and no persistence (it must not touch the live data). Still running after
# 2 s (timeout's 124) means Redis accepted the file; otherwise its own message is shown.
CONF_CHECK = (
    "d=$(mktemp -d) && chown redis:redis $d && "
    "runuser -u redis -- timeout 2 redis-server {path} --port 0 --unixsocket $d/check.sock "
    "--dir $d --appendonly no --save '' --pidfile $d/check.pid --supervised no "
    "--daemonize no > $d/out 2>&1; rc=$?; [ $rc -eq 124 ] || cat $d/out >&2; rm -rf $d; "
    "[ $rc -eq 124 ]"
)


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
    text = render(
        "redis/redis.conf.j2",
        bind=bind,
        memory_mb=memory,
        shares_host=shares_host,
        maxmemory_mb=maxmemory,
        supervised="systemd",
        pidfile="/run/redis/redis-server.pid",
        aclfile="/etc/redis/users.acl",
    )
    configured_and_restarted(text, acl)
    firewall.allow_port("redis", 6379, remote_peers)


def configured_and_restarted(text: str, *changes) -> None:
    """redis.conf as `text`, live only once Redis itself accepted it; restarted when it or one
    of `changes` changed, and put back (restarted on the previous file) if Redis does not come
    back on it. A restart, not a reload: bind addresses and the ACL file are read at start.
    Nothing is lost: Redis writes its append-only file on shutdown and replays it on start."""
    conf = validated_file(
        name=f"Render {CONF} (checked by Redis first)",
        content=text,
        dest=CONF,
        validate=CONF_CHECK,
        mode="640",
        group="redis",
        keep_previous=True,
    )
    running_service("redis-server.service", "Redis", restart_when=[*changes, conf], restore=[CONF])
