"""The capacity Lagrangian for generalized assignment books (engines/capacity_lagrangian.py)
against brute force and HiGHS' MILP on small books, and in the pipeline: the bound is never
below the optimum, the start places every unit within capacity and is never above the
bound, both are deterministic, and a book it starts is solved to an answer the independent
checker accepts."""

from __future__ import annotations

import importlib
import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from leadassign.engines.capacity_lagrangian import capacity_lagrangian
from tests.oracles.gap import D05100_OPTIMUM, gap_d05100_pairs
from tests.test_knapsack import (
    assert_valid,
    brute_force,
    gap_milp,
    gap_tables,
    milp_optimum,
    random_assignment_book,
    solved_gap_book_twice,
)


def forced_bound(pairs: Any, prices: np.ndarray, denominator: int) -> int:
    """The bound of the module doc at ``prices / denominator``, every unit placed, from the
    definition in exact fractions (a Python loop over the units), rounded down."""
    price = [Fraction(int(k), denominator) for k in prices]
    total = sum((price[j] * int(c) for j, c in enumerate(pairs.capacity)), Fraction(0))
    for u in np.unique(pairs.unit):
        total += max(
            int(pairs.units[p]) - price[int(pairs.rep[p])] * int(pairs.effort[p])
            for p in np.flatnonzero(pairs.unit == u)
        )
    return math.floor(total)


@pytest.mark.parametrize("seed", range(120))
def test_bound_and_start_against_brute_force(seed: int) -> None:
    """On books of up to 7 units and 3 reps: the bound is at least the brute-force optimum
    (whenever a choice places every unit) and at most the bound from the definition at the
    same prices; the start, when there is one, places every unit within capacity and is
    worth at most the optimum; the same result twice."""
    pairs = random_assignment_book(seed)
    optimum, _ = brute_force(pairs)
    found = capacity_lagrangian(pairs)
    again = capacity_lagrangian(pairs)
    assert (found.bound, found.steps) == (again.bound, again.steps)
    assert np.array_equal(found.prices, again.prices)
    assert (found.chosen is None) == (again.chosen is None)
    if found.chosen is not None:
        assert again.chosen is not None and np.array_equal(found.chosen, again.chosen)
    assert np.all(found.prices >= 0)
    assert found.bound == forced_bound(pairs, found.prices, found.denominator)
    if optimum is None:
        assert found.chosen is None
        return
    assert found.bound >= optimum
    if found.chosen is not None:
        assert_valid(pairs, found.chosen)
        assert int(pairs.units[found.chosen].sum()) <= optimum


@pytest.mark.parametrize("seed", range(6))
def test_larger_books_against_the_milp(seed: int) -> None:
    """Type-C-like books of 60 units and 5 reps (every pair): the bound is at least HiGHS'
    MILP optimum, within 2% of it and the definition's at the same prices; the start, when
    there is one, places every unit within capacity."""
    from leadassign.compile.pairs import Pairs

    leads, reps, table = gap_tables(seed, False)
    optimum = gap_milp(leads, reps, table)
    assert optimum is not None
    rep_index = {rep: j for j, rep in enumerate(reps["rep_id"])}
    unit = table["lead_id"].str[1:].astype(int).to_numpy()
    order = np.lexsort((table["rep_id"].map(rep_index).to_numpy(), unit))
    pairs = Pairs(
        unit=unit[order].astype(np.int64),
        rep=table["rep_id"].map(rep_index).to_numpy()[order].astype(np.int64),
        effort=table["effort"].to_numpy()[order].astype(np.int64),
        units=table["score"].to_numpy()[order].astype(np.int64),
        capacity=reps["capacity"].to_numpy().astype(np.int64),
        min_leads=np.zeros(len(reps), dtype=np.int64),
        size=np.ones(len(table), dtype=np.int64),
    )
    assert milp_optimum(pairs) == optimum
    found = capacity_lagrangian(pairs)
    assert optimum <= found.bound <= optimum + 0.02 * abs(optimum)
    assert found.bound == forced_bound(pairs, found.prices, found.denominator)
    if found.chosen is not None:  # the greedy packings may leave a unit out (seed 4)
        assert_valid(pairs, found.chosen)
        assert int(pairs.units[found.chosen].sum()) <= optimum


def test_or_library_d05100() -> None:
    """OR-Library's d05100 (a tight type D book): the bound is at least the proven optimum
    and within 0.5% of it, the definition's at the same prices, and the start places all
    100 jobs within capacity."""
    pairs = gap_d05100_pairs()
    found = capacity_lagrangian(pairs)
    optimum = -D05100_OPTIMUM  # values are -cost
    assert optimum <= found.bound <= optimum + 0.005 * abs(optimum)
    assert found.bound == forced_bound(pairs, found.prices, found.denominator)
    assert found.chosen is not None
    assert_valid(pairs, found.chosen)
    assert int(pairs.units[found.chosen].sum()) <= optimum


def test_out_of_time_after_one_step_still_bounds() -> None:
    """With no time left the search stops after its first step (the clock is a backstop),
    and its bound (at zero prices: each job's cheapest agent) is still at least the
    optimum of d05100."""
    pairs = gap_d05100_pairs()
    found = capacity_lagrangian(pairs, time_left=lambda: 0.0)
    assert found.steps == 1
    assert found.bound >= -D05100_OPTIMUM
    assert found.bound == forced_bound(pairs, found.prices, found.denominator)


@pytest.mark.parametrize("seed", range(3))
def test_pipeline_starts_big_books_from_it(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """A generalized assignment book above ``TABU_MAX_PAIRS`` (lowered here to 100, so a
    60 x 5 book counts) through ``solve`` twice under a work limit of 1: the capacity
    Lagrangian's stage runs, with the same bound both times; the answer places every lead
    within capacity, is never better than the independent MILP's optimum, is the same twice
    and passes the independent checker (``solved_gap_book_twice``); the reported bound is
    never below the optimum."""
    stages = importlib.import_module("leadassign.solve.search_stages")
    monkeypatch.setattr(stages, "TABU_MAX_PAIRS", 100)
    real = stages.capacity_lagrangian
    calls: list[int] = []

    def spy(pairs: Any, **kwargs: Any) -> Any:
        found = real(pairs, **kwargs)
        calls.append(found.bound)
        return found

    monkeypatch.setattr(stages, "capacity_lagrangian", spy)
    first, optimum = solved_gap_book_twice(seed)
    assert len(calls) == 2 and calls[0] == calls[1]
    assert first.best_bound is not None and first.best_bound >= optimum - 1e-6


@pytest.mark.parametrize("bounds", [(8_000, None), (100, 200)])
def test_pipeline_skips_books_outside_its_range(
    monkeypatch: pytest.MonkeyPatch, bounds: tuple[int, int | None]
) -> None:
    """At or below ``TABU_MAX_PAIRS`` pairs (the walk, HiGHS and the knapsack search take
    those books as before) and above ``CAPACITY_MAX_PAIRS`` the stage does nothing."""
    from leadassign import load_problem, solve
    from leadassign.models.policy import policy_from_mapping

    stages = importlib.import_module("leadassign.solve.search_stages")
    low, high = bounds
    monkeypatch.setattr(stages, "TABU_MAX_PAIRS", low)
    if high is not None:
        monkeypatch.setattr(stages, "CAPACITY_MAX_PAIRS", high)
    calls: list[int] = []
    monkeypatch.setattr(stages, "capacity_lagrangian", lambda *a, **k: calls.append(1))
    leads, reps, pairs = gap_tables(0, False)  # 300 pairs
    policy = policy_from_mapping({})
    problem = load_problem(leads, reps, None, pairs, policy=policy)
    solve(problem, policy, work_limit=1.0)
    assert calls == []
