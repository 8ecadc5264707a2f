"""The validated problem: the four tables, checked against each other, and how to load them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from leadassign.errors import InputError
from leadassign.models.columns import MAX_NUMBER, ColumnReader
from leadassign.models.policy import Policy, ValuePolicy
from leadassign.models.source import TableInput, read_table
from leadassign.models.tables import (
    AffinityTable,
    LeadTable,
    PairTable,
    RepTable,
    parse_affinity,
    parse_leads,
    parse_pairs,
    parse_reps,
)

if TYPE_CHECKING:
    from leadassign.models.operations import Operations

PairsMode = Literal["only", "override"]


@dataclass(frozen=True, eq=False)
class Steer:
    """How ``leadassign route`` steers a solve of the whole book (``leadassign.app.route``):
    each owned lead, and each new lead of an account with an owned lead, may go to its
    (account's) owner only (the pair is kept even when the rules no
    longer allow it), and the new leads' pair scores get a per-rep term (minus the rep's
    capacity price per capacity unit, plus the working-hours bonus; shifted to stay >= 0)."""

    fixed: np.ndarray  # int64 per lead: the owner's rep index, -1 for a new lead
    only: np.ndarray  # int64 per lead: the one rep it may go to (its owner's, or its owned
    # account's owner's for a new lead), -1: any eligible rep
    price: np.ndarray  # float64 per rep: value per capacity unit a new lead takes
    bonus: np.ndarray  # float64 per rep: added to a new lead's score with that rep


def _index_of(known: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Position of each name in ``known`` (-1 when unknown or empty), vectorized."""
    if len(names) == 0:
        return np.zeros(0, dtype=np.int64)
    lookup = pd.Index(known)
    return np.asarray(lookup.get_indexer(pd.Index(names, dtype=object)), dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Problem:
    """Leads, reps and the optional affinity and pairs tables, consistent with each other.

    Construction checks every cross-table reference (current owners, affinity and pair ids),
    so a Problem built anew from changed tables is validated again.
    """

    leads: LeadTable
    reps: RepTable
    affinity: AffinityTable | None = None
    pairs: PairTable | None = None
    pairs_mode: PairsMode = "only"
    #: sha256 of each input (the file's bytes, or a canonical CSV of a DataFrame)
    digests: Mapping[str, str] = field(default_factory=dict)
    #: the run date's time off, departures and SLA (leadassign.models.operations; None: none)
    ops: Operations | None = None
    #: route: owned leads fixed to their owner, per-rep score terms (None: a plain solve)
    steer: Steer | None = None

    # Derived, read-only index arrays (set in __post_init__).
    owner: np.ndarray = field(init=False, repr=False)  # rep index of current_owner, -1 none
    affinity_rep: np.ndarray = field(init=False, repr=False)
    pair_lead: np.ndarray = field(init=False, repr=False)
    pair_rep: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.pairs_mode not in ("only", "override"):
            raise InputError(f"pairs mode must be 'only' or 'override', not '{self.pairs_mode}'")
        rep_ids = self.reps.ids
        owner = _index_of(rep_ids, self.leads.current_owner)
        unknown = (owner < 0) & (self.leads.current_owner != "")
        self.leads.reader.first_bad(
            unknown, "current_owner", "'{cell}' is not a rep_id of the reps table"
        )
        object.__setattr__(self, "owner", _readonly(owner))

        affinity_rep = np.zeros(0, dtype=np.int64)
        if self.affinity is not None:
            affinity_rep = _index_of(rep_ids, self.affinity.rep_id)
            ColumnReader(self.affinity.raw, ("rep_id", "industry")).first_bad(
                affinity_rep < 0, "rep_id", "'{cell}' is not a rep_id of the reps table"
            )
        object.__setattr__(self, "affinity_rep", _readonly(affinity_rep))

        pair_lead = np.zeros(0, dtype=np.int64)
        pair_rep = np.zeros(0, dtype=np.int64)
        if self.pairs is not None:
            cols = ColumnReader(self.pairs.raw, ("lead_id", "rep_id"))
            pair_lead = _index_of(self.leads.ids, self.pairs.lead_id)
            cols.first_bad(pair_lead < 0, "lead_id", "'{cell}' is not a lead_id of the leads table")
            pair_rep = _index_of(rep_ids, self.pairs.rep_id)
            cols.first_bad(pair_rep < 0, "rep_id", "'{cell}' is not a rep_id of the reps table")
        object.__setattr__(self, "pair_lead", _readonly(pair_lead))
        object.__setattr__(self, "pair_rep", _readonly(pair_rep))
        object.__setattr__(self, "digests", MappingProxyType(dict(self.digests)))

    @property
    def n_leads(self) -> int:
        return len(self.leads)

    @property
    def n_reps(self) -> int:
        return len(self.reps)


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def lead_values(leads: LeadTable, policy: ValuePolicy | None) -> np.ndarray:
    """Each lead's value: the ``value`` column, or the weighted sum of ``policy.weights``.

    Raises InputError naming the file, column and row when a needed column is missing or a
    cell is not a number, or when a weighted value comes out negative.
    """
    if policy is None:
        if leads.value is None:
            raise InputError(
                "missing required column 'value' (or compute it with value.weights in the "
                f"policy; columns found: {', '.join(leads.raw.columns)})",
                source=leads.source.name,
            )
        return leads.value
    cols = leads.reader
    missing = [name for name in policy.weights if not cols.has(name)]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        raise InputError(
            f"missing column {names} named in the policy's value.weights",
            source=leads.source.name,
        )
    total = np.zeros(len(leads), dtype=np.float64)
    for name, weight in policy.weights.items():
        total += weight * cols.number(name, default=None)
    cols.first_bad(
        total < 0,
        None,
        "value computed from value.weights is negative; lead values must be >= 0",
    )
    cols.first_bad(
        ~(total <= MAX_NUMBER),
        None,
        f"value computed from value.weights is above {int(MAX_NUMBER):,}, the largest lead "
        "value leadassign accepts",
    )
    return total


def lead_column(leads: LeadTable, column: str, key: str) -> np.ndarray:
    """A numeric lead column (>= 0, every cell given) that the policy's ``key`` names, e.g.
    ``fairness.metric: workload``. Raises InputError naming the key and the column when it
    is missing, and the row when a cell is empty, not a number or negative."""
    cols = leads.reader
    if not cols.has(column):
        raise InputError(
            f"missing column '{column}' named in the policy's {key} (columns found: "
            f"{', '.join(leads.raw.columns)})",
            source=leads.source.name,
        )
    try:
        numbers = cols.number(column, default=None, minimum=0)
    except InputError as exc:
        raise InputError(
            f"{exc.message} (named in the policy's {key})",
            source=exc.source,
            where=exc.where,
            ident=exc.ident,
            column=exc.column,
        ) from exc
    return numbers


def load_problem(
    leads: TableInput,
    reps: TableInput,
    affinity: TableInput | None = None,
    pairs: TableInput | None = None,
    *,
    pairs_mode: PairsMode = "only",
    policy: Policy | None = None,
) -> Problem:
    """Read and validate the input tables, from paths (CSV or Parquet) or DataFrames.

    ``policy`` (default: the empty policy) decides whether the leads need a ``value`` column
    or compute it from ``value.weights``; either way lead values are checked here, so a bad
    value is reported before any solving.
    """
    lead_raw = read_table(leads, "leads")
    rep_raw = read_table(reps, "reps")
    affinity_raw = read_table(affinity, "affinity") if affinity is not None else None
    pairs_raw = read_table(pairs, "pairs") if pairs is not None else None
    lead_table = parse_leads(lead_raw)
    lead_values(lead_table, (policy or Policy()).value)
    digests = {"leads": lead_raw.digest, "reps": rep_raw.digest}
    if affinity_raw is not None:
        digests["affinity"] = affinity_raw.digest
    if pairs_raw is not None:
        digests["pairs"] = pairs_raw.digest
    return Problem(
        leads=lead_table,
        reps=parse_reps(rep_raw),
        affinity=parse_affinity(affinity_raw) if affinity_raw is not None else None,
        pairs=parse_pairs(pairs_raw) if pairs_raw is not None else None,
        pairs_mode=pairs_mode,
        digests=digests,
    )


@dataclass(frozen=True)
class Carried:
    """How a previous run's owners became a problem's ``current_owner`` (rebalance)."""

    problem: Problem  # the leads with the previous run's owners
    carried: int  # leads whose previous owner is their current_owner now
    new_leads: np.ndarray  # lead ids not in the previous run (no owner)
    vanished: pd.DataFrame  # lead_id, rep_id: leads of the previous run that are gone
    owners_gone: np.ndarray  # lead ids whose previous owner is no longer a rep
    replaced: int  # leads whose current_owner in the leads table differed, now replaced


def with_previous_owners(problem: Problem, previous: pd.DataFrame) -> Carried:
    """``problem`` with each lead's owner in ``previous`` (lead_id, rep_id; '' for none) as
    its ``current_owner``, validated anew: leads the previous run did not have, or left
    unassigned, get none; an owner that is no longer in the reps table is dropped (and
    reported); leads of the previous run that are not in the table are reported."""
    leads = problem.leads
    before = pd.Series(
        previous["rep_id"].to_numpy(dtype=object), index=previous["lead_id"].to_numpy(dtype=object)
    )
    known = pd.Index(before.index).get_indexer(pd.Index(leads.ids, dtype=object))
    owner = np.full(len(leads), "", dtype=object)
    owner[known >= 0] = before.to_numpy(dtype=object)[known[known >= 0]]
    rep_known = pd.Index(problem.reps.ids).get_indexer(pd.Index(owner, dtype=object)) >= 0
    gone = (owner != "") & ~rep_known
    owner[gone] = ""
    current = np.asarray(leads.current_owner, dtype=object)
    frame = leads.raw.frame.copy()
    frame["current_owner"] = owner
    raw = replace(leads.raw, frame=frame)
    table = replace(leads, current_owner=owner, raw=raw)
    in_table = pd.Index(leads.ids, dtype=object)
    vanished = previous.loc[~previous["lead_id"].isin(in_table), ["lead_id", "rep_id"]].reset_index(
        drop=True
    )
    return Carried(
        problem=replace(problem, leads=table),
        carried=int((owner != "").sum()),
        new_leads=np.asarray(leads.ids, dtype=object)[known < 0],
        vanished=vanished,
        owners_gone=np.asarray(leads.ids, dtype=object)[gone],
        replaced=int(((current != "") & (current != owner)).sum()),
    )
