"""Headless Chromium for the e2e tests, driven by Selenium: Debian's `chromium` and
`chromium-driver`, a throwaway profile that trusts only the given CA (NSS's `certutil`, from
`libnss3-tools`), and a resolver that knows only the given names. Nothing is downloaded: the
driver path is explicit (Selenium Manager never runs), and any request to another host fails at
once instead of hanging."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW_SIZE = (1440, 900)
POLL_SECONDS = 0.5


def start_chromium(
    home: Path,
    *,
    names: dict[str, str | None],
    ca_file: Path | None,
    timeout: float,
) -> webdriver.Chrome:
    """A browser whose resolver maps each of `names` to its address (None: the system's
    resolver for that name) and fails every other name; `home` holds its NSS database."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing; apt-get install chromium chromium-driver on this machine"
            )
    if ca_file is not None:
        _trust(ca_file, home)
    # Chromium checks EXCLUDE before any MAP, and the first matching MAP wins.
    rules = [f"MAP {name} {address}" for name, address in names.items() if address]
    rules.append("MAP * ~NOTFOUND")
    rules += [f"EXCLUDE {name}" for name, address in names.items() if not address]
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        # Root cannot run Chromium's sandbox; this browser only ever visits the testbed.
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW_SIZE[0]},{WINDOW_SIZE[1]}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
        f"--host-resolver-rules={', '.join(rules)}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), env={**os.environ, "HOME": str(home)})
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(timeout)
        driver.set_script_timeout(timeout)
    except WebDriverException:
        driver.quit()
        raise
    return driver


def _trust(ca_file: Path, home: Path) -> None:
    """Chromium on Linux takes local roots from the user's NSS database, not /etc/ssl."""
    certutil = shutil.which("certutil")
    if certutil is None:
        raise FileNotFoundError("certutil is missing; apt-get install libnss3-tools")
    database = home / ".pki" / "nssdb"
    database.mkdir(parents=True)
    for args in (
        ["-N", "--empty-password"],
        ["-A", "-t", "C,,", "-n", "testbed edge CA", "-i", str(ca_file)],
    ):
        subprocess.run([certutil, "-d", f"sql:{database}", *args], check=True, capture_output=True)


def wait_for(condition, timeout: float):
    """Poll `condition` until it returns something truthy or `timeout` passes; return it."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(WebDriverException):
            result = condition()
            if result:
                return result
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_SECONDS)


@contextlib.contextmanager
def quiet_webdriver_wire():
    """Keep secrets out of Selenium's DEBUG log of WebDriver traffic.

    It echoes typed keys, the network log (a login POST's body) and session cookies.
    """
    wire = logging.getLogger("selenium.webdriver.remote.remote_connection")
    level = wire.level
    wire.setLevel(max(logging.INFO, wire.getEffectiveLevel()))
    try:
        yield
    finally:
        wire.setLevel(level)
