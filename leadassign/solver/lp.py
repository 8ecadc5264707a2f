"""The LP relaxation of the CP-SAT model, solved by GLOP: bounds and a starting point.

Side rules (fairness, a churn limit, accounts, efforts) take the problem off a network, and
CP-SAT alone finds first solutions to such models slowly and proves their bounds late. The LP
relaxation of the same model (every constraint family of ``cpsat.py``, with the pair Booleans
relaxed to [0, 1]) is nearly integral on these books, so it gives both:

* **bounds**: a Lagrangian bound computed from the LP's dual values in numpy. Any dual vector
  gives a valid bound, so the bound holds whatever GLOP's tolerances were; it is then rounded
  down to whole units (the objective is integral).
* **a start**: a basic LP solution has at most one fractional variable per constraint, so
  the pairs it uses are few; CP-SAT restricted to them and to each unit's cheapest
  alternatives (by reduced cost) finds an integral solution close to the bound quickly.

Two LPs, as the model is lexicographic: the most leads, then the best score at that count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from ortools.linear_solver.python import model_builder_helper as mbh

from leadassign.solver.cpsat import (
    Continuity,
    CpSatSettings,
    Fairness,
    Pairs,
    SideRules,
    segments,
    solve_cpsat,
)

INF = float("inf")
#: Above this many pairs the LP is skipped: GLOP's second LP took about 60 s on 260,000 pairs
#: (10,000 leads x 200 reps, accounts kept together) and overran its time limit, where the
#: first took 3 s; at 60,000 pairs both take about a second.
MAX_PAIRS = 100_000
#: Alternatives per unit that the restricted CP-SAT search may use beyond the LP's pairs.
NEIGHBORS = 3


@dataclass
class _Rows:
    """Sparse rows ``lo <= sum(val * x[col]) <= hi``, added in blocks."""

    row: list[np.ndarray] = field(default_factory=list)
    col: list[np.ndarray] = field(default_factory=list)
    val: list[np.ndarray] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)

    def add(self, col: np.ndarray, val: np.ndarray, lo: float, hi: float) -> None:
        self.row.append(np.full(len(col), len(self.lo), dtype=np.int64))
        self.col.append(np.asarray(col, dtype=np.int64))
        self.val.append(np.asarray(val, dtype=np.float64))
        self.lo.append(lo)
        self.hi.append(hi)

    def add_grouped(
        self, key: np.ndarray, val: np.ndarray, lo: np.ndarray, hi: np.ndarray, keys: np.ndarray
    ) -> None:
        """One row per entry of ``keys``: the pairs whose ``key`` equals it (vectorized)."""
        first = len(self.lo)
        position = np.full(int(max(key.max(initial=-1), keys.max(initial=-1))) + 1, -1)
        position[keys] = np.arange(len(keys))
        mine = position[key] >= 0 if len(key) else np.zeros(0, dtype=bool)
        self.row.append(first + position[key[mine]])
        self.col.append(np.flatnonzero(mine))
        self.val.append(np.asarray(val, dtype=np.float64)[mine])
        self.lo.extend(np.asarray(lo, dtype=np.float64).tolist())
        self.hi.extend(np.asarray(hi, dtype=np.float64).tolist())

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        row, val = cat(self.row, np.int64), cat(self.val, np.float64)
        lo, hi = np.asarray(self.lo, dtype=np.float64), np.asarray(self.hi, dtype=np.float64)
        # Each row divided by its largest coefficient: the same LP, better conditioned for
        # GLOP (fairness rows carry coefficients up to ~1e9).
        scale = np.ones(len(lo))
        np.maximum.at(scale, row, np.abs(val))
        return row, cat(self.col, np.int64), val / scale[row], lo / scale, hi / scale


@dataclass(frozen=True, eq=False)
class Relaxation:
    """The LP: variables 0..n-1 are the pairs, then the auxiliary variables."""

    row: np.ndarray
    col: np.ndarray
    val: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    upper: np.ndarray  # per variable (every lower bound is 0)
    n_pairs: int
    penalties: tuple[tuple[int, int], ...]  # (aux variable, units lost per unit)

    def with_floor(self, coeffs: np.ndarray, floor: float) -> Relaxation:
        """The same LP plus one row over the pairs: ``sum(coeffs * x) >= floor``."""
        nz = np.flatnonzero(coeffs)
        return replace(
            self,
            row=np.concatenate([self.row, np.full(len(nz), len(self.lo))]),
            col=np.concatenate([self.col, nz]),
            val=np.concatenate([self.val, coeffs[nz].astype(np.float64)]),
            lo=np.append(self.lo, floor),
            hi=np.append(self.hi, INF),
        )


def _fairness_rows(rows: _Rows, pairs: Pairs, fairness: Fairness, next_var: int) -> list[int]:
    """Group totals M_g as variables, and each member's band on both sides (as in
    ``cpsat.add_fairness``, with m_j written out over its pairs). Returns the new variables'
    upper bounds; the soft excess E, when present, is the last of them."""
    p, q = fairness.band.numerator, fairness.band.denominator
    metric = fairness.metric.astype(np.float64)
    uppers: list[int] = []
    soft = fairness.penalty is not None
    groups = fairness.groups()
    excess = next_var + len(groups) if soft else -1
    for g, members in enumerate(groups):
        total_var = next_var + g
        in_group = np.isin(pairs.rep, members)
        uppers.append(int(fairness.metric[in_group].sum()))
        cols = np.flatnonzero(in_group)
        rows.add(np.append(cols, total_var), np.append(metric[cols], -1.0), 0.0, 0.0)
        c = float(int(fairness.weights[members].sum()))
        for j in members.tolist():
            w = float(int(fairness.weights[j]))
            mine = np.flatnonzero(pairs.rep == j)
            extra_col = [total_var, excess] if soft else [total_var]
            cols_j = np.append(mine, extra_col)
            slack = [-q * c] if soft else []
            rows.add(cols_j, np.append(q * c * metric[mine], [-(q + p) * w, *slack]), -INF, 0.0)
            if p < q:
                rows.add(cols_j, np.append(-q * c * metric[mine], [(q - p) * w, *slack]), -INF, 0.0)
    if soft:
        uppers.append(int(fairness.metric.sum()))
    return uppers


def _continuity_rows(rows: _Rows, continuity: Continuity, next_var: int) -> list[int]:
    keeps = np.flatnonzero(continuity.kept > 0)
    need = float(continuity.keepable - continuity.limit)
    if continuity.penalty is None:
        if need > 0:
            rows.add(keeps, continuity.kept[keeps], need, INF)
        return []
    rows.add(np.append(keeps, next_var), np.append(continuity.kept[keeps], 1.0), need, INF)
    return [max(continuity.keepable, 0)]


def build_relaxation(pairs: Pairs, side: SideRules) -> Relaxation:
    """Every constraint family of the CP-SAT model, over continuous variables."""
    n, m = len(pairs), len(pairs.capacity)
    rows = _Rows()
    units = np.unique(pairs.unit)
    rows.add_grouped(pairs.unit, np.ones(n), np.full(len(units), -INF), np.ones(len(units)), units)
    effort_of_rep = np.bincount(pairs.rep, weights=pairs.effort, minlength=m)
    binding = np.flatnonzero(effort_of_rep > pairs.capacity)
    rows.add_grouped(
        pairs.rep,
        pairs.effort,
        np.full(len(binding), -INF),
        pairs.capacity[binding],
        binding,
    )
    floored = np.flatnonzero(pairs.min_leads > 0)
    rows.add_grouped(
        pairs.rep, pairs.size, pairs.min_leads[floored], np.full(len(floored), INF), floored
    )
    uppers: list[int] = []
    penalties: list[tuple[int, int]] = []
    if side.fairness is not None:
        uppers += _fairness_rows(rows, pairs, side.fairness, n)
        if side.fairness.penalty is not None:
            penalties.append((n + len(uppers) - 1, side.fairness.penalty))
    if side.continuity is not None:
        added = _continuity_rows(rows, side.continuity, n + len(uppers))
        uppers += added
        if added and side.continuity.penalty is not None:
            penalties.append((n + len(uppers) - 1, side.continuity.penalty))
    row, col, val, lo, hi = rows.arrays()
    upper = np.concatenate([np.ones(n), np.asarray(uppers, dtype=np.float64)])
    return Relaxation(row, col, val, lo, hi, upper, n, tuple(penalties))


@dataclass(frozen=True, eq=False)
class LpOutcome:
    x: np.ndarray  # value of each pair variable
    bound: float  # proven upper bound of the maximized objective
    reduced: np.ndarray  # reduced cost of each pair variable under the bound's duals


def objective(relax: Relaxation, pair_coeffs: np.ndarray, penalize: bool) -> np.ndarray:
    c = np.zeros(len(relax.upper))
    c[: relax.n_pairs] = pair_coeffs
    if penalize:
        for var, penalty in relax.penalties:
            c[var] = -float(penalty)
    return c


def lagrangian_bound(
    relax: Relaxation, c: np.ndarray, dual: np.ndarray
) -> tuple[float, np.ndarray]:
    """``max c.x`` subject to the rows and 0 <= x <= upper is at most
    ``sum_i y_i * (hi_i or lo_i) + sum_k max(0, (c - A'y)_k) * upper_k`` for any y whose sign
    matches a finite side of each row (others are set to 0). Valid for any dual vector, so
    the result does not depend on the LP solver's tolerances. Returns the bound and the
    reduced costs of the dual vector that gives it."""
    lo, hi = relax.lo, relax.hi
    row, col, val = relax.row, relax.col, relax.val
    best, best_reduced = INF, c
    for y in (dual, -dual):
        y = np.where((y > 0) & np.isfinite(hi) | (y < 0) & np.isfinite(lo), y, 0.0)
        side = np.where(y > 0, hi, lo)
        rows_part = np.where(y != 0, y * np.where(np.isfinite(side), side, 0.0), 0.0)
        reduced = c - np.bincount(col, weights=val * y[row], minlength=len(c))
        gains = np.maximum(reduced, 0.0) * relax.upper
        bound = float(rows_part.sum() + gains.sum())
        # Float rounding in these sums is far below 1e-12 of their magnitude.
        allowance = 1e-12 * float(np.abs(rows_part).sum() + gains.sum() + np.abs(c).sum())
        if bound + allowance < best:
            best, best_reduced = bound + allowance, reduced
    return best, best_reduced


def to_model(relax: Relaxation, c: np.ndarray) -> mbh.ModelBuilderHelper:
    """``max c.x`` over the rows, as an OR-Tools model_builder model for GLOP (the MIP builds
    its own, for highspy: ``mip._model``)."""
    model = mbh.ModelBuilderHelper()
    n_var = len(relax.upper)
    # The pybind stubs spell ndarray's parameters wrongly (ndarray[float64, ...]).
    model.add_var_array_with_bounds(
        np.zeros(n_var),  # type: ignore[arg-type]
        relax.upper,  # type: ignore[arg-type]
        np.zeros(n_var, dtype=bool),  # type: ignore[arg-type]
        "",
    )
    nz = np.flatnonzero(c)
    model.set_objective_coefficients(nz.tolist(), c[nz].tolist())
    model.set_maximize(True)
    lo, hi, row, col, val = relax.lo, relax.hi, relax.row, relax.col, relax.val
    order = np.argsort(row, kind="stable")
    cuts = np.searchsorted(row[order], np.arange(len(lo) + 1))
    cols, vals = col[order].tolist(), val[order].tolist()
    for i in range(len(lo)):
        ct = model.add_linear_constraint()
        model.set_constraint_lower_bound(ct, float(lo[i]))
        model.set_constraint_upper_bound(ct, float(hi[i]))
        for k in range(int(cuts[i]), int(cuts[i + 1])):
            model.set_constraint_coefficient(ct, cols[k], vals[k])
    return model


def solve_relaxation(
    relax: Relaxation,
    pair_coeffs: np.ndarray,
    *,
    penalize: bool,
    floor: tuple[np.ndarray, float] | None,
    time_limit_s: float,
) -> LpOutcome | None:
    """Maximize over the LP (plus ``sum(floor[0] * x) >= floor[1]`` when given) with GLOP;
    None when GLOP does not reach an optimum in time."""
    if floor is not None:
        relax = relax.with_floor(*floor)
    c = objective(relax, pair_coeffs, penalize)
    model = to_model(relax, c)
    solver = mbh.ModelSolverHelper("glop")
    solver.set_time_limit_in_seconds(max(time_limit_s, 0.01))
    solver.solve(model)
    if solver.status() != mbh.SolveStatus.OPTIMAL:
        return None
    x = np.clip(np.asarray(solver.variable_values(), dtype=np.float64), 0.0, None)
    dual = np.asarray(solver.dual_values(), dtype=np.float64)
    bound, reduced = lagrangian_bound(relax, c, dual)
    return LpOutcome(x[: relax.n_pairs], bound, reduced[: relax.n_pairs])


def whole(bound: float) -> int:
    """The largest integer at most ``bound`` (an integral objective's bound)."""
    return int(np.floor(bound))


def restrict_pairs(pairs: Pairs, side: SideRules, keep: np.ndarray) -> tuple[Pairs, SideRules]:
    """The same model over the pairs ``keep`` only (reps, units and rule totals unchanged)."""
    sub = Pairs(
        unit=pairs.unit[keep],
        rep=pairs.rep[keep],
        effort=pairs.effort[keep],
        units=pairs.units[keep],
        capacity=pairs.capacity,
        min_leads=pairs.min_leads,
        size=pairs.size[keep],
    )
    f, c = side.fairness, side.continuity
    return sub, SideRules(
        fairness=None if f is None else replace(f, metric=f.metric[keep]),
        continuity=None if c is None else replace(c, kept=c.kept[keep]),
    )


def _ranked(pairs: Pairs, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs sorted by unit, then by ``score`` descending; and each one's rank in its unit."""
    order = np.lexsort((-score, pairs.unit))
    starts, ends = segments(pairs.unit[order])
    rank = np.arange(len(order)) - np.repeat(starts, ends - starts)
    return order, rank


def neighborhood(pairs: Pairs, lp: LpOutcome, per_unit: int = NEIGHBORS) -> np.ndarray:
    """The pairs the LP solution uses, and each unit's ``per_unit`` pairs of best reduced
    cost (the cheapest alternatives), sorted."""
    order, rank = _ranked(pairs, lp.reduced)
    keep = np.zeros(len(pairs), dtype=bool)
    keep[order[rank < per_unit]] = True
    keep |= lp.x > 1e-6
    return np.flatnonzero(keep)


def round_choice(pairs: Pairs, x: np.ndarray) -> np.ndarray:
    """Each unit to its pair with the largest LP value, when that value is at least 1/2."""
    order, rank = _ranked(pairs, x)
    top = order[rank == 0]
    chosen = np.zeros(len(pairs), dtype=bool)
    chosen[top[x[top] >= 0.5]] = True
    return chosen


@dataclass(frozen=True, eq=False)
class LpStart:
    count_upper: int  # proven bound on the leads assigned
    units_upper: int | None  # proven bound on the score of assignments of count_upper leads
    hint: np.ndarray | None  # a feasible choice of pairs, when one was found


def lp_start(
    pairs: Pairs, side: SideRules, count_upper: int, settings: CpSatSettings
) -> LpStart | None:
    """Bounds from the two LPs, and a feasible start from CP-SAT restricted to the pairs the
    second LP uses; None when GLOP gives no optimum within a quarter of the time limit."""
    started = time.perf_counter()
    budget = settings.time_limit_s / 4
    relax = build_relaxation(pairs, side)
    first = solve_relaxation(relax, pairs.size, penalize=False, floor=None, time_limit_s=budget)
    if first is None:
        return None
    count = min(count_upper, whole(first.bound))
    left = budget - (time.perf_counter() - started)
    second = solve_relaxation(
        relax, pairs.units, penalize=True, floor=(pairs.size, float(count)), time_limit_s=left
    )
    if second is None:
        return LpStart(count, None, None)
    units_upper = whole(second.bound)
    # CP-SAT over the pairs the LP uses and each unit's cheapest alternatives, started from
    # the rounded LP solution (measured against the LP's support alone and against the
    # support first, then the neighborhood: this was the fastest to a proven optimum).
    keep = neighborhood(pairs, second)
    guess = round_choice(pairs, second.x)
    hint = _restricted(
        pairs, side, keep, guess, count, units_upper, settings, settings.time_limit_s / 8
    )
    return LpStart(count, units_upper, hint)


def _restricted(
    pairs: Pairs,
    side: SideRules,
    keep: np.ndarray,
    guess: np.ndarray,
    count_upper: int,
    units_upper: int,
    settings: CpSatSettings,
    time_limit_s: float,
) -> np.ndarray | None:
    """CP-SAT over the pairs ``keep`` only, started from ``guess``: its best choice."""
    sub_pairs, sub_side = restrict_pairs(pairs, side, keep)
    outcome = solve_cpsat(
        sub_pairs,
        replace(settings, time_limit_s=time_limit_s),
        guess[keep],
        count_upper,
        sub_side,
        units_upper=units_upper,
    )
    if outcome.chosen is None:
        return None
    chosen = np.zeros(len(pairs), dtype=bool)
    chosen[keep[outcome.chosen]] = True
    return chosen
