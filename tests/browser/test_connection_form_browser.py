"""The ``business_central`` connection form as a user meets it: Airflow 3's UI in headless Chromium.

An API server (simple auth manager, every user admin, Test enabled) runs on loopback with a fresh
AIRFLOW_HOME; the connection points at the bundled emulator. Debian's ``chromium`` and
``chromium-driver`` are installed with apt when missing (``tests/browser/chromium.py``). Screenshots
of every step go to ``tests/browser/artifacts/`` (git-ignored); three are written to ``docs/`` too, for
the README: ``docs/connection-form-empty.png`` (a fresh form's Business Central section, as
``connection-form-business-central-section.png``), ``docs/connection-form-filled.png`` and
``docs/connection-test-success.png``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from airflow_provider_bc.hooks.connection_fields import EXTRA_FIELDS, UI_FIELD_BEHAVIOUR
from tests.browser.chromium import ARTIFACTS, chrome_driver
from tests.support import REPO

CONN_ID = "bc_from_the_form"
#: the screenshots the README shows: docs/<key>.png is a copy of ARTIFACTS/<value>.png, the step's screenshot
DOCS_SCREENSHOTS = {
    "connection-form-empty": "connection-form-business-central-section",
    "connection-form-filled": "connection-form-filled",
    "connection-test-success": "connection-test-success",
}
SECTIONS = ["Standard Fields", "Business Central", "Advanced", "Timeouts, retries and limits", "Extra Fields JSON"]
#: the form row of a control: the nearest root part holding a label (a number input has a root part of its own)
FIELD_ROW = "./ancestor::div[@data-part='root'][.//label][1]"
NULL = re.compile(r"\bnull\b", re.IGNORECASE)
#: the width of a control's placeholder and the room its box gives it, in CSS pixels
PLACEHOLDER_FIT = """
const control = arguments[0], style = getComputedStyle(control);
const context = document.createElement("canvas").getContext("2d");
context.font = style.font;
const room = control.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
return [context.measureText(control.placeholder).width, room];
"""
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
        label = control.find_element(By.XPATH, f"{FIELD_ROW}//label")
        required = bool(label.find_elements(By.CSS_SELECTOR, ".chakra-field__requiredIndicator"))
        return label.text.removesuffix("*").strip(), required

    def row_text(self, control: WebElement) -> str:
        """What the form shows around a control: its label, help and error text."""
        return str(control.find_element(By.XPATH, FIELD_ROW).text)

    def dialog_text(self) -> str:
        """What the open dialog shows: its text, and the values and placeholders of its inputs."""
        dialog = self.visible(By.CSS_SELECTOR, "[role=dialog]")
        shown = [dialog.text]
        for control in dialog.find_elements(By.CSS_SELECTOR, "input, textarea"):
            if control.is_displayed():
                shown += [control.get_attribute("value") or "", control.get_attribute("placeholder") or ""]
        return "\n".join(shown)

    def placeholder_fits(self, control: WebElement) -> bool:
        """Whether ``control`` shows its whole placeholder (not cut off at its right edge)."""
        width, room = self.driver.execute_script(PLACEHOLDER_FIT, control)
        return bool(width <= room)

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

    def wait_for_no_toast(self) -> None:
        """Wait until no toast is shown. The pointer is moved off them first: the toasts come where the dialog's
        Save button was, and a toast under the pointer stays (with every other)."""
        ActionChains(self.driver).move_to_element(self.driver.find_element(By.TAG_NAME, "body")).perform()
        self.wait.until(lambda _: not self.driver.find_elements(By.CSS_SELECTOR, "[data-scope=toast][data-part=root]"))


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

    # the standard fields: relabelled, placeholders (shown whole) saying when each is required, schema and port hidden
    login, password, host = (page.visible(By.NAME, name) for name in ("login", "password", "host"))
    assert [page.field_label(c)[0] for c in (login, password, host)] == ["Client ID", "Client Secret", "API host"]
    placeholders = UI_FIELD_BEHAVIOUR["placeholders"]
    assert login.get_attribute("placeholder") == placeholders["login"]
    assert password.get_attribute("placeholder") == placeholders["password"]
    assert host.get_attribute("placeholder") == "https://api.businesscentral.dynamics.com"
    assert [page.placeholder_fits(control) for control in (login, password, host)] == [True, True, True]
    assert not browser.find_elements(By.NAME, "port") and not browser.find_elements(By.NAME, "schema")
    sections = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "[role=dialog] [data-part=item-trigger]")]
    assert sections == SECTIONS
    page.screenshot("connection-form-empty")

    # the Business Central section: nothing required (basic needs no tenant), defaults shown as help, nothing
    # pre-filled; Authentication shows what its empty value means, not "null" (issue 22)
    page.section("Business Central")
    tenant = page.visible(By.ID, "element_tenant_id")
    environment = page.visible(By.ID, "element_environment")
    auth_type = page.visible(By.ID, "element_auth_type")
    assert page.field_label(tenant) == ("Tenant ID", False)
    assert page.field_label(environment) == ("Environment", False)
    assert page.field_label(auth_type) == ("Authentication", False)
    assert page.field_label(page.visible(By.ID, "element_company_id")) == ("Default company ID", False)
    assert tenant.get_attribute("required") is None and "This field is required" not in page.row_text(tenant)
    assert "every auth type but basic" in page.row_text(tenant)
    assert environment.get_attribute("value") == ""
    assert "When empty: production" in page.row_text(environment)
    assert auth_type.text.splitlines()[0] == "Default (client_secret)"
    assert "Client ID / Client Secret for each type." in page.row_text(auth_type)
    page.screenshot("connection-form-business-central-section")

    # the timeouts, retries and limits: number fields, empty, the default in their help
    page.section("Timeouts, retries and limits")
    for name in ("timeout", "connect_timeout", "max_retries", "backoff_factor", "backoff_max", "retry_after_max"):
        control = page.visible(By.NAME, f"element_{name}")  # Chakra's number input: the name is the input's
        assert page.field_label(control) == (EXTRA_FIELDS[name].label, False)
        assert control.get_attribute("value") == "" and control.get_attribute("inputmode") == "decimal"
        assert f"When empty: {EXTRA_FIELDS[name].default}." in page.row_text(control)
    for name in ("max_concurrent_requests", "max_requests_per_window", "request_window"):
        assert page.field_label(browser.find_element(By.NAME, f"element_{name}")) == (EXTRA_FIELDS[name].label, False)
    retries = page.visible(By.NAME, "element_max_retries")
    assert "One retry budget per request for every kind of failure together" in page.row_text(retries)
    page.screenshot("connection-form-timeouts-retries-limits")

    # no field of a fresh form shows "null", in its text, a value or a placeholder (the Extra Fields JSON
    # section is Airflow's view of the extra as it will be saved: JSON, where an empty field is null)
    for section in SECTIONS[:-1]:
        page.section(section)
        assert not NULL.search(page.dialog_text()), f"{section}: {page.dialog_text()}"

    # fill it as a user would, but for the tenant: the emulator's API host, its Entra authority and its CA bundle,
    # and 3 retries (a JSON number in the extra)
    page.section("Timeouts, retries and limits")
    page.type_into(page.visible(By.NAME, "element_max_retries"), "3")
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
    assert {key for key, value in extra.items() if value is not None} == {"authority", "verify", "max_retries"}
    assert extra["max_retries"] == 3 and extra["auth_type"] is None  # the default applies: client_secret
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
    page.wait_for_no_toast()  # the save's: the screenshot shows the test's alone
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
    for docs_name, step in DOCS_SCREENSHOTS.items():
        shutil.copyfile(ARTIFACTS / f"{step}.png", REPO / "docs" / f"{docs_name}.png")
    print(f"screenshots: {ARTIFACTS}")
