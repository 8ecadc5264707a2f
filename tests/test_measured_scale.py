"""The objective's units when the whole objective is a measured amount (issue 24, target 7):
a value-0 book whose score is continuity's keep bonus counted in a lead column (the
disruption of a territory realignment) is scaled in the column's own integer units
(``prepare.measured_scale``), not 1e9 units of the largest value.

Solves are checked against an independent MILP written here from README "Business rules"
(scipy's HiGHS over every (lead, rep) pair, no leadassign code): with the band widened by the
stated band tolerance it bounds the answer from above, tightened by it from below, and the
answer must lie between them to within the stated rounding (``n_assigned / scale``). The
Pfizer 100x10 least-disruption cases (../shared/data/pfizer, when present) must be proven
OPTIMAL at the data README's proven optimum."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from leadassign import Status, solve
from leadassign.check import check_assignment
from leadassign.compile.prepare import MEASURED_MAX_PAIRS, prepare
from leadassign.compile.scaling import VALUE_RESOLUTION, scale_values
from leadassign.models.policy import band_tolerance, policy_from_mapping
from leadassign.models.problem import Problem
from tests.helpers import lead, problem_of, rep
from tests.test_pfizer import bench  # benchmarks/bench_pfizer.py, loaded once


def territory_book(
    seed: int, n: int, m: int, decimals: int | None, value: float = 0.0
) -> tuple[Problem, np.ndarray, np.ndarray]:
    """``n`` bricks with a ``workload`` column (``decimals`` decimals, None: full floats),
    each owned by one of ``m`` reps of equal capacity; lead value ``value``."""
    rng = np.random.default_rng(seed)
    workload = rng.uniform(0.05, 1.0, n)
    if decimals is not None:
        workload = np.round(workload, decimals)
    owner = rng.permutation(np.arange(n) % m)
    leads = [
        lead(f"B{i}", value, workload=float(workload[i]), current_owner=f"R{owner[i]}")
        for i in range(n)
    ]
    return problem_of(leads, [rep(f"R{j}", n) for j in range(m)]), workload, owner


def disruption_policy(band: float, bonus: float, moved: float | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"keep_bonus": bonus, "measure": "workload"}
    if moved is not None:
        c["max_reassign"] = moved
    return {"assign_all": True, "fairness": {"metric": "workload", "band": band}, "continuity": c}


def oracle(
    workload: np.ndarray, owner: np.ndarray, m: int, spec: dict[str, Any], slack: float
) -> float | None:
    """The most ``keep_bonus`` x workload kept by owners with every brick assigned, every
    rep's workload within its band widened by ``slack`` (negative: tightened) and the workload
    moved within ``max_reassign``; None when no assignment meets them."""
    n = len(workload)
    band, c = spec["fairness"]["band"], spec["continuity"]
    own = (owner[:, None] == np.arange(m)[None, :]).astype(float)
    one_rep = LinearConstraint(np.kron(np.eye(n), np.ones(m)), 1, 1)
    mean = workload.sum() / m
    per_rep = np.kron(workload[:, None], np.eye(m)).T  # row j: workload of rep j's leads
    rows = [
        one_rep,
        LinearConstraint(per_rep, (1 - band) * mean - slack, (1 + band) * mean + slack),
    ]
    if c.get("max_reassign") is not None:
        kept = (workload[:, None] * own).ravel()
        rows.append(LinearConstraint(kept, workload.sum() * (1 - c["max_reassign"]), np.inf))
    score = c["keep_bonus"] * (workload[:, None] * own).ravel()
    done = milp(
        -score,
        constraints=rows,
        integrality=np.ones(n * m),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 1e-12, "time_limit": 120.0},
    )
    if done.status == 2:
        return None
    assert done.status == 0, done.message
    return float(-done.fun)


def test_the_objective_is_counted_in_the_columns_own_units() -> None:
    """3 decimals: the measure is exact in thousandths, and so is the objective (keep_bonus
    2.5: 400 units per unit of value); any other book keeps 1e9 units of its largest value."""
    problem, workload, owner = territory_book(1, 12, 3, decimals=3)
    prep = prepare(problem, policy_from_mapping(disruption_policy(0.2, 2.5)))
    assert prep.scale == pytest.approx(1000 / 2.5)
    keep = prep.cands.rep == owner[prep.cands.lead]
    units = np.rint(2.5 * workload[prep.cands.lead[keep]] * prep.scale)
    assert np.array_equal(units, np.rint(workload[prep.cands.lead[keep]] * 1000))
    assert int(np.abs(prep.pairs.units).max()) < VALUE_RESOLUTION // 1000
    others = [
        {**disruption_policy(0.2, 2.5), "fairness": {"metric": "workload", "band": 0.2,
                                                     "mode": "soft", "weight": 0.3}},
        {**disruption_policy(0.2, 2.5), "continuity": {"keep_bonus": 2.5, "measure": "workload",
                                                       "max_reassign": 0.2, "mode": "soft"}},
        {"continuity": {"keep_bonus": 2.5}},
    ]  # fmt: skip
    valued = territory_book(1, 12, 3, decimals=3, value=5.0)[0]
    books = [(spec, problem) for spec in others] + [(disruption_policy(0.2, 2.5), valued)]
    for spec, book in books:  # the default: the largest pair value is 1e9 units
        units = prepare(book, policy_from_mapping(spec)).pairs.units
        assert int(np.abs(units).max()) == VALUE_RESOLUTION, spec


def test_above_the_pair_limit_the_default_scale_stands() -> None:
    """Only books the exact stages can prove are scaled in the column's units: one pair
    over ``MEASURED_MAX_PAIRS`` and the largest pair value is 1e9 units again."""
    spec = policy_from_mapping(disruption_policy(0.2, 1.0))
    for n, m, default in (
        (MEASURED_MAX_PAIRS // 4, 4, False),
        (MEASURED_MAX_PAIRS // 4 + 1, 4, True),
    ):
        problem = territory_book(6, n, m, decimals=3)[0]
        prep = prepare(problem, spec)
        assert len(prep.pairs) == n * m
        assert (int(np.abs(prep.pairs.units).max()) == VALUE_RESOLUTION) is default


def test_a_finer_scale_than_the_default_is_never_taken() -> None:
    values = np.array([0.5, 2.0, 1.25])
    lead_of = np.array([0, 1, 2])
    assert scale_values(values, lead_of, 3, scale=1e12).scale == VALUE_RESOLUTION / 2.0
    assert scale_values(values, lead_of, 3, scale=4.0).scale == 4.0
    assert scale_values(values, lead_of, 3, scale=4.0).units.tolist() == [2, 8, 5]


CASES = [
    (seed, decimals, spec)
    for seed, decimals in [(2, 3), (3, None), (4, None), (5, 6)]
    for spec in (
        disruption_policy(0.15, 1.0),
        disruption_policy(0.1, 2.5),
        disruption_policy(0.2, 1.0, moved=0.3),
    )
]


@pytest.mark.parametrize(("seed", "decimals", "spec"), CASES)
def test_measured_objectives_against_an_independent_milp(
    seed: int, decimals: int | None, spec: dict[str, Any]
) -> None:
    n, m = 24, 4
    problem, workload, owner = territory_book(seed, n, m, decimals)
    policy = policy_from_mapping(spec)
    tol = band_tolerance("workload", float(workload.max()), n, float(workload.sum()))
    upper = oracle(workload, owner, m, spec, tol)
    lower = oracle(workload, owner, m, spec, -tol)
    result = solve(problem, policy)
    if upper is None:
        assert result.status == Status.INFEASIBLE
        return
    assert lower is not None, "the book sits on its band's edge; pick another seed"
    assert result.status == Status.OPTIMAL
    assert result.objective is not None
    rounding = n / result.value_scale  # the module doc's promise
    assert lower - rounding - 1e-9 <= result.objective <= upper + 1e-9
    kept = workload[result.rep_of_lead == owner].sum() * spec["continuity"]["keep_bonus"]
    assert result.objective == pytest.approx(kept, rel=1e-12)
    ids = problem.reps.ids
    check = check_assignment(problem, policy, [str(ids[j]) for j in result.rep_of_lead])
    assert check.ok, check.violations
    assert np.array_equal(solve(problem, policy).rep_of_lead, result.rep_of_lead)


@pytest.mark.parametrize("lo", [0.8, 0.85, 0.9])
def test_pfizer_100x10_least_disruption_at_the_proven_optimum(tmp_path: Path, lo: float) -> None:
    """The case of issue 24: at 1e9 units of the largest brick it ended FEASIBLE (gaps
    6.7e-8 to 3.8e-6, the tightest band 1.4e-5 above the optimum); in the workload's own
    units the two wider bands are proven OPTIMAL and every band ends at the proven optimum
    (to 2e-6: the band holds to its stated tolerance, so the answer may keep slightly more)."""
    if not bench.DATA.is_dir():
        pytest.skip(f"the Pfizer data is not at {bench.DATA}")
    inst = bench.load("100x10")
    bench.write_book(inst, tmp_path)
    got = bench.solve_case(inst, "disruption", lo, tmp_path)
    assert abs(got.disruption - bench.PROVEN[("100x10", "disruption", lo)]) <= 2e-6
    if lo < 0.9:
        assert got.status == "OPTIMAL" and got.gap == 0
    mean = float(inst.workload.sum()) / 10
    tolerance = band_tolerance("workload", float(inst.workload.max()), 100, 10 * mean)
    assert got.worst_band * mean <= tolerance
