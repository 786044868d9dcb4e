"""The application: `uvicorn --factory saas_api.main:create_app`."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from saas_api import errors
from saas_api.body_limit import BodyLimit
from saas_api.keys import KeyVault
from saas_api.litellm import LiteLLMClient
from saas_api.routes import health, me, model_groups, organizations, teams
from saas_api.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None, litellm_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = create_async_engine(
            settings.sqlalchemy_url,
            pool_size=settings.db_pool_size,
            max_overflow=0,
            pool_pre_ping=True,  # a PostgreSQL restart costs one failed ping, not a 500
            pool_timeout=30,
            # An unreachable database fails a request (and readiness) in seconds, not minutes.
            connect_args={"connect_timeout": 10},
        )
        app.state.settings = settings
        app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
        app.state.vault = KeyVault(settings.key_encryption_secret.get_secret_value())
        app.state.litellm = LiteLLMClient(
            settings.litellm_base_urls,
            settings.litellm_master_key.get_secret_value(),
            timeout=settings.litellm_timeout_seconds,
            transport=litellm_transport,
        )
        try:
            yield
        finally:
            await app.state.litellm.close()
            await engine.dispose()

    # No interactive docs: an admin API on a private address has no use for them.
    app = FastAPI(
        title="SaaS API", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    errors.install(app)
    for module in (health, organizations, model_groups, teams, me):
        app.include_router(module.router)
    return app
