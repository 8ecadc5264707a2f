"""The learn use case: win rates, cycle days and capacities from a CRM deal history, written
as tables ``solve`` reads (``reps.csv``, ``affinity.csv``) and ``learn.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadassign.errors import InputError
from leadassign.models.source import read_table
from leadassign.models.tables import parse_reps
from leadassign.outcomes.learn import Learned, LearnOptions, learn, sig
from leadassign.outcomes.mapping import load_history
from leadassign.output import summary_json, write_csv
from leadassign.publish import target, write_folder

REPS = "reps.csv"
AFFINITY = "affinity.csv"
LEARN_JSON = "learn.json"
#: The columns ``--reps`` gains besides ``win_rate`` (replaced when the user's table has them).
LEARNED_EXTRA = ("deals", "won", "cycle_days", "suggested_capacity")


@dataclass(frozen=True)
class LearnOutcome:
    """What ``learn`` found and wrote."""

    learned: Learned
    reps: pd.DataFrame  # as written to reps.csv
    affinity: pd.DataFrame | None  # as written to affinity.csv
    summary: dict[str, Any]  # learn.json
    written: list[Path] = field(default_factory=list)


def parse_as_of(text: str | None) -> np.datetime64 | None:
    """``--as-of`` as a day (ISO ``YYYY-MM-DD``); InputError otherwise."""
    if text is None:
        return None
    try:
        return np.datetime64(pd.Timestamp(text).date(), "D")
    except (ValueError, TypeError) as exc:
        raise InputError(f"--as-of '{text}' is not a date (use YYYY-MM-DD)") from exc


def merge_reps(learned: Learned, reps_path: Path) -> tuple[pd.DataFrame, list[str], set[str]]:
    """The user's reps table with the learned columns: ``win_rate`` replaced (added when
    absent), ``deals, won, cycle_days, suggested_capacity`` added (replaced when there); every
    other column and cell kept as written. Reps the history lacks get the team's rate and 0
    deals; history reps the table lacks are not added. Returns the table, the warnings and
    the table's rep ids."""
    raw = read_table(reps_path, "reps")
    parse_reps(raw)  # the user's table must itself be valid
    table = raw.frame.copy()
    ids = table["rep_id"].astype(str).to_numpy()
    learned_reps = learned.reps.set_index("rep_id")
    at = learned_reps.index.get_indexer(pd.Index(ids))
    known = at >= 0
    take = np.maximum(at, 0)
    model = learned.model
    team_cycle = sig(model.team_cycle)

    def column(name: str, missing: object) -> pd.Series:
        values = learned_reps[name].to_numpy()[take]
        cells = [v if k else missing for v, k in zip(values.tolist(), known, strict=True)]
        return pd.Series(cells, index=table.index, dtype=object)

    replaced = [c for c in LEARNED_EXTRA if c in table.columns]
    table["win_rate"] = column("win_rate", sig(model.team_rate))
    table["deals"] = column("deals", 0)
    table["won"] = column("won", 0)
    table["cycle_days"] = column("cycle_days", team_cycle)
    table["suggested_capacity"] = column("capacity", "")
    warnings: list[str] = []
    if replaced:
        warnings.append(f"{reps_path}: columns {', '.join(replaced)} replaced by the learned ones")
    unseen = sorted(str(i) for i in ids[~known])
    if unseen:
        warnings.append(
            f"{len(unseen)} rep(s) of {reps_path} have no closed deal in the history and get "
            f"the team's rate {model.team_rate:.1%}: {', '.join(unseen)}"
        )
    absent = sorted(set(learned_reps.index.astype(str)) - set(ids.tolist()))
    if absent:
        warnings.append(
            f"{len(absent)} rep(s) of the history are not in {reps_path} and were not added "
            f"(nor their affinity rows): {', '.join(absent)}"
        )
    return table, warnings, set(ids.tolist())


def run_learn(
    history: Path,
    out: Path,
    *,
    columns: str | Path | None = None,
    segment: str | None = None,
    as_of: str | None = None,
    reps: Path | None = None,
    period_days: int = 7,
    force: bool = False,
    seed: int = 0,
    bootstrap: int = 1000,
) -> LearnOutcome:
    """Learn from the deal history ``history`` and write ``reps.csv``, ``affinity.csv``
    (with ``segment``) and ``learn.json`` into ``out`` (atomically, with a manifest; nothing
    written on bad input)."""
    inputs: list[Path | str | None] = [history, reps]
    if columns is not None and Path(columns).exists():
        inputs.append(columns)
    target(out, inputs=inputs, force=force)  # before anything is computed
    if period_days < 1:
        raise InputError(f"--period-days {period_days}: give a whole number of days >= 1")
    options = LearnOptions(
        segment=segment,
        as_of=parse_as_of(as_of),
        period_days=period_days,
        bootstrap=bootstrap,
        seed=seed,
    )
    deals = load_history(history, columns)
    learned = learn(deals, options)
    warnings: list[str] = []
    rep_table = learned.reps
    affinity = learned.affinity
    if reps is not None:
        rep_table, warnings, keep = merge_reps(learned, reps)
        if affinity is not None:
            affinity = affinity[affinity["rep_id"].isin(keep)].reset_index(drop=True)
    summary = learned.summary()
    summary["warnings"] = [*summary["warnings"], *warnings]
    summary["files"] = {
        REPS: "rep_id, win_rate, deals, won, cycle_days, capacity"
        if reps is None
        else f"{reps}'s columns; win_rate learned; deals, won, cycle_days, suggested_capacity",
        AFFINITY: None if affinity is None else f"rep_id, {segment}, win_rate",
    }
    if segment is not None and segment != "industry":
        summary["warnings"].append(
            f"affinity.csv has a '{segment}' column: solve's --affinity reads 'industry' (the "
            "leads' industry column); rename it only if your leads carry these values there"
        )
    writers: dict[str, Any] = {
        REPS: lambda path: write_csv(rep_table, path),
        LEARN_JSON: lambda path: path.write_text(summary_json(summary), encoding="utf-8"),
    }
    if affinity is not None:
        writers[AFFINITY] = lambda path: write_csv(affinity, path)
    written = write_folder(out, writers, command="learn", force=force, inputs=inputs)
    return LearnOutcome(learned, rep_table, affinity, json.loads(summary_json(summary)), written)


__all__ = ["LEARN_JSON", "LearnOutcome", "merge_reps", "parse_as_of", "run_learn"]
