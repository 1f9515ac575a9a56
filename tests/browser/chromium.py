"""Headless Chromium for the browser tests: Debian's ``chromium`` and ``chromium-driver``, installed with
apt when missing (as root; otherwise the test fails saying what to install). Screenshots go to
``ARTIFACTS`` (git-ignored)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support import apt_install

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def ensure_chromium() -> None:
    """Install Debian's chromium and chromium-driver when missing (as root, with apt)."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    apt_install(["chromium", "chromium-driver"], f"the browser test needs {CHROMIUM} and {CHROMEDRIVER}")


@contextmanager
def chrome_driver(width: int = 1280, height: int = 1000) -> Iterator[WebDriver]:
    """Headless Chromium (Debian's, installed when missing), English UI, a ``width`` x ``height`` window;
    quit on leaving."""
    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.add_argument("--lang=en-US")
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    # Selenium logs every keystroke it sends (a client secret typed into a form) at DEBUG
    selenium_log = logging.getLogger("selenium")
    level = selenium_log.level
    selenium_log.setLevel(logging.INFO)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        selenium_log.setLevel(level)
