"""The admin panel's configuration: the SaaS API's environment (the same file on api hosts) plus
the panel's own limits, each with a default an operator rarely needs to change."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from saas_api.settings import Settings


class AdminSettings(Settings):
    # A session unused this long ends (OWASP's guidance for high-value applications: 15–30 min).
    admin_session_idle_seconds: int = Field(default=30 * 60, ge=1, le=24 * 3600)
    # And any session ends this long after its login, used or not.
    admin_session_lifetime_seconds: int = Field(default=12 * 3600, ge=1, le=7 * 24 * 3600)
    # Wrong keys from one address before each further attempt waits: 1 s, 2 s, 4 s … up to
    # the maximum. A success, or an hour without failures, forgives them.
    admin_login_free_failures: int = Field(default=5, ge=1, le=100)
    admin_login_max_delay_seconds: int = Field(default=300, ge=1, le=3600)
    admin_page_size: int = Field(default=25, ge=5, le=200)


@lru_cache
def get_admin_settings() -> AdminSettings:
    return AdminSettings()  # type: ignore[call-arg]  # read from the environment
