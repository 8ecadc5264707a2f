"""Issue 25, section 2: the run date (``--at``) in solve and rebalance — time off with
``continuity.handover_after_days``, departures (``--rep-leaving``, ``available: false``
without a return date), lead SLA (``sla.untouched_hours``), their reasons and churn, the
bad inputs they add (exit 2 naming row and column), determinism; every answer rechecked by
``leadassign.check`` and, on small books, against a brute force over every assignment."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from leadassign import Policy, Problem
from leadassign.app.inputs import Inputs, load, run_date_of
from leadassign.check import check_assignment
from leadassign.cli import main
from leadassign.errors import InputError
from leadassign.models.availability import away_on, sla_expired
from leadassign.models.clock import parse_at
from leadassign.models.operations import apply_operations
from leadassign.models.policy import policy_from_mapping
from tests.helpers import assert_same_outputs, frame, lead, owners, problem_of, rep
from tests.oracles.checker import solved

AT = parse_at("2026-03-02T12:00:00Z")  # a Monday
FRESH = "2026-03-02T09:00:00Z"  # 3 h before AT
STALE = "2026-02-28T09:00:00Z"  # 51 h before AT


def policy(**blocks: Any) -> Policy:
    return policy_from_mapping(blocks)


def at_run_date(problem: Problem, pol: Policy, leaving: tuple[str, ...] = ()) -> Problem:
    return apply_operations(problem, pol, AT, leaving)


def reasons(result: Any) -> dict[str, str]:
    table = result.assignments_file
    return dict(zip(table["lead_id"], table["reason"], strict=True))


# ----------------------------------------------------------------------------- contracts


def test_away_on_and_sla_expired_contracts() -> None:
    problem = problem_of(
        [
            lead("L1", 1, current_owner="A", last_activity=STALE),
            lead("L2", 1, current_owner="A", last_activity=FRESH),
            lead("L3", 1, current_owner="", last_activity=STALE),  # no owner: never expires
            lead("L4", 1, current_owner="A", last_activity="", first_contact=STALE),
            lead("L5", 1, current_owner="A", last_activity="", first_contact=""),
        ],
        [
            rep("A", 5, away_from="", away_until=""),
            rep("B", 5, away_from="2026-03-02", away_until="2026-03-02"),  # one day, inclusive
            rep("C", 5, away_from="", away_until="2026-03-01"),  # back the day before
            rep("D", 5, away_from="2026-03-03", away_until=""),  # leaves tomorrow, open-ended
        ],
    )
    assert away_on(problem.reps, date(2026, 3, 2)).tolist() == [False, True, False, False]
    assert away_on(problem.reps, date(2026, 3, 1)).tolist() == [False, False, True, False]
    assert away_on(problem.reps, date(2030, 1, 1)).tolist() == [False, False, False, True]
    assert sla_expired(problem.leads, AT, 24).tolist() == [True, False, False, True, False]
    assert sla_expired(problem.leads, AT, 52).tolist() == [False] * 5
    # an offset is honoured: 51 h before AT, seen from UTC+01:00
    at_plus_one = datetime(2026, 3, 2, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert parse_at("2026-03-02T13:00+01:00") == AT == at_plus_one.astimezone(UTC)
    assert sla_expired(problem.leads, at_plus_one, 24).tolist()[0]


# ------------------------------------------------------------------------------------ SLA


def sla_book() -> Problem:
    # A and B cover T; only A covers S. L1 (A, stale) must leave A; L2 (A, fresh) stays;
    # L3 (S, A, stale) has A as its only eligible rep, so it stays with A.
    return problem_of(
        [
            lead("L1", 100, current_owner="A", last_activity=STALE),
            lead("L2", 100, current_owner="A", last_activity=FRESH),
            lead("L3", 100, "S", current_owner="A", last_activity=STALE),
        ],
        [rep("A", 3, "T;S", win_rate=0.9), rep("B", 3, win_rate=0.1)],
    )


def test_sla_release_never_to_the_same_rep_but_for_the_only_eligible() -> None:
    # max_reassign 0 and a keep bonus: without the SLA every lead would stay with A. The
    # release is a forced move: free under the budget (changes 0).
    pol = policy(sla={"untouched_hours": 24}, continuity={"max_reassign": 0, "keep_bonus": 50})
    result = solved(at_run_date(sla_book(), pol), pol)
    assert owners(result) == {"L1": "B", "L2": "A", "L3": "A"}
    assert reasons(result) == {"L1": "sla_release", "L2": "kept", "L3": "kept"}
    detail = result.assignments_file["detail"].tolist()[0]
    assert detail == "untouched for more than 24 h (owner A); to B"
    summary = result.summary()
    assert summary["reasons"]["sla_release"] == 1
    assert summary["operations"]["sla_expired"] == 2
    assert summary["operations"]["sla_release"]["to"] == {"B": {"leads": 1, "value": 100.0}}
    assert summary["churn"]["changes"] == 0 and summary["forced_moves"] == 1
    # the checker holds the rule on its own: L1 back to A breaks it, L3 with A does not
    problem = result.problem
    assert any("L1" in v for v in check_assignment(problem, pol, ["A", "A", "A"]).violations)
    assert check_assignment(problem, pol, ["B", "A", "A"]).ok


def test_sla_needs_an_activity_column_and_good_timestamps() -> None:
    pol = policy(sla={"untouched_hours": 24})
    bare = problem_of([lead("L1", 1, current_owner="A")], [rep("A", 1)])
    with pytest.raises(InputError, match="last_activity"):
        at_run_date(bare, pol)
    bad = problem_of(
        [lead("L1", 1, current_owner="A", last_activity=FRESH),
         lead("L2", 1, current_owner="A", last_activity="yesterday")],
        [rep("A", 2)],
    )  # fmt: skip
    with pytest.raises(InputError) as caught:
        at_run_date(bad, pol)
    assert caught.value.column == "last_activity" and "L2" in str(caught.value.ident)


# ------------------------------------------------------------------------------ time off


def time_off_book() -> Problem:
    # B is away 2026-03-02..2026-03-04 (3 days from the run date, both counted) and is the
    # better rep; L1 is B's, L2 is new.
    return problem_of(
        [lead("L1", 100, current_owner="B"), lead("L2", 100, current_owner="")],
        [
            rep("A", 2, win_rate=0.1),
            rep("B", 2, win_rate=0.9, min_leads=2, away_from="2026-03-01", away_until="2026-03-04"),
        ],
    )


def test_short_absence_keeps_the_book_and_takes_no_new_lead() -> None:
    pol = policy(continuity={"handover_after_days": 3})  # 3 days away: not longer than 3
    result = solved(at_run_date(time_off_book(), pol), pol)
    assert owners(result) == {"L1": "B", "L2": "A"}  # B's floor of 2 is off while away
    assert reasons(result) == {"L1": "kept", "L2": "assigned"}
    assert result.summary()["operations"]["reps_away_keeping_book"] == 1
    problem = result.problem
    bad = check_assignment(problem, pol, ["B", "B"])
    assert any("L2" in v and "not eligible" in v for v in bad.violations)


def test_long_absence_hands_the_book_over_with_the_return_date() -> None:
    pol = policy(continuity={"handover_after_days": 2, "max_reassign": 0})
    result = solved(at_run_date(time_off_book(), pol), pol)
    assert owners(result) == {"L1": "A", "L2": "A"}
    assert reasons(result)["L1"] == "time_off_handover"
    assert result.assignments_file["detail"].tolist()[0] == "owner B away until 2026-03-04; to A"
    ops = result.summary()["operations"]
    assert ops["reps_handing_over"] == 1
    assert ops["time_off_handover"] == {
        "leads": 1, "moved": 1, "unassigned": 0, "value": 100.0, "value_moved": 100.0,
        "to": {"A": {"leads": 1, "value": 100.0}},
    }  # fmt: skip
    # without handover_after_days an away rep keeps the book, however long the absence
    keep = policy(continuity={"max_reassign": 0})
    assert owners(solved(at_run_date(time_off_book(), keep), keep))["L1"] == "B"


# ---------------------------------------------------------------------------- departures


def departure_book(**b_more: Any) -> Problem:
    return problem_of(
        [lead(f"L{k}", 10 * k, current_owner="B") for k in range(1, 5)],
        [rep("A", 2, win_rate=0.5), rep("B", 4, win_rate=0.9, **b_more), rep("C", 2, win_rate=0.4)],
    )


def test_rep_leaving_spreads_the_book_by_the_same_optimization() -> None:
    pol = policy(continuity={"max_reassign": 0, "keep_bonus": 1000})
    result = solved(at_run_date(departure_book(), pol, ("B",)), pol)
    assert set(reasons(result).values()) == {"rep_leaving"}
    # the two best to A (0.5), the other two to C (0.4): the optimum, by hand
    assert owners(result) == {"L1": "C", "L2": "C", "L3": "A", "L4": "A"}
    moved = result.summary()["operations"]["rep_leaving"]
    assert moved["to"] == {"A": {"leads": 2, "value": 70.0}, "C": {"leads": 2, "value": 30.0}}
    assert moved["value"] == 100.0 and moved["unassigned"] == 0


def test_available_false_without_return_date_is_a_departure_only_with_dates() -> None:
    pol = Policy()
    dated = at_run_date(departure_book(available="false", away_from="", away_until=""), pol)
    assert set(reasons(solved(dated, pol)).values()) == {"rep_leaving"}
    back = departure_book(available="false", away_from="2026-02-20", away_until="2026-03-09")
    detail = solved(at_run_date(back, pol), pol).assignments_file["detail"].tolist()
    assert detail[0].startswith("owner B away until 2026-03-09")
    # no dates in the book: on leave, a forced move as before issue 25
    undated = solved(departure_book(available="false"), pol)
    assert set(reasons(undated).values()) == {"forced_move"}


def test_unknown_rep_leaving_is_bad_input() -> None:
    with pytest.raises(InputError, match="'Z' is not a rep_id"):
        at_run_date(departure_book(), Policy(), ("Z",))


# ---------------------------------------------------- brute force over every assignment


def brute_force(problem: Problem, pol: Policy) -> tuple[int, float]:
    """The best (leads assigned, value score) over every assignment the checker accepts."""
    choices = ["", *map(str, problem.reps.ids.tolist())]
    best = (-1, -np.inf)
    for pick in itertools.product(choices, repeat=problem.n_leads):
        check = check_assignment(problem, pol, list(pick))
        if check.ok:
            best = max(best, (check.assigned, round(check.score, 9)))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_small_books_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reps = []
    for j, name in enumerate("ABC"):
        start, length = int(rng.integers(-3, 3)), int(rng.integers(0, 6))
        away = rng.random() < 0.6
        reps.append(
            rep(
                name,
                int(rng.integers(1, 3)),
                win_rate=round(float(rng.uniform(0.1, 1.0)), 2),
                away_from=str(AT.date() + timedelta(days=start)) if away else "",
                away_until=str(AT.date() + timedelta(days=start + length)) if away else "",
                available="false" if j == 2 and rng.random() < 0.3 else "true",
            )
        )
    leads = [
        lead(
            f"L{i}",
            int(rng.integers(1, 100)),
            current_owner=str(rng.choice(["", "A", "B", "C"])),
            last_activity=STALE if rng.random() < 0.5 else FRESH,
        )
        for i in range(5)
    ]
    pol = policy(
        sla={"untouched_hours": 24},
        continuity={
            "handover_after_days": int(rng.integers(0, 4)),
            "max_reassign": 0.4,
            "keep_bonus": 5,
        },
    )
    leaving = ("B",) if seed % 3 == 0 else ()
    problem = at_run_date(problem_of(leads, reps), pol, leaving)
    result = solved(problem, pol)
    want = brute_force(problem, pol)
    assert result.status == "OPTIMAL"
    assert (result.assigned, round(float(result.objective or 0.0), 9)) == want


# --------------------------------------------------------------------- the command line


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    frame(rows, list(dict.fromkeys(k for r in rows for k in r))).to_csv(path, index=False)
    return path


def cli_book(tmp: Path) -> dict[str, Path]:
    leads = [lead(f"L{i}", 10 + i, last_activity=STALE if i % 3 == 0 else FRESH) for i in range(12)]
    reps = [
        rep("A", 6, win_rate=0.6, away_from="", away_until=""),
        rep("B", 6, win_rate=0.5, away_from="", away_until=""),
        rep("C", 6, win_rate=0.4, away_from="2026-03-02", away_until="2026-03-03"),
    ]
    (tmp / "policy.yaml").write_text(
        "sla: {untouched_hours: 24}\ncontinuity: {max_reassign: 0.25, handover_after_days: 7}\n"
    )
    return {
        "leads": write(tmp / "leads.csv", leads),
        "reps": write(tmp / "reps.csv", reps),
        "policy": tmp / "policy.yaml",
    }


def args(book: dict[str, Path], *more: str) -> list[str]:
    return [x for k, p in book.items() for x in (f"--{k}", str(p))] + list(more)


def test_cli_rebalance_rep_leaving_shows_the_churn_and_checks_the_book(tmp_path: Path) -> None:
    book = cli_book(tmp_path)
    store = str(tmp_path / "h.db")
    runner = CliRunner()
    first = runner.invoke(
        main, ["solve", *args(book, "--out", str(tmp_path / "w1"), "--store", store)]
    )
    assert first.exit_code == 0, first.output
    second = runner.invoke(
        main,
        ["rebalance", *args(book, "--out", str(tmp_path / "w2"), "--store", store),
         "--rep-leaving", "A", "--at", "2026-03-02T12:00:00Z"],
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    summary = json.loads((tmp_path / "w2" / "summary.json").read_text())
    ops = summary["operations"]
    assert ops["at"] == "2026-03-02T12:00:00+00:00" and ops["reps_leaving"] == 1
    before = pd.read_csv(tmp_path / "w1" / "assignments.csv", keep_default_na=False)
    after = pd.read_csv(tmp_path / "w2" / "assignments.csv", keep_default_na=False)
    had_a = int((before["rep_id"] == "A").sum())
    assert ops["rep_leaving"]["leads"] == had_a > 0
    assert summary["reasons"]["rep_leaving"] == had_a
    assert ops["rep_leaving"]["moved"] + ops["rep_leaving"]["unassigned"] == had_a
    assert not (after["rep_id"] == "A").any()
    assert "rep_leaving:" in second.output and "  to B" in second.output
    # C is away (2 days, kept): it took no lead it did not own; SLA-stale leads left owners
    assert not ((after["rep_id"] == "C") & (before["rep_id"] != "C")).any()
    # (B is the only rep left for every lead: A leaves, C is away, so a stale lead of B
    # stays with B, its only eligible rep)
    stale = (after["last_activity"] == STALE) & (before["rep_id"] == "B")
    assert stale.any() and after["rep_id"][stale].isin(["B", ""]).all()
    assert (after["eligible_reps"][stale] == 1).all()
    # the whole book, rechecked from the files by the independent checker
    inputs = Inputs(book["leads"], book["reps"], policy=book["policy"], at=AT, leaving=("A",))
    problem, pol = load(inputs)
    leads = problem.leads.raw.frame.copy()
    leads["current_owner"] = before["rep_id"]
    rows = [{str(k): v for k, v in r.items()} for r in leads.to_dict("records")]
    rep_rows = [
        {str(k): v for k, v in r.items()} for r in problem.reps.raw.frame.to_dict("records")
    ]
    owned = problem_of(rows, rep_rows)
    dated = run_date_of(owned, pol, inputs, AT)
    check = check_assignment(dated, pol, after["rep_id"].astype(str).tolist())
    assert check.ok, check.violations


def test_cli_same_at_gives_the_same_outputs_and_a_rerun(tmp_path: Path) -> None:
    book = cli_book(tmp_path)
    runner = CliRunner()
    outs = []
    for k in range(2):
        out = tmp_path / f"o{k}"
        r = runner.invoke(
            main,
            [
                "solve",
                *args(book, "--out", str(out), "--no-store"),
                "--at",
                "2026-03-02T13:00+01:00",
            ],
        )
        assert r.exit_code == 0, r.output
        outs.append(out)
    assert_same_outputs(outs[0], outs[1], ["assignments.csv", "reps.csv"])
    store = str(tmp_path / "h.db")
    for k in range(2):
        r = runner.invoke(
            main,
            ["solve", *args(book, "--out", str(tmp_path / f"s{k}"), "--store", store),
             "--at", "2026-03-02T12:00:00Z"],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
    assert "re-run" in r.output or "rerun" in r.output.lower()
    later = runner.invoke(
        main,
        ["solve", *args(book, "--out", str(tmp_path / "s2"), "--store", store),
         "--at", "2026-03-05T12:00:00Z"],
    )  # fmt: skip
    assert later.exit_code == 0 and "re-run" not in later.output.lower()


@pytest.mark.parametrize(
    ("table", "row", "cell", "column"),
    [
        ("reps", 1, {"away_from": "2026-03-05", "away_until": "2026-03-01"}, "away_until"),
        ("reps", 2, {"away_from": "next week"}, "away_from"),
        ("leads", 4, {"last_activity": "2026-13-40"}, "last_activity"),
    ],
)
def test_cli_bad_dates_exit_2_naming_row_and_column(
    tmp_path: Path, table: str, row: int, cell: dict[str, str], column: str
) -> None:
    book = cli_book(tmp_path)
    data = pd.read_csv(book[table], dtype=str, keep_default_na=False)
    for k, v in cell.items():
        data.loc[row, k] = v
    data.to_csv(book[table], index=False)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["solve", *args(book, "--out", str(out), "--no-store")])
    assert r.exit_code == 2, r.output
    assert f"line {row + 2}" in r.output and f"'{column}'" in r.output
    assert not out.exists()


def test_cli_time_off_table_and_bad_inputs(tmp_path: Path) -> None:
    book = cli_book(tmp_path)
    runner = CliRunner()
    off = write(
        tmp_path / "off.csv",
        [{"rep_id": "A", "away_from": "2026-03-01", "away_until": "2026-03-02"},
         {"rep_id": "A", "away_from": "2026-04-01", "away_until": "2026-04-02"}],
    )  # fmt: skip
    ok = runner.invoke(
        main,
        ["solve", *args(book, "--out", str(tmp_path / "ok"), "--no-store"),
         "--time-off", str(off), "--at", "2026-03-02T08:00:00Z"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    summary = json.loads((tmp_path / "ok" / "summary.json").read_text())
    assert summary["operations"]["reps_away_keeping_book"] == 2  # A (table) and C (column)
    assert "time_off" in summary["inputs"]
    unknown = write(
        tmp_path / "bad.csv", [{"rep_id": "Z", "away_from": "2026-03-01", "away_until": ""}]
    )
    for extra, words in [
        (["--time-off", str(unknown)], ["line 2", "'rep_id'", "'Z' is not a rep_id"]),
        (["--at", "tomorrow"], ["--at", "ISO 8601"]),
    ]:
        out = tmp_path / "nope"
        r = runner.invoke(main, ["solve", *args(book, "--out", str(out), "--no-store"), *extra])
        assert r.exit_code == 2, r.output
        assert all(w in r.output for w in words), r.output
        assert not out.exists()
    store = str(tmp_path / "h.db")
    runner.invoke(main, ["solve", *args(book, "--out", str(tmp_path / "w1"), "--store", store)])
    r = runner.invoke(
        main,
        ["rebalance", *args(book, "--out", str(tmp_path / "w2"), "--store", store),
         "--rep-leaving", "nobody"],
    )  # fmt: skip
    assert r.exit_code == 2 and "'nobody' is not a rep_id" in r.output
    assert not (tmp_path / "w2").exists()


def test_cli_holdout_is_refused_with_away_reps_or_sla(tmp_path: Path) -> None:
    book = cli_book(tmp_path)
    out = tmp_path / "h"
    r = CliRunner().invoke(
        main,
        ["solve", *args(book, "--out", str(out), "--no-store"), "--holdout", "0.2",
         "--at", "2026-03-02T12:00:00Z"],
    )  # fmt: skip
    assert r.exit_code == 2 and "holdout" in r.output and not out.exists()
