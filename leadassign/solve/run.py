"""What the stages of one solve share: the book, its prepared rules, the one
:class:`~leadassign.solve.incumbent.Incumbent`, the one budget (the work and wall-time
:class:`~leadassign.control.budget.Meter`) and what earlier stages left for later ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from leadassign.compile.prepare import Prepared
from leadassign.control import budget
from leadassign.control.progress import NO_PROGRESS, Progress
from leadassign.control.stop import Stop
from leadassign.engines.cpsat import CpSatSettings
from leadassign.engines.lp import LpOutcome
from leadassign.engines.priced_flows import AllArcs, Flows, Solved
from leadassign.models.policy import Policy, SolverPolicy
from leadassign.models.problem import Problem
from leadassign.result import SharedRelaxation
from leadassign.solve.incumbent import Finish, Incumbent
from leadassign.solve.starts import Start


@dataclass(eq=False)
class Run:
    """One solve in progress. ``incumbent`` is the only place a stage leaves an answer;
    ``budget`` the only source of its limits. The other fields carry what a stage learned
    that a later one uses (the relaxation's choice, the flow engine, the LP solution)."""

    problem: Problem
    policy: Policy
    prep: Prepared
    start: Start | None
    stop: Stop | None
    #: told each phase and CP-SAT's objective and bound (None: nothing)
    progress: Progress | None
    budget: budget.Meter
    incumbent: Incumbent
    #: the CP-SAT settings every search derives its own from
    cp_settings: CpSatSettings
    #: seconds spent before the first search (set by the precheck stage)
    build_s: float = 0.0
    #: the flow relaxation's choice over those pairs (None: none, or not solved yet)
    relaxed_flow: np.ndarray | None = None
    #: rep prices (count weight first) that prove the relaxation's choice optimal over every
    #: pair, when its certified subset flow found them or they were read off its choice
    #: (above ``flow_stages.WARM_SUBSET_PAIRS`` pairs; None: not computed)
    relaxed_prices: np.ndarray | None = None
    #: when the relaxation's choice is not proven optimal over every pair (a subset flow
    #: stopped early): an upper bound on the value units of any choice of its count over
    #: every pair (None: its choice is the optimum, its value the bound)
    relaxed_bound: int | None = None
    #: the relaxation as another run of the same relaxation can take it (``Result.relaxation``;
    #: None: not kept, outside ``flow_stages``' warm range)
    shared_relaxation: SharedRelaxation | None = None
    #: the min-cost flow engine for side-rule flows (every arc, or a priced subset)
    flows: Flows = field(init=False, repr=False)
    #: the optimum of the plain flow at the rep bounds a churn search would use
    at_bounds: Solved | None = None
    #: the churn search's Lagrangian bonus per kept owner, in value (None: not searched)
    keep_bonus: float | None = None
    #: rep prices of the churn search's flow at its bonus, in value units (None: not kept)
    keep_prices: np.ndarray | None = None
    #: the churn search's bound holds for the incumbent's count (one fairness group or none)
    lagrangian_bound: bool = False
    #: the grouped search over accounts (solve/account_stages.py) set the value bound
    grouped_bound: bool = False
    #: the LP solution at the count bound, when solved
    relaxed_lp: LpOutcome | None = None
    #: the priced-subset flow's certificate figures (None: the flow saw every pair)
    flow_certificate: dict[str, int] | None = None
    #: the method naming the stage that left the incumbent (``Stage.answers``; set by the
    #: pipeline; None: no stage has)
    answered_by: str | None = None

    def __post_init__(self) -> None:
        pairs = self.prep.pairs
        self.flows = AllArcs(pairs.unit, pairs.rep, self.problem.n_leads)

    # The lead-level pairs a model variable represents, their reps and scaled values: what
    # the relaxations work on. Copies of the pair arrays, so made when first asked for (the
    # policy-free flow never asks).
    @cached_property
    def lead_of(self) -> np.ndarray:
        lead: np.ndarray = self.prep.cands.lead[self.prep.units.usable]
        return lead

    @cached_property
    def rep_of(self) -> np.ndarray:
        rep: np.ndarray = self.prep.cands.rep[self.prep.units.usable]
        return rep

    @cached_property
    def lead_units(self) -> np.ndarray:
        units: np.ndarray = self.prep.units.lead_units[self.prep.units.usable]
        return units

    @property
    def report(self) -> Progress:
        return self.progress or NO_PROGRESS

    @property
    def settings(self) -> SolverPolicy:
        return self.policy.solver

    @property
    def network_shaped(self) -> bool:
        """Every pair takes one capacity unit and one lead: flows are exact but for the
        side rules."""
        pairs = self.prep.pairs
        return bool(np.all(pairs.effort == 1)) and bool(np.all(pairs.size == 1))

    @property
    def counting(self) -> bool:
        """Fairness counts leads (not value)."""
        return self.policy.fairness is not None and self.policy.fairness.metric == "count"

    def time_left(self) -> float:
        return self.budget.time_left()  # 0 once stopped

    def halted(self) -> Finish | None:
        """When ``stop`` is set: the incumbent (or UNKNOWN)."""
        if self.stop is None or not self.stop.is_set():
            return None
        return self.incumbent.finish(self.incumbent.count_upper)


__all__ = ["Run"]
