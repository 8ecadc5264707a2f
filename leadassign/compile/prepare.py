"""The business rules of the policy, turned into solver input (README "Business rules").

Tiers and accounts only remove pairs (a lead-level filter on the candidates); accounts then
merge each account's leads into one *unit* per rep, so that one Boolean assigns the whole
account. Each side-rule family registered in ``compile/families`` (fairness, continuity,
the account cap) builds its spec over the unit pairs (:class:`SideRules`). Everything here
is vectorized over pairs; Python loops run over reps, tiers or groups only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from leadassign.compile.candidates import Candidates, build_candidates, restrict, win_rates
from leadassign.compile.families import SideRules
from leadassign.compile.families.accounts import account_groups, apply_accounts
from leadassign.compile.families.base import Compiled
from leadassign.compile.families.continuity import keep_weights, lead_measure
from leadassign.compile.families.floors import floors
from leadassign.compile.families.tiers import apply_tiers
from leadassign.compile.pairs import Pairs
from leadassign.compile.scaling import scale_values
from leadassign.compile.units import Units, build_units
from leadassign.models.operations import WHY_AWAY
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem, Steer, lead_values


def fits_in_order(rep: np.ndarray, effort: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """For items sorted by ``rep`` (then in the order they should be taken): does each fit
    in its rep's capacity together with the items before it? One cumulative sum, no loop."""
    cumulative = np.cumsum(effort)
    starts = np.searchsorted(rep, rep, side="left")
    before = np.where(starts > 0, cumulative[starts - 1], 0)
    fits: np.ndarray = cumulative - before <= capacity[rep]
    return fits


def tiered_candidates(
    problem: Problem, policy: Policy
) -> tuple[np.ndarray, Candidates, Candidates]:
    """Lead values, the eligible pairs, and those the tiers leave: the pair rules that
    ``prepare`` and the baselines share (accounts come after, in ``prepare`` only)."""
    values = lead_values(problem.leads, policy.value)
    base = build_candidates(problem, values)
    return values, base, run_date_pairs(apply_tiers(base, problem, values, policy), problem)


def run_date_pairs(cands: Candidates, problem: Problem) -> Candidates:
    """Without the pairs the run date forbids (``Problem.ops``): a rep away keeping their
    book takes only leads they own; an owned lead past its SLA does not go back to its
    owner unless the owner is its only eligible rep (so no lead is lost to the SLA)."""
    ops = problem.ops
    if ops is None or not (ops.closed.any() or ops.released.any()):
        return cands
    owner = problem.owner[cands.lead]
    keep = ~(ops.closed[cands.rep] & (owner != cands.rep))
    back_to_owner = ops.released[cands.lead] & (owner == cands.rep)
    others = np.bincount(cands.lead[keep & ~back_to_owner], minlength=cands.n_leads) > 0
    keep &= ~(back_to_owner & others[cands.lead])
    why = np.full(cands.n_leads, WHY_AWAY, dtype=object)
    return restrict(cands, keep, why)


def prepare(problem: Problem, policy: Policy) -> Prepared:
    """Candidates after the pair rules, scaled values, unit pairs and the side-rule specs."""
    values, base, tiered = tiered_candidates(problem, policy)
    if problem.steer is not None:
        tiered = steered(tiered, problem, values)
    m = problem.n_reps
    groups = account_groups(problem, policy)
    cands = apply_accounts(tiered, problem, groups)
    cut = {"tiers": _cut(base, tiered, m), "accounts": _cut(tiered, cands, m)}
    bonus = policy.continuity.keep_bonus if policy.continuity is not None else 0.0
    score = cands.ev
    if bonus:
        owner_pair = problem.owner[cands.lead] == cands.rep
        keep = keep_weights(policy, problem)
        if isinstance(keep, np.ndarray):
            keep = keep[cands.lead]
        score = score + bonus * owner_pair * keep
    if problem.steer is not None:
        score = score + steer_terms(problem.steer, cands, score)
    scaled = scale_values(
        score, cands.lead, problem.n_leads, measured_scale(policy, problem, cands)
    )
    units = build_units(
        cands, scaled.units, groups, problem.reps.capacity.astype(np.int64), floors(problem)
    )
    side = SideRules.build(Compiled(policy, problem, cands, units, values, scaled.scale))
    return Prepared(values, base, cands, groups, units, scaled.scale, side, cut)


def _cut(before: Candidates, after: Candidates, m: int) -> np.ndarray:
    """Per rep, how many of its pairs a pair rule removed (none when it kept them all)."""
    if after is before:
        return np.zeros(m, dtype=np.int64)
    cut: np.ndarray = np.bincount(before.rep, minlength=m) - np.bincount(after.rep, minlength=m)
    return cut


#: measured_scale applies up to this many candidate pairs. On random value-0 books of 200 to
#: 3,000 bricks (band 0.05-0.1, keep bonus on the workload, default limits) its answers were
#: as good or better up to 5,000 pairs (300 x 15: gap 3.8e-5 vs 5.7e-5) and worse, both
#: unproven, from 16,000 pairs (1,000 x 25: 8.7e-5 vs 3.0e-5; HiGHS' work-metered MIP took
#: another path), benchmarks/RESULTS.md 9c.
MEASURED_MAX_PAIRS = 10_000


def measured_scale(policy: Policy, problem: Problem, cands: Candidates) -> float | None:
    """The objective's units for a value-0 book whose whole objective is continuity's keep
    bonus counted in a measure column, without soft rules (the disruption of a territory
    realignment), of at most ``MEASURED_MAX_PAIRS`` pairs: the column's own integer units, in
    which the band and ``max_reassign`` on it are held (compile/scaling.py); None for every
    other book (the default 1e9 units)."""
    c, f = policy.continuity, policy.fairness
    if c is None or c.measure is None or c.keep_bonus <= 0 or c.mode == "soft":
        return None
    if len(cands.lead) > MEASURED_MAX_PAIRS:
        return None
    if (f is not None and f.mode == "soft") or problem.steer is not None or np.any(cands.ev):
        return None
    _, measure_scale = lead_measure(policy, problem)
    return measure_scale / c.keep_bonus


def steered(cands: Candidates, problem: Problem, values: np.ndarray) -> Candidates:
    """route: each owned lead's only pair is its owner's (added back, with the owner's
    win rate, when the rules no longer allow it: an owned lead is never moved); a new lead
    of an owned account keeps only its pair with the account's owner."""
    steer = problem.steer
    assert steer is not None
    fixed, only = steer.fixed, steer.only
    keep = (only[cands.lead] < 0) | (cands.rep == only[cands.lead])
    kept = restrict(cands, keep, np.full(cands.n_leads, "", dtype=object))
    owned = np.flatnonzero(fixed >= 0)
    missing = owned[kept.eligible_reps[owned] == 0]
    if not len(missing):
        return kept
    ind, names = pd.factorize(pd.Series(problem.leads.industry, dtype=object), sort=False)
    rates = win_rates(problem, np.asarray(ind, dtype=np.int64), list(names))
    rep = fixed[missing]
    lead = np.concatenate([kept.lead, missing])
    order = np.lexsort((np.concatenate([kept.rep, rep]), lead))
    eligible = kept.eligible_reps.copy()
    eligible[missing] = 1
    why = np.asarray(kept.why_none, dtype=object).copy()
    why[missing] = ""
    return replace(
        kept,
        lead=lead[order],
        rep=np.concatenate([kept.rep, rep])[order],
        ev=np.concatenate([kept.ev, values[missing] * rates[rep, ind[missing]]])[order],
        effort=np.concatenate([kept.effort, problem.leads.effort[missing].astype(np.int64)])[order],
        eligible_reps=eligible,
        why_none=why,
    )


def steer_terms(steer: Steer, cands: Candidates, score: np.ndarray) -> np.ndarray:
    """route's score terms per pair: a new lead's pair gets ``bonus[rep]`` minus its capacity
    price (``price[rep]`` per unit of effort), shifted by the highest price per unit so it
    stays >= 0 (the same shift for every rep of a lead: with the count fixed first, it
    changes no choice); an owned lead's pair a bonus above any new lead's whole score, so no
    answer with as many leads trades an owned lead for a new one."""
    new = steer.fixed[cands.lead] < 0
    top_price = float(np.max(steer.price, initial=0.0))
    adjust = steer.bonus[cands.rep] + (top_price - steer.price[cands.rep]) * cands.effort
    terms = np.where(new, adjust, 0.0)
    top = float(np.max(score + terms, initial=0.0))
    terms[~new] = top + 1.0
    return terms


@dataclass(frozen=True, eq=False)
class Prepared:
    values: np.ndarray  # lead values
    base: Candidates  # eligible lead-level pairs before tiers and accounts
    cands: Candidates  # eligible lead-level pairs (after tiers and accounts)
    groups: np.ndarray  # per lead: account kept together, -1 none
    units: Units
    scale: float  # value units per unit of value
    side: SideRules
    #: per rule ("tiers", "accounts"), per rep: candidate leads the rule took away
    cut: dict[str, np.ndarray]

    @property
    def pairs(self) -> Pairs:
        return self.units.pairs

    @property
    def fairness_scale(self) -> float:
        """Fairness metric units per lead or per unit of value (1 without fairness)."""
        fairness = self.side.fairness
        return 1.0 if fairness is None else fairness.metric_scale


__all__ = [
    "MEASURED_MAX_PAIRS",
    "Prepared",
    "fits_in_order",
    "measured_scale",
    "prepare",
]
