"""What every rollout does, in order: `pyinfra inventories/<env>.py deploy.py`.

Preflight runs first on the control machine: every host's settings (bundle/settings.py, the
rules between them and the seed spec), what every host runs (bundle/platforms.py), the
environment's secret store (missing secrets generated) and that no host was deployed with another
store (bundle/store_mark.py) are checked before any host changes.
Each component is one @deploy in tasks/, applied to the hosts of its group; the seed comes last."""

from pyinfra import host, inventory, logger

from bundle.deploy_secrets import secrets_for
from bundle.facts import HostPlatform, SecretStoreMark
from bundle.operations import tier_done
from bundle.preflight import check_inventory
from bundle.secret_store import SecretStore
from bundle.store_mark import PATH as STORE_MARK
from bundle.store_mark import check_store_marks
from tasks.backup import (
    deploy_backup,
    deploy_backup_repository,
    deploy_backup_schedule,
)
from tasks.base import deploy_base
from tasks.edge import deploy_edge
from tasks.litellm import deploy_litellm
from tasks.postgres import deploy_postgres
from tasks.redis import deploy_redis
from tasks.saas_api import deploy_saas_api
from tasks.seed import deploy_seed

# Every host, the first time this file runs (for the first host), before any operation: its
# settings, and what it runs (pyinfra has connected to every host before this file runs).
check_inventory(inventory, logger.warning, platform_of=lambda each: each.get_fact(HostPlatform))
# Then the secret store: a host deployed with another store is refused (bundle/store_mark.py).
check_store_marks(
    inventory,
    secrets_for(host.data.get("environment")),
    SecretStore(host.data.get("environment")).path,
    mark_of=lambda each: each.get_fact(SecretStoreMark, path=STORE_MARK),
)

deploy_base()

if "db" in host.groups:
    deploy_postgres()
    deploy_backup()

if "cache" in host.groups:
    deploy_redis()

if "backup" in host.groups:
    deploy_backup_repository()

# Each tier is ready on every host before the next starts (see bundle.operations.tier_done).
tier_done(name="Wait until every host has finished the data tier", tier="data tier")

# Both ends of the backups reach each other now: the stanza and the first backup.
if "backup" in host.groups:
    deploy_backup_schedule()

if "llm" in host.groups:
    deploy_litellm()

tier_done(name="Wait until every host has finished the LiteLLM tier", tier="LiteLLM tier")

if "api" in host.groups:
    deploy_saas_api()

tier_done(name="Wait until every host has finished the API tier", tier="API tier")

if "edge" in host.groups:
    deploy_edge()

if "api" in host.groups:
    deploy_seed()
