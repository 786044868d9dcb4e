"""Checks that run on the control machine before any host is changed.

A missing, placeholder or malformed value stops the run with one line that names the key, where
to set it and what to put there."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from pyinfra.api.exceptions import PyinfraError

PLACEHOLDERS = ("changeme", "change-me", "change_me", "todo", "xxx", "example")


class PreflightError(PyinfraError):
    """Bad inventory data: raised before any operation is prepared, so nothing is changed."""


SERVICE_GROUPS = ("db", "cache", "llm", "api", "edge")
EDGE_TLS_MODES = ("acme", "internal", "files")
# The edge's sites, each its own DNS name (the example's first label).
SITE_NAMES = {"edge_gateway_host": "gateway", "edge_api_host": "api", "edge_admin_host": "admin"}
HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$",
    re.IGNORECASE,
)


def check_host_data(name: str, data, groups) -> None:
    check_admin_cidrs(name, data.get("base_admin_cidrs"))
    check_environment(name, data.get("environment"))
    if any(group in SERVICE_GROUPS for group in groups):
        check_private_address(name, data.get("private_address"))
    if "llm" in groups:
        check_litellm_instances(name, data)
    if "api" in groups:
        check_saas_api(name, data)
    if "edge" in groups:
        check_edge(name, data)


def check_litellm_instances(name: str, data) -> None:
    """LiteLLM's instances per host and their first port (defaults: bundle/host_roles.py)."""
    for key, low, high in (("litellm_instances", 1, 16), ("litellm_port", 1024, 65535 - 16)):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise PreflightError(
                f"{name}: {key} = {value!r}; set a whole number from {low} to {high} in "
                "group_data/<environment>.py"
            )


def check_saas_api(name: str, data) -> None:
    """The SaaS API's and the admin panel's ports and the panel's workers (defaults:
    tasks/saas_api.py): two ports of their own."""
    for key, low, high in (
        ("saas_api_port", 1024, 65535),
        ("saas_api_admin_port", 1024, 65535),
        ("saas_api_admin_workers", 1, 16),
    ):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise PreflightError(
                f"{name}: {key} = {value!r}; set a whole number from {low} to {high} in "
                "group_data/<environment>.py"
            )
    # The defaults of tasks/saas_api.py.
    api, admin = data.get("saas_api_port") or 8003, data.get("saas_api_admin_port") or 3000
    if api == admin:
        raise PreflightError(
            f"{name}: saas_api_port and saas_api_admin_port are both {api}; the SaaS API and the "
            "admin panel need a port each: set saas_api_admin_port in group_data/<environment>.py"
        )


def check_edge(name: str, data) -> None:
    """The edge's names, admin networks and TLS mode (defaults: tasks/edge.py)."""
    where = "in group_data/<environment>.py"
    mode = data.get("edge_tls_mode") or "acme"
    if mode not in EDGE_TLS_MODES:
        raise PreflightError(
            f"{name}: edge_tls_mode {mode!r} is not one of {', '.join(EDGE_TLS_MODES)}; set it "
            f"{where}"
        )
    names = {}
    for key, example in SITE_NAMES.items():
        value = str(data.get(key) or "")
        if not HOST_NAME.match(value) or any(p in value.lower() for p in PLACEHOLDERS):
            raise PreflightError(
                f"{name}: {key} {value!r} is not a DNS name clients can use; set {key} = "
                f'"{example}.<your domain>" {where} (its DNS record must point at this host)'
            )
        for other, taken in names.items():
            if taken == value.lower():
                raise PreflightError(
                    f"{name}: {other} and {key} are both {taken!r}; the gateway, the API and "
                    f"the admin panel need a name each: set {key} {where}"
                )
        names[key] = value.lower()
    check_networks(
        name, "edge_admin_cidrs", data.get("edge_admin_cidrs"), purpose="reach the admin surfaces"
    )
    if mode == "acme":
        email = str(data.get("edge_acme_email") or "")
        if "@" not in email or any(p in email.lower() for p in PLACEHOLDERS):
            raise PreflightError(
                f"{name}: edge_acme_email {email!r} is not a contact address; ACME needs one: "
                f'set edge_acme_email {where} (or edge_tls_mode = "files" with your own '
                "certificate)"
            )
    if mode == "files":
        for key in ("edge_tls_certificate", "edge_tls_key"):
            path = data.get(key)
            if not path or not Path(str(path)).expanduser().is_file():
                raise PreflightError(
                    f"{name}: edge_tls_mode is files but {key} ({path!r}) is not a readable "
                    f"file on this machine; set {key} {where} to its path"
                )


def check_environment(name: str, value) -> None:
    if not value or not isinstance(value, str):
        raise PreflightError(
            f'{name}: environment is missing; set environment = "<env>" in '
            "group_data/<env>.py (it names the secret store secrets/<env>.age)"
        )


def check_private_address(name: str, value) -> None:
    where = "set private_address for this host in its inventory file"
    if not value:
        raise PreflightError(
            f"{name}: private_address is missing; {where} (the address its peers reach it on)"
        )
    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        raise PreflightError(
            f"{name}: private_address {value!r} is not an IP address; {where}"
        ) from None
    if address.is_unspecified or address.is_multicast:
        raise PreflightError(
            f"{name}: private_address {value!r} cannot be a host's address; {where}"
        )


def check_admin_cidrs(name: str, value) -> None:
    check_networks(name, "base_admin_cidrs", value, purpose="SSH in")


def check_networks(name: str, key: str, value, *, purpose: str) -> None:
    """`key` must be a non-empty list of operator networks (never the whole internet)."""
    where = "set it in group_data/<environment>.py (or group_data/all.py)"
    if not value:
        raise PreflightError(
            f"{name}: {key} is missing or empty; {where} to the networks allowed to "
            f'{purpose}, e.g. ["198.51.100.0/24"]'
        )
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise PreflightError(
            f"{name}: {key} must be a list of networks, got {value!r}; {where}, "
            'e.g. ["198.51.100.0/24"]'
        )
    for cidr in value:
        text = str(cidr)
        if any(p in text.lower() for p in PLACEHOLDERS):
            raise PreflightError(f"{name}: {key} holds the placeholder {text!r}; {where}")
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise PreflightError(
                f"{name}: {key} entry {text!r} is not an IP network; {where} "
                'with entries like "198.51.100.0/24"'
            ) from None
        if network.prefixlen == 0:
            raise PreflightError(
                f"{name}: {key} entry {text!r} admits the whole internet to {purpose}; "
                "list only the operators' networks"
            )
