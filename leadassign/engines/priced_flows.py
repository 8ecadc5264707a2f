"""Rep prices and value bounds for the transportation problem, and flows on a subset of arcs.

The problem: choose at most one pair per lead, exactly ``count`` pairs, every rep's load in
``[low, high]``, to maximize the summed weight ``w``. Its LP is integral, and relaxing the rep
rows with a price ``r_j`` per rep and the count row with a free multiplier gives, for *any*
prices, the bound

    value <= (sum of the ``count`` largest ``a_i``)
             + sum_j (max(r_j, 0) * high_j - max(-r_j, 0) * low_j)

where ``a_i = max_j (w_ij - r_j)`` over lead ``i``'s pairs. Weak duality makes it valid
whatever ``r`` is; with the prices that prove an optimum (read off the optimal flow by
:func:`rep_prices`) it equals that optimum. So a flow solved on a few arcs per lead (the
best at the prices) is a feasible choice for the whole problem, and the bound evaluated on
*all* arcs in numpy tells how far from the whole optimum it can be -- without a flow on all
arcs. :class:`ArcSubset` does that, and adds the arcs the prices show are missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

import numpy as np

from leadassign.compile.candidates import lead_starts
from leadassign.engines.flow import solve_flow

#: Bellman-Ford's "no lower bound": far below any price, far from int64 overflow.
_UNBOUNDED = -(2**61)
#: rep_prices reads the pairs this many at a time (its temporaries stay ~100 MB at 35M pairs).
_CHUNK = 2_000_000
#: first_subset (and certified_flow's pricing) sorts and prices this many pairs at a time:
#: at 10.7M pairs 0.8-1.2 s against 3.0-5.0 s for one sort of them all (same pairs chosen).
CHUNK_PAIRS = 2_000_000


def _lead_max(values: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """Per lead that has items (``lead`` sorted), the largest of its ``values``."""
    top: np.ndarray = np.maximum.reduceat(values, lead_starts(lead)) if len(lead) else values
    return top


def exact_sum(values: np.ndarray) -> int:
    """The sum of int64 ``values`` (of either sign) as a Python int (no overflow: summed in
    two halves, ``values = high * 2**32 + low`` with ``0 <= low < 2**32``)."""
    high, low = np.divmod(values.astype(np.int64), 2**32)
    return int(high.sum()) * 2**32 + int(low.sum())


def _count_weight(w: np.ndarray, lead: np.ndarray) -> int:
    """A weight per pair that makes the LP with ``weight + w`` put the count first: above the
    value any set of augmenting moves can change (twice the summed largest |w| per lead)."""
    magnitude = w if not len(w) or w.min() >= 0 else np.abs(w)  # no copy for values >= 0
    return 2 * exact_sum(_lead_max(magnitude, lead)) + 1


def rep_prices(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    chosen: np.ndarray,
    n_leads: int,
    low: np.ndarray,
    high: np.ndarray,
    *,
    big: int | None = None,
) -> np.ndarray | None:
    """Prices per rep (int64) that prove ``chosen`` optimal (most pairs, then most weight)
    on these arcs, or None when none do (it is not optimal on them). ``big``: the count
    weight (None: ``_count_weight`` of these arcs; a larger one keeps the count first).

    For the LP of weight ``big + w`` (count first), complementary slackness fixes each
    assigned lead's dual at ``big + w_ij - r_j`` and an unassigned lead's at 0, so dual
    feasibility is a system of difference constraints on ``r``: ``r_k >= r_j + w_ik - w_ij``
    for each arc ``(i, k)`` of a lead at ``j``, ``r_k >= big + w_ik`` for an arc of an
    unassigned lead, ``r_j >= 0`` unless ``j`` sits at its floor, ``r_j <= 0`` when it has
    room. The least solution is a longest-path fixpoint over the reps (Bellman-Ford on a
    dense reps x reps matrix). The prices are returned less ``big`` where that keeps them
    equivalent (only differences and signs matter to :func:`value_bound`, which re-centers
    them)."""
    n_reps = len(high)
    w = w.astype(np.int64, copy=False)
    big = _count_weight(w, lead) if big is None else big
    if big >= 2**58:
        return None
    at = np.full(n_leads, -1, dtype=np.int64)
    at[lead[chosen]] = rep[chosen]
    w_at = np.zeros(n_leads, dtype=np.int64)
    w_at[lead[chosen]] = w[chosen]
    load = np.bincount(rep[chosen], minlength=n_reps)
    r = np.where((low == 0) | (load > low), 0, _UNBOUNDED).astype(np.int64)
    flat = np.full(n_reps * n_reps, _UNBOUNDED, dtype=np.int64)
    for begin in range(0, len(lead), _CHUNK):  # the pairs a chunk at a time: bounded memory
        part = slice(begin, begin + _CHUNK)
        c_lead, c_rep, c_w = lead[part], rep[part], w[part]
        head_at = at[c_lead]
        free = head_at < 0
        np.maximum.at(r, c_rep[free], big + c_w[free])
        moves = ~free & (c_rep != head_at)
        np.maximum.at(
            flat, head_at[moves] * n_reps + c_rep[moves], c_w[moves] - w_at[c_lead[moves]]
        )
    edge = flat.reshape(n_reps, n_reps)
    sources = np.flatnonzero(edge.max(axis=1) > _UNBOUNDED)
    edge = edge[sources]
    for _ in range(n_reps + 1):
        reach = (r[sources, None] + edge).max(axis=0) if len(sources) else r
        step = np.maximum(r, reach)
        if np.array_equal(step, r):
            break
        r = step
    else:
        return None  # a positive cycle: chosen is not optimal on these arcs
    if np.any(r[load < high] > 0):
        return None
    assigned = at >= 0
    if np.any(big + w_at[assigned] - r[at[assigned]] < 0):
        return None
    return r


def value_bound(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    count: int,
    prices: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
) -> int:
    """An upper bound on the weight of any ``count`` pairs, one per lead, with every rep's
    load in ``[low, high]`` (module doc), for the given prices shifted by the best constant.
    ``lead`` sorted; exact in integers."""
    r = prices.astype(np.int64)
    best = _lead_max(w.astype(np.int64) - r[rep], lead)
    if count > len(best):
        raise ValueError("count exceeds the leads with a pair")
    top = exact_sum(np.partition(best, len(best) - count)[len(best) - count :]) if count else 0
    # Shifting every price by d lowers the top sum by count*d and moves the rep terms
    # piecewise linearly with breaks at -r_j, so the best shift is the first break where the
    # slope -count + (high of reps with r_j + d > 0) + (low of the others) turns >= 0.
    order = np.argsort(-r, kind="stable")
    breaks = -r[order]
    slope = -count + int(low.sum()) + np.cumsum(high[order] - low[order])
    k = int(np.searchsorted(slope >= 0, True)) if len(r) else 0
    d = int(breaks[min(k, len(r) - 1)]) if len(r) else 0
    rep_terms: int = sum(
        (x + d) * int(h if x + d > 0 else lo)
        for x, h, lo in zip(r.tolist(), high.tolist(), low.tolist(), strict=True)
    )
    return top + rep_terms - count * d


@dataclass(frozen=True, eq=False)
class Solved:
    """A flow's choice over all arcs, with a bound over all arcs for the same count."""

    chosen: np.ndarray | None  # None when the loads cannot be met (on the arcs tried)
    count: int
    value: int  # weight of ``chosen``
    bound: int | None  # on the weight of any ``count`` pairs over all arcs (None: none known)


class Flows(Protocol):
    """Solves the flow of a weight vector over the pairs with rep loads in ``[low, high]``:
    most pairs (at least ``count`` when given, else as many as it finds), then most weight."""

    flows: int

    def solve(
        self, w: np.ndarray, low: np.ndarray, high: np.ndarray, count: int | None = None
    ) -> Solved: ...


class AllArcs:
    """:class:`Flows` on every arc: exact, so the bound is the value."""

    def __init__(self, lead: np.ndarray, rep: np.ndarray, n_leads: int) -> None:
        self.lead, self.rep, self.n_leads = lead, rep, n_leads
        self.flows = 0

    def solve(
        self, w: np.ndarray, low: np.ndarray, high: np.ndarray, count: int | None = None
    ) -> Solved:
        self.flows += 1
        outcome = solve_flow(self.lead, self.rep, w, self.n_leads, high, low)
        if outcome.chosen is None:
            return Solved(None, 0, 0, None)
        value = int(w[outcome.chosen].astype(np.int64).sum())
        return Solved(outcome.chosen, int(outcome.chosen.sum()), value, value)


class ArcSubset:
    """:class:`Flows` on a subset of the arcs, with bounds over all of them (module doc).
    After each flow, the arcs its prices show could gain (per lead, the ``per_lead`` whose
    reduced weight beats the lead's best in the subset by most) join the subset; a flow that
    falls short of the count asked for is solved again on the widened subset, at most
    ``rounds`` flows on the subset in all (default ``ROUNDS``), and then on every arc."""

    #: Flows on the subset before the flow on every arc, unless ``rounds`` says otherwise.
    ROUNDS = 3
    #: Whether widening also adds the arcs near a lead's best (``widen``): only where the
    #: flow is solved again until exact (:class:`ExactSubset`). Here a flow is taken once it
    #: has the count, and the near arcs only grow the subset (at 50,000 x 300 the continuity
    #: and issue-4 books gained nothing from them: RESULTS.md section 6, "Session 16").
    NEAR = False

    def __init__(
        self,
        lead: np.ndarray,
        rep: np.ndarray,
        n_leads: int,
        selected: np.ndarray,
        *,
        per_lead: int = 4,
        rounds: int | None = None,
    ) -> None:
        self.lead, self.rep, self.n_leads = lead, rep, n_leads
        self.selected = selected.copy()
        self.per_lead = per_lead
        self.rounds = self.ROUNDS if rounds is None else rounds
        self.flows = 0

    @property
    def size(self) -> int:
        return int(self.selected.sum())

    def solve(
        self, w: np.ndarray, low: np.ndarray, high: np.ndarray, count: int | None = None
    ) -> Solved:
        for _ in range(self.rounds):
            solved, widened = self._solve_once(w, low, high)
            if self._takes(solved, widened, count):
                return solved
            if not widened:
                break
        # Not taken on the subset (short of the count, infeasible): the flow on every arc.
        self.flows += 1
        return AllArcs(self.lead, self.rep, self.n_leads).solve(w, low, high)

    def _takes(self, solved: Solved, widened: bool, count: int | None) -> bool:
        """Whether the subset's flow is the answer: it reaches the count asked for (its
        bound over every arc covers the rest)."""
        return solved.chosen is not None and (count is None or solved.count >= count)

    def _solve_once(self, w: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[Solved, bool]:
        """The flow on the subset, and whether its prices widened the subset."""
        arcs = np.flatnonzero(self.selected)
        lead, rep, weight = self.lead[arcs], self.rep[arcs], w[arcs].astype(np.int64)
        self.flows += 1
        outcome = solve_flow(lead, rep, weight, self.n_leads, high, low)
        if outcome.chosen is None:
            return Solved(None, 0, 0, None), self.widen(w, np.zeros(len(high), np.int64))
        chosen = np.zeros(len(self.lead), dtype=bool)
        chosen[arcs[outcome.chosen]] = True
        count = int(outcome.chosen.sum())
        value = int(weight[outcome.chosen].sum())
        prices = rep_prices(lead, rep, weight, outcome.chosen, self.n_leads, low, high)
        if prices is None:  # cannot happen for an optimal flow; no bound then
            return Solved(chosen, count, value, None), False
        bound = value_bound(self.lead, self.rep, w, count, prices, low, high)
        # Widen even at a tight bound: that bound is for this count, and arcs priced in may
        # reach more leads.
        return Solved(chosen, count, value, bound), self.widen(w, prices)

    def widen(self, w: np.ndarray, prices: np.ndarray) -> bool:
        """Add per lead up to ``per_lead`` arcs whose reduced weight ``w - prices`` beats the
        lead's best selected one, best first; False if none does. These include every arc
        that breaks the prices' dual feasibility for the count-first LP, so with none the flow
        is optimal over all arcs, count and value. With ``NEAR``, what those leave of a lead's
        ``per_lead`` goes to arcs that fall short of its best by less than the largest gain of
        any arc that beats one, best first: the next flow's prices move by about that much, so
        these are the arcs that may beat it next, and with them the next round is exact more
        often (the 20 variants of benchmarks/bench_compare.py solved 155 flows instead of 196,
        the same answers; RESULTS.md section 6, "Session 16")."""
        reduced = w.astype(np.int64) - prices[self.rep]
        none = np.iinfo(np.int64).min
        current = np.full(self.n_leads, none, dtype=np.int64)
        np.maximum.at(current, self.lead[self.selected], reduced[self.selected])
        best = current[self.lead]
        better = ~self.selected & (reduced > best)
        if not better.any():
            return False
        beats = np.flatnonzero(better)
        picked = top_per_lead(beats, self.lead[beats], reduced[beats], self.per_lead)
        self.selected[picked] = True
        if self.NEAR:
            has = best > none  # leads with no arc selected: every arc of theirs beats "none"
            gains = reduced[better & has] - best[better & has]
            if len(gains):
                # the near arcs fill what the arcs that beat the best left of per_lead (ranked
                # apart: one ranking of both could tie them when the gains span many bits)
                np.subtract(best, gains.max(), out=best, where=has)
                near = np.flatnonzero(~self.selected & ~better & (reduced > best))
                room = self.per_lead - np.bincount(self.lead[picked], minlength=self.n_leads)
                self.selected[top_per_lead(near, self.lead[near], reduced[near], room)] = True
        return True


def first_subset(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    prices: np.ndarray,
    per_lead: int,
    chunk: int = CHUNK_PAIRS,
) -> np.ndarray:
    """Each lead's ``per_lead`` best pairs by reduced weight ``w - prices`` (``lead``
    sorted; ties by position), as a mask, sorted a chunk of whole leads at a time."""
    selected = np.zeros(len(lead), dtype=bool)
    for lo, hi in _lead_chunks(lead, chunk):
        score = w[lo:hi].astype(np.int64) - prices[rep[lo:hi]]
        selected[lo:hi] = best_of_each(lead[lo:hi], score, per_lead)
    return selected


#: best_of_each lays a chunk's leads out as rows of a matrix as wide as its widest lead
#: while that matrix holds at most this many cells per item (else it sorts)
DENSE_SPREAD = 4


def best_of_each(lead: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """Mask of each lead's at most ``k`` highest-scoring items (``lead`` sorted, ``score``
    int64; ties by position), as :func:`top_per_lead` picks them but with no sort and no
    lost bits: the leads as rows of a matrix, each row's k-th largest score by
    ``np.partition``, then the items above it and the first ones equal to it."""
    if not len(lead):
        return np.zeros(0, dtype=bool)
    starts = lead_starts(lead)
    degree = np.diff(starts, append=len(lead))
    width = int(degree.max())
    if width <= k:
        return np.ones(len(lead), dtype=bool)
    if len(starts) * width > DENSE_SPREAD * len(lead):  # a few leads far wider than the rest
        picked = np.zeros(len(lead), dtype=bool)
        picked[top_per_lead(np.arange(len(lead)), lead, score, k)] = True
        return picked
    run = np.repeat(np.arange(len(starts)), degree)
    floor = np.iinfo(np.int64).min
    rows = np.full((len(starts), width), floor, dtype=np.int64)
    rows[run, np.arange(len(lead)) - starts[run]] = score
    # each row's k-th largest (the floor for a lead of fewer than k items: it keeps them all)
    kth = np.partition(rows, width - k, axis=1)[:, width - k][run]
    above = score > kth
    tied = score == kth
    room = np.minimum(degree, k) - np.bincount(run[above], minlength=len(starts))
    tied_before = np.cumsum(tied) - tied  # tied items before each, in all earlier leads too
    tied_rank = tied_before - tied_before[starts][run]  # ... in its own lead
    mask: np.ndarray = above | (tied & (tied_rank < room[run]))
    return mask


def _lead_chunks(lead: np.ndarray, chunk: int) -> list[tuple[int, int]]:
    """Ranges of about ``chunk`` pairs that never split a lead's run (``lead`` sorted)."""
    bounds = [0]
    while bounds[-1] < len(lead):
        end = min(len(lead), bounds[-1] + chunk)
        if end < len(lead):
            end = int(np.searchsorted(lead, lead[end], side="left"))
            if end <= bounds[-1]:  # one lead longer than a chunk
                end = int(np.searchsorted(lead, lead[bounds[-1]], side="right"))
        bounds.append(end)
    return list(pairwise(bounds))


class ExactSubset(ArcSubset):
    """:class:`Flows` on a subset of the arcs that is exact over all of them: each flow is
    solved on the subset, and while its prices show arcs that could gain (``widen``) they
    join the subset and the flow is solved again; with none left the flow is optimal over
    every arc (count and value), and its bound over every arc (:func:`value_bound` at its
    prices) must equal its value, as with :class:`AllArcs`, or it is not taken. After
    ``rounds`` flows on the subset (default ``ROUNDS``) the flow is solved on every arc. The
    subset carries over from one flow to the next (a Lagrangian search's flows differ only in
    a bonus)."""

    ROUNDS = 6
    NEAR = True

    def _takes(self, solved: Solved, widened: bool, count: int | None) -> bool:
        """Only when no arc can gain and the bound over every arc is met (and the count)."""
        proven = not widened and solved.chosen is not None and solved.bound == solved.value
        return proven and (count is None or solved.count >= count)


def priced_subset(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    n_leads: int,
    prices: np.ndarray,
    *,
    per_lead: int,
    keep: np.ndarray | None = None,
    exact: bool = False,
) -> ArcSubset:
    """An :class:`ArcSubset` (``exact``: an :class:`ExactSubset`) of each lead's ``per_lead``
    best arcs at ``prices`` (reduced weight ``w - prices``), plus the arcs flagged in
    ``keep``."""
    selected = first_subset(lead, rep, w, prices, per_lead)
    if keep is not None:
        selected |= keep
    if exact:
        return ExactSubset(lead, rep, n_leads, selected)
    return ArcSubset(lead, rep, n_leads, selected)


def top_per_lead(
    index: np.ndarray, lead: np.ndarray, score: np.ndarray, k: int | np.ndarray
) -> np.ndarray:
    """Of items ``index`` (``lead`` sorted, with their ``score``), the at most ``k`` highest
    scoring per lead (``k`` one number, or one per lead id), ties by position, ascending.
    One stable sort of an int64 key: the lead's run in the high bits, the score's distance
    below the lead's best in the rest (exact while the distances fit there; beyond that they
    lose their lowest bits, so items closer than that may tie)."""
    if not len(index):
        return index
    starts = lead_starts(lead)
    run = np.zeros(len(lead), dtype=np.int64)
    run[starts[1:]] = 1
    np.cumsum(run, out=run)
    below = np.maximum.reduceat(score, starts)[run] - score
    bits = 63 - len(starts).bit_length()
    below >>= max(0, int(below.max()).bit_length() - bits)
    order = np.argsort((run << bits) | below, kind="stable")
    rank = np.arange(len(order)) - starts[run]  # the sorted order keeps the runs in place
    most = k if isinstance(k, int) else k[lead[order]]
    picked: np.ndarray = np.sort(index[order[rank < most]])
    return picked
