"""Lagrangian searches over exact flows: a hard count band (``fair_count_flow``) and the
churn limit (``churn_flow``), each giving a start that meets the rule and, often, a bound
(see solve/flow_stages.py for their use).

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

from leadassign.compile.families import Continuity, Fairness
from leadassign.compile.families.fairness import group_totals, rep_bounds
from leadassign.compile.pairs import Pairs
from leadassign.control.budget import out_of_time
from leadassign.engines.priced_flows import AllArcs, Flows, Solved

ROUNDS = 8
#: churn_flow: the first step away from a guessed bonus (a share of it, four times as much
#: each step after), and the ratio of a bracket's ends above which it takes geometric steps
#: instead of interpolating.
GUESS_STRIDE = 0.05
SPAN = 16
#: churn_flow: the bracket's ends' surpluses of kept owners below which it steps to where
#: their Lagrangian lines cross.
KELLEY_SURPLUS = 2


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
