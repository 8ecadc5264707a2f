"""Issue 24, target 3: the value band's first answer without a check over every pair per
try (``heuristics.band_room.BandRoom``, ``starts.filled_within_rules``).

Held against the rules' own check (``SideRules.feasible``) and the independent MILP oracle
and rule evaluator (tests.oracles) on random books of 60-120 leads with a value band: for
every pair that could be added to a choice meeting the band, ``BandRoom.fits`` gives the
same verdict as ``feasible`` on the choice with that pair (including reps in no group);
the fill gives exactly the choice of the check over every pair; a solve's answer passes
the independent checker and never places more leads than the oracle's optimum.
"""

from __future__ import annotations

import numpy as np
import pytest

from leadassign import load_problem, solve
from leadassign.check import check_assignments
from leadassign.compile.prepare import Prepared, prepare
from leadassign.heuristics.band_room import BandRoom
from leadassign.heuristics.repair import fill_by_flows, room_left
from leadassign.models.policy import policy_from_mapping
from leadassign.solve import starts
from leadassign.solve.starts import drafted_start, filled_within_rules
from tests.oracles.books import random_book
from tests.oracles.milp import milp_optimum
from tests.oracles.rules import PolicyDict, RuleBook

BANDS: list[PolicyDict] = [
    {"fairness": {"metric": "value", "band": 0.5, "within": "level"}},
    {"fairness": {"metric": "value", "band": 0.3}},
    {"fairness": {"metric": "value", "band": 0.8, "within": "level"}},
]


def book(seed: int, policy: PolicyDict) -> RuleBook:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(60, 121)), int(rng.integers(4, 9))
    slack = float(rng.uniform(0.7, 1.2))
    return random_book(seed, n, m, policy, slack=slack, owned=0.0, floors=0.0)


def prepared(b: RuleBook) -> Prepared:
    policy = policy_from_mapping(b.policy)
    return prepare(load_problem(b.leads, b.reps, b.affinity, policy=policy), policy)


def thinned(prep: Prepared, chosen: np.ndarray, seed: int) -> np.ndarray:
    """``chosen`` (feasible) less up to a third of its pairs, in random order, each taken
    out only when the rest still meets every hard rule: room for a fill to place."""
    rng = np.random.default_rng(seed)
    out = chosen.copy()
    picked = rng.permutation(np.flatnonzero(chosen))
    for k in picked[: len(picked) // 3].tolist():
        out[k] = False
        if not prep.side.feasible(prep.pairs, out):
            out[k] = True
    return out


def band_start(prep: Prepared, seed: int) -> np.ndarray:
    """A choice meeting every hard rule with room left: the draft's when there is one, else
    a random prefix of the flow's choice cut back until it meets the band, thinned."""
    fair = prep.side.fairness
    assert fair is not None
    pairs = prep.pairs
    estimate = fill_by_flows(pairs, np.zeros(len(pairs), dtype=bool))
    drafted = drafted_start(prep, fair, estimate)
    if drafted is not None:
        return thinned(prep, drafted, seed)
    rng = np.random.default_rng(seed)
    picked = rng.permutation(np.flatnonzero(estimate))
    for size in range(len(picked), -1, -1):
        chosen = np.zeros(len(pairs), dtype=bool)
        chosen[picked[:size]] = True
        if prep.side.feasible(pairs, chosen):
            return thinned(prep, chosen, seed)
    raise AssertionError("the empty choice meets the band")


@pytest.mark.parametrize("band", range(len(BANDS)))
@pytest.mark.parametrize("seed", range(6))
def test_band_room_agrees_with_the_check_over_every_pair(seed: int, band: int) -> None:
    b = book(4100 + 10 * band + seed, BANDS[band])
    prep = prepared(b)
    pairs, fair = prep.pairs, prep.side.fairness
    assert fair is not None
    chosen = band_start(prep, seed)
    assert prep.side.feasible(pairs, chosen)
    room = BandRoom.of(pairs, fair, chosen)
    assert room is not None
    free = room_left(pairs, chosen)
    placed = np.isin(pairs.unit, pairs.unit[chosen])
    tried = 0
    for pick in np.flatnonzero(~placed & (pairs.effort <= free[pairs.rep])).tolist():
        with_pick = chosen.copy()
        with_pick[pick] = True
        expected = prep.side.feasible(pairs, with_pick)
        assert room.fits(int(pairs.rep[pick]), int(fair.metric[pick])) == expected, pick
        tried += 1
    assert tried > 0
    # adding a fitting pair keeps the tracker equal to a fresh one
    fits = [
        k
        for k in np.flatnonzero(~placed & (pairs.effort <= free[pairs.rep])).tolist()
        if room.fits(int(pairs.rep[k]), int(fair.metric[k]))
    ]
    if fits:
        k = fits[0]
        room.add(int(pairs.rep[k]), int(fair.metric[k]))
        chosen[k] = True
        fresh = BandRoom.of(pairs, fair, chosen)
        assert fresh is not None
        assert np.array_equal(fresh.held, room.held) and fresh.total == room.total


@pytest.mark.parametrize("band", range(len(BANDS)))
@pytest.mark.parametrize("seed", range(6))
def test_the_fill_equals_the_fill_checked_over_every_pair(seed: int, band: int) -> None:
    b = book(4200 + 10 * band + seed, BANDS[band])
    prep = prepared(b)
    pairs = prep.pairs
    chosen = band_start(prep, seed)
    for tries in (1, 3, 50):
        fast = filled_within_rules(prep, chosen, tries)
        slow = starts._filled(prep, chosen, tries, None)
        assert np.array_equal(fast, slow)
        assert prep.side.feasible(pairs, fast)
        assert int(fast.sum()) >= int(chosen.sum())


@pytest.mark.parametrize("seed", range(5))
def test_a_value_band_solve_is_checked_and_within_the_oracle(seed: int) -> None:
    b = book(4300 + seed, BANDS[seed % len(BANDS)])
    opt = milp_optimum(b)
    policy = policy_from_mapping(b.policy)
    problem = load_problem(b.leads, b.reps, b.affinity, policy=policy)
    result = solve(problem, policy, workers=1, time_limit_s=20)
    again = solve(problem, policy, workers=1, time_limit_s=20)
    assert result.assignments.equals(again.assignments)  # deterministic
    if opt is None:
        assert not result.has_solution
        return
    assert result.has_solution
    check = check_assignments(problem, policy, result.assignments)
    assert check.ok, check.violations[:5]
    assert result.assigned <= opt.assigned
    if result.assigned_bound is not None:
        assert result.assigned_bound >= opt.assigned
    if result.best_bound is not None and result.assigned_bound == opt.assigned:
        assert result.best_bound >= opt.score * (1 - 1e-9) - 1e-6
