"""Whether one more pair keeps a hard fairness band, checked for that pair's group only.

``SideRules.feasible`` recomputes every rep's metric over all pairs (about 12 ms at
10,000 x 200): the fill after a ceiling draft, which asks it for each unit it tries, spent
25 s of a 60 s limit there on a value band and was cut before it finished at 50,000 x 300.
:class:`BandRoom` keeps each rep's metric and each group's total and answers the same
question for one added pair from the group's reps alone, in the band's exact integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadassign.compile.families import Fairness
from leadassign.compile.pairs import Pairs

#: The band's products must stay below this for int64 arithmetic to be exact.
_SAFE = 2**62


@dataclass(eq=False)
class BandRoom:
    """Each rep's metric (``held``) and each group's total under a hard band, for a choice
    that meets it; :meth:`fits` says whether adding one pair keeps the band, :meth:`add`
    adds it. Build with :meth:`of` (None when the products could overflow int64)."""

    fairness: Fairness
    held: np.ndarray  # per rep: its metric, int64
    members: dict[int, np.ndarray]  # group id -> its reps (groups with a positive weight)
    total: dict[int, int]  # group id -> its reps' metric

    @classmethod
    def of(cls, pairs: Pairs, fairness: Fairness, chosen: np.ndarray) -> BandRoom | None:
        m = len(fairness.group)
        metric = fairness.metric.astype(np.int64)
        held = np.zeros(m, dtype=np.int64)
        np.add.at(held, pairs.rep[chosen], metric[chosen])
        members = {int(fairness.group[g[0]]): g for g in fairness.groups()}
        total = {g: int(held[reps].sum()) for g, reps in members.items()}
        p, q = fairness.band.numerator, fairness.band.denominator
        largest = int(np.abs(metric).sum()) + int(np.abs(held).sum())
        weight = int(np.abs(fairness.weights).sum())
        if (q + p) * max(weight, 1) * max(largest, 1) >= _SAFE:
            return None
        return cls(fairness, held, members, total)

    def fits(self, rep: int, amount: int) -> bool:
        """Does adding ``amount`` of the metric to ``rep`` keep every rep of its group
        within the band (``Fairness``: ``(q-p) w_j M <= q W m_j <= (q+p) w_j M``)?"""
        g = int(self.fairness.group[rep])
        reps = self.members.get(g)
        if reps is None:
            return True  # in no group: the band does not look at it
        fair = self.fairness
        p, q = fair.band.numerator, fair.band.denominator
        weights = fair.weights[reps].astype(np.int64)
        big_w = int(weights.sum())
        big_m = self.total[g] + amount
        held = self.held[reps] + np.where(reps == rep, amount, 0)
        scaled = q * big_w * held
        upper = (q + p) * weights * big_m
        lower = (q - p) * weights * big_m
        return bool(np.all(scaled <= upper) and np.all(scaled >= lower))

    def add(self, rep: int, amount: int) -> None:
        self.held[rep] += amount
        g = int(self.fairness.group[rep])
        if g in self.total:
            self.total[g] += amount


__all__ = ["BandRoom"]
