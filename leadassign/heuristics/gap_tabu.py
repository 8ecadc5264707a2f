"""Generalized assignment books: a tabu search with strategic oscillation (``tabu_search``).

On tight GAP books (OR-Library's and Yagiura's type D, where efforts and values are inversely
correlated) HiGHS and CP-SAT end 0.5-1.3% above the best known costs at 10 s, because what
they need is a good answer more than a proof. This search (after Diaz and Fernandez, 2001,
and Yagiura, Ibaraki and Glover's ejection chains, 2004) walks the assignments of every unit
to one rep with two moves, each evaluated for every candidate at once in numpy:

- a *shift*: one unit to another rep (units x reps);
- a *swap*: two units at different reps exchange them (units x units; on books of more than
  ``SWAP_ROWS`` units, the rows are a seeded sample of that many units each iteration).

Capacities may be exceeded on the way: each move is scored by its change in value minus a
penalty weight times its change in the total excess. The weight rises while the walk stays
infeasible and falls while it stays feasible (the oscillation), so the walk crosses the
boundary where the good answers of tight books lie. A unit that left a rep may not go back
there for a few iterations (the tabu tenure, seeded), unless the move gives a feasible
answer better than the best found (aspiration). After ``RESTART`` iterations without a better
answer, the walk goes back to the best one.

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
#: Tabu tenure: a uniform draw in this range (iterations).
TENURE = (5, 15)
#: The penalty weight's factor per infeasible (up) or feasible (down) iteration.
OSCILLATION = 1.05
#: Iterations without a better answer after which the walk goes back to the best one.
RESTART = 2_000
#: Candidate cells (shift and swap scores) evaluated per unit of work: about a second of
#: wall time on one core (200 units x 20 reps: about 1,500 iterations a second).
CELLS_PER_WORK = 60_000_000
#: The deadline is read every this many iterations.
CLOCK_EVERY = 16
BIG = np.int64(2**40)


@dataclass(frozen=True, eq=False)
class Walked:
    """The best answer the walk found (bool per pair; None: none feasible), and its work."""

    chosen: np.ndarray | None
    iterations: int
    improved: bool  # better than the start


class _Dense:
    """The book as unit x rep matrices: value, effort and whether the pair exists."""

    def __init__(self, pairs: Pairs, values: np.ndarray) -> None:
        _, unit = np.unique(pairs.unit, return_inverse=True)
        self.unit = unit.astype(np.int64)
        self.n, self.m = int(self.unit.max(initial=-1)) + 1, len(pairs.capacity)
        self.index = np.full((self.n, self.m), -1, dtype=np.int64)
        self.index[self.unit, pairs.rep] = np.arange(len(pairs))
        self.ok = self.index >= 0
        self.value = np.full((self.n, self.m), -BIG, dtype=np.int64)
        self.value[self.unit, pairs.rep] = values
        self.effort = np.zeros((self.n, self.m), dtype=np.int64)
        self.effort[self.unit, pairs.rep] = pairs.effort
        self.capacity = pairs.capacity.astype(np.int64)

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


def iterations_for(work: float, n: int, m: int) -> int:
    """The iterations ``work`` units buy on a book of ``n`` units and ``m`` reps."""
    cells = n * m + n * min(n, SWAP_ROWS)
    return budget.work_units(work, max(CELLS_PER_WORK // max(cells, 1), 1))


class _Walk:
    """The walk's state: each unit's rep, the loads, the penalty weight and the tabu list."""

    def __init__(self, book: _Dense, at: np.ndarray, seed: int) -> None:
        self.book, self.at = book, at.copy()
        rows = np.arange(book.n)
        self.rows = rows
        self.load = np.bincount(at, weights=book.effort[rows, at], minlength=book.m).astype(
            np.int64
        )
        spread = float(np.abs(book.value[book.ok]).mean()) if book.ok.any() else 1.0
        heft = float(book.effort[book.ok].mean()) if book.ok.any() else 1.0
        self.weight = max(spread / max(heft, 1.0), 1e-3)
        self.tabu = np.zeros((book.n, book.m), dtype=np.int64)
        self.rng = np.random.default_rng(seed)
        self.best_value = -np.inf
        self.best_at = at.copy()

    def total(self) -> int:
        return int(self.book.value[self.rows, self.at].sum())

    def shifts(self, it: int, excess: np.ndarray) -> tuple[float, int, int]:
        """The best shift: its score, unit and rep (score -inf when none)."""
        b, at, load = self.book, self.at, self.load
        own_e = b.effort[self.rows, at]
        own_v = b.value[self.rows, at]
        lose = _excess(load[at] - own_e, b.capacity[at]) - excess[at]
        gain = _excess(load[None, :] + b.effort, b.capacity[None, :]) - excess[None, :]
        d_value = b.value - own_v[:, None]
        d_excess = lose[:, None] + gain
        score = d_value - self.weight * d_excess
        allowed = b.ok.copy()
        allowed[self.rows, at] = False
        free = self.tabu <= it
        feasible_after = (excess.sum() + d_excess) == 0
        aspire = feasible_after & (self.total() + d_value > self.best_value)
        score = np.where(allowed & (free | aspire), score, -np.inf)
        flat = int(np.argmax(score))
        return float(score.flat[flat]), flat // b.m, flat % b.m

    def swaps(self, it: int, excess: np.ndarray) -> tuple[float, int, int]:
        """The best swap: its score and the two units (score -inf when none). Row ``i`` of
        each matrix is a sampled unit, column ``j`` any unit: unit ``i`` goes to ``j``'s rep
        and ``j`` to ``i``'s. Each book matrix is gathered once at every unit's rep
        (``X[:, at]``, n x n); row i's view of j is ``X[i, at[j]]`` and j's view of i's rep
        is the transpose ``X[j, at[i]]``."""
        b, at, load = self.book, self.at, self.load
        rows = self.rows
        if b.n > SWAP_ROWS:
            rows = np.sort(self.rng.choice(b.n, SWAP_ROWS, replace=False))
        ai = at[rows]
        own_e, own_v = b.effort[self.rows, at], b.value[self.rows, at]
        effort_at, value_at = b.effort[:, at], b.value[:, at]
        e_i_at_j, e_j_at_i = effort_at[rows], effort_at[:, rows].T
        # the change in excess at i's rep (p) and at j's rep (q), in place
        room = load - b.capacity  # a rep's load beyond capacity (negative: room left)
        d_excess = e_j_at_i + (room[ai] - own_e[rows])[:, None]
        np.maximum(d_excess, 0, out=d_excess)
        d_excess -= excess[ai][:, None]
        at_q = e_i_at_j + (room[at] - own_e)[None, :]
        np.maximum(at_q, 0, out=at_q)
        d_excess += at_q
        d_excess -= excess[at][None, :]
        d_value = value_at[rows] + value_at[:, rows].T
        d_value -= own_v[rows][:, None]
        d_value -= own_v[None, :]
        score = d_value - self.weight * d_excess
        ok_at = b.ok[:, at]
        allowed = (ai[:, None] != at[None, :]) & ok_at[rows] & ok_at[:, rows].T
        tabu_at = self.tabu[:, at]
        free = np.maximum(tabu_at[rows], tabu_at[:, rows].T) <= it  # neither move is tabu
        aspire = (d_excess == -int(excess.sum())) & (d_value > self.best_value - self.total())
        score[~(allowed & (free | aspire))] = -np.inf
        flat = int(np.argmax(score))
        return float(score.flat[flat]), int(rows[flat // b.n]), flat % b.n

    def shift(self, it: int, i: int, k: int) -> None:
        b, old = self.book, int(self.at[i])
        self.load[old] -= b.effort[i, old]
        self.load[k] += b.effort[i, k]
        self.at[i] = k
        self.tabu[i, old] = it + int(self.rng.integers(TENURE[0], TENURE[1] + 1))

    def step(self, it: int) -> bool:
        """One move (the best shift or swap); False when no move is allowed."""
        excess = _excess(self.load, self.book.capacity)
        s_score, i, k = self.shifts(it, excess)
        w_score, p, q = self.swaps(it, excess)
        if s_score == -np.inf and w_score == -np.inf:
            return False
        if s_score >= w_score:
            self.shift(it, i, k)
        else:
            rep_p, rep_q = int(self.at[p]), int(self.at[q])
            self.shift(it, p, rep_q)
            self.shift(it, q, rep_p)
        infeasible = bool(np.any(self.load > self.book.capacity))
        self.weight *= OSCILLATION if infeasible else 1.0 / OSCILLATION
        if not infeasible and self.total() > self.best_value:
            self.best_value, self.best_at = float(self.total()), self.at.copy()
        return True


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
    since, best_seen, it = 0, walk.best_value, 0
    while it < max_iterations:
        if deadline is not None and it % CLOCK_EVERY == 0 and time.perf_counter() > deadline:
            meter = budget.current()
            if meter is not None:
                meter.cut("time")
            break
        it += 1
        if not walk.step(it):
            break
        if walk.best_value > best_seen:
            best_seen, since = walk.best_value, 0
        else:
            since += 1
        if since >= RESTART:
            walk.at = walk.best_at.copy()
            walk.load = np.bincount(
                walk.at, weights=book.effort[walk.rows, walk.at], minlength=book.m
            ).astype(np.int64)
            since = 0
    meter = budget.current()
    if meter is not None:
        cells = book.n * book.m + book.n * min(book.n, SWAP_ROWS)
        meter.spend(it * cells / CELLS_PER_WORK)
    improved = walk.best_value > start_value
    return Walked(book.chosen(walk.best_at, len(pairs)), it, improved)


__all__ = ["CELLS_PER_WORK", "Walked", "iterations_for", "tabu_search"]
