"""Run times and rep shifts for ``leadassign route``: the ``--at`` timestamp, and the reps'
optional ``timezone`` (an IANA name, e.g. ``Europe/Paris``) and ``hours`` (``09-17`` or
``08:30-17:00``, local time; ``22-06`` runs past midnight) columns.

A rep without a timezone keeps UTC; a rep without hours is always on shift. Everything is
decided from the one ``--at`` of the run, never from the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from leadassign.models import clock
from leadassign.models.columns import ColumnReader
from leadassign.models.tables import RepTable

_HOURS = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*$")


def parse_at(text: str | None, now: datetime | None = None) -> datetime:
    """``--at`` (``leadassign.models.clock.parse_at``: ISO 8601, UTC when naive); None:
    ``now`` (the current UTC time when not given). Returned in UTC, to the second."""
    at = (now or datetime.now(UTC)) if text is None else clock.parse_at(text)
    return at.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Shifts:
    """Per rep: its time zone and shift (start and end minute of the local day; -1: none)."""

    zones: tuple[ZoneInfo, ...]
    start: np.ndarray  # int64 minutes after local midnight, -1 without hours
    end: np.ndarray  # int64

    def local_days(self, at: datetime) -> list[date]:
        """Each rep's local calendar day at ``at``."""
        return [at.astimezone(zone).date() for zone in self.zones]

    def on_shift(self, at: datetime) -> np.ndarray:
        """Per rep: on shift at ``at`` (a rep without hours always is)."""
        minute = np.array(
            [at.astimezone(zone).hour * 60 + at.astimezone(zone).minute for zone in self.zones],
            dtype=np.int64,
        )
        inside = (self.start <= minute) & (minute < self.end)
        overnight = (self.start > self.end) & ((minute >= self.start) | (minute < self.end))
        result: np.ndarray = (self.start < 0) | inside | overnight
        return result


def _zone(name: str) -> ZoneInfo | None:
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _minutes(match: re.Match[str] | None) -> tuple[int, int] | None:
    if match is None:
        return None
    h1, m1, h2, m2 = (int(g) if g is not None else 0 for g in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        return None
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start > 24 * 60 or end > 24 * 60 or start == end:
        return None
    return start, end


def shifts(reps: RepTable) -> Shifts:
    """The reps' ``timezone`` and ``hours`` columns (both optional), validated: an unknown
    time zone or hours that do not parse raise InputError naming the row and column."""
    cols = ColumnReader(reps.raw, ("rep_id",))
    names = cols.text("timezone")
    zones = [_zone(str(name)) for name in names]
    cols.first_bad(
        np.array([z is None for z in zones], dtype=bool),
        "timezone",
        "'{cell}' is not a known IANA time zone (e.g. Europe/Paris, America/New_York, UTC)",
    )
    hours = cols.text("hours")
    spans = [_minutes(_HOURS.match(str(h))) if h else (-1, -1) for h in hours]
    cols.first_bad(
        np.array([s is None for s in spans], dtype=bool),
        "hours",
        "'{cell}' is not a shift: give HH-HH or HH:MM-HH:MM in the rep's local time, "
        "e.g. 09-17 or 08:30-17:00",
    )
    valid = [s for s in spans if s is not None]
    return Shifts(
        zones=tuple(z for z in zones if z is not None),
        start=np.array([s[0] for s in valid], dtype=np.int64),
        end=np.array([s[1] for s in valid], dtype=np.int64),
    )


def iso_week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


__all__ = ["Shifts", "iso_week_start", "parse_at", "shifts"]
