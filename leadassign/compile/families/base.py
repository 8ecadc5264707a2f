"""What a side-rule family implements (docs/extending.md walks through one).

A side rule is a rule beyond one rep per lead, capacities and floors that the solving
stages must keep: fairness, continuity, the account cap. Its module declares one frozen
dataclass, the *spec*, that subclasses :class:`SideRule`: the rule's data over the model's
unit pairs, built once from the policy and the compiled data (:meth:`SideRule.build`), and
everything each part of the solver asks of it:

- the checker, :meth:`SideRule.excess` (0 when the rule holds) and ``penalty`` (None: hard;
  else the objective units lost per unit of excess); ``SideRules.feasible`` and
  ``SideRules.score`` sum these over the families in force;
- its CP-SAT constraints, :meth:`SideRule.add_to_model` (``engines/cpsat.build_model``);
- its LP/MIP rows, :meth:`SideRule.add_rows` (``engines/lp.build_relaxation``, which HiGHS'
  MIP solves too);
- the same rule over a subset of the pairs, :meth:`SideRule.restrict` (the LP's restricted
  CP-SAT search, ``engines/lp.restrict_pairs``);
- for an infeasibility explanation, its constraints at lead level, each rule instance
  guarded by its own literal (:meth:`SideRule.explain`), and its words for the instances
  that end up in the conflict (:meth:`SideRule.words`); ``policy_names`` says whether the
  policy asks for it as a hard rule (the explanation's fallback lists it then).

``flows_know`` says whether the flow-based stages (the fair count flow, the churn search,
the value band bound, the priced arcs) model the rule. Those stages are specialised
engines for fairness and continuity; while a family they do not know is in force they are
skipped, and CP-SAT and HiGHS' MIP, which see every family, solve the book.

The registry, ``FAMILIES`` in ``compile/families/__init__.py``, lists the spec classes in
the order the model adds them (and the explanation names them).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from leadassign.compile.candidates import Candidates
from leadassign.compile.pairs import Pairs
from leadassign.compile.units import Units
from leadassign.engines.cpsat_proto import Aux
from leadassign.engines.lp_rows import Rows
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem

if TYPE_CHECKING:
    from leadassign.compile.prepare import Prepared

#: An explanation lists at most this many names of one kind.
MAX_LISTED = 10


def listed(ids: list[str]) -> str:
    """Names for a message: the first ``MAX_LISTED``, then how many more."""
    shown = ", ".join(ids[:MAX_LISTED])
    return shown + (f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else "")


@dataclass(frozen=True, eq=False)
class Compiled:
    """What a spec is built from: the policy, the tables and the compiled pairs."""

    policy: Policy
    problem: Problem
    cands: Candidates  # lead-level pairs after the pair rules (tiers, accounts)
    units: Units  # the model's unit pairs, and how the lead-level pairs map onto them
    values: np.ndarray  # per lead: its value
    value_scale: float  # objective units per unit of value


@dataclass(frozen=True)
class Columns:
    """The LP/MIP columns a family's rows added after the pairs' (and the others')."""

    uppers: Sequence[float]  # each new column's upper bound (every lower bound is 0)
    continuous: int = 0  # the first ``continuous`` of them need not be integral in the MIP
    penalty: float | None = None  # soft: objective units lost per unit of the last column


@dataclass(frozen=True, eq=False)
class LeadModel:
    """The explanation's model (``solve/explain.py``): one Boolean per lead-level pair
    (``pairs``: each unit one lead, of size 1), and ``guard(kind, subject)``, which makes a
    new literal standing for one rule instance (``kind`` is the family's ``name``)."""

    proto: Any
    pairs: Pairs
    by_rep: np.ndarray  # the pairs' indices sorted by rep
    lead: np.ndarray  # per pair: its lead
    problem: Problem
    policy: Policy
    prep: Prepared
    guard: Callable[[str, int], int]


class SideRule(ABC):
    """A side-rule family's spec (module doc). Subclasses are frozen dataclasses."""

    #: the family's name: its rule instances' kind in an explanation
    name: ClassVar[str]
    #: do the flow-based stages model this rule (module doc)?
    flows_know: ClassVar[bool] = False
    #: soft: objective units lost per unit of excess; None: a hard rule
    penalty: int | None

    @classmethod
    @abstractmethod
    def build(cls, data: Compiled) -> SideRule | None:
        """The spec the policy asks for, over ``data.units.pairs`` (None: not in force)."""

    @classmethod
    @abstractmethod
    def policy_names(cls, policy: Policy) -> bool:
        """Does the policy ask for this rule as a hard rule?"""

    @abstractmethod
    def excess(self, pairs: Pairs, chosen: np.ndarray) -> int:
        """How far ``chosen`` (bool per pair) is outside the rule: 0 when it holds."""

    @abstractmethod
    def add_to_model(self, proto: Any, pairs: Pairs, by_rep: np.ndarray, aux: Aux) -> int | None:
        """Write the rule into CP-SAT's model proto (variable k is pair k; ``by_rep`` sorts
        the pairs by rep). New auxiliary variables go into ``aux`` with how to compute them
        from a choice (to complete hints). Soft: returns the variable to penalize."""

    @abstractmethod
    def add_rows(self, rows: Rows, pairs: Pairs, next_var: int) -> Columns:
        """Write the rule as LP rows over the pairs (columns 0..n-1) and new columns from
        ``next_var`` on; says which columns it added."""

    @abstractmethod
    def restrict(self, keep: np.ndarray) -> Self:
        """The same rule over the pairs ``keep`` (indices) only."""

    @abstractmethod
    def explain(self, model: LeadModel) -> None:
        """Write the rule at lead level into ``model``, each instance behind a literal from
        ``model.guard(self.name, subject)`` (a soft rule writes nothing: it cannot
        conflict)."""

    @abstractmethod
    def words(self, subjects: list[int], problem: Problem, policy: Policy, prep: Prepared) -> str:
        """The rule instances ``subjects`` (as guarded by :meth:`explain`) in words."""


__all__ = ["MAX_LISTED", "Columns", "Compiled", "LeadModel", "SideRule", "listed"]
