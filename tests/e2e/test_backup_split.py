"""Backups on the split testbed, where the repository is on the backup host, and the restore
drill of issue 16: the db host is destroyed and comes back from the backup host.

Seeded teams spend through the edge; a backup; more spend; T is noted with every team's spend
at T; more spend; once the archive holds T, the db host is destroyed (`testbed purge db1`: no
shutdown, disk deleted) and booted anew from the image. From a fresh clone of the repository
that holds nothing but the custody copy of the secret store (its own HOME, so not even the
identity file is shared), the deploy sets the new db host up and says to restore; the restore
to T brings back both databases: every team key completes through the edge (the provider
credential decrypts), every team's spend is its value at T, provisioning's drift check is clean
and a deploy afterwards changes nothing. RPO and RTO are measured and printed.

Split only, and last in it (last_in_topology): the drill replaces the db host."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime

import pytest
import yaml

from bundle import artifacts
from tests.fakes.seed_spec import example_for_fake_provider

from .conftest import BIN, REPO, ProcessWatcher, run, run_testbed, secret, ssh
from .test_backup import store_copy, unreachable_inventory
from .test_litellm import team_spend
from .through_the_edge import edge_chats

pytestmark = [
    pytest.mark.parametrize("topology", ["split"], indirect=True),
    pytest.mark.last_in_topology,
]
INVENTORY = "inventories/testbed.py"
TEAMS = 3


def backup_cli(*args, cwd=REPO, env=None, timeout=1200):
    result = run(
        [sys.executable, "-m", "bundle.backup", *args, "--inventory", INVENTORY],
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    output = result.stdout + result.stderr
    assert secret("pgbackrest_cipher_pass") not in output
    print(f"$ python -m bundle.backup {' '.join(args)}  ({result.seconds:.1f} s)\n{output}")
    return result


def test_the_repository_is_on_the_backup_host_with_a_first_backup(first_deploy, roles):
    result = backup_cli("status")
    assert result.returncode == 0, result.stderr
    assert f"repository {roles['backup']}:/var/lib/pgbackrest (on the backup host)" in result.stdout
    assert "backups: 1" in result.stdout and "last archive push: 0000000" in result.stdout
    # Nothing of the repository is on the db host; the backup host holds it, encrypted.
    listed = ssh(roles["db"], "ls -A /var/lib/pgbackrest")
    assert listed.stdout.strip() == "", listed.stdout
    # Encrypted: pgBackRest's files start with OpenSSL's salt header, not "[backrest]".
    header = ssh(roles["backup"], "head -c 8 /var/lib/pgbackrest/backup/main/backup.info")
    assert header.stdout == "Salted__", header.stdout
    output = first_deploy[0].stdout + first_deploy[0].stderr
    assert "does not survive the loss of that host" not in output


def test_the_peers_admit_each_other_only_to_run_pgbackrest(first_deploy, roles):
    # The backup host's key, from the backup host, may run pgBackRest on the db host and
    # nothing else; from any other host (here the edge) the same key is not admitted at all.
    db_address = roles["address"][roles["db"]]
    as_peer = ssh(
        roles["backup"],
        f"runuser -u postgres -- ssh {db_address} 'sh -c id'; echo exit=$?",
        timeout=60,
    )
    assert "uid=" not in as_peer.stdout, as_peer.stdout
    copied = ssh(roles["edge"], "mkdir -p /tmp/k && chmod 700 /tmp/k", timeout=30)
    assert copied.returncode == 0
    key = secret("pgbackrest_backup_ssh_key")
    ssh(roles["edge"], "cat > /tmp/k/id && chmod 600 /tmp/k/id", input=key, timeout=30)
    stranger = ssh(
        roles["edge"],
        f"ssh -i /tmp/k/id -o BatchMode=yes -o StrictHostKeyChecking=no "
        f"-o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 postgres@{db_address} "
        "pgbackrest version; echo exit=$?; rm -rf /tmp/k",
        timeout=60,
    )
    assert "pgBackRest 2" not in stranger.stdout and "exit=255" in stranger.stdout, stranger.stdout


def test_an_unreachable_backup_host_is_one_line_and_changes_nothing(first_deploy, roles, tmp_path):
    before = ssh(roles["db"], "head -1 /var/lib/postgresql/15/main/postmaster.pid").stdout
    inventory = unreachable_inventory(tmp_path, "backup")
    result = run(
        [sys.executable, "-m", "bundle.backup", "restore", "--yes", "--inventory", inventory]
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and result.stdout == "", result.stdout + result.stderr
    assert len(lines) == 1 and f"{roles['backup']}: unreachable over SSH" in lines[0], lines
    assert ssh(roles["db"], "head -1 /var/lib/postgresql/15/main/postmaster.pid").stdout == before


def test_a_wrong_repository_key_is_one_line_and_changes_nothing(first_deploy, roles, tmp_path):
    def wrong(entries):
        entries["pgbackrest_cipher_pass"]["value"] = "Wr0ngKeyWr0ngKeyWr0ngKeyWr0ngKeyWr0ngKey"

    before = ssh(roles["db"], "head -1 /var/lib/postgresql/15/main/postmaster.pid").stdout
    result = backup_cli("restore", "--yes", env=store_copy(tmp_path, wrong))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and result.stdout == "", result.stdout + result.stderr
    assert len(lines) == 1, lines
    assert f"{roles['backup']}:/var/lib/pgbackrest: the repository key" in lines[0], lines
    assert "is not the key this repository was encrypted with" in lines[0]
    assert ssh(roles["db"], "head -1 /var/lib/postgresql/15/main/postmaster.pid").stdout == before


@pytest.fixture(scope="module")
def seeded(first_deploy, fake_provider_url, tmp_path_factory):
    """TEAMS teams seeded through provisioning (SaaS rows and LiteLLM teams and keys): their
    keys, and their model as the spec declares it."""
    spec = example_for_fake_provider(fake_provider_url, key_env="SEED_PROVIDER_KEY")
    template = spec["teams"][0]
    spec["teams"] = [
        template | {"id": f"{template['id']}-drill{n}", "name": f"Drill team {n}"}
        for n in range(TEAMS)
    ]
    folder = tmp_path_factory.mktemp("drill-seed")
    spec_file, keys_file = folder / "seed.yaml", folder / "keys.json"
    spec_file.write_text(yaml.safe_dump(spec))
    applied = run(
        [
            sys.executable,
            "-m",
            "provisioning",
            "apply",
            "--spec",
            spec_file,
            "--yes",
            "--keys-file",
            keys_file,
            "--inventory",
            INVENTORY,
        ],
        env=os.environ | {"SEED_PROVIDER_KEY": "sk-fake-provider-key"},
        timeout=900,
    )
    assert applied.returncode == 0, applied.stdout[-2000:] + applied.stderr[-2000:]
    keys = json.loads(keys_file.read_text())
    name = spec["model_groups"][0]["models"][0]
    model = next(m for m in spec["models"] if m["name"] == name)
    return {team["id"]: keys[team["id"]] for team in spec["teams"]}, model


def cost_of(model, usages) -> float:
    """What LiteLLM charges for `usages` at the seed spec's prices (per 1,000 tokens)."""
    return sum(
        u["prompt_tokens"] * model["input_cost_per_1k_tokens"] / 1000
        + u["completion_tokens"] * model["output_cost_per_1k_tokens"] / 1000
        for u in usages
    )


def traffic(roles, seeded, count, spent):
    """`count` completions per team through the edge; `spent` (team -> spend) updated and
    read back once settled in PostgreSQL."""
    keys, model = seeded
    edge = roles["address"][roles["edge"]]
    for team, key in keys.items():
        usages, _ = edge_chats(edge, key, model["name"], count)
        expected = spent.get(team, 0.0) + cost_of(model, usages)
        spent[team] = team_spend(roles, team, settled_with=expected, within=30)
        assert spent[team] == pytest.approx(expected, rel=1e-9), team
    return spent


def last_archived(roles) -> float:
    out = ssh(
        roles["db"],
        "runuser -u postgres -- psql -XAtq -c "
        '"SELECT extract(epoch FROM last_archived_time) FROM pg_stat_archiver"',
    ).stdout.strip()
    return float(out or 0)


def clone_holding_only_the_custody_copy(tmp_path):
    """A fresh clone of the repository, and the environment its commands run in: a HOME of
    its own (no identity file, no secret store but what the custody copy restores), the
    artifact cache shared (built from the same locks: it is a cache, not state)."""
    medium = tmp_path / "offline-medium"
    medium.mkdir()
    exported = run([sys.executable, "-m", "bundle.secrets", "export", "testbed", medium])
    assert exported.returncode == 0, exported.stderr
    (folder,) = medium.iterdir()
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", REPO, clone], check=True)
    (clone / ".venv").symlink_to(REPO / ".venv")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "XDG_"))}
    env |= {"HOME": str(home), "GATEWAY_ARTIFACT_CACHE": str(artifacts.cache_dir())}
    assert not (clone / "secrets" / "testbed.age").exists()
    restored = run(
        [sys.executable, "-m", "bundle.secrets", "restore", "testbed", folder], cwd=clone, env=env
    )
    assert restored.returncode == 0, restored.stderr
    return clone, env


def test_the_db_host_destroyed_comes_back_from_the_backup_host_at_t(
    first_deploy, roles, seeded, tmp_path
):
    spent = traffic(roles, seeded, 3, {})
    assert backup_cli("backup", "--type", "full").returncode == 0
    traffic(roles, seeded, 3, spent)
    time.sleep(1.5)
    target = datetime.now(UTC)
    at_t = dict(spent)
    time.sleep(1.5)
    traffic(roles, seeded, 3, spent)
    assert all(spent[team] > at_t[team] for team in at_t)
    # A restore reaches what the archive holds: wait until a segment closed after T is in
    # (archive_timeout, 60 s, bounds it), then lose the host.
    deadline = time.monotonic() + 150
    while last_archived(roles) <= target.timestamp():
        assert time.monotonic() < deadline, "no WAL archived after T within 150 s"
        time.sleep(3)
    archived = last_archived(roles)
    clone, env = clone_holding_only_the_custody_copy(tmp_path)

    lost = time.time()
    assert run_testbed("purge", roles["db"]).returncode == 0
    up = run_testbed("up", "--topology", "split", timeout=1200)
    assert up.returncode == 0, up.stdout + up.stderr
    deployed = run(
        [BIN / "pyinfra", "-y", INVENTORY, "deploy.py"], cwd=clone, env=env, timeout=1800
    )
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    assert "belongs to another cluster" in deployed.stdout + deployed.stderr
    with ProcessWatcher([roles["db"], roles["backup"]]) as watcher:
        restored = backup_cli("restore", "--to", target.isoformat(), "--yes", cwd=clone, env=env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "The running cluster is not the repository's" in restored.stdout
    assert not [s for s in watcher.samples if secret("pgbackrest_cipher_pass") in s]

    keys, model = seeded
    edge = roles["address"][roles["edge"]]
    for team, key in keys.items():
        assert team_spend(roles, team) == pytest.approx(at_t[team], rel=1e-9), team
        # The team key works, the provider credential decrypts.
        edge_chats(edge, key, model["name"], 1)
    recovered = time.time()
    print(
        f"restore drill: RPO {archived - target.timestamp():.0f} s (a write at T was on the "
        f"backup host that much later; archive_timeout 60 s bounds it), RTO "
        f"{recovered - lost:.0f} s from the host's loss to every team served again (boot "
        f"{up.seconds:.0f} s, deploy {deployed.seconds:.0f} s, restore {restored.seconds:.0f} s)"
    )

    drift = run(
        [sys.executable, "-m", "provisioning", "drift", "--inventory", INVENTORY],
        cwd=clone,
        env=env,
        timeout=600,
    )
    assert drift.returncode == 0, drift.stdout + drift.stderr

    again = run(
        [BIN / "pyinfra", "-y", "--json", INVENTORY, "deploy.py"], cwd=clone, env=env, timeout=1800
    )
    assert again.returncode == 0, again.stderr[-3000:]
    changed = [
        op["name"]
        for op in json.loads(again.stdout)["results"]["operations"]
        if op["success"] or op["error"]
    ]
    assert changed == [], changed
