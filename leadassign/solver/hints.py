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


def repair_floors(pairs: Pairs, chosen: np.ndarray) -> np.ndarray:
    """``chosen`` (one rep per unit, within capacity) with reps below ``min_leads`` topped
    up greedily: first with unassigned units that fit (best value first), then with units
    taken from reps that stay at or above their own floor. Keeps capacity and one rep per
    unit; may still leave a floor short (then CP-SAT repairs what is left)."""
    chosen = chosen.copy()
    m = len(pairs.capacity)
    count = np.bincount(pairs.rep[chosen], weights=pairs.size[chosen], minlength=m)
    load = np.bincount(pairs.rep[chosen], weights=pairs.effort[chosen], minlength=m)
    owner_pair = np.full(int(pairs.unit.max(initial=-1)) + 1, -1, dtype=np.int64)
    owner_pair[pairs.unit[chosen]] = np.flatnonzero(chosen)
    for j in np.flatnonzero(count < pairs.min_leads).tolist():
        mine = np.flatnonzero(pairs.rep == j)
        mine = mine[np.argsort(-pairs.units[mine], kind="stable")]
        for k in mine.tolist():
            if count[j] >= pairs.min_leads[j]:
                break
            if load[j] + pairs.effort[k] > pairs.capacity[j]:
                continue
            current = owner_pair[pairs.unit[k]]
            if current >= 0:
                other = int(pairs.rep[current])
                if other == j or count[other] - pairs.size[current] < pairs.min_leads[other]:
                    continue
                chosen[current] = False
                count[other] -= pairs.size[current]
                load[other] -= pairs.effort[current]
            chosen[k] = True
            owner_pair[pairs.unit[k]] = k
            count[j] += pairs.size[k]
            load[j] += pairs.effort[k]
    return chosen
