"""Baselines: how CRMs route leads, so users can see what optimizing the whole book gains.

``run_baseline(problem, strategy, policy)`` assigns the book with one of :data:`STRATEGIES`
and returns the same :class:`~leadassign.result.result.Result` as :func:`leadassign.solve`,
so the same output files, summary and checks apply. The status is FEASIBLE (a valid
assignment, nothing proven); ``best_bound``, ``gap`` and ``assigned_bound`` are None.

Eligibility, expected values and efforts come from the optimizer's own code
(:func:`~leadassign.compile.prepare.tiered_candidates`, the pair rules of ``prepare``), so
territories, industries, skills, leave, tiers, value weights, affinities and a pairs table
apply exactly as in ``solve``; a rep's assigned effort never exceeds its capacity. What
CRMs do not do, the baselines do not do either: fairness, continuity (owners,
``max_reassign``, ``keep_bonus``), accounts kept together and ``min_leads`` are ignored.
The summary still reports what the assignment does to them (fairness figures, churn,
``reps.csv``'s ``min_leads``), and its ``baseline`` block lists the rules of the inputs and
policy that were ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from leadassign.baselines.strategies import (
    current_owners,
    greedy,
    offsets,
    round_robin,
    weighted_round_robin,
)
from leadassign.compile.candidates import Candidates
from leadassign.compile.families.continuity import keepable_leads
from leadassign.compile.prepare import tiered_candidates
from leadassign.errors import InputError
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem
from leadassign.result import Result, Status

#: The routing strategies of CRMs (a holdout's baseline is one of these).
ROUTING = ("round-robin", "weighted-round-robin", "greedy")
#: The current owners: what the CRM holds today (``current_owner``), within today's rules.
CURRENT = "current"
#: The strategies :func:`run_baseline` knows, by the name ``method`` reports.
STRATEGIES = (*ROUTING, CURRENT)

Strategy = Callable[[Candidates, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _round_robin(
    cands: Candidates, indptr: np.ndarray, capacity: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    return round_robin(indptr, cands.rep, cands.effort, capacity)


def _weighted_round_robin(
    cands: Candidates, indptr: np.ndarray, capacity: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    return weighted_round_robin(indptr, cands.rep, cands.effort, capacity)


def _greedy(
    cands: Candidates, indptr: np.ndarray, capacity: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    return greedy(indptr, cands.lead, cands.rep, cands.effort, cands.ev, capacity)


def _current(
    cands: Candidates, indptr: np.ndarray, capacity: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    return current_owners(indptr, cands.rep, cands.effort, capacity, owner)


_RUN: dict[str, Strategy] = {
    "round-robin": _round_robin,
    "weighted-round-robin": _weighted_round_robin,
    "greedy": _greedy,
    CURRENT: _current,
}


def baseline_candidates(problem: Problem, policy: Policy) -> tuple[np.ndarray, Candidates]:
    """Lead values and the eligible pairs as the optimizer builds them, without the accounts
    filter (baselines do not keep accounts together): ``prepare()``'s pair rules."""
    values, _, tiered = tiered_candidates(problem, policy)
    return values, tiered


def ignored_rules(problem: Problem, policy: Policy, strategy: str = "") -> list[str]:
    """The rules given in the inputs or the policy that baselines do not apply (the current
    owners keep every owner they can: continuity is not ignored, it is all there is)."""
    ignored = []
    reps = problem.reps
    if bool(np.any(reps.available & (reps.min_leads > 0))):
        ignored.append("min_leads")
    if policy.fairness is not None:
        ignored.append("fairness")
    if policy.continuity is not None and strategy != CURRENT:
        ignored.append("continuity")
    if policy.accounts_together:
        ignored.append("accounts")
    if policy.account_cap is not None:
        ignored.append("account_cap")
    if policy.assign_all:
        ignored.append("assign_all")
    return ignored


def run_baseline(
    problem: Problem,
    strategy: str,
    policy: Policy | None = None,
    *,
    seed: int | None = None,
) -> Result:
    """Assign ``problem`` the way a CRM would, with ``strategy`` (one of :data:`STRATEGIES`):

    - ``round-robin``: leads in input order; each goes to the next rep, in rep input order
      and wrapping around, that is eligible for it and has room for its effort; the pointer
      then moves just past that rep (Salesforce's and HubSpot's round-robin queues). One
      pointer for the whole book.
    - ``weighted-round-robin``: leads in input order; each goes to the eligible rep with room
      whose assigned effort / capacity is lowest, ties to the earlier rep in input order, so
      reps take turns in proportion to their capacity.
    - ``greedy``: all eligible pairs by expected value, highest first (ties: lead, then rep,
      in input order); a pair is taken when its lead is still free and its rep has room.
    - ``current``: what we have today. Leads in input order; each goes to its
      ``current_owner`` when that owner is eligible for it and has room, else stays
      unassigned with reason ``new_lead`` (no owner), ``owner_unavailable`` (on leave),
      ``owner_not_eligible`` (the detail names the rule: territory, industry, skills, tiers
      or the pairs table) or ``owner_full``.

    A lead a routing strategy leaves unassigned gets reason ``no_eligible_rep`` (no rep may
    take it) or ``no_capacity`` (every eligible rep was full when its turn came). Fairness,
    continuity, accounts and min_leads are ignored (see the module doc); the policy's value
    weights and tiers apply. ``objective`` and ``expected_value`` are both the total expected
    value, in floats; ``value_scale`` is 1 (nothing is scaled to integers).

    No strategy uses randomness: the same inputs give the same assignment. ``seed`` is
    accepted for symmetry with :func:`leadassign.solve` and only recorded in the summary.
    Raises InputError for an unknown strategy or a policy whose value columns are missing.
    """
    if strategy not in _RUN:
        raise InputError(
            f"unknown baseline strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}"
        )
    started = time.perf_counter()
    policy = (policy or Policy()).with_solver(seed=seed)
    values, cands = baseline_candidates(problem, policy)
    capacity = problem.reps.capacity.astype(np.int64)
    indptr = offsets(cands.lead, problem.n_leads)
    build_s = time.perf_counter() - started

    pair_of_lead = _RUN[strategy](cands, indptr, capacity, problem.owner)

    picked = pair_of_lead[pair_of_lead >= 0]  # ascending (pairs are in lead order), as solve()
    expected = float(cands.ev[picked].sum())
    # Each lead is its own unit: a pair is usable when its effort fits the rep's capacity.
    fits = cands.effort <= capacity[cands.rep]
    var = np.where(fits, np.cumsum(fits) - 1, -1).astype(np.int64)
    extra: dict[str, Any] = {
        "strategy": strategy,
        "ignored": ignored_rules(problem, policy, strategy),
    }
    return Result(
        status=Status.FEASIBLE,
        method=strategy,
        problem=problem,
        policy=policy,
        candidates=cands,
        pair_of_lead=pair_of_lead,
        lead_value=values,
        keepable=keepable_leads(cands, problem, var),
        unit_effort=cands.effort,
        objective=expected,
        expected_value=expected,
        best_bound=None,
        gap=None,
        assigned_bound=None,
        value_scale=1.0,
        fairness_scale=1.0,
        build_s=build_s,
        solve_s=time.perf_counter() - started - build_s,
        baseline=extra,
    )


__all__ = ["CURRENT", "ROUTING", "STRATEGIES", "run_baseline"]
