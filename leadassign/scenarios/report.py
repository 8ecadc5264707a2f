"""report.html: one self-contained page for a comparison (README "What-if scenarios").

The comparison table, the expected value and leads assigned of each run, each run's leads and
expected value per rep, the frontier when the scenario sweeps a knob, and the lead moves
against the base. Charts are drawn with matplotlib and inlined as SVG (text kept as text), so
the page needs no network and no scripts. The SVG is made deterministic (a fixed hash salt, no
date), so the same runs give the same bytes.
"""

from __future__ import annotations

import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from leadassign.scenarios.run import Run

#: Lead moves listed per variant (the full list is in its diff CSV).
MOVES_SHOWN = 50
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
tr.base td { background: #f7fbff; } .bad { color: #b00; font-weight: 600; }
details { margin: 0.4em 0; } summary { cursor: pointer; }
svg { max-width: 100%; height: auto; } div.wide { overflow-x: auto; }
"""
BASE_COLOUR, RUN_COLOUR, GREY = "#8aa9c9", "#2f6db3", "#b9b9b9"


#: Longest label drawn in a chart (the tables show names whole).
LABEL_CHARS = 40
#: What a run without an assignment is shown as, by status.
NO_ANSWER = {
    "UNKNOWN": "no answer within the limit",
    "INFEASIBLE": "infeasible: the hard rules cannot all hold",
    "MODEL_INVALID": "model rejected (a bug)",
}


def _label(text: object, limit: int = LABEL_CHARS) -> str:
    """Text for a chart: control characters escaped, cut to LABEL_CHARS. Charts are drawn
    with ``text.parse_math`` off, so ``$...$`` and backslashes are shown as typed."""
    shown = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text)
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _no_answer(status: str) -> str:
    return NO_ANSWER.get(status, f"no assignment ({status})")


def _svg(figure: Figure) -> str:
    """The figure as inline SVG (deterministic: fixed ids, no date)."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "leadassign", "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else ""
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if v != 0 and abs(v) < 0.01:
            return f"{v:.2e}"
        return f"{v:,.2f}" if abs(v) < 1e6 else f"{v:,.0f}"
    return html.escape(str(value))


def _table(frame: pd.DataFrame, text_columns: tuple[str, ...] = (), base_row: bool = False) -> str:
    head = "".join(
        f'<th class="{"text" if c in text_columns else ""}">{html.escape(str(c))}</th>'
        for c in frame.columns
    )
    rows = []
    for i, record in enumerate(frame.to_dict("records")):
        cells = []
        for column, value in record.items():
            kind = "text" if column in text_columns else ""
            if column == "status" and value not in ("OPTIMAL", "FEASIBLE"):
                kind += " bad"
            shown = html.escape(str(value)) if column in text_columns else _number(value)
            cells.append(f'<td class="{kind.strip()}">{shown}</td>')
        marker = ' class="base"' if base_row and i == 0 else ""
        rows.append(f"<tr{marker}>{''.join(cells)}</tr>")
    body = "".join(rows)
    return (
        f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        "</div>"
    )


def _overview(table: pd.DataFrame) -> str:
    """Expected value and leads assigned of each run, the base's as a line."""
    names = [_label(name) for name in table["variant"].tolist()]
    answered = table["status"].isin(["OPTIMAL", "FEASIBLE"]).to_numpy()
    ev = pd.to_numeric(table["expected_value"], errors="coerce").fillna(0.0).to_numpy()
    assigned = pd.to_numeric(table["assigned"], errors="coerce").fillna(0).to_numpy()
    figure, axes = plt.subplots(1, 2, figsize=(12, 0.35 * len(names) + 1.5))
    y = np.arange(len(names))
    colours = [BASE_COLOUR] + [RUN_COLOUR] * (len(names) - 1)
    for ax, values, title in (
        (axes[0], ev, "expected value"),
        (axes[1], assigned, "leads assigned"),
    ):
        # a run without an assignment gets no bar (not a zero one) and says why
        ax.barh(y, np.where(answered, values, 0.0), color=colours)
        if answered[0]:
            ax.axvline(values[0], color="#444", linewidth=0.8, linestyle="--")
        for i in np.flatnonzero(~answered):
            ax.text(
                0,
                i,
                f" {_no_answer(str(table['status'].iloc[i]))}",
                va="center",
                ha="left",
                color="#b00",
                fontsize=8,
                transform=ax.get_yaxis_transform(),
            )
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
    axes[1].set_yticklabels([])
    figure.tight_layout()
    return _svg(figure)


def _per_rep(run: Run, base: Run) -> str:
    """Leads and expected value per rep in one run, the base's as outlines."""
    mine, theirs = run.reps, base.reps
    if not run.status.has_solution:
        return f'<p class="bad">{html.escape(_no_answer(run.status.value))}: no assignment.</p>'
    if mine is None or not len(mine):
        return "<p>No assignment.</p>"
    reps = [_label(rep) for rep in mine["rep_id"].tolist()]
    x = np.arange(len(reps))
    figure, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.09 * len(reps) + 3), 4.2), sharex=True)
    for ax, column, title in (
        (axes[0], "assigned", "leads"),
        (axes[1], "expected_value", "expected value"),
    ):
        ax.bar(x, mine[column].to_numpy(dtype=float), color=RUN_COLOUR, width=0.8)
        if theirs is not None and run.name != base.name:
            at_base = mine[["rep_id"]].merge(theirs[["rep_id", column]], on="rep_id", how="left")
            ax.step(
                x,
                at_base[column].to_numpy(dtype=float),
                where="mid",
                color="#d06a1f",
                linewidth=0.9,
                label="base",
            )
            ax.legend(loc="upper right", fontsize=8)
        ax.set_ylabel(title)
        ax.grid(axis="y", alpha=0.3)
    if len(reps) <= 60:
        axes[1].set_xticks(x, reps, rotation=90, fontsize=7)
    else:
        axes[1].set_xticks([])
        axes[1].set_xlabel(f"{len(reps)} reps in file order")
    figure.tight_layout()
    return _svg(figure)


def _frontier_chart(frontier: pd.DataFrame, metric: str) -> str:
    solved = frontier.dropna(subset=["expected_value", metric])
    figure, ax = plt.subplots(figsize=(7, 4.5))
    keep = solved[~solved["dominated"].astype(bool)].sort_values(metric)
    ax.plot(
        keep[metric], keep["expected_value"], color=RUN_COLOUR, marker="o", label="not dominated"
    )
    dominated = solved[solved["dominated"].astype(bool)]
    if len(dominated):
        ax.scatter(
            dominated[metric], dominated["expected_value"], color=GREY, label="dominated", zorder=3
        )
    for record in solved.to_dict("records"):
        ax.annotate(
            _label(record["value"]),
            (record[metric], record["expected_value"]),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=8,
        )
    ax.set_xlabel(f"{metric} (lower is better)")
    ax.set_ylabel("expected value")
    ax.set_title(_label(f"{frontier['key'].iloc[0]}: value against {metric}", 200))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return _svg(figure)


def _moves(run: Run, moves: pd.DataFrame, base: Run) -> str:
    for which in (run, base):
        if not which.status.has_solution:
            whose = "this run" if which is run else "the base"
            return (
                f'<p class="bad">{html.escape(_no_answer(which.status.value))} for {whose}: '
                "no lead moves to show.</p>"
            )
    if not len(moves):
        return "<p>No lead changes rep.</p>"
    counts = moves["change"].value_counts()
    summary = ", ".join(f"{k}: {v:,}" for k, v in counts.items())
    delta = float(moves["delta_expected_value"].sum())
    shown = moves.head(MOVES_SHOWN)
    more = len(moves) - len(shown)
    tail = f"<p>… and {more:,} more in diff_{html.escape(run.name)}.csv.</p>" if more > 0 else ""
    return (
        f"<details><summary>{len(moves):,} leads ({summary}); expected value "
        f"{delta:+,.2f}</summary>"
        + _table(shown, text_columns=("lead_id", "base_rep_id", "rep_id", "change"))
        + tail
        + "</details>"
    )


def report_html(
    runs: list[Run],
    title: str,
    table: pd.DataFrame,
    moves: dict[str, pd.DataFrame],
    frontier: pd.DataFrame | None = None,
    metric: str | None = None,
) -> str:
    """The page (module doc) from the runs, their comparison ``table`` and the variants'
    ``moves`` (``compare.diffs``); ``frontier`` and ``metric`` when the scenario sweeps a
    knob."""
    with matplotlib.rc_context({"text.parse_math": False}):  # '$' in a name is a dollar
        return _page(runs, title, table, moves, frontier, metric)


def _page(
    runs: list[Run],
    title: str,
    table: pd.DataFrame,
    moves: dict[str, pd.DataFrame],
    frontier: pd.DataFrame | None,
    metric: str | None,
) -> str:
    base = runs[0]
    shown = table.drop(columns=["description"])
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(runs) - 1} runs against the base. Made by leadassign from the runs' outputs "
        "(each in its own folder next to this page).</p>",
        "<h2>Comparison</h2>",
        _table(shown, text_columns=("variant", "status", "method"), base_row=True),
        "<h2>Expected value and leads assigned</h2>",
        _overview(table),
    ]
    if frontier is not None and metric is not None:
        parts += [
            "<h2>Frontier</h2>",
            _frontier_chart(frontier, metric),
            _table(frontier, text_columns=("point", "key", "status")),
        ]
    parts.append("<h2>Per rep</h2>")
    for run in runs:
        note = f" — {html.escape(run.description)}" if run.description else ""
        parts += [f"<h3>{html.escape(run.name)}{note}</h3>", _per_rep(run, base)]
    parts.append("<h2>Lead moves against the base</h2>")
    for run in runs[1:]:
        parts += [f"<h3>{html.escape(run.name)}</h3>", _moves(run, moves[run.name], base)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


__all__ = ["report_html"]
