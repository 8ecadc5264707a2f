"""Bad inputs through the command line (docs/data.md, README "Outputs" and "Exit codes").

Every bad input must end the run with exit code 2, one line on stderr of the form
``error: <file>, line N (lead_id X), column 'c': message`` (CSV rows are "line N", the header
being line 1; Parquet rows are "row N"), no traceback, and nothing written to ``--out``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import leadassign.output
from leadassign.cli import main

Rows = list[dict[str, str]]
Edit = Callable[[Rows], None]

LEADS: Rows = [
    {
        "lead_id": "L1",
        "territory": "North",
        "industry": "tech",
        "skills": "",
        "value": "100",
        "account_id": "A1",
        "current_owner": "R1",
        "effort": "1",
    },
    {
        "lead_id": "L2",
        "territory": "North",
        "industry": "retail",
        "skills": "spanish",
        "value": "250.5",
        "account_id": "A2",
        "current_owner": "",
        "effort": "2",
    },
    {
        "lead_id": "L3",
        "territory": "South",
        "industry": "tech",
        "skills": "",
        "value": "80",
        "account_id": "A1",
        "current_owner": "R2",
        "effort": "1",
    },
    {
        "lead_id": "L4",
        "territory": "South",
        "industry": "retail",
        "skills": "",
        "value": "40",
        "account_id": "",
        "current_owner": "",
        "effort": "1",
    },
]
REPS: Rows = [
    {
        "rep_id": "R1",
        "territories": "North",
        "industries": "*",
        "skills": "spanish",
        "capacity": "4",
        "min_leads": "0",
        "win_rate": "0.3",
        "level": "2",
        "available": "true",
    },
    {
        "rep_id": "R2",
        "territories": "South;North",
        "industries": "tech;retail",
        "skills": "",
        "capacity": "3",
        "min_leads": "1",
        "win_rate": "0.25",
        "level": "1",
        "available": "yes",
    },
    {
        "rep_id": "R3",
        "territories": "*",
        "industries": "",
        "skills": "",
        "capacity": "2",
        "min_leads": "0",
        "win_rate": "0.5",
        "level": "3",
        "available": "false",
    },
]
AFFINITY: Rows = [
    {"rep_id": "R1", "industry": "tech", "win_rate": "0.5"},
    {"rep_id": "R2", "industry": "retail", "win_rate": "0.4"},
]
PAIRS: Rows = [
    {"lead_id": "L1", "rep_id": "R1", "score": "50", "effort": "1"},
    {"lead_id": "L2", "rep_id": "R1", "score": "", "effort": "2"},
    {"lead_id": "L3", "rep_id": "R2", "score": "30", "effort": ""},
    {"lead_id": "L4", "rep_id": "R2", "score": "12.5", "effort": "1"},
]
BASE: dict[str, Rows] = {"leads": LEADS, "reps": REPS, "affinity": AFFINITY, "pairs": PAIRS}


# --------------------------------------------------------------------------- helpers


def copy_rows(rows: Rows) -> Rows:
    return [dict(row) for row in rows]


def csv_text(rows: Rows, columns: Sequence[str] | None = None) -> str:
    """Rows as CSV text (no quoting needed: the test cells hold no commas or quotes)."""
    header = list(columns if columns is not None else rows[0])
    lines = [",".join(header), *(",".join(row[c] for c in header) for row in rows)]
    return "\n".join(lines) + "\n"


def write_table(folder: Path, name: str, rows: Rows, columns: Sequence[str] | None = None) -> Path:
    path = folder / name
    path.write_text(csv_text(rows, columns), encoding="utf-8")
    return path


def set_cell(row: int, column: str, value: str) -> Edit:
    """An edit that sets one cell (``row`` is the 0-based data row)."""

    def edit(rows: Rows) -> None:
        rows[row][column] = value

    return edit


def drop_column(column: str) -> Edit:
    def edit(rows: Rows) -> None:
        for row in rows:
            del row[column]

    return edit


def add_row(**cells: str) -> Edit:
    def edit(rows: Rows) -> None:
        rows.append({c: cells.get(c, "") for c in rows[0]})

    return edit


@dataclass(frozen=True)
class Inputs:
    folder: Path
    leads: Path
    reps: Path
    affinity: Path | None = None
    pairs: Path | None = None
    policy: Path | None = None

    @property
    def out(self) -> Path:
        return self.folder / "out"

    def args(self, command: str = "solve") -> list[str]:
        args = [command, "--leads", str(self.leads), "--reps", str(self.reps)]
        if self.affinity is not None:
            args += ["--affinity", str(self.affinity)]
        if self.pairs is not None:
            args += ["--pairs", str(self.pairs)]
        if self.policy is not None:
            args += ["--policy", str(self.policy)]
        if command == "solve":
            args += ["--out", str(self.out)]
        return args


def make_inputs(
    folder: Path,
    *,
    edits: dict[str, Edit] | None = None,
    with_tables: Sequence[str] = (),
    policy: str | None = None,
) -> Inputs:
    """Write a small valid book into ``folder`` (leads, reps and, on request, affinity and
    pairs), each table first changed by its edit in ``edits``."""
    edits = edits or {}
    paths: dict[str, Path] = {}
    for name in ("leads", "reps", *with_tables, *(t for t in edits if t not in with_tables)):
        if name in paths:
            continue
        rows = copy_rows(BASE[name])
        if name in edits:
            edits[name](rows)
        paths[name] = write_table(folder, f"{name}.csv", rows)
    policy_path = None
    if policy is not None:
        policy_path = folder / "policy.yaml"
        policy_path.write_text(policy, encoding="utf-8")
    return Inputs(
        folder,
        paths["leads"],
        paths["reps"],
        paths.get("affinity"),
        paths.get("pairs"),
        policy_path,
    )


def invoke(args: Sequence[str]) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_clean_exit(result: Result, code: int) -> None:
    """The exit code is ``code`` and the run ended by sys.exit, not by an exception."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    assert "Traceback" not in result.stderr


def assert_nothing_written(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())


def expected_prefix(
    source: str | Path | None, where: str | None, ident: str | None, column: str | None
) -> str:
    """The place part of an error line, as README "Exit codes" and leadassign.errors format it."""
    place = str(source) if source is not None else ""
    if where:
        place = f"{place}, {where}"
    if ident:
        place = f"{place} ({ident})"
    if column:
        place = f"{place}, column '{column}'"
    return f"error: {place}: " if place else "error: "


def assert_input_error(
    result: Result,
    out: Path | None,
    *,
    source: str | Path | None,
    where: str | None = None,
    ident: str | None = None,
    column: str | None = None,
    keywords: Sequence[str] = (),
) -> str:
    """Exit 2, one error line naming the place, the key words of the message, no output."""
    assert_clean_exit(result, 2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    prefix = expected_prefix(source, where, ident, column)
    assert line.startswith(prefix), f"{line!r} does not start with {prefix!r}"
    for word in keywords:
        assert word in line, f"{word!r} not in {line!r}"
    if out is not None:
        assert_nothing_written(out)
    return line


# --------------------------------------------------------------------------- bad cells


@dataclass(frozen=True)
class Case:
    """A bad edit of one table and where the error must point."""

    id: str
    table: str
    edit: Edit
    where: str | None
    ident: str | None
    column: str | None
    keywords: tuple[str, ...] = field(default_factory=tuple)


CASES = [
    # leads
    Case(
        "duplicate-lead-id",
        "leads",
        set_cell(2, "lead_id", "L1"),
        "line 4",
        "lead_id L1",
        "lead_id",
        ("duplicate id 'L1'", "first seen at line 2"),
    ),
    Case(
        "empty-lead-id",
        "leads",
        set_cell(1, "lead_id", ""),
        "line 3",
        None,
        "lead_id",
        ("is empty",),
    ),
    Case(
        "missing-leads-territory",
        "leads",
        drop_column("territory"),
        None,
        None,
        None,
        ("missing required column 'territory'",),
    ),
    Case(
        "missing-leads-value",
        "leads",
        drop_column("value"),
        None,
        None,
        None,
        ("missing required column 'value'",),
    ),
    Case(
        "missing-leads-lead-id",
        "leads",
        drop_column("lead_id"),
        None,
        None,
        None,
        ("missing required column 'lead_id'",),
    ),
    Case(
        "non-numeric-value",
        "leads",
        set_cell(1, "value", "abc"),
        "line 3",
        "lead_id L2",
        "value",
        ("'abc'", "not a number"),
    ),
    Case(
        "empty-value",
        "leads",
        set_cell(3, "value", ""),
        "line 5",
        "lead_id L4",
        "value",
        ("is empty",),
    ),
    Case(
        "negative-value",
        "leads",
        set_cell(2, "value", "-5"),
        "line 4",
        "lead_id L3",
        "value",
        ("'-5'", "negative"),
    ),
    Case(
        "effort-zero",
        "leads",
        set_cell(3, "effort", "0"),
        "line 5",
        "lead_id L4",
        "effort",
        ("'0'", ">= 1"),
    ),
    Case(
        "effort-word",
        "leads",
        set_cell(1, "effort", "x"),
        "line 3",
        "lead_id L2",
        "effort",
        ("'x'", "not a number"),
    ),
    Case(
        "effort-fraction",
        "leads",
        set_cell(1, "effort", "1.5"),
        "line 3",
        "lead_id L2",
        "effort",
        ("'1.5'", "whole number"),
    ),
    Case(
        "unknown-current-owner",
        "leads",
        set_cell(3, "current_owner", "R9"),
        "line 5",
        "lead_id L4",
        "current_owner",
        ("'R9'", "not a rep_id"),
    ),
    # reps
    Case(
        "duplicate-rep-id",
        "reps",
        set_cell(2, "rep_id", "R1"),
        "line 4",
        "rep_id R1",
        "rep_id",
        ("duplicate id 'R1'", "first seen at line 2"),
    ),
    Case(
        "empty-rep-id", "reps", set_cell(1, "rep_id", ""), "line 3", None, "rep_id", ("is empty",)
    ),
    Case(
        "missing-reps-capacity",
        "reps",
        drop_column("capacity"),
        None,
        None,
        None,
        ("missing required column 'capacity'",),
    ),
    Case(
        "missing-reps-territories",
        "reps",
        drop_column("territories"),
        None,
        None,
        None,
        ("missing required column 'territories'",),
    ),
    Case(
        "missing-reps-rep-id",
        "reps",
        drop_column("rep_id"),
        None,
        None,
        None,
        ("missing required column 'rep_id'",),
    ),
    Case(
        "empty-territories",
        "reps",
        set_cell(0, "territories", ""),
        "line 2",
        "rep_id R1",
        "territories",
        ("is empty",),
    ),
    Case(
        "non-numeric-capacity",
        "reps",
        set_cell(0, "capacity", "lots"),
        "line 2",
        "rep_id R1",
        "capacity",
        ("'lots'", "not a number"),
    ),
    Case(
        "negative-capacity",
        "reps",
        set_cell(1, "capacity", "-1"),
        "line 3",
        "rep_id R2",
        "capacity",
        ("'-1'", "negative"),
    ),
    Case(
        "fractional-capacity",
        "reps",
        set_cell(1, "capacity", "2.5"),
        "line 3",
        "rep_id R2",
        "capacity",
        ("'2.5'", "whole number"),
    ),
    Case(
        "win-rate-above-1",
        "reps",
        set_cell(0, "win_rate", "1.5"),
        "line 2",
        "rep_id R1",
        "win_rate",
        ("'1.5'", "above 1"),
    ),
    Case(
        "win-rate-negative",
        "reps",
        set_cell(2, "win_rate", "-0.1"),
        "line 4",
        "rep_id R3",
        "win_rate",
        ("'-0.1'", "negative"),
    ),
    Case(
        "min-leads-above-capacity",
        "reps",
        set_cell(2, "min_leads", "5"),
        "line 4",
        "rep_id R3",
        "min_leads",
        ("5", "above", "capacity"),
    ),
    Case(
        "level-zero",
        "reps",
        set_cell(0, "level", "0"),
        "line 2",
        "rep_id R1",
        "level",
        ("'0'", ">= 1"),
    ),
    Case(
        "bad-available",
        "reps",
        set_cell(1, "available", "maybe"),
        "line 3",
        "rep_id R2",
        "available",
        ("'maybe'", "true/false"),
    ),
    # affinity
    Case(
        "affinity-unknown-rep",
        "affinity",
        add_row(rep_id="R9", industry="tech", win_rate="0.5"),
        "line 4",
        "rep_id R9, industry tech",
        "rep_id",
        ("'R9'", "not a rep_id"),
    ),
    Case(
        "affinity-win-rate-above-1",
        "affinity",
        set_cell(1, "win_rate", "1.5"),
        "line 3",
        "rep_id R2, industry retail",
        "win_rate",
        ("'1.5'", "above 1"),
    ),
    Case(
        "affinity-win-rate-negative",
        "affinity",
        set_cell(0, "win_rate", "-0.1"),
        "line 2",
        "rep_id R1, industry tech",
        "win_rate",
        ("'-0.1'", "negative"),
    ),
    Case(
        "affinity-missing-win-rate",
        "affinity",
        drop_column("win_rate"),
        None,
        None,
        None,
        ("missing required column 'win_rate'",),
    ),
    # pairs
    Case(
        "pairs-unknown-lead",
        "pairs",
        set_cell(2, "lead_id", "L9"),
        "line 4",
        "lead_id L9, rep_id R2",
        "lead_id",
        ("'L9'", "not a lead_id"),
    ),
    Case(
        "pairs-unknown-rep",
        "pairs",
        set_cell(1, "rep_id", "R9"),
        "line 3",
        "lead_id L2, rep_id R9",
        "rep_id",
        ("'R9'", "not a rep_id"),
    ),
    Case(
        "pairs-effort-zero",
        "pairs",
        set_cell(3, "effort", "0"),
        "line 5",
        "lead_id L4, rep_id R2",
        "effort",
        ("'0'", ">= 1"),
    ),
    Case(
        "pairs-score-word",
        "pairs",
        set_cell(0, "score", "high"),
        "line 2",
        "lead_id L1, rep_id R1",
        "score",
        ("'high'", "not a number"),
    ),
    Case(
        "pairs-duplicate",
        "pairs",
        add_row(lead_id="L1", rep_id="R1", score="7"),
        "line 6",
        "lead_id L1, rep_id R1",
        None,
        ("duplicate", "pair"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_cell_is_named_and_nothing_is_written(tmp_path: Path, case: Case) -> None:
    inputs = make_inputs(tmp_path, edits={case.table: case.edit})
    result = invoke(inputs.args("solve"))
    assert_input_error(
        result,
        inputs.out,
        source=tmp_path / f"{case.table}.csv",
        where=case.where,
        ident=case.ident,
        column=case.column,
        keywords=case.keywords,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validate_reports_the_same_error(tmp_path: Path, case: Case) -> None:
    inputs = make_inputs(tmp_path, edits={case.table: case.edit})
    solved = invoke(inputs.args("solve"))
    validated = invoke(inputs.args("validate"))
    assert_clean_exit(validated, 2)
    assert validated.stderr == solved.stderr
    assert validated.stdout == ""
    assert_nothing_written(inputs.out)


def test_missing_column_message_lists_the_columns_found(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path, edits={"reps": drop_column("capacity")})
    line = assert_input_error(
        invoke(inputs.args()),
        inputs.out,
        source=inputs.reps,
        keywords=("missing required column 'capacity'", "columns found"),
    )
    assert "rep_id" in line and "territories" in line


def test_bad_input_leaves_an_earlier_run_untouched(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    assert_clean_exit(invoke(inputs.args()), 0)
    before = {p.name: p.read_bytes() for p in inputs.out.iterdir()}
    assert set(before) == {
        ".leadassign-manifest.json",
        "assignments.csv",
        "reps.csv",
        "summary.json",
    }
    rows = copy_rows(LEADS)
    set_cell(1, "value", "abc")(rows)
    write_table(tmp_path, "leads.csv", rows)
    assert_clean_exit(invoke(inputs.args()), 2)
    assert {p.name: p.read_bytes() for p in inputs.out.iterdir()} == before


def test_ragged_row_names_the_line(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    inputs.leads.write_text("lead_id,territory,value\nL1,North,1\nL2,North,2,extra\n")
    line = assert_input_error(
        invoke(inputs.args()), inputs.out, source=inputs.leads, keywords=("not a readable CSV",)
    )
    assert "line 3" in line


def test_blank_line_does_not_shift_line_numbers(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    # line 1 header, line 2 L1, line 3 blank, line 4 L2 (bad value)
    inputs.leads.write_text("lead_id,territory,value\nL1,North,1\n\nL2,North,abc\n")
    assert_input_error(
        invoke(inputs.args()),
        inputs.out,
        source=inputs.leads,
        where="line 4",
        ident="lead_id L2",
        column="value",
        keywords=("'abc'", "not a number"),
    )


def test_quoted_newline_and_whitespace_line_do_not_shift_line_numbers(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    # line 1 header, lines 2-3 L1 (a quoted cell spans them), line 4 spaces, line 5 L2
    inputs.leads.write_text('lead_id,territory,value\n"L1",North,"1\n"\n   \nL2,North,abc\n')
    assert_input_error(
        invoke(inputs.args()),
        inputs.out,
        source=inputs.leads,
        where="line 5",
        ident="lead_id L2",
        column="value",
        keywords=("'abc'", "not a number"),
    )


def test_pairs_negative_effort_states_the_real_bound(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path, edits={"pairs": set_cell(0, "effort", "-1")})
    assert_input_error(
        invoke(inputs.args()),
        inputs.out,
        source=inputs.pairs,
        where="line 2",
        ident="lead_id L1, rep_id R1",
        column="effort",
        keywords=("'-1'", ">= 1"),
    )


# --------------------------------------------------------------------------- good inputs


def test_good_inputs_solve_and_write_the_three_files(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path, with_tables=("affinity", "pairs"))
    result = invoke([*inputs.args("solve"), "--pairs-mode", "override"])
    assert_clean_exit(result, 0)
    assert result.stderr == ""
    assert sorted(p.name for p in inputs.out.iterdir()) == [
        ".leadassign-manifest.json",
        "assignments.csv",
        "reps.csv",
        "summary.json",
    ]
    assignments = pd.read_csv(inputs.out / "assignments.csv", dtype=str, keep_default_na=False)
    assert assignments["lead_id"].tolist() == ["L1", "L2", "L3", "L4"]


def test_validate_on_good_inputs_prints_valid(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path, with_tables=("affinity", "pairs"))
    result = invoke(inputs.args("validate"))
    assert_clean_exit(result, 0)
    assert result.stdout.startswith("valid:"), result.stdout
    assert "4 leads, 3 reps" in result.stdout
    assert result.stderr == ""
    assert not inputs.out.exists()


def test_header_only_leads_is_valid_and_writes_zero_assignment_rows(tmp_path: Path) -> None:
    reps = copy_rows(REPS)
    for row in reps:
        row["min_leads"] = "0"  # no lead to give: a training floor would be INFEASIBLE
    leads = write_table(tmp_path, "leads.csv", [], columns=list(LEADS[0]))
    inputs = Inputs(tmp_path, leads, write_table(tmp_path, "reps.csv", reps))
    assert leads.read_text().count("\n") == 1

    validated = invoke(inputs.args("validate"))
    assert_clean_exit(validated, 0)
    assert validated.stdout.startswith("valid: 0 leads, 3 reps")

    result = invoke(inputs.args("solve"))
    assert_clean_exit(result, 0)
    assignments = pd.read_csv(inputs.out / "assignments.csv", dtype=str, keep_default_na=False)
    assert len(assignments) == 0
    assert {"lead_id", "rep_id", "expected_value", "reason"} <= set(assignments.columns)
    rep_table = pd.read_csv(inputs.out / "reps.csv", dtype=str, keep_default_na=False)
    assert rep_table["rep_id"].tolist() == ["R1", "R2", "R3"]
    assert (inputs.out / "summary.json").is_file()


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("option", ["leads", "reps", "affinity", "pairs", "policy"])
def test_missing_file_is_named(tmp_path: Path, option: str) -> None:
    inputs = make_inputs(tmp_path, with_tables=("affinity", "pairs"), policy="solver: {}\n")
    missing = tmp_path / f"no-such-{option}.{'yaml' if option == 'policy' else 'csv'}"
    args = inputs.args()
    args[args.index(f"--{option}") + 1] = str(missing)
    assert_input_error(invoke(args), inputs.out, source=missing, keywords=("file not found",))


@pytest.mark.parametrize(
    ("content", "keywords"),
    [
        pytest.param(b"lead_id,territory\x00\x01\x02\nL1,N\n", ("binary",), id="nul-bytes"),
        pytest.param(b"\xff\xfe\x81lead_id,territory\n", ("UTF-8",), id="not-utf8"),
        pytest.param(b"", ("empty", "header"), id="zero-bytes"),
        pytest.param(b"\n\n\n", ("empty", "header"), id="blank-lines-only"),
    ],
)
@pytest.mark.parametrize("table", ["leads", "reps"])
def test_unreadable_csv_is_named(
    tmp_path: Path, table: str, content: bytes, keywords: tuple[str, ...]
) -> None:
    inputs = make_inputs(tmp_path)
    path = tmp_path / f"{table}.csv"
    path.write_bytes(content)
    assert_input_error(invoke(inputs.args()), inputs.out, source=path, keywords=keywords)


def test_unsupported_extension_is_named(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    text_file = tmp_path / "leads.txt"
    text_file.write_text(inputs.leads.read_text())
    args = inputs.args()
    args[args.index("--leads") + 1] = str(text_file)
    assert_input_error(
        invoke(args), inputs.out, source=text_file, keywords=("'.txt'", ".csv", ".parquet")
    )


def test_parquet_extension_on_a_csv_file_is_named(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    fake = tmp_path / "reps.parquet"
    fake.write_text(inputs.reps.read_text())
    args = inputs.args()
    args[args.index("--reps") + 1] = str(fake)
    assert_input_error(invoke(args), inputs.out, source=fake, keywords=("Parquet",))


@pytest.mark.parametrize("option", ["leads", "reps", "policy"])
def test_directory_instead_of_file_is_a_usage_error(tmp_path: Path, option: str) -> None:
    inputs = make_inputs(tmp_path, policy="solver: {}\n")
    folder = tmp_path / f"{option}-dir.csv"
    folder.mkdir()
    args = inputs.args()
    args[args.index(f"--{option}") + 1] = str(folder)
    result = invoke(args)
    assert_clean_exit(result, 2)
    assert f"--{option}" in result.stderr
    assert folder.name in result.stderr
    assert "directory" in result.stderr
    assert_nothing_written(inputs.out)


def test_duplicate_header_column_is_named(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    inputs.leads.write_text("lead_id,territory,value,value\nL1,North,1,2\n")
    assert_input_error(
        invoke(inputs.args()), inputs.out, source=inputs.leads, keywords=("'value'", "twice")
    )


# --------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("policy", "where", "keywords"),
    [
        pytest.param("fairnes: {band: 0.2}\n", None, ("unknown key 'fairnes'",), id="top-key"),
        pytest.param(
            "solver: {time_limt_s: 3}\n",
            None,
            ("unknown key 'solver.time_limt_s'",),
            id="nested-key",
        ),
        pytest.param(
            "solver: {workers: many}\n", None, ("'solver.workers'", "integer"), id="wrong-type"
        ),
        pytest.param(
            "solver: {time_limit_s: -1}\n", None, ("'solver.time_limit_s'", "0"), id="negative"
        ),
        pytest.param(
            "solver:\n  workers: [1, 2\n", "line 3", ("not valid YAML",), id="invalid-yaml"
        ),
        pytest.param("solver: {workers: 2\n", "line 2", ("not valid YAML",), id="unclosed-map"),
        pytest.param("- solver\n- value\n", None, ("mapping",), id="not-a-mapping"),
        pytest.param("value: {weights: {}}\n", None, ("'value.weights'",), id="empty-weights"),
    ],
)
def test_bad_policy_names_the_key(
    tmp_path: Path, policy: str, where: str | None, keywords: tuple[str, ...]
) -> None:
    inputs = make_inputs(tmp_path, policy=policy)
    for command in ("solve", "validate"):
        assert_input_error(
            invoke(inputs.args(command)),
            inputs.out,
            source=inputs.policy,
            where=where,
            keywords=keywords,
        )


def test_policy_weights_naming_a_missing_column(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path, policy="value:\n  weights: {budget: 0.5, fit: 0.5}\n")
    assert_input_error(
        invoke(inputs.args()),
        inputs.out,
        source=inputs.leads,
        keywords=("'budget'", "'fit'", "value.weights"),
    )


def test_policy_weights_over_a_non_numeric_cell(tmp_path: Path) -> None:
    def add_budget(rows: Rows) -> None:
        for i, row in enumerate(rows):
            row["budget"] = "lots" if i == 2 else str(10 * (i + 1))

    inputs = make_inputs(
        tmp_path,
        edits={"leads": add_budget},
        policy="value:\n  weights: {budget: 1.0}\n",
    )
    assert_input_error(
        invoke(inputs.args()),
        inputs.out,
        source=inputs.leads,
        where="line 4",
        ident="lead_id L3",
        column="budget",
        keywords=("'lots'", "not a number"),
    )


def test_policy_weights_make_value_optional(tmp_path: Path) -> None:
    def budget_instead_of_value(rows: Rows) -> None:
        for i, row in enumerate(rows):
            del row["value"]
            row["budget"] = str(10 * (i + 1))

    inputs = make_inputs(
        tmp_path,
        edits={"leads": budget_instead_of_value},
        policy="value:\n  weights: {budget: 2.0}\n",
    )
    assert_clean_exit(invoke(inputs.args()), 0)


# --------------------------------------------------------------------------- Parquet


def parquet_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The base tables typed the way a Parquet export holds them."""
    leads = pd.DataFrame(LEADS)
    leads["value"] = leads["value"].astype(float)
    leads["effort"] = leads["effort"].astype("int64")
    reps = pd.DataFrame(REPS)
    reps["capacity"] = reps["capacity"].astype("int64")
    reps["min_leads"] = reps["min_leads"].astype("int64")
    reps["win_rate"] = reps["win_rate"].astype(float)
    reps["level"] = reps["level"].astype("int64")
    reps["available"] = [True, True, False]
    return leads, reps


def solve_parquet(tmp_path: Path, leads: pd.DataFrame, reps: pd.DataFrame) -> Result:
    leads.to_parquet(tmp_path / "leads.parquet", index=False)
    reps.to_parquet(tmp_path / "reps.parquet", index=False)
    inputs = Inputs(tmp_path, tmp_path / "leads.parquet", tmp_path / "reps.parquet")
    return invoke(inputs.args())


def test_parquet_good_inputs_solve(tmp_path: Path) -> None:
    leads, reps = parquet_inputs()
    result = solve_parquet(tmp_path, leads, reps)
    assert_clean_exit(result, 0)
    assert (tmp_path / "out" / "assignments.csv").is_file()


def test_parquet_non_numeric_value_names_the_row(tmp_path: Path) -> None:
    leads, reps = parquet_inputs()
    leads["value"] = ["100", "abc", "80", "40"]
    assert_input_error(
        solve_parquet(tmp_path, leads, reps),
        tmp_path / "out",
        source=tmp_path / "leads.parquet",
        where="row 2",
        ident="lead_id L2",
        column="value",
        keywords=("'abc'", "not a number"),
    )


def test_parquet_negative_value_names_the_row(tmp_path: Path) -> None:
    leads, reps = parquet_inputs()
    leads.loc[3, "value"] = -2.5
    assert_input_error(
        solve_parquet(tmp_path, leads, reps),
        tmp_path / "out",
        source=tmp_path / "leads.parquet",
        where="row 4",
        ident="lead_id L4",
        column="value",
        keywords=("'-2.5'", "negative"),
    )


def test_parquet_fractional_capacity_names_the_row(tmp_path: Path) -> None:
    leads, reps = parquet_inputs()
    reps["capacity"] = [4.0, 2.5, 2.0]
    assert_input_error(
        solve_parquet(tmp_path, leads, reps),
        tmp_path / "out",
        source=tmp_path / "reps.parquet",
        where="row 2",
        ident="rep_id R2",
        column="capacity",
        keywords=("'2.5'", "whole number"),
    )


def test_parquet_null_capacity_names_the_row(tmp_path: Path) -> None:
    leads, reps = parquet_inputs()
    reps["capacity"] = [4.0, None, 2.0]
    assert_input_error(
        solve_parquet(tmp_path, leads, reps),
        tmp_path / "out",
        source=tmp_path / "reps.parquet",
        where="row 2",
        ident="rep_id R2",
        column="capacity",
        keywords=("is empty",),
    )


def test_parquet_duplicate_lead_id_names_the_rows(tmp_path: Path) -> None:
    leads, reps = parquet_inputs()
    leads.loc[3, "lead_id"] = "L2"
    assert_input_error(
        solve_parquet(tmp_path, leads, reps),
        tmp_path / "out",
        source=tmp_path / "leads.parquet",
        where="row 4",
        ident="lead_id L2",
        column="lead_id",
        keywords=("duplicate id 'L2'", "first seen at row 2"),
    )


# --------------------------------------------------------------------------- matrix, usage


def test_matrix_above_the_cell_limit_is_refused_before_solving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leadassign.output, "MATRIX_CELL_LIMIT", 5)
    inputs = make_inputs(tmp_path)
    result = invoke([*inputs.args(), "--matrix"])
    line = assert_input_error(result, inputs.out, source=None, keywords=("--matrix", "12"))
    assert "limit" in line
    assert result.stdout == ""
    assert not inputs.out.exists()


def test_matrix_within_the_cell_limit_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leadassign.output, "MATRIX_CELL_LIMIT", 12)
    inputs = make_inputs(tmp_path)
    assert_clean_exit(invoke([*inputs.args(), "--matrix"]), 0)
    assert (inputs.out / "matrix.csv").is_file()


@pytest.mark.parametrize(
    ("option", "value", "key"),
    [
        pytest.param("--workers", "100", "workers", id="workers-100"),
        pytest.param("--seed", str(2**31), "seed", id="seed-2**31"),
        pytest.param("--relative-gap", "1", "relative_gap", id="relative-gap-1"),
    ],
)
def test_solver_option_out_of_range_is_an_input_error(
    tmp_path: Path, option: str, value: str, key: str
) -> None:
    inputs = make_inputs(tmp_path)
    result = invoke([*inputs.args(), option, value])
    assert_clean_exit(result, 2)
    assert option in result.stderr or key in result.stderr, result.stderr
    assert value in result.stderr
    assert_nothing_written(inputs.out)


@pytest.mark.parametrize(
    ("change", "keywords"),
    [
        pytest.param(("drop", "--reps"), ("Missing option", "--reps"), id="missing-reps"),
        pytest.param(("drop", "--out"), ("Missing option", "--out"), id="missing-out"),
        pytest.param(("add", "--pairs-mode", "some"), ("--pairs-mode",), id="bad-pairs-mode"),
        pytest.param(("add", "--time-limit", "0"), ("--time-limit",), id="zero-time-limit"),
        pytest.param(("add", "--workers", "two"), ("--workers",), id="bad-workers"),
        pytest.param(("add", "--method", "magic"), ("--method",), id="bad-method"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, change: tuple[str, ...], keywords: tuple[str, ...]
) -> None:
    inputs = make_inputs(tmp_path)
    args = inputs.args()
    if change[0] == "drop":
        i = args.index(change[1])
        del args[i : i + 2]
    else:
        args += list(change[1:])
    result = invoke(args)
    assert_clean_exit(result, 2)
    for word in keywords:
        assert word in result.stderr, result.stderr
    assert_nothing_written(inputs.out)


@pytest.mark.parametrize(
    ("setting", "value"), [("workers", 100), ("seed", 2**31), ("relative_gap", 1.0)]
)
def test_solver_setting_out_of_range_from_python_is_an_input_error(
    setting: str, value: float
) -> None:
    from leadassign.errors import InputError
    from leadassign.models.policy import Policy

    with pytest.raises(InputError, match=rf"solver setting '{setting}' = {value!r}"):
        Policy().with_solver(**{setting: value})
