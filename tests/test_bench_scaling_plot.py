"""The scaling plot of ``benchmarks/bench_scaling.py`` (issue 24 "Done means"): redrawn from
its JSON rows without solving anything (``--plot-only``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_scaling.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _row(book: str, pairs: int, policy: str, wall: float, peak: float) -> dict[str, object]:
    return {
        "book": book,
        "pairs": pairs,
        "policy": policy,
        "status": "OPTIMAL",
        "method": "flow",
        "assigned": 1,
        "gap": 0.0,
        "build_s": 0.0,
        "solve_s": wall / 2,
        "wall_s": wall,
        "peak_mb": peak,
    }


def _plot_only(saved: Path, png: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--plot-only", str(saved), "--plot", str(png)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_plot_only_writes_a_png_from_the_json_rows(tmp_path: Path) -> None:
    rows = [
        _row("1000x20", 3_860, "none", 1.2, 177),
        _row("10000x100", 223_265, "none", 1.4, 230),
        _row("1000x20", 3_577, "issue4", 1.6, 200),
        _row("10000x100", 208_347, "issue4", 4.3, 249),
        _row("100000x500", 11_197_320, "bare flow", 23.5, 2_018),
    ]
    saved = tmp_path / "rows.json"
    saved.write_text(json.dumps({"title": "test", "rows": rows}))
    png = tmp_path / "plot.png"
    done = _plot_only(saved, png)
    assert done.returncode == 0, done.stderr
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    # a drawn figure, not an empty file: matplotlib's 11 x 4.5 in at 100 dpi
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1100, 450)


def test_plot_only_without_a_plot_path_is_refused(tmp_path: Path) -> None:
    saved = tmp_path / "rows.json"
    saved.write_text(json.dumps({"rows": [_row("1000x20", 3_860, "none", 1.2, 177)]}))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--plot-only", str(saved)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 2
    assert "--plot-only needs --plot PATH" in done.stderr


def test_the_committed_plot_data_redraws(tmp_path: Path) -> None:
    """benchmarks/scaling.json (the figures of RESULTS.md section 2) draws scaling.png."""
    png = tmp_path / "scaling.png"
    done = _plot_only(ROOT / "benchmarks" / "scaling.json", png)
    assert done.returncode == 0, done.stderr
    assert png.read_bytes().startswith(PNG_SIGNATURE)
