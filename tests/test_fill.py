"""The regret greedy that completes a start when efforts differ (heuristics.repair.fill_by_regret).

It keeps what it is given, never overfills a rep, stops only when no unassigned unit fits
anywhere, and on a real generalized-assignment instance (OR-Library gapd problem 1, whose
trimmed relaxation leaves jobs out) assigns every job.
"""

from __future__ import annotations

import numpy as np
import pytest

from leadassign.compile.pairs import Pairs
from leadassign.heuristics.moves import improve_by_moves
from leadassign.heuristics.repair import fill_by_regret
from tests.oracles.gap import gap_d05100_pairs


def random_pairs(seed: int) -> Pairs:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 40)), int(rng.integers(1, 6))
    lead, rep = np.nonzero(rng.random((n, m)) < 0.6)
    return Pairs(
        unit=lead.astype(np.int64),
        rep=rep.astype(np.int64),
        effort=rng.integers(1, 6, len(lead)).astype(np.int64),
        units=rng.integers(-50, 100, len(lead)).astype(np.int64),
        capacity=rng.integers(0, 25, m).astype(np.int64),
        min_leads=np.zeros(m, dtype=np.int64),
        size=np.ones(len(lead), dtype=np.int64),
    )


def loads(pairs: Pairs, chosen: np.ndarray) -> np.ndarray:
    return np.bincount(
        pairs.rep[chosen], weights=pairs.effort[chosen], minlength=len(pairs.capacity)
    )


@pytest.mark.parametrize("seed", range(100))
def test_fill_keeps_the_start_and_the_capacities_and_is_maximal(seed: int) -> None:
    pairs = random_pairs(seed)
    rng = np.random.default_rng(seed)
    # a feasible start: a random pair per unit where it fits, in order
    start = np.zeros(len(pairs), dtype=bool)
    for k in rng.permutation(len(pairs)).tolist():
        mine = pairs.unit == pairs.unit[k]
        if rng.random() < 0.3 and not start[mine].any():
            start[k] = True
            if np.any(loads(pairs, start) > pairs.capacity):
                start[k] = False
    for desirability in (
        pairs.units.astype(np.float64),
        -pairs.effort / np.maximum(pairs.capacity[pairs.rep], 1),
    ):
        filled = fill_by_regret(pairs, start, desirability)
        assert np.all(filled[start])
        assert np.bincount(pairs.unit[filled]).max(initial=0) <= 1
        room = pairs.capacity - loads(pairs, filled)
        assert np.all(room >= 0)
        taken = np.zeros(int(pairs.unit.max(initial=-1)) + 1, dtype=bool)
        taken[pairs.unit[filled]] = True
        # nothing left out that would still fit somewhere
        left = ~taken[pairs.unit]
        assert not np.any(left & (pairs.effort <= room[pairs.rep]))


def test_fill_assigns_every_job_of_a_tight_gap_instance() -> None:
    pairs = gap_d05100_pairs()
    n = int(pairs.unit.max()) + 1
    share = -pairs.effort / pairs.capacity[pairs.rep]
    filled = fill_by_regret(pairs, np.zeros(len(pairs), dtype=bool), share)
    assert int(filled.sum()) == n
    assert np.all(loads(pairs, filled) <= pairs.capacity)


@pytest.mark.parametrize("seed", range(100))
def test_moves_keep_the_units_and_rules_and_leave_no_better_shift(seed: int) -> None:
    pairs = random_pairs(seed)
    rng = np.random.default_rng(seed)
    m = len(pairs.capacity)
    floors = rng.integers(0, 2, m).astype(np.int64)
    pairs = Pairs(
        pairs.unit, pairs.rep, pairs.effort, pairs.units, pairs.capacity, floors, pairs.size
    )
    start = fill_by_regret(pairs, np.zeros(len(pairs), dtype=bool), pairs.units.astype(float))
    count = np.bincount(pairs.rep[start], minlength=m)
    if np.any(count < floors):
        pairs = Pairs(
            pairs.unit,
            pairs.rep,
            pairs.effort,
            pairs.units,
            pairs.capacity,
            np.minimum(floors, count),
            pairs.size,
        )
    better = improve_by_moves(pairs, start)
    # the same units, capacity and floors
    assert np.array_equal(np.sort(pairs.unit[better]), np.sort(pairs.unit[start]))
    assert np.all(loads(pairs, better) <= pairs.capacity)
    assert np.all(np.bincount(pairs.rep[better], minlength=m) >= pairs.min_leads)
    assert int(pairs.units[better].sum()) >= int(pairs.units[start].sum())
    # a local optimum: no single shift to a rep with room gains
    room = pairs.capacity - loads(pairs, better)
    count = np.bincount(pairs.rep[better], minlength=m)
    for p in np.flatnonzero(better).tolist():
        if count[pairs.rep[p]] - 1 < pairs.min_leads[pairs.rep[p]]:
            continue
        for q in np.flatnonzero(pairs.unit == pairs.unit[p]).tolist():
            if q != p and pairs.effort[q] <= room[pairs.rep[q]]:
                assert pairs.units[q] <= pairs.units[p]


def test_moves_reach_the_optimum_of_a_swap_only_book() -> None:
    """Two full reps, each holding the other's better unit: only a swap gains."""
    pairs = Pairs(
        unit=np.array([0, 0, 1, 1]),
        rep=np.array([0, 1, 0, 1]),
        effort=np.array([2, 2, 2, 2]),
        units=np.array([1, 10, 10, 1]),
        capacity=np.array([2, 2]),
        min_leads=np.zeros(2, dtype=np.int64),
        size=np.ones(4, dtype=np.int64),
    )
    start = np.array([True, False, False, True])
    better = improve_by_moves(pairs, start)
    assert better.tolist() == [False, True, True, False]


def test_moves_stop_at_the_deadline_and_record_the_cut() -> None:
    """Past the deadline the moves stop at the first clock reading (``CLOCK_EVERY`` visits)
    and the active meter records a cut by time; the answer still keeps the units and
    capacities. With the time the same call makes more moves and records no cut."""
    from functools import partial

    from leadassign.control import budget
    from leadassign.heuristics.moves import CLOCK_EVERY

    pairs = gap_d05100_pairs()
    start = fill_by_regret(pairs, np.zeros(len(pairs), dtype=bool), -pairs.effort.astype(float))
    assert start.sum() == 100  # every job placed: each has a visit
    results = {}
    for left in (-1.0, 3600.0):
        with budget.metering(budget.Meter(100.0, 3600.0)) as meter:
            clock = partial(float, left)  # the seconds left, always the same
            moved = improve_by_moves(pairs, start, max_visits=200, time_left=clock)
            results[left] = (moved, set(meter.cuts))
    cut, cuts = results[-1.0]
    full, no_cuts = results[3600.0]
    assert cuts == {"time"} and no_cuts == set()
    assert np.array_equal(np.sort(pairs.unit[cut]), np.sort(pairs.unit[start]))
    assert np.all(loads(pairs, cut) <= pairs.capacity)
    # the cut walk made at most CLOCK_EVERY - 1 visits' moves; the whole walk more
    changed = int((cut != start).sum())
    assert changed <= 2 * 2 * (CLOCK_EVERY - 1)
    assert int(pairs.units[full].sum()) > int(pairs.units[cut].sum())
