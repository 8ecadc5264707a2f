"""solve/rebalance --holdout: the draw (seeded, stratified by territory, blind to row order),
the two arms sharing capacity, the arm in assignments.csv, summary.json and the store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from leadassign import Policy, load_problem
from leadassign.app.holdout import Holdout, draw_holdout, solve_with_holdout, territory_quotas
from leadassign.baselines import run_baseline
from leadassign.check import check_assignments
from leadassign.cli import main
from leadassign.models import load_policy
from leadassign.store import Store
from leadassign.store.db import SCHEMA_VERSION

BOOK = Path(__file__).resolve().parent.parent / "examples" / "book"
POLICY = BOOK.parent / "policy.yaml"


def _book_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(BOOK / name, dtype=str, keep_default_na=False)

    return read("leads.csv"), read("reps.csv"), read("affinity.csv")


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_quotas_by_largest_remainder() -> None:
    # 10% of 100 leads is 10: floors 5 + 2 + 2 = 9; the one left goes to B, whose
    # fractional part (0.7) beats C's (0.3)
    territory = np.array(["A"] * 50 + ["B"] * 27 + ["C"] * 23)
    assert territory_quotas(territory, 0.1) == {"A": (50, 5), "B": (27, 3), "C": (23, 2)}
    # halves round up overall: 15% of 10 is 1.5 -> 2, the tie (0.75 each) to A, first sorted
    assert territory_quotas(np.array(["B"] * 5 + ["A"] * 5), 0.15) == {"A": (5, 1), "B": (5, 1)}
    assert territory_quotas(territory, 1.0) == {"A": (50, 50), "B": (27, 27), "C": (23, 23)}


def test_draw_is_seeded_stratified_and_blind_to_row_order() -> None:
    leads, reps, affinity = _book_frames()
    problem = load_problem(leads, reps, affinity)
    held = draw_holdout(problem, Holdout(0.1, seed=11))
    ids = set(problem.leads.ids[held].tolist())
    # per territory: the largest-remainder quotas
    counts = pd.Series(problem.leads.territory[held]).value_counts().to_dict()
    quotas = territory_quotas(problem.leads.territory, 0.1)
    assert counts == {t: q for t, (_, q) in quotas.items() if q}
    assert len(ids) == round(0.1 * len(leads))
    # the same seed on the rows shuffled: the same leads
    shuffled = leads.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = load_problem(shuffled, reps, affinity)
    assert set(again.leads.ids[draw_holdout(again, Holdout(0.1, seed=11))].tolist()) == ids
    # another seed: another draw, with the same per-territory counts
    other = draw_holdout(problem, Holdout(0.1, seed=12))
    assert set(problem.leads.ids[other].tolist()) != ids
    assert pd.Series(problem.leads.territory[other]).value_counts().to_dict() == counts


def test_optimized_arm_respects_capacity_net_of_the_holdout_arm() -> None:
    leads, reps, affinity = _book_frames()
    policy = load_policy(POLICY)
    problem = load_problem(leads, reps, affinity, policy=policy)
    result = solve_with_holdout(problem, policy, Holdout(0.2, seed=5, baseline="greedy"))
    assert result.status.value == "OPTIMAL"
    table = result.assignments
    held = table["arm"] == "holdout"
    assert int(held.sum()) == round(0.2 * len(leads))
    # the whole book: every pair eligible, every rep within its full capacity
    whole = check_assignments(problem, Policy(), table)
    assert whole.ok, whole.violations
    # the optimized arm alone, rechecked under every rule of the policy against the reps'
    # capacity less what the holdout arm took (and min_leads less the leads it gave)
    taken = table[held & (table["rep_id"] != "")]["rep_id"].value_counts()
    net = reps.copy()
    cap = net["capacity"].astype(int) - net["rep_id"].map(taken).fillna(0).astype(int)
    floor = (net["min_leads"].replace("", "0").astype(int)) - net["rep_id"].map(taken).fillna(
        0
    ).astype(int)
    net["capacity"] = cap.astype(str)
    net["min_leads"] = np.minimum(np.maximum(floor, 0), cap).astype(str)
    optimized_leads = leads[~held.to_numpy()].reset_index(drop=True)
    sub = load_problem(optimized_leads, net, affinity, policy=policy)
    arm = check_assignments(sub, policy, table[~held].reset_index(drop=True))
    assert arm.ok, arm.violations
    # the holdout arm is exactly the baseline's routing of its leads over full capacity
    hold_problem = load_problem(leads[held.to_numpy()].reset_index(drop=True), reps, affinity)
    alone = run_baseline(hold_problem, "greedy", policy)
    assert alone.assignments["rep_id"].tolist() == table[held]["rep_id"].tolist()
    # objective and bound: the optimized arm's, plus the holdout arm's expected value
    arms = result.summary()["holdout"]["arms"]
    assert result.objective == pytest.approx(
        arms["optimized"]["objective"] + arms["holdout"]["expected_value"]
    )
    assert result.best_bound == pytest.approx(result.objective)


def test_share_zero_is_no_holdout_and_share_one_is_the_baseline(tmp_path: Path) -> None:
    args = ["--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv"), "--no-store"]
    code, _ = _cli("solve", *args, "--out", str(tmp_path / "plain"))
    assert code == 0
    code, _ = _cli("solve", *args, "--out", str(tmp_path / "zero"), "--holdout", "0")
    assert code == 0
    for name in ("assignments.csv", "reps.csv"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "zero" / name).read_bytes()
    assert "holdout" not in json.loads((tmp_path / "zero" / "summary.json").read_text())

    code, _ = _cli(
        "solve", *args, "--out", str(tmp_path / "all"), "--holdout", "1",
        "--holdout-baseline", "weighted_round_robin",
    )  # fmt: skip
    assert code == 0
    every = pd.read_csv(tmp_path / "all" / "assignments.csv", dtype=str, keep_default_na=False)
    assert set(every["arm"]) == {"holdout"}
    problem = load_problem(BOOK / "leads.csv", BOOK / "reps.csv")
    baseline = run_baseline(problem, "weighted-round-robin")
    assert every["rep_id"].tolist() == baseline.assignments["rep_id"].fillna("").tolist()
    summary = json.loads((tmp_path / "all" / "summary.json").read_text())
    assert summary["status"] == "FEASIBLE" and summary["best_bound"] is None
    assert summary["holdout"]["arms"]["optimized"]["leads"] == 0


def test_arm_in_assignments_summary_and_store(tmp_path: Path) -> None:
    store = str(tmp_path / "h.db")
    code, out = _cli(
        "solve", "--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv"),
        "--affinity", str(BOOK / "affinity.csv"), "--out", str(tmp_path / "run"),
        "--store", store, "--holdout", "0.1", "--holdout-seed", "4",
    )  # fmt: skip
    assert code == 0, out
    assert "holdout: 30 of 300 leads" in out
    table = pd.read_csv(tmp_path / "run" / "assignments.csv", dtype=str, keep_default_na=False)
    assert list(table.columns[:3]) == ["lead_id", "rep_id", "arm"]
    assert (table["arm"] == "holdout").sum() == 30
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    block = summary["holdout"]
    assert (block["share"], block["seed"], block["baseline"]) == (0.1, 4, "round-robin")
    assert block["arms"]["holdout"]["leads"] == 30 and block["arms"]["optimized"]["leads"] == 270
    with Store(store) as opened:
        recorded = opened.assignment(opened.run("latest"))
    assert recorded["arm"].tolist() == table["arm"].tolist()
    code, shown = _cli("show", "latest", "--store", store)
    assert code == 0 and "holdout: 0.1 of 300 leads (seed 4)" in shown
    # another seed is another run (not a re-run of this one)
    code, again = _cli(
        "solve", "--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv"),
        "--affinity", str(BOOK / "affinity.csv"), "--out", str(tmp_path / "run2"),
        "--store", store, "--holdout", "0.1", "--holdout-seed", "5",
    )  # fmt: skip
    assert code == 0 and "re-run" not in again


def test_rebalance_holds_out_only_new_leads(tmp_path: Path) -> None:
    leads, reps, _ = _book_frames()
    store = str(tmp_path / "h.db")
    first, week2 = tmp_path / "w1.csv", tmp_path / "w2.csv"
    leads.iloc[:200].to_csv(first, index=False)
    leads.to_csv(week2, index=False)
    (tmp_path / "reps.csv").write_text(reps.to_csv(index=False))
    common = ["--reps", str(tmp_path / "reps.csv"), "--store", store]
    code, _ = _cli("solve", "--leads", str(first), *common, "--out", str(tmp_path / "a"))
    assert code == 0
    code, out = _cli(
        "rebalance", "--leads", str(week2), *common, "--out", str(tmp_path / "b"),
        "--holdout", "0.25",
    )  # fmt: skip
    assert code == 0, out
    before = pd.read_csv(tmp_path / "a" / "assignments.csv", dtype=str, keep_default_na=False)
    after = pd.read_csv(tmp_path / "b" / "assignments.csv", dtype=str, keep_default_na=False)
    owned = set(before.loc[before["rep_id"] != "", "lead_id"])
    held = after[after["arm"] == "holdout"]
    assert not set(held["lead_id"]) & owned  # no lead with a carried owner is held out
    new = len(after) - len(owned)
    assert len(held) == round(0.25 * new)
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["holdout"]["drawn_from"] == new
    assert summary["rebalance"]["owners_carried"] == len(owned)


def test_a_lead_column_named_arm_is_refused(tmp_path: Path) -> None:
    leads, _, _ = _book_frames()
    leads["arm"] = "x"
    path = tmp_path / "leads.csv"
    leads.to_csv(path, index=False)
    code, out = _cli(
        "solve", "--leads", str(path), "--reps", str(BOOK / "reps.csv"), "--no-store",
        "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 2 and "column 'arm' clashes" in out
    assert not (tmp_path / "run").exists()


def test_a_schema_1_store_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    code, _ = _cli(
        "solve", "--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv"),
        "--store", str(db), "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 0
    with sqlite3.connect(db) as conn:  # back to schema 1: no arm column
        conn.execute("ALTER TABLE leadassign_assignments DROP COLUMN arm")
        conn.execute("UPDATE leadassign_schema SET version = 1")
    with Store(str(db)) as opened:
        old = opened.assignment(opened.run("latest"))
    assert set(old["arm"]) == {""} and len(old) == 300
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version FROM leadassign_schema").fetchone() == (SCHEMA_VERSION,)
        columns = [row[1] for row in conn.execute("PRAGMA table_info(leadassign_assignments)")]
    assert "arm" in columns
