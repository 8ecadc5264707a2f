"""The one entry point: ``solve(problem, policy) -> Result``.

Data flows one way: validated problem -> eligible pairs (numpy) -> scaled integer values ->
an exact min-cost flow (when every usable pair takes one capacity unit) or a CP-SAT model ->
chosen pairs -> Result, whose objective is recomputed in floats.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from leadassign.errors import InputError
from leadassign.models.policy import Method, Policy
from leadassign.models.problem import Problem
from leadassign.solver import budget, mip
from leadassign.solver.bands import value_band_bound
from leadassign.solver.cpsat import Continuity, CpSatSettings, Fairness, Pairs, solve_cpsat
from leadassign.solver.duals import AllArcs, Flows, Solved, priced_subset, rep_prices
from leadassign.solver.explain import explain, hall_message, precheck
from leadassign.solver.flow import hall_violation, solve_flow
from leadassign.solver.hints import (
    Band,
    balanced_draft,
    churn_flow,
    fair_count_flow,
    fairness_band,
    fill_by_regret,
    group_totals,
    improve_by_moves,
    owners_start,
    rep_bounds,
    repair_floors,
)
from leadassign.solver.knapsack import Grid, branch_and_bound, value_grid
from leadassign.solver.knapsack import solvable as knapsack_solvable
from leadassign.solver.lp import MAX_PAIRS, lp_start, unit_sizes
from leadassign.solver.progress import NO_PROGRESS, Progress
from leadassign.solver.result import Result, Status
from leadassign.solver.rules import Prepared, fits_in_order, keepable_leads, prepare
from leadassign.solver.stop import Stop, active

#: Above this many pairs the flows for side rules run on a priced subset of the pairs
#: (duals.ArcSubset): each lead's best SUBSET_PER_LEAD at the relaxation's rep prices.
SUBSET_PAIRS = 1_000_000
SUBSET_PER_LEAD = 8
#: The Lagrangian churn search stops when its solution is this close to its bound.
LAGRANGIAN_TOLERANCE = 2e-5
#: Above this many pairs the Lagrangian answer is final: CP-SAT would not build its model in
#: time (at 50,000 x 300 it did not finish presolve in 60 s).
LAGRANGIAN_ONLY_PAIRS = 500_000
#: Unit visits of the local search (``improve_by_moves``) after the balanced draft and after
#: the Lagrangian churn flow: about 4 s at 10,000 x 200. After the draft of a value band,
#: 5,000 and 20,000 visits ended within 0.5% of each other; after the churn flow, they cut
#: the gap to the bound from 7.7e-5 to 1.9e-5 (continuity 0.05) and from 4.1e-5 to 2.4e-5
#: (tiers, count fairness and continuity).
MOVE_VISITS = 5_000
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
#: CP-SAT's least share of the work limit, however much the earlier stages used (as it gets
#: at least a second of the time limit): HiGHS' root can overrun its share (budget.py), and
#: with a twentieth CP-SAT's value phase found nothing on the 2,089 x 35 CRM book.
CPSAT_MIN_WORK = 0.25


@dataclass(frozen=True)
class Start:
    """A previous answer to start from (a scenario's base, last week's run): ``owners``
    (lead_id -> rep_id) where they still meet every hard rule, and the churn search's keep
    bonus (``Result.keep_bonus``, in value per kept owner) as its first guess."""

    owners: Mapping[str, str]
    keep_bonus: float | None = None


def _trim_to_capacity(pairs: Pairs, chosen: np.ndarray) -> np.ndarray:
    """A start for CP-SAT when efforts differ: the chosen pairs of a relaxation in which each
    lead took one unit, cut back per rep to the best-value prefix that fits its capacity in
    effort (vectorized: sort by rep then value, one cumulative sum per rep)."""
    picked = np.flatnonzero(chosen)
    order = picked[np.lexsort((picked, -pairs.units[picked], pairs.rep[picked]))]
    keep = fits_in_order(pairs.rep[order], pairs.effort[order], pairs.capacity)
    trimmed = np.zeros(len(pairs), dtype=bool)
    trimmed[order[keep]] = True
    return trimmed


def _relaxed_hint(
    prep: Prepared,
    relaxed: np.ndarray,
    lead_of: np.ndarray,
    rep_of: np.ndarray,
    lead_units: np.ndarray,
) -> np.ndarray:
    """A start from the lead-level relaxation (chosen ``relaxed`` over the usable pairs):
    owners preferred under a continuity limit, merged into whole accounts, trimmed to the
    capacities in effort and topped up to the floors."""
    cands, units, pairs, side = prep.cands, prep.units, prep.pairs, prep.side
    usable = units.usable
    start = relaxed
    if side.continuity is not None:
        # Among the most leads, prefer owners: an owner pair's bonus outweighs the value
        # difference of any one lead, so the hint makes few changes.
        keep = side.continuity.kept[units.var[usable]] > 0
        bonus = 2 * int(np.abs(lead_units).max(initial=0)) + 1
        kept_flow = solve_flow(
            lead_of,
            rep_of,
            lead_units + bonus * keep,
            cands.n_leads,
            pairs.capacity,
            np.zeros_like(pairs.min_leads),
        ).chosen
        assert kept_flow is not None
        start = kept_flow
    spread = np.zeros(len(cands), dtype=bool)
    spread[usable[start]] = True
    merged = units.unit_choice(spread)
    if np.any(pairs.size > 1):
        # Accounts: the same flow over whole units (one unit of flow each, bigger accounts
        # first), which keeps accounts whole where the lead-level flow splits them.
        weight = 2 * int(np.abs(pairs.units).max(initial=0)) + 1
        whole = solve_flow(
            pairs.unit,
            pairs.rep,
            pairs.units + weight * pairs.size,
            int(pairs.unit.max(initial=-1)) + 1,
            pairs.capacity,
            np.zeros_like(pairs.min_leads),
        ).chosen
        assert whole is not None
        merged = whole
    return repair_floors(pairs, _trim_to_capacity(pairs, merged))


def solve(
    problem: Problem,
    policy: Policy | None = None,
    *,
    method: Method | None = None,
    time_limit_s: float | None = None,
    work_limit: float | None = None,
    workers: int | None = None,
    seed: int | None = None,
    relative_gap: float | None = None,
    log: bool | None = None,
    progress: Progress | None = None,
    start: Start | Mapping[str, str] | None = None,
    stop: Stop | None = None,
) -> Result:
    """Assign leads to reps: most leads first, then the best value score (README "Business
    rules"): expected value, plus keep bonuses, minus soft-rule penalties.

    Keyword arguments override the policy's ``solver:`` block; ``progress`` is told each
    phase and CP-SAT's objective and bound (None: nothing); ``start`` (a ``Start``, or just
    lead_id -> rep_id: a previous answer) is the first start when what it still allows meets
    every hard rule and beats the relaxation's, and its keep bonus the churn search's first
    guess. ``stop`` (set from a signal handler or another thread) ends the solve early: the
    best assignment found so far that meets every hard rule, as FEASIBLE, or UNKNOWN when
    there is none yet; ``Result.interrupted`` gives its reason (None when the answer came
    out proven all the same: OPTIMAL or INFEASIBLE). Raises InputError when the
    policy needs lead columns that are missing or malformed.
    """
    started = time.perf_counter()
    policy = (policy or Policy()).with_solver(
        method=method,
        time_limit_s=time_limit_s,
        work_limit=work_limit,
        workers=workers,
        seed=seed,
        relative_gap=relative_gap,
        log=log,
    )
    meter = budget.Meter(policy.solver.work_limit, policy.solver.time_limit_s)
    meter.started = started
    with active(stop), budget.metering(meter):
        return _solve(problem, policy, start, stop, progress, started, meter)


def _solve(
    problem: Problem,
    policy: Policy,
    start: Start | Mapping[str, str] | None,
    stop: Stop | None,
    progress: Progress | None,
    started: float,
    meter: budget.Meter,
) -> Result:
    if start is not None and not isinstance(start, Start):
        start = Start(start)
    keep_bonus: float | None = None  # the churn search's, once it ran
    settings = policy.solver
    prep = prepare(problem, policy)
    cands, units, pairs, side = prep.cands, prep.units, prep.pairs, prep.side
    unit_effort = bool(np.all(pairs.effort == 1))
    network = unit_effort and not side.any and bool(np.all(pairs.size == 1))
    chosen_method: str = settings.method
    if chosen_method == "auto":
        chosen_method = "flow" if network else "cpsat"
    if chosen_method == "flow" and not network:
        raise InputError(
            "method 'flow' needs every lead to take one capacity unit (effort 1) and no "
            "fairness, continuity limit or accounts kept together; use 'cpsat' or 'auto'"
        )
    # Lead-level pairs that a model variable represents: the relaxations work on these.
    usable = units.usable
    lead_of = cands.lead[usable]
    rep_of = cands.rep[usable]
    lead_units = units.lead_units[usable]

    def result(status: Status, chosen: np.ndarray | None, **figures: Any) -> Result:
        pair_of_lead = np.full(problem.n_leads, -1, dtype=np.int64)
        objective = expected = None
        if chosen is not None:
            picked = np.flatnonzero(units.lead_choice(chosen))
            pair_of_lead[cands.lead[picked]] = picked
            expected = float(cands.ev[picked].sum())
            objective = _value_score(problem, policy, prep, chosen, picked)
        return Result(
            status=status,
            method=chosen_method,
            problem=problem,
            policy=policy,
            candidates=cands,
            pair_of_lead=pair_of_lead,
            lead_value=prep.values,
            keepable=keepable_leads(cands, problem, units.var),
            unit_effort=units.unit_effort,
            objective=objective,
            expected_value=expected,
            value_scale=prep.scale,
            fairness_scale=prep.fairness_scale,
            build_s=build_s,
            solve_s=time.perf_counter() - started - build_s,
            keep_bonus=keep_bonus,
            limited_by=meter.limited_by(status in (Status.OPTIMAL, Status.INFEASIBLE)),
            # a proven optimum or infeasibility is the whole answer, stop or not
            interrupted=stop.reason
            if stop is not None
            and stop.is_set()
            and status not in (Status.OPTIMAL, Status.INFEASIBLE)
            else None,
            **figures,
        )

    def time_left() -> float:
        return meter.time_left()  # 0 once stopped

    def incumbent(count_bound: int | None) -> Result:
        """The best assignment any stage found (``hint``) if it meets every hard rule and
        assigns a lead (or none can be): FEASIBLE, with the bound known so far (the value
        bound only at the count bound); else UNKNOWN. (An empty start meets a band, but it
        is no answer: written, it would release every lead.)"""
        empty = hint is not None and not hint.any() and count_upper > 0
        if hint is None or empty or not _valid(prep, hint):
            return result(
                Status.UNKNOWN, None, best_bound=None, gap=None, assigned_bound=count_bound
            )
        res = result(Status.FEASIBLE, hint, best_bound=None, gap=None, assigned_bound=count_bound)
        if units_upper is None or int(pairs.size[hint].sum()) < count_upper:
            return res
        return _with_bound(res, max(units_upper - side.score(pairs, hint), 0))

    def halted() -> Result | None:
        """When ``stop`` is set: the incumbent (or UNKNOWN)."""
        if stop is None or not stop.is_set():
            return None
        return incumbent(count_upper)

    def infeasible(*conflicts: str) -> Result:
        return result(
            Status.INFEASIBLE,
            None,
            best_bound=None,
            gap=None,
            assigned_bound=None,
            conflicts=conflicts,
        )

    conflicts = precheck(problem, policy, prep)
    build_s = time.perf_counter() - started
    if conflicts:
        return infeasible(*conflicts)

    report = progress or NO_PROGRESS
    report.phase("flow")
    if chosen_method == "flow":
        outcome = solve_flow(
            pairs.unit, pairs.rep, pairs.units, problem.n_leads, pairs.capacity, pairs.min_leads
        )
        if not outcome.feasible:
            return infeasible(hall_message(problem, prep, outcome.hall_reps, outcome.hall_leads))
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
    violation = hall_violation(lead_of, rep_of, problem.n_leads, pairs.min_leads)
    if violation is not None:
        return infeasible(hall_message(problem, prep, violation.hall_reps, violation.hall_leads))
    # Bounds: the flow relaxation over lead-level pairs in which each lead takes one unit
    # (effort >= 1, so no rep can take more leads than its capacity) and floors, side rules
    # and accounts are dropped bounds the count, and its value bounds the value score at that
    # count (penalties only lower it). With a network but for the side rules, the flow that
    # forces the floors is exact without them: the hint, and the bound. Otherwise the hint is
    # the relaxation, merged into accounts and trimmed to fit capacities in effort.
    relax = solve_flow(
        lead_of,
        rep_of,
        lead_units,
        problem.n_leads,
        pairs.capacity,
        np.zeros_like(pairs.min_leads),
    )
    count_upper = relax.max_count
    units_upper = int(lead_units[relax.chosen].sum()) if relax.chosen is not None else None
    hint: np.ndarray | None = None
    # The optimum of the plain flow for the rep bounds a churn search would use, once solved.
    at_bounds: Solved | None = None
    network_shaped = unit_effort and bool(np.all(pairs.size == 1))
    fair, churn = side.fairness, side.continuity
    counting = policy.fairness is not None and policy.fairness.metric == "count"
    flows: Flows = AllArcs(pairs.unit, pairs.rep, problem.n_leads)
    if (
        network_shaped
        and side.any
        and len(pairs) > SUBSET_PAIRS
        and relax.chosen is not None
        and (fair is None or (fair.penalty is None and counting))
    ):
        # Many pairs: the flows below run on each lead's best pairs at the relaxation's rep
        # prices (and the owners' pairs), with bounds over every pair from their prices.
        prices = rep_prices(
            lead_of,
            rep_of,
            lead_units,
            relax.chosen,
            problem.n_leads,
            np.zeros_like(pairs.min_leads),
            pairs.capacity,
        )
        if prices is not None:
            flows = priced_subset(
                pairs.unit,
                pairs.rep,
                pairs.units,
                problem.n_leads,
                prices,
                per_lead=SUBSET_PER_LEAD,
                keep=None if churn is None else churn.kept > 0,
            )
    if network_shaped:
        exact = flows.solve(pairs.units, pairs.min_leads, pairs.capacity, count_upper)
        if exact.chosen is not None:
            hint, at_bounds = exact.chosen, exact
            if not side.any and exact.bound is not None:
                units_upper = exact.bound
    if hint is None and relax.chosen is not None:
        hint = _relaxed_hint(prep, relax.chosen, lead_of, rep_of, lead_units)
        if int(pairs.size[hint].sum()) < count_upper:
            hint = _filled_hint(prep, hint)
    if start is not None:
        # A previous answer (a scenario's base, last week's run) where it still holds.
        begun = _started_hint(problem, prep, start.owners)
        if begun is not None and _better(prep, begun, hint):
            hint = begun
    if (
        network_shaped
        and fair is not None
        and fair.penalty is None
        and counting
        and hint is not None
    ):
        fair_flow = fair_count_flow(pairs, fair, problem.n_leads, hint, flows)
        # the flow with the band's bounds for its own totals, as the churn search solves it
        at_bounds = fair_flow
        if fair_flow is not None and fair_flow.chosen is not None:
            hint = fair_flow.chosen
            # One group, no other side rule, the relaxation's count: the flow with the band's
            # bounds for that total is exact, so its bound is the value bound.
            if (
                len(fair.groups()) == 1
                and side.continuity is None
                and fair_flow.count == count_upper
                and fair_flow.bound is not None
            ):
                units_upper = fair_flow.bound
    if (
        network_shaped
        and churn is not None
        and hint is not None
        and (fair is None or (fair.penalty is None and counting and fair.excess(pairs, hint) == 0))
        and int(hint.sum()) == count_upper
    ):
        # The churn limit by a Lagrangian bonus per kept lead over the same flow (with the
        # band's bounds for the count reached): a start that meets every rule, and with one
        # fairness group (or none) a bound, as the count is the most any choice can reach.
        # A soft limit caps the bonus at its penalty (hints.churn_flow).
        if fair is not None:
            low, high = rep_bounds(pairs, fair, group_totals(pairs, fair, hint))
        else:
            low, high = pairs.min_leads, pairs.capacity
        report.phase("lagrangian")
        lagrange = churn_flow(
            pairs,
            churn,
            problem.n_leads,
            low,
            high,
            tolerance=LAGRANGIAN_TOLERANCE,
            time_left=time_left,
            start=at_bounds if at_bounds is not None and at_bounds.chosen is hint else None,
            flows=flows,
            guess=_guessed_bonus(start, prep.scale),
        )
        if lagrange is not None:
            keep_bonus = lagrange.multiplier / prep.scale
        if (
            lagrange is not None
            and lagrange.chosen is not None
            and side.feasible(pairs, lagrange.chosen)
        ):
            one_group = fair is None or len(fair.groups()) == 1
            hint = lagrange.chosen
            if not (one_group and side.score(pairs, hint) >= lagrange.bound):
                # Not proven: the limit's slack in the Lagrangian flow (owners kept beyond
                # the limit) spent on moves that gain value.
                band = None if fair is None else fairness_band(pairs, fair, hint)
                limit = churn
                if churn.penalty is not None:  # soft: no more changes than the limit or now
                    changes = churn.keepable - int(churn.kept[hint].sum())
                    limit = replace(churn, penalty=None, limit=max(churn.limit, changes))
                hint = _polished(prep, hint, band, limit)
            if one_group:
                units_upper = min(units_upper or lagrange.bound, lagrange.bound)
                missing = units_upper - side.score(pairs, hint)
                close = missing <= LAGRANGIAN_TOLERANCE * abs(units_upper)
                if settings.method == "auto" and (
                    len(pairs) > LAGRANGIAN_ONLY_PAIRS
                    or (len(pairs) > mip.MAX_PAIRS and close)
                    or missing <= 0
                ):
                    # Proven, or too large for the exact paths (CP-SAT did not improve on
                    # it at 10,000 x 100 in 40 s): the Lagrangian answer, with its bound.
                    chosen_method = "lagrangian"
                    res = result(
                        Status.OPTIMAL if missing <= 0 else Status.FEASIBLE,
                        hint,
                        best_bound=None,
                        gap=None,
                        assigned_bound=count_upper,
                    )
                    return _with_bound(res, max(missing, 0))
    if (halt := halted()) is not None:
        return halt
    if fair is not None and fair.penalty is None and not _feasible(prep, hint):
        # No flow met the band (a value metric, accounts, efforts): a draft that meets it by
        # construction. CP-SAT had found no solution for a 10,000 x 200 value band in 120 s.
        report.phase("draft")
        drafted = _drafted_hint(prep, fair)
        if drafted is not None and _better(prep, drafted, hint):
            hint = drafted
    if (
        network_shaped
        and fair is not None
        and fair.penalty is None
        and not counting
        and hint is not None
        and side.feasible(pairs, hint)
        and int(hint.sum()) == count_upper
        and len(pairs) > MAX_PAIRS
    ):
        # A value band on a book too big for the LP: a Lagrangian bound over the flow, in at
        # most a quarter of the time left (the flow's own bound ignores the band).
        report.phase("lagrangian")
        with budget.stage(0.25) as quarter:
            assert quarter is not None
            band_bound = value_band_bound(
                pairs,
                fair,
                flows,
                count_upper,
                int(pairs.units[hint].sum()),
                time_left=quarter.time_left,
            )
        if band_bound is not None:
            units_upper = min(units_upper or band_bound, band_bound)
    cp_settings = CpSatSettings(
        time_limit_s=settings.time_limit_s,
        workers=settings.workers,
        seed=settings.seed,
        relative_gap=settings.relative_gap,
        log=settings.log,
        params=settings.params,
    )
    relaxed = None  # the LP solution at count_upper leads, when solved
    if (halt := halted()) is not None:
        return halt
    if len(pairs) <= MAX_PAIRS and not _proven(prep, hint, count_upper, units_upper):
        # The LP relaxation with every rule: tighter bounds, and a start that meets them.
        report.phase("lp")
        # With HiGHS' whole MIP to follow, the restricted CP-SAT search for a start is left
        # out: its eighth of the time goes to HiGHS (OR-Library's GAP books it proves at 10 s
        # finish 1-5 s sooner, and type D ends closer to the best known).
        from_lp = lp_start(
            pairs,
            side,
            count_upper,
            cp_settings,
            search=not (settings.method == "auto" and len(pairs) <= mip.MAX_PAIRS),
        )
        if from_lp is not None:
            relaxed = from_lp.relaxed
            if from_lp.count_upper < count_upper:  # the flow's value bound was for more leads
                count_upper, units_upper = from_lp.count_upper, from_lp.units_upper
            elif from_lp.units_upper is not None:
                units_upper = min(from_lp.units_upper, units_upper or from_lp.units_upper)
            if from_lp.hint is not None and _better(prep, from_lp.hint, hint):
                hint = from_lp.hint
    whole = len(pairs) <= mip.MAX_PAIRS
    # A generalized assignment book: HiGHS finds good choices, the branch and bound on the
    # knapsack bound then proves them (knapsack.py).
    grid = _assignment_grid(prep, count_upper) if settings.method == "auto" else None
    plain = side.fairness is None and side.continuity is None
    # HiGHS' share of the time left: less when the knapsack search follows.
    share = KNAPSACK_MIP_SHARE if grid else mip.PLAIN_SHARE if plain else mip.SHARE
    while (
        settings.method == "auto"
        and (whole or relaxed is not None)
        and not _proven(prep, hint, count_upper, units_upper)
    ):
        # HiGHS' branch and cut on the neighbourhood the LP solution gives, then on the whole
        # model (when small enough); CP-SAT continues if it has no proof.
        if (halt := halted()) is not None:
            return halt
        report.phase("mip")
        with budget.stage(share) as part:
            assert part is not None
            found = mip.solve_mip(
                pairs,
                side,
                cp_settings,
                part.time_left(),
                hint,
                count_upper,
                relaxed=relaxed,
                whole=whole,
                max_nodes=mip.PLAIN_NODES if plain else mip.MAX_NODES,
            )
        if found.optimal:
            assert found.chosen is not None
            chosen_method = "mip"
            count = int(pairs.size[found.chosen].sum())
            return _with_bound(
                result(
                    Status.OPTIMAL, found.chosen, best_bound=None, gap=0.0, assigned_bound=count
                ),
                0,
            )
        if found.count_upper is not None and found.count_upper < count_upper:
            # The value bounds so far were for more leads.
            count_upper, units_upper = found.count_upper, None
        if found.count_upper == count_upper and found.units_upper is not None:
            units_upper = min(units_upper or found.units_upper, found.units_upper)
        if found.chosen is not None and _better(prep, found.chosen, hint):
            hint = found.chosen
        if grid is None or _proven(prep, hint, count_upper, units_upper):
            break
        report.phase("knapsack")
        placed = hint is not None and int(pairs.size[hint].sum()) == count_upper
        searched = branch_and_bound(
            pairs, grid.values, hint if placed else None, time_left, max_gap=KNAPSACK_MAX_GAP
        )
        if searched.chosen is not None and _better(prep, searched.chosen, hint):
            hint = searched.chosen
        if searched.bound is not None:
            above = grid.units_above(searched.bound, len(unit_sizes(pairs)))
            units_upper = min(units_upper or above, above)
        if not searched.searched:
            # HiGHS' choice is far from the knapsack bound: HiGHS again, with the time a
            # book without the knapsack search gives it (the bound stays).
            grid, share = None, mip.PLAIN_SHARE
            continue
        proven = searched.proven and searched.chosen is not None
        if proven:
            # optimal on the exact values (a choice HiGHS found may score a few rounding
            # units more in the scaled integers without being worth more)
            hint = searched.chosen
        if hint is not None and int(pairs.size[hint].sum()) == count_upper:
            # Every unit placed: the answer, proven or with the knapsack bound (CP-SAT, with
            # the second or so left, would not improve on it).
            chosen_method = "knapsack"
            res = result(
                Status.OPTIMAL if proven else Status.FEASIBLE,
                hint,
                best_bound=None,
                gap=None,
                assigned_bound=count_upper,
            )
            if proven:
                return _with_bound(res, 0)
            if units_upper is None:
                return res
            return _with_bound(res, max(units_upper - side.score(pairs, hint), 0))
        break
    if (halt := halted()) is not None:
        return halt
    # The time the earlier stages used (starts, flows, LP, MIP) comes off CP-SAT's: with
    # the LP and the MIP skipped, a 10,000 x 200 book with accounts ran 15 s past its limit.
    # CP-SAT gets at least a second and CPSAT_MIN_WORK of the work limit, like the last of it.
    last = budget.Meter(max(meter.work_left(), CPSAT_MIN_WORK * meter.work), max(time_left(), 1.0))
    cp_settings = replace(cp_settings, time_limit_s=last.seconds)
    with budget.metering(last):
        cp = solve_cpsat(
            pairs,
            cp_settings,
            hint,
            count_upper,
            side,
            units_upper=units_upper,
            progress=progress,
            value_scale=prep.scale,
        )
    meter.cuts |= last.cuts
    meter.spend(last.used)
    status = Status(cp.status)
    if cp.chosen is None and status not in (Status.INFEASIBLE, Status.MODEL_INVALID):
        # Cut short before CP-SAT found anything: the best assignment an earlier stage found.
        return incumbent(count_upper if cp.count_bound is None else cp.count_bound)
    if cp.chosen is None:
        explained: tuple[str, ...] = ()
        if status == Status.INFEASIBLE and not (stop is not None and stop.is_set()):
            # within what is left of the limit (and a share of the work like CP-SAT's)
            told = budget.Meter(
                max(meter.work_left(), CPSAT_MIN_WORK * meter.work), max(time_left(), 0.0)
            )
            with budget.metering(told):
                explained = explain(problem, policy, prep, settings, told.seconds)
            meter.cuts |= told.cuts - {"work"}
        return result(
            status,
            None,
            best_bound=None,
            gap=None,
            assigned_bound=cp.count_bound,
            conflicts=explained,
        )
    chosen = cp.chosen
    if hint is not None and _valid(prep, hint) and _better(prep, hint, chosen):
        chosen = hint  # (CP-SAT starts from the hint; kept should it return less)
    if status == Status.FEASIBLE and not chosen.any() and (cp.count_bound or 0) > 0:
        return incumbent(cp.count_bound)  # nothing assigned where leads can be: no answer
    res = result(status, chosen, best_bound=None, gap=None, assigned_bound=cp.count_bound)
    if cp.units_bound is None:
        return res
    return _with_bound(res, max(cp.units_bound - side.score(pairs, chosen), 0))


def _assignment_grid(prep: Prepared, count_upper: int) -> Grid | None:
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


def _proven(
    prep: Prepared, hint: np.ndarray | None, count_upper: int, units_upper: int | None
) -> bool:
    """Is ``hint`` feasible and at both bounds (so optimal with no search)?"""
    pairs, side = prep.pairs, prep.side
    return (
        hint is not None
        and units_upper is not None
        and side.feasible(pairs, hint)
        and int(pairs.size[hint].sum()) == count_upper
        and side.score(pairs, hint) >= units_upper
    )


def _guessed_bonus(start: Start | None, scale: float) -> int | None:
    """A start's keep bonus in this book's value units (None: none, or not a finite one)."""
    if start is None or start.keep_bonus is None:
        return None
    units = start.keep_bonus * scale
    return round(units) if math.isfinite(units) and units < 2**62 else None


def _started_hint(problem: Problem, prep: Prepared, start: Mapping[str, str]) -> np.ndarray | None:
    """A previous assignment (lead_id -> rep_id) as a start: the pairs of it that still
    exist (whole accounts), trimmed to the capacities and topped up to the floors; None when
    it breaks a hard rule. (Not topped up by the regret greedy: at 20,000 x 200 that took
    12 s per variant, six times the solve.)"""
    cands, units, pairs = prep.cands, prep.units, prep.pairs
    wanted = pd.Series(problem.leads.ids).map(pd.Series(start, dtype=object)).fillna("")
    rep_of_lead = pd.Index(problem.reps.ids).get_indexer(wanted.to_numpy(dtype=object))
    spread = (rep_of_lead[cands.lead] == cands.rep) & (rep_of_lead[cands.lead] >= 0)
    chosen = repair_floors(pairs, _trim_to_capacity(pairs, units.unit_choice(spread)))
    return chosen if prep.side.feasible(pairs, chosen) else None


def _valid(prep: Prepared, chosen: np.ndarray) -> bool:
    """Whether ``chosen`` (at most one pair per unit) meets every hard rule: capacities in
    effort, floors in leads, and the side rules."""
    pairs = prep.pairs
    m = len(pairs.capacity)
    load = np.bincount(pairs.rep[chosen], weights=pairs.effort[chosen], minlength=m)
    count = np.bincount(pairs.rep[chosen], weights=pairs.size[chosen], minlength=m)
    return bool(
        np.all(load <= pairs.capacity)
        and np.all(count >= pairs.min_leads)
        and prep.side.feasible(pairs, chosen)
    )


def _feasible(prep: Prepared, hint: np.ndarray | None) -> bool:
    return hint is not None and prep.side.feasible(prep.pairs, hint)


def _drafted_hint(prep: Prepared, fair: Fairness) -> np.ndarray | None:
    """``balanced_draft`` by value, then improved by moves that keep the band at the draft's
    totals (and the churn limit); None when the draft breaks a hard rule. Under a churn
    limit the draft starts from just enough owners for it (``owners_start``) and prefers
    owners for the rest."""
    pairs, side, churn = prep.pairs, prep.side, prep.side.continuity
    desirability = pairs.units.astype(np.float64)
    start = None
    if churn is not None and churn.penalty is None:
        desirability += (2.0 * float(np.abs(pairs.units).max(initial=0)) + 1.0) * (churn.kept > 0)
        start = owners_start(pairs, churn, enough=churn.keepable - churn.limit)
    drafted = balanced_draft(pairs, fair, desirability, start)
    if not side.feasible(pairs, drafted):
        return None
    return _polished(prep, drafted, fairness_band(pairs, fair, drafted), churn)


def _polished(
    prep: Prepared, chosen: np.ndarray, band: Band | None, limit: Continuity | None
) -> np.ndarray:
    """``chosen`` (feasible) improved by ``improve_by_moves`` within ``band`` and the churn
    ``limit``, when the result still meets every rule (else ``chosen`` as it is)."""
    pairs = prep.pairs
    moved = improve_by_moves(pairs, chosen, band=band, continuity=limit, max_visits=MOVE_VISITS)
    return moved if prep.side.feasible(pairs, moved) else chosen


def _filled_hint(prep: Prepared, hint: np.ndarray) -> np.ndarray:
    """The relaxation's hint, or a fuller start when the regret greedy finds one that meets
    every hard rule: the hint topped up (most value first), or built afresh with the pair
    taking the smallest share of its rep's capacity first, which on generalized-assignment
    books assigns every job where the trimmed relaxation left a quarter of them out; either
    then improved by shifts and swaps (``improve_by_moves``)."""
    pairs = prep.pairs
    share = -pairs.effort / np.maximum(pairs.capacity[pairs.rep], 1)
    best = hint
    for start, desirability in (
        (hint, pairs.units.astype(np.float64)),
        (np.zeros(len(pairs), dtype=bool), share),
    ):
        filled = improve_by_moves(pairs, fill_by_regret(pairs, start, desirability))
        if prep.side.feasible(pairs, filled) and _better(prep, filled, best):
            best = filled
    return best


def _better(prep: Prepared, new: np.ndarray, old: np.ndarray | None) -> bool:
    """Is feasible ``new`` a better start than ``old`` (more leads, then a higher score)?"""
    pairs, side = prep.pairs, prep.side
    if old is None or not side.feasible(pairs, old):
        return True
    key_new = (int(pairs.size[new].sum()), side.score(pairs, new))
    return key_new > (int(pairs.size[old].sum()), side.score(pairs, old))


def _value_score(
    problem: Problem, policy: Policy, prep: Prepared, chosen: np.ndarray, picked: np.ndarray
) -> float:
    """The value score of a solution, in floats: expected value, plus the keep bonus per kept
    lead, minus the soft penalties (README "Business rules")."""
    cands, side, pairs = prep.cands, prep.side, prep.pairs
    score = float(cands.ev[picked].sum())
    c = policy.continuity
    if c is not None:
        kept = int((problem.owner[cands.lead[picked]] == cands.rep[picked]).sum())
        score += c.keep_bonus * kept
        if side.continuity is not None and side.continuity.penalty is not None:
            score -= c.weight * side.continuity.excess(pairs, chosen)
    f = policy.fairness
    if f is not None and side.fairness is not None and side.fairness.penalty is not None:
        score -= f.weight * side.fairness.excess(pairs, chosen) / prep.fairness_scale
    return score


def _with_bound(res: Result, missing_units: int) -> Result:
    """Set best_bound = objective + the proven room above it, and the relative gap."""
    from dataclasses import replace

    assert res.objective is not None
    room = missing_units / res.value_scale
    bound = res.objective + room
    gap = room / abs(bound) if bound != 0 else 0.0
    return replace(res, best_bound=bound, gap=gap)
