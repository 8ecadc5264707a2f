"""Lagrangian searches over exact flows: a hard count band (``fair_count_flow``) and the
churn limit (``churn_flow``), each giving a start that meets the rule and, often, a bound
(see solve/flow_stages.py for their use).

Count fairness with unit effort is a flow once each group's total ``M_g`` is fixed: every
rep's count must then lie in ``[ceil((1-band)*share*M_g), floor((1+band)*share*M_g)]``,
which are just tighter floors and capacities. :func:`fair_count_flow` guesses the totals
from a relaxation, solves that flow, and repeats with the totals it got until they agree.
With one group and the relaxation's count, the result is the exact optimum at that count.

The churn limit's search (:func:`churn_flow`) mixes the flows on the limit's two sides
(:func:`combined`): the leads where they differ, split into cycles, each switched from one
flow to the other as a whole, so that the mix keeps just enough owners at the least cost.
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
#: sampled_bonus: the share of the leads whose own churn search guesses the keep bonus, and
#: the most flows that search solves (each on a fifth of the leads: ~5x faster than one on
#: the whole subset at 100,000 x 500).
BONUS_SAMPLE = 0.2
BONUS_SAMPLE_FLOWS = 12
#: churn_flow's first step away from the sample's guess (instead of ``GUESS_STRIDE``): on
#: the 100,000 x 500 book with the issue-4 rules the sample's bonus (3.01M) lands about 20%
#: above the one the whole book needs (2.41M-2.49M), so steps of 5% then 20% took 4 flows of
#: the whole book to bracket it and reach the gap asked for (5e-4), a first step of 20% took 3
#: (gap 3.5e-4 instead of 9.3e-6; 1.4 s less of the churn search, benchmarks/RESULTS.md
#: "Target 4", session 8). A scenario's base gives its variants a closer guess: 5% stays.
SAMPLED_STRIDE = 0.2


#: combined: an exact search (a DP over the kept owners missing) when that many are missing
#: and at most COMBINE_ITEMS cycles add some, else the cycles by their cost per owner kept.
COMBINE_DP = 4096
COMBINE_ITEMS = 4096


def combined(
    short: np.ndarray,
    meets: np.ndarray,
    lead: np.ndarray,
    rep: np.ndarray,
    n_reps: int,
    units: np.ndarray,
    kept: np.ndarray,
    need: int,
) -> np.ndarray | None:
    """The flow ``short`` (too few owners kept: ``need`` more wanted) with some of its leads
    given the pairs they have in the flow ``meets`` instead, chosen to keep at least ``need``
    more owners at the least loss of ``units``; None when no such mix is found.

    The leads whose pair differs between the two flows, each an arc from its rep in
    ``short`` to its rep in ``meets`` (a node for "unassigned"), with arcs to and from one
    more node for the reps whose loads differ, form a circulation. Split into cycles, each
    cycle's leads can switch together: a cycle leaves every rep's load as it is or moves it
    by one towards its load in ``meets``, so any set of cycles keeps the count and every
    rep's load between its two loads, within bounds both flows meet. The cycles to switch
    are a covering knapsack: the least units lost for at least ``need`` owners kept (exact
    by a DP over ``need`` when it is at most ``COMBINE_DP``, else the cycles in order of
    units lost per owner kept).

    When both flows are optimal at bonuses ``lo < hi`` each owner a cycle keeps costs
    between ``lo`` and ``hi`` units, so the mix is within ``(hi - lo) * need`` plus the
    owners kept beyond ``need`` times ``hi`` of the Lagrangian bound at ``lo``: with a
    narrow bracket, far closer than a local search gets."""
    off = np.flatnonzero(short & ~meets)
    on = np.flatnonzero(meets & ~short)
    n_leads = int(lead.max(initial=-1)) + 1
    was = np.full(n_leads, -1, dtype=np.int64)
    now = np.full(n_leads, -1, dtype=np.int64)
    was[lead[off]] = off
    now[lead[on]] = on
    changed = np.union1d(lead[off], lead[on])
    if not len(changed) or need <= 0:
        return None
    p_was, p_now = was[changed], now[changed]
    unassigned, extra = n_reps, n_reps + 1
    tail, head = _at(rep, p_was, unassigned), _at(rep, p_now, unassigned)
    w, k = units.astype(np.int64, copy=False), kept.astype(np.int64, copy=False)
    gain_w = _at(w, p_now, 0) - _at(w, p_was, 0)
    gain_k = _at(k, p_now, 0) - _at(k, p_was, 0)
    # balance the loads that differ through ``extra``: into a rep that loses leads, out of
    # one that gains them
    nodes = n_reps + 2
    balance = np.bincount(tail, minlength=nodes) - np.bincount(head, minlength=nodes)
    ins = np.repeat(np.arange(nodes), np.maximum(balance, 0))
    outs = np.repeat(np.arange(nodes), np.maximum(-balance, 0))
    tails = np.concatenate([tail, np.full(len(ins), extra), outs])
    heads = np.concatenate([head, ins, np.full(len(outs), extra)])
    cycles = _cycles(tails.tolist(), heads.tolist(), nodes)
    n_real = len(changed)
    items: list[tuple[int, int, list[int]]] = []  # (owners kept, units lost, arcs)
    for arcs in cycles:
        real = [a for a in arcs if a < n_real]
        if real:
            items.append((int(gain_k[real].sum()), -int(gain_w[real].sum()), real))
    useful = [item for item in items if item[0] > 0]
    picked = _cover(useful, need)
    if picked is None:
        return None
    switch = np.zeros(n_leads, dtype=bool)
    switch[changed[[a for i in picked for a in useful[i][2]]]] = True
    at = switch[lead]
    mixed: np.ndarray = np.where(at, meets, short)
    return mixed


def _at(values: np.ndarray, pair: np.ndarray, missing: int) -> np.ndarray:
    """``values`` of each ``pair``, ``missing`` where the pair is -1 (a lead left out)."""
    found: np.ndarray = np.where(pair >= 0, values[np.maximum(pair, 0)], missing)
    return found


def _cycles(tails: list[int], heads: list[int], nodes: int) -> list[list[int]]:
    """A circulation's arcs (every node as many in as out) split into cycles, as lists of
    arc indices: a walk follows unused arcs until it meets a node already on it and cuts
    off that loop (with in = out everywhere, only the walk's first node can run out of
    arcs, and only with the walk empty)."""
    out: list[list[int]] = [[] for _ in range(nodes)]
    for arc in range(len(tails) - 1, -1, -1):  # popped from the end: arcs in input order
        out[tails[arc]].append(arc)
    found: list[list[int]] = []
    for start in range(nodes):
        node, path, where = start, [], {start: 0}  # where: node -> arcs on the walk before it
        while out[node]:
            arc = out[node].pop()
            path.append(arc)
            node = heads[arc]
            if node in where:
                cut = where[node]
                found.append(path[cut:])
                for inner in path[cut:-1]:
                    del where[heads[inner]]
                del path[cut:]
            else:
                where[node] = len(path)
    return found


def _cover(items: list[tuple[int, int, list[int]]], need: int) -> list[int] | None:
    """Indices of ``items`` (owners kept > 0, units lost, ...) keeping at least ``need``
    owners with the least units lost; None when all of them keep fewer."""
    if sum(item[0] for item in items) < need:
        return None
    if need <= COMBINE_DP and len(items) <= COMBINE_ITEMS:
        inf = np.iinfo(np.int64).max // 4
        cost = np.full(need + 1, inf, dtype=np.int64)
        cost[0] = 0
        took = np.zeros((len(items), need + 1), dtype=bool)
        reach = np.arange(need + 1)
        for i, (gain, lost, _) in enumerate(items):
            before = cost[np.maximum(reach - gain, 0)]
            better = (before < inf) & (before + lost < cost)
            took[i] = better
            cost = np.where(better, before + lost, cost)
        if cost[need] >= inf:
            return None
        picked, c = [], need
        for i in range(len(items) - 1, -1, -1):
            if took[i, c]:
                picked.append(i)
                c = max(c - items[i][0], 0)
        return picked
    order = sorted(range(len(items)), key=lambda i: (items[i][1] / items[i][0], i))
    picked, total = [], 0
    for i in order:
        picked.append(i)
        total += items[i][0]
        if total >= need:
            return picked
    return None


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
    # the keep bonus (value units per kept lead) of ``chosen``'s flow; for a mix of two
    # flows (:func:`combined`), where the kept owners' surplus crosses the limit between them
    multiplier: int
    flows: int  # flows solved
    # the last flow solved that meets the limit and its bonus (the bracket's top; None and 0:
    # none, or a soft limit's search): an optimal flow at that bonus, so its rep prices
    # price the pairs of a similar book at a similar bonus (``flow_stages.churn_search``)
    top: np.ndarray | None = None
    top_bonus: int = 0


NO_BOUND = int(np.iinfo(np.int64).max)
Step = tuple[np.ndarray, int, int]  # a flow's choice, its kept owners, its Lagrangian bound


@dataclass(eq=False)
class _ChurnSearch:
    """The state of :func:`churn_flow`'s search over the keep bonus: the flows, the bound
    and best choice so far, and the bracket of bonuses around the smallest one whose flow
    meets the limit.

    Changes fall as the bonus ``lam`` grows, so the search looks for the smallest bonus
    whose flow meets the limit, keeping the best such flow and the least ``L`` seen: the
    largest bonus first (one that outweighs any value difference: when even it cannot meet
    the limit, None), then regula falsi on the kept owners' surplus (geometric steps while
    the bracket spans orders of magnitude: the bonus needed is often far below the
    largest), ending with cutting-plane steps (:meth:`narrow`). With a guess, the search
    starts there and steps away from it until the limit's side changes
    (:meth:`from_guess`), and probes the largest bonus only if none of those meets the
    limit. For a hard limit, each flow is also mixed with the last one on the limit's other
    side (:func:`combined`, given the pairs' ``lead`` and ``rep``), and the mix is a choice
    like any other: the best when it scores more."""

    flows: Flows
    low: np.ndarray
    high: np.ndarray
    units: np.ndarray
    kept: np.ndarray
    slack: int  # leads that must stay with their owners
    penalty: int | None  # None: a hard limit
    tolerance: float
    max_flows: int
    time_left: Callable[[], float] | None
    solved_before: int
    stride: float = GUESS_STRIDE  # from_guess's first step, as a share of the guess
    count: int | None = None
    bound: int = NO_BOUND
    best: np.ndarray | None = None
    best_value: int = -NO_BOUND
    best_lam: int = 0
    # the bracket: the largest bonus seen whose flow changes too much (0: the plain flow),
    # the smallest whose flow meets the limit (-1 until one does), their surpluses of kept
    # owners over the limit, and the value units of their flows
    lo: int = 0
    short: int = 0
    hi: int = -1
    spare: int = 0
    value_lo: int = 0
    value_hi: int = 0
    took: float = 0.0
    # the pairs' leads and reps (for :func:`combined`; None: the bracket's flows are not
    # mixed) and the last flows on either side of the limit
    lead: np.ndarray | None = None
    rep: np.ndarray | None = None
    short_flow: np.ndarray | None = None
    meets_flow: np.ndarray | None = None

    def search(self, first: Step, guess: int | None) -> ChurnFlow | None:
        """The search from the flow without a bonus, ``first`` (see the class doc)."""
        chosen, keeps, bound = first
        self.count = int(chosen.sum())
        if keeps >= self.slack:  # the limit does not bind: the plain flow is the optimum
            return ChurnFlow(chosen, bound, 0, self.solved())
        # A bonus above the largest value spread of any lead makes keeping always win.
        top = 2 * int(np.abs(self.units).max(initial=0)) + 1
        if self.penalty is not None:
            top = min(top, self.penalty)
        self.open(chosen, keeps, bound)
        searching = True
        if guess is not None and 0 < guess < top:
            searching = self.from_guess(guess, top)
        if self.hi < 0:
            # No bonus tried meets the limit: the largest (one that outweighs any value
            # difference) tells whether any can.
            last = self.run(top)
            if last is None:
                return None
            self.bound = min(self.bound, last[2])
            if last[1] < self.slack:
                if self.penalty is None:
                    return None
                # Soft: the flow of bonus P still changes too much, and its score is L(P).
                return ChurnFlow(last[0], self.bound, top, self.solved())
            self.top_meets(last, top)
        if searching:
            self.narrow()
        assert self.best is not None
        top_flow = self.meets_flow if self.penalty is None and self.hi > 0 else None
        return ChurnFlow(
            self.best,
            self.bound,
            self.best_lam,
            self.solved(),
            top_flow,
            self.hi if top_flow is not None else 0,
        )

    def solved(self) -> int:
        """Flows solved by this search."""
        return self.flows.flows - self.solved_before

    def score(self, chosen: np.ndarray, keeps: int) -> int:
        """Value units of ``chosen``, less the soft limit's penalty for its changes."""
        value = int(self.units[chosen].sum())
        penalty = self.penalty
        return value if penalty is None else value - penalty * max(self.slack - keeps, 0)

    def run(self, lam: int) -> Step | None:
        """The flow of bonus ``lam``, or None (no flow, or another count than the first)."""
        solved = self.flows.solve(self.units + lam * self.kept, self.low, self.high, self.count)
        if solved.chosen is None or (self.count is not None and solved.count != self.count):
            return None  # the bounds so far are for ``count`` leads
        keeps = int(self.kept[solved.chosen].sum())
        bound = NO_BOUND if solved.bound is None else solved.bound - lam * self.slack
        return solved.chosen, keeps, bound

    def first(self, start: Solved | None) -> Step | None:
        """The flow without a bonus: ``start`` when given, else solved now."""
        if start is not None and start.chosen is not None:
            return (
                start.chosen,
                int(self.kept[start.chosen].sum()),
                NO_BOUND if start.bound is None else start.bound,
            )
        return self.run(0)

    def open(self, chosen: np.ndarray, keeps: int, bound: int) -> None:
        """Start from the plain flow, which changes too much: the bracket's low end (and,
        for a soft limit, the best so far)."""
        self.bound = bound
        if self.penalty is not None:
            self.best, self.best_value = chosen, self.score(chosen, keeps)
        self.lo, self.short, self.hi, self.spare = 0, keeps - self.slack, -1, 0
        self.value_lo, self.value_hi = int(self.units[chosen].sum()), 0
        self.short_flow = chosen
        self.took = time.perf_counter()

    def probe(self, lam: int) -> bool:
        """The flow of bonus ``lam`` into the bracket, the bound and the best; False when
        the search must stop (no flow, another count, or no time for another flow)."""
        now = time.perf_counter()
        if out_of_time(self.time_left, now - self.took):
            return False
        self.took = now
        step = self.run(lam)
        if step is None:
            return False
        picked, keeps, lagrange = step
        self.bound = min(self.bound, lagrange)
        meets = keeps >= self.slack
        if (meets or self.penalty is not None) and self.score(picked, keeps) > self.best_value:
            self.best, self.best_value, self.best_lam = picked, self.score(picked, keeps), lam
        if meets:
            self.hi, self.spare, self.value_hi = (
                lam,
                keeps - self.slack,
                int(self.units[picked].sum()),
            )
            self.meets_flow = picked
        else:
            self.lo, self.short, self.value_lo = (
                lam,
                keeps - self.slack,
                int(self.units[picked].sum()),
            )
            self.short_flow = picked
        self.mix()
        return True

    def mix(self) -> None:
        """The bracket's two flows mixed (:func:`combined`) as a choice that meets a hard
        limit: the best when it scores more."""
        short, meets = self.short_flow, self.meets_flow
        if self.penalty is not None or self.lead is None or short is None or meets is None:
            return
        assert self.rep is not None
        need = -self.short  # the owners ``short_flow`` keeps too few
        mixed = combined(
            short, meets, self.lead, self.rep, len(self.low), self.units, self.kept, need
        )
        if mixed is None:
            return
        keeps = int(self.kept[mixed].sum())
        if keeps < self.slack:
            return
        value = self.score(mixed, keeps)
        if value > self.best_value:
            # its bonus: where the kept owners' surplus crosses the limit, between the ends
            crossing = self.lo + (self.hi - self.lo) * -self.short // (self.spare - self.short)
            self.best, self.best_value, self.best_lam = mixed, value, crossing

    def closed(self) -> bool:
        """The bracket is closed, the flows are spent, or best and bound are close enough."""
        return (
            0 <= self.hi <= self.lo + 1
            or self.solved() >= self.max_flows
            or self.bound - self.best_value <= self.tolerance * max(abs(self.bound), 1)
        )

    def from_guess(self, guess: int, top: int) -> bool:
        """A bonus that suited a similar book (a scenario's base): probe it, then step away
        from it by ``stride`` (5%), four times as much each step after (20%, 80%, ...), until
        the flow is on the limit's other side. False when the search must stop."""
        searching = self.probe(guess)
        stride, down = self.stride, self.hi == guess
        while searching and not self.closed():
            lam = int(guess * (1 - stride)) if down else int(guess * (1 + stride)) + 1
            if lam <= self.lo or lam >= (top if self.hi < 0 else self.hi):
                break
            searching = self.probe(lam)
            if (self.hi == lam) != down:  # the other side: bracketed
                break
            stride *= 4
        return searching

    def top_meets(self, last: Step, top: int) -> None:
        """The largest bonus's flow, which meets the limit, closes the bracket above."""
        chosen, keeps, _ = last
        if self.score(chosen, keeps) > self.best_value:
            self.best, self.best_value, self.best_lam = chosen, self.score(chosen, keeps), top
        self.hi, self.spare, self.value_hi = top, keeps - self.slack, int(self.units[chosen].sum())
        self.meets_flow = chosen
        self.mix()
        self.took = time.perf_counter()

    def next_bonus(self, weight_lo: float, weight_hi: float) -> int:
        """The bonus to probe inside the bracket (see :meth:`narrow`)."""
        lo, hi = self.lo, self.hi
        if lo < 1 or hi > SPAN * lo:
            return math.isqrt(max(lo, 1) * hi)
        if -self.short <= KELLEY_SURPLUS and self.spare <= KELLEY_SURPLUS:
            mid = (self.value_lo - self.value_hi) // (self.spare - self.short)
        else:
            share = weight_lo / (weight_lo - weight_hi) if weight_hi > weight_lo else 0.5
            mid = round(lo * (hi / lo) ** share)
        margin = max((hi - lo) // 64, 1)
        return min(max(mid, lo + margin), hi - margin)

    def narrow(self) -> None:
        """Regula falsi on the kept owners' surplus, which grows with the bonus, in log
        scale (the Illinois rule halves the weight of an end that stayed twice in a row), at
        least 1/64 of the bracket from either end; geometric steps while the bracket spans
        more than SPAN times. Once both ends are within KELLEY_SURPLUS of the limit, where
        their flows' lines value + lam * surplus cross (exact when one breakpoint of the
        Lagrangian function is left between them, where halving would take a flow per bit
        of the gap)."""
        weight_lo, weight_hi, last_side = float(self.short), float(self.spare), ""
        searching = True
        while searching and not self.closed():
            mid = self.next_bonus(weight_lo, weight_hi)
            was_lo = self.lo
            searching = self.probe(mid)
            side = "lo" if self.lo != was_lo else "hi"
            if side == "lo":
                weight_lo = float(self.short)
                if last_side == "lo":
                    weight_hi /= 2
            else:
                weight_hi = float(self.spare)
                if last_side == "hi":
                    weight_lo /= 2
            last_side = side


def sampled_bonus(
    pairs: Pairs,
    continuity: Continuity,
    n_leads: int,
    low: np.ndarray,
    high: np.ndarray,
    selected: np.ndarray,
    *,
    tolerance: float,
    time_left: Callable[[], float] | None = None,
    fraction: float = BONUS_SAMPLE,
) -> int | None:
    """A guess of the keep bonus :func:`churn_flow` needs, from the same search on a fixed
    sample of the leads (a ``fraction`` of them, their ``selected`` pairs, every rep's
    bounds and the changes allowed scaled by it): a bonus is a price per kept lead, which a
    representative sample shares with the whole book, and the sample's flows are about
    ``1 / fraction`` times faster. Only a guess: the search on the whole book starts there
    (``churn_flow``'s ``guess``) and every bound it reports comes from its own flows. None
    when the sample's search finds none (or the limit does not bind on it)."""
    picked = np.random.default_rng(0).random(n_leads) < fraction
    arcs = np.flatnonzero(selected & picked[pairs.unit])
    kept = continuity.kept[arcs].astype(np.int64)
    keepable = continuity.keepable
    if not len(arcs) or keepable <= 0:
        return None
    lead = pairs.unit[arcs]
    owned = np.zeros(n_leads, dtype=np.int64)
    np.maximum.at(owned, lead, kept)  # each sampled lead's weight kept with its owner
    slack = math.ceil((keepable - continuity.limit) * int(owned.sum()) / keepable)
    with_pairs = np.zeros(n_leads, dtype=bool)
    with_pairs[pairs.unit[selected]] = True
    share = int(np.count_nonzero(with_pairs & picked)) / max(int(with_pairs.sum()), 1)
    search = _ChurnSearch(
        flows=AllArcs(lead, pairs.rep[arcs], n_leads),
        low=np.floor(low * share).astype(np.int64),
        high=np.ceil(high * share).astype(np.int64),
        units=pairs.units[arcs].astype(np.int64),
        kept=kept,
        slack=slack,
        penalty=continuity.penalty,
        tolerance=tolerance,
        max_flows=BONUS_SAMPLE_FLOWS,
        time_left=time_left,
        solved_before=0,
    )
    first = search.first(None)
    found = None if first is None else search.search(first, None)
    return None if found is None or found.multiplier <= 0 else found.multiplier


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
    stride: float = GUESS_STRIDE,
    mix: bool = True,
) -> ChurnFlow | None:
    """A Lagrangian relaxation of the churn limit (``keepable - kept <= limit``) over the
    flow with rep loads in ``[low, high]`` (every size and effort 1).

    The flow of ``units + lam * kept`` for a bonus ``lam >= 0`` per kept lead assigns the
    most leads (the same count whatever ``lam``: the count comes first) and then maximizes
    value plus bonus, so ``L(lam) = its bound - lam * (keepable - limit)`` bounds the value
    of every choice with that count which meets the limit. :class:`_ChurnSearch` searches
    the integer ``lam``, from a ``guess`` when given (the bonus of a similar book, such as a
    scenario's base; its first step away from the guess is ``stride`` of it). It stops
    when the best and the bound are within ``tolerance`` of each other, after ``max_flows``
    flows, or when ``time_left()`` is below the time the last flow took.

    A soft limit (``continuity.penalty`` P per change above it) is the same search with the
    bonus capped at P: for ``0 <= lam <= P``, ``L(lam)`` also bounds the score (value minus
    P per change above the limit) of every choice with that count, and every flow is a
    choice to score. When even the flow of bonus P changes more than the limit allows, its
    score equals ``L(P)``: it is the optimum.

    ``flows`` solves each flow (default: on every pair, where a flow's bound is its value;
    on a subset of pairs the bound comes from its prices, and a flow with another count than
    the first flow's ends the search, as the bounds are for that count). ``start``: the flow
    without a bonus for these bounds, when the caller already solved it (it is then not
    solved again). ``mix``: a hard limit's flows on the limit's two sides are mixed
    (:func:`combined`) into choices as well."""
    flows = flows or AllArcs(pairs.unit, pairs.rep, n_leads)
    search = _ChurnSearch(
        flows=flows,
        low=low,
        high=high,
        units=pairs.units.astype(np.int64),
        kept=continuity.kept.astype(np.int64),
        slack=continuity.keepable - continuity.limit,
        penalty=continuity.penalty,
        tolerance=tolerance,
        max_flows=max_flows,
        time_left=time_left,
        solved_before=flows.flows,
        stride=stride,
        lead=pairs.unit if mix else None,
        rep=pairs.rep if mix else None,
    )
    first = search.first(start)
    if first is None:
        return None
    return search.search(first, guess)
