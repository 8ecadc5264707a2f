"""Writing a result to ``--out DIR`` (DESIGN §3), all files or none.

The files are staged in a folder beside ``DIR`` and swapped in whole, with a manifest of what
leadassign wrote (``leadassign.publish``): files of an earlier run that this run does not
produce (an ``assignments.csv`` left from last week when this run is INFEASIBLE) go with the
old contents, so a folder never mixes two runs, and a file leadassign did not write is never
removed. A run that fails while writing leaves the earlier files untouched.

Output bytes are deterministic: the same result gives the same files, except the timing
fields of ``summary.json`` (``build_s``, ``solve_s``).
"""

from __future__ import annotations

import functools
import json
import math
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from leadassign.errors import InputError
from leadassign.publish import write_folder
from leadassign.result import Result

ASSIGNMENTS = "assignments.csv"
REPS = "reps.csv"
SUMMARY = "summary.json"
MATRIX = "matrix.csv"
#: Every file a run may write; the ones a run does not write are removed from ``--out``.
VANISHED = "vanished.csv"
KNOWN_FILES = (ASSIGNMENTS, REPS, SUMMARY, MATRIX, VANISHED)
#: ``--matrix`` is for small problems: at most this many lead x rep cells.
MATRIX_CELL_LIMIT = 20_000_000


def check_matrix_size(n_leads: int, n_reps: int) -> None:
    """Refuse ``--matrix`` before solving when the dense matrix would be unreasonably big."""
    cells = n_leads * n_reps
    if cells > MATRIX_CELL_LIMIT:
        raise InputError(
            f"--matrix writes a dense lead x rep table, meant for small problems: "
            f"{n_leads:,} leads x {n_reps:,} reps = {cells:,} cells is above the limit of "
            f"{MATRIX_CELL_LIMIT:,}; drop --matrix (assignments.csv holds the same answer)"
        )


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def summary_json(summary: dict[str, Any]) -> str:
    return json.dumps(_clean(summary), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


#: A text cell a spreadsheet would run as a formula (or that hides one behind a tab or a
#: carriage return), after OWASP's CSV injection guidance.
_ACTIVE = re.compile(r"[=+\-@\t\r]")
#: ... unless it is a plain number: ``-3``, ``+1.5``, ``-1e-3`` stay numbers.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
#: ``_ACTIVE`` at a cell's start, for Arrow's regex kernel (RE2: the same character class).
_ACTIVE_START = "^" + _ACTIVE.pattern


def _as_text(cells: pd.Series | pd.Index) -> pa.Array | None:
    """``cells`` as an Arrow string array (nulls for None and NaN) when every cell is text
    or missing, for Arrow's string kernels (a call per column instead of one per cell);
    None for any other column (numbers, bytes, text mixed with other objects), which takes
    pandas' string methods."""
    try:
        text = pa.array(np.asarray(cells, dtype=object), from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if pa.types.is_null(text.type):
        return text.cast(pa.string())
    return text if pa.types.is_string(text.type) else None


def formula_cells(cells: pd.Series | pd.Index) -> np.ndarray:
    """Which cells are text a spreadsheet would run: beginning with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return, and not a plain number."""
    if not (pd.api.types.is_object_dtype(cells) or pd.api.types.is_string_dtype(cells)):
        return np.zeros(len(cells), dtype=bool)
    arrow = _as_text(cells)
    if arrow is not None:
        found = pc.match_substring_regex(arrow, _ACTIVE_START).fill_null(False)
        active = np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
    else:
        try:
            text = cells.str
        except AttributeError:  # an object column without any text (integers, say)
            return np.zeros(len(cells), dtype=bool)
        active = np.array(text.match(_ACTIVE, na=False), dtype=bool)
    if active.any():  # the number test only where it matters (half the time at 100k rows)
        where = np.flatnonzero(active)
        some = cells[where] if isinstance(cells, pd.Index) else cells.iloc[where]
        active[where[np.asarray(some.str.fullmatch(_NUMBER, na=False), dtype=bool)]] = False
    return active


def inert(cells: pd.Series | pd.Index) -> pd.Series | pd.Index:
    """The text cells that begin with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return, and are not plain numbers, with a leading ``'`` so that a spreadsheet shows them
    as text instead of running them; every other cell, and numeric columns, as they are.
    Vectorised (pandas' string methods), for a 200,000-lead book."""
    active = formula_cells(cells)
    if not active.any():
        return cells
    if isinstance(cells, pd.Index):
        return pd.Index(np.where(active, "'" + cells.astype(str), cells.to_numpy(dtype=object)))
    return cells.mask(active, "'" + cells.astype(str))


def inert_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as every CSV leadassign writes it: :func:`inert` applied to its text
    columns and its header."""
    columns = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    header = inert(pd.Index([str(c) for c in frame.columns], dtype=object))
    safe = frame.copy(deep=False)
    for column in columns:
        safe[column] = inert(frame[column])
    safe.columns = header
    return safe


def _quoting(frame: pd.DataFrame) -> Literal[0, 2]:
    """Python's csv module quotes a cell holding a carriage return only when it is part of
    the line terminator ('\n' here): a table with one then quotes every text cell, so that
    the file keeps one record per row."""
    cells = [frame.columns.to_series().astype(str)]
    cells += [frame[c] for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    for column in cells:
        arrow = _as_text(column)
        if arrow is not None:
            if pc.any(pc.match_substring(arrow, "\r")).as_py():
                return 2  # csv.QUOTE_NONNUMERIC
            continue
        try:
            found = column.str.contains("\r", regex=False, na=False)
        except AttributeError:  # an object column without any text
            continue
        if bool(found.any()):
            return 2
    return 0  # csv.QUOTE_MINIMAL


def csv_text(frame: pd.DataFrame) -> str:
    """A table as CSV text, as :func:`write_csv` writes it (formula cells made inert)."""
    safe = inert_frame(frame)
    text: str = safe.to_csv(index=False, lineterminator="\n", quoting=_quoting(safe))
    return text


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # floats: shortest round-trip; text cells that a spreadsheet would run, made inert
    safe = inert_frame(frame)
    safe.to_csv(path, index=False, lineterminator="\n", quoting=_quoting(safe))


def _write_text(text: str, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A table as CSV: no index, '\n' line ends, floats in shortest round-trip form."""
    _write_csv(frame, path)


def _write_matrix(result: Result, path: Path) -> None:
    problem = result.problem
    rep = result.rep_of_lead
    ids = inert(pd.Series(problem.reps.ids, dtype=object)).tolist()
    all_leads = inert(pd.Series(problem.leads.ids, dtype=object)).to_numpy(dtype=object)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(",".join(["lead_id", *(_csv_cell(i) for i in ids)]) + "\n")
        chunk = 4096
        for start in range(0, problem.n_leads, chunk):
            block_rep = rep[start : start + chunk]
            block = np.zeros((len(block_rep), problem.n_reps), dtype=np.int8)
            rows = np.flatnonzero(block_rep >= 0)
            block[rows, block_rep[rows]] = 1
            lead_ids = all_leads[start : start + chunk]
            digits = np.where(block == 1, "1", "0")
            lines = [
                _csv_cell(str(lead)) + ("," + ",".join(row) if problem.n_reps else "")
                for lead, row in zip(lead_ids.tolist(), digits.tolist(), strict=True)
            ]
            handle.write("\n".join(lines) + ("\n" if lines else ""))


def _csv_cell(text: str) -> str:
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def result_writers(
    result: Result, *, matrix: bool = False, extra: dict[str, pd.DataFrame] | None = None
) -> dict[str, Callable[[Path], None]]:
    """The result's files, by name, each with the function that writes it (see
    ``write_result``)."""
    if matrix:
        check_matrix_size(result.problem.n_leads, result.problem.n_reps)
    writers: dict[str, Callable[[Path], None]] = {}
    if result.has_solution:
        writers[ASSIGNMENTS] = lambda p: _write_csv(result.assignments_file, p)
        writers[REPS] = lambda p: _write_csv(result.rep_file, p)
        if matrix:
            writers[MATRIX] = lambda p: _write_matrix(result, p)
    for name, frame in (extra or {}).items():
        writers[name] = functools.partial(_write_csv, frame)
    writers[SUMMARY] = lambda p: _write_text(summary_json(result.summary()), p)
    return writers


def write_result(
    result: Result,
    out_dir: str | Path,
    *,
    matrix: bool = False,
    extra: dict[str, pd.DataFrame] | None = None,
    force: bool = False,
    inputs: Iterable[Path | str | None] = (),
    command: str = "write_result",
) -> list[Path]:
    """Write the result's files into ``out_dir`` (created if needed); returns their paths.

    With a solution: ``assignments.csv``, ``reps.csv``, ``summary.json`` and, with ``matrix``,
    ``matrix.csv``. Without one (INFEASIBLE, UNKNOWN, MODEL_INVALID): ``summary.json`` only.
    ``extra``: more tables (name -> frame, such as a rebalance's ``vanished.csv``), written
    with the rest. The folder's rules (its manifest, ``force``, ``inputs`` never written
    over) are ``leadassign.publish``'s.
    """
    writers = result_writers(result, matrix=matrix, extra=extra)
    return write_files(Path(out_dir), writers, force=force, inputs=inputs, command=command)


#: A run's output files as bytes, by name, in the order they are written.
Files = tuple[tuple[str, bytes], ...]


def result_files(
    result: Result, *, matrix: bool = False, extra: dict[str, pd.DataFrame] | None = None
) -> Files:
    """``write_result``'s files as bytes (rendered in a temporary folder), to record or to
    hand from a worker process to the one that writes them."""
    writers = result_writers(result, matrix=matrix, extra=extra)
    with tempfile.TemporaryDirectory(prefix="leadassign-run-") as folder:
        files = []
        for name, write in writers.items():
            path = Path(folder) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
            files.append((name, path.read_bytes()))
        return tuple(files)


def bytes_writers(files: Files) -> dict[str, Callable[[Path], None]]:
    """``files`` (``result_files``) as writers."""

    def writer(data: bytes) -> Callable[[Path], None]:
        def write(path: Path) -> None:
            path.write_bytes(data)

        return write

    return {name: writer(data) for name, data in files}


def write_bytes(
    out: Path,
    files: Files,
    *,
    force: bool = False,
    inputs: Iterable[Path | str | None] = (),
    command: str = "write_result",
) -> list[Path]:
    """``files`` (``result_files``) into ``out``, as ``write_files`` writes."""
    return write_files(out, bytes_writers(files), force=force, inputs=inputs, command=command)


def write_files(
    out: Path,
    writers: dict[str, Callable[[Path], None]],
    *,
    force: bool = False,
    inputs: Iterable[Path | str | None] = (),
    command: str = "write_result",
) -> list[Path]:
    """The named files (relative paths) as the whole new contents of ``out``, with its
    manifest: staged beside it, then swapped in (``leadassign.publish.write_folder``). Files
    of an earlier run that this write does not produce are gone with it; files leadassign
    did not write are refused (kept with ``force``)."""
    return write_folder(out, writers, command=command, force=force, inputs=inputs)


__all__ = [
    "KNOWN_FILES",
    "Files",
    "bytes_writers",
    "check_matrix_size",
    "csv_text",
    "formula_cells",
    "inert",
    "inert_frame",
    "result_files",
    "result_writers",
    "summary_json",
    "write_bytes",
    "write_files",
    "write_result",
]
