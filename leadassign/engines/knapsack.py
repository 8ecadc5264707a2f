"""Generalized assignment books: a knapsack Lagrangian bound, and a branch and bound on it.

A book without side rules or floors in which leads take different efforts, and in which every
unit can be placed, is a generalized assignment problem (GAP): maximize ``sum(v * x)`` with
each unit at exactly one rep and each rep's effort within its capacity. HiGHS' branch and cut
proves small ones, but OR-Library's b10200, c10200 and c20200 (10-20 reps, 200 leads) took it
7-18 s, because the LP bound is weak there: each rep's row is a knapsack, and the LP takes
fractions of leads.

Pricing each unit's row with ``u`` leaves one 0-1 knapsack per rep,

    L(u) = sum_k u_k + sum_j max { sum (v_p - u_unit(p)) x_p : sum effort_p x_p <= cap_j },

an upper bound on the value of any choice that places every unit, for any ``u`` (weak duality;
Fisher, Jaikumar and Van Wassenhove, 1986). The knapsacks have no integrality property, so
the best ``L`` is tighter than the LP's bound: 2,825.4 against the optimum 2,827 (as costs) on
b10200, where the LP gives 2,815.1. The prices start from the LP's duals and follow the
subgradient with Polyak's steps. Knapsacks are solved by dynamic programming over capacity,
all reps at once in numpy: one vector operation per item slot, not per pair.

Values must lie on a grid (``value_grid``): integers, or decimals with at most three places.
Then a bound below ``best + 1`` grid units proves ``best``, and the search below prunes on it.

The branch and bound is depth first. At each node:

- units with one pair left are placed (their reps' capacities shrink);
- the subgradient runs from the parent's prices, and the node is pruned when ``L`` cannot reach
  the target;
- pairs are fixed by the knapsacks (Posta, Ferland and Michelon, 2012): with pair ``p`` forced
  into its rep's knapsack, ``L`` falls by what that knapsack loses; when it then misses the
  target, ``p`` goes. When it misses it with ``p`` left out, ``p`` is placed. The knapsack
  values with each item in and out come from prefix and suffix tables of the same DP;
- it branches on the unit whose two best pairs are closest in that ``L`` (the least decided):
  first with its best pair placed, then with that pair excluded.

The target is first above the best known value (aspiration): the search at target ``t``
either finds a choice worth at least ``t``, or proves that none exists, so ``t - 1`` is a
bound. Targets step down from the root's bound one unit a round for four rounds, then 2, 4,
... units, until one is met; a search whose target is at most one unit above the best known
value proves it when it ends. The root's prices aim 0.2% below its bound whatever the start,
so the search does not depend on the start beyond pruning. Without aspiration it did: from
starts 10 units off it did not prove c20200 in 15 s; with it, every OR-Library A, B and C
book and gap1-12 (both senses) is proven from no start at all, in 0.1-3.7 s (one core).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np

from leadassign.compile.pairs import Pairs
from leadassign.control import budget
from leadassign.engines.lp import highs_output, run_highs

#: The knapsacks are solved only when reps x (largest capacity + 1) is at most this many
#: cells: one subgradient step costs a few numpy operations on that many cells per item slot.
MAX_CELLS = 20_000
#: Pairs fixed at a node only while the DP's prefix and suffix tables (item slots x cells)
#: stay this small (about 32 MB each).
MAX_TABLE = 4_000_000
#: Subgradient steps at the root, at every other node (a node stops as soon as it is pruned)
#: and again at a node after pairs were fixed, and the steps without a better bound after
#: which the step size halves.
ROOT_STEPS = 300
NODE_STEPS = 20
REFIX_STEPS = 10
PATIENCE = 10
#: Starting step sizes at the root and at other nodes (which start from near-optimal prices).
ROOT_STEP = 1.0
NODE_STEP = 0.25
#: Targets step down one unit at a time for this many rounds, then by 2, 4, ... units.
LINEAR_ROUNDS = 4
#: Polyak's step aims this far (relative) below the best bound so far when the target is
#: further: aiming at a target far below the dual optimum made the steps overshoot.
SLACK = 0.002
#: A work limit on the nodes of all rounds together (about 20 ms each on 200-lead books), so
#: that whether a long search ends does not depend on the machine's speed only; the time
#: limit is the backstop.
MAX_NODES = 20_000
#: Decimal places tried for the value grid, and the largest |value| on it.
GRID_PLACES = (0, 1, 2, 3)
MAX_GRID_VALUE = 10**9


@dataclass(frozen=True, eq=False)
class Outcome:
    """What the search found for a book in which every unit must be placed."""

    chosen: np.ndarray | None  # bool per pair: the best choice found (None: none found)
    proven: bool  # chosen is optimal, or (chosen None) no choice places every unit
    bound: int | None  # grid units no choice that places every unit exceeds (None: unknown)
    nodes: int
    searched: bool = True  # False: stopped after the root (``max_gap``)


@dataclass(frozen=True, eq=False)
class Grid:
    """Pair values as integers: each value times 10^places (``value_grid``)."""

    values: np.ndarray  # int64 per pair
    step: float  # value units per grid unit

    def units_above(self, bound: int, n_units: int) -> int:
        """A bound in value units for choices of ``n_units`` units worth at most ``bound``
        grid units: each unit is its grid value times ``step``, rounded (``value_grid``)."""
        return int(np.floor(self.step * bound + n_units * (0.5 + GRID_TOLERANCE * self.step))) + 1


#: How far (relative to the grid step, beyond the half unit of rounding) a pair's units may
#: lie from its grid value times the step.
GRID_TOLERANCE = 1e-6


def value_grid(units: np.ndarray, scale: float) -> Grid | None:
    """Each pair's value on the coarsest decimal grid it lies on (``units`` are the values
    times ``scale``, rounded): the value times 10^d for the fewest places d in ``GRID_PLACES``
    that reproduce every unit to within its rounding; None when none does, or when a grid step
    is not at least two units (the units are then as fine as the grid)."""
    for places in GRID_PLACES:
        step = scale / 10.0**places  # units per grid step
        if not step >= 2.0:
            return None
        grid = np.rint(units / step)
        if np.abs(grid).max(initial=0.0) > MAX_GRID_VALUE:
            return None
        if np.all(np.abs(units - grid * step) <= 0.5 + GRID_TOLERANCE * step):
            return Grid(grid.astype(np.int64), step)
    return None


def _floor(value: float) -> float:
    """The largest integer a bound of ``value`` allows, with room for float sums."""
    return float(_floors(np.asarray(value)))


def _floors(values: np.ndarray) -> np.ndarray:
    """``_floor`` of each value; infinities stay as they are."""
    finite = np.isfinite(values)
    safe = np.where(finite, values, 0.0)
    return np.where(finite, np.floor(safe + 1e-9 * np.abs(safe) + 1e-6), values)


class _Knapsacks:
    """Each rep's 0-1 knapsack over the pairs ``sel`` (sorted by rep), with ``profit`` and
    capacity ``room``: one DP over all reps, an item slot at a time."""

    def __init__(
        self,
        sel: np.ndarray,
        rep: np.ndarray,
        effort: np.ndarray,
        profit: np.ndarray,
        room: np.ndarray,
        tables: bool = False,
    ) -> None:
        m = len(room)
        r = rep[sel]
        counts = np.bincount(r, minlength=m)
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        slot = np.arange(len(sel)) - first[r]
        slots = int(counts.max(initial=0))
        cap = int(room.max(initial=0))
        self.slots, self.cap, self.room = slots, cap, room
        # per slot and rep: the item's effort (cap + 1: no item), profit and pair
        self.weight = np.full((slots, m), cap + 1, dtype=np.int64)
        self.profit = np.zeros((slots, m))
        self.pair = np.full((slots, m), -1, dtype=np.int64)
        self.weight[slot, r] = np.minimum(effort[sel], cap + 1)  # heavier never fits
        self.profit[slot, r] = profit[sel]
        self.pair[slot, r] = sel
        # best[j, c]: the best value of rep j's items so far within effort c, after cap + 1
        # cells of -inf that an item heavier than c reads
        width = 2 * cap + 2
        flat = np.full(m * width, -np.inf)
        table = flat.reshape(m, width)
        table[:, cap + 1 :] = 0.0
        cells = (np.arange(m) * width)[:, None] + (cap + 1) + np.arange(cap + 1)[None, :]
        took = np.zeros((slots, m, cap + 1), dtype=bool)
        self.prefix = np.empty((slots + 1, m, cap + 1)) if tables else None
        for k in range(slots):
            best = table[:, cap + 1 :]
            if self.prefix is not None:
                self.prefix[k] = best
            candidate = flat[cells - self.weight[k][:, None]]
            candidate += self.profit[k][:, None]
            np.greater(candidate, best, out=took[k])
            np.copyto(best, candidate, where=took[k])
        self.best = table[:, cap + 1 :].copy()
        if self.prefix is not None:
            self.prefix[slots] = self.best
        rows = np.arange(m)
        self.value = self.best[rows, room]
        picked = []
        left = room.copy()
        for k in range(slots - 1, -1, -1):
            t = took[k, rows, left]
            picked.append(self.pair[k, t])
            left = left - np.where(t, self.weight[k], 0)
        self.chosen = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)

    def with_and_without(self) -> tuple[np.ndarray, np.ndarray]:
        """Per slot and rep: the best knapsack value with the slot's item in, and out
        (``max_c prefix[k][c] + suffix[k + 1][room - c]``, needs ``tables``)."""
        assert self.prefix is not None
        slots, cap = self.slots, self.cap
        m = len(self.room)
        cols = np.arange(cap + 1)
        suffix = np.empty((slots + 1, m, cap + 1))
        best = np.zeros((m, cap + 1))
        suffix[slots] = best
        for k in range(slots - 1, -1, -1):
            src = cols[None, :] - self.weight[k][:, None]
            gathered = np.take_along_axis(best, np.maximum(src, 0), 1) + self.profit[k][:, None]
            best = np.maximum(best, np.where(src >= 0, gathered, -np.inf))
            suffix[k] = best
        after = suffix[1:]
        rest = self.room[None, :, None] - cols[None, None, :]
        gathered = np.take_along_axis(after, np.broadcast_to(np.maximum(rest, 0), after.shape), 2)
        out = np.where(rest >= 0, self.prefix[:slots] + gathered, -np.inf).max(axis=2)
        rest = (self.room[None, :] - self.weight)[:, :, None] - cols[None, None, :]
        gathered = np.take_along_axis(after, np.maximum(rest, 0), 2)
        inside = np.where(rest >= 0, self.prefix[:slots] + gathered, -np.inf).max(axis=2)
        return inside + self.profit, out


@dataclass(frozen=True, eq=False)
class _Relaxed:
    bound: float  # the lowest L found
    price: np.ndarray  # the prices that gave it
    knapsacks: _Knapsacks | None  # their knapsacks (None: pruned before any step)
    single: np.ndarray  # pairs placed: the only pair left of their unit
    room: np.ndarray  # capacities left after them
    cand: np.ndarray  # pairs of the other units that fit those capacities


class _Search:
    """The branch and bound (module doc) over the pairs sorted by rep."""

    def __init__(self, pairs: Pairs, values: np.ndarray, deadline: float) -> None:
        self.order = np.lexsort((pairs.unit, pairs.rep))
        # units numbered from 0 among those with a pair
        _, unit = np.unique(pairs.unit[self.order], return_inverse=True)
        self.unit = unit.astype(np.int64)
        self.rep = pairs.rep[self.order].astype(np.int64)
        self.value = values[self.order].astype(np.int64)
        self.fvalue = self.value.astype(np.float64)
        self.effort = pairs.effort[self.order].astype(np.int64)
        self.capacity = _capacities(pairs)
        self.m = len(self.capacity)
        self.n = int(self.unit.max(initial=-1)) + 1
        by_unit = np.argsort(self.unit, kind="stable")
        self.by_unit = by_unit
        self.unit_start = np.searchsorted(self.unit[by_unit], np.arange(self.n + 1))
        self.deadline = deadline
        self.best: float = -np.inf  # value of the best choice found
        self.best_choice: np.ndarray | None = None
        self.aim: float = -np.inf  # the target of the current round
        self.ceiling: float = np.inf  # proven: no choice is worth more
        self.complete = True  # no node was left unsearched
        self.nodes = 0
        meter = budget.current()
        #: the work limit in nodes (None: none), budget.py
        self.max_nodes = (
            None
            if meter is None
            else budget.work_units(meter.work_left(), budget.KNAPSACK_NODES_PER_WORK)
        )

    def threshold(self) -> float:
        """A node (or a pair) is kept only if it may reach this value."""
        return max(self.aim, self.best + 1)

    def out_of_time(self) -> bool:
        """Past the deadline or the work limit (the cut is recorded on the active meter)."""
        meter = budget.current()
        if self.max_nodes is not None and self.nodes >= self.max_nodes:
            if meter is not None:
                meter.cut("work")
            return True
        if time.perf_counter() > self.deadline:
            if meter is not None:
                meter.cut("time")
            return True
        return False

    def record(self, picked: np.ndarray) -> None:
        value = int(self.value[picked].sum())
        if value > self.best:
            self.best = value
            mask = np.zeros(len(self.unit), dtype=bool)
            mask[picked] = True
            self.best_choice = mask

    def relax(
        self, allowed: np.ndarray, price: np.ndarray, steps: int, step: float, root: bool = False
    ) -> _Relaxed | None:
        """The subgradient on a node; None when the node has no choice that places every
        unit, or when its knapsacks place each unit once (their choice is then its optimum,
        recorded)."""
        unit, rep = self.unit, self.rep
        count = np.bincount(unit[allowed], minlength=self.n)
        if np.any(count == 0):
            return None
        single = allowed & (count[unit] == 1)
        placed = np.bincount(rep[single], weights=self.effort[single], minlength=self.m)
        room = self.capacity - placed.astype(np.int64)
        if np.any(room < 0):
            return None
        free = count >= 2
        cand = allowed & ~single & (self.effort <= room[rep])
        if np.any(free & (np.bincount(unit[cand], minlength=self.n) == 0)):
            return None
        fixed = float(self.value[single].sum())
        lowest, kept, best_knapsacks, stalled = np.inf, price, None, 0
        for _ in range(steps):
            if self.out_of_time():
                break
            profit = self.fvalue - price[unit]
            knapsacks = _Knapsacks(
                np.flatnonzero(cand & (profit > 0)), rep, self.effort, profit, room
            )
            bound = float(price[free].sum()) + fixed + float(knapsacks.value.sum())
            if bound < lowest:
                lowest, kept, best_knapsacks, stalled = bound, price, knapsacks, 0
            else:
                stalled += 1
                if stalled >= PATIENCE:
                    step, stalled = step / 2, 0
            taken = np.bincount(unit[knapsacks.chosen], minlength=self.n)
            g = np.where(free, 1.0 - taken, 0.0)
            norm = float(g @ g)
            if norm == 0.0:
                self.record(np.concatenate([np.flatnonzero(single), knapsacks.chosen]))
                return None
            if _floor(lowest) < self.threshold():
                break
            target = lowest - SLACK * abs(lowest)
            if not root:
                target = max(self.threshold(), target)
            price = price - step * max(bound - target, 0.5) / norm * g
        if best_knapsacks is None:
            return (
                None
                if _floor(lowest) < self.threshold()
                else _Relaxed(lowest, kept, None, single, room, cand)
            )
        return _Relaxed(lowest, kept, best_knapsacks, single, room, cand)

    def repair(self, relaxed: _Relaxed) -> None:
        """A choice from the knapsacks': each unit at its most valuable pair among those
        chosen, the units left out placed greedily at their most valuable pair that fits."""
        assert relaxed.knapsacks is not None
        unit = self.unit
        chosen = np.concatenate([np.flatnonzero(relaxed.single), relaxed.knapsacks.chosen])
        ranked = chosen[np.lexsort((-self.value[chosen], unit[chosen]))]
        keep = ranked[
            np.concatenate(([True], unit[ranked][1:] != unit[ranked][:-1]))[: len(ranked)]
        ]
        left = self.capacity - np.bincount(
            self.rep[keep], weights=self.effort[keep], minlength=self.m
        ).astype(np.int64)
        placed = np.zeros(self.n, dtype=bool)
        placed[unit[keep]] = True
        usable = relaxed.cand | relaxed.single
        picks = [keep]
        for u in np.flatnonzero(~placed).tolist():
            own = self.by_unit[self.unit_start[u] : self.unit_start[u + 1]]
            own = own[usable[own] & (self.effort[own] <= left[self.rep[own]])]
            if not len(own):
                return
            p = int(own[np.argmax(self.value[own])])
            picks.append(np.array([p]))
            left[self.rep[p]] -= self.effort[p]
        self.record(np.concatenate(picks))

    def fix(self, allowed: np.ndarray, relaxed: _Relaxed) -> tuple[np.ndarray | None, np.ndarray]:
        """Pairs ruled out and placed by the knapsacks (module doc): the node's new pairs
        (None: the node cannot reach the threshold) and each pair's L with it placed."""
        knapsacks = relaxed.knapsacks
        assert knapsacks is not None
        room, cand = relaxed.room, relaxed.cand
        rep = self.rep
        profit = self.fvalue - relaxed.price[self.unit]
        with_in = np.full(len(self.unit), -np.inf)
        if knapsacks.slots * self.m * (knapsacks.cap + 1) > MAX_TABLE:
            return allowed & (relaxed.single | cand), with_in
        full = _Knapsacks(
            np.flatnonzero(cand & (profit > 0)), rep, self.effort, profit, room, tables=True
        )
        inside, outside = full.with_and_without()
        others = relaxed.bound - full.value  # per rep: L without its own knapsack
        rest = room[rep] - self.effort
        with_in[cand] = profit[cand] + full.best[rep[cand], np.maximum(rest[cand], 0)]
        slot = full.pair >= 0
        with_in[full.pair[slot]] = inside[slot]
        with_in = others[rep] + with_in
        with_out = np.full(len(self.unit), np.inf)
        with_out[full.pair[slot]] = outside[slot]
        with_out = others[rep] + with_out
        threshold = self.threshold()
        drop = cand & (_floors(with_in) < threshold)
        must = cand & (_floors(with_out) < threshold)
        if np.any(np.bincount(self.unit[must], minlength=self.n) > 1):
            return None, with_in
        kept = allowed & (relaxed.single | cand) & ~drop
        if must.any():
            placed = np.zeros(self.n, dtype=bool)
            placed[self.unit[must]] = True
            kept &= ~placed[self.unit] | must
        return kept, with_in

    def branch_pair(self, allowed: np.ndarray, relaxed: _Relaxed, with_in: np.ndarray) -> int:
        """The best pair (by L with it placed) of the unit whose two best pairs are closest;
        -1 when no unit has two pairs left."""
        open_ = np.flatnonzero(allowed & relaxed.cand)
        if not len(open_):
            return -1
        ranked = open_[np.lexsort((-with_in[open_], self.unit[open_]))]
        units = self.unit[ranked]
        heads = np.flatnonzero(np.concatenate(([True], units[1:] != units[:-1])))
        seconds = heads + 1
        has_two = seconds < len(ranked)
        has_two[has_two] = units[seconds[has_two]] == units[heads[has_two]]
        if not has_two.any():
            return -1
        regret = np.full(len(heads), np.inf)
        regret[has_two] = with_in[ranked[heads[has_two]]] - with_in[ranked[seconds[has_two]]]
        return int(ranked[heads[int(np.argmin(regret))]])

    def dive(self, price: np.ndarray, steps: int, step: float) -> bool:
        """One depth-first search at the current target from the root; False when out of
        time or nodes (``MAX_NODES``) before it ended."""
        stack = [(np.ones(len(self.unit), dtype=bool), price, steps, step)]
        while stack and self.best < self.ceiling:
            if self.out_of_time() or self.nodes >= MAX_NODES:
                return False
            allowed, price, steps, step = stack.pop()
            self.nodes += 1
            while True:
                relaxed = self.relax(allowed, price, steps, step)
                if relaxed is None or _floor(relaxed.bound) < self.threshold():
                    break
                price = relaxed.price
                if relaxed.knapsacks is None:  # out of time
                    return False
                self.repair(relaxed)
                if _floor(relaxed.bound) < self.threshold():
                    break
                kept, with_in = self.fix(allowed, relaxed)
                if kept is None:
                    break
                if np.array_equal(kept, allowed):
                    pair = self.branch_pair(allowed, relaxed, with_in)
                    if pair >= 0:
                        u = self.unit[pair]
                        without = allowed.copy()
                        without[pair] = False
                        placed = allowed & ((self.unit != u) | (np.arange(len(allowed)) == pair))
                        stack.append((without, price, NODE_STEPS, NODE_STEP))
                        stack.append((placed, price, NODE_STEPS, NODE_STEP))
                        break
                    # every open unit has one pair that fits: place them (next round)
                    kept = allowed & (relaxed.single | relaxed.cand)
                    if np.array_equal(kept, allowed):
                        # cannot happen (every unit placed: the knapsacks place each once);
                        # if it did, this node was not searched, so nothing is proven
                        self.complete = False
                        break
                allowed, steps = kept, REFIX_STEPS
        return True


def _lp_prices(search: _Search) -> np.ndarray | None:
    """The LP relaxation's duals of the units' rows (HiGHS), or None when it does not solve."""
    k = len(search.unit)
    lp = highspy.HighsLp()
    lp.num_col_ = k
    lp.num_row_ = search.n + search.m
    lp.col_cost_ = (-search.fvalue).tolist()
    lp.col_lower_ = [0.0] * k
    lp.col_upper_ = [1.0] * k
    lp.row_lower_ = [1.0] * search.n + [-highspy.kHighsInf] * search.m
    lp.row_upper_ = [1.0] * search.n + search.capacity.astype(float).tolist()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = (2 * np.arange(k + 1)).tolist()
    index = np.empty(2 * k, dtype=np.int64)
    index[0::2], index[1::2] = search.unit, search.n + search.rep
    value = np.empty(2 * k)
    value[0::2], value[1::2] = 1.0, search.effort
    lp.a_matrix_.index_ = index.tolist()
    lp.a_matrix_.value_ = value.tolist()
    with highs_output(False):
        h = highspy.Highs()  # type: ignore[no-untyped-call]
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        h.setOptionValue("time_limit", max(search.deadline - time.perf_counter(), 0.01))
        h.passModel(lp)
        run_highs(h)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.asarray(h.getSolution().row_dual[: search.n], dtype=np.float64)


def _capacities(pairs: Pairs) -> np.ndarray:
    """Each rep's capacity, or the summed effort of its pairs when that is less."""
    total = np.bincount(pairs.rep, weights=pairs.effort, minlength=len(pairs.capacity))
    return np.minimum(pairs.capacity.astype(np.int64), total.astype(np.int64))


def solvable(pairs: Pairs) -> bool:
    """Whether the knapsacks are small enough (``MAX_CELLS``) and the efforts non-negative."""
    if not len(pairs) or np.any(pairs.effort < 0) or np.any(pairs.capacity < 0):
        return False
    return len(pairs.capacity) * (int(_capacities(pairs).max()) + 1) <= MAX_CELLS


def branch_and_bound(
    pairs: Pairs,
    values: np.ndarray,
    start: np.ndarray | None,
    time_left: Callable[[], float],
    *,
    max_gap: float | None = None,
) -> Outcome:
    """The best choice that places every unit of ``pairs`` by ``values`` (integers, one per
    pair: ``value_grid``), searched until proven or ``time_left()`` runs out; ``start``: a
    choice that places every unit, or None. With ``max_gap``, the search stops after the
    root (``searched`` False) when the start is further than that (relative) from the root's
    bound. Capacities and efforts as in ``pairs``; floors and side rules are not looked at
    (callers check ``solvable`` and that there are none)."""
    search = _Search(pairs, values, time.perf_counter() + time_left())
    if start is not None:
        search.record(np.flatnonzero(start[search.order]))
    # each unit's best pair at price 0 is its price: every knapsack starts empty
    price = np.full(search.n, -np.inf)
    np.maximum.at(price, search.unit, search.fvalue)
    price[~np.isfinite(price)] = 0.0
    duals = _lp_prices(search)
    starts = [price] if duals is None else [price, -duals, duals]
    everything = np.ones(len(search.unit), dtype=bool)
    root: _Relaxed | None = None
    for first in starts:  # the plain start, or the LP's duals (either sign convention)
        tried = search.relax(everything, first, 1, ROOT_STEP)
        if tried is None:
            # no choice places every unit, the start cannot be beaten, or the knapsacks
            # placed each unit once (recorded): proven either way
            return _outcome(search, proven=True, bound=search.best)
        if root is None or tried.bound < root.bound:
            root = tried
    assert root is not None
    root = search.relax(everything, root.price, ROOT_STEPS, ROOT_STEP, root=True)
    if root is None:
        return _outcome(search, proven=True, bound=search.best)
    if root.knapsacks is None:
        return _outcome(search, proven=False, bound=None)
    search.ceiling = _floor(root.bound)
    if max_gap is not None and search.best < search.ceiling - max_gap * abs(search.ceiling):
        return _outcome(search, proven=False, bound=search.ceiling, searched=False)
    # no choice is worth less than every unit at its least valuable pair
    least = np.full(search.n, np.inf)
    np.minimum.at(least, search.unit, search.fvalue)
    lowest = float(least.sum())
    rounds = 0
    while search.best < search.ceiling:
        # the target: the bound, then one unit lower each round, then 2, 4, ... units lower
        drop = 1 if rounds < LINEAR_ROUNDS else 2 ** (rounds - LINEAR_ROUNDS + 1)
        aim = search.ceiling - drop + 1
        search.aim = aim if aim > max(search.best + 1, lowest) else -np.inf
        if not search.dive(root.price, NODE_STEPS, ROOT_STEP):
            return _outcome(search, proven=False, bound=search.ceiling)
        if not search.complete:  # (cannot happen; see ``dive``) only the root's bound holds
            return _outcome(search, proven=False, bound=_floor(root.bound))
        if search.aim == -np.inf or search.best >= search.aim - 1:
            break  # every node pruned below the best found plus one
        search.ceiling = search.aim - 1  # nothing reaches the target
        rounds += 1
    return _outcome(search, proven=True, bound=search.best)


def _outcome(
    search: _Search, *, proven: bool, bound: float | None, searched: bool = True
) -> Outcome:
    meter = budget.current()
    if meter is not None:
        meter.spend(search.nodes / budget.KNAPSACK_NODES_PER_WORK)
    chosen = None
    if search.best_choice is not None:
        chosen = np.zeros(len(search.unit), dtype=bool)
        chosen[search.order] = search.best_choice
    if bound is None or not np.isfinite(bound):
        return Outcome(chosen, proven, None, search.nodes, searched)
    return Outcome(chosen, proven, int(bound), search.nodes, searched)
