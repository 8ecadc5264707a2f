"""The stages that run before any search: the checks that prove a book infeasible, the flow
relaxation that bounds the count and the value, and the flows, drafts and Lagrangian
searches that give the first incumbent (and, on network-shaped books, prove it).

The flows for side rules are specialised engines for fairness and continuity: they run only
while every side rule in force is one they model (``SideRules.flows_know_all``); with any
other family, CP-SAT and HiGHS' MIP, which see every family, solve the book."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace

import numpy as np

from leadassign.compile.families.fairness import fairness_band, group_totals, rep_bounds
from leadassign.engines import mip
from leadassign.engines.certified_flow import certified_flow
from leadassign.engines.flow import FlowOutcome, hall_violation, solve_flow
from leadassign.engines.lagrangian import (
    GUESS_STRIDE,
    SAMPLED_STRIDE,
    churn_flow,
    fair_count_flow,
    sampled_bonus,
)
from leadassign.engines.priced_flows import (
    ArcSubset,
    ExactSubset,
    Solved,
    priced_subset,
    rep_prices,
)
from leadassign.result import SharedRelaxation, Status
from leadassign.solve.explain import hall_message, precheck
from leadassign.solve.incumbent import Finish, infeasible
from leadassign.solve.run import Run
from leadassign.solve.starts import (
    drafted_start,
    filled_start,
    guessed_bonus,
    guessed_prices,
    polished,
    previous_start,
    prices_by_rep,
    relaxed_start,
)

#: Above this many pairs the flows for side rules run on a priced subset of the pairs
#: (engines.priced_flows.ArcSubset): each lead's best SUBSET_PER_LEAD at the relaxation's
#: rep prices.
SUBSET_PAIRS = 1_000_000
SUBSET_PER_LEAD = 8
#: Above this many pairs (and up to SUBSET_PAIRS) a run from a previous answer (a
#: scenario's variant) solves its side-rule flows on the priced subset, each made exact
#: over every pair (engines.priced_flows.ExactSubset): the same optima as flows over every
#: pair, at 10,000 x 200 (410,000 pairs) about a third of the time each. RESULTS section 6,
#: "Session 6". Cold solves keep the flow over every pair. There (up to
#: RELAXATION_SUBSET_PAIRS) every run reads rep prices off its relaxation (``Result.rep_prices``),
#: and a variant solves its own relaxation on an exact subset picked by the base's
#: (``_relaxation_on_subset``): at 10,000 x 200 one round of 0.3-0.4 s against 0.8-1.1 s
#: (load 4.5). RESULTS section 6, "Session 7".
WARM_SUBSET_PAIRS = 100_000
#: Above this many pairs the policy-free flow runs on a priced subset, certified over every
#: pair (engines.certified_flow), whose first subset is wide enough (``EXACT_PER_LEAD`` pairs a
#: lead) that one round proves the optimum on the demo books at seed 11: 100k x 500 (11.2M
#: pairs) 7.2-7.4 s end to end at 1.2-1.3 GB against 16.8-18.9 s and 2.0 GB for the bare flow
#: over every pair; 200k x 800 (35M) 17.0 s at 3.0 GB against 68.5 s and 6.0 GB. Below it
#: one flow over every pair is as fast. benchmarks/RESULTS.md section 1b, "Session 13" and
#: "Session 14".
CERTIFIED_FLOW_PAIRS = 10_000_000
#: The policy-free flow's first subset: each lead's best ``EXACT_PER_LEAD`` pairs at the prices
#: of a sample of ``EXACT_SAMPLE`` of the leads (the pricing rounds still add 4 a lead). At
#: 200k x 800 (35M pairs) a 5% sample and 24 pairs a lead proved the optimum in one round
#: (1.8 s + 22.9 s of flow) where a 20% sample and 4 pairs a lead took three (10.0 s + 9.6 s +
#: two local rounds of 8-12 s); with 16 or 20 pairs a lead 943 and 232 pairs were left to
#: price in, and at 100k x 500 16 pairs a lead left 66,812 (20: none), so 24 keeps a margin.
#: benchmarks/RESULTS.md section 1b, "Session 13".
EXACT_SAMPLE = 0.05
EXACT_PER_LEAD = 24
#: When the first round still leaves pairs of negative slack (100k x 500 at seeds 3 and 7:
#: 56 and 10,297), the subset is rebuilt once from that round's prices with each lead's best
#: ``EXACT_REBASE`` pairs (plus the round's choice and those pairs): a flow of 1.7 s on 0.8M
#: pairs proved both, where re-solving the grown 2.4M-pair subset took 3.3 s. 4 pairs a lead
#: took 0.9 s at seed 3 but left 272 pairs to price in at seed 7. benchmarks/RESULTS.md
#: section 1b, "Session 14".
EXACT_REBASE = 8
#: Above this many lead-level pairs the flow relaxation (a policy-free flow without floors)
#: runs on a priced subset, certified over every pair (engines.certified_flow), and its
#: certificate's rep prices price the side-rule flows' subset (``priced_arcs``): at 100k x 500
#: with the issue-4 rules (10.7M pairs) 31.6 s against 61.8 s for the flow over every pair and
#: its prices (load 9.7, same run), 1.9 GB against 2.8 GB peak. benchmarks/RESULTS.md,
#: "Target 4".
RELAXATION_SUBSET_PAIRS = 5_000_000
#: ... and stops before its certificate once its duals prove the count and bound the value
#: within this share of the churn search's tolerance (``certified_flow``'s ``within``): the
#: searches after it need its count proven, a start and prices, not its exact optimum.
RELAXATION_WITHIN = 0.25
#: Above this many pairs (with the flows on a priced subset) the churn search starts from the
#: keep bonus the same search finds on a fifth of the leads (engines.lagrangian.sampled_bonus)
#: when no start carries one: at 100k x 500 with the issue-4 rules (10.7M pairs) 4 subset flows
#: instead of 5 and a gap of 9.3e-6 instead of 3.3e-4; at 50k x 300 (max_reassign 0.05) the
#: search from the sample took longer (14.1 s against 10.9 s) and ended FEASIBLE 7.6e-6 where
#: the old search ended OPTIMAL. benchmarks/RESULTS.md, "Target 4", "Session 6".
SAMPLED_BONUS_PAIRS = 5_000_000
#: The Lagrangian churn search stops when its solution is this close to its bound (or to
#: ``solver.relative_gap`` when larger: 0.9 of it, so that the reported gap, in floats and
#: relative to the objective rather than the bound, stays within the gap asked for).
LAGRANGIAN_TOLERANCE = 2e-5
#: The churn search stops when its best choice is this close to its bound (or to 0.9 of
#: ``solver.relative_gap`` when larger), and the polish after it runs only when it ended
#: further away. Each flow it solves is mixed with the last flow on the limit's other side
#: (engines.lagrangian.combined), so a narrower bracket of bonuses is a smaller gap: at
#: 10,000 x 200 with the issue-4 rules the 20 variants of benchmarks/bench_compare.py end
#: within 9.6e-9 to 1.2e-7 of their bounds or proven (about 4e-6 away after the polish with
#: LAGRANGIAN_TOLERANCE), in fewer flows and no polish (RESULTS.md section 6, "Session 15").
CHURN_TOLERANCE = 2e-7
#: Above this many pairs the Lagrangian answer is final: CP-SAT would not build its model in
#: time (at 50,000 x 300 it did not finish presolve in 60 s).
LAGRANGIAN_ONLY_PAIRS = 500_000


def prechecked(run: Run) -> Finish | None:
    """Rules no assignment can meet, found without a search (``explain.precheck``)."""
    conflicts = precheck(run.problem, run.policy, run.prep)
    run.build_s = time.perf_counter() - run.budget.started
    if conflicts:
        return infeasible(*conflicts)
    run.report.phase("flow")
    return None


def exact_flow(run: Run) -> Finish:
    """A network book (effort 1, no side rules, no accounts): the min-cost flow with the
    floors is the optimum, or its Hall violation the proof that none exists. Above
    ``CERTIFIED_FLOW_PAIRS`` pairs the flow runs on a priced subset and is certified over every pair
    (engines.certified_flow); the certificate goes to summary.json."""
    pairs, problem = run.prep.pairs, run.problem
    args = (pairs.unit, pairs.rep, pairs.units, problem.n_leads, pairs.capacity, pairs.min_leads)
    outcome: FlowOutcome
    if len(pairs) > CERTIFIED_FLOW_PAIRS:
        certified = certified_flow(
            *args, per_lead=EXACT_PER_LEAD, sample=EXACT_SAMPLE, rebase=EXACT_REBASE
        )
        outcome = certified.outcome
        if certified.certificate is not None:
            run.flow_certificate = certified.certificate.details()
    else:
        outcome = solve_flow(*args)
    if not outcome.feasible:
        return infeasible(hall_message(problem, run.prep, outcome.hall_reps, outcome.hall_leads))
    assert outcome.chosen is not None
    run.incumbent.take(outcome.chosen)
    return Finish(Status.OPTIMAL, int(outcome.chosen.sum()), 0)


def floors_fit(run: Run) -> Finish | None:
    """The floors alone, counted in leads (effort >= 1, so this is a relaxation): a Hall
    violation is an infeasibility proof with a message that names the reps, found by one
    max flow instead of a CP-SAT search that may not finish."""
    pairs, problem = run.prep.pairs, run.problem
    if _relaxation_meets_floors(run):
        return None  # a choice that meets every floor at once: no Hall violation exists
    violation = hall_violation(run.lead_of, run.rep_of, problem.n_leads, pairs.min_leads)
    if violation is None:
        return None
    return infeasible(hall_message(problem, run.prep, violation.hall_reps, violation.hall_leads))


def _relaxation_meets_floors(run: Run) -> bool:
    """Does the flow relaxation's choice (one lead per pair, run before this) give every
    rep its floor in leads?"""
    relaxed = run.relaxed_flow
    if relaxed is None:
        return False
    floors = run.prep.pairs.min_leads
    count = np.bincount(run.rep_of[relaxed], minlength=len(floors))
    return bool(np.all(count >= floors))


def flow_relaxation(run: Run) -> None:
    """Bounds: the flow relaxation over lead-level pairs in which each lead takes one unit
    (effort >= 1, so no rep can take more leads than its capacity) and floors, side rules
    and accounts are dropped bounds the count, and its value bounds the value score at that
    count (penalties only lower it). A run from a previous answer whose relaxation is the
    same problem as the answer's (``relaxation_key``: a scenario's variant that changes only
    fairness, continuity or floors) takes that relaxation, its choice and prices, as is."""
    pairs = run.prep.pairs
    args = (
        run.lead_of,
        run.rep_of,
        run.lead_units,
        run.problem.n_leads,
        pairs.capacity,
        np.zeros_like(pairs.min_leads),
    )
    bound = None
    n_pairs = len(run.lead_of)
    warm = WARM_SUBSET_PAIRS < n_pairs <= RELAXATION_SUBSET_PAIRS
    key = relaxation_key(run) if warm and run.network_shaped else None
    shared = _shared_relaxation(run, key)
    guess = guessed_prices(run.start, run.problem, run.prep.scale) if warm else None
    if shared is not None:
        chosen = np.zeros(n_pairs, dtype=bool)
        chosen[shared.chosen] = True
        relax = FlowOutcome(True, chosen, int(chosen.sum()))
        run.relaxed_prices = shared.prices
    elif n_pairs > RELAXATION_SUBSET_PAIRS:
        within = RELAXATION_WITHIN * max(LAGRANGIAN_TOLERANCE, run.settings.relative_gap)
        certified = certified_flow(*args, within=within)
        relax, bound = certified.outcome, certified.bound
        run.relaxed_prices = certified.prices
    elif guess is not None and bool(np.all(run.lead_of[1:] >= run.lead_of[:-1])):
        relax = _relaxation_on_subset(run, guess)
    else:
        relax = solve_flow(*args)
    run.relaxed_flow, run.relaxed_bound = relax.chosen, bound
    run.incumbent.count_upper = relax.max_count
    if relax.chosen is not None:
        value = int(run.lead_units[relax.chosen].sum())
        run.incumbent.units_upper = value if bound is None else bound
        if warm and run.network_shaped and run.relaxed_prices is None:
            # its prices: they pick a variant's subset (``priced_arcs``), and a variant of
            # this book solves its own relaxation on the pairs they rank best
            run.relaxed_prices = _relaxation_prices(run, relax.chosen)
        if key is not None:
            run.shared_relaxation = SharedRelaxation(
                key, np.flatnonzero(relax.chosen), run.relaxed_prices
            )


def relaxation_key(run: Run) -> bytes:
    """A digest of what the flow relaxation is solved on (the lead-level pairs, their value
    units, the reps' capacities, the number of leads): equal keys, the same problem."""
    digest = hashlib.sha256(str(run.problem.n_leads).encode())
    for part in (run.lead_of, run.rep_of, run.lead_units, run.prep.pairs.capacity):
        array = np.ascontiguousarray(part)
        digest.update(f"{array.dtype.str}{len(array)};".encode())
        digest.update(array.data.cast("B"))
    return digest.digest()


def _shared_relaxation(run: Run, key: bytes | None) -> SharedRelaxation | None:
    """The start's relaxation when it is this run's (same key), else None."""
    shared = None if run.start is None else run.start.relaxation
    if key is None or shared is None or shared.key != key:
        return None
    return shared


def _relaxation_prices(run: Run, chosen: np.ndarray) -> np.ndarray | None:
    """Rep prices that prove the flow relaxation's choice ``chosen`` optimal over every pair
    (``rep_prices``; None when none do)."""
    pairs = run.prep.pairs
    return rep_prices(
        run.lead_of, run.rep_of, run.lead_units, chosen, run.problem.n_leads,
        np.zeros_like(pairs.min_leads), pairs.capacity,
    )  # fmt: skip


def _relaxation_on_subset(run: Run, guess: np.ndarray) -> FlowOutcome:
    """The flow relaxation of a run from a previous answer (a scenario's variant) on each
    lead's ``SUBSET_PER_LEAD`` best pairs at the previous answer's rep prices (``guess``),
    made exact over every pair (``ExactSubset``: widened until no pair can gain and its
    bound over every pair equals its value; else the flow over every pair): the optimum
    of the flow over every pair, count and value, maybe another of tied choices."""
    pairs, w = run.prep.pairs, run.lead_units
    subset = priced_subset(
        run.lead_of, run.rep_of, w, run.problem.n_leads, guess,
        per_lead=SUBSET_PER_LEAD, exact=True,
    )  # fmt: skip
    solved = subset.solve(w, np.zeros_like(pairs.min_leads), pairs.capacity)
    return FlowOutcome(solved.chosen is not None, solved.chosen, solved.count)


def priced_arcs(run: Run) -> None:
    """Many pairs: the flows below run on each lead's best pairs at the relaxation's rep
    prices (and the owners' pairs), with bounds over every pair from their prices. A run
    from a previous answer (a scenario's variant) above ``WARM_SUBSET_PAIRS`` pairs takes
    the same subset with each flow made exact over every pair (``ExactSubset``)."""
    pairs, side = run.prep.pairs, run.prep.side
    fair, churn = side.fairness, side.continuity
    exact = run.start is not None and WARM_SUBSET_PAIRS < len(pairs) <= SUBSET_PAIRS
    if not (
        run.network_shaped
        and side.any
        and side.flows_know_all
        and (len(pairs) > SUBSET_PAIRS or exact)
        and run.relaxed_flow is not None
        and (fair is None or (fair.penalty is None and run.counting))
    ):
        return
    prices = run.relaxed_prices
    if prices is None:
        prices = _relaxation_prices(run, run.relaxed_flow)
    if prices is not None:
        run.flows = priced_subset(
            pairs.unit,
            pairs.rep,
            pairs.units,
            run.problem.n_leads,
            prices,
            per_lead=SUBSET_PER_LEAD,
            keep=None if churn is None else churn.kept > 0,
            exact=exact,
        )


def network_flow(run: Run) -> None:
    """With a network but for the side rules, the flow that forces the floors is exact
    without them: the first incumbent, and (with no side rule) the value bound."""
    if not run.network_shaped:
        return
    pairs, inc = run.prep.pairs, run.incumbent
    exact = _relaxation_as_flow(run)
    if exact is None:
        exact = run.flows.solve(pairs.units, pairs.min_leads, pairs.capacity, inc.count_upper)
    if exact.chosen is None:
        return
    inc.offer(exact.chosen)
    run.at_bounds = exact
    if not run.prep.side.any and exact.bound is not None:
        inc.units_upper = exact.bound


def _relaxation_as_flow(run: Run) -> Solved | None:
    """On a network-shaped book the flow relaxation is the network flow without the floors,
    solved over every pair: when its choice meets the floors it is that flow's optimum (and
    its value the exact bound), so it is not solved again; a relaxation stopped on a subset
    (``run.relaxed_bound``) gives its choice with its proven bound, as a subset flow would.
    None otherwise."""
    relaxed, inc = run.relaxed_flow, run.incumbent
    if relaxed is None or not _relaxation_meets_floors(run):
        return None
    units = run.prep.units
    chosen = np.zeros(len(run.prep.pairs), dtype=bool)
    chosen[units.var[units.usable[relaxed]]] = True
    count = int(chosen.sum())
    if count != inc.count_upper:
        return None
    value = int(run.prep.pairs.units[chosen].astype(np.int64).sum())
    bound = value if run.relaxed_bound is None else run.relaxed_bound
    return Solved(chosen, count, value, bound)


def relaxation_start(run: Run) -> None:
    """Otherwise the start is the relaxation, merged into accounts and trimmed to fit
    capacities in effort, filled up by the regret greedy when it leaves leads out."""
    inc = run.incumbent
    if inc.chosen is not None or run.relaxed_flow is None:
        return
    hint = relaxed_start(run.prep, run.relaxed_flow, run.lead_of, run.rep_of, run.lead_units)
    if int(run.prep.pairs.size[hint].sum()) < inc.count_upper:
        hint = filled_start(run.prep, hint)
    inc.offer(hint)


def last_answer(run: Run) -> None:
    """A previous answer (a scenario's base, last week's run) where it still holds."""
    if run.start is None:
        return
    begun = previous_start(run.problem, run.prep, run.start.owners)
    if begun is not None:
        run.incumbent.offer(begun)


def fair_count(run: Run) -> None:
    """A hard count band on a network-shaped book: the flow with the band's bounds for the
    incumbent's own totals; with one group, no other side rule and the relaxation's count it
    is exact, so its bound is the value bound."""
    pairs, side, inc = run.prep.pairs, run.prep.side, run.incumbent
    fair = side.fairness
    if not (
        run.network_shaped
        and side.flows_know_all
        and fair is not None
        and fair.penalty is None
        and run.counting
        and inc.chosen is not None
    ):
        return
    fair_flow = _in_band(run)
    if fair_flow is None:
        fair_flow = fair_count_flow(pairs, fair, run.problem.n_leads, inc.chosen, run.flows)
    # the flow with the band's bounds for its own totals, as the churn search solves it
    run.at_bounds = fair_flow
    if fair_flow is None or fair_flow.chosen is None:
        return
    inc.take(fair_flow.chosen)  # meets the band, which the flows before need not
    if (
        len(fair.groups()) == 1
        and side.continuity is None
        and fair_flow.count == inc.count_upper
        and fair_flow.bound is not None
    ):
        inc.units_upper = fair_flow.bound


def _in_band(run: Run) -> Solved | None:
    """The network flow (``run.at_bounds``, optimal at the wider rep bounds) when its choice,
    the incumbent, already keeps every rep within the band's bounds for its own totals: it is
    then the optimum of the flow with those bounds (and its bound holds for them), so that
    flow is not solved. None otherwise."""
    pairs, fair, exact = run.prep.pairs, run.prep.side.fairness, run.at_bounds
    if fair is None or exact is None or exact.chosen is None:
        return None
    if exact.chosen is not run.incumbent.chosen:
        return None
    low, high = rep_bounds(pairs, fair, group_totals(pairs, fair, exact.chosen))
    load = np.bincount(pairs.rep[exact.chosen], minlength=len(low))
    return exact if bool(np.all((load >= low) & (load <= high))) else None


def _churn_search_applies(run: Run) -> bool:
    pairs, side, hint = run.prep.pairs, run.prep.side, run.incumbent.chosen
    fair = side.fairness
    return (
        run.network_shaped
        and side.flows_know_all
        and side.continuity is not None
        and hint is not None
        and (
            fair is None
            or (fair.penalty is None and run.counting and fair.excess(pairs, hint) == 0)
        )
        and int(hint.sum()) == run.incumbent.count_upper
    )


def churn_search(run: Run) -> None:
    """The churn limit by a Lagrangian bonus per kept lead over the same flow (with the
    band's bounds for the count reached): a start that meets every rule, and with one
    fairness group (or none) a bound, as the count is the most any choice can reach. A soft
    limit caps the bonus at its penalty (engines.lagrangian.churn_flow)."""
    if not _churn_search_applies(run):
        return
    prep, inc = run.prep, run.incumbent
    pairs, side, hint = prep.pairs, prep.side, inc.chosen
    fair, churn = side.fairness, side.continuity
    assert churn is not None and hint is not None
    if fair is not None:
        low, high = rep_bounds(pairs, fair, group_totals(pairs, fair, hint))
    else:
        low, high = pairs.min_leads, pairs.capacity
    run.report.phase("lagrangian")
    at_bounds = run.at_bounds
    tolerance = max(CHURN_TOLERANCE, 0.9 * run.settings.relative_gap)
    guess = guessed_bonus(run.start, prep.scale)
    stride = GUESS_STRIDE
    if guess is None and isinstance(run.flows, ArcSubset) and len(pairs) > SAMPLED_BONUS_PAIRS:
        stride = SAMPLED_STRIDE
        guess = sampled_bonus(
            pairs,
            churn,
            run.problem.n_leads,
            low,
            high,
            run.flows.selected,
            tolerance=tolerance,
            time_left=run.time_left,
        )
    _widen_at_start_prices(run, guess)
    lagrange = churn_flow(
        pairs,
        churn,
        run.problem.n_leads,
        low,
        high,
        tolerance=tolerance,
        time_left=run.time_left,
        start=at_bounds if at_bounds is not None and at_bounds.chosen is hint else None,
        flows=run.flows,
        guess=guess,
        stride=stride,
    )
    if lagrange is not None:
        run.keep_bonus = lagrange.multiplier / prep.scale
        if (
            lagrange.top is not None
            and run.start is None
            and WARM_SUBSET_PAIRS < len(pairs) <= SUBSET_PAIRS
        ):
            # its flow's prices at that bonus, for a variant's subset (``Result.keep_prices``):
            # only a run solved from scratch (a scenario's base) hands them on
            weights = _with_bonus(pairs.units, churn.kept, lagrange.top_bonus)
            run.keep_prices = rep_prices(
                pairs.unit, pairs.rep, weights, lagrange.top, run.problem.n_leads, low, high
            )
    if lagrange is None or lagrange.chosen is None or not side.feasible(pairs, lagrange.chosen):
        return
    one_group = fair is None or len(fair.groups()) == 1
    inc.take(lagrange.chosen)  # meets the churn limit, which the flows before need not
    missing = lagrange.bound - side.score(pairs, lagrange.chosen)
    if not (one_group and missing <= tolerance * abs(lagrange.bound)):
        # Not within the search's tolerance: the limit's slack in the Lagrangian flow (owners
        # kept beyond the limit) spent on moves that gain value.
        band = None if fair is None else fairness_band(pairs, fair, lagrange.chosen)
        limit = churn
        if churn.penalty is not None:  # soft: no more changes than the limit or now
            changes = churn.keepable - int(churn.kept[lagrange.chosen].sum())
            limit = replace(churn, penalty=None, limit=max(churn.limit, changes))
        inc.take(polished(prep, lagrange.chosen, band, limit))
    if one_group:
        inc.units_at_most(lagrange.bound)
        run.lagrangian_bound = True


def _widen_at_start_prices(run: Run, guess: int | None) -> None:
    """A run from a previous answer that kept its churn flow's rep prices (a scenario's base,
    ``Start.keep_prices``) and starts its churn search at the answer's bonus ``guess``: its
    exact subset first takes the pairs that beat their lead's best at those prices and that
    bonus (``ExactSubset.widen``), as the first flow's prices would show them. The first
    flow then needs one round less on the subset (RESULTS.md section 6, "Session 16"); the
    flows stay exact over every pair whatever the pairs."""
    if not isinstance(run.flows, ExactSubset) or guess is None or run.start is None:
        return
    prices = prices_by_rep(run.start.keep_prices, run.problem, run.prep.scale)
    churn = run.prep.side.continuity
    if prices is None or churn is None:
        return
    run.flows.widen(_with_bonus(run.prep.pairs.units, churn.kept, guess), prices)


def _with_bonus(units: np.ndarray, kept: np.ndarray, bonus: int) -> np.ndarray:
    """The pairs' weights in a churn flow of keep bonus ``bonus``: their value units plus the
    bonus for each owner a pair keeps (as ``engines.lagrangian``'s search weighs them)."""
    weights: np.ndarray = units.astype(np.int64) + bonus * kept.astype(np.int64)
    return weights


def lagrangian_answer(run: Run) -> Finish | None:
    """The churn search's answer with its bound, when that is proven, or the book is too
    large for the exact paths (CP-SAT did not improve on it at 10,000 x 100 in 40 s)."""
    inc = run.incumbent
    if not run.lagrangian_bound:
        return None
    assert inc.chosen is not None and inc.units_upper is not None
    n_pairs = len(run.prep.pairs)
    missing = inc.units_upper - run.prep.side.score(run.prep.pairs, inc.chosen)
    close = missing <= LAGRANGIAN_TOLERANCE * abs(inc.units_upper)
    if not (n_pairs > LAGRANGIAN_ONLY_PAIRS or (n_pairs > mip.MAX_PAIRS and close) or missing <= 0):
        return None
    status = Status.OPTIMAL if missing <= 0 else Status.FEASIBLE
    return Finish(status, inc.count_upper, max(missing, 0), by="lagrangian")


def fairness_draft(run: Run) -> None:
    """No flow met a hard band (a value metric, accounts, efforts): a draft that meets it
    by construction. CP-SAT had found no solution for a 10,000 x 200 value band in 120 s."""
    fair = run.prep.side.fairness
    if fair is None or fair.penalty is not None or run.incumbent.feasible:
        return
    run.report.phase("draft")
    drafted = drafted_start(run.prep, fair, run.incumbent.chosen)
    if drafted is not None:
        run.incumbent.offer(drafted)


__all__ = [
    "CERTIFIED_FLOW_PAIRS",
    "CHURN_TOLERANCE",
    "LAGRANGIAN_ONLY_PAIRS",
    "LAGRANGIAN_TOLERANCE",
    "SAMPLED_BONUS_PAIRS",
    "SUBSET_PAIRS",
    "SUBSET_PER_LEAD",
    "WARM_SUBSET_PAIRS",
    "churn_search",
    "exact_flow",
    "fair_count",
    "fairness_draft",
    "floors_fit",
    "flow_relaxation",
    "lagrangian_answer",
    "last_answer",
    "network_flow",
    "prechecked",
    "priced_arcs",
    "relaxation_key",
    "relaxation_start",
]
