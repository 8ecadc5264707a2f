"""The whole model as a MIP, solved by HiGHS (bundled with OR-Tools): the first exact path
for side rules.

On books of several hundred to a few thousand leads with efforts, accounts kept together,
a churn limit or several rules at once, HiGHS' branch and cut proves the optimum where CP-SAT
alone does not (800 leads x 30 reps, one worker, 60 s: 12 of 13 random books proven in
6-23 s with HiGHS first, against 5 of 13 by CP-SAT alone).
It runs after the LP start (``lp.py``), with half the time left and at most ``MAX_NODES``
branch-and-bound nodes per phase; what it finds is checked exactly, and when it does not
prove both phases, CP-SAT continues from its best solution and its proven count.

The MIP is the LP relaxation of ``lp.py`` with every variable integral: the pair Booleans,
and the group totals, excess and churn variables that are integers in the CP-SAT model too.
Two solves, as the objective is lexicographic: the most leads, then the best score with at
least that many.

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

import numpy as np
from ortools.linear_solver.python import model_builder_helper as mbh

from leadassign.solver.cpsat import CpSatSettings, Pairs, SideRules, count_objective
from leadassign.solver.lp import Relaxation, build_relaxation, objective, to_model

#: Share of the time left that the MIP may use before CP-SAT takes over.
SHARE = 0.5
#: Above this many pairs the MIP is skipped: its model is built one coefficient per call
#: (0.1 s at 23,000 pairs, 7.6 s at 262,000), and HiGHS already did not finish phase 2 of
#: 3,000 leads x 60 reps with accounts or all rules (23,000 pairs) within 60 s.
MAX_PAIRS = 60_000
#: Branch-and-bound nodes per phase.
MAX_NODES = 1000


@dataclass(frozen=True, eq=False)
class MipOutcome:
    chosen: np.ndarray | None  # best exactly-checked solution (bool per pair), if any
    count_upper: int | None  # the most leads, when phase 1 was proven
    optimal: bool  # chosen is proven optimal in both phases


def _options(settings: CpSatSettings, abs_gap: float) -> str:
    return "\n".join(
        [
            "mip_rel_gap=0",
            f"mip_abs_gap={abs_gap}",
            "threads=1",
            # A work limit, so whether HiGHS proves a book does not depend on the machine's
            # speed (the time limit is only a backstop). It proves the books it can at the
            # root or within a few hundred nodes; past that, CP-SAT does better.
            f"mip_max_nodes={MAX_NODES}",
            f"random_seed={settings.seed}",
            f"output_flag={'true' if settings.log else 'false'}",
        ]
    )


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """HiGHS logs to the process's stdout (model_builder takes no Python log callback);
    the log goes to stderr like CP-SAT's, so stdout stays for results."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _run(
    relax: Relaxation, c: np.ndarray, abs_gap: float, settings: CpSatSettings, time_limit_s: float
) -> tuple[bool, np.ndarray | None, float]:
    """Maximize ``c.x`` over the MIP until within ``abs_gap`` of the bound: (proven, pair
    values rounded, HiGHS' bound)."""
    model = to_model(relax, c, integral=True)
    solver = mbh.ModelSolverHelper("highs")
    solver.set_solver_specific_parameters(_options(settings, abs_gap))
    solver.set_time_limit_in_seconds(max(time_limit_s, 0.01))
    if settings.log:
        solver.enable_output(True)
        with _stdout_to_stderr():
            solver.solve(model)
    else:
        solver.solve(model)
    status = solver.status()
    # (model_builder returns no solution when HiGHS stops on a limit, even with an incumbent)
    solved = status in (mbh.SolveStatus.OPTIMAL, mbh.SolveStatus.FEASIBLE)
    if not (solved and solver.has_solution()):
        return False, None, float("inf")
    x = np.asarray(solver.variable_values(), dtype=np.float64)[: relax.n_pairs] > 0.5
    return status == mbh.SolveStatus.OPTIMAL, x, float(solver.best_objective_bound())


def solve_mip(
    pairs: Pairs,
    side: SideRules,
    settings: CpSatSettings,
    time_limit_s: float,
    start: np.ndarray | None = None,
    count_upper: int | None = None,
) -> MipOutcome:
    """Both phases with HiGHS within ``time_limit_s``; see the module docstring. When the
    feasible ``start`` already has ``count_upper`` (a proven bound) leads, phase 1 is skipped."""
    started = time.perf_counter()
    relax = build_relaxation(pairs, side)
    if (
        start is not None
        and count_upper is not None
        and int(pairs.size[start].sum()) == count_upper
        and side.feasible(pairs, start)
    ):
        chosen, count = start, count_upper
    else:
        # CP-SAT's phase 1 objective: the count, then a coarse value (so that the solution
        # CP-SAT may continue from keeps most of the value), stopped once the count is proven.
        coeffs, weight, ties = count_objective(pairs)
        c = objective(relax, coeffs.astype(np.float64), False)
        proven, found, bound = _run(relax, c, ties, settings, time_limit_s)
        if found is None or not side.feasible(pairs, found):
            return MipOutcome(None, None, False)
        chosen, count = found, int(pairs.size[found].sum())
        if not proven or np.floor((bound + 1e-6) / weight) > count:
            return MipOutcome(chosen, None, False)
    remaining = time_limit_s - (time.perf_counter() - started)
    c = objective(relax, pairs.units.astype(np.float64), True)
    floored = relax.with_floor(pairs.size, float(count))
    # The score is integral: a gap below one unit is a proof.
    proven, best, bound = _run(floored, c, 0.5, settings, remaining)
    if best is None or not side.feasible(pairs, best) or int(pairs.size[best].sum()) < count:
        return MipOutcome(chosen, count, False)
    score = side.score(pairs, best)
    # HiGHS' bound is in floats; a proof must also agree with the exact score.
    if proven and bound - score < 1.0 + 1e-9 * abs(bound):
        return MipOutcome(best, count, True)
    return MipOutcome(best if score >= side.score(pairs, chosen) else chosen, count, False)
