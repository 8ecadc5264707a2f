"""Generalized assignment books: a tabu search with strategic oscillation (``tabu_search``).

On tight GAP books (OR-Library's and Yagiura's type D, where efforts and values are inversely
correlated) HiGHS and CP-SAT end 0.5-1.3% above the best known costs at 10 s, because what
they need is a good answer more than a proof. This search (after Diaz and Fernandez, 2001,
and Yagiura, Ibaraki and Glover's ejection chains, 2004, and path relinking, 2006) walks the
assignments of every unit to one rep with three moves, each evaluated for every candidate at
once in numpy:

- a *shift*: one unit to another rep (units x reps);
- a *swap*: two units at different reps exchange them (units x units; on books of more than
  ``SWAP_ROWS`` units, the rows are a seeded sample of that many units each iteration);
- a *double shift* (an ejection chain of two): a unit moves into another unit's rep, which
  moves on to a third rep (units x units, the onward rep read from the best two of each
  unit's shift scores): on tight books a unit often fits at a rep only if one leaves it,
  and the one leaving fits back at the first's rep only as a swap.

Capacities may be exceeded on the way: each move is scored by its change in value minus a
penalty weight times its change in the total excess. The weight rises while the walk stays
infeasible and falls while it stays feasible (the oscillation), so the walk crosses the
boundary where the good answers of tight books lie. A unit that left a rep may not go back
there for a few iterations (the tabu tenure, seeded), unless the move gives a feasible
answer better than the best found (aspiration; shifts and swaps). The walk runs in segments:
after ``RELINK`` iterations without a better answer in a segment, its best joins the elite
answers (the ``ELITE`` best distinct), and the next segment starts between two of them (path
relinking: where they differ, each unit takes either one's rep, seeded), or from the best
while there is one elite answer.

Everything it does is decided by the seed and the iteration count (``max_iterations``, from
the work limit): the same inputs give the same answer; the time limit is only a backstop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from leadassign.compile.pairs import Pairs
from leadassign.control import budget

#: Swap rows sampled per iteration on books of more units (a swap costs units x rows).
SWAP_ROWS = 400
#: Tabu tenure: a uniform draw in this range (iterations). With double shifts, 2-6 ended
#: OR-Library's type D 0.05-0.2 points closer to the best known than 5-15 in the same time
#: (RESULTS.md 4h).
TENURE = (2, 6)
#: The penalty weight's factor per infeasible (up) or feasible (down) iteration.
OSCILLATION = 1.05
#: Path relinking: after this many iterations without a better answer in the current
#: segment of the walk, the segment's best joins the elite answers and the walk goes on from
#: a start between two of them (``_between``): the walk found its best in the first few
#: hundred moves and then wandered 1% above it (d20100).
RELINK = 300
#: Elite answers kept for path relinking (the best distinct ones).
ELITE = 6
#: Candidate cells (shift, swap and double shift scores, ``_cells``) evaluated per unit of
#: work, meant as about a second of wall time on one core when it was set; since the shared
#: terms of session 10 (``_Walk.into``) about 0.6 s (d20100: 4,300 moves a second of 24,000
#: cells each, against 2,800).
CELLS_PER_WORK = 60_000_000
#: The deadline is read every this many iterations.
CLOCK_EVERY = 16
BIG = float(2**40)


@dataclass(frozen=True, eq=False)
class Walked:
    """The best answer the walk found (bool per pair; None: none feasible), and its work."""

    chosen: np.ndarray | None
    iterations: int
    improved: bool  # better than the start


class _Dense:
    """The book as unit x rep matrices: value, effort and whether the pair exists. Values and
    efforts are integers held as floats, exact as the scaling keeps every objective below
    2**53 (``compile/scaling.py``) and ``BIG`` is 2**40, so that the scores, which weigh them
    by the penalty weight, are computed without converting them."""

    def __init__(self, pairs: Pairs, values: np.ndarray) -> None:
        _, unit = np.unique(pairs.unit, return_inverse=True)
        self.unit = unit.astype(np.int64)
        self.n, self.m = int(self.unit.max(initial=-1)) + 1, len(pairs.capacity)
        self.index = np.full((self.n, self.m), -1, dtype=np.int64)
        self.index[self.unit, pairs.rep] = np.arange(len(pairs))
        self.ok = self.index >= 0
        self.value = np.full((self.n, self.m), -BIG)
        self.value[self.unit, pairs.rep] = values
        self.effort = np.zeros((self.n, self.m))
        self.effort[self.unit, pairs.rep] = pairs.effort
        self.capacity = pairs.capacity.astype(np.float64)

    def at(self, chosen: np.ndarray, rep: np.ndarray) -> np.ndarray:
        """Each unit's rep in ``chosen`` (bool per pair, one per unit)."""
        at = np.full(self.n, -1, dtype=np.int64)
        at[self.unit[chosen]] = rep[chosen]
        return at

    def chosen(self, at: np.ndarray, size: int) -> np.ndarray:
        out = np.zeros(size, dtype=bool)
        out[self.index[np.arange(self.n), at]] = True
        return out


def _excess(load: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Effort beyond capacity (0 where within)."""
    out: np.ndarray = np.maximum(load - capacity, 0)
    return out


def _cells(n: int, m: int) -> int:
    """Candidate cells scored per iteration: shifts and double shifts' onward moves (units x
    reps), swaps and double shifts (units x sampled units)."""
    return 2 * (n * m + n * min(n, SWAP_ROWS))


def iterations_for(work: float, n: int, m: int) -> int:
    """The iterations ``work`` units buy on a book of ``n`` units and ``m`` reps."""
    return budget.work_units(work, max(CELLS_PER_WORK // max(_cells(n, m), 1), 1))


@dataclass(frozen=True, eq=False)
class _Into:
    """One step's shared terms (``_Walk.into``): each unit at its rep, the shift scores'
    parts (units x reps) and the terms swaps and double shifts share (rows x units)."""

    excess: np.ndarray  # each rep's effort beyond its capacity
    over: int  # the total excess
    room: np.ndarray  # each rep's load beyond its capacity (negative: room left)
    own_e: np.ndarray  # every unit's effort at its rep
    own_v: np.ndarray  # every unit's value at its rep
    total: int  # the walk's value
    d_shift: np.ndarray  # units x reps: a unit's value at the rep less at its own
    gain: np.ndarray  # units x reps: the change in excess at the rep, the unit in
    free: np.ndarray  # units x reps: the pair may be taken (allowed and not tabu)
    allowed: np.ndarray  # units x reps: the pair exists and is not the unit's own
    not_tabu: np.ndarray  # units x reps: the tabu list lets the unit go to the rep
    rows: np.ndarray  # the units i (rows of the matrices below)
    full: bool  # every unit is a row
    ai: np.ndarray  # their reps
    at_q: np.ndarray  # rows x units: change in excess at j's rep, i in and j out
    d_value: np.ndarray  # rows x units: i's value at j's rep less at its own
    ok_at: np.ndarray  # unit x unit: the row's unit may go to the column's rep
    free_at: np.ndarray  # unit x unit: ... and the tabu list lets it
    other: np.ndarray  # rows x units: i and j are at different reps


class _Walk:
    """The walk's state: each unit's rep, the loads, the penalty weight and the tabu list."""

    def __init__(self, book: _Dense, at: np.ndarray, seed: int) -> None:
        self.book, self.at = book, at.copy()
        rows = np.arange(book.n)
        self.rows = rows
        self.load = np.bincount(at, weights=book.effort[rows, at], minlength=book.m)
        spread = float(np.abs(book.value[book.ok]).mean()) if book.ok.any() else 1.0
        heft = float(book.effort[book.ok].mean()) if book.ok.any() else 1.0
        self.weight = max(spread / max(heft, 1.0), 1e-3)
        self.tabu = np.zeros((book.n, book.m), dtype=np.int64)
        self.rng = np.random.default_rng(seed)
        self.best_value = -np.inf
        self.best_at = at.copy()
        self.seg_value, self.seg_at = -np.inf, at.copy()

    def total(self) -> int:
        return int(self.book.value[self.rows, self.at].sum())

    def into(self, it: int, excess: np.ndarray) -> _Into:
        """The terms every move of step ``it`` shares. Shifts and double shifts' onward moves
        share the units x reps terms. Swaps and double shifts share what unit ``i`` (a row:
        a sampled unit on books of more than ``SWAP_ROWS``) moving into unit ``j``'s rep (a
        column: any unit) while ``j`` leaves it changes: each book matrix is gathered once
        at every unit's rep (``X[:, at]``, n x n); row i's view of j is ``X[i, at[j]]``."""
        b, at, load = self.book, self.at, self.load
        room = load - b.capacity  # a rep's load beyond capacity (negative: room left)
        own_e, own_v = b.effort[self.rows, at], b.value[self.rows, at]
        gain = room[None, :] + b.effort
        np.maximum(gain, 0, out=gain)
        gain -= excess[None, :]
        allowed = b.ok.copy()
        allowed[self.rows, at] = False
        not_tabu = self.tabu <= it
        full = b.n <= SWAP_ROWS
        rows = self.rows if full else np.sort(self.rng.choice(b.n, SWAP_ROWS, replace=False))
        effort_at, value_at = b.effort[:, at], b.value[:, at]
        # the change in excess at j's rep (q), in place
        at_q = (effort_at if full else effort_at[rows]) + (room[at] - own_e)[None, :]
        np.maximum(at_q, 0, out=at_q)
        at_q -= excess[at][None, :]
        d_value = (value_at if full else value_at[rows]) - own_v[rows][:, None]
        ai = at[rows]
        ok_at = b.ok[:, at]
        return _Into(
            excess,
            int(excess.sum()),
            room,
            own_e,
            own_v,
            int(own_v.sum()),
            b.value - own_v[:, None],
            gain,
            allowed & not_tabu,
            allowed,
            not_tabu,
            rows,
            full,
            ai,
            at_q,
            d_value,
            ok_at,
            ok_at & not_tabu[:, at],
            ai[:, None] != at[None, :],
        )

    def shifts(self, into: _Into) -> tuple[float, int, int]:
        """The best shift: its score, unit and rep (score -inf when none)."""
        b, at, excess = self.book, self.at, into.excess
        lose = np.maximum(into.room[at] - into.own_e, 0) - excess[at]
        d_excess = lose[:, None] + into.gain
        score = into.d_shift - self.weight * d_excess
        aspire = (d_excess == -into.over) & (into.d_shift > self.best_value - into.total)
        aspire &= into.allowed
        aspire |= into.free
        score[~aspire] = -np.inf
        flat = int(np.argmax(score))
        return float(score.flat[flat]), flat // b.m, flat % b.m

    def swaps(self, into: _Into) -> tuple[float, int, int]:
        """The best swap: its score and the two units (score -inf when none). Row ``i`` of
        each matrix is a sampled unit, column ``j`` any unit (``into``): unit ``i`` goes to
        ``j``'s rep and ``j`` to ``i``'s; j's view of i's rep is the transpose
        ``X[j, at[i]]``, on the full book the transpose of ``into``'s own matrices."""
        b, rows, ai = self.book, into.rows, into.ai
        if into.full:
            # the change in excess at i's rep (p) is at_q's transpose, the value too
            d_excess = into.at_q + into.at_q.T
            d_value = into.d_value + into.d_value.T
            ok, free = into.ok_at & into.ok_at.T, into.free_at & into.free_at.T
        else:
            d_excess = b.effort[:, ai].T + (into.room[ai] - into.own_e[rows])[:, None]
            np.maximum(d_excess, 0, out=d_excess)
            d_excess -= into.excess[ai][:, None]
            d_excess += into.at_q
            d_value = b.value[:, ai].T + into.d_value
            d_value -= into.own_v[None, :]
            ok = into.ok_at[rows] & b.ok[:, ai].T
            free = into.free_at[rows] & into.not_tabu[:, ai].T
        score = d_value - self.weight * d_excess
        aspire = (d_excess == -into.over) & (d_value > self.best_value - into.total)
        aspire |= free
        aspire &= ok
        aspire &= into.other
        score[~aspire] = -np.inf
        flat = int(np.argmax(score))
        return float(score.flat[flat]), int(rows[flat // b.n]), flat % b.n

    def chains(self, into: _Into) -> tuple[float, int, int, int]:
        """The best double shift (an ejection chain of length two, after Yagiura, Ibaraki and
        Glover): unit ``i`` moves into unit ``j``'s rep and ``j`` moves on to a third rep
        ``k``, neither ``i``'s (that is a swap) nor its own. Its score and ``i``, ``j``,
        ``k`` (score -inf when none). Rows and columns as in ``into``; ``j``'s best onward
        rep comes from its row of shift scores, where ``k`` depends on ``i`` only in not
        being ``i``'s rep: the best of the row, or the second best where the best is ``i``'s
        rep. Both moves must be free of the tabu list (no aspiration)."""
        b, rows, ai = self.book, into.rows, into.ai
        if b.m < 3:
            return -np.inf, 0, 0, 0
        # j onward to k (rows: j, columns: k): value, and the change in excess at k
        onward = into.d_shift - self.weight * into.gain
        onward[~into.free] = -np.inf
        units = self.rows
        first = np.argmax(onward, axis=1)
        first_score = onward[units, first]
        onward[units, first] = -np.inf
        second = np.argmax(onward, axis=1)
        second_score = onward[units, second]
        not_p = first[None, :] == ai[:, None]  # j's best onward rep is i's: the second
        score = np.where(not_p, second_score[None, :], first_score[None, :])
        # i into j's rep (q), out of its own (p)
        at_p = np.maximum(into.room[ai] - into.own_e[rows], 0) - into.excess[ai]
        score += into.d_value
        score -= self.weight * (into.at_q + at_p[:, None])
        allowed = into.free_at if into.full else into.free_at[rows]
        allowed = allowed & into.other
        score[~allowed] = -np.inf
        flat = int(np.argmax(score))
        r, j = flat // b.n, flat % b.n
        k = int(second[j] if first[j] == ai[r] else first[j])
        return float(score.flat[flat]), int(rows[r]), j, k

    def shift(self, it: int, i: int, k: int) -> None:
        b, old = self.book, int(self.at[i])
        self.load[old] -= b.effort[i, old]
        self.load[k] += b.effort[i, k]
        self.at[i] = k
        self.tabu[i, old] = it + int(self.rng.integers(TENURE[0], TENURE[1] + 1))

    def step(self, it: int) -> bool:
        """One move (the best shift, swap or double shift); False when no move is allowed."""
        into = self.into(it, _excess(self.load, self.book.capacity))
        s_score, i, k = self.shifts(into)
        w_score, p, q = self.swaps(into)
        c_score, ci, cj, ck = self.chains(into)
        if s_score == -np.inf and w_score == -np.inf and c_score == -np.inf:
            return False
        if c_score > max(s_score, w_score):
            rep_j = int(self.at[cj])
            self.shift(it, cj, ck)
            self.shift(it, ci, rep_j)
        elif s_score >= w_score:
            self.shift(it, i, k)
        else:
            rep_p, rep_q = int(self.at[p]), int(self.at[q])
            self.shift(it, p, rep_q)
            self.shift(it, q, rep_p)
        infeasible = bool(np.any(self.load > self.book.capacity))
        self.weight *= OSCILLATION if infeasible else 1.0 / OSCILLATION
        if not infeasible and self.total() > self.best_value:
            self.best_value, self.best_at = float(self.total()), self.at.copy()
        if not infeasible and self.total() > self.seg_value:
            self.seg_value, self.seg_at = float(self.total()), self.at.copy()
        return True

    def restart(self, at: np.ndarray) -> None:
        """Walk on from ``at`` with an empty tabu list."""
        b = self.book
        self.at = at.copy()
        self.load = np.bincount(self.at, weights=b.effort[self.rows, self.at], minlength=b.m)
        self.tabu[:] = 0
        self.seg_value, self.seg_at = -np.inf, self.at.copy()


def _keep(elite: list[tuple[float, np.ndarray]], value: float, at: np.ndarray) -> None:
    """Add a walk segment's best to the elite answers (the ``ELITE`` best distinct)."""
    if value == -np.inf or any(np.array_equal(at, kept) for _, kept in elite):
        return
    elite.append((value, at.copy()))
    elite.sort(key=lambda kept: -kept[0])
    del elite[ELITE:]


def _between(elite: list[tuple[float, np.ndarray]], rng: np.random.Generator) -> np.ndarray:
    """A start between two elite answers: the first's reps, each unit where they differ
    taking the second's with probability one half."""
    a, b = rng.choice(len(elite), 2, replace=False)
    first, second = elite[int(a)][1], elite[int(b)][1]
    take = (first != second) & (rng.random(len(first)) < 0.5)
    return np.where(take, second, first)


def tabu_search(
    pairs: Pairs,
    values: np.ndarray,
    start: np.ndarray,
    max_iterations: int,
    time_left: Callable[[], float] | None = None,
    seed: int = 0,
) -> Walked:
    """The most valuable choice found from ``start`` (bool per pair, every unit placed once,
    within capacities) by at most ``max_iterations`` moves: every unit placed once and every
    rep within its capacity; ``values`` (integers per pair) are maximized. Floors and side
    rules are not looked at (callers check there are none)."""
    book = _Dense(pairs, np.asarray(values, dtype=np.int64))
    walk = _Walk(book, book.at(start, pairs.rep.astype(np.int64)), seed)
    start_value = walk.total()
    walk.best_value = float(start_value)
    deadline = None if time_left is None else time.perf_counter() + time_left()
    since, seen, it = 0, walk.best_value, 0
    walk.seg_value = walk.best_value
    elite: list[tuple[float, np.ndarray]] = []
    while it < max_iterations:
        if deadline is not None and it % CLOCK_EVERY == 0 and time.perf_counter() > deadline:
            meter = budget.current()
            if meter is not None:
                meter.cut("time")
            break
        it += 1
        if not walk.step(it) and not np.any(walk.tabu > it):
            break  # no move at all (with every tabu move a wait: the list then runs out)
        if walk.seg_value > seen:
            seen, since = walk.seg_value, 0
        else:
            since += 1
        if since >= RELINK:
            _keep(elite, walk.seg_value, walk.seg_at)
            walk.restart(_between(elite, walk.rng) if len(elite) > 1 else walk.best_at)
            seen, since = -np.inf, 0
    meter = budget.current()
    if meter is not None:
        meter.spend(it * _cells(book.n, book.m) / CELLS_PER_WORK)
    improved = walk.best_value > start_value
    return Walked(book.chosen(walk.best_at, len(pairs)), it, improved)


__all__ = ["CELLS_PER_WORK", "Walked", "iterations_for", "tabu_search"]
