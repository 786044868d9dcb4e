"""A browser's part in the admin panel's integration tests: log in, read a page's CSRF token,
post its forms, with the cookies the panel set (and nothing else)."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
ERRORS = re.compile(r'<p class="error[^"]*"[^>]*>(.*?)</p>', re.S)
FLASH = re.compile(r'<p class="flash"[^>]*>(.*?)</p>', re.S)


def errors_in(html: str) -> list[str]:
    return [unescape(m).strip() for m in ERRORS.findall(html)]


def field_error(html: str, field: str) -> str | None:
    match = re.search(rf'<p class="error" id="e-{re.escape(field)}">(.*?)</p>', html, re.S)
    return unescape(match.group(1)).strip() if match else None


def flash_in(html: str) -> str | None:
    match = FLASH.search(html)
    return unescape(match.group(1)).strip() if match else None


class Panel:
    def __init__(self, client: TestClient, admin_key: str):
        self.client = client
        self.admin_key = admin_key

    def login(self, key: str | None = None, name: str = "tester"):
        page = self.client.get("/login")
        token = LOGIN_TOKEN.search(page.text).group(1)
        return self.client.post(
            "/login", data={"login_token": token, "key": key or self.admin_key, "name": name}
        )

    def csrf(self, path: str) -> str:
        page = self.client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        return CSRF.search(page.text).group(1)

    def submit(self, page_path: str, action: str, data: dict | None = None, **kwargs):
        """Post `data` to `action` with the CSRF token of `page_path` (where the form is)."""
        form = {"csrf_token": self.csrf(page_path), **(data or {})}
        return self.client.post(action, data=form, **kwargs)

    def follow(self, answer):
        """The page a 303 after a change leads to."""
        assert answer.status_code == 303, (answer.status_code, errors_in(answer.text))
        return self.client.get(answer.headers["location"])
