"""What a run tells a log: one event per step, for people (nothing) or for cron (JSON lines).

``leadassign solve|rebalance --json`` writes one JSON object per line on stderr::

    {"event": "start", "time": "2026-11-24T03:00:00+00:00", "command": "rebalance", ...}
    {"event": "inputs_loaded", "leads": 20000, "reps": 200, "inputs": {...}, ...}
    {"event": "model_built", "phase": "flow", "elapsed_s": 1.2, ...}
    {"event": "solution_found", "objective": 1.6e8, "bound": 1.6e8, ...}
    {"event": "done", "status": "OPTIMAL", "exit_code": 0, "run": 4, ...}
    {"event": "summary", ...summary.json...}

Every object has ``event``, ``time`` (UTC, ISO 8601) and ``elapsed_s`` since the start. An
error ends the stream with ``{"event": "error", "exit_code": 2, "message": ...}``. The
events are also a solver :class:`~leadassign.control.progress.Progress`: the first phase is
``model_built``, later ones ``phase``, and each better solution ``solution_found`` (at most
one per second while the solver runs, so a long CP-SAT search does not flood the log).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
import time
from typing import Any, Protocol, TextIO

from leadassign.redact import scrub

#: The least time between two ``solution_found`` events while a solver runs.
SOLUTION_INTERVAL_S = 1.0


class Events(Protocol):
    def emit(self, event: str, **fields: Any) -> None:
        """Report one step of the run."""

    def phase(self, name: str) -> None:
        """A solver stage starts (Progress)."""

    def update(self, objective: float | None, bound: float | None) -> None:
        """A better objective or bound (Progress)."""


class NoEvents:
    """Reports nothing (a run for people: the CLI prints its own summary)."""

    def emit(self, event: str, **fields: Any) -> None:
        pass

    def phase(self, name: str) -> None:
        pass

    def update(self, objective: float | None, bound: float | None) -> None:
        pass


def _plain(value: Any) -> Any:
    """JSON-safe: non-finite floats become null (strict JSON has no NaN or Infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class JsonEvents:
    """One JSON object per line on ``stream`` (stderr), flushed at once."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._phases = 0
        self._last_solution = -math.inf
        self._best: float | None = None

    def emit(self, event: str, **fields: Any) -> None:
        record = {
            "event": event,
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "elapsed_s": round(time.monotonic() - self._started, 3),
            **fields,
        }
        line = json.dumps(_plain(record), sort_keys=False, allow_nan=False, default=str)
        line = scrub(line)  # a driver's error may quote the store URL with its password
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def phase(self, name: str) -> None:
        self._phases += 1
        self.emit("model_built" if self._phases == 1 else "phase", phase=name)

    def update(self, objective: float | None, bound: float | None) -> None:
        if objective is None:
            return
        now = time.monotonic()
        better = self._best is None or objective > self._best
        if better and now - self._last_solution >= SOLUTION_INTERVAL_S:
            self._best, self._last_solution = objective, now
            self.emit("solution_found", objective=objective, bound=bound)
