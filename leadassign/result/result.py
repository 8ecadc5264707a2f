"""The outcome of a solve: status, proof figures, and the output tables (DESIGN §3)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from leadassign.compile.candidates import Candidates, best_per_lead
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem


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
REASON_RELEASED = "released"
REASON_NO_CAPACITY = "no_capacity"
REASON_HELD_BACK = "held_back"
REASON_NOT_CHOSEN = "unassigned"


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
    #: why the solve was stopped early ("SIGTERM", "SIGINT", ...; None: it was not)
    interrupted: str | None = None
    #: what cut the search (summary "limited_by"): "work" (the deterministic work limit),
    #: "time" (the wall-clock limit) or "stop" (a signal); None when nothing did
    limited_by: str | None = None
    #: with price_rules: per hard rule, what dropping it would gain (see solve_with_prices)
    prices: dict[str, dict[str, Any]] | None = None
    #: from leadassign.baselines: the strategy and the rules it ignored (summary "baseline")
    baseline: dict[str, Any] | None = None
    #: from a rebalance: the run its owners came from and what changed (summary "rebalance")
    rebalance: dict[str, Any] | None = None

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

    def _require_solution(self) -> None:
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
        self._require_solution()
        cands, problem = self.candidates, self.problem
        n = problem.n_leads
        assigned = self.pair_of_lead >= 0
        rep = self.rep_of_lead
        owner = problem.owner
        ids = problem.reps.ids
        reason = np.full(n, REASON_ASSIGNED, dtype=object)
        detail = np.full(n, "", dtype=object)

        # Unassigned: nobody eligible, everybody full, or held back although a rep had room.
        none = ~assigned & (cands.eligible_reps == 0)
        reason[none] = REASON_NO_ELIGIBLE
        detail[none] = cands.why_none[none]
        had_room = self._had_room(assigned, rep)
        waiting = ~assigned & ~none
        full = waiting & ~had_room
        reason[full] = REASON_NO_CAPACITY
        detail[full] = [
            f"its {k} eligible rep{'s' if k != 1 else ''} had no room left"
            for k in cands.eligible_reps[full]
        ]
        held = waiting & had_room
        if self.status == Status.OPTIMAL and self.policy.hard_fairness is not None:
            reason[held] = REASON_HELD_BACK
            detail[held] = "an eligible rep had room, but taking it would break the fairness band"
        else:
            reason[held] = REASON_NOT_CHOSEN
            detail[held] = "not placed in the best solution found (not proven optimal)"

        # Owned leads: kept, reassigned or released by choice, or a forced move.
        owned, keepable = self.owner_status
        owner_ids = np.where(owned, ids[np.maximum(owner, 0)], "") if len(ids) else owner
        kept = owned & (rep == owner)
        reason[kept] = REASON_KEPT
        moved = owned & keepable & assigned & (rep != owner)
        reason[moved] = REASON_REASSIGNED
        detail[moved] = [f"from {o}" for o in owner_ids[moved]]
        released = owned & keepable & ~assigned
        reason[released] = REASON_RELEASED
        detail[released] = [
            f"owner {o} could keep it; left unassigned ({d or r})"
            for o, d, r in zip(owner_ids[released], detail[released], reason[released], strict=True)
        ]
        forced = owned & ~keepable
        on_leave = ~problem.reps.available[np.maximum(owner, 0)] if len(ids) else owned
        why = np.where(on_leave, "is on leave", "may not take it")
        detail[forced] = [
            f"owner {o} {w}" + ("" if a else f"; left unassigned ({d or r})")
            for o, w, a, d, r in zip(
                owner_ids[forced],
                why[forced],
                assigned[forced],
                detail[forced],
                reason[forced],
                strict=True,
            )
        ]
        reason[forced] = REASON_FORCED
        return reason, detail

    def _had_room(self, assigned: np.ndarray, rep: np.ndarray) -> np.ndarray:
        """Per lead: some eligible rep had room left for it (for its whole account, when
        accounts are kept together)."""
        cands, problem = self.candidates, self.problem
        n = problem.n_leads
        load = np.bincount(
            rep[assigned],
            weights=cands.effort[self.pair_of_lead[assigned]],
            minlength=problem.n_reps,
        )
        room = problem.reps.capacity - load
        open_pair = (~assigned[cands.lead]) & (self.unit_effort <= room[cands.rep])
        result: np.ndarray = np.bincount(cands.lead[open_pair], minlength=n) > 0
        return result

    @cached_property
    def runner_up(self) -> tuple[np.ndarray, np.ndarray]:
        """Per lead: the best eligible rep other than the one it got (by expected value, then
        rep order), and that pair's expected value; '' and NaN when there is none."""
        cands, n = self.candidates, self.problem.n_leads
        rep_id = np.full(n, "", dtype=object)
        value = np.full(n, np.nan)
        ev = cands.ev.astype(np.float64, copy=True)
        ev[self.pair_of_lead[self.pair_of_lead >= 0]] = -np.inf
        best = best_per_lead(ev, cands.lead)  # pairs are sorted by lead, then rep
        rep_id[cands.lead[best]] = self.problem.reps.ids[cands.rep[best]]
        value[cands.lead[best]] = cands.ev[best]
        return rep_id, value

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
                "runner_up": self.runner_up[0],
                "runner_up_value": self.runner_up[1],
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
            "expected_value": self.expected_value,
            "leads": problem.n_leads,
            "reps": problem.n_reps,
            "reps_available": int(problem.reps.available.sum()),
            "eligible_pairs": len(self.candidates),
            "conflicts": list(self.conflicts),
            "interrupted": self.interrupted,
            "limited_by": self.limited_by,
        }
        if self.has_solution:
            reason, _ = self.reasons
            codes, counts = np.unique(reason.astype(str), return_counts=True)
            out["reasons"] = {str(c): int(k) for c, k in zip(codes, counts, strict=True)}
            out["reassigned"] = int(
                np.isin(reason, [REASON_REASSIGNED, REASON_RELEASED, REASON_FORCED]).sum()
            )
            out["kept"] = int((reason == REASON_KEPT).sum())
            out["forced_moves"] = int((reason == REASON_FORCED).sum())
            out["churn"] = self._churn(reason)
            out["assigned_value"] = float(self.lead_value[self.pair_of_lead >= 0].sum())
            out["fairness"] = self._fairness()
        else:
            out["reassigned"] = None
        if self.prices is not None:
            out["price_of_rules"] = self.prices
        if self.baseline is not None:
            out["baseline"] = self.baseline
        if self.rebalance is not None:
            out["rebalance"] = self.rebalance
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

    def _churn(self, reason: np.ndarray) -> dict[str, Any]:
        """Owned leads: kept, moved by choice (reassigned or released), forced moves."""
        owned = self.problem.owner >= 0
        c = self.policy.continuity
        limit = c.changes_allowed(int(owned.sum())) if c is not None else None
        changes = int(np.isin(reason, [REASON_REASSIGNED, REASON_RELEASED]).sum())
        return {
            "owned": int(owned.sum()),
            "kept": int((reason == REASON_KEPT).sum()),
            "reassigned": int((reason == REASON_REASSIGNED).sum()),
            "released": int((reason == REASON_RELEASED).sum()),
            "forced_moves": int((reason == REASON_FORCED).sum()),
            "changes": changes,
            "changes_allowed": limit,
        }

    def _fairness(self) -> dict[str, Any]:
        available = self.problem.reps.available
        table = self.rep_table[available]

        def stats(column: str) -> dict[str, float | None]:
            values = table[column].to_numpy(dtype=np.float64)
            if len(values) == 0:
                return {"min": None, "max": None, "mean": None}
            return {
                "min": float(values.min()),
                "max": float(values.max()),
                "mean": float(values.mean()),
            }

        utilization = table["utilization"].to_numpy(dtype=np.float64)
        out: dict[str, Any] = {
            "reps_counted": len(table),
            "leads_per_rep": stats("assigned"),
            "value_per_rep": stats("assigned_value"),
            "expected_value_per_rep": stats("expected_value"),
            "utilization": stats("utilization"),
            "utilization_spread": float(utilization.max() - utilization.min())
            if len(utilization)
            else None,
            "gini_assigned_value": gini(table["assigned_value"].to_numpy(dtype=np.float64)),
        }
        f = self.policy.fairness
        if f is not None:
            out["band"] = self._band_figures()
        return out

    def _band_figures(self) -> dict[str, Any]:
        """Each rep's metric against its share: the largest excess outside the band and the
        reps outside it (none when the band is hard and the solution feasible)."""
        f = self.policy.fairness
        assert f is not None
        reps, table = self.problem.reps, self.rep_table
        metric = table["assigned" if f.metric == "count" else "assigned_value"].to_numpy(
            dtype=np.float64
        )
        available = reps.available
        group = np.where(available, reps.level if f.within == "level" else 0, -1)
        worst, outside = 0.0, []
        for g in np.unique(group[group >= 0]).tolist():
            members = np.flatnonzero(group == g)
            weight = float(reps.capacity[members].sum())
            if weight <= 0:
                continue
            total = float(metric[members].sum())
            for j in members.tolist():
                share = float(reps.capacity[j]) / weight * total
                over = max(metric[j] - (1 + f.band) * share, (1 - f.band) * share - metric[j])
                if over > 1e-9 * max(total, 1.0):
                    outside.append(str(reps.ids[j]))
                worst = max(worst, over)
        return {
            "metric": f.metric,
            "band": f.band,
            "within": f.within,
            "mode": f.mode,
            "largest_excess": worst,
            "reps_outside": outside,
        }


def gini(values: np.ndarray) -> float | None:
    """Gini coefficient of non-negative values (0: all equal; None when empty or all 0)."""
    if len(values) == 0 or float(values.sum()) <= 0:
        return None
    ordered = np.sort(values)
    k = len(ordered)
    ranks = np.arange(1, k + 1)
    return float((2 * (ranks * ordered).sum()) / (k * ordered.sum()) - (k + 1) / k)


__all__ = ["NoSolutionError", "Result", "Status"]
