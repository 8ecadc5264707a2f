"""Greedy repair: floors topped up (``repair_floors``) and leads placed by regret
(``fill_by_regret``) or, on books too big for it, by flows per effort class
(``fill_by_flows``), within the capacities.
"""

from __future__ import annotations

import numpy as np

from leadassign.compile.candidates import best_per_lead, lead_starts
from leadassign.compile.pairs import Pairs
from leadassign.engines.flow import FlowOutcome, solve_flow


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


def fill_by_flows(pairs: Pairs, chosen: np.ndarray, prices: np.ndarray | None = None) -> np.ndarray:
    """``chosen`` (one rep per unit, within capacity) with unassigned units added by
    min-cost flows, one per effort class, the biggest first: in class ``e`` each open unit
    is one unit of flow and rep j takes at most ``room_j // e`` of them, so every flow's
    choice fits, and it places the most units of that class, then the most value (the
    last class, of one lead each, also tops the floors up when it can). With rep
    ``prices`` (value units per unit of effort, such as a Lagrangian search's) the classes
    of bigger units are valued at ``value - price x effort``: they go where capacity is
    worth least, and leave the contested reps to the lone leads placed last. Where
    the regret greedy declines (above ``FILL_UNITS`` open units or ``FILL_PAIRS`` of their
    pairs: at 50,000 x 300 with accounts kept together the packed choices left 15,000
    leads out) this places them without a loop over units. Keeps capacity and one rep per
    unit; floors and side rules are not looked at, so callers check the result."""
    chosen = chosen.copy()
    if not len(pairs):
        return chosen
    n_units = int(pairs.unit.max()) + 1
    room = room_left(pairs, chosen)
    taken = np.zeros(n_units, dtype=bool)
    taken[pairs.unit[chosen]] = True
    for effort in np.unique(pairs.effort[~taken[pairs.unit]])[::-1].tolist():
        if effort <= 0:
            continue
        open_pairs = np.flatnonzero(
            ~taken[pairs.unit] & (pairs.effort == effort) & (room[pairs.rep] >= effort)
        )
        if not len(open_pairs):
            continue
        worth = pairs.units[open_pairs].astype(np.int64)
        if prices is not None and effort > 1:
            worth = worth - prices.astype(np.int64)[pairs.rep[open_pairs]] * effort
        slots = np.maximum(room // effort, 0)
        flow = _class_flow(pairs, chosen, open_pairs, worth, n_units, slots)
        if flow.chosen is None:
            continue
        placed = open_pairs[flow.chosen]
        chosen[placed] = True
        taken[pairs.unit[placed]] = True
        room -= np.bincount(pairs.rep[placed], minlength=len(room)) * effort
    return chosen


def repacked(pairs: Pairs, chosen: np.ndarray, prices: np.ndarray | None = None) -> np.ndarray:
    """``chosen`` (one rep per unit, within capacity) with its lone leads (units of one lead
    and effort 1) placed again, after the bigger units it leaves out: those go in first
    where they fit with the lone leads lifted out, by ``fill_by_flows``, whose last flow
    then places the lone leads, the most of them, then the most value. A unit of ``s``
    leads takes ``s`` capacity at one rep, so the most lone leads the flow can place drops
    by at most ``s``: the result places at least as many leads as ``chosen``. ``prices``:
    as for ``fill_by_flows``. (The packed
    choices of a grouped search leave big accounts out where lone leads filled their reps.)"""
    lone = (pairs.size == 1) & (pairs.effort == 1)
    return fill_by_flows(pairs, chosen & ~lone, prices)


def _class_flow(
    pairs: Pairs,
    chosen: np.ndarray,
    open_pairs: np.ndarray,
    worth: np.ndarray,
    n_units: int,
    slots: np.ndarray,
) -> FlowOutcome:
    """The flow of one effort class of ``fill_by_flows``: with units of one lead, the reps'
    floors not yet met are forced when the flow can meet them (else left to the caller)."""
    args = (pairs.unit[open_pairs], pairs.rep[open_pairs], worth, n_units)
    zero = np.zeros_like(slots)
    if np.all(pairs.size[open_pairs] == 1):
        count = np.bincount(pairs.rep[chosen], weights=pairs.size[chosen], minlength=len(slots))
        need = np.minimum(np.maximum(pairs.min_leads - count.astype(np.int64), 0), slots)
        if need.any():
            forced = solve_flow(*args, slots, need.astype(np.int64))
            if forced.feasible:
                return forced
    return solve_flow(*args, slots, zero)
