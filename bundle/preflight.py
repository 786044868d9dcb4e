"""Checks that run on the control machine before any host is changed.

A missing, placeholder or malformed value stops the run with one line that names the key, where
to set it and what to put there."""

from __future__ import annotations

import ipaddress

from pyinfra.api.exceptions import PyinfraError

PLACEHOLDERS = ("changeme", "change-me", "change_me", "todo", "xxx", "example")


class PreflightError(PyinfraError):
    """Bad inventory data: raised before any operation is prepared, so nothing is changed."""


SERVICE_GROUPS = ("db", "cache", "llm", "api", "edge")


def check_host_data(name: str, data, groups) -> None:
    check_admin_cidrs(name, data.get("base_admin_cidrs"))
    check_environment(name, data.get("environment"))
    if any(group in SERVICE_GROUPS for group in groups):
        check_private_address(name, data.get("private_address"))


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
    where = "set it in group_data/<environment>.py (or group_data/all.py)"
    if not value:
        raise PreflightError(
            f"{name}: base_admin_cidrs is missing or empty; {where} to the networks allowed to "
            'SSH in, e.g. ["198.51.100.0/24"]'
        )
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise PreflightError(
            f"{name}: base_admin_cidrs must be a list of networks, got {value!r}; {where}, "
            'e.g. ["198.51.100.0/24"]'
        )
    for cidr in value:
        text = str(cidr)
        if any(p in text.lower() for p in PLACEHOLDERS):
            raise PreflightError(
                f"{name}: base_admin_cidrs holds the placeholder {text!r}; {where}"
            )
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise PreflightError(
                f"{name}: base_admin_cidrs entry {text!r} is not an IP network; {where} "
                'with entries like "198.51.100.0/24"'
            ) from None
        if network.prefixlen == 0:
            raise PreflightError(
                f"{name}: base_admin_cidrs entry {text!r} admits the whole internet to SSH; "
                "list only the operators' networks"
            )
