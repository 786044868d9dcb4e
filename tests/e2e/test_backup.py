"""PostgreSQL backups on the single testbed, through `python -m bundle.backup` as an operator
runs it: the first deploy left a full backup; bad input (a target before the oldest backup or
in the future, a wrong or missing repository key, the host unreachable) is one line, exit 1,
and changes nothing (the postmaster and LiteLLM keep their PIDs); then the drill: a team
spends, a backup, more spend, note T and the team's spend at T (psql), more spend, restore to
T: the spend is the one at T again and the team's key still completes; a deploy afterwards
changes nothing.

Single topology only, and late in it (last_in_topology): a restore stops LiteLLM, the SaaS API
and PostgreSQL, which would disturb any test running after it."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime

import pytest

from bundle.secret_store import SecretStore
from testbed import state

from .conftest import ProcessWatcher, deploy_json, run, secret, ssh
from .test_litellm import catalog, chat, cost_of, ok, team_key, team_spend  # noqa: F401

pytestmark = [
    pytest.mark.parametrize("topology", ["single"], indirect=True),
    pytest.mark.last_in_topology,
]
INVENTORY = "inventories/testbed.py"


def cli(*args, env=None, timeout=900):
    result = run([sys.executable, "-m", "bundle.backup", *args], env=env, timeout=timeout)
    output = result.stdout + result.stderr
    # The repository key never reaches the operator's terminal.
    assert secret("pgbackrest_cipher_pass") not in output
    print(f"$ python -m bundle.backup {' '.join(args)}  ({result.seconds:.1f} s)\n{output}")
    return result


def postmaster_pid(roles) -> str:
    return ssh(roles["db"], "head -1 /var/lib/postgresql/15/main/postmaster.pid", check=True).stdout


def litellm_pid(roles) -> str:
    return ssh(roles["llm"], "systemctl show -P MainPID litellm@4000", check=True).stdout


@pytest.fixture(scope="module")
def unchanged(first_deploy, roles):
    """Asserts that a refused command left PostgreSQL and LiteLLM running as they were."""

    def check(result):
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stdout == "", result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("backup: error: "), result.stderr
        assert (postmaster_pid(roles), litellm_pid(roles)) == before
        return lines[0]

    before = (postmaster_pid(roles), litellm_pid(roles))
    return check


def store_copy(tmp_path, change) -> dict:
    """The environment for a CLI run with a copy of the testbed's secret store, `change`d (the
    real store and the hosts stay as they are)."""
    document = SecretStore("testbed").read()
    change(document["secrets"])
    env = os.environ | {"GATEWAY_SECRETS_DIR": str(tmp_path)}
    os.environ["GATEWAY_SECRETS_DIR"] = str(tmp_path)
    try:
        copy = SecretStore("testbed")
        copy._save(document, copy.identity())
    finally:
        del os.environ["GATEWAY_SECRETS_DIR"]
    return env


def test_the_first_deploy_left_a_backup_to_restore_from(first_deploy):
    result = cli("status", "--inventory", INVENTORY)
    assert result.returncode == 0
    assert "backups: 1" in result.stdout and " full " in result.stdout
    assert "earliest restorable time: after " in result.stdout
    assert "last archive push: 0000000" in result.stdout


def test_the_deploy_warned_that_the_repository_does_not_survive_the_host(first_deploy):
    output = first_deploy[0].stdout + first_deploy[0].stderr
    assert output.count("Backups: the repository is on the db host itself") == 1


def test_the_repository_key_is_in_no_deploy_output_or_process_list(first_deploy):
    result, process_lists = first_deploy
    key = secret("pgbackrest_cipher_pass")
    assert key not in result.stdout + result.stderr  # the verbose (-v) first deploy
    assert not [sample for sample in process_lists if key in sample]


def test_a_target_before_the_oldest_backup_changes_nothing(unchanged):
    line = unchanged(
        cli("restore", "--to", "2000-01-01T00:00:00Z", "--yes", "--inventory", INVENTORY)
    )
    assert "before the oldest backup's end" in line


def test_a_target_in_the_future_changes_nothing(unchanged):
    line = unchanged(
        cli("restore", "--to", "2999-01-01T00:00:00Z", "--yes", "--inventory", INVENTORY)
    )
    assert "in the future" in line


def test_a_wrong_repository_key_changes_nothing(unchanged, tmp_path):
    def wrong(entries):
        entries["pgbackrest_cipher_pass"]["value"] = "Wr0ngKeyWr0ngKeyWr0ngKeyWr0ngKeyWr0ngKey"

    env = store_copy(tmp_path, wrong)
    line = unchanged(cli("restore", "--yes", "--inventory", INVENTORY, env=env))
    assert "is not the key this repository was encrypted with" in line


def test_a_missing_repository_key_changes_nothing(unchanged, tmp_path):
    env = store_copy(tmp_path, lambda entries: entries.pop("pgbackrest_cipher_pass"))
    line = unchanged(cli("restore", "--yes", "--inventory", INVENTORY, env=env))
    assert "has no pgbackrest_cipher_pass" in line


def unreachable_inventory(tmp_path, group=None) -> str:
    """The testbed's inventory with the SSH address of the hosts (of `group` only, if given)
    moved to one nobody answers on; the file is named like the environment so its group_data
    applies."""
    network = state.load().subnet.rsplit(".", 1)[0]
    inventory = tmp_path / "testbed.py"
    inventory.write_text(
        "from testbed import state\nfrom testbed.inventory import groups_for\n"
        "groups = groups_for(state.load())\n"
        f"lost = {{n for n, _ in groups[{group or 'testbed_hosts'!r}]}}\n"
        f"moved = {{'ssh_hostname': '{network}.250'}}\n"
        "globals().update({g: [(n, d | moved if n in lost else d) for n, d in m] "
        "for g, m in groups.items()})\n"
    )
    return str(inventory)


def test_an_unreachable_host_changes_nothing(unchanged, tmp_path):
    line = unchanged(cli("restore", "--yes", "--inventory", unreachable_inventory(tmp_path)))
    assert "unreachable over SSH" in line


def completions(litellm, key, model, count):
    return [ok(chat(litellm, key, model, "backup drill words"))["usage"] for _ in range(count)]


def test_a_restore_to_t_brings_back_the_spend_at_t_and_the_key_still_works(
    litellm,
    admin,
    catalog,  # noqa: F811 - the fixture imported above
    roles,
):
    started = time.monotonic()
    team, key = team_key(admin, catalog)
    model = catalog["model"]
    usages, deadline = [], time.monotonic() + 60  # workers load new models within 30 s
    while not usages:
        answer = chat(litellm, key, model)
        if answer.status_code == 200:
            usages.append(answer.json()["usage"])
        else:
            assert time.monotonic() < deadline, answer.text[:300]
            time.sleep(2)
    usages += completions(litellm, key, model, 3)
    spend = team_spend(roles, team, settled_with=cost_of(usages), within=30)
    assert spend == pytest.approx(cost_of(usages), rel=1e-9)

    backed_up = cli("backup", "--type", "full", "--inventory", INVENTORY)
    assert backed_up.returncode == 0 and " done in " in backed_up.stdout

    usages += completions(litellm, key, model, 3)
    at_t = team_spend(roles, team, settled_with=spend + cost_of(usages[-3:]), within=30)
    time.sleep(1.5)
    target = datetime.now(UTC)
    time.sleep(1.5)
    usages += completions(litellm, key, model, 3)
    after_t = team_spend(roles, team, settled_with=at_t + cost_of(usages[-3:]), within=30)
    assert after_t > at_t

    db = roles["db"]
    with ProcessWatcher([db]) as watcher:
        restored = cli(
            "restore", "--to", target.isoformat(), "--yes", "--inventory", INVENTORY, timeout=1200
        )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert not [s for s in watcher.samples if secret("pgbackrest_cipher_pass") in s]
    for step in ("stopping litellm@4000.service", "PostgreSQL accepts writes", "backup "):
        assert step in restored.stdout

    assert team_spend(roles, team) == pytest.approx(at_t, rel=1e-9)
    assert chat(litellm, key, model).status_code == 200
    timeline = ssh(
        db, "runuser -u postgres -- psql -XAtq -c 'SELECT timeline_id FROM pg_control_checkpoint()'"
    )
    print(f"restore drill: {time.monotonic() - started:.0f} s; timeline now {timeline.stdout}")
    assert int(timeline.stdout.split()[-1]) >= 2


def test_a_deploy_after_the_restore_changes_nothing(first_deploy):
    # The restored cluster is the repository's (same system id, a new timeline): the stanza
    # and its backups are found, nothing is created or upgraded.
    report, seconds = deploy_json()
    print(f"deploy after the restore: {seconds:.1f}s")
    for op in report["results"]["operations"]:
        assert op["success"] == [] and op["error"] == [], op["name"]
