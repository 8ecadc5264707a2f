"""The independent exact reference: README "Business rules" as a MILP over unit pairs, solved
by HiGHS (``scipy.optimize.milp``), sharing no code with leadassign's solver.

Eligible pairs come from pandas merges (:func:`tests.oracles.eligibility.eligible_pairs`),
tiers filter those pairs, ``accounts.together`` merges each account's leads into one *unit*
whose reps must be eligible for every lead of it (and have capacity for its summed effort),
hard fairness and continuity are linear rows, soft rules are integer penalty variables, and
the lexicographic objective is two MILP solves (the most leads ``K``; then the best value
score among assignments of ``K`` leads). Every binary stays integral; every rounded solution
is rechecked rule by rule by :func:`tests.oracles.rules.evaluate`.

Value-metric fairness: leadassign compares values rounded to 1e-6 of the largest value and
HiGHS works to 1e-6 tolerances, so :func:`reference` solves that rule twice, with the band
tightened and widened by ``VALUE_SLACK`` relative.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

from tests.oracles.eligibility import eligible_pairs, is_available
from tests.oracles.rules import (
    Optimum,
    Ref,
    RuleBook,
    close,
    evaluate,
    fairness_band,
    policy_block,
    reassign_limit,
)

#: relative widening/tightening of the value-metric fairness band (see the module docstring)
VALUE_SLACK = 1e-6
HIGHS = {"mip_rel_gap": 1e-12, "time_limit": 120.0}


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
    if policy_block(policy, "accounts").get("together", False):
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

    fairness = policy_block(policy, "fairness")
    continuity = policy_block(policy, "continuity")
    soft_fair = bool(fairness) and fairness.get("mode", "hard") == "soft"
    limit = None
    if continuity.get("max_reassign") is not None:
        limit = reassign_limit(continuity["max_reassign"], n_owned)
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
        rows += _fairness_rows(
            fairness, fair_slack, e_var, n_var, u, r, size, unit_value, value, reps
        )

    cap = policy_block(policy, "account_cap").get("max_per_rep")
    if cap is not None:
        rows.append(_account_cap_row(leads, lead_unit, u, r, size, int(cap), m, n_var))

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


def _fairness_rows(
    fairness: dict[str, Any],
    fair_slack: float,
    e_var: int,
    n_var: int,
    u: np.ndarray,
    r: np.ndarray,
    size: np.ndarray,
    unit_value: np.ndarray,
    value: np.ndarray,
    reps: pd.DataFrame,
) -> list[LinearConstraint]:
    """Two rows per rep of every fairness group (its band's two sides), over the unit-pair
    variables; a soft band adds its excess variable ``e_var``."""
    level = reps["level"].astype(int).to_numpy()
    capacity = reps["capacity"].astype(int).to_numpy()
    available = reps["available"].map(is_available).to_numpy(dtype=bool)
    soft = fairness.get("mode", "hard") == "soft"
    rows: list[LinearConstraint] = []
    band = fairness_band(fairness)
    by_value = fairness.get("metric", "count") == "value"
    assert not (soft and by_value), "soft value fairness is not modelled here"
    metric = unit_value[u] if by_value else size.astype(np.float64)
    within = fairness.get("within", "all")
    if within == "level":
        groups = [np.flatnonzero(available & (level == k)) for k in np.unique(level)]
    elif within != "all":  # a reps column: one group per value among the available reps
        cells = reps[within].fillna("").astype(str).str.strip().to_numpy(dtype=object)
        groups = [np.flatnonzero(available & (cells == k)) for k in sorted(set(cells[available]))]
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
                if soft:  # E >= sign * (excess in leads), E integer
                    row_cols = np.append(in_group, e_var)
                    row_vals = np.append(coef, -sign * 1000.0 * total_capacity)
                a = _matrix(np.zeros(len(row_cols), np.int64), row_cols, row_vals, 1, n_var)
                if sign == 1:
                    rows.append(LinearConstraint(a, -np.inf, margin))
                else:
                    rows.append(LinearConstraint(a, -margin, np.inf))
    return rows


def _account_cap_row(
    leads: pd.DataFrame,
    lead_unit: np.ndarray,
    u: np.ndarray,
    r: np.ndarray,
    size: np.ndarray,
    cap: int,
    m: int,
    n_var: int,
) -> LinearConstraint:
    """``account_cap``: one row per (account, rep), the leads of the account its unit pairs
    give the rep, at most ``cap``. Units are single leads here (leadassign refuses the cap
    with accounts kept together)."""
    assert len(lead_unit) == 0 or int(lead_unit.max()) + 1 == len(lead_unit), "units are leads"
    account = leads["account_id"].fillna("").astype(str).str.strip().to_numpy()
    codes = pd.factorize(pd.Series(account))[0]
    lead_of_unit = np.empty(len(lead_unit), dtype=np.int64)
    lead_of_unit[lead_unit] = np.arange(len(lead_unit))
    pair_account = account[lead_of_unit[u]] if len(u) else np.zeros(0, dtype=object)
    has = np.flatnonzero(pair_account != "")
    group = codes[lead_of_unit[u[has]]] * m + r[has]
    return LinearConstraint(
        _matrix(group, has, size[has], int(group.max(initial=-1)) + 1, n_var), -np.inf, cap
    )


def milp_optimum(
    book: RuleBook, fair_slack: float = 0.0, pairs: pd.DataFrame | None = None
) -> Optimum | None:
    """The lexicographic optimum by two HiGHS MILPs, or None when HiGHS proves the book
    infeasible. The rounded solution is rechecked by :func:`evaluate`."""
    model = build_model(book, fair_slack, pairs)
    most = _most(model)
    if most is None:
        return None
    count = _count(model)
    bounds = Bounds(np.zeros(model.n_var), model.upper)
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


def milp_most(
    book: RuleBook, fair_slack: float = 0.0, pairs: pd.DataFrame | None = None
) -> int | None:
    """The most leads the rules allow to assign (the first of :func:`milp_optimum`'s two
    MILPs), or None when HiGHS proves the book infeasible."""
    return _most(build_model(book, fair_slack, pairs))


def _count(model: Model) -> np.ndarray:
    """The leads each variable assigns (its unit's size for a pair variable, else 0)."""
    count = np.zeros(model.n_var)
    count[: model.n_y] = model.size
    return count


def _most(model: Model) -> int | None:
    count = _count(model)
    first = milp(
        -count,
        constraints=model.rows,
        integrality=model.integrality,
        bounds=Bounds(np.zeros(model.n_var), model.upper),
        options=HIGHS,
    )
    if first.status == 2:
        return None
    assert first.status == 0, first.message
    return round(float(count @ np.round(first.x)))


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
    return bool(policy_block(book.policy, "fairness").get("metric", "count") == "value")


def reference(book: RuleBook) -> tuple[Optimum | None, Optimum | None]:
    """(tight, loose) optima: equal except for value-metric fairness, where the band is
    tightened and widened by VALUE_SLACK."""
    if not value_fairness(book):
        exact = milp_optimum(book)
        return exact, exact
    pairs = eligible_pairs(book.leads, book.reps, book.affinity)
    return milp_optimum(book, -VALUE_SLACK, pairs), milp_optimum(book, VALUE_SLACK, pairs)
