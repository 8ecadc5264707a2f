"""The general engine: a CP-SAT model with one Boolean per usable (lead, rep) pair.

Variable ``k`` of the model is pair ``k``: the container is the index range itself, and every
constraint is written straight into the model proto from numpy index arrays (one call per
lead or per rep, never per pair). Each constraint family is one function below, applied in
order by :func:`build_model`.

The default objective is lexicographic (most leads, then most expected value). It is solved in
two phases rather than with one big-M weighted sum, which would push coefficients past what the
LP relaxation represents exactly: phase 1 maximizes the count (skipped when a relaxation
bound already proves the hint's count), phase 2 fixes ``count >= K`` and maximizes value.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

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
    workers: int = 8
    seed: int = 0
    relative_gap: float = 0.0
    log: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Pairs:
    """The usable pairs handed to a solver: index arrays sorted by lead, then rep."""

    lead: np.ndarray
    rep: np.ndarray
    effort: np.ndarray
    units: np.ndarray  # scaled integer value of each pair
    capacity: np.ndarray  # per rep, in effort units
    min_leads: np.ndarray  # per rep (0 for reps on leave)

    def __len__(self) -> int:
        return len(self.lead)


@dataclass(frozen=True, eq=False)
class CpSatOutcome:
    status: str  # OPTIMAL | FEASIBLE | INFEASIBLE | UNKNOWN | MODEL_INVALID
    chosen: np.ndarray | None  # bool per pair; None without a solution
    count_bound: int | None  # proven upper bound on the number of leads assigned
    units_bound: int | None  # upper bound on value units among assignments of that count
    message: str = ""


def _segments(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each run of equal ``keys`` (keys sorted)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cuts = np.flatnonzero(np.diff(keys)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(keys)]])
    return starts, ends


def _add_linear(
    proto: Any, variables: list[int], coeffs: list[int], lower: int, upper: int
) -> None:
    linear = proto.constraints.add().linear
    linear.vars.extend(variables)
    linear.coeffs.extend(coeffs)
    linear.domain.extend([lower, upper])


INT_MAX = 2**62


def add_variables(proto: Any, count: int) -> None:
    """One Boolean per pair, created by one C++ parse rather than a Python call per pair."""
    if count:
        proto.merge_text_format("variables{domain:[0,1]}" * count)


def add_one_rep_per_lead(proto: Any, pairs: Pairs) -> None:
    """Each lead goes to at most one rep."""
    starts, ends = _segments(pairs.lead)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if end - start > 1:
            proto.constraints.add().at_most_one.literals.extend(range(start, end))


def add_capacity(proto: Any, pairs: Pairs, by_rep: np.ndarray) -> None:
    """Each rep's assigned effort stays within its capacity (skipped where it cannot bind)."""
    rep_sorted = pairs.rep[by_rep]
    starts, ends = _segments(rep_sorted)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        members = by_rep[start:end]
        effort = pairs.effort[members]
        cap = int(pairs.capacity[int(rep_sorted[start])])
        if int(effort.sum()) > cap:
            _add_linear(proto, members.tolist(), effort.tolist(), 0, cap)


def add_min_leads(proto: Any, pairs: Pairs, by_rep: np.ndarray) -> None:
    """Each available rep gets at least ``min_leads`` leads."""
    rep_sorted = pairs.rep[by_rep]
    starts, ends = _segments(rep_sorted)
    present = np.zeros(len(pairs.min_leads), dtype=bool)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        j = int(rep_sorted[start])
        present[j] = True
        floor = int(pairs.min_leads[j])
        if floor > 0:
            _add_linear(proto, by_rep[start:end].tolist(), [1] * (end - start), floor, INT_MAX)
    if np.any((pairs.min_leads > 0) & ~present):
        _add_linear(proto, [], [], 1, 1)  # a floor with no candidate: infeasible


def build_model(pairs: Pairs) -> cp_model.CpModel:
    """The feasibility model: variables and every constraint family, in order."""
    model = cp_model.CpModel()
    proto = model.proto
    add_variables(proto, len(pairs))
    by_rep = np.argsort(pairs.rep, kind="stable")
    add_one_rep_per_lead(proto, pairs)
    add_capacity(proto, pairs, by_rep)
    add_min_leads(proto, pairs, by_rep)
    return model


def set_objective(model: cp_model.CpModel, coeffs: np.ndarray) -> None:
    """Maximize ``sum(coeffs * x)`` (written as minimizing its negation)."""
    model.proto.clear_objective()
    objective = model.proto.objective
    nonzero = np.flatnonzero(coeffs)
    objective.vars.extend(nonzero.tolist())
    objective.coeffs.extend((-coeffs[nonzero]).tolist())


def set_hint(model: cp_model.CpModel, chosen: np.ndarray) -> None:
    """A complete hint: every variable gets a value."""
    model.proto.clear_solution_hint()
    hint = model.proto.solution_hint
    hint.vars.extend(range(len(chosen)))
    hint.values.extend(chosen.astype(np.int64).tolist())


def _solver(
    settings: CpSatSettings, time_limit: float, gap: float, *, presolve: bool = True
) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.cp_model_presolve = presolve
    p.max_time_in_seconds = max(time_limit, 0.01)
    p.num_workers = settings.workers
    p.random_seed = settings.seed
    p.relative_gap_limit = gap
    # Deterministic parallel search: the same model and seed give the same solution whatever
    # the timing, so equal inputs give byte-identical outputs.
    p.interleave_search = settings.workers > 1
    p.log_search_progress = settings.log
    p.log_to_stdout = False
    for name, value in settings.params.items():
        setattr(p, name, value)
    if settings.log:
        solver.log_callback = _log_to_stderr
    return solver


def _log_to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


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
    hint_is_feasible: Callable[[np.ndarray], bool],
    units_upper: int | None = None,
) -> CpSatOutcome:
    """Solve the lexicographic objective in two phases within ``settings.time_limit_s``.

    ``count_upper`` is a proven bound on the leads that can be assigned (from a relaxation);
    when a feasible ``hint`` reaches it, phase 1 is skipped. ``units_upper``, when given, is a
    proven bound on the value units of any assignment of ``count_upper`` leads (the same
    relaxation's value); when phase 1 reaches that count, phase 2 starts from it as its
    objective bound, so a hint that attains it is proven optimal at once.
    """
    started = time.perf_counter()
    n = len(pairs)
    model = build_model(pairs)
    ones = np.ones(n, dtype=np.int64)

    count_bound: int
    if hint is not None and int(hint.sum()) == count_upper and hint_is_feasible(hint):
        best, count_bound = hint, count_upper
    else:
        set_objective(model, ones)
        # Only a feasible hint: CP-SAT 9.15 aborts the whole process (CHECK failure
        # "heuristics.fixed_search != nullptr") on an infeasible model solved with a hint and
        # interleave_search on several workers. A feasible hint proves the model feasible.
        if hint is not None and hint_is_feasible(hint):
            set_hint(model, hint)
        solver = _solver(settings, settings.time_limit_s / 2, 0.0)
        code = solver.solve(model)
        status = STATUS_NAMES.get(code, "UNKNOWN")
        if status in ("INFEASIBLE", "MODEL_INVALID", "UNKNOWN"):
            message = solver.response_proto.solution_info if status == "MODEL_INVALID" else ""
            return CpSatOutcome(status, None, None, None, str(message))
        best = _solution(solver, n)
        count_bound = min(count_upper, _upper(solver))

    count = int(best.sum())
    _add_linear(model.proto, list(range(n)), [1] * n, count, INT_MAX)
    set_objective(model, pairs.units)
    proven_by_hint = False
    if units_upper is not None and count == count_upper:
        # The objective is -units: its domain starts at -units_upper (a proven bound).
        model.proto.objective.domain.extend([-units_upper, INT_MAX])
        proven_by_hint = int(pairs.units[best].sum()) >= units_upper
    set_hint(model, best)
    remaining = settings.time_limit_s - (time.perf_counter() - started)
    # When the hint attains the bound, CP-SAT only has to load and check it: presolve, which
    # takes ~10 s on 5,000 x 120 and cannot improve anything, is skipped (measured: 13 s -> 1 s).
    solver = _solver(settings, remaining, settings.relative_gap, presolve=not proven_by_hint)
    code = solver.solve(model)
    status = STATUS_NAMES.get(code, "UNKNOWN")
    if status == "MODEL_INVALID":
        return CpSatOutcome(status, None, None, None, str(solver.response_proto.solution_info))
    if status in ("OPTIMAL", "FEASIBLE"):
        chosen = _solution(solver, n)
        units_bound = _upper(solver)
    else:  # no time left to improve: keep the phase-1 solution; value bound unknown
        chosen, units_bound = best, None
    value = int(pairs.units[chosen].sum())
    proven = count_bound == count and units_bound is not None and units_bound <= value
    if units_bound is not None:
        units_bound = max(units_bound, value)
    return CpSatOutcome("OPTIMAL" if proven else "FEASIBLE", chosen, count_bound, units_bound)
