"""How far new entries can be signalled without a late commit landing behind the signal.

Business Central takes an entry number at insert, not at commit (see :mod:`.cursors`): entry N can
become visible after N+1. Above a watermark ``after``, the numbers in ``(after, frontier]`` can no
longer change when every one of them is either

* at or below the **settled** mark: the highest number of a row stamped before the horizon (*now −
  commit_lag*); every lower number was taken before that row's insert, so its posting has committed
  (or rolled back: a gap) by now; or
* in the unbroken run of visible numbers right above it: a visible entry stays.

The first missing number above both is held back: a posting that still holds it, or a gap, which
the settled mark passes once the rows above it are older than ``commit_lag``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from airflow_provider_bc.extraction.cursors import iso, time_order_key


@dataclass(frozen=True)
class Posted:
    """A visible entry: its number and its ``lastModifiedDateTime`` (Business Central's text)."""

    number: int
    stamped: str


def horizon(now: dt.datetime, commit_lag: dt.timedelta) -> str:
    """The time before which every posting has committed or rolled back (Business Central's form)."""
    return iso(now - commit_lag)


def frontier(after: int, visible: Iterable[Posted], before: str) -> int:
    """The highest number up to which nothing above ``after`` can still appear, given the ``visible``
    entries numbered above ``after`` and the horizon ``before`` (``after`` when nothing moved)."""
    rows = [row for row in visible if row.number > after]
    limit = time_order_key(before, "horizon")
    reached = max([after, *(row.number for row in rows if time_order_key(row.stamped, "lastModifiedDateTime") < limit)])
    for number in sorted({row.number for row in rows if row.number > reached}):
        if number != reached + 1:
            break
        reached = number
    return reached
