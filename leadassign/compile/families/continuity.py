"""The continuity family: owned leads kept by their owners, with a limit on changes (hard or
soft). In one place: its data (:class:`Continuity`, a
:class:`~leadassign.compile.families.base.SideRule` built by :func:`continuity_spec` from
the owner pairs), its checker (``Continuity.excess``), its CP-SAT constraint
(:func:`add_continuity`), its LP/MIP rows (:func:`continuity_rows`) and its explanation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from leadassign.compile.candidates import Candidates
from leadassign.compile.families.base import Columns, Compiled, LeadModel, SideRule
from leadassign.compile.pairs import INT_MAX, Pairs
from leadassign.compile.scaling import penalty_units
from leadassign.compile.units import Units
from leadassign.engines.cpsat_proto import Aux, add_linear, new_int
from leadassign.engines.lp_rows import INF, Rows
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem, lead_column

if TYPE_CHECKING:
    from leadassign.compile.prepare import Prepared


@dataclass(frozen=True, eq=False)
class Continuity(SideRule):
    """Owned leads kept by their owners: ``sum(kept * x) + changes_allowed >= keepable``."""

    name = "continuity"
    flows_know = True

    kept: np.ndarray  # per pair: owned (non-forced) leads it keeps with their owner
    keepable: int  # owned leads that are not forced moves
    limit: int  # changes allowed
    penalty: int | None = None  # soft: objective units lost per change above the limit
    #: per lead: its units of ``continuity.measure`` (None: each lead counts 1)
    lead_measure: np.ndarray | None = None
    measure_scale: float = 1.0  # units per unit of the measure column

    @classmethod
    def build(cls, data: Compiled) -> Continuity | None:
        return continuity_spec(data.policy, data.cands, data.units, data.problem, data.value_scale)

    @classmethod
    def policy_names(cls, policy: Policy) -> bool:
        return policy.continuity is not None

    def excess(self, pairs: Pairs, chosen: np.ndarray) -> int:
        changes = self.keepable - int(self.kept[chosen].sum())
        return max(changes - self.limit, 0)

    def add_to_model(self, proto: Any, pairs: Pairs, by_rep: np.ndarray, aux: Aux) -> int | None:
        return add_continuity(proto, pairs, self, aux=aux)

    def add_rows(self, rows: Rows, pairs: Pairs, next_var: int) -> Columns:
        added = continuity_rows(rows, self, next_var)
        return Columns(added, 0, self.penalty if added else None)

    def restrict(self, keep: np.ndarray) -> Self:
        return replace(self, kept=self.kept[keep])

    def explain(self, model: LeadModel) -> None:
        """The hard limit at lead level, behind one literal."""
        if self.penalty is not None:
            return
        prep, problem, lead = model.prep, model.problem, model.lead
        keepable = keepable_leads(prep.cands, problem, prep.units.var)
        keeps = (keepable[lead] & (problem.owner[lead] == model.pairs.rep)).astype(np.int64)
        if self.lead_measure is not None:
            keeps = keeps * self.lead_measure[lead]
        lead_spec = Continuity(keeps, self.keepable, self.limit)
        add_continuity(model.proto, model.pairs, lead_spec, model.guard(self.name, 0))

    def words(self, subjects: list[int], problem: Problem, policy: Policy, prep: Prepared) -> str:
        c = policy.continuity
        assert c is not None
        owned = int((problem.owner >= 0).sum())
        if self.lead_measure is not None:
            total = float(self.lead_measure[problem.owner >= 0].sum()) / self.measure_scale
            return (
                f"continuity max_reassign {c.max_reassign:g} (at most "
                f"{self.limit / self.measure_scale:g} of {total:g} owned {c.measure} moves)"
            )
        return (
            f"continuity max_reassign {c.max_reassign:g} (at most {self.limit} of {owned} "
            f"owned leads change owner)"
        )


class MeasuredContinuity(Continuity):
    """Continuity that counts a lead column (``continuity.measure``) instead of leads: the
    flow stages, whose churn search counts leads, leave it to HiGHS' MIP and CP-SAT."""

    flows_know = False


#: The largest owned lead's measure maps to at most this many units (values with at most 6
#: decimals are kept exact, as fairness's value metric does).
MEASURE_RESOLUTION = 10**6


def measure_units(amounts: np.ndarray) -> tuple[np.ndarray, float]:
    """Per lead: ``amounts`` in integer units, and the units per unit of the column: exact
    when every amount has at most 6 decimals (and the total stays below 2^50), else 1e6
    units for the largest."""
    largest = float(amounts.max(initial=0.0))
    if largest <= 0:
        return np.zeros(len(amounts), dtype=np.int64), 1.0
    scale = MEASURE_RESOLUTION / largest
    total = float(amounts.sum())
    for decimals in range(7):
        exact = 10.0**decimals
        if total * exact > 2.0**50:
            break
        if np.all(np.abs(amounts * exact - np.rint(amounts * exact)) < 1e-6):
            scale = exact
            break
    return np.rint(amounts * scale).astype(np.int64), scale


def lead_measure(policy: Policy, problem: Problem) -> tuple[np.ndarray | None, float]:
    """Per lead: what keeping or moving it counts (``continuity.measure`` in integer units;
    None: one lead each), and the units per unit of the column."""
    c = policy.continuity
    if c is None or c.measure is None:
        return None, 1.0
    return measure_units(lead_column(problem.leads, c.measure, "continuity.measure"))


def keep_weights(policy: Policy, problem: Problem) -> np.ndarray | float:
    """What keeping each lead with its owner earns per unit of ``keep_bonus``: 1 per lead,
    or (with ``continuity.measure``) per lead its measure column."""
    c = policy.continuity
    if c is None or c.measure is None:
        return 1.0
    return lead_column(problem.leads, c.measure, "continuity.measure")


def owner_pairs(cands: Candidates, problem: Problem, var: np.ndarray) -> np.ndarray:
    """Per candidate pair: it gives a lead to its current owner, and is usable."""
    owner = problem.owner
    result: np.ndarray = (owner[cands.lead] == cands.rep) & (var >= 0)
    return result


def keepable_leads(cands: Candidates, problem: Problem, var: np.ndarray) -> np.ndarray:
    """Per lead: owned, and its owner may still take it (not a forced move)."""
    keep = np.zeros(problem.n_leads, dtype=bool)
    keep[cands.lead[owner_pairs(cands, problem, var)]] = True
    return keep


def continuity_spec(
    policy: Policy, cands: Candidates, units: Units, problem: Problem, value_scale: float
) -> Continuity | None:
    c = policy.continuity
    limit = c.changes_allowed(int((problem.owner >= 0).sum())) if c is not None else None
    if c is None or limit is None:
        return None
    measure, measure_scale = lead_measure(policy, problem)
    keep_pair = owner_pairs(cands, problem, units.var)
    weights = None if measure is None else measure[cands.lead[keep_pair]]
    kept = np.bincount(units.var[keep_pair], weights=weights, minlength=len(units.pairs))
    kept = np.rint(kept).astype(np.int64)
    keepable_mask = keepable_leads(cands, problem, units.var)
    penalty = None
    if measure is None:
        keepable = int(keepable_mask.sum())
        if c.mode == "soft":
            penalty = penalty_units(c.weight, value_scale, keepable, "continuity")
        return Continuity(kept, keepable, limit, penalty)
    keepable = int(measure[keepable_mask].sum())
    owned_units = int(measure[problem.owner >= 0].sum())
    assert c.max_reassign is not None
    limit = math.floor(Fraction(str(c.max_reassign)) * owned_units)
    if c.mode == "soft":
        penalty = penalty_units(c.weight, value_scale / measure_scale, keepable, "continuity")
    return MeasuredContinuity(kept, keepable, limit, penalty, measure, measure_scale)


def add_continuity(
    proto: Any,
    pairs: Pairs,
    continuity: Continuity,
    guard: int | None = None,
    aux: Aux | None = None,
) -> int | None:
    """At most ``limit`` owned leads change owner. Soft: returns the variable counting the
    changes above the limit (to be penalized); hard: None."""
    keeps = np.flatnonzero(continuity.kept > 0)
    need = continuity.keepable - continuity.limit
    variables, coeffs = keeps.tolist(), continuity.kept[keeps].tolist()
    if continuity.penalty is None:
        if need > 0:
            add_linear(proto, variables, coeffs, need, INT_MAX, guard)
        return None
    over = new_int(proto, 0, max(continuity.keepable, 0))
    add_linear(proto, [*variables, over], [*coeffs, 1], need, INT_MAX, guard)
    if aux is not None:
        aux.append((over, lambda chosen: continuity.excess(pairs, chosen)))
    return over


def continuity_rows(rows: Rows, continuity: Continuity, next_var: int) -> list[int]:
    keeps = np.flatnonzero(continuity.kept > 0)
    need = float(continuity.keepable - continuity.limit)
    if continuity.penalty is None:
        if need > 0:
            rows.add(keeps, continuity.kept[keeps], need, INF)
        return []
    rows.add(np.append(keeps, next_var), np.append(continuity.kept[keeps], 1.0), need, INF)
    return [max(continuity.keepable, 0)]
