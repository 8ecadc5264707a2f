"""Issue 24, target 4: the flow relaxation on a priced subset that stops before its
certificate (``certified_flow(..., within=...)``) once its duals prove the count the most
and bound the value within a share of the best.

- the engine: on random books, the early stop's count equals the flow over every pair's,
  its value is no better than that flow's optimum, its bound no lower, and within the share
  asked for; the dual excess it uses bounds every choice (rechecked here from scratch);
- the pipeline (``flow_relaxation`` with ``RELAXATION_SUBSET_PAIRS`` lowered so that small
  books take the subset path, and the subset made small so that the early stop is taken):
  the answer still matches the independent MILP oracle and checker, and is deterministic.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from leadassign.engines import certified_flow as cf
from leadassign.engines.certified_flow import certified_flow, dual_excess
from leadassign.engines.flow import solve_flow
from leadassign.engines.priced_flows import _count_weight, rep_prices
from tests.oracles.checker import run_leadassign
from tests.test_flow_shortcuts import assert_matches_milp, issue4_book

stages = importlib.import_module("leadassign.solve.flow_stages")

Book = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]


def _random_pairs(seed: int) -> Book:
    """Lead-sorted pairs of a random book without floors, capacities tight enough that
    some leads are left out on some seeds (ties in ``w`` on some)."""
    rng = np.random.default_rng(1000 + seed)
    n, m = int(rng.integers(20, 150)), int(rng.integers(2, 12))
    eligible = rng.random((n, m)) < rng.uniform(0.2, 0.9)
    lead, rep = np.nonzero(eligible)
    w = rng.integers(0, 30 if seed % 3 == 0 else 10**6, size=len(lead)).astype(np.int64)
    capacity = rng.integers(0, max(2, 2 * n // m), size=m).astype(np.int64)
    return lead.astype(np.int64), rep.astype(np.int64), w, capacity, n


@pytest.mark.parametrize("within", [1e-3, 0.05, 1e30])
def test_early_stop_proves_the_count_and_bounds_the_value(within: float) -> None:
    """Per lead one pair in the first subset and no sample, so the first rounds leave pairs
    out: whenever the run stops early, its count is the full flow's, its value at most the
    full optimum's, its bound at least that optimum and within ``within`` of its value. (At
    1e30 only the count's proof keeps the run from stopping after its first round.)"""
    early = 0
    for seed in range(80):
        lead, rep, w, capacity, n = _random_pairs(seed)
        zero = np.zeros_like(capacity)
        full = solve_flow(lead, rep, w, n, capacity, zero)
        assert full.chosen is not None
        best = int(w[full.chosen].sum())
        out = certified_flow(
            lead, rep, w, n, capacity, zero, per_lead=1, chunk=40, sample=0.0, within=within
        )
        chosen = out.outcome.chosen
        assert chosen is not None
        assert int(chosen.sum()) == out.outcome.max_count == full.max_count
        assert np.bincount(lead[chosen], minlength=n).max(initial=0) <= 1
        assert np.all(np.bincount(rep[chosen], minlength=len(capacity)) <= capacity)
        value = int(w[chosen].sum())
        assert out.prices is not None
        if out.certificate is not None:
            assert out.bound is None and value == best
            continue
        early += 1
        assert out.bound is not None
        assert value <= best <= out.bound
        assert out.bound - value <= within * max(value, 1)
    assert early >= 5  # the early stop is exercised, not only the certificate


def test_no_early_stop_with_floors() -> None:
    """Floors give prices of either sign: ``within`` is ignored, the run is certified."""
    lead, rep, w, capacity, n = _random_pairs(3)
    low = np.minimum(capacity, 1)
    full = solve_flow(lead, rep, w, n, capacity, low)
    out = certified_flow(lead, rep, w, n, capacity, low, per_lead=1, sample=0.0, within=0.5)
    assert out.bound is None
    if full.chosen is None:
        assert out.outcome.chosen is None
    else:
        assert out.certificate is not None
        assert int(w[out.outcome.chosen].sum()) == int(w[full.chosen].sum())


@pytest.mark.parametrize("seed", range(30))
def test_dual_excess_bounds_every_choice(seed: int) -> None:
    """The duals of an optimum on a one-pair-per-lead subset plus the dual excess over every
    pair bound ``big * count + weight`` of the full optimum (weak duality), recomputed here
    with Python integers; equal to it when nothing is missing."""
    lead, rep, w, capacity, n = _random_pairs(seed)
    zero = np.zeros_like(capacity)
    big = _count_weight(w, lead)
    keep = np.zeros(len(lead), dtype=bool)
    keep[np.unique(lead, return_index=True)[1]] = True  # each lead's first pair
    sub = solve_flow(lead[keep], rep[keep], w[keep], n, capacity, zero)
    assert sub.chosen is not None
    prices = rep_prices(lead[keep], rep[keep], w[keep], sub.chosen, n, zero, capacity, big=big)
    assert prices is not None
    potential = np.zeros(n, dtype=np.int64)
    picked = np.flatnonzero(keep)[sub.chosen]
    potential[lead[picked]] = big + w[picked] - prices[rep[picked]]
    excess = dual_excess(lead, rep, w, prices, potential, big, chunk=37)
    worst = [0] * n
    for i, j, x in zip(lead.tolist(), rep.tolist(), w.tolist(), strict=True):
        worst[i] = max(worst[i], big + x - int(prices[j]) - int(potential[i]))
    assert excess == sum(worst)
    primal = big * len(picked) + int(w[picked].sum())
    full = solve_flow(lead, rep, w, n, capacity, zero)
    assert full.chosen is not None
    optimum = big * full.max_count + int(w[full.chosen].sum())
    assert primal <= optimum <= primal + excess
    if excess == 0:
        assert optimum == primal


class RelaxationSpy:
    """Runs the relaxation on a tiny first subset (one pair per lead, no sample) and a wide
    ``within``, so that its early stop is taken; records each outcome and compares it with
    the flow over every pair."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.early = 0
        self.certified = 0
        real = cf.certified_flow

        def spy(*args: Any, **kwargs: Any) -> cf.CertifiedFlow:
            lead, rep, w, n, capacity, low = args
            out = real(*args, per_lead=1, sample=0.0, within=kwargs["within"])
            full = solve_flow(lead, rep, w, n, capacity, low)
            assert full.chosen is not None and out.outcome.chosen is not None
            assert out.outcome.max_count == full.max_count
            best = int(w[full.chosen].sum())
            if out.bound is None:
                self.certified += 1
                assert int(w[out.outcome.chosen].sum()) == best
            else:
                self.early += 1
                assert int(w[out.outcome.chosen].sum()) <= best <= out.bound
            return out

        monkeypatch.setattr(stages, "certified_flow", spy)
        monkeypatch.setattr(stages, "RELAXATION_SUBSET_PAIRS", 0)
        monkeypatch.setattr(stages, "RELAXATION_WITHIN", 500.0)  # 1% of the 2e-5 tolerance
        monkeypatch.setattr(stages, "LAGRANGIAN_ONLY_PAIRS", 0)
        monkeypatch.setattr(stages, "SUBSET_PAIRS", 0)
        monkeypatch.setattr(stages, "SUBSET_PER_LEAD", 2)


@pytest.mark.parametrize("seed", range(6))
def test_the_pipeline_from_an_early_relaxation_matches_the_milp(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue-4 rules from a relaxation solved on a subset (stopped early where its duals
    allow): the MILP's count, every rule (independent checker), a score no better than the
    MILP optimum and a bound no lower; the same answer twice."""
    spy = RelaxationSpy(monkeypatch)
    book = issue4_book(seed, floors=0.3 if seed % 3 == 2 else 0.0)
    result = assert_matches_milp(book)
    _, _, again = run_leadassign(book)
    assert np.array_equal(again.pair_of_lead, result.pair_of_lead)
    assert again.best_bound == result.best_bound
    assert spy.early + spy.certified == 2


def test_the_early_stop_is_taken_in_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the books above, the relaxation stopped early on at least one (the path the
    pipeline tests are meant to cover)."""
    spy = RelaxationSpy(monkeypatch)
    for seed in range(6):
        run_leadassign(issue4_book(seed, floors=0.0))
    assert spy.early >= 1
