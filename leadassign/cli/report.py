"""What a command prints about a result or a run: the summary, the written files, the
conflicts, and why there is no assignment."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from leadassign.app.runs import Outcome
from leadassign.cli.errors import EXIT_BY_STATUS
from leadassign.errors import printable
from leadassign.events import JsonEvents
from leadassign.report import human_summary
from leadassign.result import Result, Status
from leadassign.store.db import store_name


def report_result(result: Result, out: Path | None, matrix: bool) -> int:
    """Print the summary (and the files written to ``out``) or why there is no assignment;
    return the exit code."""
    code = EXIT_BY_STATUS[result.status]
    if result.has_solution:
        click.echo(printable(human_summary(result), lines=True))
        if out is not None:
            click.echo(
                f"wrote {out}/assignments.csv, reps.csv, summary.json"
                + (", matrix.csv" if matrix else "")
            )
    elif result.status == Status.INFEASIBLE:
        click.echo("error: INFEASIBLE: the hard rules cannot all hold:", err=True)
        for conflict in result.conflicts or ("no assignment satisfies them",):
            click.echo(f"  - {printable(conflict)}", err=True)
    elif result.status == Status.UNKNOWN and result.conflicts:  # assign_all, route: unproven
        click.echo("error: no assignment found (UNKNOWN):", err=True)
        for conflict in result.conflicts:
            click.echo(f"  - {printable(conflict)}", err=True)
    elif result.status == Status.UNKNOWN and result.limited_by == "work":
        click.echo(
            f"error: no assignment found within the work limit "
            f"({result.policy.solver.work_limit:g}); raise --work-limit",
            err=True,
        )
    elif result.status == Status.UNKNOWN:
        click.echo(
            f"error: no assignment found within the time limit "
            f"({result.policy.solver.time_limit_s:g} s); raise --time-limit",
            err=True,
        )
    else:
        click.echo(
            f"error: the solver rejected the model ({result.status.value}); "
            "this is a bug, please report it with summary.json",
            err=True,
        )
    return code


def log_outcome(events: JsonEvents, command: str, outcome: Outcome, code: int, out: Path) -> None:
    """The end of a run under --json (solve, rebalance, route): error (without an
    assignment), done, summary."""
    if not outcome.has_solution:
        stopped = outcome.summary.get("interrupted")
        conflicts = outcome.summary.get("conflicts") or []
        if stopped is not None:
            why = f"interrupted by {stopped} before any assignment was found; nothing written"
        else:
            why = why_not(command, outcome.status, out / "summary.json", conflicts)
            why = why[len("error: ") :]
        events.emit("error", exit_code=code, message=why)
    events.emit(
        "done",
        status=outcome.status.value,
        exit_code=code,
        run=outcome.run_id,
        rerun_of=outcome.rerun_of,
        from_run=outcome.from_run,
        written=[str(p) for p in outcome.written],
        interrupted=outcome.summary.get("interrupted"),
    )
    events.emit("summary", **outcome.summary)


def why_not(
    name: str, status: Status, summary: Path, conflicts: Sequence[object] | None = None
) -> str:
    """Why a run (of a comparison, or recorded) has no assignment, and what to do (one
    line). ``conflicts``: the run's summary.json conflicts — an UNKNOWN run with some was
    refused by a rule (assign_all unproven, route's owned leads), not cut by the clock."""
    if status == Status.UNKNOWN and conflicts:
        return f"error: {name}: no assignment found (UNKNOWN): " + "; ".join(map(str, conflicts))
    if status == Status.UNKNOWN:
        return (
            f"error: {name}: no answer within the time limit (UNKNOWN); raise --time-limit "
            "or the scenario's solver.time_limit_s"
        )
    if status == Status.INFEASIBLE:
        return (
            f"error: {name}: INFEASIBLE: its hard rules cannot all hold; the conflicts are in "
            f"{summary}"
        )
    return (
        f"error: {name}: the solver rejected the model ({status.value}); this is a bug, please "
        f"report it with {summary}"
    )


def say_outcome(outcome: Outcome, store: str | None, out: Path, matrix: bool) -> None:
    """The human report of a solve or rebalance."""
    interrupted = outcome.summary.get("interrupted")
    if outcome.rerun_of is not None:
        _say_rerun(outcome, out)
        return
    if outcome.result is not None and (outcome.has_solution or interrupted is None):
        report_result(outcome.result, None, matrix)
    if interrupted is not None:
        if outcome.has_solution:
            click.echo(
                f"interrupted by {interrupted}: kept the best assignment found "
                f"({outcome.status.value}, gap {outcome.summary.get('gap')})",
                err=True,
            )
        else:
            click.echo(
                f"error: interrupted by {interrupted} before any assignment that meets every "
                "hard rule was found; nothing written, nothing recorded",
                err=True,
            )
            return
    _say_carried(outcome)
    _say_holdout(outcome.summary)
    if outcome.written:
        click.echo(printable(f"wrote {', '.join(p.name for p in outcome.written)} to {out}"))
    if outcome.run_id is not None:
        click.echo(printable(f"recorded as run {outcome.run_id} in {store_name(store or '')}"))


def _say_holdout(summary: dict[str, Any]) -> None:
    """A run with a holdout: its arms."""
    held = summary.get("holdout")
    if not held:
        return
    arms = held["arms"]
    ignored = ", ".join(held["baseline_ignores"]) or "nothing"
    click.echo(
        f"holdout: {arms['holdout']['leads']} of {held['drawn_from']} leads "
        f"({held['share']:.4g} of them, seed {held['seed']}, stratified by territory) routed by "
        f"{held['baseline']} (assigned {arms['holdout']['assigned']}; it ignores {ignored}); "
        f"{arms['optimized']['leads']} optimized (assigned {arms['optimized']['assigned']})"
    )
    if arms["optimized"]["leads"]:
        click.echo("status, bound and gap are the optimized arm's, given the holdout arm's routing")


def _say_rerun(outcome: Outcome, out: Path) -> None:
    click.echo(
        f"same inputs and policy as run {outcome.rerun_of}: its result, not solved again "
        f"(recorded as run {outcome.run_id}, a re-run of {outcome.rerun_of})"
    )
    names = ", ".join(p.name for p in outcome.written)
    click.echo(f"status {outcome.status.value}; wrote {names} to {out}")
    if not outcome.has_solution:
        why = why_not(
            f"run {outcome.rerun_of}",
            outcome.status,
            out / "summary.json",
            outcome.summary.get("conflicts"),
        )
        click.echo(why, err=True)


def _say_carried(outcome: Outcome) -> None:
    carried = outcome.carried
    if carried is None:
        return
    click.echo(
        f"owners from run {outcome.from_run}: {carried.carried} carried over, "
        f"{len(carried.new_leads)} new leads, {len(carried.vanished)} leads gone"
        + (" (listed in vanished.csv)" if len(carried.vanished) else "")
        + (
            f", {len(carried.owners_gone)} owners no longer in the reps table"
            if len(carried.owners_gone)
            else ""
        )
    )
