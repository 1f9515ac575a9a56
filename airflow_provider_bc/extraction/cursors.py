"""Which rows a run reads: the cursor's window turned into disjoint OData filters ("passes").

Business Central numbers ledger entries from SQL sequences: a number is taken at insert, not at
commit, so entry N can become visible after N+1 (stamped *earlier* than N+1), and gaps are normal.
An incremental run therefore never trusts the highest row it saw. It records a **settled** mark,
below which nothing can still appear, and the rows it delivered above it (the **open** range);
the next run re-reads the open range and skips those rows if unchanged. ``commit_lag`` is how
long a posting may stay uncommitted (plus clock skew): every row stamped before *planned −
commit_lag* is visible when the run reads.

- ``full``: everything matching the user's filter.
- ``entry_number``: rows numbered above the previous run's settled number. The new settled
  number is the highest number of a row stamped before the horizon (*planned − commit_lag*):
  every lower number was taken before that row's insert, so its posting has committed (or rolled
  back: a gap) by the time the run reads.
- ``last_modified``: rows stamped from the previous settled time up to the moment the run was
  planned; settled is *planned − commit_lag*. Or, with a data interval, ``[start − commit_lag,
  end)``: the previous interval's open tail again, then exactly the interval.

Rows never modified since system fields were added carry ``0001-01-01T00:00:00Z``: the first
run takes them. ``restate_days`` splits an incremental run by ``postingDate``: every row posted
in the trailing days is read again (FlowFields such as ``costAmountActual`` change without
``lastModifiedDateTime``), and the cursor's pass takes the rows posted before, so that no row
is read twice in one run.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal, get_args

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.client.key_ranges import ENTRY_NUMBER as ENTRY_NUMBER  # the cursor of ledgers
from airflow_provider_bc.client.odata.filters import all_of, clause, format_literal

CursorKind = Literal["full", "entry_number", "last_modified"]
CURSORS: tuple[str, ...] = get_args(CursorKind)
LAST_MODIFIED = "lastModifiedDateTime"
POSTING_DATE = "postingDate"
NEVER_MODIFIED = dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc)
#: Business Central ends an API request after 8 minutes (operation timeout) and its gateway after 10;
#: 5 more for clock skew between Business Central and the worker, and read-replica lag
DEFAULT_COMMIT_LAG = dt.timedelta(minutes=15)
#: lines of times in Business Central's form (UTC, ``Z``): as text, they sort by time to the second
_DIGITS = re.compile(r"[0-9]+")
_BC_TIMES = re.compile(r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\n)*")


def parse_datetime(value: Any, argument: str) -> dt.datetime:
    """An aware datetime from a datetime or ISO-8601 text (``Z`` allowed); naive ones are refused."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BusinessCentralQueryError(argument, f"{value!r} is not an ISO-8601 date and time") from None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise BusinessCentralQueryError(argument, f"needs a date and time with a timezone, got {value!r}")
    try:
        return value.astimezone(dt.timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:30:00+02:00: before year 1 in UTC
        raise BusinessCentralQueryError(argument, f"{value.isoformat()} is out of range in UTC") from None


def time_order_key(value: str, argument: str) -> str:
    """Text that sorts as the UTC time ``value`` stands for: BC's ``2024-01-02T03:04:05.2Z`` with the
    fraction padded to 7 digits (trimmed fractions do not sort as text); other forms are parsed."""
    if value.endswith("Z") and value[10:11] == "T" and value[19:20] in (".", "Z"):
        second, _, fraction = value[:-1].partition(".")
        return f"{second}.{fraction:0<7}"
    return parse_datetime(value, argument).replace(tzinfo=None).isoformat(timespec="microseconds") + "0"


def latest(values: list[Any], argument: str) -> str | None:
    """The latest of the times in ``values`` (texts; empty ones and ``None`` left out) by
    :func:`time_order_key`, which only the texts of the latest second need when all have BC's form."""
    times = list(filter(None, values))
    if not times:
        return None
    if _BC_TIMES.fullmatch("\n".join(times) + "\n"):
        second = max(times)[:19]
        times = [value for value in times if value.startswith(second)]
    return str(max(times, key=lambda value: time_order_key(value, argument)))


def iso(value: dt.datetime) -> str:
    """The OData literal of ``value`` (UTC, ``Z``): also how watermarks are stored and compared."""
    return format_literal(value)


def _start(kind: CursorKind, start: Any) -> Any:
    """``cursor_start`` as the cursor takes it: an entry number (also from templated text) or a time."""
    if start is None or kind != "entry_number":
        return start
    if isinstance(start, str) and _DIGITS.fullmatch(start.strip()):
        return int(start.strip())
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise BusinessCentralQueryError(
            "cursor_start", f"an entry_number cursor starts after an entry number (0 or more), got {start!r}"
        )
    return start


@dataclass(frozen=True)
class CursorOptions:
    """How a run picks its rows (see the module's description)."""

    kind: CursorKind = "full"
    #: the lower bound instead of the previous run's settled mark: an entry number or a datetime
    start: Any = None
    #: how long a posting may stay uncommitted, plus clock skew and read-replica lag
    commit_lag: dt.timedelta = DEFAULT_COMMIT_LAG
    #: ``(start, end)`` of the DAG run's data interval, for ``last_modified`` windows taken from it
    interval: tuple[dt.datetime, dt.datetime] | None = None
    restate_days: int = 0
    #: the day ``restate_days`` counts back from (the data interval's end)
    today: dt.date | None = None

    def __post_init__(self) -> None:
        if self.kind not in CURSORS:
            raise BusinessCentralQueryError("cursor", f"{self.kind!r} is not one of {', '.join(CURSORS)}")
        if not isinstance(self.restate_days, int) or isinstance(self.restate_days, bool) or self.restate_days < 0:
            raise BusinessCentralQueryError(
                "restate_days", f"must be a whole number of days ≥ 0, got {self.restate_days!r}"
            )
        if not isinstance(self.commit_lag, dt.timedelta) or self.commit_lag < dt.timedelta(0):
            raise BusinessCentralQueryError("commit_lag", f"must be a timedelta ≥ 0, got {self.commit_lag!r}")
        if self.kind == "full" and (self.start is not None or self.restate_days):
            raise BusinessCentralQueryError("cursor", "a full read takes neither a start nor restate_days")
        object.__setattr__(self, "start", _start(self.kind, self.start))


@dataclass(frozen=True)
class Window:
    """The passes of one run, and what its manifest records about the cursor."""

    passes: tuple[str | None, ...]
    cursor: dict[str, Any]
    #: the pass re-reading the rows posted in the trailing days (read in full: nothing skipped)
    restate: str | None = None
    #: (id, lastModifiedDateTime) pairs the previous run delivered in its open range: not written again
    skip: frozenset[tuple[str, str]] = frozenset()
    #: rows stamped before this instant are settled; those at or after it are the open range's candidates
    horizon: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "passes": list(self.passes),
            "cursor": self.cursor,
            "restate": self.restate,
            "skip": sorted(map(list, self.skip)),
            "horizon": self.horizon,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Window:
        skip = frozenset((str(row[0]), str(row[1])) for row in data["skip"])
        return cls(tuple(data["passes"]), data["cursor"], data["restate"], skip, data["horizon"])


@dataclass(frozen=True)
class _Restate:
    """The split by posting date: the restate pass, the clause keeping the cursor's pass out of it."""

    filter: str | None = None
    before: str = ""
    since: str | None = None


def _restate(options: CursorOptions, user_filter: str | None, incremental: bool) -> _Restate:
    if not options.restate_days or not incremental:  # a first run reads every row anyway
        return _Restate()
    since = (options.today or dt.datetime.now(dt.timezone.utc).date()) - dt.timedelta(days=options.restate_days)
    restate = all_of([user_filter or "", clause(POSTING_DATE, "ge", since)])
    return _Restate(restate, clause(POSTING_DATE, "lt", since), since.isoformat())


def _delivered(previous: dict[str, Any] | None) -> frozenset[tuple[str, str]]:
    """The rows the previous run delivered in its open range, as (id, lastModifiedDateTime)."""
    rows = ((previous or {}).get("cursor") or {}).get("open_rows") or []
    return frozenset((str(row[0]), str(row[1])) for row in rows)


def settled_of(manifest: dict[str, Any]) -> Any:
    """The settled mark a manifest records (an entry number or a time's text; ``None``: nothing settled)."""
    return (manifest.get("cursor") or {}).get("settled")


def plan_window(
    options: CursorOptions, user_filter: str | None, previous: dict[str, Any] | None, now: dt.datetime
) -> Window:
    """The window of this run, from the options and the previous run's manifest of the same series."""
    try:
        return _plan_window(options, user_filter, previous, now)
    except OverflowError:  # a date before year 1 or after 9999
        raise BusinessCentralQueryError(
            "commit_lag" if options.commit_lag > dt.timedelta(days=366) else "restate_days",
            f"reaches a date out of range (commit_lag {options.commit_lag}, restate_days {options.restate_days})",
        ) from None


def _plan_window(
    options: CursorOptions, user_filter: str | None, previous: dict[str, Any] | None, now: dt.datetime
) -> Window:
    base = {"kind": options.kind, "commit_lag_seconds": options.commit_lag.total_seconds()}
    if options.kind == "full":
        return Window((user_filter,), {**base, "settled": None})
    horizon = iso(now - options.commit_lag)
    if options.kind == "entry_number":
        return _entry_number_window(options, user_filter, previous, base, horizon)
    if options.interval is not None:
        return _interval_window(options, user_filter, previous, base, now)
    lower = (
        parse_datetime(options.start, "cursor_start")
        if options.start is not None
        else parse_datetime(settled_of(previous), "settled")
        if previous is not None and settled_of(previous)
        else None
    )
    restate = _restate(options, user_filter, lower is not None)
    since = clause(LAST_MODIFIED, "ge", lower) if lower else ""
    main = all_of([user_filter or "", since, clause(LAST_MODIFIED, "lt", now), restate.before])
    cursor = {
        **base,
        "from": iso(lower) if lower else None,
        "to": iso(now),
        "settled": horizon,
        "restate_from": restate.since,
    }
    skip = _delivered(previous) if options.start is None else frozenset()
    return Window((main,), cursor, restate.filter, skip, horizon)


def _entry_number_window(
    options: CursorOptions, user_filter: str | None, previous: dict[str, Any] | None, base: dict[str, Any], horizon: str
) -> Window:
    lower = options.start if options.start is not None else settled_of(previous) if previous else None
    if lower is not None and (not isinstance(lower, int) or isinstance(lower, bool)):
        raise BusinessCentralQueryError("cursor_start", f"an entry_number cursor needs an entry number, got {lower!r}")
    restate = _restate(options, user_filter, lower is not None)
    after = clause(ENTRY_NUMBER, "gt", lower) if lower is not None else ""
    main = all_of([user_filter or "", after, restate.before]) or None
    cursor = {**base, "from": lower, "restate_from": restate.since}
    skip = _delivered(previous) if options.start is None else frozenset()
    return Window((main,), cursor, restate.filter, skip, horizon)


def _interval_window(
    options: CursorOptions,
    user_filter: str | None,
    previous: dict[str, Any] | None,
    base: dict[str, Any],
    now: dt.datetime,
) -> Window:
    """``[start − commit_lag, end)``; from the previous run's settled time instead when intervals were
    skipped since it (a paused DAG, ``catchup=False``), so no row between them goes unread."""
    assert options.interval is not None
    start, end = (parse_datetime(value, "data interval") for value in options.interval)
    if not start < end:
        raise BusinessCentralQueryError(
            "use_data_interval",
            f"the data interval [{iso(start)}, {iso(end)}) is empty: use a timetable with data intervals "
            "(Airflow 3's cron schedules have none unless create_cron_data_intervals is set) or no data interval",
        )
    if end > now:
        raise BusinessCentralQueryError(
            "use_data_interval", f"the data interval ends at {iso(end)}, after now ({iso(now)}): it has not ended"
        )
    previous_to = (previous or {}).get("cursor", {}).get("to")
    behind = previous is not None and isinstance(previous_to, str) and parse_datetime(previous_to, "to") < start
    settled = settled_of(previous) if behind and previous else None
    lower = parse_datetime(settled, "settled") if settled else start - options.commit_lag
    restate = _restate(options, user_filter, True)
    main = all_of(
        [user_filter or "", clause(LAST_MODIFIED, "ge", lower), clause(LAST_MODIFIED, "lt", end), restate.before]
    )
    passes = [main]
    never_modified = previous is None  # the first run of the series takes the rows no interval holds
    if never_modified:
        passes.append(all_of([user_filter or "", clause(LAST_MODIFIED, "eq", NEVER_MODIFIED), restate.before]))
    adjoining = previous is not None and isinstance(previous_to, str) and parse_datetime(previous_to, "to") <= start
    cursor = {
        **base,
        "from": iso(lower),
        "to": iso(end),
        "settled": iso(end - options.commit_lag),
        "never_modified_included": never_modified,
        "restate_from": restate.since,
    }
    skip = _delivered(previous) if adjoining else frozenset()
    return Window(tuple(passes), cursor, restate.filter, skip, iso(end - options.commit_lag))
