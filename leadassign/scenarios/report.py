"""report.html: one self-contained page for a comparison (README "What-if scenarios").

The comparison's key columns (all of them behind a fold), the expected value and leads
assigned of each run, each variant's leads kept, moved, released and new against the base,
each run's load per rep against its capacity and expected value per rep (dots on zoomed axes,
grouped by territory), the frontier when the scenario sweeps a knob, and the lead moves
against the base. Charts are drawn with matplotlib and inlined as SVG (text kept as text), so
the page needs no network and no scripts. The SVG is made deterministic (a fixed hash salt, no
date), so the same runs give the same bytes.
"""

from __future__ import annotations

import html
import io
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from leadassign.result.churn import churn_counts as churn_counts_of
from leadassign.result.churn import churn_labels
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
#: The comparison's columns shown at once; the rest are behind a fold.
KEY_COLUMNS = (
    "variant",
    "status",
    "gap",
    "assigned",
    "unassigned",
    "expected_value",
    "delta_expected_value",
    "utilization_spread",
    "leads_per_rep_min",
    "leads_per_rep_max",
    "changed_vs_base",
)


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
    """Expected value and leads assigned of each run as dots, the base's as a dashed line,
    each run joined to it."""
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
        # a dot per run, a line from the base's value to it, on an axis zoomed to the values
        # (not bars from zero: a 2% difference shows); a run without an assignment gets no
        # dot (not a zero one) and says why
        shown = np.where(answered, values, np.nan)
        if answered[0]:
            ax.axvline(values[0], color="#444", linewidth=0.8, linestyle="--")
            ax.hlines(y, values[0], shown, color=GREY, linewidth=1.5)
        ax.scatter(shown, y, color=colours, s=36, zorder=3)
        ax.set_xlim(*_zoomed(shown))
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


#: report.html's load chart: reps without a territory list are grouped as this.
ALL_TERRITORIES = "all territories"
#: The churn chart's parts, in order, with their colours.
CHURN = (
    ("kept", "#2f6db3"),
    ("moved", "#e39b3b"),
    ("released", "#c0504d"),
    ("new", "#6aa84f"),
)


def _zoomed(values: np.ndarray, must_show: float | None = None) -> tuple[float, float]:
    """Axis limits around ``values`` (and ``must_show``, the capacity line), not from zero:
    a difference of 2% between two reps stays visible."""
    finite = values[np.isfinite(values)]
    points = np.concatenate([finite, [must_show] if must_show is not None else []])
    if not len(points):
        return 0.0, 1.0
    low, high = float(points.min()), float(points.max())
    pad = max((high - low) * 0.08, abs(high) * 0.005, 0.5)
    return low - pad, high + pad


def _rep_order(reps: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """Reps in order of their group (first territory, sorted; all territories last), file
    order within; x positions with a gap between groups; and each group's (name, first x,
    last x)."""
    group = reps["group"].replace({"*": "", np.nan: ""}).astype(str).to_numpy(dtype=object)
    names = sorted({g for g in group.tolist() if g}) + ([""] if "" in group else [])
    rank = {name: k for k, name in enumerate(names)}
    order = np.lexsort((np.arange(len(reps)), np.array([rank[g] for g in group.tolist()])))
    x = np.zeros(len(reps))
    spans = []
    at = 0.0
    for name in names:
        members = order[group[order] == name]
        x[members] = at + np.arange(len(members))
        spans.append((name or ALL_TERRITORIES, at, at + len(members) - 1))
        at += len(members) + 1  # one empty slot between groups
    return x, spans


def _per_rep(run: Run, base: Run) -> str:
    """Each available rep's load against its capacity (a line at 100%) and expected value,
    as dots on axes zoomed to the values, grouped by territory; the base's as open
    circles."""
    mine, theirs = run.reps, base.reps
    if not run.status.has_solution:
        return f'<p class="bad">{html.escape(_no_answer(run.status.value))}: no assignment.</p>'
    if mine is None or not len(mine):
        return "<p>No assignment.</p>"
    shown = mine[mine["available"].astype(bool) & (mine["capacity"] > 0)].reset_index(drop=True)
    hidden = len(mine) - len(shown)
    note = (
        f"<p>{hidden:,} rep{'s' if hidden != 1 else ''} on leave or with capacity 0 not shown.</p>"
        if hidden
        else ""
    )
    if not len(shown):
        return note or "<p>No rep with capacity.</p>"
    x, spans = _rep_order(shown)
    load = 100.0 * shown["assigned_effort"].to_numpy(float) / shown["capacity"].to_numpy(float)
    value = shown["expected_value"].to_numpy(float)
    compare = theirs is not None and run.name != base.name
    base_load = base_value = np.full(len(shown), np.nan)
    if compare and theirs is not None:
        at_base = shown[["rep_id"]].merge(theirs, on="rep_id", how="left")
        base_load = 100.0 * (
            at_base["assigned_effort"].to_numpy(float) / at_base["capacity"].to_numpy(float)
        )
        base_value = at_base["expected_value"].to_numpy(float)
    figure, axes = plt.subplots(
        2, 1, figsize=(max(7.0, 0.11 * (x.max() + 1) + 3), 5.6), sharex=True
    )
    panels = (
        (axes[0], load, base_load, "load, % of capacity", 100.0),
        (axes[1], value, base_value, "expected value", None),
    )
    for ax, values, at_base_values, title, line in panels:
        if line is not None:
            ax.axhline(line, color="#444", linewidth=0.9, linestyle="--", label="capacity")
        if compare:
            ax.scatter(
                x,
                at_base_values,
                s=22,
                facecolors="none",
                edgecolors="#d06a1f",
                label="base",
                linewidths=0.9,
                zorder=3,
            )
        ax.scatter(x, values, s=14, color=RUN_COLOUR, label=_label(run.name), zorder=4)
        ax.set_ylim(*_zoomed(np.concatenate([values, at_base_values]), line))
        ax.set_ylabel(title)
        ax.grid(axis="y", alpha=0.3)
        for _, first, _last in spans[1:]:
            ax.axvline(first - 1, color=GREY, linewidth=0.6)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    axes[0].yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(decimals=0))
    small = len(spans) > 8
    for name, first, last in spans:
        axes[0].text(
            (first + last) / 2,
            1.02,
            _label(name, 24),
            transform=axes[0].get_xaxis_transform(),
            ha="left" if small else "center",
            va="bottom",
            rotation=35 if small else 0,
            fontsize=7 if small else 8,
        )
    reps = [_label(rep) for rep in shown["rep_id"].tolist()]
    if len(reps) <= 60:
        axes[1].set_xticks(x, reps, rotation=90, fontsize=7)
    else:
        axes[1].set_xticks([])
        axes[1].set_xlabel(f"{len(reps)} reps, grouped by their first territory")
    figure.tight_layout()
    return _svg(figure) + note


def churn_counts(run: Run, base: Run, moves: pd.DataFrame) -> dict[str, int]:
    """A run's leads against the base's, in the churn words of ``result.churn`` with the
    base's rep as the owner: kept, moved, released (assigned in the base, not in the run;
    leads held back by a rule included: the runs' reasons are not compared here), new
    (assigned in the run, not in the base: newly assigned or a lead only the run has)."""
    base_rep = pd.Series(base.rep_ids, index=base.lead_ids)
    before = base_rep.reindex(pd.Index(run.lead_ids, dtype=object)).fillna("")
    after = np.asarray(run.rep_ids, dtype=object)
    labels = churn_labels(before.to_numpy(dtype=object), after, np.zeros(len(after), bool))
    counts = churn_counts_of(labels)
    return {word: counts[word] for word, _ in CHURN}


def _churn(runs: list[Run], moves: dict[str, pd.DataFrame]) -> str:
    """Per variant, its leads against the base: kept, moved, released, new (a stacked bar
    of lead counts: parts of a whole, so from zero), and the counts as a table."""
    base = runs[0]
    answered = [r for r in runs[1:] if r.status.has_solution and base.status.has_solution]
    if not answered:
        return "<p>No variant with an answer to compare with the base.</p>"
    counts = pd.DataFrame(
        [{"variant": r.name, **churn_counts(r, base, moves[r.name])} for r in answered]
    )
    names = [_label(name) for name in counts["variant"].tolist()]
    figure, ax = plt.subplots(figsize=(10, 0.4 * len(names) + 1.3))
    y = np.arange(len(names))
    left = np.zeros(len(names))
    total = counts[[part for part, _ in CHURN]].sum(axis=1).to_numpy(float)
    for part, colour in CHURN:
        width = counts[part].to_numpy(float)
        ax.barh(y, width, left=left, color=colour, label=part, height=0.6)
        for i in np.flatnonzero(width >= 0.06 * np.maximum(total, 1)).tolist():
            ax.text(
                left[i] + width[i] / 2,
                i,
                f"{int(width[i]):,}",
                ha="center",
                va="center",
                color="white",
                fontsize=8,
            )
        left += width
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("leads, against the base's assignment")
    ax.legend(
        ncols=len(CHURN), loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=8, frameon=False
    )
    ax.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return _svg(figure) + _table(counts, text_columns=("variant",))


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


def _capacity_rows(runs: list[Run]) -> tuple[list[str], np.ndarray, list[str]]:
    """Territories (sorted), runs x territories of ``one_more_rep`` (nan: none) from each
    run's summary.json ``capacity``, and the base's sentences."""
    sections = [run.summary.get("capacity") or {} for run in runs]
    names = sorted({t["territory"] for c in sections for t in c.get("territories", [])})
    grid = np.full((len(runs), len(names)), np.nan)
    for k, section in enumerate(sections):
        for t in section.get("territories", []):
            if t.get("one_more_rep") is not None:
                grid[k, names.index(t["territory"])] = float(t["one_more_rep"])
    said = []
    for t in sections[0].get("territories", []):
        if t.get("one_more_rep") is None:
            continue
        word = "about" if t.get("value_is") == "estimate" else "at most"
        said.append(
            f"one more rep in {t['territory']} (capacity {t['typical_capacity']:g}, like "
            f"{t['rep']}) is worth {word} {t['one_more_rep']:,.2f} a run "
            f"({t['value']:,.2f} per lead of capacity, {t['value_is']})"
        )
    return names, grid, said


def _capacity_chart(runs: list[Run]) -> str:
    """Per territory and run: what one more rep like the best one there is worth (summary
    ``capacity``, result/capacity.py), as horizontal bars, and the base's figures in words."""
    names, grid, said = _capacity_rows(runs)
    if not names or not np.isfinite(grid).any():
        return "<p>No capacity figures (no run computed them).</p>"
    figure, ax = plt.subplots(figsize=(7.5, 0.5 + 0.35 * len(names) * len(runs)))
    height = 0.8 / len(runs)
    y = np.arange(len(names))
    for k, run in enumerate(runs):
        ax.barh(y + k * height, np.nan_to_num(grid[k]), height, label=run.name)
    ax.set_yticks(y + 0.4 - height / 2)
    ax.set_yticklabels(names)
    ax.set_xlabel("value score of one more rep (a typical capacity there), per run")
    ax.legend(fontsize=8)
    figure.tight_layout()
    items = "".join(f"<li>{html.escape(line)}</li>" for line in said)
    return (
        '<div class="capacity-values">'
        + _svg(figure)
        + f"<ul>{items}</ul><p>Per lead of capacity: the best rep covering the territory "
        "(reps.csv capacity_value); one more rep: that figure times the median capacity of "
        "the territory's available reps, at most what one more rep like the best one adds "
        "(the value of capacity falls as it grows).</p></div>"
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
        _table(
            shown[[c for c in KEY_COLUMNS if c in shown.columns]],
            text_columns=("variant", "status"),
            base_row=True,
        ),
        f"<details><summary>All {len(shown.columns)} columns of comparison.csv</summary>",
        _table(shown, text_columns=("variant", "status", "method"), base_row=True),
        "</details>",
        "<h2>Expected value and leads assigned</h2>",
        _overview(table),
        "<h2>Leads kept, moved, released and new against the base</h2>",
        _churn(runs, moves),
    ]
    if frontier is not None and metric is not None:
        parts += [
            "<h2>Frontier</h2>",
            _frontier_chart(frontier, metric),
            "<details><summary>The frontier's table (frontier.csv)</summary>",
            _table(frontier, text_columns=("point", "key", "status")),
            "</details>",
        ]
    parts += [
        "<h2>What capacity is worth, per territory</h2>",
        _capacity_chart(runs),
        "<h2>Per rep: load against capacity, and expected value</h2>",
        "<p>Each dot is a rep (grouped by their first territory); the dashed line is their "
        "capacity. The axes are zoomed to the values, so small differences show: read the "
        "numbers on the axis, not the height from the bottom.</p>",
    ]
    for run in runs:
        note = f" — {html.escape(run.description)}" if run.description else ""
        parts += [f"<h3>{html.escape(run.name)}{note}</h3>", _per_rep(run, base)]
    parts.append("<h2>Lead moves against the base</h2>")
    for run in runs[1:]:
        parts += [f"<h3>{html.escape(run.name)}</h3>", _moves(run, moves[run.name], base)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


__all__ = ["churn_counts", "report_html"]
