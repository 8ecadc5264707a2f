"""The baseline use case: assign the book the way a CRM would, to compare with solve."""

from __future__ import annotations

from pathlib import Path

from leadassign.app.inputs import Inputs, load
from leadassign.app.interrupt import not_stopped
from leadassign.baselines import run_baseline
from leadassign.control.stop import Stop
from leadassign.output import check_matrix_size, write_result
from leadassign.publish import target
from leadassign.result import Result


def baseline(
    strategy: str,
    inputs: Inputs,
    out: Path,
    *,
    matrix: bool = False,
    force: bool = False,
    stop: Stop | None = None,
) -> Result:
    """Assign ``inputs`` with ``strategy`` (``baselines.STRATEGIES``) and write the result's
    files into ``out`` as ``leadassign solve`` does (nothing when ``stop`` was set first)."""
    target(out, inputs=inputs.paths, force=force)  # before anything is solved
    problem, policy = load(inputs)
    if matrix:
        check_matrix_size(problem.n_leads, problem.n_reps)
    result = run_baseline(problem, strategy, policy)
    not_stopped(stop, "before the baseline was written; nothing written")
    write_result(result, out, matrix=matrix, force=force, inputs=inputs.paths, command="baseline")
    return result
