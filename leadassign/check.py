"""An independent, solver-free check of an assignment against the input tables.

It shares nothing with the solver but the validated tables: eligibility, expected values,
capacity, floors and the objective are recomputed lead by lead in plain Python (sets and
dicts, linear in the number of leads), so a bug in the vectorized eligibility, the value
scaling or a solver's model shows up as a violation here. Used by every solver test; users
may run it on any ``assignments.csv`` through :func:`check_assignments`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from leadassign.models import Policy, Problem
from leadassign.models.problem import lead_values
from leadassign.models.tables import WILDCARD


@dataclass
class Check:
    """What the check found: violations (empty when the assignment is valid) and figures."""

    violations: list[str] = field(default_factory=list)
    assigned: int = 0
    expected_value: float = 0.0
    #: leads left unassigned although an eligible rep still had room for them (a solution
    #: with such a lead is not count-optimal)
    improvable: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


class _Rules:
    """Eligibility and expected value of one (lead, rep) pair, straight from DESIGN §2."""

    def __init__(self, problem: Problem, policy: Policy) -> None:
        self.problem = problem
        leads, reps = problem.leads, problem.reps
        self.value = [float(v) for v in lead_values(leads, policy.value)]
        self.rep_index = {str(r): j for j, r in enumerate(reps.ids.tolist())}
        self.territories = [set(t) for t in reps.territories.tolist()]
        self.industries = [set(t) - {WILDCARD} for t in reps.industries.tolist()]
        self.skills = [set(t) for t in reps.skills.tolist()]
        self.affinity: dict[tuple[str, str], float] = {}
        if problem.affinity is not None:
            a = problem.affinity
            for rep, ind, rate in zip(
                a.rep_id.tolist(), a.industry.tolist(), a.win_rate.tolist(), strict=True
            ):
                self.affinity[(str(rep), str(ind))] = float(rate)
        self.listed: dict[tuple[int, int], tuple[float, int]] = {}
        if problem.pairs is not None:
            lead_index = {str(x): i for i, x in enumerate(leads.ids.tolist())}
            p = problem.pairs
            for lid, rid, score, effort in zip(
                p.lead_id.tolist(),
                p.rep_id.tolist(),
                p.score.tolist(),
                p.effort.tolist(),
                strict=True,
            ):
                self.listed[(lead_index[str(lid)], self.rep_index[str(rid)])] = (
                    float(score),
                    int(effort),
                )

    def eligible(self, i: int, j: int) -> bool:
        leads, reps = self.problem.leads, self.problem.reps
        if not bool(reps.available[j]):
            return False
        if (
            WILDCARD not in self.territories[j]
            and str(leads.territory[i]) not in self.territories[j]
        ):
            return False
        if self.industries[j] and str(leads.industry[i]) not in self.industries[j]:
            return False
        if not set(leads.skills[i]) <= self.skills[j]:
            return False
        return not (
            self.problem.pairs is not None
            and self.problem.pairs_mode == "only"
            and (i, j) not in self.listed
        )

    def expected_value(self, i: int, j: int) -> float:
        score = self.listed.get((i, j), (math.nan, 0))[0]
        if not math.isnan(score):
            return score
        rep = str(self.problem.reps.ids[j])
        rate = self.affinity.get(
            (rep, str(self.problem.leads.industry[i])), float(self.problem.reps.win_rate[j])
        )
        return self.value[i] * rate

    def effort(self, i: int, j: int) -> int:
        effort = self.listed.get((i, j), (math.nan, 0))[1]
        return effort if effort > 0 else int(self.problem.leads.effort[i])


def check_assignment(problem: Problem, policy: Policy, rep_ids: Sequence[str]) -> Check:
    """Check ``rep_ids`` (one per lead in input order, '' when unassigned) against every rule."""
    rules = _Rules(problem, policy)
    reps = problem.reps
    out = Check()
    n, m = problem.n_leads, problem.n_reps
    if len(rep_ids) != n:
        out.violations.append(f"{len(rep_ids)} assignments for {n} leads")
        return out
    load = [0] * m
    count = [0] * m
    total = 0.0
    for i, rid in enumerate(rep_ids):
        if rid == "":
            continue
        lead = str(problem.leads.ids[i])
        if rid not in rules.rep_index:
            out.violations.append(f"lead {lead}: unknown rep {rid!r}")
            continue
        j = rules.rep_index[rid]
        if not rules.eligible(i, j):
            out.violations.append(f"lead {lead}: rep {rid} is not eligible for it")
        load[j] += rules.effort(i, j)
        count[j] += 1
        total += rules.expected_value(i, j)
        out.assigned += 1
    out.expected_value = total
    for j in range(m):
        rid = str(reps.ids[j])
        if load[j] > int(reps.capacity[j]):
            out.violations.append(f"rep {rid}: effort {load[j]} above capacity {reps.capacity[j]}")
        if bool(reps.available[j]) and count[j] < int(reps.min_leads[j]):
            out.violations.append(
                f"rep {rid}: {count[j]} leads below min_leads {reps.min_leads[j]}"
            )
        if not bool(reps.available[j]) and count[j]:
            out.violations.append(f"rep {rid} is on leave but got {count[j]} leads")
    room = [int(reps.capacity[j]) - load[j] for j in range(m)]
    for i, rid in enumerate(rep_ids):
        if rid == "" and any(
            rules.eligible(i, j) and rules.effort(i, j) <= room[j] for j in range(m)
        ):
            out.improvable.append(str(problem.leads.ids[i]))
    return out


def check_assignments(problem: Problem, policy: Policy, assignments: pd.DataFrame) -> Check:
    """Check an ``assignments.csv`` table (as written by leadassign) against the inputs:
    one row per lead in input order, every rule, and its ``expected_value`` column."""
    out = Check()
    ids = assignments["lead_id"].astype(str).tolist()
    expected_ids = [str(x) for x in problem.leads.ids.tolist()]
    if ids != expected_ids:
        out.violations.append("assignments.csv does not list every lead once, in input order")
        return out
    rep_ids = assignments["rep_id"].fillna("").astype(str).tolist()
    out = check_assignment(problem, policy, rep_ids)
    rules = _Rules(problem, policy)
    column = assignments["expected_value"].tolist()
    for i, (rid, ev) in enumerate(zip(rep_ids, column, strict=True)):
        if rid and rid in rules.rep_index:
            want = rules.expected_value(i, rules.rep_index[rid])
            if not math.isclose(float(ev), want, rel_tol=1e-12, abs_tol=1e-9):
                out.violations.append(
                    f"lead {ids[i]}: expected_value {ev} but the inputs give {want}"
                )
        elif not (isinstance(ev, float) and math.isnan(ev)):
            out.violations.append(f"lead {ids[i]}: unassigned but expected_value {ev}")
    return out


__all__ = ["Check", "check_assignment", "check_assignments"]
