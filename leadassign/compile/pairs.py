"""The solver-neutral problem every engine takes: the eligible pairs as index arrays
(:class:`Pairs`) and one small spec per side rule (:class:`Fairness`, :class:`Continuity`,
together :class:`SideRules`), each with its own checker (``excess``, ``feasible``, ``score``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True, eq=False)
class Pairs:
    """The usable pairs handed to a solver: index arrays sorted by unit, then rep.

    A *unit* is what one variable assigns: a lead, or all leads of an account kept together
    (``size`` leads, ``effort`` their summed effort, ``units`` their summed value units).
    """

    unit: np.ndarray
    rep: np.ndarray
    effort: np.ndarray
    units: np.ndarray  # scaled integer value of each pair (the value score's units)
    capacity: np.ndarray  # per rep, in effort units
    min_leads: np.ndarray  # per rep (0 for reps on leave)
    size: np.ndarray  # leads per pair (1 unless accounts are kept together)

    def __len__(self) -> int:
        return len(self.unit)


@dataclass(frozen=True, eq=False)
class Fairness:
    """The fairness band in integers: for rep j of group g, with C = the group's capacity,
    ``(q-p) * cap_j * M_g <= q * C * m_j <= (q+p) * cap_j * M_g`` where band = p/q."""

    group: np.ndarray  # per rep: group index, -1 when in no group (on leave)
    metric: np.ndarray  # per pair: what it adds to its rep's m_j (leads, or value units)
    band: Fraction
    weights: np.ndarray  # per rep: share weight (capacity)
    penalty: int | None = None  # soft: objective units lost per unit of excess; None = hard

    def groups(self) -> list[np.ndarray]:
        """Reps of each group with a positive total weight, in group order."""
        out = []
        for g in np.unique(self.group[self.group >= 0]).tolist():
            members = np.flatnonzero(self.group == g)
            if int(self.weights[members].sum()) > 0:
                out.append(members)
        return out

    def excess(self, pairs: Pairs, chosen: np.ndarray) -> int:
        """The largest excess outside the band, rounded up to whole metric units."""
        m = np.bincount(
            pairs.rep[chosen], weights=self.metric[chosen], minlength=len(self.group)
        ).astype(np.int64)
        p, q = self.band.numerator, self.band.denominator
        worst = 0
        for members in self.groups():
            total_weight = int(self.weights[members].sum())
            big_m = int(m[members].sum())
            for j in members.tolist():
                scaled = q * total_weight * int(m[j])
                upper = (q + p) * int(self.weights[j]) * big_m
                lower = (q - p) * int(self.weights[j]) * big_m
                over = max(scaled - upper, lower - scaled, 0)
                worst = max(worst, -(-over // (q * total_weight)))
        return worst


@dataclass(frozen=True, eq=False)
class Continuity:
    """Owned leads kept by their owners: ``sum(kept * x) + changes_allowed >= keepable``."""

    kept: np.ndarray  # per pair: owned (non-forced) leads it keeps with their owner
    keepable: int  # owned leads that are not forced moves
    limit: int  # changes allowed
    penalty: int | None = None  # soft: objective units lost per change above the limit

    def excess(self, pairs: Pairs, chosen: np.ndarray) -> int:
        changes = self.keepable - int(self.kept[chosen].sum())
        return max(changes - self.limit, 0)


@dataclass(frozen=True, eq=False)
class SideRules:
    """The rules beyond one-rep-per-lead, capacity and floors (None when not in force)."""

    fairness: Fairness | None = None
    continuity: Continuity | None = None

    @property
    def any(self) -> bool:
        return self.fairness is not None or self.continuity is not None

    def feasible(self, pairs: Pairs, chosen: np.ndarray) -> bool:
        """Does ``chosen`` satisfy every hard rule (one rep per unit, capacity, floors too)?"""
        m = len(pairs.capacity)
        if np.bincount(pairs.unit[chosen]).max(initial=0) > 1:
            return False
        load = np.bincount(pairs.rep[chosen], weights=pairs.effort[chosen], minlength=m)
        count = np.bincount(pairs.rep[chosen], weights=pairs.size[chosen], minlength=m)
        if np.any(load > pairs.capacity) or np.any(count < pairs.min_leads):
            return False
        f, c = self.fairness, self.continuity
        if f is not None and f.penalty is None and f.excess(pairs, chosen) > 0:
            return False
        return not (c is not None and c.penalty is None and c.excess(pairs, chosen) > 0)

    def score(self, pairs: Pairs, chosen: np.ndarray) -> int:
        """The phase-2 objective of ``chosen``: value units minus soft penalties."""
        total = int(pairs.units[chosen].sum())
        f, c = self.fairness, self.continuity
        if f is not None and f.penalty is not None:
            total -= f.penalty * f.excess(pairs, chosen)
        if c is not None and c.penalty is not None:
            total -= c.penalty * c.excess(pairs, chosen)
        return total


INT_MAX = 2**62
