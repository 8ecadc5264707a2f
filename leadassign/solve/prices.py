"""The price of each hard rule: what the same book would gain without it.

Each hard rule in force (min_leads, tiers, fairness, continuity's max_reassign, accounts
kept together, the account cap, assign_all) is dropped in turn and the book solved again with
the same settings; the difference in leads assigned and in value score is that rule's price.
It costs one solve per rule, so it runs only when asked (``--price-rules``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from leadassign.control.stop import Stop
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem
from leadassign.result import Result, Status

#: A rule is priced only with at least this much of the time limit left.
MIN_SECONDS = 0.5


def _variants(problem: Problem, policy: Policy) -> dict[str, tuple[Problem, Policy]]:
    """Per hard rule in force: the problem and policy without it."""
    out: dict[str, tuple[Problem, Policy]] = {}
    reps = problem.reps
    if np.any((reps.min_leads > 0) & reps.available):
        free = replace(reps, min_leads=np.zeros(len(reps), dtype=np.int64))
        out["min_leads"] = (replace(problem, reps=free), policy)
    if policy.tiers:
        out["tiers"] = (problem, policy.model_copy(update={"tiers": ()}))
    if policy.fairness is not None and policy.fairness.mode == "hard":
        out["fairness"] = (problem, policy.model_copy(update={"fairness": None}))
    c = policy.continuity
    if c is not None and c.mode == "hard" and c.max_reassign is not None:
        loose = c.model_copy(update={"max_reassign": None})
        out["continuity"] = (problem, policy.model_copy(update={"continuity": loose}))
    if policy.accounts_together:
        out["accounts"] = (problem, policy.model_copy(update={"accounts": None}))
    if policy.account_cap is not None:
        out["account_cap"] = (problem, policy.model_copy(update={"account_cap": None}))
    if policy.assign_all:
        out["assign_all"] = (problem, policy.model_copy(update={"assign_all": False}))
    return out


def price_rules(result: Result, stop: Stop | None = None) -> Result:
    """``result`` with ``prices``: per hard rule, the outcome without it and the gain.

    The re-solves share what is left of the run's time limit (``solver.time_limit_s``, less
    the solve's own time), in equal parts, and each may do ``work_limit / rules`` of work, so
    a priced run does at most twice the work of a plain one and ends within its time limit;
    ``stop`` ends them (a rule not solved for lack of time, or once stopped, is priced as
    UNKNOWN with ``limited_by`` "time" or "stop")."""
    from leadassign.solve import solve

    prices: dict[str, dict[str, Any]] = {}
    variants = _variants(result.problem, result.policy)
    settings = result.policy.solver
    ends = time.perf_counter() + settings.time_limit_s - (result.build_s + result.solve_s)
    for k, (rule, (problem, policy)) in enumerate(variants.items()):
        left = ends - time.perf_counter()
        if (stop is not None and stop.is_set()) or left < MIN_SECONDS:
            prices[rule] = {
                "status": Status.UNKNOWN.value,
                "assigned": None,
                "objective": None,
                "limited_by": "stop" if stop is not None and stop.is_set() else "time",
            }
            continue
        other = solve(
            problem,
            policy,
            time_limit_s=left / (len(variants) - k),
            work_limit=settings.work_limit / len(variants),
            stop=stop,
            capacity="off",
        )
        entry: dict[str, Any] = {
            "status": other.status.value,
            "assigned": other.assigned if other.has_solution else None,
            "objective": other.objective,
            "limited_by": other.limited_by,
        }
        if other.has_solution and result.has_solution:
            assert other.objective is not None and result.objective is not None
            entry["assigned_gain"] = other.assigned - result.assigned
            entry["objective_gain"] = other.objective - result.objective
            entry["proven"] = result.status == "OPTIMAL" and other.status == "OPTIMAL"
        prices[rule] = entry
    return replace(result, prices=prices)


__all__ = ["price_rules"]
