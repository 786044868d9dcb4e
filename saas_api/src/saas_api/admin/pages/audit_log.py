"""The audit log: every change made through the panel, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from saas_api.admin import audit
from saas_api.admin.web import AdminSettingsDep, LoginDep, render
from saas_api.deps import SessionDep

router = APIRouter()


@router.get("/audit")
async def audit_page(
    request: Request,
    login: LoginDep,
    db: SessionDep,
    settings: AdminSettingsDep,
    page: int = Query(default=1, ge=1, le=1_000_000),
):
    size = settings.admin_page_size * 2
    events, total = await audit.page(db, offset=(page - 1) * size, limit=size)
    return await render(
        request,
        db,
        "audit.html",
        events=events,
        total=total,
        page=page,
        pages=max(1, -(-total // size)),
        nav="audit",
    )
