"""The options commands share: input tables, outputs, solver settings, the store, scenario
files, and the ``Seconds`` type that turns bad numbers into usage errors (exit 2)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from leadassign.app.inputs import Inputs
from leadassign.store import DEFAULT_STORE

F = TypeVar("F", bound=Callable[..., Any])


def stacked(options: Sequence[Callable[[Any], Any]], command: F) -> F:
    """``command`` under ``options``, which then appear in --help in list order."""
    for option in reversed(options):
        command = option(command)
    return command


if TYPE_CHECKING:
    from datetime import datetime

    _ParamType = click.ParamType[float]
    _TimeType = click.ParamType[datetime]
else:  # generic only in newer click (8.2 is allowed)
    _ParamType = click.ParamType
    _TimeType = click.ParamType


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


def input_options(command: F, *, required: bool = True) -> F:
    """--leads and --reps (required unless ``required`` is False), --affinity, --pairs,
    --pairs-mode and --policy."""
    options = [
        click.option(
            "--leads",
            "leads",
            required=required,
            type=click.Path(path_type=Path, dir_okay=False),
            help="Leads table (.csv or .parquet).",
        ),
        click.option(
            "--reps",
            "reps",
            required=required,
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
    return stacked(options, command)


def output_options(command: F) -> F:
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
        force_option,
    ]
    return stacked(options, command)


force_option = click.option(
    "--force",
    is_flag=True,
    help="Write into a folder that holds files leadassign did not write: they are kept "
    "(those named like an output file are replaced). Inputs are never written over.",
)
force_file_option = click.option(
    "--force",
    is_flag=True,
    help="Replace the --out file when it exists (never an input).",
)


def json_option(events: str) -> Callable[[F], F]:
    """``--json``: the run's events (named in ``events``) as JSON lines on stderr."""
    return click.option(
        "--json",
        "json_log",
        is_flag=True,
        help=f"Log one JSON object per event on stderr ({events}), for cron; nothing on stdout.",
    )


def scenario_options(command: F) -> F:
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
        force_option,
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
        json_option("start, run_finished per run, done; no progress board"),
    ]
    return stacked(options, command)


def solver_options(command: F) -> F:
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
    return stacked(options, command)


def history_options(command: F, *, required: bool = True) -> F:
    """``--history`` (the CRM deal history) and ``--columns`` (its column mapping)."""
    return stacked(
        [
            click.option(
                "--history",
                "history_path",
                required=required,
                type=click.Path(path_type=Path, dir_okay=False),
                help="The CRM deal history: one row per deal (CSV or Parquet).",
            ),
            click.option(
                "--columns",
                "columns",
                default=None,
                help="A column mapping file (YAML) or a preset name, when the history is a "
                "raw CRM export.",
            ),
        ],
        command,
    )


store_option = click.option(
    "--store",
    default=DEFAULT_STORE,
    show_default=True,
    envvar="LEADASSIGN_STORE",
    show_envvar=True,
    help="Run history: a SQLite file, or a SQLAlchemy URL (postgresql+psycopg://user@host/db).",
)


def store_options(command: F) -> F:
    """Where runs are recorded, how long to wait for another run, and JSON logs."""
    options = [
        store_option,
        click.option(
            "--wait",
            type=Seconds(),
            default=None,
            help="Seconds to wait while another run holds the store, then exit 5 (default: "
            "exit 5 at once). A PostgreSQL store that does not answer is given up after "
            "this long (2 s at least, 30 s at most; default 30 s).",
        ),
        json_option("start, inputs_loaded, model_built, solution_found, done, summary"),
    ]
    return stacked(options, command)


def inputs_of(
    leads: Path,
    reps: Path,
    affinity: Path | None,
    pairs: Path | None,
    pairs_mode: str,
    policy: Path | None,
) -> Inputs:
    """The parsed ``input_options`` as the run's Inputs."""
    mode: Literal["only", "override"] = "override" if pairs_mode == "override" else "only"
    return Inputs(leads, reps, affinity, pairs, mode, policy)


class RunTime(_TimeType):
    """``--at``: an ISO 8601 timestamp (UTC when it has no offset), parsed by
    :func:`leadassign.models.clock.parse_at`; a bad one is a usage error (exit 2)."""

    name = "timestamp"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from datetime import datetime

        from leadassign.errors import InputError
        from leadassign.models.clock import parse_at

        if isinstance(value, datetime):
            return value
        try:
            return parse_at(str(value))
        except InputError as exc:
            self.fail(exc.message, param, ctx)


#: ``--at``, shared by every command that reads the run time (solve, rebalance, route).
at_option = click.option(
    "--at",
    "at",
    type=RunTime(),
    default=None,
    help="The run time, ISO 8601 (2026-03-02T09:30:00+01:00; UTC without an offset): who "
    "is away and which leads passed their SLA are decided at this time (default: now, "
    "recorded in summary.json operations.at).",
)


def run_date_options(command: F, *, leaving: bool = False) -> F:
    """--at, --time-off and (rebalance) --rep-leaving."""
    options = [
        at_option,
        click.option(
            "--time-off",
            "time_off",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Time-off table (rep_id, away_from, away_until: ISO dates, inclusive; "
            "several periods per rep), added to the reps' own away_from/away_until.",
        ),
    ]
    if leaving:
        options.append(
            click.option(
                "--rep-leaving",
                "rep_leaving",
                multiple=True,
                help="A rep leaving for good (repeatable): their book is handed over, "
                "spread by the same optimization (reason rep_leaving).",
            )
        )
    return stacked(options, command)


def dated_inputs(
    inputs: Inputs, at: Any, time_off: Path | None, leaving: tuple[str, ...] = ()
) -> Inputs:
    """``inputs`` with the parsed run_date_options."""
    from dataclasses import replace

    return replace(inputs, at=at, time_off=time_off, leaving=tuple(leaving))
