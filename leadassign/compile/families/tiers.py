"""The tiers family: a lead of a given value goes only to reps of at least the tier's level.
A pair rule: it removes pairs from the candidates (:func:`apply_tiers`), so every engine
and the checker see it through the pairs alone.
"""

from __future__ import annotations

import numpy as np

from leadassign.compile.candidates import Candidates, restrict
from leadassign.models.policy import Policy, Tier
from leadassign.models.problem import Problem


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
