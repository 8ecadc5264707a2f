"""Vectorized column parsers: text cells in, typed numpy arrays out, or an error naming the cell.

Each parser checks a whole column at once and, on the first bad cell, raises an
:class:`~leadassign.errors.InputError` with the file, the line or row, the id of the row and the
column, so a user can go straight to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadassign.errors import InputError
from leadassign.models.source import LIST_SEPARATOR, RawTable

#: Largest magnitude of any number read from a table (values, scores, weighted columns): well
#: inside float64's exact integers (2^53 ~ 9.007e15), so sums over a book stay finite and the
#: solvers' scaling (compile/scaling.py) keeps every total exact.
MAX_NUMBER = 1e15
#: Largest whole number of a count column (capacity, min_leads, effort, level): sums of a
#: million leads' efforts stay below 2^53, exact in HiGHS' floats and in CP-SAT's int64.
MAX_COUNT = 10**9
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


def split_list(cell: str) -> tuple[str, ...]:
    """Split a ';'-separated cell into its distinct, non-empty items, in order."""
    if cell == "":
        return ()
    items = (item.strip() for item in cell.split(LIST_SEPARATOR))
    return tuple(dict.fromkeys(item for item in items if item))


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


class ColumnReader:
    """Parses the columns of one raw table; errors name the row by its id columns."""

    def __init__(self, table: RawTable, id_columns: tuple[str, ...] = ()) -> None:
        self.table = table
        self.id_columns = tuple(c for c in id_columns if table.has(c))
        self._ids = {c: table.text(c) for c in self.id_columns}

    def __len__(self) -> int:
        return len(self.table)

    def has(self, column: str) -> bool:
        return self.table.has(column)

    def error(self, index: int, column: str | None, message: str) -> InputError:
        """The error for the cell at data position ``index`` of ``column``."""
        parts = [f"{c} {self._ids[c][index]}" for c in self.id_columns if self._ids[c][index]]
        return InputError(
            message,
            source=self.table.source.name,
            where=self.table.source.where(index),
            ident=", ".join(parts) or None,
            column=column,
        )

    def first_bad(self, mask: np.ndarray, column: str | None, message: str) -> None:
        """Raise for the first True in ``mask``; ``message`` may use ``{cell}``."""
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            cell = self.table.text(column)[i] if column and self.has(column) else ""
            raise self.error(i, column, message.format(cell=cell))

    def text(self, column: str, *, required: bool = False) -> np.ndarray:
        """A text column; '' where the cell is empty or the column is absent."""
        if not self.has(column):
            if required:
                self.table.require([column])
            return np.full(len(self), "", dtype=object)
        values = self.table.text(column)
        if required:
            self.first_bad(values == "", column, "is empty")
        return values

    def ids(self, column: str) -> np.ndarray:
        """The id column: required, non-empty and unique."""
        self.table.require([column])
        values = self.table.text(column)
        self.first_bad(values == "", column, "is empty: every row needs an id")
        duplicated = pd.Series(values).duplicated(keep="first").to_numpy()
        if duplicated.any():
            i = int(np.flatnonzero(duplicated)[0])
            first = int(np.flatnonzero(values == values[i])[0])
            raise self.error(
                i,
                column,
                f"duplicate id '{values[i]}' (first seen at {self.table.source.where(first)})",
            )
        return values

    def number(
        self,
        column: str,
        *,
        default: float | None,
        integer: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> np.ndarray:
        """A numeric column (float64, or int64 with ``integer``); empty cells take ``default``.

        ``default=None`` makes the column and every cell required. Words, NaN and infinities
        are refused, and so are magnitudes above ``MAX_NUMBER`` (``MAX_COUNT`` with
        ``integer``): beyond them numbers are not exact (2^53) or the solvers' sums overflow.
        """
        n = len(self)
        if not self.has(column):
            if default is None:
                self.table.require([column])
            fill = np.full(n, default, dtype=np.float64)
            return fill.astype(np.int64) if integer else fill
        cells = self.table.text(column)
        empty = cells == ""
        if default is None:
            self.first_bad(empty, column, "is empty")
        parsed = pd.to_numeric(
            pd.Series(np.where(empty, "0", cells), dtype=object), errors="coerce"
        ).to_numpy(dtype=np.float64, na_value=np.nan)
        self.first_bad(np.isnan(parsed), column, "'{cell}' is not a number")
        limit = MAX_COUNT if integer else MAX_NUMBER
        self.first_bad(
            ~(np.abs(parsed) <= limit),  # infinities too
            column,
            f"'{{cell}}' is too large: at most {int(limit):,} in absolute value (beyond, "
            "numbers are not exact and the solvers' sums overflow)",
        )
        if integer:
            self.first_bad(parsed != np.floor(parsed), column, "'{cell}' is not a whole number")
        if default is not None:
            parsed = np.where(empty, float(default), parsed)
        if minimum is not None:
            word = "negative" if minimum == 0 else f"below {_fmt(minimum)}"
            self.first_bad(
                parsed < minimum, column, f"'{{cell}}' is {word} (must be >= {_fmt(minimum)})"
            )
        if maximum is not None:
            self.first_bad(parsed > maximum, column, f"'{{cell}}' is above {_fmt(maximum)}")
        return parsed.astype(np.int64) if integer else parsed

    def boolean(self, column: str, *, default: bool) -> np.ndarray:
        """A yes/no column: true/false, yes/no, y/n, t/f, 1/0 (any case); empty: ``default``."""
        if not self.has(column):
            return np.full(len(self), default, dtype=bool)
        cells = pd.Series(self.table.text(column), dtype=object).str.lower().to_numpy(dtype=object)
        is_true = np.isin(cells, TRUE_WORDS)
        empty = cells == ""
        bad = ~(is_true | np.isin(cells, FALSE_WORDS) | empty)
        self.first_bad(bad, column, "'{cell}' is not true/false (or yes/no, 1/0)")
        return np.where(empty, default, is_true)

    def string_list(self, column: str, *, required: bool = False) -> np.ndarray:
        """A ';'-separated list column: an object array of tuples of distinct strings."""
        cells = self.text(column, required=required)
        cache: dict[str, tuple[str, ...]] = {}
        out = np.empty(len(cells), dtype=object)
        for i, cell in enumerate(cells):
            parsed = cache.get(cell)
            if parsed is None:
                parsed = cache[cell] = split_list(cell)
            out[i] = parsed
        if required:
            lengths = np.fromiter((len(t) for t in out), dtype=np.int64, count=len(out))
            self.first_bad(lengths == 0, column, "is empty")
        return out
