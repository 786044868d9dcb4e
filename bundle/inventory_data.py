"""An inventory as pyinfra itself sees it (group_data merged), for tools outside a deploy: the
verification suite and the benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class InventoryError(Exception):
    """The inventory cannot be loaded; the message says why."""


def load_hosts(inventory: str) -> list[dict]:
    """[{"name", "groups", "data"}, ...] from `pyinfra INVENTORY debug-inventory --json`."""
    pyinfra = Path(sys.executable).with_name("pyinfra")
    result = subprocess.run(
        [str(pyinfra), str(Path(inventory).resolve()), "debug-inventory", "--json"],
        cwd=REPO,  # group_data/ is found relative to the working directory
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise InventoryError(f"cannot load inventory {inventory}: {result.stderr.strip()[-500:]}")
    return json.loads(result.stdout)
