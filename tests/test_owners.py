"""Issue 23, section 5: the current owners as a baseline (``baseline --strategy current``, a
scenario's ``baseline: current``), fairness within any reps column, leads held back by a
hard rule (``held_back`` naming it) and one set of churn figures everywhere."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from leadassign import Policy, Status
from leadassign.baselines import run_baseline
from leadassign.check import check_assignments
from leadassign.cli import main
from leadassign.errors import InputError
from leadassign.models.policy import policy_from_mapping
from leadassign.result.churn import churn_line
from tests.helpers import lead, owners, problem_of, rep
from tests.oracles.books import random_book
from tests.oracles.checker import solved
from tests.oracles.rules import PolicyDict, RuleBook
from tests.test_rules_milp import compare

# --------------------------------------------------------------------- the current owners


def test_current_owners_hand_solved_with_reasons() -> None:
    # A (territory T, capacity 2), B (territory S, capacity 1), C (T, on leave).
    # L1, L2 owned by A: kept (A is full after L2).  L3 owned by A: A has no room left.
    # L4 (T) owned by B: B does not cover T.  L5 owned by C: on leave.  L6: no owner.
    # L7 (S) owned by B: kept.
    problem = problem_of(
        [
            lead("L1", 10, current_owner="A"),
            lead("L2", 10, current_owner="A"),
            lead("L3", 10, current_owner="A"),
            lead("L4", 10, current_owner="B"),
            lead("L5", 10, current_owner="C"),
            lead("L6", 10, current_owner=""),
            lead("L7", 10, "S", current_owner="B"),
        ],
        [rep("A", 2), rep("B", 1, "S"), rep("C", 5, available="false")],
    )
    result = run_baseline(problem, "current")
    assert result.status == Status.FEASIBLE and result.method == "current"
    assert owners(result) == {
        "L1": "A", "L2": "A", "L3": "", "L4": "", "L5": "", "L6": "", "L7": "B"
    }  # fmt: skip
    table = result.assignments_file
    assert table["reason"].tolist() == [
        "kept", "kept", "owner_full", "owner_not_eligible", "owner_unavailable", "new_lead",
        "kept",
    ]  # fmt: skip
    detail = table["detail"].tolist()
    assert detail[2] == "owner A had no room left (capacity 2)"
    assert detail[3] == "owner B may not take it: territory T is not one of the owner's"
    assert detail[4] == "owner C is on leave"
    # The independent validator: every rule the baseline keeps holds, values agree.
    check = check_assignments(problem, Policy(), result.assignments)
    assert check.ok, check.violations
    assert check.assigned == result.assigned == 3
    churn = result.summary()["churn"]
    assert (churn["kept"], churn["released"], churn["moved"], churn["new"]) == (3, 3, 0, 0)
    # the current owners keep every owner they can: continuity is not "ignored"
    assert "continuity" not in (result.baseline or {})["ignored"]


def test_current_owners_count_capacity_in_input_order_with_efforts() -> None:
    # A has capacity 4: L1 (3) fits, L2 (3) does not (1 left), L3 (1) fits: input order.
    problem = problem_of(
        [
            lead("L1", 10, current_owner="A", effort=3),
            lead("L2", 90, current_owner="A", effort=3),
            lead("L3", 10, current_owner="A", effort=1),
        ],
        [rep("A", 4)],
    )
    result = run_baseline(problem, "current")
    assert owners(result) == {"L1": "A", "L2": "", "L3": "A"}
    assert result.rep_table["assigned_effort"].tolist() == [4]


def test_current_owners_on_a_random_book_pass_the_checker() -> None:
    book = random_book(31, 300, 12, {}, owned=0.8, effort=True)
    policy = policy_from_mapping(book.policy)
    problem = problem_of(
        [{str(k): v for k, v in row.items()} for row in book.leads.to_dict("records")],
        [{str(k): v for k, v in row.items()} for row in book.reps.to_dict("records")],
    )
    result = run_baseline(problem, "current", policy)
    check = check_assignments(problem, policy, result.assignments)
    assert [v for v in check.violations if "min_leads" not in v] == []
    assigned = result.rep_of_lead >= 0
    assert (result.rep_of_lead[assigned] == problem.owner[assigned]).all()  # only owners
    # an owner that is eligible and had room at the end never leaves its lead unassigned
    reasons = result.assignments_file["reason"]
    assert set(reasons[~assigned]) <= {
        "new_lead", "owner_unavailable", "owner_not_eligible", "owner_full"
    }  # fmt: skip
    assert int((reasons == "kept").sum()) == result.assigned > 0


def test_cli_baseline_current_and_compare_with_today(tmp_path: Path) -> None:
    leads = pd.DataFrame(
        [
            lead("L1", 100, current_owner="A"),
            lead("L2", 200, current_owner="A"),
            lead("L3", 300, current_owner="B"),
            lead("L4", 400, current_owner=""),
        ]
    )
    reps = pd.DataFrame([rep("A", 2, win_rate=0.2), rep("B", 2, win_rate=0.5)])
    leads.to_csv(tmp_path / "leads.csv", index=False)
    reps.to_csv(tmp_path / "reps.csv", index=False)
    runner = CliRunner()
    args = ["--leads", str(tmp_path / "leads.csv"), "--reps", str(tmp_path / "reps.csv")]
    out = tmp_path / "today"
    got = runner.invoke(main, ["baseline", "--strategy", "current", *args, "--out", str(out)])
    assert got.exit_code == 0, got.output
    assert "owners: kept 3, moved 0, released 0, held back 0, new 0" in got.output
    table = pd.read_csv(out / "assignments.csv", keep_default_na=False)
    assert table["reason"].tolist() == ["kept", "kept", "kept", "new_lead"]
    scenario = {
        "base": {"leads": "leads.csv", "reps": "reps.csv"},
        "variants": {"today": {"description": "what we have today", "baseline": "current"}},
    }
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    got = runner.invoke(
        main, ["compare", str(tmp_path / "scenario.yaml"), "--out", str(tmp_path / "cmp")]
    )
    assert got.exit_code == 0, got.output
    rows = pd.read_csv(tmp_path / "cmp" / "comparison.csv").set_index("variant")
    figures = rows.to_dict("index")
    assert figures["today"]["method"] == "current" and figures["today"]["assigned"] == 3
    assert figures["base"]["assigned"] == 4
    # the optimizer's gain over today: L4 (400) placed, and B's better rate used
    assert float(figures["base"]["expected_value"]) > float(figures["today"]["expected_value"])
    diff = pd.read_csv(tmp_path / "cmp" / "diff_today.csv", keep_default_na=False)
    assert "L4" in diff["lead_id"].tolist()
    bad = {**scenario, "variants": {"today": {"baseline": "currrent"}}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    got = runner.invoke(main, ["compare", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "b")])
    assert got.exit_code == 2 and "baseline" in got.output


# ------------------------------------------------------- held back by a rule, and churn


Rows = list[dict[str, object]]


def band_book() -> tuple[Rows, Rows]:
    # A covers EMEA only, B APAC only, equal capacity 10; 5 EMEA leads owned by A, 1 APAC
    # lead owned by B. A hard count band of 0 gives each the same count: A 1, B 1, and 4
    # EMEA leads are held back (A has room, but would go above its band).
    leads = [lead(f"E{k}", 10 + k, "EMEA", current_owner="A") for k in range(5)]
    leads.append(lead("P0", 10, "APAC", current_owner="B"))
    reps = [rep("A", 10, "EMEA"), rep("B", 10, "APAC")]
    return leads, reps


BAND = {"fairness": {"metric": "count", "band": 0.0, "mode": "hard"}}


def test_held_back_names_the_band_not_released() -> None:
    leads, reps = band_book()
    policy = policy_from_mapping(BAND)
    result = solved(problem_of(leads, reps), policy)
    assert result.status == Status.OPTIMAL and result.assigned == 2
    table = result.assignments_file
    held = table[table["rep_id"] == ""]
    assert len(held) == 4 and set(held["reason"]) == {"held_back"}
    for text in held["detail"]:
        assert text.startswith("owner A could keep it; held back by the fairness band (count, 0")
        assert "A would go above its band" in text
    churn = result.summary()["churn"]
    assert churn == {
        "owned": 6, "kept": 2, "moved": 0, "released": 0, "held_back": 4, "new": 0,
        "forced_moves": 0, "changes": 4, "changes_allowed": None,
    }  # fmt: skip
    assert result.summary()["reassigned"] == 4


def test_held_back_by_the_floor_of_another_rep() -> None:
    # A (X, capacity 30) and C (Y, capacity 10): shares 3/4 and 1/4 of the total M. Band 0.2:
    # A within [0.6 M, 0.9 M], C within [0.2 M, 0.3 M]. C has one lead, so M <= 5: A 4, C 1.
    # A sixth lead for A stays within A's band (5 <= 0.9 * 6) but takes C below its floor
    # (1 < 0.2 * 6): the 2 X leads left are held back by the floor of C.
    leads = [lead(f"X{k}", 10 + k, "X") for k in range(6)] + [lead("Y0", 10, "Y")]
    reps = [rep("A", 30, "X"), rep("C", 10, "Y")]
    policy = policy_from_mapping({"fairness": {"metric": "count", "band": 0.2}})
    result = solved(problem_of(leads, reps), policy)
    assert result.status == Status.OPTIMAL and result.assigned == 5
    table = result.assignments_file
    held = table[table["rep_id"] == ""]
    assert held["reason"].tolist() == ["held_back", "held_back"]
    assert set(held["detail"]) == {
        "held back by the fairness band (count, 0.2): the floor of C, who would fall below its band"
    }


def test_account_cap_holds_back() -> None:
    leads = [lead(f"L{k}", 10, account_id="acme") for k in range(3)]
    policy = policy_from_mapping({"account_cap": {"max_per_rep": 2}})
    result = solved(problem_of(leads, [rep("A", 5)]), policy)
    table = result.assignments_file
    assert table["reason"].tolist().count("held_back") == 1
    held = table[table["reason"] == "held_back"]["detail"].iloc[0]
    assert held == "held back by the account cap (2 per rep): A already has 2 leads of account acme"


def test_churn_figures_agree_everywhere_on_a_rebalance(tmp_path: Path) -> None:
    leads, reps = band_book()
    pd.DataFrame(reps).to_csv(tmp_path / "reps.csv", index=False)
    first = pd.DataFrame(leads).drop(columns="current_owner")
    first.to_csv(tmp_path / "leads1.csv", index=False)
    # week 2: one more APAC lead, so the band lets A keep 2 and B take the new one
    second = pd.concat([first, pd.DataFrame([lead("P1", 50, "APAC")])], ignore_index=True)
    second.to_csv(tmp_path / "leads2.csv", index=False)
    (tmp_path / "band.yaml").write_text(yaml.safe_dump(BAND))
    store = str(tmp_path / "h.db")
    runner = CliRunner()
    common = ["--reps", str(tmp_path / "reps.csv"), "--store", store, "--no-progress"]
    got = runner.invoke(
        main,
        ["solve", "--leads", str(tmp_path / "leads1.csv"), *common, "--out", str(tmp_path / "w1")],
    )
    assert got.exit_code == 0, got.output  # no band: A takes all 5, B 1
    got = runner.invoke(
        main,
        ["rebalance", "--leads", str(tmp_path / "leads2.csv"), *common,
         "--policy", str(tmp_path / "band.yaml"), "--from-run", "latest",
         "--out", str(tmp_path / "w2")],
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    summary = json.loads((tmp_path / "w2" / "summary.json").read_text())
    churn = summary["churn"]
    assert (churn["kept"], churn["moved"], churn["released"], churn["held_back"], churn["new"]) == (
        3, 0, 0, 3, 1
    )  # fmt: skip
    line = churn_line(churn)
    assert line in got.output  # the printed summary
    shown = runner.invoke(main, ["show", "latest", "--store", store])
    assert shown.exit_code == 0 and line in shown.output  # history show
    assert f"reassigned {summary['reassigned']}" in shown.output
    assert summary["reassigned"] == churn["moved"] + churn["released"] + churn["held_back"]
    diffed = runner.invoke(main, ["diff", "1", "2", "--store", store])
    assert diffed.exit_code == 0, diffed.output
    moves = pd.read_csv(StringIO(diffed.output), keep_default_na=False)
    counts = moves["change"].value_counts().to_dict()
    for word in ("moved", "released", "held_back", "new"):
        assert counts.get(word, 0) == churn[word], (word, counts, churn)
    table = pd.read_csv(tmp_path / "w2" / "assignments.csv", keep_default_na=False)
    assert (table["reason"] == "held_back").sum() == churn["held_back"]


# ------------------------------------------------------------ fairness within a column


def with_manager(book_seed: int, policy: PolicyDict) -> RuleBook:
    book = random_book(book_seed, 160, 9, policy, floors=0)
    rng = np.random.default_rng(book_seed)
    reps = book.reps.copy()
    reps["manager"] = rng.choice(["Ann", "Bob", "Cy"], size=len(reps))
    return book.with_reps(reps)


@pytest.mark.parametrize("seed", [41, 42])
def test_fairness_within_manager_matches_the_milp(seed: int) -> None:
    policy = {"fairness": {"metric": "count", "band": 0.2, "within": "manager"}}
    compare(with_manager(seed, policy), f"within manager, seed {seed}")


def test_fairness_within_a_column_groups_reps_apart(tmp_path: Path) -> None:
    # Two managers' teams: Ann's A (cap 10) and B (cap 10) must split evenly (band 0), Bob's
    # C alone may take all its leads. Within all, C would be held to the others' counts.
    leads = [lead(f"X{k}", 10, "X") for k in range(4)] + [lead(f"Y{k}", 10, "Y") for k in range(6)]
    reps = [
        rep("A", 10, "X", manager="Ann"),
        rep("B", 10, "X", manager="Ann"),
        rep("C", 10, "Y", manager="Bob"),
    ]
    by_manager = policy_from_mapping({"fairness": {"band": 0.0, "within": "manager"}})
    result = solved(problem_of(leads, reps), by_manager)
    assert result.rep_table["assigned"].tolist() == [2, 2, 6]
    together = policy_from_mapping({"fairness": {"band": 0.0}})
    assert solved(problem_of(leads, reps), together).rep_table["assigned"].tolist() == [2, 2, 2]
    pd.DataFrame(leads).to_csv(tmp_path / "leads.csv", index=False)
    pd.DataFrame(reps).to_csv(tmp_path / "reps.csv", index=False)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"fairness": {"band": 0.1, "within": "team"}}))
    got = CliRunner().invoke(
        main,
        ["solve", "--leads", str(tmp_path / "leads.csv"), "--reps", str(tmp_path / "reps.csv"),
         "--policy", str(tmp_path / "p.yaml"), "--out", str(tmp_path / "o"), "--no-store"],
    )  # fmt: skip
    assert got.exit_code == 2
    assert "'team' is not a column of the reps table" in got.output
    assert "manager" in got.output and not (tmp_path / "o" / "assignments.csv").exists()


def test_fairness_within_an_empty_cell_names_the_rep() -> None:
    leads = [lead("L1", 10)]
    reps = [rep("A", 10, manager="Ann"), rep("B", 10, manager=""), rep("C", 1, manager="")]
    reps[2]["available"] = "false"  # a rep on leave is in no group: its empty cell is fine
    reps[0]["available"] = reps[1]["available"] = "true"
    policy = policy_from_mapping({"fairness": {"band": 0.1, "within": "manager"}})
    with pytest.raises(InputError) as caught:
        solved(problem_of(leads, reps), policy)
    assert caught.value.ident == "B" and caught.value.column == "manager"
