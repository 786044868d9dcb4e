"""The application: `uvicorn --factory saas_api.main:create_app`."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from saas_api import errors
from saas_api.body_limit import BodyLimit
from saas_api.resources import service_lifespan
from saas_api.routes import health, me, model_groups, organizations, teams
from saas_api.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None, litellm_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or get_settings()

    # No interactive docs: an admin API on a private address has no use for them.
    app = FastAPI(
        title="SaaS API",
        lifespan=service_lifespan(settings, litellm_transport),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    errors.install(app)
    for module in (health, organizations, model_groups, teams, me):
        app.include_router(module.router)
    return app
