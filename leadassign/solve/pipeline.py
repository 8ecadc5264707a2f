"""The one entry point, ``solve(problem, policy) -> Result``, and the pipelines it runs.

Data flows one way: validated problem -> prepared rules (eligible pairs, scaled values,
side-rule specs) -> a pipeline of named stages that share one incumbent and one budget ->
Result, whose objective is recomputed in floats. A pipeline is a list of stages; each
stage may leave a better assignment or tighter bounds in the incumbent, and may end the
pipeline (a :class:`~leadassign.solve.incumbent.Finish`): FLOW on network books, AUTO (the
default elsewhere: flows, Lagrangian searches, LP, HiGHS' MIP, the knapsack search, then
CP-SAT) and CPSAT (the same without HiGHS' MIP and the knapsack search).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from leadassign.compile.families.continuity import keep_weights, keepable_leads
from leadassign.compile.prepare import Prepared, prepare
from leadassign.control import budget
from leadassign.control.progress import Progress
from leadassign.control.stop import Stop, active
from leadassign.engines.cpsat import CpSatSettings
from leadassign.errors import InputError
from leadassign.models.policy import Method, Policy, SolverPolicy
from leadassign.models.problem import Problem
from leadassign.result import Result, Status
from leadassign.result.capacity import LP_SECONDS, CapacityMode, CapacityValues, capacity_values
from leadassign.solve import band_stages as bands
from leadassign.solve import flow_stages as flows
from leadassign.solve import search_stages as searches
from leadassign.solve.account_stages import grouped_accounts
from leadassign.solve.incumbent import Finish, Incumbent
from leadassign.solve.run import Run
from leadassign.solve.starts import Start


@dataclass(frozen=True)
class Stage:
    """One named step of a pipeline: it reads and improves the run's incumbent, and ends
    the pipeline by returning a Finish (None: go on). ``answers``: the ``method`` reported
    when the answer is the one this stage left in the incumbent (None: it leaves none)."""

    name: str
    run: Callable[[Run], Finish | None]
    answers: str | None = None


@dataclass(frozen=True)
class Pipeline:
    """The stages a method runs, in order; ``method`` names the answer unless the stage
    that ended the run names itself (``Finish.by``: "mip", "knapsack", "lagrangian",
    "grouped", or the stage whose answer stands when CP-SAT was skipped or found none)."""

    method: str
    stages: tuple[Stage, ...]


def _checkpoint(run: Run) -> Finish | None:
    return run.halted()


#: Between stages where a stop (a signal, another thread) ends the run with the incumbent.
CHECKPOINT = Stage("checkpoint", _checkpoint)

FLOW = Pipeline(
    "flow",
    (Stage("precheck", flows.prechecked), Stage("exact flow", flows.exact_flow, "flow")),
)

_STARTS = (
    Stage("precheck", flows.prechecked),
    Stage("flow relaxation", flows.flow_relaxation),
    Stage("floors", flows.floors_fit),
    Stage("priced arcs", flows.priced_arcs),
    Stage("network flow", flows.network_flow, "flow"),
    Stage("grouped accounts", grouped_accounts, "grouped"),
    Stage("capacity lagrangian", searches.capacity_start, "lagrangian"),
    Stage("relaxation start", flows.relaxation_start, "relaxation"),
    Stage("last answer", flows.last_answer, "start"),
    Stage("fair count flow", flows.fair_count, "flow"),
    Stage("churn search", flows.churn_search, "lagrangian"),
)
_DRAFTS = (
    CHECKPOINT,
    Stage("band repair", bands.band_repair, "repair"),
    Stage("fairness draft", flows.fairness_draft, "draft"),
    Stage("value band bound", bands.value_band, "repair"),
    CHECKPOINT,
)

CPSAT = Pipeline(
    "cpsat",
    (
        *_STARTS,
        *_DRAFTS,
        Stage("lp", partial(searches.lp_bounds, mip_follows=False), "lp"),
        CHECKPOINT,
        Stage("cpsat", searches.cpsat, "cpsat"),
    ),
)

AUTO = Pipeline(
    "cpsat",
    (
        *_STARTS,
        Stage("lagrangian answer", flows.lagrangian_answer),
        *_DRAFTS,
        Stage("lp", partial(searches.lp_bounds, mip_follows=True), "lp"),
        Stage("mip", searches.mip_and_knapsack, "mip"),
        CHECKPOINT,
        Stage("cpsat", searches.cpsat, "cpsat"),
    ),
)


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
    capacity: CapacityMode = "flow",
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
    out proven all the same: OPTIMAL or INFEASIBLE). ``capacity``: what one more unit
    of each rep's capacity is worth (``Result.capacity``, result/capacity.py): ``flow``
    (default) on network books only (exact, about 1 s at 11M pairs), ``all`` also from the
    LP's duals on other books (one more LP: seconds), ``off`` none. Raises
    InputError when the policy needs lead columns that are missing or malformed.
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
    if start is not None and not isinstance(start, Start):
        start = Start(start)
    with active(stop), budget.metering(meter):
        prep = prepare(problem, policy)
        pipeline = choose_pipeline(prep, policy.solver.method)
        run = new_run(problem, policy, prep, meter, start=start, stop=stop, progress=progress)
        ran = run_pipeline(pipeline, run)
        result = to_result(run, ran.method(pipeline), ran.finish, ran.bound_by(run))
        res = require_all(_gap_reached(result))
    if capacity != "off" and not (stop is not None and stop.is_set()):
        with active(stop):  # outside the work budget: the answer is the same without it
            res = with_capacity(res, run, pipeline is FLOW, lp=capacity == "all")
    return res


def with_capacity(res: Result, run: Run, network: bool, *, lp: bool) -> Result:
    """``res`` with ``capacity``: per rep what one more unit of capacity is worth (from the
    flow's prices on a network book, else the LP's duals when ``lp``; result/capacity.py),
    computed after the search and outside its work budget, so the answer is the same
    without it."""
    chosen, units = run.incumbent.chosen, run.prep.units
    if not res.has_solution or chosen is None or res.objective is None:
        return res
    network = network and res.status == Status.OPTIMAL
    if not network and not lp:
        return replace(res, capacity=CapacityValues.unknown(run.problem.n_reps, source="off"))
    capacity = run.prep.pairs.capacity
    reps = run.prep.cands.rep
    newly_fit = np.zeros(len(capacity), dtype=bool)
    dropped = np.flatnonzero(units.var < 0)  # pairs whose effort is above the capacity
    rep = reps[dropped]
    newly_fit[rep[units.unit_effort[dropped] == capacity[rep] + 1]] = True
    values = capacity_values(
        run.prep.pairs,
        run.prep.side,
        chosen,
        n_leads=run.problem.n_leads,
        scale=res.value_scale,
        objective=res.objective,
        network=network,
        newly_fit=newly_fit,
        time_limit_s=min(LP_SECONDS, run.policy.solver.time_limit_s),
        stage_lp=run.relaxed_lp,
    )
    return replace(res, capacity=values)


def new_run(
    problem: Problem,
    policy: Policy,
    prep: Prepared,
    meter: budget.Meter,
    *,
    start: Start | None = None,
    stop: Stop | None = None,
    progress: Progress | None = None,
) -> Run:
    """A solve of ``prep`` about to run its stages: an empty incumbent, CP-SAT's settings from
    the policy's ``solver:`` block, ``meter`` its budget."""
    return Run(
        problem=problem,
        policy=policy,
        prep=prep,
        start=start,
        stop=stop,
        progress=progress,
        budget=meter,
        incumbent=Incumbent(prep),
        cp_settings=cpsat_settings(policy.solver),
    )


def cpsat_settings(settings: SolverPolicy) -> CpSatSettings:
    """The policy's ``solver:`` block as the settings every search derives its own from."""
    return CpSatSettings(
        time_limit_s=settings.time_limit_s,
        workers=settings.workers,
        seed=settings.seed,
        relative_gap=settings.relative_gap,
        log=settings.log,
        params=settings.params,
    )


def choose_pipeline(prep: Prepared, method: str) -> Pipeline:
    """FLOW for a network book (effort 1, no side rules, no accounts) unless CP-SAT is
    asked for; else AUTO, or CPSAT when asked for. Raises InputError for 'flow' on a book
    that is not a network."""
    pairs = prep.pairs
    network = (
        bool(np.all(pairs.effort == 1)) and not prep.side.any and bool(np.all(pairs.size == 1))
    )
    if method == "flow" and not network:
        raise InputError(
            "method 'flow' needs every lead to take one capacity unit (effort 1) and no "
            "fairness, continuity limit or accounts kept together; use 'cpsat' or 'auto'"
        )
    if method == "cpsat":
        return CPSAT
    return FLOW if network else AUTO


@dataclass(eq=False)
class Ran:
    """How a pipeline ran: its Finish, the stage that ended it and the stage that last
    tightened the value bound (``Incumbent.units_upper``; None: none set)."""

    finish: Finish
    last: Stage
    bounded: Stage | None

    def method(self, pipeline: Pipeline) -> str:
        """``Finish.by`` when the finishing stage names itself (CP-SAT, skipped for time or
        cut short before it found anything, names the stage whose answer stands:
        ``Run.answered_by``), else the pipeline's."""
        return self.finish.by or pipeline.method

    def bound_by(self, run: Run) -> str | None:
        """The stage that proved the value bound the reported gap is measured against (None:
        no gap): the stage that set the incumbent's bound when the finish used it, else the
        stage that ended the run (its own bound: CP-SAT's, HiGHS', the exact flow's)."""
        finish, inc = self.finish, run.incumbent
        if finish.missing_units is None or inc.chosen is None:
            return None
        bounded = self.bounded
        if bounded is not None and inc.units_upper is not None:
            score = run.prep.side.score(run.prep.pairs, inc.chosen)
            if finish.assigned_bound == inc.count_upper and (
                score + finish.missing_units == inc.units_upper
            ):
                return self._named(bounded)
        return self._named(self.last)

    def _named(self, stage: Stage) -> str:
        """A stage's name; the knapsack search, which runs within the "mip" stage, by its
        own when it ended the run."""
        return "knapsack" if stage is self.last and self.finish.by == "knapsack" else stage.name


def run_pipeline(pipeline: Pipeline, run: Run) -> Ran:
    """The stages in order until one ends the run (the last one always does), noting which
    stage left the answer (``Run.answered_by``) and which the value bound."""
    inc = run.incumbent
    bounded = None
    for stage in pipeline.stages:
        chosen, units = inc.chosen, inc.units_upper
        finish = stage.run(run)
        if inc.chosen is not None and (chosen is None or not np.array_equal(chosen, inc.chosen)):
            run.answered_by = stage.answers
        if inc.units_upper != units:
            bounded = None if inc.units_upper is None else stage
        if finish is not None:
            return Ran(finish, stage, bounded)
    raise AssertionError(f"pipeline {pipeline.method} ended without an answer")


def to_result(run: Run, method: str, finish: Finish, bound_by: str | None = None) -> Result:
    """The Result of a finished run: the incumbent as the answer when the status has one,
    with the value bound the finish proved and the stage that proved it (``bound_by``)."""
    problem, prep, cands, units = run.problem, run.prep, run.prep.cands, run.prep.units
    status = finish.status
    chosen = run.incumbent.chosen if status.has_solution else None
    pair_of_lead = np.full(problem.n_leads, -1, dtype=np.int64)
    objective = expected = None
    if chosen is not None:
        picked = np.flatnonzero(units.lead_choice(chosen))
        pair_of_lead[cands.lead[picked]] = picked
        expected = float(cands.ev[picked].sum())
        objective = _value_score(problem, run.policy, prep, chosen, picked)
    proven = status in (Status.OPTIMAL, Status.INFEASIBLE)
    stop = run.stop
    res = Result(
        status=status,
        method=method,
        problem=problem,
        policy=run.policy,
        candidates=cands,
        pair_of_lead=pair_of_lead,
        lead_value=prep.values,
        keepable=keepable_leads(cands, problem, units.var),
        unit_effort=units.unit_effort,
        objective=objective,
        expected_value=expected,
        best_bound=None,
        gap=None,
        assigned_bound=finish.assigned_bound,
        value_scale=prep.scale,
        fairness_scale=prep.fairness_scale,
        build_s=run.build_s,
        solve_s=time.perf_counter() - run.budget.started - run.build_s,
        conflicts=finish.conflicts,
        keep_bonus=run.keep_bonus,
        rep_prices=None if run.relaxed_prices is None else run.relaxed_prices / prep.scale,
        relaxation=run.shared_relaxation,
        keep_prices=None if run.keep_prices is None else run.keep_prices / prep.scale,
        limited_by=run.budget.limited_by(proven),
        # a proven optimum or infeasibility is the whole answer, stop or not
        interrupted=stop.reason if stop is not None and stop.is_set() and not proven else None,
        flow_certificate=run.flow_certificate,
        bound_by=bound_by if chosen is not None else None,
    )
    if finish.missing_units is None or chosen is None:
        return res
    return _with_bound(res, finish.missing_units)


def _value_score(
    problem: Problem, policy: Policy, prep: Prepared, chosen: np.ndarray, picked: np.ndarray
) -> float:
    """The value score of a solution, in floats: expected value, plus the keep bonus per kept
    lead, minus the soft penalties (README "Business rules")."""
    cands, side, pairs = prep.cands, prep.side, prep.pairs
    score = float(cands.ev[picked].sum())
    c = policy.continuity
    if c is not None:
        kept = problem.owner[cands.lead[picked]] == cands.rep[picked]
        weights = keep_weights(policy, problem)
        if isinstance(weights, np.ndarray):
            weights = weights[cands.lead[picked]]
        score += c.keep_bonus * float((kept * weights).sum())
        if side.continuity is not None and side.continuity.penalty is not None:
            score -= c.weight * side.continuity.excess(pairs, chosen)
    f = policy.fairness
    if f is not None and side.fairness is not None and side.fairness.penalty is not None:
        score -= f.weight * side.fairness.excess(pairs, chosen) / prep.fairness_scale
    return score


def _gap_reached(res: Result) -> Result:
    """``limited_by`` "gap": the search stopped within ``solver.relative_gap`` of the bound
    (FEASIBLE, with that gap proven), not for lack of work."""
    target = res.policy.solver.relative_gap
    if res.limited_by == "work" and target > 0 and res.gap is not None and res.gap <= target:
        return replace(res, limited_by="gap")
    return res


def require_all(res: Result) -> Result:
    """``assign_all``: the answer must assign every lead. Leads come first in the objective,
    so a proven optimum (or a proven bound on the count) below the number of leads proves
    that no assignment meets every hard rule with every lead assigned: INFEASIBLE, naming
    the leads left out and why. An unproven answer that leaves leads out is no answer:
    UNKNOWN."""
    n = res.problem.n_leads
    if not res.policy.assign_all or not res.has_solution or res.assigned == n:
        return res
    bound = res.assigned_bound
    proven = res.status == Status.OPTIMAL or (bound is not None and bound < n)
    most = res.assigned if res.status == Status.OPTIMAL else bound
    left = np.flatnonzero(res.pair_of_lead < 0)
    reason, _ = res.reasons
    ids = res.problem.leads.ids
    shown = ", ".join(f"{ids[i]} ({reason[i]})" for i in left[:10].tolist())
    more = f" and {len(left) - 10} more" if len(left) > 10 else ""
    if proven:
        why = (
            f"assign_all: the hard rules let at most {most} of {n} leads be assigned; "
            f"left out: {shown}{more}"
        )
    else:
        why = f"assign_all: no assignment of all {n} leads found; left out: {shown}{more}"
    return res.withdrawn(Status.INFEASIBLE if proven else Status.UNKNOWN, why)


def _with_bound(res: Result, missing_units: int) -> Result:
    """Set best_bound = objective + the proven room above it, and the relative gap."""
    assert res.objective is not None
    room = missing_units / res.value_scale
    bound = res.objective + room
    gap = room / abs(bound) if bound != 0 else 0.0
    return replace(res, best_bound=bound, gap=gap)


__all__ = ["AUTO", "CPSAT", "FLOW", "Pipeline", "Stage", "choose_pipeline", "solve"]
