"""The fairness draft: owners first where a churn limit asks (``owners_start``), then
leads dealt out so each rep's share follows its capacity (``balanced_draft``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from leadassign.compile.candidates import lead_starts
from leadassign.compile.families import Continuity, Fairness
from leadassign.compile.pairs import Pairs
from leadassign.compile.prepare import fits_in_order
from leadassign.control.budget import out_of_time
from leadassign.heuristics.repair import room_left


def owners_start(pairs: Pairs, continuity: Continuity, enough: int | None = None) -> np.ndarray:
    """Each unit with owned leads at the rep that keeps most of them, as far as capacities
    allow (per rep, the units keeping most first); with ``enough``, only the units keeping
    most (then of most value) until they keep that many leads. Seeding a draft with every
    owner filled reps that later units needed: at 10,000 x 200 with accounts and a churn
    limit the draft then placed 8,965 leads, and 9,077 seeded with just enough."""
    kept = continuity.kept
    owned = np.flatnonzero(kept > 0)
    order = owned[np.lexsort((-kept[owned], pairs.unit[owned]))]
    best = order[lead_starts(pairs.unit[order])]
    best = best[np.lexsort((best, -kept[best], pairs.rep[best]))]
    fitting = best[fits_in_order(pairs.rep[best], pairs.effort[best], pairs.capacity)]
    if enough is not None:
        fitting = fitting[np.lexsort((fitting, -pairs.units[fitting], -kept[fitting]))]
        fitting = fitting[: int(np.searchsorted(np.cumsum(kept[fitting]), enough)) + 1]
    chosen = np.zeros(len(pairs), dtype=bool)
    chosen[fitting] = True
    return chosen


#: balanced_draft: a unit goes to the most desirable of its reps whose fill is within this
#: fraction of the least filled one's (0: always the rep furthest behind).
DRAFT_SPREAD = 0.1
#: balanced_draft looks at the clock every this many units (about 20 ms at 50,000 x 300).
CLOCK_EVERY = 256


def balanced_draft(
    pairs: Pairs,
    fairness: Fairness,
    desirability: np.ndarray,
    start: np.ndarray | None = None,
    ceiling: np.ndarray | None = None,
    time_left: Callable[[], float] | None = None,
) -> np.ndarray:
    """A start that meets a fairness band by construction, where no flow bounds the metric (a
    value metric, or units bigger than one lead): like a draft in which the rep furthest
    behind picks next. Units go in descending order of their metric, each to the most
    desirable of its reps with room whose fill (metric held per unit of share weight) is
    within ``DRAFT_SPREAD`` of the least filled of them in the same group; the last and
    smallest units even the totals out. On a 10,000 x 200 book with a value band of 0.3,
    which CP-SAT found no solution for in 120 s, it meets the band with every lead the
    relaxation assigns. Keeps capacity (in effort) and one rep per unit; floors and other
    rules are not looked at, so callers check the result. ``start``: pairs chosen before the
    draft (one rep per unit, within capacity), such as owners kept; the draft places the
    other units. ``ceiling`` (per rep, in the metric): a unit goes to a rep it would take
    above its ceiling only when all of its reps with room would be. ``time_left``: the draft
    stops when it reaches 0 (looked at every ``CLOCK_EVERY`` units; the cut is recorded on
    the active meter) and returns the units placed so far (at 50,000 x 300 a draft is a
    Python loop of about 10 s)."""
    chosen = np.zeros(len(pairs), dtype=bool) if start is None else start.copy()
    if not len(pairs):
        return chosen
    m = len(pairs.capacity)
    starts = lead_starts(pairs.unit)
    ends = np.append(starts[1:], len(pairs))
    metric = fairness.metric.astype(np.float64)
    weight = np.maximum(fairness.weights.astype(np.float64), 1.0)
    held = np.bincount(pairs.rep[chosen], weights=metric[chosen], minlength=m)
    room = room_left(pairs, chosen)
    placed = np.zeros(int(pairs.unit.max()) + 1, dtype=bool)
    placed[pairs.unit[chosen]] = True
    count = np.bincount(pairs.rep[chosen], weights=pairs.size[chosen], minlength=m)
    # a small unit's metric: what each lead a rep still needs for its floor is set aside
    small = float(np.quantile(metric[starts], 0.25))
    for visit, k in enumerate(np.argsort(-metric[starts], kind="stable").tolist()):
        if visit % CLOCK_EVERY == 0 and out_of_time(time_left, 0.0):
            break
        if placed[pairs.unit[starts[k]]]:
            continue
        mine = np.arange(starts[k], ends[k])
        mine = mine[pairs.effort[mine] <= room[pairs.rep[mine]]]
        if not len(mine):
            continue
        if ceiling is not None:
            r = pairs.rep[mine]
            floor_need = np.maximum(pairs.min_leads[r] - count[r] - 1, 0) * small
            below = held[r] + metric[mine] + floor_need <= ceiling[r]
            mine = mine[below]
            if not len(mine):
                continue
        reps = pairs.rep[mine]
        fill = held[reps] / weight[reps]
        groups = fairness.group[reps]
        if groups.min() == groups.max():
            least = np.full(len(mine), fill.min())
        else:  # the least fill among the unit's reps of the same group, per rep
            lowest = np.full(int(groups.max()) + 2, np.inf)  # slot 0: reps in no group (-1)
            np.minimum.at(lowest, groups + 1, fill)
            least = lowest[groups + 1]
        close = mine[fill <= least * (1 + DRAFT_SPREAD)]
        pick = int(close[np.argmax(desirability[close])])
        chosen[pick] = True
        room[pairs.rep[pick]] -= int(pairs.effort[pick])
        held[pairs.rep[pick]] += metric[pick]
        count[pairs.rep[pick]] += pairs.size[pick]
    return chosen
