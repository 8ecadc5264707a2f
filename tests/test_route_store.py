"""How a route run is recorded (issue 25 §1): only its --leads rows over its plan, the whole
book resolved by ``Store.assignment`` in one query however long the chain of route runs;
stores of schema 2 migrate and keep reading their whole-book route runs as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event

from leadassign.store import Store
from leadassign.store.db import SCHEMA_VERSION, NewRun, runs_table, schema_table
from tests.test_history import store_url  # noqa: F401  (the SQLite / PostgreSQL fixture)


def _rows(leads: list[str], reps: list[str], previous: list[str], reason: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": leads,
            "rep_id": reps,
            "previous_rep_id": previous,
            "expected_value": np.arange(len(leads), dtype=np.float64) + 0.5,
            "reason": reason,
        }
    )


def _run(
    command: str, key: str, rows: pd.DataFrame, from_run: int | None, base: int | None
) -> NewRun:
    return NewRun(
        command=command, version="t", status="OPTIMAL", run_key=key, inputs={}, policy={},
        summary={}, from_run=from_run, assignments=rows, base_run=base,
    )  # fmt: skip


def _expected_book(book: dict[str, str], own: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The whole book as route recorded it before schema 3: the run's own rows, then the
    plan's owned leads not among them, each kept with its owner."""
    rows = [(str(r.lead_id), str(r.rep_id), str(r.reason)) for r in own.itertuples()]
    mine = set(own["lead_id"])
    rows += [(lead, rep, "kept") for lead, rep in book.items() if rep and lead not in mine]
    return rows


def test_a_chain_of_300_route_runs_reads_the_whole_book_in_one_query(store_url: str) -> None:  # noqa: F811
    """On SQLite and on PostgreSQL (the recursive query)."""
    rng = np.random.default_rng(4)
    reps = [f"r{j}" for j in range(7)]
    leads = [f"L{i}" for i in range(60)]
    plan_reps = [reps[j] if j < 7 else "" for j in rng.integers(0, 9, len(leads))]
    with Store(store_url) as store:
        with store.writing() as conn:
            base = store.record(
                conn, _run("solve", "k0", _rows(leads, plan_reps, [""] * 60, "optimal"), None, None)
            )
        book = dict(zip(leads, plan_reps, strict=True))
        previous, own = base, None
        with store.writing() as conn:
            for k in range(300):  # each route: two new leads and one owned lead in --leads
                owned = [lead for lead, rep in book.items() if rep][k % 5]
                new = [f"N{k}a", f"N{k}b"]
                routed = [reps[k % 7], "" if k % 3 == 0 else reps[(k + 2) % 7]]
                own = _rows([owned, *new], [book[owned], *routed], [book[owned], "", ""], "routed")
                own.loc[0, "reason"] = "kept"
                book = {row[0]: row[1] for row in _expected_book(book, own)}
                previous = store.record(conn, _run("route", f"k{k + 1}", own, previous, base))
        statements: list[str] = []
        event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(str(a[2])))
        run = store.run("latest")
        statements.clear()
        got = store.assignment(run)
        assert [s for s in statements if s != "BEGIN"] == statements[-1:]  # one query
        assert own is not None
        want = {lead: rep for lead, rep in book.items() if rep or lead in set(own["lead_id"])}
        assert dict(zip(got["lead_id"], got["rep_id"], strict=True)) == want
        assert list(got["lead_id"][:3]) == list(own["lead_id"])
        kept = got.iloc[3:]
        assert (kept["previous_rep_id"] == kept["rep_id"]).all() and (kept["rep_id"] != "").all()
        assert got["lead_id"].is_unique
        # a route from an earlier route (a branch) sees that one's book, not its siblings'
        middle = store.run(base + 150)
        branch = store.assignment(middle)
        assert not set(branch["lead_id"]) & {f"N{k}a" for k in range(150, 300)}
        assert {f"N{k}a" for k in range(150)} <= set(branch["lead_id"])


def test_a_schema_2_store_migrates_and_reads_its_whole_book_route_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path) as store, store.writing() as conn:
        plan = store.record(
            conn,
            _run("solve", "a", _rows(["a", "b", "c"], ["r1", "r2", ""], [""] * 3, "x"), None, None),
        )
        whole = _rows(["d", "a", "b"], ["r2", "r1", "r2"], ["", "r1", "r2"], "kept")
        store.record(conn, _run("route", "b", whole, plan, None))
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # back to schema 2: no runs.base_run
        conn.execute(sa.text(f"ALTER TABLE {runs_table.name} DROP COLUMN base_run"))
        conn.execute(schema_table.update().values(version=2))
    engine.dispose()
    with Store(path) as store:
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(schema_table.c.version)).scalar() == SCHEMA_VERSION
            assert "base_run" in {c["name"] for c in sa.inspect(conn).get_columns(runs_table.name)}
        route_run = store.run("latest")
        assert route_run.base_run is None
        got = store.assignment(route_run)
        assert list(got["lead_id"]) == ["d", "a", "b"]
        assert list(got["rep_id"]) == ["r2", "r1", "r2"]
        assert list(got["previous_rep_id"]) == ["", "r1", "r2"]
