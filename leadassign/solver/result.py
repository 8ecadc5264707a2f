"""The outcome of a solve: status, proof figures, and the output tables (DESIGN §3)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from leadassign.models.policy import Policy
from leadassign.models.problem import Problem
from leadassign.solver.candidates import Candidates


class Status(enum.StrEnum):
    """CP-SAT's statuses, kept apart: UNKNOWN (no solution yet) is not INFEASIBLE."""

    OPTIMAL = "OPTIMAL"  # proven: the objective equals the bound
    FEASIBLE = "FEASIBLE"  # a solution, not proven optimal (time limit or relative gap)
    INFEASIBLE = "INFEASIBLE"  # proven: no assignment satisfies the hard rules
    UNKNOWN = "UNKNOWN"  # no solution found within the time limit, nothing proven
    MODEL_INVALID = "MODEL_INVALID"  # the model was rejected: a bug, please report it

    @property
    def has_solution(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)


class NoSolutionError(RuntimeError):
    """Asked for an assignment of a result that has none (INFEASIBLE, UNKNOWN, ...)."""


REASON_ASSIGNED = "assigned"
REASON_KEPT = "kept"
REASON_REASSIGNED = "reassigned"
REASON_FORCED = "forced_move"
REASON_NO_ELIGIBLE = "no_eligible_rep"
REASON_NO_CAPACITY = "no_capacity"
REASON_NOT_CHOSEN = "unassigned"


@dataclass(frozen=True, eq=False)
class Result:
    """What :func:`leadassign.solve` returns.

    ``objective`` is the total expected value of the assignment, recomputed in floats;
    ``best_bound`` is a proven upper bound on it among assignments of ``assigned_bound`` leads;
    ``gap`` is their relative difference. ``status`` OPTIMAL means the optimum is proven.
    """

    status: Status
    method: str
    problem: Problem
    policy: Policy
    candidates: Candidates = field(repr=False)
    pair_of_lead: np.ndarray = field(repr=False)  # index into candidates, -1 unassigned
    lead_value: np.ndarray = field(repr=False)  # each lead's value (column or value.weights)
    objective: float | None
    best_bound: float | None
    gap: float | None
    assigned_bound: int | None
    value_scale: float
    build_s: float
    solve_s: float
    conflicts: tuple[str, ...] = ()

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

    @property
    def expected_value(self) -> float | None:
        return self.objective

    def _require_solution(self) -> None:
        if not self.has_solution:
            detail = f": {'; '.join(self.conflicts)}" if self.conflicts else ""
            raise NoSolutionError(f"no assignment: the solve ended {self.status.value}{detail}")

    @cached_property
    def reasons(self) -> tuple[np.ndarray, np.ndarray]:
        """Per lead: the reason code and a detail in words (assignments.csv)."""
        self._require_solution()
        cands, problem = self.candidates, self.problem
        n = problem.n_leads
        assigned = self.pair_of_lead >= 0
        rep = self.rep_of_lead
        owner = problem.owner
        reason = np.full(n, REASON_ASSIGNED, dtype=object)
        detail = np.full(n, "", dtype=object)

        # Owner still a candidate for its lead? (on leave, out of rules or full-by-design: no)
        owner_ok = np.zeros(n, dtype=bool)
        has_owner = owner >= 0
        matches = has_owner[cands.lead] & (cands.rep == owner[cands.lead])
        usable = cands.effort <= problem.reps.capacity[cands.rep]
        owner_ok[cands.lead[matches & usable]] = True
        reason[assigned & has_owner & (rep == owner)] = REASON_KEPT
        moved = assigned & has_owner & (rep != owner)
        reason[moved & owner_ok] = REASON_REASSIGNED
        reason[moved & ~owner_ok] = REASON_FORCED
        owner_ids = problem.reps.ids[np.where(has_owner, owner, 0)] if problem.n_reps else owner
        forced = moved & ~owner_ok
        detail[forced] = [f"owner {o} cannot keep it" for o in owner_ids[forced]]
        detail[moved & owner_ok] = [f"from {o}" for o in owner_ids[moved & owner_ok]]

        none = ~assigned & (cands.eligible_reps == 0)
        reason[none] = REASON_NO_ELIGIBLE
        detail[none] = cands.why_none[none]
        # Unassigned with candidates: full reps, unless some candidate still had room.
        load = np.bincount(
            rep[assigned],
            weights=cands.effort[self.pair_of_lead[assigned]],
            minlength=problem.n_reps,
        )
        room = problem.reps.capacity - load
        open_pair = (~assigned[cands.lead]) & usable & (cands.effort <= room[cands.rep])
        had_room = np.bincount(cands.lead[open_pair], minlength=n) > 0
        waiting = ~assigned & ~none
        reason[waiting & ~had_room] = REASON_NO_CAPACITY
        counts = cands.eligible_reps
        detail[waiting & ~had_room] = [
            f"its {k} eligible rep{'s' if k != 1 else ''} had no room left"
            for k in counts[waiting & ~had_room]
        ]
        reason[waiting & had_room] = REASON_NOT_CHOSEN
        detail[waiting & had_room] = "not placed in the best solution found (not proven optimal)"
        return reason, detail

    @cached_property
    def assignments(self) -> pd.DataFrame:
        """One row per input lead, in input order: lead_id, rep_id, expected_value, reason,
        detail, eligible_reps, then the lead's own input columns."""
        self._require_solution()
        leads = self.problem.leads
        rep = self.rep_of_lead
        assigned = rep >= 0
        rep_id = np.full(len(leads), "", dtype=object)
        if self.problem.n_reps:
            rep_id[assigned] = self.problem.reps.ids[rep[assigned]]
        ev = np.full(len(leads), np.nan)
        ev[assigned] = self.candidates.ev[self.pair_of_lead[assigned]]
        reason, detail = self.reasons
        frame = pd.DataFrame(
            {
                "lead_id": leads.ids,
                "rep_id": rep_id,
                "expected_value": ev,
                "reason": reason,
                "detail": detail,
                "eligible_reps": self.candidates.eligible_reps,
            }
        )
        raw = leads.raw.frame
        carried = [c for c in raw.columns if c != "lead_id"]
        return pd.concat([frame, raw[carried].reset_index(drop=True)], axis=1)

    @cached_property
    def rep_table(self) -> pd.DataFrame:
        """Per rep: load, capacity, utilization and value (reps.csv)."""
        self._require_solution()
        reps = self.problem.reps
        m = len(reps)
        rep = self.rep_of_lead
        assigned = rep >= 0
        chosen = self.pair_of_lead[assigned]
        count = np.bincount(rep[assigned], minlength=m)
        effort = np.bincount(rep[assigned], weights=self.candidates.effort[chosen], minlength=m)
        value = np.bincount(rep[assigned], weights=self.lead_value[assigned], minlength=m)
        ev = np.bincount(rep[assigned], weights=self.candidates.ev[chosen], minlength=m)
        capacity = reps.capacity
        utilization = np.divide(
            effort, capacity, out=np.zeros(m, dtype=np.float64), where=capacity > 0
        )
        return pd.DataFrame(
            {
                "rep_id": reps.ids,
                "assigned": count.astype(np.int64),
                "capacity": capacity,
                "utilization": utilization,
                "assigned_value": value,
                "expected_value": ev,
                "assigned_effort": effort.astype(np.int64),
                "min_leads": reps.min_leads,
                "level": reps.level,
                "available": np.where(reps.available, "true", "false"),
            }
        )

    def summary(self) -> dict[str, Any]:
        """summary.json as a dict (times included; everything else is deterministic)."""
        from leadassign import __version__

        problem = self.problem
        out: dict[str, Any] = {
            "status": self.status.value,
            "method": self.method,
            "objective": self.objective,
            "best_bound": self.best_bound,
            "gap": self.gap,
            "assigned": self.assigned if self.has_solution else None,
            "assigned_bound": self.assigned_bound,
            "unassigned": problem.n_leads - self.assigned if self.has_solution else None,
            "expected_value": self.objective,
            "leads": problem.n_leads,
            "reps": problem.n_reps,
            "reps_available": int(problem.reps.available.sum()),
            "eligible_pairs": len(self.candidates),
            "conflicts": list(self.conflicts),
        }
        if self.has_solution:
            reason, _ = self.reasons
            codes, counts = np.unique(reason.astype(str), return_counts=True)
            out["reasons"] = {str(c): int(k) for c, k in zip(codes, counts, strict=True)}
            out["reassigned"] = int(np.isin(reason, [REASON_REASSIGNED, REASON_FORCED]).sum())
            out["kept"] = int((reason == REASON_KEPT).sum())
            out["forced_moves"] = int((reason == REASON_FORCED).sum())
            out["assigned_value"] = float(self.lead_value[self.pair_of_lead >= 0].sum())
            out["fairness"] = self._fairness()
        else:
            out["reassigned"] = None
        if problem.pairs is not None:
            out["pairs_table_rows_ignored"] = self.candidates.pairs_ignored
        out.update(
            {
                "value_scale": self.value_scale,
                "build_s": round(self.build_s, 4),
                "solve_s": round(self.solve_s, 4),
                "inputs": {name: {"sha256": d} for name, d in problem.digests.items()},
                "pairs_mode": problem.pairs_mode if problem.pairs is not None else None,
                "policy": self.policy.model_dump(mode="json"),
                "seed": self.policy.solver.seed,
                "version": __version__,
            }
        )
        return out

    def _fairness(self) -> dict[str, Any]:
        table = self.rep_table[self.problem.reps.available]

        def stats(column: str) -> dict[str, float | None]:
            values = table[column].to_numpy(dtype=np.float64)
            if len(values) == 0:
                return {"min": None, "max": None, "mean": None}
            return {
                "min": float(values.min()),
                "max": float(values.max()),
                "mean": float(values.mean()),
            }

        return {
            "reps_counted": len(table),
            "leads_per_rep": stats("assigned"),
            "value_per_rep": stats("assigned_value"),
            "expected_value_per_rep": stats("expected_value"),
            "utilization": stats("utilization"),
        }


__all__ = ["NoSolutionError", "Result", "Status"]
