"""The churn limit by a Lagrangian bonus over min-cost flows (engines.lagrangian.churn_flow) and the
'lagrangian' path of solve() that large books take.

churn_flow is checked against brute force on tiny books (every assignment enumerated):
it returns a choice exactly when one with the most leads meets the limit, that choice
meets every rule, and its bound is at least the true optimum. The solve() path is checked
against the independent HiGHS MILP of tests.oracles.milp on random books, with the size
threshold lowered so that these small books take it.
"""

from __future__ import annotations

import functools
import importlib
import itertools
from typing import Any

import numpy as np
import pytest

from leadassign.check import check_assignment
from leadassign.compile.families import Continuity
from leadassign.compile.pairs import Pairs
from leadassign.engines.flow import solve_flow
from leadassign.engines.lagrangian import churn_flow
from leadassign.engines.priced_flows import ArcSubset, Solved, priced_subset
from leadassign.result import Result
from leadassign.solve import Start
from tests.oracles import checker
from tests.oracles.books import random_book
from tests.oracles.checker import run_leadassign
from tests.oracles.milp import milp_optimum
from tests.oracles.rules import REL_TOL, RuleBook

# the modules, not the function that leadassign re-exports under the package's name
solve_module = importlib.import_module("leadassign.solve.pipeline")
stages_module = importlib.import_module("leadassign.solve.flow_stages")


def tiny(seed: int) -> tuple[Pairs, Continuity, int, np.ndarray, np.ndarray, np.ndarray]:
    """A tiny book: pairs, the churn rule, leads, rep bounds, and each lead's owner."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 7)), int(rng.integers(1, 4))
    eligible = rng.random((n, m)) < 0.7
    lead, rep = np.nonzero(eligible)
    lead, rep = lead.astype(np.int64), rep.astype(np.int64)
    units = rng.integers(0, 50, len(lead)).astype(np.int64)
    high = rng.integers(0, 4, m).astype(np.int64)
    low = np.minimum(high, rng.integers(0, 2, m)).astype(np.int64)
    owner = np.where(rng.random(n) < 0.7, rng.integers(0, m, n), -1)
    kept = (owner[lead] == rep).astype(np.int64)
    keepable = int(np.bincount(lead[kept > 0], minlength=n).astype(bool).sum())
    limit = int(rng.integers(0, keepable + 1))
    pairs = Pairs(
        unit=lead,
        rep=rep,
        effort=np.ones(len(lead), dtype=np.int64),
        units=units,
        capacity=high,
        min_leads=low,
        size=np.ones(len(lead), dtype=np.int64),
    )
    return pairs, Continuity(kept, keepable, limit), n, low, high, owner


def brute(
    pairs: Pairs, churn: Continuity, n: int, low: np.ndarray, high: np.ndarray
) -> tuple[int, int | None]:
    """(the most leads within the rep bounds, the best among choices with that many leads):
    for a hard limit the best value among those that meet it, or None; for a soft one
    (``churn.penalty``) the best score, value minus the penalty per change above it."""
    options = [[-1, *np.flatnonzero(pairs.unit == i).tolist()] for i in range(n)]
    most, best = -1, None
    for pick in itertools.product(*options):
        chosen = np.array([k for k in pick if k >= 0], dtype=np.int64)
        load = np.bincount(pairs.rep[chosen], minlength=len(high))
        if np.any(load < low) or np.any(load > high):
            continue
        count = len(chosen)
        over = churn.keepable - int(churn.kept[chosen].sum()) - churn.limit
        value = int(pairs.units[chosen].sum())
        if churn.penalty is None:
            score = value if over <= 0 else None
        else:
            score = value - churn.penalty * max(over, 0)
        if count > most:
            most, best = count, score
        elif count == most and score is not None and (best is None or score > best):
            best = score
    return most, best


def assert_against_brute_force(
    pairs: Pairs,
    churn: Continuity,
    n: int,
    low: np.ndarray,
    high: np.ndarray,
    guess: int | None = None,
) -> None:
    """churn_flow (from ``guess``, if any) against brute force: a choice exactly when one
    with the most leads meets a hard limit (a soft one always has one), within the rep
    bounds, one rep per lead, the most leads, the limit met when hard, and a value (a score,
    when soft) at most the optimum, which is at most the bound."""
    most, best = brute(pairs, churn, n, low, high)
    out = churn_flow(pairs, churn, n, low, high, tolerance=0.0, max_flows=64, guess=guess)
    if most < 0 or best is None:
        assert out is None or out.chosen is None
        return
    assert out is not None and out.chosen is not None
    chosen = out.chosen
    assert np.bincount(pairs.unit[chosen], minlength=n).max(initial=0) <= 1
    load = np.bincount(pairs.rep[chosen], minlength=len(high))
    assert np.all(load >= low) and np.all(load <= high)
    assert int(chosen.sum()) == most
    changes = churn.keepable - int(churn.kept[chosen].sum())
    score = int(pairs.units[chosen].sum())
    if churn.penalty is None:
        assert changes <= churn.limit
    else:
        score -= churn.penalty * max(changes - churn.limit, 0)
    assert score <= best <= out.bound


@pytest.mark.parametrize("seed", range(150))
def test_churn_flow_against_brute_force(seed: int) -> None:
    pairs, churn, n, low, high, _ = tiny(seed)
    assert_against_brute_force(pairs, churn, n, low, high)


@pytest.mark.parametrize("seed", range(150))
def test_soft_churn_flow_against_brute_force(seed: int) -> None:
    """A soft limit (penalty 1-60 per change above it)."""
    pairs, hard, n, low, high, _ = tiny(seed)
    penalty = int(np.random.default_rng(seed).integers(1, 61))
    churn = Continuity(hard.kept, hard.keepable, hard.limit, penalty)
    if brute(pairs, churn, n, low, high)[0] >= 0:  # a soft limit always leaves a choice
        out = churn_flow(pairs, churn, n, low, high, tolerance=0.0, max_flows=64)
        assert out is not None and out.chosen is not None
    assert_against_brute_force(pairs, churn, n, low, high)


@pytest.mark.parametrize("seed", range(150))
def test_churn_flow_on_a_subset_of_pairs(seed: int) -> None:
    """On a random half of the pairs (widened as the prices ask), every choice still meets
    every rule over the whole book, and the bound, taken over all pairs, is at least the
    whole book's optimum whenever the search kept the most leads."""
    pairs, churn, n, low, high, _ = tiny(seed)
    most, best = brute(pairs, churn, n, low, high)
    half = np.random.default_rng(seed).random(len(pairs)) < 0.5
    subset = ArcSubset(pairs.unit, pairs.rep, n, half, per_lead=1)
    out = churn_flow(pairs, churn, n, low, high, tolerance=0.0, max_flows=64, flows=subset)
    if out is None or out.chosen is None:
        return
    chosen = out.chosen
    assert np.bincount(pairs.unit[chosen], minlength=n).max(initial=0) <= 1
    load = np.bincount(pairs.rep[chosen], minlength=len(high))
    assert np.all(load >= low) and np.all(load <= high)
    assert churn.keepable - int(churn.kept[chosen].sum()) <= churn.limit
    assert int(chosen.sum()) <= most
    if int(chosen.sum()) == most:
        assert best is not None and int(pairs.units[chosen].sum()) <= best <= out.bound


@pytest.mark.parametrize("seed", range(40))
def test_a_given_start_saves_the_first_flow(seed: int) -> None:
    """Passing the plain flow's optimum as ``start`` changes nothing but the flow count."""
    pairs, churn, n, low, high, _ = tiny(seed)
    plain = solve_flow(pairs.unit, pairs.rep, pairs.units, n, high, low)
    if plain.chosen is None:
        return
    cold = churn_flow(pairs, churn, n, low, high, tolerance=0.0, max_flows=64)
    value = int(pairs.units[plain.chosen].sum())
    start = Solved(plain.chosen, int(plain.chosen.sum()), value, value)
    warm = churn_flow(pairs, churn, n, low, high, tolerance=0.0, max_flows=64, start=start)
    assert (cold is None) == (warm is None)
    if cold is not None and warm is not None:
        assert warm.bound == cold.bound and warm.flows == cold.flows - 1
        assert cold.chosen is not None and warm.chosen is not None
        assert np.array_equal(warm.chosen, cold.chosen)


@pytest.mark.parametrize("seed", range(150))
def test_a_guessed_bonus_against_brute_force(seed: int) -> None:
    """A guessed bonus (a scenario's base) anywhere from 1 to past the largest, hard and
    soft limits: the same guarantees as without one."""
    pairs, hard, n, low, high, _ = tiny(seed)
    rng = np.random.default_rng(1000 + seed)
    soft = Continuity(hard.kept, hard.keepable, hard.limit, int(rng.integers(1, 61)))
    for churn in (hard, soft):
        guess = int(rng.integers(1, 2 * int(pairs.units.max(initial=0)) + 3))
        assert_against_brute_force(pairs, churn, n, low, high, guess)


def a_churn_book(seed: int, n: int = 3000, m: int = 30) -> tuple[Pairs, Continuity]:
    """A book big enough for the bonus search to take a dozen flows: each lead eligible at
    about a third of the reps, two thirds of them owned, a tenth of the owners may change."""
    rng = np.random.default_rng(seed)
    lead, rep = np.nonzero(rng.random((n, m)) < 0.3)
    lead, rep = lead.astype(np.int64), rep.astype(np.int64)
    units = rng.integers(1_000_000, 50_000_000, len(lead)).astype(np.int64)
    # each lead's owner: one of its reps at random, for two leads in three
    starts = np.flatnonzero(np.r_[True, lead[1:] != lead[:-1]])
    sizes = np.diff(np.r_[starts, len(lead)])
    owner_pair = starts + (rng.random(len(starts)) * sizes).astype(np.int64)
    owner_pair = owner_pair[rng.random(len(starts)) < 0.66]
    kept = np.zeros(len(lead), dtype=np.int64)
    kept[owner_pair] = 1
    keepable = int(kept.sum())
    capacity = np.full(m, n // m + 10, dtype=np.int64)
    pairs = Pairs(
        unit=lead,
        rep=rep,
        effort=np.ones(len(lead), dtype=np.int64),
        units=units,
        capacity=capacity,
        min_leads=np.zeros(m, dtype=np.int64),
        size=np.ones(len(lead), dtype=np.int64),
    )
    return pairs, Continuity(kept, keepable, keepable // 10)


@pytest.mark.parametrize("seed", range(3))
def test_a_near_guess_saves_flows(seed: int) -> None:
    """Guessing the bonus a similar book settled on (here: the same book with a few values
    changed, as a scenario's variant) brackets the new one in a few flows: fewer flows than
    the search from nothing, at least as close to the bound."""
    pairs, churn = a_churn_book(seed)
    n, low, high = int(pairs.unit.max()) + 1, pairs.min_leads, pairs.capacity
    base = churn_flow(pairs, churn, n, low, high, tolerance=1e-6)
    assert base is not None and base.chosen is not None and base.multiplier > 0
    rng = np.random.default_rng(seed)
    changed = rng.random(len(pairs.units)) < 0.05
    units = np.where(changed, pairs.units * 13 // 10, pairs.units)
    variant = Pairs(
        pairs.unit, pairs.rep, pairs.effort, units, pairs.capacity, pairs.min_leads, pairs.size
    )
    cold = churn_flow(variant, churn, n, low, high, tolerance=1e-6)
    warm = churn_flow(variant, churn, n, low, high, tolerance=1e-6, guess=base.multiplier)
    assert cold is not None and warm is not None
    assert cold.chosen is not None and warm.chosen is not None
    assert warm.flows < cold.flows, (warm.flows, cold.flows)
    for out in (cold, warm):
        value = int(variant.units[out.chosen].sum())
        assert churn.keepable - int(churn.kept[out.chosen].sum()) <= churn.limit
        assert out.bound - value <= 1e-6 * out.bound


def test_unbinding_limit_is_the_plain_flow() -> None:
    """A limit every optimum already meets: one flow, the optimum, bound = its value."""
    pairs, churn, n, low, high, _ = tiny(3)
    loose = Continuity(churn.kept, churn.keepable, churn.keepable)
    out = churn_flow(pairs, loose, n, low, high)
    _, best = brute(pairs, loose, n, low, high)
    if best is None:
        pytest.skip("bounds infeasible for this seed")
    assert out is not None and out.chosen is not None and out.flows == 1
    assert int(pairs.units[out.chosen].sum()) == best == out.bound


def assert_lagrangian_matches_milp(book: RuleBook) -> Result:
    """``book`` takes the Lagrangian path: the MILP's count, every rule (independent
    checker), a score no better than the MILP optimum and a bound no lower than it."""
    optimum = milp_optimum(book)
    assert optimum is not None
    problem, policy, result = run_leadassign(book)
    assert result.method == "lagrangian", result.method
    assert result.assigned == optimum.assigned
    check = check_assignment(problem, policy, result.assignments["rep_id"].fillna("").tolist())
    assert not check.violations, check.violations[:5]
    assert result.objective is not None and result.best_bound is not None
    slack = REL_TOL * abs(optimum.score) + 1e-6
    assert result.objective <= optimum.score + slack
    assert result.best_bound >= optimum.score - slack
    return result


@pytest.mark.parametrize("seed", range(3))
def test_soft_churn_takes_the_lagrangian_path_and_matches_milp(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A soft churn limit (weight per change above it) on books the Lagrangian path takes:
    the most leads, every hard rule, a score no better than the MILP optimum and a bound
    no lower than it. Before, these books went to CP-SAT from a start that kept every owner
    (at 10,000 x 200: 2.6% from its bound after 120 s)."""
    monkeypatch.setattr(stages_module, "LAGRANGIAN_ONLY_PAIRS", 0)
    book = random_book(
        520 + seed,
        300,
        12,
        {"continuity": {"max_reassign": 0.05, "mode": "soft", "weight": 300.0}},
        slack=2.0,
        floors=0.0,
        keepable_owners=True,
    )
    assert_lagrangian_matches_milp(book)


def issue4_book(seed: int, n_leads: int) -> RuleBook:
    """A random book of ``n_leads`` leads x 12 reps with tiers, a count fairness band and a
    binding churn limit (the issue-4 rules), which takes the Lagrangian path; band and
    limit alternate with the seed's parity."""
    band, max_reassign = ((0.9, 0.2), (0.7, 0.3))[seed % 2]
    return random_book(
        seed,
        n_leads,
        12,
        {
            "tiers": [{"min_value": 6000, "min_level": 2}],
            "fairness": {"metric": "count", "band": band},
            "continuity": {"max_reassign": max_reassign},
        },
        slack=2.0,
        floors=0.0,
        keepable_owners=True,
    )


@pytest.mark.parametrize(
    ("seed", "subset"), [(s, False) for s in range(4)] + [(0, True), (1, True)]
)
def test_lagrangian_path_against_milp(
    seed: int, subset: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Books with tiers, a count fairness band and a binding churn limit take the
    Lagrangian path: every rule holds (independent checker), the most leads, a score no
    better than the MILP optimum and a bound no lower than it. With ``subset`` the flows run
    on a priced subset of the pairs, as on books of over a million pairs."""
    monkeypatch.setattr(stages_module, "LAGRANGIAN_ONLY_PAIRS", 0)
    made: list[ArcSubset] = []
    if subset:
        monkeypatch.setattr(stages_module, "SUBSET_PAIRS", 0)
        monkeypatch.setattr(stages_module, "SUBSET_PER_LEAD", 2)

        def spy(*args: Any, **kwargs: Any) -> ArcSubset:
            made.append(priced_subset(*args, **kwargs))
            return made[-1]

        monkeypatch.setattr(stages_module, "priced_subset", spy)
    book = issue4_book(500 + seed, 300)
    result = assert_lagrangian_matches_milp(book)
    assert result.gap is not None and result.gap < 1e-2
    if subset:  # the flows ran on a subset of the pairs
        assert len(made) == 1 and made[0].flows > 0 and made[0].size < len(made[0].lead)


def test_a_start_with_its_keep_bonus_saves_flows(monkeypatch: pytest.MonkeyPatch) -> None:
    """solve() records the churn search's bonus (Result.keep_bonus, in value per kept owner);
    a start that carries it (a scenario's base) begins the search there: fewer flows, and
    the answer still matches the MILP."""
    monkeypatch.setattr(stages_module, "LAGRANGIAN_ONLY_PAIRS", 0)
    searches: list[Any] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        searches.append(churn_flow(*args, **kwargs))
        return searches[-1]

    monkeypatch.setattr(stages_module, "churn_flow", spy)
    book = random_book(
        501,
        300,
        12,
        {
            "tiers": [{"min_value": 6000, "min_level": 2}],
            "fairness": {"metric": "count", "band": 0.7},
            "continuity": {"max_reassign": 0.3},
        },
        slack=2.0,
        floors=0.0,
        keepable_owners=True,
    )
    cold = assert_lagrangian_matches_milp(book)
    assert cold.keep_bonus is not None and cold.keep_bonus > 0
    assert cold.keep_bonus * cold.value_scale == searches[-1].multiplier
    owners = cold.assignments.dropna(subset=["rep_id"])
    previous = dict(zip(owners["lead_id"], owners["rep_id"], strict=True))
    start = Start(previous, cold.keep_bonus)
    # run_leadassign solves through tests.oracles.checker's name for solve()
    monkeypatch.setattr(checker, "solve", functools.partial(solve_module.solve, start=start))
    assert_lagrangian_matches_milp(book)
    assert searches[-1].flows < searches[0].flows, [s.flows for s in searches]
