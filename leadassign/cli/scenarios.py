"""The what-if commands: compare and frontier."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from leadassign.app import scenario as app_scenario
from leadassign.app.interrupt import exit_process, interruptible
from leadassign.cli.errors import EXIT_BY_STATUS, EXIT_NO_SOLUTION, json_events, reports_errors
from leadassign.cli.options import scenario_options
from leadassign.cli.progress import terminal_board
from leadassign.cli.report import why_not
from leadassign.errors import printable
from leadassign.events import JsonEvents
from leadassign.scenarios.run import Run


@click.command(
    name="compare",
    epilog="""\b
Example:
  leadassign compare examples/scenario.yaml --out what-if/ --jobs 2
\b
Writes OUT/comparison.csv (one row per run), OUT/diff_<variant>.csv (leads whose rep differs
from the base), OUT/report.html and each run's own files in OUT/<run>/ (as leadassign solve
writes them).
Exit codes: 0 every run solved, 2 bad input (the scenario file, variant and override are
named), 3 a run INFEASIBLE, 4 a run without a solution in its time limit (the files are
written either way).
""",
)
@scenario_options
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: --jobs local processes; ray: Ray tasks (RAY_ADDRESS, or a local Ray; needs "
    "the 'ray' extra).",
)
@click.option(
    "--cold",
    is_flag=True,
    help="Solve each variant from scratch instead of from the base's assignment (to measure "
    "what the warm start saves).",
)
@reports_errors
def compare_command(
    scenario_file: Path,
    out: Path,
    force: bool,
    jobs: int,
    time_limit_s: float | None,
    json_log: bool,
    executor: str,
    cold: bool,
) -> None:
    """What-if scenarios: solve a base book and its variants, and compare them."""
    events = json_events(json_log)
    scenario = app_scenario.load(scenario_file)
    done = interruptible(
        lambda stop: app_scenario.compare(
            scenario,
            out,
            jobs=jobs,
            time_limit_s=time_limit_s,
            events=events,
            executor="ray" if executor == "ray" else "local",
            warm=not cold,
            stop=stop,
            force=force,
            scenario_file=scenario_file,
            board=terminal_board(events),
        ),
        events,
        what="the comparison",
    )
    written = done.written
    if events is None:
        click.echo(
            f"wrote {written[0]}, {len(written) - 2} diff files and {written[-1]}; "
            f"runs in {out}/<run>/"
        )
    exit_process(_scenario_done(done.runs, written, events, out))


def _scenario_done(
    runs: list[Run], written: list[Path], events: JsonEvents | None, out: Path
) -> int:
    """The exit code of a comparison: its runs' worst, and at least 4 when a signal cut it
    short; every non-zero code is said on stderr (an ``error`` event under --json)."""
    code = max(EXIT_BY_STATUS[run.status] for run in runs)
    cut = [run for run in runs if run.summary.get("interrupted")]
    not_run = [run.name for run in cut if run.summary.get("not_run")]
    kept = [run.name for run in cut if not run.summary.get("not_run")]
    reason = cut[0].summary["interrupted"] if cut else None
    if cut:
        code = max(code, EXIT_NO_SOLUTION)
    failed = [
        why_not(run.name, run.status, out / run.name / "summary.json", run.summary.get("conflicts"))
        for run in runs
        if not run.status.has_solution and not run.summary.get("interrupted")
    ]
    if failed:
        if events is not None:
            events.emit("error", exit_code=code, message="; ".join(failed))
        else:
            for line in failed:
                click.echo(line, err=True)
    if events is not None:
        events.emit(
            "done",
            exit_code=code,
            runs={run.name: run.status.value for run in runs},
            written=[str(path) for path in written],
            interrupted=reason,
            not_run=not_run,
        )
    elif cut:
        click.echo(
            f"error: interrupted by {reason}: the comparison is incomplete; "
            + (f"kept the best answer so far of {', '.join(kept)}; " if kept else "")
            + (f"not run: {', '.join(not_run)}; " if not_run else "")
            + "comparison.csv says which (status NOT_RUN, column interrupted)",
            err=True,
        )
    return code


@click.command(
    name="frontier",
    epilog="""\b
Example (a scenario file with a sweep: block):
  leadassign frontier examples/frontier.yaml --out frontier/
\b
Writes OUT/frontier.csv (one row per value of the knob: expected value, the figure it is
traded against, dominated or not), OUT/comparison.csv, OUT/diff_<point>.csv, OUT/report.html
and each run's files in OUT/<run>/. Exit codes as for compare.
""",
)
@scenario_options
@reports_errors
def frontier_command(
    scenario_file: Path,
    out: Path,
    force: bool,
    jobs: int,
    time_limit_s: float | None,
    json_log: bool,
) -> None:
    """Value against fairness or churn: solve a range of one policy knob (the scenario's
    sweep: block) and mark the dominated settings."""
    events = json_events(json_log)
    scenario = app_scenario.load(scenario_file, sweep=True)
    sweep = scenario.sweep
    assert sweep is not None
    done = interruptible(
        lambda stop: app_scenario.frontier(
            scenario,
            out,
            jobs=jobs,
            time_limit_s=time_limit_s,
            events=events,
            stop=stop,
            force=force,
            scenario_file=scenario_file,
            board=terminal_board(events),
        ),
        events,
        what="the frontier",
    )
    written = done.written
    if events is None:
        metric = sweep.metric()
        for row in pd.read_csv(written[0], keep_default_na=False).to_dict("records"):
            mark = "  (dominated)" if bool(row["dominated"]) else ""
            click.echo(
                printable(
                    f"{row['key']} = {row['value']}: {row['status']}, expected value "
                    f"{row['expected_value']}, {metric} {row[metric]}{mark}"
                )
            )
        click.echo(f"wrote {written[0]}, {written[1]}, {written[-1]} and the runs in {out}/<run>/")
    exit_process(_scenario_done(done.runs, written, events, out))
