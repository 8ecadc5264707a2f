"""How the code is shaped: the longest functions, the largest McCabe scores, lines per folder,
and import cycles between the package's modules (those of tools/import_cycles.py).

    python tools/code_measures.py               # leadassign/, the top 10 of each
    python tools/code_measures.py --top 20 --json

McCabe scores are ruff's (rule C901), so this measures what the linter enforces (above 15,
pyproject.toml), files exempted there included.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from import_cycles import cycles, imports, module_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "leadassign"


def functions(package: Path) -> list[tuple[int, str]]:
    """(lines, file:qualified name) of every function and method."""
    found: list[tuple[int, str]] = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def visit(node: ast.AST, prefix: str, path: Path = path) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                    name = f"{prefix}{child.name}"
                    end = child.end_lineno or child.lineno
                    found.append((end - child.lineno + 1, f"{path.relative_to(ROOT)}:{name}"))
                    visit(child, f"{name}.")
                elif isinstance(child, ast.ClassDef):
                    visit(child, f"{prefix}{child.name}.")

        visit(tree, "")
    return sorted(found, reverse=True)


def mccabe(package: Path) -> list[tuple[int, str]]:
    """(score, file:function) of every function scoring above 1, by ruff's C901."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(package), "--select", "C901",
         "--config", "lint.mccabe.max-complexity=1", "--config", "lint.per-file-ignores={}",
         "--output-format", "concise", "--no-cache"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    found = []
    for line in done.stdout.splitlines():
        match = re.match(r"(.+?):\d+:\d+: C901 `(.+?)` is too complex \((\d+) > 1\)", line)
        if match:
            where = Path(match.group(1)).resolve().relative_to(ROOT)
            found.append((int(match.group(3)), f"{where}:{match.group(2)}"))
    return sorted(found, reverse=True)


def lines_per_folder(package: Path) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for path in package.rglob("*.py"):
        folder = str(path.parent.relative_to(ROOT))
        counts[folder] += len(path.read_text(encoding="utf-8").splitlines())
    return dict(sorted(counts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    graph = {module_name(path): imports(path, modules) for path in paths}
    for name in graph:  # a package's __init__ importing its own submodules is no cycle
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    sizes = [
        (len(path.read_text(encoding="utf-8").splitlines()), str(path.relative_to(ROOT)))
        for path in PACKAGE.rglob("*.py")
    ]
    folders = lines_per_folder(PACKAGE)
    report: dict[str, object] = {
        "longest_functions": functions(PACKAGE)[: args.top],
        "mccabe": mccabe(PACKAGE)[: args.top],
        "lines_per_folder": folders,
        "largest_files": sorted(sizes, reverse=True)[: args.top],
        "import_cycles": cycles(graph),
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return
    for key, rows in report.items():
        print(f"## {key}")
        if isinstance(rows, dict):
            for folder, count in rows.items():
                print(f"  {count:6d}  {folder}")
        elif isinstance(rows, list):
            for row in rows:
                print(f"  {row[0]:6d}  {row[1]}" if isinstance(row, tuple) else f"  {row}")
    print(f"total lines: {sum(folders.values())}")


if __name__ == "__main__":
    main()
