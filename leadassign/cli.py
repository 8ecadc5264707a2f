"""The ``leadassign`` command: parse options, call the library, print. No solving logic here.

Exit codes (DESIGN §4): 0 solved (OPTIMAL or FEASIBLE), 1 internal error, 2 bad input or
usage, 3 INFEASIBLE, 4 no solution within the time limit.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import pandas as pd

from leadassign import __version__
from leadassign.baselines import STRATEGIES, run_baseline
from leadassign.errors import LeadassignError
from leadassign.models import Policy, Problem, load_policy, load_problem
from leadassign.output import check_matrix_size, write_csv, write_files, write_result
from leadassign.report import describe_inputs, human_summary
from leadassign.solver import Result, Status, solve
from leadassign.solver.prices import price_rules as with_prices
from leadassign.solver.progress import TerminalProgress

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_INFEASIBLE, EXIT_NO_SOLUTION = 0, 1, 2, 3, 4
EXIT_BY_STATUS = {
    Status.OPTIMAL: EXIT_OK,
    Status.FEASIBLE: EXIT_OK,
    Status.INFEASIBLE: EXIT_INFEASIBLE,
    Status.UNKNOWN: EXIT_NO_SOLUTION,
    Status.MODEL_INVALID: EXIT_INTERNAL,
}

F = TypeVar("F", bound=Callable[..., Any])


def _fail(error: LeadassignError) -> NoReturn:
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
    for option in reversed(options):
        command = option(command)
    return command


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
    for option in reversed(options):
        command = option(command)
    return command


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
            help="Seconds per run (default: each run's policy).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _solver_options(command: F) -> F:
    options = [
        click.option(
            "--time-limit",
            "time_limit_s",
            type=click.FloatRange(min=0, min_open=True),
            help="Seconds the solver may use (default: policy, else 60).",
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
    for option in reversed(options):
        command = option(command)
    return command


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
    policy = load_policy(policy_path)
    problem = load_problem(
        leads,
        reps,
        affinity,
        pairs,
        pairs_mode="override" if pairs_mode == "override" else "only",
        policy=policy,
    )
    return problem, policy


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
Exit codes: 0 solved (OPTIMAL or FEASIBLE), 2 bad input, 3 INFEASIBLE (the conflicting
rules are named), 4 no solution within the time limit.
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="leadassign")
def main() -> None:
    """Decide which sales rep owns which lead: one optimal, proven assignment per cycle.

    \b
    Start with:   leadassign demo
    Then:         leadassign solve --leads leads.csv --reps reps.csv --out run/
    """


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
    **solver: Any,
) -> None:
    """Solve: assign as many leads as possible, then maximize expected value."""
    try:
        problem, pol = _load(leads, reps, affinity, pairs, pairs_mode, policy)
        if matrix:
            check_matrix_size(problem.n_leads, problem.n_reps)
        with _progress_line(solver, pol) as progress:
            result = solve(problem, pol, progress=progress, **solver)
        if price_rules and result.has_solution:
            result = with_prices(result)
        code = _report(result, out, matrix)
    except LeadassignError as error:
        _fail(error)
    sys.exit(code)


solve_command.name = "solve"


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
    executor: str,
    cold: bool,
) -> None:
    """What-if scenarios: solve a base book and its variants, and compare them."""
    from leadassign.scenarios import load_scenario, run_all, write_comparison
    from leadassign.scenarios.spec import check

    try:
        scenario = load_scenario(scenario_file)
        check(scenario)
        # progress on a terminal only (quiet in cron jobs and pipes)
        board = RunBoard(scenario.names, sys.stderr) if sys.stderr.isatty() else None
        runs = run_all(
            scenario,
            out,
            jobs=jobs,
            executor="ray" if executor == "ray" else "local",
            time_limit_s=time_limit_s,
            warm=not cold,
            done=board.finished if board is not None else None,
        )
        written = write_comparison(runs, out)
    except LeadassignError as error:
        _fail(error)
    click.echo(
        f"wrote {written[0]}, {len(written) - 2} diff files and {written[-1]}; runs in {out}/<run>/"
    )
    sys.exit(max(EXIT_BY_STATUS[run.status] for run in runs))


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
def frontier(scenario_file: Path, out: Path, jobs: int, time_limit_s: float | None) -> None:
    """Value against fairness or churn: solve a range of one policy knob (the scenario's
    sweep: block) and mark the dominated settings."""
    from leadassign.scenarios import load_scenario, run_all, write_comparison
    from leadassign.scenarios.spec import check, sweep_scenario

    try:
        scenario = sweep_scenario(load_scenario(scenario_file))
        sweep = scenario.sweep
        assert sweep is not None
        check(scenario)
        board = RunBoard(scenario.names, sys.stderr) if sys.stderr.isatty() else None
        runs = run_all(
            scenario,
            out,
            jobs=jobs,
            time_limit_s=time_limit_s,
            done=board.finished if board is not None else None,
        )
        written = write_comparison(runs, out, title="Frontier", sweep=sweep)
    except LeadassignError as error:
        _fail(error)
    metric = sweep.metric()
    for row in pd.read_csv(written[0], keep_default_na=False).to_dict("records"):
        mark = "  (dominated)" if bool(row["dominated"]) else ""
        click.echo(
            f"{row['key']} = {row['value']}: {row['status']}, expected value "
            f"{row['expected_value']}, {metric} {row[metric]}{mark}"
        )
    click.echo(f"wrote {written[0]}, {written[1]}, {written[-1]} and the runs in {out}/<run>/")
    sys.exit(max(EXIT_BY_STATUS[run.status] for run in runs))


if __name__ == "__main__":  # pragma: no cover
    main()
