"""The rule families, one module each, with its data, its checker and its constraints:

- ``tiers``, ``accounts``: pair rules. They remove candidate pairs (``apply_tiers``,
  ``apply_accounts``); accounts also merge an account's leads into one unit per rep.
- ``floors``: ``min_leads`` per rep (``floors``), its CP-SAT constraint ``add_min_leads``.
- ``fairness``, ``continuity``: side rules. A spec object (:class:`Fairness`,
  :class:`Continuity`) built from the policy (``fairness_spec``, ``continuity_spec``), with
  its checker (``excess``), its CP-SAT constraints (``add_fairness``, ``add_continuity``)
  and its LP/MIP rows (``fairness_rows``, ``continuity_rows``).

:class:`SideRules` holds one spec per side-rule family (None when the policy does not ask
for it); ``compile.prepare.prepare`` builds every family's data once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadassign.compile.families.continuity import Continuity
from leadassign.compile.families.fairness import Fairness
from leadassign.compile.pairs import Pairs


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


__all__ = ["Continuity", "Fairness", "SideRules"]
