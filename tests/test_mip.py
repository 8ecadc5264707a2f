"""The HiGHS MIP path (solver/mip.py): on tiny instances its proven optimum is the brute-force
optimum (with or without a count bound or a warm start), an infeasible model gives no
solution, whatever it returns is feasible, and a search stopped early keeps its incumbent and
a bound that holds. Through ``solve()``, the MIP path and the CP-SAT path agree on books with
every rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from leadassign import load_problem, solve
from leadassign.models.policy import policy_from_mapping
from leadassign.solver import mip
from leadassign.solver.cpsat import CpSatSettings, SideRules
from leadassign.solver.mip import solve_mip
from leadassign.solver.rules import prepare
from tests.helpers import D05100_OPTIMUM, gap_d05100_pairs
from tests.test_lp import brute_optimum, every_choice, tiny_case
from tests.test_rules_milp import ALL_RULES, FAIR_VALUE, random_book, run_leadassign

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


@pytest.mark.parametrize("name", sorted(BOOKS))
def test_mip_and_cpsat_paths_agree(name: str) -> None:
    rules, options = BOOKS[name]
    book = random_book(31, 160, 8, rules, **options)
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
