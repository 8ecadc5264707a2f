"""Flows on a priced subset made exact over every arc (engines.priced_flows.ExactSubset,
issue 24 target 6): a scenario's variants solve their side-rule flows this way. Each flow
must equal the flow over every arc (count and value, with the bound equal to the value),
including after the subset had to grow and on the fallback to every arc; the churn search
over it must match brute force; and a sweep that takes it must give every run the answer
of the flows over every arc (the MILP oracle's, where tests/test_sweep_shared.py checks)."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from leadassign.engines import priced_flows
from leadassign.engines.flow import solve_flow
from leadassign.engines.lagrangian import churn_flow
from leadassign.engines.priced_flows import ArcSubset, ExactSubset, rep_prices
from tests.test_lagrangian import brute, tiny

stages_module = importlib.import_module("leadassign.solve.flow_stages")


def _book(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Lead-sorted pairs of a random book (ties in the weights for some seeds), rep
    capacities and, for some seeds, floors."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(5, 150)), int(rng.integers(2, 14))
    lead, rep = np.nonzero(rng.random((n, m)) < rng.uniform(0.2, 0.9))
    w = rng.integers(0, 20 if seed % 3 == 0 else 10**6, size=len(lead)).astype(np.int64)
    high = rng.integers(0, max(2, 2 * n // m), size=m).astype(np.int64)
    low = np.zeros(m, dtype=np.int64)
    if seed % 4 == 1:
        low = np.minimum(high, rng.integers(0, 3, size=m)).astype(np.int64)
    return lead.astype(np.int64), rep.astype(np.int64), w, high, low, n


def _full(lead: np.ndarray, rep: np.ndarray, w: np.ndarray, n: int, high: Any, low: Any) -> Any:
    return solve_flow(lead, rep, w, n, high, low)


@pytest.mark.parametrize("seed", range(80))
def test_each_flow_equals_the_flow_over_every_arc(seed: int) -> None:
    """From a small random subset (one arc a lead at most), a sequence of flows that differ
    by a bonus on some arcs, as in the churn search: each with the count and value of the
    flow over every arc, its bound equal to its value, its choice within the bounds."""
    lead, rep, w, high, low, n = _book(seed)
    rng = np.random.default_rng(1000 + seed)
    start = rng.random(len(lead)) < 0.1
    flows = ExactSubset(lead, rep, n, start, per_lead=1, rounds=4)
    bonus_arcs = (rng.random(len(lead)) < 0.3).astype(np.int64)
    for lam in (0, 3, 5_000, 400_000):
        weight = w + lam * bonus_arcs
        full = _full(lead, rep, weight, n, high, low)
        got = flows.solve(weight, low, high)
        if full.chosen is None:
            assert got.chosen is None
            continue
        assert got.chosen is not None
        assert got.count == int(full.chosen.sum())
        assert got.value == int(weight[full.chosen].sum())
        assert got.bound == got.value == int(weight[got.chosen].sum())
        load = np.bincount(rep[got.chosen], minlength=len(high))
        assert np.all(load >= low) and np.all(load <= high)
        assert np.bincount(lead[got.chosen], minlength=n).max(initial=0) <= 1


def test_the_subset_grows_and_falls_back_to_every_arc() -> None:
    """Both ways out of the subset are taken on these books: a flow proven after the subset
    grew (more than one flow for one solve), and a flow solved over every arc after the
    rounds ran out (rounds=1 with a subset that cannot be optimal)."""
    grew = fell_back = 0
    for seed in range(40):
        lead, rep, w, high, low, n = _book(seed)
        if _full(lead, rep, w, n, high, low).chosen is None:
            continue
        tried = ExactSubset(lead, rep, n, np.zeros(len(lead), dtype=bool), per_lead=1)
        tried.solve(w, low, high)
        grew += tried.flows > 1 and tried.size < len(lead)
        once = ExactSubset(lead, rep, n, np.zeros(len(lead), dtype=bool), per_lead=1, rounds=1)
        got = once.solve(w, low, high)
        fell_back += once.flows == 2
        assert got.bound == got.value
    assert grew >= 5 and fell_back >= 5, (grew, fell_back)


@pytest.mark.parametrize("seed", range(120))
def test_the_churn_search_over_it_against_brute_force(seed: int) -> None:
    """churn_flow on an ExactSubset seeded with one arc a lead at the plain flow's prices:
    a choice with the most leads that meets the limit, within brute force's optimum, and
    that optimum where the search over every arc proves it (the multiplier may differ:
    flows tied in value may keep different owners)."""
    pairs, churn, n, low, high, _ = tiny(seed)
    exact = churn_flow(pairs, churn, n, low, high, tolerance=0.0, max_flows=64)
    plain = solve_flow(pairs.unit, pairs.rep, pairs.units, n, high, low)
    selected = np.zeros(len(pairs), dtype=bool)
    if plain.chosen is not None:
        prices = rep_prices(pairs.unit, pairs.rep, pairs.units, plain.chosen, n, low, high)
        if prices is not None:
            selected = priced_flows.priced_subset(
                pairs.unit, pairs.rep, pairs.units, n, prices, per_lead=1, exact=True
            ).selected
    subset = ExactSubset(pairs.unit, pairs.rep, n, selected, per_lead=1)
    out = churn_flow(pairs, churn, n, low, high, tolerance=0.0, max_flows=64, flows=subset)
    if exact is None or exact.chosen is None:
        assert out is None or out.chosen is None
        return
    assert out is not None and out.chosen is not None
    most, best = brute(pairs, churn, n, low, high)
    value = int(pairs.units[out.chosen].sum())
    assert int(out.chosen.sum()) == most
    assert churn.keepable - int(churn.kept[out.chosen].sum()) <= churn.limit
    assert best is not None and value <= best <= out.bound
    if exact.bound == int(pairs.units[exact.chosen].sum()):  # proven over every arc: so here
        assert value == out.bound == exact.bound


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("kind", [ExactSubset, ArcSubset])
def test_widening_adds_the_arcs_that_beat_a_lead_then_the_near_ones(
    seed: int, kind: type[ArcSubset]
) -> None:
    """``widen`` against a rule written out lead by lead: the arcs outside the subset that
    beat the lead's best selected arc at the prices (reduced weight ``w - prices``), then
    (ExactSubset only) those within the largest such gain (over every lead) below that best,
    at most ``per_lead`` a lead, best first; nothing (and False) when no arc beats any lead's
    best."""
    lead, rep, w, high, _low, n = _book(seed)
    rng = np.random.default_rng(500 + seed)
    selected = rng.random(len(lead)) < 0.3
    prices = rng.integers(0, 10**6 if seed % 3 else 20, size=len(high)).astype(np.int64)
    per_lead = int(rng.integers(1, 4))
    flows = kind(lead, rep, n, selected, per_lead=per_lead)
    widened = flows.widen(w, prices)
    reduced = w - prices[rep]
    best: dict[int, int | None] = {
        i: max(reduced[(lead == i) & selected].tolist(), default=None) for i in range(n)
    }
    gains = [
        reduced[p] - best[lead[p]]
        for p in range(len(lead))
        if not selected[p] and best[lead[p]] is not None and reduced[p] > best[lead[p]]
    ]
    beats = [
        p
        for p in range(len(lead))
        if not selected[p] and (best[lead[p]] is None or reduced[p] > best[lead[p]])
    ]
    margin = max(gains, default=0) if kind is ExactSubset else 0
    expected = selected.copy()
    for i in range(n):
        top = best[i]
        floor = None if top is None else top - margin
        near = [
            p
            for p in np.flatnonzero(lead == i)
            if not selected[p] and (floor is None or reduced[p] > floor)
        ]
        near.sort(key=lambda p: (-reduced[p], p))
        expected[near[:per_lead]] = True
    assert widened == bool(beats)
    if not beats:
        assert np.array_equal(flows.selected, selected)
        return
    added = flows.selected & ~selected
    # the same number of arcs a lead, and the same reduced weights (ties may pick others)
    assert np.array_equal(
        np.bincount(lead[added], minlength=n), np.bincount(lead[expected & ~selected], minlength=n)
    )
    for i in range(n):
        got = np.sort(reduced[added & (lead == i)])
        want = np.sort(reduced[expected & ~selected & (lead == i)])
        assert np.array_equal(got, want)


def test_the_search_reports_a_flow_optimal_at_its_top_bonus() -> None:
    """``ChurnFlow.top`` (whose rep prices a scenario's variants widen their subsets at) is a
    flow that meets the limit and is optimal at ``top_bonus`` over every pair: its count and
    its value plus bonus are those of the flow over every pair at that bonus."""
    seen = 0
    for seed in range(300):
        pairs, churn, n, low, high, _ = tiny(seed)
        found = churn_flow(pairs, churn, n, low, high, tolerance=0.0, max_flows=64)
        if found is None or found.top is None:
            continue
        seen += 1
        kept = churn.kept.astype(np.int64)
        assert int(kept[found.top].sum()) >= churn.keepable - churn.limit, seed
        weight = pairs.units + found.top_bonus * kept
        full = solve_flow(pairs.unit, pairs.rep, weight, n, high, low)
        assert full.chosen is not None
        assert int(found.top.sum()) == int(full.chosen.sum()), seed
        assert int(weight[found.top].sum()) == int(weight[full.chosen].sum()), seed
    assert seen >= 20, seen


def test_near_arcs_never_take_the_place_of_an_arc_that_beats_the_best() -> None:
    """One gain of about 2**61 (a rep priced at the far end) widens the near margin for every
    lead; lead 0's near arc (reduced 100, tied with its best) must not take its one slot
    from the arc that beats its best (101), however the ranking's key drops low bits."""
    lead = np.array([0, 0, 0, 1, 1, 1])
    rep = np.array([0, 1, 2, 0, 1, 3])
    w = np.array([100, 100, 101, 0, 0, 0], dtype=np.int64)
    prices = np.array([0, 0, 0, -(2**61)], dtype=np.int64)
    selected = np.array([True, False, False, True, False, False])
    for kind in (ArcSubset, ExactSubset):
        flows = kind(lead, rep, 2, selected, per_lead=1)
        assert flows.widen(w, prices)
        assert np.flatnonzero(flows.selected & ~selected).tolist() == [2, 5], kind
