"""Starts for fairness bands no flow can bound (a value metric, accounts, efforts):
``heuristics.draft.balanced_draft``, ``owners_start`` and the band- and churn-keeping moves of
``heuristics.moves.improve_by_moves``.

The band's per-rep limits at fixed totals (``compile.fairness_band.band_bounds``) are checked
against the model's own test of the band (``Fairness.excess``); the moves' result is checked by
enumerating every shift and swap on tiny books (none that keeps every rule gains).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

from leadassign import load_problem
from leadassign.compile.families import Continuity, Fairness
from leadassign.compile.families.fairness import band_bounds, fairness_band, group_totals
from leadassign.compile.pairs import Pairs
from leadassign.compile.prepare import prepare
from leadassign.demo import make_sample
from leadassign.engines.flow import solve_flow
from leadassign.heuristics.draft import balanced_draft, owners_start
from leadassign.heuristics.moves import improve_by_moves
from leadassign.models.policy import policy_from_mapping
from leadassign.solve.starts import drafted_start
from tests.helpers import every_pair


def random_book(seed: int) -> tuple[Pairs, Fairness, Continuity]:
    """A tiny book: some units at some reps, efforts 1-2, a metric per unit, reps in one or
    two groups, and owners."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 8)), int(rng.integers(2, 5))
    lead, rep = np.nonzero(rng.random((n, m)) < 0.7)
    value = rng.integers(1, 50, n)
    pairs = Pairs(
        unit=lead.astype(np.int64),
        rep=rep.astype(np.int64),
        effort=rng.integers(1, 3, len(lead)).astype(np.int64),
        units=rng.integers(0, 100, len(lead)).astype(np.int64),
        capacity=rng.integers(1, 6, m).astype(np.int64),
        min_leads=np.zeros(m, dtype=np.int64),
        size=np.ones(len(lead), dtype=np.int64),
    )
    group = rng.integers(0, 2, m) if seed % 2 else np.zeros(m, dtype=np.int64)
    group[np.bincount(rep, minlength=m) == 0] = -1  # a rep with no pairs, as if on leave
    fairness = Fairness(
        group=group.astype(np.int64),
        metric=value[lead].astype(np.int64),
        band=Fraction(int(rng.integers(3, 10)), 10),
        weights=rng.integers(1, 4, m).astype(np.int64),
    )
    owner = rng.integers(-1, m, n)
    kept = (owner[lead] == rep).astype(np.int64)
    keepable = int(np.count_nonzero(np.bincount(lead, weights=kept, minlength=n)))
    continuity = Continuity(kept, keepable, int(rng.integers(0, keepable + 1)))
    return pairs, fairness, continuity


def random_choice(pairs: Pairs, rng: np.random.Generator) -> np.ndarray:
    """At most one pair per unit, within capacity (in effort)."""
    chosen = np.zeros(len(pairs), dtype=bool)
    room = pairs.capacity.copy()
    for k in rng.permutation(len(pairs)).tolist():
        unit_taken = chosen[pairs.unit == pairs.unit[k]].any()
        if rng.random() < 0.6 and not unit_taken and pairs.effort[k] <= room[pairs.rep[k]]:
            chosen[k] = True
            room[pairs.rep[k]] -= pairs.effort[k]
    return chosen


def metric_per_rep(pairs: Pairs, fairness: Fairness, chosen: np.ndarray) -> np.ndarray:
    held: np.ndarray = np.bincount(
        pairs.rep[chosen], weights=fairness.metric[chosen], minlength=len(pairs.capacity)
    ).astype(np.int64)
    return held


@pytest.mark.parametrize("seed", range(120))
def test_band_bounds_agree_with_the_models_test_of_the_band(seed: int) -> None:
    pairs, fairness, _ = random_book(seed)
    chosen = random_choice(pairs, np.random.default_rng(seed))
    low, high = band_bounds(fairness, group_totals(pairs, fairness, chosen, fairness.metric))
    held = metric_per_rep(pairs, fairness, chosen)
    within = bool(np.all((held >= low) & (held <= high)))
    assert within == (fairness.excess(pairs, chosen) == 0)


def test_group_totals_of_a_metric_are_exact_beyond_float_precision() -> None:
    pairs = every_pair(3, [1, 1, 1], np.zeros(9))
    fairness = Fairness(
        group=np.zeros(3, np.int64),
        metric=np.full(9, 2**53 + 1, dtype=np.int64),
        band=Fraction(1, 5),
        weights=np.ones(3, np.int64),
    )
    chosen = np.zeros(9, dtype=bool)
    chosen[[0, 4, 8]] = True
    assert group_totals(pairs, fairness, chosen, fairness.metric) == {0: 3 * (2**53 + 1)}


def local_gains(
    pairs: Pairs, fairness: Fairness, continuity: Continuity, chosen: np.ndarray
) -> list[tuple[int, int]]:
    """Every shift (unit to another rep) and swap (two units trade reps) that keeps capacity,
    the band at the current totals, the groups and the churn limit, and gains value."""
    low, high = band_bounds(fairness, group_totals(pairs, fairness, chosen, fairness.metric))
    need = continuity.keepable - continuity.limit
    m = len(pairs.capacity)

    def keeps_rules(new: np.ndarray) -> bool:
        load = np.bincount(pairs.rep[new], weights=pairs.effort[new], minlength=m)
        held = metric_per_rep(pairs, fairness, new)
        kept = int(continuity.kept[new].sum())
        return (
            bool(np.all(load <= pairs.capacity))
            and bool(np.all((held >= low) & (held <= high)))
            and kept >= min(need, int(continuity.kept[chosen].sum()))
        )

    gains: list[tuple[int, int]] = []
    value = int(pairs.units[chosen].sum())
    group = fairness.group
    at = np.flatnonzero(chosen)
    for p in at.tolist():
        for q in np.flatnonzero(pairs.unit == pairs.unit[p]).tolist():
            if q == p or group[pairs.rep[q]] != group[pairs.rep[p]]:
                continue
            new = chosen.copy()
            new[p], new[q] = False, True
            if keeps_rules(new) and int(pairs.units[new].sum()) > value:
                gains.append((p, q))
        for r in at.tolist():
            a, b = int(pairs.rep[p]), int(pairs.rep[r])
            if r == p or a == b or group[a] != group[b]:
                continue
            u_at_b = np.flatnonzero((pairs.unit == pairs.unit[p]) & (pairs.rep == b))
            v_at_a = np.flatnonzero((pairs.unit == pairs.unit[r]) & (pairs.rep == a))
            if not len(u_at_b) or not len(v_at_a):
                continue
            new = chosen.copy()
            new[[p, r]] = False
            new[[u_at_b[0], v_at_a[0]]] = True
            if keeps_rules(new) and int(pairs.units[new].sum()) > value:
                gains.append((p, r))
    return gains


@pytest.mark.parametrize("seed", range(200))  # about a quarter of these books have no fair start
def test_moves_keep_the_band_and_the_churn_limit_and_leave_no_gaining_move(seed: int) -> None:
    pairs, fairness, continuity = random_book(seed)
    rng = np.random.default_rng(seed)
    # random choices, and drafts in random orders of preference (fair more often)
    drafts = (balanced_draft(pairs, fairness, rng.random(len(pairs))) for _ in range(20))
    fair_starts = itertools.chain(drafts, (random_choice(pairs, rng) for _ in range(200)))
    start = next((c for c in fair_starts if c.any() and fairness.excess(pairs, c) == 0), None)
    if start is None:
        pytest.skip("no fair random start found")
    band = fairness_band(pairs, fairness, start)
    better = improve_by_moves(pairs, start, band=band, continuity=continuity)
    assert np.array_equal(np.sort(pairs.unit[better]), np.sort(pairs.unit[start]))
    assert fairness.excess(pairs, better) == 0
    assert group_totals(pairs, fairness, better, fairness.metric) == group_totals(
        pairs, fairness, start, fairness.metric
    )
    load = np.bincount(pairs.rep[better], weights=pairs.effort[better], minlength=len(band.low))
    assert np.all(load <= pairs.capacity)
    need = continuity.keepable - continuity.limit
    assert continuity.kept[better].sum() >= min(need, continuity.kept[start].sum())
    assert pairs.units[better].sum() >= pairs.units[start].sum()
    assert local_gains(pairs, fairness, continuity, better) == []


def test_the_draft_gives_the_next_unit_to_the_rep_furthest_behind() -> None:
    """Six leads of value 60..10, two reps of capacity 3 and equal weight; rep 0 makes twice
    the value of rep 1 on each lead, so a value greedy would give it 60, 50 and 40. The
    draft: 60 to rep 0 (both empty, rep 0 is worth more), 50 and 40 to rep 1 (behind), 30
    and then 20 to rep 0 (behind, then level and worth more), 10 to rep 1 (rep 0 is full)."""
    value = np.array([60, 50, 40, 30, 20, 10])
    pairs = every_pair(6, [3, 3], np.column_stack([2 * value, value]).ravel())
    fairness = Fairness(
        group=np.zeros(2, np.int64),
        metric=np.repeat(value, 2),
        band=Fraction(1, 10),
        weights=np.array([3, 3]),
    )
    drafted = balanced_draft(pairs, fairness, pairs.units.astype(np.float64))
    assert np.flatnonzero(drafted).tolist() == [0, 3, 5, 6, 8, 11]
    assert metric_per_rep(pairs, fairness, drafted).tolist() == [110, 100]


@pytest.mark.parametrize("seed", range(80))
def test_the_draft_keeps_its_start_and_capacities_and_leaves_no_unit_that_fits(
    seed: int,
) -> None:
    pairs, fairness, continuity = random_book(seed)
    start = owners_start(pairs, continuity)
    rng = np.random.default_rng(seed)
    drafted = balanced_draft(pairs, fairness, rng.random(len(pairs)), start)
    assert np.all(drafted[start])
    assert np.bincount(pairs.unit[drafted]).max(initial=0) <= 1
    m = len(pairs.capacity)
    room = pairs.capacity - np.bincount(
        pairs.rep[drafted], weights=pairs.effort[drafted], minlength=m
    )
    assert np.all(room >= 0)
    placed = np.isin(pairs.unit, pairs.unit[drafted])
    assert not np.any(~placed & (pairs.effort <= room[pairs.rep]))


def test_owners_start_keeps_most_owned_leads_first_within_capacity() -> None:
    # Units 0-2 are owned at rep 0 (capacity 2): unit 1, which keeps two owned leads (an
    # account), and then unit 0 stay; unit 2 does not fit. Unit 3 is owned at rep 1; unit 4
    # has no owner.
    pairs = every_pair(5, [2, 3], np.zeros(10))
    kept = np.zeros(10, dtype=np.int64)
    kept[[0, 2, 4, 7]] = [1, 2, 1, 1]
    chosen = owners_start(pairs, Continuity(kept, keepable=5, limit=0))
    assert np.flatnonzero(chosen).tolist() == [0, 2, 7]
    # Enough to keep 3 leads: unit 1 (2 kept) and then, of the units keeping one lead, the
    # most valuable (unit 3, at rep 1).
    valued = replace(pairs, units=np.array([5, 0, 0, 0, 0, 0, 0, 9, 0, 0]))
    chosen = owners_start(valued, Continuity(kept, keepable=5, limit=0), enough=3)
    assert np.flatnonzero(chosen).tolist() == [2, 7]


@pytest.mark.parametrize("seed", [3, 4])
def test_the_drafted_start_meets_a_value_band_with_nearly_every_lead_the_flow_assigns(
    seed: int,
) -> None:
    """1,500 x 40 books with a value band of 0.3, whose optimum assigns every lead the flow
    does (1,438 and 1,434): the draft meets the band with at least 98% of them (1,421 and
    1,434 when written)."""
    sample = make_sample(1500, 40, seed=seed)
    policy = policy_from_mapping({"fairness": {"metric": "value", "band": 0.3}})
    prep = prepare(load_problem(sample.leads, sample.reps, sample.affinity), policy)
    assert prep.side.fairness is not None
    hint = drafted_start(prep, prep.side.fairness)
    assert hint is not None
    assert prep.side.feasible(prep.pairs, hint)
    pairs = prep.pairs
    flow = solve_flow(pairs.unit, pairs.rep, pairs.units, 1500, pairs.capacity, pairs.min_leads)
    assert int(hint.sum()) >= 0.98 * flow.max_count
