"""The floors family: each available rep gets at least ``min_leads`` leads. Its data is one
array per rep (:func:`floors`, carried in ``Pairs.min_leads``), its CP-SAT constraint
:func:`add_min_leads`; the flows, the LP and the checker read ``Pairs.min_leads``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from leadassign.compile.pairs import INT_MAX, Pairs
from leadassign.engines.cpsat_proto import Guards, add_linear, guard_literal, segments
from leadassign.models.problem import Problem


def floors(problem: Problem) -> np.ndarray:
    """min_leads per rep; reps on leave get nothing, so they have no floor."""
    return np.where(problem.reps.available, problem.reps.min_leads, 0).astype(np.int64)


def add_min_leads(proto: Any, pairs: Pairs, by_rep: np.ndarray, guards: Guards = None) -> None:
    """Each available rep gets at least ``min_leads`` leads."""
    rep_sorted = pairs.rep[by_rep]
    starts, ends = segments(rep_sorted)
    present = np.zeros(len(pairs.min_leads), dtype=bool)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        j = int(rep_sorted[start])
        present[j] = True
        floor = int(pairs.min_leads[j])
        if floor > 0:
            members = by_rep[start:end]
            add_linear(
                proto,
                members.tolist(),
                pairs.size[members].tolist(),
                floor,
                INT_MAX,
                guard_literal(guards, j),
            )
    for j in np.flatnonzero((pairs.min_leads > 0) & ~present).tolist():
        add_linear(proto, [], [], 1, 1, guard_literal(guards, j))  # a floor with no candidate
