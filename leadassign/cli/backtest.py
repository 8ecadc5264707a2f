"""The backtest command: replay a past book of deals under each plan and score it."""

from __future__ import annotations

from pathlib import Path

import click

from leadassign.cli.errors import json_events, reports_errors
from leadassign.cli.options import force_option, history_options, json_option
from leadassign.errors import printable


@click.command(
    name="backtest",
    epilog="""\b
Example:
  leadassign backtest --history deals.csv --segment industry --split 2017-07-01 --out bt/
\b
Learns from deals closed before --split and replays the deals created on or after it whose
outcome is known (the book) under each plan: historical (the real owners), round_robin,
greedy, optimized (the policy's solve) and each variant of --scenarios.
Writes OUT/backtest.csv (one row per plan, with 95% intervals), OUT/uplift.csv (each plan
minus historical), OUT/plans/<plan>.csv (deal_id, rep_id), OUT/backtest.json and
OUT/report.html. Exit codes: 0 done, 2 bad input (file, row and column named).
""",
)
@history_options
@click.option("--segment", required=True, help="The history's segment column (e.g. industry).")
@click.option("--split", "split", required=True, help="The split date (YYYY-MM-DD).")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Policy file (YAML) for the optimized plan.",
)
@click.option(
    "--reps",
    "reps_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Reps table: its reps and capacity; its territories restrict eligibility when the "
    "history has a territory column.",
)
@click.option(
    "--capacity",
    type=click.Choice(["actual", "learned", "policy"]),
    default="actual",
    show_default=True,
    help="actual: each rep's number of book deals; learned: training throughput x the "
    "book's span; policy: the --reps table's capacity.",
)
@click.option(
    "--scenarios",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A scenario file: each variant, applied to the book, is one more plan.",
)
@click.option("--seed", type=click.IntRange(min=0, max=2**31 - 1), default=0, show_default=True)
@click.option(
    "--bootstrap",
    type=click.IntRange(min=10, max=100_000),
    default=200,
    show_default=True,
    help="Bootstrap replicates for the 95% intervals.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder.",
)
@force_option
@json_option("done, with the figures of backtest.csv")
@reports_errors
def backtest_command(
    history_path: Path,
    columns: str | None,
    segment: str,
    split: str,
    policy_path: Path | None,
    reps_path: Path | None,
    capacity: str,
    scenarios: Path | None,
    seed: int,
    bootstrap: int,
    out: Path,
    force: bool,
    json_log: bool,
) -> None:
    """Replay a past book of deals under each plan and estimate, with intervals, what each
    would have won against what the real owners did."""
    events = json_events(json_log)
    from leadassign.app import backtest as app_backtest  # scipy.stats, matplotlib: ~2 s

    report = app_backtest.backtest(
        history_path,
        segment=segment,
        split=split,
        out=out,
        columns=columns,
        policy_path=policy_path,
        reps_path=reps_path,
        capacity="learned"
        if capacity == "learned"
        else "policy"
        if capacity == "policy"
        else "actual",
        scenarios=scenarios,
        seed=seed,
        bootstrap=bootstrap,
        force=force,
    )
    if events is not None:
        events.emit("done", exit_code=0, plans=report["plans"], uplift=report["uplift"])
        return
    deals = report["deals"]
    click.echo(
        f"book: {deals['book']:,} deals from {report['split']} (training {deals['training']:,}; "
        f"in neither: {deals['straddling']:,} straddling the split, {deals['open']:,} open)"
    )
    for line in report["uplift_in_words"] + report["dr_unreliable"]:
        click.echo(printable(line))
    click.echo(f"wrote {out}/backtest.csv, uplift.csv, backtest.json, report.html, plans/")
