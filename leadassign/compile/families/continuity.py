"""The continuity family: owned leads kept by their owners, with a limit on changes (hard or
soft). In one place: its data (:class:`Continuity`, built by :func:`continuity_spec` from
the owner pairs), its checker (``Continuity.excess``), its CP-SAT constraint
(:func:`add_continuity`) and its LP/MIP rows (:func:`continuity_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from leadassign.compile.candidates import Candidates
from leadassign.compile.pairs import INT_MAX, Pairs
from leadassign.compile.scaling import penalty_units
from leadassign.compile.units import Units
from leadassign.engines.cpsat_proto import Aux, add_linear, new_int
from leadassign.engines.lp_rows import INF, Rows
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem


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
    keep_pair = owner_pairs(cands, problem, units.var)
    kept = np.bincount(units.var[keep_pair], minlength=len(units.pairs)).astype(np.int64)
    keepable = int(keepable_leads(cands, problem, units.var).sum())
    penalty = None
    if c.mode == "soft":
        penalty = penalty_units(c.weight, value_scale, keepable, "continuity")
    return Continuity(kept, keepable, limit, penalty)


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
