"""Never a silent wrong answer from the solver (issue 21, category 4): a feasible assignment
any stage found is kept, the figures are the same run after run under the deterministic work
limit (machine load aside), summary.json says what cut the search (``limited_by``), and the
time limit holds for --price-rules and the explanation of an infeasible book too."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from leadassign import Policy, load_problem, solve
from leadassign.check import check_assignments
from leadassign.cli import main
from leadassign.compile.prepare import prepare
from leadassign.control import budget
from leadassign.control.stop import Stop
from leadassign.engines.cpsat import CpSatSettings, solve_cpsat
from leadassign.models.policy import policy_from_mapping
from leadassign.result import Status
from leadassign.solve.explain import explain
from leadassign.solve.prices import price_rules
from tests.helpers import lead, problem_of, rep

#: The generous guard of every run: it fails only when a run hangs or overruns grossly.
HANG_S = 60
#: summary.json keys that are timings (everything else must be byte-for-byte the same).
TIMINGS = ("build_s", "solve_s")


def write_book(folder: Path, n: int, m: int, seed: int) -> tuple[Path, Path]:
    """A book with efforts, accounts and territories (no flow solves it exactly)."""
    rng = np.random.default_rng(seed)
    territories = np.array(["N", "S", "E"])
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i:05d}" for i in range(n)],
            "territory": territories[rng.integers(0, 3, n)],
            "value": rng.integers(100, 10_000, n).astype(float),
            "account_id": [f"A{k:04d}" for k in rng.integers(0, n // 3, n)],
            "effort": rng.integers(1, 6, n),
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": [f"R{j:03d}" for j in range(m)],
            "territories": [
                ";".join(sorted(territories[rng.choice(3, 2, replace=False)])) for _ in range(m)
            ],
            "capacity": rng.integers(10, 30, m) * max(n // 300, 1),
            "win_rate": rng.uniform(0.1, 0.6, m).round(3),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    leads.to_csv(folder / "leads.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    return folder / "leads.csv", folder / "reps.csv"


def write_policy(path: Path, policy: dict[str, Any]) -> Path:
    path.write_text(json.dumps(policy))  # JSON is YAML
    return path


ACCOUNTS = {"accounts": {"together": True}}
HARD = {
    "accounts": {"together": True},
    "fairness": {"metric": "count", "band": 0.2, "mode": "hard"},
}


def cli_solve(
    tmp_path: Path, book: tuple[Path, Path], policy: Path, out: Path, *flags: str
) -> tuple[int, dict[str, Any], str]:
    """``leadassign solve`` in this process (click's runner): exit code, summary, output."""
    leads, reps = book
    args = ["solve", "--leads", str(leads), "--reps", str(reps), "--policy", str(policy)]
    run = CliRunner().invoke(main, [*args, "--out", str(out), "--no-store", *flags])
    summary = json.loads((out / "summary.json").read_text()) if out.exists() else {}
    return run.exit_code, summary, run.output


# --- a solution found is never thrown away --------------------------------------------------


def test_cpsat_cut_short_keeps_the_feasible_start(tmp_path: Path) -> None:
    """CP-SAT with next to no work finds nothing in its count phase: its feasible start (a
    flow's, a draft's, HiGHS') is the answer, not UNKNOWN."""
    leads, reps = write_book(tmp_path, 300, 12, seed=7)
    problem = load_problem(leads, reps)
    policy = policy_from_mapping(ACCOUNTS)
    prep = prepare(problem, policy)
    pairs = prep.pairs
    # a feasible start: every 7th pair, cut back to the capacities
    start = np.zeros(len(pairs), dtype=bool)
    taken = np.zeros(int(pairs.unit.max()) + 1, dtype=bool)
    load = np.zeros(len(pairs.capacity), dtype=np.int64)
    for k in np.flatnonzero(np.arange(len(pairs)) % 7 == 0).tolist():  # a few dozen pairs
        j, u = int(pairs.rep[k]), int(pairs.unit[k])
        if not taken[u] and load[j] + int(pairs.effort[k]) <= int(pairs.capacity[j]):
            start[k], taken[u] = True, True
            load[j] += int(pairs.effort[k])
    assert prep.side.feasible(pairs, start) and 0 < int(pairs.size[start].sum()) < len(pairs)
    with budget.metering(budget.Meter(1e-4, 60)) as meter:
        out = solve_cpsat(pairs, CpSatSettings(time_limit_s=60), start, len(pairs), prep.side)
    assert out.status == "FEASIBLE" and out.chosen is not None
    assert prep.side.feasible(pairs, out.chosen)
    assert int(pairs.size[out.chosen].sum()) >= int(pairs.size[start].sum())
    assert meter.limited_by(proven=False) == "work"


def test_cpsat_cut_short_does_not_answer_with_an_empty_start(tmp_path: Path) -> None:
    """An empty start meets a hard band (all zero), but it is no answer: cut short, CP-SAT
    says UNKNOWN rather than FEASIBLE with every lead unassigned."""
    leads, reps = write_book(tmp_path, 300, 12, seed=7)
    problem = load_problem(leads, reps)
    prep = prepare(problem, policy_from_mapping(HARD))
    empty = np.zeros(len(prep.pairs), dtype=bool)
    assert prep.side.feasible(prep.pairs, empty)
    with budget.metering(budget.Meter(1e-6, 60)):
        out = solve_cpsat(prep.pairs, CpSatSettings(time_limit_s=60), empty, 300, prep.side)
    assert out.status == "UNKNOWN" and out.chosen is None


def test_solve_cut_short_answers_with_the_incumbent(tmp_path: Path) -> None:
    """Through the CLI: a solve whose CP-SAT search is cut before it finds anything writes
    the best assignment an earlier stage found (FEASIBLE, exit 0), which meets every rule."""
    book = write_book(tmp_path / "book", 300, 12, seed=7)
    policy = write_policy(tmp_path / "policy.yaml", ACCOUNTS)
    out = tmp_path / "out"
    code, summary, output = cli_solve(
        tmp_path, book, policy, out, "--method", "cpsat", "--work-limit", "0.0001"
    )
    assert code == 0, output
    assert summary["status"] == "FEASIBLE" and summary["limited_by"] == "work"
    assert summary["assigned"] > 0
    assignments = pd.read_csv(
        out / "assignments.csv",
        dtype={"rep_id": str},
        keep_default_na=False,
        na_values={"expected_value": [""]},
    )
    problem = load_problem(book[0], book[1])
    check = check_assignments(problem, policy_from_mapping(ACCOUNTS), assignments)
    assert check.ok, check.violations
    assert check.assigned == summary["assigned"]


def test_unknown_only_when_no_stage_found_an_assignment() -> None:
    """A hard band with floors that no start meets and no work to search: UNKNOWN (exit 4
    territory), never a made-up answer."""
    p = problem_of(
        [lead(f"L{i}", 1 + i % 5, "A" if i % 2 else "B") for i in range(40)],
        [rep(f"R{j}", 12, "A;B", min_leads=6) for j in range(4)],
    )
    policy = policy_from_mapping({"fairness": {"band": 0.0, "mode": "hard"}})
    result = solve(p, policy, method="cpsat", work_limit=1e-6)
    if result.status == Status.UNKNOWN:
        assert result.objective is None and result.limited_by == "work"
    else:  # an earlier stage found one after all: it must hold every rule
        assert result.has_solution and result.assigned > 0
        assert check_assignments(p, policy, result.assignments).ok


def test_an_empty_start_is_no_answer(tmp_path: Path) -> None:
    """A hard band is met by assigning nothing; cut short with only that, the run is
    UNKNOWN (exit 4, nothing but summary.json), never a FEASIBLE file releasing every lead."""
    book = write_book(tmp_path / "book", 300, 12, seed=7)
    policy = write_policy(tmp_path / "policy.yaml", HARD)
    for method in ("auto", "cpsat"):
        out = tmp_path / method
        code, summary, output = cli_solve(
            tmp_path, book, policy, out, "--method", method, "--work-limit", "0.000001"
        )
        assert code in (0, 4), output
        if code == 4:
            assert summary["status"] == "UNKNOWN" and summary["limited_by"] == "work"
            assert "--work-limit" in output
            assert sorted(p.name for p in out.iterdir()) == [
                ".leadassign-manifest.json",
                "summary.json",
            ]
        else:
            assert summary["status"] == "FEASIBLE" and summary["assigned"] > 0


# --- the same figures and bytes, run after run ------------------------------------------------


def _solve_process(leads: Path, reps: Path, policy: Path, out: Path) -> subprocess.Popen[bytes]:
    args = ["solve", "--leads", str(leads), "--reps", str(reps), "--policy", str(policy)]
    return subprocess.Popen(
        [sys.executable, "-m", "leadassign", *args, "--out", str(out), "--no-store"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_same_inputs_same_figures_and_bytes_under_load(tmp_path: Path) -> None:
    """The same hard book twice, the second time with a busy loop taking a core: identical
    status, objective, bound, gap and output bytes (the work limit, not the clock, ends it)."""
    leads, reps = write_book(tmp_path / "book", 600, 20, seed=11)
    policy = write_policy(
        tmp_path / "policy.yaml",
        {**ACCOUNTS, "solver": {"work_limit": 2, "time_limit_s": 120, "workers": 2}},
    )
    quiet = _solve_process(leads, reps, policy, tmp_path / "quiet")
    assert quiet.wait(timeout=HANG_S * 2) == 0, quiet.stderr.read() if quiet.stderr else ""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        loaded = _solve_process(leads, reps, policy, tmp_path / "loaded")
        assert loaded.wait(timeout=HANG_S * 2) == 0, loaded.stderr.read() if loaded.stderr else ""
    finally:
        busy.kill()
        busy.wait(timeout=HANG_S)
    first = json.loads((tmp_path / "quiet" / "summary.json").read_text())
    second = json.loads((tmp_path / "loaded" / "summary.json").read_text())
    assert first["limited_by"] in (None, "work") and first["assigned"] > 0
    for key in TIMINGS:
        first.pop(key), second.pop(key)
    assert first == second
    for name in ("assignments.csv", "reps.csv"):
        assert (tmp_path / "quiet" / name).read_bytes() == (tmp_path / "loaded" / name).read_bytes()


# --- limited_by says what cut the search ---------------------------------------------------


def test_limited_by_is_null_for_a_proven_answer(tmp_path: Path) -> None:
    p = problem_of([lead("L1", 5), lead("L2", 3)], [rep("R1", 1), rep("R2", 1)])
    result = solve(p)
    assert result.status == Status.OPTIMAL
    assert result.summary()["limited_by"] is None


def test_limited_by_time_when_the_clock_cuts_first(tmp_path: Path) -> None:
    """Next to no time and all the work in the world: the clock ends it, and says so; the
    run still ends near its limit (a generous guard, not a timing assertion)."""
    book = write_book(tmp_path / "book", 2400, 40, seed=3)
    policy = write_policy(tmp_path / "policy.yaml", HARD)
    started = time.monotonic()
    code, summary, output = cli_solve(
        tmp_path, book, policy, tmp_path / "out", "--time-limit", "1", "--work-limit", "100000"
    )
    assert time.monotonic() - started < HANG_S
    assert code in (0, 4), output
    assert summary["limited_by"] == "time"


def test_limited_by_stop_when_stopped() -> None:
    p = problem_of(
        [lead(f"L{i}", 1 + i, "A", effort=1 + i % 3) for i in range(30)],
        [rep(f"R{j}", 9, "A") for j in range(4)],
    )
    stop = Stop()
    stop.set("SIGTERM")
    result = solve(p, Policy(), stop=stop)
    assert result.limited_by == "stop" and result.interrupted == "SIGTERM"


def test_work_limit_is_checked_on_the_command_line(tmp_path: Path) -> None:
    book = write_book(tmp_path / "book", 30, 3, seed=1)
    policy = write_policy(tmp_path / "policy.yaml", {})
    for bad in ("0", "-1", "nan", "inf"):
        code, _, output = cli_solve(tmp_path, book, policy, tmp_path / bad, "--work-limit", bad)
        assert code == 2, output
        assert "--work-limit" in output or "'work_limit' = " in output
    bad_policy = write_policy(tmp_path / "bad.yaml", {"solver": {"work_limit": 0}})
    code, _, output = cli_solve(tmp_path, book, bad_policy, tmp_path / "p0")
    assert code == 2 and "work_limit" in output


# --- --price-rules and the explanation stay within the limit and stop ------------------------


def test_price_rules_share_the_time_limit(tmp_path: Path) -> None:
    """Three hard rules to price on a book the 3 s limit cannot finish: the run ends near
    its limit instead of solving three more books at full length."""
    book = write_book(tmp_path / "book", 2400, 40, seed=5)
    policy = write_policy(tmp_path / "policy.yaml", HARD)
    frame = pd.read_csv(book[1])
    frame["min_leads"] = 2
    frame.to_csv(book[1], index=False)
    started = time.monotonic()
    code, summary, output = cli_solve(
        tmp_path,
        book,
        policy,
        tmp_path / "out",
        "--price-rules",
        "--time-limit",
        "3",
        "--work-limit",
        "100000",
    )
    assert time.monotonic() - started < HANG_S
    assert code in (0, 4), output
    assert summary["limited_by"] == "time"
    if code == 0:
        prices = summary["price_of_rules"]
        assert set(prices) == {"min_leads", "fairness", "accounts"}
        for entry in prices.values():
            assert entry["limited_by"] in ("time", None)


def test_price_rules_honour_the_stop_token() -> None:
    p = problem_of(
        [lead(f"L{i}", 1 + i, "A", account_id=f"A{i // 2}") for i in range(30)],
        [rep(f"R{j}", 9, "A", min_leads=2) for j in range(4)],
    )
    policy = policy_from_mapping({"accounts": {"together": True}})
    result = solve(p, policy)
    assert result.has_solution
    stop = Stop()
    timer = threading.Timer(0.0, stop.set, args=("SIGTERM",))
    timer.start()
    timer.join()
    priced = price_rules(result, stop)
    assert priced.prices is not None and set(priced.prices) == {"min_leads", "accounts"}
    for entry in priced.prices.values():
        assert entry["status"] == "UNKNOWN" and entry["limited_by"] == "stop"


def _infeasible_book() -> tuple[Any, Policy]:
    # R3's floor and the band need R1 + R2 to hold 4 leads where only 2 exist (no pre-check
    # catches it: CP-SAT proves it, then the explanation searches for the conflict).
    p = problem_of(
        [lead("A1", 1, "A"), lead("A2", 1, "A"), *(lead(f"C{i}", 1, "C") for i in range(3))],
        [rep("R1", 2, "A"), rep("R2", 2, "A"), rep("R3", 2, "C", min_leads=2)],
    )
    return p, policy_from_mapping({"fairness": {"band": 0, "mode": "hard"}})


def test_explanation_keeps_to_the_work_and_the_stop() -> None:
    problem, policy = _infeasible_book()
    solved = solve(problem, policy)
    assert solved.status == Status.INFEASIBLE and solved.conflicts
    assert "min_leads 2 for R3" in solved.conflicts[0]
    prep = prepare(problem, policy)
    # no work left: the general message at once, not a search past the limit
    with budget.metering(budget.Meter(0.0, 60)):
        told = explain(problem, policy, prep, policy.solver, 60)
    assert len(told) == 1 and "cannot all hold" in told[0]
    assert "no smaller conflict was isolated" in told[0]
    # stopped: the same, at once
    stop = Stop()
    stop.set("SIGINT")
    from leadassign.control.stop import active

    started = time.monotonic()
    with active(stop):
        told = explain(problem, policy, prep, policy.solver, 3600)
    assert time.monotonic() - started < HANG_S
    assert "no smaller conflict was isolated" in told[0]


@pytest.mark.parametrize("work", ["0.5", "3"])
def test_work_limit_reported_in_the_policy_echo(tmp_path: Path, work: str) -> None:
    book = write_book(tmp_path / "book", 60, 4, seed=2)
    policy = write_policy(tmp_path / "policy.yaml", ACCOUNTS)
    code, summary, output = cli_solve(tmp_path, book, policy, tmp_path / "o", "--work-limit", work)
    assert code == 0, output
    assert summary["policy"]["solver"]["work_limit"] == float(work)
    assert summary["limited_by"] in (None, "work")


def test_compare_time_limit_is_shared_by_its_runs(tmp_path: Path) -> None:
    """``compare --time-limit T``: the runs' own limits (echoed in each run's summary.json)
    add up to at most T, instead of T per run."""
    write_book(tmp_path / "book", 400, 12, seed=9)
    scenario = {
        "base": {
            "leads": "book/leads.csv",
            "reps": "book/reps.csv",
            "policy": {**HARD, "solver": {"work_limit": 100000}},
        },
        "variants": {
            f"band-{k}": {"policy": {"fairness": {"band": 0.1 + 0.1 * k}}} for k in range(4)
        },
    }
    path = write_policy(tmp_path / "scenario.yaml", scenario)
    started = time.monotonic()
    run = CliRunner().invoke(
        main, ["compare", str(path), "--out", str(tmp_path / "out"), "--time-limit", "6"]
    )
    assert time.monotonic() - started < HANG_S
    assert run.exit_code in (0, 4), run.output
    limits = [
        json.loads(summary.read_text())["policy"]["solver"]["time_limit_s"]
        for summary in (tmp_path / "out").glob("*/summary.json")
    ]
    assert len(limits) == 5
    assert sum(limits) <= 6
