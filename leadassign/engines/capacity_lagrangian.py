"""Generalized assignment books too big for the tabu search: the capacity Lagrangian, a bound
and a start in a fraction of a second.

When every unit must be placed (each unit's pairs all place its leads, and the count bound
takes every unit), pricing each rep's capacity row with ``r_j >= 0`` per unit of effort
leaves each unit free to take its best pair, so for *any* such prices

    value <= sum over units u of max over u's pairs p of (units_p - r_rep(p) * effort_p)
             + sum_j r_j * capacity_j

bounds every choice that places every unit within the capacities (floors and side rules
dropped, which only loosens it). Its best prices give the LP relaxation's bound (the
relaxed problem has integral vertices). A subgradient search over the prices (Polyak's
step towards a target ``DROP`` below the best bound so far, halved after ``PATIENCE``
steps without a better bound) finds them; every ``PACK_EVERY`` steps, and at the best
prices, the regret greedy (``repair.fill_by_regret``) places the units by their value at
those prices, and the best such choice that places every unit is the start (Fisher's
Lagrangian heuristic for the GAP, with Martello and Toth's greedy as the repair).

The search runs in floats; the bound it reports is recomputed exactly at its best prices
rounded to multiples of ``1 / denominator`` (a power of two chosen so that every term fits in
int64: ``denominator`` times the bound is an integer sum), then rounded down to whole value
units, as every choice's value is whole. On Yagiura's e801600 (80 agents x
1,600 jobs, 128,000 pairs) 300 steps took under a second and gave a bound 0.03% from the
best known cost and a start 1.8% above it (benchmarks/RESULTS.md, section 4i), where the
relaxation's start was 800% above it before its moves and 81.7% after them (3.6 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from leadassign.compile.candidates import best_per_lead, lead_starts
from leadassign.compile.pairs import Pairs
from leadassign.control.budget import out_of_time
from leadassign.engines.grouped import best_of, packed
from leadassign.engines.priced_flows import exact_sum
from leadassign.heuristics.repair import fill_by_regret

#: Subgradient steps (a work limit: the answer does not depend on the clock), the first
#: step's size, and after how many steps without a better bound it halves.
STEPS = 300
FIRST_STEP = 2.0
PATIENCE = 10
#: The Polyak target: this share of the best bound below it. Measured with a prototype of
#: this search (the regret greedy's start only) on Yagiura's e801600, e401600, e60900, e20400
#: and d801600, 300 steps: 0.01 ended the bound 0.01-0.2% from the best known cost and 0.03
#: 0.001-0.05%; their starts after 5,000 visits of moves 0.6-4.1% and 0.8-1.6% above it.
DROP = 0.03
#: A start is packed every this many steps (and at the best prices).
PACK_EVERY = 25


@dataclass(frozen=True, eq=False)
class CapacityLagrangian:
    """The bound (value units, exact, for choices placing every unit), the prices that gave
    it (``prices / denominator`` value units per unit of effort, ``prices`` int64), and the
    best packed choice that places every unit (None: none did)."""

    bound: int
    prices: np.ndarray
    denominator: int
    chosen: np.ndarray | None
    steps: int


def capacity_lagrangian(
    pairs: Pairs,
    *,
    steps: int = STEPS,
    time_left: Callable[[], float] | None = None,
) -> CapacityLagrangian:
    """The capacity Lagrangian of the module doc over ``pairs`` (sorted by unit), in
    ``steps`` subgradient steps, fewer when ``time_left()`` falls below the time the last
    step took (a backstop: the steps are the work limit)."""
    starts = lead_starts(pairs.unit)
    n_units, m = len(starts), len(pairs.capacity)
    units = pairs.units.astype(np.float64)
    effort = pairs.effort.astype(np.float64)
    capacity = pairs.capacity.astype(np.float64)
    prices = np.zeros(m)
    best_prices = prices.copy()
    best = np.inf
    step, stalled = FIRST_STEP, 0
    chosen: np.ndarray | None = None
    done, took = 0, 0.0
    for k in range(steps):
        if out_of_time(time_left, took):
            break
        begun = time.perf_counter()
        done += 1
        reduced = units - prices[pairs.rep] * effort
        picked = best_per_lead(reduced, pairs.unit)
        bound = float(reduced[picked].sum() + prices @ capacity)
        if bound < best:
            best, best_prices, stalled = bound, prices.copy(), 0
        else:
            stalled += 1
            if stalled >= PATIENCE:
                step, stalled = step / 2, 0
        if k % PACK_EVERY == 0 and (pack := _packed(pairs, reduced, n_units)) is not None:
            chosen = best_of(pairs, pack, chosen)
        load = np.bincount(pairs.rep[picked], weights=effort[picked], minlength=m)
        g = np.where((prices > 0) | (load > capacity), load - capacity, 0.0)
        norm = float(g @ g)
        if norm == 0.0:
            break  # the units' best pairs fit: they are the optimum
        target = best - DROP * abs(best)
        prices = np.maximum(prices + step * (bound - target) / norm * g, 0.0)
        took = time.perf_counter() - begun
    denominator = _denominator(pairs)
    top = 2.0 * float(np.abs(pairs.units).max(initial=0)) + 1.0
    exact_prices = np.rint(np.minimum(best_prices, top) * denominator).astype(np.int64)
    reduced_best = units - exact_prices[pairs.rep] * effort / denominator
    if (pack := _packed(pairs, reduced_best, n_units)) is not None:
        chosen = best_of(pairs, pack, chosen)
    bound = exact_bound(pairs, exact_prices, denominator)
    return CapacityLagrangian(bound, exact_prices, denominator, chosen, done)


def exact_bound(pairs: Pairs, prices: np.ndarray, denominator: int) -> int:
    """The bound of the module doc at prices ``prices / denominator`` (``prices`` int64 per
    rep, >= 0), in whole value units: ``denominator`` times it is a sum of one int64 term
    per unit (``exact_sum``) and one Python integer per rep, divided, rounding down."""
    starts = lead_starts(pairs.unit)
    if not len(starts):
        return 0
    scaled = pairs.units.astype(np.int64) * denominator
    reduced = scaled - prices[pairs.rep] * pairs.effort.astype(np.int64)
    unit_terms = np.maximum.reduceat(reduced, starts)
    rep_terms = sum(
        int(k) * int(c) for k, c in zip(prices.tolist(), pairs.capacity.tolist(), strict=True)
    )
    return (exact_sum(unit_terms) + rep_terms) // denominator


def _denominator(pairs: Pairs) -> int:
    """A power of two (at most 2**30) by which the prices are exact, small enough that
    ``units * it`` and ``prices * effort`` (prices below twice the largest value) stay below
    2**62 in magnitude."""
    value_bits = int(np.abs(pairs.units).max(initial=0)).bit_length() + 2
    effort_bits = int(np.abs(pairs.effort).max(initial=0)).bit_length()
    bits: int = max(0, min(30, 61 - value_bits - effort_bits))
    return 1 << bits


def _packed(pairs: Pairs, reduced: np.ndarray, n_units: int) -> np.ndarray | None:
    """The better of two packings at these prices (``reduced``: each pair's value at them)
    that place every unit (None: neither does): the regret greedy from nothing, and the
    units' best pairs cut back to the capacities, topped up by the regret greedy and by
    flows (``grouped.packed``)."""
    fresh = fill_by_regret(pairs, np.zeros(len(pairs), dtype=bool), reduced)
    # every unit has a pair of finite value: one best pair per unit, in unit order
    cut = packed(pairs, best_per_lead(reduced, pairs.unit), reduced)
    chosen: np.ndarray | None = None
    for candidate in (fresh, cut):
        if int(np.count_nonzero(candidate)) == n_units:
            chosen = best_of(pairs, candidate, chosen)
    return chosen


__all__ = [
    "DROP",
    "PACK_EVERY",
    "PATIENCE",
    "STEPS",
    "CapacityLagrangian",
    "capacity_lagrangian",
    "exact_bound",
]
