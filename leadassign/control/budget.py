"""The work a solve may do, and what cut its search: the deterministic work limit and the
wall-clock backstop.

A solve runs under one :class:`Meter` (``metering``): ``work`` units (``solver.work_limit``,
``--work-limit``) and ``seconds`` of wall clock (``solver.time_limit_s``, ``--time-limit``).
A unit of work is one second of CP-SAT's *deterministic time* (its own count of the work it
did, the same on every machine and under any load); HiGHS' simplex iterations and the
knapsack search's nodes are converted at fixed rates (``HIGHS_ITERATIONS_PER_WORK``,
``KNAPSACK_NODES_PER_WORK``), measured where one unit takes about a second of wall time.

Each stage takes a share of what is left (``stage``): a share of the work left, which
depends only on the work the earlier stages did (so it is the same run after run), and the
same share of the wall time left, a backstop. Every call into a solver library reads its
limits from the innermost meter (``current``), charges the work it did (``spend``) and says
what ended it when it was cut short (``cut``): ``"work"`` (deterministic), ``"time"`` or
``"stop"`` (a signal or another thread; see ``stop.py``). ``limited_by`` then gives the
summary's ``limited_by``: only ``"time"`` and ``"stop"`` can make results vary run to run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from leadassign.control.stop import stopped

#: HiGHS simplex iterations per unit of work of an LP: about 5,600 a second on the LPs of
#: a 2,089 x 35 book with a count band and accounts.
HIGHS_LP_ITERATIONS_PER_WORK = 5_000
#: Of a MIP (over every node, with its cuts and heuristics) an iteration costs about in
#: proportion to the columns: iterations x columns per unit of work. At the root of a
#: 2,000 x 40 book with a value band (18,448 columns) 20,400 iterations took 30 s; its
#: neighbourhood MIP (3,957 columns) made 45,500 in 10 s.
HIGHS_MIP_ITERATION_COLUMNS_PER_WORK = 10_000_000
#: Columns of a HiGHS MIP whose branch-and-bound node is one unit of work: a node of that
#: book's MIP (16,524 columns) took about 0.3 s, its heuristics and cuts costing far more
#: than its simplex iterations; one of a 160 x 8 book (about 1,300 columns) about 0.01 s.
#: HiGHS has no deterministic limit on the work at its root (presolve, cuts, heuristics):
#: only the time limit bounds that.
HIGHS_COLUMNS_PER_NODE_WORK = 50_000
#: Nodes of the knapsack branch and bound (knapsack.py) per unit of work.
KNAPSACK_NODES_PER_WORK = 200
#: What cut a search, most telling first.
CUTS = ("stop", "time", "work")


class Meter:
    """Work and wall time allowed to a solve or one of its stages, and what was used."""

    def __init__(
        self,
        work: float,
        seconds: float,
        parent: Meter | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.work = work
        self.seconds = seconds
        self.parent = parent
        self._clock = clock
        self.started = clock()
        self.used = 0.0
        self.cuts: set[str] = set()

    def work_left(self) -> float:
        own = self.work - self.used
        if self.parent is not None:
            own = min(own, self.parent.work_left())
        return max(own, 0.0)

    def time_left(self) -> float:
        """Wall seconds left (0 once the active stop token is set)."""
        if stopped():
            return 0.0
        own = self.seconds - (self._clock() - self.started)
        if self.parent is not None:
            own = min(own, self.parent.time_left())
        return own

    def spend(self, work: float) -> None:
        """Charge ``work`` units to this meter and every meter it is part of."""
        meter: Meter | None = self
        while meter is not None:
            meter.used += work
            meter = meter.parent

    def cut(self, by: str) -> None:
        """Record that ``by`` ("work", "time" or "stop") ended a search short."""
        root = self
        while root.parent is not None:
            root = root.parent
        root.cuts.add("stop" if stopped() else by)

    def limited_by(self, proven: bool) -> str | None:
        """What cut the search: "stop" or "time" when either cut any stage (the answer may
        then differ run to run), else "work" when the answer is not proven, else None."""
        for by in ("stop", "time"):
            if by in self.cuts:
                return by
        if proven:
            return None
        return "stop" if stopped() else "work"


_METER: ContextVar[Meter | None] = ContextVar("leadassign_meter", default=None)


def current() -> Meter | None:
    """The innermost active meter (None outside a solve: no work limit)."""
    return _METER.get()


@contextmanager
def metering(meter: Meter) -> Iterator[Meter]:
    """Within the block, ``meter`` is the active one."""
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


@contextmanager
def stage(share: float) -> Iterator[Meter | None]:
    """Within the block, a meter with ``share`` of the active one's work and wall time left
    (nothing without an active meter)."""
    parent = current()
    if parent is None:
        yield None
        return
    child = Meter(share * parent.work_left(), share * parent.time_left(), parent)
    with metering(child):
        yield child


def out_of_time(time_left: Callable[[], float] | None, needed: float) -> bool:
    """Whether ``time_left()`` leaves less than ``needed`` seconds (a loop's next step);
    records the cut on the active meter."""
    if time_left is None or time_left() >= needed:
        return False
    meter = current()
    if meter is not None:
        meter.cut("time")
    return True


def highs_iteration_rate(integral: bool, columns: int) -> int:
    """HiGHS simplex iterations per unit of work, of a MIP or of an LP of ``columns``."""
    if not integral:
        return HIGHS_LP_ITERATIONS_PER_WORK
    return max(HIGHS_MIP_ITERATION_COLUMNS_PER_WORK // max(columns, 1), 1)


def highs_node_work(columns: int) -> float:
    """The work of one branch-and-bound node of a HiGHS MIP of ``columns`` columns."""
    return max(columns, 1) / HIGHS_COLUMNS_PER_NODE_WORK


def work_units(work: float, rate: int) -> int:
    """``work`` units as a count of steps at ``rate`` per unit (at least 1)."""
    return max(int(work * rate), 1)


__all__ = [
    "Meter",
    "current",
    "metering",
    "out_of_time",
    "stage",
]
