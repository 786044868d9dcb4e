"""What every request of both apps (the API and the admin panel) uses, made once per process:
the database engine and its sessions, the key vault, the LiteLLM client."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from saas_api.keys import KeyVault
from saas_api.litellm import LiteLLMClient
from saas_api.settings import Settings


def service_lifespan(settings: Settings, litellm_transport: httpx.AsyncBaseTransport | None):
    """The app's lifespan: its resources in `app.state`, closed when the process stops."""

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

    return lifespan
