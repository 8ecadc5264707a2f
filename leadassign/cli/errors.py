"""Exit codes, and the one place where a command's errors become a message and a code.

Exit codes (README "Exit codes"): 0 solved (OPTIMAL or FEASIBLE), 1 internal error, 2 bad
input or usage, 3 INFEASIBLE, 4 no solution within the time limit (or before an interrupt),
5 another run holds the store.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from leadassign.errors import LeadassignError, printable
from leadassign.events import JsonEvents
from leadassign.redact import scrub
from leadassign.result import Status

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_INFEASIBLE, EXIT_NO_SOLUTION = 0, 1, 2, 3, 4
EXIT_BY_STATUS = {
    Status.OPTIMAL: EXIT_OK,
    Status.FEASIBLE: EXIT_OK,
    Status.INFEASIBLE: EXIT_INFEASIBLE,
    Status.UNKNOWN: EXIT_NO_SOLUTION,
    Status.MODEL_INVALID: EXIT_INTERNAL,
}

F = TypeVar("F", bound=Callable[..., Any])

#: Where a command keeps its JSON event log (``click.Context.meta``), for :func:`reports_errors`.
_EVENTS = "leadassign.events"


def json_events(json_log: bool) -> JsonEvents | None:
    """The command's JSON event log on stderr (None without --json); its errors are
    reported there too (:func:`reports_errors`)."""
    events = JsonEvents(sys.stderr) if json_log else None
    click.get_current_context().meta[_EVENTS] = events
    return events


def fail(error: LeadassignError, events: JsonEvents | None = None) -> NoReturn:
    """The error on stderr (as an ``error`` event under --json), and its exit code."""
    if events is not None:
        events.emit("error", exit_code=error.exit_code, message=scrub(str(error)))
    else:
        click.echo(f"error: {printable(scrub(str(error)))}", err=True)
    sys.exit(error.exit_code)


def reports_errors(command: F) -> F:
    """The command, with a LeadassignError (bad input, a busy store, an interrupt, ...) ended
    as its message on stderr (an ``error`` event when the command logs JSON, see
    :func:`json_events`) and its exit code. Any other exception is a bug (``Main.invoke``)."""

    @functools.wraps(command)
    def reporting(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LeadassignError as error:
            events = click.get_current_context().meta.get(_EVENTS)
            fail(error, events)

    return reporting  # type: ignore[return-value]  # same signature as ``command``


class Main(click.Group):
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
