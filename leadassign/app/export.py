"""Owner-update files for CRMs, from a recorded run.

- ``salesforce``: a Data Loader update file, ``Id,OwnerId`` (the lead's record id and the
  owner's user id).
- ``hubspot``: an import file that updates existing records, ``Record ID`` and the object's
  owner column (``Contact owner`` by default; HubSpot takes the owner's user email or id).
- ``csv``: ``lead_id, previous_rep_id, rep_id, owner_id, expected_value, reason``.

Rows: the leads whose owner the run changed (its ``rep_id`` differs from the owner before
the run), or every lead with ``all_leads``. A CRM record always has an owner, so a lead the
run left unassigned goes to ``unassigned_owner`` (a queue, say) when one is given, and is
otherwise left out of the file and counted in ``Export.left_out``. ``owner_map`` (rep_id ->
the CRM's user id) translates reps; without it the rep_id is the user id. A rep the file
needs that the map does not have is an error: no lead is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from leadassign.errors import InputError
from leadassign.models.source import read_table
from leadassign.output import formula_cells

Format = Literal["salesforce", "hubspot", "csv"]
FORMATS: tuple[Format, ...] = ("salesforce", "hubspot", "csv")
HUBSPOT_OBJECTS = ("contact", "company", "deal", "lead")


@dataclass(frozen=True)
class Export:
    frame: pd.DataFrame  # the file's rows
    left_out: pd.DataFrame  # lead_id, previous_rep_id: unassigned leads not in the file
    #: what the user should know before importing the file, in words (the CLI prints each
    #: on stderr as ``warning: ...``)
    warnings: tuple[str, ...] = ()


def unmapped_owner_warning(fmt: Format, rows: int) -> str:
    """The warning for a file written without an owner map: the rep ids are the owners."""
    column = {"salesforce": "OwnerId", "hubspot": "owner", "csv": "owner_id"}[fmt]
    return (
        f"no --owner-map: the rep_id is written as the CRM user id ({column} column, "
        f"{rows} row{'s' if rows != 1 else ''}); a CRM whose user ids differ from the rep ids "
        "rejects these rows or gives the leads to the wrong users. Give --owner-map FILE "
        "(rep_id,owner_id) to write the CRM's user ids"
    )


def read_owner_map(path: Path) -> dict[str, str]:
    """``rep_id,owner_id`` (CSV or Parquet): each rep's user id in the CRM."""
    raw = read_table(path, "owner map")
    frame = raw.frame
    missing = [c for c in ("rep_id", "owner_id") if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing column {', '.join(repr(c) for c in missing)} (an owner map has "
            f"columns rep_id and owner_id; found: {', '.join(map(str, frame.columns))})",
            source=str(path),
        )
    for column in ("rep_id", "owner_id"):
        empty = np.flatnonzero(frame[column].to_numpy(dtype=object) == "")
        if len(empty):
            raise InputError(
                "is empty", source=str(path), where=f"line {int(empty[0]) + 2}", column=column
            )
    repeated = np.flatnonzero(frame["rep_id"].duplicated().to_numpy())
    if len(repeated):
        row = int(repeated[0])
        raise InputError(
            f"rep_id '{frame['rep_id'].iat[row]}' appears twice",
            source=str(path),
            where=f"line {row + 2}",
            column="rep_id",
        )
    return dict(zip(frame["rep_id"].tolist(), frame["owner_id"].tolist(), strict=True))


def _check_record_ids(lead: np.ndarray, owner: np.ndarray, fmt: Format) -> None:
    """A file for machine import matches records by id, exactly: an id a spreadsheet would
    run (``=X1``, ``+1+1``, ``@x``, ...) cannot be written as it is (the file would carry a
    formula) nor with the ``'`` that makes it inert (the CRM would look for ``'=X1`` and not
    find the record). Real CRM ids never begin so (Salesforce's are 15 or 18 letters and
    digits, HubSpot's numbers), so such an id is refused, naming the lead."""
    for column, values, what in (("lead_id", lead, "record id"), ("owner_id", owner, "owner")):
        bad = np.flatnonzero(formula_cells(pd.Series(values, dtype=object)))
        if len(bad):
            row = int(bad[0])
            raise InputError(
                f"{what} '{values[row]}' begins with a character a spreadsheet runs as a "
                f"formula (= + - @ tab or carriage return; {len(bad)} such ids in all): the "
                f"{fmt} file matches records by id exactly, so it is not written with a "
                "leading ' either. Fix the ids in the CRM data (or the owner map), or use "
                "--format csv, which writes them with a leading '",
                ident=f"lead_id {lead[row]}",
                column=column,
            )


def export(
    assignment: pd.DataFrame,
    fmt: Format,
    *,
    owner_map: dict[str, str] | None = None,
    owner_map_name: str = "the owner map",
    all_leads: bool = False,
    unassigned_owner: str | None = None,
    hubspot_object: str = "contact",
) -> Export:
    """The owner-update rows of a run's ``assignment`` (Store.assignment)."""
    rep = assignment["rep_id"].to_numpy(dtype=object)
    previous = assignment["previous_rep_id"].to_numpy(dtype=object)
    wanted = np.ones(len(assignment), dtype=bool) if all_leads else rep != previous
    unassigned = rep == ""
    left_out = wanted & unassigned if unassigned_owner is None else np.zeros_like(wanted)
    rows = assignment.loc[wanted & ~left_out].reset_index(drop=True)
    reps = rows["rep_id"].to_numpy(dtype=object)
    if owner_map is None:
        owner = reps.copy()
    else:
        needed = sorted({r for r in reps.tolist() if r != ""} - set(owner_map))
        if needed:
            shown = ", ".join(needed[:5]) + (
                f" and {len(needed) - 5} more" if len(needed) > 5 else ""
            )
            raise InputError(
                f"no owner_id for rep_id {shown}: every rep that gets a lead in the file needs one",
                source=owner_map_name,
            )
        owner = np.array([owner_map.get(r, "") for r in reps.tolist()], dtype=object)
    if unassigned_owner is not None:
        owner[reps == ""] = unassigned_owner
    lead = rows["lead_id"].to_numpy(dtype=object)
    if fmt != "csv":
        _check_record_ids(lead, owner, fmt)
    if fmt == "salesforce":
        frame = pd.DataFrame({"Id": lead, "OwnerId": owner})
    elif fmt == "hubspot":
        if hubspot_object not in HUBSPOT_OBJECTS:
            raise InputError(
                f"unknown HubSpot object '{hubspot_object}': one of {', '.join(HUBSPOT_OBJECTS)}"
            )
        frame = pd.DataFrame({"Record ID": lead, f"{hubspot_object.capitalize()} owner": owner})
    else:
        frame = pd.DataFrame(
            {
                "lead_id": lead,
                "previous_rep_id": rows["previous_rep_id"].to_numpy(dtype=object),
                "rep_id": reps,
                "owner_id": owner,
                "expected_value": rows["expected_value"].to_numpy(dtype=np.float64),
                "reason": rows["reason"].to_numpy(dtype=object),
            }
        )
    gone = assignment.loc[left_out, ["lead_id", "previous_rep_id"]].reset_index(drop=True)
    warnings: list[str] = []
    rep_owned = int((reps != "").sum())  # rows whose owner is a rep (not the queue)
    if owner_map is None and rep_owned:
        warnings.append(unmapped_owner_warning(fmt, rep_owned))
    return Export(frame, gone, tuple(warnings))
