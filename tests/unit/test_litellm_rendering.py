"""What the LiteLLM deploy writes and decides, rendered and computed as its task does."""

import configparser
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from bundle import sizing
from bundle.facts import LiteLLMPendingMigrations
from bundle.host_roles import litellm_ports
from bundle.render import render
from tasks.litellm import OFFLINE_ENV, prisma_environment, prisma_generate_command

# engine/ is the Node engine's directory, not a Python package: load its runner by path.
_spec = importlib.util.spec_from_file_location(
    "migrate", Path(__file__).resolve().parents[2] / "engine" / "migrate.py"
)
migrate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(migrate)


def config(**overrides):
    context = {
        "pool_limit": 10,
        "spend_write_interval": 10,
        "request_timeout": 600,
        "bundled_engine": True,
        "model_reload_interval": 30,
    } | overrides
    return yaml.safe_load(render("litellm/config.yaml.j2", **context))


def test_config_takes_every_secret_from_the_environment():
    general, cache = config()["general_settings"], config()["litellm_settings"]["cache_params"]
    assert general["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert general["database_url"] == "os.environ/DATABASE_URL"
    assert cache["password"] == "os.environ/REDIS_PASSWORD"  # noqa: S105 (a reference)
    assert cache["username"] == "os.environ/REDIS_USERNAME"


def test_config_stores_models_in_the_database_and_batches_spend_writes():
    general = config(pool_limit=7, spend_write_interval=15)["general_settings"]
    assert general["store_model_in_db"] is True
    assert general["database_connection_pool_limit"] == 7
    assert general["proxy_batch_write_at"] == 15
    assert general["allow_requests_on_db_unavailable"] is False


def test_config_loads_the_spend_flush_callback_from_its_own_directory():
    # LiteLLM resolves "module.instance" against the config file's directory first.
    assert config()["litellm_settings"]["callbacks"] == ["spend_flush.spend_flush"]


def test_the_spend_flush_module_compiles_with_its_spacing():
    source = render("litellm/spend_flush.py.j2", spacing_seconds=0.25)
    compile(source, "spend_flush.py", "exec")
    assert re.search(r"^SPACING_SECONDS = 0\.25$", source, re.MULTILINE)
    assert re.search(r"^spend_flush = SpendFlush\(", source, re.MULTILINE)


def test_config_uses_redis_for_cache_router_and_json_logs():
    rendered = config()
    assert rendered["litellm_settings"]["cache_params"]["type"] == "redis"
    assert rendered["litellm_settings"]["json_logs"] is True
    assert rendered["router_settings"]["redis_host"] == "os.environ/REDIS_HOST"


def test_schema_updates_are_disabled_only_with_the_bundled_engine():
    assert config(bundled_engine=True)["general_settings"]["disable_prisma_schema_update"]
    assert not config(bundled_engine=False)["general_settings"]["disable_prisma_schema_update"]


def environment_file(**overrides):
    context = {
        "master_key": "sk-master",
        "salt_key": "sk-salt",
        "database_url": "postgresql://litellm@10.0.0.5:5432/litellm?sslmode=require",
        "database_password": "pg-secret",
        "redis_host": "10.0.0.6",
        "redis_port": 6379,
        "redis_password": "redis-secret",
    } | overrides
    return migrate.read_env_file_text(render("litellm/litellm.env.j2", **context))


def test_the_database_password_is_never_part_of_the_url():
    values = environment_file()
    assert "pg-secret" not in values["DATABASE_URL"]
    assert values["PGPASSWORD"] == "pg-secret"
    assert values["LITELLM_SALT_KEY"] == "sk-salt"
    assert values["REDIS_USERNAME"] == "litellm"


def unit(**overrides):
    context = {
        "listen_address": "10.0.0.21",
        "workers": 3,
        "environment": OFFLINE_ENV | prisma_environment("bundled"),
    } | overrides
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    # systemd allows repeated keys (Environment=); keep the last, check the text for the rest.
    text = render("litellm/litellm@.service.j2", **context)
    parser.read_string(text)
    return parser, text


def test_the_service_runs_sandboxed_as_its_own_user():
    parser, _ = unit()
    service = parser["Service"]
    assert (service["User"], service["Group"]) == ("litellm", "litellm")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "RestrictNamespaces": "yes",
        "Restart": "always",
    }.items():
        assert service[key] == value, key


def test_each_instance_listens_on_the_private_address_at_its_port_with_the_given_workers():
    parser, _ = unit(listen_address="10.9.9.9", workers=5)
    command = parser["Service"]["ExecStart"].split()
    assert command[command.index("--host") + 1] == "10.9.9.9"
    assert command[command.index("--port") + 1] == "%i"  # litellm@4001 listens on 4001
    assert command[command.index("--num_workers") + 1] == "5"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, [4000, 4001]),
        ({"litellm_instances": 1}, [4000]),
        ({"litellm_port": 5000, "litellm_instances": 3}, [5000, 5001, 5002]),
    ],
)
def test_instances_listen_on_consecutive_ports(data, expected):
    assert litellm_ports(data) == expected


def test_the_service_runs_offline_and_points_prisma_at_the_bundled_engine():
    _, text = unit()
    assert "Environment=LITELLM_LOCAL_MODEL_COST_MAP=True" in text
    assert "Environment=PRISMA_QUERY_ENGINE_BINARY=/opt/litellm/engine/bin/query-engine" in text
    assert "Environment=NO_DOCS=True" in text


@pytest.mark.parametrize(
    ("data", "workers", "expected"),
    [
        ({}, 2, 10),  # the default reservation: 2 workers × 10
        ({}, 4, 5),  # more cores share the same reservation
        ({}, 16, 2),  # never below 2 per worker
        ({"litellm_workers": 4, "litellm_db_pool_limit": 6}, 4, 6),
    ],
)
def test_workers_share_what_postgres_reserves_for_the_host(data, workers, expected):
    assert sizing.litellm_pool_limit(data, workers) == expected


def test_postgres_reserves_what_llm_hosts_may_open():
    hosts = [{}, {"litellm_workers": 4, "litellm_db_pool_limit": 6}]
    opened = sum(sizing.litellm_pool_limit(h, 2) * 2 for h in hosts)
    assert sizing.client_connections(hosts, []) >= opened


@pytest.mark.parametrize(
    ("output", "expected"),
    [(["pending 0"], 0), (["pending 12"], 12), ([], None), (["error: x"], None)],
)
def test_pending_migrations_fact(output, expected):
    assert LiteLLMPendingMigrations().process(output) == expected


def test_migration_urls_lose_prisma_only_parameters():
    url, schema = migrate.libpq_url(
        "postgresql://litellm@db:5432/litellm?sslmode=require&connection_limit=5&schema=s1"
    )
    assert url == "postgresql://litellm@db:5432/litellm?sslmode=require"
    assert schema == "s1"
    assert migrate.libpq_url("postgresql://u@h/d")[1] == "public"


def test_concurrent_index_migrations_are_recognised_by_their_index_name():
    sql = '-- CONCURRENTLY in a comment\nCREATE INDEX CONCURRENTLY IF NOT EXISTS "i1" ON "t" ("c");'
    assert migrate.CONCURRENT_INDEX.findall(migrate.sql_without_comments(sql)) == ["i1"]
    assert "CONCURRENTLY" not in migrate.sql_without_comments("-- CONCURRENTLY\nSELECT 1;")


def test_bundled_mode_points_prisma_at_the_bridge_and_downloads_nothing():
    command = prisma_generate_command("bundled", "lib/python3.13/site-packages")
    assert command.startswith("cd /opt/litellm/venv/lib/python3.13/site-packages/litellm/proxy &&")
    assert "PRISMA_QUERY_ENGINE_BINARY=/opt/litellm/engine/bin/query-engine" in command
    assert "PRISMA_SCHEMA_ENGINE_BINARY=/opt/litellm/engine/bin/schema-engine" in command
    assert "PRISMA_BINARY_CACHE_DIR=/opt/litellm/engine" in command  # the bundled Prisma CLI
    assert "CHECKPOINT_DISABLE=1" in command


def test_native_mode_lets_prisma_fetch_its_own_engines():
    env = prisma_environment("native")
    assert "PRISMA_QUERY_ENGINE_BINARY" not in env and "PRISMA_SCHEMA_ENGINE_BINARY" not in env
    assert "PRISMA_QUERY_ENGINE_BINARY" not in prisma_generate_command(
        "native", "lib/python3.11/site-packages"
    )
    _, text = unit(environment=OFFLINE_ENV | env)
    assert "query-engine" not in text
