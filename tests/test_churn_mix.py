"""Mixing the churn search's flows on the limit's two sides (engines.lagrangian.combined).

The parts against brute force (the cycles of a circulation, the covering knapsack); the mix
of two exact flows against what it promises (one pair per lead, the count, every rep's
bounds, the limit, and a value within ``(hi - lo) * need + hi * overshoot`` of the
Lagrangian bound at ``lo``); and the search with mixing against the search without it on
books big enough for a dozen flows. The whole solve with it is checked against the MILP
oracle in tests/test_lagrangian.py and tests/test_flow_shortcuts.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from leadassign.compile.families import Continuity
from leadassign.compile.pairs import Pairs
from leadassign.engines.flow import solve_flow
from leadassign.engines.lagrangian import _cover, _cycles, churn_flow, combined
from tests.test_lagrangian import a_churn_book, assert_against_brute_force, tiny


def circulation(seed: int) -> tuple[list[int], list[int], int]:
    """Arcs of random cycles (some through the same nodes, some loops of one node),
    shuffled: every node as many arcs in as out."""
    rng = np.random.default_rng(seed)
    nodes = int(rng.integers(1, 8))
    tails: list[int] = []
    heads: list[int] = []
    for _ in range(int(rng.integers(0, 7))):
        walk = rng.integers(0, nodes, int(rng.integers(1, 6))).tolist()
        for a, b in zip(walk, walk[1:] + walk[:1], strict=True):
            tails.append(a)
            heads.append(b)
    order = rng.permutation(len(tails))
    return [tails[i] for i in order], [heads[i] for i in order], nodes


@pytest.mark.parametrize("seed", range(200))
def test_cycles_split_a_circulation(seed: int) -> None:
    """Every arc in exactly one cycle, and each cycle a closed walk."""
    tails, heads, nodes = circulation(seed)
    found = _cycles(tails, heads, nodes)
    assert sorted(a for cycle in found for a in cycle) == list(range(len(tails)))
    for cycle in found:
        assert cycle
        for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
            assert heads[a] == tails[b]


@pytest.mark.parametrize("seed", range(200))
def test_cover_against_brute_force(seed: int) -> None:
    """The least loss for at least ``need`` owners kept, as every subset says (losses of
    either sign); None exactly when all the items together keep fewer."""
    rng = np.random.default_rng(seed)
    items = [
        (int(rng.integers(1, 5)), int(rng.integers(-20, 100)), [k])
        for k in range(int(rng.integers(0, 9)))
    ]
    need = int(rng.integers(1, 14))
    best = None
    for size in range(len(items) + 1):
        for subset in itertools.combinations(range(len(items)), size):
            if sum(items[i][0] for i in subset) >= need:
                lost = sum(items[i][1] for i in subset)
                best = lost if best is None else min(best, lost)
    picked = _cover(items, need)
    if best is None:
        assert picked is None
        return
    assert picked is not None and len(set(picked)) == len(picked)
    assert sum(items[i][0] for i in picked) >= need
    assert sum(items[i][1] for i in picked) == best


def test_cover_by_ratio_when_the_need_is_large(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above ``COMBINE_DP`` owners missing, the cycles in order of loss per owner: a cover,
    not always the least loss."""
    monkeypatch.setattr("leadassign.engines.lagrangian.COMBINE_DP", 0)
    items = [(3, 30, [0]), (1, 5, [1]), (2, 40, [2]), (2, 12, [3])]
    assert _cover(items, 4) == [1, 3, 0]
    assert _cover(items, 9) is None


def flow_at(pairs: Pairs, kept: np.ndarray, n: int, bonus: int) -> np.ndarray:
    """The exact flow with ``bonus`` on the kept owners' pairs."""
    w = pairs.units + bonus * kept
    out = solve_flow(pairs.unit, pairs.rep, w, n, pairs.capacity, pairs.min_leads)
    assert out.chosen is not None
    return out.chosen


@pytest.mark.parametrize("seed", range(12))
def test_a_mix_of_two_exact_flows(seed: int) -> None:
    """Flows at bonuses ``lo < hi`` on either side of the limit: the mix gives each lead one
    pair, keeps the count and every rep's bounds, meets the limit, and is within
    ``(hi - lo) * need + hi * (owners kept beyond the limit)`` of the bound at ``lo``."""
    pairs, churn = a_churn_book(seed, n=400, m=8)
    n = int(pairs.unit.max()) + 1
    kept = churn.kept
    slack = churn.keepable - churn.limit
    rng = np.random.default_rng(seed)
    lo_bonus, hi_bonus = 0, int(pairs.units.max()) * 2 + 1
    short, meets = flow_at(pairs, kept, n, lo_bonus), flow_at(pairs, kept, n, hi_bonus)
    for _ in range(12):  # a random narrowing, as a search would
        bonus = int(rng.integers(lo_bonus + 1, hi_bonus)) if hi_bonus > lo_bonus + 1 else None
        if bonus is None:
            break
        chosen = flow_at(pairs, kept, n, bonus)
        if int(kept[chosen].sum()) >= slack:
            hi_bonus, meets = bonus, chosen
        else:
            lo_bonus, short = bonus, chosen
    need = slack - int(kept[short].sum())
    assert need > 0
    mixed = combined(short, meets, pairs.unit, pairs.rep, 8, pairs.units, kept, need)
    assert mixed is not None
    assert np.bincount(pairs.unit[mixed], minlength=n).max() <= 1
    assert int(mixed.sum()) == int(short.sum()) == int(meets.sum())
    load = np.bincount(pairs.rep[mixed], minlength=8)
    assert np.all(load >= pairs.min_leads) and np.all(load <= pairs.capacity)
    over = int(kept[mixed].sum()) - slack
    assert over >= 0
    value = int(pairs.units[mixed].sum())
    bound_lo = int(pairs.units[short].sum()) - lo_bonus * need
    assert value <= bound_lo
    assert bound_lo - value <= (hi_bonus - lo_bonus) * need + hi_bonus * over


def test_no_mix_without_leads_to_switch() -> None:
    """The same flow on both sides, or nothing needed: no mix."""
    pairs, churn = a_churn_book(0, n=200, m=6)
    n = int(pairs.unit.max()) + 1
    chosen = flow_at(pairs, churn.kept, n, 0)
    assert combined(chosen, chosen, pairs.unit, pairs.rep, 6, pairs.units, churn.kept, 5) is None
    other = flow_at(pairs, churn.kept, n, int(pairs.units.max()) * 2 + 1)
    assert combined(chosen, other, pairs.unit, pairs.rep, 6, pairs.units, churn.kept, 0) is None


@pytest.mark.parametrize("seed", range(3))
def test_mixing_reaches_the_tolerance_in_fewer_flows(seed: int) -> None:
    """On books where the search from nothing takes a dozen flows (and, without mixing,
    ends proven): with mixing it stops within a tolerance of 1e-5 in fewer flows, and
    both meet the limit with a bound at least their value."""
    pairs, churn = a_churn_book(seed)
    n, low, high = int(pairs.unit.max()) + 1, pairs.min_leads, pairs.capacity
    plain = churn_flow(pairs, churn, n, low, high, tolerance=1e-5, mix=False)
    mixed = churn_flow(pairs, churn, n, low, high, tolerance=1e-5)
    assert plain is not None and mixed is not None
    for out in (plain, mixed):
        assert out.chosen is not None
        assert churn.keepable - int(churn.kept[out.chosen].sum()) <= churn.limit
        value = int(pairs.units[out.chosen].sum())
        assert 0 <= out.bound - value <= 1e-5 * out.bound
    assert mixed.flows < plain.flows, (mixed.flows, plain.flows)


@pytest.mark.parametrize("seed", range(150))
def test_weighted_owners_against_brute_force(seed: int) -> None:
    """Owners kept weighted (1 to 4 each, as ``continuity.measure`` counts a column): the
    mixed search's guarantees against every assignment, as for unit owners."""
    pairs, unit, n, low, high, _ = tiny(seed)
    rng = np.random.default_rng(7000 + seed)
    weight = rng.integers(1, 5, n)
    kept = unit.kept * weight[pairs.unit]
    keepable = int(np.bincount(pairs.unit, weights=kept, minlength=n).astype(np.int64).sum())
    churn = Continuity(kept, keepable, int(rng.integers(0, keepable + 1)))
    assert_against_brute_force(pairs, churn, n, low, high)
