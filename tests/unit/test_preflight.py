import pytest

from bundle.preflight import PreflightError, check_admin_cidrs, check_edge


@pytest.mark.parametrize("value", [None, [], ()])
def test_missing_admin_cidrs_names_key_and_remedy(value):
    with pytest.raises(PreflightError) as error:
        check_admin_cidrs("db1", value)
    message = str(error.value)
    assert message.startswith("db1: base_admin_cidrs is missing or empty")
    assert "group_data/" in message and "\n" not in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.0/8", "must be a list of networks"),
        (["10.0.0.0/33"], "'10.0.0.0/33' is not an IP network"),
        (["not-a-network"], "is not an IP network"),
        (["CHANGE_ME"], "placeholder 'CHANGE_ME'"),
        (["0.0.0.0/0"], "admits the whole internet"),
        (["::/0"], "admits the whole internet"),
    ],
)
def test_malformed_admin_cidrs_are_refused(value, expected):
    with pytest.raises(PreflightError, match=expected):
        check_admin_cidrs("db1", value)


def test_good_admin_cidrs_pass():
    check_admin_cidrs("db1", ["198.51.100.0/24", "2001:db8::/48", "203.0.113.7/32"])


def test_environment_is_required():
    from bundle.preflight import check_environment

    with pytest.raises(PreflightError, match="environment is missing.*group_data/<env>.py"):
        check_environment("db1", None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "private_address is missing"),
        ("db1.internal", "is not an IP address"),
        ("0.0.0.0", "cannot be a host's address"),  # noqa: S104
    ],
)
def test_service_hosts_need_a_private_address(value, expected):
    from bundle.preflight import check_private_address

    with pytest.raises(PreflightError, match=expected):
        check_private_address("db1", value)


EDGE = {
    "edge_tls_mode": "internal",
    "edge_gateway_host": "gateway.testbed.internal",
    "edge_api_host": "api.testbed.internal",
    "edge_admin_host": "admin.testbed.internal",
    "edge_admin_cidrs": ["10.213.0.1/32"],
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"edge_tls_mode": "letsencrypt"}, "edge_tls_mode 'letsencrypt' is not one of"),
        ({"edge_gateway_host": None}, "edge_gateway_host '' is not a DNS name"),
        ({"edge_api_host": "api.example.com"}, "edge_api_host 'api.example.com' is not a DNS"),
        ({"edge_admin_host": ""}, "edge_admin_host '' is not a DNS name"),
        ({"edge_admin_host": "admin"}, "edge_admin_host 'admin' is not a DNS name"),
        ({"edge_admin_host": "adm_in.testbed.internal"}, "edge_admin_host 'adm_in.testbed."),
        ({"edge_admin_host": "admin.example.com"}, "edge_admin_host 'admin.example.com' is not"),
        (
            {"edge_api_host": "gateway.testbed.internal"},
            "edge_gateway_host and edge_api_host are both 'gateway.testbed.internal'; the "
            "gateway, the API and the admin panel need a name each",
        ),
        (
            {"edge_admin_host": "API.testbed.internal"},
            "edge_api_host and edge_admin_host are both 'api.testbed.internal'",
        ),
        (
            {"edge_admin_host": "gateway.testbed.internal"},
            "edge_gateway_host and edge_admin_host are both 'gateway.testbed.internal'",
        ),
        ({"edge_admin_cidrs": ["0.0.0.0/0"]}, "admits the whole internet to reach the admin"),
        ({"edge_admin_cidrs": None}, "edge_admin_cidrs is missing or empty"),
        ({"edge_tls_mode": "acme"}, "edge_acme_email '' is not a contact address"),
        ({"edge_tls_mode": "files"}, "edge_tls_certificate (None) is not a readable file"),
    ],
)
def test_bad_edge_settings_are_refused_naming_the_key(change, expected):
    with pytest.raises(PreflightError) as refused:
        check_edge("edge1", EDGE | change)
    assert expected in str(refused.value)
    assert str(refused.value).startswith("edge1: ")


def test_good_edge_settings_pass(tmp_path):
    check_edge("edge1", EDGE)
    check_edge("edge1", EDGE | {"edge_tls_mode": "acme", "edge_acme_email": "ops@corp.net"})
    cert, key = tmp_path / "edge.crt", tmp_path / "edge.key"
    cert.write_text("x")
    key.write_text("y")
    files = {"edge_tls_mode": "files", "edge_tls_certificate": cert, "edge_tls_key": key}
    check_edge("edge1", EDGE | files)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"saas_api_admin_port": "3000"}, "saas_api_admin_port = '3000'; set a whole number"),
        ({"saas_api_admin_port": 80}, "saas_api_admin_port = 80; set a whole number from 1024"),
        ({"saas_api_admin_workers": 0}, "saas_api_admin_workers = 0; set a whole number from 1"),
        ({"saas_api_admin_port": 8003}, "saas_api_port and saas_api_admin_port are both 8003"),
        (
            {"saas_api_port": 3000},
            "saas_api_port and saas_api_admin_port are both 3000; the SaaS API and the admin "
            "panel need a port each",
        ),
    ],
)
def test_bad_saas_api_ports_are_refused_naming_the_key(change, expected):
    from bundle.preflight import check_saas_api

    with pytest.raises(PreflightError) as refused:
        check_saas_api("api1", change)
    assert str(refused.value).startswith(f"api1: {expected}")


def test_the_default_saas_api_ports_pass():
    from bundle.preflight import check_saas_api

    check_saas_api("api1", {})
    check_saas_api("api1", {"saas_api_admin_port": 8443, "saas_api_admin_workers": 4})
