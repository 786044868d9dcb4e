"""What every rollout does, in order: `pyinfra inventories/<env>.py deploy.py`.

Preflight runs first on the control machine; a bad value stops the run before any host changes.
Each component is one @deploy in tasks/, applied to the hosts of its group."""

from pyinfra import host

from bundle.preflight import check_host_data
from tasks.base import deploy_base

check_host_data(host.name, host.data)

deploy_base()
