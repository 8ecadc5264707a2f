"""Record what leadassign does on a fixed corpus, to prove a refactoring changed nothing.

For each case (the demo, the benchmark books policy-free and with each rule, GAP instances
through ``--pairs``, a scenario comparison, a frontier and a four-week rebalance) the real
command runs in a subprocess, as a user runs it, and the record keeps: the solver phases in
order (the ``phase`` events of ``--json``), method, status, objective, bound, gap,
``limited_by``, and the sha256 of every output file. Timings are left out: the ``*_s``
fields of JSON files (``time_limit_s`` aside), the ``solve_s``/``build_s`` columns of CSVs,
the manifest's ``created_at`` and ``run_id``, and the JSON log's ``time``/``elapsed_s``.

    python tools/record_corpus.py --check tools/corpus.json  # against the committed record
    python tools/record_corpus.py --out corpus.json          # record
    python tools/record_corpus.py --check corpus.json        # again, compared (exit 1: differs)
    python tools/record_corpus.py --out c.json 'rules-*' demo

Everything runs under the default work limit, so the records are the same on any machine and
under any load while no case reports ``limited_by: time`` (the recorder says when one does).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the benchmarks' books and rules

from bench_rules import RULES as BENCH_RULES  # noqa: E402

EXAMPLES = ROOT / "examples"
GAP_FILE = ROOT / "tests" / "data" / "gap_d05100.txt"

#: JSON keys that hold times or run identities, not behaviour.
VOLATILE_KEYS = {"created_at", "run_id", "time", "elapsed_s"}
#: CSV columns that hold times.
VOLATILE_COLUMNS = {"solve_s", "build_s", "elapsed_s"}

#: Business rules on the benchmark book: those of benchmarks/bench_rules.py (but the soft
#: continuity and the issue-4 mix, which the others cover).
RULES: dict[str, dict[str, Any]] = {
    name: rules for name, rules in BENCH_RULES.items() if name not in ("continuity_soft", "issue4")
}


def _is_volatile(key: str) -> bool:
    return key in VOLATILE_KEYS or (key.endswith("_s") and key != "time_limit_s")


def _stable(value: Any) -> Any:
    """A JSON value without its timings."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if not _is_volatile(k)}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _digest(path: Path) -> str:
    """sha256 of a file, of its stable form for JSON and CSV files."""
    data = path.read_bytes()
    if path.name == ".leadassign-manifest.json":  # its digests cover timings: names only
        manifest = json.loads(data)
        files = manifest.get("files", {})
        names = sorted(files) if isinstance(files, dict) else sorted(f["path"] for f in files)
        data = json.dumps([manifest.get("command"), manifest.get("state"), names]).encode()
    elif path.suffix == ".json":
        data = json.dumps(_stable(json.loads(data)), sort_keys=True).encode()
    elif path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        if rows:
            keep = [i for i, name in enumerate(rows[0]) if name not in VOLATILE_COLUMNS]
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(
                [[r[i] for i in keep if i < len(r)] for r in rows]
            )
            data = buffer.getvalue().encode()
    elif path.suffix == ".html":  # the report's tables show solve_s: blanked
        data = _without_timing_cells(data.decode()).encode()
    return hashlib.sha256(data).hexdigest()


def _without_timing_cells(html: str) -> str:
    """The report's HTML with the cells of its timing columns (VOLATILE_COLUMNS) blanked."""
    parts = html.split("<table")
    for k, table in enumerate(parts[1:], start=1):
        heads = re.findall(r"<th[^>]*>(.*?)</th>", table, flags=re.S)
        blank = {i for i, head in enumerate(heads) if head.strip() in VOLATILE_COLUMNS}
        if not blank:
            continue

        def row(match: re.Match[str], blank: set[int] = blank) -> str:
            cells = iter(range(10**9))
            return re.sub(
                r"(<td[^>]*>)(.*?)(</td>)",
                lambda cell: (
                    cell.group(1) + "#" + cell.group(3) if next(cells) in blank else cell.group(0)
                ),
                match.group(0),
                flags=re.S,
            )

        parts[k] = re.sub(r"<tr[^>]*>.*?</tr>", row, table, flags=re.S)
    return "<table".join(parts)


def _files(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): _digest(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _figures(summary: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "method", "objective", "best_bound", "gap", "assigned", "limited_by")
    return {key: summary.get(key) for key in keys}


def leadassign(
    args: list[str], cwd: Path, json_log: bool = True
) -> tuple[int, list[dict[str, Any]]]:
    """Run ``python -m leadassign ARGS [--json]`` in ``cwd``: exit code and JSON events."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "leadassign", *args, *(["--json"] if json_log else [])],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    events = []
    for line in done.stderr.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            events.append({"event": "text", "line": line})
    return done.returncode, events


def solve_record(args: list[str], cwd: Path, out: str) -> dict[str, Any]:
    """One solve-like command: exit code, phases, figures and files."""
    # a far wall-clock backstop: the work limit, the same on any machine, ends the search
    code, events = leadassign([*args, "--out", out, "--time-limit", "600"], cwd)
    summary_path = cwd / out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return {
        "exit": code,
        "phases": [e["phase"] for e in events if e.get("event") in ("model_built", "phase")],
        **_figures(summary),
        "files": _files(cwd / out) if (cwd / out).exists() else {},
    }


def scenario_record(command: str, spec: Path, cwd: Path) -> dict[str, Any]:
    code, _events = leadassign([command, str(spec), "--out", "out"], cwd)
    runs = {
        folder.name: _figures(json.loads((folder / "summary.json").read_text()))
        for folder in sorted((cwd / "out").iterdir())
        if (folder / "summary.json").is_file()
    }
    return {"exit": code, "runs": runs, "files": _files(cwd / "out")}


# -- the cases ---------------------------------------------------------------------------------


def case_demo(cwd: Path) -> dict[str, Any]:
    return solve_record(["demo"], cwd, "demo")


def _rules_book(cwd: Path, n: int = 1500, m: int = 40) -> list[str]:
    """bench_rules' book (demo sample with accounts and a week of drift) as CSV files."""
    from bench_rules import book

    leads, reps, affinity = book(n, m)
    leads.to_csv(cwd / "leads.csv", index=False)
    reps.to_csv(cwd / "reps.csv", index=False)
    affinity.to_csv(cwd / "affinity.csv", index=False)
    return ["--leads", "leads.csv", "--reps", "reps.csv", "--affinity", "affinity.csv"]


def case_core(cwd: Path) -> dict[str, Any]:
    """bench_core's book (make_sample 2,000 x 40, seed 0), policy-free."""
    from leadassign.demo import make_sample

    sample = make_sample(2000, 40, seed=0)
    sample.leads.to_csv(cwd / "leads.csv", index=False)
    sample.reps.to_csv(cwd / "reps.csv", index=False)
    sample.affinity.to_csv(cwd / "affinity.csv", index=False)
    args = ["--leads", "leads.csv", "--reps", "reps.csv", "--affinity", "affinity.csv"]
    return solve_record(["solve", *args, "--no-store"], cwd, "run")


def rule_case(rule: str) -> Callable[[Path], dict[str, Any]]:
    def case(cwd: Path) -> dict[str, Any]:
        args = _rules_book(cwd)
        (cwd / "policy.yaml").write_text(yaml.safe_dump(RULES[rule]))
        return solve_record(["solve", *args, "--policy", "policy.yaml", "--no-store"], cwd, "run")

    return case


def gap_case(sense: str) -> Callable[[Path], dict[str, Any]]:
    """GAP d05100 (the instance the tests use) through --pairs, as bench_gap writes it."""

    def case(cwd: Path) -> dict[str, Any]:
        from bench_gap import Instance, write_book

        tokens = [int(t) for t in GAP_FILE.read_text().split()]
        m, n = tokens[0], tokens[1]
        cost = np.array(tokens[2 : 2 + m * n]).reshape(m, n)
        resource = np.array(tokens[2 + m * n : 2 + 2 * m * n]).reshape(m, n)
        capacity = np.array(tokens[2 + 2 * m * n :])
        write_book(Instance("d05100", "d", cost, resource, capacity), sense, cwd)
        args = ["--leads", "leads.csv", "--reps", "reps.csv", "--pairs", "pairs.csv"]
        return solve_record(["solve", *args, "--no-store"], cwd, "run")

    return case


def case_compare(cwd: Path) -> dict[str, Any]:
    return scenario_record("compare", EXAMPLES / "scenario.yaml", cwd)


def case_frontier(cwd: Path) -> dict[str, Any]:
    return scenario_record("frontier", EXAMPLES / "frontier.yaml", cwd)


def case_four_weeks(cwd: Path) -> dict[str, Any]:
    """tests/test_history.py's four weekly books: solve week 1, rebalance weeks 2-4, then diff
    and export the last two runs."""
    sys.path.insert(0, str(ROOT))
    try:
        from tests.test_history import POLICY, weekly_books
    finally:
        sys.path.pop(0)
    (cwd / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    store = ["--store", str(cwd / "history.db")]
    weeks: dict[str, Any] = {}
    for k, paths in enumerate(weekly_books(cwd), start=1):
        command = "solve" if k == 1 else "rebalance"
        args = [command, "--leads", str(paths["leads"]), "--reps", str(paths["reps"])]
        weeks[f"week{k}"] = solve_record([*args, "--policy", "policy.yaml", *store], cwd, f"w{k}")
    code, _ = leadassign(["diff", "latest-1", "latest", "--out", "moves.csv", *store], cwd, False)
    weeks["diff"] = {"exit": code, "sha256": _digest(cwd / "moves.csv")}
    export = ["export", "latest", "--format", "csv", "--all", "--out", "x.csv"]
    code, _ = leadassign([*export, *store], cwd, json_log=False)
    weeks["export"] = {"exit": code, "sha256": _digest(cwd / "x.csv")}
    return weeks


def cases() -> Iterator[tuple[str, Callable[[Path], dict[str, Any]]]]:
    yield "demo", case_demo
    yield "core-2000x40", case_core
    for rule in RULES:
        yield f"rules-{rule}", rule_case(rule)
    yield "gap-d05100-min", gap_case("min")
    yield "gap-d05100-max", gap_case("max")
    yield "compare-example", case_compare
    yield "frontier-example", case_frontier
    yield "four-weeks", case_four_weeks


def record(only: list[str]) -> dict[str, Any]:
    records: dict[str, Any] = {}
    for name, case in cases():
        if only and not any(fnmatch.fnmatch(name, pattern) for pattern in only):
            continue
        with tempfile.TemporaryDirectory(prefix="corpus-") as folder:
            records[name] = case(Path(folder))
        print(f"{name}: recorded", file=sys.stderr, flush=True)
        if '"limited_by": "time"' in json.dumps(records[name]):
            print(f"  {name}: a stage was cut by the clock: this record may vary", file=sys.stderr)
    return records


def differences(old: Any, new: Any, where: str = "") -> Iterator[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if key not in new:
                yield f"{where}/{key}: gone"
            elif key not in old:
                yield f"{where}/{key}: new"
            else:
                yield from differences(old[key], new[key], f"{where}/{key}")
    elif old != new:
        yield f"{where}: {old!r} -> {new!r}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the records here (JSON)")
    parser.add_argument("--check", type=Path, help="compare with these records")
    parser.add_argument("only", nargs="*", help="case name patterns (default: every case)")
    args = parser.parse_args()
    if args.check is not None:
        old = json.loads(args.check.read_text())
        patterns = args.only or list(old)
        new = record(patterns)
        found = list(differences({k: old[k] for k in new if k in old}, new))
        for line in found:
            print(line)
        print(f"{len(new)} cases, {len(found)} differences", file=sys.stderr)
        return 1 if found else 0
    records = record(args.only)
    text = json.dumps(records, indent=1, sort_keys=True) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
