"""How the code is shaped: the longest functions, the largest McCabe scores, lines per folder,
and import cycles between the package's modules.

    python tools/code_measures.py               # leadassign/, the top 10 of each
    python tools/code_measures.py --top 20 --json

McCabe scores are ruff's (rule C901), so this measures what the linter would enforce.
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
         "--config", "lint.mccabe.max-complexity=1", "--output-format", "concise", "--no-cache"],
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


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(package: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports (at any level, deferred imports included)."""
    modules = {module_name(path): path for path in package.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    graph = imports(PACKAGE)
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
