"""The compare and frontier use cases: check every run of a scenario, solve them, write the
comparison (the whole folder at the end, in one swap)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from leadassign import __version__
from leadassign.control.stop import Stop
from leadassign.events import JsonEvents
from leadassign.publish import target
from leadassign.scenarios import Scenario, load_scenario, run_all, write_comparison
from leadassign.scenarios.run import Run
from leadassign.scenarios.spec import Sweep, check, sweep_scenario

#: Called with the run names once they are checked; returns what to call as each run ends.
Board = Callable[[list[str]], Callable[[Run], None]]


@dataclass(frozen=True)
class Comparison:
    """The runs of a comparison, and the top-level files written (comparison.csv first for
    compare, frontier.csv first for frontier; report.html last)."""

    runs: list[Run]
    written: list[Path]


def load(scenario_file: Path, *, sweep: bool = False) -> Scenario:
    """The scenario file, validated; with ``sweep``, its sweep: block made into variants."""
    scenario = load_scenario(scenario_file)
    return sweep_scenario(scenario) if sweep else scenario


def compare(
    scenario: Scenario,
    out: Path,
    *,
    jobs: int = 1,
    time_limit_s: float | None = None,
    events: JsonEvents | None = None,
    executor: Literal["local", "ray"] = "local",
    warm: bool = True,
    stop: Stop | None = None,
    force: bool = False,
    scenario_file: Path | None = None,
    board: Board | None = None,
) -> Comparison:
    """Solve the base and its variants and write the comparison into ``out``."""
    return _solve_and_write(
        "compare", scenario, out, jobs, time_limit_s, events,
        executor=executor, warm=warm, sweep=None, stop=stop, force=force,
        scenario_file=scenario_file, board=board,
    )  # fmt: skip


def frontier(
    scenario: Scenario,
    out: Path,
    *,
    jobs: int = 1,
    time_limit_s: float | None = None,
    events: JsonEvents | None = None,
    stop: Stop | None = None,
    force: bool = False,
    scenario_file: Path | None = None,
    board: Board | None = None,
) -> Comparison:
    """Solve each point of the scenario's sweep (``load(..., sweep=True)``) and write the
    comparison and frontier.csv into ``out``."""
    sweep = scenario.sweep
    assert sweep is not None, "load the scenario with sweep=True"
    return _solve_and_write(
        "frontier", scenario, out, jobs, time_limit_s, events,
        executor="local", warm=True, sweep=sweep, stop=stop, force=force,
        scenario_file=scenario_file, board=board,
    )  # fmt: skip


def _solve_and_write(
    command: str,
    scenario: Scenario,
    out: Path,
    jobs: int,
    time_limit_s: float | None,
    events: JsonEvents | None,
    *,
    executor: Literal["local", "ray"],
    warm: bool,
    sweep: Sweep | None,
    stop: Stop | None,
    force: bool,
    scenario_file: Path | None,
    board: Board | None,
) -> Comparison:
    """Progress: ``board`` (a terminal's), run_finished events under --json, else nothing."""
    if events is not None:
        events.emit("start", command=command, version=__version__, runs=scenario.names)
    base = scenario.base
    tables = [base.leads, base.reps, base.affinity, base.pairs]
    if isinstance(base.policy, str):
        tables.append(base.policy)
    inputs = [scenario_file, *(None if t is None else scenario.path(t) for t in tables)]
    target(out, inputs=inputs, force=force)  # before anything is solved
    built = check(scenario)  # every run built once, before anything is solved
    drawn = None if board is None else board(scenario.names)

    def finished(run: Run) -> None:
        if drawn is not None:
            drawn(run)
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
        built=built,
    )
    title = "Frontier" if sweep is not None else "What-if comparison"
    written = write_comparison(
        runs, out, title=title, sweep=sweep, force=force, inputs=inputs, command=command
    )
    return Comparison(runs, written)
