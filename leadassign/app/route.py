"""route: assign the leads a recorded plan does not own yet, keeping every owned lead where it
is (docs/weekly.md#route).

The whole book is solved by the ordinary pipeline with each owned lead fixed to its owner
(``models.problem.Steer``; ``compile.prepare.steered``), so every hard rule holds over the
book: capacity, tiers, floors, accounts together (a new lead of an owned account can only
go to the account's owner), the account cap, fairness bands and assign_all. The plan's owned
leads that are not in ``--leads`` stay owned; they take their owner's capacity (one unit
each) and count toward the owner's floor, and nothing else is known of them. New leads'
scores are their expected value minus the owner rep's capacity price (the plan's reps.csv
``capacity_value``), plus the working-hours bonus; the leads routed first, as in solve.

Intake caps (policy ``intake``) count the routed leads of the store's route runs by each
rep's local day and ISO week at their ``--at`` (the ``route.routed_by_rep`` of their
summary.json), plus this run's. Recorded as command ``route`` with the rows of its pool (new
or released leads) over its plan (``base_run``; ``Store.assignment`` resolves the whole
book), under the store's lock, re-used on a re-run, like solve (``app.runs``). With
``sla.untouched_hours``, owned leads of --leads past the SLA go back into the pool
(``sla_released``; reason ``sla_release``), never to their owner unless the owner is their
only eligible rep.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from leadassign import __version__
from leadassign.app.inputs import Inputs, load
from leadassign.app.interrupt import not_stopped
from leadassign.app.runs import Outcome, _rerun, recorded, source_run
from leadassign.control.stop import Stop
from leadassign.events import Events, NoEvents
from leadassign.models import Policy, Problem
from leadassign.models.availability import away_on, sla_expired
from leadassign.models.clock import day_of
from leadassign.models.operations import Operations
from leadassign.models.problem import Carried, Steer, with_previous_owners
from leadassign.models.shifts import Shifts, iso_week_start, shifts
from leadassign.models.tables import LeadTable, parse_leads, parse_pairs
from leadassign.output import Files, summary_json
from leadassign.publish import Published, Target, publish, target
from leadassign.result import Result, Status
from leadassign.solve import solve
from leadassign.store.db import NewRun, Store

REASON_ROUTED = "routed"
#: what route reads of its plan's book (``Store.assignment``)
OWNERS = ("lead_id", "rep_id")
#: how many recorded runs back intake caps look for route runs (a week of 15-minute runs)
HISTORY_RUNS = 2000


@dataclass(frozen=True, eq=False)
class Routing:
    """The route problem built from the leads, the plan's owners and the run's time."""

    problem: Problem  # what is solved (``Steer``): the whole book, or the new leads alone
    carried: Carried  # --leads with the plan's owners as current_owner
    absent: pd.DataFrame  # the plan's owned leads not in --leads: lead_id, rep_id
    solved: np.ndarray  # positions in --leads of ``problem``'s leads
    room: np.ndarray  # per rep: capacity units left for new leads (before intake and hours)
    open_to_new: np.ndarray  # per rep: capacity units new leads may take in this run
    routed_today: np.ndarray  # per rep: routed leads earlier on its local day
    routed_week: np.ndarray  # per rep: routed leads earlier in its ISO week
    on_shift: np.ndarray  # bool per rep
    prices: np.ndarray  # per rep: capacity price used
    released: np.ndarray  # per lead of --leads: owned, past the SLA, back in the pool

    @property
    def new(self) -> np.ndarray:
        """Per lead of --leads: not owned by the plan."""
        is_new: np.ndarray = self.carried.problem.owner < 0
        return is_new

    @property
    def pool(self) -> np.ndarray:
        """Per lead of --leads: routed by this run (new, or released by the SLA)."""
        pooled: np.ndarray = self.new | self.released
        return pooled


def sla_released(book: Problem, policy: Policy, at: datetime) -> np.ndarray:
    """Per lead of ``book`` (the plan's owners as current_owner): owned and past the policy's
    ``sla.untouched_hours`` at ``at`` (``availability.sla_expired``); none without an SLA."""
    if policy.sla is None:
        return np.zeros(book.n_leads, dtype=bool)
    return sla_expired(book.leads, at, policy.sla.untouched_hours)


def _released_ops(released: np.ndarray, at: datetime, policy: Policy, m: int) -> Operations:
    """The route's run-date operations for the solve: only the SLA release (time off is in
    the reps' room); ``compile.prepare.run_date_pairs`` keeps a released lead from its
    owner unless the owner is its only eligible rep, and names the reason."""
    return Operations(
        at=at,
        closed=np.zeros(m, dtype=bool),
        gone=np.full(m, "", dtype=object),
        back=np.full(m, "", dtype=object),
        released=released,
        sla_hours=policy.sla.untouched_hours if policy.sla is not None else None,
    )


def routed_counts(
    history: list[tuple[datetime, Mapping[str, int]]],
    clock: Shifts,
    rep_ids: np.ndarray,
    at: datetime,
) -> tuple[np.ndarray, np.ndarray]:
    """Per rep: leads routed by earlier route runs on its local day of ``at`` and in its ISO
    week (``history``: each run's --at and routed leads per rep)."""
    days = clock.local_days(at)
    today = np.zeros(len(rep_ids), dtype=np.int64)
    week = np.zeros(len(rep_ids), dtype=np.int64)
    position = {str(r): j for j, r in enumerate(rep_ids)}
    for when, by_rep in history:
        for rep, count in by_rep.items():
            j = position.get(rep)
            if j is None:
                continue
            day = when.astimezone(clock.zones[j]).date()
            if day == days[j]:
                today[j] += count
            if iso_week_start(day) == iso_week_start(days[j]):
                week[j] += count
    return today, week


def route_problem(
    problem: Problem,
    policy: Policy,
    plan: pd.DataFrame,
    at: datetime,
    prices: np.ndarray | None = None,
    history: Sequence[tuple[datetime, Mapping[str, int]]] = (),
) -> Routing:
    """The book to solve: ``problem``'s leads with ``plan``'s owners (lead_id, rep_id; ''
    for none) fixed, each rep's capacity cut to its owned leads plus what new leads may
    take (capacity left, intake caps, hard working hours), floors less the absent owned
    leads, and the new leads' price and shift terms."""
    reps = problem.reps
    clock = shifts(reps)
    plan = plan.assign(rep_id=plan["rep_id"].fillna("").astype(str))
    carried = with_previous_owners(problem, plan)
    book = carried.problem
    m = book.n_reps
    released = sla_released(book, policy, at)
    fixed = np.where(released, -1, np.asarray(book.owner, dtype=np.int64))
    absent = carried.vanished
    absent = absent[absent["rep_id"].isin(pd.Index(reps.ids, dtype=object))].reset_index(drop=True)
    away = np.bincount(
        pd.Index(reps.ids, dtype=object).get_indexer(absent["rep_id"]), minlength=m
    ).astype(np.int64)
    owned_units = np.bincount(
        fixed[fixed >= 0], weights=book.leads.effort[fixed >= 0], minlength=m
    ).astype(np.int64)
    room = np.maximum(reps.capacity - away - owned_units, 0)
    today, week = routed_counts(list(history), clock, reps.ids, at)
    open_to_new = room.copy()
    if policy.intake is not None:
        for cap, done in ((policy.intake.per_day, today), (policy.intake.per_week, week)):
            if cap is not None:
                open_to_new = np.minimum(open_to_new, np.maximum(cap - done, 0))
    # time off (leadassign.models.availability): a rep away on the run date takes no new lead
    open_to_new = np.where(away_on(reps, day_of(at)), 0, open_to_new)
    on_shift = clock.on_shift(at)
    hours = policy.working_hours
    if hours is not None and hours.mode == "hard":
        open_to_new = np.where(on_shift, open_to_new, 0)
    bonus = np.zeros(m) if hours is None or hours.mode == "hard" else hours.weight * on_shift
    price = np.zeros(m) if prices is None else np.asarray(prices, dtype=np.float64)
    leads, only = _owned_accounts(book, policy, fixed)
    steer = Steer(fixed, only, price=price, bonus=np.asarray(bonus, dtype=np.float64))
    owned_leads = np.bincount(fixed[fixed >= 0], minlength=m).astype(np.int64)
    if whole_book(policy):  # fairness and the account cap count the owned leads too
        capacity = owned_units + open_to_new
        floors = np.clip(reps.min_leads - away, 0, capacity)
        solved = np.arange(book.n_leads)
    else:  # the owned leads as offsets: the new leads alone, in what is left
        capacity = open_to_new
        floors = np.clip(reps.min_leads - away - owned_leads, 0, capacity)
        solved = np.flatnonzero(fixed < 0)
        steer = Steer(fixed[solved], only[solved], price=steer.price, bonus=steer.bonus)
        book = _subset(book, solved)
        leads = book.leads
    if released.any():
        book = replace(book, ops=_released_ops(released[solved], at, policy, m))
    steered = replace(
        book,
        leads=leads,
        reps=replace(reps, capacity=capacity.astype(np.int64), min_leads=floors.astype(np.int64)),
        steer=steer,
    )
    return Routing(
        steered, carried, absent, solved, room, open_to_new, today, week,
        on_shift, price, released,
    )  # fmt: skip


def whole_book(policy: Policy) -> bool:
    """Does route solve the whole book (owned leads fixed to their owner), not the new
    leads alone with the owned ones as capacity and floor offsets? With fairness or the
    account cap, whose figures count every lead of a rep."""
    return policy.fairness is not None or policy.account_cap is not None


def _subset(book: Problem, keep: np.ndarray) -> Problem:
    """``book`` with only the leads at ``keep`` (and their rows of the pairs table)."""
    frame = book.leads.raw.frame.iloc[keep].reset_index(drop=True)
    leads = parse_leads(replace(book.leads.raw, frame=frame))
    pairs = None
    if book.pairs is not None:
        rows = book.pairs.raw.frame
        rows = rows[rows["lead_id"].isin(pd.Index(frame["lead_id"]))].reset_index(drop=True)
        pairs = parse_pairs(replace(book.pairs.raw, frame=rows))
    return Problem(
        leads=leads,
        reps=book.reps,
        affinity=book.affinity,
        pairs=pairs,
        pairs_mode=book.pairs_mode,
        digests=book.digests,
    )


def _owned_accounts(
    book: Problem, policy: Policy, fixed: np.ndarray
) -> tuple[LeadTable, np.ndarray]:
    """accounts.together: a new lead of an account with an owned lead in the table may go
    to that lead's owner only (the first owned lead's, in table order), or stay unassigned;
    the owned leads leave their account in the solve (they are fixed), so the account's new
    leads stay together among themselves. Without the rule: the table as it is."""
    only = fixed.copy()
    leads = book.leads
    if not policy.accounts_together:
        return leads, only
    account = np.asarray(leads.account_id, dtype=object)
    owned = (fixed >= 0) & (account != "")
    owner = pd.Series(fixed[owned], index=account[owned]).groupby(level=0, sort=False).first()
    joins = (fixed < 0) & pd.Index(account).isin(owner.index)
    only[joins] = owner.reindex(account[joins]).to_numpy(dtype=np.int64)
    kept_apart = np.where(fixed >= 0, "", account).astype(object)
    return replace(leads, account_id=kept_apart), only


def capacity_prices(files: tuple[tuple[str, bytes], ...], rep_ids: np.ndarray) -> np.ndarray:
    """The plan's capacity prices: its stored reps.csv's ``capacity_value`` per rep (0 for a
    rep not in it, an empty cell, or a plan without the column)."""
    data = dict(files).get("reps.csv")
    prices = np.zeros(len(rep_ids), dtype=np.float64)
    if data is None:
        return prices
    table = pd.read_csv(io.BytesIO(data), dtype={"rep_id": str}, keep_default_na=False)
    if "capacity_value" not in table.columns:
        return prices
    values = pd.to_numeric(table["capacity_value"], errors="coerce").fillna(0.0)
    position = pd.Index(table["rep_id"].astype(str)).get_indexer(pd.Index(rep_ids, dtype=object))
    prices[position >= 0] = values.to_numpy(dtype=np.float64)[position[position >= 0]]
    return prices


def route_key(
    problem: Problem, policy: Policy, source: str, at: datetime, prices: np.ndarray | None
) -> str:
    """What makes two route runs the same: inputs, policy, --from-run (as given), --at, the
    prices when given explicitly, and the version."""
    key = {
        "command": "route",
        "inputs": dict(sorted(problem.digests.items())),
        "policy": policy.model_dump(mode="json"),
        "from": source,
        "at": at.isoformat(),
        "prices": None if prices is None else [float(p) for p in prices],
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Asked:
    inputs: Inputs
    problem: Problem
    policy: Policy
    folder: Target
    store: Store
    at: datetime
    from_run: str
    prices: np.ndarray | None
    wait: float
    stop: Stop | None
    events: Events


def execute_route(
    inputs: Inputs,
    out: Path,
    *,
    store: Store,
    at: datetime,
    from_run: str = "latest",
    prices: Mapping[str, float] | None = None,
    solver: dict[str, Any] | None = None,
    wait: float = 0.0,
    stop: Stop | None = None,
    events: Events | None = None,
    force: bool = False,
) -> Outcome:
    """Route ``inputs``' new leads against ``from_run``'s plan at ``at`` into ``out``, and
    record the run. ``prices``: capacity prices per rep id instead of the plan's (tests,
    benchmarks)."""
    events = events or NoEvents()
    events.emit("start", command="route", version=__version__, out=str(out))
    started = time.perf_counter()
    folder = target(out, inputs=[*inputs.paths, store.path], force=force)
    problem, policy = load(inputs, solver)
    shifts(problem.reps)  # bad timezone / hours: exit 2 before the store is touched
    events.emit("route_phase", phase="read", seconds=round(time.perf_counter() - started, 3))
    given = None
    if prices is not None:
        given = np.array([float(prices.get(str(r), 0.0)) for r in problem.reps.ids])
    events.emit("inputs_loaded", leads=problem.n_leads, reps=problem.n_reps)
    asked = _Asked(inputs, problem, policy, folder, store, at, from_run, given, wait, stop, events)
    return recorded(store, partial(_locked, asked))


def _locked(asked: _Asked, published: list[Published]) -> Outcome:
    store, events, problem, policy = asked.store, asked.events, asked.problem, asked.policy
    key = route_key(problem, policy, asked.from_run, asked.at, asked.prices)
    started = time.perf_counter()
    with store.writing(asked.wait, asked.stop) as conn:
        events.emit("store_locked", store=store.name)
        newest = store.runs(conn, limit=1)
        if newest and newest[0].run_key == key and newest[0].interrupted is None:
            return _rerun(
                store, conn, newest[0], "route", problem, policy, key, asked.folder, events,
                published,
            )  # fmt: skip
        plan = source_run(store, conn, asked.from_run, "route")
        prices = asked.prices
        if prices is None:
            prices = capacity_prices(store.files(plan, conn, ("reps.csv",)), problem.reps.ids)
        routing = route_problem(
            problem, policy, store.assignment(plan, conn, OWNERS), asked.at, prices,
            _history(store, conn),
        )  # fmt: skip
        not_stopped(asked.stop, "before solving; nothing written or recorded")
        solved_at = time.perf_counter()
        events.emit("route_phase", phase="store_read", seconds=round(solved_at - started, 3))
        result = kept_owned(
            solve(routing.problem, policy, progress=events, stop=asked.stop), routing
        )
        if result.interrupted is not None and not result.has_solution:
            return Outcome(result.status, result.summary(), (), result)
        solve_s = time.perf_counter() - solved_at
        events.emit("route_phase", phase="solve", seconds=round(solve_s, 3))
        files, summary, book = route_outputs(result, routing, asked.at, plan.original, solve_s)
        run_id = store.record(
            conn,
            NewRun(
                command="route",
                version=__version__,
                status=result.status.value,
                run_key=key,
                inputs=dict(problem.digests),
                policy=policy.model_dump(mode="json"),
                summary=summary,
                from_run=plan.original,
                out=str(asked.folder.given),
                assignments=book,
                files=files,
                base_run=plan.original if plan.base_run is None else plan.base_run,
            ),
        )
        published.append(publish(asked.folder, _writers(files), command="route", run_id=run_id))
        written = published[-1].files
        writing = time.perf_counter() - solved_at - solve_s
    events.emit("recorded", run=run_id)
    events.emit("route_phase", phase="write_record", seconds=round(writing, 3))
    return Outcome(
        result.status, summary, tuple(written), result, run_id=run_id, from_run=plan.original
    )


def owned_moved(result: Result, routing: Routing) -> np.ndarray:
    """Per lead of the solve: an owned lead (not in the pool) the answer leaves without its
    plan owner."""
    rep = result.assignments_file["rep_id"].fillna("").astype(str).to_numpy(dtype=object)
    owner = np.asarray(routing.carried.problem.leads.current_owner, dtype=object)[routing.solved]
    moved: np.ndarray = ~routing.pool[routing.solved] & (rep != owner)
    return moved


def kept_owned(result: Result, routing: Routing) -> Result:
    """route never moves an owned lead: an answer that leaves one without its owner (the
    whole book solved with a hard rule that the owned leads and the most leads routed cannot
    both meet, e.g. a fairness band) is no route answer. It becomes UNKNOWN (exit 4: whether
    some routing keeps every owned lead is not known), naming the leads; nothing is routed,
    and a rebalance may move owned leads."""
    if not result.has_solution:
        return result
    off = np.flatnonzero(owned_moved(result, routing))
    if not len(off):
        return result
    ids = result.problem.leads.ids
    shown = ", ".join(str(ids[i]) for i in off[:10].tolist())
    more = f" and {len(off) - 10} more" if len(off) > 10 else ""
    why = (
        f"route keeps every owned lead with its owner, but the best answer found over the "
        f"book under the hard rules leaves {len(off)} owned lead(s) without it ({shown}{more}); "
        "nothing routed: a rebalance may move owned leads"
    )
    return result.withdrawn(Status.UNKNOWN, why)


def _writers(files: Files) -> dict[str, Any]:
    def writer(data: bytes) -> Any:
        return lambda path: path.write_bytes(data)

    return {name: writer(data) for name, data in files}


def _history(store: Store, conn: Connection) -> list[tuple[datetime, Mapping[str, int]]]:
    """The store's route runs (not re-runs): their --at and routed leads per rep."""
    found = []
    for run in store.runs(conn, limit=HISTORY_RUNS, command="route"):
        block = run.summary.get("route")
        if run.rerun_of is None and isinstance(block, dict) and "at" in block:
            found.append((datetime.fromisoformat(block["at"]), block.get("routed_by_rep", {})))
    return found


def route_outputs(
    result: Result, routing: Routing, at: datetime, plan_id: int, solve_s: float
) -> tuple[Files, dict[str, Any], pd.DataFrame | None]:
    """assignments.csv (the new leads and those the SLA released), reps.csv, summary.json,
    and the rows to record (the pool's leads; None without an answer)."""
    summary = result.summary()
    if not result.has_solution:
        return (("summary.json", summary_json(summary).encode("utf-8")),), summary, None
    table = result.assignments_file.copy()
    pooled = routing.pool[routing.solved]
    rep = table["rep_id"].fillna("").astype(str).to_numpy(dtype=object)
    plan_owner = np.asarray(routing.carried.problem.leads.current_owner, dtype=object)
    moved = int(owned_moved(result, routing).sum())  # 0 after ``kept_owned``
    reasons = table["reason"].astype(str).to_numpy(dtype=object)
    reasons[routing.new[routing.solved] & (rep != "")] = REASON_ROUTED
    table["reason"] = reasons
    new_rows = table[pooled].reset_index(drop=True)
    reps = routing.problem.reps
    by_rep = np.bincount(  # every lead of the pool given a rep takes a unit of its room
        pd.Index(reps.ids, dtype=object).get_indexer(rep[pooled & (rep != "")]),
        minlength=len(reps.ids),
    )
    released = routing.released[routing.solved]
    back = int((released & (rep == plan_owner[routing.solved])).sum())
    summary["route"] = _route_block(routing, at, plan_id, new_rows, by_rep, (moved, back), solve_s)
    files = (
        ("assignments.csv", new_rows.to_csv(index=False, lineterminator="\n").encode("utf-8")),
        ("reps.csv", _reps_csv(routing, by_rep).encode("utf-8")),
        ("summary.json", summary_json(summary).encode("utf-8")),
    )
    return files, summary, _book(table, routing, plan_owner)


def owners_after(result: Result, routing: Routing) -> np.ndarray:
    """Per lead of --leads: its rep after the route ('' for none): the plan's owner of an
    owned lead, the routed rep of a new one or one the SLA released."""
    owners = np.asarray(routing.carried.problem.leads.current_owner, dtype=object).copy()
    table = result.assignments_file
    rep = table["rep_id"].fillna("").astype(str).to_numpy(dtype=object)
    rows = routing.pool[routing.solved]
    owners[routing.solved[rows]] = rep[rows]
    return owners


def _route_block(
    routing: Routing,
    at: datetime,
    plan_id: int,
    new_rows: pd.DataFrame,
    by_rep: np.ndarray,
    moved: tuple[int, int],
    solve_s: float,
) -> dict[str, Any]:
    moved_owned, back = moved
    ids = routing.problem.reps.ids
    unassigned = new_rows["rep_id"].fillna("").astype(str) == ""
    left = new_rows.loc[unassigned, "reason"].value_counts()
    return {
        "at": at.isoformat(),
        "from_run": plan_id,
        "leads_in_table": len(routing.new),
        "new_leads": int(routing.new.sum()),
        "owned_in_table": int((~routing.new).sum()),
        "owned_not_in_table": len(routing.absent),
        "owned_moved": moved_owned,
        "routed": int(by_rep.sum()),
        "left_unassigned": {str(k): int(v) for k, v in sorted(left.items())},
        "sla_released": int(routing.released.sum()),
        "sla_back_to_owner": back,
        "routed_by_rep": {str(r): int(c) for r, c in zip(ids, by_rep, strict=True) if c},
        "remaining_capacity": {
            str(r): int(c) for r, c in zip(ids, routing.room - by_rep, strict=True)
        },
        "reps_on_shift": int(routing.on_shift.sum()),
        "priced": bool(np.any(routing.prices != 0)),
        "solve_s": round(solve_s, 3),
    }


def _reps_csv(routing: Routing, by_rep: np.ndarray) -> str:
    reps = routing.problem.reps
    frame = pd.DataFrame(
        {
            "rep_id": reps.ids,
            "room_before": routing.room,
            "routed": by_rep,
            "remaining_capacity": routing.room - by_rep,
            "routed_today": routing.routed_today + by_rep,
            "routed_this_week": routing.routed_week + by_rep,
            "on_shift": np.where(routing.on_shift, "true", "false"),
            "capacity_value": routing.prices,
        }
    )
    text: str = frame.to_csv(index=False, lineterminator="\n")
    return text


def _book(table: pd.DataFrame, routing: Routing, plan_owner: np.ndarray) -> pd.DataFrame:
    """What a route run records: the leads of its pool (new, or released by the SLA) with the
    rep each got ('' for none). Every owned lead stays with its plan owner (``kept_owned``), so
    it is the plan's row: ``Store.assignment`` resolves the whole book over ``base_run``, and a
    route of 500 new leads records 500 rows whether --leads holds them alone or the whole
    book."""
    leads = routing.carried.problem.leads
    rows = routing.pool[routing.solved]
    at = routing.solved[rows]
    return pd.DataFrame(
        {
            "lead_id": np.asarray(leads.ids, dtype=object)[at],
            "rep_id": table["rep_id"].fillna("").astype(str).to_numpy(dtype=object)[rows],
            "previous_rep_id": plan_owner[at],
            "expected_value": table["expected_value"].to_numpy(dtype=np.float64)[rows],
            "reason": table["reason"].astype(str).to_numpy(dtype=object)[rows],
        }
    )


def route(
    inputs: Inputs,
    out: Path,
    *,
    store: str,
    at: datetime,
    from_run: str = "latest",
    prices: Mapping[str, float] | None = None,
    wait: float | None = None,
    solver: dict[str, Any] | None = None,
    stop: Stop | None = None,
    events: Events | None = None,
    force: bool = False,
) -> Outcome:
    """:func:`execute_route` with the store opened from a path or URL: ``leadassign route``."""
    with contextlib.ExitStack() as stack:
        opened = stack.enter_context(Store(store, wait=wait))
        return execute_route(
            inputs, out, store=opened, at=at, from_run=from_run, prices=prices,
            solver=solver, wait=wait or 0.0, stop=stop, events=events, force=force,
        )  # fmt: skip


__all__ = [
    "REASON_ROUTED",
    "Routing",
    "capacity_prices",
    "execute_route",
    "owners_after",
    "route",
    "route_key",
    "route_outputs",
    "route_problem",
    "routed_counts",
]
