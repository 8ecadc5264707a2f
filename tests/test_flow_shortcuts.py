"""Issue 24, target 4: the flows the side-rule pipeline no longer solves twice, and the
churn search that stops within ``solver.relative_gap``.

- ``floors``: runs after the flow relaxation and skips its max flow when the relaxation's
  choice already meets every floor (Hall's condition then holds);
- ``network flow``: on a network-shaped book the relaxation is that flow without floors,
  over every pair; when its choice meets the floors it is reused as the network flow;
- ``fair count flow``: when the network flow's choice already keeps every rep within the
  band's bounds for its own totals it is that flow's optimum, so it is not solved;
- ``churn search``: stops once within 0.9 of ``solver.relative_gap`` of its bound.

Each shortcut is checked against the flow it replaces (same value, a bound no lower), and
whole solves against the independent MILP oracle and checker (tests.oracles), as in
tests/test_lagrangian.py, with the size thresholds lowered so that small books take the
Lagrangian path.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from leadassign.check import check_assignment
from leadassign.engines.flow import hall_violation
from leadassign.engines.lagrangian import fair_count_flow
from leadassign.engines.priced_flows import AllArcs, Solved
from leadassign.result import Result
from leadassign.solve.flow_stages import (
    _in_band,
    _relaxation_as_flow,
    _relaxation_meets_floors,
)
from leadassign.solve.run import Run
from tests.oracles.books import random_book
from tests.oracles.checker import run_leadassign
from tests.oracles.milp import milp_optimum
from tests.oracles.rules import REL_TOL, RuleBook
from tests.test_lagrangian import assert_lagrangian_matches_milp

stages = importlib.import_module("leadassign.solve.flow_stages")


def issue4_book(seed: int, floors: float, gap: float | None = None) -> RuleBook:
    """Tiers, a count band and a binding churn limit (the issue-4 rules), small."""
    band, max_reassign = ((0.9, 0.2), (0.7, 0.3))[seed % 2]
    policy: dict[str, Any] = {
        "tiers": [{"min_value": 6000, "min_level": 2}],
        "fairness": {"metric": "count", "band": band},
        "continuity": {"max_reassign": max_reassign},
    }
    if gap is not None:
        policy["solver"] = {"relative_gap": gap}
    return random_book(700 + seed, 300, 12, policy, slack=2.0, floors=floors, keepable_owners=True)


def assert_matches_milp(book: RuleBook) -> Result:
    """Whatever stage ends the solve: the MILP's count, every rule (independent checker), a
    score no better than the MILP optimum and a bound no lower than it."""
    optimum = milp_optimum(book)
    assert optimum is not None
    problem, policy, result = run_leadassign(book)
    assert result.assigned == optimum.assigned
    check = check_assignment(problem, policy, result.assignments["rep_id"].fillna("").tolist())
    assert not check.violations, check.violations[:5]
    assert result.objective is not None and result.best_bound is not None
    slack = REL_TOL * abs(optimum.score) + 1e-6
    assert result.objective <= optimum.score + slack
    assert result.best_bound >= optimum.score - slack
    return result


class Spies:
    """Wraps the shortcuts: each time one is taken, the flow it replaces is solved here
    on every pair and compared."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.taken: dict[str, int] = {"floors": 0, "network": 0, "band": 0}
        self.tolerances: list[float] = []
        relaxed, in_band, meets = _relaxation_as_flow, _in_band, _relaxation_meets_floors
        churn = stages.churn_flow

        def relaxation_as_flow(run: Run) -> Solved | None:
            out = relaxed(run)
            if out is not None:
                self.taken["network"] += 1
                pairs = run.prep.pairs
                flows = AllArcs(pairs.unit, pairs.rep, run.problem.n_leads)
                exact = flows.solve(
                    pairs.units, pairs.min_leads, pairs.capacity, run.incumbent.count_upper
                )
                assert exact.chosen is not None and out.chosen is not None
                assert out.count == exact.count and out.value == exact.value
                assert out.bound == out.value == int(pairs.units[out.chosen].sum())
                load = np.bincount(pairs.rep[out.chosen], minlength=len(pairs.capacity))
                assert np.all(load >= pairs.min_leads) and np.all(load <= pairs.capacity)
            return out

        def band_shortcut(run: Run) -> Solved | None:
            out = in_band(run)
            if out is not None:
                self.taken["band"] += 1
                pairs, fair = run.prep.pairs, run.prep.side.fairness
                assert fair is not None and out.chosen is not None
                assert fair.excess(pairs, out.chosen) == 0
                solved = fair_count_flow(pairs, fair, run.problem.n_leads, out.chosen)
                assert solved is not None and solved.bound is not None
                assert out.value == solved.value  # the skipped flow's optimum
                assert out.bound is not None and out.bound >= solved.bound
            return out

        def meets_floors(run: Run) -> bool:
            out = meets(run)
            if out:
                self.taken["floors"] += 1
                pairs = run.prep.pairs
                n = run.problem.n_leads
                assert hall_violation(run.lead_of, run.rep_of, n, pairs.min_leads) is None
            return out

        def churn_spy(*args: Any, **kwargs: Any) -> Any:
            self.tolerances.append(kwargs["tolerance"])
            return churn(*args, **kwargs)

        monkeypatch.setattr(stages, "_relaxation_as_flow", relaxation_as_flow)
        monkeypatch.setattr(stages, "_in_band", band_shortcut)
        monkeypatch.setattr(stages, "_relaxation_meets_floors", meets_floors)
        monkeypatch.setattr(stages, "churn_flow", churn_spy)


@pytest.mark.parametrize(("seed", "subset"), [(s, False) for s in range(4)] + [(0, True)])
def test_shortcuts_solve_what_the_skipped_flows_solve(
    seed: int, subset: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the shortcuts taken (each compared with the flow it skips), the Lagrangian
    path still gives the MILP's count, every rule (independent checker), a score no better
    than the MILP optimum and a bound no lower than it, the same answer twice."""
    monkeypatch.setattr(stages, "LAGRANGIAN_ONLY_PAIRS", 0)
    if subset:
        monkeypatch.setattr(stages, "SUBSET_PAIRS", 0)
        monkeypatch.setattr(stages, "SUBSET_PER_LEAD", 2)
    spies = Spies(monkeypatch)
    floors = seed % 2 == 1
    book = issue4_book(seed, floors=0.3 if floors else 0.0)
    result = assert_matches_milp(book)
    if not floors:
        assert result.method == "lagrangian"
        assert spies.tolerances == [stages.CHURN_TOLERANCE]
    assert spies.taken["network"] == 1 and spies.taken["floors"] >= 1
    _, _, again = run_leadassign(book)
    assert np.array_equal(again.pair_of_lead, result.pair_of_lead)
    assert again.best_bound == result.best_bound


def test_the_band_shortcut_is_taken_when_the_flow_meets_the_band(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A band so wide that the plain flow meets it: the fair count flow is not solved, and
    the answer still matches the MILP oracle."""
    monkeypatch.setattr(stages, "LAGRANGIAN_ONLY_PAIRS", 0)
    spies = Spies(monkeypatch)
    book = random_book(
        731,
        300,
        12,
        {
            "fairness": {"metric": "count", "band": 5.0},
            "continuity": {"max_reassign": 0.2},
        },
        slack=2.0,
        floors=0.0,
        keepable_owners=True,
    )
    assert_lagrangian_matches_milp(book)
    assert spies.taken["band"] == 1


def test_floors_that_cannot_hold_are_still_infeasible() -> None:
    """Every rep's floor at its capacity (twice the leads): the relaxation cannot meet the
    floors, and the book is still proven infeasible, with the reason."""
    book = issue4_book(0, floors=0.3)
    book.reps["min_leads"] = book.reps["capacity"]
    _, _, result = run_leadassign(book)
    assert result.status.name == "INFEASIBLE"
    assert result.conflicts


@pytest.mark.parametrize("seed", range(3))
def test_relative_gap_stops_the_churn_search_honestly(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``solver.relative_gap`` 1%: the churn search is asked for 0.9% and the answer is
    reported OPTIMAL, or FEASIBLE limited by "gap" with a gap within 1%, valid against the
    MILP oracle (its score no better, its bound no lower), deterministic."""
    monkeypatch.setattr(stages, "LAGRANGIAN_ONLY_PAIRS", 0)
    spies = Spies(monkeypatch)
    book = issue4_book(seed, floors=0.0, gap=0.01)
    result = assert_lagrangian_matches_milp(book)
    assert spies.tolerances == [pytest.approx(0.009)]
    if result.status.name == "FEASIBLE":
        assert result.limited_by == "gap"
        assert result.gap is not None and 0 < result.gap <= 0.01
    else:
        assert result.status.name == "OPTIMAL"
    _, _, again = run_leadassign(book)
    assert np.array_equal(again.pair_of_lead, result.pair_of_lead)
