"""``improve_by_moves``' swap scan narrows the partners to those the unit has a pair with
before the other tests (issue 24, target 6: 88% of the polish after a scenario variant's
churn search). It must choose exactly what the scan over every partner chose: the same moves
in the same order, so every answer stays byte-identical. Checked against that scan (kept
here as the reference) on books with bands, churn limits, groups, account sizes and efforts,
each stopped after a few visits too (where the order of moves shows). Session 7: the scan
also looks each partner's rep up (``_Book.rep_at``, kept by every move) and tests room, band
and churn only on the swaps that gain; the same reference holds it."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from leadassign.compile.families import Continuity, Fairness
from leadassign.compile.families.fairness import fairness_band
from leadassign.compile.pairs import Pairs
from leadassign.heuristics import moves
from leadassign.heuristics.moves import improve_by_moves
from tests.test_draft import random_choice


def scan_every_partner(self: moves._Book, u: int, p: int, a: int) -> tuple[int, int]:
    """The swap scan as it was: every unit with a pair at a, all tests at once."""
    pairs, index, at, effort, room = self.pairs, self.index, self.at, self.effort, self.room
    metric, held, kept, group, units = self.metric, self.held, self.kept, self.group, self.units
    near = self.having[a]
    placed = at[near]
    others = near[(placed >= 0) & (pairs.rep[np.maximum(placed, 0)] != a)]
    if not len(others):
        return 0, -1
    theirs = at[others]
    reps = pairs.rep[theirs]
    u_at_b = index[u][reps]
    v_at_a = index[others, a]
    ok = (u_at_b >= 0) & (v_at_a >= 0) & (pairs.size[theirs] == pairs.size[p])
    u_at_b, v_at_a = np.maximum(u_at_b, 0), np.maximum(v_at_a, 0)
    ok &= room[a] + effort[p] - effort[v_at_a] >= 0
    ok &= room[reps] + effort[theirs] - effort[u_at_b] >= 0
    ok &= group[reps] == group[a]
    at_a = held[a] - metric[p] + metric[v_at_a]
    at_b = held[reps] - metric[theirs] + metric[u_at_b]
    ok &= (at_a >= self.low[a]) & (at_a <= self.high[a])
    ok &= (at_b >= self.low[reps]) & (at_b <= self.high[reps])
    ok &= kept[u_at_b] + kept[v_at_a] - kept[p] - kept[theirs] + max(self.spare, 0) >= 0
    gain = np.where(ok, units[u_at_b] + units[v_at_a] - units[p] - units[theirs], 0)
    k = int(np.argmax(gain))
    return int(gain[k]), int(others[k])


def book(seed: int) -> tuple[Pairs, Fairness, Continuity]:
    """40-120 units at 4-12 reps (about 60% of pairs eligible), efforts 1-2, accounts of 1-2
    leads, values with ties, reps in one to three groups, owners."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(40, 121)), int(rng.integers(4, 13))
    unit, rep = np.nonzero(rng.random((n, m)) < 0.6)
    size = rng.integers(1, 3, n) if seed % 3 == 0 else np.ones(n, dtype=np.int64)
    pairs = Pairs(
        unit=unit.astype(np.int64),
        rep=rep.astype(np.int64),
        effort=rng.integers(1, 3, len(unit)).astype(np.int64),
        units=rng.integers(0, 40, len(unit)).astype(np.int64),  # ties on purpose
        capacity=rng.integers(6, 20, m).astype(np.int64),
        min_leads=np.zeros(m, dtype=np.int64),
        size=size[unit].astype(np.int64),
    )
    fairness = Fairness(
        group=rng.integers(0, 1 + seed % 3, m).astype(np.int64),
        metric=size[unit].astype(np.int64),
        band=Fraction(int(rng.integers(4, 10)), 10),
        weights=np.ones(m, dtype=np.int64),
    )
    owner = rng.integers(-1, m, n)
    kept = (owner[unit] == rep).astype(np.int64)
    keepable = int(np.count_nonzero(np.bincount(unit, weights=kept, minlength=n)))
    return pairs, fairness, Continuity(kept, keepable, int(rng.integers(0, keepable + 1)))


@pytest.mark.parametrize("seed", range(16))
def test_the_narrowed_swap_scan_moves_as_the_scan_over_every_partner(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    pairs, fairness, continuity = book(seed)
    start = random_choice(pairs, np.random.default_rng(seed))
    band = fairness_band(pairs, fairness, start) if seed % 2 else None
    churn = continuity if seed % 4 < 2 else None
    swapped = 0
    for visits in (7, 40, 20_000):  # stopped early (the order of moves shows), and to the end
        narrowed = improve_by_moves(pairs, start, band=band, continuity=churn, max_visits=visits)
        with monkeypatch.context() as patch:
            patch.setattr(moves._Book, "best_swap", scan_every_partner)
            every = improve_by_moves(pairs, start, band=band, continuity=churn, max_visits=visits)
        assert np.array_equal(narrowed, every), visits
        swapped += int((narrowed != start).sum())
    assert swapped > 0  # the books give the scans moves to make
