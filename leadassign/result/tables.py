"""The tables of a Result: per lead the reason it went where it did and its runner-up
(assignments.csv), per rep the load and value (reps.csv)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from leadassign.compile.candidates import best_per_lead
from leadassign.models.operations import REASON_HANDOVER, REASON_LEAVING, REASON_SLA
from leadassign.models.tables import WILDCARD
from leadassign.result.held import held_back
from leadassign.result.status import Status

if TYPE_CHECKING:
    from leadassign.models.problem import Problem
    from leadassign.result.result import Result

REASON_ASSIGNED = "assigned"
REASON_KEPT = "kept"
REASON_REASSIGNED = "reassigned"
REASON_FORCED = "forced_move"
REASON_NO_ELIGIBLE = "no_eligible_rep"
REASON_RELEASED = "released"
REASON_NO_CAPACITY = "no_capacity"
REASON_HELD_BACK = "held_back"
REASON_NOT_CHOSEN = "unassigned"
# The current-owner baseline's unassigned leads (``leadassign baseline --strategy current``)
REASON_NEW_LEAD = "new_lead"
REASON_OWNER_UNAVAILABLE = "owner_unavailable"
REASON_OWNER_NOT_ELIGIBLE = "owner_not_eligible"
REASON_OWNER_FULL = "owner_full"


def lead_reasons(result: Result) -> tuple[np.ndarray, np.ndarray]:
    """Per lead: the reason code and a detail in words (assignments.csv)."""
    result.require_solution()
    cands, problem = result.candidates, result.problem
    n = problem.n_leads
    assigned = result.pair_of_lead >= 0
    rep = result.rep_of_lead
    owner = problem.owner
    ids = problem.reps.ids
    reason = np.full(n, REASON_ASSIGNED, dtype=object)
    detail = np.full(n, "", dtype=object)

    # Unassigned: nobody eligible, everybody full, or held back although a rep had room.
    none = ~assigned & (cands.eligible_reps == 0)
    reason[none] = REASON_NO_ELIGIBLE
    detail[none] = cands.why_none[none]
    open_pair = _open_pairs(result, assigned, rep)
    had_room = np.bincount(cands.lead[open_pair], minlength=n) > 0
    waiting = ~assigned & ~none
    full = waiting & ~had_room
    reason[full] = REASON_NO_CAPACITY
    detail[full] = [
        f"its {k} eligible rep{'s' if k != 1 else ''} had no room left"
        for k in cands.eligible_reps[full]
    ]
    _held_or_not_chosen(result, waiting & had_room, open_pair, reason, detail)

    # Owned leads: kept, reassigned or released by choice (or held back), or a forced move.
    owned, keepable = result.owner_status
    owner_ids = np.where(owned, ids[np.maximum(owner, 0)], "") if len(ids) else owner
    kept = owned & (rep == owner)
    reason[kept] = REASON_KEPT
    moved = owned & keepable & assigned & (rep != owner)
    reason[moved] = REASON_REASSIGNED
    detail[moved] = [f"from {o}" for o in owner_ids[moved]]
    held = owned & keepable & ~assigned & (reason == REASON_HELD_BACK)
    detail[held] = [
        f"owner {o} could keep it; {d}" for o, d in zip(owner_ids[held], detail[held], strict=True)
    ]
    released = owned & keepable & ~assigned & ~held
    reason[released] = REASON_RELEASED
    detail[released] = [
        f"owner {o} could keep it; left unassigned ({d or r})"
        for o, d, r in zip(owner_ids[released], detail[released], reason[released], strict=True)
    ]
    forced = owned & ~keepable
    on_leave = ~problem.reps.available[np.maximum(owner, 0)] if len(ids) else owned
    why = np.where(on_leave, "is on leave", "may not take it")
    detail[forced] = [
        f"owner {o} {w}" + ("" if a else f"; left unassigned ({d or r})")
        for o, w, a, d, r in zip(
            owner_ids[forced],
            why[forced],
            assigned[forced],
            detail[forced],
            reason[forced],
            strict=True,
        )
    ]
    reason[forced] = REASON_FORCED
    if problem.ops is not None:
        run_date_reasons(result, reason, detail)
    if (result.baseline or {}).get("strategy") == "current":
        current_owner_reasons(result, reason, detail)
    return reason, detail


def run_date_reasons(result: Result, reason: np.ndarray, detail: np.ndarray) -> None:
    """Forced moves the run date caused (``Problem.ops``), in their own words: the owner
    leaving (``rep_leaving``), away past ``handover_after_days`` (``time_off_handover``,
    with the return date), or the lead past its SLA (``sla_release``). The owner's reason
    wins over the SLA's."""
    problem = result.problem
    ops = problem.ops
    assert ops is not None
    owner = problem.owner
    owned, keepable = result.owner_status
    forced = owned & ~keepable
    rep = result.rep_of_lead
    ids = problem.reps.ids
    if not len(ids) or not forced.any():
        return
    o = np.maximum(owner, 0)
    why = ops.gone[o]
    to = np.where(rep >= 0, ids[np.maximum(rep, 0)], "")
    where = np.where(to != "", "to " + to.astype(str), "left unassigned")
    sla = forced & ops.released & (why == "")
    hours = f"{ops.sla_hours:g}" if ops.sla_hours is not None else ""
    for mask, code, words in (
        (forced & (why == REASON_LEAVING), REASON_LEAVING, "owner {o} is leaving; {w}"),
        (forced & (why == REASON_HANDOVER), REASON_HANDOVER, "owner {o} away{b}; {w}"),
        (sla, REASON_SLA, f"untouched for more than {hours} h (owner {{o}}); {{w}}"),
    ):
        if not mask.any():
            continue
        reason[mask] = code
        back = ops.back[o[mask]]
        detail[mask] = [
            words.format(o=oid, w=w, b=f" until {b}" if b else " with no return date")
            for oid, w, b in zip(ids[o[mask]], where[mask], back, strict=True)
        ]


def _held_or_not_chosen(
    result: Result,
    waiting: np.ndarray,
    open_pair: np.ndarray,
    reason: np.ndarray,
    detail: np.ndarray,
) -> None:
    """Leads left unassigned although an eligible rep had room: ``held_back`` naming the
    hard rule each such rep would break by taking it; else not chosen. In a proven optimum
    with a hard fairness band or account cap every such lead is held back by it."""
    words = (
        held_back(result, waiting, open_pair)
        if result.baseline is None  # baselines apply no fairness band nor account cap
        else np.full(len(waiting), "", dtype=object)
    )
    found = waiting & (words != "")
    reason[found] = REASON_HELD_BACK
    detail[found] = words[found]
    rest = waiting & ~found
    optimal = result.status == Status.OPTIMAL
    if optimal and result.policy.hard_fairness is not None:
        reason[rest] = REASON_HELD_BACK
        detail[rest] = "an eligible rep had room, but taking it would break the fairness band"
    elif optimal and result.policy.account_cap is not None:
        reason[rest] = REASON_HELD_BACK
        detail[rest] = "an eligible rep had room, but taking it would break the account cap"
    else:
        reason[rest] = REASON_NOT_CHOSEN
        detail[rest] = "not placed in the best solution found (not proven optimal)"


def current_owner_reasons(result: Result, reason: np.ndarray, detail: np.ndarray) -> None:
    """The current-owner baseline's unassigned leads: why their owner does not hold them
    (``new_lead``, ``owner_unavailable``, ``owner_not_eligible`` naming the rule,
    ``owner_full``); its assigned leads are all ``kept``."""
    problem, cands = result.problem, result.candidates
    owner, reps = problem.owner, problem.reps
    left = result.pair_of_lead < 0
    new = left & (owner < 0)
    reason[new] = REASON_NEW_LEAD
    detail[new] = "no current owner (the current-owner baseline routes no new lead)"
    has_pair = np.zeros(problem.n_leads, dtype=bool)
    has_pair[cands.lead[cands.rep == owner[cands.lead]]] = True
    for i in np.flatnonzero(left & (owner >= 0)).tolist():
        j = int(owner[i])
        name = reps.ids[j]
        if not bool(reps.available[j]):
            reason[i], detail[i] = REASON_OWNER_UNAVAILABLE, f"owner {name} is on leave"
        elif has_pair[i]:
            reason[i] = REASON_OWNER_FULL
            detail[i] = f"owner {name} had no room left (capacity {int(reps.capacity[j])})"
        else:
            reason[i] = REASON_OWNER_NOT_ELIGIBLE
            detail[i] = f"owner {name} may not take it: {_owner_rule(problem, i, j)}"


def _owner_rule(problem: Problem, i: int, j: int) -> str:
    """The first eligibility rule that keeps rep ``j`` from lead ``i``."""
    leads, reps = problem.leads, problem.reps
    territories = set(reps.territories[j])
    if WILDCARD not in territories and leads.territory[i] not in territories:
        return f"territory {leads.territory[i]} is not one of the owner's"
    industries = set(reps.industries[j])
    if industries and WILDCARD not in industries and leads.industry[i] not in industries:
        return f"industry {leads.industry[i]} is not one of the owner's"
    if not set(leads.skills[i]) <= set(reps.skills[j]):
        return "the owner lacks a skill it needs"
    return "tiers (its value needs a higher level) or the pairs table"


def _open_pairs(result: Result, assigned: np.ndarray, rep: np.ndarray) -> np.ndarray:
    """Per pair: its lead is unassigned and its rep has room left for it (for its whole
    account, when accounts are kept together)."""
    cands, problem = result.candidates, result.problem
    load = np.bincount(
        rep[assigned],
        weights=cands.effort[result.pair_of_lead[assigned]],
        minlength=problem.n_reps,
    )
    room = problem.reps.capacity - load
    open_pair: np.ndarray = (~assigned[cands.lead]) & (result.unit_effort <= room[cands.rep])
    return open_pair


def runner_up(result: Result) -> tuple[np.ndarray, np.ndarray]:
    """Per lead: the best eligible rep other than the one it got (by expected value, then
    rep order), and that pair's expected value; '' and NaN when there is none."""
    cands, n = result.candidates, result.problem.n_leads
    rep_id = np.full(n, "", dtype=object)
    value = np.full(n, np.nan)
    ev = cands.ev.astype(np.float64, copy=True)
    ev[result.pair_of_lead[result.pair_of_lead >= 0]] = -np.inf
    best = best_per_lead(ev, cands.lead)  # pairs are sorted by lead, then rep
    rep_id[cands.lead[best]] = result.problem.reps.ids[cands.rep[best]]
    value[cands.lead[best]] = cands.ev[best]
    return rep_id, value


def assignments_table(result: Result) -> pd.DataFrame:
    """One row per input lead, in input order: lead_id, rep_id, (with a holdout: arm),
    expected_value, reason, detail, eligible_reps, then the lead's own input columns."""
    result.require_solution()
    leads = result.problem.leads
    rep = result.rep_of_lead
    assigned = rep >= 0
    rep_id = np.full(len(leads), "", dtype=object)
    if result.problem.n_reps:
        rep_id[assigned] = result.problem.reps.ids[rep[assigned]]
    ev = np.full(len(leads), np.nan)
    ev[assigned] = result.candidates.ev[result.pair_of_lead[assigned]]
    reason, detail = result.reasons
    frame = pd.DataFrame(
        {
            "lead_id": leads.ids,
            "rep_id": rep_id,
            "expected_value": ev,
            "reason": reason,
            "detail": detail,
            "eligible_reps": result.candidates.eligible_reps,
            "runner_up": result.runner_up[0],
            "runner_up_value": result.runner_up[1],
        }
    )
    if result.arm is not None:  # a run with a holdout: each lead's arm
        frame.insert(2, "arm", result.arm)
    raw = leads.raw.frame
    carried = [c for c in raw.columns if c != "lead_id"]
    return pd.concat([frame, raw[carried].reset_index(drop=True)], axis=1)


def rep_table(result: Result) -> pd.DataFrame:
    """Per rep: load, capacity, utilization and value (reps.csv)."""
    result.require_solution()
    reps = result.problem.reps
    m = len(reps)
    rep = result.rep_of_lead
    assigned = rep >= 0
    chosen = result.pair_of_lead[assigned]
    count = np.bincount(rep[assigned], minlength=m)
    effort = np.bincount(rep[assigned], weights=result.candidates.effort[chosen], minlength=m)
    value = np.bincount(rep[assigned], weights=result.lead_value[assigned], minlength=m)
    ev = np.bincount(rep[assigned], weights=result.candidates.ev[chosen], minlength=m)
    capacity = reps.capacity
    utilization = np.divide(effort, capacity, out=np.zeros(m, dtype=np.float64), where=capacity > 0)
    return pd.DataFrame(
        {
            "rep_id": reps.ids,
            "assigned": count.astype(np.int64),
            "capacity": capacity,
            "utilization": utilization,
            "assigned_value": value,
            "expected_value": ev,
            "assigned_effort": effort.astype(np.int64),
            "min_leads": reps.min_leads,
            "level": reps.level,
            "available": np.where(reps.available, "true", "false"),
            **_capacity_columns(result),
        }
    )


def _capacity_columns(result: Result) -> dict[str, np.ndarray]:
    """reps.csv's ``capacity_value`` (value score per unit of capacity, result/capacity.py)
    and ``capacity_value_is`` (exact, bound, estimate); empty cells when not computed."""
    m = result.problem.n_reps
    values = result.capacity
    if values is None:
        empty = np.full(m, "", dtype=object)
        return {"capacity_value": empty, "capacity_value_is": empty.copy()}
    known = np.isfinite(values.value) & (values.kind != "")
    cells = np.array([repr(float(v)) for v in np.where(known, values.value, 0.0)], dtype=object)
    return {
        "capacity_value": np.where(known, cells, ""),
        "capacity_value_is": np.where(known, values.kind, ""),
    }


# -- the typed tables of the Python API (Result.assignments, Result.rep_table) ----------------
#
# The CSV files are written from the tables above (text, '' for missing, 'true'/'false'):
# their bytes do not change. In Python the same tables come typed: numbers as int64 or
# float64, booleans as bool, text as pandas' ``string``, and missing cells as <NA> in a
# nullable dtype (Int64, Float64, boolean, string).

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_CODE = re.compile(r"[+-]?0\d")  # '007', '01234': an identifier or a zip code, not a number
_BOOLEAN = {"true": True, "false": False}
_INT64_LIMIT = 2**63 - 1


def _text(values: pd.Series) -> pd.Series:
    """Text as pandas' ``string`` dtype, '' as <NA>."""
    text = values.astype("string")
    return text.mask(text == "")


def typed_column(values: pd.Series) -> pd.Series:
    """A column read as text (a lead's carried input column), typed by what its non-empty
    cells hold: all ``true``/``false`` (any case) -> bool; all integers -> int64; all
    numbers -> float64; else text (``string``). A column with empty cells gets the nullable
    dtype (``boolean``, ``Int64``, ``Float64``) with <NA> there. Cells that look like codes
    (a leading zero: ``007``, zip codes) keep the column text, so nothing is lost."""
    text = values.astype(object).astype(str)
    present = text != ""
    cells = text[present]
    gaps = not bool(present.all())
    if not len(cells):
        return _text(text)
    lowered = cells.str.lower()
    if bool(lowered.isin(list(_BOOLEAN)).all()):
        flags = pd.Series(pd.NA, index=text.index, dtype="boolean")
        flags[present] = lowered.map(_BOOLEAN).astype(bool)
        return flags if gaps else flags.astype(bool)
    if bool(cells.str.match(_CODE).any()):
        return _text(text)
    if bool(cells.str.fullmatch(_INTEGER).all()):
        numbers = pd.to_numeric(cells.map(int), errors="coerce")
        if bool(numbers.abs().le(_INT64_LIMIT).all()):
            out = pd.Series(pd.NA, index=text.index, dtype="Int64")
            out[present] = numbers.astype(np.int64)
            return out if gaps else out.astype(np.int64)
    if bool(cells.str.fullmatch(_DECIMAL).all()):
        floats = pd.Series(pd.NA, index=text.index, dtype="Float64")
        floats[present] = cells.astype(np.float64)
        return floats if gaps else floats.astype(np.float64)
    return _text(text)


def typed_assignments(table: pd.DataFrame) -> pd.DataFrame:
    """``assignments_table`` typed: lead_id, rep_id (<NA> unassigned), reason, detail (<NA>
    when none), runner_up (<NA> when none) as ``string``; expected_value and
    runner_up_value ``Float64`` (<NA> when there is none); eligible_reps int64; the lead's
    carried columns typed by :func:`typed_column`."""
    fixed = {
        "lead_id": _text(table["lead_id"]),
        "rep_id": _text(table["rep_id"]),
        "expected_value": pd.array(table["expected_value"].to_numpy(np.float64), dtype="Float64"),
        "reason": _text(table["reason"]),
        "detail": _text(table["detail"]),
        "eligible_reps": table["eligible_reps"].astype(np.int64),
        "runner_up": _text(table["runner_up"]),
        "runner_up_value": pd.array(table["runner_up_value"].to_numpy(np.float64), dtype="Float64"),
    }
    typed = pd.DataFrame(fixed, index=table.index)
    carried = [c for c in table.columns if c not in fixed]
    extra = pd.DataFrame({c: typed_column(table[c]) for c in carried}, index=table.index)
    return pd.concat([typed, extra], axis=1)[list(table.columns)]


def typed_reps(table: pd.DataFrame) -> pd.DataFrame:
    """``rep_table`` typed: rep_id ``string``; counts int64; utilization and values
    float64; available bool."""
    typed = table.copy()
    typed["rep_id"] = _text(table["rep_id"])
    for column in ("assigned", "capacity", "assigned_effort", "min_leads", "level"):
        typed[column] = table[column].astype(np.int64)
    for column in ("utilization", "assigned_value", "expected_value"):
        typed[column] = table[column].astype(np.float64)
    typed["available"] = table["available"].to_numpy(dtype=object) == "true"
    typed["capacity_value"] = pd.to_numeric(table["capacity_value"]).astype("Float64")
    typed["capacity_value_is"] = _text(table["capacity_value_is"])
    return typed


__all__ = [
    "assignments_table",
    "lead_reasons",
    "rep_table",
    "runner_up",
    "typed_assignments",
    "typed_column",
    "typed_reps",
]
