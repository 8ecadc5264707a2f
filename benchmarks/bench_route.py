"""leadassign route (issue 25): (a) the cron path's time, (b) a simulated week.

(a) A plan of N leads x M reps (``leadassign.demo.make_sample``, seed 3, capacity 1.2x)
solved once and recorded in a temporary store, then ``route`` of 500 new leads against it,
end to end (the app call: reading, store, solve, writing and recording), with --leads
holding the new leads only and then the whole book. Phases from the run's ``route_phase`` events.

(b) A week: a book whose leads arrive over 5 days (20% a day), reps with the week's
capacity. (i) one solve of all the week's leads (hindsight, the ideal); (ii) Monday's plan
(a solve of Monday's leads), then a route each day with capacity prices; (iii) the same
without prices; (iv) each day's new leads by round robin over the reps' remaining capacity
(``leadassign.baselines``). The prices of (ii) are the plan's own: Monday's solve with
``capacity_values=True`` (``--capacity-values``) writes reps.csv ``capacity_value``, each
route reads it from the run it routes against (and writes it on in its own reps.csv).

    python benchmarks/bench_route.py --cron 100000x500
    python benchmarks/bench_route.py --week 5000x60 \\
        --policy '{"fairness": {"metric": "count", "band": 0.5, "mode": "hard"}}'
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadassign import load_problem, solve
from leadassign.app import runs
from leadassign.app.inputs import Inputs
from leadassign.app.route import route
from leadassign.baselines import run_baseline
from leadassign.check import check_assignment
from leadassign.demo import make_sample
from leadassign.models.policy import policy_from_mapping
from leadassign.models.shifts import parse_at


class Phases:
    """Collects the run's route_phase events."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def emit(self, event: str, **fields: Any) -> None:
        if event == "route_phase":
            self.seconds[fields["phase"]] = fields["seconds"]

    def phase(self, name: str) -> None:
        pass

    def update(self, objective: float | None, bound: float | None) -> None:
        pass


def cron(n: int, m: int, new: int = 500) -> None:
    sample = make_sample(n + new, m, seed=3, slack=1.2)  # room left after the plan
    with tempfile.TemporaryDirectory() as folder:
        d = Path(folder)
        sample.leads.iloc[:n].to_csv(d / "plan.csv", index=False)
        sample.leads.iloc[n:].to_csv(d / "new.csv", index=False)
        sample.leads.to_csv(d / "all.csv", index=False)
        sample.reps.to_csv(d / "reps.csv", index=False)
        sample.affinity.to_csv(d / "affinity.csv", index=False)
        store = str(d / "h.db")
        t = time.perf_counter()
        plan = runs.run(
            "solve",
            Inputs(leads=d / "plan.csv", reps=d / "reps.csv", affinity=d / "affinity.csv"),
            d / "plan",
            store=store,
        )
        print(f"plan: {n} x {m} {plan.status.value} in {time.perf_counter() - t:.1f} s")
        for name in ("new", "all"):
            phases = Phases()
            t = time.perf_counter()
            out = route(
                Inputs(leads=d / f"{name}.csv", reps=d / "reps.csv", affinity=d / "affinity.csv"),
                d / f"route-{name}",
                store=store,
                at=parse_at("2026-12-01T10:00"),
                from_run=str(plan.run_id),
                events=phases,
            )
            total = time.perf_counter() - t
            block = out.summary["route"]
            print(
                f"route --leads {name}: {total:.2f} s end to end; phases {phases.seconds}; "
                f"routed {block['routed']} of {block['new_leads']}"
            )


def week(n: int, m: int, policy_map: dict[str, Any]) -> None:
    policy = policy_from_mapping(policy_map)
    sample = make_sample(n, m, seed=5)
    leads, reps, affinity = sample.leads, sample.reps, sample.affinity
    days = np.array_split(np.arange(n), 5)
    whole = load_problem(leads, reps, affinity, policy=policy)
    rows: list[tuple[str, int, float, int, float]] = []

    def score(name: str, owners: list[str], seconds: float) -> None:
        check = check_assignment(whole, policy, owners)
        rows.append((name, check.assigned, check.expected_value, len(check.violations), seconds))

    t = time.perf_counter()
    ideal = solve(whole, policy, workers=2)
    score(
        "(i) one weekly solve (hindsight)",
        ideal.assignments["rep_id"].fillna("").astype(str).tolist(),
        time.perf_counter() - t,
    )
    priced_runs: tuple[tuple[str, dict[str, float] | None], ...] = (
        ("(ii) daily route, the plan's capacity prices", None),  # its reps.csv capacity_value
        ("(iii) daily route, no prices", {}),
    )
    for name, priced in priced_runs:
        with tempfile.TemporaryDirectory() as folder:
            d = Path(folder)
            reps.to_csv(d / "reps.csv", index=False)
            affinity.to_csv(d / "affinity.csv", index=False)
            (d / "policy.json").write_text(json.dumps(policy_map))
            store = str(d / "h.db")
            spent = 0.0
            for day in range(5):
                leads.iloc[np.concatenate(days[: day + 1])].to_csv(d / f"d{day}.csv", index=False)
                inputs = Inputs(
                    leads=d / f"d{day}.csv",
                    reps=d / "reps.csv",
                    affinity=d / "affinity.csv",
                    policy=d / "policy.json",
                )
                t = time.perf_counter()
                if day == 0:  # the plan, with its capacity values (LP duals under side rules)
                    runs.run("solve", inputs, d / "plan", store=store, capacity_values=True)
                else:
                    route(
                        inputs,
                        d / f"r{day}",
                        store=store,
                        at=parse_at(f"2026-12-0{day}T10:00"),
                        prices=priced,
                    )
                spent += time.perf_counter() - t
            from leadassign.store import Store

            with Store(store) as opened:
                book = opened.assignment(opened.run("latest")).set_index("lead_id")["rep_id"]
            score(name, book.reindex(whole.leads.ids).fillna("").tolist(), spent)
    owners = np.full(n, "", dtype=object)
    t = time.perf_counter()
    left = reps.copy()
    for day in range(5):
        part = days[day]
        problem = load_problem(leads.iloc[part], left, affinity, policy=policy)
        done = run_baseline(problem, "round-robin", policy)
        got = done.assignments["rep_id"].fillna("").astype(str).to_numpy(dtype=object)
        owners[part] = got
        used = pd.Series(got[got != ""]).value_counts()
        left = left.assign(
            capacity=(left["capacity"] - left["rep_id"].map(used).fillna(0)).astype(int)
        )
        left = left.assign(min_leads=np.minimum(left["min_leads"], left["capacity"]))
    score("(iv) daily round robin", owners.tolist(), time.perf_counter() - t)
    print(
        f"| {n} leads x {m} reps, policy {json.dumps(policy_map)} | assigned | expected value "
        "| vs (i) | rule violations | seconds |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    best = rows[0][2]
    for name, assigned, value, broken, seconds in rows:
        print(
            f"| {name} | {assigned:,} | {value:,.0f} | {value / best:.2%} | {broken} "
            f"| {seconds:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cron", help="NxM: the plan's size for (a)")
    parser.add_argument("--week", help="NxM: the week's book for (b)")
    parser.add_argument("--policy", default="{}", help="policy for (b), as JSON")
    args = parser.parse_args()
    if args.cron:
        n, m = (int(x) for x in args.cron.split("x"))
        cron(n, m)
    if args.week:
        n, m = (int(x) for x in args.week.split("x"))
        week(n, m, json.loads(args.policy))


if __name__ == "__main__":
    main()
