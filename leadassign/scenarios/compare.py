"""Solve a scenario's base and variants and compare them (README "What-if scenarios").

Each run is built from the scenario file and solved on its own: the base first, then the
variants, in this process, in a pool of local processes (``jobs``) or as Ray tasks, each
starting from the base's assignment where it still holds (``solve(start=...)``). A run hands
back its output files, which the caller writes to ``OUT/<name>/`` (the same files as
``leadassign solve``). Then ``comparison.csv`` gets one row per run, ``diff_<variant>.csv``
the leads whose rep differs from the base, and ``report.html`` the page of it all
(``report.py``). A variant depends only on the scenario and the base's answer, and
everything is written in file order, so the files are the same whatever the executor.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from leadassign.baselines import run_baseline
from leadassign.control.stop import Stop
from leadassign.errors import InputError
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem
from leadassign.output import bytes_writers, result_files, write_bytes, write_csv, write_files
from leadassign.result import Status
from leadassign.scenarios.run import Run
from leadassign.scenarios.spec import BASE, Built, Scenario, Sweep, Tables, build, variant_policy
from leadassign.solve import Start, solve

COMPARISON = "comparison.csv"
FRONTIER = "frontier.csv"
#: comparison.csv's status of a run that a stop (SIGINT, SIGTERM) left without an answer.
NOT_RUN = "NOT_RUN"
#: Seconds the runs under way get after a stop to return their best answer; then their
#: processes (or Ray tasks) are ended.
STOP_GRACE_S = 2.0


def solve_run(
    scenario: Scenario,
    name: str,
    time_limit_s: float | None = None,
    start: Start | None = None,
    stop: Stop | None = None,
    built: tuple[Problem, Policy] | None = None,
) -> Run:
    """Build and solve one run, from ``start`` (another run's answer) where it still holds
    (``built``: the run's problem and policy, already built by ``spec.check``). Its
    output files come back in the Run (written by the caller), so a worker needs no access to
    the output folder; a module-level function, so that process pools and Ray can call it.
    ``stop`` (in a pool worker: the worker's, set by the parent) ends the solve with its best
    answer; a run not begun when it is set is not run (:func:`not_run`)."""
    stop = stop if stop is not None else _WORKER_STOP
    if stop is not None and stop.is_set():
        return not_run(scenario, name, stop.reason or "stopped")
    problem, policy = built or build(scenario, name)
    if start is not None and policy.continuity != variant_policy(scenario, BASE).continuity:
        # The keep bonus prices the base's churn limit; a variant that changes the limit
        # searches for its own from scratch (the base's was 12x off for 0.15 -> 0.05).
        start = Start(start.owners, rep_prices=start.rep_prices, relaxation=start.relaxation)
    routed = None if name == BASE else scenario.variants[name].baseline
    if routed is not None:  # what a CRM would do, or the current owners: nothing solved
        result = run_baseline(problem, routed, policy)
    else:
        # every run priced, also from the LP's duals: report.html charts what capacity is worth
        result = solve(
            problem, policy, time_limit_s=time_limit_s, start=start, stop=stop, capacity="all"
        )
    files = result_files(result)
    n = problem.n_leads
    rep_ids = np.full(n, "", dtype=object)
    ev = np.full(n, np.nan)
    reps = None
    if result.has_solution:
        table = result.assignments_file
        rep_ids = table["rep_id"].fillna("").astype(str).to_numpy(dtype=object)
        ev = table["expected_value"].to_numpy(dtype=np.float64)
        columns = ["rep_id", "assigned", "expected_value", "assigned_effort", "capacity"]
        reps = result.rep_file[columns].copy()
        reps["available"] = problem.reps.available
        # report.html groups reps by their first territory ('*': all territories)
        reps["group"] = [held[0] if len(held) else "" for held in problem.reps.territories]
    description = "" if name == BASE else scenario.variants[name].description
    rep_names = np.asarray(problem.reps.ids, dtype=object).tolist()
    prices, keep_prices = (
        None if given is None else dict(zip(rep_names, given.tolist(), strict=True))
        for given in (result.rep_prices, result.keep_prices)
    )
    return Run(
        name,
        description,
        result.status,
        result.summary(),
        np.asarray(problem.leads.ids, dtype=object),
        rep_ids,
        ev,
        reps,
        files,
        result.keep_bonus,
        prices,
        result.relaxation,
        keep_prices,
    )


def not_run(scenario: Scenario, name: str, reason: str) -> Run:
    """A run that a stop left without an answer: not begun, or ended in its grace period."""
    description = "" if name == BASE else scenario.variants[name].description
    empty = np.array([], dtype=object)
    summary = {"status": NOT_RUN, "not_run": reason, "interrupted": reason}
    return Run(name, description, Status.UNKNOWN, summary, empty, empty, np.array([]))


#: In a pool worker: the stop its parent sets (``_worker_started``).
_WORKER_STOP: Stop | None = None


def _worker_started(stopped: Any, signum: Any) -> None:
    """A pool worker's initializer: SIGINT (a terminal's Ctrl-C reaches the whole process
    group) is left to the parent, which sets ``stopped`` (a multiprocessing Event) and
    ``signum``; a thread then sets this worker's stop, so its solve ends with its best
    answer as it does in the parent."""
    global _WORKER_STOP
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = _WORKER_STOP = Stop()

    def watch() -> None:
        stopped.wait()
        stop.set(signal.Signals(signum.value).name if signum.value else "stopped")

    threading.Thread(target=watch, name="leadassign-stop", daemon=True).start()


def write_run(run: Run, out: Path) -> None:
    """A run's files into ``out/<name>/`` (staged, then moved into place); none for a run
    that was not run."""
    if run.files:
        write_bytes(out / run.name, run.files)


def start_of(run: Run) -> Start:
    """A run's assignment (assigned leads only), keep bonus, rep prices, flow relaxation
    and churn flow's rep prices as a start for another."""
    assigned = run.rep_ids != ""
    owners = dict(zip(run.lead_ids[assigned].tolist(), run.rep_ids[assigned].tolist(), strict=True))
    return Start(owners, run.keep_bonus, run.rep_prices, run.relaxation, run.keep_prices)


Executor = Literal["local", "ray"]
#: A run's share of its part of an overall time limit (the rest: reading and writing), and
#: in worker processes (which also start: importing the solvers takes a second or two); the
#: least limit a run gets.
RUN_SHARE = 0.9
POOL_SHARE = 0.75
MIN_RUN_S = 0.5


def run_all(
    scenario: Scenario,
    out: Path | None,
    *,
    jobs: int = 1,
    executor: Executor = "local",
    time_limit_s: float | None = None,
    warm: bool = True,
    done: Callable[[Run], None] | None = None,
    stop: Stop | None = None,
    built: Built | None = None,
) -> list[Run]:
    """Every run of the scenario: the base first, then the variants, each from the base's
    assignment unless ``warm`` is False, in this process (``jobs`` 1), in ``jobs`` local
    processes, or as Ray tasks (``executor`` "ray": ``ray.init()`` connects to
    ``RAY_ADDRESS`` or starts a local Ray; the scenario's input paths must be readable by the
    workers). With ``out``, each run's files go to ``out/<name>/`` as it finishes; ``done``
    is told of each run then. The result is in file order whatever the executor. ``stop``
    (SIGINT, SIGTERM) ends the runs under way with their best answers (their processes or
    Ray tasks are ended ``STOP_GRACE_S`` later) and leaves the others :func:`not_run`.

    ``time_limit_s`` is the limit of the whole comparison: each run's solve gets an equal
    share of what is left (``RUN_SHARE`` of it: the rest is for reading and writing),
    counting the runs solved at once (``jobs``) as one; None: each run's own policy limit.

    In this process, the runs ``built`` (by ``spec.check``) are solved as built, and the
    others built from the base's tables read once; worker processes build their own."""
    started = time.perf_counter()

    def limit(waves: int, share: float = RUN_SHARE) -> float | None:
        """The time limit of each run of the next ``waves`` rounds of runs."""
        if time_limit_s is None:
            return None
        left = time_limit_s - (time.perf_counter() - started)
        return max(share * left / max(waves, 1), MIN_RUN_S)

    def finished(run: Run) -> Run:
        if out is not None:
            write_run(run, out)
        if done is not None:
            done(run)
        return run

    stop = stop or Stop()
    names = list(scenario.variants)
    waves = -(-len(names) // max(jobs, 1))  # rounds of variants solved at once
    made = _Builder(scenario, built)
    base = finished(solve_run(scenario, BASE, limit(1 + waves), stop=stop, built=made(BASE)))
    start = start_of(base) if warm and base.status.has_solution else None
    runs: dict[str, Run] = {}
    if executor == "ray":
        runs = _on_ray(scenario, names, limit(waves, POOL_SHARE), start, finished, stop)
    elif jobs <= 1:
        for k, name in enumerate(names):
            run = solve_run(scenario, name, limit(len(names) - k), start, stop, made(name))
            runs[name] = finished(run)
    else:
        runs = _in_pool(scenario, names, jobs, limit(waves, POOL_SHARE), start, finished, stop)
    reason = stop.reason or "stopped"
    return [base, *(runs.get(name) or not_run(scenario, name, reason) for name in names)]


class _Builder:
    """Each run's problem and policy for a solve in this process: as ``spec.check`` built it
    (handed over once), else built from the base's tables, read once."""

    def __init__(self, scenario: Scenario, built: Built | None) -> None:
        self.scenario, self.built = scenario, dict(built or {})
        self.tables: Tables | None = None

    def __call__(self, name: str) -> tuple[Problem, Policy]:
        made = self.built.pop(name, None)  # not kept once solved
        if made is not None:
            return made
        if name != BASE and self.tables is None:
            self.tables = Tables.read(self.scenario)
        return build(self.scenario, name, None if name == BASE else self.tables)


def _in_pool(
    scenario: Scenario,
    names: list[str],
    jobs: int,
    time_limit_s: float | None,
    start: Start | None,
    finished: Callable[[Run], Run],
    stop: Stop,
) -> dict[str, Run]:
    """The variants in ``jobs`` spawned processes (OR-Tools' and HiGHS' threads do not
    survive a fork). When ``stop`` is set, the workers' own stops are set, the runs not
    begun are cancelled, and ``STOP_GRACE_S`` later the workers still running are ended."""
    context = multiprocessing.get_context("spawn")
    stopped, signum = context.Event(), context.Value("i", 0)

    def relay() -> None:
        name = stop.reason or ""
        signum.value = signal.Signals[name].value if name in signal.Signals.__members__ else 0
        stopped.set()

    runs: dict[str, Run] = {}
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_worker_started,
        initargs=(stopped, signum),
    )
    ended = False
    try:
        with stop.hook(relay):
            pending: set[Future[Run]] = {
                pool.submit(solve_run, scenario, name, time_limit_s, start) for name in names
            }
            deadline: float | None = None
            while pending:
                done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                for future in done:
                    if not future.cancelled():
                        run = finished(future.result())
                        runs[run.name] = run
                if stop.is_set():
                    for future in pending:
                        future.cancel()  # not begun: not run
                    pending = {future for future in pending if not future.cancelled()}
                    deadline = deadline or time.monotonic() + STOP_GRACE_S
                    if time.monotonic() >= deadline:
                        break
        ended = bool(pending)
    finally:
        if ended or stop.is_set():
            _end_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
    return runs


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's processes and reap them: none outlives the comparison."""
    end_processes(list((getattr(pool, "_processes", None) or {}).values()), grace_s=2.0)


def end_processes(processes: list[multiprocessing.process.BaseProcess], grace_s: float) -> None:
    """Terminate ``processes`` (SIGTERM), kill those still alive ``grace_s`` later (SIGKILL),
    and reap them."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(grace_s)
        if process.is_alive():
            process.kill()
            process.join(grace_s)


def _on_ray(
    scenario: Scenario,
    names: list[str],
    time_limit_s: float | None,
    start: Start | None,
    finished: Callable[[Run], Run],
    stop: Stop,
) -> dict[str, Run]:
    """The variants as Ray tasks. When ``stop`` is set, the tasks not begun are cancelled,
    and ``STOP_GRACE_S`` later the rest are cancelled by force (a Ray task has no stop of
    its own: those runs are left without an answer)."""
    try:
        import ray
    except ImportError as exc:
        raise InputError(
            "--executor ray needs Ray: pip install 'leadassign[ray]'", source="executor"
        ) from exc
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS") or None, log_to_driver=False)
    task: Any = ray.remote(num_cpus=1)(solve_run)
    pending = [task.remote(scenario, name, time_limit_s, start) for name in names]
    runs: dict[str, Run] = {}
    deadline: float | None = None
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=0.1)
        for ref in ready:
            try:
                run = finished(ray.get(ref))
            except (ray.exceptions.TaskCancelledError, ray.exceptions.RayTaskError):
                if not stop.is_set():
                    raise
                continue
            runs[run.name] = run
        if stop.is_set():
            late = deadline is not None and time.monotonic() >= deadline
            for ref in pending:
                ray.cancel(ref, force=late)
            if late:
                break
            deadline = deadline or time.monotonic() + STOP_GRACE_S
    return runs


def _get(summary: dict[str, Any], *path: str) -> Any:
    value: Any = summary
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def diff(base: Run, run: Run) -> pd.DataFrame:
    """Leads whose rep differs between the base and the run: both reps and expected values,
    and what happened (``moved``, ``newly_assigned``, ``unassigned``, ``excluded`` from the
    run, ``added`` by it); base leads first in their order, then the run's new leads."""
    base_rep = pd.Series(base.rep_ids, index=base.lead_ids)
    base_ev = pd.Series(base.expected_value, index=base.lead_ids)
    rep = pd.Series(run.rep_ids, index=run.lead_ids)
    ev = pd.Series(run.expected_value, index=run.lead_ids)
    run_leads = pd.Index(run.lead_ids, dtype=object)
    added = run_leads[base_rep.index.get_indexer(run_leads) < 0]  # the run's leads not in base
    leads = [*base.lead_ids.tolist(), *added.tolist()]
    frame = pd.DataFrame({"lead_id": leads})
    # hash lookups of the (unique) lead ids: Series.isin on pyarrow strings took 0.15 s at 10k
    lead_ids = pd.Index(frame["lead_id"].to_numpy(dtype=object), dtype=object)
    frame["in_base"] = base_rep.index.get_indexer(lead_ids) >= 0
    frame["in_run"] = rep.index.get_indexer(lead_ids) >= 0
    frame["base_rep_id"] = frame["lead_id"].map(base_rep).fillna("")
    frame["rep_id"] = frame["lead_id"].map(rep).fillna("")
    frame["base_expected_value"] = frame["lead_id"].map(base_ev)
    frame["expected_value"] = frame["lead_id"].map(ev)
    changed = ~frame["in_base"] | ~frame["in_run"] | (frame["base_rep_id"] != frame["rep_id"])
    changed &= not run.summary.get("not_run")  # a run without an answer moved nothing
    frame = frame[changed].copy()
    change = np.select(
        [
            ~frame["in_run"],
            ~frame["in_base"],
            frame["base_rep_id"] == "",
            frame["rep_id"] == "",
        ],
        ["excluded", "added", "newly_assigned", "unassigned"],
        default="moved",
    )
    frame["change"] = change
    delta = frame["expected_value"].fillna(0.0) - frame["base_expected_value"].fillna(0.0)
    frame["delta_expected_value"] = delta
    columns = [
        "lead_id",
        "base_rep_id",
        "rep_id",
        "change",
        "base_expected_value",
        "expected_value",
        "delta_expected_value",
    ]
    return frame[columns].reset_index(drop=True)


def diffs(runs: list[Run]) -> dict[str, pd.DataFrame]:
    """Each variant's ``diff`` against the base (the first run), by name; none (an empty
    table) where either has no assignment: its leads are not "unassigned", it has no answer."""
    answered = runs[0].status.has_solution
    return {
        run.name: diff(runs[0], run)
        if answered and run.status.has_solution
        else diff(runs[0], runs[0])
        for run in runs[1:]
    }


#: comparison.csv's columns of counts.
COUNTS = (
    "leads",
    "reps_available",
    "assigned",
    "unassigned",
    "leads_per_rep_min",
    "leads_per_rep_max",
    "reassigned",
)


#: comparison.csv's columns of changes against the base (empty for a run without an answer).
VS_BASE = (
    "changed_vs_base",
    "unassigned_vs_base",
    "newly_assigned_vs_base",
    "excluded_vs_base",
    "added_vs_base",
)


def comparison(runs: list[Run], moves: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per run (comparison.csv): status, gap, leads assigned, expected value and
    its change from the base, fairness figures, churn against the base (from ``moves``,
    the variants' diffs, computed when not given), solve time."""
    base = runs[0]
    moves = diffs(runs) if moves is None else moves
    rows = []
    for run in runs:
        s = run.summary
        moved = moves.get(run.name)
        unknown = not (run.status.has_solution and base.status.has_solution)
        ev = s.get("expected_value")
        base_ev = base.summary.get("expected_value")
        rows.append(
            {
                "variant": run.name,
                "description": run.description,
                "status": NOT_RUN if s.get("not_run") else run.status.value,
                "method": s.get("method"),
                "gap": s.get("gap"),
                "leads": s.get("leads"),
                "reps_available": s.get("reps_available"),
                "assigned": s.get("assigned"),
                "unassigned": s.get("unassigned"),
                "expected_value": ev,
                "delta_expected_value": None if ev is None or base_ev is None else ev - base_ev,
                "objective": s.get("objective"),
                "utilization_spread": _get(s, "fairness", "utilization_spread"),
                "gini_assigned_value": _get(s, "fairness", "gini_assigned_value"),
                "leads_per_rep_min": _get(s, "fairness", "leads_per_rep", "min"),
                "leads_per_rep_max": _get(s, "fairness", "leads_per_rep", "max"),
                "band_largest_excess": _get(s, "fairness", "band", "largest_excess"),
                "reassigned": s.get("reassigned"),
                "changed_vs_base": 0 if moved is None else int((moved["change"] == "moved").sum()),
                "unassigned_vs_base": 0
                if moved is None
                else int((moved["change"] == "unassigned").sum()),
                "newly_assigned_vs_base": 0
                if moved is None
                else int((moved["change"] == "newly_assigned").sum()),
                "excluded_vs_base": 0
                if moved is None
                else int((moved["change"] == "excluded").sum()),
                "added_vs_base": 0 if moved is None else int((moved["change"] == "added").sum()),
                "solve_s": s.get("solve_s"),
                "interrupted": s.get("interrupted"),
            }
        )
        if unknown:  # no answer: nothing is known against the base
            rows[-1].update(dict.fromkeys(VS_BASE))
    table = pd.DataFrame(rows)
    # counts stay integers where a run without a solution leaves a cell empty (not 251.0)
    return table.astype({column: "Int64" for column in (*COUNTS, *VS_BASE)})


REPORT = "report.html"


def write_comparison(
    runs: list[Run],
    out: Path,
    *,
    title: str = "What-if comparison",
    sweep: Sweep | None = None,
    force: bool = False,
    inputs: Iterable[Path | str | None] = (),
    command: str = "compare",
) -> list[Path]:
    """comparison.csv, one diff_<variant>.csv per variant, frontier.csv with a ``sweep``, and
    report.html (``report.py``), each table computed once, with each run's files in
    ``out/<run>/``: the whole folder staged beside ``out`` and swapped in with its manifest
    (``leadassign.publish``), so a failure leaves none half-written. Returns the top-level
    files."""
    from leadassign.scenarios.report import report_html

    moves = diffs(runs)
    table = comparison(runs, moves)
    tables = {COMPARISON: table, **{f"diff_{name}.csv": frame for name, frame in moves.items()}}
    trade = None if sweep is None else frontier(table, sweep)
    if trade is not None:
        tables = {FRONTIER: trade, **tables}
    metric = None if sweep is None else sweep.metric()
    page = report_html(runs, title, table, moves, trade, metric)
    writers: dict[str, Callable[[Path], None]] = {}
    for run in runs:
        for name, write in bytes_writers(run.files).items():
            writers[f"{run.name}/{name}"] = write
    top = [*tables, REPORT]
    for name, frame in tables.items():
        writers[name] = functools.partial(write_csv, frame)
    writers[REPORT] = functools.partial(_write_page, page)
    write_files(out, writers, force=force, inputs=inputs, command=command)
    return [out / name for name in top]


def _write_page(page: str, path: Path) -> None:
    path.write_text(page, encoding="utf-8")


def frontier(table: pd.DataFrame, sweep: Sweep) -> pd.DataFrame:
    """The sweep's trade-off (frontier.csv) from the comparison ``table`` of its runs: one row
    per point (the runs after the base) with the knob's value, status, gap, leads assigned,
    expected value and the figure it is traded against (lower is better), and whether another
    point is at least as good in both and better in one (``dominated``; points without a
    solution are neither)."""
    metric = sweep.metric()
    table = table.iloc[1:].reset_index(drop=True)
    value = pd.to_numeric(table["expected_value"], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    figure = pd.to_numeric(table[metric], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    solved = ~np.isnan(value) & ~np.isnan(figure)
    # i is dominated by j when j is as good in both and better in one (vectorized, points x points)
    as_good = (value[None, :] >= value[:, None]) & (figure[None, :] <= figure[:, None])
    better = (value[None, :] > value[:, None]) | (figure[None, :] < figure[:, None])
    beats = as_good & better & solved[None, :] & solved[:, None]
    return pd.DataFrame(
        {
            "point": table["variant"],
            "key": sweep.key,
            "value": sweep.values,
            "status": table["status"],
            "gap": table["gap"],
            "assigned": table["assigned"],
            "expected_value": table["expected_value"],
            metric: table[metric],
            "dominated": np.where(solved, beats.any(axis=1), False),
        }
    )


__all__ = [
    "COMPARISON",
    "FRONTIER",
    "NOT_RUN",
    "REPORT",
    "Executor",
    "Run",
    "comparison",
    "diff",
    "diffs",
    "frontier",
    "not_run",
    "run_all",
    "solve_run",
    "write_comparison",
    "write_run",
]
