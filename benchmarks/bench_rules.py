"""Per-rule benchmark: solve time of each business rule alone and all together.

The book comes from ``leadassign.demo.make_sample`` (default 10,000 leads x 200 reps) with
accounts of one to a few leads within one territory, owned by one rep each (their first
lead's rep in a plain solve), 10% of them moved to a random rep (a week of drift).
Reproducible: fixed seeds.

    python benchmarks/bench_rules.py                       # 10000x200, every rule, 2 workers
    python benchmarks/bench_rules.py --size 2000x50 --rules fairness_count accounts
    python benchmarks/bench_rules.py --issue24   # t24_* rules, 10000x200 and 50000x300, 60 s
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator

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
    # issue 24, target 3: hard side rules at 10,000 x 200 and 50,000 x 300, 60 s
    "t24_tiers_band_accounts": {
        "tiers": [{"min_value": 40000, "min_level": 3}],
        "fairness": {"metric": "count", "band": 0.4},
        "accounts": {"together": True},
    },
    "t24_value_band": {"fairness": {"metric": "value", "band": 0.5, "within": "level"}},
    "t24_accounts": {"accounts": {"together": True}},
    "t24_continuity": {"continuity": {"max_reassign": 0.05}},
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
    parser.add_argument(
        "--issue24",
        action="store_true",
        help="the t24_* rules at 10000x200 and 50000x300, 60 s (sizes: --sizes)",
    )
    parser.add_argument("--sizes", nargs="*", default=None, help="several sizes, one book each")
    args = parser.parse_args()
    sizes = args.sizes or [args.size]
    if args.issue24:
        args.rules = [r for r in RULES if r.startswith("t24_")]
        args.time_limit = 60.0
        sizes = args.sizes or ["10000x200", "50000x300"]
    rows: list[dict[str, object]] = []
    for size in sizes:
        rows += run_size(size, args.rules, args.workers, args.time_limit)
    print(table(rows))


def run_size(
    size: str, rules: list[str], workers: int, time_limit: float
) -> list[dict[str, object]]:
    """Every rule of ``rules`` on the book of ``size`` ("10000x200"), one row each."""
    from leadassign import load_problem, solve
    from leadassign.check import check_assignments
    from leadassign.models.policy import policy_from_mapping

    n, m = (int(x) for x in size.split("x"))
    leads, reps, affinity = book(n, m)
    rows: list[dict[str, object]] = []
    for name in rules:
        policy = policy_from_mapping(
            {**RULES[name], "solver": {"workers": workers, "time_limit_s": time_limit}}
        )
        problem = load_problem(leads, reps, affinity, policy=policy)
        phases = PhaseTimes()
        started = phases.started = time.perf_counter()
        with phases.timing_stages():
            result = solve(problem, policy, progress=phases)
        wall = time.perf_counter() - started
        # the answer against every rule by the solver-free checker (issue 24: it must pass)
        checked = (
            len(check_assignments(problem, policy, result.assignments).violations)
            if result.has_solution
            else None
        )
        row: dict[str, object] = {
            "rule": name,
            "size": size,
            "status": result.status.value,
            "method": result.method,
            "assigned": result.assigned if result.has_solution else None,
            "objective": round(result.objective, 2) if result.objective else None,
            "gap": result.gap,
            "bound": round(result.best_bound, 2) if result.best_bound is not None else None,
            "bound_by": result.bound_by,
            "limited_by": result.limited_by,
            "assigned_bound": result.assigned_bound,
            "build_s": round(result.build_s, 2),
            "solve_s": round(result.solve_s, 2),
            "total_s": round(wall, 2),
            "violations": checked,
            "phases": phases.starts,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


class PhaseTimes:
    """A Progress that notes when each solver phase started (seconds into the solve)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.starts: list[tuple[str, float]] = []

    def phase(self, name: str) -> None:
        self.starts.append((name, round(time.perf_counter() - self.started, 2)))

    def update(self, objective: float | None, bound: float | None) -> None:
        pass

    @contextlib.contextmanager
    def timing_stages(self) -> Iterator[None]:
        """Within: each pipeline stage that takes 0.05 s or more is noted as
        ``"stage name" seconds`` (its end, seconds into the solve) in ``starts``."""
        from leadassign.solve import pipeline as pl
        from leadassign.solve.incumbent import Finish
        from leadassign.solve.run import Run

        original = pl.run_pipeline

        def timed(stage: pl.Stage) -> pl.Stage:
            def run(r: Run) -> Finish | None:
                begun = time.perf_counter()
                try:
                    return stage.run(r)
                finally:
                    if time.perf_counter() - begun >= 0.05:
                        self.phase(f"{stage.name} done")

            return dataclasses.replace(stage, run=run)

        def run_pipeline(pipeline: pl.Pipeline, run: Run) -> pl.Ran:
            stages = tuple(timed(stage) for stage in pipeline.stages)
            return original(dataclasses.replace(pipeline, stages=stages), run)

        pl.run_pipeline = run_pipeline
        try:
            yield
        finally:
            pl.run_pipeline = original


def table(rows: list[dict[str, object]]) -> str:
    """The runs as a Markdown table."""
    head = [
        "rule",
        "size",
        "status",
        "method",
        "assigned",
        "objective",
        "gap",
        "build s",
        "solve s",
    ]
    head += ["total s", "checker"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        gap = r["gap"]
        cells = [
            r["rule"],
            r["size"],
            r["status"],
            r["method"],
            f"{r['assigned']:,}" if isinstance(r["assigned"], int) else "—",
            f"{r['objective']:,.2f}" if isinstance(r["objective"], float) else "—",
            f"{gap:.1e}" if isinstance(gap, float) else "—",
            r["build_s"],
            r["solve_s"],
            r["total_s"],
            "—" if r["violations"] is None else f"{r['violations']} violations",
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
