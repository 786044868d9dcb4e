"""How big services should be, from the host's memory and the clients that will connect.

The defaults for client counts live here because the database is sized by the services that
connect to it (LiteLLM and the SaaS API), whose own deploys use the same keys."""

from __future__ import annotations

from bundle import settings

# Per host: worker processes and the database pool each worker opens. Unset workers mean one
# per core on the host (bundle/host_roles.py), which PostgreSQL cannot see: it reserves for 2.
CLIENT_DEFAULTS = {"litellm_workers": 2, "saas_api_workers": 2} | settings.defaults(
    "litellm_db_pool_limit", "saas_api_db_pool_limit", "saas_api_admin_workers"
)

# Superuser-reserved slots, migrations, the operator's psql and monitoring.
CONNECTION_HEADROOM = 20


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _get(data: dict, key: str) -> int:
    return int(data.get(key) or CLIENT_DEFAULTS[key])


def reserved_connections(data: dict, component: str) -> int:
    """What PostgreSQL reserves for one host of `component` (litellm, saas_api): its configured
    workers × pool. The SaaS API's host also runs the admin panel, whose workers read the same
    pool size from the same environment file: they are counted as more SaaS API workers."""
    workers = _get(data, f"{component}_workers") + _extra_processes(data, component)
    return workers * _get(data, f"{component}_db_pool_limit")


def _extra_processes(data: dict, component: str) -> int:
    return _get(data, "saas_api_admin_workers") if component == "saas_api" else 0


def client_connections(llm_hosts: list[dict], api_hosts: list[dict]) -> int:
    return sum(reserved_connections(d, "litellm") for d in llm_hosts) + sum(
        reserved_connections(d, "saas_api") for d in api_hosts
    )


def pool_limit(data: dict, workers: int, component: str = "litellm") -> int:
    """Connections per worker of `component` (litellm, saas_api). PostgreSQL reserves
    `reserved_connections` for each host (it cannot see the host's cores); the workers actually
    started (and, on api hosts, the admin panel's) share that reservation, so the host never
    opens more."""
    processes = workers + _extra_processes(data, component)
    return max(2, reserved_connections(data, component) // max(1, processes))


def litellm_pool_limit(data: dict, workers: int) -> int:
    return pool_limit(data, workers, "litellm")


def postgres_settings(memory_mb: int, connections: int) -> dict[str, str | int]:
    max_connections = max(100, connections + CONNECTION_HEADROOM)
    shared_buffers = clamp(memory_mb // 4, 128, 8192)
    # Each connection may use a few work_mem buffers at once; keep the worst case within RAM.
    work_mem = clamp((memory_mb - shared_buffers) // (max_connections * 3), 4, 64)
    return {
        "max_connections": max_connections,
        "shared_buffers": f"{shared_buffers}MB",
        "effective_cache_size": f"{memory_mb * 3 // 4}MB",
        "maintenance_work_mem": f"{clamp(memory_mb // 20, 64, 1024)}MB",
        "work_mem": f"{work_mem}MB",
    }


def redis_maxmemory_mb(memory_mb: int, shares_host: bool) -> int:
    """A quarter of RAM on a dedicated cache host, an eighth when other services share it."""
    return clamp(memory_mb // (8 if shares_host else 4), 64, 16384)
