"""Scaling benchmark: book size against time and memory, policy-free and with the issue-4 rules,
with the peers a user would otherwise pick on the same books in the same run.

Books come from ``bench_rules.book`` (``leadassign.demo.make_sample`` with fixed seeds, one
current owner per account from a plain solve, 10% of the accounts drifted to a random rep).
Each size and policy is solved by the ``leadassign solve`` command in its own process (peak
memory = that process's high-water RSS, polled from ``/proc``, so Linux only); build and
solve seconds, status, method and gap come from its ``summary.json``. Policies: ``none`` and
``issue4`` (tiers at 40,000 for level 3, count fairness band 0.25, continuity max_reassign
0.15).

Peers on the policy-free book: round-robin and greedy (``leadassign.run_baseline``), and two
general solvers on a plain model of the same eligible pairs, built here without leadassign
(each lead at most once, capacities, maximize ``B * leads + expected value in cents`` with
``B`` above any lead's value so that the count comes first): CP-SAT with default parameters
(2 workers) and HiGHS' MIP (``scipy.optimize.milp``). Both only up to ``--peer-pairs`` pairs:
beyond, building their models alone takes minutes (the issue's own measurements: at 50,000
x 300 neither finished presolve in 60 s).

    python benchmarks/bench_scaling.py                                 # 1k .. 200k, both policies
    python benchmarks/bench_scaling.py --sizes 200000x800 --policies none --no-peers
    python benchmarks/bench_scaling.py --sizes 100000x500 --policies issue4 --no-peers \
        --relative-gap 0.0005                                 # issue 24, target 4

``--bare`` also runs the bare min-cost flow of ``bench_flow_bare.py`` on each policy-free
book (its own process, peak polled the same way). ``--json PATH`` writes every row measured
(book, pairs, policy, status, method, gap, build/solve/wall s, peak MB; the bare flow as
policy ``bare flow``) and ``--plot PATH`` draws them: wall time and peak memory against
eligible pairs, log-log, one line per policy. ``--plot-only JSON --plot PATH`` redraws a
plot from a JSON file without solving anything:

    python benchmarks/bench_scaling.py --sizes 1000x20 10000x100 --no-peers --bare \
        --json scaling.json --plot scaling.png
    python benchmarks/bench_scaling.py --plot-only benchmarks/scaling.json --plot scaling.png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rules import RULES, book

SIZES = ("1000x20", "10000x100", "50000x300", "100000x500", "200000x800")
POLICIES = ("none", "issue4")


def run_cli(
    folder: Path, policy: str, time_limit: float, relative_gap: float = 0.0
) -> dict[str, Any]:
    """``leadassign solve`` on the book in ``folder``: summary figures, wall s and peak MB.
    ``relative_gap`` > 0: ``solver.relative_gap`` (the run may stop that close to its bound,
    FEASIBLE with ``limited_by: "gap"``)."""
    out = folder / f"out-{policy}"
    policy_file = folder / f"{policy}.yaml"
    solver: dict[str, Any] = {"workers": 2, "time_limit_s": time_limit}
    if relative_gap > 0:
        solver["relative_gap"] = relative_gap
    rules = {**RULES[policy], "solver": solver}
    policy_file.write_text(yaml.safe_dump(rules))
    exe = Path(sys.executable).with_name("leadassign")
    command = [
        str(exe),
        "solve",
        "--no-store",
        "--leads",
        str(folder / "leads.csv"),
        "--reps",
        str(folder / "reps.csv"),
        "--affinity",
        str(folder / "affinity.csv"),
        "--policy",
        str(policy_file),
        "--out",
        str(out),
        "--no-progress",
    ]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        peak_kb = 0
        while proc.poll() is None:  # the child's own high-water mark (see peak_kb)
            peak_kb = max(peak_kb, _high_water_kb(proc.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - started
        err.seek(0)
        if proc.returncode not in (0, 4):
            message = err.read().decode()[-2000:]
            raise RuntimeError(f"leadassign solve exited {proc.returncode}: {message}")
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    summary["wall_s"] = wall
    summary["peak_mb"] = peak_kb / 1024
    return summary


def _high_water_kb(pid: int) -> int:
    """VmHWM of a running process (0 once it is gone). Polled rather than read from
    ``ru_maxrss``: Linux carries a child's RSS from before its ``exec`` (this script's own,
    with the book in memory) into its ``ru_maxrss``, while VmHWM restarts with the new
    program."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def plain_pairs(problem: object) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lead, rep, value in cents, capacity) of the eligible pairs, via leadassign's candidate
    table (the peers differ in the solver, not in what is eligible)."""
    from leadassign.compile.prepare import prepare
    from leadassign.models.policy import Policy

    prep = prepare(problem, Policy())  # type: ignore[arg-type]
    cands = prep.cands
    cents = np.rint(cands.ev * 100).astype(np.int64)
    capacity = prep.pairs.capacity.astype(np.int64)
    return cands.lead, cands.rep, cents, capacity


def count_weight(lead: np.ndarray, cents: np.ndarray) -> int:
    """The weight per assigned lead that puts the count first: above the summed best value of
    every lead (pairs sorted by lead)."""
    starts = np.flatnonzero(np.r_[True, lead[1:] != lead[:-1]])
    return int(np.maximum.reduceat(cents, starts).sum()) + 1


def plain_cpsat(
    lead: np.ndarray, rep: np.ndarray, cents: np.ndarray, capacity: np.ndarray, limit: float
) -> dict[str, object]:
    """CP-SAT, default parameters but 2 workers, on the plain model."""
    from ortools.sat.python import cp_model

    weight = count_weight(lead, cents)
    model = cp_model.CpModel()
    started = time.perf_counter()
    x = [model.new_bool_var("") for _ in range(len(lead))]
    starts = np.flatnonzero(np.r_[True, lead[1:] != lead[:-1], True])
    for a, b in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
        model.add_at_most_one(x[a:b])
    order = np.argsort(rep, kind="stable")
    bounds = np.flatnonzero(np.r_[True, rep[order][1:] != rep[order][:-1], True])
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        j = int(rep[order[a]])
        model.add(sum(x[k] for k in order[a:b].tolist()) <= int(capacity[j]))
    coef = (weight + cents).tolist()
    model.maximize(cp_model.LinearExpr.weighted_sum(x, coef))
    build = time.perf_counter() - started
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = 2
    status = solver.solve(model)
    took = solver.wall_time
    out: dict[str, object] = {"build_s": build, "s": took, "status": solver.status_name(status)}
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        obj, bound = solver.objective_value, solver.best_objective_bound
        out["gap"] = (bound - obj) / max(abs(obj), 1)
        chosen = np.array([solver.boolean_value(v) for v in x], dtype=bool)
        out["ev_cents"] = int(cents[chosen].sum())
        out["assigned"] = int(chosen.sum())
    return out


def plain_highs(
    lead: np.ndarray, rep: np.ndarray, cents: np.ndarray, capacity: np.ndarray, limit: float
) -> dict[str, object]:
    """HiGHS' MIP (scipy.optimize.milp) on the plain model."""
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    weight = float(count_weight(lead, cents))
    k = len(lead)
    n_rows = int(lead.max()) + 1
    a_lead = sparse.csr_array((np.ones(k), (lead, np.arange(k))), shape=(n_rows, k))
    a_rep = sparse.csr_array((np.ones(k), (rep, np.arange(k))), shape=(len(capacity), k))
    started = time.perf_counter()
    res = milp(
        -(weight + cents.astype(np.float64)),
        constraints=[
            LinearConstraint(a_lead, -np.inf, 1),
            LinearConstraint(a_rep, -np.inf, capacity.astype(np.float64)),
        ],
        integrality=np.ones(k),
        bounds=Bounds(0, 1),
        options={"time_limit": limit, "mip_rel_gap": 0.0},
    )
    took = time.perf_counter() - started
    names = {0: "OPTIMAL", 1: "LIMIT", 2: "INFEASIBLE", 3: "UNBOUNDED"}
    out: dict[str, object] = {"s": took, "status": names.get(res.status, "ERROR")}
    if res.status == 1:
        out["status"] = "FEASIBLE" if res.x is not None else "LIMIT, no solution"
    if res.x is not None:
        chosen = res.x > 0.5
        out["ev_cents"] = int(cents[chosen].sum())
        out["assigned"] = int(chosen.sum())
        gap = getattr(res, "mip_gap", None)
        out["gap"] = gap
    return out


def run_bare(folder: Path) -> dict[str, Any]:
    """``bench_flow_bare.bare`` on the book in ``folder``, in its own process: its figures,
    with the process's wall seconds and peak MB as this script measures ``leadassign``'s."""
    here = Path(__file__).resolve().parent
    code = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "import bench_flow_bare; print(json.dumps(bench_flow_bare.bare(Path(sys.argv[2]))))"
    )
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, "-c", code, str(here), str(folder)], stdout=out)
        peak_kb = 0
        while proc.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(proc.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"the bare flow exited {proc.returncode}")
        out.seek(0)
        figures: dict[str, Any] = json.loads(out.read().decode())
    return {
        "status": "OPTIMAL",
        "method": "bare flow",
        "assigned": figures["assigned"],
        "eligible_pairs": figures["pairs"],
        "build_s": figures["read_s"] + figures["build_s"],
        "solve_s": figures["solve_s"],
        "wall_s": wall,
        "peak_mb": peak_kb / 1024,
    }


def record(size: str, policy: str, s: dict[str, Any]) -> dict[str, Any]:
    """One measured row as written by ``--json`` (and read by ``plot``)."""
    return {
        "book": size,
        "pairs": int(s["eligible_pairs"]),
        "policy": policy,
        "status": s["status"],
        "method": s["method"],
        "assigned": s["assigned"],
        "gap": s.get("gap"),
        "build_s": round(float(s["build_s"]), 3),
        "solve_s": round(float(s["solve_s"]), 3),
        "wall_s": round(float(s["wall_s"]), 3),
        "peak_mb": round(float(s["peak_mb"]), 1),
    }


def plot(rows: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """Wall seconds and peak MB against eligible pairs, log-log, one line per policy (in
    the order first met), written as a PNG (matplotlib's Agg backend: no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    policies = list(dict.fromkeys(str(row["policy"]) for row in rows))
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for axis, key, label in ((axes[0], "wall_s", "wall time, s (end to end)"),
                             (axes[1], "peak_mb", "peak memory, MB (RSS)")):  # fmt: skip
        for policy in policies:
            mine = sorted((r for r in rows if r["policy"] == policy), key=lambda r: r["pairs"])
            style = "--" if policy == "bare flow" else "-"
            pairs = [r["pairs"] for r in mine]
            axis.plot(pairs, [r[key] for r in mine], style, marker="o", label=policy)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("eligible pairs")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def measure_peers(
    size: str, tables: Any, optimum: dict[str, Any], args: argparse.Namespace, peers: list[Any]
) -> None:
    """Round-robin, greedy and (up to ``--peer-pairs``) CP-SAT and HiGHS on a plain model of
    the policy-free book ``tables``, appended to ``peers``."""
    from leadassign import load_problem, run_baseline

    leads, reps, affinity = tables
    problem = load_problem(leads, reps, affinity)
    best_ev = float(optimum["expected_value"])
    for strategy in ("round-robin", "greedy"):
        started = time.perf_counter()
        routed = run_baseline(problem, strategy)
        took = time.perf_counter() - started
        share: float | None = 100 * (routed.expected_value or 0.0) / best_ev
        peers.append((size, strategy, "FEASIBLE", routed.assigned, share, None, took))
    lead, rep, cents, capacity = plain_pairs(problem)
    if len(lead) > args.peer_pairs:
        for name in ("CP-SAT (default)", "HiGHS MIP"):
            peers.append((size, name, f"not run: {len(lead):,} pairs", None, None, None, None))
        return
    for name, run in (("CP-SAT (default)", plain_cpsat), ("HiGHS MIP", plain_highs)):
        r = run(lead, rep, cents, capacity, args.peer_limit)
        ev_cents = r.get("ev_cents")
        share = None if ev_cents is None else float(str(ev_cents)) / best_ev
        peers.append((size, name, str(r["status"]), r.get("assigned"), share, r.get("gap"), r["s"]))
        print(f"{size} {name}: {r}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES))
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--peer-limit", type=float, default=60.0)
    parser.add_argument("--peer-pairs", type=int, default=1_000_000)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--bare", action="store_true", help="also the bare min-cost flow")
    parser.add_argument("--json", type=Path, help="write the rows measured to this file")
    parser.add_argument("--plot", type=Path, help="draw time and memory against pairs (PNG)")
    parser.add_argument("--plot-only", type=Path, help="redraw --plot from this --json file")
    parser.add_argument(
        "--relative-gap",
        type=float,
        default=0.0,
        help="solver.relative_gap for every solve (issue 24 target 4: 0.0005)",
    )
    args = parser.parse_args()
    if args.plot_only is not None:
        if args.plot is None:
            parser.error("--plot-only needs --plot PATH")
        saved = json.loads(args.plot_only.read_text())
        plot(saved["rows"], args.plot, saved.get("title", ""))
        return
    print(
        f"# scaling — {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cpus, Python {platform.python_version()}, leadassign with 2 workers, "
        f"{args.time_limit:g} s limit; peers {args.peer_limit:g} s\n"
    )
    title = (
        f"leadassign scaling, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cpus, "
        f"2 workers, {args.time_limit:g} s limit"
    )
    solves: list[tuple[str, str, dict[str, Any]]] = []
    peers: list[tuple[str, str, str, Any, float | None, Any, Any]] = []
    for size in args.sizes:
        n, m = (int(x) for x in size.split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            leads, reps, affinity = book_of = book(n, m)
            leads.to_csv(folder / "leads.csv", index=False)
            reps.to_csv(folder / "reps.csv", index=False)
            affinity.to_csv(folder / "affinity.csv", index=False)
            optimum = None
            for policy in args.policies:
                s = run_cli(folder, policy, args.time_limit, args.relative_gap)
                if policy == "none":
                    optimum = s
                solves.append((size, policy, s))
                print(
                    f"{size} {policy}: {s['status']} {s['method']} gap {s.get('gap')} "
                    f"build {s['build_s']:.1f} solve {s['solve_s']:.1f} wall {s['wall_s']:.1f} "
                    f"peak {s['peak_mb']:.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )
            if args.bare and "none" in args.policies:
                solves.append((size, "bare flow", run_bare(folder)))
            if args.no_peers or optimum is None:
                continue
            measure_peers(size, book_of, optimum, args, peers)

    rows = [record(size, policy, s) for size, policy, s in solves]
    if args.json is not None:
        args.json.write_text(json.dumps({"title": title, "rows": rows}, indent=1) + "\n")
    if args.plot is not None:
        plot(rows, args.plot, title)
    print(
        "| book | pairs | policy | status | method | assigned | gap | build s | solve s | wall s "
        "| peak MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size, policy, s in solves:
        gap = s.get("gap")
        print(
            f"| {size} | {s['eligible_pairs']:,} | {policy} | {s['status']} | {s['method']} | "
            f"{s['assigned']:,} | {'—' if gap is None else f'{gap:.1e}'} | "
            f"{s['build_s']:.2f} | {s['solve_s']:.2f} | {s['wall_s']:.1f} | {s['peak_mb']:,.0f} |"
        )
    if peers:
        print("\n| book | peer | status | assigned | % of optimum | gap | s |")
        print("|---|---|---|---|---|---|---|")
        for size, name, status, assigned, share, gap, took in peers:
            print(
                f"| {size} | {name} | {status} | {'—' if assigned is None else assigned} | "
                f"{'—' if share is None else f'{share:.2f}'} | "
                f"{'—' if gap is None else f'{gap:.1e}'} | "
                f"{'—' if took is None else f'{took:.1f}'} |"
            )


if __name__ == "__main__":
    main()
