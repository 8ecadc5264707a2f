"""The Lagrangian bound for a value band over the flow (bands.value_band_bound).

On tiny books it is checked against the brute-force optimum among the choices that meet the
band with the flow's count (it must never be below it); on a hand-made book it must be
strictly tighter than the flow's own bound, which ignores the band.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from leadassign.compile.families import Fairness
from leadassign.compile.pairs import Pairs
from leadassign.engines.flow import solve_flow
from leadassign.engines.priced_flows import AllArcs
from leadassign.engines.value_band import value_band_bound
from tests.helpers import every_pair


def tiny_book(seed: int) -> tuple[Pairs, Fairness]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 7)), int(rng.integers(2, 4))
    lead, rep = np.nonzero(rng.random((n, m)) < 0.75)
    value = rng.integers(1, 100, n)
    pairs = Pairs(
        unit=lead.astype(np.int64),
        rep=rep.astype(np.int64),
        effort=np.ones(len(lead), dtype=np.int64),
        units=rng.integers(0, 1000, len(lead)).astype(np.int64),
        capacity=rng.integers(1, 4, m).astype(np.int64),
        min_leads=np.zeros(m, dtype=np.int64),
        size=np.ones(len(lead), dtype=np.int64),
    )
    group = rng.integers(0, 2, m) if seed % 3 == 0 else np.zeros(m, dtype=np.int64)
    fairness = Fairness(
        group=group.astype(np.int64),
        metric=value[lead].astype(np.int64),
        band=Fraction(int(rng.integers(2, 10)), 10),
        weights=rng.integers(1, 4, m).astype(np.int64),
    )
    return pairs, fairness


def best_fair(pairs: Pairs, fairness: Fairness, count: int) -> int | None:
    """Brute force: the most value units of ``count`` pairs, one per unit, within
    capacity and floors, meeting the band (None when no such choice exists)."""
    units = np.unique(pairs.unit)
    options = [[-1, *np.flatnonzero(pairs.unit == u).tolist()] for u in units.tolist()]
    best = None
    for combo in itertools.product(*options):
        picked = [k for k in combo if k >= 0]
        if len(picked) != count:
            continue
        chosen = np.zeros(len(pairs), dtype=bool)
        chosen[picked] = True
        load = np.bincount(pairs.rep[chosen], minlength=len(pairs.capacity))
        if np.any(load > pairs.capacity) or np.any(load < pairs.min_leads):
            continue
        if fairness.excess(pairs, chosen) > 0:
            continue
        value = int(pairs.units[chosen].sum())
        best = value if best is None else max(best, value)
    return best


def flow_count(pairs: Pairs, n_units: int) -> int:
    outcome = solve_flow(
        pairs.unit, pairs.rep, pairs.units, n_units, pairs.capacity, pairs.min_leads
    )
    return outcome.max_count


@pytest.mark.parametrize("seed", range(150))  # about a third have no fair choice
def test_the_bound_is_never_below_the_best_fair_choice(seed: int) -> None:
    pairs, fairness = tiny_book(seed)
    n_units = int(pairs.unit.max()) + 1
    count = flow_count(pairs, n_units)
    optimum = best_fair(pairs, fairness, count)
    if optimum is None:
        pytest.skip("no choice of the flow's count meets the band")
    flows = AllArcs(pairs.unit, pairs.rep, n_units)
    # the weakest target (0) and the optimum itself as the step's target
    for target in (0, optimum):
        bound = value_band_bound(pairs, fairness, flows, count, target)
        assert bound is not None
        assert bound >= optimum


def test_the_bound_prices_the_band_below_the_flows_value() -> None:
    """Rep 0 earns twice what rep 1 does on every lead; with equal shares and a band of 0.1
    the best flow (the three best leads at rep 0, whatever rep 1 gets) is far outside the
    band, and the bound must say the band costs value."""
    value = np.array([60, 50, 40, 30, 20, 10])
    pairs = every_pair(6, [3, 3], np.column_stack([200 * value, 100 * value]).ravel())
    fairness = Fairness(
        group=np.zeros(2, np.int64),
        metric=np.repeat(value, 2),
        band=Fraction(1, 10),
        weights=np.array([3, 3]),
    )
    flows = AllArcs(pairs.unit, pairs.rep, 6)
    best_flow = solve_flow(pairs.unit, pairs.rep, pairs.units, 6, pairs.capacity, pairs.min_leads)
    assert best_flow.chosen is not None
    plain = int(pairs.units[best_flow.chosen].sum())
    optimum = best_fair(pairs, fairness, 6)
    assert optimum is not None
    bound = value_band_bound(pairs, fairness, flows, 6, optimum)
    assert bound is not None
    assert optimum <= bound < plain


def fair_book() -> tuple[Pairs, Fairness]:
    """Two reps, four leads of equal metric, each rep best on half of them: the best pairs
    (the plain flow's) meet a band of 0.1."""
    pairs = every_pair(4, [2, 2], np.array([10, 1, 10, 1, 1, 10, 1, 10]))
    fairness = Fairness(
        group=np.zeros(2, np.int64),
        metric=np.full(8, 5, dtype=np.int64),
        band=Fraction(1, 10),
        weights=np.array([1, 1]),
    )
    return pairs, fairness


def test_a_flow_that_meets_the_band_is_its_own_bound() -> None:
    pairs, fairness = fair_book()
    flows = AllArcs(pairs.unit, pairs.rep, 4)
    bound = value_band_bound(pairs, fairness, flows, 4, 0)
    assert bound == 40 + (4 + 1) // 2 + 1  # the flow's value plus the rounding allowance
    assert flows.flows == 1


def test_no_bound_when_the_flow_cannot_reach_the_count() -> None:
    pairs = every_pair(2, [1, 1], np.array([1, 2, 3, 4]))
    fairness = Fairness(
        group=np.zeros(2, np.int64),
        metric=np.ones(4, dtype=np.int64),
        band=Fraction(1, 5),
        weights=np.array([1, 1]),
    )
    assert value_band_bound(pairs, fairness, AllArcs(pairs.unit, pairs.rep, 2), 3, 0) is None


def test_no_flow_starts_when_the_time_left_is_below_a_flows_time() -> None:
    pairs, fairness = fair_book()
    flows = AllArcs(pairs.unit, pairs.rep, 4)
    bound = value_band_bound(pairs, fairness, flows, 4, 0, time_left=lambda: 1.0, first_took=2.0)
    assert bound is None and flows.flows == 0
    assert value_band_bound(pairs, fairness, flows, 4, 0, time_left=lambda: 1.0) is not None
