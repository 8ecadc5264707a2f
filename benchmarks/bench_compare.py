"""What ``leadassign compare`` costs: a scenario of 10 or 20 variants on a book from
``bench_rules.book`` (owners per account with a week of drift; policy ``issue4`` by default:
tiers at 40,000 for level 3, count band 0.25, continuity max_reassign 0.15).

In process (the default): every variant starting from the base's assignment, and again
cold; one row per run (status, gap, solve seconds warm and cold) and the totals.

    python benchmarks/bench_compare.py                     # 20000x200, 10 variants
    python benchmarks/bench_compare.py --size 5000x60 --policy accounts

End to end (``--end-to-end``, issue 24 target 6): ``leadassign compare`` of the scenario as
a user runs it (a new process: reading, solving, writing every file), against three cold
``leadassign solve`` runs of the base book, measured in the same run (``--pythonpath``
runs another checkout's code, e.g. main's, as the before). With ``--jobs 1`` it also prints
the compare's time less its variants' solve time (what the files, report and checks cost: the
least the sweep could cost were every variant solved in no time) and the runs' solve time
against the cold solves' own:

    python benchmarks/bench_compare.py --end-to-end --size 10000x200 --variants 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rules import RULES, book


def variants(reps: list[str], count: int = 10) -> dict[str, Any]:
    """What-ifs of the kinds sales ops asks about (reps by their position in the file): the
    first ten, then ten more (``count`` 20)."""
    ten: dict[str, Any] = {
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
    more: dict[str, Any] = {
        "capacity-up": {"reps": [{"rep_id": r, "capacity": 80} for r in reps[30:40]]},
        "three-on-leave": {"reps": [{"rep_id": r, "available": False} for r in reps[40:43]]},
        "band-40": {"policy": {"fairness": {"metric": "count", "band": 0.4}}},
        "churn-25": {"policy": {"continuity": {"max_reassign": 0.25}}},
        "education-down": {
            "leads": {"value_multipliers": [{"where": {"industry": "education"}, "factor": 0.8}]}
        },
        "software-up": {
            "leads": {"value_multipliers": [{"where": {"industry": "software"}, "factor": 1.2}]}
        },
        "two-new-reps": {
            "add_reps": [
                {"rep_id": f"NEW{k}", "territories": "EMEA", "capacity": 50, "level": 3}
                for k in (2, 3)
            ]
        },
        "tier-30k": {"policy": {"tiers": [{"min_value": 30000, "min_level": 3}]}},
        "floors-up": {"reps": [{"rep_id": r, "min_leads": 20} for r in reps[50:60]]},
        "win-rate-up": {"reps": [{"rep_id": r, "win_rate": 0.45} for r in reps[60:70]]},
    }
    return dict(list({**ten, **more}.items())[:count])


def run(scenario: Path, out: Path, warm: bool, jobs: int) -> tuple[float, list[Any]]:
    from leadassign.scenarios import load_scenario, run_all

    started = time.perf_counter()
    runs = run_all(load_scenario(scenario), out, warm=warm, jobs=jobs)
    return time.perf_counter() - started, runs


def write_scenario(folder: Path, n: int, m: int, policy_name: str, count: int) -> Path:
    """The book's tables, its policy and a scenario of ``count`` variants in ``folder``."""
    leads, reps, affinity = book(n, m)
    leads.to_csv(folder / "leads.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    affinity.to_csv(folder / "affinity.csv", index=False)
    policy = {**RULES[policy_name], "solver": {"time_limit_s": 60.0, "workers": 2}}
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    scenario = {
        "base": {
            "leads": "leads.csv",
            "reps": "reps.csv",
            "affinity": "affinity.csv",
            "policy": "policy.yaml",
        },
        "variants": variants(reps["rep_id"].tolist(), count),
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def cli(args: list[str], pythonpath: str | None) -> tuple[float, float]:
    """Seconds ``leadassign ARGS`` takes as a new process (exit 0 or 3 expected), wall and
    CPU (user + system, its threads and children included: on a shared machine the CPU
    seconds vary less with the load)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "leadassign", *args], env=env, capture_output=True, text=True
    )
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 3):
        raise SystemExit(f"leadassign {args[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    return took, cpu


def end_to_end(path: Path, jobs: int, pythonpath: str | None) -> None:
    """``leadassign compare`` against three cold ``leadassign solve`` of the base."""
    folder = path.parent
    solve = ["solve", "--no-store", "--leads", "leads.csv", "--reps", "reps.csv", "--affinity"]
    solve += ["affinity.csv", "--policy", "policy.yaml", "--force", "--out"]
    os.chdir(folder)
    load = os.getloadavg()[0]
    timed = [cli([*solve, f"cold{k}"], pythonpath) for k in range(3)]
    colds, cold_cpu = [wall for wall, _ in timed], sum(cpu for _, cpu in timed)
    swept, swept_cpu = cli(
        ["compare", "scenario.yaml", "--out", "sweep", "--force", "--jobs", str(jobs)], pythonpath
    )
    table = pd.read_csv(folder / "sweep" / "comparison.csv")
    print(
        table[
            ["variant", "status", "method", "gap", "assigned", "objective", "solve_s"]
        ].to_string()
    )
    print()
    print(f"load average at start {load:.2f}, at end {os.getloadavg()[0]:.2f}")
    print(
        f"cold solves of the base: {', '.join(f'{t:.1f}' for t in colds)} s; "
        f"three: {sum(colds):.1f} s"
    )
    print(
        f"compare, {len(table) - 1} variants, jobs {jobs}: {swept:.1f} s end to end = "
        f"{swept / sum(colds):.2f} x three cold solves "
        f"(runs' solve time {table['solve_s'].sum():.1f} s)"
    )
    print(
        f"CPU seconds: three cold solves {cold_cpu:.1f}, compare {swept_cpu:.1f} = "
        f"{swept_cpu / cold_cpu:.2f} x"
    )
    if jobs == 1:
        # What the sweep costs besides its variants' solving (starting, reading, the base's
        # solve, every run's files, the checks, the diffs and report.html): the least it
        # could cost were every variant solved in no time.
        variants = table["solve_s"].iloc[1:]
        rest = swept - float(variants.sum())
        print(
            f"without the variants' solve time ({variants.sum():.1f} s): {rest:.1f} s = "
            f"{rest / sum(colds):.2f} x three cold solves; left for each variant's solve "
            f"under 1.00 x: {(sum(colds) - rest) / len(variants):+.3f} s"
        )
        # The solver's share alone: the runs' solve_s against the cold solves' own.
        cold_solve = sum(
            float(json.loads((folder / f"cold{k}" / "summary.json").read_text())["solve_s"])
            for k in range(3)
        )
        runs = float(table["solve_s"].sum())
        print(
            f"solve time only: the runs' {runs:.1f} s against the cold solves' "
            f"{cold_solve:.1f} s = {runs / cold_solve:.2f} x; left for each variant's solve "
            f"under 1.00 x: {(cold_solve - float(table['solve_s'].iloc[0])) / len(variants):.3f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="20000x200")
    parser.add_argument("--policy", default="issue4", choices=sorted(RULES))
    parser.add_argument("--variants", type=int, default=10, choices=(10, 20))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--pythonpath", help="run the CLI from this checkout (--end-to-end)")
    args = parser.parse_args()
    n, m = (int(x) for x in args.size.split("x"))
    folder = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    path = write_scenario(folder, n, m, args.policy, args.variants)
    if args.end_to_end:
        end_to_end(path, args.jobs, args.pythonpath)
        return
    scenario = yaml.safe_load(path.read_text())
    policy = {**RULES[args.policy], "solver": {"time_limit_s": args.time_limit, "workers": 2}}
    scenario["base"]["policy"] = policy
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
