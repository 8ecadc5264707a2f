"""The deal history: one row per CRM deal (opportunity), with its rep and outcome.

Canonical columns (a raw CRM export is renamed into these by :mod:`~.mapping` first):

- ``deal_id``: unique, non-empty;
- ``rep_id``: the rep who owned the deal, non-empty;
- ``outcome``: ``won``, ``lost`` or ``open`` (any case);
- ``created``: the date the deal was created (or engaged); required for closed deals, may be
  empty on an open deal (Maven's Prospecting deals have none);
- ``closed``: the date the deal closed; required for won and lost deals, empty on open ones,
  never before ``created``;
- ``amount``: optional, a number >= 0 (the won amount, or the deal's expected amount where
  known); empty where unknown;
- every other column is a *segment* column (``industry``, ``territory``, ``product``, ...),
  read as text ('' when empty).

Dates are ISO 8601 (``2017-03-01``, or a date and time, of which the day is kept) unless a
``date_format`` (``strftime`` codes, e.g. ``%m/%d/%Y``) is given. Every cell is checked before
anything is computed; an error names the file, the line, the deal and the column (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadassign.models.columns import ColumnReader
from leadassign.models.source import RawTable, TableInput, TableSource, read_table

#: The columns :func:`parse_deals` reads itself; any other column is a segment column.
DEAL_COLUMNS = ("deal_id", "rep_id", "outcome", "created", "closed", "amount")
OUTCOMES = ("won", "lost", "open")


@dataclass(frozen=True, eq=False)
class Deals:
    """The validated deal history: one entry per deal in every array, in input order."""

    source: TableSource
    ids: np.ndarray  # str
    rep: np.ndarray  # str
    outcome: np.ndarray  # str: 'won', 'lost' or 'open'
    created: np.ndarray  # datetime64[D]; NaT only on open deals
    closed: np.ndarray  # datetime64[D]; NaT exactly on open deals
    amount: np.ndarray  # float64 >= 0; NaN where unknown
    segments: dict[str, np.ndarray]  # segment column -> str ('' when empty)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def won(self) -> np.ndarray:
        return np.asarray(self.outcome == "won")

    @property
    def is_closed(self) -> np.ndarray:
        return np.asarray(self.outcome != "open")

    @property
    def cycle_days(self) -> np.ndarray:
        """Days from created to closed (float64; NaN on open deals)."""
        days = (self.closed - self.created).astype("timedelta64[D]").astype(np.float64)
        return np.where(self.is_closed, days, np.nan)

    def segment(self, column: str) -> np.ndarray:
        """A segment column's values; raises KeyError naming the columns there are."""
        if column not in self.segments:
            have = ", ".join(self.segments) or "none"
            raise KeyError(f"no segment column '{column}' (segment columns: {have})")
        return self.segments[column]

    def frame(self) -> pd.DataFrame:
        """The history as a DataFrame with typed columns (dates as datetime64, amount float)."""
        data: dict[str, object] = {
            "deal_id": self.ids,
            "rep_id": self.rep,
            "outcome": self.outcome,
            "created": self.created.astype("datetime64[ns]"),
            "closed": self.closed.astype("datetime64[ns]"),
            "amount": self.amount,
        }
        data.update(self.segments)
        return pd.DataFrame(data)

    def subset(self, mask: np.ndarray) -> Deals:
        """The deals where ``mask`` is True, in input order."""
        return Deals(
            source=self.source,
            ids=self.ids[mask],
            rep=self.rep[mask],
            outcome=self.outcome[mask],
            created=self.created[mask],
            closed=self.closed[mask],
            amount=self.amount[mask],
            segments={k: v[mask] for k, v in self.segments.items()},
        )


def _dates(cols: ColumnReader, column: str, date_format: str | None) -> np.ndarray:
    """A date column as datetime64[D] (NaT where empty); a cell that is no date is refused."""
    cells = cols.text(column)
    empty = cells == ""
    series = pd.Series(cells.tolist()).where(~empty)
    parsed = pd.to_datetime(series, format=date_format or "ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy() & ~empty
    expected = f"a date as {date_format}" if date_format else "an ISO date (YYYY-MM-DD)"
    cols.first_bad(bad, column, f"'{{cell}}' is not {expected}")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.to_numpy().astype("datetime64[D]")


def parse_deals(raw: RawTable, *, date_format: str | None = None) -> Deals:
    """Check and type a deal history already in canonical columns (see the module doc)."""
    raw.require(["deal_id", "rep_id", "outcome", "created", "closed"])
    cols = ColumnReader(raw, ("deal_id",))
    ids = cols.ids("deal_id")
    rep = cols.text("rep_id", required=True)
    words = pd.Series(cols.text("outcome"), dtype=object).str.lower().to_numpy(dtype=object)
    cols.first_bad(
        ~np.isin(words, OUTCOMES), "outcome", "'{cell}' is not an outcome: use won, lost or open"
    )
    outcome = words.astype(str)
    created = _dates(cols, "created", date_format)
    closed = _dates(cols, "closed", date_format)
    is_open = outcome == "open"
    cols.first_bad(
        ~is_open & np.isnat(created), "created", "is empty: a won or lost deal needs its date"
    )
    cols.first_bad(~is_open & np.isnat(closed), "closed", "is empty: a won or lost deal closed")
    cols.first_bad(
        is_open & ~np.isnat(closed),
        "closed",
        "'{cell}' on an open deal: an open deal has no close date (a forecast close date "
        "belongs in another column; mapping presets drop it)",
    )
    both = ~np.isnat(created) & ~np.isnat(closed)
    early = np.zeros(len(ids), dtype=bool)
    early[both] = closed[both] < created[both]
    cols.first_bad(early, "closed", "'{cell}' is before the deal's created date")
    amount = (
        cols.number("amount", default=np.nan, minimum=0)
        if raw.has("amount")
        else np.full(len(ids), np.nan)
    )
    segments = {c: cols.text(c) for c in raw.columns if c not in DEAL_COLUMNS}
    return Deals(raw.source, ids, rep, outcome, created, closed, amount, segments)


def load_deals(data: TableInput, *, date_format: str | None = None) -> Deals:
    """Read and check a canonical deal history (CSV, Parquet or a DataFrame)."""
    return parse_deals(read_table(data, "history"), date_format=date_format)


__all__ = ["DEAL_COLUMNS", "OUTCOMES", "Deals", "load_deals", "parse_deals"]
