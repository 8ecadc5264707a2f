"""Feasible starting points for CP-SAT built from exact flows (see solve.py for their use).

Count fairness with unit effort is a flow once each group's total ``M_g`` is fixed: every
rep's count must then lie in ``[ceil((1-band)*share*M_g), floor((1+band)*share*M_g)]``,
which are just tighter floors and capacities. :func:`fair_count_flow` guesses the totals
from a relaxation, solves that flow, and repeats with the totals it got until they agree.
With one group and the relaxation's count, the result is the exact optimum at that count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from leadassign.solver.budget import out_of_time
from leadassign.solver.candidates import best_per_lead, lead_starts
from leadassign.solver.cpsat import Continuity, Fairness, Pairs
from leadassign.solver.duals import AllArcs, Flows, Solved
from leadassign.solver.rules import fits_in_order
from leadassign.solver.stop import stopped

ROUNDS = 8
#: churn_flow: the first step away from a guessed bonus (a share of it, four times as much
#: each step after), and the ratio of a bracket's ends above which it takes geometric steps
#: instead of interpolating.
GUESS_STRIDE = 0.05
SPAN = 16
#: churn_flow: the bracket's ends' surpluses of kept owners below which it steps to where
#: their Lagrangian lines cross.
KELLEY_SURPLUS = 2


def band_bounds(fairness: Fairness, totals: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per rep: the least and the most of the metric that the band allows for the group
    totals (0 and the int64 maximum for reps in no group), exact in integers."""
    m = len(fairness.group)
    low = np.zeros(m, dtype=np.int64)
    high = np.full(m, np.iinfo(np.int64).max, dtype=np.int64)
    p, q = fairness.band.numerator, fairness.band.denominator
    for k, members in enumerate(fairness.groups()):
        total, weight = totals[k], int(fairness.weights[members].sum())
        w = [int(x) for x in fairness.weights[members].tolist()]  # Python ints: no overflow
        high[members] = [((q + p) * x * total) // (q * weight) for x in w]
        if p < q:
            low[members] = [-((-(q - p) * x * total) // (q * weight)) for x in w]
    return low, high


def rep_bounds(
    pairs: Pairs, fairness: Fairness, totals: dict[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per rep: the floor and the capacity that the band gives for the group totals."""
    lower, upper = band_bounds(fairness, totals)
    low = np.maximum(pairs.min_leads.astype(np.int64), lower)
    high = np.minimum(pairs.capacity.astype(np.int64), upper)
    return low, high


def group_totals(
    pairs: Pairs, fairness: Fairness, chosen: np.ndarray, metric: np.ndarray | None = None
) -> dict[int, int]:
    """Leads ``chosen`` gives each fairness group (by :meth:`Fairness.groups` index), or
    their summed ``metric`` (per pair) when given."""
    if metric is None:
        count = np.bincount(pairs.rep[chosen], minlength=len(pairs.capacity))
        return {k: int(count[members].sum()) for k, members in enumerate(fairness.groups())}
    reps, amounts = pairs.rep[chosen], metric[chosen].astype(np.int64)
    return {
        k: int(amounts[np.isin(reps, members)].sum()) for k, members in enumerate(fairness.groups())
    }


def fair_count_flow(
    pairs: Pairs,
    fairness: Fairness,
    n_leads: int,
    start: np.ndarray,
    flows: Flows | None = None,
) -> Solved | None:
    """A choice of unit pairs (every size and effort 1) that meets the count fairness band,
    with the flow's bound for the band's bounds at its totals, or None when this
    construction finds none. ``flows``: how to solve each flow (default: on every pair)."""
    flows = flows or AllArcs(pairs.unit, pairs.rep, n_leads)
    chosen = start
    for _ in range(ROUNDS):
        totals = group_totals(pairs, fairness, chosen)
        low, high = rep_bounds(pairs, fairness, totals)
        if np.any(low > high):
            return None
        solved = flows.solve(pairs.units, low, high, int(chosen.sum()))
        if solved.chosen is None:
            return None
        chosen = solved.chosen
        if group_totals(pairs, fairness, chosen) == totals:
            return solved
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


@dataclass(frozen=True, eq=False)
class ChurnFlow:
    """The best choice found that meets the churn limit (None if none), and a bound on the
    value units of any choice with the same rep bounds and the same count that meets it.
    For a soft limit: the best choice by value units minus the penalty, and a bound on that
    score."""

    chosen: np.ndarray | None
    bound: int
    multiplier: int  # the keep bonus (value units per kept lead) of ``chosen``'s flow
    flows: int  # flows solved


def churn_flow(
    pairs: Pairs,
    continuity: Continuity,
    n_leads: int,
    low: np.ndarray,
    high: np.ndarray,
    *,
    tolerance: float = 1e-4,
    max_flows: int = 40,
    time_left: Callable[[], float] | None = None,
    start: Solved | None = None,
    flows: Flows | None = None,
    guess: int | None = None,
) -> ChurnFlow | None:
    """A Lagrangian relaxation of the churn limit (``keepable - kept <= limit``) over the
    flow with rep loads in ``[low, high]`` (every size and effort 1).

    The flow of ``units + lam * kept`` for a bonus ``lam >= 0`` per kept lead assigns the
    most leads (the same count whatever ``lam``: the count comes first) and then maximizes
    value plus bonus, so ``L(lam) = its bound - lam * (keepable - limit)`` bounds the value
    of every choice with that count which meets the limit. Changes fall as ``lam`` grows, so
    a search on the integer ``lam`` looks for the smallest bonus whose flow meets the limit,
    keeping the best such flow and the least ``L`` seen: the largest bonus first (one that
    outweighs any value difference: when even it cannot meet the limit, None), then regula
    falsi on the kept owners' surplus (geometric steps while the bracket spans orders of
    magnitude: the bonus needed is often far below the largest), ending with cutting-plane
    steps. With a ``guess`` (the bonus of a similar book, such as a scenario's base), the
    search starts there and steps away from it until the limit's side changes, and probes
    the largest bonus only if none of those meets the limit. It stops when the best and the
    bound are within ``tolerance`` of each other, after ``max_flows`` flows, or when
    ``time_left()`` is below the time the last flow took.

    A soft limit (``continuity.penalty`` P per change above it) is the same search with the
    bonus capped at P: for ``0 <= lam <= P``, ``L(lam)`` also bounds the score (value minus
    P per change above the limit) of every choice with that count, and every flow is a
    choice to score. When even the flow of bonus P changes more than the limit allows, its
    score equals ``L(P)``: it is the optimum.

    ``flows`` solves each flow (default: on every pair, where a flow's bound is its value;
    on a subset of pairs the bound comes from its prices, and a flow with another count than
    the first flow's ends the search, as the bounds are for that count). ``start``: the flow
    without a bonus for these bounds, when the caller already solved it (it is then not
    solved again)."""
    flows = flows or AllArcs(pairs.unit, pairs.rep, n_leads)
    solved_before = flows.flows
    kept = continuity.kept.astype(np.int64)
    slack = continuity.keepable - continuity.limit  # leads that must stay with their owners
    units = pairs.units.astype(np.int64)
    penalty = continuity.penalty  # None: a hard limit
    count: int | None = None
    no_bound = np.iinfo(np.int64).max

    def score(chosen: np.ndarray, keeps: int) -> int:
        value = int(units[chosen].sum())
        return value if penalty is None else value - penalty * max(slack - keeps, 0)

    def run(lam: int) -> tuple[np.ndarray, int, int] | None:
        solved = flows.solve(units + lam * kept, low, high, count)
        if solved.chosen is None or (count is not None and solved.count != count):
            return None  # the bounds so far are for ``count`` leads
        keeps = int(kept[solved.chosen].sum())
        bound = no_bound if solved.bound is None else solved.bound - lam * slack
        return solved.chosen, keeps, bound

    if start is not None and start.chosen is not None:
        first: tuple[np.ndarray, int, int] | None = (
            start.chosen,
            int(kept[start.chosen].sum()),
            no_bound if start.bound is None else start.bound,
        )
    else:
        first = run(0)
    if first is None:
        return None
    chosen, keeps, bound = first
    count = int(chosen.sum())
    if keeps >= slack:  # the limit does not bind: the plain flow is the optimum
        return ChurnFlow(chosen, bound, 0, flows.flows - solved_before)
    # A bonus above the largest value spread of any lead makes keeping always win.
    top = 2 * int(np.abs(units).max(initial=0)) + 1
    if penalty is not None:
        top = min(top, penalty)
    best: np.ndarray | None = None
    best_value, best_lam = -no_bound, 0
    if penalty is not None:
        best, best_value = chosen, score(chosen, keeps)
    # the bracket: the largest bonus seen whose flow changes too much (0: the plain flow),
    # the smallest whose flow meets the limit (None until one does), and their surpluses of
    # kept owners over the limit
    lo, short, hi, spare = 0, keeps - slack, -1, 0
    value_lo, value_hi = int(units[chosen].sum()), 0  # the value units of their flows
    took = time.perf_counter()

    def probe(lam: int) -> bool:
        """The flow of bonus ``lam`` into the bracket, the bound and the best; False when
        the search must stop (no flow, another count, or no time for another flow)."""
        nonlocal bound, best, best_value, best_lam, lo, short, hi, spare, took
        nonlocal value_lo, value_hi
        now = time.perf_counter()
        if out_of_time(time_left, now - took):
            return False
        took = now
        step = run(lam)
        if step is None:
            return False
        picked, keeps, lagrange = step
        bound = min(bound, lagrange)
        if (keeps >= slack or penalty is not None) and score(picked, keeps) > best_value:
            best, best_value, best_lam = picked, score(picked, keeps), lam
        if keeps >= slack:
            hi, spare, value_hi = lam, keeps - slack, int(units[picked].sum())
        else:
            lo, short, value_lo = lam, keeps - slack, int(units[picked].sum())
        return True

    def closed() -> bool:
        return (
            0 <= hi <= lo + 1
            or flows.flows - solved_before >= max_flows
            or bound - best_value <= tolerance * max(abs(bound), 1)
        )

    searching = True
    if guess is not None and 0 < guess < top:
        # A bonus that suited a similar book (a scenario's base): probe it, then step away
        # from it by 5%, 20%, 80%, ... of it until the flow is on the limit's other side.
        searching = probe(guess)
        stride, down = GUESS_STRIDE, hi == guess
        while searching and not closed():
            lam = int(guess * (1 - stride)) if down else int(guess * (1 + stride)) + 1
            if lam <= lo or lam >= (top if hi < 0 else hi):
                break
            searching = probe(lam)
            if (hi == lam) != down:  # the other side: bracketed
                break
            stride *= 4
    if hi < 0:
        # No bonus tried meets the limit: the largest (one that outweighs any value
        # difference) tells whether any can.
        last = run(top)
        if last is None:
            return None
        bound = min(bound, last[2])
        if last[1] < slack:
            if penalty is None:
                return None
            # Soft: the flow of bonus P still changes too much, and its score is L(P).
            return ChurnFlow(last[0], bound, top, flows.flows - solved_before)
        if score(last[0], last[1]) > best_value:
            best, best_value, best_lam = last[0], score(last[0], last[1]), top
        hi, spare, value_hi = top, last[1] - slack, int(units[last[0]].sum())
        took = time.perf_counter()
    # Regula falsi on the kept owners' surplus, which grows with the bonus, in log scale
    # (the Illinois rule halves the weight of an end that stayed twice in a row), at least
    # 1/64 of the bracket from either end; geometric steps while the bracket spans more than
    # SPAN times. Once both ends are within KELLEY_SURPLUS of the limit, where their flows'
    # lines value + lam * surplus cross (exact when one breakpoint of the Lagrangian
    # function is left between them, where halving would take a flow per bit of the gap).
    weight_lo, weight_hi, last_side = float(short), float(spare), ""
    while searching and not closed():
        if lo < 1 or hi > SPAN * lo:
            mid = math.isqrt(max(lo, 1) * hi)
        else:
            if -short <= KELLEY_SURPLUS and spare <= KELLEY_SURPLUS:
                mid = (value_lo - value_hi) // (spare - short)
            else:
                share = weight_lo / (weight_lo - weight_hi) if weight_hi > weight_lo else 0.5
                mid = round(lo * (hi / lo) ** share)
            margin = max((hi - lo) // 64, 1)
            mid = min(max(mid, lo + margin), hi - margin)
        was_lo = lo
        searching = probe(mid)
        side = "lo" if lo != was_lo else "hi"
        if side == "lo":
            weight_lo = float(short)
            if last_side == "lo":
                weight_hi /= 2
        else:
            weight_hi = float(spare)
            if last_side == "hi":
                weight_lo /= 2
        last_side = side
    assert best is not None
    return ChurnFlow(best, bound, best_lam, flows.flows - solved_before)


def _room(pairs: Pairs, chosen: np.ndarray) -> np.ndarray:
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
    room = _room(pairs, chosen)
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


#: improve_by_moves works on books with at most this many units x reps (a dense pair index).
MOVE_CELLS = 4_000_000


@dataclass(frozen=True, eq=False)
class Band:
    """Limits per rep on a per-pair metric that local moves must keep: a fairness band at
    fixed group totals (:func:`band_bounds`). Moves stay within a group, so totals hold."""

    metric: np.ndarray  # per pair
    low: np.ndarray  # per rep
    high: np.ndarray  # per rep
    group: np.ndarray  # per rep


def fairness_band(pairs: Pairs, fairness: Fairness, chosen: np.ndarray) -> Band:
    """The band of ``fairness`` at the group totals of ``chosen``."""
    low, high = band_bounds(fairness, group_totals(pairs, fairness, chosen, fairness.metric))
    return Band(fairness.metric.astype(np.int64), low, high, fairness.group)


def owners_start(pairs: Pairs, continuity: Continuity, enough: int | None = None) -> np.ndarray:
    """Each unit with owned leads at the rep that keeps most of them, as far as capacities
    allow (per rep, the units keeping most first); with ``enough``, only the units keeping
    most (then of most value) until they keep that many leads. Seeding a draft with every
    owner filled reps that later units needed: at 10,000 x 200 with accounts and a churn
    limit the draft then placed 8,965 leads, and 9,077 seeded with just enough."""
    kept = continuity.kept
    owned = np.flatnonzero(kept > 0)
    order = owned[np.lexsort((-kept[owned], pairs.unit[owned]))]
    best = order[lead_starts(pairs.unit[order])]
    best = best[np.lexsort((best, -kept[best], pairs.rep[best]))]
    fitting = best[fits_in_order(pairs.rep[best], pairs.effort[best], pairs.capacity)]
    if enough is not None:
        fitting = fitting[np.lexsort((fitting, -pairs.units[fitting], -kept[fitting]))]
        fitting = fitting[: int(np.searchsorted(np.cumsum(kept[fitting]), enough)) + 1]
    chosen = np.zeros(len(pairs), dtype=bool)
    chosen[fitting] = True
    return chosen


#: balanced_draft: a unit goes to the most desirable of its reps whose fill is within this
#: fraction of the least filled one's (0: always the rep furthest behind).
DRAFT_SPREAD = 0.1


def balanced_draft(
    pairs: Pairs, fairness: Fairness, desirability: np.ndarray, start: np.ndarray | None = None
) -> np.ndarray:
    """A start that meets a fairness band by construction, where no flow bounds the metric (a
    value metric, or units bigger than one lead): like a draft in which the rep furthest
    behind picks next. Units go in descending order of their metric, each to the most
    desirable of its reps with room whose fill (metric held per unit of share weight) is
    within ``DRAFT_SPREAD`` of the least filled of them in the same group; the last and
    smallest units even the totals out. On a 10,000 x 200 book with a value band of 0.3,
    which CP-SAT found no solution for in 120 s, it meets the band with every lead the
    relaxation assigns. Keeps capacity (in effort) and one rep per unit; floors and other
    rules are not looked at, so callers check the result. ``start``: pairs chosen before the
    draft (one rep per unit, within capacity), such as owners kept; the draft places the
    other units."""
    chosen = np.zeros(len(pairs), dtype=bool) if start is None else start.copy()
    if not len(pairs):
        return chosen
    m = len(pairs.capacity)
    starts = lead_starts(pairs.unit)
    ends = np.append(starts[1:], len(pairs))
    metric = fairness.metric.astype(np.float64)
    weight = np.maximum(fairness.weights.astype(np.float64), 1.0)
    held = np.bincount(pairs.rep[chosen], weights=metric[chosen], minlength=m)
    room = _room(pairs, chosen)
    placed = np.zeros(int(pairs.unit.max()) + 1, dtype=bool)
    placed[pairs.unit[chosen]] = True
    for k in np.argsort(-metric[starts], kind="stable").tolist():
        if placed[pairs.unit[starts[k]]]:
            continue
        mine = np.arange(starts[k], ends[k])
        mine = mine[pairs.effort[mine] <= room[pairs.rep[mine]]]
        if not len(mine):
            continue
        reps = pairs.rep[mine]
        fill = held[reps] / weight[reps]
        groups = fairness.group[reps]
        if groups.min() == groups.max():
            least = np.full(len(mine), fill.min())
        else:
            least = np.array([fill[groups == g].min() for g in groups.tolist()])
        close = mine[fill <= least * (1 + DRAFT_SPREAD)]
        pick = int(close[np.argmax(desirability[close])])
        chosen[pick] = True
        room[pairs.rep[pick]] -= int(pairs.effort[pick])
        held[pairs.rep[pick]] += metric[pick]
    return chosen


def improve_by_moves(
    pairs: Pairs,
    chosen: np.ndarray,
    *,
    band: Band | None = None,
    continuity: Continuity | None = None,
    max_rounds: int = 30,
    max_visits: int = 20_000,
) -> np.ndarray:
    """``chosen`` (one rep per unit, within capacity and floors) improved by local search on
    the value: a unit moves to another rep with room for it (a shift), or two units at
    different reps trade places where both fit (a swap), whenever that raises the summed
    units; each unit in turn takes its best such move, rounds repeat until one gains
    nothing, or ``max_visits`` unit visits are spent (a work limit of about a second, so the
    result does not depend on the machine's speed), or the solve is stopped (``solver.stop``).
    The same units stay assigned, so the count, capacities and floors hold (a shift only
    leaves a rep above its floor). With a ``band``, a move must also keep both reps' metric
    within it (so a fair start stays fair); with a ``continuity`` limit, the owners kept
    must stay enough for it. Soft rules are not looked at, so callers check."""
    n_units = int(pairs.unit.max(initial=-1)) + 1
    m = len(pairs.capacity)
    if n_units * m > MOVE_CELLS or not chosen.any():
        return chosen
    chosen = chosen.copy()
    index = np.full((n_units, m), -1, dtype=np.int64)
    index[pairs.unit, pairs.rep] = np.arange(len(pairs))
    units = pairs.units.astype(np.int64)
    effort = pairs.effort.astype(np.int64)
    room = _room(pairs, chosen)
    count = np.bincount(pairs.rep[chosen], weights=pairs.size[chosen], minlength=m).astype(np.int64)
    at = np.full(n_units, -1, dtype=np.int64)  # the chosen pair of each unit
    at[pairs.unit[chosen]] = np.flatnonzero(chosen)
    if band is None:  # no limits: every metric 0, within [0, 0] in one group
        metric = np.zeros(len(pairs), dtype=np.int64)
        low = high = group = np.zeros(m, dtype=np.int64)
    else:
        metric, low, high, group = band.metric, band.low, band.high, band.group
    held = np.zeros(m, dtype=np.int64)  # exact: value metrics can pass float precision
    np.add.at(held, pairs.rep[chosen], metric[chosen])
    if continuity is None or continuity.penalty is not None:
        kept = np.zeros(len(pairs), dtype=np.int64)
        spare = 0
    else:  # owners kept beyond what the limit needs: moves may spend them (none when short)
        kept = continuity.kept.astype(np.int64)
        spare = int(kept[chosen].sum()) - (continuity.keepable - continuity.limit)
    # the units with a pair at each rep: a swap partner of a unit at rep a must have one
    # there, so the swap scan walks those instead of every assigned unit (the same partners,
    # in the same order: at 20,000 x 200 it took 7.5 of a solve's 14 s)
    having = [np.flatnonzero(index[:, j] >= 0) for j in range(m)]
    visits = 0
    for _ in range(max_rounds):
        gained = 0
        for u in np.flatnonzero(at >= 0).tolist():
            visits += 1
            if visits > max_visits or (visits % 64 == 0 and stopped()):
                return chosen
            p = int(at[u])
            a = int(pairs.rep[p])
            # shifts: u's other pairs at reps with room, a staying at or above its floor
            mine = index[u]
            shift_gain, shift_to = 0, -1
            if count[a] - pairs.size[p] >= pairs.min_leads[a] and held[a] - metric[p] >= low[a]:
                ok = (mine >= 0) & (np.arange(m) != a) & (group == group[a])
                ok[ok] &= effort[mine[ok]] <= room[ok]
                ok[ok] &= held[ok] + metric[mine[ok]] <= high[ok]
                ok[ok] &= kept[mine[ok]] - kept[p] + max(spare, 0) >= 0
                if ok.any():
                    gain = np.where(ok, units[np.maximum(mine, 0)] - units[p], 0)
                    b = int(np.argmax(gain))
                    shift_gain, shift_to = int(gain[b]), b
            # swaps: u at a with v at b, where u has a pair at b and v one at a
            near = having[a]
            placed = at[near]
            others = near[(placed >= 0) & (pairs.rep[np.maximum(placed, 0)] != a)]
            swap_gain, swap_with = 0, -1
            if len(others):
                theirs = at[others]  # v's pair, at rep b
                reps = pairs.rep[theirs]
                u_at_b = mine[reps]
                v_at_a = index[others, a]
                ok = (u_at_b >= 0) & (v_at_a >= 0) & (pairs.size[theirs] == pairs.size[p])
                u_at_b, v_at_a = np.maximum(u_at_b, 0), np.maximum(v_at_a, 0)
                ok &= room[a] + effort[p] - effort[v_at_a] >= 0
                ok &= room[reps] + effort[theirs] - effort[u_at_b] >= 0
                ok &= group[reps] == group[a]
                at_a = held[a] - metric[p] + metric[v_at_a]
                at_b = held[reps] - metric[theirs] + metric[u_at_b]
                ok &= (at_a >= low[a]) & (at_a <= high[a])
                ok &= (at_b >= low[reps]) & (at_b <= high[reps])
                ok &= kept[u_at_b] + kept[v_at_a] - kept[p] - kept[theirs] + max(spare, 0) >= 0
                gain = np.where(ok, units[u_at_b] + units[v_at_a] - units[p] - units[theirs], 0)
                k = int(np.argmax(gain))
                swap_gain, swap_with = int(gain[k]), int(others[k])
            if shift_gain <= 0 and swap_gain <= 0:
                continue
            if shift_gain >= swap_gain:
                q = int(index[u, shift_to])
                chosen[p], chosen[q] = False, True
                room[a] += effort[p]
                room[shift_to] -= effort[q]
                count[a] -= pairs.size[p]
                count[shift_to] += pairs.size[q]
                held[a] -= metric[p]
                held[shift_to] += metric[q]
                spare += kept[q] - kept[p]
                at[u] = q
                gained += shift_gain
            else:
                v = swap_with
                r = int(at[v])
                b = int(pairs.rep[r])
                q, s = int(index[u, b]), int(index[v, a])
                chosen[p] = chosen[r] = False
                chosen[q] = chosen[s] = True
                room[a] += effort[p] - effort[s]
                room[b] += effort[r] - effort[q]
                held[a] += metric[s] - metric[p]
                held[b] += metric[q] - metric[r]
                spare += kept[q] + kept[s] - kept[p] - kept[r]
                at[u], at[v] = q, s
                gained += swap_gain
        if gained <= 0:
            break
    return chosen
