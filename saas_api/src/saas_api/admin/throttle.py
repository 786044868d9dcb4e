"""The login throttle: after a few wrong admin keys from one address, each further attempt from
it must wait twice as long as the one before (up to a maximum), and is refused without looking
at the key until then. Counted in the `saas` database, so every api host behind the edge counts
the same failures, and attempts from one address are taken one at a time (a row lock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from saas_api.admin.settings import AdminSettings
from saas_api.models import AdminLoginFailures

FORGIVEN_AFTER = timedelta(hours=1)


def _now() -> datetime:
    return datetime.now(UTC)


def delay_after(failures: int, settings: AdminSettings) -> int:
    """Seconds an attempt must wait after the last of `failures` wrong keys."""
    over = failures - settings.admin_login_free_failures
    return 0 if over < 0 else min(2**over, settings.admin_login_max_delay_seconds)


async def lock(db: AsyncSession, address: str) -> AdminLoginFailures:
    """The address's row, locked until the caller commits: its attempts run one at a time."""
    await db.execute(
        insert(AdminLoginFailures)
        .values(address=address, failures=0, last_failure_at=_now())
        .on_conflict_do_nothing(index_elements=["address"])
    )
    return await db.get(AdminLoginFailures, address, with_for_update=True, populate_existing=True)


def seconds_to_wait(row: AdminLoginFailures, settings: AdminSettings) -> int:
    elapsed = _now() - row.last_failure_at
    if elapsed > FORGIVEN_AFTER:
        row.failures = 0
        return 0
    remaining = delay_after(row.failures, settings) - elapsed.total_seconds()
    return max(0, int(remaining + 0.999))


def count_failure(row: AdminLoginFailures) -> None:
    row.failures += 1
    row.last_failure_at = _now()


async def forgive(db: AsyncSession, address: str) -> None:
    await db.execute(delete(AdminLoginFailures).where(AdminLoginFailures.address == address))
