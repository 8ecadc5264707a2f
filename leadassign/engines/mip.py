"""The whole model as a MIP, solved by HiGHS (through ``highspy``): the first exact path
for side rules and efforts.

On books of several hundred to a few thousand leads with efforts, accounts kept together,
a churn limit or several rules at once, HiGHS' branch and cut proves the optimum where CP-SAT
alone does not (800 leads x 30 reps, one worker, 60 s: 12 of 13 random books proven in
6-23 s with HiGHS first, against 5 of 13 by CP-SAT alone).
It runs after the LP start (``lp.py``), with ``SHARE`` of the time left and at most ``MAX_NODES``
branch-and-bound nodes per phase (nearly all the time and ``PLAIN_NODES`` when no fairness
or churn rule applies); what it finds is checked exactly, and when it does not prove both
phases, CP-SAT continues from its best solution, its proven count and its bound.

Before the whole MIP, when the LP solution is known, HiGHS searches the neighbourhood it
induces (``neighbourhood_mip``): every unit fixed where the LP puts it but the hundred or so
it is least sure of. On Yagiura's generalized-assignment books of 400-1,600 jobs, where
HiGHS' root alone does not finish in the time, this finds solutions within 0.1-1% of the
best known in a second or two, where the regret greedy and local search were 5-300% off.
Books above ``MAX_PAIRS`` get the neighbourhood only.

The MIP is the LP relaxation of ``lp.py`` with every variable integral: the pair Booleans,
and the excess and churn variables that are integers in the CP-SAT model too (hard fairness'
group totals, exact sums of integers kept in units of the largest metric, stay continuous).
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

import time
from dataclasses import dataclass

import highspy
import numpy as np

from leadassign.compile.families import SideRules
from leadassign.compile.pairs import Pairs
from leadassign.control import budget
from leadassign.engines.cpsat import CpSatSettings, count_objective
from leadassign.engines.cpsat_proto import segments
from leadassign.engines.lp import (
    LpOutcome,
    Relaxation,
    all_in,
    build_relaxation,
    highs_model,
    highs_output,
    highs_scale,
    objective,
    run_highs,
)

#: Share of the time left that the MIP may use before CP-SAT takes over. At 0.5, a 1,500-lead
#: x 40-rep book with every rule and efforts stopped HiGHS at its time limit 0.12% short of the
#: optimum, and CP-SAT's 20 s after it gained nothing; at 0.8 HiGHS proved it (32 s of 60).
SHARE = 0.8
#: Above this many pairs the MIP is skipped: HiGHS did not finish phase 2 of 3,000 leads x 60
#: reps with accounts or all rules (23,000 pairs) within 60 s, nor the root of Yagiura's GAP
#: c40400 (16,000 pairs) in 6 s.
MAX_PAIRS = 60_000
#: Branch-and-bound nodes per phase.
MAX_NODES = 1000
#: Share and nodes for books without fairness or a churn rule (capacities, efforts, floors,
#: accounts: generalized assignment), where CP-SAT with 2 workers rarely improves on HiGHS:
#: OR-Library's b10200, c10200 and c20200 need 250-2,000 nodes (7-19 s) for HiGHS' proof.
PLAIN_SHARE = 0.9
PLAIN_NODES = 5000
#: The neighbourhood MIP frees units, those the LP is least sure of first, until their pairs
#: number this many (about 100 jobs of Yagiura's 20-80-agent GAP books, where HiGHS finds
#: solutions within 0.1-1% of the best known in 1.5 s; on the whole book it found 19% in 8 s).
FREE_PAIRS = 4000
#: Share of the MIP's time for the neighbourhood when the whole MIP runs after it.
NEIGHBOURHOOD_SHARE = 0.5


def _configure(
    h: highspy.Highs,
    settings: CpSatSettings,
    abs_gap: float,
    limit: float,
    max_nodes: int,
    rel_gap: float = 0.0,
) -> None:
    h.setOptionValue("output_flag", bool(settings.log))
    h.setOptionValue("mip_rel_gap", rel_gap)
    h.setOptionValue("mip_abs_gap", abs_gap)
    h.setOptionValue("threads", 1)
    # A work limit, so whether HiGHS proves a book does not depend on the machine's speed (the
    # time limit is only a backstop). It proves the books it can at the root or within a few
    # hundred nodes; past that, CP-SAT does better.
    h.setOptionValue("mip_max_nodes", max_nodes)
    h.setOptionValue("random_seed", settings.seed)
    h.setOptionValue("time_limit", max(limit, 0.01))


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
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
    max_nodes: int = MAX_NODES,
    rel_gap: float = 0.0,
) -> _Run:
    """Maximize ``c.x`` over the MIP until within ``abs_gap`` (or the relative ``rel_gap``)
    of the bound, from ``start`` (pair values; auxiliaries are left to HiGHS) when given;
    ``bounds``: see ``lp.highs_model``."""
    with highs_output(settings.log):
        h = highspy.Highs()
        scale = highs_scale(c)
        _configure(h, settings, abs_gap * scale, time_limit_s, max_nodes, rel_gap)
        h.passModel(highs_model(relax, c * scale, bounds=bounds))
        if start is not None:
            solution = highspy.HighsSolution()
            values = np.zeros(len(relax.upper))
            values[: relax.n_pairs] = start
            solution.col_value = values.tolist()
            solution.value_valid = True
            h.setSolution(solution)
        run_highs(h)
    status = h.getModelStatus()
    info = h.getInfo()
    if status == highspy.HighsModelStatus.kInfeasible:
        return _Run(False, True, None, float("-inf"))
    has = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value)[: relax.n_pairs] > 0.5 if has else None
    bound = -float(info.mip_dual_bound) / scale
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


def free_units(pairs: Pairs, lp: LpOutcome, budget: int) -> np.ndarray | None:
    """The units a neighbourhood MIP leaves free (bool per pair, True on their pairs): those
    the LP splits, then those whose move costs least by the LP's reduced costs, until their
    pairs number ``budget`` (at least one unit); None when that frees half the pairs or more
    (the whole MIP is then about as small).

    A unit the LP puts wholly on pair ``p`` loses ``reduced[p] - reduced[q]`` by moving to
    ``q`` (its own row's dual cancels), so its regret is the least of that over its other
    pairs; a unit the LP leaves out loses ``-reduced[q]`` by joining at ``q``."""
    starts, ends = segments(pairs.unit)  # pairs are sorted by unit
    on = lp.x > 0.5
    split = np.maximum.reduceat((lp.x > 1e-6) & (lp.x < 1 - 1e-6), starts)
    reduced = lp.reduced.astype(np.float64)
    here = np.maximum.reduceat(np.where(on, reduced, -np.inf), starts)
    elsewhere = np.maximum.reduceat(np.where(on, -np.inf, reduced), starts)
    regret = np.where(np.isfinite(here), here, 0.0) - elsewhere  # inf: no other pair
    regret[split] = -np.inf
    order = np.argsort(regret, kind="stable")
    size = (ends - starts)[order]
    take = max(int(np.searchsorted(np.cumsum(size), budget, side="right")), int(split.sum()), 1)
    if int(size[:take].sum()) * 2 >= len(pairs):
        return None
    free = np.zeros(len(starts), dtype=bool)
    free[order[:take]] = True
    return np.repeat(free, ends - starts)


def neighbourhood_mip(
    relax: Relaxation,
    c: np.ndarray,
    pairs: Pairs,
    count: int,
    lp: LpOutcome,
    settings: CpSatSettings,
    time_limit_s: float,
) -> np.ndarray | None:
    """The best solution HiGHS finds within ``time_limit_s`` with every unit but those of
    ``free_units`` fixed where the LP solution ``lp`` puts it (on its pair, or out): a
    relaxation-induced neighbourhood. Where the LP is nearly integral it holds solutions
    close to the optimum, and it is small enough for HiGHS' heuristics and search. When
    HiGHS solves one to optimality with time to spare, the next frees twice the pairs
    (from the last solution, which lies in it), until one would free half the book. None
    when HiGHS finds none in time (or no neighbourhood is smaller than the book).

    ``relax`` has the floor of ``count`` leads; when the fixed units leave the free ones
    just enough room to reach it, their rows become equalities (``Relaxation.with_units_in``).
    """
    started = time.perf_counter()
    on = lp.x > 0.5
    starts, _ = segments(pairs.unit)
    sizes = pairs.size[starts].astype(np.int64)
    best: np.ndarray | None = None
    free_pairs = FREE_PAIRS
    meter = budget.current()
    while (left := time_limit_s - (time.perf_counter() - started)) > 0 and (
        meter is None or meter.work_left() > 0
    ):
        free = free_units(pairs, lp, free_pairs)
        if free is None:
            break
        lower = (on & ~free).astype(np.float64)
        upper = (on | free).astype(np.float64)
        free_unit = free[starts]
        fixed_in = int(pairs.size[lower > 0].sum())
        rows = relax
        if count - fixed_in >= int(sizes[free_unit].sum()):
            rows = relax.with_units_in(free_unit)
        run = _run(rows, c, 0.5, settings, left, start=best, bounds=(lower, upper))
        if run.x is not None:
            best = run.x
        if not run.proven:
            break
        free_pairs *= 2
    return best


class _Mip:
    """:func:`solve_mip`'s model and clock: the relaxation's rows, the value objective, and
    the phases solved on them."""

    def __init__(
        self,
        pairs: Pairs,
        side: SideRules,
        settings: CpSatSettings,
        time_limit_s: float,
        max_nodes: int,
    ) -> None:
        self.started = time.perf_counter()
        self.pairs, self.side, self.settings = pairs, side, settings
        self.time_limit_s, self.max_nodes = time_limit_s, max_nodes
        self.relax = build_relaxation(pairs, side)
        self.c = objective(self.relax, pairs.units.astype(np.float64), True)

    def left(self) -> float:
        """Seconds left of the time limit."""
        return self.time_limit_s - (time.perf_counter() - self.started)

    def fits(self, x: np.ndarray | None, count: int) -> bool:
        """``x`` meets every rule and assigns at least ``count`` leads."""
        pairs = self.pairs
        return x is not None and self.side.feasible(pairs, x) and int(pairs.size[x].sum()) >= count

    def neighbourhood(
        self, count_upper: int, relaxed: LpOutcome, share: float
    ) -> np.ndarray | None:
        """The neighbourhood MIP's best solution at ``count_upper`` leads around the LP
        solution ``relaxed``, within ``share`` of the time and work left."""
        floored = self.relax.with_floor(self.pairs.size, float(count_upper))
        with budget.stage(share):
            return neighbourhood_mip(
                floored,
                self.c,
                self.pairs,
                count_upper,
                relaxed,
                self.settings,
                share * self.left(),
            )

    def better_start(
        self, found: np.ndarray | None, start: np.ndarray | None, count_upper: int
    ) -> bool:
        """``found`` is feasible at ``count_upper`` leads and better than ``start`` (or
        ``start`` is not)."""
        side, pairs = self.side, self.pairs
        return (
            found is not None
            and self.fits(found, count_upper)
            and (
                start is None
                or not self.fits(start, count_upper)
                or side.score(pairs, found) > side.score(pairs, start)
            )
        )

    def value_phase(self, count: int, hint: np.ndarray | None) -> _Run:
        """The most value among choices of at least ``count`` leads, from ``hint`` if it
        fits."""
        floored = all_in(self.relax, self.pairs, count).with_floor(self.pairs.size, float(count))
        # The score is integral: a gap below one unit is a proof.
        hint = hint if self.fits(hint, count) else None
        # ``solver.relative_gap`` lets HiGHS stop that close to its bound (the count phase
        # is always exact): the answer is then FEASIBLE with that gap, never OPTIMAL.
        return _run(
            floored,
            self.c,
            0.5,
            self.settings,
            self.left(),
            hint,
            max_nodes=self.max_nodes,
            rel_gap=self.settings.relative_gap,
        )

    def finish(self, run: _Run, count: int, fallback: np.ndarray | None) -> MipOutcome:
        """The outcome of a value phase: its solution (or ``fallback``, if better), proven
        when HiGHS' bound agrees with the exact score."""
        side, pairs = self.side, self.pairs
        best = run.x if self.fits(run.x, count) else None
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

    def count_then_value(self) -> MipOutcome:
        """CP-SAT's phase 1 objective: the count, then a coarse value (so that the solution
        CP-SAT may continue from keeps most of the value), stopped once the count is proven;
        then the value phase at that count."""
        pairs, side = self.pairs, self.side
        coeffs, weight, ties = count_objective(pairs)
        count_c = objective(self.relax, coeffs.astype(np.float64), False)
        counting = _run(
            self.relax, count_c, ties, self.settings, self.left(), max_nodes=self.max_nodes
        )
        found = counting.x
        if found is None or not side.feasible(pairs, found):
            return MipOutcome(None, None, False)
        count = int(pairs.size[found].sum())
        if not counting.proven or np.floor((counting.bound + 1e-6) / weight) > count:
            return MipOutcome(found, None, False)
        return self.finish(self.value_phase(count, found), count, found)


def solve_mip(
    pairs: Pairs,
    side: SideRules,
    settings: CpSatSettings,
    time_limit_s: float,
    start: np.ndarray | None = None,
    count_upper: int | None = None,
    relaxed: LpOutcome | None = None,
    whole: bool = True,
    max_nodes: int = MAX_NODES,
) -> MipOutcome:
    """The lexicographic objective with HiGHS within ``time_limit_s``; see the module
    docstring. ``start``: a feasible choice (the warm start); ``count_upper``: a proven bound
    on the count; ``relaxed``: the LP solution at ``count_upper`` leads, when known: a
    neighbourhood MIP (``neighbourhood_mip``) then first improves the start; ``whole``: solve
    the whole MIP (else only the neighbourhood, which proves nothing); ``max_nodes``: per
    phase of the whole MIP."""
    mip = _Mip(pairs, side, settings, time_limit_s, max_nodes)
    start_count = int(pairs.size[start].sum()) if start is not None else -1
    if relaxed is not None and count_upper is not None:
        found = mip.neighbourhood(count_upper, relaxed, NEIGHBOURHOOD_SHARE if whole else 1.0)
        if mip.better_start(found, start, count_upper):
            start, start_count = found, count_upper
    if not whole:
        ok = start is not None and side.feasible(pairs, start)
        return MipOutcome(start if ok else None, None, False)
    if start is not None and start_count == count_upper and side.feasible(pairs, start):
        return mip.finish(mip.value_phase(count_upper, start), count_upper, start)
    if count_upper is not None:
        # Optimistic: the count bound as a floor. Feasible means that count is proven.
        attempt = mip.value_phase(count_upper, start)
        if not attempt.infeasible:
            if mip.fits(attempt.x, count_upper):
                return mip.finish(attempt, count_upper, None)
            return MipOutcome(None, None, False)  # out of time without a solution
    return mip.count_then_value()
