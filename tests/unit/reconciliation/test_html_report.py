"""A reconciliation report as one HTML page (``reconciliation/html_report.py``): every count in the summary,
samples as kept with ``and N more``, hostile values shown as text, the page parsed with ``html.parser``."""

from __future__ import annotations

from collections import defaultdict
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.reconciliation.html_report import render_html
from tests.reconciliation.sample_report import REPORT, report

#: the only tags the page is made of
EMITTED = {
    *("html", "head", "meta", "title", "style", "body", "h1", "h2", "section", "div", "p", "ul", "li", "span"),
    *("table", "thead", "tbody", "tr", "th", "td"),
}
VOID = {"meta"}
#: the only attributes: no src, href, style or event handler
ATTRIBUTES = {"lang", "charset", "http-equiv", "content", "name", "id", "class", "scope", "rowspan"}
KINDS = ("missing", "extra", "duplicate_business_central", "duplicate_warehouse", "changed", "totals")
HOSTILE = '<script>alert("x")</script>\'"&amp;<img src=x onerror=alert(1)>'


class Page(HTMLParser):
    """A rendered page parsed: its tags and attributes, its text, the text of each tag and of each id, each
    id's ancestors' ids, the cells under each id. Fails on an end tag that closes no open element, or an
    element left open."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []
        self.text = ""
        self.by_tag: defaultdict[str, list[str]] = defaultdict(list)
        self.by_id: dict[str, str] = {}
        self.ancestors: dict[str, list[str]] = {}
        self.cells: defaultdict[str, list[str]] = defaultdict(list)
        self.open: list[tuple[str, str | None, int]] = []
        self.feed(page)
        self.close()
        assert not self.open, f"left open: {self.open}"

    def ids(self) -> list[str]:
        return [ident for _, ident, _ in self.open if ident]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += attrs
        ident = dict(attrs).get("id")
        if ident:
            assert ident not in self.ancestors, f"id {ident} twice"
            self.ancestors[ident] = self.ids()
        if tag not in VOID:
            self.open.append((tag, ident, len(self.text)))

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1][0] == tag, f"</{tag}> closes {self.open[-1:]}"
        _, ident, start = self.open.pop()
        self.by_tag[tag].append(self.text[start:])
        if ident:
            self.by_id[ident] = self.text[start:]
        if tag in ("td", "th"):
            for outer in self.ids():
                self.cells[outer].append(self.text[start:])

    def handle_data(self, data: str) -> None:
        self.text += data


def anchor(kind: str) -> str:
    return kind.replace("_", "-")


def shown(text: str) -> str:
    """How the page shows a string: a character that would not show as its code point."""
    return "".join(c if c.isprintable() or c in "\t\n" else f"U+{ord(c):04X}" for c in text)


def test_the_summary_shows_every_count_and_both_sides() -> None:
    page = Page(render_html(REPORT))
    for kind in KINDS:
        ident = f"count-{anchor(kind)}"
        assert page.by_id[ident] == f"{REPORT['counts'][kind]:,}", kind
        assert page.ancestors[ident][:2] == ["summary", "counts"]
    for side in ("business_central", "warehouse"):
        assert page.by_id[f"rows-{anchor(side)}"] == f"{REPORT['rows'][side]:,}"
        assert page.by_id[f"requests-{anchor(side)}"] == str(REPORT["requests"][side])
        assert "summary" in page.ancestors[f"rows-{anchor(side)}"]
    assert page.by_id["rows-business-central"] == "1,000,000"
    assert page.by_id["gaps"] == "12"
    summary = page.by_id["summary"]
    assert "numbers with no entry in Business Central (sequence gaps, deleted entries), not misses" in summary
    for text in (
        "itemLedgerEntries",
        REPORT["company_id"],
        "postingDate 2022-06-02 … 2022-06-03",
        "public.item_ledger",
    ):
        assert text in summary
    assert "2022-06-02T17:00:00Z" in page.cells["sides"] and "unknown" in page.cells["sides"]
    assert "2026-12-07T07:00:12+00:00 (12.5 s)" in page.cells["run"]
    assert page.by_id["verdict"] == "Failed"
    assert page.by_id["failed"] == "missing: 3 > 0extra: 1 > 0"
    assert "nothing-differs" not in page.by_id
    # the summary comes first: before the first section of samples
    assert page.text.index(page.by_id["summary"]) < page.text.index(page.by_id["missing"])


def test_title_names_the_entity_set_and_the_window() -> None:
    page = Page(render_html(REPORT))
    assert page.by_tag["title"] == page.by_tag["h1"] == ["Reconciliation: itemLedgerEntries 2022-06-02 … 2022-06-03"]
    assert page.by_tag["h2"] == ["Missing: 3", "Extra: 1", "Duplicates in the warehouse: 4", "Changed: 2", "Totals"]
    untimed = Page(render_html(report(window=None, gaps=None)))
    assert untimed.by_tag["title"] == ["Reconciliation: itemLedgerEntries"]
    assert "none: every row" in untimed.cells["run"]
    assert untimed.by_id["gaps"] == "not counted"


def test_samples_are_those_the_report_holds_with_how_many_more() -> None:
    page = Page(render_html(REPORT))
    assert page.cells["missing"] == ["entryNumber", "17", "42", "43"]  # 3 counted, 3 kept: no "more"
    assert "more" not in page.by_id["missing"]
    assert page.cells["duplicate-warehouse"] == ["entryNumber", "55"]
    assert page.by_id["duplicate-warehouse"].endswith("and 3 more")
    assert "duplicate-business-central" not in page.by_id  # none: no section
    many = report(counts={**REPORT["counts"], "extra": 12_345})
    assert Page(render_html(many)).by_id["extra"].endswith("and 12,344 more")


def test_changed_rows_show_both_values_and_the_difference_per_field() -> None:
    page = Page(render_html(REPORT))
    cells = page.cells["changed"]
    assert cells[:6] == ["Field", "Rows changed", "quantity", "1", "costAmountActual", "1"]
    assert cells[6:] == [
        *("entryNumber", "Field", "Business Central", "Warehouse", "Difference"),
        *("10", "quantity", "5", "6", "1"),
        *("11", "costAmountActual", "10.5", "10", "0.5"),
    ]
    totals = page.cells["totals"]
    assert totals == [
        *("postingDate", "itemNumber", "Field", "Business Central", "Warehouse", "Difference"),
        *("2022-06-02", "1100", "quantity", "10", "12", "2"),
    ]
    assert "40 groups, 5 beyond tolerance" in page.by_id["totals"]
    assert page.by_id["totals"].endswith("and 4 more")


def test_a_counts_report_shows_what_it_did_not_check() -> None:
    notes = ["changed values: the counts strategy compares the keys only", "totals: not asked for"]
    counts = {kind: 0 for kind in KINDS if kind not in ("changed", "totals")} | {"missing": 2}
    samples = {"missing": [1, 2]}
    page = Page(render_html(report(strategy="counts", counts=counts, samples=samples, totals=None, not_checked=notes)))
    assert page.by_id["not-checked"] == "Not checked" + "".join(notes)
    assert page.by_id["count-changed"] == page.by_id["count-totals"] == "not counted"
    assert "changed" not in page.by_id and "totals" not in page.by_id
    assert "counts" in page.cells["run"]
    assert "not-checked" not in Page(render_html(REPORT)).by_id


def test_a_report_without_differences_says_nothing_differs() -> None:
    empty = report(
        counts=dict.fromkeys(KINDS, 0),
        changed_by_field={},
        samples={kind: [] for kind in KINDS if kind != "totals"},
        totals=None,
        gaps=0,
        failed=[],
    )
    page = Page(render_html(empty))
    assert page.by_id["nothing-differs"] == "Nothing differs in what this run checked."
    assert page.by_id["verdict"] == "Passed" and "failed" not in page.by_id
    assert not {anchor(kind) for kind in KINDS} & page.by_id.keys()
    assert all(page.by_id[f"count-{anchor(kind)}"] == "0" for kind in KINDS)


def test_hostile_values_are_shown_as_text() -> None:
    long = "x" * 100_000
    hostile = report(
        entity_set=HOSTILE,
        company_id=HOSTILE,
        key=HOSTILE,
        filter=HOSTILE,
        failed=[HOSTILE],
        not_checked=[HOSTILE],
        changed_by_field={HOSTILE: 1},
        warehouse={"connection": HOSTILE, "source": "query"},
    )
    hostile["samples"]["missing"] = [HOSTILE, long, "right\u202eleft\x00\x1b[31m"]
    hostile["samples"]["changed"][0]["fields"][0].update(field=HOSTILE, warehouse=HOSTILE)
    hostile["totals"]["samples"][0]["group"]["itemNumber"] = HOSTILE
    rendered = render_html(hostile)
    page = Page(rendered)
    assert page.tags <= EMITTED, page.tags - EMITTED
    assert {name for name, _ in page.attributes} <= ATTRIBUTES
    assert page.by_tag["title"] == [f"Reconciliation: {HOSTILE} 2022-06-02 … 2022-06-03"]
    assert "<script" not in rendered.lower() and "<img" not in rendered.lower()
    assert page.text.count(HOSTILE) >= 12
    assert HOSTILE in page.cells["missing"] and long in page.cells["missing"]
    assert "rightU+202EleftU+0000U+001B[31m" in page.cells["missing"]
    assert "\u202e" not in rendered and "\x00" not in rendered


def test_the_page_fetches_nothing_and_runs_nothing() -> None:
    rendered = render_html(REPORT)
    page = Page(rendered)
    assert {name for name, _ in page.attributes} <= ATTRIBUTES
    assert ("http-equiv", "Content-Security-Policy") in page.attributes
    assert ("content", "default-src 'none'; style-src 'unsafe-inline'") in page.attributes
    assert "url(" not in rendered and "@import" not in rendered and "//" not in rendered


@given(st.lists(st.text(), min_size=1, max_size=8), st.text(), st.text())
def test_any_strings_in_samples_parse_to_the_emitted_tags_and_read_as_given(
    keys: list[str], value: str, group: str
) -> None:
    hostile = report()
    hostile["samples"]["extra"] = keys
    hostile["samples"]["changed"][0]["fields"][0].update(business_central=value, difference=value)
    hostile["totals"]["samples"][0]["group"]["postingDate"] = group
    page = Page(render_html(hostile))
    assert page.tags <= EMITTED and {name for name, _ in page.attributes} <= ATTRIBUTES
    extra = page.cells["extra"][1:]
    assert extra == [shown(key) or "(empty)" for key in keys]
    assert shown(value) in page.cells["changed"] or value == ""
    assert shown(group) in page.cells["totals"] or group == ""
