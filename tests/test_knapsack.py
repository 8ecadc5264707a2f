"""The knapsack Lagrangian branch and bound (``engines/knapsack.py``): its knapsacks and their
in/out values against enumeration, the search against brute force on tiny generalized
assignment books, the value grid, a bound on a hard OR-Library book, and the pipeline's
``knapsack`` path against the independent MILP."""

from __future__ import annotations

import importlib
import itertools
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from leadassign import load_problem, solve
from leadassign.compile.families import SideRules
from leadassign.compile.pairs import Pairs
from leadassign.compile.scaling import scale_values
from leadassign.engines import knapsack
from leadassign.engines.knapsack import Grid, _Knapsacks, branch_and_bound, value_grid
from leadassign.engines.lp import restrict_pairs
from leadassign.engines.mip import MipOutcome
from leadassign.models.policy import policy_from_mapping
from leadassign.result import Status
from tests.helpers import every_pair
from tests.oracles.gap import D05100_OPTIMUM, gap_d05100_pairs

# ---------------------------------------------------------------------------------------------
# The knapsacks
# ---------------------------------------------------------------------------------------------


def knapsack_by_enumeration(
    profit: np.ndarray, weight: np.ndarray, cap: int, forced: int | None = None, out: int = -1
) -> float:
    """The best ``sum(profit * x)`` with ``sum(weight * x) <= cap`` (-inf if none), with item
    ``forced`` in and item ``out`` out."""
    best = -np.inf
    for bits in itertools.product((0, 1), repeat=len(profit)):
        x = np.array(bits, dtype=bool)
        if (forced is not None and not x[forced]) or (out >= 0 and x[out]):
            continue
        if int(weight[x].sum()) <= cap:
            best = max(best, float(profit[x].sum()))
    return best


def random_knapsacks(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 4))
    k = int(rng.integers(0, 12))
    rep = np.sort(rng.integers(0, m, size=k))
    weight = rng.integers(0, 7, size=k)
    profit = rng.integers(-3, 15, size=k).astype(np.float64) + rng.random(k).round(2)
    room = rng.integers(0, 12, size=m)
    return rep, weight, profit, room


@pytest.mark.parametrize("seed", range(60))
def test_knapsacks_match_enumeration(seed: int) -> None:
    """Each rep's value, its chosen items (within room, summing to the value) and, from the
    prefix and suffix tables, the best value with each item in and with it out."""
    rep, weight, profit, room = random_knapsacks(seed)
    sel = np.arange(len(rep))
    found = _Knapsacks(sel, rep, weight, profit, room, tables=True)
    inside, outside = found.with_and_without()
    for j in range(len(room)):
        mine = np.flatnonzero(rep == j)
        expected = knapsack_by_enumeration(profit[mine], weight[mine], int(room[j]))
        assert found.value[j] == pytest.approx(expected)
        chosen = found.chosen[rep[found.chosen] == j]
        assert int(weight[chosen].sum()) <= room[j]
        assert float(profit[chosen].sum()) == pytest.approx(expected)
        for i, p in enumerate(mine.tolist()):
            slot = np.flatnonzero(found.pair[:, j] == p)
            assert len(slot) == 1
            want_in = knapsack_by_enumeration(profit[mine], weight[mine], int(room[j]), forced=i)
            want_out = knapsack_by_enumeration(profit[mine], weight[mine], int(room[j]), out=i)
            assert inside[slot[0], j] == pytest.approx(want_in)
            assert outside[slot[0], j] == pytest.approx(want_out)


# ---------------------------------------------------------------------------------------------
# The search against brute force
# ---------------------------------------------------------------------------------------------


def random_assignment_book(seed: int) -> Pairs:
    """Up to 7 units and 3 reps, some pairs missing, values of either sign, efforts 0-6 and
    tight capacities (often no choice places every unit)."""
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 4))
    n = int(rng.integers(1, 8))
    full = every_pair(
        n,
        rng.integers(0, 10, size=m).tolist(),
        rng.integers(-20, 40, size=n * m),
        rng.integers(0, 7, size=n * m),
    )
    keep = rng.random(len(full)) < 0.8
    keep[np.searchsorted(full.unit, np.arange(n))] = True  # every unit keeps a pair
    return restrict_pairs(full, SideRules(), keep)[0]


def brute_force(pairs: Pairs) -> tuple[int | None, list[np.ndarray]]:
    """The best value of a choice that places every unit (None: there is none), and every
    such choice."""
    n = int(pairs.unit.max()) + 1
    options = [np.flatnonzero(pairs.unit == u) for u in range(n)]
    best: int | None = None
    feasible = []
    for pick in itertools.product(*options):
        chosen = np.zeros(len(pairs), dtype=bool)
        chosen[list(pick)] = True
        load = np.bincount(
            pairs.rep[chosen], weights=pairs.effort[chosen], minlength=len(pairs.capacity)
        )
        if np.all(load <= pairs.capacity):
            feasible.append(chosen)
            value = int(pairs.units[chosen].sum())
            best = value if best is None else max(best, value)
    return best, feasible


def assert_valid(pairs: Pairs, chosen: np.ndarray) -> None:
    n = int(pairs.unit.max()) + 1
    assert np.array_equal(np.bincount(pairs.unit[chosen], minlength=n), np.ones(n))
    load = np.bincount(
        pairs.rep[chosen], weights=pairs.effort[chosen], minlength=len(pairs.capacity)
    )
    assert np.all(load <= pairs.capacity)


def forever() -> float:
    return 600.0


@pytest.mark.parametrize("seed", range(200))
def test_search_matches_brute_force(seed: int) -> None:
    """Proven, and the brute-force optimum (or no choice when none places every unit); the
    same from the worst feasible start, which the search must improve on."""
    pairs = random_assignment_book(seed)
    optimum, feasible = brute_force(pairs)
    found = branch_and_bound(pairs, pairs.units, None, forever)
    assert found.proven
    if optimum is None:
        assert found.chosen is None and found.bound is None
        return
    assert found.chosen is not None
    assert_valid(pairs, found.chosen)
    assert int(pairs.units[found.chosen].sum()) == optimum
    assert found.bound == optimum
    worst = min(feasible, key=lambda x: int(pairs.units[x].sum()))
    again = branch_and_bound(pairs, pairs.units, worst, forever)
    assert again.proven and again.chosen is not None
    assert int(pairs.units[again.chosen].sum()) == optimum


@pytest.mark.parametrize("seed", range(30))
def test_search_on_larger_books_matches_the_milp(seed: int) -> None:
    """12-20 units and 3-5 reps with loose-to-tight capacities, against HiGHS' MILP via
    scipy: the same optimum, or both find no choice that places every unit."""
    rng = np.random.default_rng(1000 + seed)
    m, n = int(rng.integers(3, 6)), int(rng.integers(12, 21))
    effort = rng.integers(1, 10, size=n * m)
    capacity = np.maximum(1, (effort.sum() / m / m * rng.uniform(0.7, 1.1, size=m))).astype(int)
    pairs = every_pair(n, capacity.tolist(), rng.integers(5, 50, size=n * m), effort)
    reference = milp_optimum(pairs)
    found = branch_and_bound(pairs, pairs.units, None, forever)
    assert found.proven
    if reference is None:  # infeasible
        assert found.chosen is None
        return
    assert found.chosen is not None
    assert_valid(pairs, found.chosen)
    assert int(pairs.units[found.chosen].sum()) == reference


def milp_optimum(pairs: Pairs) -> int | None:
    """The best value placing every unit (HiGHS' MILP via scipy), None when infeasible."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix

    k, n, m = len(pairs), int(pairs.unit.max()) + 1, len(pairs.capacity)
    rows = [
        LinearConstraint(csr_matrix((np.ones(k), (pairs.unit, np.arange(k))), shape=(n, k)), 1, 1),
        LinearConstraint(
            csr_matrix((pairs.effort.astype(float), (pairs.rep, np.arange(k))), shape=(m, k)),
            -np.inf,
            pairs.capacity,
        ),
    ]
    found = milp(
        -pairs.units.astype(float), constraints=rows, integrality=np.ones(k), bounds=Bounds(0, 1)
    )
    assert found.status in (0, 2)  # solved, or infeasible
    return None if found.status == 2 else round(-found.fun)


def test_stopped_search_keeps_a_valid_bound_and_choice() -> None:
    """OR-Library's d05100 (the knapsack bound is within a unit of the optimum there, but
    the search does not finish in a second): the bound holds for the proven optimum, and the
    choice places every job within capacity, no better than the optimum."""
    pairs = gap_d05100_pairs()
    ends = time.perf_counter() + 1.0
    found = branch_and_bound(pairs, pairs.units, None, lambda: ends - time.perf_counter())
    assert not found.proven
    assert found.bound is not None and found.bound >= -D05100_OPTIMUM
    if found.chosen is not None:
        assert_valid(pairs, found.chosen)
        assert int(pairs.units[found.chosen].sum()) <= -D05100_OPTIMUM


def test_start_that_is_optimal_is_proven_at_once() -> None:
    """A book whose knapsacks at the LP prices place every unit once: the root proves it."""
    pairs = every_pair(2, [2, 2], np.array([5, 1, 1, 5]), np.array([2, 2, 2, 2]))
    found = branch_and_bound(pairs, pairs.units, None, forever)
    assert found.proven and found.chosen is not None
    assert found.chosen.tolist() == [True, False, False, True]
    assert found.bound == 10


# ---------------------------------------------------------------------------------------------
# The value grid
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "places"),
    [
        (np.array([-50.0, 12.0, 3.0, 49.0]), 0),
        (np.array([1.5, 2.25, -7.75, 49.0]), 2),
        (np.array([0.125, 9.999, 3.0]), 3),
        (np.array([47.0, 13.0, 1.0]), 0),  # 1e9 / 47 is not an integer scale
    ],
)
def test_value_grid_recovers_decimal_values(values: np.ndarray, places: int) -> None:
    scaled = scale_values(values, np.arange(len(values)), len(values))
    grid = value_grid(scaled.units, scaled.scale)
    assert grid is not None
    assert np.array_equal(grid.values, np.rint(values * 10**places).astype(np.int64))


def test_value_grid_refuses_values_off_every_grid() -> None:
    values = np.random.default_rng(3).uniform(-100, 100, size=50)
    scaled = scale_values(values, np.arange(50), 50)
    assert value_grid(scaled.units, scaled.scale) is None


@pytest.mark.parametrize("seed", range(20))
def test_grid_bound_holds_in_value_units(seed: int) -> None:
    """A choice worth at most B grid units has at most ``units_above(B)`` value units."""
    rng = np.random.default_rng(seed)
    values = rng.integers(-5000, 5000, size=40) / 100
    scaled = scale_values(values, np.arange(40), 40)
    grid = value_grid(scaled.units, scaled.scale)
    assert isinstance(grid, Grid)
    for _ in range(50):
        chosen = rng.random(40) < 0.5
        total = int(grid.values[chosen].sum())
        assert int(scaled.units[chosen].sum()) <= grid.units_above(total, int(chosen.sum()))


# ---------------------------------------------------------------------------------------------
# The pipeline's knapsack path
# ---------------------------------------------------------------------------------------------


def gap_tables(seed: int, together: bool) -> tuple[pd.DataFrame, ...]:
    """A type-C-like generalized assignment book as leadassign tables (``--pairs`` only, as
    the GAP benchmark writes them): 4 reps, 30 leads (in accounts of two when
    ``together``), score = -cost in 10-50, effort 5-25, capacity 80% of the mean load."""
    rng = np.random.default_rng(seed)
    m, n = 5, 60
    cost = rng.integers(10, 51, size=(n, m))
    effort = rng.integers(5, 26, size=(n, m))
    capacity = np.full(m, int(0.8 * effort.sum() / m / m))
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i:02d}" for i in range(n)],
            "territory": "gap",
            "value": 0,
            "account_id": [f"A{i // 2:02d}" if together else "" for i in range(n)],
        }
    )
    reps = pd.DataFrame(
        {"rep_id": [f"R{j}" for j in range(m)], "territories": "*", "capacity": capacity}
    )
    pairs = pd.DataFrame(
        [
            (f"L{i:02d}", f"R{j}", -int(cost[i, j]), int(effort[i, j]))
            for i in range(n)
            for j in range(m)
        ],
        columns=["lead_id", "rep_id", "score", "effort"],
    )
    return leads, reps, pairs


def gap_milp(leads: pd.DataFrame, reps: pd.DataFrame, pairs: pd.DataFrame) -> int | None:
    """The best total score with every lead (every account at one rep) placed, by scipy's
    HiGHS MILP on the accounts; None when none places every lead."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix

    group = leads["account_id"].where(leads["account_id"] != "", leads["lead_id"])
    table = pairs.assign(unit=pairs["lead_id"].map(dict(zip(leads["lead_id"], group, strict=True))))
    units = table.groupby(["unit", "rep_id"], as_index=False)[["score", "effort"]].sum()
    u = units["unit"].astype("category").cat.codes.to_numpy()
    r = units["rep_id"].map({rep: j for j, rep in enumerate(reps["rep_id"])}).to_numpy()
    k, n, m = len(units), int(u.max()) + 1, len(reps)
    rows = [
        LinearConstraint(csr_matrix((np.ones(k), (u, np.arange(k))), shape=(n, k)), 1, 1),
        LinearConstraint(
            csr_matrix((units["effort"].astype(float), (r, np.arange(k))), shape=(m, k)),
            -np.inf,
            reps["capacity"].to_numpy(dtype=float),
        ),
    ]
    c = -units["score"].to_numpy(dtype=float)
    done = milp(c, constraints=rows, integrality=np.ones(k), bounds=Bounds(0, 1))
    if done.status == 2:
        return None
    assert done.status == 0
    best: float = -done.fun
    return round(best)


def solved_gap_book_twice(seed: int) -> tuple[Any, int]:
    """``gap_tables(seed, False)`` through ``solve`` twice under a work limit of 1: both
    answers the same, every lead placed within capacity, no better than the independent
    MILP's optimum, and passing the independent checker. The first Result and the optimum."""
    from leadassign.check import check_assignments

    leads, reps, pairs = gap_tables(seed, False)
    policy = policy_from_mapping({})
    problem = load_problem(leads, reps, None, pairs, policy=policy)
    first, again = (solve(problem, policy, work_limit=1.0) for _ in range(2))
    optimum = gap_milp(leads, reps, pairs)
    assert optimum is not None
    assert first.assigned == len(leads)
    assert first.objective is not None and first.objective <= optimum + 1e-6
    assert first.objective == again.objective
    assert first.assignments.equals(again.assignments)
    checked = check_assignments(problem, policy, first.assignments)
    assert checked.ok, checked.violations
    assert checked.assigned == len(leads)
    assert checked.score == pytest.approx(first.objective)
    table = first.assignments.merge(pairs, on=["lead_id", "rep_id"])
    load = table.groupby("rep_id")["effort"].sum()
    assert (load <= reps.set_index("rep_id")["capacity"].reindex(load.index)).all()
    return first, optimum


@pytest.mark.parametrize(
    ("seed", "together"), [(s, False) for s in range(4)] + [(s, True) for s in range(4, 7)]
)
def test_pipeline_knapsack_path_matches_milp(
    seed: int, together: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generalized assignment books through ``solve``, HiGHS' MIP phase made to end with
    nothing (as when it runs out of its share of the time), the tabu search left out (it is
    tested in test_gap_tabu.py; here it would spend its whole work share on books the knapsack
    search proves) and the search allowed from the LP's start however far it is from the
    bound: the knapsack search answers, proven, with the independent MILP's optimum and every
    lead placed."""
    solve_module = importlib.import_module("leadassign.solve.search_stages")

    def nothing(*_: Any, **__: Any) -> MipOutcome:
        return MipOutcome(None, None, False)

    monkeypatch.setattr(solve_module.mip, "solve_mip", nothing)
    monkeypatch.setattr(solve_module, "_tabu", lambda _run, _share: False)
    monkeypatch.setattr(solve_module, "KNAPSACK_MAX_GAP", 1.0)  # search from any start
    leads, reps, pairs = gap_tables(seed, together)
    policy = policy_from_mapping({"accounts": {"together": True}} if together else {})
    problem = load_problem(leads, reps, None, pairs, policy=policy)
    result = solve(problem, policy, time_limit_s=60)
    optimum = gap_milp(leads, reps, pairs)
    assert optimum is not None
    assert result.method == "knapsack"
    assert result.status == Status.OPTIMAL and result.gap == 0.0
    assert result.assigned == len(leads)
    assert result.objective == pytest.approx(optimum, abs=1e-6)


def test_knapsack_is_skipped_for_values_off_the_grid() -> None:
    assert value_grid(np.array([3, 7, 11], dtype=np.int64), 1.0) is None
    assert knapsack.solvable(every_pair(1, [1_000_000], np.array([1]), np.array([1])))
    assert not knapsack.solvable(
        every_pair(30, [5_000] * 5, np.ones(150, dtype=np.int64), np.full(150, 200))
    )


def test_node_limit_stops_the_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """d05100 with a work limit of 30 nodes: not proven whatever the time left, at most the
    limit's nodes (plus the root), and the bound still holds."""
    monkeypatch.setattr(knapsack, "MAX_NODES", 30)
    pairs = gap_d05100_pairs()
    found = branch_and_bound(pairs, pairs.units, None, forever)
    assert not found.proven and found.nodes <= 30
    assert found.bound is not None and found.bound >= -D05100_OPTIMUM
