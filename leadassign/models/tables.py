"""Validated input tables (DESIGN.md §1), held column-wise in read-only numpy arrays.

A book of 100,000 leads is a table, not 100,000 objects: each model below is a frozen set of
columns, built only by its ``parse`` function (which checks every cell) and checked again on
construction (lengths, ranges), so a variant made with :func:`dataclasses.replace` is
re-validated rather than trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from leadassign.errors import InputError
from leadassign.models.availability import TimeOff, rep_time_off
from leadassign.models.columns import ColumnReader
from leadassign.models.source import RawTable, TableSource

#: Lead columns leadassign reads itself; the others are carried through to assignments.csv.
LEAD_COLUMNS = (
    "lead_id",
    "territory",
    "industry",
    "skills",
    "value",
    "account_id",
    "current_owner",
    "effort",
)
REP_COLUMNS = (
    "rep_id",
    "territories",
    "industries",
    "skills",
    "capacity",
    "min_leads",
    "win_rate",
    "level",
    "available",
)
#: Columns assignments.csv adds in front of the lead's own columns; a lead column may not
#: take one of these names.
OUTPUT_COLUMNS = (
    "rep_id",
    "arm",
    "expected_value",
    "reason",
    "detail",
    "eligible_reps",
    "runner_up",
    "runner_up_value",
)
WILDCARD = "*"


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    array.flags.writeable = False
    return array


def _check_lengths(owner: str, n: int, **columns: np.ndarray) -> None:
    for name, column in columns.items():
        if len(column) != n:
            raise ValueError(f"{owner}.{name} has {len(column)} entries, expected {n}")


@dataclass(frozen=True, eq=False)
class LeadTable:
    """The leads (§1): one entry per lead in every array, in input order."""

    source: TableSource
    ids: np.ndarray  # str
    territory: np.ndarray  # str
    industry: np.ndarray  # str, '' when not given
    skills: np.ndarray  # tuple[str, ...]
    value: np.ndarray | None  # float64 >= 0; None when the table has no value column
    account_id: np.ndarray  # str, '' when not given
    current_owner: np.ndarray  # str, '' when not given
    effort: np.ndarray  # int64 >= 1
    raw: RawTable = field(repr=False)  # every input column as text, for pass-through

    def __post_init__(self) -> None:
        n = len(self.ids)
        _check_lengths(
            "LeadTable",
            n,
            territory=self.territory,
            industry=self.industry,
            skills=self.skills,
            account_id=self.account_id,
            current_owner=self.current_owner,
            effort=self.effort,
        )
        if self.value is not None:
            _check_lengths("LeadTable", n, value=self.value)
            if n and (not np.all(np.isfinite(self.value)) or self.value.min() < 0):
                raise ValueError("LeadTable.value must be finite and >= 0")
        if n and self.effort.min() < 1:
            raise ValueError("LeadTable.effort must be >= 1")
        if len(set(self.ids.tolist())) != n:
            raise ValueError("LeadTable.ids must be unique")
        for name in (
            "ids",
            "territory",
            "industry",
            "skills",
            "account_id",
            "current_owner",
            "effort",
            "value",
        ):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _frozen(value))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def reader(self) -> ColumnReader:
        """A reader over the raw columns, for checks made after parsing."""
        return ColumnReader(self.raw, ("lead_id",))


@dataclass(frozen=True, eq=False)
class RepTable:
    """The reps (§1): one entry per rep in every array, in input order."""

    source: TableSource
    ids: np.ndarray  # str
    territories: np.ndarray  # tuple[str, ...]; ('*',) covers all
    industries: np.ndarray  # tuple[str, ...]; () covers all
    skills: np.ndarray  # tuple[str, ...]
    capacity: np.ndarray  # int64 >= 0
    min_leads: np.ndarray  # int64 >= 0, <= capacity
    win_rate: np.ndarray  # float64 in [0, 1]
    level: np.ndarray  # int64 >= 1
    available: np.ndarray  # bool
    raw: RawTable = field(repr=False)
    #: dated time off (``away_from``/``away_until``, ``--time-off``; None: no dates given),
    #: see leadassign.models.availability
    time_off: TimeOff | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(self.ids)
        _check_lengths(
            "RepTable",
            n,
            territories=self.territories,
            industries=self.industries,
            skills=self.skills,
            capacity=self.capacity,
            min_leads=self.min_leads,
            win_rate=self.win_rate,
            level=self.level,
            available=self.available,
        )
        if n:
            if self.capacity.min() < 0 or self.min_leads.min() < 0:
                raise ValueError("RepTable.capacity and min_leads must be >= 0")
            if np.any(self.min_leads > self.capacity):
                raise ValueError("RepTable.min_leads must not exceed capacity")
            if self.win_rate.min() < 0 or self.win_rate.max() > 1:
                raise ValueError("RepTable.win_rate must be in [0, 1]")
            if self.level.min() < 1:
                raise ValueError("RepTable.level must be >= 1")
        if len(set(self.ids.tolist())) != n:
            raise ValueError("RepTable.ids must be unique")
        for name in (
            "ids",
            "territories",
            "industries",
            "skills",
            "capacity",
            "min_leads",
            "win_rate",
            "level",
            "available",
        ):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, eq=False)
class AffinityTable:
    """Per (rep, industry) win rates that override the rep's base win_rate."""

    source: TableSource
    rep_id: np.ndarray  # str
    industry: np.ndarray  # str
    win_rate: np.ndarray  # float64 in [0, 1]
    raw: RawTable = field(repr=False)

    def __post_init__(self) -> None:
        _check_lengths(
            "AffinityTable", len(self.rep_id), industry=self.industry, win_rate=self.win_rate
        )
        for name in ("rep_id", "industry", "win_rate"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def __len__(self) -> int:
        return len(self.rep_id)


@dataclass(frozen=True, eq=False)
class PairTable:
    """Per (lead, rep) values from an outside model: a score and/or an effort."""

    source: TableSource
    lead_id: np.ndarray  # str
    rep_id: np.ndarray  # str
    score: np.ndarray  # float64; NaN where not given
    effort: np.ndarray  # int64 >= 1; 0 where not given
    raw: RawTable = field(repr=False)

    def __post_init__(self) -> None:
        _check_lengths(
            "PairTable", len(self.lead_id), rep_id=self.rep_id, score=self.score, effort=self.effort
        )
        for name in ("lead_id", "rep_id", "score", "effort"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def __len__(self) -> int:
        return len(self.lead_id)


def parse_leads(raw: RawTable) -> LeadTable:
    """Check and type the leads table.

    ``value`` is checked when present; whether it is required depends on the policy (it is not
    when ``value.weights`` computes it), which :func:`leadassign.models.values.lead_values`
    decides.
    """
    for name in OUTPUT_COLUMNS:
        if raw.has(name):
            hint = " (name the owner column 'current_owner')" if name == "rep_id" else ""
            raise InputError(
                f"column '{name}' clashes with an output column of assignments.csv; "
                f"rename it{hint}",
                source=raw.source.name,
            )
    raw.require(["lead_id", "territory"])
    cols = ColumnReader(raw, ("lead_id",))
    ids = cols.ids("lead_id")
    value = cols.number("value", default=None, minimum=0) if raw.has("value") else None
    return LeadTable(
        source=raw.source,
        ids=ids,
        territory=cols.text("territory", required=True),
        industry=cols.text("industry"),
        skills=cols.string_list("skills"),
        value=value,
        account_id=cols.text("account_id"),
        current_owner=cols.text("current_owner"),
        effort=cols.number("effort", default=1, integer=True, minimum=1),
        raw=raw,
    )


def parse_reps(raw: RawTable) -> RepTable:
    """Check and type the reps table."""
    raw.require(["rep_id", "territories", "capacity"])
    cols = ColumnReader(raw, ("rep_id",))
    ids = cols.ids("rep_id")
    capacity = cols.number("capacity", default=None, integer=True, minimum=0)
    min_leads = cols.number("min_leads", default=0, integer=True, minimum=0)
    cols.first_bad(
        min_leads > capacity,
        "min_leads",
        "min_leads {cell} is above the rep's capacity",
    )
    industries = cols.string_list("industries")
    # '*' (alone or among others) means every industry, the same as an empty cell.
    industries = (
        np.array([() if "*" in item else item for item in industries], dtype=object)
        if len(industries)
        else industries
    )
    return RepTable(
        source=raw.source,
        ids=ids,
        territories=cols.string_list("territories", required=True),
        industries=industries,
        skills=cols.string_list("skills"),
        capacity=capacity,
        min_leads=min_leads,
        win_rate=cols.number("win_rate", default=1.0, minimum=0, maximum=1),
        level=cols.number("level", default=1, integer=True, minimum=1),
        available=cols.boolean("available", default=True),
        raw=raw,
        time_off=rep_time_off(raw),
    )


def parse_affinity(raw: RawTable) -> AffinityTable:
    """Check and type the affinity table (rep ids are checked against the reps later)."""
    raw.require(["rep_id", "industry", "win_rate"])
    cols = ColumnReader(raw, ("rep_id", "industry"))
    rep_id = cols.text("rep_id", required=True)
    industry = cols.text("industry", required=True)
    duplicated = pd.DataFrame({"r": rep_id, "i": industry}).duplicated().to_numpy()
    cols.first_bad(duplicated, None, "duplicate (rep_id, industry) pair")
    return AffinityTable(
        source=raw.source,
        rep_id=rep_id,
        industry=industry,
        win_rate=cols.number("win_rate", default=None, minimum=0, maximum=1),
        raw=raw,
    )


def parse_pairs(raw: RawTable) -> PairTable:
    """Check and type the pairs table (ids are checked against leads and reps later)."""
    raw.require(["lead_id", "rep_id"])
    cols = ColumnReader(raw, ("lead_id", "rep_id"))
    lead_id = cols.text("lead_id", required=True)
    rep_id = cols.text("rep_id", required=True)
    duplicated = pd.DataFrame({"l": lead_id, "r": rep_id}).duplicated().to_numpy()
    cols.first_bad(duplicated, None, "duplicate (lead_id, rep_id) pair")
    if raw.has("score"):
        cells = raw.text("score")
        score = np.full(len(raw), np.nan)
        given = cells != ""
        if given.any():
            parsed = cols.number("score", default=0.0)
            score[given] = parsed[given]
    else:
        score = np.full(len(raw), np.nan)
    # Given cells must be >= 1; an empty cell (or no column) means "not given", stored as 0.
    effort = cols.number("effort", default=1, integer=True, minimum=1)
    effort = np.where(raw.text("effort") != "", effort, 0) if raw.has("effort") else effort * 0
    return PairTable(
        source=raw.source, lead_id=lead_id, rep_id=rep_id, score=score, effort=effort, raw=raw
    )
