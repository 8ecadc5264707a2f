"""Greedy repair: floors topped up (``repair_floors``) and leads placed by regret
(``fill_by_regret``), within the capacities.
"""

from __future__ import annotations

import numpy as np

from leadassign.compile.candidates import best_per_lead, lead_starts
from leadassign.compile.pairs import Pairs


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


def room_left(pairs: Pairs, chosen: np.ndarray) -> np.ndarray:
    """Per rep: capacity left, in effort, by the pairs ``chosen``."""
    load = np.bincount(
        pairs.rep[chosen], weights=pairs.effort[chosen], minlength=len(pairs.capacity)
    )
    room: np.ndarray = pairs.capacity.astype(np.int64) - load.astype(np.int64)
    return room


#: fill_by_regret works on books whose unassigned units number at most FILL_UNITS with at
#: most FILL_PAIRS pairs (each round walks those units in Python, about 20 us each).
FILL_UNITS = 20_000
FILL_PAIRS = 500_000


def fill_by_regret(
    pairs: Pairs, chosen: np.ndarray, desirability: np.ndarray, *, max_rounds: int = 50
) -> np.ndarray:
    """``chosen`` (one rep per unit, within capacity) with unassigned units added where they
    fit, the most urgent first (Martello and Toth's regret greedy for the generalized
    assignment problem): units whose best rep with room for them beats the second best by
    most (a unit with a single such rep first) go first, each to its most desirable rep that
    still has room. Regrets are recomputed once per round, over the pairs that fit; rounds
    repeat until one adds nothing. Keeps capacity and one rep per unit; floors and side rules
    are not looked at, so callers check the result."""
    chosen = chosen.copy()
    room = room_left(pairs, chosen)
    taken = np.zeros(int(pairs.unit.max(initial=-1)) + 1, dtype=bool)
    taken[pairs.unit[chosen]] = True
    waiting = pairs.unit[~taken[pairs.unit]]
    open_units = int(np.count_nonzero(np.bincount(waiting)))
    if open_units > FILL_UNITS or len(waiting) > FILL_PAIRS:
        return chosen
    for _ in range(max_rounds):
        open_pairs = np.flatnonzero(~taken[pairs.unit])
        fits = open_pairs[pairs.effort[open_pairs] <= room[pairs.rep[open_pairs]]]
        if not len(fits):
            break
        unit, value = pairs.unit[fits], desirability[fits]
        starts = lead_starts(unit)
        ends = np.append(starts[1:], len(fits))
        first_best = best_per_lead(value, unit)  # one per unit, in the order of ``starts``
        best = value[first_best]
        others = value.astype(np.float64)
        others[first_best] = -np.inf
        second = np.maximum.reduceat(others, starts)
        single = np.isneginf(second)
        regret = np.where(single, 0.0, best - np.where(single, 0.0, second))
        added = 0
        # single-rep units first, then by regret, then by desirability; ties by unit order
        for k in np.lexsort((-best, -regret, ~single)).tolist():
            mine = fits[starts[k] : ends[k]]
            mine = mine[pairs.effort[mine] <= room[pairs.rep[mine]]]
            if not len(mine):
                continue
            pick = int(mine[np.argmax(desirability[mine])])
            chosen[pick] = True
            taken[pairs.unit[pick]] = True
            room[pairs.rep[pick]] -= int(pairs.effort[pick])
            added += 1
        if not added:
            break
    return chosen
