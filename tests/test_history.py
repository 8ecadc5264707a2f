"""The run history (leadassign.store): recording, re-runs, rebalancing from the last run,
history/show/diff/export, the store's lock, SIGTERM mid-solve, and the JSON event log.

Every store test runs on SQLite, and on PostgreSQL when ``LEADASSIGN_TEST_POSTGRES`` names a
reachable server (``.ci/run`` starts Debian's on loopback); each test starts from an empty
schema. The figures are checked against independent computations from the output files:
a rebalance must equal a plain ``solve`` of the same leads with last week's owners written
into their ``current_owner`` column by pandas.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from leadassign import load_problem
from leadassign.app.export import export, read_owner_map
from leadassign.app.history import owner_changes
from leadassign.check import check_assignment
from leadassign.cli import main
from leadassign.errors import InputError
from leadassign.models.policy import load_policy
from leadassign.models.problem import with_previous_owners
from leadassign.store import Store, StoreBusy, StoreError
from leadassign.store.db import SCHEMA_VERSION, metadata, schema_table

BOOK = Path(__file__).resolve().parents[1] / "examples" / "book"
POSTGRES = os.environ.get("LEADASSIGN_TEST_POSTGRES")


def _postgres_reachable() -> bool:
    if not POSTGRES:
        return False
    try:
        engine = sa.create_engine(POSTGRES)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store: a SQLite file, or the test PostgreSQL with no leadassign tables."""
    if request.param == "sqlite":
        yield str(tmp_path / "store" / "history.db")
        return
    if not _postgres_reachable():
        pytest.skip("no PostgreSQL server (set LEADASSIGN_TEST_POSTGRES; .ci/run starts one)")
    assert POSTGRES is not None
    engine = sa.create_engine(POSTGRES)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        schema_table.drop(conn, checkfirst=True)
    engine.dispose()
    yield POSTGRES


def cli(*args: str, store: str) -> Any:
    return CliRunner().invoke(main, [*args, "--store", store], catch_exceptions=False)


# -- the book of four weeks -------------------------------------------------------------------


def weekly_books(folder: Path) -> list[dict[str, Path]]:
    """Four weekly books made from examples/book: the first 260 leads; then leads come and go,
    values change, a rep goes on leave and comes back, a rep joins."""
    leads = pd.read_csv(BOOK / "leads.csv", dtype=str, keep_default_na=False)
    reps = pd.read_csv(BOOK / "reps.csv", dtype=str, keep_default_na=False)
    weeks: list[tuple[pd.DataFrame, pd.DataFrame]] = []
    week1 = leads.iloc[:260]
    weeks.append((week1, reps))
    week2 = pd.concat([leads.iloc[10:260], leads.iloc[260:280]])  # 10 gone, 20 new
    week2 = week2.assign(
        value=np.where(
            week2["industry"] == "retail",
            (week2["value"].astype(float) * 1.4).round(2).astype(str),
            week2["value"],
        )
    )
    weeks.append((week2, reps))
    on_leave = reps.copy()
    on_leave.loc[on_leave["rep_id"] == "R0003", "available"] = "false"
    weeks.append((pd.concat([week2.iloc[5:], leads.iloc[280:290]]), on_leave))
    joined = pd.concat(
        [
            reps,
            pd.DataFrame(
                [
                    {
                        **reps.iloc[1].to_dict(),
                        "rep_id": "R0099",
                        "name": "Zoe",
                        "capacity": "20",
                    }
                ]
            ),
        ]
    )
    weeks.append((pd.concat([weeks[2][0].iloc[3:], leads.iloc[290:300]]), joined))
    files = []
    for k, (week_leads, week_reps) in enumerate(weeks, start=1):
        paths = {"leads": folder / f"leads{k}.csv", "reps": folder / f"reps{k}.csv"}
        week_leads.to_csv(paths["leads"], index=False)
        week_reps.to_csv(paths["reps"], index=False)
        files.append(paths)
    return files


POLICY = {
    "fairness": {"metric": "count", "band": 0.5},
    "continuity": {"max_reassign": 0.1},
    "solver": {"time_limit_s": 30},
}


def assignments(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)


def summary(out: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return loaded


def test_four_weeks(store_url: str, tmp_path: Path) -> None:
    """solve, then three rebalances on changing books, each from the store's last run:
    each equals a plain solve with last week's owners as current_owner; history, show,
    diff and export give the right rows; the same week again is a re-run."""
    books = weekly_books(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    affinity = str(BOOK / "affinity.csv")
    outs = [tmp_path / f"week{k}" for k in range(1, 5)]
    for k, (book, out) in enumerate(zip(books, outs, strict=True)):
        command = "solve" if k == 0 else "rebalance"
        args = [command, "--leads", str(book["leads"]), "--reps", str(book["reps"])]
        args += ["--affinity", affinity, "--policy", str(policy), "--out", str(out)]
        result = cli(*args, store=store_url)
        assert result.exit_code == 0, result.output
        assert f"recorded as run {k + 1}" in result.output
        if k == 0:
            continue
        # independently: last week's owners written into the leads file by pandas
        before = assignments(outs[k - 1])[["lead_id", "rep_id"]]
        leads = pd.read_csv(book["leads"], dtype=str, keep_default_na=False)
        reps = pd.read_csv(book["reps"], dtype=str, keep_default_na=False)
        owner = leads["lead_id"].map(dict(zip(before["lead_id"], before["rep_id"], strict=True)))
        owner = owner.fillna("").where(owner.isin(reps["rep_id"]), "")
        by_hand = tmp_path / f"by_hand{k + 1}.csv"
        leads.assign(current_owner=owner).to_csv(by_hand, index=False)
        plain = tmp_path / f"plain{k + 1}"
        again = [
            "solve", "--leads", str(by_hand), "--reps", str(book["reps"]), "--affinity",
            affinity, "--policy", str(policy), "--out", str(plain), "--no-store",
        ]  # fmt: skip
        assert CliRunner().invoke(main, again).exit_code == 0
        mine, theirs = assignments(out), assignments(plain)
        assert mine["lead_id"].tolist() == theirs["lead_id"].tolist()
        assert mine["rep_id"].tolist() == theirs["rep_id"].tolist()
        assert mine["reason"].tolist() == theirs["reason"].tolist()
        got, want = summary(out), summary(plain)
        for figure in ("status", "assigned", "expected_value", "reassigned", "kept", "churn"):
            assert got[figure] == want[figure], figure
        # the hard rules hold, the churn limit among them (independent checker)
        problem = load_problem(by_hand, book["reps"], affinity, policy=load_policy(policy))
        check = check_assignment(problem, load_policy(policy), mine["rep_id"].tolist())
        assert not check.violations, check.violations[:3]
        # leads that vanished, and the counts in summary.json
        gone = sorted(set(before["lead_id"]) - set(leads["lead_id"]))
        vanished = pd.read_csv(out / "vanished.csv", dtype=str, keep_default_na=False)
        assert sorted(vanished["lead_id"]) == gone
        rebalanced = got["rebalance"]
        assert rebalanced["from_run"] == k
        assert rebalanced["vanished_leads"] == len(gone)
        assert rebalanced["new_leads"] == int((~leads["lead_id"].isin(before["lead_id"])).sum())
        assert rebalanced["owners_carried"] == int((owner != "").sum())
    # week 3 sent R0003 on leave: its leads could not stay
    assert (assignments(outs[2])["rep_id"] != "R0003").all()

    # history: four runs, newest first, each rebalance from the one before
    listed = cli("history", "--json", store=store_url)
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [r["run"] for r in rows] == [4, 3, 2, 1]
    assert [r["command"] for r in rows] == ["rebalance"] * 3 + ["solve"]
    assert [r["from_run"] for r in rows] == [3, 2, 1, None]
    assert all(r["rerun_of"] is None for r in rows)
    assert [r["assigned"] for r in rows] == [summary(o)["assigned"] for o in reversed(outs)]
    shown = cli("show", "3", store=store_url)
    assert shown.exit_code == 0 and "owners from run 2" in shown.output
    as_json = cli("show", "latest", "--json", store=store_url)
    assert json.loads(as_json.output)["expected_value"] == summary(outs[3])["expected_value"]

    # diff: against the two weeks' assignments.csv
    diffed = cli("diff", "2", "3", store=store_url)
    assert diffed.exit_code == 0
    table = pd.read_csv(io.StringIO(diffed.stdout), dtype=str, keep_default_na=False)
    a, b = assignments(outs[1]), assignments(outs[2])
    owner_a = dict(zip(a["lead_id"], a["rep_id"], strict=True))
    owner_b = dict(zip(b["lead_id"], b["rep_id"], strict=True))
    expected = {
        lead: (owner_a.get(lead, ""), owner_b.get(lead, ""))
        for lead in set(owner_a) | set(owner_b)
        if owner_a.get(lead, "") != owner_b.get(lead, "") or (lead in owner_a) != (lead in owner_b)
    }
    got_rows = {
        row.lead_id: (row.rep_before, row.rep_after) for row in table.itertuples(index=False)
    }
    assert got_rows == expected
    assert set(table.loc[~table["lead_id"].isin(b["lead_id"]), "change"]) <= {"vanished"}
    # a lead only in the second run: new when assigned, added when not
    assert set(table.loc[~table["lead_id"].isin(a["lead_id"]), "change"]) <= {"added", "new"}

    # export: week 3's owner changes, through an owner map
    reps3 = pd.read_csv(books[2]["reps"], dtype=str)
    owner_map = tmp_path / "users.csv"
    pd.DataFrame({"rep_id": reps3["rep_id"], "owner_id": "005" + reps3["rep_id"].str[1:]}).to_csv(
        owner_map, index=False
    )
    sf = tmp_path / "sf.csv"
    made = cli("export", "3", "--format", "salesforce", "--owner-map", str(owner_map),
               "--out", str(sf), store=store_url)  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "warning" not in made.stderr  # the owner map names every user id
    file = pd.read_csv(sf, dtype=str, keep_default_na=False)
    assert file.columns.tolist() == ["Id", "OwnerId"]
    week3 = assignments(outs[2])
    before3 = dict(
        zip(assignments(outs[1])["lead_id"], assignments(outs[1])["rep_id"], strict=True)
    )
    reps_now = set(reps3["rep_id"])
    previous = week3["lead_id"].map(lambda lead: before3.get(lead, ""))
    previous = previous.where(previous.isin(reps_now), "")
    changed = week3[(week3["rep_id"] != previous) & (week3["rep_id"] != "")]
    assert file["Id"].tolist() == changed["lead_id"].tolist()
    assert file["OwnerId"].tolist() == ("005" + changed["rep_id"].str[1:]).tolist()
    hub = cli("export", "3", "--format", "hubspot", "--all", store=store_url)
    lines = hub.stdout.splitlines()
    assert lines[0] == "Record ID,Contact owner"
    assert len(lines) - 1 == int((week3["rep_id"] != "").sum())  # unassigned leads left out
    assert "left out:" in hub.stderr or (week3["rep_id"] != "").all()
    # without --owner-map, the rep ids are the user ids: said once, naming the option
    warned = [line for line in hub.stderr.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "--owner-map" in warned[0], hub.stderr
    assert f"owner column, {len(lines) - 1} rows" in warned[0]

    # the same week again: a re-run of run 4, the same files, no second assignment
    manifest = ".leadassign-manifest.json"  # says which run wrote the folder: not the same
    before_bytes = {p.name: p.read_bytes() for p in outs[3].iterdir() if p.name != manifest}
    again_out = tmp_path / "week4-again"
    args = ["rebalance", "--leads", str(books[3]["leads"]), "--reps", str(books[3]["reps"])]
    args += ["--affinity", affinity, "--policy", str(policy), "--out", str(again_out)]
    repeated = cli(*args, store=store_url)
    assert repeated.exit_code == 0 and "re-run of 4" in repeated.output
    assert {p.name: p.read_bytes() for p in again_out.iterdir() if p.name != manifest} == (
        before_bytes
    )
    rows = [
        json.loads(line) for line in cli("history", "--json", store=store_url).stdout.splitlines()
    ]
    assert rows[0]["run"] == 5 and rows[0]["rerun_of"] == 4 and len(rows) == 5
    with Store(store_url) as opened:
        engine = opened.engine
        with engine.connect() as conn:
            stored = conn.execute(
                sa.text("SELECT run_id, count(*) FROM leadassign_assignments GROUP BY run_id")
            ).all()
    assert sorted(r[0] for r in stored) == [1, 2, 3, 4]  # the re-run copied nothing
    # and rebalancing from latest after the re-run starts from run 4
    week5 = tmp_path / "week5"
    args[-1] = str(week5)
    args[2] = str(books[2]["leads"])  # another book: not a re-run
    assert cli(*args, store=store_url).exit_code == 0
    assert summary(week5)["rebalance"]["from_run"] == 4


# -- the lock --------------------------------------------------------------------------------


def test_a_second_run_is_refused_while_the_store_is_locked(store_url: str, tmp_path: Path) -> None:
    """While another run holds the store, a run exits 5 with a clear message, writes no file
    and records nothing; with --wait it runs once the lock is free."""
    out = tmp_path / "run"
    args = ["solve", "--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv")]
    args += ["--out", str(out)]
    with Store(store_url) as held, held.writing():
        refused = CliRunner().invoke(main, [*args, "--store", store_url])
        assert refused.exit_code == 5
        assert "another leadassign run is writing to the store" in refused.output
        assert not out.exists()
        assert cli("history", store=store_url).exit_code == 0  # readers do not wait
    with Store(store_url) as opened:
        assert opened.runs() == []
    assert cli(*args, "--wait", "5", store=store_url).exit_code == 0
    with Store(store_url) as opened:
        assert len(opened.runs()) == 1


def test_sigterm_while_waiting_for_the_store(store_url: str, tmp_path: Path) -> None:
    """A run waiting (--wait) for another's lock stops at SIGTERM: exit 4, an error event,
    nothing written, nothing recorded."""
    out = tmp_path / "run"
    args = ["solve", "--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv")]
    args += ["--out", str(out), "--wait", "300"]
    log = tmp_path / "log.jsonl"
    with Store(store_url) as held, held.writing():
        process = start_run(args, store_url, log)
        try:
            wait_for(log, process, "inputs_loaded")
            time.sleep(0.5)  # into the wait
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
        finally:
            process.kill()
    assert code == 4, log.read_text()
    last = events_of(log)[-1]
    assert last["event"] == "error" and last["exit_code"] == 4
    assert "interrupted by SIGTERM" in last["message"]
    assert not out.exists()
    with Store(store_url) as opened:
        assert opened.runs() == []


def test_a_failed_record_writes_nothing(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the database refuses the run's rows, no output file is written either (the
    files go into place after the rows, before the commit): exit 2, the database's reason."""

    def refuse(*args: Any, **kwargs: Any) -> int:
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Store, "record", refuse)
    out = tmp_path / "run"
    args = ["solve", "--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv")]
    result = cli(*args, "--out", str(out), store=store_url)
    assert result.exit_code == 2
    assert "cannot record the run" in result.output and "disk I/O error" in result.output
    assert not out.exists()
    monkeypatch.undo()
    with Store(store_url) as opened:
        assert opened.runs() == []


def test_store_lock_is_exclusive(store_url: str) -> None:
    with (
        Store(store_url) as one,
        Store(store_url) as two,
        one.writing(),
        pytest.raises(StoreBusy),
        two.writing(wait=0.3),
    ):
        pass


# -- interrupts and JSON logs ---------------------------------------------------------------


def slow_book(folder: Path) -> list[str]:
    """A 3,000-lead book with accounts kept together and a count band: CP-SAT's path, which
    runs for a while; returns the solve command's input options."""
    from leadassign.demo import make_sample

    sample = make_sample(3000, 50, seed=3)
    leads = sample.leads.copy()
    rng = np.random.default_rng(1)
    account = rng.integers(0, 750, size=len(leads))
    leads["account_id"] = [f"{t}-{a}" for t, a in zip(leads["territory"], account, strict=True)]
    leads.to_csv(folder / "leads.csv", index=False)
    sample.reps.to_csv(folder / "reps.csv", index=False)
    sample.affinity.to_csv(folder / "affinity.csv", index=False)
    policy = {
        "tiers": [{"min_value": 40000, "min_level": 3}],
        "fairness": {"metric": "count", "band": 0.25},
        "accounts": {"together": True},
        # CP-SAT alone: far from a proof for minutes, however fast the machine
        "solver": {"time_limit_s": 300, "method": "cpsat"},
    }
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy))
    return [
        "--leads", str(folder / "leads.csv"), "--reps", str(folder / "reps.csv"),
        "--affinity", str(folder / "affinity.csv"), "--policy", str(folder / "policy.yaml"),
    ]  # fmt: skip


def start_run(args: list[str], store: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "leadassign", *args, "--store", store, "--json"],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def wait_for(log: Path, process: subprocess.Popen[bytes], *phases: str) -> None:
    """Until the run's JSON log shows one of ``phases`` (or it ends)."""
    while process.poll() is None:
        events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        if any(e.get("phase") in phases or e["event"] in phases for e in events):
            return
        time.sleep(0.1)


def events_of(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_sigterm_mid_solve_keeps_a_complete_feasible_result(store_url: str, tmp_path: Path) -> None:
    """SIGTERM once the solver has an assignment that meets every rule (its LP / MIP /
    CP-SAT stages): the run stops, writes that assignment whole (FEASIBLE, interrupted
    SIGTERM), records it, and exits 0; meanwhile a second run was refused (exit 5). The
    JSON log has one object per line, in order."""
    args = ["solve", *slow_book(tmp_path), "--out", str(tmp_path / "run")]
    log = tmp_path / "log.jsonl"
    process = start_run(args, store_url, log)
    try:
        wait_for(log, process, "lp", "mip", "cpsat")
        second = CliRunner().invoke(
            main, ["solve", *args[1:-2], "--out", str(tmp_path / "second"), "--store", store_url]
        )
        assert second.exit_code == 5, second.output
        assert not (tmp_path / "second").exists()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=120)
    finally:
        process.kill()
    assert code == 0, log.read_text()[-2000:]
    events = events_of(log)
    names = [e["event"] for e in events]
    for first, then in zip(
        ["start", "inputs_loaded", "store_locked", "model_built", "solution_found", "done"],
        ["inputs_loaded", "store_locked", "model_built", "solution_found", "done", "summary"],
        strict=True,
    ):
        assert names.index(first) < names.index(then), names
    assert names[-1] == "summary"
    done = events[names.index("done")]
    assert done["exit_code"] == 0 and done["interrupted"] == "SIGTERM" and done["run"] == 1
    out = tmp_path / "run"
    result = summary(out)
    assert result["status"] == "FEASIBLE" and result["interrupted"] == "SIGTERM"
    table = assignments(out)
    leads = pd.read_csv(tmp_path / "leads.csv", dtype=str)
    assert table["lead_id"].tolist() == leads["lead_id"].tolist()
    policy = load_policy(tmp_path / "policy.yaml")
    problem = load_problem(
        tmp_path / "leads.csv", tmp_path / "reps.csv", tmp_path / "affinity.csv", policy=policy
    )
    check = check_assignment(problem, policy, table["rep_id"].tolist())
    assert not check.violations, check.violations[:3]
    with Store(store_url) as opened:
        (run,) = opened.runs()
        assert run.status == "FEASIBLE" and run.interrupted == "SIGTERM"
        stored = opened.assignment(run)
    assert stored["rep_id"].tolist() == table["rep_id"].tolist()


def test_sigterm_at_once_leaves_a_whole_result_or_nothing(store_url: str, tmp_path: Path) -> None:
    """SIGTERM as soon as the run starts: either nothing at all (no files, no run recorded)
    or a complete FEASIBLE result, recorded."""
    args = ["solve", *slow_book(tmp_path), "--out", str(tmp_path / "run")]
    log = tmp_path / "log.jsonl"
    process = start_run(args, store_url, log)
    try:
        wait_for(log, process, "store_locked")
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=120)
    finally:
        process.kill()
    out = tmp_path / "run"
    with Store(store_url) as opened:
        runs = opened.runs()
    if code == 4:
        assert not out.exists() or not any(out.iterdir())
        assert runs == []
        # stopped before solving (an error event) or by the solver with nothing yet (done)
        last = events_of(log)[-1]
        assert last["event"] in ("error", "summary"), last
        assert any(e["event"] in ("error", "done") and e["exit_code"] == 4 for e in events_of(log))
    else:
        assert code == 0
        assert summary(out)["status"] == "FEASIBLE"
        assert len(assignments(out)) == 3000
        assert len(runs) == 1 and runs[0].interrupted == "SIGTERM"


# -- the pieces ------------------------------------------------------------------------------


def test_schema_is_created_once_and_a_newer_one_is_refused(store_url: str) -> None:
    with Store(store_url):
        pass
    with Store(store_url) as opened, opened.engine.begin() as conn:
        assert conn.execute(sa.select(schema_table.c.version)).scalar() == SCHEMA_VERSION
        conn.execute(schema_table.update().values(version=SCHEMA_VERSION + 1))
    with pytest.raises(StoreError, match="newer"):
        Store(store_url)


def test_run_references(store_url: str, tmp_path: Path) -> None:
    args = ["solve", "--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv")]
    assert cli(*args, "--out", str(tmp_path / "a"), store=store_url).exit_code == 0
    other = tmp_path / "policy.yaml"
    other.write_text(yaml.safe_dump({"fairness": {"metric": "count", "band": 0.5}}))
    assert cli(*args, "--policy", str(other), "--out", str(tmp_path / "b"),
               store=store_url).exit_code == 0  # fmt: skip
    with Store(store_url) as opened:
        assert opened.run("latest").id == 2
        assert opened.run("latest-1").id == 1
        assert opened.run("1").id == 1
        for bad in ("latest-2", "7", "yesterday"):
            with pytest.raises(StoreError):
                opened.run(bad)
    shown = cli("show", "9", store=store_url)
    assert shown.exit_code == 2 and "no such run" in shown.output
    empty = CliRunner().invoke(main, ["history", "--store", str(tmp_path / "none.db")])
    assert empty.exit_code == 2 and "no run history" in empty.output


def test_an_interrupted_run_is_solved_again_not_reused(store_url: str, tmp_path: Path) -> None:
    """The same command after an interrupted run solves again; after a whole one it is a
    re-run; --matrix asks for another output, so it is not the same run."""
    args = ["solve", "--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv")]
    assert cli(*args, "--out", str(tmp_path / "a"), store=store_url).exit_code == 0
    with Store(store_url) as opened, opened.engine.begin() as conn:
        conn.execute(sa.text("UPDATE leadassign_runs SET interrupted = 'SIGTERM'"))
    again = cli(*args, "--out", str(tmp_path / "b"), store=store_url)
    assert again.exit_code == 0 and "re-run" not in again.output
    third = cli(*args, "--out", str(tmp_path / "c"), store=store_url)
    assert "re-run of 2" in third.output
    fourth = cli(*args, "--out", str(tmp_path / "d"), "--matrix", store=store_url)
    assert "re-run" not in fourth.output and (tmp_path / "d" / "matrix.csv").is_file()
    with Store(store_url) as opened:
        assert [(r.id, r.rerun_of) for r in opened.runs()] == [
            (4, None),
            (3, 2),
            (2, None),
            (1, None),
        ]


def test_rebalance_needs_a_previous_run(store_url: str, tmp_path: Path) -> None:
    args = ["rebalance", "--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv")]
    result = cli(*args, "--out", str(tmp_path / "r"), store=store_url)
    assert result.exit_code == 2 and "no run with an assignment" in result.output
    assert not (tmp_path / "r").exists()


def test_with_previous_owners() -> None:
    """Owners carried over, new leads without one, vanished leads and owners that are no
    longer reps reported; a current_owner column of the file is replaced."""
    leads = pd.DataFrame(
        {
            "lead_id": ["a", "b", "c", "d"],
            "territory": "T",
            "value": ["1", "2", "3", "4"],
            "current_owner": ["r2", "", "r1", ""],
        }
    )
    reps = pd.DataFrame({"rep_id": ["r1", "r2"], "territories": "T", "capacity": ["5", "5"]})
    problem = load_problem(leads, reps)
    previous = pd.DataFrame({"lead_id": ["a", "b", "c", "z"], "rep_id": ["r1", "", "gone", "r2"]})
    carried = with_previous_owners(problem, previous)
    assert carried.problem.leads.current_owner.tolist() == ["r1", "", "", ""]
    assert carried.problem.owner.tolist() == [0, -1, -1, -1]
    assert carried.carried == 1
    assert carried.new_leads.tolist() == ["d"]
    assert carried.vanished.to_dict("list") == {"lead_id": ["z"], "rep_id": ["r2"]}
    assert carried.owners_gone.tolist() == ["c"]
    assert carried.replaced == 2  # a: r2 -> r1, c: r1 -> none
    assert carried.problem.leads.raw.frame["current_owner"].tolist() == ["r1", "", "", ""]


def test_owner_changes_by_hand() -> None:
    before = pd.DataFrame(
        {"lead_id": ["a", "b", "c", "d", "e"], "rep_id": ["r1", "r1", "", "r2", "r2"],
         "expected_value": [1.0, 2, np.nan, 4, 5]}
    )  # fmt: skip
    after = pd.DataFrame(
        {"lead_id": ["f", "a", "b", "c", "d"], "rep_id": ["r1", "r1", "r2", "r3", ""],
         "expected_value": [6.0, 1, 2, 3, np.nan]}
    )  # fmt: skip
    table = owner_changes(before, after)
    assert table[["lead_id", "rep_before", "rep_after", "change"]].values.tolist() == [
        ["f", "", "r1", "new"],
        ["b", "r1", "r2", "moved"],
        ["c", "", "r3", "new"],
        ["d", "r2", "", "released"],
        ["e", "r2", "", "vanished"],
    ]
    # the second run's reason tells a lead held back by a rule from one released
    after["reason"] = ["assigned", "kept", "reassigned", "assigned", "held_back"]
    assert owner_changes(before, after)["change"].tolist()[3] == "held_back"
    after["rep_id"] = ["", "r1", "r2", "r3", ""]  # a lead only in the second run, unassigned
    assert owner_changes(before, after)["change"].tolist()[0] == "added"


def test_export_formats_and_owner_map(tmp_path: Path) -> None:
    run = pd.DataFrame(
        {
            "lead_id": ["a", "b", "c", "d"],
            "rep_id": ["r1", "r2", "", "r2"],
            "previous_rep_id": ["r1", "r1", "r2", ""],
            "expected_value": [1.0, 2.0, np.nan, 4.0],
            "reason": ["kept", "reassigned", "no_capacity", "assigned"],
        }
    )
    sf = export(run, "salesforce")
    assert sf.frame.to_dict("list") == {"Id": ["b", "d"], "OwnerId": ["r2", "r2"]}
    assert len(sf.warnings) == 1 and "no --owner-map" in sf.warnings[0]
    assert "OwnerId column, 2 rows" in sf.warnings[0]
    assert sf.left_out["lead_id"].tolist() == ["c"]
    queued = export(run, "salesforce", unassigned_owner="00G-queue")
    assert queued.frame["Id"].tolist() == ["b", "c", "d"]
    assert queued.frame["OwnerId"].tolist() == ["r2", "00G-queue", "r2"]
    assert queued.left_out.empty
    # only the queue as owner: no rep id is written as a user id, nothing to warn about
    only_queue = export(run.iloc[[2]], "salesforce", unassigned_owner="00G-queue")
    assert only_queue.frame["OwnerId"].tolist() == ["00G-queue"] and only_queue.warnings == ()
    hub = export(run, "hubspot", owner_map={"r1": "ana@x.com", "r2": "ben@x.com"}, all_leads=True)
    assert hub.frame.columns.tolist() == ["Record ID", "Contact owner"]
    assert hub.frame.values.tolist() == [["a", "ana@x.com"], ["b", "ben@x.com"], ["d", "ben@x.com"]]
    assert hub.warnings == ()
    plain = export(run, "csv")
    assert len(plain.warnings) == 1 and "owner_id column" in plain.warnings[0]
    assert plain.frame.columns.tolist() == [
        "lead_id", "previous_rep_id", "rep_id", "owner_id", "expected_value", "reason"
    ]  # fmt: skip
    with pytest.raises(InputError, match="r2"):
        export(run, "salesforce", owner_map={"r1": "u1"})
    bad = tmp_path / "map.csv"
    bad.write_text("rep_id,owner_id\nr1,u1\nr1,u2\n")
    with pytest.raises(InputError, match="line 3"):
        read_owner_map(bad)
    bad.write_text("rep,owner\nr1,u1\n")
    with pytest.raises(InputError, match="missing column"):
        read_owner_map(bad)


def test_json_log_of_bad_input(tmp_path: Path) -> None:
    """Bad input under --json: an error event naming the file, exit 2, nothing written."""
    leads = tmp_path / "leads.csv"
    leads.write_text("lead_id,territory,value\nL1,T,abc\n")
    result = CliRunner().invoke(
        main,
        ["solve", "--leads", str(leads), "--reps", str(BOOK / "reps.csv"),
         "--out", str(tmp_path / "out"), "--json"],
    )  # fmt: skip
    assert result.exit_code == 2
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines[0]["event"] == "start" and lines[-1]["event"] == "error"
    assert lines[-1]["exit_code"] == 2 and "leads.csv" in lines[-1]["message"]
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()
