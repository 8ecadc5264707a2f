"""The ``leadassign`` command: parse options, call the library, print. No solving logic here.

Exit codes (DESIGN §4): 0 solved (OPTIMAL or FEASIBLE), 1 internal error, 2 bad input or
usage, 3 INFEASIBLE, 4 no solution within the time limit (or before an interrupt), 5 another
run holds the store.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

import click
import pandas as pd

from leadassign import __version__
from leadassign.baselines import STRATEGIES, run_baseline
from leadassign.errors import LeadassignError, printable
from leadassign.events import Events, JsonEvents, NoEvents
from leadassign.models import Policy, Problem, load_policy, load_problem
from leadassign.output import check_matrix_size, csv_text, write_csv, write_result
from leadassign.publish import target, write_file
from leadassign.redact import is_libpq, scrub
from leadassign.report import describe_inputs, human_summary
from leadassign.solver import Result, Status, solve
from leadassign.solver.progress import TerminalProgress
from leadassign.solver.stop import Stop
from leadassign.store import DEFAULT_STORE, RunRow, Store, StoreError
from leadassign.store.crm import FORMATS, HUBSPOT_OBJECTS, Format, export, read_owner_map
from leadassign.store.db import Interrupted, store_name
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


if TYPE_CHECKING:
    _ParamType = click.ParamType[float]
else:  # generic only in newer click (8.2 is allowed)
    _ParamType = click.ParamType


class Seconds(_ParamType):
    """A finite number of seconds, >= 0 (> 0 with ``positive``; at most ``maximum``):
    ``nan``, ``inf``, ``-1`` or ``abc`` are usage errors (exit 2) naming the option, never an
    endless wait. ``unit`` names what is counted (``--work-limit`` counts work units)."""

    name = "seconds"

    def __init__(
        self, *, positive: bool = False, maximum: float | None = None, unit: str = "seconds"
    ) -> None:
        self.positive = positive
        self.maximum = maximum
        self.unit = unit

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of {self.unit}", param, ctx)
        least = "> 0" if self.positive else ">= 0"
        most = "" if self.maximum is None else f" and <= {self.maximum:g}"
        if (
            not math.isfinite(number)
            or number < 0
            or (self.positive and number == 0)
            or (self.maximum is not None and number > self.maximum)
        ):
            self.fail(f"{value!r}: give a finite number of {self.unit} {least}{most}", param, ctx)
        return number


def _fail(error: LeadassignError, events: JsonEvents | None = None) -> NoReturn:
    """The error on stderr (as an ``error`` event under --json), and its exit code."""
    if events is not None:
        events.emit("error", exit_code=error.exit_code, message=scrub(str(error)))
    else:
        click.echo(f"error: {printable(scrub(str(error)))}", err=True)
    sys.exit(error.exit_code)


class _Main(click.Group):
    """The command group; an exception no command turned into a message (a bug) ends with
    its traceback on stderr as usual, exit 1, but with any known secret replaced by ``***``
    and control characters escaped (a driver's error may quote the connection string)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception:
            import traceback

            text = printable(scrub(traceback.format_exc()), lines=True)
            click.echo(text.rstrip("\n"), err=True)
            click.echo(
                "error: internal error (a bug): please report it with the lines above", err=True
            )
            sys.exit(EXIT_INTERNAL)


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
        _force_option,
    ]
    return _stacked(options, command)


_force_option = click.option(
    "--force",
    is_flag=True,
    help="Write into a folder that holds files leadassign did not write: they are kept "
    "(those named like an output file are replaced). Inputs are never written over.",
)
_force_file_option = click.option(
    "--force",
    is_flag=True,
    help="Replace the --out file when it exists (never an input).",
)


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
        _force_option,
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
            type=Seconds(positive=True),
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
            type=Seconds(positive=True),
            help="Seconds the solver may use (default: policy, else 60): a wall-clock "
            "backstop; summary.json says limited_by time when it cut the search.",
        ),
        click.option(
            "--work-limit",
            "work_limit",
            type=Seconds(positive=True, maximum=1e6, unit="work units"),
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
            type=Seconds(),
            default=None,
            help="Seconds to wait while another run holds the store, then exit 5 (default: "
            "exit 5 at once). A PostgreSQL store that does not answer is given up after "
            "this long (2 s at least, 30 s at most; default 30 s).",
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


def _report(
    result: Result,
    out: Path | None,
    matrix: bool,
    *,
    force: bool = False,
    inputs: Sequence[Path | None] = (),
    extra: dict[str, pd.DataFrame] | None = None,
    command: str = "solve",
) -> int:
    """Write outputs (if ``out``; ``extra`` tables too), print the summary or the conflicts;
    return the exit code."""
    if out is not None:
        write_result(
            result, out, matrix=matrix, extra=extra, force=force, inputs=inputs, command=command
        )
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


@click.group(
    cls=_Main,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="leadassign")
def main() -> None:
    """Decide which sales rep owns which lead: one optimal, proven assignment per cycle.

    \b
    Start with:   leadassign demo
    Then:         leadassign solve --leads leads.csv --reps reps.csv --out run/
    Every week:   leadassign rebalance --leads leads.csv --reps reps.csv --out run/
    """


#: Seconds a command gets after SIGINT or SIGTERM to end on its own (keeping its best
#: answer) before it is ended: within 5 s of the signal, whatever it was doing.
GRACE_S = 4.5


def _interruptible(
    work: Callable[[Stop], T],
    events: JsonEvents | None = None,
    *,
    grace_s: float = GRACE_S,
    what: str = "the run",
) -> T:
    """``work(stop)`` in a worker thread while this (main) thread turns SIGINT and SIGTERM
    into ``stop.set(...)``: the solver then ends with the best assignment it has, and the
    run writes and records it whole instead of dying halfway. (A signal handler only runs in
    the main thread between Python instructions, never while it waits inside a solver.)
    Work that has not ended ``grace_s`` seconds after the first signal (or at a second
    signal) is ended: its child processes are terminated and the process exits 4 with a
    message (:func:`_abandon`)."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        return work(stop)
    box: dict[str, Any] = {}
    signals: list[str] = []

    def target() -> None:
        try:
            box["value"] = work(stop)
        except BaseException as exc:  # handed to the main thread, which raises it
            box["error"] = exc

    def handler(signum: int, _frame: Any) -> None:
        signals.append(signal.Signals(signum).name)
        stop.set(signals[-1])

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        thread = threading.Thread(target=target, name="leadassign-run", daemon=True)
        thread.start()
        deadline: float | None = None
        while thread.is_alive():
            thread.join(0.1)
            if stop.is_set() and thread.is_alive():
                deadline = deadline or time.monotonic() + grace_s
                if len(signals) > 1 or time.monotonic() >= deadline:
                    _abandon(stop.reason or "a signal", grace_s, what, events)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def _abandon(reason: str, grace_s: float, what: str, events: JsonEvents | None) -> NoReturn:
    """End the process now: ``what`` did not stop within ``grace_s`` of the signal (a
    database that does not answer, a library call that does not listen). Child processes
    (compare's workers) are terminated first; exit 4 with a message."""
    from leadassign.scenarios.compare import end_processes

    end_processes(multiprocessing.active_children(), grace_s=1.0)
    message = (
        f"interrupted by {reason}: {what} did not stop within {grace_s:g} s and was ended; "
        "what it had not finished was neither written nor recorded"
    )
    if events is not None:
        events.emit("error", exit_code=EXIT_NO_SOLUTION, message=message)
    else:
        click.echo(f"error: {message}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_NO_SOLUTION)


def _exit(code: int) -> NoReturn:
    """Exit with ``code``; at once (no interpreter shutdown) while an abandoned worker
    thread (``leadassign-*``) still runs inside a solver library, which it could crash."""
    if any(t.name.startswith("leadassign-") and t.is_alive() for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


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
) -> NoReturn:
    """solve and rebalance: run, record, report; exits with the run's code."""
    events: JsonEvents | None = JsonEvents(sys.stderr) if json_log else None
    try:
        policy = load_policy(inputs.policy)

        def work(stop: Stop) -> Outcome:
            with contextlib.ExitStack() as stack:
                opened = None if store is None else stack.enter_context(Store(store, wait=wait))
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
                    wait=wait or 0.0,
                    stop=stop,
                    events=told,
                    force=force,
                )

        outcome = _interruptible(work, events)
    except LeadassignError as error:
        _fail(error, events)
    code = EXIT_BY_STATUS[outcome.status]
    if events is not None:
        if not outcome.has_solution:
            stopped = outcome.summary.get("interrupted")
            why = (
                f"interrupted by {stopped} before any assignment was found; nothing written"
                if stopped is not None
                else _why_not(command, outcome.status, out / "summary.json")[len("error: ") :]
            )
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
    else:
        _say(outcome, store, out, matrix)
    _exit(code)


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
        if not outcome.has_solution:
            why = _why_not(f"run {outcome.rerun_of}", outcome.status, out / "summary.json")
            click.echo(why, err=True)
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
        click.echo(printable(f"wrote {', '.join(p.name for p in outcome.written)} to {out}"))
    if outcome.run_id is not None:
        click.echo(printable(f"recorded as run {outcome.run_id} in {store_name(store or '')}"))


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
    force: bool,
    price_rules: bool,
    store: str,
    wait: float | None,
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
        force=force,
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
    force: bool,
    from_run: str,
    store: str,
    wait: float | None,
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
        force=force,
    )


def _open_store(store: str) -> Store:
    """An existing store, for the commands that read it (a missing SQLite file is not
    created)."""
    if "://" not in store and not is_libpq(store) and not Path(store).expanduser().is_file():
        raise StoreError(
            f"no run history at {store}: runs are recorded by leadassign solve and rebalance "
            "(or pass --store)"
        )
    return Store(store)


def _store_file(store: str) -> Path | None:
    """The SQLite file a --store names (an input no single-file --out may replace)."""
    if is_libpq(store) or ("://" in store and not store.startswith("sqlite:///")):
        return None
    return Path(store.removeprefix("sqlite:///")).expanduser()


def _read(store: str, read: Callable[[Store], T]) -> T:
    """``read`` the existing store, under SIGINT and SIGTERM: readers keep nothing, so one
    that has not ended 1 s after the signal (a server that does not answer) is ended."""

    def work(_stop: Stop) -> T:
        with _open_store(store) as opened:
            return read(opened)

    return _interruptible(work, grace_s=1.0, what="reading the store")


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
        rows = _read(store, lambda opened: opened.runs(limit=limit))
    except LeadassignError as error:
        _fail(error)
    if as_json:
        for row in rows:
            click.echo(json.dumps(_run_fields(row), sort_keys=False))
        return
    if not rows:
        click.echo(printable(f"no runs recorded in {store_name(store)}"))
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
        row = _read(store, lambda opened: opened.run(run))
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
        click.echo(f"  conflict: {printable(str(conflict))}")
    rebalanced = summary.get("rebalance")
    if rebalanced:
        click.echo(
            f"rebalance: {rebalanced['owners_carried']} owners carried, "
            f"{rebalanced['new_leads']} new leads, {rebalanced['vanished_leads']} gone, "
            f"{rebalanced['owners_gone']} owners no longer reps"
        )
    for name, digest in sorted(row.inputs.items()):
        click.echo(printable(f"input {name}: sha256 {digest}"))
    if row.out:
        click.echo(printable(f"written to: {row.out}"))


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
    help="Write the CSV here instead of stdout (an existing file only with --force).",
)
@_force_file_option
def diff_command(run_a: str, run_b: str, store: str, out: Path | None, force: bool) -> None:
    """List the leads whose owner differs between two runs, as CSV: lead_id, rep_before,
    rep_after, change (moved, assigned, unassigned, added, vanished), expected_value_after."""

    def read(opened: Store) -> tuple[RunRow, RunRow, pd.DataFrame]:
        first, second = opened.run(run_a), opened.run(run_b)
        return first, second, owner_changes(opened.assignment(first), opened.assignment(second))

    try:
        first, second, changes = _read(store, read)
        _emit_csv(changes, out, force, [_store_file(store)])
    except LeadassignError as error:
        _fail(error)
    counts = changes["change"].value_counts()
    described = ", ".join(f"{name} {int(counts[name])}" for name in sorted(counts.index))
    click.echo(
        f"{len(changes)} leads changed owner between run {first.id} and run {second.id}"
        + (f": {described}" if described else ""),
        err=True,
    )


def _emit_csv(
    frame: pd.DataFrame, out: Path | None, force: bool, inputs: Sequence[Path | None]
) -> None:
    """The table on stdout, or as the one file ``out`` (nothing else is touched)."""
    if out is None:
        text = csv_text(frame)  # on a terminal, control characters shown escaped
        click.echo(printable(text, lines=True) if sys.stdout.isatty() else text, nl=False)
        return
    write_file(out, functools.partial(write_csv, frame), force=force, inputs=inputs)


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
    help="Write the file here instead of stdout (an existing file only with --force).",
)
@_force_file_option
def export_command(
    run: str,
    store: str,
    fmt: Format,
    owner_map: Path | None,
    all_leads: bool,
    unassigned_owner: str | None,
    hubspot_object: str,
    out: Path | None,
    force: bool,
) -> None:
    """Write the owner-update file a CRM imports, for a recorded RUN's changed owners."""
    try:
        mapping = None if owner_map is None else read_owner_map(owner_map)

        def read(opened: Store) -> tuple[RunRow, pd.DataFrame]:
            found = opened.run(run)
            return found, opened.assignment(found)

        row, assignment = _read(store, read)
        made = export(
            assignment,
            fmt,
            owner_map=mapping,
            owner_map_name=str(owner_map),
            all_leads=all_leads,
            unassigned_owner=unassigned_owner,
            hubspot_object=hubspot_object,
        )
        _emit_csv(made.frame, out, force, [owner_map, _store_file(store)])
    except LeadassignError as error:
        _fail(error)
    what = "leads" if all_leads else "owner changes"
    click.echo(f"run {row.id}: {len(made.frame)} {what} in the {fmt} file", err=True)
    if len(made.left_out):
        click.echo(
            f"left out: {len(made.left_out)} leads the run left unassigned (a CRM record "
            "always has an owner; --unassigned-owner ID puts them on a queue): "
            + printable(", ".join(made.left_out["lead_id"].head(10).tolist()))
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
    force: bool,
) -> None:
    """Assign the book the way a CRM would, to compare with solve.

    Eligibility, tiers, value weights, affinities, the pairs table and capacity apply as in
    solve; fairness, continuity, accounts and min_leads are ignored, as CRMs do.
    """
    inputs = [leads, reps, affinity, pairs, policy]

    def work(stop: Stop) -> tuple[Result, int]:
        target(out, inputs=inputs, force=force)  # before anything is solved
        problem, pol = _load(leads, reps, affinity, pairs, pairs_mode, policy)
        if matrix:
            check_matrix_size(problem.n_leads, problem.n_reps)
        result = run_baseline(problem, strategy, pol)
        _not_stopped(stop, "before the baseline was written")
        return result, _report(result, out, matrix, force=force, inputs=inputs, command="baseline")

    try:
        result, code = _interruptible(work, what="the baseline")
        ignored = (result.baseline or {}).get("ignored", [])
        if ignored:
            click.echo(f"ignored, as CRMs do: {', '.join(ignored)}")
    except LeadassignError as error:
        _fail(error)
    _exit(code)


def _not_stopped(stop: Stop, when: str) -> None:
    """Raise Interrupted (exit 4) when a signal came: the command keeps nothing."""
    if stop.is_set():
        raise Interrupted(f"interrupted by {stop.reason} {when}; nothing written")


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

    def work(stop: Stop) -> str:
        problem, pol = _load(leads, reps, affinity, pairs, pairs_mode, policy)
        text = describe_inputs(problem, pol)
        if stop.is_set():
            raise Interrupted(f"interrupted by {stop.reason}: the validation did not finish")
        return text

    try:
        text = _interruptible(work, grace_s=1.0, what="the validation")
        click.echo(printable(text, lines=True))
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
@_force_option
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
    from leadassign.demo import make_sample

    try:
        if out is not None:
            target(out, force=force)  # before anything is solved
    except LeadassignError as error:
        _fail(error)

    def work(stop: Stop) -> tuple[Result, int]:
        sample = make_sample(n_leads, n_reps, seed=sample_seed, effort=effort)
        click.echo(
            f"sample: {n_leads} leads, {n_reps} reps "
            f"({int((sample.reps['available'] == 'false').sum())} on leave), "
            f"{len(sample.affinity)} affinities"
        )
        frames = {
            "input/leads.csv": sample.leads,
            "input/reps.csv": sample.reps,
            "input/affinity.csv": sample.affinity,
        }
        problem = load_problem(sample.leads, sample.reps, sample.affinity)
        with _progress_line(solver, Policy()) as progress:
            result = solve(problem, Policy(), progress=progress, stop=stop, **solver)
        if result.interrupted is not None and not result.has_solution:
            raise Interrupted(
                f"interrupted by {result.interrupted} before any assignment was found; "
                "nothing written"
            )
        return result, _report(result, out, matrix=False, force=force, extra=frames, command="demo")

    try:
        result, code = _interruptible(work, what="the demo")
    except LeadassignError as error:
        _fail(error)
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
    _exit(code)


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
    force: bool,
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
        runs, written = _interruptible(
            lambda stop: _scenario_runs(
                "compare",
                scenario,
                out,
                jobs,
                time_limit_s,
                events,
                executor="ray" if executor == "ray" else "local",
                warm=not cold,
                stop=stop,
                force=force,
                scenario_file=scenario_file,
            ),
            events,
            what="the comparison",
        )
    except LeadassignError as error:
        _fail(error, events)
    if events is None:
        click.echo(
            f"wrote {written[0]}, {len(written) - 2} diff files and {written[-1]}; "
            f"runs in {out}/<run>/"
        )
    _exit(_scenario_done(runs, written, events, out))


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
    stop: Stop | None = None,
    force: bool = False,
    scenario_file: Path | None = None,
) -> tuple[list[Any], list[Path]]:
    """compare and frontier: check every run, solve them, write the comparison (the whole
    folder at the end, in one swap). Progress: the board on a terminal, run_finished events
    under --json, else nothing."""
    from leadassign.scenarios import run_all, write_comparison
    from leadassign.scenarios.spec import check

    if events is not None:
        events.emit("start", command=command, version=__version__, runs=scenario.names)
    base = scenario.base
    tables = [base.leads, base.reps, base.affinity, base.pairs]
    if isinstance(base.policy, str):
        tables.append(base.policy)
    inputs = [scenario_file, *(None if t is None else scenario.path(t) for t in tables)]
    target(out, inputs=inputs, force=force)  # before anything is solved
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
        None,
        jobs=jobs,
        executor=executor,
        time_limit_s=time_limit_s,
        warm=warm,
        done=finished,
        stop=stop,
    )
    title = "Frontier" if sweep is not None else "What-if comparison"
    written = write_comparison(
        runs, out, title=title, sweep=sweep, force=force, inputs=inputs, command=command
    )
    return runs, written


def _why_not(name: str, status: Status, summary: Path) -> str:
    """Why a run of a comparison has no assignment, and what to do (one line)."""
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


def _scenario_done(
    runs: list[Any], written: list[Path], events: JsonEvents | None, out: Path
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
        _why_not(run.name, run.status, out / run.name / "summary.json")
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
    scenario_file: Path,
    out: Path,
    force: bool,
    jobs: int,
    time_limit_s: float | None,
    json_log: bool,
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
        runs, written = _interruptible(
            lambda stop: _scenario_runs(
                "frontier",
                scenario,
                out,
                jobs,
                time_limit_s,
                events,
                sweep=sweep,
                stop=stop,
                force=force,
                scenario_file=scenario_file,
            ),
            events,
            what="the frontier",
        )
    except LeadassignError as error:
        _fail(error, events)
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
    _exit(_scenario_done(runs, written, events, out))


if __name__ == "__main__":  # pragma: no cover
    main()
