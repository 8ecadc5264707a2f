"""The validate use case: check the input tables and the policy; solve and write nothing."""

from __future__ import annotations

from leadassign.app.inputs import Inputs, load
from leadassign.control.stop import Stop
from leadassign.report import describe_inputs
from leadassign.store.db import Interrupted


def validate(inputs: Inputs, stop: Stop | None = None) -> str:
    """The inputs described in words (raises InputError, exit 2, on the first bad one)."""
    problem, policy = load(inputs)
    text = describe_inputs(problem, policy)
    if stop is not None and stop.is_set():
        raise Interrupted(f"interrupted by {stop.reason}: the validation did not finish")
    return text
