"""The inputs of a run: its tables and policy as paths, loaded and validated."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from leadassign.models import Policy, Problem, load_policy, load_problem
from leadassign.models.availability import table_time_off
from leadassign.models.operations import apply_operations, uses_run_date
from leadassign.models.source import read_table


@dataclass(frozen=True)
class Inputs:
    """The tables and policy of a run, as paths."""

    leads: Path
    reps: Path
    affinity: Path | None = None
    pairs: Path | None = None
    pairs_mode: Literal["only", "override"] = "only"
    policy: Path | None = None
    #: the run date's inputs (README "Between weekly runs"): a time-off table, the run time
    #: (``--at``; None: not given, ``now`` is taken when the run needs one) and departures
    time_off: Path | None = None
    at: datetime | None = None
    leaving: tuple[str, ...] = ()

    @property
    def paths(self) -> list[Path | None]:
        """Every file the run reads (an output may never replace one)."""
        return [self.leads, self.reps, self.affinity, self.pairs, self.policy, self.time_off]


def load(
    inputs: Inputs, solver: dict[str, Any] | None = None, at: datetime | None = None
) -> tuple[Problem, Policy]:
    """The validated problem and policy (solver settings overridden by ``solver``); ``at``:
    the run time (default ``run_time(inputs)``) against which time off, departures and the
    SLA are checked here (applied by :func:`run_date_of`)."""
    policy = load_policy(inputs.policy).with_solver(**(solver or {}))
    problem = load_problem(
        inputs.leads,
        inputs.reps,
        inputs.affinity,
        inputs.pairs,
        pairs_mode=inputs.pairs_mode,
        policy=policy,
    )
    if inputs.time_off is not None:
        problem = with_time_off(problem, inputs.time_off)
    if inputs.at is not None or uses_run_date(problem, policy, inputs.leaving):
        # checked now, before any store is touched (a rebalance applies it again to the
        # owners it carries: ``run_date_of``)
        apply_operations(problem, policy, at or run_time(inputs), inputs.leaving)
    return problem, policy


def run_time(inputs: Inputs) -> datetime:
    """The run's one timestamp: ``--at``, else the current UTC time (read here, once)."""
    from leadassign.models.clock import now

    return inputs.at if inputs.at is not None else now()


def with_time_off(problem: Problem, path: Path) -> Problem:
    """``problem`` with a time-off table's periods added to the reps' own (its sha256 among
    the input digests)."""
    raw = read_table(path, "time-off")
    periods = table_time_off(raw, problem.reps.ids)
    own = problem.reps.time_off
    reps = replace(problem.reps, time_off=periods if own is None else own.plus(periods))
    return replace(problem, reps=reps, digests={**problem.digests, "time_off": raw.digest})


def run_date_of(problem: Problem, policy: Policy, inputs: Inputs, at: datetime) -> Problem:
    """``problem`` as of the run time ``at`` (time off, departures, SLA), when the run
    uses it (given ``--at``, dated time off, an SLA or departures); else unchanged."""
    if inputs.at is None and not uses_run_date(problem, policy, inputs.leaving):
        return problem
    return apply_operations(problem, policy, at, inputs.leaving)


def run_date_key(
    problem: Problem, policy: Policy, inputs: Inputs, at: datetime
) -> dict[str, Any] | None:
    """What of the run time a re-run must share (``run_key``): the time to the second with
    an SLA, else the run date; and the departures. None when the run does not use it."""
    from leadassign.models.clock import at_text, day_of

    if inputs.at is None and not uses_run_date(problem, policy, inputs.leaving):
        return None
    when = at_text(at) if policy.sla is not None else day_of(at).isoformat()
    return {"at": when, "leaving": sorted(inputs.leaving)}
