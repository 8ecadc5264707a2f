"""The demo use case: a realistic sample book, solved (and written, given a folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadassign.control.progress import Progress
from leadassign.control.stop import Stop
from leadassign.demo import Sample, make_sample
from leadassign.models import Policy, load_problem
from leadassign.output import write_result
from leadassign.publish import target
from leadassign.result import Result
from leadassign.solve import solve
from leadassign.store.db import Interrupted


def check_out(out: Path, *, force: bool = False) -> None:
    """Refuse ``out`` before anything is solved (see ``leadassign.publish``)."""
    target(out, force=force)


def sample(n_leads: int, n_reps: int, *, seed: int = 7, effort: bool = False) -> Sample:
    """The sample book (``leadassign.demo.make_sample``)."""
    return make_sample(n_leads, n_reps, seed=seed, effort=effort)


def solve_sample(
    book: Sample,
    out: Path | None,
    *,
    force: bool = False,
    solver: dict[str, Any] | None = None,
    progress: Progress | None = None,
    stop: Stop | None = None,
) -> Result:
    """Solve the sample under the default policy; with ``out``, write its inputs (input/)
    and the result's files there. Interrupted before any assignment: nothing written."""
    frames = {
        "input/leads.csv": book.leads,
        "input/reps.csv": book.reps,
        "input/affinity.csv": book.affinity,
    }
    problem = load_problem(book.leads, book.reps, book.affinity)
    result = solve(problem, Policy(), progress=progress, stop=stop, **(solver or {}))
    if result.interrupted is not None and not result.has_solution:
        raise Interrupted(
            f"interrupted by {result.interrupted} before any assignment was found; nothing written"
        )
    if out is not None:
        write_result(result, out, matrix=False, extra=frames, force=force, command="demo")
    return result
