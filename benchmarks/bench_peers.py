"""Peers on the same books: what a CRM's routing gets, as a share of the proven optimum.

For each size, one demo book (``leadassign.demo.make_sample``, fixed seed) is solved by
``solve()`` (auto: the exact min-cost flow on a policy-free book), by ``solve(method=
"cpsat")`` (CP-SAT with leadassign's model, hint and bounds) within a time limit, and routed
by each baseline strategy. Printed: assigned leads, expected value as % of the optimum,
status, gap and seconds.

    python benchmarks/bench_peers.py                        # 1000x20 10000x100
    python benchmarks/bench_peers.py --sizes 1000x20 --time-limit 30
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="*", default=["1000x20", "10000x100"])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from leadassign import load_problem, run_baseline, solve
    from leadassign.baselines import STRATEGIES
    from leadassign.demo import make_sample

    print(
        f"# peers — {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cpus, "
        f"{args.workers} workers, time limit {args.time_limit:g} s\n"
    )
    print("| book | method | status | assigned | expected value | % of optimum | gap | s |")
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        n, m = (int(x) for x in size.split("x"))
        sample = make_sample(n, m, seed=11)
        problem = load_problem(sample.leads, sample.reps, sample.affinity)
        runs = []
        started = time.perf_counter()
        best = solve(problem, workers=args.workers, time_limit_s=args.time_limit)
        runs.append(("solve (auto)", best, time.perf_counter() - started))
        started = time.perf_counter()
        forced = solve(problem, method="cpsat", workers=args.workers, time_limit_s=args.time_limit)
        runs.append(("solve --method cpsat", forced, time.perf_counter() - started))
        for strategy in STRATEGIES:
            started = time.perf_counter()
            routed = run_baseline(problem, strategy)
            runs.append((strategy, routed, time.perf_counter() - started))
        optimum = best.expected_value or 0.0
        for name, res, seconds in runs:
            ev = res.expected_value
            share = f"{100 * ev / optimum:.2f}" if ev is not None and optimum else "—"
            gap = f"{res.gap:.2e}" if res.gap is not None else "—"
            assigned = res.assigned if res.has_solution else "—"
            value = f"{ev:,.0f}" if ev is not None else "—"
            print(
                f"| {size} | {name} | {res.status.value} | {assigned} | {value} | {share} "
                f"| {gap} | {seconds:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
