"""The running testbed's hosts, as `python -m testbed up` recorded them, grouped by role."""

from testbed import state
from testbed.inventory import groups_for

_testbed = state.load()
if _testbed is None:
    raise SystemExit(
        "inventories/testbed.py: the testbed is not up; run `python -m testbed up` (as root)"
    )

globals().update(groups_for(_testbed))
