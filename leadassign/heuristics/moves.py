"""Local search: shifts and swaps that gain value within capacities, a fairness band and a
churn limit (``improve_by_moves``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from leadassign.compile.families import Continuity
from leadassign.compile.families.fairness import Band
from leadassign.compile.pairs import Pairs
from leadassign.control.budget import out_of_time
from leadassign.control.stop import stopped
from leadassign.heuristics.repair import room_left

#: improve_by_moves works on books with at most this many units x reps (a dense pair index).
MOVE_CELLS = 4_000_000
#: The stop flag and the deadline are read every this many unit visits.
CLOCK_EVERY = 64


@dataclass(eq=False)
class _Book:
    """The state :func:`improve_by_moves` keeps while it moves units: the chosen pairs, the
    pair of each unit, and per rep its room, count, held metric and band; the owners kept
    beyond what the churn limit needs."""

    pairs: Pairs
    chosen: np.ndarray
    index: np.ndarray  # (unit, rep) -> pair, -1 where none
    units: np.ndarray
    effort: np.ndarray
    room: np.ndarray
    count: np.ndarray
    at: np.ndarray  # the chosen pair of each unit, -1 where none
    rep_at: np.ndarray  # the rep of each unit's chosen pair; m (one past the reps) where none
    one_size: bool  # every pair's unit has the same size (then any two units may trade)
    metric: np.ndarray
    low: np.ndarray
    high: np.ndarray
    group: np.ndarray
    held: np.ndarray
    kept: np.ndarray
    spare: int
    having: list[np.ndarray]  # per rep: the units with a pair there
    having_at: list[np.ndarray]  # per rep: those units' pairs there

    @classmethod
    def start(
        cls,
        pairs: Pairs,
        chosen: np.ndarray,
        n_units: int,
        band: Band | None,
        continuity: Continuity | None,
    ) -> _Book:
        """The state of ``chosen`` (copied), with the band's and churn limit's data."""
        m = len(pairs.capacity)
        chosen = chosen.copy()
        index = np.full((n_units, m), -1, dtype=np.int64)
        index[pairs.unit, pairs.rep] = np.arange(len(pairs))
        units = pairs.units.astype(np.int64)
        effort = pairs.effort.astype(np.int64)
        room = room_left(pairs, chosen)
        count = np.bincount(pairs.rep[chosen], weights=pairs.size[chosen], minlength=m).astype(
            np.int64
        )
        at = np.full(n_units, -1, dtype=np.int64)  # the chosen pair of each unit
        at[pairs.unit[chosen]] = np.flatnonzero(chosen)
        rep_at = np.full(n_units, m, dtype=np.int64)
        rep_at[pairs.unit[chosen]] = pairs.rep[chosen]
        one_size = bool(np.all(pairs.size == pairs.size[0])) if len(pairs) else True
        if band is None:  # no limits: every metric 0, within [0, 0] in one group
            metric = np.zeros(len(pairs), dtype=np.int64)
            low = high = group = np.zeros(m, dtype=np.int64)
        else:
            metric, low, high, group = band.metric, band.low, band.high, band.group
        held = np.zeros(m, dtype=np.int64)  # exact: value metrics can pass float precision
        np.add.at(held, pairs.rep[chosen], metric[chosen])
        if continuity is None or continuity.penalty is not None:
            kept = np.zeros(len(pairs), dtype=np.int64)
            spare = 0
        else:  # owners kept beyond what the limit needs: moves may spend them (none when short)
            kept = continuity.kept.astype(np.int64)
            spare = int(kept[chosen].sum()) - (continuity.keepable - continuity.limit)
        # the units with a pair at each rep: a swap partner of a unit at rep a must have one
        # there, so the swap scan walks those instead of every assigned unit (the same
        # partners, in the same order: at 20,000 x 200 it took 7.5 of a solve's 14 s)
        having = [np.flatnonzero(index[:, j] >= 0) for j in range(m)]
        having_at = [index[units_there, j] for j, units_there in enumerate(having)]
        return cls(
            pairs, chosen, index, units, effort, room, count, at, rep_at, one_size,
            metric, low, high, group, held, kept, spare, having, having_at,
        )  # fmt: skip

    def best_shift(self, u: int, p: int, a: int) -> tuple[int, int]:
        """(gain, rep) of unit u's best shift from its pair p at rep a to another rep with
        room, a staying at or above its floor ((0, -1) when none)."""
        pairs, metric, held, kept = self.pairs, self.metric, self.held, self.kept
        m = len(pairs.capacity)
        mine = self.index[u]
        shift_gain, shift_to = 0, -1
        if (
            self.count[a] - pairs.size[p] >= pairs.min_leads[a]
            and held[a] - metric[p] >= self.low[a]
        ):
            ok = (mine >= 0) & (np.arange(m) != a) & (self.group == self.group[a])
            ok[ok] &= self.effort[mine[ok]] <= self.room[ok]
            ok[ok] &= held[ok] + metric[mine[ok]] <= self.high[ok]
            ok[ok] &= kept[mine[ok]] - kept[p] + max(self.spare, 0) >= 0
            if ok.any():
                gain = np.where(ok, self.units[np.maximum(mine, 0)] - self.units[p], 0)
                b = int(np.argmax(gain))
                shift_gain, shift_to = int(gain[b]), b
        return shift_gain, shift_to

    def best_swap(self, u: int, p: int, a: int) -> tuple[int, int]:
        """(gain, unit) of unit u's best swap: u at a with v at b, where u has a pair at b
        and v one at a ((0, -1) when none gains). The partners are narrowed to those u has a
        pair with (about a fifth), then to the swaps that gain, before the other tests: the
        same partners in the same order, so the same first best (5,000 visits took 10 s, 88%
        of it here, at 10,000 x 200; after one variant's churn flow there 1.45 s of CPU, now
        0.50 s: RESULTS section 6, "Session 7")."""
        pairs, effort, room, group = self.pairs, self.effort, self.room, self.group
        near = self.having[a]
        # the reps b a partner may sit at: u has a pair there, in a's group, not a (and, one
        # past the reps, where an unplaced unit "sits": never), looked up by each unit's rep
        mine = self.index[u]
        to = np.append((mine >= 0) & (group == group[a]), False)
        to[a] = False
        reps = self.rep_at[near]
        ok = to[reps]
        if not self.one_size:
            ok &= pairs.size[np.maximum(self.at[near], 0)] == pairs.size[p]
        keep = np.flatnonzero(ok)
        if not len(keep):
            return 0, -1
        reps = reps[keep]
        theirs = self.at[near[keep]]  # v's pair, at rep b
        u_at_b = mine[reps]
        v_at_a = self.having_at[a][keep]  # v's pair at a (every unit in ``near`` has one)
        metric, held, kept, units = self.metric, self.held, self.kept, self.units
        # only a swap that gains can be the answer (a best gain of 0 or less is no move to
        # the caller): the room, band and churn tests on those alone, in the same order
        gain = units[u_at_b] + units[v_at_a] - units[p] - units[theirs]
        gains = np.flatnonzero(gain > 0)
        if not len(gains):
            return 0, -1
        keep, reps, theirs, gain = keep[gains], reps[gains], theirs[gains], gain[gains]
        u_at_b, v_at_a = u_at_b[gains], v_at_a[gains]
        ok = room[a] + effort[p] - effort[v_at_a] >= 0
        ok &= room[reps] + effort[theirs] - effort[u_at_b] >= 0
        at_a = held[a] - metric[p] + metric[v_at_a]
        at_b = held[reps] - metric[theirs] + metric[u_at_b]
        ok &= (at_a >= self.low[a]) & (at_a <= self.high[a])
        ok &= (at_b >= self.low[reps]) & (at_b <= self.high[reps])
        ok &= kept[u_at_b] + kept[v_at_a] - kept[p] - kept[theirs] + max(self.spare, 0) >= 0
        gain = np.where(ok, gain, 0)
        k = int(np.argmax(gain))
        return (int(gain[k]), int(near[keep[k]])) if gain[k] > 0 else (0, -1)

    def shift(self, u: int, p: int, a: int, to: int) -> None:
        """Move unit u from its pair p at rep a to its pair at rep ``to``."""
        pairs, effort, metric, kept = self.pairs, self.effort, self.metric, self.kept
        q = int(self.index[u, to])
        self.chosen[p], self.chosen[q] = False, True
        self.room[a] += effort[p]
        self.room[to] -= effort[q]
        self.count[a] -= pairs.size[p]
        self.count[to] += pairs.size[q]
        self.held[a] -= metric[p]
        self.held[to] += metric[q]
        self.spare += kept[q] - kept[p]
        self.at[u] = q
        self.rep_at[u] = to

    def swap(self, u: int, p: int, a: int, v: int) -> None:
        """Trade unit u (pair p at rep a) with unit v between their reps."""
        effort, metric, kept, chosen = self.effort, self.metric, self.kept, self.chosen
        r = int(self.at[v])
        b = int(self.pairs.rep[r])
        q, s = int(self.index[u, b]), int(self.index[v, a])
        chosen[p] = chosen[r] = False
        chosen[q] = chosen[s] = True
        self.room[a] += effort[p] - effort[s]
        self.room[b] += effort[r] - effort[q]
        self.held[a] += metric[s] - metric[p]
        self.held[b] += metric[q] - metric[r]
        self.spare += kept[q] + kept[s] - kept[p] - kept[r]
        self.at[u], self.at[v] = q, s
        self.rep_at[u], self.rep_at[v] = b, a


def improve_by_moves(
    pairs: Pairs,
    chosen: np.ndarray,
    *,
    band: Band | None = None,
    continuity: Continuity | None = None,
    max_rounds: int = 30,
    max_visits: int = 20_000,
    max_cells: int = MOVE_CELLS,
    time_left: Callable[[], float] | None = None,
) -> np.ndarray:
    """``chosen`` (one rep per unit, within capacity and floors) improved by local search on
    the value: a unit moves to another rep with room for it (a shift), or two units at
    different reps trade places where both fit (a swap), whenever that raises the summed
    units; each unit in turn takes its best such move, rounds repeat until one gains
    nothing, or ``max_visits`` unit visits are spent (a work limit of about a second, so the
    result does not depend on the machine's speed), or the solve is stopped (``control.stop``),
    or ``time_left()`` has run out (read with the stop flag every ``CLOCK_EVERY`` visits): a
    backstop for a loaded machine, recorded on the active meter as a cut by time, so the
    answer is then not the same run after run.
    The same units stay assigned, so the count, capacities and floors hold (a shift only
    leaves a rep above its floor). With a ``band``, a move must also keep both reps' metric
    within it (so a fair start stays fair); with a ``continuity`` limit, the owners kept
    must stay enough for it. Soft rules are not looked at, so callers check."""
    n_units = int(pairs.unit.max(initial=-1)) + 1
    if n_units * len(pairs.capacity) > max_cells or not chosen.any():
        return chosen
    book = _Book.start(pairs, chosen, n_units, band, continuity)
    visits = 0
    for _ in range(max_rounds):
        gained = 0
        for u in np.flatnonzero(book.at >= 0).tolist():
            visits += 1
            halted = visits % CLOCK_EVERY == 0 and (stopped() or out_of_time(time_left, 0.0))
            if visits > max_visits or halted:
                return book.chosen
            p = int(book.at[u])
            a = int(pairs.rep[p])
            shift_gain, shift_to = book.best_shift(u, p, a)
            swap_gain, swap_with = book.best_swap(u, p, a)
            if shift_gain <= 0 and swap_gain <= 0:
                continue
            if shift_gain >= swap_gain:
                book.shift(u, p, a, shift_to)
                gained += shift_gain
            else:
                book.swap(u, p, a, swap_with)
                gained += swap_gain
        if gained <= 0:
            break
    return book.chosen
