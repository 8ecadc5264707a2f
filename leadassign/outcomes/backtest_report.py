"""report.html of a backtest: one self-contained page (no scripts, no network).

The plans side by side with their 95% intervals (dot and whisker, on axes fitted to the
figures, not bars from zero), the uplift against the historical owners, the calibration of
the cross-fitted outcome model (predicted against observed win rate in 10 bins, with
counts), the load and predicted win rate per rep and plan, and the caveats in words.
Charts as in the scenario report: matplotlib SVG inlined, deterministic, every text escaped.
"""

from __future__ import annotations

import html
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, MaxNLocator

from leadassign.scenarios.report import RUN_COLOUR, STYLE, _label, _svg, _table

HIST_COLOUR = "#d06a1f"


def _plans_chart(table: pd.DataFrame) -> str:
    """Wins, revenue and cycle days of each plan: a dot at the estimate, a whisker over its
    interval; historical's observed figure as a dashed line."""
    names = [_label(n) for n in table["plan"].tolist()]
    y = np.arange(len(names))
    figure, axes = plt.subplots(1, 3, figsize=(13, 0.45 * len(names) + 1.6), sharey=True)
    for ax, fig, title in (
        (axes[0], "wins", "wins"),
        (axes[1], "revenue", "revenue"),
        (axes[2], "cycle_days", "cycle days (won deals)"),
    ):
        mid = table[fig].to_numpy(dtype=float)
        lo = table[f"{fig}_low"].to_numpy(dtype=float)
        hi = table[f"{fig}_high"].to_numpy(dtype=float)
        # a point outside its percentile interval (a skewed bootstrap) gets no whisker on that side
        err = np.maximum(np.vstack([np.nan_to_num(mid - lo), np.nan_to_num(hi - mid)]), 0.0)
        colours = [HIST_COLOUR if n == "historical" else RUN_COLOUR for n in table["plan"]]
        for i in range(len(names)):
            ax.errorbar(mid[i], y[i], xerr=err[:, i : i + 1], fmt="o", color=colours[i], capsize=4)
        observed = float(table[f"observed_{fig}"].iloc[0])
        if np.isfinite(observed):
            ax.axvline(observed, color="#444", linewidth=0.8, linestyle="--", label="observed")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 100 else f"{v:g}")
        )
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    figure.tight_layout()
    return _svg(figure)


def _calibration_chart(calibration: pd.DataFrame) -> str:
    figure, ax = plt.subplots(figsize=(6, 5))
    pred = calibration["predicted"].to_numpy(dtype=float)
    obs = calibration["observed"].to_numpy(dtype=float)
    err = np.vstack(
        [
            obs - calibration["observed_low"].to_numpy(dtype=float),
            calibration["observed_high"].to_numpy(dtype=float) - obs,
        ]
    )
    ax.errorbar(pred, obs, yerr=err, fmt="o", color=RUN_COLOUR, capsize=3, label="bins")
    for p, o, n in zip(pred, obs, calibration["deals"].tolist(), strict=True):
        ax.annotate(f"{n:,}", (p, o), textcoords="offset points", xytext=(5, -10), fontsize=7)
    lo = float(min(pred.min(), (obs - err[0]).min()))
    hi = float(max(pred.max(), (obs + err[1]).max()))
    ax.plot([lo, hi], [lo, hi], color="#888", linewidth=0.8, linestyle="--", label="perfect")
    ax.set_xlabel("predicted win rate (cross-fitted)")
    ax.set_ylabel("observed win rate (95% interval)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return _svg(figure)


def _per_rep_chart(per_rep: pd.DataFrame) -> str:
    plans = list(dict.fromkeys(per_rep["plan"].tolist()))
    reps = sorted(set(per_rep["rep_id"].tolist()))
    x = np.arange(len(reps))
    figure, axes = plt.subplots(2, 1, figsize=(max(7.0, 0.3 * len(reps) + 3), 6), sharex=True)
    width = 0.8 / max(len(plans), 1)
    cmap = plt.get_cmap("tab10")
    for k, plan in enumerate(plans):
        part = per_rep[per_rep["plan"] == plan].set_index("rep_id").reindex(reps)
        offset = (k - (len(plans) - 1) / 2) * width
        axes[0].bar(
            x + offset,
            part["deals"].fillna(0).to_numpy(dtype=float),
            width=width,
            color=cmap(k % 10),
            label=_label(plan),
        )
        axes[1].plot(
            x, part["win_rate"].to_numpy(dtype=float), marker="o", linestyle="", color=cmap(k % 10)
        )
    hist = per_rep[per_rep["plan"] == "historical"].set_index("rep_id").reindex(reps)
    axes[1].plot(
        x,
        hist["observed_win_rate"].to_numpy(dtype=float),
        marker="x",
        linestyle="",
        color="#222",
        label="observed (historical)",
    )
    axes[0].set_ylabel("book deals")
    axes[0].legend(fontsize=7, ncol=min(len(plans), 5))
    axes[1].set_ylabel("win rate (predicted)")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
    if len(reps) <= 80:
        axes[1].set_xticks(x, [_label(r, 24) for r in reps], rotation=90, fontsize=7)
    figure.tight_layout()
    return _svg(figure)


def report_html(
    *,
    title: str,
    table: pd.DataFrame,
    uplift: pd.DataFrame,
    calibration: pd.DataFrame,
    per_rep: pd.DataFrame,
    words: list[str],
    caveats: list[str],
    counts: dict[str, Any],
) -> str:
    """The page (module doc)."""
    with matplotlib.rc_context({"text.parse_math": False}):
        charts = (
            _plans_chart(table),
            _calibration_chart(calibration),
            _per_rep_chart(per_rep),
        )
    wide = per_rep.pivot(index="rep_id", columns="plan", values="deals").fillna(0)
    wide = wide.reindex(columns=list(dict.fromkeys(per_rep["plan"]))).astype(int)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<p>"
        + html.escape(
            f"{counts['book']:,} book deals replayed (created on or after the split, won or "
            f"lost), learned from {counts['training']:,} training deals (closed before it); "
            f"{counts['straddling']:,} deals created before the split and closed after it and "
            f"{counts['open']:,} open deals are in neither."
        )
        + "</p>",
        "<h2>Plans</h2>",
        _table(table, text_columns=("plan", "method"), base_row=True),
        charts[0],
        "<h2>Against the historical owners</h2>",
        "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in words) + "</ul>",
        _table(uplift, text_columns=("plan", "method")),
        "<h2>Calibration of the scoring model</h2>",
        "<p>The cross-fitted outcome model's predicted win rate of each book deal under its "
        "historical owner, in 10 bins of equal size, against the observed rate; the numbers "
        "are the deals per bin.</p>",
        charts[1],
        _table(calibration),
        "<h2>Per rep</h2>",
        charts[2],
        "<details><summary>Book deals per rep and plan</summary>",
        _table(wide.reset_index(), text_columns=("rep_id",)),
        "</details>",
        "<h2>What these figures cannot show</h2>",
        "<ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in caveats) + "</ul>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


__all__ = ["report_html"]
