"""The documentation site as a reader sees it: ``docs/`` built with Sphinx (warnings as errors, as
``python3 dev.py docs`` builds it) into a temporary folder and opened in headless Chromium
(``tests/browser/chromium.py``): the index's navigation leads to every how-to page, the connection page
shows the form's screenshots and the README's connection, a how-to shows the example DAG included from
``dags_examples/``, and the API reference documents the hook from its docstring. Screenshots go to
``tests/browser/artifacts/`` and to ``docs/site-*.png``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from tests.browser.chromium import ARTIFACTS, chrome_driver
from tests.support import EXAMPLE_DAGS, REPO

HOW_TOS = {  # page -> its title in the navigation
    "howto/hook": "The hook",
    "howto/fetch": "Fetch an entity",
    "howto/wait": "Wait for an entity",
    "howto/many-entries": "Check many entries",
    "howto/extract": "Extract a ledger",
    "howto/reconcile": "Reconcile against the warehouse",
    "howto/event-driven": "Start DAGs when entries are posted",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site's folder (any Sphinx warning fails the build, and this test)."""
    out = tmp_path_factory.mktemp("site")
    sphinx = Path(sys.executable).with_name("sphinx-build")
    built = subprocess.run(
        [sphinx, "-W", "--keep-going", "-q", "-b", "html", REPO / "docs", out],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return out


def screenshot(driver: WebDriver, name: str) -> None:
    png = driver.get_screenshot_as_png()
    ARTIFACTS.mkdir(exist_ok=True)
    for folder in (ARTIFACTS, REPO / "docs"):
        (folder / name).write_bytes(png)


def test_the_index_navigation_leads_to_every_how_to(site: Path) -> None:
    with chrome_driver() as driver:
        driver.get((site / "index.html").as_uri())
        assert driver.find_element(By.TAG_NAME, "h1").text.startswith("Business Central provider for Apache Airflow")
        navigation = {
            link.get_attribute("textContent").strip(): link.get_attribute("href")
            for link in driver.find_elements(By.CSS_SELECTOR, ".sidebar-tree a.reference")
        }
        for page, title in HOW_TOS.items():
            assert navigation.get(title, "").endswith(f"/{page}.html"), (title, sorted(navigation))
        for title in ("Getting started", "The connection", "Failures and retries", "Python API reference"):
            assert title in navigation
        for title in ("Security", "Changelog", "Limits and performance", "Emulator reference"):
            assert title in navigation
        screenshot(driver, "site-index.png")
        driver.find_element(By.LINK_TEXT, "Extract a ledger").click()
        assert driver.current_url.endswith("/howto/extract.html")
        assert driver.find_element(By.TAG_NAME, "h1").text.startswith("Extract a ledger")


def test_the_connection_page_shows_the_form_and_the_readme_connection(site: Path) -> None:
    with chrome_driver() as driver:
        driver.get((site / "connection.html").as_uri())
        assert driver.find_element(By.TAG_NAME, "h1").text.startswith("The connection")
        images = driver.find_elements(By.CSS_SELECTOR, "article img")
        shown = {
            Path(img.get_attribute("src")).name
            for img in images
            if driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
        }
        assert {"connection-form-empty.png", "connection-form-filled.png", "connection-test-success.png"} <= shown
        code = " ".join(block.text for block in driver.find_elements(By.CSS_SELECTOR, "article pre"))
        assert "AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT" in code  # the README's block, included
        auth_types = driver.find_element(By.ID, "authentication-auth-type").text
        for auth_type in ("client_secret", "certificate", "workload_identity", "managed_identity", "basic"):
            assert auth_type in auth_types
        screenshot(driver, "site-connection.png")


def test_a_how_to_shows_its_example_dag_and_the_api_reference_the_hook(site: Path) -> None:
    example = (EXAMPLE_DAGS / "bc_fetch_item_ledger_entry.py").read_text(encoding="utf-8")
    with chrome_driver() as driver:
        driver.get((site / "howto" / "fetch.html").as_uri())
        blocks = [block.text for block in driver.find_elements(By.CSS_SELECTOR, "article pre")]
        assert example.strip() in blocks, "the example DAG is not on the page as it is in dags_examples/"
        screenshot(driver, "site-howto-fetch.png")

        driver.get((site / "api.html").as_uri())
        hook = driver.find_element(By.ID, "airflow_provider_bc.hooks.business_central.BusinessCentralHook")
        entry = hook.find_element(By.XPATH, "..")
        summary = (BusinessCentralHook.__doc__ or "").strip().splitlines()[0].replace("``", "")
        assert summary and summary in " ".join(entry.text.split())
        assert driver.find_element(
            By.ID, "airflow_provider_bc.hooks.business_central.BusinessCentralHook.get_item_ledger_entry"
        )
