"""Issue 24, target 3: the value band at the full count (``heuristics/band_repair.py``,
``solve/band_stages.py``).

On random books of 60-120 leads with a hard value band whose flow choice (every lead the
flow can place) breaks the band, held against the rules' own check, the independent rule
evaluator (``leadassign.check``) and the MILP oracle (tests.oracles): the repair keeps the
flow's count, meets the band in exact integers and every other hard rule, and is
deterministic; where it succeeds, the oracle's count equals the flow's (so the repair
reached the count bound). The whole solve with the band stages turned on for small books
(``MIN_PAIRS`` lowered) passes the checker, places the oracle's count, never reports a
value above the oracle's optimum nor a bound below it, and is deterministic; the band's
Lagrangian bound with every flow traded into the band stays at or above the optimum.
The repair's variants (value-blind, value-aware, wide looks) each keep the count, meet
every rule and are deterministic, and the value-aware one keeps more value than the blind
one over these books.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from leadassign import load_problem, solve
from leadassign.check import check_assignments
from leadassign.compile.prepare import Prepared, prepare
from leadassign.engines.priced_flows import AllArcs
from leadassign.engines.value_band import value_band_bound
from leadassign.heuristics.band_repair import LOOKS, VALUE_SHARE, WIDE_LOOKS, Looks, repair_band
from leadassign.heuristics.repair import fill_by_flows
from leadassign.models.policy import policy_from_mapping
from leadassign.solve import band_stages
from tests.oracles.books import random_book
from tests.oracles.milp import milp_most, milp_optimum
from tests.oracles.rules import PolicyDict, RuleBook

BANDS: list[PolicyDict] = [
    {"fairness": {"metric": "value", "band": 0.5, "within": "level"}},
    {"fairness": {"metric": "value", "band": 0.3}},
    {"fairness": {"metric": "value", "band": 0.2, "within": "level"}},
]
SEEDS = range(8)


def book(seed: int, policy: PolicyDict) -> RuleBook:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(60, 121)), int(rng.integers(4, 9))
    return random_book(seed, n, m, policy, slack=0.8, owned=0.0, floors=0.3, leave=0.0)


def prepared(b: RuleBook) -> Prepared:
    policy = policy_from_mapping(b.policy)
    return prepare(load_problem(b.leads, b.reps, b.affinity, policy=policy), policy)


def flow_choice(prep: Prepared) -> np.ndarray:
    return fill_by_flows(prep.pairs, np.zeros(len(prep.pairs), dtype=bool))


def repaired_cases() -> list[tuple[int, int]]:
    """(seed, band) of the books whose flow choice breaks the band (computed once)."""
    cases = []
    for band in range(len(BANDS)):
        for seed in SEEDS:
            prep = prepared(book(5100 + 10 * band + seed, BANDS[band]))
            if not prep.side.feasible(prep.pairs, flow_choice(prep)):
                cases.append((seed, band))
    return cases


CASES = repaired_cases()
#: The oracle's books: HiGHS does not prove those of the band of 0.3 over all reps (band 1)
#: within the oracle's time limit.
ORACLE = [case for case in CASES if case[1] != 1]


def test_most_books_need_the_repair() -> None:
    assert len(CASES) >= len(SEEDS) * len(BANDS) // 2, CASES


@pytest.mark.parametrize(("seed", "band"), CASES)
def test_the_repair_keeps_the_count_and_meets_every_rule(seed: int, band: int) -> None:
    b = book(5100 + 10 * band + seed, BANDS[band])
    prep = prepared(b)
    repaired = checked_repair(prep, flow_choice(prep))
    if repaired is not None:
        assert milp_most(b) == int(prep.pairs.size[repaired].sum())


def checked_repair(
    prep: Prepared, start: np.ndarray, looks: Looks = LOOKS, share: Fraction | None = VALUE_SHARE
) -> np.ndarray | None:
    """``start`` traded into the band (``repair_band``), checked: the same answer twice, the
    same count, the band and every other rule met (None: the repair stopped, twice)."""
    pairs, fair = prep.pairs, prep.side.fairness
    assert fair is not None
    repaired = repair_band(pairs, fair, start, looks=looks, value_share=share)
    again = repair_band(pairs, fair, start, looks=looks, value_share=share)
    if repaired is None:
        assert again is None
        return None
    assert again is not None and np.array_equal(repaired, again)  # deterministic
    assert int(repaired.sum()) == int(start.sum())
    assert fair.excess(pairs, repaired) == 0
    assert prep.side.feasible(pairs, repaired)
    return repaired


def test_the_repair_succeeds_on_half_the_books() -> None:
    """A heuristic: on these small books (4-8 reps of about 15 leads, where one trade
    moves a rep's metric by a large step) it reaches the band on 13 of 23; the oracle
    shows the full count feasible on some of the others (the stage then falls back to the
    drafts). On the benchmark books (200-300 reps) it reached the band every time."""
    done = 0
    for seed, band in CASES:
        prep = prepared(book(5100 + 10 * band + seed, BANDS[band]))
        assert prep.side.fairness is not None
        done += repair_band(prep.pairs, prep.side.fairness, flow_choice(prep)) is not None
    assert done >= len(CASES) // 2, (done, len(CASES))


@pytest.mark.parametrize(("seed", "band"), ORACLE[::3])
def test_the_bound_with_traded_flows_is_at_or_above_the_optimum(seed: int, band: int) -> None:
    b = book(5100 + 10 * band + seed, BANDS[band])
    prep = prepared(b)
    pairs, fair = prep.pairs, prep.side.fairness
    assert fair is not None
    start = repair_band(pairs, fair, flow_choice(prep))
    opt = milp_optimum(b)
    if start is None or opt is None:
        return
    seen: list[int] = []

    def traded(chosen: np.ndarray) -> int | None:
        repaired = repair_band(pairs, fair, chosen)
        if repaired is None:
            return None
        assert int(repaired.sum()) == int(start.sum()) and prep.side.feasible(pairs, repaired)
        seen.append(int(pairs.units[repaired].sum()))
        return seen[-1]

    flows = AllArcs(pairs.unit, pairs.rep, int(prep.cands.n_leads))
    count = int(start.sum())
    bound = value_band_bound(
        pairs, fair, flows, count, int(pairs.units[start].sum()), on_flow=traded
    )
    assert bound is not None
    # the oracle's optimum in value units (each pair's units are its score, rounded)
    assert bound / prep.scale >= opt.score - count / prep.scale - 1e-6
    assert all(units / prep.scale <= opt.score + count / prep.scale + 1e-6 for units in seen)


SOLVED = ORACLE[1::3]


@pytest.mark.parametrize(("seed", "band"), SOLVED)
def test_a_solve_through_the_band_stages_is_checked_and_within_the_oracle(
    seed: int, band: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(band_stages, "MIN_PAIRS", 0)
    b = book(5100 + 10 * band + seed, BANDS[band])
    opt = milp_optimum(b)
    policy = policy_from_mapping(b.policy)
    problem = load_problem(b.leads, b.reps, b.affinity, policy=policy)
    result = solve(problem, policy, workers=1, time_limit_s=20, method="cpsat")
    again = solve(problem, policy, workers=1, time_limit_s=20, method="cpsat")
    assert result.assignments.equals(again.assignments)  # deterministic
    assert opt is not None and result.has_solution
    check = check_assignments(problem, policy, result.assignments)
    assert check.ok, check.violations[:5]
    assert result.assigned <= opt.assigned
    assert result.objective is not None
    if result.assigned == opt.assigned:
        assert result.objective <= opt.score * (1 + 1e-9) + 1e-6
    if result.best_bound is not None and result.assigned_bound == opt.assigned:
        assert result.best_bound >= opt.score * (1 - 1e-9) - 1e-6


VARIANTS: list[tuple[Looks, Fraction | None]] = [
    (LOOKS, None),  # value-blind: the most violation removed first
    (LOOKS, Fraction(1, 10)),
    (WIDE_LOOKS, Fraction(1, 10)),
    (WIDE_LOOKS, Fraction(1, 2)),
]


@pytest.mark.parametrize("variant", range(len(VARIANTS)))
def test_every_variant_of_the_repair_keeps_the_count_and_meets_every_rule(variant: int) -> None:
    looks, share = VARIANTS[variant]
    for seed, band in ORACLE[::2]:
        b = book(5100 + 10 * band + seed, BANDS[band])
        prep = prepared(b)
        pairs = prep.pairs
        repaired = checked_repair(prep, flow_choice(prep), looks, share)
        if repaired is None:
            continue
        opt = milp_optimum(b)
        assert opt is not None and opt.assigned == int(repaired.sum())
        assert (
            int(pairs.units[repaired].sum()) / prep.scale
            <= opt.score + opt.assigned / (prep.scale) + 1e-6
        )


@pytest.mark.parametrize("seed", range(2))
def test_value_aware_trades_keep_more_value_than_blind_ones(seed: int) -> None:
    """On books of 1,500 leads x 30 reps (value band 0.5 within level), where a trade
    moves a rep's metric by a small step: the value-aware trades (the default) keep more of
    the flow's value than the value-blind ones, and the wide looks more still (at 10,000 x
    200, benchmarks/RESULTS.md section 5, session 7). On the 4-8-rep books above neither
    wins (value-aware kept 0.6% less summed over them)."""
    b = random_book(seed, 1500, 30, BANDS[0], slack=0.8, owned=0.0, floors=0.3, leave=0.0)
    prep = prepared(b)
    pairs, fair = prep.pairs, prep.side.fairness
    assert fair is not None
    start = flow_choice(prep)
    assert not prep.side.feasible(pairs, start)
    kept = []
    for looks, share in ((LOOKS, None), (LOOKS, Fraction(1, 10)), (WIDE_LOOKS, Fraction(1, 10))):
        repaired = repair_band(pairs, fair, start, looks=looks, value_share=share)
        assert repaired is not None and prep.side.feasible(pairs, repaired)
        assert int(repaired.sum()) == int(start.sum())
        kept.append(int(pairs.units[repaired].sum()))
    blind, aware, wide = kept
    assert blind < aware < wide, kept


def test_traded_flows_are_counted_by_the_book_size() -> None:
    """Three of the bound's flows traded at 10,000 x 200 (440,152 pairs), none at 50,000
    x 300 (3,372,094 pairs), where ``band_repair`` takes the wide looks instead."""
    assert band_stages.traded_flows(440_152) == 3
    assert band_stages.traded_flows(3_372_094) == 0
    assert band_stages.traded_flows(100) == band_stages.MAX_TRADED
