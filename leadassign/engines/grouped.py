"""Accounts kept together as a grouped assignment: a Lagrangian bound over units and a
Lagrangian heuristic that packs whole units.

A *unit* (an account kept together, or a lone lead) is one item: at most one of its pairs
is chosen, pair ``p`` places ``size_p`` leads, takes ``effort_p`` of its rep's capacity and
is worth ``units_p``. Pricing each rep's capacity row with ``r_j >= 0`` and the row "at
least ``count`` leads placed" with ``mu >= 0`` leaves one choice per unit, so for *any*
such prices

    value <= sum over units u of max(0, max over u's pairs p of
                                      units_p + mu * size_p - r_rep(p) * effort_p)
             + sum_j r_j * capacity_j - mu * count

bounds the value of every choice that places at least ``count`` leads within the
capacities (floors and the at-most-one rows are kept exactly; floors are dropped, which
only loosens it). It is exact in integers: ``r`` and ``mu`` are int64. Its best prices give
the LP relaxation over units, which is tighter than the flow relaxation over leads (an
account cannot be split between reps). A subgradient search with Polyak steps finds them;
at each prices the units' best pairs, cut back to the capacities and topped up by the
regret greedy, are a choice to keep when it places as many leads as the best one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from leadassign.compile.candidates import lead_starts
from leadassign.compile.pairs import Pairs
from leadassign.compile.prepare import fits_in_order
from leadassign.control.budget import out_of_time
from leadassign.engines.priced_flows import exact_sum
from leadassign.heuristics.repair import fill_by_flows, fill_by_regret, repacked

#: Subgradient steps of the search, and after how many without a better bound it halves
#: its step.
MAX_STEPS = 150
PATIENCE = 8
#: Every pack from the second on (on books above ``REPACK_ALL_PAIRS`` pairs, every
#: ``REPACK_EVERY``-th) is also repacked at the step's prices (``repair.repacked``: its lone
#: leads placed again after the accounts left out; about 1 s at 50,000 x 300, 2M pairs),
#: and the search's best choice at its best prices. At 10,000 x 200 with tiers, a count
#: band and accounts, repacking every pack gave 73.45M, every third 72.95M.
REPACK_EVERY = 3
REPACK_ALL_PAIRS = 1_000_000
#: mu is searched by bisection in this many halvings.
_MU_HALVINGS = 48


@dataclass(frozen=True, eq=False)
class Priced:
    """The bound at one set of prices, and each unit's best pair there (-1: none)."""

    bound: int
    best: np.ndarray  # per unit start: the best pair's index, -1 when its term is 0
    mu: int


def _terms(pairs: Pairs, starts: np.ndarray, reduced: np.ndarray, mu: int) -> np.ndarray:
    """Per unit, its best pair's reduced value plus ``mu`` per lead (int64)."""
    top: np.ndarray = np.maximum.reduceat(reduced + mu * pairs.size, starts)
    return top


def priced_bound(pairs: Pairs, prices: np.ndarray, count: int) -> Priced:
    """The bound (module doc) at rep ``prices`` with the best ``mu`` (by bisection on its
    slope: leads of the units whose term is positive, less ``count``). A unit's pairs all
    place its leads, so its term is its best reduced value plus ``mu`` times its size: the
    bisection works on one figure per unit (at 50,000 x 300, 2M pairs: 10 ms a halving
    over the pairs, well under one over the units)."""
    starts = lead_starts(pairs.unit)
    r = prices.astype(np.int64)
    reduced = pairs.units.astype(np.int64) - r[pairs.rep] * pairs.effort.astype(np.int64)
    rep_terms = int((r * pairs.capacity.astype(np.int64)).sum())
    size = pairs.size.astype(np.int64)
    unit_size = size[starts] if len(pairs) else size
    uniform = bool(np.array_equal(np.minimum.reduceat(size, starts), unit_size)) and bool(
        np.array_equal(np.maximum.reduceat(size, starts), unit_size)
    )
    top = np.maximum.reduceat(reduced, starts) if uniform else reduced

    def terms_at(mu: int) -> np.ndarray:
        if uniform:
            shifted: np.ndarray = top + mu * unit_size
            return shifted
        return _terms(pairs, starts, reduced, mu)

    def at(mu: int) -> tuple[int, np.ndarray]:
        terms = terms_at(mu)
        return exact_sum(np.maximum(terms, 0)) - mu * count, terms

    def placed(mu: int) -> int:
        if uniform:
            return int(unit_size[terms_at(mu) > 0].sum())
        return _placed_leads(pairs, starts, reduced, mu)

    hi = 2 * int(np.abs(reduced).max(initial=0)) + 1
    lo_mu, hi_mu = 0, hi
    if count > 0:
        for _ in range(_MU_HALVINGS):
            if hi_mu - lo_mu <= 1:
                break
            mid = (lo_mu + hi_mu) // 2
            if placed(mid) >= count:
                hi_mu = mid
            else:
                lo_mu = mid
        candidates = [lo_mu, hi_mu]
    else:
        candidates = [0]
    best_mu = min(candidates, key=lambda mu: at(mu)[0])
    value, terms = at(best_mu)
    best = _best_pairs(pairs, starts, reduced + best_mu * pairs.size, terms)
    return Priced(value + rep_terms, best, best_mu)


def _placed_leads(pairs: Pairs, starts: np.ndarray, reduced: np.ndarray, mu: int) -> int:
    """Leads of the units whose best pair has a positive term at ``mu`` (the slope's part)."""
    shifted = reduced + mu * pairs.size
    terms = np.maximum.reduceat(shifted, starts)
    best = _best_pairs(pairs, starts, shifted, terms)
    return int(pairs.size[best[best >= 0]].sum())


def _best_pairs(
    pairs: Pairs, starts: np.ndarray, shifted: np.ndarray, terms: np.ndarray
) -> np.ndarray:
    """Per unit, the first of its pairs at its term (-1 where the term is not positive)."""
    unit_index = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(pairs))))
    at_top = np.flatnonzero(shifted == terms[unit_index])  # every unit has one, in order
    owner = unit_index[at_top]
    first = at_top[np.append(True, owner[1:] != owner[:-1])]
    return np.where(terms > 0, first, -1)


def packed(pairs: Pairs, best: np.ndarray, desirability: np.ndarray) -> np.ndarray:
    """The units' ``best`` pairs cut back per rep to what fits its capacity (most desirable
    per unit of effort first), then topped up by the regret greedy and, where that declines
    (too many open units), by flows per effort class (``fill_by_flows``)."""
    picked = best[best >= 0]
    density = desirability[picked] / np.maximum(pairs.effort[picked], 1)
    order = picked[np.lexsort((picked, -density, pairs.rep[picked]))]
    keep = fits_in_order(pairs.rep[order], pairs.effort[order], pairs.capacity)
    chosen = np.zeros(len(pairs), dtype=bool)
    chosen[order[keep]] = True
    return fill_by_flows(pairs, fill_by_regret(pairs, chosen, desirability))


@dataclass(frozen=True, eq=False)
class Grouped:
    """The search's best bound (value units, for choices placing at least ``count``
    leads), the prices that gave it, and the best packed choice it met (None: none)."""

    bound: int
    prices: np.ndarray
    chosen: np.ndarray | None
    steps: int


def grouped_search(
    pairs: Pairs,
    count: int,
    start_prices: np.ndarray,
    best_value: int,
    *,
    time_left: Callable[[], float] | None = None,
    max_steps: int = MAX_STEPS,
    pack_every: int = 10,
) -> Grouped:
    """The subgradient search of the module doc from ``start_prices``, towards
    ``best_value`` (a known choice's value with ``count`` leads, the Polyak target), packing
    a choice from the best pairs every ``pack_every`` steps. Deterministic: a fixed number
    of steps unless ``time_left()`` runs out first."""
    m = len(pairs.capacity)
    r = np.maximum(start_prices.astype(np.int64), 0)
    best_r = r.copy()
    bound: int | None = None
    chosen: np.ndarray | None = None
    step, stalled, took, steps = 1.0, 0, 0.0, 0
    # count first: a lead more outweighs any value
    big = 2.0 * float(np.abs(pairs.units).max(initial=0)) + 1.0
    desirability = pairs.units.astype(np.float64) + big * pairs.size
    for k in range(max_steps):
        if out_of_time(time_left, took):
            break
        begun = time.perf_counter()
        steps += 1
        priced = priced_bound(pairs, r, count)
        if bound is None or priced.bound < bound:
            bound, best_r, stalled = priced.bound, r.copy(), 0
        else:
            stalled += 1
            if stalled >= PATIENCE:
                step, stalled = step / 2, 0
        picked = priced.best[priced.best >= 0]
        load = np.bincount(pairs.rep[picked], weights=pairs.effort[picked], minlength=m)
        if k % pack_every == 0:
            candidate = packed(pairs, priced.best, desirability)
            every = 1 if len(pairs) <= REPACK_ALL_PAIRS else REPACK_EVERY
            if k % (every * pack_every) == 0 and k > 0:
                candidate = best_of(pairs, repacked(pairs, candidate, r), candidate)
            chosen = best_of(pairs, candidate, chosen)
        if bound <= best_value:
            break
        g = load - pairs.capacity  # > 0: over capacity, raise the price
        g = np.where((r > 0) | (g > 0), g, 0).astype(np.float64)
        norm = float((g**2).sum())
        if norm == 0.0:
            break
        t = step * max(priced.bound - best_value, 1) / norm
        r = np.maximum(np.rint(r + t * g), 0).astype(np.int64)
        took = time.perf_counter() - begun
    assert bound is not None
    if chosen is not None:
        chosen = best_of(pairs, repacked(pairs, chosen, best_r), chosen)
    return Grouped(bound, best_r, chosen, steps)


def best_of(pairs: Pairs, new: np.ndarray, old: np.ndarray | None) -> np.ndarray:
    """``new`` when it places more leads, or as many and more value, than ``old``."""
    if old is None:
        return new
    key_new = (int(pairs.size[new].sum()), int(pairs.units[new].sum()))
    return new if key_new > (int(pairs.size[old].sum()), int(pairs.units[old].sum())) else old


__all__ = ["Grouped", "Priced", "best_of", "grouped_search", "packed", "priced_bound"]
