# The local testbed environment (python -m testbed up; pyinfra inventories/testbed.py deploy.py).
from testbed import state

__all__ = [
    "environment",
    "base_admin_cidrs",
    "saas_api_default_model_group",
    "edge_tls_mode",
    "edge_gateway_host",
    "edge_api_host",
    "edge_admin_host",
    "edge_admin_cidrs",
]

# Names the secret store: secrets/testbed.age (created with its own key on first use).
environment = "testbed"

_testbed = state.load()

# SSH is admitted only from the control machine's end of the testbed bridge.
base_admin_cidrs = [f"{_testbed.gateway}/32"] if _testbed else []

# The setup guide creates teams without naming a model group: they get this one (the e2e test
# creates it, as the guide's Step 3 does, before its first team).
saas_api_default_model_group = "standard-models"

# The edge: Caddy's own CA (its root is fetched to secrets/testbed-edge-ca.crt); names only the
# testbed's clients resolve (curl --resolve, or their /etc/hosts). The control machine is the
# admin network; every other address is "the internet".
edge_tls_mode = "internal"
edge_gateway_host = "gateway.testbed.internal"
edge_api_host = "api.testbed.internal"
edge_admin_host = "admin.testbed.internal"
edge_admin_cidrs = base_admin_cidrs
