# The local testbed environment (python -m testbed up; pyinfra inventories/testbed.py deploy.py).
from testbed import state

__all__ = ["environment", "base_admin_cidrs"]

# Names the secret store: secrets/testbed.age (created with its own key on first use).
environment = "testbed"

_testbed = state.load()

# SSH is admitted only from the control machine's end of the testbed bridge.
base_admin_cidrs = [f"{_testbed.gateway}/32"] if _testbed else []
