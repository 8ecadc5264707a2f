"""The business rules of the policy, turned into solver input (README "Business rules").

Tiers and accounts only remove pairs (a lead-level filter on the candidates); accounts then
merge each account's leads into one *unit* per rep, so that one Boolean assigns the whole
account. Fairness and continuity become :class:`~leadassign.engines.cpsat.Fairness` and
:class:`~leadassign.engines.cpsat.Continuity` specs over the unit pairs. Everything here is
vectorized over pairs; Python loops run over reps, tiers or groups only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from leadassign.compile.candidates import Candidates, build_candidates
from leadassign.compile.families import SideRules
from leadassign.compile.families.continuity import continuity_spec
from leadassign.compile.families.fairness import fairness_spec
from leadassign.compile.pairs import Pairs
from leadassign.compile.scaling import scale_values
from leadassign.compile.units import Units, build_units
from leadassign.models.policy import Policy, Tier
from leadassign.models.problem import Problem, lead_values


def restrict(cands: Candidates, keep: np.ndarray, why: np.ndarray) -> Candidates:
    """``cands`` without the pairs not in ``keep``; a lead that loses its last eligible rep
    here gets ``why[lead]`` as the reason it has none."""
    eligible = np.bincount(cands.lead[keep], minlength=cands.n_leads).astype(np.int64)
    lost_all = (eligible == 0) & (cands.eligible_reps > 0)
    why_none = np.where(lost_all, why, cands.why_none)
    return replace(
        cands,
        lead=cands.lead[keep],
        rep=cands.rep[keep],
        ev=cands.ev[keep],
        effort=cands.effort[keep],
        eligible_reps=eligible,
        why_none=np.asarray(why_none, dtype=object),
    )


def fits_in_order(rep: np.ndarray, effort: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """For items sorted by ``rep`` (then in the order they should be taken): does each fit
    in its rep's capacity together with the items before it? One cumulative sum, no loop."""
    cumulative = np.cumsum(effort)
    starts = np.searchsorted(rep, rep, side="left")
    before = np.where(starts > 0, cumulative[starts - 1], 0)
    fits: np.ndarray = cumulative - before <= capacity[rep]
    return fits


def tier_levels(values: np.ndarray, tiers: tuple[Tier, ...]) -> np.ndarray:
    """Per lead: the lowest rep level its value allows (0 when no tier applies)."""
    need = np.zeros(len(values), dtype=np.int64)
    for tier in tiers:
        need = np.where(values >= tier.min_value, np.maximum(need, tier.min_level), need)
    return need


def tier_allows(
    cands: Candidates, problem: Problem, values: np.ndarray, policy: Policy
) -> np.ndarray:
    """Per pair: does the rep's level meet the lead's tier?"""
    need = tier_levels(values, policy.tiers)
    allowed: np.ndarray = problem.reps.level[cands.rep] >= need[cands.lead]
    return allowed


def apply_tiers(
    cands: Candidates, problem: Problem, values: np.ndarray, policy: Policy
) -> Candidates:
    if not policy.tiers:
        return cands
    need = tier_levels(values, policy.tiers)
    why = np.array(
        [f"tiers: its value needs a rep of level {k} or above, and none is eligible" for k in need],
        dtype=object,
    )
    return restrict(cands, tier_allows(cands, problem, values, policy), why)


def account_groups(problem: Problem, policy: Policy) -> np.ndarray:
    """Per lead: the index of its account when kept together with others (-1 otherwise)."""
    n = problem.n_leads
    if not policy.accounts_together or n == 0:
        return np.full(n, -1, dtype=np.int64)
    ids = problem.leads.account_id
    codes, _ = pd.factorize(pd.Series(ids, dtype=object), sort=False)
    codes = np.where(ids == "", -1, codes).astype(np.int64)
    if not np.any(codes >= 0):
        return np.full(n, -1, dtype=np.int64)
    size = np.bincount(codes[codes >= 0], minlength=int(codes.max(initial=-1)) + 1)
    shared = (codes >= 0) & (size[np.maximum(codes, 0)] > 1)
    return np.where(shared, codes, -1)


def account_allows(lead: np.ndarray, rep: np.ndarray, m: int, groups: np.ndarray) -> np.ndarray:
    """Per pair (lead, rep): is the rep eligible for every lead of the lead's account?"""
    account = groups[lead]
    member = account >= 0
    if not member.any():
        return np.ones(len(lead), dtype=bool)
    size = np.bincount(groups[groups >= 0])
    key = account[member] * m + rep[member]
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    allows = np.ones(len(lead), dtype=bool)
    allows[member] = counts[inverse] == size[account[member]]
    return allows


def apply_accounts(cands: Candidates, problem: Problem, groups: np.ndarray) -> Candidates:
    if not np.any(groups >= 0):
        return cands
    account_ids = problem.leads.account_id
    why = np.array(
        [f"accounts: no rep is eligible for every lead of account {a}" for a in account_ids],
        dtype=object,
    )
    return restrict(cands, account_allows(cands.lead, cands.rep, cands.n_reps, groups), why)


def floors(problem: Problem) -> np.ndarray:
    """min_leads per rep; reps on leave get nothing, so they have no floor."""
    return np.where(problem.reps.available, problem.reps.min_leads, 0).astype(np.int64)


def tiered_candidates(
    problem: Problem, policy: Policy
) -> tuple[np.ndarray, Candidates, Candidates]:
    """Lead values, the eligible pairs, and those the tiers leave: the pair rules that
    ``prepare`` and the baselines share (accounts come after, in ``prepare`` only)."""
    values = lead_values(problem.leads, policy.value)
    base = build_candidates(problem, values)
    return values, base, apply_tiers(base, problem, values, policy)


def prepare(problem: Problem, policy: Policy) -> Prepared:
    """Candidates after the pair rules, scaled values, unit pairs and the side-rule specs."""
    values, base, tiered = tiered_candidates(problem, policy)
    m = problem.n_reps
    groups = account_groups(problem, policy)
    cands = apply_accounts(tiered, problem, groups)
    cut = {
        "tiers": np.bincount(base.rep, minlength=m) - np.bincount(tiered.rep, minlength=m),
        "accounts": np.bincount(tiered.rep, minlength=m) - np.bincount(cands.rep, minlength=m),
    }
    bonus = policy.continuity.keep_bonus if policy.continuity is not None else 0.0
    owner_pair = problem.owner[cands.lead] == cands.rep
    score = cands.ev + bonus * owner_pair
    scaled = scale_values(score, cands.lead, problem.n_leads)
    units = build_units(
        cands, scaled.units, groups, problem.reps.capacity.astype(np.int64), floors(problem)
    )
    fairness, fairness_scale = None, 1.0
    if policy.fairness is not None:
        fairness, fairness_scale = fairness_spec(
            policy.fairness, cands, units, problem, values, scaled.scale
        )
    continuity = continuity_spec(policy, cands, units, problem, scaled.scale)
    side = SideRules(fairness, continuity)
    return Prepared(values, base, cands, groups, units, scaled.scale, side, fairness_scale, cut)


@dataclass(frozen=True, eq=False)
class Prepared:
    values: np.ndarray  # lead values
    base: Candidates  # eligible lead-level pairs before tiers and accounts
    cands: Candidates  # eligible lead-level pairs (after tiers and accounts)
    groups: np.ndarray  # per lead: account kept together, -1 none
    units: Units
    scale: float  # value units per unit of value
    side: SideRules
    fairness_scale: float
    #: per rule ("tiers", "accounts"), per rep: candidate leads the rule took away
    cut: dict[str, np.ndarray]

    @property
    def pairs(self) -> Pairs:
        return self.units.pairs


__all__ = [
    "Prepared",
    "account_groups",
    "apply_accounts",
    "apply_tiers",
    "fits_in_order",
    "floors",
    "prepare",
    "restrict",
    "tier_levels",
]
