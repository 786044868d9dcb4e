"""Where LiteLLM lives and how it is started, wherever it runs: on `llm` hosts (tasks/litellm.py)
and in the dev target's image (compose/). One place, so the two cannot drift apart."""

from __future__ import annotations

ROOT = "/opt/litellm"
VENV = f"{ROOT}/venv"
ENGINE = f"{ROOT}/engine"

ENGINE_MODES = ("bundled", "native")
# Both modes: the Prisma CLI is the one in the engine's npm packages (no npm on hosts), run by
# Debian's node, without its telemetry call.
PRISMA_CLI_ENV = {
    "PRISMA_BINARY_CACHE_DIR": ENGINE,
    "PRISMA_USE_GLOBAL_NODE": "1",
    "PRISMA_HIDE_UPDATE_MESSAGE": "1",
    "CHECKPOINT_DISABLE": "1",
}
# Bundled mode: our bridge is the query engine, the schema engine a stand-in (no download), and
# the platform is given so no engine `--version` probe runs at every connect.
BUNDLED_ENGINE_ENV = {
    "PRISMA_QUERY_ENGINE_BINARY": f"{ENGINE}/bin/query-engine",
    "PRISMA_SCHEMA_ENGINE_BINARY": f"{ENGINE}/bin/schema-engine",
    "PRISMA_BINARY_PLATFORM": "debian-openssl-3.0.x",
}
# Nothing is fetched from the internet at import or at run time.
OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "NO_DOCS": "True",
    "NO_REDOC": "True",
    # Warnings and errors only. At INFO every request logs three to four lines (an access line,
    # session reuse, each spend write): measured with `make bench-litellm-configs`, 37.4-45.5
    # ms of LiteLLM CPU per request at 8 in flight against 33.0-33.3 at WARNING, and journald's
    # 0.7-1.1 ms against 0.0. Every request stays recorded in LiteLLM's spend logs (database).
    "LITELLM_LOG": "WARNING",
}


def prisma_environment(mode: str) -> dict[str, str]:
    """What `prisma generate` and the service need: in native mode Prisma downloads its own
    engines (hosts must reach Prisma's binary server)."""
    return PRISMA_CLI_ENV | (BUNDLED_ENGINE_ENV if mode == "bundled" else {})


def prisma_generate_command(mode: str, site_packages: str) -> str:
    """Generate LiteLLM's Prisma client into the venv (the schema's generator, `prisma-client-py`,
    is a script in the venv's bin); `site_packages` is the venv's, relative to it
    (bundle.platforms.Target.site_packages)."""
    env = " ".join(f"{k}={v}" for k, v in prisma_environment(mode).items())
    return (
        f"cd {VENV}/{site_packages}/litellm/proxy && "
        f"env HOME=/root PATH={VENV}/bin:/usr/bin:/bin {env} "
        f"{VENV}/bin/prisma generate --schema schema.prisma >/dev/null"
    )
