"""The value band's bound with every row priced (``value_band.band_prices``).

Any multipliers give a bound, so on tiny books it must never be below the brute-force
optimum among the choices of the count that meet the capacities, floors and band, whatever
the step's target; on small books never below the LP relaxation (solved here by HiGHS
through scipy, rows written from the band's definition, sharing no code with leadassign)
and, after the default steps, close above it. The bound is exact in integers (at zero
multipliers it is the ``count`` best pairs' value plus the rounding allowance), and the
search is deterministic.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from leadassign.compile.families import Fairness
from leadassign.compile.pairs import Pairs
from leadassign.engines.value_band import band_prices, priced_steps
from tests.test_bands import best_fair, fair_book, flow_count, tiny_book


def with_floors(pairs: Pairs, seed: int) -> Pairs:
    """``pairs`` with a floor of one lead at some reps (where a rep has any pair)."""
    rng = np.random.default_rng(seed + 1000)
    has = np.bincount(pairs.rep, minlength=len(pairs.capacity)) > 0
    floors = (has & (rng.random(len(pairs.capacity)) < 0.5)).astype(np.int64)
    return Pairs(
        pairs.unit, pairs.rep, pairs.effort, pairs.units, pairs.capacity, floors, pairs.size
    )


def lp_value(pairs: Pairs, fairness: Fairness, count: int) -> float | None:
    """The LP relaxation: x in [0, 1] per pair, at most one per unit, loads within
    [floor, capacity], exactly ``count`` pairs, and per rep j of group g
    ``(q-p) w_j M_g <= q W_g m_j <= (q+p) w_j M_g`` (m_j its metric, M_g the group's)."""
    n, m = len(pairs), len(pairs.capacity)
    n_units = int(pairs.unit.max()) + 1
    cols = np.arange(n)
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    upper: list[float] = []
    one = np.ones(n)
    rows.append((pairs.unit, cols, one))
    upper += [1.0] * n_units
    rows.append((n_units + pairs.rep, cols, one))
    upper += pairs.capacity.astype(float).tolist()
    rows.append((n_units + m + pairs.rep, cols, -one))
    upper += (-pairs.min_leads.astype(float)).tolist()
    base = n_units + 2 * m
    p, q = fairness.band.numerator, fairness.band.denominator
    metric = fairness.metric.astype(float)
    k = 0
    for members in fairness.groups():
        w_total = float(fairness.weights[members].sum())
        in_group = np.isin(pairs.rep, members)
        for j in members.tolist():
            w = float(fairness.weights[j])
            own = (pairs.rep == j).astype(float)
            # q W m_j - (q+p) w M <= 0 and (q-p) w M - q W m_j <= 0
            over = metric * (q * w_total * own - (q + p) * w * in_group)
            under = metric * ((q - p) * w * in_group - q * w_total * own)
            rows.append((np.full(n, base + k), cols, over))
            rows.append((np.full(n, base + k + 1), cols, under))
            upper += [0.0, 0.0]
            k += 2
    r = np.concatenate([x[0] for x in rows])
    c = np.concatenate([x[1] for x in rows])
    d = np.concatenate([x[2] for x in rows])
    a_ub = coo_matrix((d, (r, c)), shape=(base + k, n)).tocsr()
    solved = linprog(
        -pairs.units.astype(float),
        A_ub=a_ub,
        b_ub=np.array(upper),
        A_eq=np.ones((1, n)),
        b_eq=[float(count)],
        bounds=(0, 1),
        method="highs",
    )
    return None if solved.status != 0 else -float(solved.fun)


def small_book(seed: int) -> tuple[Pairs, Fairness]:
    """80-160 leads, 4-8 reps in one or two groups, a value band of 0.2-0.5."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(80, 161)), int(rng.integers(4, 9))
    lead, rep = np.nonzero(rng.random((n, m)) < 0.6)
    value = rng.integers(1_000, 50_000, n)
    skill = rng.uniform(0.1, 0.6, m)
    units = np.rint(value[lead] * skill[rep] * rng.uniform(0.8, 1.2, len(lead))).astype(np.int64)
    capacity = rng.integers(n // m, 2 * n // m + 2, m).astype(np.int64)
    pairs = Pairs(
        unit=lead.astype(np.int64),
        rep=rep.astype(np.int64),
        effort=np.ones(len(lead), dtype=np.int64),
        units=units,
        capacity=capacity,
        min_leads=np.zeros(m, dtype=np.int64),
        size=np.ones(len(lead), dtype=np.int64),
    )
    group = (np.arange(m) % 2) if seed % 2 else np.zeros(m, dtype=np.int64)
    fairness = Fairness(
        group=group.astype(np.int64),
        metric=value[lead].astype(np.int64),
        band=Fraction(int(rng.integers(2, 6)), 10),
        weights=capacity,
    )
    return pairs, fairness


def tiny_case(seed: int) -> tuple[Pairs, Fairness, int, int]:
    """A tiny book (floors at some reps on odd seeds), the flow's count and the brute-force
    optimum at it; skips the test when no choice of that count meets the rules."""
    pairs, fairness = tiny_book(seed)
    if seed % 2:
        pairs = with_floors(pairs, seed)
    count = flow_count(pairs, int(pairs.unit.max()) + 1)
    optimum = best_fair(pairs, fairness, count)
    if optimum is None:
        pytest.skip("no choice of the flow's count meets the rules")
    return pairs, fairness, count, optimum


def small_case(seed: int) -> tuple[Pairs, Fairness, int, float]:
    """A small book, the flow's count and the LP's value at it; skips the test when that
    LP is infeasible."""
    pairs, fairness = small_book(seed)
    count = flow_count(pairs, int(pairs.unit.max()) + 1)
    lp = lp_value(pairs, fairness, count)
    if lp is None:
        pytest.skip("the LP at the flow's count is infeasible")
    return pairs, fairness, count, lp


@pytest.mark.parametrize("seed", range(150))  # about a third have no fair choice
def test_the_bound_is_never_below_the_best_fair_choice(seed: int) -> None:
    pairs, fairness, count, optimum = tiny_case(seed)
    for target in (0, optimum):
        priced = band_prices(pairs, fairness, count, target)
        assert priced.bound is not None
        assert priced.bound >= optimum


@pytest.mark.parametrize("seed", range(12))
def test_the_bound_is_at_or_above_the_lp_and_close_to_it(seed: int) -> None:
    pairs, fairness, count, lp = small_case(seed)
    priced = band_prices(pairs, fairness, count, 0)
    assert priced.bound is not None
    assert priced.bound >= lp - 1e-6 * abs(lp)
    # the search (not only the validity): within 0.1% of the LP (20 steps: 0.1-1.2%)
    assert priced.bound <= lp * 1.001 + count


@pytest.mark.parametrize("seed", range(6))
def test_a_resumed_search_goes_on_from_its_start(seed: int) -> None:
    """A search resumed from a short one starts at its multipliers and step (its bound no
    worse than the start's), and ends as close to the LP as a whole search."""
    pairs, fairness, count, lp = small_case(seed)
    short = band_prices(pairs, fairness, count, 0, steps=20)
    resumed = band_prices(pairs, fairness, count, 0, steps=600, start=short)
    assert short.bound is not None and resumed.bound is not None
    assert lp - 1e-6 * abs(lp) <= resumed.bound <= short.bound
    assert resumed.bound <= lp * 1.001 + count
    assert resumed.step <= short.step


@pytest.mark.parametrize("seed", range(0, 150, 5))
def test_a_resumed_bound_is_never_below_the_best_fair_choice(seed: int) -> None:
    pairs, fairness, count, optimum = tiny_case(seed)
    first = band_prices(pairs, fairness, count, 0, steps=10)
    resumed = band_prices(pairs, fairness, count, optimum, start=first)
    assert resumed.bound is not None and resumed.bound >= optimum


def test_at_zero_multipliers_the_bound_is_the_count_best_pairs() -> None:
    pairs, fairness = small_book(3)
    count = flow_count(pairs, int(pairs.unit.max()) + 1)
    priced = band_prices(pairs, fairness, count, 0, steps=1)
    best = np.maximum.reduceat(pairs.units, np.flatnonzero(np.diff(pairs.unit, prepend=-1)))
    top = int(np.sort(best)[::-1][:count].sum())
    assert priced.bound == top + int(count * (0.5 + 2.0**-20)) + 1
    assert priced.steps == 1


def test_the_search_is_deterministic_and_averages_its_last_choices() -> None:
    pairs, fairness = small_book(5)
    count = flow_count(pairs, int(pairs.unit.max()) + 1)
    first = band_prices(pairs, fairness, count, 0)
    second = band_prices(pairs, fairness, count, 0)
    assert first.bound == second.bound and first.steps == second.steps
    for a, b in ((first.gamma, second.gamma), (first.shares, second.shares)):
        assert np.array_equal(a, b)
    # the shares are the average of choices of ``count`` pairs, at most one per unit
    assert first.steps == 600
    assert first.shares.sum() == pytest.approx(count)
    per_unit = np.bincount(pairs.unit, weights=first.shares)
    assert np.all(per_unit <= 1 + 1e-9)


def test_a_choice_within_every_row_ends_the_search_at_its_value() -> None:
    pairs, fairness = fair_book()
    priced = band_prices(pairs, fairness, 4, 0)
    assert priced.steps == 1
    assert priced.bound == 40 + int(4 * (0.5 + 2.0**-20)) + 1


def test_the_steps_are_counted_by_the_book_size() -> None:
    assert priced_steps(440_152) == 600
    assert priced_steps(3_372_094) == 296
    assert priced_steps(10**12) == 1


def test_no_bound_without_a_count_to_place() -> None:
    pairs, fairness = small_book(1)
    n_units = int(pairs.unit.max()) + 1
    for count in (0, n_units + 1):
        priced = band_prices(pairs, fairness, count, 0)
        assert priced.bound is None and priced.steps == 0
