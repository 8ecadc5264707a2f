"""solve and rebalance: load, (re)balance from the store, solve, write the outputs, record.

The whole run holds the store's lock (``Store.writing``), so two runs against one store never
interleave: the second waits up to ``wait`` seconds, then fails with StoreBusy (exit 5)
before it has read or written anything. Inputs are read and validated before the lock is
taken, so bad input (exit 2) never touches the store.

A run whose command, inputs (their sha256), policy (solver settings included), rebalance
source, optional outputs and leadassign version equal those of the store's newest run is a
*re-run*: it writes that run's recorded files again and records a row that points at it
(``rerun_of``), without solving and without copying the assignment. An interrupted run is
never re-used: the same command after it solves again.

A stop (SIGINT or SIGTERM, see ``control.stop``) during the solve keeps the best assignment
found that meets every hard rule: it is written and recorded like any other (status
FEASIBLE, ``interrupted`` in summary.json). When there is none yet, nothing is written and
nothing is recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from leadassign import __version__
from leadassign.app.holdout import Holdout, solve_with_holdout
from leadassign.app.inputs import Inputs, load, run_date_key, run_date_of, run_time
from leadassign.app.interrupt import not_stopped
from leadassign.control.stop import Stop
from leadassign.errors import InputError
from leadassign.events import Events, NoEvents
from leadassign.models import Policy, Problem
from leadassign.models.problem import Carried, with_previous_owners
from leadassign.output import (
    VANISHED,
    Files,
    bytes_writers,
    check_matrix_size,
    result_files,
    result_writers,
)
from leadassign.publish import Published, Target, publish, target
from leadassign.result import Result, Status
from leadassign.result.capacity import CapacityMode
from leadassign.solve import solve
from leadassign.solve.prices import price_rules as price_rules_of
from leadassign.store.db import (
    NewRun,
    RunRow,
    Store,
    StoreError,
    reason,
    unanswered,
)

Command = Literal["solve", "rebalance", "route"]


@dataclass(frozen=True)
class Outcome:
    """What a run did."""

    status: Status
    summary: dict[str, Any]
    written: tuple[Path, ...]  # the files written into ``out`` (none: nothing written)
    result: Result | None = None  # None for a re-run (nothing was solved)
    run_id: int | None = None  # the recorded run (None: not recorded)
    rerun_of: int | None = None
    from_run: int | None = None
    carried: Carried | None = None  # rebalance: how the previous owners were taken over

    @property
    def has_solution(self) -> bool:
        return self.status in (Status.OPTIMAL, Status.FEASIBLE)


def run_key(
    command: Command,
    problem: Problem,
    policy: Policy,
    source: str | None,
    outputs: dict[str, bool] | None = None,
    holdout: Holdout | None = None,
    run_date: dict[str, Any] | None = None,
) -> str:
    """What makes two runs the same: command, input digests, pairs mode, policy (solver
    settings included), rebalance source (as given: ``latest`` or an id), the optional
    outputs asked for (``matrix``, ``price_rules``), the holdout (share, seed, baseline)
    and version."""
    key: dict[str, Any] = {
        "command": command,
        "inputs": dict(sorted(problem.digests.items())),
        "pairs_mode": problem.pairs_mode if problem.pairs is not None else None,
        "policy": policy.model_dump(mode="json"),
        "from": source,
        "outputs": outputs or {},
        "version": __version__,
    }
    if holdout is not None:  # (absent without one: the keys of earlier runs stay the same)
        key["holdout"] = holdout.settings()
    if run_date is not None:  # (likewise: only when time off, departures or an SLA apply)
        key["run_date"] = run_date
    text = json.dumps(key, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def execute(
    command: Command,
    inputs: Inputs,
    out: Path,
    *,
    store: Store | None,
    solver: dict[str, Any] | None = None,
    from_run: str | None = None,
    matrix: bool = False,
    price_rules: bool = False,
    wait: float = 0.0,
    stop: Stop | None = None,
    events: Events | None = None,
    force: bool = False,
    holdout: Holdout | None = None,
    capacity_values: bool = False,
) -> Outcome:
    """Run ``command`` on ``inputs`` into ``out`` and record it in ``store`` (None: not
    recorded; a rebalance needs a store). ``from_run``: the run whose owners a rebalance
    starts from (``latest``: the newest run with an assignment, or a run id);
    ``price_rules``: also price each hard rule (``solver.prices``); ``force``: write into a
    folder that holds files leadassign did not write (kept; see ``leadassign.publish``);
    ``holdout``: route a random share of the new leads by a baseline
    (``leadassign.app.holdout``; a share of 0 is no holdout); ``capacity_values``: also price
    capacity from the LP's duals on books that are not a flow (``solve(capacity="all")``)."""
    events = events or NoEvents()
    if holdout is not None and holdout.share <= 0.0:
        holdout = None
    events.emit("start", command=command, version=__version__, out=str(out))
    # before anything is solved: an --out that holds inputs or files of the user's is refused
    folder = target(out, inputs=_input_paths(inputs, store), force=force)
    at = run_time(inputs)  # the one clock read of the run (--at when given)
    problem, policy = load(inputs, solver, at)
    dated = _Dated(inputs, at)
    if matrix:  # before solving: a book too big for it is bad usage (exit 2)
        check_matrix_size(problem.n_leads, problem.n_reps)
    events.emit(
        "inputs_loaded",
        leads=problem.n_leads,
        reps=problem.n_reps,
        inputs=dict(problem.digests),
    )
    if store is None:
        if command == "rebalance":
            raise StoreError("rebalance reads the previous run from a store: give --store")
        problem = dated.apply(problem, policy, holdout)
        result = _solved(
            problem, policy, price_rules, stop, events, holdout, capacity=capacity_values
        )
        return _finish(result, folder, command, matrix, events)
    source = from_run if command == "rebalance" else None
    outputs = {"matrix": matrix, "price_rules": price_rules}
    if capacity_values:  # (absent without: the keys of earlier runs stay the same)
        outputs["capacity_values"] = True
    dated_key = run_date_key(problem, policy, inputs, at)
    key = run_key(command, problem, policy, source, outputs, holdout, dated_key)
    not_stopped(stop, "before solving; nothing written or recorded")
    asked = _Recording(
        command, problem, policy, key, folder, store, from_run, matrix, price_rules,
        wait, stop, events, holdout, dated, capacity_values,
    )  # fmt: skip
    return recorded(store, partial(_locked, asked))


@dataclass(frozen=True)
class _Recording:
    """What ``execute`` hands to its recorded part: the run asked for, under one name."""

    command: Command
    problem: Problem
    policy: Policy
    key: str
    folder: Target
    store: Store
    from_run: str | None
    matrix: bool
    price_rules: bool
    wait: float
    stop: Stop | None
    events: Events
    holdout: Holdout | None = None
    dated: _Dated | None = None
    capacity_values: bool = False


@dataclass(frozen=True)
class _Dated:
    """The run's inputs and its one run time: applied to the problem it solves (after a
    rebalance carried its owners, so the SLA sees them)."""

    inputs: Inputs
    at: datetime

    def apply(self, problem: Problem, policy: Policy, holdout: Holdout | None) -> Problem:
        dated = run_date_of(problem, policy, self.inputs, self.at)
        ops = dated.ops
        if holdout is not None and ops is not None and (ops.closed.any() or ops.released.any()):
            raise InputError(
                "a holdout cannot be drawn in a run where reps are away keeping their book or "
                "leads are past their SLA (not supported yet): drop --holdout for this run"
            )
        return dated


def recorded(store: Store, locked: Callable[[list[Published]], Outcome]) -> Outcome:
    """The recorded part of a run (``execute``, ``route``): ``locked`` runs under the store's
    lock, from the re-run check to the commit, and lists the folders it put in place in the
    list it is given. The files go into place after the rows are written and before the
    commit; a commit that fails puts the folder back as it was, so files on disk, a recorded
    run and exit 0 go together. A store error is a StoreError (exit 5 when the store did not
    answer in time)."""
    published: list[Published] = []
    try:
        outcome = locked(published)
    except SQLAlchemyError as exc:
        for done in published:
            done.undo()
        if unanswered(exc):
            raise store.timed_out(exc) from exc
        raise StoreError(
            f"cannot record the run in the store {store.name} ({reason(exc)}); nothing was "
            "written or recorded"
        ) from exc
    except BaseException:
        for done in published:
            done.undo()
        raise
    for done in published:
        done.done()
    return outcome


def _locked(asked: _Recording, published: list[Published]) -> Outcome:
    command, problem, policy, key = asked.command, asked.problem, asked.policy, asked.key
    folder, store, stop, events = asked.folder, asked.store, asked.stop, asked.events
    out = folder.given
    with store.writing(asked.wait, stop) as conn:
        events.emit("store_locked", store=store.name)
        newest = store.runs(conn, limit=1)
        # (an interrupted run is not an answer to give again: its solve was cut short)
        if newest and newest[0].run_key == key and newest[0].interrupted is None:
            return _rerun(
                store, conn, newest[0], command, problem, policy, key, folder, events, published
            )
        carried = None
        previous: RunRow | None = None
        if command == "rebalance":
            previous, carried = _carry_owners(store, conn, problem, asked.from_run, events)
            problem = carried.problem
        if asked.dated is not None:
            problem = asked.dated.apply(problem, policy, asked.holdout)
        not_stopped(stop, "before solving; nothing written or recorded")
        # a rebalance holds out only leads without an owner carried from the previous run
        drawable = problem.owner < 0 if carried is not None else None
        result = _solved(
            problem,
            policy,
            asked.price_rules,
            stop,
            events,
            asked.holdout,
            drawable,
            capacity=asked.capacity_values,
        )
        if carried is not None and previous is not None:
            result = replace(result, rebalance=_rebalance_figures(previous, carried))
        if (cut := _cut_short(result, events)) is not None:
            return replace(cut, carried=carried)
        extra = {VANISHED: carried.vanished} if carried is not None else None
        files = result_files(result, matrix=asked.matrix, extra=extra)
        summary = result.summary()
        source = previous.original if previous is not None else None
        recording = time.perf_counter()
        run_id = store.record(
            conn, _solved_run(command, key, problem, policy, result, summary, source, out, files)
        )
        # The files go into place last, just before the commit: a failure before leaves
        # neither files nor a run; a failed commit puts the folder back (``recorded``).
        published.append(publish(folder, bytes_writers(files), command=command, run_id=run_id))
        written = published[-1].files
    events.emit(  # committed
        "recorded",
        run=run_id,
        assignment_rows=problem.n_leads if result.has_solution else 0,
        seconds=round(time.perf_counter() - recording, 3),
    )
    return _done(
        Outcome(
            result.status,
            summary,
            tuple(written),
            result,
            run_id=run_id,
            from_run=source,
            carried=carried,
        ),
        events,
    )


def _carry_owners(
    store: Store, conn: Connection, problem: Problem, from_run: str | None, events: Events
) -> tuple[RunRow, Carried]:
    """rebalance: the run it starts from, and its owners made the leads' current owners."""
    previous = source_run(store, conn, from_run or "latest")
    carried = with_previous_owners(problem, store.assignment(previous, conn))
    events.emit(
        "owners_carried",
        from_run=previous.original,
        carried=carried.carried,
        new_leads=len(carried.new_leads),
        vanished=len(carried.vanished),
        owners_gone=len(carried.owners_gone),
    )
    return previous, carried


def _solved_run(
    command: Command,
    key: str,
    problem: Problem,
    policy: Policy,
    result: Result,
    summary: dict[str, Any],
    source: int | None,
    out: Path,
    files: Files,
) -> NewRun:
    """The row of a solved run (its assignment only when it has one)."""
    return NewRun(
        command=command,
        version=__version__,
        status=result.status.value,
        run_key=key,
        inputs=dict(problem.digests),
        policy=policy.model_dump(mode="json"),
        summary=summary,
        from_run=source,
        out=str(out),
        assignments=_assignment_rows(result) if result.has_solution else None,
        files=files,
    )


def _input_paths(inputs: Inputs, store: Store | None) -> list[Path | None]:
    """What a run reads from files: its tables, policy and (SQLite) the store."""
    return [*inputs.paths, None if store is None else store.path]


def _solved(
    problem: Problem,
    policy: Policy,
    price_rules: bool,
    stop: Stop | None,
    events: Events,
    holdout: Holdout | None = None,
    drawable: np.ndarray | None = None,
    *,
    capacity: bool = False,
) -> Result:
    """The solve (with a holdout: the baseline arm, then this solve on the optimized arm
    with the capacity left; rule prices and capacity values are the optimized arm's).
    ``capacity``: capacity values from the LP's duals too (``solve(capacity="all")``)."""
    if holdout is not None:
        return solve_with_holdout(
            problem,
            policy,
            holdout,
            drawable=drawable,
            optimize=lambda p, pol: _solved(p, pol, price_rules, stop, events, capacity=capacity),
        )
    mode: CapacityMode = "all" if capacity else "flow"
    result = solve(problem, policy, progress=events, stop=stop, capacity=mode)
    if price_rules and result.has_solution and result.interrupted is None:
        events.emit("pricing_rules")
        priced = price_rules_of(result, stop)
        if stop is not None and stop.is_set():  # cut short: the assignment, not its prices
            return replace(result, interrupted=stop.reason)
        result = priced
    return result


def source_run(store: Store, conn: Connection, ref: str, command: str = "rebalance") -> RunRow:
    """The run whose owners ``command`` (rebalance, route) takes: ``ref`` is ``latest`` (the
    newest run with an assignment) or a run reference; StoreError when it has none."""
    if ref.strip().lower() == "latest":
        found = store.latest_with_assignment(conn)
        if found is None:
            raise StoreError(
                f"{command} --from-run latest: the store {store.name} has no run with an "
                "assignment yet; run 'leadassign solve' first"
            )
        return found
    run = store.run(ref, conn)
    if not run.has_assignment:
        raise StoreError(f"{command} --from-run {ref}: run {run.id} has no assignment")
    return run


def _rebalance_figures(previous: RunRow, carried: Carried) -> dict[str, Any]:
    return {
        "from_run": previous.original,
        "owners_carried": carried.carried,
        "new_leads": len(carried.new_leads),
        "vanished_leads": len(carried.vanished),
        "owners_gone": len(carried.owners_gone),
        "owners_replaced_in_leads_table": carried.replaced,
    }


def _assignment_rows(result: Result) -> pd.DataFrame:
    table = result.assignments_file
    rows = pd.DataFrame(
        {
            "lead_id": table["lead_id"].astype(str),
            "rep_id": table["rep_id"].fillna("").astype(str),
            "previous_rep_id": np.asarray(result.problem.leads.current_owner, dtype=object),
            "expected_value": table["expected_value"].astype(np.float64),
            "reason": table["reason"].astype(str),
        }
    )
    if result.arm is not None:
        rows["arm"] = np.asarray(result.arm, dtype=object)
    return rows


def _rerun(
    store: Store,
    conn: Connection,
    original: RunRow,
    command: Command,
    problem: Problem,
    policy: Policy,
    key: str,
    folder: Target,
    events: Events,
    published: list[Published],
) -> Outcome:
    """The newest run again: its files into ``out``, and a row that points at it."""
    out = folder.given
    files = store.files(original, conn)
    run_id = store.record(
        conn,
        NewRun(
            command=command,
            version=__version__,
            status=original.status,
            run_key=key,
            inputs=dict(problem.digests),
            policy=policy.model_dump(mode="json"),
            summary=original.summary,
            rerun_of=original.original,
            from_run=original.from_run,
            out=str(out),
        ),
    )
    # last, as for a solved run (``recorded``)
    published.append(publish(folder, bytes_writers(files), command=command, run_id=run_id))
    written = published[-1].files
    events.emit("rerun", of=original.original)
    return _done(
        Outcome(
            Status(original.status),
            original.summary,
            tuple(written),
            run_id=run_id,
            rerun_of=original.original,
            from_run=original.from_run,
        ),
        events,
    )


def _cut_short(result: Result, events: Events) -> Outcome | None:
    """A solve stopped before it had an assignment: nothing is written or recorded."""
    if result.interrupted is None or result.has_solution:
        return None
    events.emit("interrupted", signal=result.interrupted, written=False, recorded=False)
    return Outcome(result.status, result.summary(), (), result)


def _finish(
    result: Result, folder: Target, command: Command, matrix: bool, events: Events
) -> Outcome:
    """An unrecorded run: its files (none when stopped before any solution)."""
    if (cut := _cut_short(result, events)) is not None:
        return cut
    published = publish(folder, result_writers(result, matrix=matrix), command=command)
    published.done()
    written = published.files
    return _done(Outcome(result.status, result.summary(), tuple(written), result), events)


def _done(outcome: Outcome, events: Events) -> Outcome:
    summary = outcome.summary
    if outcome.has_solution:
        events.emit(
            "solution_found",
            objective=summary.get("objective"),
            bound=summary.get("best_bound"),
            gap=summary.get("gap"),
            final=True,
        )
    return outcome


def run(
    command: Command,
    inputs: Inputs,
    out: Path,
    *,
    store: str | None,
    wait: float | None = None,
    solver: dict[str, Any] | None = None,
    from_run: str | None = None,
    matrix: bool = False,
    price_rules: bool = False,
    stop: Stop | None = None,
    events: Events | None = None,
    force: bool = False,
    holdout: Holdout | None = None,
    capacity_values: bool = False,
) -> Outcome:
    """:func:`execute` with the store named by a SQLite path or SQLAlchemy URL (None: not
    recorded), opened for the run and closed after it: what ``leadassign solve`` and
    ``leadassign rebalance`` do. ``wait``: seconds to wait while another run holds the store
    (None: fail at once with StoreBusy)."""
    with contextlib.ExitStack() as stack:
        opened = None if store is None else stack.enter_context(Store(store, wait=wait))
        return execute(
            command,
            inputs,
            out,
            store=opened,
            solver=solver,
            from_run=from_run,
            matrix=matrix,
            price_rules=price_rules,
            wait=wait or 0.0,
            stop=stop,
            events=events,
            force=force,
            holdout=holdout,
            capacity_values=capacity_values,
        )


__all__ = ["Command", "Outcome", "execute", "run", "run_key"]
