"""The commands that read the run history: history, show, diff and export."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click
import pandas as pd

from leadassign.app import history
from leadassign.app.export import FORMATS, HUBSPOT_OBJECTS, Format
from leadassign.cli.errors import reports_errors
from leadassign.cli.options import force_file_option, store_option
from leadassign.errors import printable
from leadassign.output import csv_text
from leadassign.result.churn import churn_line
from leadassign.store.db import store_name


def _figure(value: object, spec: str = "") -> str:
    if value is None:
        return "-"
    return format(value, spec) if spec else str(value)


@click.command(
    name="history",
    epilog="""\b
Examples:
  leadassign history
  leadassign history --limit 5 --json
""",
)
@store_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run, newest first.")
@reports_errors
def history_command(store: str, limit: int, as_json: bool) -> None:
    """List recorded runs, newest first."""
    rows = history.runs(store, limit)
    if as_json:
        for row in rows:
            click.echo(json.dumps(history.run_fields(row), sort_keys=False))
        return
    if not rows:
        click.echo(printable(f"no runs recorded in {store_name(store)}"))
        return
    header = ["run", "time (UTC)", "command", "status", "assigned", "expected value", "gap", "from"]
    lines = [header]
    for row in rows:
        origin = f"re-run of {row.rerun_of}" if row.rerun_of is not None else ""
        if row.from_run is not None and row.rerun_of is None:
            origin = f"run {row.from_run}"
        lines.append(
            [
                str(row.id),
                row.created_at.replace("+00:00", "").replace("T", " "),
                row.command,
                row.status + (f" ({row.interrupted})" if row.interrupted else ""),
                f"{_figure(row.assigned)}/{_figure(row.leads)}",
                _figure(row.expected_value, ",.0f"),
                _figure(row.gap, ".2e"),
                origin,
            ]
        )
    widths = [max(len(line[k]) for line in lines) for k in range(len(header))]
    for line in lines:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


@click.command(
    name="show",
    epilog="""\b
Examples:
  leadassign show latest
  leadassign show 12 --json     # the run's summary.json
""",
)
@click.argument("run")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary.json.")
@reports_errors
def show_command(run: str, store: str, as_json: bool) -> None:
    """Print one recorded run: RUN is a run id, latest, or latest-N."""
    row = history.run(store, run)
    if as_json:
        click.echo(json.dumps(row.summary, indent=2, sort_keys=False))
        return
    click.echo(f"run {row.id}: {row.command} at {row.created_at}, leadassign {row.version}")
    if row.rerun_of is not None:
        click.echo(f"re-run of run {row.rerun_of} (same inputs and policy; not solved again)")
    if row.from_run is not None:
        click.echo(f"owners from run {row.from_run}")
    summary = row.summary
    click.echo(
        f"status: {row.status}" + (f", interrupted by {row.interrupted}" if row.interrupted else "")
    )
    if row.has_assignment:
        click.echo(
            f"assigned: {row.assigned} of {row.leads} leads; expected value "
            f"{_figure(row.expected_value, ',.2f')}; gap {_figure(row.gap, '.2e')}; "
            f"reassigned {_figure(row.reassigned)}"
        )
        churn = summary.get("churn")
        if churn and churn.get("owned") and "moved" in churn:  # runs recorded before: no words
            click.echo(churn_line(churn))
    for conflict in summary.get("conflicts") or []:
        click.echo(f"  conflict: {printable(str(conflict))}")
    rebalanced = summary.get("rebalance")
    if rebalanced:
        click.echo(
            f"rebalance: {rebalanced['owners_carried']} owners carried, "
            f"{rebalanced['new_leads']} new leads, {rebalanced['vanished_leads']} gone, "
            f"{rebalanced['owners_gone']} owners no longer reps"
        )
    held = summary.get("holdout")
    if held:
        arms = held["arms"]
        click.echo(
            f"holdout: {held['share']:.4g} of {held['drawn_from']} leads (seed {held['seed']}) "
            f"routed by {held['baseline']}: {arms['holdout']['leads']} holdout, "
            f"{arms['optimized']['leads']} optimized"
        )
    for name, digest in sorted(row.inputs.items()):
        click.echo(printable(f"input {name}: sha256 {digest}"))
    if row.out:
        click.echo(printable(f"written to: {row.out}"))


@click.command(
    name="diff",
    epilog="""\b
Examples:
  leadassign diff latest-1 latest
  leadassign diff 3 7 --out moves.csv
""",
)
@click.argument("run_a")
@click.argument("run_b")
@store_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the CSV here instead of stdout (an existing file only with --force).",
)
@force_file_option
@reports_errors
def diff_command(run_a: str, run_b: str, store: str, out: Path | None, force: bool) -> None:
    """List the leads whose owner differs between two runs, as CSV: lead_id, rep_before,
    rep_after, change (moved, assigned, unassigned, added, vanished), expected_value_after."""

    first, second, changes = history.diff(store, run_a, run_b)
    _emit_csv(changes, out, force, [history.store_file(store)])
    counts = changes["change"].value_counts()
    described = ", ".join(f"{name} {int(counts[name])}" for name in sorted(counts.index))
    click.echo(
        f"{len(changes)} leads changed owner between run {first.id} and run {second.id}"
        + (f": {described}" if described else ""),
        err=True,
    )


def _emit_csv(
    frame: pd.DataFrame, out: Path | None, force: bool, inputs: Sequence[Path | None]
) -> None:
    """The table on stdout, or as the one file ``out`` (nothing else is touched)."""
    if out is None:
        text = csv_text(frame)  # on a terminal, control characters shown escaped
        click.echo(printable(text, lines=True) if sys.stdout.isatty() else text, nl=False)
        return
    history.write_table(frame, out, force=force, inputs=inputs)


@click.command(
    name="export",
    epilog="""\b
Examples:
  leadassign export latest --format salesforce --owner-map users.csv --out owners.csv
  leadassign export 12 --format hubspot --owner-map hubspot_users.csv --out import.csv
  leadassign export latest --format csv --all
\b
Salesforce Data Loader: an update of Lead with Id,OwnerId. HubSpot: import the file to update
existing records (Record ID, and the object's owner: the user's email or id).
""",
)
@click.argument("run")
@store_option
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), required=True, help="The CRM's file layout."
)
@click.option(
    "--owner-map",
    type=click.Path(path_type=Path, dir_okay=False),
    help="rep_id,owner_id table: each rep's user id in the CRM (default: the rep_id).",
)
@click.option("--all", "all_leads", is_flag=True, help="Every lead, not only changed owners.")
@click.option(
    "--unassigned-owner",
    help="CRM owner (a queue, say) for leads the run left unassigned; without it they are "
    "left out of the file, and counted.",
)
@click.option(
    "--hubspot-object",
    type=click.Choice(HUBSPOT_OBJECTS),
    default="contact",
    show_default=True,
    help="HubSpot: whose owner column ('Contact owner', ...).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the file here instead of stdout (an existing file only with --force).",
)
@force_file_option
@reports_errors
def export_command(
    run: str,
    store: str,
    fmt: Format,
    owner_map: Path | None,
    all_leads: bool,
    unassigned_owner: str | None,
    hubspot_object: str,
    out: Path | None,
    force: bool,
) -> None:
    """Write the owner-update file a CRM imports, for a recorded RUN's changed owners."""
    made = history.crm_file(
        store,
        run,
        fmt,
        owner_map=owner_map,
        all_leads=all_leads,
        unassigned_owner=unassigned_owner,
        hubspot_object=hubspot_object,
    )
    _emit_csv(made.made.frame, out, force, [owner_map, history.store_file(store)])
    row = made.run
    what = "leads" if all_leads else "owner changes"
    click.echo(f"run {row.id}: {len(made.made.frame)} {what} in the {fmt} file", err=True)
    for warning in made.made.warnings:
        click.echo(f"warning: {printable(warning)}", err=True)
    if len(made.made.left_out):
        click.echo(
            f"left out: {len(made.made.left_out)} leads the run left unassigned (a CRM record "
            "always has an owner; --unassigned-owner ID puts them on a queue): "
            + printable(", ".join(made.made.left_out["lead_id"].head(10).tolist()))
            + (" ..." if len(made.made.left_out) > 10 else ""),
            err=True,
        )
