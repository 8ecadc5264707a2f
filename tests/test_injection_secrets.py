"""Issue 21, category 2: injection and secrets, attacked through the real CLI.

- CSV formula injection: a hostile book (lead and rep ids, an extra column and its header
  that a spreadsheet would run) goes through every command that writes CSV; every CSV
  written (files and stdout) is parsed and no cell may begin with ``= + - @ tab CR`` unless
  it is a plain number, while the hostile ids must be there, neutralised.
- Database URL secrets: each way of writing a password into ``--store`` (against the real
  PostgreSQL when ``LEADASSIGN_TEST_POSTGRES`` is set) must leave it out of stdout, stderr,
  the JSON log, summary.json and the history rows.
- Control characters from input are shown escaped in messages.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from leadassign.cli import main
from leadassign.store.db import metadata, schema_table
from tests.test_history import POSTGRES, _postgres_reachable

ROOT = Path(__file__).resolve().parents[1]

#: What a spreadsheet runs (OWASP), and what stays a number: written independently of
#: leadassign's own patterns.
ACTIVE_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

HOSTILE_LEADS = [
    '=HYPERLINK("http://x","click")',
    "+1+1",
    "-cmd|' /C calc'!A0",
    "@SUM(A1)",
    "\tx1",
    "\rx2",
    "-3",
    "+1.5",
    "-1e-3",
    "L1",
    "L2",
    "L3",
]
HOSTILE_REPS = ["=R1", "+R2", "-R3", "@R4", "R5"]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def active_cells(text: str) -> list[str]:
    """The cells of a CSV text that a spreadsheet would run."""
    bad = []
    for row in csv.reader(io.StringIO(text, newline="")):
        for cell in row:
            if cell.startswith(ACTIVE_START) and not PLAIN_NUMBER.match(cell):
                bad.append(cell)
    return bad


def write_csv_file(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)


def hostile_book(folder: Path, reps: list[str] = HOSTILE_REPS) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    leads, rep_file = folder / "leads.csv", folder / "reps.csv"
    extra = ["=1+2", "-5", "@x", "+y", "ok", "-2.5"]
    write_csv_file(
        leads,
        ["lead_id", "territory", "value", "=col", "@note"],
        [
            [lead, "T", 100 + 10 * k, extra[k % len(extra)], f"-note{k}"]
            for k, lead in enumerate(HOSTILE_LEADS)
        ],
    )
    write_csv_file(
        rep_file,
        ["rep_id", "territories", "capacity", "win_rate"],
        [[rep, "T", 3, 0.2 + 0.1 * k] for k, rep in enumerate(reps)],
    )
    return leads, rep_file


@pytest.fixture(scope="module")
def hostile_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Every command that writes CSV, run once on the hostile book: name -> {what: text}."""
    root = tmp_path_factory.mktemp("hostile")
    store = str(root / "history.db")
    week1 = hostile_book(root / "week1")
    week2 = hostile_book(root / "week2", reps=["=R1", "+R2", "@R4", "R5", "=R6"])
    got: dict[str, dict[str, str]] = {}

    def files(folder: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*.csv"))
        }

    def run(name: str, *args: str, expect: int = 0, out: Path | None = None) -> None:
        result = invoke(*args)
        assert result.exit_code == expect, (name, result.output, result.stderr)
        got[name] = {"stdout": result.stdout} if out is None else files(out)

    inputs1 = ["--leads", str(week1[0]), "--reps", str(week1[1])]
    inputs2 = ["--leads", str(week2[0]), "--reps", str(week2[1])]
    run(
        "solve",
        "solve",
        *inputs1,
        "--out",
        str(root / "s1"),
        "--matrix",
        "--store",
        store,
        out=root / "s1",
    )
    run(
        "rebalance",
        "rebalance",
        *inputs2,
        "--out",
        str(root / "r2"),
        "--matrix",
        "--store",
        store,
        out=root / "r2",
    )
    run(
        "baseline",
        "baseline",
        "--strategy",
        "greedy",
        *inputs1,
        "--out",
        str(root / "b"),
        "--matrix",
        out=root / "b",
    )
    run("diff stdout", "diff", "1", "2", "--store", store)
    run(
        "diff --out",
        "diff",
        "1",
        "2",
        "--store",
        store,
        "--out",
        str(root / "d" / "moves.csv"),
        out=root / "d",
    )
    for fmt in ("csv", "salesforce", "hubspot"):
        run(
            f"export {fmt} stdout",
            "export",
            "2",
            "--format",
            fmt,
            "--all",
            "--unassigned-owner",
            "-queue",
            "--store",
            store,
            expect=0 if fmt == "csv" else 2,
        )
    run(
        "export csv --out",
        "export",
        "2",
        "--format",
        "csv",
        "--all",
        "--store",
        store,
        "--out",
        str(root / "e" / "owners.csv"),
        out=root / "e",
    )
    scenario = root / "scenario.yaml"
    scenario.write_text(
        "base:\n"
        f"  leads: {json.dumps(str(week1[0]))}\n"
        f"  reps: {json.dumps(str(week1[1]))}\n"
        "  policy: {fairness: {band: 1.0}}\n"
        "variants:\n"
        "  no-r1:\n"
        "    remove_reps: ['=R1']\n"
        "  more:\n"
        "    description: '<script>alert(1)</script>'\n"
        "    add_reps:\n"
        "      - {rep_id: '@R9', territories: T, capacity: 2}\n"
        "      - {rep_id: '<script>alert(2)</script>', territories: T, capacity: 2}\n",
        encoding="utf-8",
    )
    run("compare", "compare", str(scenario), "--out", str(root / "c"), out=root / "c")
    sweep = root / "sweep.yaml"
    sweep.write_text(
        "base:\n"
        f"  leads: {json.dumps(str(week1[0]))}\n"
        f"  reps: {json.dumps(str(week1[1]))}\n"
        "  policy: {fairness: {band: 1.0}}\n"
        "sweep:\n  key: fairness.band\n  values: [0.5, 1.0]\n",
        encoding="utf-8",
    )
    run("frontier", "frontier", str(sweep), "--out", str(root / "f"), out=root / "f")
    got["report.html"] = {"html": (root / "c" / "report.html").read_text(encoding="utf-8")}
    return got


CSV_COMMANDS = [
    "solve",
    "rebalance",
    "baseline",
    "diff stdout",
    "diff --out",
    "export csv stdout",
    "export csv --out",
    "compare",
    "frontier",
]


@pytest.mark.parametrize("command", CSV_COMMANDS)
def test_no_csv_cell_a_spreadsheet_would_run(
    hostile_outputs: dict[str, dict[str, str]], command: str
) -> None:
    written = hostile_outputs[command]
    assert written, f"{command} wrote no CSV"
    for name, text in written.items():
        assert active_cells(text) == [], (command, name)
    everything = "\n".join(written.values())
    if command == "frontier":
        assert "'=R1" in everything  # the runs' reps.csv
        return
    # the hostile ids are there, neutralised, and numbers stay numbers
    assert "'@SUM(A1)" in everything and "'@R4" in everything, command
    if command.startswith("diff"):  # only the leads that moved
        return
    assert "'+1+1" in everything and "'=HYPERLINK(" in everything, command
    assert re.search(r"(^|,)-3(,|$)", everything, re.MULTILINE), command
    assert "'-3" not in everything and "'+1.5" not in everything and "'-1e-3" not in everything


def test_headers_and_matrix_are_inert(hostile_outputs: dict[str, dict[str, str]]) -> None:
    solved = hostile_outputs["solve"]
    assignments = next(t for n, t in solved.items() if n.endswith("assignments.csv"))
    header = next(csv.reader(io.StringIO(assignments)))
    assert "'=col" in header and "'@note" in header
    matrix = next(t for n, t in solved.items() if n.endswith("matrix.csv"))
    matrix_header = next(csv.reader(io.StringIO(matrix)))
    assert matrix_header[1:] == ["'=R1", "'+R2", "'-R3", "'@R4", "R5"]
    assert [row[0] for row in csv.reader(io.StringIO(matrix))][1:4] == [
        '\'=HYPERLINK("http://x","click")',
        "'+1+1",
        "'-cmd|' /C calc'!A0",
    ]


@pytest.mark.parametrize("fmt", ["salesforce", "hubspot"])
def test_crm_id_files_refuse_formula_ids(
    hostile_outputs: dict[str, dict[str, str]], fmt: str
) -> None:
    # the run fixture expected exit 2; nothing went to stdout
    assert hostile_outputs[f"export {fmt} stdout"]["stdout"] == ""


@pytest.mark.parametrize("fmt", ["salesforce", "hubspot"])
def test_crm_id_file_refusal_names_the_lead_and_writes_nothing(tmp_path: Path, fmt: str) -> None:
    leads, reps = hostile_book(tmp_path / "book")
    store = str(tmp_path / "h.db")
    assert (
        invoke(
            "solve",
            "--leads",
            str(leads),
            "--reps",
            str(reps),
            "--out",
            str(tmp_path / "run"),
            "--store",
            store,
        ).exit_code
        == 0
    )
    target = tmp_path / "owners.csv"
    made = invoke("export", "latest", "--format", fmt, "--store", store, "--out", str(target))
    assert made.exit_code == 2
    assert "begins with a character a spreadsheet runs" in made.stderr
    assert "column 'lead_id'" in made.stderr and "--format csv" in made.stderr
    assert not target.exists()


def test_crm_id_files_keep_numeric_ids_as_numbers(tmp_path: Path) -> None:
    folder = tmp_path / "book"
    folder.mkdir()
    write_csv_file(
        folder / "leads.csv",
        ["lead_id", "territory", "value"],
        [["-3", "T", 10], ["+15", "T", 20], ["00Q5e00000AbCdE", "T", 30]],
    )
    write_csv_file(folder / "reps.csv", ["rep_id", "territories", "capacity"], [["-7", "T", 5]])
    store = str(tmp_path / "h.db")
    assert (
        invoke(
            "solve",
            "--leads",
            str(folder / "leads.csv"),
            "--reps",
            str(folder / "reps.csv"),
            "--out",
            str(tmp_path / "run"),
            "--store",
            store,
        ).exit_code
        == 0
    )
    made = invoke("export", "latest", "--format", "salesforce", "--store", store)
    assert made.exit_code == 0, made.stderr
    assert made.stdout == "Id,OwnerId\n-3,-7\n+15,-7\n00Q5e00000AbCdE,-7\n"


def test_csv_writer_quotes_carriage_returns_and_neutralises_tabs() -> None:
    from leadassign.output import csv_text

    frame = pd.DataFrame(
        {"=h": ["\tcmd", "\r=x", "a\rb", "-3", None], "n": [-1.0, 2.0, 3.0, 4.0, 5.0]}
    )
    text = csv_text(frame)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [
        ["'=h", "n"],
        ["'\tcmd", "-1.0"],
        ["'\r=x", "2.0"],
        ["a\rb", "3.0"],
        ["-3", "4.0"],
        ["", "5.0"],
    ]


def test_html_report_stays_escaped(hostile_outputs: dict[str, dict[str, str]]) -> None:
    html = hostile_outputs["report.html"]["html"]
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)" in html and "&lt;script&gt;alert(2)" in html


# -- control characters in messages --------------------------------------------------------

HOSTILE_TEXT = "X\x1b[31mred\x07\u202eevil\x9b2J"
ESCAPED = "X\\x1b[31mred\\x07\\u202eevil\\x9b2J"


def assert_escaped(output: str) -> None:
    assert ESCAPED in output, output
    for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert raw not in output


def test_duplicate_id_is_shown_escaped(tmp_path: Path) -> None:
    write_csv_file(
        tmp_path / "leads.csv",
        ["lead_id", "territory", "value"],
        [[HOSTILE_TEXT, "T", 1], [HOSTILE_TEXT, "T", 2]],
    )
    write_csv_file(tmp_path / "reps.csv", ["rep_id", "territories", "capacity"], [["R", "T", 1]])
    for command in (["validate"], ["solve", "--out", str(tmp_path / "o")]):
        result = invoke(
            *command, "--leads", str(tmp_path / "leads.csv"), "--reps", str(tmp_path / "reps.csv")
        )
        assert result.exit_code == 2
        assert_escaped(result.stderr)


def test_unknown_rep_is_shown_escaped(tmp_path: Path) -> None:
    write_csv_file(
        tmp_path / "leads.csv",
        ["lead_id", "territory", "value", "current_owner"],
        [["L1", "T", 1, HOSTILE_TEXT]],
    )
    write_csv_file(tmp_path / "reps.csv", ["rep_id", "territories", "capacity"], [["R", "T", 1]])
    result = invoke(
        "solve",
        "--leads",
        str(tmp_path / "leads.csv"),
        "--reps",
        str(tmp_path / "reps.csv"),
        "--out",
        str(tmp_path / "o"),
    )
    assert result.exit_code == 2
    assert_escaped(result.stderr)


def test_conflicts_and_show_are_escaped(tmp_path: Path) -> None:
    write_csv_file(tmp_path / "leads.csv", ["lead_id", "territory", "value"], [["L1", "T", 1]])
    write_csv_file(
        tmp_path / "reps.csv",
        ["rep_id", "territories", "capacity", "min_leads"],
        [[HOSTILE_TEXT, "T", 5, 5]],
    )
    store = str(tmp_path / "h.db")
    solved = invoke(
        "solve",
        "--leads",
        str(tmp_path / "leads.csv"),
        "--reps",
        str(tmp_path / "reps.csv"),
        "--out",
        str(tmp_path / "o"),
        "--store",
        store,
    )
    assert solved.exit_code == 3
    assert_escaped(solved.stderr)
    shown = invoke("show", "1", "--store", store)  # latest counts completed runs only
    assert shown.exit_code == 0
    assert_escaped(shown.stdout)


def test_export_left_out_warning_is_escaped(tmp_path: Path) -> None:
    write_csv_file(
        tmp_path / "leads.csv",
        ["lead_id", "territory", "value"],
        [["L1", "T", 1], [HOSTILE_TEXT, "elsewhere", 1]],
    )
    write_csv_file(tmp_path / "reps.csv", ["rep_id", "territories", "capacity"], [["R", "T", 1]])
    store = str(tmp_path / "h.db")
    assert (
        invoke(
            "solve",
            "--leads",
            str(tmp_path / "leads.csv"),
            "--reps",
            str(tmp_path / "reps.csv"),
            "--out",
            str(tmp_path / "o"),
            "--store",
            store,
        ).exit_code
        == 0
    )
    made = invoke("export", "latest", "--format", "csv", "--all", "--store", store)
    assert made.exit_code == 0
    assert_escaped(made.stderr)


# -- database URL secrets ------------------------------------------------------------------


@pytest.fixture
def postgres() -> Iterator[sa.engine.URL]:
    """The test PostgreSQL (trust authentication: any password is accepted), emptied."""
    if not _postgres_reachable():
        pytest.skip("no PostgreSQL server (set LEADASSIGN_TEST_POSTGRES; .ci/run starts one)")
    assert POSTGRES is not None
    engine = sa.create_engine(POSTGRES)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        schema_table.drop(conn, checkfirst=True)
    engine.dispose()
    yield sa.engine.make_url(POSTGRES)


def _history_text(url: sa.engine.URL) -> str:
    """Every cell of the leadassign tables, as text."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("leadassign_runs"):
                return ""
            parts: list[str] = []
            for table in ("leadassign_runs", "leadassign_assignments", "leadassign_files"):
                for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                    parts.extend(
                        (
                            bytes(v).decode("latin-1")
                            if isinstance(v, bytes | memoryview)
                            else str(v)
                        )
                        for v in row
                    )
            return "\n".join(parts)
    finally:
        engine.dispose()


#: Each way to put a password in --store: (name, url template, connects, pieces that must
#: never be shown). {pw} is a fresh secret, {host}/{port}/{db}/{user} the test server's.
URL_FORMS = [
    ("user:pass@", "postgresql+psycopg://{user}:{pw}@{host}:{port}/{db}", True),
    ("percent-encoded @", "postgresql+psycopg://{user}:{pw}%40x{pw}@{host}:{port}/{db}", True),
    ("?password=", "postgresql+psycopg://{user}@{host}:{port}/{db}?password={pw}", True),
    ("raw @ in password", "postgresql+psycopg://{user}:{pw}@{pw}x@{host}:{port}/{db}", False),
    ("libpq keywords", "host={host} port={port} user={user} password={pw} dbname={db}", False),
    ("wrong port", "postgresql+psycopg://{user}:{pw}@{host}:1/{db}", False),
    ("unparsable port", "postgresql+psycopg://{user}:{pw}@{host}:{pw}/{db}", False),
]


@pytest.mark.parametrize(("form", "template", "connects"), URL_FORMS, ids=[f[0] for f in URL_FORMS])
def test_store_password_is_never_shown(
    postgres: sa.engine.URL,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    form: str,
    template: str,
    connects: bool,
) -> None:
    monkeypatch.chdir(tmp_path)  # a store mistaken for a path would land here
    pw = "Pw" + uuid.uuid4().hex[:10]
    store = template.format(
        user=postgres.username, pw=pw, host=postgres.host, port=postgres.port, db=postgres.database
    )
    leads, reps = hostile_book(tmp_path / "book")
    out = tmp_path / "run"
    outputs: list[str] = []
    solve_args = ["solve", "--leads", str(leads), "--reps", str(reps), "--out", str(out)]
    for args in (
        [*solve_args, "--store", store, "--json"],
        [*solve_args, "--store", store],
        ["history", "--store", store],
        ["history", "--json", "--store", store],
        ["show", "latest", "--store", store],
        ["show", "latest", "--json", "--store", store],
        ["diff", "latest", "latest", "--store", store],
        ["export", "latest", "--format", "csv", "--store", store],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exception is None or isinstance(result.exception, SystemExit), form
        assert result.exit_code in ((0,) if connects else (2,)), (args, result.stderr)
        if not connects:
            assert result.stderr.startswith("error: ") or '"event": "error"' in result.stderr
        outputs += [result.stdout, result.stderr]
    if out.exists():
        outputs += [p.read_text(encoding="utf-8") for p in out.iterdir() if p.is_file()]
    outputs.append(_history_text(postgres))
    everything = "\n".join(outputs)
    assert pw not in everything, form
    assert pw.lower() not in everything.lower()
    if connects:
        assert "***" in everything  # the store is named, without its secret


def test_store_password_never_shown_by_a_real_process(
    postgres: sa.engine.URL, tmp_path: Path
) -> None:
    pw = "Pw" + uuid.uuid4().hex[:10]
    leads, reps = hostile_book(tmp_path / "book")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEADASSIGN_STORE": ""}
    env["LEADASSIGN_STORE"] = f"postgresql+psycopg://{postgres.username}:{pw}@127.0.0.1:1/x"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leadassign",
            "solve",
            "--leads",
            str(leads),
            "--reps",
            str(reps),
            "--out",
            str(tmp_path / "run"),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 2
    text = (stdout + stderr).decode("utf-8")
    assert pw not in text
    assert json.loads(text.strip().splitlines()[-1])["event"] == "error"


@pytest.mark.parametrize("store", ["sqlite://", "sqlite:///:memory:", ":memory:"])
def test_in_memory_store_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    monkeypatch.chdir(tmp_path)
    leads, reps = hostile_book(tmp_path / "book")
    result = invoke(
        "solve",
        "--leads",
        str(leads),
        "--reps",
        str(reps),
        "--out",
        str(tmp_path / "run"),
        "--store",
        store,
    )
    assert result.exit_code == 2
    assert "in-memory SQLite database, which records nothing" in result.stderr
    assert not (tmp_path / "run").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book"]  # no file named ':memory:'


def test_internal_error_is_scrubbed(
    postgres: sa.engine.URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug whose exception quotes the URL (as a driver's may) ends with exit 1 and the
    traceback, the password replaced by *** and control characters escaped."""
    from leadassign.store.db import Store

    pw = "Pw" + uuid.uuid4().hex[:10]
    store = (
        f"postgresql+psycopg://{postgres.username}:{pw}@{postgres.host}:{postgres.port}"
        f"/{postgres.database}"
    )

    def broken(self: Store, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"lost the connection to {store} \x1b[2J")

    monkeypatch.setattr(Store, "runs", broken)
    result = CliRunner().invoke(main, ["history", "--store", store])
    assert result.exit_code == 1
    assert "RuntimeError: lost the connection to postgresql+psycopg://" in result.stderr
    assert pw not in result.stderr and "\x1b" not in result.stderr
    assert "internal error (a bug)" in result.stderr


def test_formula_cells_arrow_and_pandas_paths_agree() -> None:
    """Text columns are scanned with Arrow's kernels, other object columns with pandas'
    string methods: on random cells (every character that starts a formula, numbers,
    carriage returns, non-ASCII, missing cells) both give the independent rule's answer."""
    import numpy as np

    from leadassign.output import _quoting, formula_cells

    rng = np.random.default_rng(7)
    pieces = ["=", "+", "-", "@", "\t", "\r", "1", "2.5", "e3", "a", "é", "٣", " ", "\n", "x"]
    for trial in range(60):
        cells: list[Any] = [
            "".join(rng.choice(pieces, size=int(rng.integers(0, 4)))) for _ in range(40)
        ]
        cells[int(rng.integers(0, 40))] = None
        if trial % 3 == 0:
            cells[int(rng.integers(0, 40))] = float("nan")
        expected = np.array(
            [
                isinstance(c, str)
                and c.startswith(ACTIVE_START)
                and re.fullmatch(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", c) is None
                for c in cells
            ]
        )
        text = pd.Series(cells, dtype=object)
        mixed = pd.Series([*cells, 5], dtype=object)  # not all text: pandas' methods
        assert (formula_cells(text) == expected).all()
        assert (formula_cells(mixed)[:-1] == expected).all()
        assert (formula_cells(pd.Index(cells, dtype=object)) == expected).all()
        carriage = any(isinstance(c, str) and "\r" in c for c in cells)
        frame = pd.DataFrame({"a": text, "n": np.arange(40.0)})
        assert _quoting(frame) == (2 if carriage else 0)
