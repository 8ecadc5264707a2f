"""Issue 21, category 4: never a silent wrong answer from inputs, run refs, labels or exits.

Every attack goes through the real command line (click's CliRunner) on small real books: YAML
that YAML 1.1 reads wrongly or that would exhaust the parser, numbers beyond exact float
range or the solvers' integer arithmetic, run references that are not ids, variant names
that would take another output's place, CSV files in the wrong encoding or with Excel's
``sep=`` line, plot-hostile rep ids in the comparison report, and non-zero exits that must
say why. Bad input: exit 2, one line naming the file (row, column or key), nothing written.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from leadassign.cli import main
from leadassign.models.yaml12 import MAX_DEPTH, MAX_NODES, load_yaml
from leadassign.result import Status
from leadassign.scenarios.compare import solve_run, write_comparison
from leadassign.scenarios.spec import load_scenario

LEADS = [
    ("L1", "NO", "100"),
    ("L2", "NO", "80"),
    ("L3", "SE", "60"),
    ("L4", "SE", "40"),
    ("L5", "DK", "20"),
]
REPS = [("R1", "NO;SE", "3"), ("R2", "SE;DK", "3"), ("R3", "*", "2")]


def write_book(folder: Path, reps: list[tuple[str, str, str]] = REPS) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    leads = folder / "leads.csv"
    leads.write_text(
        "lead_id,territory,value\n" + "".join(f"{a},{b},{c}\n" for a, b, c in LEADS),
        encoding="utf-8",
    )
    reps_path = folder / "reps.csv"
    reps_path.write_text(
        "rep_id,territories,capacity\n" + "".join(f"{a},{b},{c}\n" for a, b, c in reps),
        encoding="utf-8",
    )
    return leads, reps_path


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def refused(result: Result, *words: str) -> None:
    """Exit 2, one 'error:' line naming the problem, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], (word, lines[0])


# -- YAML: one loader, YAML 1.2 core schema, bounded -------------------------------------------

#: The YAML-reading commands: each gets the hostile YAML text as its policy or scenario file.
YamlCommand = Callable[[Path, str], list[str | Path]]


def _policy_command(name: str) -> YamlCommand:
    def command(folder: Path, text: str) -> list[str | Path]:
        leads, reps = write_book(folder / "book")
        policy = folder / "policy.yaml"
        policy.write_text(text, encoding="utf-8")
        extra: list[str | Path] = ["--out", folder / "out"] if name != "validate" else []
        if name == "baseline":
            extra += ["--strategy", "greedy"]
        return [name, "--leads", leads, "--reps", reps, "--policy", policy, *extra]

    return command


def _scenario_command(name: str, where: str) -> YamlCommand:
    """compare/frontier with the text as the scenario file itself ('spec') or as the policy
    file its base names ('base policy')."""

    def command(folder: Path, text: str) -> list[str | Path]:
        write_book(folder / "book")
        spec = folder / "s.yaml"
        sweep = "sweep: {key: fairness.band, values: [0.2, 0.5]}\n"
        variants = "variants: {v: {remove_reps: [R3]}}\n" if name == "compare" else sweep
        if where == "spec":
            spec.write_text(text, encoding="utf-8")
        else:
            (folder / "policy.yaml").write_text(text, encoding="utf-8")
            spec.write_text(
                "base: {leads: book/leads.csv, reps: book/reps.csv, policy: policy.yaml}\n"
                + variants,
                encoding="utf-8",
            )
        return [name, spec, "--out", folder / "out"]

    return command


YAML_COMMANDS = {
    "solve --policy": _policy_command("solve"),
    "validate --policy": _policy_command("validate"),
    "baseline --policy": _policy_command("baseline"),
    "compare spec": _scenario_command("compare", "spec"),
    "compare base policy": _scenario_command("compare", "base policy"),
    "frontier spec": _scenario_command("frontier", "spec"),
}


def _laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


HOSTILE_YAML = {
    "duplicate key": (
        "fairness:\n  metric: count\n  band: 0.5\nsolver:\n  workers: 1\nfairness:\n  band: 0.1\n",
        ["line 6", "duplicate key 'fairness'", "first given on line 1"],
    ),
    "nested 100,000 levels": ("x: " + "[" * 100_000 + "]" * 100_000 + "\n", [f"{MAX_DEPTH}"]),
    "nested block mappings": (
        "".join(f"{'  ' * i}k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * 105 + "v: 1\n",
        [f"more than {MAX_DEPTH} levels"],
    ),
    "billion laughs": (_laughs(), ["aliases expand", f"{MAX_NODES:,}"]),
}


@pytest.mark.parametrize("attack", list(HOSTILE_YAML))
@pytest.mark.parametrize("command", list(YAML_COMMANDS))
def test_hostile_yaml_is_refused_by_every_command(
    tmp_path: Path, command: str, attack: str
) -> None:
    text, words = HOSTILE_YAML[attack]
    args = YAML_COMMANDS[command](tmp_path, text)
    before = snapshot(tmp_path)
    result = run(*args)
    name = "s.yaml" if command.endswith("spec") else "policy.yaml"
    refused(result, name, *words)
    assert snapshot(tmp_path) == before  # nothing written, not even an empty out folder


def test_yaml_core_schema_scalars() -> None:
    """YAML 1.1's booleans, octals, underscores, sexagesimals and dates stay text (or
    decimal) as YAML 1.2 reads them; 1.2's own forms are typed."""
    text = (
        "a: NO\nb: on\nc: y\nd: off\ne: Yes\nf: 0777\ng: 1_000\nh: 1:30\ni: 2024-01-01\n"
        "j: true\nk: FALSE\nl: ~\nm:\nn: 0o17\no: 0x1F\np: .inf\nq: -.Inf\nr: 1e3\ns: .5\n"
        "t: <<\n"
    )
    data = load_yaml(text)
    assert data["a"] == "NO" and data["b"] == "on" and data["c"] == "y" and data["d"] == "off"
    assert data["e"] == "Yes" and data["f"] == 777 and data["g"] == "1_000"
    assert data["h"] == "1:30" and data["i"] == "2024-01-01"
    assert data["j"] is True and data["k"] is False and data["l"] is None and data["m"] is None
    assert data["n"] == 15 and data["o"] == 31 and data["p"] == math.inf
    assert data["q"] == -math.inf and data["r"] == 1000.0 and data["s"] == 0.5
    assert data["t"] == "<<"


def test_a_filter_on_territory_no_matches_norway(tmp_path: Path) -> None:
    """`exclude: {territory: NO}` removes the Norwegian leads (YAML 1.1 read NO as false
    and matched nothing, silently)."""
    write_book(tmp_path / "book")
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "base: {leads: book/leads.csv, reps: book/reps.csv}\n"
        "variants:\n  no-norway:\n    leads:\n      exclude: {territory: NO}\n"
        "  only-on:\n    leads:\n      include: {territory: [SE, on]}\n",
        encoding="utf-8",
    )
    result = run("compare", spec, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "comparison.csv").set_index("variant")
    assert table.loc["base", "leads"] == 5
    assert table.loc["no-norway", "leads"] == 3
    assert table.loc["only-on", "leads"] == 2


# -- numbers -----------------------------------------------------------------------------------

BIG = str(2**53 + 1)
NEAR = str(2**53 - 8)

#: table, column, bad cell
NUMBER_ATTACKS = [
    ("leads", "value", BIG),
    ("leads", "value", "1e308"),
    ("leads", "value", "-1e400"),
    ("leads", "value", "nan"),
    ("leads", "effort", NEAR),
    ("leads", "effort", "1e10"),
    ("leads", "weighted", BIG),
    ("reps", "capacity", BIG),
    ("reps", "min_leads", "1e23"),
    ("reps", "level", "1e23"),
    ("reps", "win_rate", "1e308"),
    ("pairs", "score", "1e308"),
    ("pairs", "score", "-" + BIG),
    ("pairs", "effort", NEAR),
    ("affinity", "win_rate", BIG),
]


@pytest.mark.parametrize(("table", "column", "cell"), NUMBER_ATTACKS)
def test_numbers_beyond_exact_range_are_refused_naming_the_column(
    tmp_path: Path, table: str, column: str, cell: str
) -> None:
    leads, reps = write_book(tmp_path)
    files = {"leads": leads, "reps": reps}
    if table in ("leads", "reps"):
        path = files[table]
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if column not in frame.columns:
            frame[column] = "1"
        frame.loc[1, column] = cell  # the second row: line 3
        frame.to_csv(path, index=False)
    elif table == "pairs":
        files["pairs"] = tmp_path / "pairs.csv"
        files["pairs"].write_text(f"lead_id,rep_id,{column}\nL1,R1,1\nL3,R2,{cell}\n")
    else:
        files["affinity"] = tmp_path / "affinity.csv"
        files["affinity"].write_text(f"rep_id,industry,{column}\nR1,tech,0.5\nR2,retail,{cell}\n")
    policy = tmp_path / "policy.yaml"
    policy.write_text("value: {weights: {value: 1, weighted: 2}}\n" if column == "weighted" else "")
    args: list[str | Path] = ["--policy", policy]
    for name, path in files.items():
        args += [f"--{name}", path]
    for command in ("validate", "solve"):
        before = snapshot(tmp_path)
        out: list[str | Path] = ["--out", tmp_path / "out"] if command == "solve" else []
        result = run(command, *args, *out)
        refused(result, f"{table}.csv, line 3", f"column '{column}'", f"'{cell}'")
        assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("policy", "key"),
    [
        ("tiers: [{min_value: 10, min_level: 1e23}]", "tiers.0.min_level"),
        ("tiers: [{min_value: 1e308, min_level: 2}]", "tiers.0.min_value"),
        ("fairness: {band: 1e308}", "fairness.band"),
        ("fairness: {band: .nan}", "fairness.band"),
        ("fairness: {band: 0.5, mode: soft, weight: 1e300}", "fairness.weight"),
        ("continuity: {keep_bonus: .inf}", "continuity.keep_bonus"),
        ("value: {weights: {value: 1e300}}", "value.weights"),
        ("solver: {time_limit_s: 1e308}", "solver.time_limit_s"),
    ],
)
def test_policy_numbers_out_of_range_are_refused_naming_the_key(
    tmp_path: Path, policy: str, key: str
) -> None:
    leads, reps = write_book(tmp_path)
    path = tmp_path / "policy.yaml"
    path.write_text(policy + "\n")
    result = run(
        "solve", "--leads", leads, "--reps", reps, "--policy", path, "--out", tmp_path / "o"
    )
    refused(result, "policy.yaml", f"'{key}")
    assert not (tmp_path / "o").exists()


def test_a_weighted_value_that_overflows_is_refused(tmp_path: Path) -> None:
    leads, reps = write_book(tmp_path)
    text = leads.read_text().replace("value\n", "value,size\n", 1)
    rows = text.splitlines()
    rows[1:] = [r + ",1e15" for r in rows[1:]]
    leads.write_text("\n".join(rows) + "\n")
    policy = tmp_path / "policy.yaml"
    policy.write_text("value: {weights: {size: 1000}}\n")
    result = run("validate", "--leads", leads, "--reps", reps, "--policy", policy)
    refused(result, "leads.csv, line 2", "value computed from value.weights")


# -- run references ----------------------------------------------------------------------------


def _solved_twice_then_infeasible(tmp_path: Path) -> tuple[Path, Path]:
    """A store with run 1, run 2 (OPTIMAL) and run 3 (INFEASIBLE, recorded)."""
    leads, reps = write_book(tmp_path / "book")
    store = tmp_path / "store.db"
    base: list[str | Path] = ["--leads", leads, "--reps", reps, "--store", store]
    assert run("solve", *base, "--out", tmp_path / "a").exit_code == 0
    policy = tmp_path / "p.yaml"
    policy.write_text("fairness: {band: 0.5}\n")
    assert run("solve", *base, "--policy", policy, "--out", tmp_path / "b").exit_code == 0
    floors = tmp_path / "book" / "floors.csv"
    floors.write_text("rep_id,territories,capacity,min_leads\nR1,NO,5,5\n")
    bad: list[str | Path] = ["--leads", leads, "--reps", floors, "--store", store]
    infeasible = run("solve", *bad, "--out", tmp_path / "c")
    assert infeasible.exit_code == 3 and "INFEASIBLE" in infeasible.stderr
    return store, tmp_path


NOT_REFS = ["²", "1²", "1" * 23, "latest~1", "latest-", "latest--1", "latest-²", "", "0x1"]


@pytest.mark.parametrize("ref", NOT_REFS)
@pytest.mark.parametrize("command", ["show", "export", "diff"])
def test_run_refs_that_are_not_ids_are_refused(tmp_path: Path, command: str, ref: str) -> None:
    store = tmp_path / "store.db"
    leads, reps = write_book(tmp_path / "book")
    ok = run("solve", "--leads", leads, "--reps", reps, "--store", store, "--out", tmp_path / "a")
    assert ok.exit_code == 0
    args: list[str | Path] = [command, ref]
    if command == "export":
        args += ["--format", "csv"]
    if command == "diff":
        args = [command, "latest", ref]
    result = run(*args, "--store", store)
    refused(result, "say latest, latest-N")


def test_latest_counts_completed_runs_only(tmp_path: Path) -> None:
    store, _ = _solved_twice_then_infeasible(tmp_path)
    shown = run("show", "latest", "--json", "--store", store)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["status"] == "OPTIMAL"
    history = run("history", "--json", "--store", store)
    rows = [json.loads(line) for line in history.stdout.splitlines()]
    assert [r["status"] for r in rows][:1] == ["INFEASIBLE"]  # still listed, by its id
    latest = run("show", "latest", "--store", store).stdout
    second = run("show", "2", "--store", store).stdout
    assert latest == second
    assert (
        run("show", "latest-1", "--store", store).stdout
        == run("show", "1", "--store", store).stdout
    )
    diff = run("diff", "latest-1", "latest", "--store", store)
    assert diff.exit_code == 0, diff.output
    refused(run("show", "latest-2", "--store", store), "fewer than 3 completed runs")
    refused(run("show", "latest-999", "--store", store), "fewer than 1000 completed runs")
    assert run("show", "3", "--store", store).exit_code == 0  # the failed run, by its id


# -- variant names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "word"),
    [
        (["comparison.csv"], "the output file comparison.csv"),
        (["Comparison.CSV"], "the output file comparison.csv"),
        (["report.html"], "the output file report.html"),
        (["frontier.csv"], "the output file frontier.csv"),
        (["x", "diff_X.csv"], "the diff file of variant 'x'"),
        (["Base"], "the base"),
        (["west", "West"], "variant 'west'"),
        (["con"], "device name"),
        (["NUL.csv"], "device name"),
        (["lpt1"], "device name"),
        ([".."], "use up to 100 letters"),
        (["a/b"], "use up to 100 letters"),
        (["a\\b"], "use up to 100 letters"),
        (["tab\there"], "use up to 100 letters"),
        (["nul\x00"], "use up to 100 letters"),
        (["trailing."], "not ending with '.'"),
        (["x" * 101], "use up to 100 letters"),
    ],
)
def test_variant_names_that_clash_or_are_no_folder_names_are_refused(
    tmp_path: Path, names: list[str], word: str
) -> None:
    write_book(tmp_path / "book")
    spec = tmp_path / "s.yaml"
    variants = {name: {"remove_reps": ["R3"]} for name in names}
    spec.write_text(
        json.dumps(
            {"base": {"leads": "book/leads.csv", "reps": "book/reps.csv"}, "variants": variants}
        )
    )
    before = snapshot(tmp_path)
    result = run("compare", spec, "--out", tmp_path / "out")
    refused(result, "s.yaml", "variant name", word)
    assert snapshot(tmp_path) == before


def test_a_sweep_whose_points_share_a_name_is_refused(tmp_path: Path) -> None:
    write_book(tmp_path / "book")
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "base: {leads: book/leads.csv, reps: book/reps.csv}\n"
        "sweep: {key: fairness.band, values: [0.2, 0.5, 0.2]}\n"
    )
    refused(run("frontier", spec, "--out", tmp_path / "out"), "s.yaml", "sweep", "clashes")
    assert not (tmp_path / "out").exists()


# -- encodings and Excel's sep= line -----------------------------------------------------------

#: Each file with an 'é' on line 4, to be encoded otherwise than UTF-8.
CSV_TEXT = {
    "leads": "lead_id,territory,value\nL1,NO,10\nL2,SE,20\nL3,café,30\n",
    "reps": "rep_id,territories,capacity\nR1,NO;SE,3\nR2,SE;DK,3\nR3,café,2\n",
}


@pytest.mark.parametrize(
    ("encode", "words"),
    [
        (lambda t: t.encode("utf-16"), ["UTF-16", "save it as UTF-8"]),
        (lambda t: t.encode("utf-16-le"), ["UTF-16", "no byte-order mark"]),
        (lambda t: t.encode("utf-16-be"), ["UTF-16", "no byte-order mark"]),
        (lambda t: t.encode("utf-32"), ["UTF-32", "save it as UTF-8"]),
        (lambda t: t.encode("latin-1"), ["Latin-1", "byte 0xE9 on line 4", "save it as UTF-8"]),
        (lambda t: t.encode("cp1252"), ["Windows-1252", "save it as UTF-8"]),
        (lambda t: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), ["binary"]),
    ],
)
@pytest.mark.parametrize("role", ["leads", "reps"])
def test_csv_encodings_are_named(
    tmp_path: Path, encode: Callable[[str], bytes], words: list[str], role: str
) -> None:
    leads, reps = write_book(tmp_path)
    (leads if role == "leads" else reps).write_bytes(encode(CSV_TEXT[role]))
    refused(run("validate", "--leads", leads, "--reps", reps), f"{role}.csv", *words)


@pytest.mark.parametrize(
    ("sep_line", "sep", "bom", "newline"),
    [("sep=;", ";", False, "\n"), ("sep=,", ",", True, "\r\n"), ("SEP=\t", "\t", False, "\n")],
)
def test_excel_sep_line_is_understood(
    tmp_path: Path, sep_line: str, sep: str, bom: bool, newline: str
) -> None:
    leads, reps = write_book(tmp_path)
    rows = [sep.join(r) for r in [("lead_id", "territory", "value"), *LEADS]]
    data = newline.join([sep_line, *rows]) + newline
    leads.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode("utf-8"))
    result = run("solve", "--leads", leads, "--reps", reps, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    out = pd.read_csv(tmp_path / "out" / "assignments.csv", dtype=str, keep_default_na=False)
    assert out["lead_id"].tolist() == [r[0] for r in LEADS]
    # errors count the sep= line: the bad cell of L2 is on line 4
    bad = [*rows[:2], sep.join(("L2", "SE", "lots")), *rows[3:]]
    leads.write_bytes((newline.join([sep_line, *bad]) + newline).encode("utf-8"))
    refused(run("validate", "--leads", leads, "--reps", reps), "line 4", "'lots'", "column 'value'")


def test_a_semicolon_file_without_sep_line_is_named(tmp_path: Path) -> None:
    leads, reps = write_book(tmp_path)
    leads.write_text(leads.read_text().replace(",", ";"))
    refused(run("validate", "--leads", leads, "--reps", reps), "separated by ';'", "sep=;")


# -- labels in the report, and runs without an answer ------------------------------------------

HOSTILE_IDS = ["$\\frac{1}{0}$", "$x^$", "back\\slash", "bell\x07", "x" * 300, "<b>&amp;</b>"]


def test_plot_hostile_rep_ids_never_crash_the_report(tmp_path: Path) -> None:
    reps = [(rep_id, "*", "2") for rep_id in HOSTILE_IDS]
    write_book(tmp_path / "book", reps)
    spec = tmp_path / "s.yaml"
    spec.write_text(
        json.dumps(
            {
                "base": {"leads": "book/leads.csv", "reps": "book/reps.csv"},
                "variants": {"less": {"remove_reps": ["$x^$"]}},
            }
        )
    )
    result = run("compare", spec, "--out", tmp_path / "out")
    assert result.exit_code == 0, (result.output, result.exception)
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "$x^$" in page and "\\frac{1}{0}" in page  # shown as typed, not as math
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in page and "<b>&amp;</b>" not in page
    assert "bell\\x07" in page  # escaped in the charts


def test_a_run_without_an_answer_is_shown_as_such(tmp_path: Path) -> None:
    """A variant with no answer within its limit is "no answer within the limit" in the
    report, with no lead counted as unassigned or moved against the base."""
    write_book(tmp_path / "book")
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "base: {leads: book/leads.csv, reps: book/reps.csv}\n"
        "variants: {slow: {remove_reps: [R3]}}\n"
    )
    scenario = load_scenario(spec)
    base = solve_run(scenario, "base")
    solved = solve_run(scenario, "slow")
    n = len(solved.lead_ids)
    slow = dataclasses.replace(  # what a run cut short before any assignment hands back
        solved,
        status=Status.UNKNOWN,
        summary={"status": "UNKNOWN", "leads": n},
        rep_ids=np.full(n, "", dtype=object),
        expected_value=np.full(n, np.nan),
        reps=None,
    )
    write_comparison([base, slow], tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "no answer within the limit" in page
    assert "leads (unassigned" not in page
    table = pd.read_csv(tmp_path / "out" / "comparison.csv").set_index("variant")
    assert table["unassigned_vs_base"].isna().tolist() == [False, True]
    assert len(pd.read_csv(tmp_path / "out" / "diff_slow.csv")) == 0


def test_compare_with_a_failed_run_says_why_on_stderr(tmp_path: Path) -> None:
    write_book(tmp_path / "book")
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "base: {leads: book/leads.csv, reps: book/reps.csv}\n"
        "variants: {floor: {reps: [{rep_id: R1, min_leads: 3}, {rep_id: R2, min_leads: 3}, "
        "{rep_id: R3, min_leads: 2}]}}\n"
    )
    result = run("compare", spec, "--out", tmp_path / "out")
    assert result.exit_code == 3
    assert "error: floor: INFEASIBLE" in result.stderr
    assert "summary.json" in result.stderr
