"""A reconciliation report (``airflow_provider_bc.reconciliation.html_report``) as a person sees it: the
page written to a file and opened in headless Chromium (``tests/browser/chromium.py``). The counts the
page shows are those of the report, the whole summary fits the first screen, and a hostile value stays
text. The screenshot goes to ``tests/browser/artifacts/reconcile-report.png`` and to the README's
``docs/reconcile-report.png``."""

from __future__ import annotations

import struct
from pathlib import Path

from selenium.webdriver.common.by import By

from airflow_provider_bc.reconciliation.html_report import render_html
from tests.browser.chromium import ARTIFACTS, chrome_driver
from tests.reconciliation.sample_report import REPORT as SAMPLE
from tests.reconciliation.sample_report import report
from tests.support import REPO

SCREENSHOT = "reconcile-report.png"
WIDTH, HEIGHT = 1280, 1000
HOSTILE = "<script>document.title = 'ran'</script><img src=x onerror=\"document.title = 'ran'\">"
SIDES = ("business_central", "warehouse")
REPORT = report(
    filter="locationCode eq 'EAST'",
    counts={**SAMPLE["counts"], "missing": 14},
    samples={**SAMPLE["samples"], "missing": [17, 42, 43, 1017, 5120]},
    failed=["missing: 14 > 0", "extra: 1 > 0"],
)
REPORT["samples"]["changed"][1]["fields"] = [
    {"field": "description", "business_central": "Bicycle", "warehouse": HOSTILE, "difference": None}
]
REPORT["changed_by_field"] = {"quantity": 1, "description": 1}


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG (its IHDR chunk)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def test_reconcile_report_shows_the_report_counts_in_its_summary(tmp_path: Path) -> None:
    page = tmp_path / "reconcile-report.html"
    page.write_text(render_html(REPORT), encoding="utf-8")
    with chrome_driver(WIDTH, HEIGHT) as driver:
        driver.get(page.as_uri())

        def number(ident: str) -> int:
            return int(driver.find_element(By.ID, ident).text.replace(",", ""))

        assert driver.title == "Reconciliation: itemLedgerEntries 2022-06-02 … 2022-06-03"
        shown = {kind: number(f"count-{kind.replace('_', '-')}") for kind in REPORT["counts"]}
        assert shown == REPORT["counts"]
        for side in SIDES:
            assert number(f"rows-{side.replace('_', '-')}") == REPORT["rows"][side]
            assert number(f"requests-{side.replace('_', '-')}") == REPORT["requests"][side]
        assert number("gaps") == REPORT["gaps"]
        assert driver.find_element(By.ID, "verdict").text == "Failed"
        assert driver.find_element(By.ID, "failed").text.splitlines() == REPORT["failed"]
        assert driver.find_element(By.ID, "missing").text.endswith("and 9 more")

        # the hostile value is text on the page: no element made of it, nothing of it ran
        assert not driver.find_elements(By.TAG_NAME, "script") and not driver.find_elements(By.TAG_NAME, "img")
        assert HOSTILE in driver.find_element(By.ID, "changed").text

        png = driver.get_screenshot_as_png()
        bottom = max(e.rect["y"] + e.rect["height"] for e in driver.find_elements(By.CSS_SELECTOR, "#summary table"))
    assert png_size(png)[1] >= bottom, "the summary does not fit the first screen"
    ARTIFACTS.mkdir(exist_ok=True)
    for folder in (ARTIFACTS, REPO / "docs"):
        (folder / SCREENSHOT).write_bytes(png)
    print(f"screenshot: {ARTIFACTS / SCREENSHOT}")
