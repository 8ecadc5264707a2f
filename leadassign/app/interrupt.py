"""Interrupts: SIGINT and SIGTERM become a :class:`~leadassign.control.stop.Stop`, and work
that does not listen is ended.

A command runs its work in a worker thread (:func:`interruptible`) while the main thread
turns the signals into ``stop.set(...)``: the solver then ends with the best assignment it
has, and the run writes and records it whole instead of dying halfway. Work that has not
ended a grace period after the first signal (or at a second signal) is abandoned: child
processes are ended and the process exits 4 with a message (:func:`abandon`).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import NoReturn, TypeVar

from leadassign.control.stop import Stop
from leadassign.events import JsonEvents
from leadassign.store.db import Interrupted

T = TypeVar("T")

#: Seconds a command gets after SIGINT or SIGTERM to end on its own (keeping its best
#: answer) before it is ended: within 5 s of the signal, whatever it was doing.
GRACE_S = 4.5
#: The exit code of a run ended by a signal before it had an answer (README "Exit codes").
EXIT_INTERRUPTED = 4
#: Worker threads are named ``leadassign-...`` (see :func:`exit_process`).
THREAD_PREFIX = "leadassign-"


class _Outcome:
    """What the worker thread hands the main thread: a value or an exception."""

    def __init__(self) -> None:
        self.value: object = None
        self.error: BaseException | None = None


def interruptible(
    work: Callable[[Stop], T],
    events: JsonEvents | None = None,
    *,
    grace_s: float = GRACE_S,
    what: str = "the run",
) -> T:
    """``work(stop)`` in a worker thread while this (main) thread turns SIGINT and SIGTERM
    into ``stop.set(...)``. (A signal handler only runs in the main thread between Python
    instructions, never while it waits inside a solver.) Work that has not ended ``grace_s``
    seconds after the first signal (or at a second signal) is ended: its child processes are
    terminated and the process exits 4 with a message (:func:`abandon`). Called outside the
    main thread (a notebook's worker, say), ``work`` simply runs there."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        return work(stop)
    box = _Outcome()
    signals: list[str] = []

    def target() -> None:
        try:
            box.value = work(stop)
        except BaseException as exc:  # handed to the main thread, which raises it
            box.error = exc

    def handler(signum: int, _frame: FrameType | None) -> None:
        signals.append(signal.Signals(signum).name)
        stop.set(signals[-1])

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        thread = threading.Thread(target=target, name=f"{THREAD_PREFIX}run", daemon=True)
        thread.start()
        deadline: float | None = None
        while thread.is_alive():
            thread.join(0.1)
            if stop.is_set() and thread.is_alive():
                deadline = deadline or time.monotonic() + grace_s
                if len(signals) > 1 or time.monotonic() >= deadline:
                    abandon(stop.reason or "a signal", grace_s, what, events)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if box.error is not None:
        raise box.error
    value: T = box.value  # type: ignore[assignment]  # set by work(stop), which returns T
    return value


def abandon(reason: str, grace_s: float, what: str, events: JsonEvents | None) -> NoReturn:
    """End the process now: ``what`` did not stop within ``grace_s`` of the signal (a
    database that does not answer, a library call that does not listen). Child processes
    (compare's workers) are terminated first; exit 4 with a message on stderr (an ``error``
    event under --json)."""
    from leadassign.scenarios.compare import end_processes

    end_processes(multiprocessing.active_children(), grace_s=1.0)
    message = (
        f"interrupted by {reason}: {what} did not stop within {grace_s:g} s and was ended; "
        "what it had not finished was neither written nor recorded"
    )
    if events is not None:
        events.emit("error", exit_code=EXIT_INTERRUPTED, message=message)
    else:
        sys.stderr.write(f"error: {message}\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def exit_process(code: int) -> NoReturn:
    """Exit with ``code``; at once (no interpreter shutdown) while an abandoned worker
    thread (``leadassign-*``) still runs inside a solver library, which it could crash."""
    if any(t.name.startswith(THREAD_PREFIX) and t.is_alive() for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def not_stopped(stop: Stop | None, when: str) -> None:
    """Raise Interrupted (exit 4) when a signal came: ``interrupted by SIGNAL {when}``."""
    if stop is not None and stop.is_set():
        raise Interrupted(f"interrupted by {stop.reason} {when}")
