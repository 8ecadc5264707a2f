"""One solved run of a comparison: what comparison.csv, the diffs and report.html need of it
(its own module, so that ``compare.py``, which solves runs, and ``report.py``, which draws
them, both read it without importing each other)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadassign.result import SharedRelaxation, Status


@dataclass(frozen=True)
class Run:
    """What the comparison needs of one solved run."""

    name: str
    description: str
    status: Status
    summary: dict[str, Any]
    lead_ids: np.ndarray  # every input lead of the run, in input order
    rep_ids: np.ndarray  # its rep ('' when unassigned or without a solution)
    expected_value: np.ndarray  # its expected value (nan when unassigned)
    #: rep_id, assigned, expected_value, assigned_effort, capacity, available, group (the
    #: rep's first territory); None: no solution
    reps: pd.DataFrame | None = None
    files: tuple[tuple[str, bytes], ...] = ()  # its output files, as ``leadassign solve`` writes
    keep_bonus: float | None = None  # its churn search's bonus (Result.keep_bonus)
    #: its flow relaxation's rep prices by rep_id, in value (Result.rep_prices; None: none)
    rep_prices: dict[str, float] | None = None
    #: its flow relaxation (Result.relaxation; None: not kept)
    relaxation: SharedRelaxation | None = None
    #: its churn flow's rep prices by rep_id, in value (Result.keep_prices; None: none)
    keep_prices: dict[str, float] | None = None
