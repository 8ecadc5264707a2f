"""Writing CP-SAT's model proto from numpy index arrays: variables, linear constraints
(optionally guarded by an enforcement literal), and the runs of equal keys they are
written over (one call per lead or per rep, never per pair).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def segments(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each run of equal ``keys`` (keys sorted)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cuts = np.flatnonzero(np.diff(keys)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(keys)]])
    return starts, ends


def add_linear(
    proto: Any,
    variables: list[int],
    coeffs: list[int],
    lower: int,
    upper: int,
    enforce: int | None = None,
) -> None:
    constraint = proto.constraints.add()
    if enforce is not None:
        constraint.enforcement_literal.append(enforce)
    linear = constraint.linear
    linear.vars.extend(variables)
    linear.coeffs.extend(coeffs)
    linear.domain.extend([lower, upper])


#: Per-rep enforcement literals (or None): an explanation model guards each rule instance.
Guards = np.ndarray | None


def guard_literal(guards: Guards, j: int) -> int | None:
    return None if guards is None else int(guards[j])


def add_variables(proto: Any, count: int) -> None:
    """One Boolean per pair, created by one C++ parse rather than a Python call per pair."""
    if count:
        proto.merge_text_format("variables{domain:[0,1]}" * count)


def new_int(proto: Any, lower: int, upper: int) -> int:
    """An integer variable; returns its index."""
    proto.variables.add().domain.extend([lower, upper])
    return len(proto.variables) - 1


#: Auxiliary variables with how to compute each from a choice of pairs (to complete hints).
Aux = list[tuple[int, Callable[[np.ndarray], int]]]
