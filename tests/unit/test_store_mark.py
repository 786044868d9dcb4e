"""The secret store's mark on hosts (bundle/store_mark.py): one id per store, kept across
rotations, revealing nothing of the salt key; a host marked by another store is refused with
every such host named, once per run. The HMAC is recomputed here with hashlib, not through the
module."""

import hashlib
import hmac
from types import SimpleNamespace

import pytest

from bundle import store_mark
from bundle.errors import PreflightError
from bundle.secret_store import SecretStore

pytestmark = pytest.mark.usefixtures("isolated_secrets")


class Inventory:
    def __init__(self, *names):
        self.hosts = [SimpleNamespace(name=n) for n in names]

    def iter_activated_hosts(self):
        return iter(self.hosts)


def test_the_id_is_an_hmac_under_the_salt_key_and_survives_rotating_other_secrets():
    store = SecretStore("testbed")
    before = store.ensure()
    expected = hmac.new(
        before["litellm_salt_key"].encode(), b"gateway-bundle secret store id", hashlib.sha256
    ).hexdigest()[:32]
    assert store_mark.store_id(before) == expected
    assert before["litellm_salt_key"] not in expected
    store.rotate("litellm_master_key")
    store.rotate("postgres_litellm_password")
    after = store.values()
    assert after["litellm_master_key"] != before["litellm_master_key"]
    assert store_mark.store_id(after) == expected


def test_another_store_has_another_id():
    first = SecretStore("testbed").ensure()
    SecretStore("testbed").path.unlink()
    second = SecretStore("testbed").ensure()
    assert second["litellm_salt_key"] != first["litellm_salt_key"]
    assert store_mark.store_id(second) != store_mark.store_id(first)


def test_hosts_unmarked_or_marked_by_this_store_pass_and_foreign_ones_are_all_named():
    ours = store_mark.store_id({"litellm_salt_key": "sk-ours"})
    marks = {"db1": ours, "llm1": None, "llm2": "0" * 32, "api1": "f" * 32}
    inventory = Inventory(*marks)
    problems = store_mark.mark_problems(
        inventory.hosts, ours, lambda h: marks[h.name], "secrets/prod.age"
    )
    assert len(problems) == 1
    assert problems[0].startswith("llm2, api1: deployed with another secret store")
    for part in (
        "secrets/prod.age",
        store_mark.PATH,
        "python -m bundle.secrets restore prod <custody folder>",
    ):
        assert part in problems[0]
    assert store_mark.mark_problems(inventory.hosts[:2], ours, lambda h: marks[h.name], "s") == []


def test_the_check_refuses_before_any_change_and_reads_each_host_once_per_run():
    secrets = {"litellm_salt_key": "sk-ours"}
    inventory, reads = Inventory("gateway1", "gateway2"), []

    def mark_of(host):
        reads.append(host.name)
        return "0" * 32 if host.name == "gateway2" else None

    with pytest.raises(PreflightError, match="no host was changed:\ngateway2: deployed with"):
        store_mark.check_store_marks(inventory, secrets, "secrets/testbed.age", mark_of)
    # deploy.py runs for every host: the second host's call reads nothing again.
    store_mark.check_store_marks(inventory, secrets, "secrets/testbed.age", mark_of)
    assert reads == ["gateway1", "gateway2"]
