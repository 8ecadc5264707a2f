"""The ``leadassign`` command: parse options, call the library, print. No solving logic here.

Exit codes (DESIGN §4): 0 solved (OPTIMAL or FEASIBLE), 1 internal error, 2 bad input or
usage, 3 INFEASIBLE, 4 no solution within the time limit (or before an interrupt), 5 another
run holds the store.
"""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar

import click
import pandas as pd

from leadassign import __version__
from leadassign.baselines import STRATEGIES, run_baseline
from leadassign.errors import LeadassignError
from leadassign.events import Events, JsonEvents, NoEvents
from leadassign.models import Policy, Problem, load_policy, load_problem
from leadassign.output import check_matrix_size, write_csv, write_files, write_result
from leadassign.report import describe_inputs, human_summary
from leadassign.solver import Result, Status, solve
from leadassign.solver.progress import TerminalProgress
from leadassign.solver.stop import Stop
from leadassign.store import DEFAULT_STORE, RunRow, Store, StoreError
from leadassign.store.crm import FORMATS, HUBSPOT_OBJECTS, Format, export, read_owner_map
from leadassign.store.db import store_name
from leadassign.store.runs import Command, Inputs, Outcome, execute, load, owner_changes

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_INFEASIBLE, EXIT_NO_SOLUTION = 0, 1, 2, 3, 4
EXIT_BY_STATUS = {
    Status.OPTIMAL: EXIT_OK,
    Status.FEASIBLE: EXIT_OK,
    Status.INFEASIBLE: EXIT_INFEASIBLE,
    Status.UNKNOWN: EXIT_NO_SOLUTION,
    Status.MODEL_INVALID: EXIT_INTERNAL,
}

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def _stacked(options: Sequence[Callable[[Any], Any]], command: F) -> F:
    """``command`` under ``options``, which then appear in --help in list order."""
    for option in reversed(options):
        command = option(command)
    return command


def _fail(error: LeadassignError, events: JsonEvents | None = None) -> NoReturn:
    """The error on stderr (as an ``error`` event under --json), and its exit code."""
    if events is not None:
        events.emit("error", exit_code=error.exit_code, message=str(error))
    else:
        click.echo(f"error: {error}", err=True)
    sys.exit(error.exit_code)


def _input_options(command: F) -> F:
    options = [
        click.option(
            "--leads",
            "leads",
            required=True,
            type=click.Path(path_type=Path, dir_okay=False),
            help="Leads table (.csv or .parquet).",
        ),
        click.option(
            "--reps",
            "reps",
            required=True,
            type=click.Path(path_type=Path, dir_okay=False),
            help="Reps table (.csv or .parquet).",
        ),
        click.option(
            "--affinity",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Optional rep x industry win rates (rep_id, industry, win_rate).",
        ),
        click.option(
            "--pairs",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Optional per-pair score/effort table (lead_id, rep_id, score, effort).",
        ),
        click.option(
            "--pairs-mode",
            type=click.Choice(["only", "override"]),
            default="only",
            show_default=True,
            help="only: just the listed pairs are eligible; override: all eligible "
            "pairs, listed ones take the table's score/effort.",
        ),
        click.option(
            "--policy", type=click.Path(path_type=Path, dir_okay=False), help="Policy file (YAML)."
        ),
    ]
    return _stacked(options, command)


def _output_options(command: F) -> F:
    """``--out`` and ``--matrix``, for the commands that write an assignment."""
    options = [
        click.option(
            "--out",
            required=True,
            type=click.Path(path_type=Path, file_okay=False),
            help="Folder for assignments.csv, reps.csv, summary.json (created if needed).",
        ),
        click.option(
            "--matrix",
            is_flag=True,
            help="Also write matrix.csv, the dense lead x rep 0/1 table.",
        ),
    ]
    return _stacked(options, command)


def _json_option(events: str) -> Callable[[F], F]:
    """``--json``: the run's events (named in ``events``) as JSON lines on stderr."""
    return click.option(
        "--json",
        "json_log",
        is_flag=True,
        help=f"Log one JSON object per event on stderr ({events}), for cron; nothing on stdout.",
    )


def _scenario_options(command: F) -> F:
    """The scenario file, ``--out``, ``--jobs`` and ``--time-limit``, for compare and
    frontier."""
    options = [
        click.argument(
            "scenario_file", type=click.Path(path_type=Path, dir_okay=False, exists=True)
        ),
        click.option(
            "--out",
            required=True,
            type=click.Path(path_type=Path, file_okay=False),
            help="Output folder.",
        ),
        click.option(
            "--jobs",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Runs solved at once, in local processes.",
        ),
        click.option(
            "--time-limit",
            "time_limit_s",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="Seconds for all the runs, shared among them (default: each run's "
            "policy limit, per run).",
        ),
        _json_option("start, run_finished per run, done; no progress board"),
    ]
    return _stacked(options, command)


def _solver_options(command: F) -> F:
    options = [
        click.option(
            "--time-limit",
            "time_limit_s",
            type=click.FloatRange(min=0, min_open=True),
            help="Seconds the solver may use (default: policy, else 60): a wall-clock "
            "backstop; summary.json says limited_by time when it cut the search.",
        ),
        click.option(
            "--work-limit",
            "work_limit",
            type=click.FloatRange(min=0, min_open=True, max=1e6),
            help="Deterministic work the solver may do (default: policy, else 20): the same "
            "answer on any machine while --time-limit does not cut first (see README).",
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=1, max=64),
            help="CP-SAT workers (default: policy, else 1; see README).",
        ),
        click.option(
            "--seed",
            type=click.IntRange(min=0, max=2**31 - 1),
            help="Random seed; same inputs + seed give the same outputs.",
        ),
        click.option(
            "--relative-gap",
            type=click.FloatRange(min=0, max=1, max_open=True),
            help="Stop once within this relative gap of the bound (default 0).",
        ),
        click.option(
            "--method",
            type=click.Choice(["auto", "flow", "cpsat"]),
            help="auto (default) picks the fastest exact method (min-cost flow, else "
            "HiGHS' MIP then CP-SAT); flow: min-cost flow, unit effort only; cpsat: "
            "CP-SAT only.",
        ),
        click.option(
            "--log", is_flag=True, default=None, help="Print the solver's search log to stderr."
        ),
        click.option(
            "--progress/--no-progress",
            default=None,
            help="A status line on stderr while solving: phase, objective, bound, gap, time "
            "(default: on when stderr is a terminal and the log is off).",
        ),
    ]
    return _stacked(options, command)


_store_option = click.option(
    "--store",
    default=DEFAULT_STORE,
    show_default=True,
    envvar="LEADASSIGN_STORE",
    show_envvar=True,
    help="Run history: a SQLite file, or a SQLAlchemy URL (postgresql+psycopg://user@host/db).",
)


def _store_options(command: F) -> F:
    """Where runs are recorded, how long to wait for another run, and JSON logs."""
    options = [
        _store_option,
        click.option(
            "--wait",
            type=click.FloatRange(min=0),
            default=0.0,
            show_default=True,
            help="Seconds to wait while another run holds the store, then exit 5.",
        ),
        _json_option("start, inputs_loaded, model_built, solution_found, done, summary"),
    ]
    return _stacked(options, command)


def _progress_line(
    solver: dict[str, Any], policy: Policy
) -> contextlib.AbstractContextManager[TerminalProgress | None]:
    """Take ``--progress/--no-progress`` out of the solver options: a status line on stderr,
    closed (ended with a newline) when the block ends, or None."""
    wanted = solver.pop("progress", None)
    if wanted is None:
        wanted = sys.stderr.isatty() and not (solver.get("log") or policy.solver.log)
    return TerminalProgress(sys.stderr) if wanted else contextlib.nullcontext()


def _load(
    leads: Path,
    reps: Path,
    affinity: Path | None,
    pairs: Path | None,
    pairs_mode: str,
    policy_path: Path | None,
) -> tuple[Problem, Policy]:
    return load(_inputs(leads, reps, affinity, pairs, pairs_mode, policy_path))


def _report(result: Result, out: Path | None, matrix: bool) -> int:
    """Write outputs (if ``out``), print the summary or the conflicts; return the exit code."""
    if out is not None:
        write_result(result, out, matrix=matrix)
    code = EXIT_BY_STATUS[result.status]
    if result.has_solution:
        click.echo(human_summary(result))
        if out is not None:
            click.echo(
                f"wrote {out}/assignments.csv, reps.csv, summary.json"
                + (", matrix.csv" if matrix else "")
            )
    elif result.status == Status.INFEASIBLE:
        click.echo("error: INFEASIBLE: the hard rules cannot all hold:", err=True)
        for conflict in result.conflicts or ("no assignment satisfies them",):
            click.echo(f"  - {conflict}", err=True)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="leadassign")
def main() -> None:
    """Decide which sales rep owns which lead: one optimal, proven assignment per cycle.

    \b
    Start with:   leadassign demo
    Then:         leadassign solve --leads leads.csv --reps reps.csv --out run/
    Every week:   leadassign rebalance --leads leads.csv --reps reps.csv --out run/
    """


def _interruptible(work: Callable[[Stop], T]) -> T:
    """``work(stop)`` in a worker thread while this (main) thread turns SIGINT and SIGTERM
    into ``stop.set(...)``: the solver then ends with the best assignment it has, and the
    run writes and records it whole instead of dying halfway. (A signal handler only runs in
    the main thread between Python instructions, never while it waits inside a solver.)"""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        return work(stop)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work(stop)
        except BaseException as exc:  # handed to the main thread, which raises it
            box["error"] = exc

    def handler(signum: int, _frame: Any) -> None:
        stop.set(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        thread = threading.Thread(target=target, name="leadassign-run", daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.2)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def _run(
    command: Command,
    inputs: Inputs,
    out: Path,
    *,
    store: str | None,
    wait: float,
    json_log: bool,
    solver: dict[str, Any],
    from_run: str | None = None,
    matrix: bool = False,
    price_rules: bool = False,
) -> NoReturn:
    """solve and rebalance: run, record, report; exits with the run's code."""
    events: JsonEvents | None = JsonEvents(sys.stderr) if json_log else None
    try:
        policy = load_policy(inputs.policy)

        def work(stop: Stop) -> Outcome:
            with contextlib.ExitStack() as stack:
                opened = None if store is None else stack.enter_context(Store(store))
                told: Events = events or _ProgressEvents(
                    stack.enter_context(_progress_line(dict(solver), policy))
                )
                return execute(
                    command,
                    inputs,
                    out,
                    store=opened,
                    solver={k: v for k, v in solver.items() if k != "progress"},
                    from_run=from_run,
                    matrix=matrix,
                    price_rules=price_rules,
                    wait=wait,
                    stop=stop,
                    events=told,
                )

        outcome = _interruptible(work)
    except LeadassignError as error:
        _fail(error, events)
    code = EXIT_BY_STATUS[outcome.status]
    if events is not None:
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
    else:
        _say(outcome, store, out, matrix)
    sys.exit(code)


def _inputs(
    leads: Path,
    reps: Path,
    affinity: Path | None,
    pairs: Path | None,
    pairs_mode: str,
    policy: Path | None,
) -> Inputs:
    mode: Literal["only", "override"] = "override" if pairs_mode == "override" else "only"
    return Inputs(leads, reps, affinity, pairs, mode, policy)


class _ProgressEvents(NoEvents):
    """Events for people: only the solver's progress, on the terminal's status line."""

    def __init__(self, progress: TerminalProgress | None) -> None:
        self._progress = progress

    def phase(self, name: str) -> None:
        if self._progress is not None:
            self._progress.phase(name)

    def update(self, objective: float | None, bound: float | None) -> None:
        if self._progress is not None:
            self._progress.update(objective, bound)


def _say(outcome: Outcome, store: str | None, out: Path, matrix: bool) -> None:
    """The human report of a run."""
    interrupted = outcome.summary.get("interrupted")
    if outcome.rerun_of is not None:
        click.echo(
            f"same inputs and policy as run {outcome.rerun_of}: its result, not solved again "
            f"(recorded as run {outcome.run_id}, a re-run of {outcome.rerun_of})"
        )
        names = ", ".join(p.name for p in outcome.written)
        click.echo(f"status {outcome.status.value}; wrote {names} to {out}")
        return
    if outcome.result is not None and (outcome.has_solution or interrupted is None):
        _report(outcome.result, None, matrix)
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
    carried = outcome.carried
    if carried is not None:
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
    if outcome.written:
        click.echo(f"wrote {', '.join(p.name for p in outcome.written)} to {out}")
    if outcome.run_id is not None:
        click.echo(f"recorded as run {outcome.run_id} in {store_name(store or '')}")


@main.command(epilog=EPILOG_SOLVE)
@_input_options
@_output_options
@click.option(
    "--price-rules",
    is_flag=True,
    help="Also solve once without each hard rule and report what it costs (summary.json "
    "price_of_rules).",
)
@_solver_options
@_store_options
@click.option("--no-store", is_flag=True, help="Do not record the run.")
def solve_command(
    leads: Path,
    reps: Path,
    affinity: Path | None,
    pairs: Path | None,
    pairs_mode: str,
    policy: Path | None,
    out: Path,
    matrix: bool,
    price_rules: bool,
    store: str,
    wait: float,
    json_log: bool,
    no_store: bool,
    **solver: Any,
) -> None:
    """Solve: assign as many leads as possible, then maximize expected value."""
    _run(
        "solve",
        _inputs(leads, reps, affinity, pairs, pairs_mode, policy),
        out,
        store=None if no_store else store,
        wait=wait,
        json_log=json_log,
        solver=solver,
        matrix=matrix,
        price_rules=price_rules,
    )


solve_command.name = "solve"


@main.command(
    epilog="""\b
Examples:
  leadassign rebalance --leads leads.csv --reps reps.csv --policy policy.yaml --out week48/
  leadassign rebalance --from-run 12 --leads leads.csv --reps reps.csv --out week48/
\b
Weekly, from cron (one JSON object per event on stderr; see the README):
  0 6 * * 1  cd /srv/sales && leadassign rebalance --leads crm/leads.csv --reps crm/reps.csv
             --policy policy.yaml --out runs/latest --json 2>> logs/leadassign.jsonl
\b
Exit codes: 0 solved, 2 bad input or no previous run, 3 INFEASIBLE, 4 no solution within the
time limit, 5 another run holds the store.
"""
)
@_input_options
@_output_options
@click.option(
    "--from-run",
    default="latest",
    show_default=True,
    help="The run whose owners become current_owner: latest (the newest run with an "
    "assignment) or a run id.",
)
@_solver_options
@_store_options
def rebalance(
    leads: Path,
    reps: Path,
    affinity: Path | None,
    pairs: Path | None,
    pairs_mode: str,
    policy: Path | None,
    out: Path,
    matrix: bool,
    from_run: str,
    store: str,
    wait: float,
    json_log: bool,
    **solver: Any,
) -> None:
    """Solve this week's book starting from a recorded run's owners.

    Each lead's owner in that run becomes its current_owner (replacing the leads table's
    column), so the continuity policy limits churn week over week; new leads have no owner,
    leads that are gone are listed in vanished.csv. Recorded like solve.
    """
    _run(
        "rebalance",
        _inputs(leads, reps, affinity, pairs, pairs_mode, policy),
        out,
        store=store,
        wait=wait,
        json_log=json_log,
        solver=solver,
        from_run=from_run,
        matrix=matrix,
    )


def _open_store(store: str) -> Store:
    """An existing store, for the commands that read it (a missing SQLite file is not
    created)."""
    if "://" not in store and not Path(store).expanduser().is_file():
        raise StoreError(
            f"no run history at {store}: runs are recorded by leadassign solve and rebalance "
            "(or pass --store)"
        )
    return Store(store)


def _figure(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    return format(value, spec) if spec else str(value)


@main.command(
    epilog="""\b
Examples:
  leadassign history
  leadassign history --limit 5 --json
"""
)
@_store_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run, newest first.")
def history(store: str, limit: int, as_json: bool) -> None:
    """List recorded runs, newest first."""
    try:
        with _open_store(store) as opened:
            rows = opened.runs(limit=limit)
    except LeadassignError as error:
        _fail(error)
    if as_json:
        for row in rows:
            click.echo(json.dumps(_run_fields(row), sort_keys=False))
        return
    if not rows:
        click.echo(f"no runs recorded in {store_name(store)}")
        return
    header = ["run", "time (UTC)", "command", "status", "assigned", "expected value", "gap", "from"]
    lines = [header]
    for row in rows:
        origin = f"re-run of {row.rerun_of}" if row.rerun_of is not None else ""
        if row.from_run is not None and row.rerun_of is None:
            origin = f"run {row.from_run}"
        lines.append(
            [
                str(row.id),
                row.created_at.replace("+00:00", "").replace("T", " "),
                row.command,
                row.status + (f" ({row.interrupted})" if row.interrupted else ""),
                f"{_figure(row.assigned)}/{_figure(row.leads)}",
                _figure(row.expected_value, ",.0f"),
                _figure(row.gap, ".2e"),
                origin,
            ]
        )
    widths = [max(len(line[k]) for line in lines) for k in range(len(header))]
    for line in lines:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _run_fields(row: RunRow) -> dict[str, Any]:
    return {
        "run": row.id,
        "created_at": row.created_at,
        "command": row.command,
        "status": row.status,
        "leads": row.leads,
        "assigned": row.assigned,
        "expected_value": row.expected_value,
        "gap": row.gap,
        "reassigned": row.reassigned,
        "from_run": row.from_run,
        "rerun_of": row.rerun_of,
        "interrupted": row.interrupted,
        "version": row.version,
        "inputs": row.inputs,
        "out": row.out,
    }


@main.command(
    epilog="""\b
Examples:
  leadassign show latest
  leadassign show 12 --json     # the run's summary.json
"""
)
@click.argument("run")
@_store_option
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary.json.")
def show(run: str, store: str, as_json: bool) -> None:
    """Print one recorded run: RUN is a run id, latest, or latest-N."""
    try:
        with _open_store(store) as opened:
            row = opened.run(run)
    except LeadassignError as error:
        _fail(error)
    if as_json:
        click.echo(json.dumps(row.summary, indent=2, sort_keys=False))
        return
    click.echo(f"run {row.id}: {row.command} at {row.created_at}, leadassign {row.version}")
    if row.rerun_of is not None:
        click.echo(f"re-run of run {row.rerun_of} (same inputs and policy; not solved again)")
    if row.from_run is not None:
        click.echo(f"owners from run {row.from_run}")
    summary = row.summary
    click.echo(
        f"status: {row.status}" + (f", interrupted by {row.interrupted}" if row.interrupted else "")
    )
    if row.has_assignment:
        click.echo(
            f"assigned: {row.assigned} of {row.leads} leads; expected value "
            f"{_figure(row.expected_value, ',.2f')}; gap {_figure(row.gap, '.2e')}; "
            f"reassigned {_figure(row.reassigned)}"
        )
    for conflict in summary.get("conflicts") or []:
        click.echo(f"  conflict: {conflict}")
    rebalanced = summary.get("rebalance")
    if rebalanced:
        click.echo(
            f"rebalance: {rebalanced['owners_carried']} owners carried, "
            f"{rebalanced['new_leads']} new leads, {rebalanced['vanished_leads']} gone, "
            f"{rebalanced['owners_gone']} owners no longer reps"
        )
    for name, digest in sorted(row.inputs.items()):
        click.echo(f"input {name}: sha256 {digest}")
    if row.out:
        click.echo(f"written to: {row.out}")


@main.command(
    name="diff",
    epilog="""\b
Examples:
  leadassign diff latest-1 latest
  leadassign diff 3 7 --out moves.csv
""",
)
@click.argument("run_a")
@click.argument("run_b")
@_store_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the CSV here instead of stdout.",
)
def diff_command(run_a: str, run_b: str, store: str, out: Path | None) -> None:
    """List the leads whose owner differs between two runs, as CSV: lead_id, rep_before,
    rep_after, change (moved, assigned, unassigned, added, vanished), expected_value_after."""
    try:
        with _open_store(store) as opened:
            first, second = opened.run(run_a), opened.run(run_b)
            changes = owner_changes(opened.assignment(first), opened.assignment(second))
        _emit_csv(changes, out)
    except LeadassignError as error:
        _fail(error)
    counts = changes["change"].value_counts()
    described = ", ".join(f"{name} {int(counts[name])}" for name in sorted(counts.index))
    click.echo(
        f"{len(changes)} leads changed owner between run {first.id} and run {second.id}"
        + (f": {described}" if described else ""),
        err=True,
    )


def _emit_csv(frame: pd.DataFrame, out: Path | None) -> None:
    if out is None:
        click.echo(frame.to_csv(index=False, lineterminator="\n"), nl=False)
        return
    parent = out.parent if str(out.parent) else Path(".")
    write_files(parent, {out.name: functools.partial(write_csv, frame)})


@main.command(
    name="export",
    epilog="""\b
Examples:
  leadassign export latest --format salesforce --owner-map users.csv --out owners.csv
  leadassign export 12 --format hubspot --owner-map hubspot_users.csv --out import.csv
  leadassign export latest --format csv --all
\b
Salesforce Data Loader: an update of Lead with Id,OwnerId. HubSpot: import the file to update
existing records (Record ID, and the object's owner: the user's email or id).
""",
)
@click.argument("run")
@_store_option
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), required=True, help="The CRM's file layout."
)
@click.option(
    "--owner-map",
    type=click.Path(path_type=Path, dir_okay=False),
    help="rep_id,owner_id table: each rep's user id in the CRM (default: the rep_id).",
)
@click.option("--all", "all_leads", is_flag=True, help="Every lead, not only changed owners.")
@click.option(
    "--unassigned-owner",
    help="CRM owner (a queue, say) for leads the run left unassigned; without it they are "
    "left out of the file, and counted.",
)
@click.option(
    "--hubspot-object",
    type=click.Choice(HUBSPOT_OBJECTS),
    default="contact",
    show_default=True,
    help="HubSpot: whose owner column ('Contact owner', ...).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the file here instead of stdout.",
)
def export_command(
    run: str,
    store: str,
    fmt: Format,
    owner_map: Path | None,
    all_leads: bool,
    unassigned_owner: str | None,
    hubspot_object: str,
    out: Path | None,
) -> None:
    """Write the owner-update file a CRM imports, for a recorded RUN's changed owners."""
    try:
        mapping = None if owner_map is None else read_owner_map(owner_map)
        with _open_store(store) as opened:
            row = opened.run(run)
            made = export(
                opened.assignment(row),
                fmt,
                owner_map=mapping,
                owner_map_name=str(owner_map),
                all_leads=all_leads,
                unassigned_owner=unassigned_owner,
                hubspot_object=hubspot_object,
            )
        _emit_csv(made.frame, out)
    except LeadassignError as error:
        _fail(error)
    what = "leads" if all_leads else "owner changes"
    click.echo(f"run {row.id}: {len(made.frame)} {what} in the {fmt} file", err=True)
    if len(made.left_out):
        click.echo(
            f"left out: {len(made.left_out)} leads the run left unassigned (a CRM record "
            "always has an owner; --unassigned-owner ID puts them on a queue): "
            + ", ".join(made.left_out["lead_id"].head(10).tolist())
            + (" ..." if len(made.left_out) > 10 else ""),
            err=True,
        )


@main.command(
    epilog="""\b
Example:
  leadassign baseline --strategy round-robin --leads leads.csv --reps reps.csv --out rr/
  leadassign solve --leads leads.csv --reps reps.csv --out run/   # then compare summary.json
\b
Exit codes: 0 assigned, 2 bad input.
"""
)
@click.option(
    "--strategy",
    required=True,
    type=click.Choice(STRATEGIES),
    help="round-robin: leads in input order, each to the next eligible rep with room; "
    "weighted-round-robin: each to the eligible rep with room that is least full relative "
    "to its capacity; greedy: highest expected value pairs first.",
)
@_input_options
@_output_options
def baseline(
    strategy: str,
    leads: Path,
    reps: Path,
    affinity: Path | None,
    pairs: Path | None,
    pairs_mode: str,
    policy: Path | None,
    out: Path,
    matrix: bool,
) -> None:
    """Assign the book the way a CRM would, to compare with solve.

    Eligibility, tiers, value weights, affinities, the pairs table and capacity apply as in
    solve; fairness, continuity, accounts and min_leads are ignored, as CRMs do.
    """
    try:
        problem, pol = _load(leads, reps, affinity, pairs, pairs_mode, policy)
        if matrix:
            check_matrix_size(problem.n_leads, problem.n_reps)
        result = run_baseline(problem, strategy, pol)
        code = _report(result, out, matrix)
        ignored = (result.baseline or {}).get("ignored", [])
        if ignored:
            click.echo(f"ignored, as CRMs do: {', '.join(ignored)}")
    except LeadassignError as error:
        _fail(error)
    sys.exit(code)


@main.command(
    epilog="""\b
Example:
  leadassign validate --leads leads.csv --reps reps.csv --policy policy.yaml
\b
Exit codes: 0 the inputs are valid, 2 bad input (the message names file, row and column).
"""
)
@_input_options
def validate(
    leads: Path,
    reps: Path,
    affinity: Path | None,
    pairs: Path | None,
    pairs_mode: str,
    policy: Path | None,
) -> None:
    """Check the input tables and the policy; solve nothing, write nothing."""
    try:
        problem, pol = _load(leads, reps, affinity, pairs, pairs_mode, policy)
        click.echo(describe_inputs(problem, pol))
    except LeadassignError as error:
        _fail(error)


@main.command(
    epilog="""\b
Examples:
  leadassign demo
  leadassign demo --leads 5000 --reps 120 --out demo-run/
"""
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write the sample inputs (input/) and the outputs to this folder.",
)
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
@_solver_options
def demo(
    out: Path | None, n_leads: int, n_reps: int, effort: bool, sample_seed: int, **solver: Any
) -> None:
    """Make a realistic sample book, solve it and print a short summary.

    The sample has five territories, six industries, language and enterprise skills, three
    rep levels, training floors for novices, industry affinities and a few reps on leave.
    """
    from leadassign.demo import make_sample

    sample = make_sample(n_leads, n_reps, seed=sample_seed, effort=effort)
    click.echo(
        f"sample: {n_leads} leads, {n_reps} reps "
        f"({int((sample.reps['available'] == 'false').sum())} on leave), "
        f"{len(sample.affinity)} affinities"
    )
    try:
        problem = load_problem(sample.leads, sample.reps, sample.affinity)
        with _progress_line(solver, Policy()) as progress:
            result = solve(problem, Policy(), progress=progress, **solver)
        if out is not None:
            frames = {
                "leads.csv": sample.leads,
                "reps.csv": sample.reps,
                "affinity.csv": sample.affinity,
            }
            write_files(
                out / "input",
                {name: functools.partial(write_csv, frame) for name, frame in frames.items()},
            )
        code = _report(result, out, matrix=False)
    except LeadassignError as error:
        _fail(error)
    if out is not None:
        click.echo(
            f"rerun it: leadassign solve --leads {out}/input/leads.csv "
            f"--reps {out}/input/reps.csv --affinity {out}/input/affinity.csv --out {out}"
        )
    sys.exit(code)


def run_line(run: Any) -> str:
    """One finished run of a comparison, in words."""
    gap = run.summary.get("gap")
    figures = f", gap {gap:.2e}" if isinstance(gap, float) else ""
    return (
        f"{run.name}: {run.status.value}{figures}, {run.summary.get('assigned')} assigned, "
        f"{run.summary.get('solve_s')} s"
    )


class RunBoard:
    """On a terminal: one line per run of a comparison (waiting, or how it ended) and a bar
    of the runs done, redrawn in place as each finishes."""

    WIDTH = 30

    def __init__(self, names: list[str], stream: Any) -> None:
        self.names, self.stream = names, stream
        self.lines = {name: "waiting" for name in names}
        self.drawn = False
        self.draw()

    def finished(self, run: Any) -> None:
        self.lines[run.name] = run_line(run).split(": ", 1)[1]
        self.draw()

    def draw(self) -> None:
        done = sum(1 for line in self.lines.values() if line != "waiting")
        filled = round(self.WIDTH * done / max(len(self.names), 1))
        rows = [f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{len(self.names)} runs"]
        width = max(len(name) for name in self.names)
        rows += [f"  {name:<{width}}  {self.lines[name]}" for name in self.names]
        if self.drawn:
            self.stream.write(f"\x1b[{len(rows)}F")
        self.stream.write("".join(f"\x1b[2K{row}\n" for row in rows))
        self.stream.flush()
        self.drawn = True


@main.command(
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
"""
)
@_scenario_options
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
def compare(
    scenario_file: Path,
    out: Path,
    jobs: int,
    time_limit_s: float | None,
    json_log: bool,
    executor: str,
    cold: bool,
) -> None:
    """What-if scenarios: solve a base book and its variants, and compare them."""
    from leadassign.scenarios import load_scenario

    events = JsonEvents(sys.stderr) if json_log else None
    try:
        scenario = load_scenario(scenario_file)
        runs, written = _scenario_runs(
            "compare",
            scenario,
            out,
            jobs,
            time_limit_s,
            events,
            executor="ray" if executor == "ray" else "local",
            warm=not cold,
        )
    except LeadassignError as error:
        _fail(error, events)
    if events is None:
        click.echo(
            f"wrote {written[0]}, {len(written) - 2} diff files and {written[-1]}; "
            f"runs in {out}/<run>/"
        )
    sys.exit(_scenario_done(runs, written, events))


def _scenario_runs(
    command: str,
    scenario: Any,
    out: Path,
    jobs: int,
    time_limit_s: float | None,
    events: JsonEvents | None,
    *,
    executor: Literal["local", "ray"] = "local",
    warm: bool = True,
    sweep: Any = None,
) -> tuple[list[Any], list[Path]]:
    """compare and frontier: check every run, solve them, write the comparison. Progress:
    the board on a terminal, run_finished events under --json, else nothing."""
    from leadassign.scenarios import run_all, write_comparison
    from leadassign.scenarios.spec import check

    if events is not None:
        events.emit("start", command=command, version=__version__, runs=scenario.names)
    check(scenario)
    board = None
    if events is None and sys.stderr.isatty():  # quiet in cron jobs and pipes
        board = RunBoard(scenario.names, sys.stderr)

    def finished(run: Any) -> None:
        if board is not None:
            board.finished(run)
        if events is not None:
            summary = run.summary
            events.emit(
                "run_finished",
                run=run.name,
                status=run.status.value,
                gap=summary.get("gap"),
                assigned=summary.get("assigned"),
                expected_value=summary.get("expected_value"),
                solve_s=summary.get("solve_s"),
            )

    runs = run_all(
        scenario,
        out,
        jobs=jobs,
        executor=executor,
        time_limit_s=time_limit_s,
        warm=warm,
        done=finished,
    )
    title = "Frontier" if sweep is not None else "What-if comparison"
    written = write_comparison(runs, out, title=title, sweep=sweep)
    return runs, written


def _scenario_done(runs: list[Any], written: list[Path], events: JsonEvents | None) -> int:
    code = max(EXIT_BY_STATUS[run.status] for run in runs)
    if events is not None:
        events.emit(
            "done",
            exit_code=code,
            runs={run.name: run.status.value for run in runs},
            written=[str(path) for path in written],
        )
    return code


@main.command(
    epilog="""\b
Example (a scenario file with a sweep: block):
  leadassign frontier examples/frontier.yaml --out frontier/
\b
Writes OUT/frontier.csv (one row per value of the knob: expected value, the figure it is
traded against, dominated or not), OUT/comparison.csv, OUT/diff_<point>.csv, OUT/report.html
and each run's files in OUT/<run>/. Exit codes as for compare.
"""
)
@_scenario_options
def frontier(
    scenario_file: Path, out: Path, jobs: int, time_limit_s: float | None, json_log: bool
) -> None:
    """Value against fairness or churn: solve a range of one policy knob (the scenario's
    sweep: block) and mark the dominated settings."""
    from leadassign.scenarios import load_scenario
    from leadassign.scenarios.spec import sweep_scenario

    events = JsonEvents(sys.stderr) if json_log else None
    try:
        scenario = sweep_scenario(load_scenario(scenario_file))
        sweep = scenario.sweep
        assert sweep is not None
        runs, written = _scenario_runs(
            "frontier", scenario, out, jobs, time_limit_s, events, sweep=sweep
        )
    except LeadassignError as error:
        _fail(error, events)
    if events is None:
        metric = sweep.metric()
        for row in pd.read_csv(written[0], keep_default_na=False).to_dict("records"):
            mark = "  (dominated)" if bool(row["dominated"]) else ""
            click.echo(
                f"{row['key']} = {row['value']}: {row['status']}, expected value "
                f"{row['expected_value']}, {metric} {row[metric]}{mark}"
            )
        click.echo(f"wrote {written[0]}, {written[1]}, {written[-1]} and the runs in {out}/<run>/")
    sys.exit(_scenario_done(runs, written, events))


if __name__ == "__main__":  # pragma: no cover
    main()
