"""The admin panel's application: `uvicorn --factory saas_api.admin.app:create_app`."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from saas_api.body_limit import BodyLimit
from saas_api.resources import service_lifespan
from saas_api.routes import health
from saas_api.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None, litellm_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="SaaS admin panel",
        lifespan=service_lifespan(settings, litellm_transport),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    return app
