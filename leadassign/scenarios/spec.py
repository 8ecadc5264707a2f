"""Scenario files: a base book and named variants, each a few overrides (README "What-if
scenarios").

A variant is built from the base's tables as text, with its overrides applied, and then read
and checked again exactly as input files are (``load_problem`` and ``policy_from_mapping``):
never by copying validated objects. An override that names an unknown rep, lead column or
policy key is an error that names the scenario file, the variant and the override.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from leadassign.errors import InputError
from leadassign.models.columns import MAX_NUMBER
from leadassign.models.policy import Policy, policy_from_mapping, read_yaml
from leadassign.models.problem import Problem, load_problem
from leadassign.models.source import LIST_SEPARATOR, read_table

#: The name of the base in outputs (comparison.csv, folders); no variant may take it.
BASE = "base"
#: Variant names become file and folder names (OUT/<name>/, OUT/diff_<name>.csv).
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
#: The files compare and frontier write next to the runs' folders (scenarios/compare.py); a
#: variant's folder may not take one of these names, in any case.
OUTPUT_NAMES = ("comparison.csv", "frontier.csv", "report.html")
#: Names Windows keeps for devices (also with an extension: ``con.csv``).
WINDOWS_DEVICES = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)

Cell = str | int | float | bool | list[str]
Match = dict[str, str | int | float | list[str | int | float]]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RepChange(_Spec):
    """New values for some columns of one existing rep (lists become ';'-separated)."""

    rep_id: str
    territories: str | list[str] | None = None
    industries: str | list[str] | None = None
    skills: str | list[str] | None = None
    capacity: int | None = Field(default=None, ge=0)
    min_leads: int | None = Field(default=None, ge=0)
    win_rate: float | None = Field(default=None, ge=0, le=1)
    level: int | None = Field(default=None, ge=1)
    available: bool | None = None

    def cells(self) -> dict[str, str]:
        """The changed columns as table text."""
        return {
            k: _cell(v) for k, v in self.model_dump(exclude={"rep_id"}).items() if v is not None
        }


class NewRep(RepChange):
    """A rep added by a variant: the reps table's required columns are required here."""

    territories: str | list[str]
    capacity: int = Field(ge=0)


class ValueMultiplier(_Spec):
    """Multiply the ``value`` of the leads that match ``where`` (every lead when empty)."""

    where: Match = Field(default_factory=dict)
    factor: float = Field(gt=0, le=MAX_NUMBER, allow_inf_nan=False)


class LeadChanges(_Spec):
    """Lead filters (a lead matches when each named column holds one of the given values)
    and value multipliers, applied in that order."""

    exclude: Match | None = None
    include: Match | None = None
    value_multipliers: list[ValueMultiplier] = Field(default_factory=list)


class Variant(_Spec):
    description: str = ""
    #: routed by a baseline instead of solved: ``current`` (the current owners, what we
    #: have today) or a CRM routing (``round-robin``, ``weighted-round-robin``, ``greedy``)
    baseline: Literal["current", "round-robin", "weighted-round-robin", "greedy"] | None = None
    reps: list[RepChange] = Field(default_factory=list)
    add_reps: list[NewRep] = Field(default_factory=list)
    remove_reps: list[str] = Field(default_factory=list)
    leads: LeadChanges | None = None
    policy: dict[str, Any] = Field(default_factory=dict)


class Base(_Spec):
    """Paths are relative to the scenario file; ``policy`` is a path or an inline mapping."""

    leads: str
    reps: str
    affinity: str | None = None
    pairs: str | None = None
    pairs_mode: Literal["only", "override"] = "only"
    policy: str | dict[str, Any] | None = None


#: The figures of comparison.csv a sweep may trade the expected value against.
FIGURES = (
    "utilization_spread",
    "gini_assigned_value",
    "leads_per_rep_min",
    "leads_per_rep_max",
    "band_largest_excess",
    "reassigned",
    "changed_vs_base",
    "unassigned",
    "unassigned_vs_base",
    "objective",
)


class Sweep(_Spec):
    """A range of one policy knob (``frontier``): ``key`` is a dotted path into the policy
    (``fairness.band``, ``continuity.max_reassign``, ``tiers.0.min_value``), ``values`` the
    settings tried, ``against`` the comparison.csv column the value is traded against (lower
    is better; by default ``utilization_spread`` for fairness and ``reassigned`` for
    continuity)."""

    key: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
    values: list[float | int | str] = Field(min_length=2)
    against: str | None = None

    @field_validator("against")
    @classmethod
    def _figure(cls, against: str | None) -> str | None:
        if against is not None and against not in FIGURES:
            raise ValueError(f"'{against}' is not one of {', '.join(FIGURES)}")
        return against

    def metric(self) -> str:
        if self.against is not None:
            return self.against
        top = self.key.split(".")[0]
        if top == "fairness":
            return "utilization_spread"
        if top == "continuity":
            return "reassigned"
        raise ValueError(f"sweep of '{self.key}': name the figure it trades against (against:)")

    def name(self, value: float | int | str) -> str:
        return f"{self.key}-{value}"


class Scenario(_Spec):
    base: Base
    variants: dict[str, Variant] = Field(default_factory=dict)
    sweep: Sweep | None = None
    folder: Path = Path(".")  # where the scenario file is (set by load_scenario)
    source: str = "scenario"  # the scenario file's name, for messages

    @model_validator(mode="after")
    def _something(self) -> Scenario:
        if not self.variants and self.sweep is None:
            raise ValueError("name at least one variant (variants:) or a sweep (sweep:)")
        return self

    @field_validator("variants")
    @classmethod
    def _names(cls, variants: dict[str, Variant]) -> dict[str, Variant]:
        check_names(list(variants))
        return variants

    @property
    def names(self) -> list[str]:
        """The base, then the variants in file order."""
        return [BASE, *self.variants]

    def path(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else self.folder / path

    def base_policy(self) -> dict[str, Any]:
        """The base policy as a mapping (empty when none)."""
        policy = self.base.policy
        if policy is None:
            return {}
        if isinstance(policy, dict):
            return policy
        path = self.path(policy)
        data = read_yaml(path)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise InputError("the policy must be a mapping of blocks", source=str(path))
        return data


def check_names(names: list[str]) -> None:
    """Refuse (ValueError) a variant name that is not a safe folder name on every system or
    that would take the place of another output: the base's, another variant's (names that
    differ only in case share a folder on Windows and macOS), a file compare writes, or
    another variant's diff file."""
    taken = {BASE: f"the base ('{BASE}')"}
    taken.update({name: f"the output file {name}" for name in OUTPUT_NAMES})
    for name in names:
        taken[f"diff_{name}.csv".casefold()] = f"the diff file of variant '{name}'"
    seen: dict[str, str] = {}
    for name in names:
        shown = repr(name if len(name) <= 60 else name[:60] + "...")
        if not NAME.match(name) or name.endswith("."):
            raise ValueError(
                f"variant name {shown}: use up to 100 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit and not ending with '.' (it names a folder)"
            )
        if WINDOWS_DEVICES.match(name):
            raise ValueError(
                f"variant name {shown}: a device name on Windows, not a folder name; rename it"
            )
        key = name.casefold()
        clash = taken.get(key) or (f"variant '{seen[key]}'" if key in seen else None)
        if clash is not None:
            raise ValueError(
                f"variant name {shown} clashes with {clash} (names are compared ignoring "
                "case, as file names are on Windows and macOS); rename it"
            )
        seen[key] = name


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; errors name the file and the key."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(
            "the scenario file must be a mapping with 'base' and 'variants'", source=str(path)
        )
    for key in ("folder", "source"):
        if key in data:
            raise InputError(f"unknown key '{key}'", source=str(path))
    try:
        return Scenario.model_validate({**data, "folder": path.parent, "source": str(path)})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        if first["type"] == "extra_forbidden":
            message = f"unknown key '{where}'"
        else:
            message = f"key '{where}': {first['msg'].removeprefix('Value error, ')}"
        raise InputError(message, source=str(path)) from exc


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return LIST_SEPARATOR.join(str(item) for item in value)
    return str(value)


def _matches(frame: pd.DataFrame, match: Match, what: str) -> np.ndarray:
    """Rows whose every named column holds one of the given values (as text)."""
    rows = np.ones(len(frame), dtype=bool)
    for column, wanted in match.items():
        if column not in frame.columns:
            raise InputError(f"{what}: the leads have no column '{column}'")
        values = wanted if isinstance(wanted, list) else [wanted]
        rows &= frame[column].isin([_cell(v) for v in values]).to_numpy()
    return rows


@dataclass(frozen=True)
class Tables:
    """A book's tables as text (every cell a string): a scenario's base (:meth:`read`), or
    any book's tables (``leadassign backtest --scenarios`` passes its own), to apply a
    variant's overrides to (:func:`apply_variant`). Read once, shared by every variant."""

    leads: pd.DataFrame
    reps: pd.DataFrame
    affinity: pd.DataFrame | None = None
    pairs: pd.DataFrame | None = None

    @classmethod
    def read(cls, scenario: Scenario) -> Tables:
        """The scenario's base tables, read from its files."""
        base = scenario.base

        def text(relative: str | None, kind: str) -> pd.DataFrame | None:
            return None if relative is None else read_table(scenario.path(relative), kind).frame

        leads, reps = text(base.leads, "leads"), text(base.reps, "reps")
        assert leads is not None and reps is not None
        return cls(leads, reps, text(base.affinity, "affinity"), text(base.pairs, "pairs"))


def apply_variant(tables: Tables, variant: Variant) -> Tables:
    """The variant's tables: ``tables`` (left as they are) with the variant's overrides
    applied -- reps changed, added and removed (with their leads' ownership, affinity and
    pairs rows), then leads filtered and revalued -- still as text, to be read and checked
    like input files (``load_problem``). InputError names the override."""
    leads, reps = tables.leads.copy(), tables.reps.copy()
    affinity = None if tables.affinity is None else tables.affinity.copy()
    pairs = None if tables.pairs is None else tables.pairs.copy()
    known = set(reps["rep_id"])
    _change_reps(reps, known, variant.reps)
    reps = _add_reps(reps, known, variant.add_reps)
    for rep_id in variant.remove_reps:
        if rep_id not in known:
            raise InputError(f"remove_reps: unknown rep '{rep_id}'")
        known.discard(rep_id)
        reps = reps[reps["rep_id"] != rep_id]
        # the rep's leads lose their owner; its affinity and pairs rows go with it
        if "current_owner" in leads.columns:
            leads.loc[leads["current_owner"] == rep_id, "current_owner"] = ""
        if affinity is not None and "rep_id" in affinity.columns:
            affinity = affinity[affinity["rep_id"] != rep_id]
        if pairs is not None and "rep_id" in pairs.columns:
            pairs = pairs[pairs["rep_id"] != rep_id]
    if variant.leads is not None:
        leads, pairs = _change_leads(leads, pairs, variant.leads)
    return Tables(leads, reps, affinity, pairs)


def _change_reps(reps: pd.DataFrame, known: set[str], changes: list[RepChange]) -> None:
    """The reps' cells the variant changes, set in ``reps`` (a new column starts empty)."""
    for change in changes:
        if change.rep_id not in known:
            raise InputError(f"reps: unknown rep '{change.rep_id}'")
        row = reps["rep_id"] == change.rep_id
        for column, text in change.cells().items():
            if column not in reps.columns:
                reps[column] = ""
            reps.loc[row, column] = text


def _add_reps(reps: pd.DataFrame, known: set[str], new_reps: list[NewRep]) -> pd.DataFrame:
    """``reps`` with the variant's new reps appended (and added to ``known``); cells a new
    rep leaves out, and columns only new reps have, are empty."""
    for new in new_reps:
        if new.rep_id in known:
            raise InputError(f"add_reps: rep '{new.rep_id}' is already in the reps table")
        known.add(new.rep_id)
        cells = {"rep_id": new.rep_id, **new.cells()}
        for column in cells:
            if column not in reps.columns:
                reps[column] = ""
        added = pd.DataFrame([{column: cells.get(column, "") for column in reps.columns}])
        reps = pd.concat([reps, added], ignore_index=True)
    return reps


def _change_leads(
    leads: pd.DataFrame, pairs: pd.DataFrame | None, changes: LeadChanges
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The leads the variant keeps (and their pairs rows), with its value multipliers
    applied."""
    if changes.exclude:
        leads = leads[~_matches(leads, changes.exclude, "leads.exclude")]
    if changes.include:
        leads = leads[_matches(leads, changes.include, "leads.include")]
    if pairs is not None and "lead_id" in pairs.columns:
        pairs = pairs[pairs["lead_id"].isin(leads["lead_id"])]
    for i, multiplier in enumerate(changes.value_multipliers):
        what = f"leads.value_multipliers[{i}]"
        if "value" not in leads.columns:
            raise InputError(f"{what}: the leads have no 'value' column")
        rows = _matches(leads, multiplier.where, what)
        number = pd.to_numeric(leads["value"], errors="coerce")
        scaled = rows & number.notna().to_numpy()  # a bad cell is left for the reader
        leads.loc[scaled, "value"] = (number[scaled] * multiplier.factor).map(repr)
    return leads, pairs


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def variant_policy(scenario: Scenario, name: str) -> Policy:
    """The base policy, with the variant's policy keys merged in (blocks merge key by key;
    ``null`` removes a block), validated like a policy file."""
    data = scenario.base_policy()
    source = scenario.source if name == BASE else f"{scenario.source}, variant '{name}', policy"
    if name != BASE:
        data = _deep_merge(data, scenario.variants[name].policy)
        data = {k: v for k, v in data.items() if v is not None}
    return policy_from_mapping(data, source=source)


def build(scenario: Scenario, name: str, tables: Tables | None = None) -> tuple[Problem, Policy]:
    """The problem and policy of the base or of one variant, validated; a variant's from
    ``tables`` (the base's, :meth:`Tables.read`, when not given)."""
    policy = variant_policy(scenario, name)
    base = scenario.base
    if name == BASE:
        problem = load_problem(
            scenario.path(base.leads),
            scenario.path(base.reps),
            scenario.path(base.affinity) if base.affinity else None,
            scenario.path(base.pairs) if base.pairs else None,
            pairs_mode=base.pairs_mode,
            policy=policy,
        )
        return problem, policy
    where = f"{scenario.source}, variant '{name}'"
    try:
        made = apply_variant(tables or Tables.read(scenario), scenario.variants[name])
        problem = load_problem(
            made.leads,
            made.reps,
            made.affinity,
            made.pairs,
            pairs_mode=base.pairs_mode,
            policy=policy,
        )
    except InputError as exc:
        if exc.source is not None and exc.source.startswith(where):
            raise
        source = where if exc.source is None else f"{where}: {exc.source}"
        raise InputError(
            exc.message, source=source, where=exc.where, ident=exc.ident, column=exc.column
        ) from exc
    return problem, policy


def _set_path(data: Any, path: list[str], value: Any, key: str) -> Any:
    """``data`` (policy mapping or list) with ``value`` at ``path``, copied on the way."""
    head, rest = path[0], path[1:]
    if isinstance(data, list):
        if not head.isdigit() or int(head) >= len(data):
            raise InputError(f"sweep key '{key}': no item {head} in that list")
        out_list = list(data)
        out_list[int(head)] = value if not rest else _set_path(data[int(head)], rest, value, key)
        return out_list
    out = dict(data) if isinstance(data, dict) else {}
    if rest and head not in out:
        out[head] = {}
    out[head] = value if not rest else _set_path(out[head], rest, value, key)
    return out


def sweep_scenario(scenario: Scenario) -> Scenario:
    """The scenario whose variants are the sweep's points (the knob at each value; the rest
    of the base policy as it is), named ``<key>-<value>``."""
    sweep = scenario.sweep
    if sweep is None:
        raise InputError("no sweep: block in the scenario file", source=scenario.source)
    try:
        sweep.metric()
    except ValueError as exc:
        raise InputError(str(exc), source=scenario.source) from exc
    path = sweep.key.split(".")
    policy = scenario.base_policy()
    names = [sweep.name(value) for value in sweep.values]
    try:
        check_names(names)
    except ValueError as exc:
        raise InputError(f"sweep: {exc}", source=scenario.source) from exc
    points = {}
    for name, value in zip(names, sweep.values, strict=True):
        changed = _set_path(policy, path, value, sweep.key)
        points[name] = Variant(
            description=f"{sweep.key} = {value}", policy={path[0]: changed[path[0]]}
        )
    return Scenario(
        base=scenario.base,
        variants=points,
        sweep=sweep,
        folder=scenario.folder,
        source=scenario.source,
    )


#: :func:`check` keeps the runs it builds for the solves (each book read and checked once)
#: while their leads add up to at most this many; beyond, a run is built again when solved.
KEEP_BUILT_LEADS = 2_000_000

#: Runs built and checked, by name: each one's problem and policy.
Built = dict[str, tuple[Problem, Policy]]


def check(scenario: Scenario, tables: Tables | None = None) -> Built:
    """Build every run once (the base and each variant, from the base's ``tables``, read
    once), so that a bad override stops the comparison before anything is solved. Returns
    the runs built, in order, while their leads add up to at most ``KEEP_BUILT_LEADS`` (the
    rest are left out, to be built again when solved)."""
    tables = tables or Tables.read(scenario)
    built: Built = {}
    kept = 0
    for name in scenario.names:
        problem, policy = build(scenario, name, tables)
        kept += problem.n_leads
        if kept <= KEEP_BUILT_LEADS:
            built[name] = (problem, policy)
    return built


__all__ = [
    "BASE",
    "KEEP_BUILT_LEADS",
    "Built",
    "Scenario",
    "Sweep",
    "Tables",
    "Variant",
    "apply_variant",
    "build",
    "check",
    "load_scenario",
    "sweep_scenario",
    "variant_policy",
]
