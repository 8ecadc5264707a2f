"""The business rules of README "Business rules" in plain Python, lead by lead, with exact
fractions: :class:`Ref` (a book's rules as lists), :func:`evaluate` (every rule for one
assignment, and the value score) and :func:`brute_force` (the lexicographic optimum over every
assignment of a tiny book). Nothing here comes from leadassign's solver but the table
conventions; eligibility is :func:`tests.oracles.eligibility.pair_tables`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pandas as pd

from tests.oracles.eligibility import Book, is_available, pair_tables

PolicyDict = dict[str, Any]

REL_TOL = 1e-6


def close(a: float, b: float, rel: float = REL_TOL) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-6)


@dataclass(frozen=True)
class RuleBook:
    """Input tables and a policy (as the YAML mapping)."""

    leads: pd.DataFrame
    reps: pd.DataFrame
    affinity: pd.DataFrame | None
    policy: PolicyDict

    def with_policy(self, **blocks: Any) -> RuleBook:
        """A copy with policy blocks replaced (None removes a block)."""
        policy = {k: v for k, v in {**self.policy, **blocks}.items() if v is not None}
        return RuleBook(self.leads, self.reps, self.affinity, policy)

    def with_reps(self, reps: pd.DataFrame) -> RuleBook:
        return RuleBook(self.leads, reps, self.affinity, self.policy)

    def with_leads(self, leads: pd.DataFrame) -> RuleBook:
        return RuleBook(leads, self.reps, self.affinity, self.policy)


def policy_block(policy: PolicyDict, name: str) -> dict[str, Any]:
    block = policy.get(name)
    return dict(block) if isinstance(block, dict) else {}


def fairness_band(fairness: dict[str, Any]) -> Fraction:
    return Fraction(str(fairness["band"])).limit_denominator(1000)


def reassign_limit(max_reassign: float, owned: int) -> int:
    """floor(max_reassign * owned leads), max_reassign read as the decimal it is written as."""
    return math.floor(Fraction(str(max_reassign)) * owned)


@dataclass(frozen=True)
class Ref:
    """The book's rules in plain Python: pair tables from ``test_exactness.pair_tables``
    (loops, not merges), tiers, accounts, owners and forced moves from the README."""

    n: int
    m: int
    allowed: list[list[bool]]  # eligible and tier-ok
    ev: list[list[float]]
    effort: list[list[int]]
    value: list[Fraction]
    capacity: list[int]
    floors: list[int]
    available: list[bool]
    level: list[int]
    accounts: list[list[int]]  # leads kept together (accounts of 2+ leads, together only)
    owner: list[int]  # -1 when not owned
    forced: list[bool]
    policy: PolicyDict
    rep_ids: list[str]
    lead_account: list[str] = field(default_factory=list)  # per lead: account_id, "" none
    rep_cells: dict[str, list[str]] = field(default_factory=dict)  # reps table, as text

    @staticmethod
    def build(book: RuleBook) -> Ref:
        leads, reps, policy = book.leads, book.reps, book.policy
        eligible, ev, effort = pair_tables(Book(leads, reps, book.affinity, None, "only", False))
        n, m = eligible.shape
        value = [Fraction(float(v)) for v in leads["value"].tolist()]
        level = [int(x) for x in reps["level"].tolist()]
        need = [0] * n
        for tier in policy.get("tiers", []):
            for i in range(n):
                if value[i] >= Fraction(float(tier["min_value"])):
                    need[i] = max(need[i], int(tier["min_level"]))
        allowed = [
            [bool(eligible[i, j]) and level[j] >= need[i] for j in range(m)] for i in range(n)
        ]
        available = [is_available(a) for a in reps["available"].tolist()]
        capacity = [int(c) for c in reps["capacity"].tolist()]
        floors = [
            int(f) if a else 0 for f, a in zip(reps["min_leads"].tolist(), available, strict=True)
        ]
        effort_list = [[int(effort[i, j]) for j in range(m)] for i in range(n)]

        accounts: list[list[int]] = []
        account_of: list[list[int]] = [[i] for i in range(n)]
        if policy_block(policy, "accounts").get("together", False):
            members: dict[str, list[int]] = {}
            for i, a in enumerate(leads["account_id"].fillna("").astype(str).tolist()):
                if a.strip():
                    members.setdefault(a.strip(), []).append(i)
            for group in members.values():
                for i in group:
                    account_of[i] = group
                if len(group) > 1:
                    accounts.append(group)

        rep_ids = [str(r) for r in reps["rep_id"].tolist()]
        index = {r: j for j, r in enumerate(rep_ids)}
        owner = [
            index[o.strip()] if o.strip() else -1
            for o in leads["current_owner"].fillna("").astype(str).tolist()
        ]
        forced = []
        for i in range(n):
            o = owner[i]
            if o < 0:
                forced.append(False)
                continue
            group = account_of[i]
            can = (
                available[o]
                and all(allowed[k][o] for k in group)
                and effort_list[i][o] <= capacity[o]
                and sum(effort_list[k][o] for k in group) <= capacity[o]
            )
            forced.append(not can)
        return Ref(
            n,
            m,
            allowed,
            [[float(ev[i, j]) for j in range(m)] for i in range(n)],
            effort_list,
            value,
            capacity,
            floors,
            available,
            level,
            accounts,
            owner,
            forced,
            policy,
            rep_ids,
            [a.strip() for a in leads["account_id"].fillna("").astype(str).tolist()],
            {
                str(c): [str(v).strip() for v in reps[c].fillna("").astype(str).tolist()]
                for c in reps.columns
            },
        )

    def groups(self) -> list[list[int]]:
        """Fairness groups: the available reps, those of each level, or those sharing a
        value of the reps column ``within`` names (manager, regional_office, ...)."""
        fairness = policy_block(self.policy, "fairness")
        reps = [j for j in range(self.m) if self.available[j]]
        within = fairness.get("within", "all")
        if within == "level":
            return [[j for j in reps if self.level[j] == k] for k in sorted(set(self.level))]
        if within != "all":
            cells = self.rep_cells[within]
            return [[j for j in reps if cells[j] == k] for k in sorted({cells[j] for j in reps})]
        return [reps]


@dataclass
class Outcome:
    violations: list[str] = field(default_factory=list)
    assigned: int = 0
    expected_value: float = 0.0
    kept: int = 0
    changes: int = 0
    fairness_excess: int = 0
    score: float = 0.0


def evaluate(ref: Ref, rep_of: Sequence[int], fair_tol: Fraction = Fraction(0)) -> Outcome:
    """Every rule of README "Business rules" for one assignment (rep position per lead, -1
    when unassigned), and the value score. ``fair_tol`` widens value-metric fairness bands
    by that fraction of the group's total."""
    out = Outcome()
    policy = ref.policy
    count = [0] * ref.m
    load = [0] * ref.m
    metric = [Fraction(0)] * ref.m
    fairness = policy_block(policy, "fairness")
    by_value = fairness.get("metric", "count") == "value"
    for i, j in enumerate(rep_of):
        if j < 0:
            continue
        if not ref.allowed[i][j]:
            out.violations.append(f"lead {i}: rep {j} may not take it")
        count[j] += 1
        load[j] += ref.effort[i][j]
        metric[j] += ref.value[i] if by_value else 1
        out.expected_value += ref.ev[i][j]
        out.assigned += 1
    for j in range(ref.m):
        if load[j] > ref.capacity[j]:
            out.violations.append(f"rep {j}: effort {load[j]} above capacity")
        if count[j] < ref.floors[j]:
            out.violations.append(f"rep {j}: {count[j]} leads below min_leads {ref.floors[j]}")
    for group in ref.accounts:
        if len({rep_of[i] for i in group}) > 1:
            out.violations.append(f"account of leads {group} split")

    if fairness:
        _check_fairness(ref, fairness, metric, fair_tol, out)
    _check_account_cap(ref, rep_of, out)
    keep_bonus = _check_continuity(ref, rep_of, out)
    out.score += out.expected_value + keep_bonus * out.kept
    return out


def _check_fairness(
    ref: Ref, fairness: dict[str, Any], metric: list[Fraction], fair_tol: Fraction, out: Outcome
) -> None:
    """The fairness band of every group: a violation per rep outside it (hard), or the
    largest excess as a penalty on the score (soft)."""
    by_value = fairness.get("metric", "count") == "value"
    band = fairness_band(fairness)
    soft = fairness.get("mode", "hard") == "soft"
    worst = Fraction(0)
    for reps in ref.groups():
        total_capacity = sum(ref.capacity[j] for j in reps)
        if total_capacity == 0:
            continue
        total = sum((metric[j] for j in reps), Fraction(0))
        tol = fair_tol * total if by_value else Fraction(0)
        for j in reps:
            share = Fraction(ref.capacity[j], total_capacity)
            low, high = (1 - band) * share * total, (1 + band) * share * total
            worst = max(worst, metric[j] - high, low - metric[j])
            if not soft and not low - tol <= metric[j] <= high + tol:
                out.violations.append(f"rep {j}: fairness {metric[j]} outside [{low}, {high}]")
    if soft:
        assert not by_value, "soft value fairness is not modelled here"
        out.fairness_excess = math.ceil(worst)
        out.score -= float(fairness.get("weight", 1.0)) * out.fairness_excess


def _check_account_cap(ref: Ref, rep_of: Sequence[int], out: Outcome) -> None:
    """``account_cap``: a violation per rep holding more than ``max_per_rep`` leads of one
    account (leads without an account are not capped)."""
    cap = policy_block(ref.policy, "account_cap").get("max_per_rep")
    if cap is None:
        return
    held: dict[tuple[str, int], int] = {}
    for i, j in enumerate(rep_of):
        if j >= 0 and ref.lead_account[i]:
            held[ref.lead_account[i], j] = held.get((ref.lead_account[i], j), 0) + 1
    for (account, j), k in sorted(held.items()):
        if k > cap:
            out.violations.append(f"rep {j}: {k} leads of account {account} above {cap}")


def _check_continuity(ref: Ref, rep_of: Sequence[int], out: Outcome) -> float:
    """Kept leads and changes of owned leads: a violation above a hard limit, or the
    penalty above a soft one. Returns the keep bonus per kept lead."""
    continuity = policy_block(ref.policy, "continuity")
    owned = sum(o >= 0 for o in ref.owner)
    for i, o in enumerate(ref.owner):
        if o < 0:
            continue
        if rep_of[i] == o:
            out.kept += 1
        elif not ref.forced[i]:
            out.changes += 1
    if continuity.get("max_reassign") is not None:
        limit = reassign_limit(continuity["max_reassign"], owned)
        if continuity.get("mode", "hard") == "soft":
            out.score -= float(continuity.get("weight", 1.0)) * max(0, out.changes - limit)
        elif out.changes > limit:
            out.violations.append(f"{out.changes} changes above the limit {limit}")
    return float(continuity.get("keep_bonus", 0.0))


@dataclass(frozen=True)
class Optimum:
    assigned: int
    score: float  # expected value + keep bonuses - soft penalties
    expected_value: float
    rep_of: tuple[int, ...]


def brute_force(book: RuleBook) -> Optimum | None:
    """The lexicographic optimum over every assignment (each lead unassigned or with a rep
    that may take it), or None when no assignment keeps every hard rule."""
    ref = Ref.build(book)
    options = [[-1] + [j for j in range(ref.m) if ref.allowed[i][j]] for i in range(ref.n)]
    best: Optimum | None = None
    for combo in itertools.product(*options):
        out = evaluate(ref, combo)
        if out.violations:
            continue
        if best is None or (out.assigned, out.score) > (best.assigned, best.score):
            best = Optimum(out.assigned, out.score, out.expected_value, tuple(combo))
    return best
