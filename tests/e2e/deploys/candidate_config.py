"""Test-only deploy (tests/e2e/test_config_candidates.py): puts one candidate config through
the deploy's own validate-and-restart operations, as a deploy would with a setting the schema
admits but the service refuses or cannot start on. `--data candidate=<case>` chooses it; the
candidate is the live file with the case's change."""

from pyinfra import host

from bundle.facts import FileText
from bundle.operations import checked_unit
from tasks import litellm, postgres, redis

CASES = {
    # Refused by the service's own check: the live file and the service stay as they are.
    "redis-refused": (redis.CONF, "maxmemory-policy sometimes"),
    "postgres-refused": (postgres.conf_path(15), "max_connections = many"),
    "unit-refused": ("/etc/systemd/system/saas-api.service", "[Service]\nRestartSecs=5"),
    "litellm-refused": (
        litellm.CONFIG,
        "general_settings:\n  database_connection_pool_limit: many",
    ),
    # Accepted by the check (it binds no port) but the service cannot start on it: the previous
    # file comes back and the service runs on it again.
    "redis-start-fails": (redis.CONF, "bind 192.0.2.10"),
    "postgres-start-fails": (postgres.conf_path(15), "listen_addresses = '192.0.2.10'"),
}

path, change = CASES[host.data.get("candidate")]
text = host.get_fact(FileText, path=path) + "\n" + change + "\n"
if path == redis.CONF:
    redis.configured_and_restarted(text)
elif path == litellm.CONFIG:
    litellm.checked_config(text)
elif path.endswith(".service"):
    checked_unit(text, path)
else:
    postgres.configured_and_restarted(15, text)
