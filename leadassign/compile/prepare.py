"""The business rules of the policy, turned into solver input (README "Business rules").

Tiers and accounts only remove pairs (a lead-level filter on the candidates); accounts then
merge each account's leads into one *unit* per rep, so that one Boolean assigns the whole
account. Fairness and continuity become :class:`~leadassign.engines.cpsat.Fairness` and
:class:`~leadassign.engines.cpsat.Continuity` specs over the unit pairs. Everything here is
vectorized over pairs; Python loops run over reps, tiers or groups only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
import pandas as pd

from leadassign.compile.candidates import Candidates, build_candidates
from leadassign.compile.pairs import INT_MAX, Continuity, Fairness, Pairs, SideRules
from leadassign.compile.scaling import scale_values
from leadassign.errors import InputError
from leadassign.models.policy import FairnessPolicy, Policy, Tier
from leadassign.models.problem import Problem, lead_values

#: The largest lead value maps to this many units in value-metric fairness (or fewer, when
#: needed to keep every fairness constraint within 64-bit integers).
FAIRNESS_RESOLUTION = 10**6


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


@dataclass(frozen=True, eq=False)
class Units:
    """The model's pairs over units, and how lead-level candidate pairs map onto them."""

    pairs: Pairs
    #: per candidate pair: index of its unit pair, -1 when unusable (effort above capacity)
    var: np.ndarray
    #: per candidate pair: scaled value units (expected value plus keep bonus)
    lead_units: np.ndarray
    #: per candidate pair: effort of its whole unit with that rep (the account's summed effort)
    unit_effort: np.ndarray

    @property
    def usable(self) -> np.ndarray:
        """Candidate pairs that some model variable represents."""
        return np.flatnonzero(self.var >= 0)

    def lead_choice(self, chosen: np.ndarray) -> np.ndarray:
        """Unit-pair choice -> candidate-pair choice."""
        out = np.zeros(len(self.var), dtype=bool)
        usable = self.var >= 0
        out[usable] = chosen[self.var[usable]]
        return out

    def unit_choice(self, lead_chosen: np.ndarray) -> np.ndarray:
        """Candidate-pair choice -> unit pairs all of whose leads are chosen with that rep."""
        usable = self.var >= 0
        hits = np.bincount(self.var[usable & lead_chosen], minlength=len(self.pairs)).astype(
            np.int64
        )
        out: np.ndarray = hits == self.pairs.size
        return out


def build_units(
    cands: Candidates,
    lead_units: np.ndarray,
    groups: np.ndarray,
    capacity: np.ndarray,
    min_leads: np.ndarray,
) -> Units:
    """Merge each account's pairs with one rep into one unit pair (summed effort, value and
    size); drop unit pairs whose effort exceeds the rep's capacity."""
    n, m = cands.n_leads, cands.n_reps
    unit_of_lead = np.arange(n, dtype=np.int64)
    if np.any(groups >= 0):
        first = np.full(int(groups.max()) + 1, n, dtype=np.int64)
        np.minimum.at(first, groups[groups >= 0], np.flatnonzero(groups >= 0))
        unit_of_lead = np.where(groups >= 0, first[np.maximum(groups, 0)], unit_of_lead)
    key = unit_of_lead[cands.lead] * max(m, 1) + cands.rep
    if np.all(key[1:] > key[:-1]):
        # No account merges two pairs (candidates are sorted by lead, then rep): each pair
        # is its own unit pair, and np.unique's sort would only confirm that.
        effort = cands.effort.astype(np.int64, copy=False)
        fits = effort <= capacity[cands.rep]
        if bool(fits.all()):  # the common case: nothing to drop, no copies
            var = np.arange(len(key), dtype=np.int64)
            pairs = Pairs(
                unit=cands.lead,
                rep=cands.rep,
                effort=effort,
                units=lead_units.astype(np.int64, copy=False),
                capacity=capacity,
                min_leads=min_leads,
                size=np.ones(len(key), dtype=np.int64),
            )
            return Units(pairs, var, lead_units, effort)
        keys, inverse = key, np.arange(len(key), dtype=np.int64)
        size = np.ones(len(key), dtype=np.int64)
        units = lead_units.astype(np.int64)
    else:
        keys, inverse = np.unique(key, return_inverse=True)
        k = len(keys)
        effort = np.bincount(inverse, weights=cands.effort, minlength=k).astype(np.int64)
        size = np.bincount(inverse, minlength=k).astype(np.int64)
        units = np.zeros(k, dtype=np.int64)
        np.add.at(units, inverse, lead_units)
    unit, rep = keys // max(m, 1), keys % max(m, 1)
    fits = effort <= capacity[rep]
    new_index = np.cumsum(fits) - 1
    var = np.where(fits[inverse], new_index[inverse], -1).astype(np.int64)
    pairs = Pairs(
        unit=unit[fits],
        rep=rep[fits],
        effort=effort[fits],
        units=units[fits],
        capacity=capacity,
        min_leads=min_leads,
        size=size[fits],
    )
    return Units(pairs, var, lead_units, effort[inverse])


def owner_pairs(cands: Candidates, problem: Problem, var: np.ndarray) -> np.ndarray:
    """Per candidate pair: it gives a lead to its current owner, and is usable."""
    owner = problem.owner
    result: np.ndarray = (owner[cands.lead] == cands.rep) & (var >= 0)
    return result


def keepable_leads(cands: Candidates, problem: Problem, var: np.ndarray) -> np.ndarray:
    """Per lead: owned, and its owner may still take it (not a forced move)."""
    keep = np.zeros(problem.n_leads, dtype=bool)
    keep[cands.lead[owner_pairs(cands, problem, var)]] = True
    return keep


def _penalty(weight: float, per_unit: float, largest: int, rule: str) -> int:
    penalty = round(weight * per_unit)
    if penalty * max(largest, 1) > INT_MAX // 4:
        raise InputError(f"{rule}.weight {weight:g} is too large for the model's integers")
    return penalty


def fairness_spec(
    policy: FairnessPolicy,
    cands: Candidates,
    units: Units,
    problem: Problem,
    values: np.ndarray,
    value_scale: float,
) -> tuple[Fairness, float]:
    """The fairness spec over unit pairs, and the metric's scale (units per lead or per unit
    of value)."""
    reps = problem.reps
    available = reps.available
    if policy.within == "level":
        group = np.where(available, reps.level, -1).astype(np.int64)
    else:
        group = np.where(available, 0, -1).astype(np.int64)
    weights = reps.capacity.astype(np.int64)
    band = Fraction(str(policy.band)).limit_denominator(1000)
    pairs = units.pairs
    usable = units.var >= 0
    if policy.metric == "count":
        metric, metric_scale = pairs.size.copy(), 1.0
    else:
        largest = float(values.max()) if len(values) else 0.0
        total_weight = int(weights[available].sum())
        room = (2**61) // max(band.denominator * 2 * max(total_weight, 1) * max(len(values), 1), 1)
        resolution = max(min(FAIRNESS_RESOLUTION, room), 1)
        metric_scale = resolution / largest if largest > 0 else 1.0
        # Values with few decimals (amounts in cents, scores) are kept exact: the band is then
        # decided on the values themselves, not on rounded ones.
        for decimals in range(7):
            exact = 10.0**decimals
            if largest * exact > room:
                break
            if np.all(np.abs(values * exact - np.rint(values * exact)) < 1e-6):
                metric_scale = exact
                break
        lead_metric = np.rint(values * metric_scale).astype(np.int64)
        metric = np.bincount(
            units.var[usable],
            weights=lead_metric[cands.lead[usable]],
            minlength=len(pairs),
        ).astype(np.int64)
    penalty = None
    if policy.mode == "soft":
        penalty = _penalty(policy.weight, value_scale / metric_scale, int(metric.sum()), "fairness")
    return Fairness(group, metric, band, weights, penalty), metric_scale


def continuity_spec(
    policy: Policy, cands: Candidates, units: Units, problem: Problem, value_scale: float
) -> Continuity | None:
    c = policy.continuity
    limit = c.changes_allowed(int((problem.owner >= 0).sum())) if c is not None else None
    if c is None or limit is None:
        return None
    keep_pair = owner_pairs(cands, problem, units.var)
    kept = np.bincount(units.var[keep_pair], minlength=len(units.pairs)).astype(np.int64)
    keepable = int(keepable_leads(cands, problem, units.var).sum())
    penalty = None
    if c.mode == "soft":
        penalty = _penalty(c.weight, value_scale, keepable, "continuity")
    return Continuity(kept, keepable, limit, penalty)


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
    "Units",
    "account_groups",
    "apply_accounts",
    "apply_tiers",
    "build_units",
    "continuity_spec",
    "fairness_spec",
    "fits_in_order",
    "floors",
    "keepable_leads",
    "owner_pairs",
    "prepare",
    "restrict",
    "tier_levels",
]
