"""The rule families, one module each, with its data, its checker and its constraints:

- ``tiers``, ``accounts``: pair rules. They remove candidate pairs (``apply_tiers``,
  ``apply_accounts``); accounts also merge an account's leads into one unit per rep.
- ``floors``: ``min_leads`` per rep (``floors``), its CP-SAT constraint ``add_min_leads``.
- ``fairness``, ``continuity``, ``account_cap``: side rules. Each is a spec class that
  implements :class:`~leadassign.compile.families.base.SideRule` (``base.py``: how its spec
  is built from the policy, its checker, its CP-SAT constraints, its LP/MIP rows, its
  restriction to a subset of pairs and its explanation).

``FAMILIES`` below registers the side rules: ``compile.prepare.prepare`` builds each one's
spec once, and :class:`SideRules` holds those in force, in this order, for every engine
(docs/extending.md: adding a family is its module, its test and one line here)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from leadassign.compile.families.account_cap import AccountCap
from leadassign.compile.families.base import Compiled, SideRule
from leadassign.compile.families.continuity import Continuity
from leadassign.compile.families.fairness import Fairness
from leadassign.compile.pairs import Pairs

#: The side-rule families, in the order the models add them.
FAMILIES: tuple[type[SideRule], ...] = (Fairness, Continuity, AccountCap)

_Spec = TypeVar("_Spec", bound=SideRule)


@dataclass(frozen=True, eq=False)
class SideRules:
    """The rules beyond one-rep-per-lead, capacity and floors: one spec per family in force
    (in ``FAMILIES`` order)."""

    specs: tuple[SideRule, ...] = ()

    @classmethod
    def of(cls, *specs: SideRule | None) -> SideRules:
        """The specs given, leaving out the Nones (families not in force)."""
        return cls(tuple(spec for spec in specs if spec is not None))

    @classmethod
    def build(cls, data: Compiled) -> SideRules:
        """Every registered family's spec that the policy asks for."""
        return cls.of(*(family.build(data) for family in FAMILIES))

    def __iter__(self) -> Iterator[SideRule]:
        return iter(self.specs)

    def get(self, family: type[_Spec]) -> _Spec | None:
        """The spec of ``family`` when in force."""
        for spec in self.specs:
            if isinstance(spec, family):
                return spec
        return None

    @property
    def fairness(self) -> Fairness | None:
        """For the flows and heuristics that know fairness (specialised engines)."""
        return self.get(Fairness)

    @property
    def continuity(self) -> Continuity | None:
        """For the flows and heuristics that know continuity (specialised engines)."""
        return self.get(Continuity)

    @property
    def any(self) -> bool:
        return bool(self.specs)

    @property
    def flows_know_all(self) -> bool:
        """Do the flow-based stages model every rule in force (``SideRule.flows_know``)?"""
        return all(spec.flows_know for spec in self.specs)

    def restrict(self, keep: np.ndarray) -> SideRules:
        """The same rules over the pairs ``keep`` (indices) only."""
        return SideRules(tuple(spec.restrict(keep) for spec in self.specs))

    def feasible(self, pairs: Pairs, chosen: np.ndarray) -> bool:
        """Does ``chosen`` satisfy every hard rule (one rep per unit, capacity, floors too)?"""
        m = len(pairs.capacity)
        if np.bincount(pairs.unit[chosen]).max(initial=0) > 1:
            return False
        load = np.bincount(pairs.rep[chosen], weights=pairs.effort[chosen], minlength=m)
        count = np.bincount(pairs.rep[chosen], weights=pairs.size[chosen], minlength=m)
        if np.any(load > pairs.capacity) or np.any(count < pairs.min_leads):
            return False
        return all(
            spec.penalty is not None or spec.excess(pairs, chosen) == 0 for spec in self.specs
        )

    def score(self, pairs: Pairs, chosen: np.ndarray) -> int:
        """The phase-2 objective of ``chosen``: value units minus soft penalties."""
        total = int(pairs.units[chosen].sum())
        for spec in self.specs:
            if spec.penalty is not None:
                total -= spec.penalty * spec.excess(pairs, chosen)
        return total


__all__ = ["FAMILIES", "AccountCap", "Continuity", "Fairness", "SideRule", "SideRules"]
