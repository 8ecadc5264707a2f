"""The one entry point: ``solve(problem, policy) -> Result``.

Data flows one way: validated problem -> eligible pairs (numpy) -> scaled integer values ->
an exact min-cost flow (when every usable pair takes one capacity unit) or a CP-SAT model ->
chosen pairs -> Result, whose objective is recomputed in floats.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from leadassign.errors import InputError
from leadassign.models.policy import Method, Policy
from leadassign.models.problem import Problem, lead_values
from leadassign.solver.candidates import Candidates, build_candidates
from leadassign.solver.cpsat import CpSatSettings, Pairs, solve_cpsat
from leadassign.solver.flow import hall_violation, solve_flow
from leadassign.solver.result import Result, Status
from leadassign.solver.scaling import scale_values


def _usable(cands: Candidates, problem: Problem) -> np.ndarray:
    """Pairs that can be chosen at all: the lead's effort fits in the rep's capacity."""
    result: np.ndarray = cands.effort <= problem.reps.capacity[cands.rep]
    return result


def _floors(problem: Problem) -> np.ndarray:
    """min_leads per rep; reps on leave get nothing, so they have no floor."""
    return np.where(problem.reps.available, problem.reps.min_leads, 0).astype(np.int64)


def _floor_conflicts(problem: Problem, pairs: Pairs) -> list[str]:
    """Cheap, exact pre-checks: a rep whose floor exceeds its candidates or, in effort units,
    its capacity."""
    messages: list[str] = []
    ids = problem.reps.ids
    count = np.bincount(pairs.rep, minlength=problem.n_reps)
    for j in np.flatnonzero(pairs.min_leads > count):
        messages.append(
            f"min_leads {pairs.min_leads[j]} for {ids[j]} but only {count[j]} "
            f"lead{'s are' if count[j] != 1 else ' is'} eligible"
        )
    # The lightest min_leads candidates of each rep, in effort: sort by (rep, effort) once and
    # read each floor's prefix sum from one cumulative sum.
    check = np.flatnonzero((pairs.min_leads > 0) & (pairs.min_leads <= count))
    if len(check):
        order = np.lexsort((pairs.effort, pairs.rep))
        cumulative = np.concatenate([[0], np.cumsum(pairs.effort[order])])
        first = np.concatenate([[0], np.cumsum(count)])[check]
        lightest = cumulative[first + pairs.min_leads[check]] - cumulative[first]
        for r, need in zip(check.tolist(), lightest.tolist(), strict=True):
            if need > pairs.capacity[r]:
                messages.append(
                    f"min_leads {pairs.min_leads[r]} for {ids[r]} needs at least {need} "
                    f"effort but its capacity is {pairs.capacity[r]}"
                )
    return messages


def _trim_to_capacity(pairs: Pairs, chosen: np.ndarray) -> np.ndarray:
    """A start for CP-SAT when efforts differ: the chosen pairs of a relaxation in which each
    lead took one unit, cut back per rep to the best-value prefix that fits its capacity in
    effort (vectorized: sort by rep then value, one cumulative sum per rep)."""
    picked = np.flatnonzero(chosen)
    order = picked[np.lexsort((picked, -pairs.units[picked], pairs.rep[picked]))]
    rep = pairs.rep[order]
    cumulative = np.cumsum(pairs.effort[order])
    starts = np.searchsorted(rep, rep, side="left")
    before = np.where(starts > 0, cumulative[starts - 1], 0)
    keep = cumulative - before <= pairs.capacity[rep]
    trimmed = np.zeros(len(pairs), dtype=bool)
    trimmed[order[keep]] = True
    return trimmed


def _is_feasible(pairs: Pairs, chosen: np.ndarray) -> bool:
    m = len(pairs.capacity)
    per_lead = np.bincount(pairs.lead[chosen])
    load = np.bincount(pairs.rep[chosen], weights=pairs.effort[chosen], minlength=m)
    count = np.bincount(pairs.rep[chosen], minlength=m)
    return bool(
        (per_lead.max(initial=0) <= 1)
        and np.all(load <= pairs.capacity)
        and np.all(count >= pairs.min_leads)
    )


def solve(
    problem: Problem,
    policy: Policy | None = None,
    *,
    method: Method | None = None,
    time_limit_s: float | None = None,
    workers: int | None = None,
    seed: int | None = None,
    relative_gap: float | None = None,
    log: bool | None = None,
) -> Result:
    """Assign leads to reps: most leads first, then most expected value (DESIGN §2).

    Keyword arguments override the policy's ``solver:`` block. Raises InputError when the
    policy needs lead columns that are missing or malformed.
    """
    started = time.perf_counter()
    policy = (policy or Policy()).with_solver(
        method=method,
        time_limit_s=time_limit_s,
        workers=workers,
        seed=seed,
        relative_gap=relative_gap,
        log=log,
    )
    settings = policy.solver
    values = lead_values(problem.leads, policy.value)
    cands = build_candidates(problem, values)
    usable = np.flatnonzero(_usable(cands, problem))
    scaled = scale_values(cands.ev[usable], cands.lead[usable], problem.n_leads)
    pairs = Pairs(
        lead=cands.lead[usable],
        rep=cands.rep[usable],
        effort=cands.effort[usable],
        units=scaled.units,
        capacity=problem.reps.capacity.astype(np.int64),
        min_leads=_floors(problem),
    )
    unit_effort = bool(np.all(pairs.effort == 1))
    chosen_method = settings.method
    if chosen_method == "auto":
        chosen_method = "flow" if unit_effort else "cpsat"
    if chosen_method == "flow" and not unit_effort:
        raise InputError(
            "method 'flow' needs every lead to take one capacity unit (effort 1); "
            "use method 'cpsat' or 'auto'"
        )

    def result(status: Status, chosen: np.ndarray | None, **figures: Any) -> Result:
        pair_of_lead = np.full(problem.n_leads, -1, dtype=np.int64)
        objective = None
        if chosen is not None:
            picked = usable[chosen]
            pair_of_lead[cands.lead[picked]] = picked
            objective = float(cands.ev[picked].sum())
        return Result(
            status=status,
            method=chosen_method,
            problem=problem,
            policy=policy,
            candidates=cands,
            pair_of_lead=pair_of_lead,
            lead_value=values,
            objective=objective,
            value_scale=scaled.scale,
            build_s=build_s,
            solve_s=time.perf_counter() - started - build_s,
            **figures,
        )

    def infeasible(*conflicts: str) -> Result:
        return result(
            Status.INFEASIBLE,
            None,
            best_bound=None,
            gap=None,
            assigned_bound=None,
            conflicts=conflicts,
        )

    conflicts = _floor_conflicts(problem, pairs)
    build_s = time.perf_counter() - started
    if conflicts:
        return infeasible(*conflicts)

    if chosen_method == "flow":
        outcome = solve_flow(
            pairs.lead, pairs.rep, pairs.units, problem.n_leads, pairs.capacity, pairs.min_leads
        )
        if not outcome.feasible:
            return infeasible(_hall_message(problem, outcome.hall_reps, outcome.hall_leads))
        assert outcome.chosen is not None
        res = result(
            Status.OPTIMAL,
            outcome.chosen,
            best_bound=None,
            gap=0.0,
            assigned_bound=int(outcome.chosen.sum()),
        )
        return _with_bound(res, 0)

    # CP-SAT. First the floors alone, counted in leads (effort >= 1, so this is a relaxation):
    # a Hall violation is an infeasibility proof with a message that names the reps, found by
    # one max flow instead of a CP-SAT search that may not finish.
    violation = hall_violation(pairs.lead, pairs.rep, problem.n_leads, pairs.min_leads)
    if violation is not None:
        return infeasible(_hall_message(problem, violation.hall_reps, violation.hall_leads))
    # Bounds: the flow relaxation in which each lead takes one unit (effort >= 1, so no
    # rep can take more leads than its capacity) and floors are dropped bounds the count, and
    # its value bounds the value at that count. With unit effort the flow that forces the
    # floors is exact, so it is both the hint and the value bound: CP-SAT then proves it at
    # once. Otherwise the hint is the relaxation trimmed to fit capacities in effort.
    relax = solve_flow(
        pairs.lead,
        pairs.rep,
        pairs.units,
        problem.n_leads,
        pairs.capacity,
        np.zeros_like(pairs.min_leads),
    )
    count_upper = relax.max_count
    bound_from = relax.chosen
    hint = _trim_to_capacity(pairs, relax.chosen) if relax.chosen is not None else None
    if unit_effort:
        exact = solve_flow(
            pairs.lead, pairs.rep, pairs.units, problem.n_leads, pairs.capacity, pairs.min_leads
        )
        if exact.chosen is not None:
            hint = bound_from = exact.chosen
    cp = solve_cpsat(
        pairs,
        CpSatSettings(
            time_limit_s=settings.time_limit_s,
            workers=settings.workers,
            seed=settings.seed,
            relative_gap=settings.relative_gap,
            log=settings.log,
            params=settings.params,
        ),
        hint,
        count_upper,
        lambda chosen: _is_feasible(pairs, chosen),
        units_upper=int(pairs.units[bound_from].sum()) if bound_from is not None else None,
    )
    status = Status(cp.status)
    if cp.chosen is None:
        return result(
            status,
            None,
            best_bound=None,
            gap=None,
            assigned_bound=cp.count_bound,
            conflicts=(_generic_floor_message(problem),) if status == Status.INFEASIBLE else (),
        )
    res = result(status, cp.chosen, best_bound=None, gap=None, assigned_bound=cp.count_bound)
    if cp.units_bound is None:
        return res
    return _with_bound(res, cp.units_bound - int(pairs.units[cp.chosen].sum()))


def _with_bound(res: Result, missing_units: int) -> Result:
    """Set best_bound = objective + the proven room above it, and the relative gap."""
    from dataclasses import replace

    assert res.objective is not None
    room = missing_units / res.value_scale
    bound = res.objective + room
    gap = room / abs(bound) if bound != 0 else 0.0
    return replace(res, best_bound=bound, gap=gap)


def _hall_message(problem: Problem, reps: np.ndarray | None, leads: int) -> str:
    if reps is None or len(reps) == 0:
        return _generic_floor_message(problem)
    ids = problem.reps.ids[reps]
    total = int(problem.reps.min_leads[reps].sum())
    shown = ", ".join(ids[:10].tolist()) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    if len(ids) == 1:
        return (
            f"min_leads {total} for {shown} but only {leads} "
            f"lead{'s are' if leads != 1 else ' is'} eligible"
        )
    return (
        f"min_leads of {shown} add up to {total} but only {leads} "
        f"lead{'s are' if leads != 1 else ' is'} eligible for any of them"
    )


def _generic_floor_message(problem: Problem) -> str:
    floors = problem.reps.ids[(problem.reps.min_leads > 0) & problem.reps.available]
    listed = ", ".join(floors[:10].tolist()) + (" ..." if len(floors) > 10 else "")
    return f"min_leads of {listed} cannot all be met within the reps' capacities"
