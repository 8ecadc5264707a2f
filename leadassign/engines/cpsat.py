"""The general engine: a CP-SAT model with one Boolean per usable (lead, rep) pair.

Variable ``k`` of the model is pair ``k``: the container is the index range itself, and every
constraint is written straight into the model proto from numpy index arrays (one call per
lead or per rep, never per pair; ``cpsat_proto.py``). One rep per lead, capacities and
floors are functions below; each side-rule family adds its own (``compile/families/``);
:func:`build_model` applies them in order.

The default objective is lexicographic (most leads, then most expected value). It is solved in
two phases rather than with one big-M weighted sum, which would push coefficients past what the
LP relaxation represents exactly: phase 1 maximizes the count (skipped when a relaxation
bound already proves the hint's count), phase 2 fixes ``count >= K`` and maximizes value.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from leadassign.compile.families import SideRules
from leadassign.compile.families.floors import add_min_leads
from leadassign.compile.pairs import INT_MAX, Pairs
from leadassign.control import budget
from leadassign.control.progress import Progress
from leadassign.control.stop import cancelling, stopped
from leadassign.engines.cpsat_proto import (
    Aux,
    Guards,
    add_linear,
    add_variables,
    guard_literal,
    segments,
)

STATUS_NAMES = {
    cp_model.OPTIMAL: "OPTIMAL",
    cp_model.FEASIBLE: "FEASIBLE",
    cp_model.INFEASIBLE: "INFEASIBLE",
    cp_model.UNKNOWN: "UNKNOWN",
    cp_model.MODEL_INVALID: "MODEL_INVALID",
}


@dataclass(frozen=True)
class CpSatSettings:
    time_limit_s: float = 60.0
    workers: int = 1
    seed: int = 0
    relative_gap: float = 0.0
    log: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class CpSatOutcome:
    status: str  # OPTIMAL | FEASIBLE | INFEASIBLE | UNKNOWN | MODEL_INVALID
    chosen: np.ndarray | None  # bool per pair; None without a solution
    count_bound: int | None  # proven upper bound on the number of leads assigned
    units_bound: int | None  # upper bound on value units among assignments of that count
    message: str = ""


def add_one_rep_per_lead(proto: Any, pairs: Pairs) -> None:
    """Each lead (each unit: a lead or an account kept together) goes to at most one rep."""
    starts, ends = segments(pairs.unit)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if end - start > 1:
            proto.constraints.add().at_most_one.literals.extend(range(start, end))


def add_capacity(proto: Any, pairs: Pairs, by_rep: np.ndarray, guards: Guards = None) -> None:
    """Each rep's assigned effort stays within its capacity (skipped where it cannot bind)."""
    rep_sorted = pairs.rep[by_rep]
    starts, ends = segments(rep_sorted)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        members = by_rep[start:end]
        effort = pairs.effort[members]
        j = int(rep_sorted[start])
        cap = int(pairs.capacity[j])
        if int(effort.sum()) > cap:
            add_linear(proto, members.tolist(), effort.tolist(), 0, cap, guard_literal(guards, j))


@dataclass(frozen=True, eq=False)
class Built:
    model: cp_model.CpModel
    #: (variable, objective units lost per unit) of the soft rules
    penalties: tuple[tuple[int, int], ...]
    #: auxiliary variables and their values for a choice of pairs
    aux: Aux


def build_model(pairs: Pairs, side: SideRules | None = None) -> Built:
    """The feasibility model: variables and every constraint family, in order."""
    side = side or SideRules()
    model = cp_model.CpModel()
    proto = model.proto
    add_variables(proto, len(pairs))
    by_rep = np.argsort(pairs.rep, kind="stable")
    add_one_rep_per_lead(proto, pairs)
    add_capacity(proto, pairs, by_rep)
    add_min_leads(proto, pairs, by_rep)
    penalties: list[tuple[int, int]] = []
    aux: Aux = []
    for spec in side:  # each side-rule family in force (compile/families/base.py)
        penalized = spec.add_to_model(proto, pairs, by_rep, aux)
        if penalized is not None and spec.penalty:
            penalties.append((penalized, spec.penalty))
    return Built(model, tuple(penalties), aux)


def set_objective(
    model: cp_model.CpModel, coeffs: np.ndarray, penalties: tuple[tuple[int, int], ...] = ()
) -> None:
    """Maximize ``sum(coeffs * x) - sum(penalty * var)`` (written as minimizing its
    negation)."""
    model.proto.clear_objective()
    objective = model.proto.objective
    nonzero = np.flatnonzero(coeffs)
    objective.vars.extend(nonzero.tolist())
    objective.coeffs.extend((-coeffs[nonzero]).tolist())
    for var, penalty in penalties:
        objective.vars.append(var)
        objective.coeffs.append(penalty)


#: Steps of the coarse value that breaks ties between equal counts in phase 1.
TIE_STEPS = 100


def count_objective(pairs: Pairs) -> tuple[np.ndarray, int, int]:
    """Phase 1's coefficients ``weight * size + tie``: the count first, and among equal
    counts a coarse value (0..TIE_STEPS per pair), so the solution phase 2 starts from keeps
    most of the value. Returns (coefficients, weight, ties) where ``ties`` bounds the total
    tie-break; ``weight > 2 * ties``, so a gap of at most ``ties`` proves the count."""
    top = max(int(pairs.units.max(initial=0)), 1)
    tie = np.clip(pairs.units, 0, None).astype(np.int64) * TIE_STEPS // top
    best = np.zeros(int(pairs.unit.max(initial=-1)) + 1, dtype=np.int64)
    np.maximum.at(best, pairs.unit, tie)
    ties = int(best.sum())
    weight = 2 * (ties + 1)
    return weight * pairs.size.astype(np.int64) + tie, weight, ties


def set_hint(model: cp_model.CpModel, chosen: np.ndarray, aux: Aux | None = None) -> None:
    """A complete hint: every pair variable, and the auxiliary variables computed from it."""
    model.proto.clear_solution_hint()
    hint = model.proto.solution_hint
    hint.vars.extend(range(len(chosen)))
    hint.values.extend(chosen.astype(np.int64).tolist())
    for var, value in aux or []:
        hint.vars.append(var)
        hint.values.append(int(value(chosen)))


def _solver(
    settings: CpSatSettings, time_limit: float, gap: float, *, presolve: bool = True
) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.cp_model_presolve = presolve
    p.max_time_in_seconds = max(time_limit, 0.01)
    meter = budget.current()
    if meter is not None:
        # The work limit: deterministic time, the same on every machine (budget.py).
        p.max_time_in_seconds = max(min(time_limit, meter.time_left()), 0.01)
        p.max_deterministic_time = max(meter.work_left(), 0.001)
    p.num_workers = settings.workers
    p.random_seed = settings.seed
    p.relative_gap_limit = gap
    # Deterministic parallel search: the same model and seed give the same solution whatever
    # the timing, so equal inputs give byte-identical outputs.
    p.interleave_search = settings.workers > 1
    p.log_search_progress = settings.log
    p.log_to_stdout = False
    # SIGINT stops the search through solve(stop=...) like SIGTERM does, not by a handler
    # CP-SAT would put in place of the program's own while it runs.
    p.catch_sigint_signal = False
    for name, value in settings.params.items():
        setattr(p, name, value)
    if settings.log:
        solver.log_callback = _log_to_stderr
    return solver


def _log_to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


class _Reporter(cp_model.CpSolverSolutionCallback):
    """Hands each solution's objective and bound, in user units, to a Progress (no other
    work: CP-SAT waits for it)."""

    def __init__(self, progress: Progress, to_user: Callable[[float], float]) -> None:
        super().__init__()
        self._progress = progress
        self._to_user = to_user

    def on_solution_callback(self) -> None:
        to_user = self._to_user
        self._progress.update(to_user(self.objective_value), to_user(self.best_objective_bound))


#: Phase 2 stops once its best is within this many value units of its bound; the units left
#: are then sought one target at a time (:func:`_close`): on the Pfizer 100 x 10 book CP-SAT
#: had the optimum less one unit in 0.25 s and took 4 s more to find the last one, which a
#: search for a choice worth exactly the bound found in 0.14 s.
CLOSE_UNITS = 1

#: CP-SAT's time when the solve was stopped before its search began.
STOPPED_S = 0.1


def _stopped_already(solver: cp_model.CpSolver) -> None:
    """A stop that came before the search began (CP-SAT forgets a stop_search called before
    solve): a moment to load the hint, no more."""
    if stopped():
        p = solver.parameters
        p.max_time_in_seconds = min(p.max_time_in_seconds, STOPPED_S)


def _run(
    solver: cp_model.CpSolver,
    model: cp_model.CpModel,
    progress: Progress | None,
    to_user: Callable[[float], float],
) -> cp_model.CpSolverStatus:
    """``solver.solve(model)``, reporting solutions and bounds to ``progress`` (if any) through
    CP-SAT's callbacks, which observe the search without changing it."""
    reporter = None
    if progress is not None:
        solver.best_bound_callback = lambda bound: progress.update(None, to_user(bound))
        reporter = _Reporter(progress, to_user)
    with cancelling(solver.stop_search):
        _stopped_already(solver)
        code = solver.solve(model, reporter)
    meter = budget.current()
    if meter is not None:
        p = solver.parameters
        used = float(solver.response_proto.deterministic_time)
        meter.spend(used)
        if code in (cp_model.UNKNOWN, cp_model.FEASIBLE) and not p.stop_after_first_solution:
            meter.cut("work" if used >= 0.999 * p.max_deterministic_time else "time")
    if progress is not None and code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        progress.update(to_user(solver.objective_value), to_user(solver.best_objective_bound))
    return code


def _solution(solver: cp_model.CpSolver, n: int) -> np.ndarray:
    values = np.asarray(solver.response_proto.solution, dtype=np.int64)
    return values[:n] > 0


def _upper(solver: cp_model.CpSolver) -> int:
    """Integer upper bound of the maximized quantity (the model minimizes its negation)."""
    return -int(np.ceil(solver.best_objective_bound - 1e-6))


def solve_cpsat(
    pairs: Pairs,
    settings: CpSatSettings,
    hint: np.ndarray | None,
    count_upper: int,
    side: SideRules | None = None,
    units_upper: int | None = None,
    *,
    progress: Progress | None = None,
    value_scale: float = 1.0,
) -> CpSatOutcome:
    """Solve the lexicographic objective in two phases within ``settings.time_limit_s``.

    ``count_upper`` is a proven bound on the leads that can be assigned (from a relaxation);
    when a feasible ``hint`` reaches it, phase 1 is skipped. ``units_upper``, when given, is a
    proven bound on the value score of any assignment of ``count_upper`` leads (the same
    relaxation's value); when phase 1 reaches that count, phase 2 starts from it as its
    objective bound, so a hint that attains it is proven optimal at once.

    ``progress`` is told each phase and, through CP-SAT's callbacks, the best objective and
    bound: in phase 1 the count of leads, in phase 2 the value score (units / ``value_scale``).
    """
    started = time.perf_counter()
    side = side or SideRules()
    built = build_model(pairs, side)
    hint_ok = hint is not None and side.feasible(pairs, hint)
    count_bound: int
    if hint is not None and hint_ok and int(pairs.size[hint].sum()) == count_upper:
        best, count_bound = hint, count_upper
    else:
        first = _maximize_count(pairs, settings, built, hint, hint_ok, count_upper, progress)
        if isinstance(first, CpSatOutcome):
            return first
        best, count_bound = first
    count = int(pairs.size[best].sum())
    # a proven bound on the value of any assignment of this count, when the relaxation's is
    known = units_upper if units_upper is not None and count == count_upper else None
    return _maximize_value(
        pairs, settings, built, side, best, count_bound, known, started, progress, value_scale
    )


def _repair_hint(
    model: cp_model.CpModel,
    hint: np.ndarray,
    aux: Aux,
    n: int,
    settings: CpSatSettings,
    progress: Progress | None,
    leads: Callable[[float], float],
) -> tuple[cp_model.CpSolverStatus, np.ndarray | None]:
    """An infeasible hint repaired by one worker, which follows it and stops at the first
    solution: CP-SAT's status and that solution of ``n`` pairs (None without one); the
    hint is cleared.

    Only a feasible hint goes to the parallel search: CP-SAT 9.15 aborts the whole process
    (CHECK failure "heuristics.fixed_search != nullptr") on an infeasible model solved with a
    hint and interleave_search on several workers."""
    set_hint(model, hint, aux)
    with budget.stage(0.25):
        repair = _solver(
            replace(settings, workers=1), settings.time_limit_s / 4, 0.0, presolve=False
        )
        repair.parameters.stop_after_first_solution = True
        code = _run(repair, model, progress, leads)
    if code == cp_model.INFEASIBLE:
        return code, None
    found = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    repaired = _solution(repair, n) if found else None
    model.proto.clear_solution_hint()
    return code, repaired


def _maximize_count(
    pairs: Pairs,
    settings: CpSatSettings,
    built: Built,
    hint: np.ndarray | None,
    hint_ok: bool,
    count_upper: int,
    progress: Progress | None,
) -> tuple[np.ndarray, int] | CpSatOutcome:
    """Phase 1: the most leads (ties broken by ``count_objective``), within half the time
    limit. The best choice found and the proven bound on the count, or the outcome when
    the search ends without one."""
    n = len(pairs)
    model = built.model
    coeffs, weight, ties = count_objective(pairs)

    def leads(objective: float) -> float:  # phase 1's objective -> leads assigned
        return min(count_upper, -math.ceil(objective - 1e-6) // weight)

    if progress is not None:  # from the feasible hint and the relaxation's bound
        progress.phase("cpsat phase 1 (count)")
        progress.update(int(pairs.size[hint].sum()) if hint_ok else None, count_upper)
    set_objective(model, coeffs)
    model.proto.objective.domain.extend([-(weight * count_upper + ties), 0])
    if hint is not None and not hint_ok:
        code, hint = _repair_hint(model, hint, built.aux, n, settings, progress, leads)
        if code == cp_model.INFEASIBLE:
            return CpSatOutcome("INFEASIBLE", None, None, None)
        hint_ok = hint is not None
    if hint is not None and hint_ok:
        set_hint(model, hint, built.aux)
    with budget.stage(0.5):
        solver = _solver(settings, settings.time_limit_s / 2, 0.0)
        # Stop once the count is proven, whatever the tie-break could still gain.
        solver.parameters.absolute_gap_limit = ties
        code = _run(solver, model, progress, leads)
    status = STATUS_NAMES.get(code, "UNKNOWN")
    if status == "UNKNOWN" and hint is not None and hint_ok and hint.any():
        # Cut short before a solution: the feasible hint is the incumbent (the count
        # bound stays the relaxation's), and phase 2 starts from it. (Not an empty one:
        # it meets a band, but is no answer.)
        return hint, count_upper
    if status in ("INFEASIBLE", "MODEL_INVALID", "UNKNOWN"):
        message = solver.response_proto.solution_info if status == "MODEL_INVALID" else ""
        return CpSatOutcome(status, None, None, None, str(message))
    return _solution(solver, n), min(count_upper, _upper(solver) // weight)


def value_objective(built: Built, pairs: Pairs, count: int) -> None:
    """Phase 2's model: at least ``count`` leads (in sizes), the most value less penalties."""
    add_linear(built.model.proto, list(range(len(pairs))), pairs.size.tolist(), count, INT_MAX)
    set_objective(built.model, pairs.units, built.penalties)


def _maximize_value(
    pairs: Pairs,
    settings: CpSatSettings,
    built: Built,
    side: SideRules,
    best: np.ndarray,
    count_bound: int,
    known: int | None,
    started: float,
    progress: Progress | None,
    value_scale: float,
) -> CpSatOutcome:
    """Phase 2: the most value among choices of at least ``best``'s count, from ``best``,
    within the time limit left since ``started``; ``known``: a proven bound on that value."""
    n = len(pairs)
    model = built.model
    count = int(pairs.size[best].sum())
    value_objective(built, pairs, count)
    if known is not None:
        # The objective is -score: its domain starts at -known (a proven bound).
        model.proto.objective.domain.extend([-known, INT_MAX])
        if side.score(pairs, best) >= known:
            # Feasible (checked or found by CP-SAT) and at the proven bound: optimal.
            return CpSatOutcome("OPTIMAL", best, count_bound, side.score(pairs, best))
    set_hint(model, best, built.aux)
    remaining = settings.time_limit_s - (time.perf_counter() - started)
    solver = _solver(settings, remaining, settings.relative_gap)
    closing = settings.relative_gap == 0 and "absolute_gap_limit" not in settings.params
    if closing:
        solver.parameters.absolute_gap_limit = CLOSE_UNITS
    if progress is not None:  # from phase 1's solution
        progress.phase("cpsat phase 2 (value)")
        progress.update(
            side.score(pairs, best) / value_scale, None if known is None else known / value_scale
        )

    def to_user(objective: float) -> float:  # the objective (-score) -> the value score
        return -objective / value_scale

    code = _run(solver, model, progress, to_user)
    status = STATUS_NAMES.get(code, "UNKNOWN")
    if status == "MODEL_INVALID":
        return CpSatOutcome(status, None, None, None, str(solver.response_proto.solution_info))
    units_bound: int | None
    if status in ("OPTIMAL", "FEASIBLE"):
        chosen = _solution(solver, n)
        units_bound = _upper(solver)
    else:  # no time left to improve: keep the phase-1 solution, and the bound given
        chosen = best
        units_bound = known
    value = side.score(pairs, chosen)
    if (
        closing
        and count_bound == count
        and units_bound is not None
        and 0 < units_bound - value <= CLOSE_UNITS
    ):
        chosen, units_bound = _close(
            model, settings, built, chosen, value, units_bound, started, progress, to_user
        )
        value = side.score(pairs, chosen)
    proven = count_bound == count and units_bound is not None and units_bound <= value
    if units_bound is not None:
        units_bound = max(units_bound, value)
    return CpSatOutcome("OPTIMAL" if proven else "FEASIBLE", chosen, count_bound, units_bound)


def _close(
    model: cp_model.CpModel,
    settings: CpSatSettings,
    built: Built,
    best: np.ndarray,
    value: int,
    bound: int,
    started: float,
    progress: Progress | None,
    to_user: Callable[[float], float],
) -> tuple[np.ndarray, int]:
    """The last units between phase 2's ``best`` and its proven ``bound``, sought one target
    at a time: is there a choice worth exactly the bound (the objective's domain fixed
    there)? One found is optimal; INFEASIBLE proves the bound a unit lower, and the next
    target is that. Stops at the limits or when the target reaches ``best``'s value. The best
    choice and the proven bound; the objective's domain is left at the last target (the model
    is not solved again)."""
    n = len(best)
    objective = model.proto.objective
    while bound > value:
        remaining = settings.time_limit_s - (time.perf_counter() - started)
        meter = budget.current()
        out_of_work = meter is not None and meter.work_left() <= 0
        if stopped() or remaining <= 0 or out_of_work:
            if meter is not None:  # as _run records a search the limits cut
                meter.cut("work" if out_of_work else "time")
            break
        objective.domain.clear()
        objective.domain.extend([-bound, -bound])
        set_hint(model, best, built.aux)
        solver = _solver(settings, remaining, 0.0)
        code = _run(solver, model, progress, to_user)
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return _solution(solver, n), bound
        if code != cp_model.INFEASIBLE:
            break
        bound -= 1
    return best, bound
