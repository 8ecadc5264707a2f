"""Reading the run history: history, show, diff and export.

Each reader opens an existing store (a missing SQLite file is not created), reads under
SIGINT and SIGTERM (readers keep nothing, so one that has not ended 1 s after the signal, a
server that does not answer, is ended) and closes it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from leadassign.app.export import Export, Format, export, read_owner_map
from leadassign.app.interrupt import interruptible
from leadassign.control.stop import Stop
from leadassign.output import write_csv
from leadassign.publish import write_file
from leadassign.redact import is_libpq
from leadassign.result.churn import HELD_BACK, KEPT, churn_labels
from leadassign.store import RunRow, Store, StoreError

T = TypeVar("T")


def open_store(store: str) -> Store:
    """An existing store, for the commands that read it (a missing SQLite file is not
    created)."""
    if "://" not in store and not is_libpq(store) and not Path(store).expanduser().is_file():
        raise StoreError(
            f"no run history at {store}: runs are recorded by leadassign solve and rebalance "
            "(or pass --store)"
        )
    return Store(store)


def store_file(store: str) -> Path | None:
    """The SQLite file a --store names (an input no single-file --out may replace)."""
    if is_libpq(store) or ("://" in store and not store.startswith("sqlite:///")):
        return None
    return Path(store.removeprefix("sqlite:///")).expanduser()


def read_store(store: str, read: Callable[[Store], T]) -> T:
    """``read`` the existing store, under SIGINT and SIGTERM (see the module)."""

    def work(_stop: Stop) -> T:
        with open_store(store) as opened:
            return read(opened)

    return interruptible(work, grace_s=1.0, what="reading the store")


def runs(store: str, limit: int) -> list[RunRow]:
    """The newest ``limit`` recorded runs, newest first (``leadassign history``)."""
    return read_store(store, lambda opened: opened.runs(limit=limit))


def run(store: str, ref: str) -> RunRow:
    """One recorded run: an id, ``latest`` or ``latest-N`` (``leadassign show``)."""
    return read_store(store, lambda opened: opened.run(ref))


def run_fields(row: RunRow) -> dict[str, Any]:
    """A recorded run as plain data (``leadassign history --json``)."""
    return {
        "run": row.id,
        "created_at": row.created_at,
        "command": row.command,
        "status": row.status,
        "leads": row.leads,
        "assigned": row.assigned,
        "expected_value": row.expected_value,
        "gap": row.gap,
        "reassigned": row.reassigned,
        "from_run": row.from_run,
        "rerun_of": row.rerun_of,
        "interrupted": row.interrupted,
        "version": row.version,
        "inputs": row.inputs,
        "out": row.out,
    }


def diff(store: str, run_a: str, run_b: str) -> tuple[RunRow, RunRow, pd.DataFrame]:
    """The two runs and the leads whose owner differs between them (:func:`owner_changes`;
    ``leadassign diff``)."""

    def read(opened: Store) -> tuple[RunRow, RunRow, pd.DataFrame]:
        first, second = opened.run(run_a), opened.run(run_b)
        return first, second, owner_changes(opened.assignment(first), opened.assignment(second))

    return read_store(store, read)


@dataclass(frozen=True)
class CrmFile:
    """A recorded run and the owner-update file made from it."""

    run: RunRow
    made: Export


def crm_file(
    store: str,
    ref: str,
    fmt: Format,
    *,
    owner_map: Path | None = None,
    all_leads: bool = False,
    unassigned_owner: str | None = None,
    hubspot_object: str = "contact",
) -> CrmFile:
    """The owner-update file a CRM imports, for a recorded run (``leadassign export``; the
    formats are :mod:`leadassign.app.export`'s)."""
    mapping = None if owner_map is None else read_owner_map(owner_map)

    def read(opened: Store) -> tuple[RunRow, pd.DataFrame]:
        found = opened.run(ref)
        return found, opened.assignment(found)

    row, assignment = read_store(store, read)
    made = export(
        assignment,
        fmt,
        owner_map=mapping,
        owner_map_name=str(owner_map),
        all_leads=all_leads,
        unassigned_owner=unassigned_owner,
        hubspot_object=hubspot_object,
    )
    return CrmFile(row, made)


def write_table(
    frame: pd.DataFrame, out: Path, *, force: bool, inputs: Sequence[Path | None]
) -> None:
    """The table as the one CSV file ``out`` (nothing else is touched; an existing file only
    with ``force``, never one of ``inputs``)."""
    write_file(out, functools.partial(write_csv, frame), force=force, inputs=inputs)


def owner_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Leads whose owner differs between two runs' assignments (Store.assignment): lead_id,
    rep_before, rep_after ('' when unassigned or absent), change (the churn words of
    ``result.churn``: ``moved``, ``released``, ``held_back`` (the second run's reason),
    ``new``: assigned now, with no rep before; and ``added``: only in the second run, left
    unassigned, ``vanished``: only in the first), expected_value_after; in the second run's
    lead order, then the vanished leads in the first's. On a rebalance the counts of moved,
    released, held_back and new are the second run's summary.json churn figures."""
    old = pd.Series(
        before["rep_id"].to_numpy(dtype=object), index=before["lead_id"].to_numpy(dtype=object)
    )
    lead = after["lead_id"].to_numpy(dtype=object)
    at = pd.Index(old.index).get_indexer(pd.Index(lead, dtype=object))
    rep_after = after["rep_id"].to_numpy(dtype=object)
    rep_before = np.full(len(lead), "", dtype=object)
    rep_before[at >= 0] = old.to_numpy(dtype=object)[at[at >= 0]]
    held = (
        after["reason"].to_numpy(dtype=object) == HELD_BACK
        if "reason" in after.columns
        else np.zeros(len(lead), dtype=bool)
    )
    change = churn_labels(rep_before, rep_after, held)
    change[change == KEPT] = ""
    change[(at < 0) & (rep_after == "")] = "added"
    rows = change != ""
    changed = pd.DataFrame(
        {
            "lead_id": lead[rows],
            "rep_before": rep_before[rows],
            "rep_after": rep_after[rows],
            "change": change[rows],
            "expected_value_after": after["expected_value"].to_numpy(dtype=np.float64)[rows],
        }
    )
    gone = ~before["lead_id"].isin(pd.Index(lead, dtype=object)).to_numpy()
    vanished = pd.DataFrame(
        {
            "lead_id": before["lead_id"].to_numpy(dtype=object)[gone],
            "rep_before": before["rep_id"].to_numpy(dtype=object)[gone],
            "rep_after": "",
            "change": "vanished",
            "expected_value_after": np.nan,
        }
    )
    return pd.concat([changed, vanished], ignore_index=True)
