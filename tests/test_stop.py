"""Stopping a solve (``solve(..., stop=Stop())``, what SIGINT and SIGTERM do): stopped at the
start of each stage of each path, the answer is either UNKNOWN or an assignment that meets
every hard rule (the independent checker), marked ``interrupted``, and never worse-formed
than a finished one: one row per lead, the count and value of the rows."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from leadassign.check import check_assignment
from leadassign.control.stop import Stop, active, cancelling, stopped
from leadassign.result import Status
from tests.oracles import checker
from tests.oracles.books import random_book
from tests.oracles.checker import run_leadassign
from tests.oracles.rules import RuleBook

solve_module = importlib.import_module("leadassign.solve.pipeline")
stages_module = importlib.import_module("leadassign.solve.flow_stages")


class StopAt:
    """A Progress that sets ``stop`` when the solve reaches ``phase``."""

    def __init__(self, stop: Stop, phase: str) -> None:
        self.stop, self.at, self.seen = stop, phase, []  # type: ignore[var-annotated]

    def phase(self, name: str) -> None:
        self.seen.append(name)
        if name.startswith(self.at):  # CP-SAT's stages: "cpsat phase 1 (count)", ...
            self.stop.set("SIGTERM")

    def update(self, objective: float | None, bound: float | None) -> None:
        pass


RULES: dict[str, dict[str, Any]] = {
    # the Lagrangian path (with its size threshold lowered below)
    "churn": {
        "tiers": [{"min_value": 6000, "min_level": 2}],
        "fairness": {"metric": "count", "band": 0.7},
        "continuity": {"max_reassign": 0.2},
    },
    # the draft, the LP, HiGHS and CP-SAT
    "accounts": {
        "fairness": {"metric": "count", "band": 0.5},
        "continuity": {"max_reassign": 0.3},
        "accounts": {"together": True},
    },
    # CP-SAT after the LP (HiGHS' MIP would prove these books first)
    "cpsat": {
        "fairness": {"metric": "count", "band": 0.5},
        "accounts": {"together": True},
        "solver": {"method": "cpsat"},
    },
}


@pytest.mark.parametrize(
    ("rules", "phase"),
    [
        ("churn", "flow"),
        ("churn", "lagrangian"),
        ("accounts", "flow"),
        ("accounts", "draft"),
        ("accounts", "lp"),
        ("accounts", "mip"),
        ("cpsat", "lp"),
        ("cpsat", "cpsat"),
    ],
)
@pytest.mark.parametrize("seed", range(3))
def test_stopped_at_each_stage(
    rules: str, phase: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stages_module, "LAGRANGIAN_ONLY_PAIRS", 0)
    book: RuleBook = random_book(
        700 + seed, 240, 10, RULES[rules], slack=2.0, floors=0.0, keepable_owners=True
    )
    stop = Stop()
    watch = StopAt(stop, phase)
    original = solve_module.solve

    def stopping(problem: Any, policy: Any = None, **kwargs: Any) -> Any:
        return original(problem, policy, progress=watch, stop=stop, **kwargs)

    monkeypatch.setattr(checker, "solve", stopping)
    problem, policy, result = run_leadassign(book)
    if not any(name.startswith(phase) for name in watch.seen):
        pytest.skip(f"this book's solve has no '{phase}' stage ({watch.seen})")
    # a proven answer is whole whatever the stop; anything else says it was cut short
    proven = result.status in (Status.OPTIMAL, Status.INFEASIBLE)
    assert result.interrupted == (None if proven else "SIGTERM")
    if result.status == Status.UNKNOWN:
        assert not result.has_solution
        return
    assert result.status in (Status.FEASIBLE, Status.OPTIMAL)
    table = result.assignments
    assert len(table) == problem.n_leads
    check = check_assignment(problem, policy, table["rep_id"].fillna("").tolist())
    assert not check.violations, check.violations[:3]
    assert result.expected_value == pytest.approx(table["expected_value"].sum(skipna=True))
    if result.gap is not None:
        assert result.gap >= 0


def test_the_token() -> None:
    stop = Stop()
    called: list[str] = []
    assert not stopped()
    with active(stop), cancelling(lambda: called.append("hook")) as listening:
        assert listening and not stopped()
        stop.set("SIGINT")
        stop.set("SIGTERM")  # the first reason stays
        assert stopped() and called == ["hook"]
    assert stop.reason == "SIGINT" and not stopped()  # no token active outside
    with active(stop), cancelling(lambda: called.append("late")):
        pass  # set already: the hook runs at once
    assert called == ["hook", "late"]
    with cancelling(lambda: called.append("none")) as listening:
        assert not listening
    assert called == ["hook", "late"]
