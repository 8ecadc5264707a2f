"""Every business rule of the README against an independent exact MILP solved by HiGHS.

The reference below is written from README "Business rules" only and shares no code with
leadassign's solver: eligible pairs come from pandas merges (``test_exactness.eligible_pairs``),
tiers filter those pairs, ``accounts.together`` merges each account's leads into one
*unit* whose reps must be eligible for every lead of it (and have capacity for its summed
effort), hard fairness and continuity are linear rows, soft rules are integer penalty
variables, and the lexicographic objective is two MILP solves (the most leads ``K``; then the
best value score among assignments of ``K`` leads). Every binary stays integral.

The MILP itself is checked first against a plain-Python brute force (every assignment of up
to 6 leads to 3 reps, rules evaluated lead by lead with exact fractions), which needs nothing
from leadassign but the table conventions. Then, on random books of 100-600 leads, leadassign's
``solve`` must agree with the MILP on the status, the assigned count and the value score, its
assignment must pass ``leadassign.check`` and the evaluator here, and every book the MILP
proves infeasible must be INFEASIBLE (exit 3 from the CLI) with every rule named whose
removal would make the book feasible.

Value-metric fairness: leadassign compares values rounded to 1e-6 of the largest value and
HiGHS works to 1e-6 tolerances, so that rule is solved twice, with the band tightened and
widened by 1e-6 relative; the books are chosen so the two optima coincide (not borderline),
and leadassign must lie between them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

from leadassign import Problem, Result, Status, load_problem, solve
from leadassign.check import check_assignment
from leadassign.cli import main
from leadassign.models.policy import Policy, policy_from_mapping
from tests.test_exactness import Book, eligible_pairs, is_available, pair_tables

PolicyDict = dict[str, Any]

REL_TOL = 1e-6
#: relative widening/tightening of the value-metric fairness band (see the module docstring)
VALUE_SLACK = 1e-6
HIGHS = {"mip_rel_gap": 1e-12, "time_limit": 120.0}

TERRITORIES = ("N", "S", "E", "W")
INDUSTRIES = ("fin", "soft", "health", "retail")
SKILLS = ("de", "ent")
#: the largest lead value of every random book: integer values are then exact multiples of
#: its 1e-6 (the value resolution of value-metric fairness)
TOP_VALUE = 100_000
TIERS = [{"min_value": 8000, "min_level": 2}, {"min_value": 20000, "min_level": 3}]

#: words that name each rule in a conflict explanation
RULE_WORDS: dict[str, tuple[str, ...]] = {
    "min_leads": ("min_leads",),
    "fairness": ("fairness",),
    "tiers": ("tier",),
    "continuity": ("continuity", "max_reassign"),
    "accounts": ("account",),
}


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


def _block(policy: PolicyDict, name: str) -> dict[str, Any]:
    block = policy.get(name)
    return dict(block) if isinstance(block, dict) else {}


def _band(fairness: dict[str, Any]) -> Fraction:
    return Fraction(str(fairness["band"])).limit_denominator(1000)


def _limit(max_reassign: float, owned: int) -> int:
    """floor(max_reassign * owned leads), max_reassign read as the decimal it is written as."""
    return math.floor(Fraction(str(max_reassign)) * owned)


# ---------------------------------------------------------------------------------------------
# Rules evaluated lead by lead (for the brute force and to recheck every solution)
# ---------------------------------------------------------------------------------------------


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
        if _block(policy, "accounts").get("together", False):
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
        )

    def groups(self) -> list[list[int]]:
        """Fairness groups: the available reps, or those of each level."""
        fairness = _block(self.policy, "fairness")
        reps = [j for j in range(self.m) if self.available[j]]
        if fairness.get("within", "all") == "level":
            return [[j for j in reps if self.level[j] == k] for k in sorted(set(self.level))]
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
    fairness = _block(policy, "fairness")
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
        band = _band(fairness)
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

    continuity = _block(policy, "continuity")
    owned = sum(o >= 0 for o in ref.owner)
    for i, o in enumerate(ref.owner):
        if o < 0:
            continue
        if rep_of[i] == o:
            out.kept += 1
        elif not ref.forced[i]:
            out.changes += 1
    if continuity.get("max_reassign") is not None:
        limit = _limit(continuity["max_reassign"], owned)
        if continuity.get("mode", "hard") == "soft":
            out.score -= float(continuity.get("weight", 1.0)) * max(0, out.changes - limit)
        elif out.changes > limit:
            out.violations.append(f"{out.changes} changes above the limit {limit}")
    out.score += out.expected_value + float(continuity.get("keep_bonus", 0.0)) * out.kept
    return out


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


# ---------------------------------------------------------------------------------------------
# The MILP
# ---------------------------------------------------------------------------------------------


@dataclass
class Model:
    n_y: int  # unit-pair binaries come first
    n_var: int
    unit: np.ndarray  # per y: unit
    rep: np.ndarray  # per y: rep position
    size: np.ndarray  # per y: leads of the unit
    score: np.ndarray  # per variable: value-score coefficient
    rows: list[LinearConstraint]
    integrality: np.ndarray
    upper: np.ndarray
    lead_unit: np.ndarray  # per lead: its unit


def _matrix(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int, n_var: int) -> Any:
    return csr_matrix((vals.astype(np.float64), (rows, cols)), shape=(n_rows, n_var))


def build_model(
    book: RuleBook, fair_slack: float = 0.0, pairs: pd.DataFrame | None = None
) -> Model:
    """The MILP of README "Business rules" over unit pairs; ``fair_slack`` widens (> 0) or
    tightens (< 0) value-metric fairness bands by that relative amount. ``pairs``: the
    book's eligible pairs, when already built."""
    leads = book.leads.reset_index(drop=True)
    reps = book.reps.reset_index(drop=True)
    policy = book.policy
    n, m = len(leads), len(reps)
    if pairs is None:
        pairs = eligible_pairs(leads, reps, book.affinity)
    value = leads["value"].astype(float).to_numpy()
    level = reps["level"].astype(int).to_numpy()
    capacity = reps["capacity"].astype(int).to_numpy()
    available = reps["available"].map(is_available).to_numpy(dtype=bool)
    floors = np.where(available, reps["min_leads"].astype(int).to_numpy(), 0)

    # Tiers: a pair filter.
    need = np.zeros(n, dtype=np.int64)
    for tier in policy.get("tiers", []):
        need = np.where(
            value >= float(tier["min_value"]), np.maximum(need, tier["min_level"]), need
        )
    li, ri = pairs["li"].to_numpy(), pairs["ri"].to_numpy()
    pairs = pairs[level[ri] >= need[li]]

    # Units: accounts kept together, else single leads.
    lead_ids = leads["lead_id"].astype(str)
    if _block(policy, "accounts").get("together", False):
        account = leads["account_id"].fillna("").astype(str).str.strip()
        key = np.where(account != "", "a:" + account, "l:" + lead_ids)
        lead_unit = pd.factorize(pd.Series(key))[0].astype(np.int64)
    else:
        lead_unit = np.arange(n, dtype=np.int64)
    n_units = int(lead_unit.max()) + 1 if n else 0
    unit_size = np.bincount(lead_unit, minlength=n_units)
    unit_value = np.bincount(lead_unit, weights=value, minlength=n_units)

    # A unit's reps: eligible for every lead of it, with capacity for its summed effort.
    pairs = pairs.assign(u=lead_unit[pairs["li"].to_numpy()])
    up = (
        pairs.groupby(["u", "ri"])
        .agg(k=("li", "size"), ev=("ev", "sum"), effort=("effort", "sum"))
        .reset_index()
    )
    u, r = up["u"].to_numpy(), up["ri"].to_numpy()
    up = up[(up["k"].to_numpy() == unit_size[u]) & (up["effort"].to_numpy() <= capacity[r])]
    up = up.reset_index(drop=True)
    u, r = up["u"].to_numpy(dtype=np.int64), up["ri"].to_numpy(dtype=np.int64)
    size = up["k"].to_numpy(dtype=np.int64)
    effort = up["effort"].to_numpy(dtype=np.float64)
    ev = up["ev"].to_numpy(dtype=np.float64)
    n_y = len(up)

    # Owned leads: kept when their unit goes to their owner; the others owned are forced.
    index = {str(x): j for j, x in enumerate(reps["rep_id"].astype(str))}
    owners = leads["current_owner"].fillna("").astype(str).str.strip()
    owned = owners != ""
    n_owned = int(owned.sum())
    keep = pd.DataFrame(
        {"u": lead_unit[owned.to_numpy()], "ri": [index[o] for o in owners[owned]]}
    ).value_counts()
    keep_col = (
        up[["u", "ri"]]
        .merge(keep.rename("kept").reset_index(), on=["u", "ri"], how="left")["kept"]
        .fillna(0)
        .to_numpy(dtype=np.float64)
    )
    keepable = int(keep_col.sum())

    fairness = _block(policy, "fairness")
    continuity = _block(policy, "continuity")
    soft_fair = bool(fairness) and fairness.get("mode", "hard") == "soft"
    limit = None
    if continuity.get("max_reassign") is not None:
        limit = _limit(continuity["max_reassign"], n_owned)
    soft_cont = limit is not None and continuity.get("mode", "hard") == "soft"
    e_var = n_y if soft_fair else -1
    s_var = n_y + int(soft_fair) if soft_cont else -1
    # (+1: a dummy variable fixed at 0, so that a book without pairs is still a MILP)
    n_var = n_y + int(soft_fair) + int(soft_cont) + 1

    cols = np.arange(n_y)
    rows = [
        LinearConstraint(_matrix(u, cols, np.ones(n_y), n_units, n_var), 0, 1),
        LinearConstraint(_matrix(r, cols, effort, m, n_var), -np.inf, capacity),
    ]
    if floors.any():
        rows.append(LinearConstraint(_matrix(r, cols, size, m, n_var), floors - 0.5, np.inf))

    if fairness:
        band = _band(fairness)
        by_value = fairness.get("metric", "count") == "value"
        assert not (soft_fair and by_value), "soft value fairness is not modelled here"
        metric = unit_value[u] if by_value else size.astype(np.float64)
        if fairness.get("within", "all") == "level":
            groups = [np.flatnonzero(available & (level == k)) for k in np.unique(level)]
        else:
            groups = [np.flatnonzero(available)]
        for group in groups:
            total_capacity = int(capacity[group].sum())
            if total_capacity == 0:
                continue
            in_group = np.flatnonzero(np.isin(r, group))
            for j in group:
                mine = (r[in_group] == j).astype(np.float64)
                for sign in (1, -1):
                    # sign 1: 1000*S*m_j - (1000+b)*c_j*M_G <= 0; sign -1: >= with 1000-b.
                    factor = float(1000 + sign * band * 1000) * float(capacity[j])
                    if by_value:
                        factor *= 1 + sign * fair_slack
                        scale = 1000.0 * total_capacity * float(np.median(value))
                    else:
                        scale = 1.0  # integer rows: exact with a 0.5 margin
                    coef = metric[in_group] * (1000.0 * total_capacity * mine - factor) / scale
                    row_cols, row_vals = in_group, coef
                    margin = 0.0 if by_value else 0.5
                    if soft_fair:  # E >= sign * (excess in leads), E integer
                        row_cols = np.append(in_group, e_var)
                        row_vals = np.append(coef, -sign * 1000.0 * total_capacity)
                    a = _matrix(np.zeros(len(row_cols), np.int64), row_cols, row_vals, 1, n_var)
                    if sign == 1:
                        rows.append(LinearConstraint(a, -np.inf, margin))
                    else:
                        rows.append(LinearConstraint(a, -margin, np.inf))

    if limit is not None:
        # changes = keepable - kept <= limit (+ s when soft)
        vals = keep_col.copy()
        row_cols = cols
        if soft_cont:
            row_cols = np.append(cols, s_var)
            vals = np.append(vals, 1.0)
        a = _matrix(np.zeros(len(row_cols), np.int64), row_cols, vals, 1, n_var)
        rows.append(LinearConstraint(a, keepable - limit - 0.5, np.inf))

    score = np.zeros(n_var)
    score[:n_y] = ev + float(continuity.get("keep_bonus", 0.0)) * keep_col
    if soft_fair:
        score[e_var] = -float(fairness.get("weight", 1.0))
    if soft_cont:
        score[s_var] = -float(continuity.get("weight", 1.0))
    upper = np.ones(n_var)
    upper[n_y:] = np.inf
    upper[-1] = 0.0
    return Model(
        n_y, n_var, u, r, size, score, rows, np.ones(n_var), upper, lead_unit.astype(np.int64)
    )


def milp_optimum(
    book: RuleBook, fair_slack: float = 0.0, pairs: pd.DataFrame | None = None
) -> Optimum | None:
    """The lexicographic optimum by two HiGHS MILPs, or None when HiGHS proves the book
    infeasible. The rounded solution is rechecked by :func:`evaluate`."""
    model = build_model(book, fair_slack, pairs)
    count = np.zeros(model.n_var)
    count[: model.n_y] = model.size
    bounds = Bounds(np.zeros(model.n_var), model.upper)
    first = milp(
        -count,
        constraints=model.rows,
        integrality=model.integrality,
        bounds=bounds,
        options=HIGHS,
    )
    if first.status == 2:
        return None
    assert first.status == 0, first.message
    most = round(float(count @ np.round(first.x)))
    second = milp(
        -model.score,
        constraints=[*model.rows, LinearConstraint(count.reshape(1, -1), most - 0.5, np.inf)],
        integrality=model.integrality,
        bounds=bounds,
        options=HIGHS,
    )
    assert second.status == 0, second.message
    x = np.round(second.x)
    assert np.abs(second.x - x).max(initial=0) < 1e-6
    chosen = np.flatnonzero(x[: model.n_y] > 0.5)
    rep_of_unit = dict(zip(model.unit[chosen].tolist(), model.rep[chosen].tolist(), strict=True))
    rep_of = tuple(rep_of_unit.get(int(k), -1) for k in model.lead_unit)
    score = float(model.score @ x)

    # Recheck the rounded solution, rule by rule.
    ref = Ref.build(book)
    fair_tol = Fraction(max(fair_slack, 0.0)) * 2
    out = evaluate(ref, rep_of, fair_tol)
    assert not out.violations, out.violations[:5]
    assert out.assigned == most
    assert close(out.score, score, 1e-9), (out.score, score)
    return Optimum(most, score, out.expected_value, rep_of)


def milp_feasible(book: RuleBook, pairs: pd.DataFrame | None = None) -> bool:
    model = build_model(book, pairs=pairs)
    done = milp(
        np.zeros(model.n_var),
        constraints=model.rows,
        integrality=model.integrality,
        bounds=Bounds(np.zeros(model.n_var), model.upper),
        options=HIGHS,
    )
    assert done.status in (0, 2), done.message
    return bool(done.status == 0)


def value_fairness(book: RuleBook) -> bool:
    return bool(_block(book.policy, "fairness").get("metric", "count") == "value")


def reference(book: RuleBook) -> tuple[Optimum | None, Optimum | None]:
    """(tight, loose) optima: equal except for value-metric fairness, where the band is
    tightened and widened by VALUE_SLACK."""
    if not value_fairness(book):
        exact = milp_optimum(book)
        return exact, exact
    pairs = eligible_pairs(book.leads, book.reps, book.affinity)
    return milp_optimum(book, -VALUE_SLACK, pairs), milp_optimum(book, VALUE_SLACK, pairs)


# ---------------------------------------------------------------------------------------------
# The MILP against brute force on tiny books
# ---------------------------------------------------------------------------------------------


def tiny_rule_book(seed: int) -> RuleBook:
    """2-6 leads, 3 reps, and a random mix of every rule (hard and soft)."""
    rng = np.random.default_rng(10_000 + seed)
    n = int(rng.integers(2, 7))
    rep_rows = []
    for j in range(3):
        capacity = int(rng.integers(0, 5))
        rep_rows.append(
            {
                "rep_id": f"R{j}",
                "territories": str(rng.choice(["N", "S", "N;S", "*"])),
                "industries": str(rng.choice(["", "", "fin", "soft", "fin;soft"])),
                "skills": "",
                "capacity": capacity,
                "min_leads": int(rng.integers(0, min(capacity, 2) + 1))
                if rng.random() < 0.3
                else 0,
                "win_rate": round(float(rng.uniform(0.1, 0.9)), 3),
                "level": int(rng.integers(1, 4)),
                "available": "false" if rng.random() < 0.12 else "true",
            }
        )
    lead_rows = []
    for i in range(n):
        lead_rows.append(
            {
                "lead_id": f"L{i}",
                "territory": str(rng.choice(["N", "S"])),
                "industry": str(rng.choice(["fin", "soft"])),
                "skills": "",
                "value": int(rng.integers(1, 101)),
                "account_id": str(rng.choice(["", "", "A", "B"])),
                "current_owner": str(rng.choice(["", "R0", "R1", "R2"])),
                "effort": 1 if rng.random() < 0.7 else 2,
            }
        )
    policy: PolicyDict = {}
    if rng.random() < 0.4:
        policy["tiers"] = [{"min_value": 50, "min_level": 2}]
        if rng.random() < 0.5:
            policy["tiers"].append({"min_value": 80, "min_level": 3})
    if rng.random() < 0.5:
        metric = "value" if rng.random() < 0.3 else "count"
        soft = metric == "count" and rng.random() < 0.3
        policy["fairness"] = {
            "metric": metric,
            "band": float(rng.choice([0.2, 0.5, 1.0] if metric == "value" else [0, 0.2, 0.5, 1])),
            "within": str(rng.choice(["all", "level"])),
            "mode": "soft" if soft else "hard",
            "weight": 7.0,
        }
    if rng.random() < 0.5:
        block: dict[str, Any] = {
            "keep_bonus": float(rng.choice([0.0, 3.0])),
            "mode": "soft" if rng.random() < 0.3 else "hard",
            "weight": 11.0,
        }
        if rng.random() < 0.85:
            block["max_reassign"] = float(rng.choice([0.0, 0.25, 0.5, 1.0]))
        policy["continuity"] = block
    if rng.random() < 0.5:
        policy["accounts"] = {"together": bool(rng.random() < 0.85)}
    return RuleBook(pd.DataFrame(lead_rows), pd.DataFrame(rep_rows), None, policy)


N_TINY = 100


def test_milp_matches_brute_force_on_tiny_books() -> None:
    """The MILP reference itself, against enumeration (independent of leadassign)."""
    infeasible = soft = value_metric = accounts = forced = 0
    for seed in range(N_TINY):
        book = tiny_rule_book(seed)
        want = brute_force(book)
        tight, loose = reference(book)
        where = f"seed {seed}, policy {book.policy}"
        if want is None:
            infeasible += 1
            assert loose is None, where
            continue
        # Values are small integers here, so the widened band admits nothing more than the
        # exact one; the tightened one may lose solutions on the band's edge.
        assert loose is not None, where
        assert loose.assigned == want.assigned, (where, want, loose)
        assert close(loose.score, want.score, 1e-9), (where, want, loose)
        if tight is not None and tight.assigned == want.assigned:
            assert tight.score <= want.score + 1e-9, (where, want, tight)
        ref = Ref.build(book)
        soft += any(
            _block(book.policy, k).get("mode") == "soft" for k in ("fairness", "continuity")
        )
        value_metric += value_fairness(book)
        accounts += bool(ref.accounts)
        forced += any(ref.forced) and "continuity" in book.policy
    # The seeds really exercise every rule (guards the generator).
    assert infeasible >= 15, infeasible
    assert soft >= 12, soft
    assert value_metric >= 10, value_metric
    assert accounts >= 15, accounts
    assert forced >= 25, forced


def test_brute_force_on_hand_solved_rules() -> None:
    # R0 (level 1) and R1 (level 2), one slot each; L0 (value 90, owned by R0), L1 (10).
    # Tier 50 -> level 2: L0 only to R1, so R0's ownership is a forced move, and with
    # max_reassign 0 the optimum still assigns both: L0 -> R1, L1 -> R0.
    leads = pd.DataFrame(
        {
            "lead_id": ["L0", "L1"],
            "territory": "T",
            "industry": "x",
            "skills": "",
            "value": [90, 10],
            "account_id": "",
            "current_owner": ["R0", ""],
            "effort": 1,
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["R0", "R1"],
            "territories": "T",
            "industries": "",
            "skills": "",
            "capacity": [1, 1],
            "min_leads": 0,
            "win_rate": [0.5, 0.5],
            "level": [1, 2],
            "available": "true",
        }
    )
    policy: PolicyDict = {
        "tiers": [{"min_value": 50, "min_level": 2}],
        "continuity": {"max_reassign": 0, "keep_bonus": 100},
    }
    book = RuleBook(leads, reps, None, policy)
    assert brute_force(book) == Optimum(2, 50.0, 50.0, (1, 0))
    assert milp_optimum(book) == Optimum(2, 50.0, 50.0, (1, 0))
    # Without tiers R0 keeps L0 (45 + bonus 100) and L1 goes to R1.
    free = book.with_policy(tiers=None)
    assert brute_force(free) == Optimum(2, 150.0, 50.0, (0, 1))
    # Accounts: L0 and L1 together, one slot each: nobody can take both.
    joined = free.with_leads(leads.assign(account_id="A")).with_policy(
        accounts={"together": True}, continuity=None
    )
    assert brute_force(joined) == Optimum(0, 0.0, 0.0, (-1, -1))
    # Fairness count band 0 within all, equal capacities: 1 lead each or none.
    fair = free.with_policy(continuity=None, fairness={"metric": "count", "band": 0})
    assert brute_force(fair) == Optimum(2, 50.0, 50.0, (0, 1))
    # ... and with R1 unable to take anything (territory), nobody gets anything.
    lonely = fair.with_reps(reps.assign(territories=["T", "Z"]))
    assert brute_force(lonely) == Optimum(0, 0.0, 0.0, (-1, -1))
    # ... unless fairness is soft: weight 10 per lead of excess (E = 1 with one lead on R0;
    # both leads on R0 would need capacity).
    soft = lonely.with_policy(fairness={"metric": "count", "band": 0, "mode": "soft", "weight": 10})
    assert brute_force(soft) == Optimum(1, 35.0, 45.0, (0, -1))
    assert milp_optimum(soft) == Optimum(1, 35.0, 45.0, (0, -1))


# ---------------------------------------------------------------------------------------------
# Random books of hundreds of leads
# ---------------------------------------------------------------------------------------------


def _covers(rep: Mapping[Any, Any], lead: Mapping[Any, Any]) -> bool:
    territories = set(str(rep["territories"]).split(";"))
    industries = set(filter(None, str(rep["industries"]).split(";"))) - {"*"}
    skills = set(filter(None, str(rep["skills"]).split(";")))
    return (
        ("*" in territories or lead["territory"] in territories)
        and (not industries or lead["industry"] in industries)
        and set(filter(None, str(lead["skills"]).split(";"))) <= skills
    )


def random_book(
    seed: int,
    n_leads: int,
    n_reps: int,
    policy: PolicyDict,
    *,
    slack: float = 1.0,
    owned: float = 0.6,
    floors: float = 0.3,
    leave: float = 0.1,
    effort: bool = False,
    keepable_owners: bool = False,
    values: Sequence[int] = (),
    win_rates: Sequence[float] = (),
) -> RuleBook:
    """A random book: territories, industries, skills, levels, reps on leave, floors, an
    affinity table, accounts of 1-4 leads, current owners (some on leave or no longer
    eligible, unless ``keepable_owners``) and optionally efforts of 1-3.

    Values are integers up to TOP_VALUE (one lead has exactly TOP_VALUE), or drawn from
    ``values``. With ``win_rates``, rep win rates are drawn from it, without affinity."""
    rng = np.random.default_rng(seed)
    rep_rows: list[dict[str, Any]] = []
    for j in range(n_reps):
        if rng.random() < 0.15:
            territories = "*"
        else:
            k = int(rng.integers(1, 3))
            territories = ";".join(sorted(rng.choice(TERRITORIES, size=k, replace=False)))
        industries = ""
        if rng.random() < 0.5:
            k = int(rng.integers(2, 4))
            industries = ";".join(sorted(rng.choice(INDUSTRIES, size=k, replace=False)))
        rep_rows.append(
            {
                "rep_id": f"R{j:02d}",
                "territories": territories,
                "industries": industries,
                "skills": ";".join(s for s in SKILLS if rng.random() < 0.6),
                "capacity": 0,
                "min_leads": 0,
                "win_rate": round(float(rng.uniform(0.1, 0.6)), 3),
                "level": int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25])),
                "available": "false" if rng.random() < leave and j > 0 else "true",
            }
        )
    mean_effort = 1.3 if effort else 1.0
    for rep in rep_rows:
        capacity = max(2, round(slack * mean_effort * n_leads / n_reps * rng.uniform(0.5, 1.5)))
        rep["capacity"] = capacity
        if rng.random() < floors:
            rep["min_leads"] = int(rng.integers(1, max(2, capacity // 4)))

    lead_rows: list[dict[str, Any]] = []
    load = [0] * n_reps
    n_accounts = 0
    while len(lead_rows) < n_leads:
        size = min(
            int(rng.choice([1, 2, 3, 4], p=[0.5, 0.25, 0.15, 0.1])), n_leads - len(lead_rows)
        )
        account = ""
        if size > 1 or rng.random() < 0.5:
            account = f"A{n_accounts:04d}"
            n_accounts += 1
        territory = str(rng.choice(TERRITORIES))
        industry = str(rng.choice(INDUSTRIES))
        group: list[dict[str, Any]] = []
        for _ in range(size):
            value = int(np.clip(round(math.exp(rng.normal(8.3, 0.9))), 50, TOP_VALUE))
            if values:
                value = int(rng.choice(values))
            group.append(
                {
                    "lead_id": f"L{len(lead_rows) + len(group):04d}",
                    "territory": territory if rng.random() < 0.9 else str(rng.choice(TERRITORIES)),
                    "industry": industry if rng.random() < 0.85 else str(rng.choice(INDUSTRIES)),
                    "skills": ";".join(s for s in SKILLS if rng.random() < 0.12),
                    "value": value,
                    "account_id": account,
                    "current_owner": "",
                    "effort": int(rng.choice([1, 2, 3], p=[0.85, 0.1, 0.05])) if effort else 1,
                }
            )
        if rng.random() < owned:
            if keepable_owners:
                # An available rep eligible for the whole account, with room for it.
                need = sum(int(x["effort"]) for x in group)
                fit = [
                    j
                    for j, rep in enumerate(rep_rows)
                    if rep["available"] == "true"
                    and all(_covers(rep, x) for x in group)
                    and load[j] + need <= int(rep["capacity"])
                ]
                if fit:
                    j = int(rng.choice(fit))
                    load[j] += need
                    for x in group:
                        x["current_owner"] = rep_rows[j]["rep_id"]
            else:
                near = [j for j, rep in enumerate(rep_rows) if _covers(rep, group[0])]
                pool = near if near and rng.random() < 0.8 else list(range(n_reps))
                common = int(rng.choice(pool))
                for x in group:
                    j = common if rng.random() < 0.85 else int(rng.choice(pool))
                    x["current_owner"] = rep_rows[j]["rep_id"]
        lead_rows.extend(group)
    lead_rows[int(rng.integers(n_leads))]["value"] = max(values) if values else TOP_VALUE
    if effort and not keepable_owners:
        # A rep whose capacity is below the effort of a lead it owns: a forced move.
        small = int(rng.integers(n_reps))
        rep_rows[small]["capacity"] = 2
        rep_rows[small]["min_leads"] = 0
        for x in lead_rows[:40]:
            if x["effort"] == 3:
                x["current_owner"] = rep_rows[small]["rep_id"]
    affinity = pd.DataFrame(
        [
            (rep["rep_id"], industry, round(float(rng.uniform(0.05, 0.8)), 3))
            for rep in rep_rows
            for industry in INDUSTRIES
            if rng.random() < 0.2
        ],
        columns=["rep_id", "industry", "win_rate"],
    )
    if win_rates:
        for rep in rep_rows:
            rep["win_rate"] = float(rng.choice(win_rates))
        return RuleBook(pd.DataFrame(lead_rows), pd.DataFrame(rep_rows), None, policy)
    return RuleBook(pd.DataFrame(lead_rows), pd.DataFrame(rep_rows), affinity, policy)


def rep_positions(book: RuleBook, rep_ids: Sequence[str]) -> list[int]:
    index = {str(r): j for j, r in enumerate(book.reps["rep_id"].tolist())}
    return [index[r] if r else -1 for r in rep_ids]


def run_leadassign(book: RuleBook) -> tuple[Problem, Policy, Result]:
    policy = policy_from_mapping(book.policy)
    problem = load_problem(book.leads, book.reps, book.affinity, policy=policy)
    return problem, policy, solve(problem, policy, workers=2, time_limit_s=60)


def active_rules(book: RuleBook) -> list[str]:
    rules = []
    available = book.reps["available"].map(is_available)
    if (book.reps["min_leads"].astype(int)[available] > 0).any():
        rules.append("min_leads")
    if book.policy.get("tiers"):
        rules.append("tiers")
    fairness = _block(book.policy, "fairness")
    if fairness and fairness.get("mode", "hard") == "hard":
        rules.append("fairness")
    continuity = _block(book.policy, "continuity")
    if continuity.get("max_reassign") is not None and continuity.get("mode", "hard") == "hard":
        rules.append("continuity")
    if _block(book.policy, "accounts").get("together", False):
        rules.append("accounts")
    return rules


def without(book: RuleBook, rule: str) -> RuleBook:
    if rule == "min_leads":
        return book.with_reps(book.reps.assign(min_leads=0))
    return book.with_policy(**{rule: None})


def necessary_rules(book: RuleBook) -> list[str]:
    """The rules whose removal alone makes an infeasible book feasible (every conflict
    involves them, so an explanation must name them)."""
    pairs = eligible_pairs(book.leads, book.reps, book.affinity)  # the same for all
    return [rule for rule in active_rules(book) if milp_feasible(without(book, rule), pairs)]


def assert_names(text: str, rules: Sequence[str], where: str) -> None:
    lowered = text.lower()
    missing = [rule for rule in rules if not any(w in lowered for w in RULE_WORDS[rule])]
    assert not missing, f"{where}: conflicts do not name {missing}: {text!r}"


def describe(result: Result) -> str:
    return (
        f"leadassign: {result.status.value}, assigned {result.assigned}, "
        f"objective {result.objective}, expected_value {result.expected_value}, "
        f"conflicts {result.conflicts}"
    )


def compare(book: RuleBook, where: str) -> Result:
    """leadassign against the MILP on one book (see the module docstring)."""
    tight, loose = reference(book)
    problem, policy, result = run_leadassign(book)
    if loose is None:
        assert result.status == Status.INFEASIBLE, f"{where}: MILP infeasible; {describe(result)}"
        assert result.conflicts, f"{where}: an infeasible result must explain itself"
        necessary = necessary_rules(book)
        assert necessary, f"{where}: no single rule is necessary; pick another book"
        assert_names(" ".join(result.conflicts), necessary, where)
        return result
    assert tight is not None, f"{where}: borderline book (tight infeasible); pick another"
    assert tight.assigned == loose.assigned and close(tight.score, loose.score, 1e-9), (
        f"{where}: borderline book {tight} {loose}; pick another"
    )
    milp_says = f"MILP: assigned {tight.assigned}, score {tight.score}, ev {tight.expected_value}"
    assert result.status in (Status.OPTIMAL, Status.FEASIBLE), f"{where}: {milp_says}; " + (
        describe(result)
    )
    assert result.assigned == tight.assigned, f"{where}: {milp_says}; {describe(result)}"
    assert result.objective is not None and result.expected_value is not None
    assert tight.score - REL_TOL * abs(tight.score) - 1e-6 <= result.objective, (
        f"{where}: {milp_says}; {describe(result)}"
    )
    assert result.objective <= loose.score + REL_TOL * abs(loose.score) + 1e-6, (
        f"{where}: {milp_says}; {describe(result)}"
    )
    rep_ids = result.assignments["rep_id"].fillna("").astype(str).tolist()
    check = check_assignment(problem, policy, rep_ids)
    assert check.ok, f"{where}: check_assignment: {check.violations[:5]}"
    mine = evaluate(
        Ref.build(book),
        rep_positions(book, rep_ids),
        Fraction(VALUE_SLACK) if value_fairness(book) else Fraction(0),
    )
    assert not mine.violations, f"{where}: leadassign's assignment breaks {mine.violations[:5]}"
    assert mine.assigned == result.assigned
    assert close(mine.score, result.objective), (where, mine, result.objective)
    assert close(mine.expected_value, result.expected_value), (where, mine, result.expected_value)
    return result


FAIR_VALUE = {"metric": "value", "band": 0.35, "within": "all"}
ALL_RULES: PolicyDict = {
    "tiers": TIERS,
    "fairness": {"metric": "count", "band": 0.4, "within": "level"},
    "continuity": {"max_reassign": 0.2, "keep_bonus": 100},
    "accounts": {"together": True},
}
SOFT_FAIRNESS: PolicyDict = {"metric": "count", "band": 0.1, "mode": "soft", "weight": 500}
SOFT_CONTINUITY: PolicyDict = {
    "max_reassign": 0.05,
    "mode": "soft",
    "weight": 300,
    "keep_bonus": 20,
}

#: (rule, seed, leads, reps, policy, random_book options). Sizes are kept where leadassign's
#: CP-SAT proves the optimum in seconds on 2 workers.
CASES: list[tuple[str, int, int, int, PolicyDict, dict[str, Any]]] = [
    ("tiers", 1, 600, 25, {"tiers": TIERS}, {}),
    ("tiers-floors", 2, 300, 12, {"tiers": TIERS}, {"floors": 0.5}),
    ("fairness-count-all", 3, 400, 15, {"fairness": {"metric": "count", "band": 0.25}}, {}),
    (
        "fairness-count-level",
        4,
        400,
        15,
        {"fairness": {"metric": "count", "band": 0.3, "within": "level"}},
        {},
    ),
    # Value-metric fairness makes the value stage a multiple knapsack that HiGHS proves in
    # seconds only when expected value is proportional to lead value (one win rate).
    ("fairness-value", 5, 250, 10, {"fairness": FAIR_VALUE}, {"win_rates": (0.3,)}),
    (
        "fairness-value-level",
        6,
        250,
        10,
        {"fairness": {**FAIR_VALUE, "within": "level"}},
        {"win_rates": (0.3,)},
    ),
    ("continuity", 6, 500, 20, {"continuity": {"max_reassign": 0.1}}, {"effort": True}),
    (
        "continuity-keep-bonus",
        8,
        250,
        10,
        {"continuity": {"max_reassign": 0.25, "keep_bonus": 300}},
        {},
    ),
    ("accounts", 9, 300, 12, {"accounts": {"together": True}}, {"effort": True}),
    ("all-together", 11, 250, 10, ALL_RULES, {"effort": True}),
    ("soft-fairness-count", 12, 100, 8, {"fairness": SOFT_FAIRNESS}, {}),
    ("soft-continuity", 13, 100, 8, {"continuity": SOFT_CONTINUITY}, {"slack": 0.8}),
]


@pytest.mark.parametrize(
    ("rule", "seed", "n_leads", "n_reps", "policy", "options"),
    CASES,
    ids=[f"{c[0]}-{c[1]}" for c in CASES],
)
def test_rule_matches_milp(
    rule: str, seed: int, n_leads: int, n_reps: int, policy: PolicyDict, options: dict[str, Any]
) -> None:
    book = random_book(seed, n_leads, n_reps, policy, **options)
    compare(book, f"rule {rule}, seed {seed}")


# ---------------------------------------------------------------------------------------------
# Books the MILP proves infeasible
# ---------------------------------------------------------------------------------------------


def _eligible_count(book: RuleBook, rep: int, below: float = math.inf) -> int:
    pairs = eligible_pairs(book.leads, book.reps, book.affinity)
    mine = pairs[pairs["ri"] == rep]
    return int((book.leads["value"].to_numpy()[mine["li"].to_numpy()] < below).sum())


def infeasible_min_leads_fairness() -> RuleBook:
    # R00 covers no territory with leads (share > 0, gets nothing): fairness then allows only
    # the empty assignment, and R01 has a floor.
    book = random_book(21, 200, 10, {"fairness": {"metric": "count", "band": 0.1}}, floors=0)
    reps = book.reps.assign(available="true")
    reps.loc[0, "territories"] = "Z"
    reps.loc[1, "min_leads"] = 3
    return book.with_reps(reps)


def infeasible_continuity_capacity() -> RuleBook:
    # max_reassign 0, and the busiest owner's capacity cut below what it owns.
    book = random_book(
        22, 200, 10, {"continuity": {"max_reassign": 0}}, floors=0, keepable_owners=True
    )
    owners = book.leads["current_owner"]
    owned = owners[owners != ""].value_counts()
    busiest = str(owned.index[0])
    reps = book.reps.copy()
    reps.loc[reps["rep_id"] == busiest, "capacity"] = int(owned.iloc[0]) - 2
    return book.with_reps(reps)


def infeasible_accounts_continuity() -> RuleBook:
    # max_reassign 0 and one account of two leads owned by two reps that may both take it.
    book = random_book(
        23,
        200,
        10,
        {"continuity": {"max_reassign": 0}, "accounts": {"together": True}},
        floors=0,
        keepable_owners=True,
    )
    leads, reps = book.leads.copy(), book.reps.copy()
    rows = reps.to_dict("records")
    for _, group in leads.groupby("account_id"):
        if len(group) < 2 or group["account_id"].iloc[0] == "":
            continue
        fit = [
            j
            for j, rep in enumerate(rows)
            if is_available(rep["available"])
            and all(_covers(rep, x) for x in group.to_dict("records"))
        ]
        if len(fit) >= 2:
            # The first reps that may take the account own it, except its second lead.
            leads.loc[group.index, "current_owner"] = rows[fit[0]]["rep_id"]
            leads.loc[group.index[1], "current_owner"] = rows[fit[1]]["rep_id"]
            reps.loc[fit[:2], "capacity"] = reps.loc[fit[:2], "capacity"] + 4
            return RuleBook(leads, reps, book.affinity, book.policy)
    raise AssertionError("no account with two possible owners")


def infeasible_tiers_min_leads() -> RuleBook:
    # A novice's floor is one more than the leads under the tier threshold it may take.
    book = random_book(24, 200, 10, {"tiers": [{"min_value": 3000, "min_level": 2}]}, floors=0)
    reps = book.reps.assign(available="true")
    novice = int(np.flatnonzero(reps["level"].to_numpy() == 1)[0])
    low = _eligible_count(book.with_reps(reps), novice, below=3000)
    assert _eligible_count(book.with_reps(reps), novice) > low + 1
    reps.loc[novice, "min_leads"] = low + 1
    reps.loc[novice, "capacity"] = max(int(reps["capacity"].iloc[novice]), low + 1)
    return book.with_reps(reps)


def infeasible_fairness_continuity() -> RuleBook:
    # max_reassign 0 keeps owned leads; R00 can take nothing, so fairness allows nothing.
    book = random_book(
        25,
        200,
        10,
        {"continuity": {"max_reassign": 0}, "fairness": {"metric": "count", "band": 0.2}},
        floors=0,
        keepable_owners=True,
    )
    reps = book.reps.copy()
    reps.loc[0, "territories"] = "Z"
    reps.loc[0, "available"] = "true"
    leads = book.leads.assign(current_owner=book.leads["current_owner"].replace("R00", ""))
    return RuleBook(leads, reps, book.affinity, book.policy)


INFEASIBLE: dict[str, tuple[Any, list[str]]] = {
    "min_leads+fairness": (infeasible_min_leads_fairness, ["min_leads", "fairness"]),
    "continuity+capacity": (infeasible_continuity_capacity, ["continuity"]),
    "accounts+continuity": (infeasible_accounts_continuity, ["accounts", "continuity"]),
    "tiers+min_leads": (infeasible_tiers_min_leads, ["tiers", "min_leads"]),
    "fairness+continuity": (infeasible_fairness_continuity, ["fairness", "continuity"]),
}


def _cli_inputs(book: RuleBook, folder: Path) -> list[str]:
    book.leads.to_csv(folder / "leads.csv", index=False)
    book.reps.to_csv(folder / "reps.csv", index=False)
    (folder / "policy.yaml").write_text(yaml.safe_dump(book.policy), encoding="utf-8")
    args = ["--leads", str(folder / "leads.csv"), "--reps", str(folder / "reps.csv")]
    if book.affinity is not None:
        book.affinity.to_csv(folder / "affinity.csv", index=False)
        args += ["--affinity", str(folder / "affinity.csv")]
    return [*args, "--policy", str(folder / "policy.yaml")]


@pytest.mark.parametrize("name", list(INFEASIBLE))
def test_infeasible_rules_are_named(name: str, tmp_path: Path) -> None:
    make, rules = INFEASIBLE[name]
    book: RuleBook = make()
    assert milp_optimum(book) is None, f"{name}: the MILP finds a solution"
    assert necessary_rules(book) == sorted(rules, key=active_rules(book).index), name
    _, _, result = run_leadassign(book)
    assert result.status == Status.INFEASIBLE, f"{name}: {describe(result)}"
    assert_names(" ".join(result.conflicts), rules, name)

    out = tmp_path / "out"
    done = CliRunner().invoke(
        main, ["solve", *_cli_inputs(book, tmp_path), "--out", str(out), "--workers", "2"]
    )
    assert done.exit_code == 3, (name, done.exit_code, done.stdout, done.stderr)
    assert_names(done.stderr, rules, f"{name} (CLI)")
    assert sorted(p.name for p in out.iterdir()) == [".leadassign-manifest.json", "summary.json"]


def test_max_reassign_is_read_as_a_decimal() -> None:
    # 100 owned leads, max_reassign 0.29: floor(0.29 * 100) = 29 changes allowed (in floats
    # 0.29 * 100 = 28.999999999999996). R0 owns all of them but has room for 71.
    n = 100
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i:03d}" for i in range(n)],
            "territory": "T",
            "industry": "x",
            "skills": "",
            "value": np.arange(1, n + 1) * 10,
            "account_id": "",
            "current_owner": "R0",
            "effort": 1,
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["R0", "R1"],
            "territories": "T",
            "industries": "",
            "skills": "",
            "capacity": [71, 100],
            "min_leads": 0,
            "win_rate": [0.5, 0.4],
            "level": 1,
            "available": "true",
        }
    )
    book = RuleBook(leads, reps, None, {"continuity": {"max_reassign": 0.29}})
    want = milp_optimum(book)
    assert want is not None and want.assigned == n
    result = compare(book, "max_reassign 0.29")
    assert result.assigned == n


@pytest.mark.parametrize("seed", [33, 41])
def test_random_infeasible_books_match_milp(seed: int) -> None:
    """All rules at once with floors on most reps: the MILP proves these seeds infeasible
    (by chance, not by construction), and leadassign must agree and name the rules."""
    policy = {**ALL_RULES, "fairness": {"metric": "count", "band": 0.15}}
    policy["continuity"] = {"max_reassign": 0.05}
    book = random_book(seed, 200, 10, policy, floors=0.8)
    assert not milp_feasible(book), "the seed no longer gives an infeasible book"
    compare(book, f"all rules with floors, seed {seed}")
