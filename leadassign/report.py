"""Short human-readable summaries for the terminal (the CLI prints these)."""

from __future__ import annotations

from typing import Any

import numpy as np

from leadassign.compile.candidates import Candidates
from leadassign.compile.prepare import prepare
from leadassign.models import Policy, Problem
from leadassign.result import Result
from leadassign.result.capacity import capacity_line
from leadassign.result.churn import churn_line


def _money(x: float) -> str:
    """A figure as it is: whole figures without decimals, figures of 100 and more to the
    cent, smaller ones to 6 significant digits (0.1696, -15.0374), and never "-0"."""
    if x == round(x) and abs(x) < 1e15:
        text = f"{x:,.0f}"
    elif abs(x) >= 100:
        text = f"{x:,.2f}"
    else:
        text = f"{x:.6g}"
    return text[1:] if text.startswith("-") and text.strip("-0.,") == "" else text


def human_summary(result: Result) -> str:
    """A few lines: status and proof, leads assigned, expected value, utilization."""
    problem = result.problem
    n = problem.n_leads
    lines = []
    if result.status == "OPTIMAL":
        proof = "proven optimal"
    elif result.gap is not None:
        proof = f"gap {result.gap:.4%}"
    else:  # the lead count is not proven, so the value has no bound to measure a gap by
        proof = "gap unknown: the number of leads assigned is not proven the most possible"
    cut = {"work": "the work limit", "time": "the time limit", "stop": "a signal"}
    if result.limited_by in cut:
        proof += f"; cut by {cut[result.limited_by]}"
    elif result.limited_by == "gap":
        proof += f"; stopped within relative_gap {result.policy.solver.relative_gap:g}"
    proved = "" if result.bound_by is None else f", bound by {result.bound_by}"
    lines.append(
        f"status: {result.status.value} ({proof}; method {result.method}{proved}, "
        f"{result.build_s + result.solve_s:.2f} s)"
    )
    assigned = result.assigned
    share = f" ({assigned / n:.1%})" if n else ""
    bound = ""
    if result.assigned_bound is not None and result.assigned_bound != assigned:
        bound = f", at most {result.assigned_bound} possible"
    lines.append(f"assigned: {assigned} of {n} leads{share}{bound}")
    if result.expected_value is not None and result.objective is not None:
        line = f"expected value: {_money(result.expected_value)}"
        if abs(result.objective - result.expected_value) > 1e-9 * max(
            abs(result.expected_value), 1.0
        ):
            line += f"; value score {_money(result.objective)}"
        if result.best_bound is not None and result.status != "OPTIMAL":
            line += f" (bound {_money(result.best_bound)})"
        lines.append(line)
    summary = result.summary()
    reasons = summary["reasons"]
    others = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()) if k != "assigned")
    if others:
        lines.append(f"unassigned or moved: {others}")
    table = result.rep_table[problem.reps.available & (problem.reps.capacity > 0)]
    if len(table):
        util = table["utilization"].to_numpy()
        lines.append(
            f"utilization: mean {util.mean():.0%}, min {util.min():.0%}, max {util.max():.0%} "
            f"over {len(table)} available reps"
        )
    churn = summary["churn"]
    if churn["owned"]:
        lines.append(churn_line(churn))
    lines += operations_lines(summary.get("operations"))
    return "\n".join(lines + _price_lines(result))


def _price_lines(result: Result) -> list[str]:
    """What one more unit of capacity is worth, and the price of each hard rule."""
    lines = []
    if result.capacity is not None:
        worth = capacity_line(result.capacity, result.problem.reps)
        if worth is not None:
            lines.append(worth)
    for rule, price in (result.prices or {}).items():
        if "objective_gain" in price:
            lines.append(
                f"price of {rule}: {price['assigned_gain']:+d} leads, "
                f"{_money(price['objective_gain'])} value score without it"
            )
        else:
            lines.append(f"price of {rule}: without it the solve ends {price['status']}")
    return lines


def operations_lines(ops: dict[str, Any] | None) -> list[str]:
    """The run date's handovers (summary.json ``operations``): per reason the leads and value
    it moved, and per receiving rep what they got."""
    if not ops:
        return []
    lines = [
        f"run time {ops['at']}: {ops['reps_away_keeping_book']} away keeping their book, "
        f"{ops['reps_handing_over']} handing over, {ops['reps_leaving']} leaving, "
        f"{ops['sla_expired']} leads past the SLA"
    ]
    for code in ("rep_leaving", "time_off_handover", "sla_release"):
        moved = ops.get(code)
        if not moved or not moved["leads"]:
            continue
        lines.append(
            f"{code}: {moved['leads']} leads, value {_money(moved['value'])}; "
            f"{moved['moved']} moved, {moved['unassigned']} unassigned"
        )
        lines += [
            f"  to {rep:<12} {got['leads']:>6} leads  value {_money(got['value'])}"
            for rep, got in moved["to"].items()
        ]
    return lines


def describe_inputs(problem: Problem, policy: Policy, cands: Candidates | None = None) -> str:
    """What ``validate`` prints: table sizes and how many leads have any eligible rep
    (``cands``: ``prepare(problem, policy).cands`` when already at hand)."""
    if cands is None:
        cands = prepare(problem, policy).cands
    no_rep = int((cands.eligible_reps == 0).sum())
    available = problem.reps.available
    capacity = int(problem.reps.capacity[available].sum())
    lines = [
        f"valid: {problem.n_leads} leads, {problem.n_reps} reps "
        f"({int(available.sum())} available, capacity {capacity})",
        f"eligible lead-rep pairs: {len(cands)}; leads with no eligible rep: {no_rep}",
    ]
    if problem.affinity is not None:
        lines.append(f"affinity rows: {len(problem.affinity)}")
    if problem.pairs is not None:
        lines.append(
            f"pairs rows: {len(problem.pairs)} (mode {problem.pairs_mode}; "
            f"{cands.pairs_ignored} not eligible under the other rules)"
        )
    if no_rep:
        first = np.flatnonzero(cands.eligible_reps == 0)[:3]
        shown = "; ".join(f"{problem.leads.ids[i]}: {cands.why_none[i]}" for i in first.tolist())
        lines.append(f"for example {shown}")
    return "\n".join(lines)
