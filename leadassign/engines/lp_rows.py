"""The rows of the LP relaxation and of HiGHS' MIP, collected as sparse triplets."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

INF = float("inf")


@dataclass
class Rows:
    """Sparse rows ``lo <= sum(val * x[col]) <= hi``, added in blocks."""

    row: list[np.ndarray] = field(default_factory=list)
    col: list[np.ndarray] = field(default_factory=list)
    val: list[np.ndarray] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)

    def add(self, col: np.ndarray, val: np.ndarray, lo: float, hi: float) -> None:
        self.row.append(np.full(len(col), len(self.lo), dtype=np.int64))
        self.col.append(np.asarray(col, dtype=np.int64))
        self.val.append(np.asarray(val, dtype=np.float64))
        self.lo.append(lo)
        self.hi.append(hi)

    def add_grouped(
        self, key: np.ndarray, val: np.ndarray, lo: np.ndarray, hi: np.ndarray, keys: np.ndarray
    ) -> None:
        """One row per entry of ``keys``: the pairs whose ``key`` equals it (vectorized)."""
        first = len(self.lo)
        position = np.full(int(max(key.max(initial=-1), keys.max(initial=-1))) + 1, -1)
        position[keys] = np.arange(len(keys))
        mine = position[key] >= 0 if len(key) else np.zeros(0, dtype=bool)
        self.row.append(first + position[key[mine]])
        self.col.append(np.flatnonzero(mine))
        self.val.append(np.asarray(val, dtype=np.float64)[mine])
        self.lo.extend(np.asarray(lo, dtype=np.float64).tolist())
        self.hi.extend(np.asarray(hi, dtype=np.float64).tolist())

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        row, val = cat(self.row, np.int64), cat(self.val, np.float64)
        lo, hi = np.asarray(self.lo, dtype=np.float64), np.asarray(self.hi, dtype=np.float64)
        scale = self.scales()
        return row, cat(self.col, np.int64), val / scale[row], lo / scale, hi / scale

    def scales(self) -> np.ndarray:
        """Per row, the divisor :meth:`arrays` applies (its largest |coefficient|, at least
        1): each row divided by it is the same LP, better conditioned for the LP solver
        (fairness rows carry coefficients up to ~1e9). A scaled row's dual divided by it is
        the dual per unit of the row's own right-hand side (result/capacity.py)."""
        scale = np.ones(len(self.lo))
        if self.row:
            np.maximum.at(scale, np.concatenate(self.row), np.abs(np.concatenate(self.val)))
        return scale
