"""Small builders shared by the tests: tables as lists of dicts, solved and checked."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadassign import Policy, Problem, Result, load_problem, solve
from leadassign.check import check_assignments
from leadassign.solver.cpsat import Pairs


def frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A DataFrame with exactly ``columns`` (missing cells empty), even with no rows."""
    return pd.DataFrame([{c: row.get(c, "") for c in columns} for row in rows], columns=columns)


def lead(lead_id: str, value: float, territory: str = "T", **more: Any) -> dict[str, Any]:
    return {"lead_id": lead_id, "territory": territory, "value": value, **more}


def rep(rep_id: str, capacity: int, territories: str = "T", **more: Any) -> dict[str, Any]:
    return {"rep_id": rep_id, "territories": territories, "capacity": capacity, **more}


def problem_of(
    leads: list[dict[str, Any]],
    reps: list[dict[str, Any]],
    affinity: list[dict[str, Any]] | None = None,
    pairs: list[dict[str, Any]] | None = None,
    pairs_mode: str = "only",
) -> Problem:
    lead_cols = list(
        dict.fromkeys(["lead_id", "territory", "value", *(k for r in leads for k in r)])
    )
    rep_cols = list(
        dict.fromkeys(["rep_id", "territories", "capacity", *(k for r in reps for k in r)])
    )
    return load_problem(
        frame(leads, lead_cols),
        frame(reps, rep_cols),
        frame(affinity, ["rep_id", "industry", "win_rate"]) if affinity is not None else None,
        frame(pairs, list(dict.fromkeys(["lead_id", "rep_id", *(k for r in pairs for k in r)])))
        if pairs is not None
        else None,
        pairs_mode="override" if pairs_mode == "override" else "only",
    )


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


def owners(result: Result) -> dict[str, str]:
    """lead_id -> rep_id ('' when unassigned)."""
    table = result.assignments
    return dict(zip(table["lead_id"], table["rep_id"], strict=True))


#: summary.json fields that measure time, so differ between otherwise identical runs
TIMING_KEYS = ("build_s", "solve_s")


def assert_same_outputs(first: Path, second: Path, names: Sequence[str]) -> None:
    """Two output folders hold byte-identical ``names`` and the same summary.json but for
    its timing fields."""
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    one, two = (json.loads((o / "summary.json").read_text()) for o in (first, second))
    for key in TIMING_KEYS:
        one.pop(key), two.pop(key)
    assert one == two


#: OR-Library gapd.txt problem 1 (5 agents x 100 jobs, minimize cost), copied unchanged from
#: ../shared/data/gap; its optimum, 6353, is proven (best_known.csv there).
GAP_D05100 = Path(__file__).parent / "data" / "gap_d05100.txt"
D05100_OPTIMUM = 6353


def every_pair(
    n_units: int,
    capacity: Sequence[int],
    units: np.ndarray,
    effort: np.ndarray | None = None,
) -> Pairs:
    """Solver pairs of every unit (one lead each) with every rep, unit by unit (pair
    ``u * m + j`` is unit u at rep j): ``units`` and ``effort`` (default 1) per pair, no
    floors."""
    m = len(capacity)
    n = n_units * m
    return Pairs(
        unit=np.repeat(np.arange(n_units, dtype=np.int64), m),
        rep=np.tile(np.arange(m, dtype=np.int64), n_units),
        effort=np.ones(n, dtype=np.int64) if effort is None else effort.astype(np.int64),
        units=np.asarray(units, dtype=np.int64),
        capacity=np.asarray(capacity, dtype=np.int64),
        min_leads=np.zeros(m, dtype=np.int64),
        size=np.ones(n, dtype=np.int64),
    )


def gap_d05100_pairs() -> Pairs:
    """GAP_D05100 as solver pairs: jobs as units (sorted), agents as reps, value = -cost."""
    tokens = [int(t) for t in GAP_D05100.read_text().split()]
    m, n = tokens[0], tokens[1]
    cost = np.array(tokens[2 : 2 + m * n]).reshape(m, n)
    resource = np.array(tokens[2 + m * n : 2 + 2 * m * n]).reshape(m, n)
    capacity = tokens[2 + 2 * m * n :]
    return every_pair(n, capacity, -cost.T.ravel(), resource.T.ravel())
