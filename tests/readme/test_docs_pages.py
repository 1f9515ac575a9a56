"""The README is the five-minute start and the site (``docs/``) holds the rest: the README stays short, and
no section of the README as it was before the site (0.1.0's, 829+ lines) was lost on the way: each is a
heading of the README or of a page of the site."""

from __future__ import annotations

import re
import subprocess
import sys

from airflow_provider_bc.hooks.connection_fields import conn_fields, ui_field_behaviour
from airflow_provider_bc.testing import demo
from tests.doc_blocks import DOCS, README, documents
from tests.support import REPO

README_MAX_LINES = 250
#: the sections of the README before the site, each to be found as a heading somewhere
SECTIONS_BEFORE_THE_SITE = (
    "The two commands",
    "Install",
    "The connection",
    "Authentication (`auth_type`)",
    "On-premises, other clouds, several tenants",
    "In the Airflow UI",
    "The hook",
    "What it does for you on a long run",
    "Failures and retries",
    "Operators",
    "Sensors",
    "Check many entries",
    "Many deferred sensors in one triggerer",
    "Extract a ledger",
    "The first run",
    "Incremental runs",
    "Deletes: tombstones",
    "Every company, on a schedule, within Business Central's limits",
    "Reconcile against the warehouse",
    "Start DAGs when entries are posted",
    "Example DAGs (`dags_examples/`)",
    "The emulator: Business Central without a tenant",
    "Run the examples in your own Airflow",
    "In your own tests",
    "Emulator reference",
    "Development",
)
#: sections renamed on their way into the site: old title -> the heading now
RENAMED = {
    "Operators": "Fetch an entity",
    "Sensors": "Wait for an entity",
    "Example DAGs (`dags_examples/`)": "Example DAGs",
}


def test_the_readme_is_a_five_minute_start() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES
    assert "not yet run in CI" not in README.read_text(encoding="utf-8")


def test_every_section_of_the_readme_before_the_site_is_a_heading_now() -> None:
    headings = {
        match.group(1).strip()
        for document in documents()
        for match in re.finditer(r"^#{1,4} (.+)$", document.read_text(encoding="utf-8"), re.M)
    }
    lost = [old for old in SECTIONS_BEFORE_THE_SITE if RENAMED.get(old, old) not in headings]
    assert lost == []


def test_the_emulator_reference_lists_every_option_of_the_emulator() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "airflow_provider_bc.testing.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    options = set(re.findall(r"(--[a-z][a-z-]+)", shown)) - {"--help"}
    reference = (DOCS / "emulator-reference.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(--[a-z-]+)", reference, re.M)) | set(
        re.findall(r"^\| `--[a-z-]+`, `(--[a-z-]+)`", reference, re.M)
    )
    assert {"--host", "--on-premises-valid-audiences"} <= options
    assert sorted(options - listed) == []


def test_the_connection_page_names_every_field_of_the_form() -> None:
    page = " ".join((DOCS / "connection.md").read_text(encoding="utf-8").split())
    behaviour = ui_field_behaviour()["relabeling"]
    labels = [field["label"] for field in conn_fields().values()] + [behaviour[name] for name in ("login", "password")]
    assert [label for label in labels if f"*{label}*" not in page] == []


def test_getting_started_says_where_the_demo_writes_as_the_demo_does() -> None:
    page = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    places = (demo.HOME, demo.METADATA_DB, demo.TASK_LOGS, demo.LAKE, demo.WAREHOUSE, demo.REPORTS)
    places += (demo.EVENT_HOME, demo.EVENT_LOGS, demo.EVENT_LAKE)
    assert [p for p in places if f"`{p.relative_to(REPO)}" not in page] == []
