"""PostgreSQL and Redis on the testbed, in both topologies: deploy twice, verify, prove who can
connect and who cannot, keep data across restarts and a reboot, and never leak a secret.

Parametrized by topology (the session-scoped deployed testbed of conftest.py): every test runs
on `single`, then on `split`."""

from __future__ import annotations

import json
import os
import re
import sys

import pytest

from bundle import store_mark
from bundle.secret_store import SecretStore
from testbed import state

from .conftest import (
    answering,
    db_target,
    deploy_fake_provider,
    deploy_json,
    probe,
    psql_as,
    psql_as_litellm,
    pyinfra,
    run,
    run_verify_suite,
    secret,
    ssh,
)


def redis_cli(client, roles, args, password=None):
    cache = roles["cache"]
    target = "127.0.0.1" if cache == client else roles["address"][cache]
    auth = "read -r REDISCLI_AUTH; export REDISCLI_AUTH; " if password else ""
    user = "--user litellm " if password else ""
    return ssh(
        client,
        f"{auth}timeout 10 redis-cli -h {target} {user}{args}",
        input=(password or "") + "\n",
        timeout=60,
    )


def test_first_deploy_succeeds(first_deploy):
    result, _ = first_deploy
    assert "Ensure role litellm owns database litellm" in result.stdout + result.stderr


def test_second_deploy_changes_nothing(first_deploy):
    report, seconds = deploy_json()
    print(f"second deploy: {seconds:.1f}s")
    for op in report["results"]["operations"]:
        assert op["success"] == [] and op["error"] == [], op["name"]


def test_a_deploy_with_another_secret_store_is_refused_and_changes_nothing(first_deploy, tmp_path):
    """A control machine with a new store (here: its own secrets dir and identity, as after a
    fresh clone and `secrets init`) must not re-key the hosts."""
    hosts = [h.name for h in state.load().hosts]
    marks = {name: ssh(name, f"cat {store_mark.PATH}", check=True).stdout.strip() for name in hosts}
    assert len(set(marks.values())) == 1 and re.fullmatch(r"[0-9a-f]{32}", marks[hosts[0]])
    assert secret("litellm_salt_key") not in marks[hosts[0]]
    for name in hosts:
        ssh(name, "touch /run/before-foreign-store", check=True)
    env = os.environ | {
        "GATEWAY_SECRETS_DIR": str(tmp_path / "secrets"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    result = pyinfra("-y", "inventories/testbed.py", "deploy.py", timeout=600, env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    refused = re.search(r"^(\S.*): deployed with another secret store", output, re.M)
    assert refused, output[-3000:]
    assert sorted(refused.group(1).split(", ")) == sorted(hosts)
    assert "Starting operation" not in output
    for name in hosts:
        changed = ssh(name, "find /etc -newer /run/before-foreign-store", check=True).stdout
        assert changed == "", (name, changed)
        assert ssh(name, f"cat {store_mark.PATH}").stdout.strip() == marks[name]


def test_verification_suite_passes(first_deploy):
    run_verify_suite()


def test_litellm_connects_over_tls_and_creates_a_table(first_deploy, roles):
    result = psql_as_litellm(
        roles,
        sql="CREATE TABLE IF NOT EXISTS probe (x int); "
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "t"


def test_litellm_cannot_connect_to_saas(first_deploy, roles):
    result = psql_as_litellm(roles, database="saas")
    assert result.returncode != 0 and "no pg_hba.conf entry" in result.stderr


def test_a_wrong_password_is_refused(first_deploy, roles):
    result = psql_as_litellm(roles, password="not-the-password-at-all-1234")  # noqa: S106
    assert result.returncode != 0 and "password authentication failed" in result.stderr


def test_a_remote_connection_without_tls_is_refused(first_deploy, roles, topology):
    result = psql_as_litellm(roles, sslmode="disable")
    if topology == "single":  # loopback: the client is on the database host itself
        assert result.returncode == 0
    else:
        assert result.returncode != 0 and "no encryption" in result.stderr


@pytest.mark.parametrize(("role", "port"), [("db", 5432), ("cache", 6379)])
def test_non_peers_cannot_reach_the_data_services(first_deploy, roles, topology, role, port):
    address = roles["address"][roles[role]]
    # The control machine is never a peer; in split, neither is the edge host.
    sources = [None] + ([roles["non_peer"]] if topology == "split" else [])
    assert answering((source, address, port) for source in sources) == [], role


def test_peers_reach_postgres_through_the_firewall(first_deploy, roles):
    api = roles["api"]
    assert probe(api, db_target(roles, api), 5432).stdout.strip() == "open"


def test_redis_refuses_unauthenticated_commands(first_deploy, roles):
    result = redis_cli(roles["llm"], roles, "ping")
    assert "NOAUTH" in result.stdout + result.stderr


def test_redis_serves_litellm_with_its_password(first_deploy, roles):
    result = redis_cli(roles["llm"], roles, "ping", secret("redis_litellm_password"))
    assert result.stdout.strip() == "PONG"


def write_markers(roles, value):
    llm = roles["llm"]
    sql = f"CREATE TABLE IF NOT EXISTS marker (v text); INSERT INTO marker VALUES ('{value}')"
    written = psql_as_litellm(roles, sql=sql)
    assert written.returncode == 0, written.stderr
    # A key without TTL, like LiteLLM's spend buffers.
    pushed = redis_cli(llm, roles, f"rpush spend-buffer {value}", secret("redis_litellm_password"))
    assert pushed.returncode == 0 and pushed.stdout.strip().isdigit(), pushed.stdout


def read_markers(roles):
    llm = roles["llm"]
    rows = psql_as_litellm(roles, sql="SELECT v FROM marker ORDER BY v")
    buffered = redis_cli(llm, roles, "lrange spend-buffer 0 -1", secret("redis_litellm_password"))
    return rows.stdout.split(), buffered.stdout.split()


def test_restarting_postgres_and_redis_keeps_data(first_deploy, roles):
    write_markers(roles, "before-restart")
    ssh(roles["db"], "systemctl restart 'postgresql@*-main'", check=True)
    ssh(roles["cache"], "systemctl restart redis-server", check=True)
    rows, buffered = read_markers(roles)
    assert "before-restart" in rows and "before-restart" in buffered


def test_rebooting_the_db_host_keeps_data(first_deploy, roles):
    write_markers(roles, "before-reboot")
    result = pyinfra(
        "-y", "inventories/testbed.py", "--limit", roles["db"], "server.reboot", timeout=600
    )
    assert result.returncode == 0, result.stdout[-2000:]
    ssh(roles["db"], "systemctl is-system-running --wait", timeout=180)
    rows, buffered = read_markers(roles)
    assert "before-reboot" in rows and "before-reboot" in buffered


def test_a_rotated_password_is_applied_by_the_next_deploy(first_deploy, roles, deploy_logs):
    old = secret("postgres_saas_password")
    rotated = run(
        [sys.executable, "-m", "bundle.secrets", "rotate", "testbed", "postgres_saas_password"],
        check=True,
    )
    assert "Affects:" in rotated.stdout and old not in rotated.stdout
    new = secret("postgres_saas_password")
    result = pyinfra("-y", "-v", "inventories/testbed.py", "deploy.py", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:]
    deploy_logs["rotation deploy (-v)"] = result.stdout + result.stderr
    api = roles["api"]
    assert psql_as(api, "saas", "saas", new, db_target(roles, api)).returncode == 0
    assert psql_as(api, "saas", "saas", old, db_target(roles, api)).returncode != 0


def test_the_fake_provider_serves_llm_hosts_over_the_network(first_deploy, roles):
    edge = roles["edge"]
    first = deploy_fake_provider(edge)
    assert first.returncode == 0, first.stderr[-2000:]
    again = deploy_fake_provider(edge)
    assert all(op["success"] == [] for op in json.loads(again.stdout)["results"]["operations"])
    address = roles["address"][edge]
    reply = ssh(
        roles["llm"],
        f"curl -sf -X POST http://{address}:9999/v1/chat/completions "
        "-H 'content-type: application/json' "
        '-d \'{"messages": [{"role": "user", "content": "a b"}]}\'',
    )
    assert json.loads(reply.stdout)["usage"]["prompt_tokens"] == 2


def test_the_fake_provider_is_closed_to_non_peers(first_deploy, roles):
    address = roles["address"][roles["edge"]]
    assert probe(None, address, 9999).stdout.strip() != "open"


def test_no_secret_appears_in_output_journals_or_process_lists(first_deploy, deploy_logs):
    _, process_samples = first_deploy
    assert process_samples, "no process list was sampled"
    haystacks = dict(deploy_logs)
    for host in state.load().hosts:
        haystacks[f"{host.name} journal"] = ssh(
            host.name, "journalctl --no-pager -o cat", timeout=120
        ).stdout
        haystacks[f"{host.name} logs"] = ssh(
            host.name, "cat /var/log/postgresql/*.log /var/log/redis/*.log 2>/dev/null", timeout=60
        ).stdout
    values = SecretStore("testbed").values()
    assert len(values) >= 7
    leaks = [
        (name, where)
        for name, value in values.items()
        for where, text in haystacks.items()
        if value in text
    ]
    assert leaks == []
