"""The one place a solve keeps what its stages found: the best assignment so far and the
best bounds proven on it (:class:`Incumbent`), and how a pipeline ends (:class:`Finish`).

A stage reports an assignment only through ``Incumbent.offer`` (kept when it is better:
more leads, then a higher value score) or ``Incumbent.take`` (kept as it is: an answer that
meets a rule the previous start did not, or the exact optimum of a search). Bounds only
tighten through ``count_at_most`` and ``units_at_most``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadassign.compile.prepare import Prepared
from leadassign.result import Status


def valid(prep: Prepared, chosen: np.ndarray) -> bool:
    """Whether ``chosen`` (at most one pair per unit) meets every hard rule: capacities in
    effort, floors in leads, and the side rules."""
    pairs = prep.pairs
    m = len(pairs.capacity)
    load = np.bincount(pairs.rep[chosen], weights=pairs.effort[chosen], minlength=m)
    count = np.bincount(pairs.rep[chosen], weights=pairs.size[chosen], minlength=m)
    return bool(
        np.all(load <= pairs.capacity)
        and np.all(count >= pairs.min_leads)
        and prep.side.feasible(pairs, chosen)
    )


def better(prep: Prepared, new: np.ndarray, old: np.ndarray | None) -> bool:
    """Is feasible ``new`` a better start than ``old`` (more leads, then a higher score)?"""
    pairs, side = prep.pairs, prep.side
    if old is None or not side.feasible(pairs, old):
        return True
    key_new = (int(pairs.size[new].sum()), side.score(pairs, new))
    return key_new > (int(pairs.size[old].sum()), side.score(pairs, old))


@dataclass(frozen=True, eq=False)
class Finish:
    """How a pipeline ended: the status, the count bound, the proven room above the answer
    in scaled value units (None: no value bound), the conflicts of an infeasible book, and
    the stage to name as the method (None: the pipeline's). The answer is the incumbent's
    when the status has one (OPTIMAL, FEASIBLE), else there is none."""

    status: Status
    assigned_bound: int | None
    missing_units: int | None = None
    conflicts: tuple[str, ...] = ()
    by: str | None = None


def infeasible(*conflicts: str) -> Finish:
    return Finish(Status.INFEASIBLE, None, conflicts=conflicts)


@dataclass(eq=False)
class Incumbent:
    """The best assignment the stages found (``chosen``, pairs of ``prep.pairs``), the most
    units any assignment can place (``count_upper``) and a proven upper bound on the scaled
    value score at that count (``units_upper``; None: none yet)."""

    prep: Prepared
    chosen: np.ndarray | None = None
    count_upper: int = 0
    units_upper: int | None = None

    def offer(self, chosen: np.ndarray | None) -> bool:
        """Keep ``chosen`` (which meets the side rules) when it is better; says whether."""
        if chosen is None or not better(self.prep, chosen, self.chosen):
            return False
        self.chosen = chosen
        return True

    def take(self, chosen: np.ndarray) -> None:
        """Keep ``chosen`` whatever the previous one (see the module's note)."""
        self.chosen = chosen

    def units_at_most(self, bound: int) -> None:
        """A new value bound at the current count. (As the solve always did: a bound of 0
        so far counts as none.)"""
        self.units_upper = min(self.units_upper or bound, bound)

    @property
    def feasible(self) -> bool:
        """Is there one, and does it meet the side rules?"""
        return self.chosen is not None and self.prep.side.feasible(self.prep.pairs, self.chosen)

    def placed(self) -> int:
        """Units (leads) the incumbent assigns (0: none)."""
        if self.chosen is None:
            return 0
        return int(self.prep.pairs.size[self.chosen].sum())

    def proven(self) -> bool:
        """Is the incumbent feasible and at both bounds (so optimal with no search)?"""
        pairs, side, chosen = self.prep.pairs, self.prep.side, self.chosen
        return (
            chosen is not None
            and self.units_upper is not None
            and side.feasible(pairs, chosen)
            and int(pairs.size[chosen].sum()) == self.count_upper
            and side.score(pairs, chosen) >= self.units_upper
        )

    def missing(self, chosen: np.ndarray, units_bound: int) -> int:
        """The proven room above ``chosen`` under ``units_bound`` (at least 0)."""
        return max(units_bound - self.prep.side.score(self.prep.pairs, chosen), 0)

    def finish(self, count_bound: int | None) -> Finish:
        """The incumbent as the answer when a search is cut short: FEASIBLE when it meets
        every hard rule and assigns a lead (or none can be), with the value bound only at
        the count bound; else UNKNOWN. (An empty start meets a band, but it is no answer:
        written, it would release every lead.)"""
        chosen = self.chosen
        empty = chosen is not None and not chosen.any() and self.count_upper > 0
        if chosen is None or empty or not valid(self.prep, chosen):
            return Finish(Status.UNKNOWN, count_bound)
        if self.units_upper is None or self.placed() < self.count_upper:
            return Finish(Status.FEASIBLE, count_bound)
        return Finish(Status.FEASIBLE, count_bound, self.missing(chosen, self.units_upper))


__all__ = ["Finish", "Incumbent", "better", "infeasible", "valid"]
