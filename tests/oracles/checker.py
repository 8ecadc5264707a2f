"""leadassign's answer, solved and rechecked: :func:`solved` checks every solution with the
independent validator (``leadassign.check``); :func:`run_leadassign` solves a
:class:`~tests.oracles.rules.RuleBook` (tests that change how it solves patch this module's
``solve``)."""

from __future__ import annotations

from typing import Any

from leadassign import Policy, Problem, Result, load_problem, solve
from leadassign.check import check_assignments
from leadassign.models.policy import policy_from_mapping
from tests.oracles.rules import RuleBook


def solved(problem: Problem, policy: Policy | None = None, **options: Any) -> Result:
    """Solve, and check any solution with the independent validator."""
    policy = policy or Policy()
    result = solve(problem, policy, **options)
    if result.has_solution:
        check = check_assignments(problem, policy, result.assignments)
        assert check.ok, check.violations
        assert check.assigned == result.assigned
        assert result.objective is not None and result.expected_value is not None
        assert abs(check.expected_value - result.expected_value) <= 1e-9 * max(
            1.0, abs(check.expected_value)
        )
        soft_value = policy.fairness is not None and policy.fairness.metric == "value"
        if not soft_value or policy.fairness is None or policy.fairness.mode == "hard":
            assert abs(check.score - result.objective) <= 1e-9 * max(1.0, abs(check.score))
        hard_fairness = policy.fairness is not None and policy.fairness.mode == "hard"
        if result.status == "OPTIMAL" and not hard_fairness:
            assert check.improvable == [], "an unassigned lead had an eligible rep with room"
    return result


def run_leadassign(book: RuleBook) -> tuple[Problem, Policy, Result]:
    policy = policy_from_mapping(book.policy)
    problem = load_problem(book.leads, book.reps, book.affinity, policy=policy)
    return problem, policy, solve(problem, policy, workers=2, time_limit_s=60)
