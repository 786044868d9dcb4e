"""The schema is the one source of truth: every task's DEFAULTS come from it, every default is a
value it accepts, and the README's table is its rendering."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bundle import settings

REPO = Path(__file__).resolve().parents[2]
TASKS = ("base", "postgres", "redis", "backup", "litellm", "saas_api", "edge")


def test_the_readme_table_is_the_schemas():
    readme = (REPO / "README.md").read_text()
    assert settings.README_START in readme
    assert settings.with_table(readme) == readme, "run .venv/bin/python -m bundle.settings"


@pytest.mark.parametrize("task", TASKS)
def test_every_tasks_defaults_are_the_schemas(task):
    defaults = importlib.import_module(f"tasks.{task}").DEFAULTS
    assert defaults
    for key, value in defaults.items():
        assert settings.BY_KEY[key].default == value


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda s: s.key)
def test_every_default_is_accepted_and_a_wrong_type_is_not(setting):
    if setting.default is not None:
        assert setting.kind.problem(setting.default) is None
    assert setting.kind.problem(object()) is not None
    # The e2e sweep's values (tests/e2e/test_settings.py).
    assert setting.kind.problem(setting.kind.invalid) is not None
    assert setting.kind.problem(setting.kind.wrong_type) is not None
    assert setting.reason and setting.kind.expected


# pyinfra's CLI loads inventory files, and importing it monkey-patches the process with gevent
# (which breaks the asyncio tests that follow): it runs in a process of its own.
LOAD_PROD = """
import json
from pathlib import Path
from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_state
from pyinfra_cli.inventory import make_inventory
from bundle.preflight import inventory_problems

with ctx_state.use(State(Inventory(([], {})), Config())):
    inventory = make_inventory("inventories/prod.py", cwd=".")
print(json.dumps(inventory_problems(inventory, Path("group_data"))))
"""


def test_the_example_prod_inventory_is_refused_until_filled_in():
    result = subprocess.run(
        [sys.executable, "-c", LOAD_PROD], cwd=REPO, capture_output=True, text=True, check=True
    )
    problems, warnings = json.loads(result.stdout)
    keys = [line.split(": ", 1)[1].split(" ")[0] for line in problems]
    assert keys == [
        "base_admin_cidrs",
        "edge_acme_email",
        "edge_gateway_host",
        "edge_api_host",
        "edge_admin_host",
        "edge_admin_cidrs",
    ]
    # base_admin_cidrs reaches all seven hosts from one file: one line naming them all.
    assert problems[0].count(".example.internal") == 7
    assert all("(from group_data/prod.py)" in line for line in problems)
    assert warnings == []
