"""What the run history costs, and four weeks of rebalancing: ``leadassign solve`` then three
``leadassign rebalance`` runs on a changing book (``bench_rules.book``: owners per account, a
week of drift), each recorded in a store and read back by the next.

    python benchmarks/bench_history.py                                # 20000x200, SQLite
    python benchmarks/bench_history.py --store postgresql+psycopg://postgres@127.0.0.1/postgres
    python benchmarks/bench_history.py --size 100000x500 --policy none

Each week: 3% of the leads leave, 4% new ones arrive, a few reps go on leave or come back.
Prints one row per week (status, gap, leads, owners kept, solve and record seconds, the
whole run's wall time) and the store's size.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rules import RULES, book


class Timings:
    """Collects the run's events (the JSON log's, in process)."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}

    def emit(self, event: str, **fields: Any) -> None:
        self.events[event] = {**fields, "at": time.perf_counter()}

    def phase(self, name: str) -> None:
        pass

    def update(self, objective: float | None, bound: float | None) -> None:
        pass


def weeks(leads: pd.DataFrame, reps: pd.DataFrame, count: int) -> list[tuple[Any, Any]]:
    rng = np.random.default_rng(5)
    spare = leads.sample(frac=0.15, random_state=1)
    book_leads = leads.drop(spare.index).drop(columns=["current_owner"])
    out = [(book_leads, reps)]
    for week in range(1, count):
        stay = rng.random(len(book_leads)) >= 0.03
        arriving = spare.iloc[: int(0.04 * len(leads))].drop(columns=["current_owner"])
        spare = spare.iloc[len(arriving) :]
        arriving = arriving.assign(lead_id=arriving["lead_id"] + f"-w{week + 1}")
        book_leads = pd.concat([book_leads[stay], arriving])
        changed = reps.copy()
        leave = rng.choice(len(reps), size=max(len(reps) // 100, 1), replace=False)
        changed.loc[changed.index[leave], "available"] = "false"
        out.append((book_leads, changed))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="20000x200")
    parser.add_argument("--policy", default="issue4", choices=sorted(RULES))
    parser.add_argument("--store", default=None, help="a SQLAlchemy URL (default: a new SQLite)")
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args()
    from leadassign.app.inputs import Inputs
    from leadassign.app.runs import Command, execute
    from leadassign.store import Store
    from leadassign.store.db import metadata, schema_table

    n, m = (int(x) for x in args.size.split("x"))
    folder = Path(tempfile.mkdtemp(prefix="bench-history-"))
    leads, reps, affinity = book(n, m)
    affinity.to_csv(folder / "affinity.csv", index=False)
    policy = {**RULES[args.policy], "solver": {"time_limit_s": args.time_limit, "workers": 2}}
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy))
    store_url = args.store or str(folder / "history.db")
    if args.store:
        import sqlalchemy as sa

        engine = sa.create_engine(args.store)
        with engine.begin() as conn:
            metadata.drop_all(conn)
            schema_table.drop(conn, checkfirst=True)
        engine.dispose()
    print(f"# history: {args.size}, policy {args.policy}, store {store_url.split('@')[-1]}")
    print()
    print(
        "| week | command | status | gap | leads | kept | new | gone | solve s | record s | run s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for k, (week_leads, week_reps) in enumerate(weeks(leads, reps, 4), start=1):
        week_leads.to_csv(folder / f"leads{k}.csv", index=False)
        week_reps.to_csv(folder / f"reps{k}.csv", index=False)
        inputs = Inputs(
            folder / f"leads{k}.csv",
            folder / f"reps{k}.csv",
            folder / "affinity.csv",
            policy=folder / "policy.yaml",
        )
        command: Command = "solve" if k == 1 else "rebalance"
        timings = Timings()
        started = time.perf_counter()
        with Store(store_url) as store:
            outcome = execute(command, inputs, folder / f"week{k}", store=store, events=timings)
        wall = time.perf_counter() - started
        summary = outcome.summary
        rebalanced = summary.get("rebalance") or {}
        recorded = timings.events["recorded"]
        print(
            f"| {k} | {command} | {summary['status']} | {summary.get('gap') or 0:.1e} | "
            f"{summary['leads']:,} | {summary.get('kept', 0):,} | "
            f"{rebalanced.get('new_leads', '-')} | {rebalanced.get('vanished_leads', '-')} | "
            f"{summary['solve_s']:.1f} | {recorded['seconds']:.2f} | {wall:.1f} |"
        )
    size = Path(store_url).stat().st_size if not args.store else None
    if size is not None:
        print(f"\nstore: {size / 1e6:.1f} MB after four runs")
    print(json.dumps({"folder": str(folder)}))


if __name__ == "__main__":
    main()
