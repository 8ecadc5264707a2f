"""The outcome of a solve: status, proof figures, and the tables built from them
(``tables.py``, ``summary.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from leadassign.compile.candidates import Candidates
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem
from leadassign.result.capacity import CapacityValues
from leadassign.result.status import NoSolutionError, Status
from leadassign.result.summary import summary
from leadassign.result.tables import (
    assignments_table,
    lead_reasons,
    rep_table,
    runner_up,
    typed_assignments,
    typed_reps,
)


@dataclass(frozen=True, eq=False)
class SharedRelaxation:
    """A run's flow relaxation, for another run that would solve the same one (a scenario's
    variant that changes only what the relaxation drops: fairness, continuity, floors):
    ``key`` digests what it was solved on (``flow_stages.relaxation_key``: the lead-level
    pairs, their value units, the capacities), ``chosen`` the pairs it took (indices into
    those pairs), ``prices`` rep prices that prove it optimal (value units; None: none)."""

    key: bytes
    chosen: np.ndarray
    prices: np.ndarray | None


@dataclass(frozen=True, eq=False)
class Result:
    """What :func:`leadassign.solve` returns.

    ``objective`` is the value score of the assignment (expected value, plus keep bonuses,
    minus soft penalties), recomputed in floats; ``expected_value`` the plain total expected
    value. ``best_bound`` is a proven upper bound on the value score among assignments of
    ``assigned_bound`` leads; ``gap`` is their relative difference. ``status`` OPTIMAL means
    the optimum is proven.
    """

    status: Status
    method: str
    problem: Problem
    policy: Policy
    candidates: Candidates = field(repr=False)
    pair_of_lead: np.ndarray = field(repr=False)  # index into candidates, -1 unassigned
    lead_value: np.ndarray = field(repr=False)  # each lead's value (column or value.weights)
    #: per lead: owned, and its owner may still take it (else a move is forced)
    keepable: np.ndarray = field(repr=False)
    #: per candidate pair: effort of its whole unit (the account's, when kept together)
    unit_effort: np.ndarray = field(repr=False)
    objective: float | None
    expected_value: float | None
    best_bound: float | None
    gap: float | None
    assigned_bound: int | None
    value_scale: float
    fairness_scale: float
    build_s: float
    solve_s: float
    conflicts: tuple[str, ...] = ()
    #: the churn search's Lagrangian bonus per kept owner, in value (None: not searched); a
    #: variant of this book starts its own search there (``Start``)
    keep_bonus: float | None = None
    #: the flow relaxation's rep prices per rep, in value (a dual solution that proves its
    #: choice optimal; None: not computed, e.g. below ``flow_stages.WARM_SUBSET_PAIRS``): a
    #: variant of this book solves its relaxation on the pairs they rank best (``Start``)
    rep_prices: np.ndarray | None = field(default=None, repr=False)
    #: the flow relaxation itself, in the same pair range (None: not kept): a variant whose
    #: relaxation is the same problem takes it instead of solving it again (``Start``)
    relaxation: SharedRelaxation | None = field(default=None, repr=False)
    #: rep prices of the churn search's flow at its bonus (the limit's side it meets), in
    #: value per rep (None: not kept; kept by runs without a start, such as a scenario's
    #: base): a variant's churn search widens its pairs at them
    keep_prices: np.ndarray | None = field(default=None, repr=False)
    #: why the solve was stopped early ("SIGTERM", "SIGINT", ...; None: it was not)
    interrupted: str | None = None
    #: what cut the search (summary "limited_by"): "work" (the deterministic work limit),
    #: "time" (the wall-clock limit) or "stop" (a signal); None when nothing did
    limited_by: str | None = None
    #: the policy-free flow solved on a priced subset: its rounds, first subset, pairs the
    #: pricing added and final subset (None: the flow saw every pair)
    flow_certificate: dict[str, int] | None = None
    #: the pipeline stage that proved ``best_bound`` (summary "bound_by"; None: no bound)
    bound_by: str | None = None
    #: with price_rules: per hard rule, what dropping it would gain (see solve_with_prices)
    prices: dict[str, dict[str, Any]] | None = None
    #: from leadassign.baselines: the strategy and the rules it ignored (summary "baseline")
    baseline: dict[str, Any] | None = None
    #: from a rebalance: the run its owners came from and what changed (summary "rebalance")
    rebalance: dict[str, Any] | None = None
    #: with a holdout (``leadassign.app.holdout``): each lead's arm, ``optimized`` or
    #: ``holdout`` (assignments.csv ``arm``), and the summary's ``holdout`` block
    arm: np.ndarray | None = field(default=None, repr=False)
    holdout: dict[str, Any] | None = None
    #: what one more unit of each rep's capacity is worth (result/capacity.py; None: not
    #: computed): reps.csv ``capacity_value``, summary.json ``capacity``
    capacity: CapacityValues | None = field(default=None, repr=False)

    @property
    def has_solution(self) -> bool:
        return self.status.has_solution

    @property
    def rep_of_lead(self) -> np.ndarray:
        """Rep index of each lead, -1 when unassigned."""
        out = np.full(self.problem.n_leads, -1, dtype=np.int64)
        chosen = self.pair_of_lead >= 0
        out[chosen] = self.candidates.rep[self.pair_of_lead[chosen]]
        return out

    @property
    def assigned(self) -> int:
        return int((self.pair_of_lead >= 0).sum())

    def withdrawn(self, status: Status, why: str) -> Result:
        """This result with its answer taken back: ``status`` (INFEASIBLE or UNKNOWN), no
        assignment, objective, bound or gap, and ``why`` added to its conflicts. For an
        answer a rule of the run refuses after the solve (``assign_all``; route's owned
        leads)."""
        return replace(
            self,
            status=status,
            pair_of_lead=np.full(self.problem.n_leads, -1, dtype=np.int64),
            objective=None,
            expected_value=None,
            best_bound=None,
            gap=None,
            bound_by=None,
            conflicts=(*self.conflicts, why),
        )

    def require_solution(self) -> None:
        if not self.has_solution:
            detail = f": {'; '.join(self.conflicts)}" if self.conflicts else ""
            raise NoSolutionError(f"no assignment: the solve ended {self.status.value}{detail}")

    @property
    def owner_status(self) -> tuple[np.ndarray, np.ndarray]:
        """Per lead: owned (has a current owner), and keepable (its owner may still take it:
        available, eligible under every rule, with capacity for its effort)."""
        return self.problem.owner >= 0, self.keepable

    @cached_property
    def reasons(self) -> tuple[np.ndarray, np.ndarray]:
        """Per lead: the reason code and a detail in words (assignments.csv)."""
        return lead_reasons(self)

    @cached_property
    def runner_up(self) -> tuple[np.ndarray, np.ndarray]:
        """Per lead: the best eligible rep other than the one it got, and its expected value."""
        return runner_up(self)

    @cached_property
    def assignments(self) -> pd.DataFrame:
        """One row per input lead, in input order (assignments.csv's columns; ``tables.py``),
        typed: numbers as numbers, text as ``string``, <NA> where there is nothing (an
        unassigned lead's rep_id and expected_value, say)."""
        return typed_assignments(self.assignments_file)

    @cached_property
    def rep_table(self) -> pd.DataFrame:
        """Per rep: load, capacity, utilization and value (reps.csv's columns;
        ``tables.py``), typed: counts int64, values float64, available bool."""
        return typed_reps(self.rep_file)

    @cached_property
    def assignments_file(self) -> pd.DataFrame:
        """assignments.csv as written: text cells, '' where there is nothing."""
        return assignments_table(self)

    @cached_property
    def rep_file(self) -> pd.DataFrame:
        """reps.csv as written (available as 'true'/'false')."""
        return rep_table(self)

    def summary(self) -> dict[str, Any]:
        """summary.json as a dict (times included; everything else is deterministic)."""
        return summary(self)


def gini(values: np.ndarray) -> float | None:
    """Gini coefficient of non-negative values (0: all equal; None when empty or all 0)."""
    if len(values) == 0 or float(values.sum()) <= 0:
        return None
    ordered = np.sort(values)
    k = len(ordered)
    ranks = np.arange(1, k + 1)
    return float((2 * (ranks * ordered).sum()) / (k * ordered.sum()) - (k + 1) / k)


__all__ = ["Result"]


__all__ = ["Result"]
