"""Reading a CRM export as a deal history: column mappings and presets.

:func:`load_history` is the one entry point commands use: ``columns`` is None (the table
already has the canonical columns of :mod:`~leadassign.outcomes.deals`), a mapping file (YAML),
or a preset's name (:data:`PRESETS`, files in ``leadassign/outcomes/presets/``).

A mapping (docs/history.md, "Column mappings and presets")::

    columns:                 # canonical column -> the export's column
      deal_id: opportunity_id
      rep_id: sales_agent
      created: engage_date
      closed: close_date
      amount: close_value    # optional
    outcome:                 # which stage values mean won, lost, open
      column: deal_stage
      won: [Won]
      lost: [Lost]
      open: [Engaging, Prospecting]   # or '*': every stage not listed as won or lost
    segments:                # segment columns to keep, by their canonical name
      industry: sector
    optional_segments:       # kept when the export has the column, skipped otherwise
      product: product
    date_format: '%m/%d/%Y'  # strftime codes; ISO dates when absent
    close_date_on_open: drop # or error (the default): a close date on an open deal

Any column may be a list of candidates (``rep_id: [Opportunity Owner, Owner.Name]``): the
first one the export has is used, so one preset reads several forms of an export. A column
name matches exactly, else case-insensitively with runs of spaces as one. Stage values match
case-insensitively too. A stage the mapping does not list is an error naming the file, the
line, the export's column and the value; every error in a cell names the export's own column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadassign.errors import InputError
from leadassign.models.policy import read_yaml
from leadassign.models.source import RawTable, TableInput, read_table
from leadassign.outcomes.deals import Deals, load_deals, parse_deals

#: The mapping presets shipped with leadassign (``leadassign/outcomes/presets/NAME.yaml``).
PRESETS_DIR = Path(__file__).parent / "presets"
PRESETS = ("hubspot", "maven", "salesforce")

ColumnNames = str | list[str]


def _names(value: ColumnNames) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _fold(text: str) -> str:
    """A column name or stage value compared loosely: case-folded, runs of spaces as one."""
    return " ".join(text.split()).casefold()


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_names(value: ColumnNames) -> ColumnNames:
    names = _names(value)
    if not names:
        raise ValueError("name at least one column")
    if any(not isinstance(n, str) or n.strip() == "" for n in names):
        raise ValueError("a column name is empty")
    return value


class ColumnsMap(_Block):
    """The export's column for each canonical column (a list: the first one present)."""

    deal_id: ColumnNames = Field(description="the deal's unique id")
    rep_id: ColumnNames = Field(description="the rep who owned the deal")
    created: ColumnNames = Field(description="the date the deal was created")
    closed: ColumnNames = Field(description="the date the deal closed")
    amount: ColumnNames | None = Field(default=None, description="won or expected amount")

    @field_validator("deal_id", "rep_id", "created", "closed", "amount")
    @classmethod
    def _columns(cls, value: ColumnNames | None) -> ColumnNames | None:
        return value if value is None else _check_names(value)


class OutcomeMap(_Block):
    """The stage column and which of its values mean won, lost and open."""

    column: ColumnNames
    won: list[str] = Field(min_length=1)
    lost: list[str] = Field(min_length=1)
    open: list[str] | Literal["*"] = Field(default_factory=list)

    @field_validator("column")
    @classmethod
    def _column(cls, value: ColumnNames) -> ColumnNames:
        return _check_names(value)

    @model_validator(mode="after")
    def _disjoint(self) -> OutcomeMap:
        seen: dict[str, str] = {}
        lists: list[tuple[str, list[str]]] = [("won", self.won), ("lost", self.lost)]
        if self.open != "*":
            lists.append(("open", self.open))
        for outcome, values in lists:
            for value in values:
                if value.strip() == "":
                    raise ValueError(f"an empty stage value under '{outcome}'")
                key = _fold(value)
                if key in seen and seen[key] != outcome:
                    raise ValueError(
                        f"stage '{value}' is listed under both '{seen[key]}' and '{outcome}'"
                    )
                seen[key] = outcome
        return self


class HistoryMapping(_Block):
    """A column mapping file (module doc)."""

    description: str | None = None
    columns: ColumnsMap
    outcome: OutcomeMap
    segments: dict[str, ColumnNames] = Field(default_factory=dict)
    optional_segments: dict[str, ColumnNames] = Field(default_factory=dict)
    date_format: str | None = None
    close_date_on_open: Literal["error", "drop"] = "error"

    @field_validator("segments", "optional_segments")
    @classmethod
    def _segment_names(cls, value: dict[str, ColumnNames]) -> dict[str, ColumnNames]:
        reserved = ("deal_id", "rep_id", "outcome", "created", "closed", "amount")
        for name, columns in value.items():
            if name.strip() == "":
                raise ValueError("a segment name is empty")
            if name in reserved:
                raise ValueError(f"'{name}' is a canonical column, not a segment name")
            _check_names(columns)
        return value

    @model_validator(mode="after")
    def _once(self) -> HistoryMapping:
        both = sorted(set(self.segments) & set(self.optional_segments))
        if both:
            raise ValueError(f"segment '{both[0]}' is under both segments and optional_segments")
        return self


@dataclass(frozen=True)
class StageCount:
    """One stage value of the export: its outcome and how many deals have it."""

    stage: str
    outcome: str
    deals: int


@dataclass(frozen=True)
class MappedHistory:
    """A history read through a mapping, with what the mapping did to it."""

    deals: Deals
    mapping: str  # the mapping file or 'preset NAME'
    columns: dict[str, str]  # canonical column (or segment) -> the export's column used
    stage_column: str
    stages: tuple[StageCount, ...]  # in order of first appearance
    dropped_close_dates: int  # close dates of open deals blanked (close_date_on_open: drop)
    skipped_segments: tuple[str, ...]  # optional segments the export does not have


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    if error.get("type") == "extra_forbidden":
        return f"unknown key '{location}'"
    if error.get("type") == "missing":
        return f"missing key '{location}'"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"key '{location}': {message}" if location else message


def mapping_from_data(data: Any, source: str) -> HistoryMapping:
    """Validate a parsed mapping document; errors name the offending key (exit 2)."""
    if not isinstance(data, dict):
        raise InputError(
            "a column mapping must be a mapping with 'columns' and 'outcome'", source=source
        )
    try:
        return HistoryMapping.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # a value that is neither a name nor a list yields one error per union member: the first
        first = dict(errors[0])
        more = len({tuple(e["loc"][:2]) for e in errors}) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        raise InputError(_describe(first) + suffix, source=source) from exc


def preset_path(name: str) -> Path:
    """The file of the preset ``name``."""
    return PRESETS_DIR / f"{name}.yaml"


def load_mapping(columns: str | Path) -> tuple[HistoryMapping, str]:
    """The mapping of a preset name or a YAML file, and how to name it in messages."""
    text = str(columns)
    if isinstance(columns, str) and text in PRESETS:
        path = preset_path(text)
        label = f"preset {text} ({path})"
        return mapping_from_data(read_yaml(path), label), f"preset {text}"
    path = Path(columns)
    if path.suffix == "" and not path.exists() and "/" not in text and "\\" not in text:
        raise InputError(
            f"no preset '{text}' and no such file: give a mapping file (.yaml) or a preset "
            f"({', '.join(PRESETS)})",
            source="--columns",
        )
    return mapping_from_data(read_yaml(path), str(path)), str(path)


def _find_column(header: list[str], names: tuple[str, ...]) -> str | None:
    """The first of ``names`` the header has: exactly, else loosely (one match only)."""
    for name in names:
        if name in header:
            return name
    folded: dict[str, list[str]] = {}
    for column in header:
        folded.setdefault(_fold(column), []).append(column)
    for name in names:
        found = folded.get(_fold(name), [])
        if len(found) == 1:
            return found[0]
    return None


def _missing(raw: RawTable, names: tuple[str, ...], what: str, mapping: str) -> InputError:
    listed = ", ".join(f"'{n}'" for n in names)
    have = ", ".join(raw.columns) or "none"
    which = f"column {listed} is" if len(names) == 1 else f"none of the columns {listed} is"
    return InputError(
        f"{which} not in the file ({what}, named by the mapping {mapping}); columns found: {have}",
        source=raw.source.name,
    )


def _stage_outcomes(
    raw: RawTable, column: str, outcome: OutcomeMap, mapping: str, id_column: str
) -> tuple[np.ndarray, tuple[StageCount, ...]]:
    """The canonical outcome of every deal from its stage, and the stages seen."""
    cells = raw.text(column)
    known: dict[str, str] = {}
    for word, values in (("won", outcome.won), ("lost", outcome.lost)):
        known.update({_fold(v): word for v in values})
    if outcome.open != "*":
        known.update({_fold(v): "open" for v in outcome.open})
    codes, uniques = pd.factorize(pd.Series(cells, dtype=object), sort=False)
    words = np.empty(len(uniques), dtype=object)
    for k, stage in enumerate(uniques.tolist()):
        found = known.get(_fold(str(stage)))
        words[k] = found if found is not None else ("open" if outcome.open == "*" else "")
    per_deal = words[codes] if len(codes) else np.empty(0, dtype=object)
    bad = per_deal == ""
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        deal = raw.text(id_column)[i]
        if cells[i] == "":
            message = "is empty: every deal needs its stage"
        else:
            message = (
                f"stage '{cells[i]}' is not in the mapping {mapping}: list it under outcome "
                "won, lost or open (a copy of a preset is a good start)"
            )
        raise InputError(
            message,
            source=raw.source.name,
            where=raw.source.where(i),
            ident=f"{id_column} {deal}" if deal else None,
            column=column,
        )
    counts = np.bincount(codes, minlength=len(uniques))
    stages = tuple(
        StageCount(str(stage), str(words[k]), int(counts[k]))
        for k, stage in enumerate(uniques.tolist())
    )
    return per_deal.astype(str), stages


def _renamed(error: InputError, back: dict[str, str], id_column: str) -> InputError:
    """``error`` (raised on the canonical table) naming the export's columns instead."""
    column = error.column
    message = error.message
    if column is not None and column in back and back[column] != column:
        message = f"{message} (the mapping's {column})"
        column = back[column]
    ident = error.ident
    if ident is not None and ident.startswith("deal_id ") and id_column != "deal_id":
        ident = f"{id_column} {ident.removeprefix('deal_id ')}"
    return InputError(message, source=error.source, where=error.where, ident=ident, column=column)


def map_history(data: TableInput, columns: str | Path) -> MappedHistory:
    """Read a raw CRM export through the mapping (or preset) ``columns`` and check it."""
    mapping, label = load_mapping(columns)
    raw = read_table(data, "history")
    header = raw.columns
    used: dict[str, str] = {}
    for canonical in ("deal_id", "rep_id", "created", "closed", "amount"):
        names = getattr(mapping.columns, canonical)
        if names is None:
            continue
        found = _find_column(header, _names(names))
        if found is None:
            raise _missing(raw, _names(names), canonical, label)
        used[canonical] = found
    stage_column = _find_column(header, _names(mapping.outcome.column))
    if stage_column is None:
        raise _missing(raw, _names(mapping.outcome.column), "the outcome's stage", label)
    skipped: list[str] = []
    for name, names in mapping.segments.items():
        found = _find_column(header, _names(names))
        if found is None:
            raise _missing(raw, _names(names), f"segment {name}", label)
        used[name] = found
    for name, names in mapping.optional_segments.items():
        found = _find_column(header, _names(names))
        if found is None:
            skipped.append(name)
        else:
            used[name] = found

    outcome, stages = _stage_outcomes(raw, stage_column, mapping.outcome, label, used["deal_id"])
    table: dict[str, np.ndarray] = {name: raw.text(column) for name, column in used.items()}
    table["outcome"] = outcome.astype(object)
    dropped = 0
    if mapping.close_date_on_open == "drop":
        closed = table["closed"]
        blank = (outcome == "open") & (closed != "")
        dropped = int(blank.sum())
        table["closed"] = np.where(blank, "", closed).astype(object)
    order = ["deal_id", "rep_id", "outcome", "created", "closed", "amount"]
    names = [c for c in order if c in table] + [c for c in table if c not in order]
    frame = pd.DataFrame({c: table[c] for c in names}, index=pd.RangeIndex(len(raw)), dtype=object)
    renamed = RawTable(raw.source, frame, raw.digest)
    back = dict(used)
    back["outcome"] = stage_column
    try:
        deals = parse_deals(renamed, date_format=mapping.date_format)
    except InputError as exc:
        raise _renamed(exc, back, used["deal_id"]) from exc
    return MappedHistory(deals, label, used, stage_column, stages, dropped, tuple(skipped))


def load_history(data: TableInput, columns: str | Path | None = None) -> Deals:
    """The validated deal history of ``data``, renamed by the mapping ``columns``."""
    if columns is None:
        return load_deals(data)
    return map_history(data, columns).deals


__all__ = [
    "PRESETS",
    "HistoryMapping",
    "MappedHistory",
    "StageCount",
    "load_history",
    "load_mapping",
    "map_history",
    "preset_path",
]
