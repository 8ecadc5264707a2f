"""What the warm start saves in ``leadassign compare``: a 10-variant scenario on a 20,000-lead x
200-rep book (``bench_rules.book``: owners per account with a week of drift), solved with
every variant starting from the base's assignment, and again cold.

    python benchmarks/bench_compare.py                     # 20000x200, 10 variants
    python benchmarks/bench_compare.py --size 5000x60 --policy accounts

Prints one row per run (status, gap, solve seconds warm and cold) and the totals.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rules import RULES, book


def variants(reps: list[str]) -> dict[str, Any]:
    """Ten what-ifs of the kinds sales ops asks about (reps by their position in the file)."""
    return {
        "rep-on-leave": {"reps": [{"rep_id": reps[1], "available": False}]},
        "two-on-leave": {"reps": [{"rep_id": r, "available": False} for r in (reps[5], reps[9])]},
        "capacity-cut": {
            "reps": [{"rep_id": r, "capacity": 8, "min_leads": 0} for r in reps[10:20]]
        },
        "new-rep": {
            "add_reps": [{"rep_id": "NEW1", "territories": "*", "capacity": 60, "level": 2}]
        },
        "rep-leaves": {"remove_reps": [reps[3]]},
        "band-10": {"policy": {"fairness": {"metric": "count", "band": 0.1}}},
        "churn-5": {"policy": {"continuity": {"max_reassign": 0.05}}},
        "no-apac": {"leads": {"exclude": {"territory": "APAC"}}},
        "retail-up": {
            "leads": {"value_multipliers": [{"where": {"industry": "retail"}, "factor": 1.3}]}
        },
        "level-up": {"reps": [{"rep_id": r, "level": 3} for r in reps[20:30]]},
    }


def run(scenario: Path, out: Path, warm: bool, jobs: int) -> tuple[float, list[Any]]:
    from leadassign.scenarios import load_scenario, run_all

    started = time.perf_counter()
    runs = run_all(load_scenario(scenario), out, warm=warm, jobs=jobs)
    return time.perf_counter() - started, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="20000x200")
    parser.add_argument("--policy", default="issue4", choices=sorted(RULES))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    n, m = (int(x) for x in args.size.split("x"))
    folder = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    leads, reps, affinity = book(n, m)
    leads.to_csv(folder / "leads.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    affinity.to_csv(folder / "affinity.csv", index=False)
    policy = {**RULES[args.policy], "solver": {"time_limit_s": args.time_limit, "workers": 2}}
    scenario = {
        "base": {
            "leads": "leads.csv",
            "reps": "reps.csv",
            "affinity": "affinity.csv",
            "policy": policy,
        },
        "variants": variants(reps["rep_id"].tolist()),
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    warm_s, warm = run(path, folder / "warm", True, args.jobs)
    cold_s, cold = run(path, folder / "cold", False, args.jobs)
    print(
        f"# compare: {args.size}, policy {args.policy}, {len(warm) - 1} variants, jobs {args.jobs}"
    )
    print()
    print("| run | status warm | gap warm | solve s warm | status cold | gap cold | solve s cold |")
    print("|---|---|---|---|---|---|---|")
    for a, b in zip(warm, cold, strict=True):
        print(
            f"| {a.name} | {a.status.value} | {a.summary.get('gap') or 0:.1e} | "
            f"{a.summary['solve_s']:.1f} | {b.status.value} | {b.summary.get('gap') or 0:.1e} | "
            f"{b.summary['solve_s']:.1f} |"
        )
    variants_warm = sum(r.summary["solve_s"] for r in warm[1:])
    variants_cold = sum(r.summary["solve_s"] for r in cold[1:])
    print()
    print(
        f"variants' solve time: warm {variants_warm:.1f} s, cold {variants_cold:.1f} s; "
        f"end to end (base included, reading and writing): warm {warm_s:.1f} s, cold {cold_s:.1f} s"
    )


if __name__ == "__main__":
    main()
