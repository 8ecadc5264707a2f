"""The validate use case: check the input tables and the policy, or a deal history; solve and
write nothing."""

from __future__ import annotations

from pathlib import Path

from leadassign.app.inputs import Inputs, load
from leadassign.compile.prepare import prepare
from leadassign.control.stop import Stop
from leadassign.input_warnings import InputWarning, input_warnings
from leadassign.outcomes.deals import load_deals
from leadassign.outcomes.mapping import map_history
from leadassign.outcomes.summary import describe_history
from leadassign.report import describe_inputs
from leadassign.store.db import Interrupted


def validate(inputs: Inputs, stop: Stop | None = None) -> str:
    """The inputs described in words (raises InputError, exit 2, on the first bad one)."""
    problem, policy = load(inputs)
    text = describe_inputs(problem, policy)
    if stop is not None and stop.is_set():
        raise Interrupted(f"interrupted by {stop.reason}: the validation did not finish")
    return text


def validate_history(history: str | Path, columns: str | Path | None = None) -> str:
    """The deal history described in words (raises InputError, exit 2, on a bad row)."""
    if columns is None:
        deals = load_deals(history)
        return describe_history(deals)
    mapped = map_history(history, columns)
    return describe_history(mapped.deals, mapped)


def validate_with_warnings(
    inputs: Inputs, stop: Stop | None = None
) -> tuple[str, list[InputWarning]]:
    """``validate``'s text, and the warnings about inputs that are valid but probably not
    what was meant (``leadassign.input_warnings``: leads no rep may take, owners outside
    their lead's territory, names that differ only in case or spaces, reps no lead may go
    to). The CLI prints them on stderr and exits 2 on any with ``--strict``."""
    problem, policy = load(inputs)
    cands = prepare(problem, policy).cands
    text = describe_inputs(problem, policy, cands)
    warnings = input_warnings(problem, policy, cands)
    if stop is not None and stop.is_set():
        raise Interrupted(f"interrupted by {stop.reason}: the validation did not finish")
    return text, warnings
