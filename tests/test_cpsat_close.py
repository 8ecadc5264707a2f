"""CP-SAT's last units (``engines.cpsat._close``): once phase 2's best is within
``CLOSE_UNITS`` of its bound, a search for a choice worth exactly the bound either finds one
(the optimum) or proves there is none (the bound one unit lower), target after target. The
optimum and the bound it ends with are checked against the independent MILP oracle on small
books with a hard band (issue 24, target 7)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from leadassign import load_problem
from leadassign.compile.prepare import Prepared, prepare
from leadassign.control import budget
from leadassign.engines import cpsat
from leadassign.engines.cpsat import CpSatSettings, build_model, solve_cpsat
from leadassign.models.policy import policy_from_mapping
from tests.oracles.milp import milp_optimum
from tests.oracles.rules import RuleBook

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_rules import book

POLICY = {"fairness": {"metric": "count", "band": 0.15, "mode": "hard"}}


#: Small benchmark books (bench_rules.book: every column, accounts and owners), leads x reps.
SIZES = ((36, 3), (40, 4), (48, 4), (72, 6))


def _book(size: tuple[int, int]) -> RuleBook:
    """A small benchmark book with a hard count band."""
    leads, reps, affinity = book(*size)
    return RuleBook(leads, reps, affinity, POLICY)


def _prepared(book: RuleBook) -> Prepared:
    problem = load_problem(book.leads, book.reps, book.affinity)
    return prepare(problem, policy_from_mapping(book.policy))


def _oracle_choice(book: RuleBook, prep: Prepared) -> np.ndarray:
    """The MILP oracle's optimum as a mask of the prepared pairs."""
    optimum = milp_optimum(book)
    assert optimum is not None
    rep_of = np.asarray(optimum.rep_of)
    pairs = prep.pairs
    chosen: np.ndarray = rep_of[pairs.unit] == pairs.rep
    assert prep.side.feasible(pairs, chosen)
    assert int(chosen.sum()) == optimum.assigned
    return chosen


def _closed(
    prep: Prepared,
    best: np.ndarray,
    value: int,
    bound: int,
    count: int,
    started: float | None = None,
) -> tuple[np.ndarray, int]:
    """``_close`` on phase 2's model (at least ``count`` leads, most value) from ``best``,
    with a 30 s limit counted from ``started`` (default: now)."""
    built = build_model(prep.pairs, prep.side)
    cpsat.value_objective(built, prep.pairs, count)
    settings = CpSatSettings(time_limit_s=30)
    began = time.perf_counter() if started is None else started
    return cpsat._close(built.model, settings, built, best, value, bound, began, None, float)


@pytest.mark.parametrize("size", SIZES)
def test_targets_above_the_optimum_are_proven_empty(size: tuple[int, int]) -> None:
    """From the optimum with a bound 3 units above it: three INFEASIBLE targets, and the bound
    ends at the optimum's value (what the oracle proves)."""
    book = _book(size)
    prep = _prepared(book)
    best = _oracle_choice(book, prep)
    value = prep.side.score(prep.pairs, best)
    chosen, bound = _closed(prep, best, value, value + 3, int(best.sum()))
    assert bound == value
    assert np.array_equal(chosen, best)


@pytest.mark.parametrize("size", SIZES)
def test_a_target_at_the_optimum_is_found(size: tuple[int, int]) -> None:
    """A best one unit short of a bound that is the optimum: the search finds a choice worth
    exactly the oracle's optimum, which meets every rule."""
    book = _book(size)
    prep = _prepared(book)
    optimum = _oracle_choice(book, prep)
    value = prep.side.score(prep.pairs, optimum)
    start = np.zeros_like(optimum)  # no hint to follow: the search must find it
    chosen, bound = _closed(prep, start, value - 1, value, int(optimum.sum()))
    assert bound == value
    assert prep.side.feasible(prep.pairs, chosen)
    assert int(chosen.sum()) == int(optimum.sum())
    assert prep.side.score(prep.pairs, chosen) == value


@pytest.mark.parametrize("size", SIZES[:2])
def test_solve_cpsat_ends_at_the_oracles_optimum(size: tuple[int, int]) -> None:
    """End to end from a poor start (no leads): OPTIMAL at the oracle's value, as before the
    last units were sought by targets."""
    book = _book(size)
    prep = _prepared(book)
    optimum = _oracle_choice(book, prep)
    out = solve_cpsat(
        prep.pairs, CpSatSettings(time_limit_s=30), None, int(optimum.sum()), prep.side
    )
    assert out.status == "OPTIMAL" and out.chosen is not None
    assert prep.side.score(prep.pairs, out.chosen) == prep.side.score(prep.pairs, optimum)
    assert out.units_bound == prep.side.score(prep.pairs, optimum)


def test_out_of_time_before_a_target_is_a_cut_by_time() -> None:
    """No time left when the search would begin: the best and the bound come back as they
    were, and the meter records the clock as what cut the run (not the work limit, which
    would claim the same answer on any machine)."""
    book = _book(SIZES[0])
    prep = _prepared(book)
    best = _oracle_choice(book, prep)
    value = prep.side.score(prep.pairs, best)
    with budget.metering(budget.Meter(100.0, 3600.0)) as meter:
        long_ago = time.perf_counter() - 60  # the 30 s limit has passed
        chosen, bound = _closed(prep, best, value, value + 1, int(best.sum()), long_ago)
    assert bound == value + 1
    assert np.array_equal(chosen, best)
    assert meter.limited_by(proven=False) == "time"
