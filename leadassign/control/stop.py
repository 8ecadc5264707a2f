"""Stopping a solve from outside: a SIGINT or SIGTERM, or another thread.

``solve(..., stop=Stop())`` makes the token the active one for its thread (:func:`active`),
checks it between its stages and treats a set token as "no time left"; each call into a
solver library (CP-SAT, HiGHS) runs under :func:`cancelling` with that library's own stop
call, so it returns within moments of :meth:`Stop.set` with the best it has. ``set`` may be
called from a signal handler or any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class Stop:
    """A one-way flag with callbacks: once set, it stays set."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._hooks: list[Callable[[], None]] = []
        self.reason: str | None = None

    def set(self, reason: str = "stopped") -> None:
        """Set the flag and call every registered hook; once set, later calls do nothing
        (the first reason is kept)."""
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            hooks = list(self._hooks)
        for hook in hooks:
            hook()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the flag; True once it is set."""
        return self._event.wait(timeout)

    @contextmanager
    def hook(self, call: Callable[[], None]) -> Iterator[None]:
        """Within the block, ``call()`` runs when the flag is set (at once if it already is)."""
        with self._lock:
            self._hooks.append(call)
            already = self._event.is_set()
        if already:
            call()
        try:
            yield
        finally:
            with self._lock:
                self._hooks.remove(call)


_ACTIVE: ContextVar[Stop | None] = ContextVar("leadassign_stop", default=None)


@contextmanager
def active(stop: Stop | None) -> Iterator[None]:
    """Within the block, ``stop`` is the token that :func:`cancelling` hooks into."""
    token = _ACTIVE.set(stop)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


@contextmanager
def cancelling(call: Callable[[], None]) -> Iterator[bool]:
    """Within the block, ``call()`` runs when the active token is set (nothing without one):
    wrap each call into a solver library with its stop call. Yields whether there is a
    token (HiGHS only listens to ``cancelSolve`` once told to)."""
    stop = _ACTIVE.get()
    if stop is None:
        yield False
    else:
        with stop.hook(call):
            yield True


def stopped() -> bool:
    """Whether the active token is set."""
    stop = _ACTIVE.get()
    return stop is not None and stop.is_set()
