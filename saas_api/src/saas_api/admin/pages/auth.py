"""Login with the SaaS API's admin key (as the setup guide says), logout."""

from __future__ import annotations

import hmac
import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from saas_api.admin import sessions, throttle
from saas_api.admin.forms import text
from saas_api.admin.web import (
    AdminSettingsDep,
    LoginDep,
    audited,
    client_address,
    form_of,
    render,
)
from saas_api.deps import SessionDep

router = APIRouter()
ACTOR = re.compile(r"^[\w .@-]{1,64}$")
DEFAULT_ACTOR = "admin"


async def _login_page(request, db, *, status=200, error=None, name="", notice=None):
    token = sessions.login_form_token(request)
    response = await render(
        request,
        db,
        "login.html",
        status_code=status,
        error=error,
        name=name,
        notice=notice,
        login_token=token,
    )
    sessions.set_login_cookie(response, token)
    return response


@router.get("/login")
async def login_page(request: Request, db: SessionDep, settings: AdminSettingsDep):
    if await sessions.current(db, request, settings) is not None:
        return RedirectResponse("/", status_code=303)
    notice = {"out": "You are logged out.", "expired": "Your session ended: log in again."}.get(
        request.query_params.get("m", "")
    )
    return await _login_page(request, db, notice=notice)


@router.post("/login")
async def login(request: Request, db: SessionDep, settings: AdminSettingsDep):
    form = await request.form()
    name = text(form, "name") or DEFAULT_ACTOR
    if not sessions.same_token(form.get("login_token"), request.cookies.get(sessions.LOGIN_COOKIE)):
        return await _login_page(
            request, db, status=403, name=name, error="The login form expired: try again."
        )
    if not ACTOR.match(name):
        return await _login_page(
            request,
            db,
            status=422,
            name="",
            error="Your name: up to 64 letters, digits, spaces, '.', '@', '_' or '-'.",
        )
    address = client_address(request)
    row = await throttle.lock(db, address)
    wait = throttle.seconds_to_wait(row, settings)
    if wait:
        await db.commit()
        return await _login_page(
            request,
            db,
            status=429,
            name=name,
            error=f"Too many wrong keys from your address: try again in {wait} s.",
        )
    key = str(form.get("key") or "")
    expected = settings.master_key.get_secret_value()
    if not hmac.compare_digest(key.encode(), expected.encode()):
        throttle.count_failure(row)
        await db.commit()
        await audited(request, None, "login", actor=name, outcome="wrong key")
        return await _login_page(
            request,
            db,
            status=403,
            name=name,
            error="That is not the admin key (MASTER_KEY of the SaaS API).",
        )
    await throttle.forgive(db, address)
    await db.commit()
    await sessions.forget_expired(db, settings)
    login = await sessions.start(db, name, address)
    await audited(request, login, "login")
    response = RedirectResponse("/", status_code=303)
    sessions.set_session_cookie(response, login.token, settings)
    sessions.clear_login_cookie(response)
    return response


@router.post("/logout")
async def logout(request: Request, login: LoginDep, db: SessionDep):
    await form_of(request, login)
    await audited(request, login, "logout")
    await sessions.end(db, login)
    response = RedirectResponse("/login?m=out", status_code=303)
    sessions.clear_session_cookie(response)
    return response
