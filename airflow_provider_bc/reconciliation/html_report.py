"""A reconciliation report (the JSON-able dict) as one self-contained HTML page a person reads.

The summary comes first, then each kind of difference with its samples. Nothing is fetched and
nothing runs (a Content-Security-Policy allows inline CSS only). Every value is escaped, and any
character that would not show (controls, bidi overrides, zero-width and other format characters,
separators but the space) is shown as its code point (``U+202E``): a hostile value reads as text.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: each kind of difference, in the order shown: its heading and what it means
KINDS: dict[str, tuple[str, str]] = {
    "missing": ("Missing", "in Business Central, not in the warehouse"),
    "extra": ("Extra", "in the warehouse, not in Business Central (deleted there, or loaded into the wrong company)"),
    "duplicate_business_central": ("Duplicates in Business Central", "a key on more than one Business Central row"),
    "duplicate_warehouse": ("Duplicates in the warehouse", "a key on more than one warehouse row"),
    "changed": ("Changed", "in both, with fields that differ beyond their tolerance"),
    "totals": ("Totals", "groups whose sums differ beyond their tolerance"),
}
SIDES = {"business_central": "Business Central", "warehouse": "Warehouse"}
VALUE_COLUMNS = ("Field", "Business Central", "Warehouse", "Difference")

CSS = """body{font:15px/1.45 system-ui,sans-serif;color:#1f2328;max-width:75rem;margin:1.5rem auto;padding:0 1rem;
overflow-wrap:anywhere}
h1{font-size:1.45rem;margin:0 0 .8rem}h2{font-size:1.15rem;margin:1.8rem 0 .4rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.4rem 1.5rem .6rem 0}.tables{display:flex;flex-wrap:wrap;align-items:start}
th,td{border:1px solid #d0d7de;padding:.2rem .55rem;text-align:left;vertical-align:top}th{background:#f6f8fa}
td{white-space:pre-wrap;max-width:42rem}.null,.more,.note{color:#59636e;font-style:italic}
.verdict{display:inline-block;padding:.3rem .9rem;border-radius:4px;font-weight:600}
.passed{background:#dafbe1;color:#116329}.failed{background:#ffebe9;color:#a40e26}.nonzero{color:#a40e26;font-weight:600}
.cp{color:#8250df;font:.8em monospace;border:1px solid #c297ff;border-radius:3px;padding:0 .15em}"""


def _shown(text: str, mark: bool = True) -> str:
    """``text`` escaped; a character that would not show as its code point (in a marked span)."""
    if text.isprintable():
        return html.escape(text)
    point = '<span class="cp">U+{:04X}</span>' if mark else "U+{:04X}"
    return "".join(html.escape(c) if c.isprintable() or c in "\t\n" else point.format(ord(c)) for c in text)


def _text(value: Any, null: str = "null") -> str:
    """``value`` as escaped HTML: a string as it is, anything else as JSON; null and "" marked as such."""
    if value is None or value == "":
        return f'<span class="null">{null if value is None else "(empty)"}</span>'
    return _shown(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str))


def _count(value: Any, id_: str = "", alarm: bool = False) -> str:
    """A count with thousands separators (``None``: not counted) in a span ``id_``, red if ``alarm`` and > 0."""
    ident = f' id="{id_}"' if id_ else ""
    if value is None:
        return f'<span class="null"{ident}>not counted</span>'
    number = isinstance(value, int) and not isinstance(value, bool)
    shown = f"{value:,}" if number else _text(value)
    marked = " nonzero" if alarm and number and value > 0 else ""
    return f'<span class="count{marked}"{ident}>{shown}</span>'


def _row(head: str, *cells: str) -> str:
    """A table row: a row header (plain text) then cells (HTML)."""
    return f'<tr><th scope="row">{_text(head)}</th>' + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _table(rows: Iterable[str], columns: Sequence[Any] = (), ident: str = "") -> str:
    """A table of ``rows`` (HTML) under ``columns`` (plain text, escaped here)."""
    head = "<thead><tr>" + "".join(f'<th scope="col">{_text(c) if c else ""}</th>' for c in columns) + "</tr></thead>"
    attrs = f' id="{ident}"' if ident else ""
    return f"<table{attrs}>{head if columns else ''}<tbody>{''.join(rows)}</tbody></table>"


def _anchor(kind: str) -> str:
    return kind.replace("_", "-")


def _verdict(failed: Sequence[Any]) -> str:
    """Passed, or Failed with the thresholds exceeded."""
    if not failed:
        return '<p id="verdict" class="verdict passed">Passed</p>'
    lines = "".join(f"<li>{_text(line)}</li>" for line in failed)
    return f'<p id="verdict" class="verdict failed">Failed</p><ul id="failed">{lines}</ul>'


def _summary(report: Mapping[str, Any]) -> str:
    """The verdict, what was compared, both sides side by side and each kind's count."""
    warehouse, counts = report.get("warehouse") or {}, report.get("counts") or {}
    limits, window = report.get("fail_on") or {}, report.get("window") or {}
    span = " … ".join(_text(window.get(part)) for part in ("start", "end"))
    run = [
        _row("Entity set", _text(report.get("entity_set"))),
        _row("Company", _text(report.get("company_id")) if report.get("company_id") else "the connection's default"),
        _row("Key", _text(report.get("key"))),
        _row("Window", f"{_text(window.get('field'))} {span}" if window else "none: every row"),
        _row("Filter", _text(report.get("filter")) if report.get("filter") else "none"),
        _row("Warehouse", f"{_text(warehouse.get('connection'))}: {_text(warehouse.get('source'))}"),
        _row("Strategy", _text(report.get("strategy"))),
        _row("Fails when", ", ".join(f"{_text(k)} &gt; {_count(v)}" for k, v in limits.items()) or "never"),
        _row("Started", _text(report.get("started"))),
        _row("Finished", f"{_text(report.get('finished'))} ({_text(report.get('seconds'))} s)"),
    ]
    rows, requests, fresh = (report.get(part) or {} for part in ("rows", "requests", "freshness"))
    sides = [
        _row("Rows", *(_count(rows.get(s), f"rows-{_anchor(s)}") for s in SIDES)),
        _row("Requests", *(_count(requests.get(s), f"requests-{_anchor(s)}") for s in SIDES)),
        _row("Latest change", *(_text(fresh.get(s), "unknown") for s in SIDES)),
    ]
    kinds = [
        _row(title, _count(counts.get(kind), f"count-{_anchor(kind)}", alarm=True), meaning)
        for kind, (title, meaning) in KINDS.items()
    ]
    gaps = "numbers with no entry in Business Central (sequence gaps, deleted entries), not misses"
    kinds.append(_row("Gaps", _count(report.get("gaps"), "gaps"), gaps))
    differs = any(isinstance(v, int) and v > 0 for v in counts.values())
    nothing = "" if differs else '<p id="nothing-differs">Nothing differs in what this run checked.</p>'
    return (
        f'<section id="summary">{_verdict(report.get("failed") or [])}{nothing}<div class="tables">'
        + _table(run, ident="run")
        + _table(sides, ("", *SIDES.values()), ident="sides")
        + _table(kinds, ("Kind", "Count", "Meaning"), ident="counts")
        + "</div></section>"
    )


def _section(kind: str, heading: str, intro: str, body: str) -> str:
    return f'<section id="{_anchor(kind)}"><h2>{heading}</h2><p class="note">{intro}</p>{body}</section>'


def _more(count: Any, shown: int) -> str:
    """``and N more`` when the report counted more than it kept as samples."""
    more = count - shown if isinstance(count, int) else 0
    return f'<p class="more">and {more:,} more</p>' if more > 0 else ""


def _keys(report: Mapping[str, Any], samples: list[Any]) -> str:
    return _table((f"<tr><td>{_text(key)}</td></tr>" for key in samples), (report.get("key") or "key",))


def _cells(values: Mapping[str, Any], names: Iterable[str] = ("field", *SIDES, "difference")) -> str:
    """Cells of ``values[name]``; by default those of a differing field: both values and their difference."""
    return "".join(f"<td>{_text(values.get(name), '—' if name == 'difference' else 'null')}</td>" for name in names)


def _changed(report: Mapping[str, Any], samples: list[Any]) -> str:
    """Each changed row's fields: both values and their difference; the key spans its fields."""
    rows = []
    for sample in samples:
        fields = sample.get("fields") or [{}]
        for i, change in enumerate(fields):
            key = f'<th scope="row" rowspan="{len(fields)}">{_text(sample.get("key"))}</th>' if i == 0 else ""
            rows.append(f"<tr>{key}{_cells(change)}</tr>")
    by_field = report.get("changed_by_field") or {}
    per_field = _table((_row(f, _count(n)) for f, n in by_field.items()), ("Field", "Rows changed"))
    return (per_field if by_field else "") + _table(rows, (report.get("key") or "key", *VALUE_COLUMNS))


def _totals(totals: Mapping[str, Any]) -> str:
    """The sums by group that differ beyond tolerance, with ``and N more``."""
    by, samples = list(totals.get("by") or []), list(totals.get("samples") or [])
    rows = ("<tr>" + _cells(s.get("group") or {}, by) + _cells(s) + "</tr>" for s in samples)
    intro = f"<p>Sums by {', '.join(_text(b) for b in by) or 'nothing'}: {_count(totals.get('groups'))} groups, "
    intro += f"{_count(totals.get('beyond_tolerance'))} beyond tolerance.</p>"
    return intro + _table(rows, (*by, *VALUE_COLUMNS)) + _more(totals.get("beyond_tolerance"), len(samples))


def _sections(report: Mapping[str, Any]) -> Iterable[str]:
    """One section per kind that differs, then the totals and what the run did not check."""
    counts, samples = report.get("counts") or {}, report.get("samples") or {}
    for kind, (title, meaning) in KINDS.items():
        count, kept = counts.get(kind), list(samples.get(kind) or [])
        if kind == "totals" or not (kept or (isinstance(count, int) and count > 0)):
            continue
        body = _changed(report, kept) if kind == "changed" else _keys(report, kept)
        yield _section(kind, f"{title}: {_count(count)}", meaning, body + _more(count, len(kept)))
    if report.get("totals"):
        title, meaning = KINDS["totals"]
        yield _section("totals", title, meaning, _totals(report["totals"]))
    if report.get("not_checked"):
        notes = "".join(f"<li>{_text(note)}</li>" for note in report["not_checked"])
        yield f'<section id="not-checked"><h2>Not checked</h2><ul>{notes}</ul></section>'


def render_html(report: Mapping[str, Any]) -> str:
    """``report`` as one HTML page (UTF-8; no script, nothing fetched): the summary, then the samples."""
    window = report.get("window") or {}
    span = f" {window.get('start')} … {window.get('end')}" if window else ""
    title = _shown(f"Reconciliation: {report.get('entity_set')}{span}", mark=False)
    policy = "default-src 'none'; style-src 'unsafe-inline'"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
        f"<style>{CSS}</style></head><body><h1>{title}</h1>{_summary(report)}{''.join(_sections(report))}</body></html>\n"
    )
