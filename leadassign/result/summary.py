"""summary.json of a Result, as a dict: status and proof figures, reason counts, churn,
fairness figures, and what the run was given."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from leadassign.models.operations import REASON_HANDOVER, REASON_LEAVING, REASON_SLA
from leadassign.models.policy import band_tolerance
from leadassign.models.problem import lead_column
from leadassign.result.capacity import capacity_section
from leadassign.result.churn import KEPT, churn_counts, churn_labels
from leadassign.result.tables import (
    REASON_FORCED,
    REASON_HELD_BACK,
    REASON_KEPT,
)

#: Owned leads whose owner may not keep them: each a forced move, free under max_reassign.
FORCED_REASONS = (REASON_FORCED, REASON_SLA, REASON_HANDOVER, REASON_LEAVING)

if TYPE_CHECKING:
    from leadassign.result.result import Result


def summary(result: Result) -> dict[str, Any]:
    """summary.json as a dict (times included; everything else is deterministic)."""
    from leadassign import __version__

    problem = result.problem
    out: dict[str, Any] = {
        "status": result.status.value,
        "method": result.method,
        "objective": result.objective,
        "best_bound": result.best_bound,
        "gap": result.gap,
        "bound_by": result.bound_by,
        "assigned": result.assigned if result.has_solution else None,
        "assigned_bound": result.assigned_bound,
        "unassigned": problem.n_leads - result.assigned if result.has_solution else None,
        "expected_value": result.expected_value,
        "leads": problem.n_leads,
        "reps": problem.n_reps,
        "reps_available": int(problem.reps.available.sum()),
        "eligible_pairs": len(result.candidates),
        "conflicts": list(result.conflicts),
        "interrupted": result.interrupted,
        "limited_by": result.limited_by,
    }
    if result.has_solution:
        reason, _ = result.reasons
        codes, counts = np.unique(reason.astype(str), return_counts=True)
        out["reasons"] = {str(c): int(k) for c, k in zip(codes, counts, strict=True)}
        churn = _churn(result, reason)
        # owned leads whose owner changed: moved, released or held back (churn words)
        out["reassigned"] = churn["owned"] - churn["kept"]
        out["kept"] = int((reason == REASON_KEPT).sum())
        out["forced_moves"] = int(np.isin(reason, FORCED_REASONS).sum())
        out["churn"] = churn
        out["assigned_value"] = float(result.lead_value[result.pair_of_lead >= 0].sum())
        out["fairness"] = _fairness(result)
    else:
        out["reassigned"] = None
    if result.flow_certificate is not None:
        out["flow_certificate"] = result.flow_certificate
    if result.prices is not None:
        out["price_of_rules"] = result.prices
    if result.capacity is not None and result.has_solution:
        out["capacity"] = capacity_section(result.capacity, problem.reps, result.prices)
    if result.baseline is not None:
        out["baseline"] = result.baseline
    if result.rebalance is not None:
        out["rebalance"] = result.rebalance
    if result.holdout is not None:
        out["holdout"] = result.holdout
    if problem.ops is not None:
        out["operations"] = _operations(result)
    if problem.pairs is not None:
        out["pairs_table_rows_ignored"] = result.candidates.pairs_ignored
    out.update(
        {
            "value_scale": result.value_scale,
            "build_s": round(result.build_s, 4),
            "solve_s": round(result.solve_s, 4),
            "inputs": {name: {"sha256": d} for name, d in problem.digests.items()},
            "pairs_mode": problem.pairs_mode if problem.pairs is not None else None,
            "policy": result.policy.model_dump(mode="json"),
            "seed": result.policy.solver.seed,
            "version": __version__,
        }
    )
    return out


def _operations(result: Result) -> dict[str, Any]:
    """summary.json ``operations``: the run time, what it changed, and per forced reason
    (``rep_leaving``, ``time_off_handover``, ``sla_release``) the leads and value it moved
    and to whom (per receiving rep: leads and lead value)."""
    ops = result.problem.ops
    assert ops is not None
    out = ops.summary()
    if not result.has_solution:
        return out
    reason, _ = result.reasons
    rep = result.rep_of_lead
    ids = result.problem.reps.ids
    for code in (REASON_LEAVING, REASON_HANDOVER, REASON_SLA):
        mine = reason == code
        to = rep[mine]
        values = result.lead_value[mine]
        got = to >= 0
        receivers: dict[str, Any] = {}
        for j in np.unique(to[got]).tolist():
            hit = to == j
            receivers[str(ids[j])] = {
                "leads": int(hit.sum()),
                "value": float(values[hit].sum()),
            }
        out[code] = {
            "leads": int(mine.sum()),
            "moved": int(got.sum()),
            "unassigned": int((~got).sum()),
            "value": float(values.sum()),
            "value_moved": float(values[got].sum()),
            "to": receivers,
        }
    return out


def _churn(result: Result, reason: np.ndarray) -> dict[str, Any]:
    """Owned leads against their current owner, in the churn words of ``result.churn``
    (kept, moved, released, held_back, new), with the forced moves among them and the
    changes the continuity limit counts (owners who could keep their lead and did not)."""
    problem = result.problem
    owned = problem.owner >= 0
    c = result.policy.continuity
    limit = c.changes_allowed(int(owned.sum())) if c is not None else None
    ids = problem.reps.ids
    before = np.where(owned, ids[np.maximum(problem.owner, 0)], "") if len(ids) else owned
    rep = result.rep_of_lead
    after = np.where(rep >= 0, ids[np.maximum(rep, 0)], "") if len(ids) else rep.astype(str)
    labels = churn_labels(before, after, reason == REASON_HELD_BACK)
    _, keepable = result.owner_status
    changed = owned & keepable & (labels != KEPT)
    changes = int(changed.sum())
    measured: dict[str, Any] = {}
    if c is not None and c.measure is not None:
        # continuity.measure: the limit is on the column moved, not on leads
        amounts = lead_column(problem.leads, c.measure, "continuity.measure")
        total = float(amounts[owned].sum())
        limit = None
        measured = {
            "measure": c.measure,
            "owned_measure": total,
            "kept_measure": float(amounts[owned & (labels == KEPT)].sum()),
            "moved_measure": float(amounts[changed].sum()),
            "moved_allowed": None if c.max_reassign is None else c.max_reassign * total,
        }
    return {
        "owned": int(owned.sum()),
        **churn_counts(labels),
        "forced_moves": int(np.isin(reason, FORCED_REASONS).sum()),
        "changes": changes,
        "changes_allowed": limit,
        **measured,
    }


def _fairness(result: Result) -> dict[str, Any]:
    available = result.problem.reps.available
    table = result.rep_table[available]

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
    f = result.policy.fairness
    if f is not None:
        out["band"] = _band_figures(result)
    return out


def _band_figures(result: Result) -> dict[str, Any]:
    """Each rep's metric against its share: the largest excess outside the band and the
    reps outside it (none when the band is hard and the solution feasible)."""
    f = result.policy.fairness
    assert f is not None
    reps, table = result.problem.reps, result.rep_table
    amounts: np.ndarray | None = None
    if f.metric in ("count", "value"):
        metric = table["assigned" if f.metric == "count" else "assigned_value"].to_numpy(
            dtype=np.float64
        )
        if f.metric == "value":
            amounts = result.lead_value
    else:
        amounts = lead_column(result.problem.leads, f.metric, "fairness.metric")
        rep = result.rep_of_lead
        metric = np.bincount(
            rep[rep >= 0], weights=amounts[rep >= 0], minlength=result.problem.n_reps
        )
    largest = float(amounts.max(initial=0.0)) if amounts is not None else 0.0
    leads = int(table["assigned"].to_numpy(dtype=np.int64).sum())  # as the checker counts
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
            if over > band_tolerance(f.metric, largest, leads, total):
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


__all__ = ["gini", "summary"]
