"""The searches: the LP relaxation with every rule, HiGHS' MIP and the knapsack branch and
bound (AUTO only), and CP-SAT, which always ends the pipeline. Each starts from the
incumbent and leaves what it finds there."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from leadassign.compile.prepare import Prepared
from leadassign.control import budget
from leadassign.engines import mip
from leadassign.engines.capacity_lagrangian import capacity_lagrangian
from leadassign.engines.cpsat import solve_cpsat
from leadassign.engines.knapsack import Grid, branch_and_bound, value_grid
from leadassign.engines.knapsack import solvable as knapsack_solvable
from leadassign.engines.lp import MAX_PAIRS, lp_start, unit_sizes
from leadassign.heuristics.gap_tabu import iterations_for, tabu_search
from leadassign.heuristics.moves import improve_by_moves
from leadassign.result import Status
from leadassign.solve.explain import explain
from leadassign.solve.incumbent import Finish, better, valid
from leadassign.solve.run import Run

#: HiGHS' share of the time left on generalized assignment books, before the knapsack branch
#: and bound (``knapsack.py``) takes the rest.
KNAPSACK_MIP_SHARE = 0.4
#: The knapsack search runs past its root only when HiGHS' choice is within this much
#: (relative) of the root's bound; else HiGHS goes on. OR-Library's B and C books were within
#: 0.13% after HiGHS' share; type D, where the search does not finish, 0.5-2.5%.
KNAPSACK_MAX_GAP = 0.003
#: Books of more pairs skip the knapsack search. On Yagiura's books of 20-40 agents and 400
#: jobs (8,000-16,000 pairs) the root's cost and HiGHS' split time left them worse at 10 s
#: (e40400 2.9% instead of 0.6%, e20400 0.6% instead of 0.2%); every book it proves at 10 s
#: has at most 4,000 pairs.
KNAPSACK_MAX_PAIRS = 5_000
#: The tabu search's share (``gap_tabu.py``) of the time and work left on generalized
#: assignment books of at most ``TABU_MAX_PAIRS`` pairs: after HiGHS' first MIP (which then
#: gets ``TABU_MIP_SHARE``), or, where the knapsack search follows, only when that search
#: does not start (HiGHS' choice too far from its bound: A, B, C keep their time). On tight
#: books (type D) HiGHS' answer ended 0.5-4.7% above the best known (RESULTS.md 4e).
TABU_SHARE = 0.5
TABU_MIP_SHARE = 0.4
TABU_MAX_PAIRS = 8_000
#: Shift and swap visits (``improve_by_moves``) from the capacity Lagrangian's start on
#: books above ``TABU_MAX_PAIRS``: 5,000 took e801600's start from 1.75% to 0.99% above the
#: best known cost in 0.5 s (the default 20,000 take about 2 s there).
CAPACITY_MOVES = 5_000
#: ... on books of at most this many pairs (the LP's range: Yagiura's largest books have
#: 128,000). Each step prices every pair (about 2 ms at 128,000 pairs); above, the steps
#: and packings of a much bigger book were not measured, and the stage leaves it as before.
CAPACITY_MAX_PAIRS = MAX_PAIRS
#: Where the knapsack search follows, the tabu search runs before it when HiGHS' choice is
#: further than this (relative) from HiGHS' bound: the knapsack root can take what is left
#: of the time under load (type D at 10 s on a loaded machine), leaving the search none.
TABU_FIRST_GAP = 0.005
#: The tabu search's share of the time and work left when it runs before the knapsack search
#: (HiGHS' choice further than ``TABU_FIRST_GAP`` from its bound: OR-Library's type D). There
#: the knapsack search does not start, and CP-SAT after it found no better answer at 10 s on
#: d10100, d10200 and d20100 (RESULTS.md 4g): the walk is the stage that improves them. 0.95
#: instead of 0.8 (session 10, RESULTS.md 4j): over three seeds D's mean 0.326% -> 0.314%
#: and the small E books' 0.079% -> 0.063%, no book worse; the knapsack root, HiGHS again and
#: CP-SAT still run in what is left (CP-SAT at least its share of the work).
TABU_FAR_SHARE = 0.95
#: CP-SAT's least share of the work limit, however much the earlier stages used (as it gets
#: at least a second of the time limit): HiGHS' root can overrun its share (budget.py), and
#: with a twentieth CP-SAT's value phase found nothing on the 2,089 x 35 CRM book.
CPSAT_MIN_WORK = 0.25
#: Wall seconds per pair CP-SAT takes to build and load its model (about 15 s for 3.1M pairs
#: with a value band on 2 cores): with less time left and an answer in hand, it is skipped.
CPSAT_BUILD_S_PER_PAIR = 5e-6
#: CP-SAT runs only with at least this many builds' time left (CPSAT_BUILD_S_PER_PAIR): each
#: phase's presolve and load take about as long again, and neither looks at the clock
#: meanwhile. With 25 s left (one build) a 50,000 x 300 value band ran 118 s past its 60 s
#: limit under a load of 9, to return the draft's count all the same.
CPSAT_MIN_BUILDS = 3


def lp_bounds(run: Run, *, mip_follows: bool) -> None:
    """The LP relaxation with every rule: tighter bounds, and a start that meets them.
    With HiGHS' whole MIP to follow (``mip_follows``), the restricted CP-SAT search for a
    start is left out: its eighth of the time goes to HiGHS (OR-Library's GAP books it
    proves at 10 s finish 1-5 s sooner, and type D ends closer to the best known)."""
    pairs, inc = run.prep.pairs, run.incumbent
    if len(pairs) > MAX_PAIRS or inc.proven():
        return
    run.report.phase("lp")
    from_lp = lp_start(
        pairs,
        run.prep.side,
        inc.count_upper,
        run.cp_settings,
        search=not (mip_follows and len(pairs) <= mip.MAX_PAIRS),
    )
    if from_lp is None:
        return
    run.relaxed_lp = from_lp.relaxed
    if from_lp.count_upper < inc.count_upper:  # the flow's value bound was for more leads
        inc.count_upper, inc.units_upper = from_lp.count_upper, from_lp.units_upper
    elif from_lp.units_upper is not None:
        inc.units_at_most(from_lp.units_upper)
    if from_lp.hint is not None:
        inc.offer(from_lp.hint)


def assignment_grid(prep: Prepared, count_upper: int) -> Grid | None:
    """The values on a grid (``knapsack.value_grid``) when the book is a generalized
    assignment problem the knapsack search can take: no side rules or floors, efforts that
    are not all one lead (those are flows), every unit placeable by the relaxation's count,
    at most ``KNAPSACK_MAX_PAIRS`` pairs and knapsacks small enough; else None."""
    pairs, side = prep.pairs, prep.side
    if side.any or np.any(pairs.min_leads > 0) or np.all(pairs.effort == pairs.size):
        return None
    if len(pairs) > KNAPSACK_MAX_PAIRS or count_upper != int(unit_sizes(pairs).sum()):
        return None
    if not knapsack_solvable(pairs):
        return None
    return value_grid(pairs.units, prep.scale)


def mip_and_knapsack(run: Run) -> Finish | None:
    """HiGHS' branch and cut on the neighbourhood the LP solution gives, then on the whole
    model (when small enough); on a generalized assignment book the knapsack branch and
    bound then proves its choice (knapsack.py). CP-SAT continues if neither has a proof."""
    pairs, side, inc = run.prep.pairs, run.prep.side, run.incumbent
    whole = len(pairs) <= mip.MAX_PAIRS
    grid = assignment_grid(run.prep, inc.count_upper)
    plain = not side.any
    tabu = _tabu_book(run)
    # HiGHS' share of the time left: less when the knapsack search or the tabu search follows.
    share = KNAPSACK_MIP_SHARE if grid else mip.PLAIN_SHARE if plain else mip.SHARE
    if tabu and grid is None:
        share = min(share, TABU_MIP_SHARE)
    while (whole or run.relaxed_lp is not None) and not inc.proven():
        if (halt := run.halted()) is not None:
            return halt
        finish = _highs(run, share, whole, plain)
        if finish is not None:
            return finish
        if tabu and grid is None:
            tabu = _tabu(run, TABU_SHARE)
        elif tabu and _far(run, TABU_FIRST_GAP):
            tabu = _tabu(run, TABU_FAR_SHARE)
        if (close := _within_gap(run)) is not None:
            return close
        if grid is None or inc.proven():
            return None
        searched, finish = _knapsack(run, grid)
        if searched:
            return finish
        # HiGHS' choice is far from the knapsack bound: the tabu search, then HiGHS again
        # with the time a book without the knapsack search gives it (the bound stays).
        tabu = tabu and _tabu(run, TABU_SHARE)
        grid, share = None, mip.PLAIN_SHARE
    return None


def _assignment_book(run: Run) -> bool:
    """Whether the book is a generalized assignment problem: no side rules or floors,
    efforts that are not all one lead (those are flows) and none negative, every unit
    placeable by the relaxation's count."""
    pairs, side = run.prep.pairs, run.prep.side
    if side.any or np.any(pairs.min_leads > 0) or np.all(pairs.effort == pairs.size):
        return False
    if np.any(pairs.effort < 0):
        return False
    return run.incumbent.count_upper == int(unit_sizes(pairs).sum())


def _tabu_book(run: Run) -> bool:
    """Whether the book is a generalized assignment problem the tabu search takes: at most
    ``TABU_MAX_PAIRS`` pairs."""
    return len(run.prep.pairs) <= TABU_MAX_PAIRS and _assignment_book(run)


def capacity_start(run: Run) -> None:
    """A generalized assignment book the tabu search does not take (more than
    ``TABU_MAX_PAIRS`` pairs, at most ``CAPACITY_MAX_PAIRS``): the capacity Lagrangian
    (``engines/capacity_lagrangian.py``) bounds the value of every choice placing every
    unit, and its best packed choice, improved by shifts and swaps (``CAPACITY_MOVES``
    visits), is the start. Before it the start was the relaxation's, trimmed, filled and
    moved: 81.7% above the best known cost of Yagiura's e801600 after 3.6 s of moves, which
    left the LP too little of a 10 s limit under load (benchmarks/RESULTS.md, section 4i)."""
    pairs, inc = run.prep.pairs, run.incumbent
    if not TABU_MAX_PAIRS < len(pairs) <= CAPACITY_MAX_PAIRS or not _assignment_book(run):
        return
    run.report.phase("lagrangian")
    found = capacity_lagrangian(pairs, time_left=run.time_left)
    if found.chosen is not None:
        inc.offer(improve_by_moves(pairs, found.chosen, max_visits=CAPACITY_MOVES))
    inc.units_at_most(found.bound)


def _far(run: Run, gap: float) -> bool:
    """Whether the incumbent places the proven most units and is further than ``gap``
    (relative) from the value bound so far."""
    inc = run.incumbent
    if inc.chosen is None or inc.units_upper is None or inc.placed() != inc.count_upper:
        return False
    score = run.prep.side.score(run.prep.pairs, inc.chosen)
    return bool(inc.units_upper - score > gap * abs(inc.units_upper))


def _tabu(run: Run, share: float) -> bool:
    """The tabu search (``gap_tabu.py``) from the incumbent when it places every unit, in
    ``share`` of the time and work left; its answer is offered to the incumbent.
    Returns False (the search is done)."""
    pairs, inc = run.prep.pairs, run.incumbent
    if inc.chosen is None or inc.placed() != inc.count_upper or not inc.feasible:
        return False
    run.report.phase("tabu")
    n = len(unit_sizes(pairs))
    with budget.stage(share) as part:
        work = float("inf") if part is None else part.work_left()
        limit = 10**9 if part is None else iterations_for(work, n, len(pairs.capacity))
        walked = tabu_search(
            pairs,
            pairs.units,
            inc.chosen,
            limit,
            None if part is None else part.time_left,
            seed=run.settings.seed,
        )
    if walked.improved:
        inc.offer(walked.chosen)
    return False


def _within_gap(run: Run) -> Finish | None:
    """With ``solver.relative_gap`` > 0: the incumbent as the answer (FEASIBLE, by HiGHS'
    MIP) once it assigns the proven most leads and its score is within that gap of the
    proven bound, as CP-SAT would stop there too; else None."""
    gap, inc = run.settings.relative_gap, run.incumbent
    if gap <= 0 or inc.chosen is None or inc.units_upper is None:
        return None
    if inc.placed() < inc.count_upper or not inc.feasible:
        return None
    score = run.prep.side.score(run.prep.pairs, inc.chosen)
    if inc.units_upper - score > gap * abs(inc.units_upper):
        return None
    return replace(inc.finish(inc.count_upper), by="mip")


def _highs(run: Run, share: float, whole: bool, plain: bool) -> Finish | None:
    """One HiGHS MIP in ``share`` of the budget left: OPTIMAL, or its bounds and choice
    left in the incumbent."""
    pairs, inc = run.prep.pairs, run.incumbent
    run.report.phase("mip")
    with budget.stage(share) as part:
        assert part is not None
        found = mip.solve_mip(
            pairs,
            run.prep.side,
            run.cp_settings,
            part.time_left(),
            inc.chosen,
            inc.count_upper,
            relaxed=run.relaxed_lp,
            whole=whole,
            max_nodes=mip.PLAIN_NODES if plain else mip.MAX_NODES,
        )
    if found.optimal:
        assert found.chosen is not None
        inc.take(found.chosen)
        return Finish(Status.OPTIMAL, int(pairs.size[found.chosen].sum()), 0, by="mip")
    if found.count_upper is not None and found.count_upper < inc.count_upper:
        # The value bounds so far were for more leads.
        inc.count_upper, inc.units_upper = found.count_upper, None
    if found.count_upper == inc.count_upper and found.units_upper is not None:
        inc.units_at_most(found.units_upper)
    if found.chosen is not None:
        inc.offer(found.chosen)
    return None


def _knapsack(run: Run, grid: Grid) -> tuple[bool, Finish | None]:
    """The knapsack branch and bound from the incumbent: whether it searched past its root
    (False: HiGHS' choice was too far from its bound) and, when every unit is placed, the
    answer, proven or with the knapsack bound (CP-SAT, with the second or so left, would not
    improve on it)."""
    pairs, inc = run.prep.pairs, run.incumbent
    run.report.phase("knapsack")
    placed = inc.chosen is not None and inc.placed() == inc.count_upper
    searched = branch_and_bound(
        pairs,
        grid.values,
        inc.chosen if placed else None,
        run.time_left,
        max_gap=KNAPSACK_MAX_GAP,
    )
    if searched.chosen is not None:
        inc.offer(searched.chosen)
    if searched.bound is not None:
        inc.units_at_most(grid.units_above(searched.bound, len(unit_sizes(pairs))))
    if not searched.searched:
        return False, None
    proven = searched.proven and searched.chosen is not None
    if proven:
        # optimal on the exact values (a choice HiGHS found may score a few rounding units
        # more in the scaled integers without being worth more)
        assert searched.chosen is not None
        inc.take(searched.chosen)
    hint = inc.chosen
    if hint is None or inc.placed() != inc.count_upper:
        return True, None
    if proven:
        return True, Finish(Status.OPTIMAL, inc.count_upper, 0, by="knapsack")
    missing = None if inc.units_upper is None else inc.missing(hint, inc.units_upper)
    return True, Finish(Status.FEASIBLE, inc.count_upper, missing, by="knapsack")


def cpsat(run: Run) -> Finish:
    """CP-SAT from the incumbent, with the bounds so far. The time the earlier stages used
    (starts, flows, LP, MIP) comes off CP-SAT's: with the LP and the MIP skipped, a 10,000 x
    200 book with accounts ran 15 s past its limit. CP-SAT gets at least a second and
    CPSAT_MIN_WORK of the work limit, like the last of it."""
    prep, inc, meter = run.prep, run.incumbent, run.budget
    pairs, side = prep.pairs, prep.side
    if run.time_left() < CPSAT_MIN_BUILDS * CPSAT_BUILD_S_PER_PAIR * len(pairs):
        # Less time left than building CP-SAT's model and its two phases take: CP-SAT would
        # overrun the limit (a 50,000 x 300 value band ran 35 s past it with an answer in
        # hand, and 180 s past it without one, to end UNKNOWN all the same). The earlier
        # stages' answer stands, or none (UNKNOWN, limited_by "time").
        meter.cut("time")
        return _standing(run, inc.count_upper)
    last = budget.Meter(
        max(meter.work_left(), CPSAT_MIN_WORK * meter.work), max(run.time_left(), 1.0)
    )
    settings = replace(run.cp_settings, time_limit_s=last.seconds)
    with budget.metering(last):
        cp = solve_cpsat(
            pairs,
            settings,
            inc.chosen,
            inc.count_upper,
            side,
            units_upper=inc.units_upper,
            progress=run.progress,
            value_scale=prep.scale,
        )
    meter.cuts |= last.cuts
    meter.spend(last.used)
    status = Status(cp.status)
    if cp.chosen is None and status not in (Status.INFEASIBLE, Status.MODEL_INVALID):
        # Cut short before CP-SAT found anything: the best assignment an earlier stage found,
        # named by that stage.
        return _standing(run, inc.count_upper if cp.count_bound is None else cp.count_bound)
    if cp.chosen is None:
        return Finish(status, cp.count_bound, conflicts=_explained(run, status))
    hint = inc.chosen
    if not (hint is not None and valid(prep, hint) and better(prep, hint, cp.chosen)):
        inc.take(cp.chosen)  # (CP-SAT starts from the incumbent; kept should it return less)
    chosen = inc.chosen
    assert chosen is not None
    if status == Status.FEASIBLE and not chosen.any() and (cp.count_bound or 0) > 0:
        return inc.finish(cp.count_bound)  # nothing assigned where leads can be: no answer
    if cp.units_bound is None:
        return Finish(status, cp.count_bound)
    return Finish(status, cp.count_bound, inc.missing(chosen, cp.units_bound))


def _standing(run: Run, count_bound: int | None) -> Finish:
    """The incumbent as the answer without CP-SAT's (skipped, or cut short before it found
    one), named by the stage that left it (``Run.answered_by``) when it is an answer."""
    finish = run.incumbent.finish(count_bound)
    if not finish.status.has_solution or run.answered_by is None:
        return finish
    return replace(finish, by=run.answered_by)


def _explained(run: Run, status: Status) -> tuple[str, ...]:
    """The rules in conflict when CP-SAT proved the book infeasible (and no stop cut it),
    within what is left of the limit (and a share of the work like CP-SAT's)."""
    if status != Status.INFEASIBLE or (run.stop is not None and run.stop.is_set()):
        return ()
    meter = run.budget
    told = budget.Meter(
        max(meter.work_left(), CPSAT_MIN_WORK * meter.work), max(run.time_left(), 0.0)
    )
    with budget.metering(told):
        explained = explain(run.problem, run.policy, run.prep, run.settings, told.seconds)
    meter.cuts |= told.cuts - {"work"}
    return explained


__all__ = [
    "CAPACITY_MAX_PAIRS",
    "CAPACITY_MOVES",
    "CPSAT_BUILD_S_PER_PAIR",
    "CPSAT_MIN_BUILDS",
    "CPSAT_MIN_WORK",
    "KNAPSACK_MAX_GAP",
    "KNAPSACK_MAX_PAIRS",
    "KNAPSACK_MIP_SHARE",
    "TABU_FAR_SHARE",
    "TABU_FIRST_GAP",
    "TABU_MAX_PAIRS",
    "TABU_MIP_SHARE",
    "TABU_SHARE",
    "assignment_grid",
    "capacity_start",
    "cpsat",
    "lp_bounds",
    "mip_and_knapsack",
]
