"""The admin panel as a person uses it, in headless Chromium (browser.py): open pages, fill and
submit forms, read what the page says, and keep a screenshot of every page seen. Never types
or keeps a secret anywhere but the form field; a revealed key is masked before its screenshot."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from selenium.webdriver.common.by import By

from .browser import quiet_webdriver_wire, start_chromium, wait_for

MASK = "sk-…(masked for the screenshot)"


class AdminBrowser:
    def __init__(self, base_url: str, artifacts: Path, *, names: dict, ca_file: Path | None):
        self.base_url = base_url.rstrip("/")
        self.artifacts = artifacts
        self.names, self.ca_file = names, ca_file
        self.shots: list[Path] = []
        self.pages: list[str] = []  # the HTML of every page screenshotted

    def __enter__(self):
        self._quiet = quiet_webdriver_wire()
        self._quiet.__enter__()
        self._home = tempfile.TemporaryDirectory(prefix="admin-panel-")
        self.driver = start_chromium(
            Path(self._home.name), names=self.names, ca_file=self.ca_file, timeout=60
        )
        return self

    def __exit__(self, *exc):
        self.driver.quit()
        self._home.cleanup()
        self._quiet.__exit__(*exc)

    # reading ----------------------------------------------------------------------------------

    @property
    def path(self) -> str:
        parts = urlsplit(self.driver.current_url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    @property
    def html(self) -> str:
        return self.driver.page_source

    def text(self, css: str = "main") -> str:
        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def texts(self, css: str) -> list[str]:
        return [e.text.strip() for e in self.driver.find_elements(By.CSS_SELECTOR, css)]

    def flash(self) -> str:
        found = self.texts(".flash")
        return found[0] if found else ""

    def field_error(self, field: str) -> str:
        found = self.texts(f"#e-{field}")
        return found[0] if found else ""

    def errors(self) -> list[str]:
        return self.texts(".error")

    # acting -----------------------------------------------------------------------------------

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)
        wait_for(lambda: self.driver.execute_script("return document.readyState") == "complete", 30)

    def fill(self, fields: dict[str, str], form: str = "main form") -> None:
        for name, value in fields.items():
            element = self.driver.find_element(By.CSS_SELECTOR, f"{form} [name='{name}']")
            if element.tag_name == "select":
                element.find_element(By.CSS_SELECTOR, f"option[value='{value}']").click()
            else:
                element.clear()
                element.send_keys(value)

    def tick(self, name: str, value: str) -> None:
        box = self.driver.find_element(By.CSS_SELECTOR, f"input[name='{name}'][value='{value}']")
        if not box.is_selected():
            box.click()

    def press(self, label: str) -> None:
        """Click the button with this text and wait for the next page."""
        button = self.driver.find_element(
            By.XPATH, f"//button[normalize-space(.)='{label}'] | //a[normalize-space(.)='{label}']"
        )
        old = self.driver.find_element(By.TAG_NAME, "html")
        button.click()
        wait_for(lambda: not _attached(old), 30)
        wait_for(lambda: self.driver.execute_script("return document.readyState") == "complete", 30)

    def screenshot(self, name: str, *, mask: str | None = None) -> Path:
        if mask:
            self.driver.execute_script(
                "for (const e of document.querySelectorAll(arguments[0]))"
                " e.textContent = arguments[1];",
                mask,
                MASK,
            )
        self.pages.append(self.html)
        path = self.artifacts / f"admin-panel-{len(self.shots) + 1:02d}-{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        self.shots.append(path)
        return path

    def requested_urls(self) -> list[str]:
        """Every URL the browser asked for since the last call (Chrome's network log)."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def console_errors(self) -> list[str]:
        """What the page's console reported as severe (a CSP violation, a script error); not
        the 4xx answers of refused forms, which the tests expect."""
        return [
            e["message"]
            for e in self.driver.get_log("browser")
            if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]
        ]


def _attached(element) -> bool:
    try:
        element.is_enabled()
        return True
    except Exception:  # noqa: BLE001  stale: the page was replaced
        return False
