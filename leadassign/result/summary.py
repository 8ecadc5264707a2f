"""summary.json of a Result, as a dict: status and proof figures, reason counts, churn,
fairness figures, and what the run was given."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from leadassign.result.tables import (
    REASON_FORCED,
    REASON_KEPT,
    REASON_REASSIGNED,
    REASON_RELEASED,
)

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
        out["reassigned"] = int(
            np.isin(reason, [REASON_REASSIGNED, REASON_RELEASED, REASON_FORCED]).sum()
        )
        out["kept"] = int((reason == REASON_KEPT).sum())
        out["forced_moves"] = int((reason == REASON_FORCED).sum())
        out["churn"] = _churn(result, reason)
        out["assigned_value"] = float(result.lead_value[result.pair_of_lead >= 0].sum())
        out["fairness"] = _fairness(result)
    else:
        out["reassigned"] = None
    if result.flow_certificate is not None:
        out["flow_certificate"] = result.flow_certificate
    if result.prices is not None:
        out["price_of_rules"] = result.prices
    if result.baseline is not None:
        out["baseline"] = result.baseline
    if result.rebalance is not None:
        out["rebalance"] = result.rebalance
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


def _churn(result: Result, reason: np.ndarray) -> dict[str, Any]:
    """Owned leads: kept, moved by choice (reassigned or released), forced moves."""
    owned = result.problem.owner >= 0
    c = result.policy.continuity
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


__all__ = ["gini", "summary"]
