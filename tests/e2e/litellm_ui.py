"""Drive LiteLLM's admin UI in a real headless Chromium (browser.py): open /ui, log in, report
what was seen. The browser resolves no host but the gateway's, so anything the UI tries to
fetch from elsewhere fails at once; such attempts are reported in `offsite_requests`.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

from .browser import quiet_webdriver_wire, start_chromium, wait_for

# LiteLLM's login page (/ui/login/, 1.108.7 and 1.108.12): a form with these inputs and one
# submit button; a rejected login adds a role=alert box ("Invalid credentials ...") next to the
# one that is always there ("Default Credentials ...").
USERNAME_INPUT = (By.NAME, "username")
PASSWORD_INPUT = (By.NAME, "password")
SUBMIT_BUTTON = (By.CSS_SELECTOR, "form button[type='submit']")
LOGIN_ALERT = (By.CSS_SELECTOR, "[role='alert']")
# Shown only in the logged-in dashboard's sidebar.
DASHBOARD_MARKER_TEXT = "Virtual Keys"
DASHBOARD_MARKER = (By.XPATH, f"//nav//*[normalize-space(text())='{DASHBOARD_MARKER_TEXT}']")
# Placeholders the dashboard shows while its first API calls are in flight.
LOADING_PLACEHOLDER = (By.CSS_SELECTOR, "[data-slot='skeleton'], .animate-pulse")
# How long, at most, to let the dashboard fill in before the screenshot; it never decides
# whether the login worked.
SETTLE_SECONDS = 10.0
# The UI keeps its session JWT in this cookie (and in sessionStorage).
SESSION_COOKIE = "token"


def login_to_litellm_ui(
    base_url: str,
    master_key: str,
    screenshot: Path,
    *,
    username: str = "admin",
    timeout: float = 60.0,
    address: str | None = None,
    ca_file: Path | None = None,
) -> dict:
    """Open `<base_url>/ui`, log in as `username` with `master_key`, save a screenshot.

    `address` maps the gateway's host name to that IP address (names without DNS); `ca_file` is
    the only extra root the browser trusts, so an https page that loads proves its chain.

    Returns facts for the caller to assert on, never the key or the session token:
    {"logged_in", "evidence", "error", "url", "title", "token_cookie", "seconds",
    "offsite_requests"}. `logged_in` is True only when the login form is gone, the dashboard's
    sidebar shows "Virtual Keys" and the session cookie is set, all within `timeout` seconds
    of submitting. A rejected login returns as soon as the UI shows its error.
    """
    base_url = base_url.rstrip("/")
    screenshot = Path(screenshot)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    facts = {
        "logged_in": False,
        "evidence": None,
        "error": None,
        "url": None,
        "title": None,
        "token_cookie": False,
        "seconds": None,
        "offsite_requests": [],
    }
    with quiet_webdriver_wire(), tempfile.TemporaryDirectory(prefix="litellm-ui-") as home:
        browser = Browser(urlsplit(base_url).hostname, address, ca_file, Path(home))
        _drive_login(browser, base_url, username, master_key, screenshot, timeout, facts)
    return facts


@dataclass
class Browser:
    gateway_host: str
    address: str | None
    ca_file: Path | None
    home: Path  # a throwaway HOME: Chromium's NSS certificate database lives in it


def _drive_login(browser, base_url, username, master_key, screenshot, timeout, facts) -> None:
    names = {browser.gateway_host: browser.address}
    driver = start_chromium(browser.home, names=names, ca_file=browser.ca_file, timeout=timeout)
    try:
        facts["error"] = _open_login_form(driver, f"{base_url}/ui", timeout)
        if facts["error"] is None:
            driver.find_element(*USERNAME_INPUT).send_keys(username)
            driver.find_element(*PASSWORD_INPUT).send_keys(master_key)
            standing_alerts = set(_alert_texts(driver))
            started = time.monotonic()
            driver.find_element(*SUBMIT_BUTTON).click()
            outcome = wait_for(lambda: _login_outcome(driver, standing_alerts), timeout)
            facts["seconds"] = round(time.monotonic() - started, 1)
            if outcome is None:
                facts["error"] = f"no dashboard and no login error within {timeout:.0f} s"
            elif outcome[0] == "dashboard":
                facts["logged_in"] = True
                facts["evidence"] = outcome[1]
                wait_for(lambda: not _visible(driver, LOADING_PLACEHOLDER), SETTLE_SECONDS)
            else:
                facts["error"] = outcome[1]
        facts["token_cookie"] = driver.get_cookie(SESSION_COOKIE) is not None
        facts["url"] = driver.current_url
        facts["title"] = driver.title
        driver.save_screenshot(str(screenshot))
        facts["offsite_requests"] = _offsite_requests(driver, base_url)
    finally:
        driver.quit()


def _open_login_form(driver, url: str, timeout: float) -> str | None:
    """Load the UI and wait for its login form; return why not, or None."""
    try:
        driver.get(url)
    except WebDriverException as error:
        return f"could not load {url}: {error.msg}"
    if not wait_for(lambda: driver.find_elements(*PASSWORD_INPUT), timeout):
        return f"no login form within {timeout:.0f} s at {driver.current_url}"
    return None


def _visible(driver, locator) -> list:
    return [e for e in driver.find_elements(*locator) if e.is_displayed()]


def _alert_texts(driver) -> list[str]:
    return [text for text in (e.text.strip() for e in _visible(driver, LOGIN_ALERT)) if text]


def _login_outcome(driver, standing_alerts: set[str]) -> tuple[str, str] | None:
    if not driver.find_elements(*PASSWORD_INPUT):
        if _visible(driver, DASHBOARD_MARKER) and driver.get_cookie(SESSION_COOKIE) is not None:
            return (
                "dashboard",
                f"login form gone; sidebar shows {DASHBOARD_MARKER_TEXT!r}; "
                f"{SESSION_COOKIE!r} cookie set; at {urlsplit(driver.current_url).path}",
            )
        return None
    alerts = [text for text in _alert_texts(driver) if text not in standing_alerts]
    if alerts:
        return ("rejected", "login page says: " + " | ".join(alerts))
    return None


def _offsite_requests(driver, base_url: str) -> list[str]:
    """URLs the page asked for from any origin but the gateway's (from Chrome's network log)."""
    gateway = urlsplit(base_url).netloc
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") != "Network.requestWillBeSent":
            continue
        url = message["params"]["request"]["url"]
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != gateway:
            urls.append(url)
    return list(dict.fromkeys(urls))
