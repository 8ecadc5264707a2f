"""The learn command: rates, cycle days and capacities from a CRM deal history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from leadassign.cli.errors import json_events, reports_errors
from leadassign.cli.options import force_option, history_options, json_option
from leadassign.errors import printable


def _score_line(name: str, score: dict[str, Any]) -> str:
    return (
        f"  {name:<8} Brier {score['brier']:.4f} [{score['brier_low']:.4f}, "
        f"{score['brier_high']:.4f}]  log loss {score['log_loss']:.4f} "
        f"[{score['log_loss_low']:.4f}, {score['log_loss_high']:.4f}]"
    )


def _difference_line(diff: dict[str, Any]) -> str:
    return (
        f"  learned - {diff['against']:<4} Brier {diff['brier']:+.5f} [{diff['brier_low']:+.5f}, "
        f"{diff['brier_high']:+.5f}]  log loss {diff['log_loss']:+.5f} "
        f"[{diff['log_loss_low']:+.5f}, {diff['log_loss_high']:+.5f}]"
    )


def human_summary(summary: dict[str, Any], written: list[Path]) -> list[str]:
    """What ``learn`` prints for people."""
    deals = summary["deals"]
    lines = [
        f"learned from {deals['training']:,} closed deals ({deals['won']:,} won) of "
        f"{deals['reps']} reps, closed {deals['first_closed']} to {deals['last_closed']}"
        + (f" (before {summary['as_of']})" if summary["as_of"] else ""),
    ]
    lines += [h["sentence"] for h in summary["heterogeneity"]]
    check = summary["held_out"]
    if check is not None:
        lines.append(
            f"held-out check ({check['split']}; lower is better, 95% bootstrap intervals):"
        )
        lines += [_score_line(k, v) for k, v in check["scores"].items()]
        lines += [_difference_line(d) for d in check["differences"]]
    lines += [f"warning: {w}" for w in summary["warnings"]]
    lines.append("wrote " + ", ".join(str(p) for p in written))
    return lines


@click.command(
    name="learn",
    epilog="""\b
Example:
  leadassign learn --history deals.csv --segment industry --reps reps.csv --out learned/
  leadassign solve --leads leads.csv --reps learned/reps.csv \\
      --affinity learned/affinity.csv --out run/
\b
Writes OUT/reps.csv (rep_id, win_rate, deals, won, cycle_days, capacity; with --reps: your
table with win_rate learned and deals, won, cycle_days, suggested_capacity added),
OUT/affinity.csv (with --segment: rep_id, <segment>, win_rate) and OUT/learn.json (method,
fitted priors, heterogeneity test, held-out check). See docs/history.md.
Exit codes: 0 learned, 2 bad input or options (file, row and column named).
""",
)
@history_options
@click.option(
    "--segment",
    default=None,
    help="A segment column of the history (industry, product, ...): rates per rep x segment "
    "too, written to affinity.csv.",
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    help="Learn from deals closed before this day (YYYY-MM-DD); default every closed deal.",
)
@click.option(
    "--reps",
    "reps",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Your reps table: the learned columns are merged into it (territories, capacity "
    "kept), ready for solve.",
)
@click.option(
    "--period-days",
    type=click.IntRange(min=1, max=366),
    default=7,
    show_default=True,
    help="The period of the suggested capacity (deals created per period).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**31 - 1),
    default=0,
    show_default=True,
    help="Seed of the held-out check's bootstrap.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for reps.csv, affinity.csv, learn.json (created if needed).",
)
@force_option
@json_option("done, with learn.json's content; errors as error")
@reports_errors
def learn_command(
    history_path: Path,
    columns: str | None,
    segment: str | None,
    as_of: str | None,
    reps: Path | None,
    period_days: int,
    seed: int,
    out: Path,
    force: bool,
    json_log: bool,
) -> None:
    """Learn win rates (per rep and per rep x segment), cycle days and capacities from a CRM
    deal history, with shrinkage and a held-out check; say whether reps differ at all."""
    events = json_events(json_log)
    from leadassign.app.learn import run_learn  # scipy: imported only when learning

    done = run_learn(
        history_path,
        out,
        columns=columns,
        segment=segment,
        as_of=as_of,
        reps=reps,
        period_days=period_days,
        force=force,
        seed=seed,
    )
    if events is not None:
        events.emit(
            "done",
            exit_code=0,
            written=[str(p) for p in done.written],
            learn=done.summary,
        )
        return
    for line in human_summary(done.summary, done.written):
        click.echo(printable(line))


__all__ = ["learn_command"]
