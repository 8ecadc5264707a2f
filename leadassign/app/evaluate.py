"""``leadassign evaluate``: a run with a holdout, compared arm against arm on what really
happened to its leads (a deal history exported weeks later; docs/history.md "Holdout and
evaluate").

The run's leads are joined to the history's deals by ``deal_id = lead_id``. Every lead is
analysed in the arm it was drawn into, whoever ended up working it (intention to treat: the
draw is what makes the arms comparable). Per arm: leads, assigned, found in the history
(``in_history``) or ``missing``, ``closed`` (won or lost), ``won``, still ``open``,
``followed`` (deals whose owner in the history is the rep the run chose), conversion (won /
closed, Wilson interval), revenue (the sum of won amounts; a won deal without an amount adds
nothing and is counted in ``won_amount_unknown``), revenue per lead (revenue / leads found in
the history, open deals counting 0 so far) and cycle days (mean days from created to closed
of won deals). The difference optimized - holdout: conversion by Newcombe's hybrid score
interval and the pooled z-test; revenue per lead and cycle days by a bootstrap stratified by
territory (seeded; percentile interval) and Welch's t-test (``leadassign.outcomes.uplift``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadassign.app.history import read_store
from leadassign.app.holdout import HOLDOUT, OPTIMIZED
from leadassign.errors import InputError
from leadassign.models.source import read_table
from leadassign.outcomes.deals import Deals
from leadassign.outcomes.mapping import load_history
from leadassign.outcomes.uplift import (
    Difference,
    detectable_difference,
    proportion_difference,
    stratified_bootstrap,
    welch_p,
    wilson,
)
from leadassign.output import ASSIGNMENTS, csv_text, formula_cells, summary_json
from leadassign.publish import publish, target
from leadassign.store.db import RUN_REF

EVALUATE_CSV = "evaluate.csv"
EVALUATE_JSON = "evaluate.json"
#: Bootstrap replicates by default.
REPLICATES = 2000
#: Above this share of open deals among those found, the censoring warning is given.
OPEN_WARNING = 0.10
#: evaluate.csv's count columns (empty on the difference row).
COUNTS = (
    "leads",
    "assigned",
    "in_history",
    "missing",
    "closed",
    "won",
    "open",
    "followed",
    "won_amount_unknown",
)
#: evaluate.csv's columns, in order.
COLUMNS = (
    "row",
    *COUNTS[: COUNTS.index("won_amount_unknown")],
    "conversion",
    "conversion_low",
    "conversion_high",
    "conversion_p",
    "conversion_detectable",
    "revenue",
    "won_amount_unknown",
    "revenue_per_lead",
    "revenue_per_lead_low",
    "revenue_per_lead_high",
    "revenue_per_lead_p",
    "cycle_days",
    "cycle_days_low",
    "cycle_days_high",
    "cycle_days_p",
)


@dataclass(frozen=True)
class RunLeads:
    """The leads of the run being evaluated: lead_id, rep_id, arm, territory (text)."""

    source: str  # the run folder's assignments.csv, or "run N in STORE"
    frame: pd.DataFrame
    paths: tuple[Path, ...]  # files read (an --out may not replace them)


def run_leads(run: str, store: str | None) -> RunLeads:
    """The assignments of ``run``: a run folder (its assignments.csv) or a run reference in
    ``store`` (an id, ``latest``, ``latest-N``; its recorded assignments.csv)."""
    folder = Path(run)
    if folder.is_dir():
        file = folder / ASSIGNMENTS
        if not file.is_file():
            raise InputError(
                f"the folder {run} holds no {ASSIGNMENTS}: give a run folder written by "
                "leadassign solve or rebalance, or a run id",
                source=str(folder),
            )
        frame = read_table(file, "assignments").frame
        return _checked(str(file), frame, (file, folder))
    if RUN_REF.fullmatch(run.strip().lower()) is None:
        raise InputError(
            f"run {run!r} not found: it is neither a run folder nor a run id (a number, "
            "latest or latest-N)"
        )
    if store is None:
        raise InputError(f"run {run!r}: give --store to read a recorded run")

    def read(opened: Any) -> tuple[str, bytes | None]:
        row = opened.run(run)
        files = dict(opened.files(row))
        return f"run {row.id} in {opened.name}", files.get(ASSIGNMENTS)

    name, data = read_store(store, read)
    if data is None:
        raise InputError(f"{name} has no recorded {ASSIGNMENTS} (it has no assignment)")
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    return _checked(name, frame, ())


def _checked(source: str, frame: pd.DataFrame, paths: tuple[Path, ...]) -> RunLeads:
    for column in ("lead_id", "rep_id"):
        if column not in frame.columns:
            raise InputError(f"missing column '{column}': not a run's assignments", source=source)
    if "arm" not in frame.columns:
        raise InputError(
            "no 'arm' column: this run had no holdout; run solve or rebalance with --holdout "
            "and evaluate that run once its outcomes are known",
            source=source,
        )
    arm = frame["arm"].astype(str).str.strip()
    bad = ~arm.isin([OPTIMIZED, HOLDOUT])
    if bool(bad.any()):
        at = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"'{arm.iloc[at]}' is not an arm (optimized or holdout)",
            source=source,
            where=f"line {at + 2}",
            column="arm",
        )
    territory = (
        frame["territory"].astype(str)
        if "territory" in frame.columns
        else pd.Series("", frame.index)
    )
    out = pd.DataFrame(
        {
            "lead_id": _as_given(frame["lead_id"].astype(str).str.strip()),
            "rep_id": _as_given(frame["rep_id"].astype(str).str.strip()),
            "arm": arm,
            "territory": territory.str.strip(),
        }
    ).reset_index(drop=True)
    return RunLeads(source, out, paths)


def _as_given(cells: pd.Series) -> pd.Series:
    """Ids as the run was given them: assignments.csv writes a cell a spreadsheet would run
    (``=x``, ``-x``, ...) with a leading ``'`` (``output.inert``), taken off again here."""
    quoted = cells.str.startswith("'")
    if not bool(quoted.any()):
        return cells
    rest = cells.str.slice(1)
    return cells.mask(quoted & formula_cells(rest), rest)


@dataclass(frozen=True)
class Evaluation:
    """What ``evaluate`` found: the table (one row per arm and the difference), the figures
    as evaluate.json holds them, and the verdicts in words."""

    table: pd.DataFrame
    report: dict[str, Any]
    verdicts: tuple[str, ...]
    written: tuple[Path, ...] = ()


def _arm_row(name: str, leads: pd.DataFrame, deals: Deals, at: np.ndarray) -> dict[str, Any]:
    found = at >= 0
    where = at[found]
    outcome = deals.outcome[where]
    closed = outcome != "open"
    won = outcome == "won"
    amount = deals.amount[where]
    revenue = float(np.nansum(np.where(won, amount, 0.0)))
    cycle = deals.cycle_days[where][won]
    conversion = wilson(int(won.sum()), int(closed.sum()))
    n_found = int(found.sum())
    followed = deals.rep[where] == leads["rep_id"].to_numpy(dtype=object)[found]
    return {
        "row": name,
        "leads": len(leads),
        "assigned": int((leads["rep_id"] != "").sum()),
        "in_history": n_found,
        "missing": int((~found).sum()),
        "closed": int(closed.sum()),
        "won": int(won.sum()),
        "open": int((~closed).sum()),
        "followed": int(followed.sum()),
        "conversion": float(won.sum() / closed.sum()) if closed.any() else None,
        "conversion_low": None if conversion is None else conversion[0],
        "conversion_high": None if conversion is None else conversion[1],
        "conversion_p": None,
        "conversion_detectable": None,
        "revenue": revenue,
        "won_amount_unknown": int((won & np.isnan(amount)).sum()),
        "revenue_per_lead": revenue / n_found if n_found else None,
        "revenue_per_lead_low": None,
        "revenue_per_lead_high": None,
        "revenue_per_lead_p": None,
        "cycle_days": float(cycle.mean()) if len(cycle) else None,
        "cycle_days_low": None,
        "cycle_days_high": None,
        "cycle_days_p": None,
    }


def compare_arms(
    leads: pd.DataFrame,
    deals: Deals,
    *,
    seed: int = 0,
    replicates: int = REPLICATES,
    source: str = "the run",
) -> tuple[pd.DataFrame, dict[str, Any], tuple[str, ...]]:
    """The comparison of a run's arms (``run_leads(...).frame``) on ``deals``: the table,
    the report and the verdicts (see the module doc)."""
    at_all = np.asarray(
        pd.Index(deals.ids, dtype=object).get_indexer(pd.Index(leads["lead_id"], dtype=object)),
        dtype=np.int64,
    )
    if not bool((at_all >= 0).any()):
        raise InputError(
            f"none of the {len(leads):,} leads of {source} is a deal_id of the history: "
            "evaluate joins the history's deal_id to the run's lead_id (export the deals of "
            "these leads, or map the column holding the lead id to deal_id)",
            source=deals.source.name,
        )
    rows = {}
    for name in (OPTIMIZED, HOLDOUT):
        mask = (leads["arm"] == name).to_numpy()
        rows[name] = _arm_row(name, leads[mask], deals, at_all[mask])
    opt, hold = rows[OPTIMIZED], rows[HOLDOUT]
    conversion = proportion_difference(opt["won"], opt["closed"], hold["won"], hold["closed"])
    closed_all = opt["closed"] + hold["closed"]
    pooled = (opt["won"] + hold["won"]) / closed_all if closed_all else None
    detectable = (
        detectable_difference(opt["closed"], hold["closed"], pooled) if pooled is not None else None
    )

    # revenue per lead and cycle days: bootstrap within (territory, arm) cells
    rng = np.random.default_rng(seed)
    found = at_all >= 0
    where = at_all[found]
    is_opt = (leads["arm"] == OPTIMIZED).to_numpy()[found]
    territory = leads["territory"].to_numpy(dtype=str)[found]
    won = deals.outcome[where] == "won"
    revenue = np.where(won, np.nan_to_num(deals.amount[where], nan=0.0), 0.0)
    rev_boot = stratified_bootstrap(revenue, is_opt, territory, replicates=replicates, rng=rng)
    revenue_diff = _mean_difference(
        opt["revenue_per_lead"], hold["revenue_per_lead"], rev_boot.interval("difference"),
        welch_p(revenue[is_opt], revenue[~is_opt]),
    )  # fmt: skip
    cycle = deals.cycle_days[where]
    cycle_boot = stratified_bootstrap(
        cycle[won], is_opt[won], territory[won], replicates=replicates, rng=rng
    )
    cycle_diff = _mean_difference(
        opt["cycle_days"], hold["cycle_days"], cycle_boot.interval("difference"),
        welch_p(cycle[won & is_opt], cycle[won & ~is_opt]),
    )  # fmt: skip
    for row, boot_arm in ((opt, "first"), (hold, "second")):
        for column, boot in (("revenue_per_lead", rev_boot), ("cycle_days", cycle_boot)):
            interval = boot.interval(boot_arm) if row[column] is not None else None
            row[f"{column}_low"], row[f"{column}_high"] = interval or (None, None)
    difference = _difference_row(opt, hold, conversion, detectable, revenue_diff, cycle_diff)
    table = pd.DataFrame([opt, hold, difference], columns=list(COLUMNS))
    for column in COUNTS:  # whole numbers, empty on the difference row
        table[column] = table[column].astype("Int64")
    verdicts = _verdicts(opt, hold, conversion, detectable, revenue_diff, cycle_diff)
    report = {
        "run": source,
        "history": deals.source.name,
        "join": "deal_id = lead_id",
        "analysis": "intention to treat: each lead in the arm it was drawn into",
        "methods": {
            "conversion": "won / closed; Wilson score interval per arm; difference: Newcombe's "
            "hybrid score interval, p-value of the pooled two-proportion z-test",
            "conversion_detectable": "smallest difference detectable at 80% power, two-sided "
            "alpha 0.05, for the arms' closed deals and the pooled rate",
            "revenue_per_lead": "sum of won amounts / leads found in the history (open: 0 so "
            "far); percentile interval of a bootstrap resampling leads within (territory, arm) "
            "cells; p-value of Welch's t-test",
            "cycle_days": "mean days from created to closed of won deals; bootstrap within "
            "(territory, arm) cells; Welch's t-test",
        },
        "bootstrap": {"replicates": replicates, "seed": seed, "strata": "territory"},
        "arms": {OPTIMIZED: _plain(opt), HOLDOUT: _plain(hold)},
        "difference": _plain(difference),
        "verdicts": list(verdicts),
    }
    return table, report, verdicts


def _mean_difference(
    a: float | None, b: float | None, interval: tuple[float, float] | None, p: float | None
) -> Difference:
    if a is None or b is None:
        return Difference(None, None, None, None)
    low, high = interval or (None, None)
    return Difference(a - b, low, high, p)


def _difference_row(
    opt: dict[str, Any],
    hold: dict[str, Any],
    conversion: Difference,
    detectable: float | None,
    revenue: Difference,
    cycle: Difference,
) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in COLUMNS}
    row["row"] = "difference"
    # (counts and revenue sums of arms of different sizes are not compared: left empty)
    row.update(
        {
            "conversion": conversion.estimate,
            "conversion_low": conversion.low,
            "conversion_high": conversion.high,
            "conversion_p": conversion.p_value,
            "conversion_detectable": detectable,
            "revenue_per_lead": revenue.estimate,
            "revenue_per_lead_low": revenue.low,
            "revenue_per_lead_high": revenue.high,
            "revenue_per_lead_p": revenue.p_value,
            "cycle_days": cycle.estimate,
            "cycle_days_low": cycle.low,
            "cycle_days_high": cycle.high,
            "cycle_days_p": cycle.p_value,
        }
    )
    return row


def _points(x: float) -> str:
    return f"{x * 100:+.1f} points"


def _p(p: float | None) -> str:
    if p is None:
        return "p not computable"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _verdicts(
    opt: dict[str, Any],
    hold: dict[str, Any],
    conversion: Difference,
    detectable: float | None,
    revenue: Difference,
    cycle: Difference,
) -> tuple[str, ...]:
    says: list[str] = []
    if conversion.estimate is None:
        empty = [r["row"] for r in (opt, hold) if not r["closed"]]
        says.append(
            f"conversion cannot be compared: no closed deal in the {' and '.join(empty)} arm"
            + ("s" if len(empty) > 1 else "")
            + " yet."
        )
    else:
        assert conversion.low is not None and conversion.high is not None
        sized = (
            f"With {hold['closed']:,} holdout and {opt['closed']:,} optimized closed deals, only "
            f"a difference of {detectable * 100:.1f} points or more could be detected "
            "(80% power, 5% two-sided); "
            if detectable is not None
            else ""
        )
        interval = (
            f"95% interval {_points(conversion.low)} to {_points(conversion.high)}, "
            f"{_p(conversion.p_value)}"
        )
        if conversion.excludes_zero:
            says.append(
                f"{sized}the observed {_points(conversion.estimate)} in conversion ({interval}) "
                "is distinguishable from zero."
            )
        else:
            says.append(
                f"{sized}the observed {_points(conversion.estimate)} in conversion ({interval}) "
                "is not distinguishable from zero."
            )
    for label, diff, unit in (
        ("revenue per lead", revenue, ""),
        ("cycle days of won deals", cycle, " days"),
    ):
        if diff.estimate is None:
            says.append(f"{label} cannot be compared: an arm has no deal to measure it on.")
            continue
        if diff.low is None or diff.high is None:
            continue
        verdict = "distinguishable" if diff.excludes_zero else "not distinguishable"
        says.append(
            f"{label}: {diff.estimate:+,.2f}{unit} (95% interval {diff.low:+,.2f} to "
            f"{diff.high:+,.2f}, {_p(diff.p_value)}), {verdict} from zero."
        )
    found = opt["in_history"] + hold["in_history"]
    still_open = opt["open"] + hold["open"]
    if found and still_open / found > OPEN_WARNING:
        says.append(
            f"{still_open:,} of the {found:,} deals found ({still_open / found:.0%}) are still "
            "open: conversion among closed deals is biased toward deals that close fast, and "
            "revenue counts only what has closed; evaluate again when more have closed."
        )
    missing = opt["missing"] + hold["missing"]
    if missing:
        says.append(
            f"{missing:,} of the run's {opt['leads'] + hold['leads']:,} leads are not in the "
            "history (not exported, or deleted) and are left out."
        )
    for row in (opt, hold):
        if row["in_history"] and row["followed"] < 0.9 * row["in_history"]:
            says.append(
                f"in the {row['row']} arm only {row['followed']:,} of {row['in_history']:,} "
                "deals are owned in the history by the rep the run chose: the comparison is of "
                "the draw, not of the plan as routed."
            )
    return tuple(says)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row for JSON: NaN as None, numpy numbers as Python numbers."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, (np.floating, float)):
            value = None if value != value else float(value)
        elif isinstance(value, np.integer):
            value = int(value)
        out[key] = value
    return out


def evaluate(
    run: str,
    history: Path,
    *,
    columns: str | None = None,
    store: str | None = None,
    out: Path | None = None,
    force: bool = False,
    seed: int = 0,
    replicates: int = REPLICATES,
) -> Evaluation:
    """``leadassign evaluate``: ``run`` (a run folder or a run reference in ``store``)
    against the deal ``history``; with ``out``, evaluate.csv and evaluate.json written there
    (through ``leadassign.publish``: only files leadassign wrote are replaced)."""
    if replicates < 100:
        raise InputError(f"--replicates must be at least 100, not {replicates}")
    leads = run_leads(run, store)
    folder = target(out, inputs=[history, *leads.paths], force=force) if out is not None else None
    deals = load_history(history, columns)
    table, report, verdicts = compare_arms(
        leads.frame, deals, seed=seed, replicates=replicates, source=leads.source
    )
    written: tuple[Path, ...] = ()
    if folder is not None:
        csv_bytes = csv_text(table).encode("utf-8")
        json_bytes = (summary_json(report)).encode("utf-8")

        def writer(data: bytes) -> Any:
            return lambda path: path.write_bytes(data)

        published = publish(
            folder,
            {EVALUATE_CSV: writer(csv_bytes), EVALUATE_JSON: writer(json_bytes)},
            command="evaluate",
        )
        published.done()
        written = tuple(published.files)
    return Evaluation(table, report, verdicts, written)


def report_json(evaluation: Evaluation) -> str:
    """evaluate.json's text."""
    return summary_json(evaluation.report)


__all__ = ["COLUMNS", "Evaluation", "compare_arms", "evaluate", "report_json", "run_leads"]
