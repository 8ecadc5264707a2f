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
from datetime import UTC, datetime, timedelta

import pandas as pd

from leadassign.models import Policy, Problem
from leadassign.models.policy import band_tolerance
from leadassign.models.problem import lead_column, lead_values
from leadassign.models.source import RawTable
from leadassign.models.tables import WILDCARD


@dataclass
class Check:
    """What the check found: violations (empty when the assignment is valid) and figures."""

    violations: list[str] = field(default_factory=list)
    assigned: int = 0
    expected_value: float = 0.0
    #: expected value + keep_bonus per kept lead - soft penalties (README "Business rules")
    score: float = 0.0
    #: owned leads that changed owner although the owner could keep them
    changes: int = 0
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
        self.policy = policy
        self.accounts: dict[str, list[int]] = {}
        for i, account in enumerate(problem.leads.account_id.tolist()):
            if account:
                self.accounts.setdefault(str(account), []).append(i)
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
        self.run_date = _RunDate(problem) if problem.ops is not None else None

    def eligible(self, i: int, j: int) -> bool:
        """Eligible by the tables, and the run date allows the pair (``_RunDate``)."""
        if not self.base_eligible(i, j):
            return False
        return self.run_date is None or self.run_date.allows(i, j, self)

    def base_eligible(self, i: int, j: int) -> bool:
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

    def tier_level(self, i: int) -> int:
        """The lowest rep level lead i's value allows (0: any)."""
        need = 0
        for tier in self.policy.tiers:
            if self.value[i] >= tier.min_value:
                need = max(need, tier.min_level)
        return need

    def allowed(self, i: int, j: int) -> bool:
        """Eligible, and the rep's level meets the lead's tier, and (accounts together) the rep
        is allowed every lead of the account with room for their summed effort."""
        if not self.eligible(i, j) or int(self.problem.reps.level[j]) < self.tier_level(i):
            return False
        members = self.account_members(i)
        if len(members) <= 1:
            return True
        if not all(
            self.eligible(k, j) and int(self.problem.reps.level[j]) >= self.tier_level(k)
            for k in members
        ):
            return False
        return sum(self.effort(k, j) for k in members) <= int(self.problem.reps.capacity[j])

    def account_members(self, i: int) -> list[int]:
        if not self.policy.accounts_together:
            return [i]
        account = str(self.problem.leads.account_id[i])
        return self.accounts.get(account, [i]) if account else [i]

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
        elif int(reps.level[j]) < rules.tier_level(i):
            out.violations.append(
                f"lead {lead}: tiers need level {rules.tier_level(i)}, rep {rid} has "
                f"{reps.level[j]}"
            )
        load[j] += rules.effort(i, j)
        count[j] += 1
        total += rules.expected_value(i, j)
        out.assigned += 1
    out.expected_value = total
    if policy.assign_all and out.assigned < n:
        out.violations.append(f"assign_all: {n - out.assigned} of {n} leads unassigned")
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
    out.score = total
    _check_accounts(problem, policy, rules, rep_ids, out)
    _check_fairness(problem, policy, rules, rep_ids, count, out)
    _check_continuity(problem, policy, rules, rep_ids, out)
    held = _check_account_cap(problem, policy, rep_ids, out)
    room = [int(reps.capacity[j]) - load[j] for j in range(m)]
    cap = policy.account_cap.max_per_rep if policy.account_cap is not None else None
    accounts = problem.leads.account_id
    for i, rid in enumerate(rep_ids):
        if rid == "" and any(
            rules.allowed(i, j)
            and sum(rules.effort(k, j) for k in rules.account_members(i)) <= room[j]
            and (cap is None or held.get((str(accounts[i]), j), 0) < cap or not accounts[i])
            for j in range(m)
        ):
            out.improvable.append(str(problem.leads.ids[i]))
    return out


def _check_account_cap(
    problem: Problem, policy: Policy, rep_ids: Sequence[str], out: Check
) -> dict[tuple[str, int], int]:
    """``account_cap``: no rep holds more than ``max_per_rep`` leads of one account. Returns
    the leads each (account, rep position) holds."""
    held: dict[tuple[str, int], int] = {}
    if policy.account_cap is None:
        return held
    index = {str(r): j for j, r in enumerate(problem.reps.ids.tolist())}
    for account, rid in zip(problem.leads.account_id.tolist(), rep_ids, strict=True):
        if account and rid in index:
            key = (str(account), index[rid])
            held[key] = held.get(key, 0) + 1
    cap = policy.account_cap.max_per_rep
    for (account, j), k in sorted(held.items()):
        if k > cap:
            out.violations.append(
                f"rep {problem.reps.ids[j]}: {k} leads of account {account}, "
                f"account_cap max_per_rep allows {cap}"
            )
    return held


def _check_accounts(
    problem: Problem, policy: Policy, rules: _Rules, rep_ids: Sequence[str], out: Check
) -> None:
    if not policy.accounts_together:
        return
    for account, members in rules.accounts.items():
        got = {rep_ids[i] for i in members}
        if len(got) > 1:
            shown = ", ".join(sorted(r or "(unassigned)" for r in got))
            out.violations.append(f"account {account}: its leads went to {shown}")


def _check_fairness(
    problem: Problem,
    policy: Policy,
    rules: _Rules,
    rep_ids: Sequence[str],
    count: list[int],
    out: Check,
) -> None:
    f = policy.fairness
    if f is None:
        return
    reps = problem.reps
    metric = [float(c) for c in count]
    largest = 0.0
    if f.metric != "count":
        amounts = rules.value if f.metric == "value" else _column(problem, f.metric)
        metric = [0.0] * problem.n_reps
        for i, rid in enumerate(rep_ids):
            if rid in rules.rep_index:
                metric[rules.rep_index[rid]] += amounts[i]
        largest = max(amounts, default=0.0)
    if f.within in ("all", "level"):
        keys = [str(int(v)) if f.within == "level" else "" for v in reps.level.tolist()]
    else:  # a column of the reps table, as read from the file
        keys = [str(v).strip() for v in reps.raw.text(f.within).tolist()]
    groups: dict[str, list[int]] = {}
    for j in range(problem.n_reps):
        if bool(reps.available[j]):
            groups.setdefault(keys[j], []).append(j)
    worst = 0.0
    for members in groups.values():
        weight = sum(int(reps.capacity[j]) for j in members)
        if weight == 0:
            continue
        total = sum(metric[j] for j in members)
        for j in members:
            share = int(reps.capacity[j]) / weight * total
            over = max(metric[j] - (1 + f.band) * share, (1 - f.band) * share - metric[j], 0.0)
            worst = max(worst, over)
            tolerance = band_tolerance(f.metric, largest, sum(count), total)
            if f.mode == "hard" and over > tolerance:
                out.violations.append(
                    f"rep {reps.ids[j]}: fairness {f.metric} {metric[j]:g} outside "
                    f"[{(1 - f.band) * share:g}, {(1 + f.band) * share:g}]"
                )
    if f.mode == "soft":
        # E rounded up to a whole lead (count); value: rounded to leadassign's resolution,
        # so the score is approximate there
        excess = math.ceil(worst - 1e-9) if f.metric == "count" else worst
        out.score -= f.weight * excess


def _column(problem: Problem, name: str) -> list[float]:
    """A numeric lead column the policy names, as Python floats."""
    return [float(x) for x in lead_column(problem.leads, name, name)]


class _RunDate:
    """The run date's pair rules, recomputed here in plain Python from the tables: a rep
    away on the run date (a time-off period covers it) takes only leads they own; an owned
    lead untouched for longer than the SLA does not go back to its owner unless no other
    rep is eligible for it (by the tables and tiers)."""

    def __init__(self, problem: Problem) -> None:
        ops = problem.ops
        assert ops is not None
        self.day = ops.at.astimezone(UTC).date()
        reps, leads = problem.reps, problem.leads
        self.away: set[int] = set()
        periods = reps.time_off
        if periods is not None:
            for j, start, end in zip(
                periods.rep.tolist(), periods.start.tolist(), periods.end.tolist(), strict=True
            ):
                if (start is None or start <= self.day) and (end is None or self.day <= end):
                    self.away.add(int(j))
        self.owner = [str(o) for o in leads.current_owner.tolist()]
        self.rep_ids = [str(r) for r in reps.ids.tolist()]
        self.expired: set[int] = set()
        if ops.sla_hours is not None:
            limit = timedelta(hours=ops.sla_hours)
            for i in range(len(leads)):
                touched = _touched(leads.raw, i)
                if self.owner[i] and touched is not None and ops.at - touched > limit:
                    self.expired.add(i)

    def allows(self, i: int, j: int, rules: _Rules) -> bool:
        mine = self.owner[i] == self.rep_ids[j]
        if j in self.away and not mine:
            return False
        if i in self.expired and mine:
            tier = rules.tier_level(i)
            return not any(
                k != j
                and rules.base_eligible(i, k)
                and (k not in self.away)
                and int(rules.problem.reps.level[k]) >= tier
                for k in range(len(self.rep_ids))
            )
        return True


def _touched(raw: RawTable, i: int) -> datetime | None:
    """Lead ``i``'s last_activity, else first_contact, as an aware datetime (UTC if naive)."""
    for column in ("last_activity", "first_contact"):
        if raw.has(column) and (cell := str(raw.text(column)[i])):
            when = datetime.fromisoformat(cell)
            return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return None


def _check_continuity(
    problem: Problem, policy: Policy, rules: _Rules, rep_ids: Sequence[str], out: Check
) -> None:
    reps = problem.reps
    owners = problem.leads.current_owner.tolist()
    c = policy.continuity
    measured = c is not None and c.measure is not None
    size = _column(problem, c.measure) if c is not None and c.measure is not None else None
    owned = changes = kept = 0
    owned_m = moved_m = kept_m = 0.0
    for i, owner in enumerate(owners):
        if not owner:
            continue
        amount = size[i] if size is not None else 1.0
        owned += 1
        owned_m += amount
        j = rules.rep_index[str(owner)]
        keepable = rules.allowed(i, j) and rules.effort(i, j) <= int(reps.capacity[j])
        if rep_ids[i] == owner:
            kept += 1
            kept_m += amount
        elif keepable:
            changes += 1
            moved_m += amount
    out.changes = changes
    if c is None:
        return
    out.score += c.keep_bonus * kept_m
    if c.max_reassign is None:
        return
    if measured:
        # the solver counts the measure in units of 1e-6 of the largest amount (exact with
        # at most 6 decimals)
        limit_m = c.max_reassign * owned_m
        slack = 1e-6 * max(size or [0.0]) * (owned + 1) + 1e-9 * owned_m
        if c.mode == "hard" and moved_m > limit_m + slack:
            out.violations.append(
                f"continuity: {moved_m:g} {c.measure} moved, max_reassign allows {limit_m:g}"
            )
        if c.mode == "soft":
            out.score -= c.weight * max(moved_m - limit_m, 0.0)
        return
    limit = math.floor(c.max_reassign * owned + 1e-9)
    if c.mode == "hard" and changes > limit:
        out.violations.append(
            f"continuity: {changes} owned leads changed owner, max_reassign allows {limit}"
        )
    if c.mode == "soft":
        out.score -= c.weight * max(changes - limit, 0)


def check_assignments(problem: Problem, policy: Policy, assignments: pd.DataFrame) -> Check:
    """Check an ``assignments.csv`` table (as written by leadassign, or the typed
    ``Result.assignments``) against the inputs:
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
        elif not pd.isna(ev):  # NaN in assignments.csv, <NA> in Result.assignments
            out.violations.append(f"lead {ids[i]}: unassigned but expected_value {ev}")
    return out


__all__ = ["Check", "check_assignment", "check_assignments"]
