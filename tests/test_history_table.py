"""The deal history through ``leadassign validate --history H [--columns M]`` (docs/history.md).

Every bad row ends the command with exit 2 and one line on stderr naming the file, the line,
the deal and the export's own column; mappings and presets are read as documented; the Maven
example script turns the raw Maven files into a history and a book that load as they are.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from leadassign.cli import main
from leadassign.outcomes.deals import load_deals
from leadassign.outcomes.mapping import PRESETS, load_history, map_history, preset_path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
MAVEN_SAMPLE = DATA / "maven_sample"
MAVEN_COLUMNS = ROOT / "examples" / "maven_columns.yaml"
SCRIPT = ROOT / "examples" / "maven_history.py"

HEADER = ["opportunity_id", "sales_agent", "deal_stage", "engage_date", "close_date", "value"]
ROWS = [
    ["D1", "Ann", "Won", "2017-01-02", "2017-02-01", "100"],
    ["D2", "Ann", "Lost", "2017-01-05", "2017-03-01", "50"],
    ["D3", "Bob", "Engaging", "2017-02-01", "", "70"],
    ["D4", "Bob", "Prospecting", "", "", ""],
]
MAPPING = """\
columns:
  deal_id: opportunity_id
  rep_id: sales_agent
  created: engage_date
  closed: close_date
  amount: value
outcome:
  column: deal_stage
  won: [Won]
  lost: [Lost]
  open: [Engaging, Prospecting]
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def export(tmp_path: Path, edit: tuple[int, str, str] | None = None) -> tuple[Path, Path]:
    """The small export and its mapping; ``edit`` = (row, column, new cell)."""
    rows = [list(r) for r in ROWS]
    if edit is not None:
        row, column, cell = edit
        rows[row][HEADER.index(column)] = cell
    history = write_csv(tmp_path / "deals.csv", HEADER, rows)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return history, mapping


def assert_exit_2(result: Result, *parts: str) -> str:
    """Exit 2, no traceback, one error line on stderr holding every part."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output + result.stderr
    assert result.stdout == ""
    line = result.stderr.strip()
    assert line.startswith("error: "), line
    for part in parts:
        assert part in line, (part, line)
    return line


# --- bad rows of a raw export read through a mapping: the export's column is named ----------


@pytest.mark.parametrize(
    ("edit", "line", "column", "words"),
    [
        pytest.param((1, "deal_stage", "Churned"), 3, "deal_stage", "'Churned'", id="stage"),
        pytest.param((2, "deal_stage", ""), 4, "deal_stage", "is empty", id="empty-stage"),
        pytest.param(
            (0, "close_date", "2016-12-31"), 2, "close_date", "before the deal", id="closed-early"
        ),
        pytest.param((1, "opportunity_id", "D1"), 3, "opportunity_id", "duplicate", id="dup-id"),
        pytest.param(
            (2, "close_date", "2017-05-01"), 4, "close_date", "open deal", id="open-closed"
        ),
        pytest.param((0, "close_date", ""), 2, "close_date", "is empty", id="won-no-close"),
        pytest.param((1, "engage_date", ""), 3, "engage_date", "is empty", id="lost-no-created"),
        pytest.param((0, "value", "-5"), 2, "value", "negative", id="amount-negative"),
        pytest.param((1, "value", "lots"), 3, "value", "not a number", id="amount-word"),
        pytest.param(
            (0, "engage_date", "2017-13-45"), 2, "engage_date", "is not an ISO date", id="date"
        ),
        pytest.param((3, "sales_agent", ""), 5, "sales_agent", "is empty", id="empty-rep"),
    ],
)
def test_a_bad_row_of_an_export_names_file_line_and_its_column(
    tmp_path: Path, edit: tuple[int, str, str], line: int, column: str, words: str
) -> None:
    history, mapping = export(tmp_path, edit)
    result = invoke("validate", "--history", str(history), "--columns", str(mapping))
    assert_exit_2(result, f"{history}, line {line}", f"column '{column}'", words)


def test_an_unknown_stage_names_the_value_and_the_mapping(tmp_path: Path) -> None:
    history, mapping = export(tmp_path, (1, "deal_stage", "Churned"))
    line = assert_exit_2(
        invoke("validate", "--history", str(history), "--columns", str(mapping)),
        "(opportunity_id D2)",
        "stage 'Churned' is not in the mapping",
        str(mapping),
    )
    assert "won, lost or open" in line


def test_a_cell_error_names_the_canonical_column_too(tmp_path: Path) -> None:
    history, mapping = export(tmp_path, (0, "close_date", "2016-12-31"))
    assert_exit_2(
        invoke("validate", "--history", str(history), "--columns", str(mapping)),
        "(opportunity_id D1), column 'close_date'",
        "(the mapping's closed)",
    )


def test_a_mapped_column_missing_from_the_export_names_the_mapping(tmp_path: Path) -> None:
    history, mapping = export(tmp_path)
    mapping.write_text(MAPPING.replace("amount: value", "amount: close_value"), encoding="utf-8")
    assert_exit_2(
        invoke("validate", "--history", str(history), "--columns", str(mapping)),
        f"error: {history}:",
        "column 'close_value' is not in the file",
        f"named by the mapping {mapping}",
        "amount",
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param(MAPPING + "segmnts:\n  industry: sector\n", "unknown key 'segmnts'", id="top"),
        pytest.param(
            MAPPING.replace("  amount: value", "  amount: value\n  owner: x"),
            "unknown key 'columns.owner'",
            id="columns",
        ),
        pytest.param(MAPPING.replace("  won: [Won]\n", ""), "missing key 'outcome.won'", id="won"),
        pytest.param(
            MAPPING.replace("lost: [Lost]", "lost: [Lost, won]"),
            "listed under both 'won' and 'lost'",
            id="both",
        ),
        pytest.param(
            MAPPING + "close_date_on_open: maybe\n", "key 'close_date_on_open'", id="policy"
        ),
        pytest.param("- just\n- a list\n", "must be a mapping", id="not-a-mapping"),
    ],
)
def test_a_bad_mapping_file_exits_2_naming_the_key(tmp_path: Path, text: str, words: str) -> None:
    history, mapping = export(tmp_path)
    mapping.write_text(text, encoding="utf-8")
    assert_exit_2(
        invoke("validate", "--history", str(history), "--columns", str(mapping)),
        f"error: {mapping}: ",
        words,
    )


def test_an_unknown_preset_names_the_presets(tmp_path: Path) -> None:
    history, _ = export(tmp_path)
    assert_exit_2(
        invoke("validate", "--history", str(history), "--columns", "salesfarce"),
        "no preset 'salesfarce'",
        ", ".join(PRESETS),
    )


# --- bad rows of a canonical history (no mapping) --------------------------------------------

CANONICAL = ["deal_id", "rep_id", "outcome", "created", "closed", "amount", "industry"]
CANONICAL_ROWS = [
    ["D1", "Ann", "won", "2017-01-02", "2017-02-01", "100", "retail"],
    ["D2", "Bob", "lost", "2017-01-05", "2017-03-01", "", ""],
    ["D3", "Bob", "open", "", "", "70", "retail"],
]


@pytest.mark.parametrize(
    ("row", "column", "cell", "words"),
    [
        pytest.param(1, "outcome", "maybe", "is not an outcome", id="unknown-outcome"),
        pytest.param(2, "closed", "2017-04-01", "open deal", id="open-closed"),
        pytest.param(1, "deal_id", "D1", "duplicate id 'D1'", id="dup"),
        pytest.param(0, "closed", "2016-01-01", "before the deal", id="closed-early"),
    ],
)
def test_a_bad_row_of_a_canonical_history(
    tmp_path: Path, row: int, column: str, cell: str, words: str
) -> None:
    rows = [list(r) for r in CANONICAL_ROWS]
    rows[row][CANONICAL.index(column)] = cell
    history = write_csv(tmp_path / "h.csv", CANONICAL, rows)
    assert_exit_2(
        invoke("validate", "--history", str(history)),
        f"{history}, line {row + 2}",
        f"column '{column}'",
        words,
    )


def test_a_valid_history_is_described(tmp_path: Path) -> None:
    history = write_csv(tmp_path / "h.csv", CANONICAL, CANONICAL_ROWS)
    result = invoke("validate", "--history", str(history))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "valid history: 3 deals (2 closed: 1 won, 1 lost; 1 open), 2 reps (2 with closed deals)",
        "created 2017-01-02 .. 2017-01-05; closed 2017-02-01 .. 2017-03-01",
        "amount known on 2 deals (total 170)",
        "segments: industry 1 values (1 empty)",
        "open deals with no created date: 1",
    ]


def test_validate_without_history_still_requires_leads_and_reps(tmp_path: Path) -> None:
    result = invoke("validate")
    assert result.exit_code == 2
    assert "Missing option '--leads'" in result.stderr
    _, mapping = export(tmp_path)
    result = invoke("validate", "--columns", str(mapping))
    assert result.exit_code == 2
    assert "give --history too" in result.stderr


# --- mappings read as documented --------------------------------------------------------------


def test_a_mapping_gives_the_same_history_as_the_renamed_table(tmp_path: Path) -> None:
    history, mapping = export(tmp_path)
    mapped = load_history(history, mapping)
    frame = pd.read_csv(history, dtype=str, keep_default_na=False).rename(
        columns={
            "opportunity_id": "deal_id",
            "sales_agent": "rep_id",
            "engage_date": "created",
            "close_date": "closed",
            "value": "amount",
        }
    )
    frame["outcome"] = frame.pop("deal_stage").map(
        {"Won": "won", "Lost": "lost", "Engaging": "open", "Prospecting": "open"}
    )
    direct = load_deals(frame)
    for name in ("ids", "rep", "outcome", "created", "closed", "amount"):
        np.testing.assert_array_equal(getattr(mapped, name), getattr(direct, name))
    assert mapped.segments == {}
    assert mapped.won.tolist() == [True, False, False, False]


def test_stage_values_and_column_names_match_loosely(tmp_path: Path) -> None:
    header = ["Opportunity_ID", "SALES_AGENT", "deal_stage", "engage_date", "close_date", "value"]
    rows = [list(r) for r in ROWS]
    rows[0][2] = " WON "
    rows[1][2] = "lost"
    history = write_csv(tmp_path / "deals.csv", header, rows)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    deals = load_history(history, mapping)
    assert deals.outcome.tolist() == ["won", "lost", "open", "open"]


def test_open_star_makes_every_unlisted_stage_open(tmp_path: Path) -> None:
    history, mapping = export(tmp_path, (2, "deal_stage", "Negotiating"))
    mapping.write_text(
        MAPPING.replace("open: [Engaging, Prospecting]", "open: '*'"), encoding="utf-8"
    )
    mapped = map_history(history, mapping)
    assert mapped.deals.outcome.tolist() == ["won", "lost", "open", "open"]
    assert [(s.stage, s.outcome, s.deals) for s in mapped.stages] == [
        ("Won", "won", 1),
        ("Lost", "lost", 1),
        ("Negotiating", "open", 1),
        ("Prospecting", "open", 1),
    ]


def test_date_format_reads_locale_dates(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    for r in rows:
        for c in (3, 4):
            if r[c]:
                y, m, d = r[c].split("-")
                r[c] = f"{int(m)}/{int(d)}/{y}"
    history = write_csv(tmp_path / "deals.csv", HEADER, rows)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    assert_exit_2(
        invoke("validate", "--history", str(history), "--columns", str(mapping)),
        "column 'engage_date'",
        "'1/2/2017' is not an ISO date",
    )
    mapping.write_text(MAPPING + "date_format: '%m/%d/%Y'\n", encoding="utf-8")
    deals = load_history(history, mapping)
    assert str(deals.created[1]) == "2017-01-05"


def test_close_date_on_open_drop_blanks_forecast_dates(tmp_path: Path) -> None:
    history, mapping = export(tmp_path, (2, "close_date", "2017-05-01"))
    mapping.write_text(MAPPING + "close_date_on_open: drop\n", encoding="utf-8")
    mapped = map_history(history, mapping)
    assert mapped.dropped_close_dates == 1
    assert np.isnat(mapped.deals.closed[2])
    assert str(mapped.deals.closed[0]) == "2017-02-01"  # a won deal keeps its date


def test_optional_segments_are_kept_when_present_and_skipped_otherwise(tmp_path: Path) -> None:
    history, mapping = export(tmp_path)
    mapping.write_text(
        MAPPING + "optional_segments:\n  owner: sales_agent\n  industry: [Industry, sector]\n",
        encoding="utf-8",
    )
    mapped = map_history(history, mapping)
    assert list(mapped.deals.segments) == ["owner"]
    assert mapped.skipped_segments == ("industry",)


# --- presets ----------------------------------------------------------------------------------


def test_every_preset_is_a_valid_mapping() -> None:
    from leadassign.outcomes.mapping import load_mapping

    for name in PRESETS:
        assert preset_path(name).is_file()
        mapping, label = load_mapping(name)
        assert label == f"preset {name}"
        assert mapping.description


def test_the_dtc_salesforce_api_export_loads_with_the_salesforce_preset() -> None:
    sample = DATA / "dtc_opportunity_sample.csv"
    mapped = map_history(sample, "salesforce")
    raw = pd.read_csv(sample, dtype=str, keep_default_na=False)
    assert mapped.columns["deal_id"] == "Name"
    assert mapped.columns["rep_id"] == "Owner.Name"
    assert mapped.stage_column == "StageName"
    deals = mapped.deals
    assert len(deals) == len(raw)
    assert int(deals.won.sum()) == int((raw["StageName"] == "Closed Won").sum())
    assert int((deals.outcome == "lost").sum()) == int((raw["StageName"] == "Closed Lost").sum())
    is_open = ~raw["StageName"].str.startswith("Closed").to_numpy()
    assert mapped.dropped_close_dates == int(is_open.sum())  # forecast close dates
    assert np.isnat(deals.closed[is_open]).all()
    np.testing.assert_allclose(deals.amount, pd.to_numeric(raw["Amount"]).to_numpy())
    assert mapped.skipped_segments == ("industry",)


def test_a_salesforce_report_export_loads_with_the_same_preset(tmp_path: Path) -> None:
    header = [
        "Opportunity Owner",
        "Account Name",
        "Opportunity Name",
        "Opportunity ID",
        "Stage",
        "Amount",
        "Created Date",
        "Close Date",
        "Industry",
    ]
    rows = [
        ["Ann", "Acme", "Acme renewal", "0061", "Closed Won", "1200", "2024-01-03", "2024-02-01"],
        ["Bob", "Beta", "Beta new", "0062", "Closed Lost", "800", "2024-01-04", "2024-03-01"],
        ["Bob", "Beta", "Beta new", "0063", "Needs Analysis", "500", "2024-02-04", "2024-06-30"],
    ]
    for row, industry in zip(rows, ["Tech", "", "Retail"], strict=True):
        row.append(industry)
    history = write_csv(tmp_path / "report.csv", header, rows)
    mapped = map_history(history, "salesforce")
    assert mapped.columns["deal_id"] == "Opportunity ID"  # names repeat; the id does not
    assert mapped.deals.outcome.tolist() == ["won", "lost", "open"]
    assert mapped.deals.segment("industry").tolist() == ["Tech", "", "Retail"]
    assert mapped.dropped_close_dates == 1
    rows[2][4] = "Closed Churned"
    write_csv(history, header, rows)
    assert_exit_2(
        invoke("validate", "--history", str(history), "--columns", "salesforce"),
        f"{history}, line 4 (Opportunity ID 0063), column 'Stage'",
        "stage 'Closed Churned' is not in the mapping preset salesforce",
    )


def test_a_hubspot_deals_export_loads_with_the_hubspot_preset(tmp_path: Path) -> None:
    header = [
        "Record ID",
        "Deal Name",
        "Deal Stage",
        "Deal Owner",  # HubSpot writes "Deal owner"; a case difference is still found
        "Create Date",
        "Close Date",
        "Amount",
        "Pipeline",
    ]
    rows = [
        ["101", "Acme", "Closed won", "Ann", "2024-01-03 10:22", "2024-02-01 09:00", "900"],
        ["102", "Beta", "Closed lost", "Bob", "2024-01-04 11:00", "2024-02-11 17:30", ""],
        ["103", "Gamma", "Contract sent", "Bob", "2024-02-04 08:00", "2024-02-29", "400"],
    ]
    for row in rows:
        row.append("Sales")
    history = write_csv(tmp_path / "hubspot.csv", header, rows)
    result = invoke("validate", "--history", str(history), "--columns", "hubspot")
    assert result.exit_code == 0, result.output
    assert "close dates dropped on open deals (forecast dates): 1" in result.stdout
    deals = load_history(history, "hubspot")
    assert deals.outcome.tolist() == ["won", "lost", "open"]
    assert [str(d) for d in deals.closed[:2]] == ["2024-02-01", "2024-02-11"]
    assert np.isnan(deals.amount[1])
    assert deals.segment("pipeline").tolist() == ["Sales"] * 3


# --- the Maven example ------------------------------------------------------------------------


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def test_the_maven_example_writes_a_history_and_a_book_that_load(tmp_path: Path) -> None:
    out = tmp_path / "maven"
    done = run_script("--data", str(MAVEN_SAMPLE), "--out", str(out))
    assert done.returncode == 0, done.stderr
    raw = pd.read_csv(MAVEN_SAMPLE / "sales_pipeline.csv", dtype=str, keep_default_na=False)

    mapped = map_history(out / "history.csv", MAVEN_COLUMNS)
    deals = mapped.deals
    assert deals.ids.tolist() == raw["opportunity_id"].tolist()
    assert int(deals.won.sum()) == int((raw["deal_stage"] == "Won").sum())
    assert set(deals.segments) == {"industry", "product", "territory", "manager"}
    assert "GTXPro" not in set(deals.segment("product"))
    # the amount: the won value on Won deals, the product's list price on the others
    prices = pd.read_csv(MAVEN_SAMPLE / "products.csv").set_index("product")["sales_price"]
    won = raw["deal_stage"] == "Won"
    expected = np.where(
        won,
        pd.to_numeric(raw["close_value"].where(won, "0")),
        raw["product"].replace({"GTXPro": "GTX Pro"}).map(prices),
    )
    np.testing.assert_array_equal(deals.amount, expected.astype(float))
    no_account = (raw["account"] == "").to_numpy()
    assert (deals.segment("industry")[no_account] == "").all()
    assert (deals.segment("industry")[~no_account] != "").all()

    leads = pd.read_csv(out / "leads.csv", dtype=str, keep_default_na=False)
    reps = pd.read_csv(out / "reps.csv", dtype=str, keep_default_na=False)
    is_open = raw["deal_stage"].isin(["Engaging", "Prospecting"])
    assert leads["lead_id"].tolist() == raw.loc[is_open, "opportunity_id"].tolist()
    assert len(reps) == 35
    # capacity per office: ceil(1.15 x open deals of the office / its agents)
    for office, group in reps.groupby("regional_office"):
        share = 1.15 * int((leads["territory"] == office).sum()) / len(group)
        assert set(group["capacity"].astype(int)) == {int(np.ceil(share))}

    result = invoke("validate", "--leads", str(out / "leads.csv"), "--reps", str(out / "reps.csv"))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"valid: {len(leads)} leads, 35 reps")
    assert "leads with no eligible rep: 0" in result.stdout


def test_the_maven_example_is_deterministic_and_refuses_to_overwrite(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        assert run_script("--data", str(MAVEN_SAMPLE), "--out", str(out)).returncode == 0
    for name in ("history.csv", "leads.csv", "reps.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes()

    before = (first / "leads.csv").read_bytes()
    refused = run_script("--data", str(MAVEN_SAMPLE), "--out", str(first))
    assert refused.returncode == 2
    assert "already exists (give --force to replace)" in refused.stderr
    assert (first / "leads.csv").read_bytes() == before
    forced = run_script("--data", str(MAVEN_SAMPLE), "--out", str(first), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (first / "leads.csv").read_bytes() == before


def test_the_maven_example_names_a_bad_cell(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for path in MAVEN_SAMPLE.glob("*.csv"):
        (data / path.name).write_bytes(path.read_bytes())
    pipeline = pd.read_csv(data / "sales_pipeline.csv", dtype=str, keep_default_na=False)
    pipeline.loc[4, "product"] = "GTX Mega"
    pipeline.to_csv(data / "sales_pipeline.csv", index=False)
    out = tmp_path / "out"
    done = run_script("--data", str(data), "--out", str(out))
    assert done.returncode == 2
    assert "sales_pipeline.csv, line 6, column 'product': 'GTX Mega' is not in products.csv" in (
        done.stderr
    )
    assert not out.exists()
