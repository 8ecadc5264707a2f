"""What-if scenarios (``leadassign.scenarios``, ``leadassign compare``): variants built by
re-validating the overrides, their figures against separate solves of hand-built books, the
same files whatever ``--jobs``, the diff of lead moves, and errors that name the override."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from leadassign import load_problem, solve
from leadassign.cli import main
from leadassign.errors import InputError
from leadassign.models.policy import policy_from_mapping
from leadassign.result import Status
from leadassign.scenarios import BASE, Run, build, diff, load_scenario, run_all, write_comparison
from leadassign.scenarios.compare import diffs
from leadassign.scenarios.spec import check

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCENARIO = EXAMPLES / "scenario.yaml"


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Run]]:
    out = tmp_path_factory.mktemp("whatif")
    scenario = load_scenario(SCENARIO)
    runs = run_all(scenario, out)
    write_comparison(runs, out)
    return out, runs


def book() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The example's base tables and policy, read by hand (pandas), as text."""

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(EXAMPLES / "book" / name, dtype=str, keep_default_na=False)

    policy = yaml.safe_load((EXAMPLES / "policy.yaml").read_text())
    return read("leads.csv"), read("reps.csv"), read("affinity.csv"), policy


def separately(
    leads: pd.DataFrame, reps: pd.DataFrame, affinity: pd.DataFrame, policy: dict[str, Any]
) -> tuple[str, int, float]:
    pol = policy_from_mapping(policy)
    result = solve(load_problem(leads, reps, affinity, policy=pol), pol)
    assert result.expected_value is not None
    return result.status.value, result.assigned, result.expected_value


def rows_of(path: Path) -> dict[str, dict[str, Any]]:
    """comparison.csv as one mapping per variant."""
    frame = pd.read_csv(path, keep_default_na=False)
    return {
        str(row["variant"]): {str(k): v for k, v in row.items()} for row in frame.to_dict("records")
    }


def expected_by_hand(name: str) -> tuple[str, int, float]:
    """Each example variant built with pandas from the base files, not by the scenario code."""
    leads, reps, affinity, policy = book()
    if name == "ana-back":
        reps.loc[reps["rep_id"] == "R0001", "available"] = "true"
    elif name == "ben-on-leave":
        reps.loc[reps["rep_id"] == "R0002", "available"] = "false"
    elif name == "emea-plus-two":
        new = pd.DataFrame(
            [
                {
                    "rep_id": "N0001",
                    "territories": "EMEA",
                    "capacity": "20",
                    "win_rate": "0.25",
                    "level": "1",
                },
                {
                    "rep_id": "N0002",
                    "territories": "EMEA",
                    "skills": "german",
                    "capacity": "20",
                    "win_rate": "0.25",
                },
            ]
        )
        reps = pd.concat([reps, new]).fillna("")
    elif name == "remove-R0003":
        reps = reps[reps["rep_id"] != "R0003"]
        affinity = affinity[affinity["rep_id"] != "R0003"]
    elif name == "fairness-10":
        policy = {**policy, "fairness": {**policy["fairness"], "band": 0.1}}
    elif name == "no-fairness":
        policy = {k: v for k, v in policy.items() if k != "fairness"}
    elif name == "no-latam":
        leads = leads[leads["territory"] != "LATAM"]
    elif name == "retail-boost":
        retail = leads["industry"] == "retail"
        leads.loc[retail, "value"] = (leads.loc[retail, "value"].astype(float) * 1.25).map(repr)
    return separately(leads, reps, affinity, policy)


VARIANTS = [
    "ana-back",
    "ben-on-leave",
    "emea-plus-two",
    "remove-R0003",
    "fairness-10",
    "no-fairness",
    "no-latam",
    "retail-boost",
]


def test_example_lists_the_variants_tested_here() -> None:
    assert load_scenario(SCENARIO).names == [BASE, *VARIANTS]


@pytest.mark.parametrize("name", [BASE, *VARIANTS])
def test_comparison_matches_separate_solves(name: str, compared: tuple[Path, list[Run]]) -> None:
    """comparison.csv's status, leads assigned and expected value of each run equal those of
    a separate solve of the same book built by hand; the expected value's change is against
    the base's."""
    out, _ = compared
    table = rows_of(out / "comparison.csv")
    if name == BASE:
        leads, reps, affinity, policy = book()
        want = separately(leads, reps, affinity, policy)
    else:
        want = expected_by_hand(name)
    row = table[name]
    assert (row["status"], int(row["assigned"])) == want[:2]
    assert float(row["expected_value"]) == pytest.approx(want[2], rel=1e-12)
    base_ev = float(table[BASE]["expected_value"])
    assert float(row["delta_expected_value"]) == pytest.approx(want[2] - base_ev, abs=1e-6)


@pytest.mark.parametrize("name", VARIANTS)
def test_diff_lists_exactly_the_leads_whose_rep_changed(
    name: str, compared: tuple[Path, list[Run]]
) -> None:
    out, _ = compared
    base = pd.read_csv(out / BASE / "assignments.csv", dtype={"rep_id": str}, keep_default_na=False)
    mine = pd.read_csv(out / name / "assignments.csv", dtype={"rep_id": str}, keep_default_na=False)
    moves = pd.read_csv(out / f"diff_{name}.csv", dtype=str, keep_default_na=False)
    joined = base[["lead_id", "rep_id"]].merge(
        mine[["lead_id", "rep_id"]], on="lead_id", how="outer", suffixes=("_base", "")
    )
    joined = joined.fillna("")
    gone = ~joined["lead_id"].isin(mine["lead_id"])
    changed = set(joined.loc[gone | (joined["rep_id_base"] != joined["rep_id"]), "lead_id"])
    assert set(moves["lead_id"]) == changed
    table = rows_of(out / "comparison.csv")
    assert int(table[name]["changed_vs_base"]) == int((moves["change"] == "moved").sum())
    assert int(table[name]["excluded_vs_base"]) == int(gone.sum())


def test_jobs_do_not_change_the_files(tmp_path: Path, compared: tuple[Path, list[Run]]) -> None:
    """Two local processes: the same comparison (but its solve times), diffs and outputs."""
    one, _ = compared
    two = tmp_path / "two"
    scenario = load_scenario(SCENARIO)
    write_comparison(run_all(scenario, two, jobs=2), two)
    a = pd.read_csv(one / "comparison.csv").drop(columns="solve_s")
    b = pd.read_csv(two / "comparison.csv").drop(columns="solve_s")
    pd.testing.assert_frame_equal(a, b)
    for name in VARIANTS:
        assert (one / f"diff_{name}.csv").read_bytes() == (two / f"diff_{name}.csv").read_bytes()
    for name in [BASE, *VARIANTS]:
        first = (one / name / "assignments.csv").read_bytes()
        assert first == (two / name / "assignments.csv").read_bytes()


def run(name: str, leads: list[str], reps: list[str], ev: list[float]) -> Run:
    return Run(
        name,
        "",
        Status.OPTIMAL,
        {},
        np.array(leads, dtype=object),
        np.array(reps, dtype=object),
        np.array(ev),
    )


def test_diff_by_hand() -> None:
    """L1 moves (+2), L2 is no longer assigned (-5), L3 now is (+4), L4 is left out of the
    variant (-1), L6 is new in it (+3); L5 stays."""
    base = run(
        "base", ["L1", "L2", "L3", "L4", "L5"], ["A", "B", "", "A", "B"], [1, 5, np.nan, 1, 2]
    )
    variant = run(
        "v", ["L1", "L2", "L3", "L5", "L6"], ["B", "", "A", "B", "A"], [3, np.nan, 4, 2, 3]
    )
    table = diff(base, variant)
    assert table["lead_id"].tolist() == ["L1", "L2", "L3", "L4", "L6"]
    assert table["change"].tolist() == [
        "moved",
        "unassigned",
        "newly_assigned",
        "excluded",
        "added",
    ]
    assert table["delta_expected_value"].tolist() == [2.0, -5.0, 4.0, -1.0, 3.0]
    assert table["rep_id"].tolist() == ["B", "", "A", "", "A"]


# ---------------------------------------------------------------------------------------------
# Errors that name the override
# ---------------------------------------------------------------------------------------------


def scenario_file(tmp_path: Path, variants: dict[str, Any], **base: Any) -> Path:
    for name in ("book", "policy.yaml"):
        source = EXAMPLES / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, dirs_exist_ok=True)
        else:
            shutil.copy(source, tmp_path / name)
    data = {
        "base": {
            "leads": "book/leads.csv",
            "reps": "book/reps.csv",
            "policy": "policy.yaml",
            **base,
        },
        "variants": variants,
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("variants", "words"),
    [
        (
            {"x": {"reps": [{"rep_id": "R9999", "available": False}]}},
            ["variant 'x'", "unknown rep 'R9999'"],
        ),
        ({"x": {"remove_reps": ["NOPE"]}}, ["variant 'x'", "remove_reps", "NOPE"]),
        (
            {"x": {"add_reps": [{"rep_id": "R0001", "territories": "EMEA", "capacity": 3}]}},
            ["R0001", "already"],
        ),
        (
            {"x": {"policy": {"fairnes": {"band": 0.1}}}},
            ["variant 'x', policy", "unknown key 'fairnes'"],
        ),
        ({"x": {"policy": {"fairness": {"band": -1}}}}, ["variant 'x', policy", "fairness.band"]),
        (
            {"x": {"leads": {"exclude": {"region": "EMEA"}}}},
            ["variant 'x'", "leads.exclude", "'region'"],
        ),
        ({"x": {"reps": [{"rep_id": "R0001", "capacity": -3}]}}, ["variants.x.reps.0.capacity"]),
        (
            {"x": {"reps": [{"rep_id": "R0001", "colour": "red"}]}},
            ["unknown key 'variants.x.reps.0.colour'"],
        ),
        ({"base": {}}, ["variant name 'base'"]),
        ({}, ["variants"]),
        (
            {"x": {"reps": [{"rep_id": "R0001", "min_leads": 500}]}},
            ["variant 'x'", "R0001", "min_leads"],
        ),
    ],
)
def test_bad_overrides_are_named(
    tmp_path: Path, variants: dict[str, Any], words: list[str]
) -> None:
    path = scenario_file(tmp_path, variants)
    with pytest.raises(InputError) as caught:
        check(load_scenario(path))
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_cli_compare_writes_everything(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path, {"ben-on-leave": {"reps": [{"rep_id": "R0002", "available": False}]}}
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compare", str(path), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert (out / "comparison.csv").is_file() and (out / "diff_ben-on-leave.csv").is_file()
    assert (out / "report.html").is_file()
    assert "OPTIMAL" not in result.output  # not a terminal: no progress, only the last line
    assert result.output.startswith("wrote ")
    for name in (BASE, "ben-on-leave"):
        assert {p.name for p in (out / name).iterdir()} == {
            "assignments.csv",
            "reps.csv",
            "summary.json",
        }


def test_cli_compare_bad_override_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, {"x": {"remove_reps": ["NOPE"]}})
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compare", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert "NOPE" in result.output
    assert not out.exists()


def test_cli_compare_infeasible_variant_exits_3_with_its_row(tmp_path: Path) -> None:
    """A floor no rep can meet: that run is INFEASIBLE (its summary names the rule), the
    others are solved, every file is written, and the exit code says so."""
    path = scenario_file(
        tmp_path,
        {"floor": {"reps": [{"rep_id": "R0006", "min_leads": 40}], "policy": {"fairness": None}}},
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compare", str(path), "--out", str(out)])
    assert result.exit_code == 3, result.output
    table = rows_of(out / "comparison.csv")
    assert table["floor"]["status"] == "INFEASIBLE"
    assert table[BASE]["status"] == "OPTIMAL"
    assert (out / "floor" / "summary.json").is_file()


def test_cli_compare_json_log(tmp_path: Path) -> None:
    """--json: one JSON object per line on stderr (start, run_finished per run with its
    figures, done with the exit code), nothing on stdout; an error is an error event."""
    path = scenario_file(
        tmp_path,
        {"floor": {"reps": [{"rep_id": "R0006", "min_leads": 40}], "policy": {"fairness": None}}},
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compare", str(path), "--out", str(out), "--json"])
    assert result.exit_code == 3
    assert result.stdout == ""
    events = [json.loads(line) for line in result.stderr.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds == ["start", "run_finished", "run_finished", "error", "done"]
    assert "floor: INFEASIBLE" in events[3]["message"] and events[3]["exit_code"] == 3
    assert events[0]["runs"] == [BASE, "floor"]
    finished = {e["run"]: e for e in events[1:3]}
    table = rows_of(out / "comparison.csv")
    assert finished["floor"]["status"] == "INFEASIBLE"
    assert finished[BASE]["status"] == table[BASE]["status"] == "OPTIMAL"
    assert finished[BASE]["assigned"] == int(table[BASE]["assigned"])
    assert events[-1]["exit_code"] == 3
    assert events[-1]["runs"] == {BASE: "OPTIMAL", "floor": "INFEASIBLE"}
    bad = scenario_file(tmp_path, {"x": {"remove_reps": ["NOPE"]}})
    failed = CliRunner().invoke(main, ["frontier", str(bad), "--out", str(out), "--json"])
    assert failed.exit_code == 2 and failed.stdout == ""
    last = json.loads(failed.stderr.splitlines()[-1])
    assert last["event"] == "error" and last["exit_code"] == 2


def test_variant_policy_merges_blocks_key_by_key() -> None:
    scenario = load_scenario(SCENARIO)
    _, policy = build(scenario, "fairness-10")
    assert policy.fairness is not None
    assert policy.fairness.band == 0.1 and policy.fairness.metric == "count"
    assert policy.solver.time_limit_s == 20
    _, none = build(scenario, "no-fairness")
    assert none.fairness is None


# ---------------------------------------------------------------------------------------------
# Warm starts
# ---------------------------------------------------------------------------------------------


def test_warm_and_cold_comparisons_agree(tmp_path: Path, compared: tuple[Path, list[Run]]) -> None:
    """Every example run is proven optimal, so starting from the base's answer changes
    nothing but time: the same status, leads and value in every row."""
    warm, _ = compared
    cold = tmp_path / "cold"
    write_comparison(run_all(load_scenario(SCENARIO), cold, warm=False), cold)
    a = rows_of(warm / "comparison.csv")
    b = rows_of(cold / "comparison.csv")
    for name in [BASE, *VARIANTS]:
        assert a[name]["status"] == b[name]["status"] == "OPTIMAL"
        assert a[name]["assigned"] == b[name]["assigned"]
        assert float(a[name]["expected_value"]) == pytest.approx(float(b[name]["expected_value"]))


def test_start_that_breaks_a_rule_is_ignored() -> None:
    """A start that puts every lead on one rep (far over capacity) and names unknown leads
    and reps: trimmed to what fits, or ignored; the answer is the same optimum as without."""
    leads, reps, affinity, policy = book()
    pol = policy_from_mapping(policy)
    problem = load_problem(leads, reps, affinity, policy=pol)
    plain = solve(problem, pol)
    bad = {lead: "R0006" for lead in leads["lead_id"]} | {"L-NOPE": "R0001", "L000001": "R-NOPE"}
    started = solve(problem, pol, start=bad)
    assert started.status == plain.status == Status.OPTIMAL
    assert started.assigned == plain.assigned
    assert started.objective == pytest.approx(plain.objective)


def test_optimal_start_is_kept_when_it_cannot_be_beaten() -> None:
    """The base's own optimum as its start, on a book with a count band that CP-SAT proves:
    the same optimum."""
    leads, reps, affinity, policy = book()
    pol = policy_from_mapping(policy)
    problem = load_problem(leads, reps, affinity, policy=pol)
    first = solve(problem, pol)
    owner = first.assignments["rep_id"].fillna("")
    start = dict(zip(first.assignments["lead_id"], owner, strict=True))
    again = solve(problem, pol, start={k: v for k, v in start.items() if v})
    assert first.method == "cpsat"
    assert again.status == first.status == Status.OPTIMAL
    assert again.objective == pytest.approx(first.objective)


# ---------------------------------------------------------------------------------------------
# Frontier sweeps
# ---------------------------------------------------------------------------------------------

FRONTIER = EXAMPLES / "frontier.yaml"


def test_frontier_points_match_separate_solves(tmp_path: Path) -> None:
    """Each point of the example sweep (the fairness band) against a separate solve with the
    band set by hand; the trade-off figure is that run's utilization spread."""
    from leadassign.scenarios.spec import sweep_scenario

    scenario = sweep_scenario(load_scenario(FRONTIER))
    assert scenario.sweep is not None
    runs = run_all(scenario, tmp_path)
    write_comparison(runs, tmp_path, sweep=scenario.sweep)
    table = pd.read_csv(tmp_path / "frontier.csv")
    assert table["value"].tolist() == scenario.sweep.values
    leads, reps, affinity, policy = book()
    for row, value in zip(table.to_dict("records"), scenario.sweep.values, strict=True):
        band = {**policy, "fairness": {**policy["fairness"], "band": value}}
        status, assigned, ev = separately(leads, reps, affinity, band)
        assert (row["status"], row["assigned"]) == (status, assigned)
        assert row["expected_value"] == pytest.approx(ev, rel=1e-12)
    summary = pd.read_json(tmp_path / "fairness.band-0.1" / "summary.json", typ="series")
    spread = summary["fairness"]["utilization_spread"]
    assert table.loc[table["value"] == 0.1, "utilization_spread"].item() == pytest.approx(spread)


def test_dominated_points_by_hand() -> None:
    """Four points (value, spread): A (10, 0.5), B (12, 0.5) beats A, C (11, 0.2), D (12, 0.9)
    is beaten by B; E has no solution and is neither."""
    from leadassign.scenarios.compare import comparison, frontier
    from leadassign.scenarios.spec import Sweep

    def point(name: str, ev: float | None, spread: float | None) -> Run:
        summary = {"expected_value": ev, "fairness": {"utilization_spread": spread}}
        status = Status.OPTIMAL if ev is not None else Status.INFEASIBLE
        empty = np.array([], dtype=object)
        return Run(name, "", status, summary, empty, empty, np.array([]))

    runs = [
        point("base", 10, 0.5),
        point("A", 10, 0.5),
        point("B", 12, 0.5),
        point("C", 11, 0.2),
        point("D", 12, 0.9),
        point("E", None, None),
    ]
    sweep = Sweep(key="fairness.band", values=[0.1, 0.2, 0.3, 0.4, 0.5])
    table = frontier(comparison(runs), sweep)
    assert table["dominated"].tolist() == [True, False, False, True, False]


@pytest.mark.parametrize(
    ("sweep", "words"),
    [
        ({"key": "fairness.band", "values": [0.1]}, ["sweep.values"]),
        ({"key": "band", "values": [0.1, 0.2]}, ["sweep.key"]),
        ({"key": "fairness.band", "values": [0.1, 0.2], "against": "speed"}, ["'speed'"]),
        (
            {"key": "tiers.3.min_value", "values": [1, 2], "against": "unassigned"},
            ["tiers.3.min_value", "no item 3"],
        ),
        (
            {"key": "fairnes.band", "values": [0.1, 0.2], "against": "reassigned"},
            ["unknown key 'fairnes'"],
        ),
        ({"key": "solver.workers", "values": [1, 2]}, ["against"]),
    ],
)
def test_bad_sweeps_are_named(tmp_path: Path, sweep: dict[str, Any], words: list[str]) -> None:
    from leadassign.scenarios.spec import sweep_scenario

    path = scenario_file(tmp_path, {})
    data = yaml.safe_load(path.read_text())
    data["base"]["policy"] = {
        "fairness": {"band": 0.5},
        "tiers": [{"min_value": 1, "min_level": 2}],
    }
    data["sweep"] = sweep
    del data["variants"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as caught:
        check(sweep_scenario(load_scenario(path)))
    for word in words:
        assert word in str(caught.value)


def test_cli_frontier(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["frontier", str(FRONTIER), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "fairness.band = 0.05: OPTIMAL" in result.output
    assert (out / "frontier.csv").is_file() and (out / "comparison.csv").is_file()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Frontier</h2>" in page and "value against utilization_spread" in page
    no_sweep = CliRunner().invoke(main, ["frontier", str(SCENARIO), "--out", str(tmp_path / "x")])
    assert no_sweep.exit_code == 2 and "no sweep" in no_sweep.output


# ---------------------------------------------------------------------------------------------
# report.html
# ---------------------------------------------------------------------------------------------


def test_report_shows_every_run_and_needs_no_network(compared: tuple[Path, list[Run]]) -> None:
    """One chart per run plus the overview, every run's figures from comparison.csv, the
    lead moves, and nothing fetched (no scripts, no links out, no external images)."""
    out, runs = compared
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    # overview, churn, what capacity is worth, one per run
    assert page.count("<svg") == len(runs) + 3
    assert '<div class="capacity-values">' in page and "one more rep in " in page
    table = rows_of(out / "comparison.csv")
    for name, row in table.items():
        assert f"<h3>{name}" in page
        assert f"{round(float(row['expected_value'])):,}" in page
    assert "Lead moves against the base" in page
    lowered = page.lower()
    assert "<script" not in lowered and "<link" not in lowered and "<img" not in lowered
    assert 'src="http' not in lowered and 'href="http' not in lowered and "@import" not in lowered


def test_report_is_deterministic(tmp_path: Path, compared: tuple[Path, list[Run]]) -> None:
    out, runs = compared
    write_comparison(runs, tmp_path)
    assert (tmp_path / "report.html").read_bytes() == (out / "report.html").read_bytes()


def test_report_renders_in_headless_chromium(
    tmp_path: Path, compared: tuple[Path, list[Run]]
) -> None:
    """Debian's chromium opens the page from disk (no network) and takes a screenshot that
    is not blank: the charts and tables rendered. Skipped where chromium is not installed."""
    import subprocess

    from matplotlib.image import imread

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package 'chromium')")
    out, _ = compared
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1280,2000",
            f"--screenshot={shot}",
            (out / "report.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = imread(shot)
    assert image.shape[:2] == (2000, 1280)
    # mostly white page with dark text and blue bars: many distinct colours, some blue
    pixels = image[..., :3].reshape(-1, 3)
    assert len(np.unique((pixels * 255).astype(np.uint8), axis=0)) > 50
    blue = (pixels[:, 2] > 0.6) & (pixels[:, 0] < 0.3)
    assert blue.mean() > 0.01


def test_ray_executor_gives_the_same_files(
    tmp_path: Path, compared: tuple[Path, list[Run]]
) -> None:
    """The example on a local Ray started here (2 CPUs): the same comparison (but solve
    times), diffs and run outputs as in one process."""
    ray = pytest.importorskip("ray")
    one, _ = compared
    out = tmp_path / "ray"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        runs = run_all(load_scenario(SCENARIO), out, executor="ray")
    finally:
        ray.shutdown()
    write_comparison(runs, out)
    a = pd.read_csv(one / "comparison.csv").drop(columns="solve_s")
    b = pd.read_csv(out / "comparison.csv").drop(columns="solve_s")
    pd.testing.assert_frame_equal(a, b)
    for name in VARIANTS:
        assert (one / f"diff_{name}.csv").read_bytes() == (out / f"diff_{name}.csv").read_bytes()
    for name in [BASE, *VARIANTS]:
        first = (one / name / "assignments.csv").read_bytes()
        assert first == (out / name / "assignments.csv").read_bytes()


def test_run_board_redraws_one_line_per_run() -> None:
    """On a terminal: a bar and one line per run, redrawn in place (cursor up over the
    block) as runs finish; the last drawing shows every run's end."""
    import io

    from leadassign.cli.progress import RunBoard

    stream = io.StringIO()
    board = RunBoard(["base", "ana-back"], stream)
    summary = {"gap": 0.0, "assigned": 251, "solve_s": 0.1}
    empty = np.array([], dtype=object)
    for name in ("ana-back", "base"):
        board.finished(Run(name, "", Status.OPTIMAL, summary, empty, empty, np.array([])))
    text = stream.getvalue()
    assert text.count("\x1b[3F") == 2  # two redraws of the three-line block
    last = text.rsplit("\x1b[3F", 1)[1]
    assert "[" + "#" * RunBoard.WIDTH + "] 2/2 runs" in last
    assert "base      OPTIMAL, gap 0.00e+00, 251 assigned, 0.1 s" in last
    assert "ana-back  OPTIMAL" in last
    first = text.split("\x1b[3F", 1)[0]
    assert "waiting" in first


def test_churn_counts_by_hand() -> None:
    """The diff_by_hand book: L5 kept (B), L1 moved (A -> B), L2 released (B -> none), L3
    newly assigned and L6 only in the variant are new; L4, left out of the variant, is none."""
    from leadassign.scenarios.report import churn_counts

    base = run(
        "base", ["L1", "L2", "L3", "L4", "L5"], ["A", "B", "", "A", "B"], [1, 5, np.nan, 1, 2]
    )
    variant = run(
        "v", ["L1", "L2", "L3", "L5", "L6"], ["B", "", "A", "B", "A"], [3, np.nan, 4, 2, 3]
    )
    counts = churn_counts(variant, base, diff(base, variant))
    assert counts == {"kept": 1, "moved": 1, "released": 1, "new": 2}


def test_zoomed_axes_show_a_two_percent_difference() -> None:
    """Reps at 98% and 100% of capacity: the 2 points take most of the axis, not 2% of a
    bar from zero."""
    from leadassign.scenarios.report import _zoomed

    low, high = _zoomed(np.array([98.0, 100.0]), 100.0)
    assert (100.0 - 98.0) / (high - low) > 0.5
    low, high = _zoomed(np.array([1_000_000.0, 1_020_000.0]))
    assert 20_000 / (high - low) > 0.5


def test_report_is_read_by_people(compared: tuple[Path, list[Run]]) -> None:
    """The key columns at once and the wide table behind a fold; a churn chart with each
    variant's kept/moved/released/new counts (from its diff against the base); per-rep load
    against a capacity line, grouped by territory."""
    from leadassign.scenarios.report import churn_counts

    out, runs = compared
    page = (out / "report.html").read_text(encoding="utf-8")
    head, _, rest = page.partition("<details><summary>All 24 columns of comparison.csv")
    assert rest and "gini_assigned_value" not in head and "gini_assigned_value" in rest
    assert "Leads kept, moved, released and new against the base" in page
    moves = diffs(runs)
    for variant in runs[1:]:
        counts = churn_counts(variant, runs[0], moves[variant.name])
        cells = "".join(f'<td class="">{v:,}</td>' for v in counts.values())
        assert f'<td class="text">{variant.name}</td>{cells}' in page
        assert counts["moved"] == int((moves[variant.name]["change"] == "moved").sum())
    assert page.count("load, % of capacity") == len(runs)
    assert page.count(">capacity<") >= len(runs)  # the line's legend entry, as SVG text
    assert ">EMEA<" in page and ">all territories<" in page  # the groups
