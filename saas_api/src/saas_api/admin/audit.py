"""The audit log of the admin panel: one row per change (and per login), written after the change
has succeeded or been refused, in its own transaction."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from saas_api.admin.sessions import Login
from saas_api.models import AuditEvent


async def record(
    sessions: async_sessionmaker[AsyncSession],
    *,
    login: Login | None,
    address: str,
    action: str,
    kind: str | None = None,
    object_id: str | None = None,
    detail: dict | None = None,
    outcome: str = "ok",
    actor: str | None = None,
) -> None:
    """`detail` names what changed (field values), never a key or a secret. A database session
    of its own: the request's may hold a refused change, which is not the log's to commit."""
    async with sessions() as db:
        db.add(
            AuditEvent(
                actor=actor or (login.actor if login else "anonymous"),
                session=login.short_id if login else None,
                address=address,
                action=action,
                object_kind=kind,
                object_id=object_id,
                detail=detail or {},
                outcome=outcome[:2000],
            )
        )
        await db.commit()


async def page(db: AsyncSession, *, offset: int, limit: int) -> tuple[list[AuditEvent], int]:
    """Newest first."""
    total = await db.scalar(select(func.count()).select_from(AuditEvent))
    rows = await db.scalars(
        select(AuditEvent).order_by(AuditEvent.id.desc()).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)
