"""Where a compare's time goes (issue 24, target 6): ``leadassign compare`` of the
20-variant scenario of ``bench_compare.py`` in this process, every pipeline stage of every
run and the sweep's other steps (checking, files, report.html, diffs) timed, in wall and
CPU seconds (on a shared machine the CPU seconds say more: the wall ones grow with the load).

    python benchmarks/profile_compare.py --size 10000x200 --policy issue4 --variants 20
    PYTHONPATH=/path/to/other/checkout python benchmarks/profile_compare.py ...  # its code

The timers wrap functions by name; a checkout that lacks one (an older main) is timed
without it. ``--answers FILE`` writes each run's status, method, gap, leads assigned and
objective as JSON, to compare two checkouts' answers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_compare import write_scenario

WALL: dict[str, float] = defaultdict(float)
CPU: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, its wall and CPU seconds added to ``name``'s."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            WALL[name] += time.perf_counter() - wall
            CPU[name] += time.process_time() - cpu
            CALLS[name] += 1

    return wrapped


def wrap(owner: Any, attribute: str, name: str) -> None:
    """Time ``owner.attribute`` (a module's function or a class's method) as ``name``, when
    this checkout has it."""
    if attribute in vars(owner):
        setattr(owner, attribute, timed(name, vars(owner)[attribute]))


def instrument() -> None:
    """Timers on the pipeline's stages and the sweep's steps (before they are imported by
    name elsewhere: ``leadassign.app.scenario`` binds ``check`` at its import)."""
    from leadassign.engines import priced_flows
    from leadassign.scenarios import compare, report
    from leadassign.solve import flow_stages, pipeline

    for kind in ("AUTO", "CPSAT"):
        chosen = getattr(pipeline, kind)
        stages = tuple(
            pipeline.Stage(s.name, timed(f"stage: {s.name}", s.run), s.answers)
            for s in chosen.stages
        )
        setattr(pipeline, kind, pipeline.Pipeline(chosen.method, stages))
    wrap(flow_stages, "polished", "  churn search's polish")
    wrap(flow_stages, "churn_flow", "  churn search's flows")
    for flows in ("AllArcs", "ArcSubset"):
        wrap(getattr(priced_flows, flows), "solve", f"flows on {flows}")
    wrap(pipeline, "prepare", "prepare")
    wrap(compare, "solve", "runs' solves")
    wrap(compare, "result_files", "runs' files")
    wrap(report, "report_html", "report.html")
    wrap(report, "_per_rep", "  report.html's rep charts")
    wrap(compare, "diffs", "diffs")
    wrap(compare, "write_files", "writing")
    from leadassign.app import scenario

    wrap(scenario, "check", "checking (building every run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="10000x200")
    parser.add_argument("--policy", default="issue4")
    parser.add_argument("--variants", type=int, default=20, choices=(10, 20))
    parser.add_argument("--folder", type=Path, help="the book's folder (default: a new one)")
    parser.add_argument("--answers", type=Path, help="write each run's answer here (JSON)")
    args = parser.parse_args()
    n, m = (int(x) for x in args.size.split("x"))
    folder = args.folder or Path(tempfile.mkdtemp(prefix="profile-compare-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scenario.yaml"
    if not path.exists():
        write_scenario(folder, n, m, args.policy, args.variants)
    instrument()
    from leadassign.app import scenario

    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    done = scenario.compare(scenario.load(path), folder / "out", force=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"load average at start {load:.2f}, at end {os.getloadavg()[0]:.2f}")
    print(f"whole compare: {wall:.1f} s wall, {cpu:.1f} s CPU")
    print("| step | wall s | CPU s | calls |")
    print("|---|---|---|---|")
    for name in sorted(WALL, key=lambda k: -CPU[k]):
        print(f"| {name} | {WALL[name]:.2f} | {CPU[name]:.2f} | {CALLS[name]} |")
    if args.answers is not None:
        rows = [
            [r.name, r.status.value]
            + [r.summary.get(k) for k in ("method", "gap", "assigned", "objective")]
            for r in done.runs
        ]
        args.answers.write_text(json.dumps(rows, indent=0))


if __name__ == "__main__":
    main()
