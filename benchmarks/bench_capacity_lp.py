"""What the capacity values cost on books with side rules (issue 25 §3): one solve with
``capacity="all"``, its capacity step's seconds and whose LP gave the duals (``lp``: the
LP stage's, or why one more was solved), then the second LP the step solved before
(``lp_values`` without the stage's solution) timed in the same run, and one solve with
``capacity="off"`` for the solve alone.

    python benchmarks/bench_capacity_lp.py --size 2600x120 --policy continuity
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rules import RULES, book


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="2600x120")
    parser.add_argument("--policy", default="continuity", choices=sorted(RULES))
    parser.add_argument("--time-limit", type=float, default=30.0)
    args = parser.parse_args()
    from leadassign import load_problem, solve
    from leadassign.compile.prepare import prepare
    from leadassign.models.policy import policy_from_mapping
    from leadassign.result.capacity import lp_values

    n, m = (int(x) for x in args.size.split("x"))
    leads, reps, affinity = book(n, m)
    policy = policy_from_mapping(RULES[args.policy])
    problem = load_problem(leads, reps, affinity, policy=policy)
    started = time.perf_counter()
    solve(problem, policy, time_limit_s=args.time_limit, capacity="off")
    off_s = time.perf_counter() - started
    started = time.perf_counter()
    res = solve(problem, policy, time_limit_s=args.time_limit, capacity="all")
    all_s = time.perf_counter() - started
    values = res.capacity
    assert values is not None and res.objective is not None
    prep = prepare(problem, policy)
    started = time.perf_counter()
    again = lp_values(
        prep.pairs, prep.side, res.assigned, res.objective * res.value_scale, args.time_limit
    )
    second_s = time.perf_counter() - started
    print(f"{args.size} {args.policy}: {len(prep.pairs):,} pairs, method {res.method}")
    print(f"  solve, capacity off: {off_s:.2f} s; capacity all: {all_s:.2f} s")
    print(f"  capacity step: {values.seconds:.3f} s, duals: {values.lp or values.source}")
    print(f"  kinds {sorted(set(values.kind.tolist()))}")
    if again is not None and values.source == "lp":
        figures = again[1] if again[2] == "bound" else again[0]
        same = np.allclose(values.value * res.value_scale, figures)
        print(f"  a second LP (before): {second_s:.3f} s, kind {again[2]}, same duals: {same}")


if __name__ == "__main__":
    main()
