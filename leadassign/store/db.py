"""The run history: one database, SQLite by default, any SQLAlchemy URL (PostgreSQL included).

Tables (prefixed ``leadassign_``): ``runs`` (one row per run: when, command, version, input
digests, policy, status, summary figures, the run it rebalanced from, the run it repeated),
``assignments`` (each run's full assignment, one row per input lead, with the owner before
the run; a route run records only the leads it routed over its plan, ``runs.base_run``:
:meth:`Store.assignment` resolves its whole book), ``files`` (each run's output files,
zlib-compressed, so a re-run hands back the very same files) and ``schema`` (the schema version).

Migrations: the tool creates and upgrades the schema itself when it opens a store, from an
ordered list of steps, each applied in one transaction that also records the new version in
``leadassign_schema``. A store written by a newer leadassign is refused, never altered.
(Alembic would give the same guarantees for three tables at the price of a dependency and a
migration environment to ship; this list is the part of it we need.)

Writing takes the store's lock for the whole run, a lock the database provides: on SQLite a
write transaction begun with ``BEGIN IMMEDIATE`` (the database file's reserved lock), on
PostgreSQL a session advisory lock. A second run waits up to ``wait`` seconds for it, then
fails with :class:`StoreBusy` (exit code 5). Readers (``history``, ``show``, ``diff``,
``export``) never wait for a run. Each run's rows are written in one transaction, so a
crash leaves the run either recorded whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from leadassign.control.stop import Stop
from leadassign.errors import LeadassignError
from leadassign.redact import redact_url, refusal, remember, scrub

#: The schema version this leadassign writes.
SCHEMA_VERSION = 3
#: The default store, relative to the working folder.
DEFAULT_STORE = ".leadassign/history.db"
#: Seconds between two tries for another run's lock.
LOCK_POLL_S = 0.2
#: What ``latest`` and ``latest-N`` count: completed runs, the ones with an assignment.
COMPLETED = ("OPTIMAL", "FEASIBLE")
#: A run reference: ``latest``, ``latest-N`` or an id (ASCII digits only: ``²`` is no id).
RUN_REF = re.compile(r"latest(?:-([0-9]{1,9}))?|[0-9]{1,18}")
#: PostgreSQL advisory lock key of leadassign runs (any fixed 64-bit number).
ADVISORY_KEY = 0x1EAD_A551_6000_0001 - 2**63

metadata = sa.MetaData()

schema_table = sa.Table(
    "leadassign_schema",
    metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

runs_table = sa.Table(
    "leadassign_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("command", sa.String(16), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("run_key", sa.String(64), nullable=False, index=True),
    sa.Column("rerun_of", sa.Integer, sa.ForeignKey("leadassign_runs.id"), nullable=True),
    sa.Column("from_run", sa.Integer, sa.ForeignKey("leadassign_runs.id"), nullable=True),
    sa.Column("inputs", sa.Text, nullable=False),  # JSON: name -> sha256
    sa.Column("policy", sa.Text, nullable=False),  # JSON
    sa.Column("summary", sa.Text, nullable=False),  # JSON, as summary.json
    sa.Column("leads", sa.Integer, nullable=True),
    sa.Column("assigned", sa.Integer, nullable=True),
    sa.Column("expected_value", sa.Float, nullable=True),
    sa.Column("gap", sa.Float, nullable=True),
    sa.Column("reassigned", sa.Integer, nullable=True),
    sa.Column("interrupted", sa.String(16), nullable=True),
    sa.Column("out", sa.Text, nullable=True),
    # schema 3: a route run records only its own rows over ``from_run``'s book; this is
    # the first run of that chain that holds a whole book (None: the run holds its own)
    sa.Column("base_run", sa.Integer, nullable=True),
)

assignments_table = sa.Table(
    "leadassign_assignments",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("leadassign_runs.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),  # input order
    sa.Column("lead_id", sa.Text, nullable=False),
    sa.Column("rep_id", sa.Text, nullable=True),  # None: unassigned
    sa.Column("previous_rep_id", sa.Text, nullable=True),  # the owner before the run
    sa.Column("expected_value", sa.Float, nullable=True),
    sa.Column("reason", sa.String(32), nullable=True),
    # schema 2: the lead's arm in a run with a holdout (optimized | holdout); None without
    sa.Column("arm", sa.String(16), nullable=True),
)

files_table = sa.Table(
    "leadassign_files",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("leadassign_runs.id"), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),  # zlib-compressed file bytes
)


def _create_v1(conn: Connection) -> None:
    for table in (runs_table, assignments_table, files_table):
        table.create(conn)


def _add_arm(conn: Connection) -> None:
    """Schema 2: ``assignments.arm``, the lead's arm in a run with a holdout (a store
    created at version 2 already has it: ``_create_v1`` creates the current tables)."""
    have = {c["name"] for c in sa.inspect(conn).get_columns(assignments_table.name)}
    if "arm" not in have:
        conn.execute(sa.text(f"ALTER TABLE {assignments_table.name} ADD COLUMN arm VARCHAR(16)"))


def _add_base_run(conn: Connection) -> None:
    """Schema 3: ``runs.base_run``, set on a route run that records only its own rows over
    its plan (a run recorded before has its whole book: None)."""
    have = {c["name"] for c in sa.inspect(conn).get_columns(runs_table.name)}
    if "base_run" not in have:
        conn.execute(sa.text(f"ALTER TABLE {runs_table.name} ADD COLUMN base_run INTEGER"))


#: Ordered steps: version -> what brings the schema from the version before to it.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _create_v1,
    2: _add_arm,
    3: _add_base_run,
}
#: The reason of a lead a route run's whole book carries over from the runs before it.
KEPT = "kept"
#: A run's book, as :meth:`Store.assignment` reads it.
BOOK_COLUMNS = ("lead_id", "rep_id", "previous_rep_id", "expected_value", "reason", "arm")


class StoreError(LeadassignError):
    """The store cannot be opened or read, or a run named in it does not exist."""

    exit_code = 2


class StoreBusy(LeadassignError):
    """Another run holds the store's lock."""

    exit_code = 5


class StoreTimeout(StoreBusy):
    """The store did not answer within its time limits (``postgres_timeouts``)."""


def postgres_timeouts(wait: float | None) -> dict[str, Any]:
    """libpq connect arguments that bound every wait on a PostgreSQL server: the connection
    (``connect_timeout``: ``wait`` seconds, default 30, at least libpq's 2 and at most 30),
    a lock the session waits for (``lock_timeout``: ``wait``, at least 2 s) and a statement
    (``statement_timeout``: ``wait``, at least 30 s, so a large run's rows are not cut)."""
    bound = 30.0 if wait is None else wait
    connect = max(2, min(30, math.ceil(bound)))
    lock_ms = round(max(2.0, bound) * 1000)
    statement_ms = round(max(30.0, bound) * 1000)
    return {
        "connect_timeout": connect,
        "options": f"-c statement_timeout={statement_ms} -c lock_timeout={lock_ms}",
    }


def unanswered(exc: SQLAlchemyError) -> bool:
    """Whether ``exc`` is a time limit of ``postgres_timeouts`` running out: the connection
    (libpq's "timeout expired"), a statement (SQLSTATE 57014) or a lock wait (55P03)."""
    original = getattr(exc, "orig", None)
    if getattr(original, "sqlstate", None) in ("57014", "55P03"):
        return True
    return "timeout expired" in str(original or exc).lower()


class Interrupted(LeadassignError):
    """SIGINT or SIGTERM before the run had anything to keep: nothing done."""

    exit_code = 4


@dataclass(frozen=True)
class RunRow:
    """One recorded run, as ``history`` and ``show`` print it."""

    id: int
    created_at: str
    command: str
    version: str
    status: str
    run_key: str
    rerun_of: int | None
    from_run: int | None
    inputs: dict[str, str]
    policy: dict[str, Any]
    summary: dict[str, Any]
    leads: int | None
    assigned: int | None
    expected_value: float | None
    gap: float | None
    reassigned: int | None
    interrupted: str | None
    out: str | None
    base_run: int | None = None  # a route run over its plan: the chain's whole-book run

    @property
    def original(self) -> int:
        """The run whose assignment this one is (itself, unless it is a re-run)."""
        return self.rerun_of if self.rerun_of is not None else self.id

    @property
    def has_assignment(self) -> bool:
        return self.status in ("OPTIMAL", "FEASIBLE")


@dataclass(frozen=True)
class NewRun:
    """What a run records: its row, and for an original run its assignment and files."""

    command: str
    version: str
    status: str
    run_key: str
    inputs: dict[str, str]
    policy: dict[str, Any]
    summary: dict[str, Any]
    rerun_of: int | None = None
    from_run: int | None = None
    out: str | None = None
    assignments: pd.DataFrame | None = None  # lead_id, rep_id, previous_rep_id, ...
    files: tuple[tuple[str, bytes], ...] = ()
    base_run: int | None = None  # set: ``assignments`` holds only this run's rows over from_run


def store_url(store: str | Path) -> str:
    """A SQLAlchemy URL from ``--store``: a URL as given, else a SQLite file path."""
    text = str(store)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def store_name(store: str | Path) -> str:
    """The store as messages name it: a URL without its password, or the path."""
    return redact_url(str(store))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Store:
    """A run history, opened (created and migrated as needed) from a path or URL."""

    def __init__(self, store: str | Path = DEFAULT_STORE, *, wait: float | None = None) -> None:
        remember(str(store))
        self.name = store_name(store)
        refused = refusal(str(store))
        if refused is not None:
            raise StoreError(refused)
        url = store_url(store)
        self.wait = wait  # PostgreSQL: bounds every wait on the server (postgres_timeouts)
        self.sqlite = url.startswith("sqlite")
        self.path: Path | None = None  # the SQLite file
        if self.sqlite:
            path = Path(url.removeprefix("sqlite:///"))
            self.path = path
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the store's folder: {exc.strerror or exc}",
                ) from exc
        try:
            parsed = sa.engine.make_url(url)
            bounded = parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in (
                "psycopg",
                "psycopg2",
            )
            connect_args = postgres_timeouts(wait) if bounded else {}
            self.engine: Engine = sa.create_engine(url, connect_args=connect_args)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot open the store {self.name}: {scrub(str(exc))}") from exc
        self._wait = 0.0
        if self.sqlite:
            _sqlite_transactions(self.engine)
            self._wal()
        self._migrate()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        """Create or upgrade the schema under the write lock (waiting for a running run)."""
        try:
            with self._connect() as conn:
                version = self._version(conn)
                if version == SCHEMA_VERSION:
                    return
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"the store {self.name} has schema version {version}, newer than this "
                        f"leadassign's {SCHEMA_VERSION}: upgrade leadassign"
                    )
            with self.writing(wait=60.0) as conn:
                version = self._version(conn)  # another process may have migrated meanwhile
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    if step == 1:
                        schema_table.create(conn, checkfirst=True)
                    MIGRATIONS[step](conn)
                    conn.execute(schema_table.delete())
                    conn.execute(schema_table.insert().values(version=step))
        except SQLAlchemyError as exc:
            if unanswered(exc):
                raise self.timed_out(exc) from exc
            raise StoreError(f"cannot open the store {self.name}: {reason(exc)}") from exc

    def _wal(self) -> None:
        """SQLite in write-ahead-log mode (kept in the file): readers holding a transaction
        never block a run's commit, nor a commit the readers. When another connection holds
        the file just now, the mode is set by a later run."""
        try:
            with self.engine.connect() as conn:
                raw = conn.connection.dbapi_connection
                assert raw is not None
                raw.execute("PRAGMA busy_timeout = 0")
                try:
                    raw.execute("PRAGMA journal_mode = WAL")
                finally:
                    raw.execute("PRAGMA busy_timeout = 10000")
        except (OperationalError, sqlite3.Error):
            pass  # busy, or a read-only store (read as it is; writing it says why it fails)

    def _version(self, conn: Connection) -> int:
        if not sa.inspect(conn).has_table(schema_table.name):
            return 0
        found = conn.execute(sa.select(schema_table.c.version)).scalar()
        return int(found or 0)

    # -- connections and the lock ---------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A connection for reading (no lock; SQLite: a deferred transaction)."""
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self, wait: float = 0.0, stop: Stop | None = None) -> Iterator[Connection]:
        """Hold the store's write lock for the block and hand over the connection to read and
        write through; everything written in the block is committed at its end, or nothing
        if it raises. Waits up to ``wait`` seconds for another run's lock, then raises
        StoreBusy; raises Interrupted when ``stop`` is set while it waits."""
        lock = self._sqlite_lock if self.sqlite else self._advisory_lock
        self._wait = wait
        deadline = time.monotonic() + wait
        while True:
            held = lock()
            if held is not None:
                break
            if stop is not None and stop.is_set():
                raise Interrupted(
                    f"interrupted by {stop.reason} while waiting for the store {self.name}; "
                    "nothing was done"
                )
            if time.monotonic() >= deadline:
                raise self._busy(wait)
            time.sleep(min(LOCK_POLL_S, max(deadline - time.monotonic(), 0.01)))
        with held as conn:
            yield conn

    def _sqlite_lock(self) -> AbstractContextManager[Connection] | None:
        """SQLite's write lock, taken at once (``BEGIN IMMEDIATE``), or None when another
        connection holds it."""
        conn = self.engine.connect()
        try:
            # on the driver's connection: through SQLAlchemy it would begin a transaction
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA busy_timeout = 0")
            transaction = conn.execution_options(sqlite_immediate=True).begin()
            # for the writes to come: in WAL mode readers never block them, so this only
            # covers a moment's contention (a checkpoint), bounded by --wait (at least 1 s)
            raw.execute(f"PRAGMA busy_timeout = {int(max(self._wait, 1.0) * 1000)}")
        except OperationalError as exc:
            conn.close()
            if "locked" in str(exc).lower() or "busy" in str(exc).lower():
                return None
            raise
        except BaseException:
            conn.close()
            raise

        @contextmanager
        def held() -> Iterator[Connection]:
            with conn, transaction:
                yield conn

        return held()

    def _advisory_lock(self) -> AbstractContextManager[Connection] | None:
        """PostgreSQL's session advisory lock of leadassign runs, or None when another
        session holds it."""
        conn = self.engine.connect()
        try:
            got = conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
            ).scalar()
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return None

        @contextmanager
        def held() -> Iterator[Connection]:
            with conn:
                try:
                    with conn.begin():
                        yield conn
                finally:
                    if conn.in_transaction():
                        conn.rollback()
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
                    conn.commit()

        return held()

    def _busy(self, wait: float) -> StoreBusy:
        waited = f" after waiting {wait:g} s" if wait > 0 else ""
        return StoreBusy(
            f"another leadassign run is writing to the store {self.name}{waited}; "
            "nothing was done. Try again when it ends, or pass --wait SECONDS to wait for it"
        )

    def timed_out(self, exc: SQLAlchemyError) -> StoreTimeout:
        """The error for a time limit of ``postgres_timeouts`` running out (exit 5)."""
        return StoreTimeout(
            f"the store {self.name} did not answer in time ({reason(exc)}); nothing was "
            "done. The limits follow --wait (default 30 s): check the server, or try again "
            "later"
        )

    # -- reading --------------------------------------------------------------------------

    def runs(
        self, conn: Connection | None = None, limit: int | None = None, command: str | None = None
    ) -> list[RunRow]:
        """Recorded runs (``command``: only those), newest first."""
        query = sa.select(runs_table).order_by(runs_table.c.id.desc())
        if command is not None:
            query = query.where(runs_table.c.command == command)
        if limit is not None:
            query = query.limit(limit)
        with self._reading(conn) as c:
            return [_row(r) for r in c.execute(query).mappings()]

    def run(self, ref: str | int, conn: Connection | None = None) -> RunRow:
        """The run ``ref`` names: its id, ``latest`` (the newest completed run: one with an
        assignment, OPTIMAL or FEASIBLE) or ``latest-N`` (N completed runs before it).
        Anything else (``²``, ``latest~1``, a 23-digit number) is a StoreError."""
        text = str(ref).strip().lower()
        matched = RUN_REF.fullmatch(text)
        if matched is None:
            raise StoreError(
                f"run {_shown(ref)}: not a run; say latest, latest-N (N up to 9 digits) or a "
                "run id (up to 18 digits), as leadassign history lists them"
            )
        with self._reading(conn) as c:
            if text.startswith("latest"):
                back = int(matched.group(1) or 0)
                query = (
                    sa.select(runs_table)
                    .where(runs_table.c.status.in_(COMPLETED))
                    .order_by(runs_table.c.id.desc())
                    .offset(back)
                    .limit(1)
                )
                found = c.execute(query).mappings().first()
                if found is None:
                    raise StoreError(
                        f"run '{text}': the store {self.name} has "
                        + (
                            "no completed run yet (one with an assignment)"
                            if back == 0
                            else f"fewer than {back + 1} completed runs (runs with an "
                            "assignment); see leadassign history"
                        )
                    )
                return _row(found)
            found = (
                c.execute(sa.select(runs_table).where(runs_table.c.id == int(text)))
                .mappings()
                .first()
            )
            if found is None:
                raise StoreError(f"run '{text}': no such run in the store {self.name}")
            return _row(found)

    def latest_with_assignment(self, conn: Connection | None = None) -> RunRow | None:
        """The newest run that has an assignment (OPTIMAL or FEASIBLE)."""
        query = (
            sa.select(runs_table)
            .where(runs_table.c.status.in_(COMPLETED))
            .order_by(runs_table.c.id.desc())
            .limit(1)
        )
        with self._reading(conn) as c:
            found = c.execute(query).mappings().first()
            return None if found is None else _row(found)

    def assignment(
        self,
        run: RunRow,
        conn: Connection | None = None,
        columns: tuple[str, ...] = BOOK_COLUMNS,
    ) -> pd.DataFrame:
        """The run's whole book (a re-run's is its original's): lead_id, rep_id ('' when
        unassigned), previous_rep_id ('' when none), expected_value, reason, arm ('' in a
        run without a holdout); ``columns``: only these (lead_id and rep_id always). A
        run's own rows in input order; for a route run recorded over its plan
        (``base_run``), then the owned leads of the runs it sits on, newest run first, each
        with its owner as the previous one and reason ``kept``. One query however long the
        chain of route runs."""
        if not run.has_assignment:
            raise StoreError(f"run {run.id} has no assignment (status {run.status})")
        t, r = assignments_table, runs_table
        chain = sa.select(r.c.id, r.c.from_run, r.c.base_run).where(r.c.id == run.original)
        chain_cte = chain.cte("chain", recursive=True)
        parent = r.alias("parent")
        chain_cte = chain_cte.union_all(
            sa.select(parent.c.id, parent.c.from_run, parent.c.base_run).where(
                parent.c.id == chain_cte.c.from_run, chain_cte.c.base_run.is_not(None)
            )
        )
        names = ["lead_id", "rep_id", *(c for c in BOOK_COLUMNS[2:] if c in columns)]
        query = (
            sa.select(t.c.run_id, *(t.c[name] for name in names))
            .join(chain_cte, t.c.run_id == chain_cte.c.id)
            .order_by(t.c.run_id.desc(), t.c.position)
        )
        with self._reading(conn) as c:
            rows = _tuples(c, query)
        return _book(rows, run.original, names)

    def files(
        self, run: RunRow, conn: Connection | None = None, names: tuple[str, ...] | None = None
    ) -> tuple[tuple[str, bytes], ...]:
        """The output files the run wrote (a re-run's are its original's; ``names``: only
        those)."""
        t = files_table
        query = sa.select(t.c.name, t.c.data).where(t.c.run_id == run.original).order_by(t.c.name)
        if names is not None:
            query = query.where(t.c.name.in_(names))
        with self._reading(conn) as c:
            rows = c.execute(query).all()
        return tuple((str(name), zlib.decompress(bytes(data))) for name, data in rows)

    @contextmanager
    def _reading(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
            return
        try:
            with self._connect() as c:
                yield c
        except SQLAlchemyError as exc:
            if unanswered(exc):
                raise self.timed_out(exc) from exc
            raise StoreError(f"cannot read the store {self.name}: {reason(exc)}") from exc

    # -- writing --------------------------------------------------------------------------

    def record(self, conn: Connection, run: NewRun) -> int:
        """Insert the run (in the caller's locked transaction); returns its id."""
        summary = run.summary
        values = {
            "created_at": _now(),
            "command": run.command,
            "version": run.version,
            "status": run.status,
            "run_key": run.run_key,
            "rerun_of": run.rerun_of,
            "from_run": run.from_run,
            "inputs": json.dumps(run.inputs, sort_keys=True),
            "policy": json.dumps(run.policy),
            "summary": json.dumps(summary),
            "leads": summary.get("leads"),
            "assigned": summary.get("assigned"),
            "expected_value": summary.get("expected_value"),
            "gap": summary.get("gap"),
            "reassigned": summary.get("reassigned"),
            "interrupted": summary.get("interrupted"),
            "out": run.out,
            "base_run": run.base_run,
        }
        key = conn.execute(runs_table.insert().values(**values)).inserted_primary_key
        assert key is not None
        run_id = int(key[0])
        if run.assignments is not None:
            table = run.assignments
            arms = table["arm"].tolist() if "arm" in table.columns else [None] * len(table)
            rows = [
                {
                    "run_id": run_id,
                    "position": position,
                    "lead_id": lead,
                    "rep_id": rep or None,
                    "previous_rep_id": previous or None,
                    "expected_value": None if value != value else value,
                    "reason": reason,
                    "arm": arm or None,
                }
                for position, (lead, rep, previous, value, reason, arm) in enumerate(
                    zip(
                        table["lead_id"].tolist(),
                        table["rep_id"].tolist(),
                        table["previous_rep_id"].tolist(),
                        table["expected_value"].tolist(),
                        table["reason"].tolist(),
                        arms,
                        strict=True,
                    )
                )
            ]
            for start in range(0, len(rows), 10_000):
                conn.execute(assignments_table.insert(), rows[start : start + 10_000])
        if run.files:
            conn.execute(
                files_table.insert(),
                [
                    {"run_id": run_id, "name": name, "data": zlib.compress(data, 6)}
                    for name, data in run.files
                ],
            )
        return run_id


def _shown(ref: str | int) -> str:
    """A run reference as typed, quoted and cut short, control characters escaped."""
    text = str(ref)
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _tuples(conn: Connection, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """``query``'s rows as plain tuples from the driver's cursor (no Row object per row:
    a whole book is 100k rows), in the connection's transaction."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    args: Any = (
        tuple(params[name] for name in compiled.positiontup or ())
        if compiled.positional
        else params
    )
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(str(compiled), args)
        rows = list(cursor.fetchall())
    finally:
        cursor.close()
    return rows


def _book(rows: Sequence[Any], run_id: int, book_columns: list[str]) -> pd.DataFrame:
    """The assignment rows of a run's chain (newest run first; run_id then
    ``book_columns``) as its whole book: each lead once, from the newest run that has it;
    an earlier run's leads only when owned."""
    names = ["run_id", *book_columns]
    columns = [np.asarray(c, dtype=object) for c in zip(*rows, strict=True)] if rows else []
    if not columns:
        columns = [np.array([], dtype=object)] * len(names)
    raw = dict(zip(names, columns, strict=True))
    earlier = raw["run_id"] != run_id
    if earlier.any():  # keep each lead's newest row, and an earlier run's only when owned
        newest = ~pd.Series(raw["lead_id"]).duplicated(keep="first").to_numpy()
        keep = newest & (~earlier | (raw["rep_id"] != None))  # noqa: E711 (element-wise)
        raw = {name: column[keep] for name, column in raw.items()}
        earlier = earlier[keep]
        carried: dict[str, Any] = {"previous_rep_id": raw["rep_id"], "reason": KEPT, "arm": ""}
        for name, value in carried.items():
            if name in raw:
                raw[name] = np.where(earlier, value, raw[name])
    frame = pd.DataFrame(
        {
            name: (
                pd.to_numeric(pd.Series(raw[name]), errors="coerce").astype(np.float64)
                if name == "expected_value"
                else pd.Series(raw[name]).fillna("").astype(str)
            )
            for name in names[1:]
        }
    )
    return frame


def _row(found: Any) -> RunRow:
    return RunRow(
        id=int(found["id"]),
        created_at=str(found["created_at"]),
        command=str(found["command"]),
        version=str(found["version"]),
        status=str(found["status"]),
        run_key=str(found["run_key"]),
        rerun_of=found["rerun_of"],
        from_run=found["from_run"],
        inputs=json.loads(found["inputs"]),
        policy=json.loads(found["policy"]),
        summary=json.loads(found["summary"]),
        leads=found["leads"],
        assigned=found["assigned"],
        expected_value=found["expected_value"],
        gap=found["gap"],
        reassigned=found["reassigned"],
        interrupted=found["interrupted"],
        out=found["out"],
        base_run=found.get("base_run"),
    )


def reason(exc: SQLAlchemyError) -> str:
    """The database's own words for ``exc`` (its first line)."""
    original = getattr(exc, "orig", None)
    return scrub(str(original or exc).strip().splitlines()[0])


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, begin transactions, so that the lock can be
    taken with ``BEGIN IMMEDIATE`` (SQLAlchemy's documented recipe for pysqlite)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        # readers wait out a run's commit (the moment SQLite locks the file exclusively)
        dbapi_connection.execute("PRAGMA busy_timeout = 10000")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
