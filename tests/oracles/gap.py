"""OR-Library's gapd.txt problem 1 (a generalized assignment problem with a proven optimum)
as solver pairs, for the engines' tests against a known answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from leadassign.compile.pairs import Pairs
from tests.helpers import every_pair

#: OR-Library gapd.txt problem 1 (5 agents x 100 jobs, minimize cost), copied unchanged from
#: ../shared/data/gap; its optimum, 6353, is proven (best_known.csv there).
GAP_D05100 = Path(__file__).parent.parent / "data" / "gap_d05100.txt"
D05100_OPTIMUM = 6353


def gap_d05100_pairs() -> Pairs:
    """GAP_D05100 as solver pairs: jobs as units (sorted), agents as reps, value = -cost."""
    tokens = [int(t) for t in GAP_D05100.read_text().split()]
    m, n = tokens[0], tokens[1]
    cost = np.array(tokens[2 : 2 + m * n]).reshape(m, n)
    resource = np.array(tokens[2 + m * n : 2 + 2 * m * n]).reshape(m, n)
    capacity = tokens[2 + 2 * m * n :]
    return every_pair(n, capacity, -cost.T.ravel(), resource.T.ravel())
