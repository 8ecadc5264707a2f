"""Accounts kept together as a grouped assignment (engines.grouped and the 'grouped accounts'
stage of solve/account_stages.py), held against the independent HiGHS MILP of
tests.oracles.milp on random books of 150-300 leads with accounts of 1-4 leads.

The Lagrangian bound over units must be at least the value of the oracle's optimum (an
exact comparison in the scaled integers: the optimum's own unit pairs are summed) at any
prices, whenever the optimum places the count asked for; the search's choice must keep every
account whole and every capacity. Through solve() (the size threshold lowered so these books
take the stage, and the stage's answer made final) the answer must pass leadassign.check,
place no more leads than the oracle, reach no more value at the oracle's count, report a
bound at least the oracle's optimum, and be the same run after run.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from leadassign import load_problem, solve
from leadassign.check import check_assignments
from leadassign.compile.prepare import Prepared, prepare
from leadassign.engines.flow import solve_flow
from leadassign.engines.grouped import grouped_search, priced_bound
from leadassign.models.policy import policy_from_mapping
from leadassign.result import Result
from tests.oracles.books import random_book
from tests.oracles.milp import milp_optimum
from tests.oracles.rules import REL_TOL, Optimum, PolicyDict, Ref, RuleBook, evaluate

stages = importlib.import_module("leadassign.solve.account_stages")

ACCOUNTS: PolicyDict = {"accounts": {"together": True}}
BAND_ACCOUNTS: PolicyDict = {
    "accounts": {"together": True},
    "fairness": {"metric": "count", "band": 0.4},
    "tiers": [{"min_value": 20000, "min_level": 3}],
}


def book(seed: int, policy: PolicyDict) -> RuleBook:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(150, 301)), int(rng.integers(4, 9))
    return random_book(seed, n, m, policy, slack=float(rng.uniform(0.7, 1.2)), owned=0.0)


def prepared(b: RuleBook) -> Prepared:
    policy = policy_from_mapping(b.policy)
    problem = load_problem(b.leads, b.reps, b.affinity, policy=policy)
    return prepare(problem, policy)


def optimum_units(prep: Prepared, b: RuleBook, opt: Optimum) -> tuple[int, np.ndarray]:
    """The oracle's choice as unit pairs of ``prep`` and its value in scaled units."""
    # the oracle's rep positions are rows of the reps table, in the order leadassign reads
    rep_of_lead = np.array(opt.rep_of, dtype=np.int64)
    assert len(rep_of_lead) == len(b.leads)
    cands = prep.cands
    spread = rep_of_lead[cands.lead] == cands.rep
    chosen = prep.units.unit_choice(spread)
    assert int(prep.pairs.size[chosen].sum()) == opt.assigned
    return int(prep.pairs.units[chosen].sum()), chosen


@pytest.mark.parametrize("seed", range(8))
def test_the_bound_over_units_is_at_least_the_optimum_at_any_prices(seed: int) -> None:
    b = book(700 + seed, ACCOUNTS)
    opt = milp_optimum(b)
    assert opt is not None
    prep = prepared(b)
    pairs = prep.pairs
    best, chosen = optimum_units(prep, b, opt)
    assert prep.side.feasible(pairs, chosen)
    rng = np.random.default_rng(seed)
    top = int(np.abs(pairs.units).max())
    for prices in (
        np.zeros(len(pairs.capacity), dtype=np.int64),
        rng.integers(0, top, len(pairs.capacity)),
        rng.integers(0, max(top // 50, 1), len(pairs.capacity)),
    ):
        for count in (0, opt.assigned // 2, opt.assigned):
            assert priced_bound(pairs, prices, count).bound >= best
    found = grouped_search(pairs, opt.assigned, np.zeros(len(pairs.capacity)), int(0.9 * best))
    assert found.bound >= best
    assert found.chosen is not None
    c = found.chosen
    assert np.bincount(pairs.unit[c]).max(initial=0) <= 1
    load = np.bincount(pairs.rep[c], weights=pairs.effort[c], minlength=len(pairs.capacity))
    assert np.all(load <= pairs.capacity)
    placed = int(pairs.size[c].sum())
    assert placed <= opt.assigned
    if placed == opt.assigned:
        assert int(pairs.units[c].sum()) <= best


def test_the_bound_over_units_is_tighter_than_the_flow_over_leads() -> None:
    """Accounts split by the flow over leads: the bound over whole units is below it."""
    tighter = 0
    for seed in range(6):
        b = book(800 + seed, ACCOUNTS)
        prep = prepared(b)
        usable = prep.units.usable
        lead_units = prep.units.lead_units[usable]
        flow = solve_flow(
            prep.cands.lead[usable],
            prep.cands.rep[usable],
            lead_units,
            prep.cands.n_leads,
            prep.pairs.capacity,
            np.zeros_like(prep.pairs.min_leads),
        )
        assert flow.chosen is not None
        relaxed = int(lead_units[flow.chosen].sum())
        zeros = np.zeros(len(prep.pairs.capacity))
        found = grouped_search(prep.pairs, flow.max_count, zeros, int(0.9 * relaxed))
        tighter += found.bound < relaxed
    assert tighter >= 3


def solved_by_stage(b: RuleBook, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.setattr(stages, "GROUPED_MIN_PAIRS", 0)
    monkeypatch.setattr(stages, "GROUPED_ONLY_PAIRS", 0)
    monkeypatch.setattr(stages, "FOLD_BAND", True)
    policy = policy_from_mapping(b.policy)
    problem = load_problem(b.leads, b.reps, b.affinity, policy=policy)
    result = solve(problem, policy, workers=1, time_limit_s=30)
    if result.has_solution:
        check = check_assignments(problem, policy, result.assignments)
        assert check.ok, check.violations
        assert check.assigned == result.assigned
        position = {rep: j for j, rep in enumerate(b.reps["rep_id"].astype(str))}
        rep_of = tuple(position.get(str(r), -1) for r in result.assignments["rep_id"])
        out = evaluate(Ref.build(b), rep_of)
        assert not out.violations, out.violations[:5]
        assert out.assigned == result.assigned
    return result


@pytest.mark.parametrize("policy", [ACCOUNTS, BAND_ACCOUNTS], ids=["accounts", "band"])
@pytest.mark.parametrize("seed", range(6))
def test_the_grouped_stage_agrees_with_the_milp(
    seed: int, policy: PolicyDict, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = book(900 + seed, policy)
    opt = milp_optimum(b)
    result = solved_by_stage(b, monkeypatch)
    if opt is None:
        assert not result.has_solution
        return
    if result.method != "grouped":
        pytest.skip("the stage did not place the count bound; the pipeline went on")
    assert result.has_solution and result.objective is not None
    assert result.assigned <= opt.assigned
    if result.assigned == opt.assigned:
        assert result.objective <= opt.score * (1 + REL_TOL) + 1e-6
        assert result.best_bound is not None
        assert result.best_bound >= opt.score * (1 - REL_TOL) - 1e-6
        if result.status == "OPTIMAL":
            assert result.objective == pytest.approx(opt.score, rel=REL_TOL)
    else:
        assert result.status == "FEASIBLE" and result.gap is None


def test_the_grouped_stage_is_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    b = book(950, ACCOUNTS)
    first, second = (solved_by_stage(b, monkeypatch) for _ in range(2))
    assert first.method == second.method == "grouped"
    assert first.best_bound == second.best_bound and first.objective == second.objective
    pd.testing.assert_frame_equal(first.assignments, second.assignments)


def test_the_grouped_steps_are_counted_by_the_book_size() -> None:
    assert stages.grouped_steps(880_000) == stages.GROUPED_STEPS == 600
    assert stages.grouped_steps(2_000_000) == 300
    assert stages.grouped_steps(10**9) == 150  # at least the engine's MAX_STEPS
