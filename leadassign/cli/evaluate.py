"""``leadassign evaluate``: a run's holdout arm against its optimized arm, on real outcomes."""

from __future__ import annotations

from pathlib import Path

import click

from leadassign.app.evaluate import REPLICATES, evaluate, report_json
from leadassign.app.interrupt import interruptible
from leadassign.cli.errors import reports_errors
from leadassign.cli.options import force_option, history_options, store_option
from leadassign.errors import printable


def _figure(value: object, spec: str) -> str:
    return "-" if value is None or value != value else format(value, spec)


@click.command(
    name="evaluate",
    epilog="""\b
Examples:
  leadassign solve --leads leads.csv --reps reps.csv --holdout 0.1 --out week47/
  ... weeks later, with the CRM's deals exported:
  leadassign evaluate --run week47/ --history deals.csv --out week47-eval/
  leadassign evaluate --run 12 --history deals.csv --json
\b
Exit codes: 0 evaluated (whatever the verdict), 2 bad input (run not found, no arm column,
no lead of the run in the history, a bad history row).
""",
)
@click.option(
    "--run",
    "run",
    required=True,
    help="A run folder (its assignments.csv with the arm column) or a recorded run: an id, "
    "latest or latest-N.",
)
@history_options
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print evaluate.json on stdout.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also write evaluate.csv and evaluate.json to this folder.",
)
@force_option
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**63 - 1),
    default=0,
    show_default=True,
    help="Seed of the bootstrap.",
)
@click.option(
    "--replicates",
    type=click.IntRange(min=100, max=100_000),
    default=REPLICATES,
    show_default=True,
    help="Bootstrap replicates.",
)
@reports_errors
def evaluate_command(
    run: str,
    history_path: Path,
    columns: str | None,
    store: str,
    as_json: bool,
    out: Path | None,
    force: bool,
    seed: int,
    replicates: int,
) -> None:
    """Compare a run's arms (--holdout) on observed conversion, revenue and cycle time.

    The run's leads are joined to the history's deals by deal_id = lead_id; each lead counts
    in the arm it was drawn into. Differences (optimized - holdout) come with 95% intervals
    and p-values, and the smallest difference the sample could detect.
    """
    found = interruptible(
        lambda _stop: evaluate(
            run,
            history_path,
            columns=columns,
            store=store,
            out=out,
            force=force,
            seed=seed,
            replicates=replicates,
        ),
        grace_s=1.0,
        what="the evaluation",
    )
    if as_json:
        click.echo(report_json(found), nl=False)
        return
    click.echo(printable(f"run: {found.report['run']}; history: {found.report['history']}"))
    click.echo(
        f"{'arm':<11}{'leads':>8}{'found':>8}{'closed':>8}{'won':>8}{'open':>8}"
        f"{'conversion':>12}{'revenue/lead':>14}{'cycle days':>12}"
    )
    for _, row in found.table.iterrows():
        if row["row"] == "difference":
            continue
        click.echo(
            f"{row['row']:<11}{row['leads']:>8,}{row['in_history']:>8,}{row['closed']:>8,}"
            f"{row['won']:>8,}{row['open']:>8,}{_figure(row['conversion'], '>12.1%')}"
            f"{_figure(row['revenue_per_lead'], '>14,.2f')}{_figure(row['cycle_days'], '>12.1f')}"
        )
    for verdict in found.verdicts:
        click.echo(printable(verdict))
    if found.written:
        click.echo(printable(f"wrote {', '.join(p.name for p in found.written)} to {out}"))
