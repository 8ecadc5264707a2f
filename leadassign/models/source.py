"""Reading tables (CSV, Parquet or a DataFrame) into text columns that the parsers check.

Every table is first turned into a DataFrame of strings, whatever it came from, so there is one
set of column parsers and one way of naming the place of an error: ``line N`` for a CSV file
(the header is line 1, as in a spreadsheet or an editor), ``row N`` (1-based) otherwise.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from leadassign.errors import InputError

TableInput = str | Path | pd.DataFrame
LIST_SEPARATOR = ";"


@dataclass(frozen=True, slots=True)
class TableSource:
    """Where a table came from, to name the place of an error."""

    name: str
    kind: Literal["csv", "parquet", "frame"]
    path: Path | None = None
    #: CSV only: the separator, and whether an Excel ``sep=`` line comes before the header
    delimiter: str = ","
    sep_line: bool = False

    def where(self, index: int) -> str:
        """The human name of the row at 0-based data position ``index``."""
        if self.kind == "csv":
            line = _csv_line(self, index) if self.path is not None else None
            skipped = 1 if self.sep_line else 0
            return f"line {line if line is not None else index + 2 + skipped}"
        return f"row {index + 1}"


def _csv_line(source: TableSource, index: int) -> int | None:
    """The file line on which data record ``index`` starts, counting blank lines (which the
    reader skips) and newlines inside quoted cells. Only computed for an error message."""
    assert source.path is not None
    try:
        with source.path.open(encoding="utf-8-sig", newline="") as handle:
            skipped = 0
            if source.sep_line:
                handle.readline()
                skipped = 1
            reader = csv.reader(handle, delimiter=source.delimiter)
            record = -1  # the header is record -1
            end_of_previous = skipped
            for row in reader:
                start, end_of_previous = end_of_previous + 1, reader.line_num + skipped
                if not row or (len(row) == 1 and row[0].strip() == ""):
                    continue  # a blank line, skipped by the reader as well
                if record == index:
                    return start
                record += 1
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


@dataclass(frozen=True, slots=True)
class RawTable:
    """A table as text: every cell a stripped ``str`` ('' when empty), plus its digest."""

    source: TableSource
    frame: pd.DataFrame
    digest: str

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    def has(self, column: str) -> bool:
        return column in self.frame.columns

    def text(self, column: str) -> np.ndarray:
        """The column as an object array of stripped strings."""
        return np.asarray(self.frame[column].to_numpy(dtype=object), dtype=object)

    def require(self, columns: Iterable[str]) -> None:
        missing = [c for c in columns if c not in self.frame.columns]
        if missing:
            names = ", ".join(f"'{c}'" for c in missing)
            have = ", ".join(self.columns) or "none"
            raise InputError(
                f"missing required column {names} (columns found: {have})",
                source=self.source.name,
            )


def _cell_text(value: object) -> str:
    """One Parquet/DataFrame cell as text, with lists joined by ';' and nulls as ''."""
    if value is None:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return LIST_SEPARATOR.join(_cell_text(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value)


def _frame_to_text(frame: pd.DataFrame) -> pd.DataFrame:
    out: dict[str, np.ndarray] = {}
    for column in frame.columns:
        series = frame[column]
        values = series.to_numpy(dtype=object)
        if pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
            if all(type(v) is str for v in values):
                # text already (a table read as text, such as a scenario's variant): the same
                # cells without a call per cell
                text = np.array([v.strip() for v in values], dtype=object)
            else:
                text = np.array([_cell_text(v).strip() for v in values], dtype=object)
        else:
            text = np.array([_cell_text(v) for v in values], dtype=object)
        out[str(column)] = text
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)), dtype=object)


def _check_header(columns: list[str], source: TableSource) -> None:
    seen: set[str] = set()
    for position, name in enumerate(columns, start=1):
        if name == "":
            raise InputError(f"column {position} of the header has no name", source=source.name)
        if name in seen:
            raise InputError(f"column '{name}' appears twice in the header", source=source.name)
        seen.add(name)


#: What to tell a user whose CSV is not UTF-8.
SAVE_AS_UTF8 = "save it as UTF-8 (in Excel: Save As, 'CSV UTF-8 (Comma delimited)')"
SEP_LINE = re.compile(rb"(?i)sep=([^\r\n]*)\r?\n")


def _not_utf8(head: bytes, source: TableSource) -> None:
    """Refuse UTF-16/UTF-32 text (by its byte-order mark or its pattern of NUL bytes) and
    other binary data, naming what the file is."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise InputError(f"the file is UTF-32 text, not UTF-8; {SAVE_AS_UTF8}", source=source.name)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"the file is UTF-16 text, not UTF-8; {SAVE_AS_UTF8}", source=source.name)
    if b"\x00" not in head:
        return
    # UTF-16 without a byte-order mark: ASCII text has a NUL in every other byte
    even, odd = head[0::2], head[1::2]
    for nuls, other in ((even, odd), (odd, even)):
        if len(nuls) and nuls.count(0) >= 0.9 * len(nuls) and other.count(0) == 0:
            raise InputError(
                f"the file is UTF-16 text (no byte-order mark), not UTF-8; {SAVE_AS_UTF8}",
                source=source.name,
            )
    raise InputError("not a CSV text file (it holds binary data)", source=source.name)


def _undecodable(path: Path, source: TableSource) -> InputError:
    """The error for a file that is not UTF-8: where, and which encoding it looks like."""
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        try:
            data.decode("cp1252")
            kind = "Latin-1 / Windows-1252 (cp1252) text"
        except UnicodeDecodeError:
            kind = "Latin-1 (ISO-8859-1) text"
        return InputError(
            f"the file is not UTF-8: it looks like {kind} (byte 0x{byte:02X} on line {line}); "
            f"{SAVE_AS_UTF8}",
            source=source.name,
        )
    return InputError("not a UTF-8 CSV text file", source=source.name)


def _separator(head: bytes, source: TableSource) -> TableSource:
    """The source with the separator of an Excel ``sep=X`` first line, when there is one."""
    found = SEP_LINE.match(head.removeprefix(b"\xef\xbb\xbf"))
    if found is None:
        return source
    sep = found.group(1).decode("utf-8", errors="replace")
    if len(sep) != 1 or sep in "\"'" or sep.isalnum() or (sep.isspace() and sep != "\t"):
        raise InputError(
            f"line 1 'sep={sep}': an Excel separator line names one separator character, "
            "such as sep=, or sep=;",
            source=source.name,
        )
    return dataclasses.replace(source, delimiter=sep, sep_line=True)


def _read_csv(path: Path, source: TableSource) -> tuple[pd.DataFrame, TableSource]:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise InputError(
            f"cannot read the file: {exc.strerror or exc}", source=source.name
        ) from exc
    _not_utf8(head, source)
    source = _separator(head, source)
    try:
        raw = pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding="utf-8-sig",
            skip_blank_lines=True,
            sep=source.delimiter,
            skiprows=1 if source.sep_line else 0,
        )
    except pd.errors.EmptyDataError as exc:
        raise InputError(
            "the file is empty: a header line is required", source=source.name
        ) from exc
    except UnicodeDecodeError as exc:
        raise _undecodable(path, source) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise InputError(f"not a readable CSV table: {detail}", source=source.name) from exc
    header = [str(h).strip() for h in raw.iloc[0].tolist()]
    if len(header) == 1 and not source.sep_line:
        for other in (";", "\t", "|"):
            if other in header[0]:
                shown = "tab" if other == "\t" else f"'{other}'"
                raise InputError(
                    f"the header has one column, '{header[0][:80]}': the file seems separated "
                    f"by {shown}, not ','; save it with commas, or make its first line "
                    f"sep={other} (as Excel does)",
                    source=source.name,
                )
    _check_header(header, source)
    body = raw.iloc[1:].reset_index(drop=True)
    body.columns = pd.Index(header)
    out = {
        name: np.array(body[name].fillna("").str.strip().tolist(), dtype=object) for name in header
    }
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(body)), columns=header, dtype=object)
    return frame, source


def _read_parquet(path: Path, source: TableSource) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", source=source.name) from exc
    header = [str(c).strip() for c in table.column_names]
    _check_header(header, source)
    frame = table.to_pandas()
    frame.columns = header
    return _frame_to_text(frame)


def _digest_frame(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return hashlib.sha256(buffer.getvalue().encode("utf-8")).hexdigest()


def read_table(data: TableInput, label: str) -> RawTable:
    """Read a table from a path (``.csv`` or ``.parquet``) or a DataFrame, as text.

    ``label`` names the table in messages when it is a DataFrame ("leads", "reps", ...).
    """
    if isinstance(data, pd.DataFrame):
        source = TableSource(f"{label} (DataFrame)", "frame")
        frame = data.reset_index(drop=True)
        header = [str(c).strip() for c in frame.columns]
        _check_header(header, source)
        frame.columns = pd.Index(header)
        text = _frame_to_text(frame)
        return RawTable(source, text, _digest_frame(text))
    path = Path(data)
    suffix = path.suffix.lower()
    kind: Literal["csv", "parquet"]
    if suffix == ".csv":
        kind = "csv"
    elif suffix in (".parquet", ".pq"):
        kind = "parquet"
    else:
        raise InputError(
            f"unsupported file type '{path.suffix or '(none)'}': use .csv or .parquet",
            source=str(path),
        )
    source = TableSource(str(path), kind, path)
    try:
        path.stat()
    except FileNotFoundError:
        raise InputError("file not found", source=source.name) from None
    except OSError as exc:  # a symlink loop, a path through a file, no permission
        raise InputError(f"cannot read: {exc.strerror or exc}", source=source.name) from None
    if not path.is_file():
        raise InputError("not a file", source=source.name)
    if kind == "csv":
        frame, source = _read_csv(path, source)
    else:
        frame = _read_parquet(path, source)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return RawTable(source, frame, digest)
