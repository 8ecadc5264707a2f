"""The LP relaxation (engines/lp.py) against the CP-SAT model on tiny instances: its integer
points are exactly the model's solutions, its bounds are never below a brute-force optimum,
and the start it builds is feasible."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from leadassign.compile.families import Continuity, Fairness, SideRules
from leadassign.compile.pairs import Pairs
from leadassign.engines.cpsat import CpSatSettings, build_model
from leadassign.engines.lp import (
    build_relaxation,
    lagrangian_bound,
    lp_start,
    solve_relaxation,
    whole,
)
from tests.helpers import every_pair
from tests.test_families import model_solutions


def tiny_case(seed: int) -> tuple[Pairs, SideRules]:
    """4-5 units x 3 reps, at most 11 pairs: efforts 1-2, accounts of 1-2 leads, floors,
    and a random mix of hard or soft fairness (count or value) and continuity."""
    rng = np.random.default_rng(4000 + seed)
    n_units, m = 4 + seed % 2, 3
    while True:
        mask = rng.random((n_units, m)) < 0.55
        if 4 <= mask.sum() <= 11:
            break
    unit, rep = np.nonzero(mask)
    size_of_unit = rng.choice([1, 2], p=[0.7, 0.3], size=n_units)
    pairs = Pairs(
        unit=unit.astype(np.int64),
        rep=rep.astype(np.int64),
        effort=(size_of_unit[unit] * rng.integers(1, 3, size=len(unit))).astype(np.int64),
        units=rng.integers(0, 60, size=len(unit)).astype(np.int64),
        capacity=rng.integers(1, 6, size=m).astype(np.int64),
        min_leads=(rng.random(m) < 0.3).astype(np.int64),
        size=size_of_unit[unit].astype(np.int64),
    )
    fairness = continuity = None
    if seed % 3 != 2:
        metric = pairs.size if seed % 2 else rng.integers(1, 9, size=len(unit))
        group = np.array([0, 0, 1] if seed % 4 == 1 else [0, 0, 0], dtype=np.int64)
        fairness = Fairness(
            group,
            np.asarray(metric, dtype=np.int64),
            Fraction(int(rng.choice([3, 5, 10])), 10),
            rng.integers(1, 4, size=m).astype(np.int64),
            penalty=int(rng.integers(1, 20)) if seed % 5 == 0 else None,
        )
    if seed % 3 != 0:
        owner = rng.integers(0, m, size=n_units)
        kept = np.where(owner[unit] == rep, pairs.size, 0).astype(np.int64)
        keepable = int(pairs.size[kept > 0].sum())
        continuity = Continuity(
            kept,
            keepable,
            int(rng.integers(0, max(keepable, 1))),
            penalty=int(rng.integers(1, 30)) if seed % 4 == 3 else None,
        )
    return pairs, SideRules.of(fairness, continuity)


def integer_point_ok(pairs: Pairs, side: SideRules, x: np.ndarray) -> bool:
    """Is 0/1 vector ``x`` (with the auxiliary variables at their least values) within every
    row of the relaxation?"""
    relax = build_relaxation(pairs, side)
    values = np.zeros(len(relax.upper))
    values[: len(pairs)] = x
    aux = len(pairs)
    f, c = side.fairness, side.continuity
    if f is not None:
        # group totals count in units of the largest metric (hard fairness; soft: 1)
        unit = 1.0 if f.penalty is not None else max(float(f.metric.max(initial=0)), 1.0)
        for members in f.groups():
            values[aux] = f.metric[x & np.isin(pairs.rep, members)].sum() / unit
            aux += 1
        if f.penalty is not None:
            values[aux] = f.excess(pairs, x)
            aux += 1
    if c is not None and c.penalty is not None:
        values[aux] = c.excess(pairs, x)
        aux += 1
    assert aux == len(relax.upper)
    if np.any(values > relax.upper + 1e-9):
        return False
    activity = np.bincount(
        relax.row, weights=relax.val * values[relax.col], minlength=len(relax.lo)
    )
    return bool(np.all(activity >= relax.lo - 1e-9) and np.all(activity <= relax.hi + 1e-9))


def every_choice(n: int) -> list[np.ndarray]:
    return [np.array(bits, dtype=bool) for bits in itertools.product((0, 1), repeat=n)]


@pytest.mark.parametrize("seed", range(12))
def test_integer_points_are_the_model_solutions(seed: int) -> None:
    pairs, side = tiny_case(seed)
    admitted = model_solutions(build_model(pairs, side).model, len(pairs))
    lp_points = {
        tuple(int(v) for v in x)
        for x in every_choice(len(pairs))
        if integer_point_ok(pairs, side, x)
    }
    assert lp_points == admitted


def brute_optimum(pairs: Pairs, side: SideRules) -> tuple[int, int] | None:
    """(most leads, best score at that count) over every feasible choice."""
    best: tuple[int, int] | None = None
    for x in every_choice(len(pairs)):
        if side.feasible(pairs, x):
            key = (int(pairs.size[x].sum()), side.score(pairs, x))
            best = key if best is None or key > best else best
    return best


@pytest.mark.parametrize("seed", range(24))
def test_bounds_hold_and_the_start_is_feasible(seed: int) -> None:
    pairs, side = tiny_case(seed)
    optimum = brute_optimum(pairs, side)
    relax = build_relaxation(pairs, side)
    first = solve_relaxation(relax, pairs.size, penalize=False, floor=None, time_limit_s=10)
    if optimum is None:
        return  # infeasible books are CP-SAT's and the explanation's business
    assert first is not None
    assert whole(first.bound) >= optimum[0]
    start = lp_start(pairs, side, len(pairs), CpSatSettings(time_limit_s=10))
    assert start is not None
    assert start.count_upper >= optimum[0]
    if start.count_upper == optimum[0]:
        assert start.units_upper is not None and start.units_upper >= optimum[1]
    if start.hint is not None:
        assert side.feasible(pairs, start.hint)
        key = (int(pairs.size[start.hint].sum()), side.score(pairs, start.hint))
        assert key <= optimum


@pytest.mark.parametrize("seed", range(24))
def test_a_count_bound_the_lp_meets_is_kept_and_its_lp_returned(seed: int) -> None:
    """With the optimum's count as the bound (the value LP at that floor is feasible, so
    the count LP is skipped): the count bound stays, the value bound holds, and the value
    LP's solution comes back for the neighbourhood MIP."""
    pairs, side = tiny_case(seed)
    optimum = brute_optimum(pairs, side)
    if optimum is None:
        return
    start = lp_start(pairs, side, optimum[0], CpSatSettings(time_limit_s=10))
    assert start is not None and start.count_upper == optimum[0]
    assert start.units_upper is not None and start.units_upper >= optimum[1]
    assert start.relaxed is not None
    assert float(pairs.size @ start.relaxed.x) >= optimum[0] - 1e-6
    if start.hint is not None:
        assert side.feasible(pairs, start.hint)
        assert side.score(pairs, start.hint) <= optimum[1]


@pytest.mark.parametrize("seed", range(6))
def test_any_dual_vector_gives_a_valid_bound(seed: int) -> None:
    pairs, side = tiny_case(seed)
    optimum = brute_optimum(pairs, side)
    if optimum is None:
        return
    relax = build_relaxation(pairs, side)
    c = np.zeros(len(relax.upper))
    c[: len(pairs)] = pairs.size
    rng = np.random.default_rng(seed)
    for _ in range(20):
        dual = rng.normal(0, 2, size=len(relax.lo))
        bound, _, _ = lagrangian_bound(relax, c, dual)
        assert bound >= optimum[0] - 1e-9


def test_value_fairness_over_many_orders_of_magnitude_keeps_the_count() -> None:
    """Values from 100 to 1e11 (amounts in cents): the member rows' group-total coefficient
    must not vanish beside the pair coefficients (in metric units HiGHS dropped it as zero,
    and the LP then allowed no lead at all). The LP's count bound must hold."""
    values = np.array([10**11, 6 * 10**10, 100, 9 * 10**10, 7 * 10**10, 300], dtype=np.int64)
    pairs = every_pair(6, [3, 3], np.repeat(values // 10**6, 2))
    fairness = Fairness(
        np.zeros(2, dtype=np.int64), values[pairs.unit], Fraction(3, 10), np.array([1, 1])
    )
    side = SideRules.of(fairness)
    optimum = brute_optimum(pairs, side)
    assert optimum is not None and optimum[0] == 6
    relax = build_relaxation(pairs, side)
    first = solve_relaxation(relax, pairs.size, penalize=False, floor=None, time_limit_s=10)
    assert first is not None and whole(first.bound) >= optimum[0]
    start = lp_start(pairs, side, 6, CpSatSettings(time_limit_s=10))
    assert start is not None and start.count_upper == 6
    assert start.units_upper is not None and start.units_upper >= optimum[1]
