"""What a person sees while a command works: the solver's status line, and the board of a
comparison's runs."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any, TextIO

from leadassign.control.progress import TerminalProgress
from leadassign.events import JsonEvents, NoEvents
from leadassign.models import Policy
from leadassign.scenarios.run import Run


def progress_line(
    solver: dict[str, Any], policy: Policy
) -> contextlib.AbstractContextManager[TerminalProgress | None]:
    """Take ``--progress/--no-progress`` out of the solver options: a status line on stderr,
    closed (ended with a newline) when the block ends, or None."""
    wanted = solver.pop("progress", None)
    if wanted is None:
        wanted = sys.stderr.isatty() and not (solver.get("log") or policy.solver.log)
    return TerminalProgress(sys.stderr) if wanted else contextlib.nullcontext()


class ProgressEvents(NoEvents):
    """Events for people: only the solver's progress, on the terminal's status line."""

    def __init__(self, progress: TerminalProgress | None) -> None:
        self._progress = progress

    def phase(self, name: str) -> None:
        if self._progress is not None:
            self._progress.phase(name)

    def update(self, objective: float | None, bound: float | None) -> None:
        if self._progress is not None:
            self._progress.update(objective, bound)


def run_line(run: Run) -> str:
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

    def __init__(self, names: list[str], stream: TextIO) -> None:
        self.names, self.stream = names, stream
        self.lines = {name: "waiting" for name in names}
        self.drawn = False
        self.draw()

    def finished(self, run: Run) -> None:
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


def terminal_board(
    events: JsonEvents | None,
) -> Callable[[list[str]], Callable[[Run], None]] | None:
    """A RunBoard on stderr when it is a terminal and no JSON is logged (quiet in cron jobs
    and pipes), else None."""
    if events is not None or not sys.stderr.isatty():
        return None
    return lambda names: RunBoard(names, sys.stderr).finished
