"""GAP benchmark: the public Generalized Assignment Problem instances through ``--pairs``.

Each instance of ``../shared/data/gap/`` (OR-Library gap1-12 and gapa-d, Yagiura's types
C, D, E) becomes a book: jobs are leads (``J0001``...), agents are reps (``A01``..., covering
every territory, capacity = the agent's capacity), and a pairs table lists every (job, agent)
pair with ``score`` = profit (max) or -cost (min) and ``effort`` = the resource use. The book
is solved by the ``leadassign solve`` command in a subprocess, exactly as a user would; the GAP
objective and the capacities are then checked here from ``assignments.csv``, independently of
the solver, and compared with ``best_known.csv``. Since leadassign first assigns as many leads
as possible, a book where every job fits is solved as the GAP ("every job assigned").

gap1-12 are solved in both senses (max: OR-Library's optima; min: the later literature);
every other instance is a minimisation. Instances run one after another (timings matter);
an instance OPTIMAL at a shorter time limit is not run again at a longer one.

    python benchmarks/bench_gap.py                                  # every set, 10 s then 60 s
    python benchmarks/bench_gap.py --sets gap1-12,abc --time-limits 10
    python benchmarks/bench_gap.py --only 'd*' --time-limits 60 --keep /tmp/gap-runs --log
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gap"
IntMatrix = npt.NDArray[np.int64]

FAMILIES = ("gap1-12", "gapa", "gapb", "gapc", "gapd", "yagiura-c", "yagiura-d", "yagiura-e")
ALIASES: dict[str, tuple[str, ...]] = {
    "all": FAMILIES,
    "orlib": FAMILIES[:5],
    "abc": ("gapa", "gapb", "gapc"),
    "abcd": ("gapa", "gapb", "gapc", "gapd"),
    "yagiura": FAMILIES[5:],
    **{letter: (f"gap{letter}",) for letter in "abcd"},
}
#: Problems 1..6 of gapa.txt..gapd.txt, in file order (README of the data folder).
ABCD_SIZES = ("05100", "05200", "10100", "10200", "20100", "20200")


@dataclass(frozen=True)
class Instance:
    """One GAP instance: agent x job cost (or profit) and resource matrices, capacities."""

    id: str
    family: str
    cost: IntMatrix  # m x n
    resource: IntMatrix  # m x n
    capacity: IntMatrix  # m

    @property
    def m(self) -> int:
        return int(self.cost.shape[0])

    @property
    def n(self) -> int:
        return int(self.cost.shape[1])


@dataclass(frozen=True)
class BestKnown:
    value: int
    proven: bool


@dataclass(frozen=True)
class Run:
    """One instance in one sense at one time limit, as solved and as checked here."""

    instance: Instance
    sense: str  # "max" | "min"
    limit: float
    status: str
    method: str = ""
    wall_s: float = math.nan
    solve_s: float = math.nan
    solver_gap: float = math.nan
    assigned: int = 0
    objective: int | None = None  # GAP objective computed here; None unless every job placed
    best_known: BestKnown | None = None
    note: str = ""
    copied_from: float | None = None

    @property
    def pct_gap(self) -> float | None:
        """% gap to best known, positive when worse ((obj-bk)/bk min, (bk-obj)/bk max)."""
        if self.objective is None or self.best_known is None or self.best_known.value == 0:
            return None
        diff = self.objective - self.best_known.value
        if self.sense == "max":
            diff = -diff
        return 100.0 * diff / self.best_known.value

    @property
    def proven_at_optimum(self) -> bool:
        return (
            self.status == "OPTIMAL"
            and self.best_known is not None
            and self.best_known.proven
            and self.objective == self.best_known.value
        )


def _tokens(path: Path) -> list[int]:
    return [int(token) for token in path.read_text().split()]


def _take(tokens: list[int], pos: int, count: int) -> tuple[IntMatrix, int]:
    if pos + count > len(tokens):
        raise ValueError(f"truncated instance: needs {pos + count} tokens, file has {len(tokens)}")
    return np.asarray(tokens[pos : pos + count], dtype=np.int64), pos + count


def _parse_one(tokens: list[int], pos: int, id_: str, family: str) -> tuple[Instance, int]:
    m, n = tokens[pos], tokens[pos + 1]
    cost, pos = _take(tokens, pos + 2, m * n)
    resource, pos = _take(tokens, pos, m * n)
    capacity, pos = _take(tokens, pos, m)
    instance = Instance(id_, family, cost.reshape(m, n), resource.reshape(m, n), capacity)
    return instance, pos


def _ids_of(path: Path, count: int) -> tuple[str, list[str]]:
    """The family of a multi-instance file and the ids (as in best_known.csv) of its problems."""
    key = path.stem.removeprefix("gap")
    if key.isdigit():
        return "gap1-12", [f"gap{key}-{i}" for i in range(1, count + 1)]
    if count != len(ABCD_SIZES):
        raise ValueError(f"{path.name}: expected {len(ABCD_SIZES)} problems, found {count}")
    return f"gap{key}", [f"{key}{size}" for size in ABCD_SIZES]


def read_file(path: Path) -> list[Instance]:
    """All instances of one file: multi-instance ``gap*.txt`` or a single Yagiura file."""
    tokens = _tokens(path)
    instances: list[Instance] = []
    if path.suffix == ".txt":
        family, ids = _ids_of(path, tokens[0])
        pos = 1
        for id_ in ids:
            instance, pos = _parse_one(tokens, pos, id_, family)
            instances.append(instance)
    else:
        instance, pos = _parse_one(tokens, 0, path.name, f"yagiura-{path.name[0]}")
        instances.append(instance)
    if pos != len(tokens):
        raise ValueError(f"{path.name}: {len(tokens) - pos} tokens left over")
    return instances


def instance_files(data: Path, families: set[str]) -> Iterator[Path]:
    """The instance files of the chosen families, in a stable order (gap1..12, a..d, C, D, E)."""
    multi = [f"gap{k}.txt" for k in range(1, 13)] if "gap1-12" in families else []
    multi += [f"gap{x}.txt" for x in "abcd" if f"gap{x}" in families]
    for name in multi:
        yield data / name
    single = [p for p in data.iterdir() if re.fullmatch(r"[cde]\d{5,6}", p.name)]
    for kind in "cde":
        if f"yagiura-{kind}" in families:
            chosen = [p for p in single if p.name[0] == kind]
            yield from sorted(chosen, key=lambda p: (int(p.name[3:]), p.name))


def read_best_known(data: Path) -> dict[tuple[str, str], BestKnown]:
    with (data / "best_known.csv").open(newline="") as handle:
        return {
            (row["instance"], row["sense"]): BestKnown(
                int(row["best_known"]), row["proven_optimal"].strip().lower() == "true"
            )
            for row in csv.DictReader(handle)
        }


def _width(count: int, least: int) -> int:
    return max(least, len(str(count)))


def lead_ids(n: int) -> list[str]:
    return [f"J{j + 1:0{_width(n, 3)}d}" for j in range(n)]


def rep_ids(m: int) -> list[str]:
    return [f"A{i + 1:0{_width(m, 2)}d}" for i in range(m)]


def write_book(instance: Instance, sense: str, folder: Path) -> None:
    """leads.csv, reps.csv and pairs.csv (every job x agent pair) for one instance and sense."""
    leads, reps = lead_ids(instance.n), rep_ids(instance.m)
    score = instance.cost if sense == "max" else -instance.cost
    with (folder / "leads.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lead_id", "territory", "value"])
        writer.writerows([lead, "gap", 0] for lead in leads)
    with (folder / "reps.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rep_id", "territories", "capacity"])
        capacity = instance.capacity.tolist()
        writer.writerows([rep, "*", cap] for rep, cap in zip(reps, capacity, strict=True))
    with (folder / "pairs.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lead_id", "rep_id", "score", "effort"])
        for j, lead in enumerate(leads):
            writer.writerows(
                [lead, rep, int(score[i, j]), int(instance.resource[i, j])]
                for i, rep in enumerate(reps)
            )


def read_assignment(instance: Instance, path: Path) -> npt.NDArray[np.int64]:
    """Agent index per job from assignments.csv (-1 when unassigned)."""
    job = {lead: j for j, lead in enumerate(lead_ids(instance.n))}
    agent = {rep: i for i, rep in enumerate(rep_ids(instance.m))}
    assignment = np.full(instance.n, -2, dtype=np.int64)
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            rep = row["rep_id"] or ""
            assignment[job[row["lead_id"]]] = agent[rep] if rep else -1
    if (assignment == -2).any():
        raise ValueError(f"{path}: {int((assignment == -2).sum())} jobs missing")
    return assignment


def leadassign_command() -> list[str]:
    """The installed ``leadassign`` console script (next to this Python, else on PATH)."""
    beside = Path(sys.executable).with_name("leadassign")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("leadassign")
    if found:
        return [found]
    raise SystemExit("the leadassign command is not installed (pip install -e .)")


@dataclass(frozen=True)
class Options:
    workers: int
    seed: int
    log: bool
    keep: Path | None


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:120] if lines else ""


def solve_one(
    instance: Instance, sense: str, limit: float, best: BestKnown | None, opts: Options
) -> Run:
    """Write the book, run ``leadassign solve`` on it, check its answer here."""
    base = Run(instance, sense, limit, status="", best_known=best)
    with tempfile.TemporaryDirectory(prefix="bench-gap-") as tmp:
        folder = Path(tmp)
        if opts.keep is not None:
            folder = opts.keep / f"{instance.id}-{sense}"
            folder.mkdir(parents=True, exist_ok=True)
        write_book(instance, sense, folder)
        out = folder / f"out-{limit:g}s"
        command = [
            *leadassign_command(),
            "solve",
            "--no-store",
            "--leads",
            str(folder / "leads.csv"),
            "--reps",
            str(folder / "reps.csv"),
            "--pairs",
            str(folder / "pairs.csv"),
            "--pairs-mode",
            "only",
            "--out",
            str(out),
            "--time-limit",
            f"{limit:g}",
            "--workers",
            str(opts.workers),
            "--seed",
            str(opts.seed),
            *(["--log"] if opts.log else []),
        ]
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=2 * limit + 120, check=False
            )
        except subprocess.TimeoutExpired:
            return replace(base, status="TIMEOUT", wall_s=time.perf_counter() - started)
        wall = time.perf_counter() - started
        if opts.keep is not None:
            (folder / f"stdout-{limit:g}s.txt").write_text(done.stdout)
            (folder / f"stderr-{limit:g}s.txt").write_text(done.stderr)
        summary_path = out / "summary.json"
        if not summary_path.exists():
            note = f"exit {done.returncode}: {_last_line(done.stderr)}"
            return replace(base, status="ERROR", wall_s=wall, note=note)
        summary = json.loads(summary_path.read_text())
        run = replace(
            base,
            status=str(summary.get("status", "?")),
            method=str(summary.get("method") or ""),
            wall_s=wall,
            solve_s=_number(summary.get("solve_s")),
            solver_gap=_number(summary.get("gap")),
        )
        if not (out / "assignments.csv").exists():
            return replace(run, note=f"exit {done.returncode}: no assignment")
        return check(run, read_assignment(instance, out / "assignments.csv"), summary)


def check(run: Run, assignment: npt.NDArray[np.int64], summary: dict[str, object]) -> Run:
    """GAP objective and capacity feasibility of ``assignment``, computed here."""
    instance = run.instance
    placed = assignment >= 0
    jobs = np.flatnonzero(placed)
    agents = assignment[placed]
    load = np.zeros(instance.m, dtype=np.int64)
    np.add.at(load, agents, instance.resource[agents, jobs])
    total = int(instance.cost[agents, jobs].sum())
    notes = []
    over = np.flatnonzero(load > instance.capacity)
    if len(over):
        notes.append(f"CAPACITY VIOLATED at {len(over)} agents")
    score = total if run.sense == "max" else -total
    reported = summary.get("objective")
    if isinstance(reported, int | float) and abs(float(reported) - score) > 1e-6 * max(
        1.0, abs(score)
    ):
        notes.append(f"summary objective {reported} != {score}")
    assigned = int(placed.sum())
    objective: int | None = total
    if assigned < instance.n:
        objective = None
        notes.append(f"not all jobs assigned ({assigned}/{instance.n})")
    best = run.best_known
    if run.status == "OPTIMAL" and objective is not None and best is not None:
        better = objective > best.value if run.sense == "max" else objective < best.value
        if objective != best.value and best.proven:
            notes.append("OPTIMAL but differs from proven best known")
        elif better:
            notes.append("OPTIMAL and better than best known")
        elif objective == best.value and not best.proven:
            notes.append("proves the open best known optimal")
    return replace(run, assigned=assigned, objective=objective, note="; ".join(notes))


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None or math.isnan(value) else format(value, spec)


def row(run: Run) -> str:
    instance, best = run.instance, run.best_known
    wall = _fmt(run.wall_s, ".1f") + ("†" if run.copied_from is not None else "")
    cells = [
        instance.id,
        run.sense,
        f"{instance.m}x{instance.n}",
        run.status,
        run.method or "—",
        wall,
        _fmt(run.solve_s, ".2f"),
        _fmt(run.solver_gap, ".2e"),
        str(run.objective) if run.objective is not None else "—",
        (str(best.value) + ("" if best.proven else " (open)")) if best else "—",
        _fmt(run.pct_gap, ".2f"),
        "yes" if run.proven_at_optimum else "no",
        run.note,
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "instance",
    "sense",
    "m x n",
    "status",
    "method",
    "wall s",
    "solve s",
    "solver gap",
    "objective",
    "best known",
    "% gap",
    "proven opt",
    "note",
)
LEGEND = (
    "wall s: the `leadassign solve` subprocess (Python start-up, reading, solving, writing); "
    "solve s: summary.json's `solve_s`; solver gap: summary.json's `gap` (on the lexicographic "
    "value score); objective: the GAP objective recomputed here from assignments.csv "
    "(— when not every job was assigned); % gap: (obj-bk)/bk for min, (bk-obj)/bk for max; "
    "proven opt: status OPTIMAL and objective = a proven best known. "
    "†: OPTIMAL at a shorter time limit, not run again (that run's row)."
)


def family_key(run: Run) -> str:
    return f"{run.instance.family} ({run.sense})"


def print_families(runs: list[Run], limit: float) -> None:
    print(f"\n### Families at {limit:g} s\n")
    header = (
        "family",
        "instances",
        "all jobs assigned",
        "OPTIMAL",
        "proven at optimum",
        "mean % gap",
        "max % gap",
        "total wall s",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(family_key(run), []).append(run)
    for key, group in groups.items():
        gaps = [g for g in (run.pct_gap for run in group) if g is not None]
        cells = [
            key,
            str(len(group)),
            str(sum(run.objective is not None for run in group)),
            str(sum(run.status == "OPTIMAL" for run in group)),
            str(sum(run.proven_at_optimum for run in group)),
            _fmt(statistics.fmean(gaps) if gaps else None, ".3f"),
            _fmt(max(gaps) if gaps else None, ".3f"),
            _fmt(sum(run.wall_s for run in group if run.copied_from is None), ".0f"),
        ]
        print("| " + " | ".join(cells) + " |")


def parse_sets(text: str) -> set[str]:
    chosen: set[str] = set()
    for item in (part.strip().lower() for part in text.split(",")):
        if item in FAMILIES:
            chosen.add(item)
        elif item in ALIASES:
            chosen.update(ALIASES[item])
        elif item:
            known = ", ".join((*FAMILIES, *ALIASES))
            raise argparse.ArgumentTypeError(f"unknown set {item!r} (known: {known})")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the GAP instances")
    parser.add_argument(
        "--sets",
        type=parse_sets,
        default=set(FAMILIES),
        help="comma-separated: " + ", ".join(FAMILIES) + "; or abc, abcd, orlib, yagiura, all",
    )
    parser.add_argument("--only", help="fnmatch pattern on the instance id, e.g. 'gap1[0-2]-*'")
    parser.add_argument("--sense", choices=["both", "max", "min"], default="both", help="gap1-12")
    parser.add_argument("--time-limits", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--workers", type=int, default=2, help="leadassign --workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="instances solved at once")
    parser.add_argument("--log", action="store_true", help="pass --log (kept with --keep)")
    parser.add_argument("--keep", type=Path, help="keep each book, output and log here")
    args = parser.parse_args()

    best_known = read_best_known(args.data)
    cases: list[tuple[Instance, str]] = []
    for path in instance_files(args.data, args.sets):
        for instance in read_file(path):
            if args.only and not fnmatch.fnmatchcase(instance.id, args.only):
                continue
            senses = ["min"]
            if instance.family == "gap1-12":
                senses = ["max", "min"] if args.sense == "both" else [args.sense]
            cases.extend((instance, sense) for sense in senses)
    if not cases:
        raise SystemExit("no instance selected")
    opts = Options(args.workers, args.seed, args.log, args.keep)

    from importlib.metadata import version

    from leadassign import __version__

    machine = platform.processor() or platform.machine()
    print(
        f"# leadassign GAP benchmark — {time.strftime('%Y-%m-%d')}, {machine}, "
        f"{os.cpu_count()} cpus, Python {platform.python_version()}, leadassign {__version__}, "
        f"OR-Tools {version('ortools')}, `--pairs` (mode only), {args.workers} workers, "
        f"seed {args.seed}, {len(cases)} instance-senses"
    )
    done: dict[tuple[str, str], Run] = {}
    for limit in sorted(args.time_limits):
        print(f"\n## Time limit {limit:g} s\n")
        print("| " + " | ".join(HEADER) + " |")
        print("|" + "---|" * len(HEADER))

        def one(case: tuple[Instance, str], limit: float = limit) -> Run:
            instance, sense = case
            earlier = done.get((instance.id, sense))
            if earlier is not None and earlier.status == "OPTIMAL":
                copied = earlier.copied_from if earlier.copied_from is not None else earlier.limit
                return replace(earlier, limit=limit, copied_from=copied)
            best = best_known.get((instance.id, sense))
            return solve_one(instance, sense, limit, best, opts)

        runs: list[Run] = []
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for run in pool.map(one, cases):
                runs.append(run)
                done[(run.instance.id, run.sense)] = run
                print(row(run), flush=True)
        print(f"\n{LEGEND}")
        print_families(runs, limit)


if __name__ == "__main__":
    main()
