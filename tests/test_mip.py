"""The HiGHS MIP path (engines/mip.py): on tiny instances its proven optimum is the brute-force
optimum (with or without a count bound or a warm start), an infeasible model gives no
solution, whatever it returns is feasible, and a search stopped early keeps its incumbent and
a bound that holds. Through ``solve()``, the MIP path and the CP-SAT path agree on books with
every rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from leadassign import load_problem, solve
from leadassign.compile.families import SideRules
from leadassign.compile.prepare import prepare
from leadassign.engines import mip
from leadassign.engines.cpsat import CpSatSettings
from leadassign.engines.lp import LpOutcome, build_relaxation, objective, solve_relaxation
from leadassign.engines.mip import solve_mip
from leadassign.models.policy import policy_from_mapping
from tests.helpers import every_pair
from tests.oracles.books import ALL_RULES, FAIR_VALUE, random_book
from tests.oracles.checker import run_leadassign
from tests.oracles.gap import D05100_OPTIMUM, gap_d05100_pairs
from tests.test_lp import brute_optimum, every_choice, tiny_case

SETTINGS = CpSatSettings(time_limit_s=20)


@pytest.mark.parametrize("seed", range(36))
def test_mip_optimum_is_the_brute_force_optimum(seed: int) -> None:
    pairs, side = tiny_case(seed)
    optimum = brute_optimum(pairs, side)
    found = solve_mip(pairs, side, SETTINGS, 20)
    if optimum is None:
        assert found.chosen is None and not found.optimal
        return
    assert found.optimal and found.chosen is not None
    assert side.feasible(pairs, found.chosen)
    assert found.count_upper == optimum[0]
    assert (int(pairs.size[found.chosen].sum()), side.score(pairs, found.chosen)) == optimum


def test_a_short_limit_returns_nothing_unproven() -> None:
    # 0.01 s stops HiGHS before it proves anything on this book; nothing is claimed.
    book = random_book(7, 400, 20, ALL_RULES, effort=True)
    policy = policy_from_mapping(book.policy)
    problem = load_problem(book.leads, book.reps, book.affinity, policy=policy)
    prep = prepare(problem, policy)
    found = solve_mip(prep.pairs, prep.side, SETTINGS, 0.01)
    assert not found.optimal
    if found.chosen is not None:
        assert prep.side.feasible(prep.pairs, found.chosen)


BOOKS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "all rules, efforts": (ALL_RULES, {"effort": True}),
    "all rules": (ALL_RULES, {}),
    "accounts, efforts": ({"accounts": {"together": True}}, {"effort": True}),
    "continuity, efforts": ({"continuity": {"max_reassign": 0.3}}, {"effort": True}),
    "value fairness": ({"fairness": FAIR_VALUE}, {"win_rates": (0.3,)}),
}


#: books smaller than 160 x 8 where both paths are CP-SAT's anyway and 160 x 8 costs ~20 s
SIZES = {"value fairness": (100, 6)}


@pytest.mark.parametrize("name", sorted(BOOKS))
def test_mip_and_cpsat_paths_agree(name: str) -> None:
    rules, options = BOOKS[name]
    book = random_book(31, *SIZES.get(name, (160, 8)), rules, **options)
    problem, policy, auto = run_leadassign(book)
    forced = solve(problem, policy, method="cpsat", workers=2, time_limit_s=60)
    assert auto.method in ("mip", "cpsat") and forced.method == "cpsat"
    if name.startswith("all rules"):
        assert auto.method == "mip"  # so the comparison is between the two paths
    assert auto.status.value == forced.status.value == "OPTIMAL"
    assert auto.assigned == forced.assigned
    assert auto.objective is not None and forced.objective is not None
    assert np.isclose(auto.objective, forced.objective, rtol=1e-9, atol=0)
    assert auto.gap == 0.0


@pytest.mark.parametrize("seed", range(36))
@pytest.mark.parametrize("slack", [0, 1])
def test_a_count_bound_gives_the_same_optimum(seed: int, slack: int) -> None:
    """With the count bound the relaxations give (exact, or one above the optimum's count so
    that the one-solve floor is infeasible and the count phase runs), the same optimum."""
    pairs, side = tiny_case(seed)
    optimum = brute_optimum(pairs, side)
    if optimum is None:
        return
    found = solve_mip(pairs, side, SETTINGS, 20, count_upper=optimum[0] + slack)
    assert found.optimal and found.chosen is not None
    assert side.feasible(pairs, found.chosen)
    assert found.count_upper == optimum[0] and found.units_upper == optimum[1]
    assert (int(pairs.size[found.chosen].sum()), side.score(pairs, found.chosen)) == optimum


@pytest.mark.parametrize("seed", range(36))
def test_a_feasible_start_at_the_count_bound_is_warm(seed: int) -> None:
    """A start with the most leads (here the optimum itself, or the first feasible choice with
    that count) is taken as HiGHS' warm start; the answer is still the optimum."""
    pairs, side = tiny_case(seed)
    optimum = brute_optimum(pairs, side)
    if optimum is None:
        return
    start = next(
        x
        for x in every_choice(len(pairs))
        if side.feasible(pairs, x) and int(pairs.size[x].sum()) == optimum[0]
    )
    found = solve_mip(pairs, side, SETTINGS, 20, start=start, count_upper=optimum[0])
    assert found.optimal and found.chosen is not None
    assert (int(pairs.size[found.chosen].sum()), side.score(pairs, found.chosen)) == optimum


def test_a_limit_keeps_the_incumbent_and_a_valid_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hard generalized-assignment book stopped after 20 nodes: HiGHS hands back its
    incumbent (every job assigned, within capacity, no better than the optimum) and a bound
    that holds for the proven optimum."""
    pairs = gap_d05100_pairs()
    n = int(pairs.unit.max()) + 1
    side = SideRules()
    monkeypatch.setattr(mip, "MAX_NODES", 20)
    early = solve_mip(pairs, side, SETTINGS, 60, count_upper=n)
    assert not early.optimal  # (HiGHS needs thousands of nodes for this one)
    assert early.chosen is not None and side.feasible(pairs, early.chosen)
    assert int(early.chosen.sum()) == n and early.count_upper == n
    assert -side.score(pairs, early.chosen) >= D05100_OPTIMUM
    assert early.units_upper is not None and -early.units_upper <= D05100_OPTIMUM


def test_free_units_takes_split_units_then_the_least_regret() -> None:
    """Five units on two reps: unit 0 split by the LP, the others whole at one rep with
    moves costing 5, 1, 3 and 8 (by reduced costs); a unit the LP leaves out costs what
    joining it would. A budget of four pairs frees the split unit and the cheapest move."""
    pairs = every_pair(5, [5, 5], np.zeros(10, dtype=np.int64))
    x = np.array([0.5, 0.5, 1, 0, 0, 1, 1, 0, 0, 1], dtype=np.float64)
    reduced = np.array([0, 0, 0, -5, -1, 0, 2, -1, -8, 0], dtype=np.float64)
    free = mip.free_units(pairs, LpOutcome(x, 0.0, reduced), budget=4)
    assert free is not None
    assert np.flatnonzero(free).tolist() == [0, 1, 4, 5]
    # Unit 3's move costs 2 - (-1) = 3: third; six pairs would be half the book.
    assert mip.free_units(pairs, LpOutcome(x, 0.0, reduced), budget=6) is None
    # A unit the LP leaves out: its regret is the cost of joining (here 0.5, the least).
    x[2] = 0.0
    reduced[2:4] = [-0.5, -4]
    free = mip.free_units(pairs, LpOutcome(x, 0.0, reduced), budget=4)
    assert free is not None and np.flatnonzero(free).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("seed", range(36))
def test_the_neighbourhood_mip_is_feasible_and_at_least_its_first_neighbourhood(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On tiny books, with one pair's worth of free units to start: the answer meets every
    rule with the count of the floor, is no better than the optimum, and no worse than the
    best choice (by brute force) in the first neighbourhood, which every later one holds."""
    pairs, side = tiny_case(seed)
    optimum = brute_optimum(pairs, side)
    if optimum is None:
        return
    count = optimum[0]
    relax = build_relaxation(pairs, side)
    lp = solve_relaxation(
        relax, pairs.units, penalize=True, floor=(pairs.size, float(count)), time_limit_s=10
    )
    assert lp is not None
    monkeypatch.setattr(mip, "FREE_PAIRS", 1)
    free = mip.free_units(pairs, lp, 1)
    if free is None:
        return
    on = lp.x > 0.5
    inside = [
        x
        for x in every_choice(len(pairs))
        if not (x & ~on & ~free).any()
        and (x | ~(on & ~free)).all()
        and side.feasible(pairs, x)
        and int(pairs.size[x].sum()) >= count
    ]
    c = objective(relax, pairs.units.astype(np.float64), True)
    floored = relax.with_floor(pairs.size, float(count))
    found = mip.neighbourhood_mip(floored, c, pairs, count, lp, SETTINGS, 20)
    if not inside:
        return  # the first neighbourhood is empty; later ones may not be
    assert found is not None and side.feasible(pairs, found)
    assert int(pairs.size[found].sum()) == count
    best_inside = max(side.score(pairs, x) for x in inside)
    assert best_inside <= side.score(pairs, found) <= optimum[1]


def test_the_neighbourhood_mip_on_a_gap_book(monkeypatch: pytest.MonkeyPatch) -> None:
    """OR-Library's d05100 with 50 free pairs (10 jobs) to start: every job assigned within
    capacity, close to the optimum (the LP's bound is 6,345.4; HiGHS' whole-book search
    needs thousands of nodes for the optimum 6,353)."""
    pairs = gap_d05100_pairs()
    side = SideRules()
    n = int(pairs.unit.max()) + 1
    relax = build_relaxation(pairs, side)
    floor = (pairs.size, float(n))
    lp = solve_relaxation(relax, pairs.units, penalize=True, floor=floor, time_limit_s=30)
    assert lp is not None
    monkeypatch.setattr(mip, "FREE_PAIRS", 50)
    c = objective(relax, pairs.units.astype(np.float64), True)
    found = mip.neighbourhood_mip(relax.with_floor(*floor), c, pairs, n, lp, SETTINGS, 60)
    assert found is not None and side.feasible(pairs, found)
    assert int(found.sum()) == n
    cost = -side.score(pairs, found)
    assert D05100_OPTIMUM <= cost <= D05100_OPTIMUM * 1.005
