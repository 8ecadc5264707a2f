"""A status line for long solves: phase, objective, bound, gap and elapsed time.

The solvers report through :class:`Progress`: ``phase(name)`` when a stage starts, and
``update(objective, bound)`` when a better solution or bound is found, in the user's units
(leads assigned in CP-SAT's phase 1, the value score in phase 2; never the solvers' scaled
integers). ``update`` runs inside CP-SAT's callbacks, possibly on a solver thread, so an
implementation must be cheap and must not raise.

:class:`TerminalProgress` draws one self-overwriting line on stderr, for example::

    cpsat phase 2 (value)  obj 1,234,567  bound 1,240,000  gap 0.44%  12.3 s

at most every ``interval`` seconds, and ends it with a newline on :meth:`~TerminalProgress.close`.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, TextIO

#: Back to the start of the line and clear it (ANSI "erase in line").
CLEAR = "\r\x1b[K"


class Progress(Protocol):
    """What a solve reports: the stage it is in, and the best objective and bound so far."""

    def phase(self, name: str) -> None:
        """A new stage starts; its objective and bound are unknown until updated."""

    def update(self, objective: float | None, bound: float | None) -> None:
        """The best objective and bound of the current stage (None: unchanged)."""


class NoProgress:
    """Reports nothing (the default)."""

    def phase(self, name: str) -> None:
        pass

    def update(self, objective: float | None, bound: float | None) -> None:
        pass


NO_PROGRESS = NoProgress()


def decimals(values: list[float]) -> int:
    """Decimals shown for figures of one line: none when all are whole (counts, large
    scores), else 4 significant digits of the largest magnitude."""
    if all(float(v).is_integer() for v in values):
        return 0
    largest = max(abs(v) for v in values)
    return min(max(3 - math.floor(math.log10(largest)), 0), 9)


def status_line(phase: str, objective: float | None, bound: float | None, elapsed: float) -> str:
    """``phase  obj X  bound Y  gap Z%  T s``; unknown or non-finite figures are left out.
    The gap is ``(bound - obj) / |bound|``, as in ``summary.json``."""
    figures = {
        name: value
        for name, value in (("obj", objective), ("bound", bound))
        if value is not None and math.isfinite(value)
    }
    places = decimals(list(figures.values()))
    parts = [phase] if phase else []
    parts += [f"{name} {value:,.{places}f}" for name, value in figures.items()]
    if len(figures) == 2:
        obj, top = figures["obj"], figures["bound"]
        gap = (top - obj) / abs(top) if top != 0 else 0.0
        parts.append(f"gap {max(gap, 0.0):.2%}")
    parts.append(f"{elapsed:.1f} s")
    return "  ".join(parts)


class TerminalProgress:
    """One self-overwriting status line on ``stream`` (default: stderr).

    The line is redrawn on a phase change or an update, at most every ``interval`` seconds of
    ``clock``; with ``ticker`` a background thread also redraws it every ``interval``, so the
    elapsed time moves during stages that report nothing (HiGHS, the LP) and an update held
    back by the throttle shows up shortly. The clock starts at the first report. Use it as a
    context manager or call :meth:`close`, which draws the final state and ends the line with
    a newline (nothing is written when nothing was reported). Safe to call from the solver's
    threads.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        ticker: bool = True,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._clock = clock
        self._ticker = ticker
        self._width = _terminal_width(self._stream)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started: float | None = None
        self._drawn_at: float | None = None
        self._closed = False
        self._phase = ""
        self._objective: float | None = None
        self._bound: float | None = None

    def phase(self, name: str) -> None:
        with self._lock:
            self._phase, self._objective, self._bound = name, None, None
            self._report()

    def update(self, objective: float | None, bound: float | None) -> None:
        with self._lock:
            if objective is not None:
                self._objective = objective
            if bound is not None:
                self._bound = bound
            self._report()

    def close(self) -> None:
        """Stop the ticker, draw the final state and end the line (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._started is not None:
                self._draw(self._clock())
                self._write("\n")

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _report(self) -> None:
        """Start the clock (and ticker) at the first report; redraw if due. Holds the lock."""
        if self._closed:
            return
        now = self._clock()
        if self._started is None:
            self._started = now
            if self._ticker:
                self._thread = threading.Thread(
                    target=self._tick, name="leadassign-progress", daemon=True
                )
                self._thread.start()
        if self._drawn_at is None or now - self._drawn_at >= self._interval:
            self._draw(now)

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                self._report()

    def _draw(self, now: float) -> None:
        assert self._started is not None
        line = status_line(self._phase, self._objective, self._bound, now - self._started)
        if self._width is not None:
            line = line[: self._width - 1]
        self._write(CLEAR + line)
        self._drawn_at = now

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stream must not stop the solve
            self._closed = True


def _terminal_width(stream: TextIO) -> int | None:
    """Columns of the terminal behind ``stream`` (None when it is not a terminal)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns if stream.isatty() else None
    except (AttributeError, OSError, ValueError):
        return None
