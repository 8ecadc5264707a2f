"""The run time: one explicit timestamp per run (``--at``), never scattered clock reads.

Everything a run decides from "now" (who is away today, which leads passed their SLA) reads
the one ``at`` of the run, parsed here and recorded in summary.json, so the same inputs and
the same ``--at`` give the same outputs. Shared by ``solve``, ``rebalance`` and ``route``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from leadassign.errors import InputError
from leadassign.models.columns import ColumnReader


def parse_at(text: str) -> datetime:
    """An ISO 8601 timestamp (``2026-03-02T09:30:00+01:00``; UTC when naive; a date alone
    is its midnight UTC) as an aware UTC datetime; InputError naming ``--at`` otherwise."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--at {text!r} is not an ISO 8601 timestamp (e.g. 2026-03-02T09:30:00+01:00; "
            "UTC when it has no offset)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def now() -> datetime:
    """The current UTC time, to the second: ``--at``'s default (read once per run)."""
    return datetime.now(UTC).replace(microsecond=0)


def at_text(at: datetime) -> str:
    """``at`` as recorded in summary.json: ISO 8601 in UTC."""
    return at.astimezone(UTC).isoformat()


def day_of(at: datetime) -> date:
    """The run date: ``at``'s calendar day in UTC."""
    return at.astimezone(UTC).date()


def timestamps(cols: ColumnReader, column: str) -> np.ndarray:
    """A column of ISO 8601 timestamps as UTC ``datetime64[s]`` (NaT where empty; UTC when
    naive); InputError naming the first cell that does not parse."""
    cells = cols.table.text(column)
    out = np.full(len(cells), np.datetime64("NaT"), dtype="datetime64[s]")
    given = np.flatnonzero(cells != "")
    if not len(given):
        return out
    parsed = pd.to_datetime(pd.Series(cells[given]), errors="coerce", utc=True, format="ISO8601")
    bad = parsed.isna().to_numpy()
    mask = np.zeros(len(cells), dtype=bool)
    mask[given[bad]] = True
    cols.first_bad(
        mask, column, "'{cell}' is not an ISO 8601 timestamp (e.g. 2026-03-02T09:30:00Z)"
    )
    values = parsed.dt.tz_convert(None).to_numpy().astype("datetime64[s]")
    out[given] = values
    return out


def dates(cols: ColumnReader, column: str) -> np.ndarray:
    """A column of ISO dates (``2026-03-02``) as ``datetime64[D]`` (NaT where empty or
    absent); InputError naming the first cell that is not a date."""
    if not cols.has(column):
        return np.full(len(cols), np.datetime64("NaT"), dtype="datetime64[D]")
    cells = cols.table.text(column)
    out = np.full(len(cells), np.datetime64("NaT"), dtype="datetime64[D]")
    given = np.flatnonzero(cells != "")
    if not len(given):
        return out
    parsed = pd.to_datetime(pd.Series(cells[given]), errors="coerce", format="%Y-%m-%d")
    bad = parsed.isna().to_numpy()
    mask = np.zeros(len(cells), dtype=bool)
    mask[given[bad]] = True
    cols.first_bad(mask, column, "'{cell}' is not a date (YYYY-MM-DD)")
    out[given] = parsed.to_numpy().astype("datetime64[D]")
    return out


__all__ = ["at_text", "dates", "day_of", "now", "parse_at", "timestamps"]
