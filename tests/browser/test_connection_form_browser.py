"""The ``business_central`` connection form as a user meets it: Airflow 3's UI in headless Chromium.

An API server (simple auth manager, every user admin, Test enabled) runs on loopback with a fresh
AIRFLOW_HOME; the connection points at the bundled emulator. Debian's ``chromium`` and
``chromium-driver`` are installed with apt when missing (``tests/browser/chromium.py``). Screenshots
of every step go to ``tests/browser/artifacts/`` (git-ignored); the README's
``docs/connection-form-empty.png`` is a copy of ``connection-form-business-central-section.png``,
``docs/connection-form-filled.png`` and ``docs/connection-test-success.png`` of those named so.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.common.exceptions import ElementClickInterceptedException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.chromium import ARTIFACTS, chrome_driver

CONN_ID = "bc_from_the_form"
WRONG_SECRET = "not-the-client-secret"
WAIT = 30  # seconds for anything the UI does (the API server shares 2 cores with other tests)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def airflow_ui_env(home: Path) -> dict[str, str]:
    """The environment of an Airflow 3 whose UI needs no login and whose Test button is on."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_CONN_")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
    )
    return env


@pytest.fixture(scope="module")
def airflow_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of an Airflow 3 API server (UI and REST API) on loopback, with an empty metadata DB."""
    home = tmp_path_factory.mktemp("airflow-ui-home")
    env = airflow_ui_env(home)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
    port = free_port()
    log = home / "api-server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _answers(f"{base}/api/v2/monitor/health"):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the API server did not start; its log:\n{log.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.5)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """Headless Chromium (Debian's), English UI, one window size for every screenshot."""
    with chrome_driver() as driver:
        yield driver


class ConnectionsPage:
    """Airflow 3's Connections page, through what a user sees and clicks."""

    def __init__(self, driver: WebDriver, base: str) -> None:
        self.driver = driver
        self.base = base
        self.wait = WebDriverWait(driver, WAIT)
        # a toast fading out may still lie over a button for a moment: click again until it is gone
        self._click_wait = WebDriverWait(driver, WAIT, ignored_exceptions=(ElementClickInterceptedException,))

    def open(self) -> None:
        self.driver.get(f"{self.base}/connections")
        self.visible(By.XPATH, "//button[normalize-space()='Add Connection']")

    def visible(self, by: str, selector: str) -> WebElement:
        element: WebElement = self.wait.until(ec.visibility_of_element_located((by, selector)))
        return element

    def click(self, by: str, selector: str) -> None:
        self.press(self.wait.until(ec.element_to_be_clickable((by, selector))))

    def press(self, button: WebElement) -> None:
        """Click ``button`` as soon as nothing lies over it."""
        self._click_wait.until(lambda _: button.click() is None)

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))

    def pick_type(self, hook_name: str) -> None:
        self.click(By.XPATH, "//button[normalize-space()='Add Connection']")
        combobox = self.visible(By.CSS_SELECTOR, "[role=dialog] input[role=combobox]")
        combobox.send_keys(hook_name)
        self.visible(By.XPATH, f"//*[@role='option'][normalize-space()='{hook_name}']")
        combobox.send_keys(Keys.ENTER)
        self.visible(By.NAME, "login")

    def section(self, title: str) -> None:
        """Open an accordion section of the form (Airflow opens one at a time)."""
        trigger = f"//button[@data-part='item-trigger'][normalize-space()='{title}']"
        if self.visible(By.XPATH, trigger).get_attribute("aria-expanded") != "true":
            self.click(By.XPATH, trigger)
        self.wait.until(lambda _: self.driver.find_element(By.XPATH, trigger).get_attribute("aria-expanded") == "true")

    def field_label(self, control: WebElement) -> tuple[str, bool]:
        """The label of a form control and whether it carries Airflow's required mark."""
        label = control.find_element(By.XPATH, "./ancestor::div[@data-part='root'][1]//label")
        required = bool(label.find_elements(By.CSS_SELECTOR, ".chakra-field__requiredIndicator"))
        return label.text.removesuffix("*").strip(), required

    def row_text(self, control: WebElement) -> str:
        """What the form shows around a control: its label, help and error text."""
        return str(control.find_element(By.XPATH, "./ancestor::div[@data-part='root'][1]").text)

    def type_into(self, control: WebElement, text: str) -> None:
        """Replace a React-controlled input's value the way a user does."""
        control.send_keys(Keys.CONTROL, "a")
        control.send_keys(Keys.DELETE)
        control.send_keys(text)

    def save(self) -> None:
        save = self.visible(By.XPATH, "//*[@role='dialog']//button[normalize-space()='Save']")
        self.wait.until(lambda _: save.is_enabled())
        self.press(save)
        self.wait.until(ec.invisibility_of_element_located((By.CSS_SELECTOR, "[role=dialog]")))

    def row_button(self, conn_id: str, label: str) -> str:
        return f"//tr[td[normalize-space()='{conn_id}']]//button[@aria-label='{label}']"

    def test_and_read_toast(self, conn_id: str, title: str, contains: str) -> str:
        """Press the row's Test button; the description of the toast titled ``title`` that says ``contains``."""
        self.click(By.XPATH, self.row_button(conn_id, "Test Connection"))
        toast = self.visible(
            By.XPATH,
            "//*[@data-scope='toast'][@data-part='root'][@data-state='open']"
            f"[.//*[@data-part='title'][normalize-space()='{title}']]"
            f"[.//*[@data-part='description'][contains(., {json.dumps(contains)})]]",
        )
        # textContent, not .text: while the toast animates in, Selenium may see it as not displayed and give ""
        description = toast.find_element(By.CSS_SELECTOR, "[data-part=description]")
        return " ".join((description.get_attribute("textContent") or "").split())


def portless_test_is_refused() -> bool:
    """Whether this Airflow's Test refuses a connection saved without a port: the UI sends ``port: 0``
    for it, and Airflow 3.3.1 to 3.3.2 compare that with the stored NULL (apache/airflow#73298)."""
    from airflow.api_fastapi.core_api.routes.public.connections import _same_endpoint

    return not _same_endpoint(0, None)


def test_connection_form_save_test_and_wrong_secret(airflow_ui: str, browser: WebDriver, bc_emulator: Any) -> None:
    """Pick the type, read the labels and required marks, fill all but the tenant, save, Test (names tenant_id),
    add the tenant, Test (success), set a wrong secret, Test (error): what a user sees at each step."""
    connection = bc_emulator.airflow_connection()
    page = ConnectionsPage(browser, airflow_ui)
    page.open()
    page.pick_type("Microsoft Dynamics 365 Business Central")

    # the standard fields: relabelled, required ones say so, schema and port hidden
    login, password, host = (page.visible(By.NAME, name) for name in ("login", "password", "host"))
    assert [page.field_label(c)[0] for c in (login, password, host)] == ["Client ID", "Client Secret", "API host"]
    assert login.get_attribute("placeholder") == "Entra application (client) ID; basic: user name"
    assert password.get_attribute("placeholder") == "Client secret; certificate: key passphrase; basic: access key"
    assert host.get_attribute("placeholder") == "https://api.businesscentral.dynamics.com"
    assert not browser.find_elements(By.NAME, "port") and not browser.find_elements(By.NAME, "schema")
    sections = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "[role=dialog] [data-part=item-trigger]")]
    assert sections == ["Standard Fields", "Business Central", "Advanced", "Extra Fields JSON"]
    page.screenshot("connection-form-empty")

    # the Business Central section: nothing required (basic needs no tenant), defaults shown as help, nothing pre-filled
    page.section("Business Central")
    tenant = page.visible(By.ID, "element_tenant_id")
    environment = page.visible(By.ID, "element_environment")
    assert page.field_label(tenant) == ("Tenant ID", False)
    assert page.field_label(environment) == ("Environment", False)
    assert page.field_label(page.visible(By.ID, "element_company_id")) == ("Default company ID", False)
    assert tenant.get_attribute("required") is None and "This field is required" not in page.row_text(tenant)
    assert "every auth type but basic" in page.row_text(tenant)
    assert environment.get_attribute("value") == ""
    assert "When empty: production" in page.row_text(environment)
    page.screenshot("connection-form-business-central-section")

    # fill it as a user would, but for the tenant: the emulator's API host, its Entra authority and its CA bundle
    page.section("Advanced")
    page.type_into(page.visible(By.ID, "element_authority"), connection["extra"]["authority"])
    page.type_into(page.visible(By.ID, "element_verify"), connection["extra"]["verify"])
    page.section("Standard Fields")
    page.type_into(page.visible(By.NAME, "connection_id"), CONN_ID)
    page.type_into(page.visible(By.NAME, "host"), connection["host"])
    page.type_into(page.visible(By.NAME, "login"), connection["login"])
    password = page.visible(By.NAME, "password")
    page.type_into(password, connection["password"])
    assert password.get_attribute("type") == "password"  # masked while typed
    page.screenshot("connection-form-filled")
    page.save()

    stored = requests.get(f"{airflow_ui}/api/v2/connections/{CONN_ID}", timeout=10).json()
    assert stored["password"] == "***"
    extra = json.loads(stored["extra"])
    assert {key for key, value in extra.items() if value is not None} == {"authority", "verify"}
    assert stored["port"] is None

    if portless_test_is_refused():
        refused = page.test_and_read_toast(CONN_ID, "Test Connection Failed", "Bad Request")
        page.screenshot("connection-test-bad-request")
        assert refused == "Bad Request"
        # the README's workaround: give the connection port 0, which is what the UI's Test sends
        requests.patch(
            f"{airflow_ui}/api/v2/connections/{CONN_ID}",
            params={"update_mask": "port"},
            json={"connection_id": CONN_ID, "conn_type": "business_central", "port": 0},
            timeout=10,
        ).raise_for_status()
        page.open()
    missing = page.test_and_read_toast(CONN_ID, "Test Connection Failed", "tenant_id")
    page.screenshot("connection-test-missing-tenant")
    assert missing.startswith("Business Central setting 'tenant_id': missing: auth_type client_secret gets its token")
    assert "set extra 'tenant_id' (the form's Tenant ID)" in missing

    # add the tenant: Test connects
    page.click(By.XPATH, page.row_button(CONN_ID, "Edit Connection"))
    page.section("Business Central")
    page.type_into(page.visible(By.ID, "element_tenant_id"), connection["extra"]["tenant_id"])
    page.save()
    stored = requests.get(f"{airflow_ui}/api/v2/connections/{CONN_ID}", timeout=10).json()
    assert json.loads(stored["extra"])["tenant_id"] == connection["extra"]["tenant_id"]
    message = page.test_and_read_toast(CONN_ID, "Test Connection Successful", "Connected")
    page.screenshot("connection-test-success")
    names = ", ".join(company["name"] for company in bc_emulator.companies)
    assert message == f"Connected to environment 'production': {len(bc_emulator.companies)} companies ({names})"

    # a wrong secret: the form shows the stored one masked, Test names what Entra said
    page.click(By.XPATH, page.row_button(CONN_ID, "Edit Connection"))
    page.section("Standard Fields")
    password = page.visible(By.NAME, "password")
    assert password.get_attribute("value") == "***" and password.get_attribute("type") == "password"
    page.type_into(password, WRONG_SECRET)
    page.save()
    error = page.test_and_read_toast(CONN_ID, "Test Connection Failed", "invalid_client")
    page.screenshot("connection-test-wrong-secret")
    assert error.startswith(f"Entra ID refused a token for client id {connection['login']}")
    assert WRONG_SECRET not in error and "connection '" not in error
    assert connection["password"] not in browser.page_source
    print(f"screenshots: {ARTIFACTS}")
