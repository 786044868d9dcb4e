"""Where the testbed keeps its state (hosts, keys) and its cache (root filesystem images)."""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR = Path(os.environ.get("TESTBED_STATE_DIR", "/var/lib/gateway-testbed"))
CACHE_DIR = Path(os.environ.get("TESTBED_CACHE_DIR", "/var/cache/gateway-testbed"))
SUBNET = os.environ.get("TESTBED_SUBNET", "10.213.0.0/24")

# Kernel object names (bridge, netns, veth) must stay within 15 characters. A second testbed
# beside the first needs its own TESTBED_PREFIX, TESTBED_SUBNET and TESTBED_STATE_DIR.
PREFIX = os.environ.get("TESTBED_PREFIX", "gwtb")
BRIDGE = f"{PREFIX}0"
NFT_TABLE = "gateway_testbed" if PREFIX == "gwtb" else f"gateway_testbed_{PREFIX}"

STATE_FILE = STATE_DIR / "testbed.json"
SSH_DIR = STATE_DIR / "ssh"
SSH_KEY = SSH_DIR / "id_ed25519"
SSH_CONFIG = SSH_DIR / "config"
KNOWN_HOSTS = SSH_DIR / "known_hosts"
HOSTS_DIR = STATE_DIR / "hosts"
IMAGES_DIR = CACHE_DIR / "images"


def host_dir(name: str) -> Path:
    return HOSTS_DIR / name


def netns_name(name: str) -> str:
    return f"{PREFIX}-{name}"


def veth_name(name: str) -> str:
    return f"{PREFIX}-{name}"[:15]
