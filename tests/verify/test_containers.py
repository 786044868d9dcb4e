"""What the dev target promises of every container (`pytest tests/verify --dev-stack`), one fact
per test; the hosts' own equivalents are the systemd sandboxing checks of each role."""

import pytest

pytestmark = pytest.mark.dev_stack_only


def status_field(host, name: str) -> str:
    line = next(
        line
        for line in host.file("/proc/1/status").content_string.splitlines()
        if line.startswith(f"{name}:")
    )
    return line.split(":", 1)[1].strip()


def test_every_process_runs_as_the_services_own_user(host, inventory_host):
    users = set(host.check_output("ps -eo user= | sort -u").split())
    assert users == {inventory_host.data["user"]}


def test_no_capabilities_are_left(host):
    assert int(status_field(host, "CapEff"), 16) == 0
    assert int(status_field(host, "CapBnd"), 16) == 0


def test_no_new_privileges(host):
    assert status_field(host, "NoNewPrivs") == "1"


def test_the_root_filesystem_is_read_only(host):
    probe = host.run("touch /.verify-probe")
    assert probe.rc != 0 and "Read-only file system" in probe.stderr


def test_the_service_listens_on_its_port(host, inventory_host):
    listening = host.socket.get_listening_sockets()
    assert any(s.endswith(f":{inventory_host.data['port']}") for s in listening), listening
