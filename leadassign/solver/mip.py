"""The whole model as a MIP, solved by HiGHS (through ``highspy``): the first exact path
for side rules and efforts.

On books of several hundred to a few thousand leads with efforts, accounts kept together,
a churn limit or several rules at once, HiGHS' branch and cut proves the optimum where CP-SAT
alone does not (800 leads x 30 reps, one worker, 60 s: 12 of 13 random books proven in
6-23 s with HiGHS first, against 5 of 13 by CP-SAT alone).
It runs after the LP start (``lp.py``), with half the time left and at most ``MAX_NODES``
branch-and-bound nodes per phase; what it finds is checked exactly, and when it does not
prove both phases, CP-SAT continues from its best solution, its proven count and its bound.

The MIP is the LP relaxation of ``lp.py`` with every variable integral: the pair Booleans,
and the group totals, excess and churn variables that are integers in the CP-SAT model too.
The objective is lexicographic: the most leads, then the best score with at least that many.
When the relaxations' count bound is known, the score is first maximized with that count as a
floor (one solve: on generalized-assignment books, where every unit fits, this is the whole
problem); only when that floor is infeasible does a count phase come first. HiGHS runs
through ``highspy``, which hands back its incumbent when it stops on a limit and takes the
start as a warm start (OR-Tools' model_builder does neither).

What "proven" means here: HiGHS closes the gap to zero (less than one unit of an integral
objective) within its floating-point tolerances (1e-7 of the coefficients' scale, far below
the 1e-9 per lead of the value scaling). Its solution is then checked exactly in integers:
every hard rule with ``SideRules.feasible``, the count, and the score recomputed with
``SideRules.score``; a solution that fails the check is dropped.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import highspy
import numpy as np

from leadassign.solver.cpsat import CpSatSettings, Pairs, SideRules, count_objective
from leadassign.solver.lp import Relaxation, build_relaxation, objective

#: Share of the time left that the MIP may use before CP-SAT takes over (0.8 did a little
#: better on OR-Library's GAP types B-D at 10 s, 0.74% against 0.82% mean gap on type D, but
#: leaves CP-SAT less time on the side-rule books this was set for).
SHARE = 0.5
#: Above this many pairs the MIP is skipped: HiGHS did not finish phase 2 of 3,000 leads x 60
#: reps with accounts or all rules (23,000 pairs) within 60 s, nor the root of Yagiura's GAP
#: c40400 (16,000 pairs) in 6 s.
MAX_PAIRS = 60_000
#: Branch-and-bound nodes per phase.
MAX_NODES = 1000


def _configure(h: highspy.Highs, settings: CpSatSettings, abs_gap: float, limit: float) -> None:
    h.setOptionValue("output_flag", bool(settings.log))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", abs_gap)
    h.setOptionValue("threads", 1)
    # A work limit, so whether HiGHS proves a book does not depend on the machine's speed (the
    # time limit is only a backstop). It proves the books it can at the root or within a few
    # hundred nodes; past that, CP-SAT does better.
    h.setOptionValue("mip_max_nodes", MAX_NODES)
    h.setOptionValue("random_seed", settings.seed)
    h.setOptionValue("time_limit", max(limit, 0.01))


@contextlib.contextmanager
def _stdout_to(log: bool) -> Iterator[None]:
    """HiGHS writes to the process's stdout (a banner when the first solver is made, then its
    log): to stderr like CP-SAT's log when ``log``, else nowhere, so stdout stays for results."""
    sys.stdout.flush()
    saved = os.dup(1)
    target = os.dup(2) if log else os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(target, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(target)


def _model(relax: Relaxation, c: np.ndarray) -> highspy.HighsLp:
    """``max c.x`` over the rows, every variable integral, as a HiGHS model (minimizing
    ``-c.x``), built column-wise from the relaxation's coordinate arrays in numpy."""
    n_var, n_row = len(relax.upper), len(relax.lo)
    order = np.lexsort((relax.row, relax.col))
    lp = highspy.HighsLp()
    lp.num_col_ = n_var
    lp.num_row_ = n_row
    lp.col_cost_ = -np.asarray(c, dtype=np.float64)
    lp.col_lower_ = np.zeros(n_var)
    lp.col_upper_ = relax.upper.astype(np.float64)
    lp.row_lower_ = np.where(np.isfinite(relax.lo), relax.lo, -highspy.kHighsInf)
    lp.row_upper_ = np.where(np.isfinite(relax.hi), relax.hi, highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(relax.col[order], np.arange(n_var + 1)).astype(np.int32)
    lp.a_matrix_.index_ = relax.row[order].astype(np.int32)
    lp.a_matrix_.value_ = relax.val[order].astype(np.float64)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_var
    return lp


@dataclass(frozen=True, eq=False)
class _Run:
    proven: bool  # optimal within the gap asked for
    infeasible: bool  # proven to have no solution
    x: np.ndarray | None  # pair values rounded, of the best solution found (None: none)
    bound: float  # HiGHS' bound on c.x (inf when it has none)


def _run(
    relax: Relaxation,
    c: np.ndarray,
    abs_gap: float,
    settings: CpSatSettings,
    time_limit_s: float,
    start: np.ndarray | None = None,
) -> _Run:
    """Maximize ``c.x`` over the MIP until within ``abs_gap`` of the bound, from ``start``
    (pair values; auxiliaries are left to HiGHS) when given."""
    with _stdout_to(settings.log):
        h = highspy.Highs()
        _configure(h, settings, abs_gap, time_limit_s)
        h.passModel(_model(relax, c))
        if start is not None:
            solution = highspy.HighsSolution()
            values = np.zeros(len(relax.upper))
            values[: relax.n_pairs] = start
            solution.col_value = values.tolist()
            solution.value_valid = True
            h.setSolution(solution)
        h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    if status == highspy.HighsModelStatus.kInfeasible:
        return _Run(False, True, None, float("-inf"))
    has = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value)[: relax.n_pairs] > 0.5 if has else None
    bound = -float(info.mip_dual_bound)
    if not np.isfinite(bound):
        bound = float("inf")
    return _Run(status == highspy.HighsModelStatus.kOptimal, False, x, bound)


@dataclass(frozen=True, eq=False)
class MipOutcome:
    chosen: np.ndarray | None  # best exactly-checked solution (bool per pair), if any
    count_upper: int | None  # the most leads, when proven
    optimal: bool  # chosen is proven optimal in both phases
    units_upper: int | None = None  # a bound on the score at count_upper, when HiGHS has one


def _units_bound(bound: float) -> int | None:
    """HiGHS' float bound on an integral score as an integer bound, with room for its
    tolerances (1e-9 relative, far above its feasibility tolerance on these scales)."""
    if not np.isfinite(bound):
        return None
    return int(np.floor(bound + 1e-9 * abs(bound) + 1e-6))


def solve_mip(
    pairs: Pairs,
    side: SideRules,
    settings: CpSatSettings,
    time_limit_s: float,
    start: np.ndarray | None = None,
    count_upper: int | None = None,
) -> MipOutcome:
    """The lexicographic objective with HiGHS within ``time_limit_s``; see the module
    docstring. ``start``: a feasible choice (the warm start); ``count_upper``: a proven bound
    on the count."""
    started = time.perf_counter()
    relax = build_relaxation(pairs, side)
    c = objective(relax, pairs.units.astype(np.float64), True)

    def left() -> float:
        return time_limit_s - (time.perf_counter() - started)

    def fits(x: np.ndarray | None, count: int) -> bool:
        return x is not None and side.feasible(pairs, x) and int(pairs.size[x].sum()) >= count

    def value_phase(count: int, hint: np.ndarray | None) -> _Run:
        floored = relax.with_floor(pairs.size, float(count))
        # The score is integral: a gap below one unit is a proof.
        return _run(floored, c, 0.5, settings, left(), hint if fits(hint, count) else None)

    def finish(run: _Run, count: int, fallback: np.ndarray | None) -> MipOutcome:
        best = run.x if fits(run.x, count) else None
        bound = _units_bound(run.bound)
        if best is None:
            return MipOutcome(fallback, count, False, bound)
        score = side.score(pairs, best)
        # HiGHS' bound is in floats; a proof must also agree with the exact score.
        if run.proven and run.bound - score < 1.0 + 1e-9 * abs(run.bound):
            return MipOutcome(best, count, True, score)
        if fallback is not None and side.score(pairs, fallback) > score:
            best = fallback
        return MipOutcome(best, count, False, bound)

    start_count = int(pairs.size[start].sum()) if start is not None else -1
    if start is not None and start_count == count_upper and side.feasible(pairs, start):
        return finish(value_phase(count_upper, start), count_upper, start)
    if count_upper is not None:
        # Optimistic: the count bound as a floor. Feasible means that count is proven.
        attempt = value_phase(count_upper, start)
        if not attempt.infeasible:
            if fits(attempt.x, count_upper):
                return finish(attempt, count_upper, None)
            return MipOutcome(None, None, False)  # out of time without a solution
    # CP-SAT's phase 1 objective: the count, then a coarse value (so that the solution
    # CP-SAT may continue from keeps most of the value), stopped once the count is proven.
    coeffs, weight, ties = count_objective(pairs)
    counting = _run(
        relax, objective(relax, coeffs.astype(np.float64), False), ties, settings, left()
    )
    found = counting.x
    if found is None or not side.feasible(pairs, found):
        return MipOutcome(None, None, False)
    count = int(pairs.size[found].sum())
    if not counting.proven or np.floor((counting.bound + 1e-6) / weight) > count:
        return MipOutcome(found, None, False)
    return finish(value_phase(count, found), count, found)
