"""The commands that take one book: solve, rebalance, baseline, validate and demo."""

from __future__ import annotations

import contextlib
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import click

from leadassign import app
from leadassign.app import demo as demo_book
from leadassign.app.baseline import baseline
from leadassign.app.holdout import Holdout
from leadassign.app.inputs import Inputs
from leadassign.app.interrupt import exit_process, interruptible
from leadassign.app.runs import Command, Outcome
from leadassign.app.validate import validate_history, validate_with_warnings
from leadassign.baselines import ROUTING, STRATEGIES
from leadassign.cli.errors import EXIT_BY_STATUS, EXIT_INPUT, json_events, reports_errors
from leadassign.cli.options import (
    dated_inputs,
    force_option,
    history_options,
    input_options,
    inputs_of,
    output_options,
    run_date_options,
    solver_options,
    store_options,
)
from leadassign.cli.progress import ProgressEvents, progress_line
from leadassign.cli.report import log_outcome, report_result, say_outcome
from leadassign.control.stop import Stop
from leadassign.errors import printable
from leadassign.events import Events
from leadassign.models import Policy, load_policy
from leadassign.result import Result


def holdout_options(command: Any) -> Any:
    """--holdout, --holdout-seed, --holdout-baseline (solve and rebalance)."""
    strategies = [*ROUTING, *(s.replace("-", "_") for s in ROUTING)]
    for option in reversed(
        [
            click.option(
                "--holdout",
                "holdout_share",
                type=click.FloatRange(0.0, 1.0),
                default=None,
                help="Route this share of the new leads (0.1: 10%), drawn at random and "
                "stratified by territory, by a baseline instead of the optimizer, to measure "
                "the uplift later with leadassign evaluate (assignments.csv column arm). 0: "
                "no holdout.",
            ),
            click.option(
                "--holdout-seed",
                type=click.IntRange(min=0, max=2**63 - 1),
                default=0,
                show_default=True,
                help="Seed of the holdout draw.",
            ),
            click.option(
                "--holdout-baseline",
                type=click.Choice(strategies),
                default="round-robin",
                show_default=True,
                help="How the holdout leads are routed (see leadassign baseline).",
            ),
        ]
    ):
        command = option(command)
    return command


def holdout_of(share: float | None, seed: int, strategy: str) -> Holdout | None:
    """The parsed holdout options (None: no holdout)."""
    return None if share is None else Holdout(share, seed, strategy)


EPILOG_SOLVE = """\b
Example:
  leadassign solve --leads leads.csv --reps reps.csv --policy policy.yaml --out run/
\b
Each run is recorded in the store (--store, default .leadassign/history.db; --no-store
to skip): see leadassign history. The same inputs and policy again re-use the recorded
run. SIGINT or SIGTERM stops the solve and keeps the best assignment found (FEASIBLE).
\b
Exit codes: 0 solved (OPTIMAL or FEASIBLE), 2 bad input, 3 INFEASIBLE (the conflicting
rules are named), 4 no solution within the time limit, 5 another run holds the store.
"""


def _run(
    command: Command,
    inputs: Inputs,
    out: Path,
    *,
    store: str | None,
    wait: float | None,
    json_log: bool,
    solver: dict[str, Any],
    from_run: str | None = None,
    matrix: bool = False,
    price_rules: bool = False,
    force: bool = False,
    holdout: Holdout | None = None,
    capacity_values: bool = False,
) -> NoReturn:
    """solve and rebalance: run, record, report; exits with the run's code."""
    events = json_events(json_log)
    policy = load_policy(inputs.policy)

    def work(stop: Stop) -> Outcome:
        with contextlib.ExitStack() as stack:
            told: Events = events or ProgressEvents(
                stack.enter_context(progress_line(dict(solver), policy))
            )
            return app.run(
                command,
                inputs,
                out,
                store=store,
                wait=wait,
                solver={k: v for k, v in solver.items() if k != "progress"},
                from_run=from_run,
                matrix=matrix,
                price_rules=price_rules,
                stop=stop,
                events=told,
                force=force,
                holdout=holdout,
                capacity_values=capacity_values,
            )

    outcome = interruptible(work, events)
    code = EXIT_BY_STATUS[outcome.status]
    if events is not None:
        log_outcome(events, command, outcome, code, out)
    else:
        say_outcome(outcome, store, out, matrix)
    exit_process(code)


#: what one more unit of capacity is worth on books with side rules (README Outputs)
capacity_option = click.option(
    "--capacity-values",
    is_flag=True,
    help="Also price each rep's capacity from the LP's duals on books with side rules or "
    "efforts (one more LP; reps.csv capacity_value). Books solved as a flow always get "
    "exact figures.",
)


@click.command(name="solve", epilog=EPILOG_SOLVE)
@input_options
@output_options
@capacity_option
@click.option(
    "--price-rules",
    is_flag=True,
    help="Also solve once without each hard rule and report what it costs (summary.json "
    "price_of_rules).",
)
@run_date_options
@holdout_options
@solver_options
@store_options
@click.option("--no-store", is_flag=True, help="Do not record the run.")
@reports_errors
def solve_command(
    leads: Path,
    reps: Path,
    affinity: Path | None,
    pairs: Path | None,
    pairs_mode: str,
    policy: Path | None,
    out: Path,
    matrix: bool,
    force: bool,
    capacity_values: bool,
    price_rules: bool,
    store: str,
    wait: float | None,
    json_log: bool,
    no_store: bool,
    at: Any,
    time_off: Path | None,
    holdout_share: float | None,
    holdout_seed: int,
    holdout_baseline: str,
    **solver: Any,
) -> None:
    """Solve: assign as many leads as possible, then maximize expected value."""
    _run(
        "solve",
        dated_inputs(inputs_of(leads, reps, affinity, pairs, pairs_mode, policy), at, time_off),
        out,
        store=None if no_store else store,
        wait=wait,
        json_log=json_log,
        solver=solver,
        matrix=matrix,
        price_rules=price_rules,
        force=force,
        holdout=holdout_of(holdout_share, holdout_seed, holdout_baseline),
        capacity_values=capacity_values,
    )


@click.command(
    name="rebalance",
    epilog="""\b
Examples:
  leadassign rebalance --leads leads.csv --reps reps.csv --policy policy.yaml --out week48/
  leadassign rebalance --from-run 12 --leads leads.csv --reps reps.csv --out week48/
\b
Weekly, from cron (one JSON object per event on stderr; see docs/weekly.md):
  0 6 * * 1  cd /srv/sales && leadassign rebalance --leads crm/leads.csv --reps crm/reps.csv
             --policy policy.yaml --out runs/latest --json 2>> logs/leadassign.jsonl
\b
Exit codes: 0 solved, 2 bad input or no previous run, 3 INFEASIBLE, 4 no solution within the
time limit, 5 another run holds the store.
""",
)
@input_options
@output_options
@capacity_option
@click.option(
    "--from-run",
    default="latest",
    show_default=True,
    help="The run whose owners become current_owner: latest (the newest run with an "
    "assignment) or a run id.",
)
@partial(run_date_options, leaving=True)
@holdout_options
@solver_options
@store_options
@reports_errors
def rebalance_command(
    leads: Path,
    reps: Path,
    affinity: Path | None,
    pairs: Path | None,
    pairs_mode: str,
    policy: Path | None,
    out: Path,
    matrix: bool,
    force: bool,
    capacity_values: bool,
    from_run: str,
    store: str,
    wait: float | None,
    json_log: bool,
    at: Any,
    time_off: Path | None,
    rep_leaving: tuple[str, ...],
    holdout_share: float | None,
    holdout_seed: int,
    holdout_baseline: str,
    **solver: Any,
) -> None:
    """Solve this week's book starting from a recorded run's owners.

    Each lead's owner in that run becomes its current_owner (replacing the leads table's
    column), so the continuity policy limits churn week over week; new leads have no owner,
    leads that are gone are listed in vanished.csv. Recorded like solve.
    """
    _run(
        "rebalance",
        dated_inputs(
            inputs_of(leads, reps, affinity, pairs, pairs_mode, policy), at, time_off, rep_leaving
        ),
        out,
        store=store,
        wait=wait,
        json_log=json_log,
        solver=solver,
        from_run=from_run,
        matrix=matrix,
        force=force,
        holdout=holdout_of(holdout_share, holdout_seed, holdout_baseline),
        capacity_values=capacity_values,
    )


@click.command(
    name="baseline",
    epilog="""\b
Example:
  leadassign baseline --strategy round-robin --leads leads.csv --reps reps.csv --out rr/
  leadassign baseline --strategy current --leads leads.csv --reps reps.csv --out today/
  leadassign solve --leads leads.csv --reps reps.csv --out run/   # then compare summary.json
\b
Exit codes: 0 assigned, 2 bad input.
""",
)
@click.option(
    "--strategy",
    required=True,
    type=click.Choice(STRATEGIES),
    help="round-robin: leads in input order, each to the next eligible rep with room; "
    "weighted-round-robin: each to the eligible rep with room that is least full relative "
    "to its capacity; greedy: highest expected value pairs first; current: each lead to its "
    "current_owner when that owner is eligible and has room (what we have today).",
)
@input_options
@output_options
@reports_errors
def baseline_command(
    strategy: str,
    leads: Path,
    reps: Path,
    affinity: Path | None,
    pairs: Path | None,
    pairs_mode: str,
    policy: Path | None,
    out: Path,
    matrix: bool,
    force: bool,
) -> None:
    """Assign the book the way a CRM would, to compare with solve.

    Eligibility, tiers, value weights, affinities, the pairs table and capacity apply as in
    solve; fairness, continuity, accounts and min_leads are ignored, as CRMs do.
    """
    inputs = inputs_of(leads, reps, affinity, pairs, pairs_mode, policy)
    result = interruptible(
        lambda stop: baseline(strategy, inputs, out, matrix=matrix, force=force, stop=stop),
        what="the baseline",
    )
    code = report_result(result, out, matrix)
    ignored = (result.baseline or {}).get("ignored", [])
    if ignored:
        click.echo(f"ignored, as CRMs do: {', '.join(ignored)}")
    exit_process(code)


@click.command(
    name="validate",
    epilog="""\b
Examples:
  leadassign validate --leads leads.csv --reps reps.csv --policy policy.yaml
  leadassign validate --history deals.csv --columns salesforce
\b
--leads and --reps are required unless --history is given (a deal history alone is
checked on its own; see docs/history.md).
\b
Warnings on stderr (valid inputs that are probably not what was meant): leads no rep may
take, current owners outside their lead's territory, territories, industries or skills that
differ only in case or spaces between leads and reps, available reps no lead may go to.
\b
Exit codes: 0 the inputs are valid (warnings or not), 2 bad input (the message names file,
row and column), or any warning with --strict.
""",
)
@partial(input_options, required=False)
@partial(history_options, required=False)
@click.option("--strict", is_flag=True, help="Exit 2 when there is any warning.")
@reports_errors
def validate_command(
    leads: Path | None,
    reps: Path | None,
    affinity: Path | None,
    pairs: Path | None,
    pairs_mode: str,
    policy: Path | None,
    history_path: Path | None,
    columns: str | None,
    strict: bool,
) -> None:
    """Check the input tables and the policy, or a deal history; solve nothing, write nothing."""
    ctx = click.get_current_context()
    if history_path is None and columns is not None:
        raise click.UsageError("--columns maps the columns of --history: give --history too")
    warnings: list[str] = []
    if history_path is None or leads is not None or reps is not None:
        for name, value in (("leads", leads), ("reps", reps)):
            if value is None:  # the message click gives for a missing required option
                param = next(p for p in ctx.command.params if p.name == name)
                raise click.MissingParameter(ctx=ctx, param=param)
        assert leads is not None and reps is not None
        inputs = inputs_of(leads, reps, affinity, pairs, pairs_mode, policy)
        text, found_warnings = interruptible(
            lambda stop: validate_with_warnings(inputs, stop), grace_s=1.0, what="the validation"
        )
        click.echo(printable(text, lines=True))
        warnings = [w.message for w in found_warnings]
    if history_path is not None:
        found = validate_history(history_path, columns)
        click.echo(printable(found, lines=True))
    _say_warnings(warnings, strict)


def _say_warnings(warnings: list[str], strict: bool) -> None:
    """validate's warnings on stderr; with ``strict``, any of them is exit 2."""
    for warning in warnings:
        click.echo(f"warning: {printable(warning)}", err=True)
    if strict and warnings:
        click.echo(
            f"error: --strict: {len(warnings)} warning{'s' if len(warnings) != 1 else ''} "
            "about the inputs (above)",
            err=True,
        )
        exit_process(EXIT_INPUT)


@click.command(
    name="demo",
    epilog="""\b
Examples:
  leadassign demo
  leadassign demo --leads 5000 --reps 120 --out demo-run/
""",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write the sample inputs (input/) and the outputs to this folder.",
)
@force_option
@click.option(
    "--leads",
    "n_leads",
    type=click.IntRange(min=0),
    default=600,
    show_default=True,
    help="Number of sample leads.",
)
@click.option(
    "--reps",
    "n_reps",
    type=click.IntRange(min=1),
    default=25,
    show_default=True,
    help="Number of sample reps.",
)
@click.option(
    "--effort", is_flag=True, help="Enterprise leads take 3 capacity units (solved with CP-SAT)."
)
@click.option(
    "--sample-seed",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="Seed of the generated sample.",
)
@solver_options
@reports_errors
def demo_command(
    out: Path | None,
    force: bool,
    n_leads: int,
    n_reps: int,
    effort: bool,
    sample_seed: int,
    **solver: Any,
) -> None:
    """Make a realistic sample book, solve it and print a short summary.

    The sample has five territories, six industries, language and enterprise skills, three
    rep levels, training floors for novices, industry affinities and a few reps on leave.
    """
    if out is not None:
        demo_book.check_out(out, force=force)  # before anything is solved

    def work(stop: Stop) -> Result:
        book = demo_book.sample(n_leads, n_reps, seed=sample_seed, effort=effort)
        click.echo(
            f"sample: {n_leads} leads, {n_reps} reps "
            f"({int((book.reps['available'] == 'false').sum())} on leave), "
            f"{len(book.affinity)} affinities"
        )
        with progress_line(solver, Policy()) as progress:
            return demo_book.solve_sample(
                book, out, force=force, solver=solver, progress=progress, stop=stop
            )

    result = interruptible(work, what="the demo")
    code = report_result(result, out, matrix=False)
    if result.interrupted is not None:
        click.echo(
            f"interrupted by {result.interrupted}: kept the best assignment found "
            f"({result.status.value}, gap "
            f"{'not known' if result.gap is None else format(result.gap, '.2%')})",
            err=True,
        )
    if out is not None:
        click.echo(
            f"rerun it: leadassign solve --leads {out}/input/leads.csv "
            f"--reps {out}/input/reps.csv --affinity {out}/input/affinity.csv "
            f"--out {out}-solved"
        )
    exit_process(code)
