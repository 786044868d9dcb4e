"""What every page shares: the templates, the logged-in dependency, CSRF checks, the client's
address, and rendering with the navigation, the session's CSRF token and its one-time message."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from saas_api.admin import audit, sessions
from saas_api.admin.sessions import Login
from saas_api.admin.settings import AdminSettings
from saas_api.deps import SessionDep

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")


def money(value) -> str:
    """Dollars to the cent; amounts under a cent (one fake-provider request costs $0.0007) to
    their first significant digits, so that a small spend does not read as none."""
    if value is None:
        return "—"
    amount = float(value)
    if amount == 0 or abs(amount) >= 0.01:
        return f"${amount:,.2f}"
    return f"${amount:.6f}".rstrip("0")


def percent(part, whole) -> str:
    if not whole:
        return "—"
    share = float(part) / float(whole) * 100
    return "under 0.1%" if 0 < share < 0.1 else f"{share:.1f}%"


templates.env.filters["money"] = money
templates.env.globals["percent"] = percent
templates.env.filters["when"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S UTC")


class LoginRequired(Exception):
    """No live session: the handler sends the browser to the login page."""


class CsrfRefused(Exception):
    """A state-changing request without this session's token: refused, nothing changed."""


def client_address(request: Request) -> str:
    # uvicorn's --proxy-headers (trusting the edge only) has put the browser's address here.
    return request.client.host if request.client else "unknown"


def _settings(request: Request) -> AdminSettings:
    return request.app.state.settings


AdminSettingsDep = Annotated[AdminSettings, Depends(_settings)]


async def _login(request: Request, db: SessionDep, settings: AdminSettingsDep) -> Login:
    login = await sessions.current(db, request, settings)
    if login is None:
        raise LoginRequired
    request.state.login = login
    return login


LoginDep = Annotated[Login, Depends(_login)]


def _same_origin(request: Request) -> bool:
    """A browser names the page a form came from; it must be this site (defence in depth: the
    token and SameSite=Strict already stop other sites)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host")


async def form_of(request: Request, login: Login) -> dict[str, str | list[str]]:
    """The posted form, once its CSRF token proved it came from this session's page."""
    form = await request.form()
    if not _same_origin(request) or not sessions.same_token(form.get("csrf_token"), login.csrf):
        raise CsrfRefused
    values: dict[str, str | list[str]] = {}
    for key in form:
        items = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = items if len(items) > 1 else (items[0] if items else "")
    return values


async def render(
    request: Request,
    db,
    template: str,
    *,
    status_code: int = 200,
    login: Login | None = None,
    **context,
) -> HTMLResponse:
    login = login or getattr(request.state, "login", None)
    flash = (
        await sessions.take_flash(db, login) if login is not None and status_code == 200 else None
    )
    return templates.TemplateResponse(
        request,
        template,
        {"login": login, "flash": flash, **context},
        status_code=status_code,
    )


async def audited(request: Request, login: Login | None, action: str, **event) -> None:
    """One audit log row for what this request did (saas_api/admin/audit.py)."""
    await audit.record(
        request.app.state.sessions,
        login=login,
        address=client_address(request),
        action=action,
        **event,
    )


async def done(db, login: Login, url: str, message: str) -> RedirectResponse:
    """After a change: the message for the next page, and the browser sent there (POST → GET)."""
    await sessions.set_flash(db, login, message)
    return RedirectResponse(url, status_code=303)
