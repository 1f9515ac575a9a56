"""Headless Chromium for the browser tests: Debian's ``chromium`` and ``chromium-driver``, installed with
apt when missing (as root; otherwise the test fails saying what to install). Screenshots go to
``ARTIFACTS`` (git-ignored)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT_INSTALL = ["apt-get", "install", "-y", "chromium", "chromium-driver"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def ensure_chromium() -> None:
    """Install Debian's chromium and chromium-driver when missing (as root, with apt)."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(
            f"the browser test needs {CHROMIUM} and {CHROMEDRIVER}: as root, run `{' '.join(APT_INSTALL)}`",
            pytrace=False,
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(APT_INSTALL, env=env, capture_output=True, text=True)
    if done.returncode != 0:  # stale package lists: refresh them once
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        done = subprocess.run(APT_INSTALL, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(APT_INSTALL)}` failed:\n{done.stderr[-2000:]}", pytrace=False)


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
