"""A randomized holdout: a seeded share of the new leads is routed by a baseline strategy,
the rest optimized, so that the uplift of optimizing can later be measured on real outcomes
(``leadassign evaluate``; docs/history.md "Holdout and evaluate").

The draw (:func:`draw_holdout`) is stratified by territory: of the ``n`` leads that may be
drawn (every lead for ``solve``; for ``rebalance`` the leads without an owner carried from
the previous run), ``round(share * n)`` (halves up) are held out, split among territories by
largest remainder (each territory gets ``floor(share * n_t)``, and the leads left over go one
each to the territories with the largest fractional part ``share * n_t - floor``, ties to the
territory first in sorted order). In each territory, in sorted territory order, that many
leads are drawn without replacement by ``numpy.random.default_rng(seed)`` from its leads
sorted by ``lead_id``, so the input's row order does not change the draw.

The two arms share the reps (:func:`solve_with_holdout`): the holdout leads are routed first
by the baseline over their full eligible pairs and every rep's full capacity; what they take
is removed from each rep's capacity (and the leads they give a rep count towards its
``min_leads``), then the optimized arm is solved on the other leads with what is left, under
every rule of the policy. The baseline arm ignores the rules CRMs ignore (fairness,
continuity, accounts, min_leads: ``leadassign.baselines.ignored_rules``).

The whole-book :class:`~leadassign.result.Result` reports the optimized arm's status (the
holdout arm proves nothing; with share 1 there is no optimized arm and the status is
FEASIBLE, as for a baseline), the value score of the whole assignment (the optimized arm's
value score plus the holdout arm's expected value) and, as its bound, the optimized arm's
bound plus the holdout arm's expected value: the best value score possible *given the
holdout arm's routing*, not over every assignment of the book.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from leadassign.baselines import ROUTING, baseline_candidates, ignored_rules, run_baseline
from leadassign.errors import InputError
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem
from leadassign.result import Result

#: The arm names of assignments.csv's ``arm`` column.
OPTIMIZED = "optimized"
HOLDOUT = "holdout"

Optimize = Callable[[Problem, Policy], Result]


def strategy_name(name: str) -> str:
    """A routing strategy as ``ROUTING`` spells it (``round_robin`` -> ``round-robin``)."""
    spelled = name.strip().lower().replace("_", "-")
    if spelled not in ROUTING:
        raise InputError(f"unknown holdout baseline {name!r}; choose one of {', '.join(ROUTING)}")
    return spelled


@dataclass(frozen=True)
class Holdout:
    """What to hold out: ``share`` of the leads in [0, 1] (0: no holdout; 1: every lead),
    drawn with ``seed``, routed by the ``baseline`` strategy (``leadassign.baselines``)."""

    share: float
    seed: int = 0
    baseline: str = "round-robin"

    def __post_init__(self) -> None:
        if not (isinstance(self.share, (int, float)) and 0.0 <= float(self.share) <= 1.0):
            raise InputError(f"--holdout must be a share between 0 and 1, not {self.share!r}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            raise InputError(f"--holdout-seed must be an integer >= 0, not {self.seed!r}")
        object.__setattr__(self, "share", float(self.share))
        object.__setattr__(self, "baseline", strategy_name(self.baseline))

    def settings(self) -> dict[str, Any]:
        return {"share": self.share, "seed": self.seed, "baseline": self.baseline}


def territory_quotas(territories: np.ndarray, share: float) -> dict[str, tuple[int, int]]:
    """Per territory (sorted): (leads, leads to hold out), by largest remainder, so that the
    total is ``round(share * n)`` with halves rounded up."""
    names, counts = np.unique(np.asarray(territories, dtype=str), return_counts=True)
    if not len(names):
        return {}
    total = math.floor(share * int(counts.sum()) + 0.5)
    exact = np.round(share * counts.astype(np.float64), 9)
    quota = np.floor(exact).astype(np.int64)
    left = total - int(quota.sum())
    if left > 0:
        # largest fractional part first; ties: the territory first in sorted order
        order = np.lexsort((np.arange(len(names)), -(exact - quota)))
        quota[order[:left]] += 1
    quota = np.minimum(quota, counts)
    return {str(t): (int(n), int(q)) for t, n, q in zip(names, counts, quota, strict=True)}


def draw_holdout(
    problem: Problem, holdout: Holdout, drawable: np.ndarray | None = None
) -> np.ndarray:
    """Per lead (input order): True when it is held out. ``drawable``: the leads that may be
    drawn (default: every lead). See the module doc for the rule."""
    leads = problem.leads
    n = len(leads)
    pool = np.ones(n, dtype=bool) if drawable is None else np.asarray(drawable, dtype=bool)
    held = np.zeros(n, dtype=bool)
    if holdout.share <= 0.0 or not pool.any():
        return held
    idx = np.flatnonzero(pool)
    territory = np.asarray(leads.territory, dtype=str)[idx]
    ids = np.asarray(leads.ids, dtype=str)[idx]
    order = idx[np.lexsort((ids, territory))]  # by territory, then lead_id
    ordered_territory = np.asarray(leads.territory, dtype=str)[order]
    rng = np.random.default_rng(holdout.seed)
    start = 0
    for _, (count, quota) in territory_quotas(territory, holdout.share).items():
        members = order[start : start + count]
        assert bool(np.all(ordered_territory[start : start + count] == ordered_territory[start]))
        start += count
        if quota:
            held[members[rng.choice(count, size=quota, replace=False)]] = True
    return held


def subproblem(
    problem: Problem,
    keep: np.ndarray,
    capacity: np.ndarray | None = None,
    min_leads: np.ndarray | None = None,
) -> Problem:
    """``problem`` with only the leads at indices ``keep`` (in input order) and their rows of
    the pairs table, and optionally other rep capacities and floors; validated anew."""
    leads = problem.leads
    raw = leads.raw
    frame = raw.frame.iloc[keep].reset_index(drop=True)
    sub_leads = replace(
        leads,
        ids=leads.ids[keep],
        territory=leads.territory[keep],
        industry=leads.industry[keep],
        skills=leads.skills[keep],
        value=None if leads.value is None else leads.value[keep],
        account_id=leads.account_id[keep],
        current_owner=leads.current_owner[keep],
        effort=leads.effort[keep],
        raw=replace(raw, frame=frame),
    )
    reps = problem.reps
    if capacity is not None or min_leads is not None:
        reps = replace(
            reps,
            capacity=reps.capacity if capacity is None else capacity,
            min_leads=reps.min_leads if min_leads is None else min_leads,
        )
    pairs = problem.pairs
    if pairs is not None:
        rows = np.isin(problem.pair_lead, keep)
        pairs = replace(
            pairs,
            lead_id=pairs.lead_id[rows],
            rep_id=pairs.rep_id[rows],
            score=pairs.score[rows],
            effort=pairs.effort[rows],
            raw=replace(pairs.raw, frame=pairs.raw.frame.loc[rows].reset_index(drop=True)),
        )
    return Problem(
        leads=sub_leads,
        reps=reps,
        affinity=problem.affinity,
        pairs=pairs,
        pairs_mode=problem.pairs_mode,
        digests=problem.digests,
    )


def solve_with_holdout(
    problem: Problem,
    policy: Policy,
    holdout: Holdout,
    *,
    drawable: np.ndarray | None = None,
    optimize: Optimize | None = None,
) -> Result:
    """The whole book: the holdout arm routed by ``holdout.baseline``, the rest solved by
    ``optimize`` (default: :func:`leadassign.solve`) with the capacity the holdout arm left.
    ``drawable``: the leads that may be held out (default: every lead). The Result covers
    every lead; its ``arm`` holds each lead's arm and its ``holdout`` the summary block."""
    if optimize is None:
        from leadassign.solve import solve

        def optimize(p: Problem, pol: Policy) -> Result:
            return solve(p, pol)

    held = draw_holdout(problem, holdout, drawable)
    hold_idx, opt_idx = np.flatnonzero(held), np.flatnonzero(~held)
    routed = run_baseline(subproblem(problem, hold_idx), holdout.baseline, policy)
    reps = problem.reps
    m = problem.n_reps
    took = routed.pair_of_lead >= 0
    rep_taken = routed.candidates.rep[routed.pair_of_lead[took]]
    effort = np.bincount(rep_taken, weights=routed.candidates.effort[routed.pair_of_lead[took]],
                         minlength=m).astype(np.int64)  # fmt: skip
    count = np.bincount(rep_taken, minlength=m).astype(np.int64)
    capacity = reps.capacity - effort
    floor = np.minimum(np.maximum(reps.min_leads - count, 0), capacity)
    optimized = (
        optimize(subproblem(problem, opt_idx, capacity, floor), policy) if len(opt_idx) else None
    )
    drawable_n = problem.n_leads if drawable is None else int(np.count_nonzero(drawable))
    pool = np.ones(problem.n_leads, dtype=bool) if drawable is None else np.asarray(drawable, bool)
    block: dict[str, Any] = {
        **holdout.settings(),
        "stratified_by": "territory",
        "drawn_from": drawable_n,
        "territories": {
            t: {"leads": n, "holdout": q}
            for t, (n, q) in territory_quotas(problem.leads.territory[pool], holdout.share).items()
        },
        "baseline_ignores": ignored_rules(problem, policy),
        "arms": {
            OPTIMIZED: _arm_figures(optimized, len(opt_idx)),
            HOLDOUT: _arm_figures(routed, len(hold_idx)),
        },
    }
    return combine(problem, policy, held, routed, optimized, block)


def _arm_figures(result: Result | None, leads: int) -> dict[str, Any]:
    if result is None:
        return {"leads": leads, "assigned": 0, "expected_value": 0.0, "status": None}
    figures: dict[str, Any] = {
        "leads": leads,
        "assigned": result.assigned if result.has_solution else None,
        "expected_value": result.expected_value,
        "status": result.status.value,
    }
    if result.baseline is None:
        figures.update(
            {
                "method": result.method,
                "objective": result.objective,
                "best_bound": result.best_bound,
                "gap": result.gap,
            }
        )
    else:
        figures["method"] = result.method
    return figures


def _pair_index(key: np.ndarray, lead: np.ndarray, rep: np.ndarray, m: int) -> np.ndarray:
    """Positions in the sorted pair keys ``key`` (lead * m + rep) of the given pairs."""
    wanted = lead.astype(np.int64) * m + rep.astype(np.int64)
    at = np.searchsorted(key, wanted)
    if len(wanted) and not bool(np.all(key[np.minimum(at, len(key) - 1)] == wanted)):
        raise AssertionError("an arm's pair is not an eligible pair of the whole book")
    return at


def combine(
    problem: Problem,
    policy: Policy,
    held: np.ndarray,
    routed: Result,
    optimized: Result | None,
    block: dict[str, Any],
) -> Result:
    """The whole book's Result from the two arms' (see the module doc for its figures)."""
    values, cands = baseline_candidates(problem, policy)
    n, m = problem.n_leads, problem.n_reps
    key = cands.lead.astype(np.int64) * m + cands.rep.astype(np.int64)
    hold_idx, opt_idx = np.flatnonzero(held), np.flatnonzero(~held)
    pair_of_lead = np.full(n, -1, dtype=np.int64)
    keepable = np.zeros(n, dtype=bool)
    unit_effort = cands.effort.astype(np.int64, copy=True)
    arms: list[tuple[Result | None, np.ndarray]] = [(routed, hold_idx), (optimized, opt_idx)]
    for sub, idx in arms:
        if sub is None or not sub.has_solution:
            continue
        chosen = np.flatnonzero(sub.pair_of_lead >= 0)
        picked = sub.pair_of_lead[chosen]
        pair_of_lead[idx[chosen]] = _pair_index(key, idx[chosen], sub.candidates.rep[picked], m)
        keepable[idx] = sub.keepable
        every = _pair_index(key, idx[sub.candidates.lead], sub.candidates.rep, m)
        unit_effort[every] = sub.unit_effort
    arm = np.where(held, HOLDOUT, OPTIMIZED).astype(object)
    hold_ev = float(routed.expected_value or 0.0)
    if optimized is None:  # share 1: every lead routed by the baseline
        return replace(
            routed,
            problem=problem,
            candidates=cands,
            pair_of_lead=pair_of_lead,
            lead_value=values,
            keepable=keepable,
            unit_effort=unit_effort,
            baseline=None,
            arm=arm,
            holdout=block,
        )
    solved = optimized.has_solution
    objective = optimized.objective + hold_ev if optimized.objective is not None else None
    bound = optimized.best_bound + hold_ev if optimized.best_bound is not None else None
    gap = None
    if bound is not None and objective is not None:
        gap = (bound - objective) / abs(bound) if bound != 0 else 0.0
        gap = max(gap, 0.0)
    return replace(
        optimized,
        problem=problem,
        candidates=cands,
        pair_of_lead=pair_of_lead if solved else np.full(n, -1, dtype=np.int64),
        lead_value=values,
        keepable=keepable,
        unit_effort=unit_effort,
        objective=objective,
        expected_value=(optimized.expected_value or 0.0) + hold_ev if solved else None,
        best_bound=bound,
        gap=gap,
        assigned_bound=(
            optimized.assigned_bound + routed.assigned
            if optimized.assigned_bound is not None
            else None
        ),
        build_s=optimized.build_s + routed.build_s,
        solve_s=optimized.solve_s + routed.solve_s,
        arm=arm,
        holdout=block,
    )


def arm_counts(arm: pd.Series) -> dict[str, int]:
    """Leads per arm, both arms always present."""
    return {name: int((arm == name).sum()) for name in (OPTIMIZED, HOLDOUT)}


__all__ = [
    "HOLDOUT",
    "OPTIMIZED",
    "Holdout",
    "combine",
    "draw_holdout",
    "solve_with_holdout",
    "strategy_name",
    "subproblem",
    "territory_quotas",
]
