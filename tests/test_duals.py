"""Rep prices, value bounds and flows on a subset of pairs (leadassign.engines.priced_flows).

The bound is checked against brute force on tiny books (every choice enumerated): for the
prices read off an optimal flow it equals the optimum, for random prices it is never below
it, and flows on a random subset of the pairs give choices that are feasible for the whole
book with bounds that hold for it, closing to the whole optimum as the subset widens.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from leadassign.engines.flow import lead_nodes, solve_flow
from leadassign.engines.priced_flows import (
    AllArcs,
    ArcSubset,
    best_of_each,
    priced_subset,
    rep_prices,
    top_per_lead,
    value_bound,
)

Book = tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray, np.ndarray]


def book(seed: int, *, max_leads: int = 7, max_reps: int = 4) -> Book:
    """(lead, rep, weight, leads, low, high): pairs sorted by lead, weights of any sign."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, max_leads + 1)), int(rng.integers(1, max_reps + 1))
    lead, rep = np.nonzero(rng.random((n, m)) < rng.uniform(0.3, 1.0))
    scale = int(rng.choice([1, 1_000, 10**9]))
    w = rng.integers(-20, 100, len(lead)).astype(np.int64) * scale
    high = rng.integers(0, 4, m).astype(np.int64)
    low = np.minimum(high, rng.integers(0, 3, m) * (rng.random(m) < 0.4)).astype(np.int64)
    return lead.astype(np.int64), rep.astype(np.int64), w, n, low, high


def best_by_count(b: Book) -> dict[int, int]:
    """Per number of pairs: the most weight of a choice with that many (brute force)."""
    lead, rep, w, n, low, high = b
    options = [[-1, *np.flatnonzero(lead == i).tolist()] for i in range(n)]
    best: dict[int, int] = {}
    for pick in itertools.product(*options):
        chosen = np.array([k for k in pick if k >= 0], dtype=np.int64)
        load = np.bincount(rep[chosen], minlength=len(high))
        if np.any(load < low) or np.any(load > high):
            continue
        value = int(w[chosen].sum())
        best[len(chosen)] = max(best.get(len(chosen), value), value)
    return best


@pytest.mark.parametrize("seed", range(200))
def test_prices_of_an_optimal_flow_give_its_value(seed: int) -> None:
    b = book(seed)
    lead, rep, w, n, low, high = b
    best = best_by_count(b)
    out = solve_flow(lead, rep, w, n, high, low)
    if out.chosen is None:
        assert not best
        return
    count, value = int(out.chosen.sum()), int(w[out.chosen].sum())
    assert count == max(best) and value == best[count]
    prices = rep_prices(lead, rep, w, out.chosen, n, low, high)
    assert prices is not None
    assert value_bound(lead, rep, w, count, prices, low, high) == value


@pytest.mark.parametrize("seed", range(60))
def test_flow_on_pairs_in_any_order_is_optimal(seed: int) -> None:
    """solve_flow numbers the lead nodes by their largest weight (whatever order the pairs
    come in): the most pairs, then the most weight, as brute force finds them."""
    b = book(seed)
    lead, rep, w, n, low, high = b
    best = best_by_count(b)
    order = np.random.default_rng(seed).permutation(len(lead))
    out = solve_flow(lead[order], rep[order], w[order], n, high, low)
    if out.chosen is None:
        assert not best
        return
    assert int(out.chosen.sum()) == max(best)
    assert int(w[order][out.chosen].sum()) == best[max(best)]


def test_lead_nodes_take_leads_by_their_largest_weight() -> None:
    """Leads without a pair first, then by their largest weight, ties by index."""
    lead = np.array([0, 0, 1, 3, 3])
    w = np.array([5, 9, 9, -2, 1])
    assert lead_nodes(lead, w, 5).tolist() == [4, 5, 1, 3, 2]
    shuffled = np.array([4, 0, 3, 1, 2])  # the same pairs in another order
    assert lead_nodes(lead[shuffled], w[shuffled], 5).tolist() == [4, 5, 1, 3, 2]


@pytest.mark.parametrize("seed", range(200))
def test_any_prices_bound_every_count(seed: int) -> None:
    b = book(seed)
    lead, rep, w, _, low, high = b
    rng = np.random.default_rng(1000 + seed)
    span = int(np.abs(w).max(initial=1)) * 3
    for count, best in best_by_count(b).items():
        if count == 0:
            continue
        for _ in range(5):
            prices = rng.integers(-span, span + 1, len(high)).astype(np.int64)
            assert value_bound(lead, rep, w, count, prices, low, high) >= best


def test_bound_is_exact_with_huge_prices() -> None:
    """Prices near the count weight (about 2**50 here) are summed without overflow."""
    b = book(7, max_leads=6, max_reps=3)
    lead, rep, w, _, low, high = b
    best = best_by_count(b)
    count = max(best)
    if count == 0:
        pytest.skip("nothing assignable in this book")
    prices = np.full(len(high), 2**50, dtype=np.int64)
    assert value_bound(lead, rep, w, count, prices, low, high) >= best[count]


def test_non_optimal_choice_has_no_prices() -> None:
    """Two leads, two reps of one place each: the crossed choice is worse, nothing proves it."""
    lead = np.array([0, 0, 1, 1])
    rep = np.array([0, 1, 0, 1])
    w = np.array([10, 1, 1, 10], dtype=np.int64)
    crossed = np.array([False, True, True, False])
    ones, zeros = np.ones(2, dtype=np.int64), np.zeros(2, dtype=np.int64)
    assert rep_prices(lead, rep, w, crossed, 2, zeros, ones) is None
    straight = ~crossed
    prices = rep_prices(lead, rep, w, straight, 2, zeros, ones)
    assert prices is not None and value_bound(lead, rep, w, 2, prices, zeros, ones) == 20


@pytest.mark.parametrize("seed", range(200))
def test_subset_flows_hold_for_the_whole_book(seed: int) -> None:
    b = book(seed)
    lead, rep, w, n, low, high = b
    best = best_by_count(b)
    half = np.random.default_rng(seed).random(len(lead)) < 0.5
    subset = ArcSubset(lead, rep, n, half, per_lead=1, rounds=1)
    full = AllArcs(lead, rep, n).solve(w, low, high)
    size = subset.size
    for _ in range(len(lead) + 2):
        solved = subset.solve(w, low, high)
        if solved.chosen is None:
            assert full.chosen is None
            return
        chosen = solved.chosen
        assert np.bincount(lead[chosen], minlength=n).max(initial=0) <= 1
        load = np.bincount(rep[chosen], minlength=len(high))
        assert np.all(load >= low) and np.all(load <= high)
        assert solved.value == int(w[chosen].sum()) and solved.count == int(chosen.sum())
        assert solved.bound is not None and solved.bound >= best[solved.count] >= solved.value
        if subset.size == size:
            break
        size = subset.size
    # Widening stops at the whole book's optimum, count and value (no arc prices in).
    assert solved.bound == solved.value == best[solved.count]
    assert solved.count == full.count and solved.value == full.value


@pytest.mark.parametrize("seed", range(60))
def test_subset_short_of_the_count_falls_back_to_every_pair(seed: int) -> None:
    b = book(seed)
    lead, rep, w, n, low, high = b
    full = AllArcs(lead, rep, n).solve(w, low, high)
    if full.chosen is None:
        return
    nothing = np.zeros(len(lead), dtype=bool)
    solved = ArcSubset(lead, rep, n, nothing, per_lead=1, rounds=1).solve(w, low, high, full.count)
    assert solved.count == full.count and solved.value == full.value == solved.bound


@pytest.mark.parametrize("seed", range(30))
def test_top_per_lead_matches_a_sort_per_lead(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lead = np.sort(rng.integers(0, 20, 300))
    score = rng.integers(-5, 5, 300).astype(np.int64) * int(rng.choice([1, 2**40]))
    index = np.arange(300) * 3
    k = int(rng.integers(1, 6))
    expected = []
    for i in np.unique(lead):
        mine = np.flatnonzero(lead == i)
        ranked = mine[np.argsort(-score[mine], kind="stable")]
        expected.extend(index[ranked[:k]].tolist())
    assert top_per_lead(index, lead, score, k).tolist() == sorted(expected)
    # the same items as a mask, from a partition of each lead's row (no sort)
    assert index[best_of_each(lead, score, k)].tolist() == sorted(expected)


def test_best_of_each_sorts_when_one_lead_is_far_wider() -> None:
    """A lead with 400 items among leads with one: a matrix as wide as it would hold ~130
    cells per item, so the items are sorted instead; the picks are the same."""
    rng = np.random.default_rng(7)
    lead = np.concatenate([np.zeros(400, dtype=np.int64), np.arange(1, 201)])
    score = rng.integers(-3, 3, len(lead)).astype(np.int64)
    mask = best_of_each(lead, score, 5)
    assert (
        np.flatnonzero(mask).tolist() == top_per_lead(np.arange(len(lead)), lead, score, 5).tolist()
    )
    assert mask[400:].all() and mask[:400].sum() == 5


def test_top_per_lead_keeps_each_best_when_spreads_are_huge() -> None:
    """Distances too wide for the key lose low bits, but each lead's best item stays in."""
    rng = np.random.default_rng(3)
    lead = np.sort(rng.integers(0, 50, 2000))
    score = rng.integers(-(2**61), 2**61, 2000, dtype=np.int64)
    picked = top_per_lead(np.arange(2000), lead, score, 2)
    assert np.bincount(lead[picked], minlength=50).max() <= 2
    for i in np.unique(lead):
        mine = np.flatnonzero(lead == i)
        assert mine[np.argmax(score[mine])] in picked


def test_priced_subset_keeps_flagged_pairs() -> None:
    lead, rep, w, n, _, high = book(5, max_leads=7, max_reps=4)
    keep = np.zeros(len(lead), dtype=bool)
    keep[::3] = True
    subset = priced_subset(lead, rep, w, n, np.zeros(len(high), np.int64), per_lead=1, keep=keep)
    assert np.all(subset.selected[keep])
    assert np.bincount(lead[subset.selected & ~keep], minlength=n).max(initial=0) <= 1
