"""Dated availability and lead SLA: who is away on the run date, who hands over a book,
which owned leads went untouched too long (README "Between weekly runs", docs/weekly.md
"SLA, time off and departures").

Time off comes from the reps table (``away_from``, ``away_until``: ISO dates, inclusive;
either may be empty) and/or a time-off table (``--time-off``: ``rep_id, away_from,
away_until``, several periods per rep). Everything here is vectorized over reps, periods or
leads; nothing reads the clock (the run time ``at`` is given).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import numpy as np

from leadassign.errors import InputError
from leadassign.models.clock import dates, timestamps
from leadassign.models.columns import ColumnReader

if TYPE_CHECKING:
    from leadassign.models.source import RawTable
    from leadassign.models.tables import LeadTable, RepTable

#: The lead columns an SLA reads, the first given one per lead wins.
ACTIVITY_COLUMNS = ("last_activity", "first_contact")
NAT_DAY = np.datetime64("NaT", "D")


@dataclass(frozen=True, eq=False)
class TimeOff:
    """Periods away: per period its rep (index into the reps table), first and last day
    (inclusive; NaT: open on that side)."""

    rep: np.ndarray  # int64
    start: np.ndarray  # datetime64[D]
    end: np.ndarray  # datetime64[D]

    def __len__(self) -> int:
        return len(self.rep)

    def plus(self, other: TimeOff) -> TimeOff:
        return TimeOff(
            np.concatenate([self.rep, other.rep]),
            np.concatenate([self.start, other.start]),
            np.concatenate([self.end, other.end]),
        )


def _periods(cols: ColumnReader, rep: np.ndarray) -> TimeOff:
    """The periods of a table's ``away_from``/``away_until`` columns (rows with both empty
    have none); away_until before away_from is an InputError naming the row."""
    start = dates(cols, "away_from")
    end = dates(cols, "away_until")
    cols.first_bad(
        ~np.isnat(start) & ~np.isnat(end) & (end < start),
        "away_until",
        "away_until {cell} is before away_from",
    )
    given = ~np.isnat(start) | ~np.isnat(end)
    return TimeOff(rep[given].astype(np.int64), start[given], end[given])


def rep_time_off(raw: RawTable) -> TimeOff | None:
    """The reps table's own periods (None: it has neither column)."""
    if not (raw.has("away_from") or raw.has("away_until")):
        return None
    return _periods(ColumnReader(raw, ("rep_id",)), np.arange(len(raw), dtype=np.int64))


def table_time_off(raw: RawTable, rep_ids: np.ndarray) -> TimeOff:
    """A time-off table's periods; an unknown or empty rep_id is an InputError naming the row."""
    raw.require(["rep_id", "away_from", "away_until"])
    cols = ColumnReader(raw, ("rep_id",))
    names = cols.text("rep_id", required=True)
    position = {str(r): j for j, r in enumerate(rep_ids.tolist())}
    rep = np.array([position.get(str(r), -1) for r in names.tolist()], dtype=np.int64)
    cols.first_bad(rep < 0, "rep_id", "'{cell}' is not a rep_id of the reps table")
    periods = _periods(cols, rep)
    cols.first_bad(
        (cols.text("away_from") == "") & (cols.text("away_until") == ""),
        "away_from",
        "a time-off row needs away_from or away_until",
    )
    return periods


def _covering(reps: RepTable, day: date) -> np.ndarray:
    """Per period: it covers ``day``."""
    periods = reps.time_off
    if periods is None or not len(periods):
        return np.zeros(0, dtype=bool)
    d = np.datetime64(day, "D")
    covering: np.ndarray = (np.isnat(periods.start) | (periods.start <= d)) & (
        np.isnat(periods.end) | (d <= periods.end)
    )
    return covering


def away_on(reps: RepTable, day: date) -> np.ndarray:
    """Per rep: away on ``day`` (a time-off period covers it). Reps with ``available:
    false`` are not counted here: they take nothing anyway."""
    covering = _covering(reps, day)
    if not len(covering):
        return np.zeros(len(reps), dtype=bool)
    assert reps.time_off is not None
    result: np.ndarray = np.bincount(reps.time_off.rep[covering], minlength=len(reps)) > 0
    return result


def back_on(reps: RepTable, day: date) -> np.ndarray:
    """Per rep away on ``day``: the last day of the absence (the latest end among the
    periods covering ``day``; NaT when one of them is open-ended, or the rep is not away)."""
    out = np.full(len(reps), NAT_DAY, dtype="datetime64[D]")
    covering = _covering(reps, day)
    if not covering.any():
        return out
    assert reps.time_off is not None
    rep, end = reps.time_off.rep[covering], reps.time_off.end[covering]
    far = np.datetime64("9999-12-31", "D")
    latest = np.full(len(reps), np.datetime64("0001-01-01", "D"), dtype="datetime64[D]")
    np.maximum.at(latest, rep, np.where(np.isnat(end), far, end))
    away = away_on(reps, day)
    out[away & (latest < far)] = latest[away & (latest < far)]
    return out


def days_away(reps: RepTable, day: date) -> np.ndarray:
    """Per rep: days from ``day`` to the last day of the absence (inclusive count of days
    still away, ``day`` included; inf for an open-ended absence, 0 when not away)."""
    away = away_on(reps, day)
    back = back_on(reps, day)
    left = (back - np.datetime64(day, "D")).astype(np.float64) + 1.0
    out = np.where(away, np.where(np.isnat(back), np.inf, left), 0.0)
    result: np.ndarray = out.astype(np.float64)
    return result


def last_touched(leads: LeadTable) -> np.ndarray | None:
    """Per lead: its ``last_activity``, else its ``first_contact`` (UTC ``datetime64[s]``;
    NaT when neither is given); None when the table has neither column. A cell that is not
    an ISO 8601 timestamp is an InputError naming its row and column."""
    cols = leads.reader
    present = [c for c in ACTIVITY_COLUMNS if cols.has(c)]
    if not present:
        return None
    touched = timestamps(cols, present[0])
    for column in present[1:]:
        touched = np.where(np.isnat(touched), timestamps(cols, column), touched)
    return touched


def sla_expired(leads: LeadTable, at: datetime, hours: float) -> np.ndarray:
    """Per lead: owned and untouched for longer than ``hours`` at ``at`` (by
    ``last_activity``, else ``first_contact``). A lead with neither time, or without an
    owner, never expires. InputError when the table has neither column."""
    touched = last_touched(leads)
    if touched is None:
        raise InputError(
            "the policy's sla.untouched_hours needs a lead column 'last_activity' or "
            f"'first_contact' (columns found: {', '.join(leads.raw.columns)})",
            source=leads.source.name,
        )
    utc = at if at.tzinfo is None else at.astimezone(UTC).replace(tzinfo=None)
    moment = np.datetime64(utc, "s")
    untouched = (moment - touched).astype("timedelta64[s]").astype(np.float64) / 3600.0
    expired: np.ndarray = (
        (leads.current_owner != "") & ~np.isnat(touched) & (untouched > float(hours))
    )
    return expired


__all__ = [
    "TimeOff",
    "away_on",
    "back_on",
    "days_away",
    "last_touched",
    "rep_time_off",
    "sla_expired",
    "table_time_off",
]
