"""leadassign route (issue 25 §1, intake caps and working hours): owned leads never move, the
whole book keeps every hard rule (the independent checker, ``leadassign.check``), the routed
answer equals a brute force over the new leads on small books, re-runs, the store's lock,
intake caps over days and weeks, working hours, bad inputs."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from leadassign import load_problem, solve
from leadassign.app import runs
from leadassign.app.inputs import Inputs, load
from leadassign.app.route import owners_after, route, route_problem, whole_book
from leadassign.check import check_assignment
from leadassign.cli import main
from leadassign.demo import make_sample
from leadassign.models.operations import apply_operations
from leadassign.models.policy import policy_from_mapping
from leadassign.models.problem import with_previous_owners
from leadassign.models.shifts import parse_at
from leadassign.store import Store, StoreBusy
from tests.oracles.books import random_book

MONDAY = parse_at("2026-11-30T09:00:00+00:00")


def _at(text: str) -> datetime:
    return parse_at(text)


# --- exactness: the routed answer against a brute force over the new leads -------------------

POLICIES: list[dict[str, Any]] = [
    {},
    {"accounts": {"together": True}},
    {"fairness": {"metric": "count", "band": 0.5, "mode": "hard"}},
    {"assign_all": False, "account_cap": {"max_per_rep": 1}},
]


def _route_accounts_ok(problem: Any, fixed: list[str], rep_ids: list[str]) -> bool:
    """accounts.together as route keeps it: the new leads of an account go together, to the
    owner of the account's owned leads when it has some, or stay unassigned together."""
    account = [str(a) for a in problem.leads.account_id]
    for name in set(account) - {""}:
        members = [i for i, a in enumerate(account) if a == name]
        owners = {fixed[i] for i in members if fixed[i]}
        new = {rep_ids[i] for i in members if not fixed[i]}
        if len(new) > 1 or len(owners) > 1 or (owners and new - owners - {""}):
            return False
    return True


def _without_accounts(policy: Any) -> Any:
    return policy_from_mapping(
        {k: v for k, v in policy.model_dump(mode="json").items() if k != "accounts"}
    )


def _pair_ok(problem: Any, rules: Any, fixed: list[str], i: int, rep: str) -> bool:
    """Whether the checker finds no fault of lead ``i`` itself with ``rep`` (eligibility,
    tiers, pairs): the brute force's choices for the lead (the rest is checked whole)."""
    rep_ids = list(fixed)
    rep_ids[i] = rep
    lead = f"lead {problem.leads.ids[i]}:"
    return not any(v.startswith(lead) for v in check_assignment(problem, rules, rep_ids).violations)


def _brute(
    problem: Any, policy: Any, fixed: list[str], new: list[int], price: dict[str, float]
) -> tuple[int, float] | None:
    """The best (count, score - capacity prices of the new leads) over every way to give
    the new leads a rep or none, the owned leads staying with their owner: by the checker
    (accounts together as route keeps them, :func:`_route_accounts_ok`)."""
    reps = [str(r) for r in problem.reps.ids]
    together = policy.accounts_together
    rules = _without_accounts(policy) if together else policy
    best: tuple[int, float] | None = None
    options = [["", *(r for r in reps if _pair_ok(problem, rules, fixed, i, r))] for i in new]
    for choice in itertools.product(*options):
        rep_ids = list(fixed)
        for i, rep in zip(new, choice, strict=True):
            rep_ids[i] = rep
        if together and not _route_accounts_ok(problem, fixed, rep_ids):
            continue
        check = check_assignment(problem, rules, rep_ids)
        if check.violations:
            continue
        paid = sum(
            price[r] * int(problem.leads.effort[i]) for i, r in zip(new, choice, strict=True) if r
        )
        found = (check.assigned, check.score - paid)
        if best is None or found[0] > best[0] or (found[0] == best[0] and found[1] > best[1]):
            best = found
    return best


@pytest.mark.parametrize("shape", range(len(POLICIES)))
def test_route_equals_brute_force_over_new_leads(shape: int) -> None:
    compared = 0
    for seed in range(6):
        book = random_book(seed, 9, 3, POLICIES[shape], owned=0.0, leave=0.0)
        policy = policy_from_mapping(book.policy)
        plan_problem = load_problem(book.leads.iloc[:6], book.reps, book.affinity, policy=policy)
        plan = solve(plan_problem, policy, workers=1)
        if not plan.has_solution:
            continue
        owners = plan.assignments["rep_id"].fillna("").astype(str)
        plan_book = pd.DataFrame({"lead_id": book.leads["lead_id"].iloc[:6], "rep_id": owners})
        problem = load_problem(book.leads, book.reps, book.affinity, policy=policy)
        rng = np.random.default_rng(seed)
        price = {str(r): float(rng.uniform(0, 3000)) for r in problem.reps.ids}
        prices = np.array([price[str(r)] for r in problem.reps.ids])
        routing = route_problem(problem, policy, plan_book, MONDAY, prices)
        result = solve(routing.problem, policy, workers=1)
        checked = with_previous_owners(problem, plan_book).problem
        fixed = [*owners.tolist(), *[""] * 3]  # three new leads: 4^3 choices and more
        free = [i for i, o in enumerate(fixed) if not o]
        best = _brute(checked, policy, fixed, free, price)
        if best is None:
            assert not result.has_solution
            continue
        assert result.has_solution
        rep_ids = [str(r) for r in owners_after(result, routing)]
        assert all(rep_ids[i] == o for i, o in enumerate(owners.tolist()) if o)  # none moved
        solved = result.assignments["rep_id"].fillna("").astype(str).tolist()
        assert len(solved) == (9 if whole_book(policy) else 9 - int((owners != "").sum()))
        if policy.accounts_together:
            assert _route_accounts_ok(checked, fixed, rep_ids)
        rules = _without_accounts(policy) if policy.accounts_together else policy
        check = check_assignment(checked, rules, rep_ids)
        assert not check.violations, check.violations
        paid = sum(
            price[r] * int(problem.leads.effort[i])
            for i, r in enumerate(rep_ids)
            if i in free and r
        )
        assert check.assigned == best[0]
        assert check.score - paid == pytest.approx(best[1], rel=1e-9, abs=1e-6)
        compared += 1
    assert compared >= 3


# --- a week of routings against the store --------------------------------------------------


@pytest.fixture
def week(tmp_path: Path) -> dict[str, Any]:
    sample = make_sample(500, 15, seed=5, slack=1.3)
    leads = sample.leads
    reps = sample.reps.assign(min_leads=np.minimum(sample.reps["min_leads"], 2))  # floors
    (tmp_path / "reps.csv").write_text(reps.to_csv(index=False))
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "accounts:\n  together: true\nfairness:\n  metric: count\n  band: 1.0\n  mode: hard\n"
    )
    days = np.array_split(np.arange(len(leads)), 5)
    return {"dir": tmp_path, "leads": leads, "days": days, "policy": policy}


def _day_inputs(week: dict[str, Any], upto: int, only_new: bool = False) -> Inputs:
    d: Path = week["dir"]
    days = week["days"]
    rows = days[upto] if only_new else np.concatenate(days[: upto + 1])
    path = d / f"leads{upto}{'n' if only_new else ''}.csv"
    week["leads"].iloc[rows].to_csv(path, index=False)
    return Inputs(leads=path, reps=d / "reps.csv", policy=week["policy"])


def test_a_week_of_routings_keeps_every_rule_and_every_owner(week: dict[str, Any]) -> None:
    d: Path = week["dir"]
    store = str(d / "h.db")
    plan = runs.run("solve", _day_inputs(week, 0), d / "mon", store=store)
    assert plan.has_solution
    with Store(store) as opened:
        before = opened.assignment(opened.run("latest"))
    routed = 0
    for day in range(1, 5):
        out = route(
            _day_inputs(week, day),
            d / f"route{day}",
            store=store,
            at=_at(f"2026-12-0{day}T10:00"),
            prices={"R0001": 500.0, "R0002": 20000.0},
        )
        assert out.has_solution
        block = out.summary["route"]
        routed += block["routed"]
        assert block["owned_moved"] == 0
        assert block["owned_not_in_table"] == 0
        with Store(store) as opened:
            after = opened.assignment(opened.run("latest"))
        kept = before[before["rep_id"] != ""].merge(after, on="lead_id", suffixes=("", "_now"))
        assert len(kept) == int((before["rep_id"] != "").sum())  # no owned lead disappears
        assert (kept["rep_id"] == kept["rep_id_now"]).all()  # none moves
        before = after
    # the combined book after the week, against every hard rule with the true capacities
    all_rows = np.concatenate(week["days"])
    everything = _day_inputs(week, 4)
    problem, policy = load(everything)
    owners = before.set_index("lead_id")["rep_id"]
    table = pd.DataFrame(
        {
            "lead_id": week["leads"]["lead_id"].iloc[all_rows],
            "rep_id": owners.reindex(week["leads"]["lead_id"].iloc[all_rows]).fillna("").to_numpy(),
        }
    )
    # accounts together as route keeps them: an account's assigned leads share one rep (a
    # new lead of an owned account whose owner is full stays unassigned)
    assigned = table[table["rep_id"] != ""].merge(
        week["leads"][["lead_id", "account_id"]], on="lead_id"
    )
    assert (
        assigned[assigned["account_id"] != ""].groupby("account_id")["rep_id"].nunique() == 1
    ).all()
    check = check_assignment(problem, _without_accounts(policy), table["rep_id"].tolist())
    assert not check.violations, check.violations[:5]
    assert check.assigned == plan.summary["assigned"] + routed > plan.summary["assigned"]


def test_rerun_is_the_same_answer_and_routing_owned_leads_changes_nothing(
    week: dict[str, Any],
) -> None:
    d: Path = week["dir"]
    store = str(d / "h.db")
    runs.run("solve", _day_inputs(week, 0), d / "mon", store=store)
    first = route(_day_inputs(week, 1), d / "a", store=store, at=_at("2026-12-01T10:00"))
    again = route(_day_inputs(week, 1), d / "b", store=store, at=_at("2026-12-01T10:00"))
    assert again.rerun_of == first.run_id
    for name in ("assignments.csv", "reps.csv", "summary.json"):
        assert (d / "a" / name).read_bytes() == (d / "b" / name).read_bytes()
    later = route(_day_inputs(week, 1), d / "c", store=store, at=_at("2026-12-01T11:00"))
    assert later.rerun_of is None
    assert later.summary["route"]["routed"] == 0
    assert later.summary["route"]["owned_moved"] == 0
    left = first.summary["route"]["left_unassigned"]
    assert later.summary["route"]["new_leads"] == sum(left.values())


def test_refused_while_another_run_holds_the_store(week: dict[str, Any]) -> None:
    d: Path = week["dir"]
    store = str(d / "h.db")
    runs.run("solve", _day_inputs(week, 0), d / "mon", store=store)
    _day_inputs(week, 1)
    with Store(store) as held, held.writing():
        with pytest.raises(StoreBusy):
            route(_day_inputs(week, 1), d / "r", store=store, at=MONDAY)
        cli = CliRunner().invoke(
            main,
            ["route", "--leads", str(d / "leads1.csv"), "--reps", str(d / "reps.csv"),
             "--out", str(d / "r"), "--store", store],
        )  # fmt: skip
        assert cli.exit_code == 5, cli.output
    assert not (d / "r").exists()


def test_new_leads_alone_in_leads_keep_the_owned_ones_and_their_capacity(
    week: dict[str, Any],
) -> None:
    d: Path = week["dir"]
    store = str(d / "h.db")
    week["policy"].write_text("{}\n")
    runs.run("solve", _day_inputs(week, 0), d / "mon", store=store)
    with Store(store) as opened:
        plan = opened.assignment(opened.run("latest"))
    owned = plan[plan["rep_id"] != ""]
    out = route(_day_inputs(week, 1, only_new=True), d / "r", store=store, at=MONDAY)
    assert out.summary["route"]["owned_not_in_table"] == len(owned)
    assert out.summary["route"]["owned_in_table"] == 0
    with Store(store) as opened:
        book = opened.assignment(opened.run("latest"))
    kept = owned.merge(book, on="lead_id", suffixes=("", "_now"))
    assert len(kept) == len(owned) and (kept["rep_id"] == kept["rep_id_now"]).all()
    # the whole book (both days) against every hard rule with the true capacities
    everything = _day_inputs(week, 1)
    problem, policy = load(everything)
    owners = book.set_index("lead_id")["rep_id"].reindex(problem.leads.ids).fillna("")
    check = check_assignment(problem, policy, owners.tolist())
    assert not check.violations, check.violations[:5]
    assert out.summary["route"]["routed"] > 0


# --- intake caps and working hours -----------------------------------------------------------


def _small(tmp_path: Path, n_new: int, reps: list[dict[str, Any]]) -> tuple[str, Path]:
    """One territory, every lead of value 100; a plan with one owned lead."""
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i:03d}" for i in range(n_new + 1)],
            "territory": "T",
            "value": 100.0,
        }
    )
    (tmp_path / "plan.csv").write_text(leads.iloc[:1].to_csv(index=False))
    (tmp_path / "reps.csv").write_text(pd.DataFrame(reps).to_csv(index=False))
    store = str(tmp_path / "h.db")
    runs.run(
        "solve", Inputs(leads=tmp_path / "plan.csv", reps=tmp_path / "reps.csv"),
        tmp_path / "plan", store=store,
    )  # fmt: skip
    leads.to_csv(tmp_path / "all.csv", index=False)
    return store, tmp_path / "all.csv"


def _leads_file(tmp_path: Path, name: str, count: int) -> Path:
    leads = pd.DataFrame(
        {"lead_id": [f"{name}{i:03d}" for i in range(count)], "territory": "T", "value": 100.0}
    )
    path = tmp_path / f"{name}.csv"
    leads.to_csv(path, index=False)
    return path


def test_intake_caps_count_routed_leads_by_the_reps_local_day_and_iso_week(tmp_path: Path) -> None:
    reps = [
        {"rep_id": "A", "territories": "T", "capacity": 100, "win_rate": 0.3},
        # 23:30 UTC Monday is already Tuesday in Tokyo
        {"rep_id": "B", "territories": "T", "capacity": 100, "win_rate": 0.3,
         "timezone": "Asia/Tokyo"},
    ]  # fmt: skip
    store, _ = _small(tmp_path, 0, reps)
    policy = tmp_path / "policy.yaml"
    policy.write_text("intake:\n  per_day: 2\n  per_week: 5\n")

    def routed(name: str, at: str) -> dict[str, int]:
        path = _leads_file(tmp_path, name, 10)
        out = route(
            Inputs(leads=path, reps=tmp_path / "reps.csv", policy=policy),
            tmp_path / name, store=store, at=_at(at),
        )  # fmt: skip
        by_rep: dict[str, int] = out.summary["route"]["routed_by_rep"]
        return by_rep

    assert routed("a", "2026-11-30T10:00") == {"A": 2, "B": 2}  # Monday
    assert routed("b", "2026-11-30T12:00") == {}  # the same day: both full
    # Monday 23:30 UTC: A's Monday still (full); B's Tuesday in Tokyo (2 more)
    assert routed("c", "2026-11-30T23:30") == {"B": 2}
    assert routed("d", "2026-12-01T10:00") == {"A": 2}  # A's Tuesday; B done for Tuesday
    assert routed("e", "2026-12-02T10:00") == {"A": 1, "B": 1}  # the week's 5 reached
    assert routed("f", "2026-12-03T10:00") == {}
    assert routed("g", "2026-12-07T10:00") == {"A": 2, "B": 2}  # a new ISO week


def test_working_hours_hard_and_soft(tmp_path: Path) -> None:
    reps = [
        {"rep_id": "A", "territories": "T", "capacity": 10, "win_rate": 0.30,
         "timezone": "Europe/Paris", "hours": "09-17"},
        {"rep_id": "B", "territories": "T", "capacity": 10, "win_rate": 0.31,
         "timezone": "America/New_York", "hours": "09:00-17:30"},
    ]  # fmt: skip
    store, _ = _small(tmp_path, 0, reps)
    at = "2026-12-01T10:00"  # 11:00 in Paris (A on shift), 05:00 in New York (B off)
    path = _leads_file(tmp_path, "n", 4)

    def by_rep(policy_text: str, name: str, when: str = at) -> dict[str, int]:
        policy = tmp_path / f"{name}.yaml"
        policy.write_text(policy_text)
        out = route(
            Inputs(leads=path, reps=tmp_path / "reps.csv", policy=policy),
            tmp_path / name, store=store, at=_at(when), from_run="1",  # the plan each time
        )  # fmt: skip
        found: dict[str, int] = out.summary["route"]["routed_by_rep"]
        return found

    # capacity 3 each; B owns the plan's one lead, so B has room for 2 and A for 3. Four
    # new leads of value 100: expected value 30 with A, 31 with B.
    (tmp_path / "reps.csv").write_text(
        pd.DataFrame([{**r, "capacity": 3} for r in reps]).to_csv(index=False)
    )
    assert by_rep("{}\n", "none") == {"A": 2, "B": 2}  # B's 2 first (31 > 30)
    assert by_rep("working_hours:\n  mode: hard\n", "hard") == {"A": 3}  # B off shift
    # soft: a bonus of 2 on shift makes A worth 32 > 31: A's 3 first, then 1 to B
    assert by_rep("working_hours:\n  mode: soft\n  weight: 2\n", "soft") == {"A": 3, "B": 1}
    # a bonus of 0.5 (30.5 < 31) changes nothing
    assert by_rep("working_hours:\n  mode: soft\n  weight: 0.5\n", "weak") == {"A": 2, "B": 2}
    # 15:00 UTC: 16:00 in Paris, 10:00 in New York: both on shift, hard routes to both
    both = by_rep("working_hours:\n  mode: hard\n", "both", "2026-12-01T15:00")
    assert both == {"A": 2, "B": 2}


# --- bad inputs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "cell", "said"),
    [
        ("timezone", "Mars/Olympus", "column 'timezone': 'Mars/Olympus' is not a known IANA"),
        ("hours", "9-25", "column 'hours': '9-25' is not a shift"),
        ("hours", "nine to five", "column 'hours': 'nine to five' is not a shift"),
    ],
)
def test_bad_rep_columns_exit_2_naming_row_and_column(
    tmp_path: Path, column: str, cell: str, said: str
) -> None:
    reps = [
        {"rep_id": "A", "territories": "T", "capacity": 5, "win_rate": 0.3},
        {"rep_id": "B", "territories": "T", "capacity": 5, "win_rate": 0.3},
    ]
    store, leads = _small(tmp_path, 2, reps)
    bad = pd.DataFrame(reps)
    bad[column] = ["", cell]
    bad.to_csv(tmp_path / "bad.csv", index=False)
    cli = CliRunner().invoke(
        main,
        ["route", "--leads", str(leads), "--reps", str(tmp_path / "bad.csv"),
         "--out", str(tmp_path / "r"), "--store", store],
    )  # fmt: skip
    assert cli.exit_code == 2, cli.output
    assert "bad.csv, line 3 (rep_id B)" in cli.output and said in cli.output
    assert not (tmp_path / "r").exists()


def test_bad_at_exits_2_naming_the_option(tmp_path: Path) -> None:
    reps = [{"rep_id": "A", "territories": "T", "capacity": 5, "win_rate": 0.3}]
    store, leads = _small(tmp_path, 2, reps)
    cli = CliRunner().invoke(
        main,
        ["route", "--leads", str(leads), "--reps", str(tmp_path / "reps.csv"),
         "--out", str(tmp_path / "r"), "--store", store, "--at", "2026-13-01"],
    )  # fmt: skip
    assert cli.exit_code == 2, cli.output
    assert "--at '2026-13-01' is not an ISO 8601 timestamp" in cli.output


def test_at_is_read_with_its_offset_and_naive_is_utc() -> None:
    assert parse_at("2026-12-01T10:00+02:00").isoformat() == "2026-12-01T08:00:00+00:00"
    assert parse_at("2026-12-01T10:00").isoformat() == "2026-12-01T10:00:00+00:00"


def test_capacity_prices_come_from_the_plans_reps_csv_column() -> None:
    from leadassign.app.route import capacity_prices

    ids = np.array(["A", "B", "C"], dtype=object)
    with_column = b"rep_id,capacity,capacity_value\nB,3,12.5\nA,2,\nZ,1,9\n"
    assert capacity_prices((("reps.csv", with_column),), ids).tolist() == [0.0, 12.5, 0.0]
    without = b"rep_id,capacity\nA,2\n"
    assert capacity_prices((("reps.csv", without),), ids).tolist() == [0.0, 0.0, 0.0]
    assert capacity_prices((), ids).tolist() == [0.0, 0.0, 0.0]


def test_cli_route_writes_the_new_leads_and_records_a_route_run(tmp_path: Path) -> None:
    reps = [
        {"rep_id": "A", "territories": "T", "capacity": 3, "win_rate": 0.3},
        {"rep_id": "B", "territories": "T", "capacity": 3, "win_rate": 0.2},
    ]
    store, leads = _small(tmp_path, 4, reps)
    args = ["route", "--leads", str(leads), "--reps", str(tmp_path / "reps.csv"),
            "--out", str(tmp_path / "r"), "--store", store,
            "--at", "2026-12-01T09:30+01:00"]  # fmt: skip
    cli = CliRunner().invoke(main, args)
    assert cli.exit_code == 0, cli.output
    assert "routed 4 of 4 new leads at 2026-12-01T08:30:00+00:00 against run 1" in cli.output
    routed = pd.read_csv(tmp_path / "r" / "assignments.csv", keep_default_na=False)
    assert routed["lead_id"].tolist() == ["L001", "L002", "L003", "L004"]  # not the owned L000
    assert set(routed["reason"]) == {"routed"}
    # A (0.3) owns L000 and takes 2 more; B the other 2
    assert routed["rep_id"].value_counts().to_dict() == {"A": 2, "B": 2}
    with Store(store) as opened:
        run = opened.run("latest")
        assert run.command == "route" and run.from_run == 1
        assert len(opened.assignment(run)) == 5  # the whole book
    again = CliRunner().invoke(main, [*args[:-2], "--at", "2026-12-01T09:30+01:00", "--json"])
    assert again.exit_code == 0
    assert '"rerun_of": 2' in again.output


def test_a_rep_away_on_the_run_date_gets_no_routed_lead_but_keeps_the_book(
    tmp_path: Path,
) -> None:
    reps = [
        {"rep_id": "A", "territories": "T", "capacity": 20, "win_rate": 0.3,
         "away_from": "2026-12-01", "away_until": "2026-12-03"},
        {"rep_id": "B", "territories": "T", "capacity": 20, "win_rate": 0.2},
    ]  # fmt: skip
    store, _ = _small(tmp_path, 0, reps)

    def routed(name: str, at: str) -> dict[str, int]:
        path = _leads_file(tmp_path, name, 4)
        out = route(
            Inputs(leads=path, reps=tmp_path / "reps.csv"), tmp_path / name, store=store,
            at=_at(at),
        )  # fmt: skip
        assert out.summary["route"]["owned_moved"] == 0
        by_rep: dict[str, int] = out.summary["route"]["routed_by_rep"]
        return by_rep

    assert routed("away", "2026-12-02T10:00") == {"B": 4}  # A away: everything to B
    assert routed("back", "2026-12-04T10:00") == {"A": 4}  # A back, the better rate


def test_sla_releases_owned_leads_at_route_to_another_rep_unless_the_owner_is_the_only_one(
    tmp_path: Path,
) -> None:
    """issue 25 §2: owned leads in --leads untouched past sla.untouched_hours go back into
    route's pool (reason sla_release, counted in summary.json): to another rep, or back to
    the owner when no one else may take them; fresh owned leads stay. The whole book
    passes the independent checker, which recomputes the SLA from the run time."""
    leads = pd.DataFrame(
        {
            "lead_id": ["old1", "old2", "fresh", "lone", "new1", "new2"],
            "territory": ["T", "T", "T", "U", "T", "T"],
            "value": [100.0, 90.0, 80.0, 70.0, 60.0, 50.0],
            "last_activity": ["2026-11-28T09:00", "2026-11-29T08:00", "2026-11-30T08:00",
                              "2026-11-28T09:00", "", ""],
        }
    )  # fmt: skip
    reps = pd.DataFrame(
        {"rep_id": ["A", "B", "C"], "territories": ["*", "T", "T"], "capacity": [4, 2, 2],
         "win_rate": [0.5, 0.3, 0.2]}
    )  # fmt: skip
    leads.iloc[:4].to_csv(tmp_path / "plan.csv", index=False)
    leads.to_csv(tmp_path / "all.csv", index=False)
    reps.to_csv(tmp_path / "reps.csv", index=False)
    reps.iloc[:1].to_csv(tmp_path / "plan_reps.csv", index=False)
    (tmp_path / "policy.yaml").write_text("sla:\n  untouched_hours: 24\n")
    store = str(tmp_path / "h.db")
    plan_inputs = Inputs(leads=tmp_path / "plan.csv", reps=tmp_path / "plan_reps.csv")
    runs.run("solve", plan_inputs, tmp_path / "plan", store=store)  # A alone: all four
    with Store(store) as opened:
        plan = opened.assignment(opened.run("latest")).set_index("lead_id")["rep_id"]
    assert set(plan) == {"A"}
    inputs = Inputs(
        leads=tmp_path / "all.csv", reps=tmp_path / "reps.csv", policy=tmp_path / "policy.yaml"
    )
    out = route(inputs, tmp_path / "r", store=store, at=MONDAY)
    block = out.summary["route"]
    assert block["sla_released"] == 3 and block["sla_back_to_owner"] == 1  # old1, old2, lone
    table = pd.read_csv(tmp_path / "r" / "assignments.csv", keep_default_na=False)
    got = dict(zip(table["lead_id"], table["rep_id"], strict=True))
    why = dict(zip(table["lead_id"], table["reason"], strict=True))
    assert set(got) == {"old1", "old2", "lone", "new1", "new2"}  # fresh stays, not listed
    assert got["old1"] in {"B", "C"} and got["old2"] in {"B", "C"}
    assert why["old1"] == why["old2"] == "sla_release"
    assert got["lone"] == "A"  # A is the only rep of territory U
    assert out.summary["operations"]["sla_expired"] == 3
    with Store(store) as opened:
        book = opened.assignment(opened.run("latest")).set_index("lead_id")["rep_id"]
    assert book["fresh"] == "A"
    problem, policy = load(inputs)
    owned = with_previous_owners(problem, plan.reset_index()).problem
    dated = apply_operations(owned, policy, MONDAY)
    check = check_assignment(dated, policy, [book[i] for i in problem.leads.ids])
    assert check.ok, check.violations
    # the checker sees a released lead back with its owner when someone else could take it
    wrong = [("A" if i == "old1" else book[i]) for i in problem.leads.ids]
    assert not check_assignment(dated, policy, wrong).ok


@pytest.mark.parametrize("value", [".inf", ".nan", "1e300"])
def test_working_hours_weight_must_be_finite_and_bounded(tmp_path: Path, value: str) -> None:
    reps = [{"rep_id": "A", "territories": "T", "capacity": 5, "win_rate": 0.3}]
    store, leads = _small(tmp_path, 2, reps)
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"working_hours:\n  weight: {value}\n")
    cli = CliRunner().invoke(
        main,
        ["route", "--leads", str(leads), "--reps", str(tmp_path / "reps.csv"), "--policy",
         str(policy), "--out", str(tmp_path / "r"), "--store", store],
    )  # fmt: skip
    assert cli.exit_code == 2, cli.output
    assert "working_hours.weight" in cli.output
    assert not (tmp_path / "r").exists()


def test_route_json_ends_with_solves_done_event(tmp_path: Path) -> None:
    """--json: route ends as solve does (``cli.report.log_outcome``): done with the exit
    code, the run, and ``interrupted``, then the summary."""
    reps = [{"rep_id": "A", "territories": "T", "capacity": 5, "win_rate": 0.3}]
    store, leads = _small(tmp_path, 2, reps)
    cli = CliRunner().invoke(
        main,
        ["route", "--leads", str(leads), "--reps", str(tmp_path / "reps.csv"),
         "--out", str(tmp_path / "r"), "--store", store, "--json"],
    )  # fmt: skip
    events = [json.loads(line) for line in cli.stderr.splitlines() if line.startswith("{")]
    assert cli.exit_code == 0, cli.output
    assert [e["event"] for e in events][-2:] == ["done", "summary"]
    done = events[-2]
    assert done["exit_code"] == 0 and done["run"] == 2 and done["from_run"] == 1
    assert "interrupted" in done and done["interrupted"] is None


def test_a_hard_band_route_cannot_meet_never_drops_an_owned_lead(tmp_path: Path) -> None:
    reps = [
        {"rep_id": "A", "territories": "T", "capacity": 5, "win_rate": 0.3},
        {"rep_id": "B", "territories": "U", "capacity": 5, "win_rate": 0.3},
    ]
    store, leads = _small(tmp_path, 2, reps[:1])
    (tmp_path / "reps.csv").write_text(pd.DataFrame(reps).to_csv(index=False))
    policy = tmp_path / "policy.yaml"
    policy.write_text("fairness:\n  metric: count\n  band: 0\n  mode: hard\n")
    inputs = Inputs(leads=leads, reps=tmp_path / "reps.csv", policy=policy)
    out = route(inputs, tmp_path / "r", store=store, at=MONDAY)
    # the solve over the book meets the band only by dropping A's owned leads: no route answer
    assert out.status.value == "UNKNOWN"
    assert out.result is not None and not out.result.has_solution
    assert any("owned lead" in c and "rebalance" in c for c in out.result.conflicts)
    with Store(store) as opened, opened.engine.connect() as conn:
        plan = opened.latest_with_assignment(conn)
        assert plan is not None and plan.command == "solve"  # the plan's book still stands
    cli = CliRunner().invoke(
        main,
        ["route", "--leads", str(leads), "--reps", str(tmp_path / "reps.csv"),
         "--policy", str(policy), "--out", str(tmp_path / "r2"), "--store", store],
    )  # fmt: skip
    assert cli.exit_code == 4, cli.output
    assert "(UNKNOWN)" in cli.stderr and "L000" in cli.stderr and "rebalance" in cli.stderr
    logged = CliRunner().invoke(
        main,
        ["route", "--leads", str(leads), "--reps", str(tmp_path / "reps.csv"),
         "--policy", str(policy), "--out", str(tmp_path / "r3"), "--store", store, "--json"],
    )  # fmt: skip
    events = [json.loads(line) for line in logged.stderr.splitlines() if line.startswith("{")]
    error = next(e for e in events if e["event"] == "error")
    assert error["exit_code"] == 4 and "L000" in error["message"]
    # the same route again (same --at): a re-run of the refused run says why, not "time limit"
    args = ["route", "--leads", str(leads), "--reps", str(tmp_path / "reps.csv"),
            "--policy", str(policy), "--store", store, "--at", MONDAY.isoformat()]  # fmt: skip
    first = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "r4")])
    again = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "r5")])
    assert first.exit_code == again.exit_code == 4, again.output
    assert "not solved again" in again.stdout
    assert "L000" in again.stderr and "rebalance" in again.stderr
    assert "time limit" not in again.stderr
