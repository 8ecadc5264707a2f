"""Small builders shared by the tests: tables as lists of dicts, solved and checked."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadassign import Problem, Result, load_problem
from leadassign.compile.pairs import Pairs


def frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A DataFrame with exactly ``columns`` (missing cells empty), even with no rows."""
    return pd.DataFrame([{c: row.get(c, "") for c in columns} for row in rows], columns=columns)


def lead(lead_id: str, value: float, territory: str = "T", **more: Any) -> dict[str, Any]:
    return {"lead_id": lead_id, "territory": territory, "value": value, **more}


def rep(rep_id: str, capacity: int, territories: str = "T", **more: Any) -> dict[str, Any]:
    return {"rep_id": rep_id, "territories": territories, "capacity": capacity, **more}


def problem_of(
    leads: list[dict[str, Any]],
    reps: list[dict[str, Any]],
    affinity: list[dict[str, Any]] | None = None,
    pairs: list[dict[str, Any]] | None = None,
    pairs_mode: str = "only",
) -> Problem:
    lead_cols = list(
        dict.fromkeys(["lead_id", "territory", "value", *(k for r in leads for k in r)])
    )
    rep_cols = list(
        dict.fromkeys(["rep_id", "territories", "capacity", *(k for r in reps for k in r)])
    )
    return load_problem(
        frame(leads, lead_cols),
        frame(reps, rep_cols),
        frame(affinity, ["rep_id", "industry", "win_rate"]) if affinity is not None else None,
        frame(pairs, list(dict.fromkeys(["lead_id", "rep_id", *(k for r in pairs for k in r)])))
        if pairs is not None
        else None,
        pairs_mode="override" if pairs_mode == "override" else "only",
    )


def owners(result: Result) -> dict[str, str]:
    """lead_id -> rep_id ('' when unassigned; <NA> in the typed Result.assignments)."""
    table = result.assignments
    return dict(zip(table["lead_id"], table["rep_id"].fillna(""), strict=True))


#: summary.json fields that measure time, so differ between otherwise identical runs
TIMING_KEYS = ("build_s", "solve_s")


def assert_same_outputs(first: Path, second: Path, names: Sequence[str]) -> None:
    """Two output folders hold byte-identical ``names`` and the same summary.json but for
    its timing fields."""
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    one, two = (json.loads((o / "summary.json").read_text()) for o in (first, second))
    for key in TIMING_KEYS:
        one.pop(key), two.pop(key)
    assert one == two


def every_pair(
    n_units: int,
    capacity: Sequence[int],
    units: np.ndarray,
    effort: np.ndarray | None = None,
) -> Pairs:
    """Solver pairs of every unit (one lead each) with every rep, unit by unit (pair
    ``u * m + j`` is unit u at rep j): ``units`` and ``effort`` (default 1) per pair, no
    floors."""
    m = len(capacity)
    n = n_units * m
    return Pairs(
        unit=np.repeat(np.arange(n_units, dtype=np.int64), m),
        rep=np.tile(np.arange(m, dtype=np.int64), n_units),
        effort=np.ones(n, dtype=np.int64) if effort is None else effort.astype(np.int64),
        units=np.asarray(units, dtype=np.int64),
        capacity=np.asarray(capacity, dtype=np.int64),
        min_leads=np.zeros(m, dtype=np.int64),
        size=np.ones(n, dtype=np.int64),
    )
