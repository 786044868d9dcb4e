"""The admin panel's application: `uvicorn --factory saas_api.admin.app:create_app`.

Its own process and port (the setup guide's 3000) next to the SaaS API, on the same hosts and
database: the edge gives it its own site, open to the admin networks only."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from saas_api.admin import web
from saas_api.admin.pages import audit_log, auth, dashboard, model_groups, organizations, teams
from saas_api.admin.security import SecurityHeaders
from saas_api.admin.settings import AdminSettings, get_admin_settings
from saas_api.body_limit import BodyLimit
from saas_api.errors import ApiError
from saas_api.resources import service_lifespan
from saas_api.routes import health


def create_app(
    settings: AdminSettings | None = None,
    litellm_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    settings = settings or get_admin_settings()
    app = FastAPI(
        title="SaaS admin panel",
        lifespan=service_lifespan(settings, litellm_transport),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=web.HERE / "static"), name="static")
    app.include_router(health.router)
    for module in (auth, dashboard, organizations, model_groups, teams, audit_log):
        app.include_router(module.router)
    _install_error_pages(app)
    return app


def _install_error_pages(app: FastAPI) -> None:
    async def login_required(request: Request, _exc: web.LoginRequired):
        expired = request.cookies.get(web.sessions.COOKIE) is not None
        response = RedirectResponse("/login?m=expired" if expired else "/login", status_code=303)
        if expired:
            web.sessions.clear_session_cookie(response)
        return response

    async def csrf_refused(request: Request, _exc: web.CsrfRefused):
        return await _error_page(
            request,
            403,
            "This form did not come from your session's page (it is old, or from another "
            "site or tab that logged in again): nothing was changed. Reload the page and "
            "try again.",
        )

    async def api_error(request: Request, exc: ApiError):
        return await _error_page(request, exc.status, exc.detail)

    async def http_error(request: Request, exc: HTTPException):
        detail = "No such page." if exc.status_code == 404 else str(exc.detail)
        return await _error_page(request, exc.status_code, detail)

    async def bad_request(request: Request, exc: RequestValidationError):
        return await _error_page(request, 422, "The address has a value this page cannot take.")

    app.add_exception_handler(web.LoginRequired, login_required)
    app.add_exception_handler(web.CsrfRefused, csrf_refused)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_request)


async def _error_page(request: Request, status: int, message: str):
    return web.templates.TemplateResponse(
        request,
        "error.html",
        {"login": getattr(request.state, "login", None), "status": status, "message": message},
        status_code=status,
    )
