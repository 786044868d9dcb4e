"""Admin sessions: a random token in a cookie, only its hash in the `saas` database, with an idle
and an absolute timeout; the CSRF token is derived from the session's token, so a form carries
the proof that it came from a page of this very session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request, Response
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from saas_api.admin.settings import AdminSettings
from saas_api.models import AdminSession

# `__Host-`: the browser accepts the cookie only with Secure, Path=/ and no Domain, so no other
# site of the domain (the gateway, the API) can set or overwrite it.
COOKIE = "__Host-gateway-admin"
# Before login there is no session: the login form is tied to this short-lived cookie instead.
LOGIN_COOKIE = "__Host-gateway-admin-login"
LOGIN_FORM_SECONDS = 15 * 60


@dataclass(frozen=True)
class Login:
    """A live session, as plain values: a rollback of the request's database session (a
    refused change) must not turn them into lazy loads."""

    token: str
    actor: str

    @property
    def token_hash(self) -> str:
        return token_hash(self.token)

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)

    @property
    def short_id(self) -> str:
        return self.token_hash[:8]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    return hmac.new(token.encode(), b"admin-panel csrf", hashlib.sha256).hexdigest()


def same_token(given: str | None, expected: str | None) -> bool:
    """Both present, and equal (in constant time): an empty pair proves nothing."""
    if not given or not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _now() -> datetime:
    return datetime.now(UTC)


async def start(db: AsyncSession, actor: str, address: str) -> Login:
    """A new session (a new token: never one the browser brought, so no fixation)."""
    token = secrets.token_urlsafe(32)
    db.add(AdminSession(token_hash=token_hash(token), actor=actor, address=address))
    await db.commit()
    return Login(token=token, actor=actor)


async def current(db: AsyncSession, request: Request, settings: AdminSettings) -> Login | None:
    """The request's live session, its last use moved to now; None (and the row gone) when
    there is none, or it idled out, or it outlived its lifetime."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    row = await db.get(AdminSession, token_hash(token), with_for_update=True)
    if row is None:
        return None
    now = _now()
    if now - row.last_seen_at > timedelta(
        seconds=settings.admin_session_idle_seconds
    ) or now - row.created_at > timedelta(seconds=settings.admin_session_lifetime_seconds):
        await db.delete(row)
        await db.commit()
        return None
    row.last_seen_at = now
    login = Login(token=token, actor=row.actor)
    await db.commit()
    return login


async def end(db: AsyncSession, login: Login) -> None:
    await db.execute(delete(AdminSession).where(AdminSession.token_hash == login.token_hash))
    await db.commit()


async def forget_expired(db: AsyncSession, settings: AdminSettings) -> None:
    """Sessions nobody will present again (closed tabs) are removed at each login."""
    now = _now()
    await db.execute(
        delete(AdminSession).where(
            (
                AdminSession.last_seen_at
                < now - timedelta(seconds=settings.admin_session_idle_seconds)
            )
            | (
                AdminSession.created_at
                < now - timedelta(seconds=settings.admin_session_lifetime_seconds)
            )
        )
    )
    await db.commit()


async def set_flash(db: AsyncSession, login: Login, message: str) -> None:
    await db.execute(
        update(AdminSession)
        .where(AdminSession.token_hash == login.token_hash)
        .values(flash=message)
    )
    await db.commit()


async def take_flash(db: AsyncSession, login: Login) -> str | None:
    """The message waiting for this page, gone once read."""
    where = AdminSession.token_hash == login.token_hash
    message = await db.scalar(select(AdminSession.flash).where(where))
    if message is not None:
        await db.execute(update(AdminSession).where(where).values(flash=None))
        await db.commit()
    return message


def _cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict"
    )


def set_session_cookie(response: Response, token: str, settings: AdminSettings) -> None:
    _cookie(response, COOKIE, token, settings.admin_session_lifetime_seconds)


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")


def login_form_token(request: Request) -> str:
    """The login form's token: the browser's login cookie's, or a new one."""
    token = request.cookies.get(LOGIN_COOKIE)
    return token if token and len(token) <= 64 else secrets.token_urlsafe(24)


def set_login_cookie(response: Response, token: str) -> None:
    _cookie(response, LOGIN_COOKIE, token, LOGIN_FORM_SECONDS)


def clear_login_cookie(response: Response) -> None:
    response.delete_cookie(LOGIN_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
