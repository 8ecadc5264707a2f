"""The yardstick for the policy-free engine: a bare min-cost flow of the same book, written
independently of leadassign (pandas + numpy + OR-Tools only, nothing imported from it).

It reads the same three CSVs, decides eligibility and expected values by DESIGN.md §2 with
its own code (dense boolean blocks, no profiles), builds the transportation network
``source -> lead -> rep -> sink`` and solves it with ``SimpleMinCostFlow``
(``solve_max_flow_with_min_cost``: most leads, then most expected value). Values are scaled
to integers as leadassign does (largest expected value = 1e9 units), so both solve the same
integer problem. It then runs ``leadassign solve`` on the same files in a subprocess (its
modules byte-compiled first, as an installed package's are) and prints both times, the
ratio, and whether the two optima agree (count, and expected value within 1e-9 relative).

    python benchmarks/bench_flow_bare.py --book /tmp/b100k          # an existing book
    python benchmarks/bench_flow_bare.py --make 100000x500 --seed 11  # make one (demo data)
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from ortools.graph.python import min_cost_flow


def _split(cell: object) -> frozenset[str]:
    if not isinstance(cell, str) or not cell.strip():
        return frozenset()
    return frozenset(part.strip() for part in cell.split(";") if part.strip())


def _truthy(cell: object) -> bool:
    return str(cell).strip().lower() in {"true", "1", "yes", "y"}


def bare(folder: Path) -> dict[str, float | int]:
    """Read, build and solve; seconds per phase and the optimum."""
    started = time.perf_counter()
    leads = pd.read_csv(folder / "leads.csv", dtype=str, keep_default_na=False)
    reps = pd.read_csv(folder / "reps.csv", dtype=str, keep_default_na=False)
    affinity_path = folder / "affinity.csv"
    affinity = (
        pd.read_csv(affinity_path, dtype=str, keep_default_na=False)
        if affinity_path.exists()
        else pd.DataFrame(columns=["rep_id", "industry", "win_rate"])
    )
    read_s = time.perf_counter() - started

    built = time.perf_counter()
    n, m = len(leads), len(reps)
    available = (
        reps["available"].map(_truthy).to_numpy() if "available" in reps else np.ones(m, bool)
    )
    capacity = reps["capacity"].astype(int).to_numpy()
    win = reps["win_rate"].astype(float).to_numpy()
    rep_terr = [_split(c) for c in reps["territories"]]
    rep_ind = [_split(c) for c in reps.get("industries", pd.Series([""] * m))]
    rep_skill = [_split(c) for c in reps.get("skills", pd.Series([""] * m))]
    territories = sorted(set(leads["territory"]))
    industries = sorted(set(leads["industry"]))
    skills = sorted(set().union(*[_split(c) for c in leads["skills"]], *rep_skill))
    t_ok = np.array([[("*" in rt) or (t in rt) for rt in rep_terr] for t in territories])
    i_ok = np.array([[(not ri) or ("*" in ri) or (i in ri) for ri in rep_ind] for i in industries])
    missing = np.array([[s not in rs for rs in rep_skill] for s in skills], dtype=np.int32)
    lead_t = pd.Categorical(leads["territory"], categories=territories).codes
    lead_i = pd.Categorical(leads["industry"], categories=industries).codes
    index = {s: k for k, s in enumerate(skills)}
    lead_s = np.zeros((n, len(skills)), dtype=np.int32)
    for row, cell in enumerate(leads["skills"]):
        for s in _split(cell):
            lead_s[row, index[s]] = 1
    rate = np.tile(win, (len(industries), 1))  # industry x rep win rate
    rep_pos = {r: j for j, r in enumerate(reps["rep_id"])}
    for r, ind, w in zip(
        affinity["rep_id"], affinity["industry"], affinity["win_rate"], strict=True
    ):
        if r in rep_pos and ind in industries:
            rate[industries.index(ind), rep_pos[r]] = float(w)
    value = leads["value"].astype(float).to_numpy()

    heads, tails_, evs = [], [], []
    for lo in range(0, n, 5000):
        hi = min(n, lo + 5000)
        ok = t_ok[lead_t[lo:hi]] & i_ok[lead_i[lo:hi]] & available[None, :]
        ok &= (lead_s[lo:hi] @ missing) == 0
        rows, cols = np.nonzero(ok)
        tails_.append(rows + lo)
        heads.append(cols)
        evs.append(value[rows + lo] * rate[lead_i[rows + lo], cols])
    lead = np.concatenate(tails_)
    rep = np.concatenate(heads)
    ev = np.concatenate(evs)
    units = np.rint(ev * (1e9 / np.abs(ev).max())).astype(np.int64)

    source, sink = n + m, n + m + 1
    tails = np.concatenate([np.full(n, source), lead, n + np.arange(m)]).astype(np.int32)
    arc_heads = np.concatenate([np.arange(n), n + rep, np.full(m, sink)]).astype(np.int32)
    caps = np.concatenate([np.ones(n + len(lead)), capacity]).astype(np.int64)
    costs = np.concatenate([np.zeros(n), -units, np.zeros(m)]).astype(np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, arc_heads, caps, costs)
    flow.set_node_supply(source, n)
    flow.set_node_supply(sink, -n)
    build_s = time.perf_counter() - built

    solving = time.perf_counter()
    status = flow.solve_max_flow_with_min_cost()
    solve_s = time.perf_counter() - solving
    assert status == flow.OPTIMAL, status
    chosen = np.asarray(flow.flows(np.arange(n, n + len(lead), dtype=np.int32))) > 0
    return {
        "read_s": read_s,
        "build_s": build_s,
        "solve_s": solve_s,
        "total_s": time.perf_counter() - started,
        "pairs": len(lead),
        "assigned": int(chosen.sum()),
        "expected_value": float(ev[chosen].sum()),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _executable() -> str:
    """The ``leadassign`` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("leadassign")
    return str(beside) if beside.exists() else "leadassign"


def compile_leadassign() -> None:
    """Byte-compile leadassign's modules, as ``pip install`` does for an installed package:
    the bare flow's libraries (pandas, numpy, OR-Tools) come compiled from site-packages, and
    an editable checkout run with PYTHONDONTWRITEBYTECODE would otherwise compile every
    module again in each run (~0.1-0.2 s)."""
    spec = importlib.util.find_spec("leadassign")  # found, not imported
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


def leadassign_run(folder: Path) -> dict[str, float | int | str]:
    """``leadassign solve`` end to end (process start to written outputs), in a subprocess."""
    compile_leadassign()
    out = folder / "out"
    started = time.perf_counter()
    args = ["--leads", str(folder / "leads.csv"), "--reps", str(folder / "reps.csv")]
    if (folder / "affinity.csv").exists():
        args += ["--affinity", str(folder / "affinity.csv")]
    command = [_executable(), "solve", *args, "--out", str(out), "--no-progress", "--no-store"]
    # The child's own peak: GNU time's %M (the solve's rusage alone). Without it,
    # RUSAGE_CHILDREN, which can only be an upper bound: a child forked from this process
    # counts the RSS it had at the fork (the bare flow's, when that ran first).
    gnu_time = Path("/usr/bin/time")
    with tempfile.TemporaryDirectory() as scratch:
        peak_file = Path(scratch) / "peak_kb.txt"
        if gnu_time.exists():
            command = [str(gnu_time), "-f", "%M", "-o", str(peak_file), *command]
        code = subprocess.run(command, check=False, stdout=subprocess.DEVNULL).returncode
        wall = time.perf_counter() - started
        if gnu_time.exists():
            peak = float(peak_file.read_text().split()[-1]) / 1024
        else:
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = json.loads((out / "summary.json").read_text())
    return {
        "exit": code,
        "wall_s": wall,
        "status": summary["status"],
        "method": summary["method"],
        "assigned": summary["assigned"],
        "expected_value": summary["expected_value"],
        "peak_mb": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--book", type=Path, help="folder with leads.csv, reps.csv, affinity.csv")
    parser.add_argument("--make", default="100000x500", help="LEADSxREPS demo book to make")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.book
        if folder is None:
            from leadassign.demo import make_sample  # only to make the book

            n, m = (int(x) for x in args.make.split("x"))
            folder = Path(tmp)
            sample = make_sample(n, m, seed=args.seed)
            sample.leads.to_csv(folder / "leads.csv", index=False)
            sample.reps.to_csv(folder / "reps.csv", index=False)
            sample.affinity.to_csv(folder / "affinity.csv", index=False)
        mine = bare(folder)
        theirs = leadassign_run(folder)
    same = mine["assigned"] == theirs["assigned"] and abs(
        float(mine["expected_value"]) - float(theirs["expected_value"])
    ) <= 1e-9 * abs(float(mine["expected_value"]))
    print(
        f"# bare min-cost flow vs leadassign — {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cpus"
    )
    print(f"pairs {mine['pairs']:,}")
    print(
        f"bare: read {mine['read_s']:.1f} s, build {mine['build_s']:.1f} s, "
        f"solve {mine['solve_s']:.1f} s, total {mine['total_s']:.1f} s, "
        f"peak {mine['peak_mb']:.0f} MB"
    )
    print(
        f"leadassign solve: {theirs['wall_s']:.1f} s end to end, {theirs['status']} "
        f"({theirs['method']}), exit {theirs['exit']}, peak {theirs['peak_mb']:.0f} MB"
    )
    wall = float(theirs["wall_s"])
    print(
        f"ratio to the bare solve: {wall / float(mine['solve_s']):.2f}x; "
        f"to the bare total: {wall / float(mine['total_s']):.2f}x"
    )
    print(
        f"same optimum: {'yes' if same else 'NO'} (assigned {mine['assigned']} / "
        f"{theirs['assigned']}, expected value {mine['expected_value']:.2f} / "
        f"{theirs['expected_value']:.2f})"
    )


if __name__ == "__main__":
    main()
