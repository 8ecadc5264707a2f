"""Core-engine benchmark: read CSVs, build, solve, write outputs, at 1k / 10k / 100k leads.

Each size runs in a fresh subprocess so that its peak memory (max RSS) is its own.
Reproducible: the books come from ``leadassign.demo.make_sample`` with fixed seeds.

    python benchmarks/bench_core.py                 # 1k x 20, 10k x 100, 100k x 500
    python benchmarks/bench_core.py --sizes 1000x20 --method cpsat --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = ("1000x20", "10000x100", "100000x500")


def child(folder: Path, method: str, workers: int, time_limit: float) -> None:
    """One measured run (in its own process): CSVs in, output files out."""
    from leadassign import load_problem, solve
    from leadassign.output import write_result

    started = time.perf_counter()
    problem = load_problem(folder / "leads.csv", folder / "reps.csv", folder / "affinity.csv")
    read_s = time.perf_counter() - started
    result = solve(problem, method=method, workers=workers, time_limit_s=time_limit)  # type: ignore[arg-type]
    solved = time.perf_counter()
    write_result(result, folder / "out")
    write_s = time.perf_counter() - solved
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "read_s": read_s,
                "build_s": result.build_s,
                "solve_s": result.solve_s,
                "write_s": write_s,
                "total_s": time.perf_counter() - started,
                "peak_mb": peak_mb,
                "status": result.status.value,
                "method": result.method,
                "gap": result.gap,
                "assigned": result.assigned,
                "pairs": len(result.candidates),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), help="LEADSxREPS ...")
    parser.add_argument("--method", default="auto", choices=["auto", "flow", "cpsat"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.method, args.workers, args.time_limit)
        return

    from leadassign.demo import make_sample

    machine = platform.processor() or platform.machine()
    print(
        f"# leadassign core benchmark — {time.strftime('%Y-%m-%d')}, {machine}, "
        f"{os.cpu_count()} cpus, Python {platform.python_version()}, method {args.method}, "
        f"{args.workers} workers"
    )
    header = (
        "leads x reps",
        "pairs",
        "read s",
        "build s",
        "solve s",
        "write s",
        "total s",
        "peak MB",
        "status",
        "method",
        "gap",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for size in args.sizes:
        n, m = (int(x) for x in size.lower().split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            sample = make_sample(n, m, seed=11)
            sample.leads.to_csv(folder / "leads.csv", index=False)
            sample.reps.to_csv(folder / "reps.csv", index=False)
            sample.affinity.to_csv(folder / "affinity.csv", index=False)
            del sample
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    str(folder),
                    "--method",
                    args.method,
                    "--workers",
                    str(args.workers),
                    "--time-limit",
                    str(args.time_limit),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {n:,} x {m} | {r['pairs']:,} | {r['read_s']:.2f} | {r['build_s']:.2f} | "
            f"{r['solve_s']:.2f} | {r['write_s']:.2f} | {r['total_s']:.2f} | {r['peak_mb']:.0f} | "
            f"{r['status']} | {r['method']} | {r['gap']:.1e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
