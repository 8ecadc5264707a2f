"""``leadassign route``: the new leads against a recorded plan (``leadassign.app.route``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from leadassign.app.interrupt import exit_process, interruptible
from leadassign.app.route import route
from leadassign.app.runs import Outcome
from leadassign.cli.errors import EXIT_BY_STATUS, json_events, reports_errors
from leadassign.cli.options import (
    at_option,
    force_option,
    input_options,
    inputs_of,
    solver_options,
    store_options,
)
from leadassign.cli.report import log_outcome, report_result, why_not
from leadassign.control.stop import Stop
from leadassign.errors import printable
from leadassign.events import Events, NoEvents
from leadassign.models.shifts import parse_at
from leadassign.store.db import store_name


@click.command(
    name="route",
    epilog="""\b
Examples:
  leadassign route --leads crm/leads.csv --reps crm/reps.csv --policy policy.yaml --out route/
  leadassign route --leads new.csv --reps reps.csv --from-run 12 --at 2026-12-01T09:30+01:00
                   --out r/
\b
Every 15 minutes, from cron (see docs/weekly.md#route):
  */15 * * * *  cd /srv/sales && leadassign route --leads crm/leads.csv --reps crm/reps.csv
                --policy policy.yaml --out runs/route --force --json --wait 60
                2>> logs/leadassign.jsonl
\b
Exit codes: 0 routed, 2 bad input or no plan in the store, 3 INFEASIBLE, 4 no solution within
the time limit or none that keeps every owned lead with its owner, 5 another run holds the
store.
""",
)
@input_options
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for assignments.csv (the new leads), reps.csv, summary.json.",
)
@force_option
@click.option(
    "--from-run",
    default="latest",
    show_default=True,
    help="The plan: a recorded run (solve, rebalance or route) whose owners are kept: latest "
    "(the newest run with an assignment) or a run id.",
)
@at_option
@solver_options
@store_options
@reports_errors
def route_command(
    leads: Path,
    reps: Path,
    affinity: Path | None,
    pairs: Path | None,
    pairs_mode: str,
    policy: Path | None,
    out: Path,
    force: bool,
    from_run: str,
    at: datetime | None,
    store: str,
    wait: float | None,
    json_log: bool,
    **solver: Any,
) -> None:
    """Assign the leads a recorded plan does not own yet, keeping every owned lead.

    --leads may hold the new leads only or the whole current book (owned leads are known by
    lead_id and stay with their owner). Every hard rule holds over the whole book; each new
    lead's value is taken less its rep's capacity price (the plan's reps.csv
    capacity_value). Policy intake caps routed leads per rep per day and week, and
    working_hours prefers (soft) or requires (hard) reps on shift (rep columns timezone,
    hours). Recorded in the store as a run (command route).
    """
    at = parse_at(None) if at is None else at
    inputs = inputs_of(leads, reps, affinity, pairs, pairs_mode, policy)
    events = json_events(json_log)
    settings = {k: v for k, v in solver.items() if k != "progress"}

    def work(stop: Stop) -> Outcome:
        told: Events = events or NoEvents()
        return route(
            inputs, out, store=store, at=at, from_run=from_run, wait=wait,
            solver=settings, stop=stop, events=told, force=force,
        )  # fmt: skip

    outcome = interruptible(work, events)
    code = EXIT_BY_STATUS[outcome.status]
    if events is not None:
        log_outcome(events, "route", outcome, code, out)
    else:
        _say(outcome, store, out, code)
    exit_process(code)


def _say(outcome: Outcome, store: str, out: Path, code: int) -> None:
    """The human report of a route run."""
    if outcome.rerun_of is not None:
        click.echo(
            f"same inputs, policy and --at as run {outcome.rerun_of}: its result, not solved "
            f"again (recorded as run {outcome.run_id})"
        )
    block = outcome.summary.get("route")
    if isinstance(block, dict):
        left = ", ".join(f"{k} {v}" for k, v in block["left_unassigned"].items()) or "none"
        click.echo(
            f"routed {block['routed']} of {block['new_leads']} new leads at {block['at']} "
            f"against run {block['from_run']} ({block['owned_in_table']} owned leads kept, "
            f"{block['owned_not_in_table']} more not in --leads); left unassigned: {left}"
        )
    elif code and outcome.result is not None and outcome.result.conflicts:
        report_result(outcome.result, None, matrix=False)  # INFEASIBLE / UNKNOWN: the reasons
    elif code:
        why = why_not(
            "route", outcome.status, out / "summary.json", outcome.summary.get("conflicts")
        )
        click.echo(why, err=True)
    if outcome.written:
        click.echo(printable(f"wrote {', '.join(p.name for p in outcome.written)} to {out}"))
    if outcome.run_id is not None:
        click.echo(printable(f"recorded as run {outcome.run_id} in {store_name(store)}"))
