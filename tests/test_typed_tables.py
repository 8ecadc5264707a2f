"""The Python API's tables are typed (README "From Python"): Result.assignments and
Result.rep_table hold numbers as numbers, booleans as booleans and missing cells as <NA>,
while assignments.csv and reps.csv keep their bytes (written from the text forms)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from leadassign import load_problem, solve
from leadassign.output import write_result
from leadassign.result.tables import typed_column

# A book with gaps: L3 has no eligible rep (territory C), L4 finds R1 full; optional and
# extra columns have empty cells.
LEADS = """\
lead_id,territory,industry,value,account_id,current_owner,effort,score,zip,vip,note,ratio
L1,A,tech,100,,R1,1,5,02139,true,,0.5
L2,A,retail,250.5,AC1,,1,,10001,false,call back,
L3,C,tech,80,AC1,,2,-3,,TRUE,,1e3
L4,A,tech,40,,,1,12,94105,,x,2
"""
REPS = """\
rep_id,territories,capacity,win_rate,level,available
R1,A,2,0.3,2,true
R2,B,3,0.25,1,yes
R3,A;C,1,0.5,3,false
"""


def test_dtypes_of_every_column_on_a_book_with_gaps(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text(LEADS)
    (tmp_path / "reps.csv").write_text(REPS)
    result = solve(load_problem(tmp_path / "leads.csv", tmp_path / "reps.csv"))
    table = result.assignments
    assert {c: str(t) for c, t in table.dtypes.items()} == {
        "lead_id": "string",
        "rep_id": "string",
        "expected_value": "Float64",
        "reason": "string",
        "detail": "string",
        "eligible_reps": "int64",
        "runner_up": "string",
        "runner_up_value": "Float64",
        # the lead's own columns, typed by what their cells hold
        "territory": "string",
        "industry": "string",
        "value": "float64",  # 250.5: not all integers; no gaps
        "account_id": "string",
        "current_owner": "string",
        "effort": "int64",
        "score": "Int64",  # integers with a gap
        "zip": "string",  # '02139': a code with a leading zero stays text
        "vip": "boolean",  # true/false/TRUE with a gap
        "note": "string",
        "ratio": "Float64",  # numbers with a gap
    }
    # missing is <NA>, not '' or NaN
    assert table["rep_id"].isna().tolist() == [False, False, True, True]
    assert table["expected_value"].isna().tolist() == [False, False, True, True]
    assert table.loc[2, "reason"] == "no_eligible_rep" and table.loc[3, "reason"] == "no_capacity"
    assert table["current_owner"].isna().tolist() == [False, True, True, True]
    assert table["score"].tolist() == [5, pd.NA, -3, 12]
    assert table["vip"].tolist() == [True, False, True, pd.NA]
    assert table["zip"].tolist() == ["02139", "10001", pd.NA, "94105"]
    assert table["ratio"].tolist() == [0.5, pd.NA, 1000.0, 2.0]
    assert table["expected_value"].sum() == result.expected_value  # NA skipped, a float sum

    reps = result.rep_table
    assert {c: str(t) for c, t in reps.dtypes.items()} == {
        "rep_id": "string",
        "assigned": "int64",
        "capacity": "int64",
        "utilization": "float64",
        "assigned_value": "float64",
        "expected_value": "float64",
        "assigned_effort": "int64",
        "min_leads": "int64",
        "level": "int64",
        "available": "bool",
        "capacity_value": "Float64",  # <NA> when not computed (a baseline, say)
        "capacity_value_is": "string",
    }
    assert reps["available"].tolist() == [True, True, False]
    assert reps["assigned"].tolist() == [2, 0, 0]

    # the files keep their text form: '' for missing, 'true'/'false', carried cells as typed
    write_result(result, tmp_path / "out")
    written = (tmp_path / "out" / "assignments.csv").read_text().splitlines()
    assert written[0] == ",".join(table.columns)
    assert written[3].startswith("L3,,,no_eligible_rep,")
    assert written[3].endswith(",AC1,,2,-3,,TRUE,,1e3")  # the input's text, not 1000.0
    # R3 is on leave: one more unit of its capacity changes nothing
    third = (tmp_path / "out" / "reps.csv").read_text().splitlines()[3]
    assert third.endswith(",3,false,0.0,exact")


def test_typed_column_rules() -> None:
    def typed(*cells: str) -> pd.Series:
        return typed_column(pd.Series(list(cells), dtype=object))

    assert typed("1", "2").dtype == np.int64
    assert typed("1", "2.5", "-1e3").dtype == np.float64
    assert typed("1", "").dtype == "Int64"
    assert typed("True", "false").dtype == bool
    assert typed("007", "12").dtype == "string"  # a code: nothing is lost
    assert typed("0", "0.5").dtype == np.float64  # '0' alone is a number
    assert typed("1", "n/a").dtype == "string"
    assert typed("", "").dtype == "string" and typed("", "").isna().all()
    assert typed("99999999999999999999").dtype == np.float64  # beyond int64
    assert typed("nan", "1").dtype == "string"  # not a plain number
