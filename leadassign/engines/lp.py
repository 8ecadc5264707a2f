"""The LP relaxation of the CP-SAT model, solved by HiGHS' simplex: bounds and a starting point.

Side rules (fairness, a churn limit, accounts, efforts) take the problem off a network, and
CP-SAT alone finds first solutions to such models slowly and proves their bounds late. The LP
relaxation of the same model (every constraint family of ``cpsat.py``, with the pair Booleans
relaxed to [0, 1]) is nearly integral on these books, so it gives both:

* **bounds**: a Lagrangian bound computed from the LP's dual values in numpy. Any dual vector
  gives a valid bound, so the bound holds whatever the LP solver's tolerances were; it is
  then rounded down to whole units (the objective is integral).
* **a start**: a basic LP solution has at most one fractional variable per constraint, so
  the pairs it uses are few; CP-SAT restricted to them and to each unit's cheapest
  alternatives (by reduced cost) finds an integral solution close to the bound quickly.

Two LPs, as the model is lexicographic: the most leads, then the best score at that count.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import highspy
import numpy as np

from leadassign.compile.families import SideRules
from leadassign.compile.pairs import Pairs
from leadassign.control import budget
from leadassign.control.stop import cancelling
from leadassign.engines.cpsat import CpSatSettings, solve_cpsat
from leadassign.engines.cpsat_proto import segments
from leadassign.engines.lp_rows import INF, Rows

#: Above this many pairs the LP is skipped: OR-Tools' GLOP (used before HiGHS) took about 60 s
#: for the second LP on 260,000 pairs (10,000 leads x 200 reps, accounts kept together), where
#: the first took 3 s. HiGHS' simplex solves Yagiura's 128,000-pair GAP books in 1.5-3.5 s.
MAX_PAIRS = 150_000
#: Alternatives per unit that the restricted CP-SAT search may use beyond the LP's pairs.
NEIGHBORS = 3


@dataclass(frozen=True, eq=False)
class Relaxation:
    """The LP: variables 0..n-1 are the pairs, then the auxiliary variables."""

    row: np.ndarray
    col: np.ndarray
    val: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    upper: np.ndarray  # per variable (every lower bound is 0)
    n_pairs: int
    penalties: tuple[tuple[int, float], ...]  # (aux variable, units lost per unit of it)
    continuous: tuple[int, ...] = ()  # aux variables that need not be integral in the MIP
    #: per row: the divisor it was scaled by (``Rows.scales``; rows added later: 1)
    row_scale: np.ndarray | None = None
    #: the rows of each rule: (name, first row, end row), in the order built
    rule_rows: tuple[tuple[str, int, int], ...] = ()

    def with_units_in(self, units: np.ndarray) -> Relaxation:
        """The same LP with the rows of ``units`` (bool per unit; each unit's row comes
        first, at its index among the units) as equalities: those units are assigned. When
        a floor on the count implies it, saying so outright lets HiGHS' presolve see each
        unit's pairs as one choice (on GAP books its neighbourhood solutions went from 6%
        to 0.8% above the best known)."""
        lo = self.lo.copy()
        lo[: len(units)][units] = 1.0
        return replace(self, lo=lo)

    def with_floor(self, coeffs: np.ndarray, floor: float) -> Relaxation:
        """The same LP plus one row over the pairs: ``sum(coeffs * x) >= floor``."""
        nz = np.flatnonzero(coeffs)
        return replace(
            self,
            row=np.concatenate([self.row, np.full(len(nz), len(self.lo))]),
            col=np.concatenate([self.col, nz]),
            val=np.concatenate([self.val, coeffs[nz].astype(np.float64)]),
            lo=np.append(self.lo, floor),
            hi=np.append(self.hi, INF),
        )


def build_relaxation(pairs: Pairs, side: SideRules) -> Relaxation:
    """Every constraint family of the CP-SAT model, over continuous variables."""
    n, m = len(pairs), len(pairs.capacity)
    rows = Rows()
    units = np.unique(pairs.unit)
    rows.add_grouped(pairs.unit, np.ones(n), np.full(len(units), -INF), np.ones(len(units)), units)
    effort_of_rep = np.bincount(pairs.rep, weights=pairs.effort, minlength=m)
    binding = np.flatnonzero(effort_of_rep > pairs.capacity)
    rows.add_grouped(
        pairs.rep,
        pairs.effort,
        np.full(len(binding), -INF),
        pairs.capacity[binding],
        binding,
    )
    ranges = [("capacity", len(units), len(rows.lo))]
    floored = np.flatnonzero(pairs.min_leads > 0)
    rows.add_grouped(
        pairs.rep, pairs.size, pairs.min_leads[floored], np.full(len(floored), INF), floored
    )
    ranges.append(("min_leads", ranges[-1][2], len(rows.lo)))
    uppers: list[float] = []
    penalties: list[tuple[int, float]] = []
    continuous: list[int] = []
    for spec in side:  # each side-rule family in force (compile/families/base.py)
        first = n + len(uppers)
        begins = len(rows.lo)
        added = spec.add_rows(rows, pairs, first)
        ranges.append((spec.name, begins, len(rows.lo)))
        continuous += range(first, first + added.continuous)
        uppers += added.uppers
        if added.penalty is not None:
            penalties.append((n + len(uppers) - 1, added.penalty))
    row, col, val, lo, hi = rows.arrays()
    upper = np.concatenate([np.ones(n), np.asarray(uppers, dtype=np.float64)])
    return Relaxation(
        row,
        col,
        val,
        lo,
        hi,
        upper,
        n,
        tuple(penalties),
        tuple(continuous),
        rows.scales(),
        tuple(ranges),
    )


def unit_sizes(pairs: Pairs) -> np.ndarray:
    """Leads per unit (pairs are sorted by unit; every pair of a unit has its size)."""
    starts, _ = segments(pairs.unit)
    sizes: np.ndarray = pairs.size[starts].astype(np.int64)
    return sizes


def all_in(relax: Relaxation, pairs: Pairs, count: int) -> Relaxation:
    """``relax`` with every unit's row an equality when a floor of ``count`` leads takes
    every unit (else as it is)."""
    sizes = unit_sizes(pairs)
    if count >= int(sizes.sum()):
        return relax.with_units_in(np.ones(len(sizes), dtype=bool))
    return relax


@dataclass(frozen=True, eq=False)
class LpOutcome:
    x: np.ndarray  # value of each pair variable
    bound: float  # proven upper bound of the maximized objective
    reduced: np.ndarray  # reduced cost of each pair variable under the bound's duals
    #: the row duals that give ``bound`` (signs as in the maximization, per scaled row)
    dual: np.ndarray | None = None
    #: the LP stage's (``lp_start``): its rows without the floor, and the floor on the count
    rows: Relaxation | None = None
    count: int | None = None


def objective(relax: Relaxation, pair_coeffs: np.ndarray, penalize: bool) -> np.ndarray:
    c = np.zeros(len(relax.upper))
    c[: relax.n_pairs] = pair_coeffs
    if penalize:
        for var, penalty in relax.penalties:
            c[var] = -float(penalty)
    return c


def lagrangian_bound(
    relax: Relaxation, c: np.ndarray, dual: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """``max c.x`` subject to the rows and 0 <= x <= upper is at most
    ``sum_i y_i * (hi_i or lo_i) + sum_k max(0, (c - A'y)_k) * upper_k`` for any y whose sign
    matches a finite side of each row (others are set to 0). Valid for any dual vector, so
    the result does not depend on the LP solver's tolerances. Returns the bound, and the
    reduced costs and the dual vector (signs fixed) that give it."""
    lo, hi = relax.lo, relax.hi
    row, col, val = relax.row, relax.col, relax.val
    best, best_reduced, best_y = INF, c, np.zeros_like(dual)
    for y in (dual, -dual):
        y = np.where((y > 0) & np.isfinite(hi) | (y < 0) & np.isfinite(lo), y, 0.0)
        side = np.where(y > 0, hi, lo)
        rows_part = np.where(y != 0, y * np.where(np.isfinite(side), side, 0.0), 0.0)
        reduced = c - np.bincount(col, weights=val * y[row], minlength=len(c))
        gains = np.maximum(reduced, 0.0) * relax.upper
        bound = float(rows_part.sum() + gains.sum())
        # Float rounding in these sums is far below 1e-12 of their magnitude.
        allowance = 1e-12 * float(np.abs(rows_part).sum() + gains.sum() + np.abs(c).sum())
        if bound + allowance < best:
            best, best_reduced, best_y = bound + allowance, reduced, y
    return best, best_reduced, best_y


def run_highs(h: highspy.Highs) -> None:
    """``h.run()``, stopped by the active stop token (``control.stop``) when it is set, within
    the active meter's work (simplex iterations over every node, budget.py) and wall time;
    the iterations it made are charged to the meter, and a limit that cut it recorded."""
    meter = budget.current()
    integral = bool(len(h.getLp().integrality_))
    if meter is not None:
        work = meter.work_left()
        rate = budget.highs_iteration_rate(integral, h.getNumCol())
        h.setOptionValue("simplex_iteration_limit", budget.work_units(work, rate))
        _, nodes = h.getOptionValue("mip_max_nodes")
        per_node = budget.highs_node_work(h.getNumCol())
        h.setOptionValue("mip_max_nodes", min(int(nodes), max(int(work / per_node), 1)))
        _, limit = h.getOptionValue("time_limit")
        h.setOptionValue("time_limit", max(min(float(limit), meter.time_left()), 0.01))
    with cancelling(h.cancelSolve) as listening:
        if listening:  # else HiGHS ignores cancelSolve
            h.HandleUserInterrupt = True
        h.run()
    if meter is not None:
        info, columns = h.getInfo(), h.getNumCol()
        meter.spend(
            max(
                int(info.simplex_iteration_count) / budget.highs_iteration_rate(integral, columns),
                max(int(info.mip_node_count), 0) * budget.highs_node_work(columns),
            )
        )
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kTimeLimit:
            meter.cut("time")
        elif status == highspy.HighsModelStatus.kInterrupt:
            meter.cut("stop")
        elif status in (
            highspy.HighsModelStatus.kIterationLimit,
            highspy.HighsModelStatus.kSolutionLimit,
        ):
            meter.cut("work")


@contextlib.contextmanager
def highs_output(log: bool) -> Iterator[None]:
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


def highs_scale(c: np.ndarray) -> float:
    """A power of two (exact in floats) that brings the objective's largest coefficient to
    at most about 1,000: value units reach 1e9, and HiGHS' dual simplex then stopped with
    "excessive dual values" on a GAP book (Yagiura's d60900)."""
    top = float(np.abs(c).max(initial=0.0))
    if top <= 1024.0:
        return 1.0
    return float(2.0 ** (10 - int(np.ceil(np.log2(top)))))


def highs_model(
    relax: Relaxation,
    c: np.ndarray,
    *,
    integral: bool = True,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> highspy.HighsLp:
    """``max c.x`` over the rows as a HiGHS model (minimizing ``-c.x``), every variable
    integral when ``integral``, built column-wise from the coordinate arrays in numpy.
    ``bounds``: lower and upper bounds of the pair variables (default 0 and 1). Callers
    pass ``c`` scaled by ``highs_scale``."""
    n_var, n_row = len(relax.upper), len(relax.lo)
    order = np.lexsort((relax.row, relax.col))
    lp = highspy.HighsLp()
    lp.num_col_ = n_var
    lp.num_row_ = n_row
    lp.col_cost_ = -np.asarray(c, dtype=np.float64)
    lower, upper = np.zeros(n_var), relax.upper.astype(np.float64)
    if bounds is not None:
        lower[: relax.n_pairs], upper[: relax.n_pairs] = bounds
    lp.col_lower_ = lower
    lp.col_upper_ = upper
    lp.row_lower_ = np.where(np.isfinite(relax.lo), relax.lo, -highspy.kHighsInf)
    lp.row_upper_ = np.where(np.isfinite(relax.hi), relax.hi, highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(relax.col[order], np.arange(n_var + 1)).astype(np.int32)
    lp.a_matrix_.index_ = relax.row[order].astype(np.int32)
    lp.a_matrix_.value_ = relax.val[order].astype(np.float64)
    if integral:
        kinds = [highspy.HighsVarType.kInteger] * n_var
        for var in relax.continuous:
            kinds[var] = highspy.HighsVarType.kContinuous
        lp.integrality_ = kinds
    return lp


def solve_relaxation(
    relax: Relaxation,
    pair_coeffs: np.ndarray,
    *,
    penalize: bool,
    floor: tuple[np.ndarray, float] | None,
    time_limit_s: float,
    log: bool = False,
) -> LpOutcome | None:
    """Maximize over the LP (plus ``sum(floor[0] * x) >= floor[1]`` when given) with HiGHS'
    simplex; None when it does not reach an optimum in time (or the LP is infeasible)."""
    outcome = _solve_lp(relax, pair_coeffs, penalize, floor, time_limit_s, log)
    return None if isinstance(outcome, Infeasible) else outcome


class Infeasible:
    """An LP proven to have no solution."""


def _solve_lp(
    relax: Relaxation,
    pair_coeffs: np.ndarray,
    penalize: bool,
    floor: tuple[np.ndarray, float] | None,
    time_limit_s: float,
    log: bool,
) -> LpOutcome | Infeasible | None:
    """``solve_relaxation``, telling an infeasible LP (``Infeasible``) from a timeout (None)."""
    if floor is not None:
        relax = relax.with_floor(*floor)
    c = objective(relax, pair_coeffs, penalize)
    with highs_output(log):
        h = highspy.Highs()
        h.setOptionValue("output_flag", log)
        h.setOptionValue("threads", 1)
        h.setOptionValue("time_limit", max(time_limit_s, 0.01))
        scale = highs_scale(c)
        h.passModel(highs_model(relax, c * scale, integral=False))
        run_highs(h)
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return Infeasible()
    if status != highspy.HighsModelStatus.kOptimal:
        return None
    solution = h.getSolution()
    x = np.clip(np.asarray(solution.col_value, dtype=np.float64), 0.0, None)
    # HiGHS minimizes -c.x * scale: its row duals are those of the maximization with the
    # sign flipped (lagrangian_bound tries both signs), times the scale.
    dual = np.asarray(solution.row_dual, dtype=np.float64) / scale
    bound, reduced, y = lagrangian_bound(relax, c, dual)
    return LpOutcome(x[: relax.n_pairs], bound, reduced[: relax.n_pairs], y)


def whole(bound: float) -> int:
    """The largest integer at most ``bound`` (an integral objective's bound)."""
    return int(np.floor(bound))


def restrict_pairs(pairs: Pairs, side: SideRules, keep: np.ndarray) -> tuple[Pairs, SideRules]:
    """The same model over the pairs ``keep`` only (reps, units and rule totals unchanged)."""
    sub = Pairs(
        unit=pairs.unit[keep],
        rep=pairs.rep[keep],
        effort=pairs.effort[keep],
        units=pairs.units[keep],
        capacity=pairs.capacity,
        min_leads=pairs.min_leads,
        size=pairs.size[keep],
    )
    return sub, side.restrict(keep)


def _ranked(pairs: Pairs, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs sorted by unit, then by ``score`` descending; and each one's rank in its unit."""
    order = np.lexsort((-score, pairs.unit))
    starts, ends = segments(pairs.unit[order])
    rank = np.arange(len(order)) - np.repeat(starts, ends - starts)
    return order, rank


def neighborhood(pairs: Pairs, lp: LpOutcome, per_unit: int = NEIGHBORS) -> np.ndarray:
    """The pairs the LP solution uses, and each unit's ``per_unit`` pairs of best reduced
    cost (the cheapest alternatives), sorted."""
    order, rank = _ranked(pairs, lp.reduced)
    keep = np.zeros(len(pairs), dtype=bool)
    keep[order[rank < per_unit]] = True
    keep |= lp.x > 1e-6
    return np.flatnonzero(keep)


def round_choice(pairs: Pairs, x: np.ndarray) -> np.ndarray:
    """Each unit to its pair with the largest LP value, when that value is at least 1/2."""
    order, rank = _ranked(pairs, x)
    top = order[rank == 0]
    chosen = np.zeros(len(pairs), dtype=bool)
    chosen[top[x[top] >= 0.5]] = True
    return chosen


@dataclass(frozen=True, eq=False)
class LpStart:
    count_upper: int  # proven bound on the leads assigned
    units_upper: int | None  # proven bound on the score of assignments of count_upper leads
    hint: np.ndarray | None  # a feasible choice of pairs, when one was found
    relaxed: LpOutcome | None = None  # the second LP (the score at count_upper), when solved


def lp_start(
    pairs: Pairs,
    side: SideRules,
    count_upper: int,
    settings: CpSatSettings,
    *,
    search: bool = True,
) -> LpStart | None:
    """Bounds from the two LPs, and a feasible start from CP-SAT restricted to the pairs the
    second LP uses (unless ``search`` is False); None when HiGHS gives no optimum within a
    quarter of the time limit.

    The second LP is tried first with ``count_upper`` as its floor: when that is feasible
    the first LP could not lower the count bound, and on generalized-assignment books (every
    job fits) it is the only LP solved (the first took 1-1.7 s of a 2.5 s budget on
    Yagiura's 900-1,600-job books)."""
    started = time.perf_counter()
    seconds = settings.time_limit_s / 4

    def value_lp(count: int) -> LpOutcome | Infeasible | None:
        left = seconds - (time.perf_counter() - started)
        floor = (pairs.size, float(count))
        rows = all_in(relax, pairs, count)
        outcome = _solve_lp(rows, pairs.units, True, floor, left, settings.log)
        if isinstance(outcome, LpOutcome):  # kept for the capacity values (result/capacity.py)
            return replace(outcome, rows=rows, count=count)
        return outcome

    relax = build_relaxation(pairs, side)
    count = count_upper
    with budget.stage(0.25):  # the LPs: a quarter of the work, like of the time
        second = value_lp(count)
        if isinstance(second, Infeasible):
            first = solve_relaxation(
                relax,
                pairs.size,
                penalize=False,
                floor=None,
                time_limit_s=seconds,
                log=settings.log,
            )
            if first is None:
                return None
            count = min(count_upper, whole(first.bound))
            second = value_lp(count)
    if not isinstance(second, LpOutcome):
        return LpStart(count, None, None) if count < count_upper else None
    units_upper = whole(second.bound)
    if not search:
        return LpStart(count, units_upper, None, second)
    # CP-SAT over the pairs the LP uses and each unit's cheapest alternatives, started from
    # the rounded LP solution (measured against the LP's support alone and against the
    # support first, then the neighborhood: this was the fastest to a proven optimum).
    keep = neighborhood(pairs, second)
    guess = round_choice(pairs, second.x)
    with budget.stage(0.125):
        hint = _restricted(
            pairs, side, keep, guess, count, units_upper, settings, settings.time_limit_s / 8
        )
    return LpStart(count, units_upper, hint, second)


def _restricted(
    pairs: Pairs,
    side: SideRules,
    keep: np.ndarray,
    guess: np.ndarray,
    count_upper: int,
    units_upper: int,
    settings: CpSatSettings,
    time_limit_s: float,
) -> np.ndarray | None:
    """CP-SAT over the pairs ``keep`` only, started from ``guess``: its best choice."""
    sub_pairs, sub_side = restrict_pairs(pairs, side, keep)
    outcome = solve_cpsat(
        sub_pairs,
        replace(settings, time_limit_s=time_limit_s),
        guess[keep],
        count_upper,
        sub_side,
        units_upper=units_upper,
    )
    if outcome.chosen is None:
        return None
    chosen = np.zeros(len(pairs), dtype=bool)
    chosen[keep[outcome.chosen]] = True
    return chosen
