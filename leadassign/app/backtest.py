"""The backtest use case: replay a past book of deals under each plan and score it honestly.

``backtest(history, segment=..., split=..., out=...)`` splits the history at ``split``:
*training* = deals closed before it; the *book* = deals created on or after it whose outcome
is known (won or lost). Deals created before the split and closed on or after it, open deals
and deals without a created date are in neither (counted in backtest.json). The book becomes
a leadassign Problem (lead_id = deal_id, value = amount, industry = the segment value,
territory) whose reps carry win rates learned from the training deals; the plans
(historical, round_robin, greedy, optimized, scenario variants) assign it, and
:mod:`leadassign.outcomes.backtest` scores them against the book's outcomes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from leadassign.baselines import run_baseline
from leadassign.errors import InputError
from leadassign.models.policy import Policy, load_policy
from leadassign.models.problem import Problem, load_problem
from leadassign.models.source import read_table
from leadassign.models.tables import parse_reps
from leadassign.outcomes import backtest as stats
from leadassign.outcomes.backtest_report import report_html
from leadassign.outcomes.deals import Deals
from leadassign.outcomes.mapping import load_history
from leadassign.outcomes.rates import RateModel, fit_rates
from leadassign.output import summary_json, write_csv
from leadassign.publish import Writer, target, write_folder
from leadassign.result import Result
from leadassign.scenarios import spec as scenario_spec
from leadassign.solve import solve

Capacity = Literal["actual", "learned", "policy"]
#: The territory of every book deal when eligibility is not restricted (reps cover '*').
ANY_TERRITORY = "all"
#: The plans every backtest has, in backtest.csv's order (scenario variants follow).
PLANS = ("historical", "round_robin", "greedy", "optimized")


@dataclass(frozen=True)
class Split:
    training: Deals
    book: Deals
    counts: dict[str, int]


def split_history(deals: Deals, split: np.datetime64, source: str) -> Split:
    """Training, book and the deals in neither (see the module doc)."""
    closed = deals.is_closed
    created = ~np.isnat(deals.created)
    train = closed & (deals.closed < split)
    book = closed & created & (deals.created >= split)
    first = deals.created[created].min() if created.any() else None
    last = deals.closed[closed].max() if closed.any() else None
    span = f"the history's deals were created from {first} and closed up to {last}"
    if not train.any():
        raise InputError(
            f"--split {split}: no deal closed before it, nothing to learn from ({span})",
            source=source,
        )
    if not book.any():
        raise InputError(
            f"--split {split}: no won or lost deal was created on or after it, no book to "
            f"replay ({span})",
            source=source,
        )
    if int(book.sum()) < 2 * stats.K_FOLDS:
        raise InputError(
            f"--split {split}: only {int(book.sum())} book deals; the cross-fitted scoring "
            f"needs at least {2 * stats.K_FOLDS}",
            source=source,
        )
    counts = {
        "history": len(deals),
        "training": int(train.sum()),
        "book": int(book.sum()),
        "straddling": int((closed & created & (deals.created < split) & ~train).sum()),
        "open": int((~closed).sum()),
    }
    # the book in arrival order: created date, then deal_id
    booked = deals.subset(book)
    ranks = np.lexsort((booked.ids, booked.created))
    sorted_book = Deals(
        booked.source,
        booked.ids[ranks],
        booked.rep[ranks],
        booked.outcome[ranks],
        booked.created[ranks],
        booked.closed[ranks],
        booked.amount[ranks],
        {k: v[ranks] for k, v in booked.segments.items()},
    )
    return Split(deals.subset(train), sorted_book, counts)


def fill_amounts(training: Deals, book: Deals, segment: str) -> tuple[np.ndarray, int, str]:
    """The book's amounts, unknown ones replaced by the median amount of the training's won
    deals of the same segment value (of all won training deals where the segment has none;
    0 when no won training deal has an amount): the amounts, how many were filled, the rule."""
    amount = book.amount.copy()
    unknown = ~np.isfinite(amount)
    if not unknown.any():
        return amount, 0, "none unknown"
    won = training.won & np.isfinite(training.amount)
    frame = pd.DataFrame({"s": training.segment(segment)[won], "a": training.amount[won]})
    overall = float(frame["a"].median()) if len(frame) else 0.0
    medians = frame.groupby("s")["a"].median()
    fill = medians.reindex(book.segment(segment)[unknown]).fillna(overall).to_numpy()
    amount[unknown] = fill
    return amount, int(unknown.sum()), "median amount of the segment's won training deals"


def _text(values: np.ndarray) -> list[str]:
    return [repr(float(v)) for v in values]


def _reps_frame(
    book: Deals,
    training: Deals,
    model: RateModel,
    capacity: Capacity,
    reps_path: Path | None,
    segment: str,
) -> tuple[pd.DataFrame, bool, dict[str, Any]]:
    """The reps table of the book's Problem (text cells), whether territories restrict
    eligibility, and how capacity was set."""
    n_book = pd.Series(book.rep).value_counts()
    note: dict[str, Any] = {"mode": capacity}
    if reps_path is not None:
        table = parse_reps(read_table(reps_path, "reps"))
        ids = np.asarray(table.ids, dtype=str)
        missing = sorted(set(book.rep) - set(ids))
        if missing:
            raise InputError(
                f"rep '{missing[0]}' owns book deals but is not in the reps table "
                f"({len(missing)} such reps): the historical plan needs every owner",
                source=str(reps_path),
                column="rep_id",
            )
        territories = [";".join(t) if t else "" for t in table.territories]
        restrict = "territory" in book.segments
        if not restrict:
            territories = ["*"] * len(ids)
        policy_capacity = np.asarray(table.capacity, dtype=np.int64)
    else:
        ids = np.asarray(sorted(set(book.rep)), dtype=str)
        territories = ["*"] * len(ids)
        restrict = False
        policy_capacity = None
    actual = n_book.reindex(ids).fillna(0).to_numpy(dtype=np.int64)
    if capacity == "actual":
        cap = actual
    elif capacity == "policy":
        if policy_capacity is None:
            raise InputError("--capacity policy takes the reps table's capacity: give --reps")
        cap = policy_capacity
    else:
        cap, note = _learned_capacity(ids, training, book, len(book))
    win = model.win_rate(ids)
    frame = pd.DataFrame(
        {
            "rep_id": ids,
            "territories": territories,
            "capacity": [str(int(c)) for c in cap],
            "win_rate": _text(win),
        }
    )
    note["total"] = int(np.sum(cap))
    return frame, restrict, note


def _learned_capacity(
    ids: np.ndarray, training: Deals, book: Deals, n_book: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Each rep's training throughput (closed deals per day over the training window, from
    its first created date to its last closed date) times the book's span (its first to its
    last created date, in days), rounded up; scaled up together when the total is below the
    book's size (so that no plan leaves deals unassigned for lack of capacity)."""
    start = training.created[~np.isnat(training.created)].min()
    end = training.closed.max()
    window = max(float((end - start).astype("timedelta64[D]").astype(np.int64)) + 1.0, 1.0)
    span = float((book.created.max() - book.created.min()).astype("timedelta64[D]").astype(int))
    span += 1.0
    per_rep = pd.Series(training.rep).value_counts().reindex(ids).fillna(0).to_numpy(float)
    raw = np.ceil(per_rep / window * span)
    scaled = 1.0
    if raw.sum() < n_book:
        scaled = n_book / max(raw.sum(), 1.0)
        raw = (
            np.ceil(raw * scaled)
            if raw.sum() > 0
            else np.ceil(np.full(len(ids), n_book / len(ids)))
        )
    note = {
        "mode": "learned",
        "statistic": "training closed deals per day x the book's span in days, rounded up",
        "training_days": window,
        "book_days": span,
        "scaled_up_by": scaled,
    }
    return raw.astype(np.int64), note


def build_problem(
    split: Split,
    segment: str,
    amount: np.ndarray,
    model: RateModel,
    *,
    capacity: Capacity,
    reps_path: Path | None,
    policy: Policy,
) -> tuple[Problem, pd.DataFrame, pd.DataFrame, pd.DataFrame | None, dict[str, Any]]:
    """The book as a Problem (and its leads, reps and affinity tables as text)."""
    book = split.book
    reps, restrict, note = _reps_frame(book, split.training, model, capacity, reps_path, segment)
    seg = book.segment(segment)
    territory = book.segment("territory") if restrict else np.full(len(book), ANY_TERRITORY)
    territory = np.where(territory == "", ANY_TERRITORY, territory)
    leads = pd.DataFrame(
        {"lead_id": book.ids, "territory": territory, "value": _text(amount), "industry": seg}
    )
    values = sorted(set(seg) - {""})
    affinity = None
    if values:
        rep_grid = np.repeat(reps["rep_id"].to_numpy(dtype=str), len(values))
        seg_grid = np.tile(np.asarray(values, dtype=str), len(reps))
        affinity = pd.DataFrame(
            {
                "rep_id": rep_grid,
                "industry": seg_grid,
                "win_rate": _text(model.win_rate(rep_grid, seg_grid)),
            }
        )
    problem = load_problem(leads, reps, affinity, policy=policy)
    return problem, leads, reps, affinity, note


def _plan_of(result: Result) -> np.ndarray:
    reps = np.asarray(result.problem.reps.ids, dtype=str)
    chosen = result.rep_of_lead
    return np.where(chosen >= 0, reps[np.maximum(chosen, 0)], "")


def _scenario_plans(
    path: Path, leads: pd.DataFrame, reps: pd.DataFrame, affinity: pd.DataFrame | None, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Each variant of the scenario file applied to the book's tables, solved."""
    scenario = scenario_spec.load_scenario(path)
    tables = scenario_spec.Tables(leads, reps, affinity)  # the book as the variants' base
    plans: dict[str, np.ndarray] = {}
    statuses: dict[str, str] = {}
    for name in scenario.variants:
        if name in PLANS:
            raise InputError(
                f"variant '{name}' has the name of a backtest plan; rename it", source=str(path)
            )
        policy = scenario_spec.variant_policy(scenario, name)
        where = f"{scenario.source}, variant '{name}'"
        try:
            made = scenario_spec.apply_variant(tables, scenario.variants[name])
            problem = load_problem(made.leads, made.reps, made.affinity, policy=policy)
        except InputError as exc:
            raise InputError(exc.message, source=where, column=exc.column) from exc
        result = solve(problem, policy, seed=seed)
        statuses[name] = result.status.value
        if result.has_solution:
            plans[name] = _plan_of(result)
    return plans, statuses


def _strength(value: float) -> float | str:
    """A prior strength for JSON: ``"inf"`` (no detectable difference) stays readable."""
    return "inf" if math.isinf(value) else value


def _fmt(value: float, digits: int) -> float:
    return round(float(value), digits) if math.isfinite(value) else math.nan


def backtest_table(
    scored: stats.Scored, plans: dict[str, np.ndarray], book: stats.Book
) -> pd.DataFrame:
    """backtest.csv: one row per plan (docs/history.md "backtest")."""
    e = scored.point
    rows = []
    hist = {
        "plan": stats.HISTORICAL,
        "deals": len(book),
        "agreement": 1.0,
        "method": "observed",
    }
    names = [stats.HISTORICAL, *plans]
    for name in names:
        if name == stats.HISTORICAL:
            row: dict[str, Any] = dict(hist)
            fig, ci = e.dm[name], scored.intervals[name]["dm"]
        else:
            how = scored.method[name]
            d = plans[name]
            row = {
                "plan": name,
                "deals": int((d != "").sum()),
                "agreement": float((d == book.rep).mean()),
                "method": how,
            }
            fig = (e.dm if how == "dm" else e.dr)[name]
            ci = scored.intervals[name][how]
        deals = row["deals"]
        row.update(
            {
                "wins": fig["wins"],
                "wins_low": ci["wins"][0],
                "wins_high": ci["wins"][1],
                "conversion": fig["wins"] / deals if deals else math.nan,
                "revenue": fig["revenue"],
                "revenue_low": ci["revenue"][0],
                "revenue_high": ci["revenue"][1],
                "cycle_days": fig["cycle_days"],
                "cycle_days_low": ci["cycle_days"][0],
                "cycle_days_high": ci["cycle_days"][1],
            }
        )
        if name == stats.HISTORICAL:
            row["observed_wins"] = e.observed["wins"]
            row["observed_revenue"] = e.observed["revenue"]
            row["observed_cycle_days"] = e.observed["cycle_days"]
        rows.append(row)
    columns = [
        "plan",
        "deals",
        "wins",
        "wins_low",
        "wins_high",
        "conversion",
        "revenue",
        "revenue_low",
        "revenue_high",
        "cycle_days",
        "cycle_days_low",
        "cycle_days_high",
        "agreement",
        "method",
        "observed_wins",
        "observed_revenue",
        "observed_cycle_days",
    ]
    frame = pd.DataFrame(rows).reindex(columns=columns)
    for column in columns:
        if column in ("plan", "method", "deals"):
            continue
        digits = 4 if column in ("conversion", "agreement") else 2
        frame[column] = [_fmt(v, digits) for v in frame[column].to_numpy(dtype=float)]
    return frame


def uplift_table(scored: stats.Scored) -> pd.DataFrame:
    """uplift.csv: per plan, its figures minus historical's, with intervals, and whether
    each interval excludes 0."""
    rows = []
    for name, figs in scored.uplift.items():
        row: dict[str, Any] = {"plan": name, "method": scored.method[name]}
        for fig, (diff, lo, hi) in figs.items():
            row[f"{fig}_diff"] = _fmt(diff, 2)
            row[f"{fig}_diff_low"] = _fmt(lo, 2)
            row[f"{fig}_diff_high"] = _fmt(hi, 2)
            row[f"{fig}_distinguishable"] = bool(lo > 0 or hi < 0)
        rows.append(row)
    return pd.DataFrame(rows)


def uplift_words(scored: stats.Scored) -> list[str]:
    """One sentence per plan and figure: is its difference from historical distinguishable
    from zero?"""
    lines = []
    for name, figs in scored.uplift.items():
        for fig, (diff, lo, hi) in figs.items():
            if not (math.isfinite(lo) and math.isfinite(hi)):
                continue
            seen = lo > 0 or hi < 0
            verdict = (
                "distinguishable from zero"
                if seen
                else "not distinguishable from zero: the data cannot tell it from no change"
            )
            lines.append(
                f"{name} - historical, {fig.replace('_', ' ')}: {diff:+,.2f} "
                f"(95% interval {lo:+,.2f} to {hi:+,.2f}), {verdict}"
            )
    return lines


CAVEATS = (
    "Open deals are censored: deals still open at the end of the history are not in the "
    "book, nor are deals created before the split and closed after it; the book's conversion "
    "is that of deals that closed, which over-represents quick outcomes near the end of the "
    "history.",
    "History was not randomized: reps got deals by rules and habits the data does not record. "
    "The estimates assume that the segment captures how deals were routed (no unmeasured "
    "confounding); the intervals cover estimation noise, not that assumption.",
    "Each plan was solved once, from the training deals; the bootstrap refits the scoring "
    "model but does not re-solve the plans.",
    "A plan is never scored by the model that chose it: the scoring model is fitted on the "
    "book's own outcomes, cross-fitted so that no deal is scored by a model that saw it.",
)


def backtest(
    history: Path,
    *,
    segment: str,
    split: str,
    out: Path,
    columns: str | None = None,
    policy_path: Path | None = None,
    reps_path: Path | None = None,
    capacity: Capacity = "actual",
    scenarios: Path | None = None,
    seed: int = 0,
    bootstrap: int = 200,
    force: bool = False,
) -> dict[str, Any]:
    """Run the backtest and write its files into ``out``; returns backtest.json's dict."""
    inputs = [history, policy_path, reps_path, scenarios]
    if columns is not None and Path(columns).exists():
        inputs.append(Path(columns))
    target(out, inputs=inputs, force=force)  # before anything is computed
    try:
        when = np.datetime64(pd.Timestamp(split).date(), "D")
    except (ValueError, TypeError) as exc:
        raise InputError(f"--split '{split}' is not a date (YYYY-MM-DD)") from exc
    deals = load_history(history, columns)
    source = str(history)
    if segment not in deals.segments:
        have = ", ".join(sorted(deals.segments)) or "none"
        raise InputError(
            f"--segment '{segment}': the history has no such column (segment columns: {have})",
            source=source,
        )
    parts = split_history(deals, when, source)
    training, book_deals = parts.training, parts.book
    seg_train = training.segment(segment)
    model = fit_rates(training.rep, training.won, training.cycle_days, seg_train)
    amount, filled, fill_rule = fill_amounts(training, book_deals, segment)
    policy = load_policy(policy_path).with_solver(seed=seed)
    problem, leads, reps, affinity, cap_note = build_problem(
        parts, segment, amount, model, capacity=capacity, reps_path=reps_path, policy=policy
    )
    plans: dict[str, np.ndarray] = {
        "round_robin": _plan_of(run_baseline(problem, "round-robin", policy)),
        "greedy": _plan_of(run_baseline(problem, "greedy", policy)),
    }
    optimized = solve(problem, policy, seed=seed)
    statuses = {"optimized": optimized.status.value}
    if optimized.has_solution:
        plans["optimized"] = _plan_of(optimized)
    if scenarios is not None:
        more, more_status = _scenario_plans(scenarios, leads, reps, affinity, seed)
        plans.update(more)
        statuses.update(more_status)
    book = stats.Book(
        ids=book_deals.ids,
        rep=book_deals.rep,
        segment=book_deals.segment(segment),
        won=book_deals.won,
        cycle=np.where(book_deals.won, book_deals.cycle_days, np.nan),
        amount=amount,
    )
    scored = stats.score(book, plans, seed=seed, replicates=bootstrap)
    table = backtest_table(scored, plans, book)
    uplift = uplift_table(scored)
    calib = stats.calibration(scored.point.p_hist, book.won)
    reps_table = stats.per_rep(book, plans, scored.point)
    words = uplift_words(scored)
    unreliable = [
        f"{name}: the doubly-robust estimate rests on an effective sample of "
        f"{scored.point.ess[name]:,.1f} deals (overlap {scored.point.overlap[name]:.1%}); "
        "it is unreliable here, so backtest.csv reports the direct method"
        for name in plans
        if scored.method[name] == "dm"
    ]
    report: dict[str, Any] = {
        "split": str(when),
        "segment": segment,
        "seed": seed,
        "bootstrap": bootstrap,
        "folds": stats.K_FOLDS,
        "deals": parts.counts,
        "neither": {
            "straddling": "created before the split and closed on or after it: in neither "
            "training nor the book",
            "open": "still open at the end of the history (censored): in neither",
        },
        "reps": len(reps),
        "capacity": cap_note,
        "eligibility": "every rep for every book deal"
        if reps_path is None or "territory" not in book_deals.segments
        else "the reps table's territories against the history's territory column",
        "amount": {"filled": filled, "rule": fill_rule},
        "training_model": {
            "team_rate": model.team_rate,
            "rep_strength": _strength(model.rep_fit.strength),
            "rep_p_value": model.rep_fit.p_value,
            "segment_strength": None
            if model.cell_fit is None
            else _strength(model.cell_fit.strength),
            "segment_p_value": None if model.cell_fit is None else model.cell_fit.p_value,
        },
        "statuses": statuses,
        "method_rule": f"dr when its effective sample size >= {stats.DR_MIN_ESS:g} deals and "
        f">= {stats.DR_MIN_ESS_SHARE:g} of the book, and the overlap share >= "
        f"{stats.DR_MIN_OVERLAP:g}; else dm; historical: observed",
        "plans": stats.summary(scored, plans),
        "uplift": {
            name: {fig: list(v) for fig, v in figs.items()} for name, figs in scored.uplift.items()
        },
        "uplift_in_words": words,
        "dr_unreliable": unreliable,
        "calibration": calib.to_dict("records"),
        "caveats": list(CAVEATS),
    }
    page = report_html(
        title=f"Backtest from {when} ({segment})",
        table=table,
        uplift=uplift,
        calibration=calib,
        per_rep=reps_table,
        words=words + unreliable,
        caveats=list(CAVEATS),
        counts=parts.counts,
    )
    writers: dict[str, Writer] = {
        "backtest.csv": lambda p: write_csv(table, p),
        "uplift.csv": lambda p: write_csv(uplift, p),
        "backtest.json": lambda p: p.write_text(summary_json(report), encoding="utf-8"),
        "report.html": lambda p: p.write_text(page, encoding="utf-8"),
    }
    all_plans = {stats.HISTORICAL: book.rep, **plans}
    for name, plan in all_plans.items():
        frame = pd.DataFrame({"deal_id": book.ids, "rep_id": plan})

        def write(p: Path, frame: pd.DataFrame = frame) -> None:
            write_csv(frame, p)

        writers[f"plans/{name}.csv"] = write
    write_folder(out, writers, command="backtest", force=force, inputs=inputs)
    return report


__all__ = ["CAVEATS", "PLANS", "backtest", "backtest_table", "split_history", "uplift_table"]
