"""The fairness family: each rep's share of leads (or value) within a band of its share of
its group's capacity, hard or soft. In one place: its data (:class:`Fairness`, a
:class:`~leadassign.compile.families.base.SideRule` built by :func:`fairness_spec`), its
checker (``Fairness.excess``), the band's bounds for the flows and heuristics
(``band_bounds``, ``rep_bounds``, ``fairness_band``), its CP-SAT constraints
(:func:`add_fairness`), its LP/MIP rows (:func:`fairness_rows`) and its explanation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from leadassign.compile.candidates import Candidates
from leadassign.compile.families.base import Columns, Compiled, LeadModel, SideRule, listed
from leadassign.compile.pairs import INT_MAX, Pairs
from leadassign.compile.scaling import penalty_units
from leadassign.compile.units import Units
from leadassign.engines.cpsat_proto import Aux, Guards, add_linear, guard_literal, new_int, segments
from leadassign.engines.lp_rows import INF, Rows
from leadassign.errors import InputError
from leadassign.models.policy import FairnessPolicy, Policy
from leadassign.models.problem import Problem, lead_column

if TYPE_CHECKING:
    from leadassign.compile.prepare import Prepared


@dataclass(frozen=True, eq=False)
class Fairness(SideRule):
    """The fairness band in integers: for rep j of group g, with C = the group's capacity,
    ``(q-p) * cap_j * M_g <= q * C * m_j <= (q+p) * cap_j * M_g`` where band = p/q."""

    name = "fairness"
    flows_know = True

    group: np.ndarray  # per rep: group index, -1 when in no group (on leave)
    metric: np.ndarray  # per pair: what it adds to its rep's m_j (leads, or value units)
    band: Fraction
    weights: np.ndarray  # per rep: share weight (capacity)
    penalty: int | None = None  # soft: objective units lost per unit of excess; None = hard
    metric_scale: float = 1.0  # metric units per lead (count) or per unit of value

    @classmethod
    def build(cls, data: Compiled) -> Fairness | None:
        policy = data.policy.fairness
        if policy is None:
            return None
        return fairness_spec(
            policy, data.cands, data.units, data.problem, data.values, data.value_scale
        )

    @classmethod
    def policy_names(cls, policy: Policy) -> bool:
        return policy.hard_fairness is not None

    def add_to_model(self, proto: Any, pairs: Pairs, by_rep: np.ndarray, aux: Aux) -> int | None:
        return add_fairness(proto, pairs, by_rep, self, aux=aux)

    def add_rows(self, rows: Rows, pairs: Pairs, next_var: int) -> Columns:
        uppers, scale = fairness_rows(rows, pairs, self, next_var)
        penalty = None if self.penalty is None else self.penalty * scale
        return Columns(uppers, len(self.groups()), penalty)  # the group totals: continuous

    def restrict(self, keep: np.ndarray) -> Self:
        return replace(self, metric=self.metric[keep])

    def explain(self, model: LeadModel) -> None:
        """The hard band at lead level, one literal per rep of each group."""
        if self.penalty is not None:
            return
        pairs, policy = model.pairs, model.policy
        assert policy.fairness is not None
        amounts = metric_values(policy.fairness, model.problem, model.prep.values)
        if amounts is not None:
            metric = np.rint(amounts[model.lead] * self.metric_scale).astype(np.int64)
        else:
            metric = np.ones(len(pairs), dtype=np.int64)
        lead_spec = Fairness(self.group, metric, self.band, self.weights)
        bands = np.full(model.problem.n_reps, -1, dtype=np.int64)
        for members in self.groups():
            for j in members.tolist():
                bands[j] = model.guard(self.name, j)
        add_fairness(model.proto, pairs, model.by_rep, lead_spec, bands)

    def words(self, subjects: list[int], problem: Problem, policy: Policy, prep: Prepared) -> str:
        ids = problem.reps.ids
        return f"{fairness_words(policy)} for {listed(ids[subjects].tolist())}"

    def groups(self) -> list[np.ndarray]:
        """Reps of each group with a positive total weight, in group order."""
        out = []
        for g in np.unique(self.group[self.group >= 0]).tolist():
            members = np.flatnonzero(self.group == g)
            if int(self.weights[members].sum()) > 0:
                out.append(members)
        return out

    def excess(self, pairs: Pairs, chosen: np.ndarray) -> int:
        """The largest excess outside the band, rounded up to whole metric units."""
        m = np.bincount(
            pairs.rep[chosen], weights=self.metric[chosen], minlength=len(self.group)
        ).astype(np.int64)
        p, q = self.band.numerator, self.band.denominator
        worst = 0
        for members in self.groups():
            total_weight = int(self.weights[members].sum())
            big_m = int(m[members].sum())
            for j in members.tolist():
                scaled = q * total_weight * int(m[j])
                upper = (q + p) * int(self.weights[j]) * big_m
                lower = (q - p) * int(self.weights[j]) * big_m
                over = max(scaled - upper, lower - scaled, 0)
                worst = max(worst, -(-over // (q * total_weight)))
        return worst


def fairness_groups(within: str, problem: Problem) -> tuple[np.ndarray, list[str]]:
    """Per rep its fairness group (-1 for a rep on leave: in no group), and each group's
    name: ``all`` (one group), ``level``, or any column of the reps table (``manager``,
    ``regional_office``, ``team``; groups numbered in the order of their sorted names). Raises
    InputError for a column the reps table does not have (listing its columns), or an
    available rep whose cell is empty (a rep in no group would escape the band)."""
    reps = problem.reps
    available = reps.available
    if within == "all":
        return np.where(available, 0, -1).astype(np.int64), ["all"]
    if within == "level":
        cells = np.asarray([str(v) for v in reps.level.tolist()], dtype=object)
    else:
        cells = np.asarray(reps_column(problem, within), dtype=object)
        empty = np.flatnonzero(available & (cells == ""))
        if len(empty):
            k = int(empty[0])
            raise InputError(
                f"rep has no {within!r}, the column the policy's fairness.within groups "
                "reps by; give every available rep a value (or mark it available: false)",
                source=reps.source.name,
                where=reps.source.where(k),
                ident=str(reps.ids[k]),
                column=within,
            )
    names, codes = np.unique(cells[available].astype(str), return_inverse=True)
    group = np.full(len(cells), -1, dtype=np.int64)
    group[available] = codes.astype(np.int64)
    return group, [f"{within} {name}" for name in names.tolist()]


def reps_column(problem: Problem, column: str) -> np.ndarray:
    """The reps table's ``column`` as text (InputError listing the columns when absent)."""
    raw = problem.reps.raw
    if not raw.has(column):
        raise InputError(
            f"fairness.within: {column!r} is not a column of the reps table (columns: "
            f"{', '.join(raw.columns)}); use all, level or one of those",
            source=problem.reps.source.name,
            column=column,
        )
    return np.asarray([str(v).strip() for v in raw.text(column).tolist()], dtype=object)


#: The largest lead value maps to this many units in value-metric fairness (or fewer, when
#: needed to keep every fairness constraint within 64-bit integers).
FAIRNESS_RESOLUTION = 10**6


def metric_values(
    policy: FairnessPolicy, problem: Problem, values: np.ndarray
) -> np.ndarray | None:
    """Per lead, what it adds to its rep's ``m_j``: None for ``count``, the lead values for
    ``value``, else the lead column the metric names (numeric, >= 0; InputError otherwise)."""
    if policy.metric == "count":
        return None
    if policy.metric == "value":
        return values
    return lead_column(problem.leads, policy.metric, "fairness.metric")


def fairness_spec(
    policy: FairnessPolicy,
    cands: Candidates,
    units: Units,
    problem: Problem,
    values: np.ndarray,
    value_scale: float,
) -> Fairness:
    """The fairness spec over unit pairs, with the metric's scale (units per lead or per unit
    of value)."""
    reps = problem.reps
    available = reps.available
    group, _ = fairness_groups(policy.within, problem)
    weights = reps.capacity.astype(np.int64)
    band = Fraction(str(policy.band)).limit_denominator(1000)
    pairs = units.pairs
    usable = units.var >= 0
    amounts = metric_values(policy, problem, values)
    if amounts is None:
        metric, metric_scale = pairs.size.copy(), 1.0
    else:
        values = amounts
        largest = float(values.max()) if len(values) else 0.0
        total_weight = int(weights[available].sum())
        room = (2**61) // max(band.denominator * 2 * max(total_weight, 1) * max(len(values), 1), 1)
        resolution = max(min(FAIRNESS_RESOLUTION, room), 1)
        metric_scale = resolution / largest if largest > 0 else 1.0
        # Values with few decimals (amounts in cents, scores) are kept exact: the band is then
        # decided on the values themselves, not on rounded ones.
        for decimals in range(7):
            exact = 10.0**decimals
            if largest * exact > room:
                break
            if np.all(np.abs(values * exact - np.rint(values * exact)) < 1e-6):
                metric_scale = exact
                break
        lead_metric = np.rint(values * metric_scale).astype(np.int64)
        metric = np.bincount(
            units.var[usable],
            weights=lead_metric[cands.lead[usable]],
            minlength=len(pairs),
        ).astype(np.int64)
    penalty = None
    if policy.mode == "soft":
        penalty = penalty_units(
            policy.weight, value_scale / metric_scale, int(metric.sum()), "fairness"
        )
    return Fairness(group, metric, band, weights, penalty, metric_scale)


def fairness_words(policy: Policy) -> str:
    """The policy's fairness rule, as explanations name it."""
    f = policy.fairness
    assert f is not None
    within = "" if f.within == "all" else " within level"
    return f"fairness band {f.band:g} ({f.metric}{within})"


def band_bounds(fairness: Fairness, totals: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per rep: the least and the most of the metric that the band allows for the group
    totals (0 and the int64 maximum for reps in no group), exact in integers."""
    m = len(fairness.group)
    low = np.zeros(m, dtype=np.int64)
    high = np.full(m, np.iinfo(np.int64).max, dtype=np.int64)
    p, q = fairness.band.numerator, fairness.band.denominator
    for k, members in enumerate(fairness.groups()):
        total, weight = totals[k], int(fairness.weights[members].sum())
        w = [int(x) for x in fairness.weights[members].tolist()]  # Python ints: no overflow
        high[members] = [((q + p) * x * total) // (q * weight) for x in w]
        if p < q:
            low[members] = [-((-(q - p) * x * total) // (q * weight)) for x in w]
    return low, high


def rep_bounds(
    pairs: Pairs, fairness: Fairness, totals: dict[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per rep: the floor and the capacity that the band gives for the group totals."""
    lower, upper = band_bounds(fairness, totals)
    low = np.maximum(pairs.min_leads.astype(np.int64), lower)
    high = np.minimum(pairs.capacity.astype(np.int64), upper)
    return low, high


def group_totals(
    pairs: Pairs, fairness: Fairness, chosen: np.ndarray, metric: np.ndarray | None = None
) -> dict[int, int]:
    """Leads ``chosen`` gives each fairness group (by :meth:`Fairness.groups` index), or
    their summed ``metric`` (per pair) when given."""
    if metric is None:
        count = np.bincount(pairs.rep[chosen], minlength=len(pairs.capacity))
        return {k: int(count[members].sum()) for k, members in enumerate(fairness.groups())}
    reps, amounts = pairs.rep[chosen], metric[chosen].astype(np.int64)
    return {
        k: int(amounts[np.isin(reps, members)].sum()) for k, members in enumerate(fairness.groups())
    }


@dataclass(frozen=True, eq=False)
class Band:
    """Limits per rep on a per-pair metric that local moves must keep: a fairness band at
    fixed group totals (:func:`band_bounds`). Moves stay within a group, so totals hold."""

    metric: np.ndarray  # per pair
    low: np.ndarray  # per rep
    high: np.ndarray  # per rep
    group: np.ndarray  # per rep


def fairness_band(pairs: Pairs, fairness: Fairness, chosen: np.ndarray) -> Band:
    """The band of ``fairness`` at the group totals of ``chosen``."""
    low, high = band_bounds(fairness, group_totals(pairs, fairness, chosen, fairness.metric))
    return Band(fairness.metric.astype(np.int64), low, high, fairness.group)


def _rep_value(per_rep: Callable[[np.ndarray], np.ndarray], j: int, chosen: np.ndarray) -> int:
    return int(per_rep(chosen)[j])


def _group_total(
    per_rep: Callable[[np.ndarray], np.ndarray], members: np.ndarray, chosen: np.ndarray
) -> int:
    return int(per_rep(chosen)[members].sum())


def add_fairness(
    proto: Any,
    pairs: Pairs,
    by_rep: np.ndarray,
    fairness: Fairness,
    guards: Guards = None,
    aux: Aux | None = None,
) -> int | None:
    """The fairness band of every rep of every group: m_j and M_g are integer variables
    defined by one equation each, so each band is a constraint of three terms. Soft: one
    variable E bounds every rep's excess (returned, to be penalized); hard: returns None."""
    n_reps = len(pairs.capacity)
    metric_of_rep = np.bincount(pairs.rep, weights=fairness.metric, minlength=n_reps)
    rep_sorted = pairs.rep[by_rep]
    starts, ends = segments(rep_sorted)
    span = {int(rep_sorted[a]): (a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)}
    p, q = fairness.band.numerator, fairness.band.denominator
    soft = fairness.penalty is not None
    excess = new_int(proto, 0, int(metric_of_rep.sum())) if soft else None
    aux = aux if aux is not None else []

    last: list[tuple[np.ndarray, np.ndarray]] = []

    def rep_metric(chosen: np.ndarray) -> np.ndarray:
        """m_j of every rep for ``chosen`` (remembered for the last choice asked)."""
        if not last or last[0][0] is not chosen:
            per_rep = np.bincount(
                pairs.rep[chosen], weights=fairness.metric[chosen], minlength=n_reps
            ).astype(np.int64)
            last[:] = [(chosen, per_rep)]
        return last[0][1]

    if excess is not None:
        aux.append((excess, lambda chosen: fairness.excess(pairs, chosen)))
    for members in fairness.groups():
        total_weight = int(fairness.weights[members].sum())
        m_vars = []
        for j in members.tolist():
            m_j = new_int(proto, 0, int(metric_of_rep[j]))
            m_vars.append(m_j)
            aux.append((m_j, functools.partial(_rep_value, rep_metric, j)))
            a, b = span.get(j, (0, 0))
            chosen = by_rep[a:b]
            add_linear(
                proto, [*chosen.tolist(), m_j], [*fairness.metric[chosen].tolist(), -1], 0, 0
            )
        big_m = new_int(proto, 0, int(metric_of_rep[members].sum()))
        aux.append((big_m, functools.partial(_group_total, rep_metric, members)))
        add_linear(proto, [*m_vars, big_m], [1] * len(m_vars) + [-1], 0, 0)
        for j, m_j in zip(members.tolist(), m_vars, strict=True):
            w = int(fairness.weights[j])
            guard = guard_literal(guards, j)
            extra = [excess] if excess is not None else []
            slack = [-q * total_weight] if excess is not None else []
            # q*C*m_j - (q+p)*w*M <= 0   (upper side)
            add_linear(
                proto,
                [m_j, big_m, *extra],
                [q * total_weight, -(q + p) * w, *slack],
                -INT_MAX,
                0,
                guard,
            )
            if p < q:  # (q-p)*w*M - q*C*m_j <= 0   (lower side)
                add_linear(
                    proto,
                    [m_j, big_m, *extra],
                    [-q * total_weight, (q - p) * w, *slack],
                    -INT_MAX,
                    0,
                    guard,
                )
    return excess


def fairness_rows(
    rows: Rows, pairs: Pairs, fairness: Fairness, next_var: int
) -> tuple[list[float], float]:
    """Group totals M_g as variables, and each member's band on both sides (as in
    ``cpsat.add_fairness``, with m_j written out over its pairs). Returns the new variables'
    upper bounds (the soft excess E, when present, is the last of them) and their unit:
    M_g and E count in units of the largest metric ``scale``, so that a member's row, whose
    pair coefficients reach ``q * sum(weights) * scale``, keeps M_g's coefficient
    ``(q + p) * w_j`` in range (in metric units it fell 13 orders of magnitude below them on
    a value metric in cents, and HiGHS dropped it as zero). They are exact totals of
    integers, so the MIP leaves them continuous. Soft fairness keeps metric units (scale 1):
    its excess E is rounded up to whole metric units, an integer the MIP must keep."""
    p, q = fairness.band.numerator, fairness.band.denominator
    metric = fairness.metric.astype(np.float64)
    soft = fairness.penalty is not None
    scale = 1.0 if soft else max(float(np.abs(metric).max(initial=0.0)), 1.0)
    uppers: list[float] = []
    groups = fairness.groups()
    excess = next_var + len(groups) if soft else -1
    for g, members in enumerate(groups):
        total_var = next_var + g
        in_group = np.isin(pairs.rep, members)
        uppers.append(float(fairness.metric[in_group].sum()) / scale)
        cols = np.flatnonzero(in_group)
        rows.add(np.append(cols, total_var), np.append(metric[cols], -scale), 0.0, 0.0)
        c = float(int(fairness.weights[members].sum()))
        for j in members.tolist():
            w = float(int(fairness.weights[j]))
            mine = np.flatnonzero(pairs.rep == j)
            extra_col = [total_var, excess] if soft else [total_var]
            cols_j = np.append(mine, extra_col)
            slack = [-q * c * scale] if soft else []
            high = [-(q + p) * w * scale, *slack]
            rows.add(cols_j, np.append(q * c * metric[mine], high), -INF, 0.0)
            if p < q:
                low = [(q - p) * w * scale, *slack]
                rows.add(cols_j, np.append(-q * c * metric[mine], low), -INF, 0.0)
    if soft:
        uppers.append(float(fairness.metric.sum()) / scale)
    return uppers, scale
