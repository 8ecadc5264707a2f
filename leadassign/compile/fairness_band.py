"""The fairness band's arithmetic over the pairs: each rep's bounds for given group totals,
the totals of a choice, and the band a choice must stay within (``Band``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadassign.compile.pairs import Fairness, Pairs


def band_bounds(fairness: Fairness, totals: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per rep: the least and the most of the metric that the band allows for the group
    totals (0 and the int64 maximum for reps in no group), exact in integers."""
    m = len(fairness.group)
    low = np.zeros(m, dtype=np.int64)
    high = np.full(m, np.iinfo(np.int64).max, dtype=np.int64)
    p, q = fairness.band.numerator, fairness.band.denominator
    for k, members in enumerate(fairness.groups()):
        total, weight = totals[k], int(fairness.weights[members].sum())
        w = [int(x) for x in fairness.weights[members].tolist()]  # Python ints: no overflow
        high[members] = [((q + p) * x * total) // (q * weight) for x in w]
        if p < q:
            low[members] = [-((-(q - p) * x * total) // (q * weight)) for x in w]
    return low, high


def rep_bounds(
    pairs: Pairs, fairness: Fairness, totals: dict[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per rep: the floor and the capacity that the band gives for the group totals."""
    lower, upper = band_bounds(fairness, totals)
    low = np.maximum(pairs.min_leads.astype(np.int64), lower)
    high = np.minimum(pairs.capacity.astype(np.int64), upper)
    return low, high


def group_totals(
    pairs: Pairs, fairness: Fairness, chosen: np.ndarray, metric: np.ndarray | None = None
) -> dict[int, int]:
    """Leads ``chosen`` gives each fairness group (by :meth:`Fairness.groups` index), or
    their summed ``metric`` (per pair) when given."""
    if metric is None:
        count = np.bincount(pairs.rep[chosen], minlength=len(pairs.capacity))
        return {k: int(count[members].sum()) for k, members in enumerate(fairness.groups())}
    reps, amounts = pairs.rep[chosen], metric[chosen].astype(np.int64)
    return {
        k: int(amounts[np.isin(reps, members)].sum()) for k, members in enumerate(fairness.groups())
    }


@dataclass(frozen=True, eq=False)
class Band:
    """Limits per rep on a per-pair metric that local moves must keep: a fairness band at
    fixed group totals (:func:`band_bounds`). Moves stay within a group, so totals hold."""

    metric: np.ndarray  # per pair
    low: np.ndarray  # per rep
    high: np.ndarray  # per rep
    group: np.ndarray  # per rep


def fairness_band(pairs: Pairs, fairness: Fairness, chosen: np.ndarray) -> Band:
    """The band of ``fairness`` at the group totals of ``chosen``."""
    low, high = band_bounds(fairness, group_totals(pairs, fairness, chosen, fairness.metric))
    return Band(fairness.metric.astype(np.int64), low, high, fairness.group)
