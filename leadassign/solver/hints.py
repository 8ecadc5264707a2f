"""Feasible starting points for CP-SAT built from exact flows (see solve.py for their use).

Count fairness with unit effort is a flow once each group's total ``M_g`` is fixed: every
rep's count must then lie in ``[ceil((1-band)*share*M_g), floor((1+band)*share*M_g)]``,
which are just tighter floors and capacities. :func:`fair_count_flow` guesses the totals
from a relaxation, solves that flow, and repeats with the totals it got until they agree.
With one group and the relaxation's count, the result is the exact optimum at that count.
"""

from __future__ import annotations

import numpy as np

from leadassign.solver.cpsat import Fairness, Pairs
from leadassign.solver.flow import solve_flow

ROUNDS = 8


def _bounds(
    pairs: Pairs, fairness: Fairness, totals: dict[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per rep: the floor and the capacity that the band gives for the group totals."""
    low = pairs.min_leads.astype(np.int64).copy()
    high = pairs.capacity.astype(np.int64).copy()
    p, q = fairness.band.numerator, fairness.band.denominator
    for k, members in enumerate(fairness.groups()):
        total, weight = totals[k], int(fairness.weights[members].sum())
        w = fairness.weights[members].astype(np.int64)
        upper = ((q + p) * w * total) // (q * weight)
        lower = -((-(q - p) * w * total) // (q * weight)) if p < q else np.zeros_like(w)
        low[members] = np.maximum(low[members], lower)
        high[members] = np.minimum(high[members], upper)
    return low, high


def fair_count_flow(
    pairs: Pairs, fairness: Fairness, n_leads: int, start: np.ndarray
) -> np.ndarray | None:
    """A choice of unit pairs (every size and effort 1) that meets the count fairness band,
    or None when this construction finds none."""
    groups = fairness.groups()
    chosen = start
    for _ in range(ROUNDS):
        count = np.bincount(pairs.rep[chosen], minlength=len(pairs.capacity))
        totals = {k: int(count[members].sum()) for k, members in enumerate(groups)}
        low, high = _bounds(pairs, fairness, totals)
        if np.any(low > high):
            return None
        outcome = solve_flow(pairs.unit, pairs.rep, pairs.units, n_leads, high, low)
        if outcome.chosen is None:
            return None
        chosen = outcome.chosen
        count = np.bincount(pairs.rep[chosen], minlength=len(pairs.capacity))
        if all(int(count[members].sum()) == totals[k] for k, members in enumerate(groups)):
            return chosen
    return None
