"""Per-rule benchmark: solve time of each business rule alone and all together.

The book comes from ``leadassign.demo.make_sample`` (default 10,000 leads x 200 reps) with
accounts of one to a few leads within one territory, owned by one rep each (their first
lead's rep in a plain solve), 10% of them moved to a random rep (a week of drift).
Reproducible: fixed seeds.

    python benchmarks/bench_rules.py                       # 10000x200, every rule, 2 workers
    python benchmarks/bench_rules.py --size 2000x50 --rules fairness_count accounts
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

RULES: dict[str, dict[str, object]] = {
    "none": {},
    "tiers": {
        "tiers": [{"min_value": 40000, "min_level": 3}, {"min_value": 15000, "min_level": 2}]
    },
    "fairness_count": {"fairness": {"metric": "count", "band": 0.2}},
    "fairness_count_level": {"fairness": {"metric": "count", "band": 0.2, "within": "level"}},
    "fairness_value": {"fairness": {"metric": "value", "band": 0.3}},
    "fairness_soft": {"fairness": {"metric": "count", "band": 0.05, "mode": "soft", "weight": 500}},
    "continuity": {"continuity": {"max_reassign": 0.05}},
    "keep_bonus": {"continuity": {"keep_bonus": 1000}},
    "continuity_soft": {"continuity": {"max_reassign": 0.02, "mode": "soft", "weight": 2000}},
    "accounts": {"accounts": {"together": True}},
    "issue4": {  # the scale target: tiers + count fairness 0.25 + continuity 0.15
        "tiers": [{"min_value": 40000, "min_level": 3}],
        "fairness": {"metric": "count", "band": 0.25},
        "continuity": {"max_reassign": 0.15},
    },
    "all": {
        "tiers": [{"min_value": 40000, "min_level": 3}],
        "fairness": {"metric": "count", "band": 0.25},
        "continuity": {"max_reassign": 0.1, "keep_bonus": 100},
        "accounts": {"together": True},
    },
}


def book(n: int, m: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from leadassign import load_problem, solve
    from leadassign.demo import make_sample

    sample = make_sample(n, m, seed=3)
    leads = sample.leads.copy()
    plain = solve(load_problem(leads, sample.reps, sample.affinity), workers=2)
    rng = np.random.default_rng(1)
    account = rng.integers(0, max(n // 4, 1), size=n)
    leads["account_id"] = [f"{t}-{a}" for t, a in zip(leads["territory"], account, strict=True)]
    # One owner per account (its first lead's rep in the plain solve), as in a CRM; then a
    # week of drift: 10% of the accounts moved to a random rep.
    owner = plain.assignments["rep_id"].fillna("").groupby(leads["account_id"]).transform("first")
    accounts = leads["account_id"].unique()
    drifted = set(accounts[rng.random(len(accounts)) < 0.1].tolist())
    moved = leads["account_id"].isin(drifted).to_numpy()
    new_owner = dict(
        zip(
            sorted(drifted),
            rng.choice(sample.reps["rep_id"].to_numpy(), size=len(drifted)),
            strict=True,
        )
    )
    leads["current_owner"] = np.where(moved, leads["account_id"].map(new_owner), owner)
    return leads, sample.reps, sample.affinity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="10000x200")
    parser.add_argument("--rules", nargs="*", default=list(RULES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=120.0)
    args = parser.parse_args()
    from leadassign import load_problem, solve
    from leadassign.models.policy import policy_from_mapping

    n, m = (int(x) for x in args.size.split("x"))
    leads, reps, affinity = book(n, m)
    rows: list[dict[str, object]] = []
    for name in args.rules:
        policy = policy_from_mapping(
            {**RULES[name], "solver": {"workers": args.workers, "time_limit_s": args.time_limit}}
        )
        problem = load_problem(leads, reps, affinity, policy=policy)
        started = time.perf_counter()
        result = solve(problem, policy)
        wall = time.perf_counter() - started
        row = {
            "rule": name,
            "size": args.size,
            "status": result.status.value,
            "method": result.method,
            "assigned": result.assigned if result.has_solution else None,
            "objective": round(result.objective, 2) if result.objective else None,
            "gap": result.gap,
            "build_s": round(result.build_s, 2),
            "solve_s": round(result.solve_s, 2),
            "total_s": round(wall, 2),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(table(rows))


def table(rows: list[dict[str, object]]) -> str:
    """The runs as a Markdown table."""
    head = ["rule", "status", "method", "assigned", "objective", "gap", "build s", "solve s"]
    head.append("total s")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        gap = r["gap"]
        cells = [
            r["rule"],
            r["status"],
            r["method"],
            f"{r['assigned']:,}" if isinstance(r["assigned"], int) else "—",
            f"{r['objective']:,.2f}" if isinstance(r["objective"], float) else "—",
            f"{gap:.1e}" if isinstance(gap, float) else "—",
            r["build_s"],
            r["solve_s"],
            r["total_s"],
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
