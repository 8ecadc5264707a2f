"""What capacity is worth: per rep, the change of the value score for one more unit of its
capacity, per territory the best of those, and per hard rule the LP dual of its rows.

Two sources, labelled by what the figure is (``kind``):

* ``exact`` -- a network book (effort 1, no side rule, no accounts: ``method: flow``). The
  optimal flow's residual graph prices every rep: the value of one more unit at rep ``k`` is
  the best augmenting chain ending there (an unassigned lead, or a lead that moves from rep
  to rep, each giving up its pair for one of the next rep's). That is the least solution of
  the difference constraints that ``engines.priced_flows.rep_prices`` solves (a longest-path
  fixpoint over the reps) with a count weight twice the one that proves optimality, so a
  chain that places one more lead (the count comes first) is told apart from one that only
  moves leads. It is the right derivative (the value of +1), exact in the value units.
* ``bound`` / ``estimate`` -- any other book up to the LP's size: the LP relaxation of the
  whole model (every rule, ``engines.lp``) with the answer's lead count as a floor. For its
  duals ``y`` the Lagrangian bound ``L(y)`` grows by exactly ``y_k`` (per unit of the
  capacity row) when rep ``k`` gets one more unit, and the answer at ``capacity + 1`` is at
  most ``L(y) + y_k``; so ``y_k + (L(y) - objective)`` bounds the true change. When the LP
  meets the answer (``L(y) - objective`` under one value unit) that is the figure, a
  ``bound``; else the figure is the dual ``y_k`` (an ``estimate``: integrality may make the
  true change larger) and ``bound`` per rep says how far it can go. A fairness band shares
  the book by capacity, so more capacity also moves the band, which no dual of a capacity
  row sees: with a band the figures are ``estimate`` with no bound.

A unit (a lead, or an account kept together) whose effort exceeds a rep's capacity is no
pair of the model; where one more unit of capacity would let a unit in (its effort is the
capacity + 1), no price sees it, and that rep's figure is an ``estimate`` (no bound). Books
with side rules above the LP's size (``engines.lp.MAX_PAIRS``) get no figures (kind '').
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from leadassign.compile.families import SideRules
from leadassign.compile.pairs import Pairs
from leadassign.engines.lp import MAX_PAIRS, LpOutcome, _solve_lp, build_relaxation
from leadassign.engines.priced_flows import _count_weight, rep_prices
from leadassign.models.tables import WILDCARD, RepTable

#: ``kind`` when no figure was computed
NONE = ""
#: solve(capacity=...): "flow" (network books only: exact and cheap), "all" (also the LP's
#: duals on other books: one more LP), "off"
CapacityMode = Literal["off", "flow", "all"]
#: The LP for the capacity duals gets at most this many seconds (a backstop: it is the
#: relaxation the LP stage solves, on books of at most MAX_PAIRS pairs).
LP_SECONDS = 30.0


@dataclass(frozen=True, eq=False)
class CapacityValues:
    """Per rep (rep order of the reps table): ``value`` (value score per unit of capacity;
    nan when unknown), ``leads`` (leads one more unit places: 0 or 1, exact figures only,
    else -1), ``bound`` (a valid upper bound of the change, nan when none is known), ``kind``
    (``exact``, ``bound``, ``estimate`` or '': none); ``source`` ``flow`` or ``lp``;
    ``rules`` per hard rule whose LP rows bind: the value of loosening each by one unit."""

    value: np.ndarray
    leads: np.ndarray
    bound: np.ndarray
    kind: np.ndarray  # str per rep
    source: str
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    #: source ``lp``: whose LP gave the duals ("the LP stage's", or why one more was solved)
    lp: str = ""

    @classmethod
    def unknown(cls, n_reps: int, seconds: float = 0.0, source: str = "") -> CapacityValues:
        """No figures; ``source`` "off": not asked for (the LP's need ``capacity="all"``)."""
        nan = np.full(n_reps, np.nan)
        kind = np.full(n_reps, NONE, dtype=object)
        leads = np.full(n_reps, -1, dtype=np.int64)
        return cls(nan, leads, nan.copy(), kind, source, {}, seconds)

    @property
    def overall(self) -> str:
        """The weakest kind over the reps: '' < estimate < bound < exact."""
        order = (NONE, "estimate", "bound", "exact")
        present = set(self.kind.tolist())
        return next((k for k in order if k in present), NONE)

    def unpriced(self, reps: np.ndarray) -> CapacityValues:
        """The same figures with ``reps`` (bool per rep) marked ``estimate`` without a bound
        (one more unit would let in a unit no price sees)."""
        kind = np.where(reps & (self.kind != NONE), "estimate", self.kind).astype(object)
        bound = np.where(reps, np.nan, self.bound)
        leads = np.where(reps, -1, self.leads)
        return CapacityValues(
            self.value, leads, bound, kind, self.source, self.rules, self.seconds, self.lp
        )


def flow_values(pairs: Pairs, chosen: np.ndarray, n_leads: int) -> tuple[np.ndarray, np.ndarray]:
    """A network book's optimal flow ``chosen`` (bool per pair): per rep, the change of the
    value score in value units for one more unit of capacity, and the leads it places (0/1)
    (module doc). Raises ValueError when ``chosen`` is not optimal (no prices prove it)."""
    lead, rep = pairs.unit, pairs.rep
    w = pairs.units.astype(np.int64)
    spread = _count_weight(w, lead)  # 2 x summed best |w| + 1: any chain's moves stay below
    big = 2 * spread
    high, low = pairs.capacity.astype(np.int64), pairs.min_leads.astype(np.int64)
    r = rep_prices(lead, rep, w, chosen, n_leads, low, high, big=big)
    if r is None:
        raise ValueError("the flow's choice is not optimal: no rep prices prove it")
    load = np.bincount(rep[chosen], minlength=len(high))
    full = load >= high
    places = full & (r >= spread)  # a chain from an unassigned lead carries big
    gain = np.where(places, r - big, np.maximum(r, 0))
    return np.where(full, gain, 0), places.astype(np.int64)


def reusable(stage_lp: LpOutcome | None, count: int) -> str:
    """Why the LP stage's solution ``stage_lp`` cannot give the capacity duals for an answer
    of ``count`` leads ('' when it can: the same relaxation, every rule's rows with the
    same floor on the count; ``all_in``'s equalities only restate that floor)."""
    if stage_lp is None or stage_lp.rows is None or stage_lp.count is None:
        return "no LP stage ran"
    if stage_lp.dual is None:
        return "the LP stage kept no duals"
    if stage_lp.count != count:
        return f"the LP stage's floor was {stage_lp.count} leads, the answer has {count}"
    return ""


def lp_values(
    pairs: Pairs,
    side: SideRules,
    count: int,
    objective_units: float,
    time_limit_s: float,
    stage_lp: LpOutcome | None = None,
) -> tuple[np.ndarray, np.ndarray, str, dict[str, dict[str, Any]]] | None:
    """From the LP of the whole model with ``count`` leads as a floor: per rep the dual of
    its capacity row and the bound on the change (value units), the kind, and per rule its
    rows' duals (module doc); None when the LP gives no optimum within ``time_limit_s``.
    The LP stage's solution ``stage_lp`` is used when it is that LP (``reusable``)."""
    if not reusable(stage_lp, count):
        assert stage_lp is not None and stage_lp.rows is not None
        relax, outcome = stage_lp.rows, stage_lp
    else:
        relax = build_relaxation(pairs, side)
        floor = (pairs.size, float(count))
        found = _solve_lp(relax, pairs.units, True, floor, time_limit_s, False)
        if not isinstance(found, LpOutcome) or found.dual is None:
            return None
        outcome = found
    assert outcome.dual is not None
    assert relax.row_scale is not None
    y = outcome.dual[: len(relax.lo)] / relax.row_scale
    n_reps = len(pairs.capacity)
    effort = np.bincount(pairs.rep, weights=pairs.effort, minlength=n_reps)
    binding = np.flatnonzero(effort > pairs.capacity)
    ranges = {name: (first, end) for name, first, end in relax.rule_rows}
    first, end = ranges["capacity"]
    dual = np.zeros(n_reps)
    dual[binding] = np.maximum(y[first:end], 0.0)
    slack = max(outcome.bound - objective_units, 0.0)
    rules: dict[str, dict[str, Any]] = {}
    for name, (begin, stop) in ranges.items():
        part = np.abs(y[begin:stop])
        if name != "capacity" and np.any(part > 1e-9):
            rules[name] = {
                "rows": int(stop - begin),
                "binding_rows": int((part > 1e-9).sum()),
                "dual_units": float(part.sum()),
            }
    if side.fairness is not None:
        return dual, np.full(n_reps, np.nan), "estimate", rules
    if slack <= 1.0:
        return dual + slack, dual + slack, "bound", rules
    return dual, dual + slack, "estimate", rules


def capacity_values(
    pairs: Pairs,
    side: SideRules,
    chosen: np.ndarray,
    *,
    n_leads: int,
    scale: float,
    objective: float,
    network: bool,
    newly_fit: np.ndarray | None = None,
    time_limit_s: float = LP_SECONDS,
    stage_lp: LpOutcome | None = None,
) -> CapacityValues:
    """What one more unit of each rep's capacity is worth for the answer ``chosen`` (bool per
    pair of ``pairs``) of value score ``objective``, in value (``scale`` value units per
    unit): exact from the flow's prices when the book is a ``network``, else from the LP's
    duals (module doc). ``rules`` gives, per hard rule with binding rows, the value of
    loosening each of them by one unit of its own measure. ``newly_fit`` (bool per rep):
    reps that one more unit would open to a unit too big for them now (module doc).
    ``stage_lp``: the LP stage's solution, whose duals are used when it is the same LP
    (``reusable``; ``lp`` of the result says which)."""
    values = _capacity_values(
        pairs, side, chosen, n_leads, scale, objective, network, time_limit_s, stage_lp
    )
    if newly_fit is not None and np.any(newly_fit):
        values = values.unpriced(newly_fit)
    return values


def _capacity_values(
    pairs: Pairs,
    side: SideRules,
    chosen: np.ndarray,
    n_leads: int,
    scale: float,
    objective: float,
    network: bool,
    time_limit_s: float,
    stage_lp: LpOutcome | None,
) -> CapacityValues:
    started = time.perf_counter()
    n_reps = len(pairs.capacity)
    count = int(pairs.size[chosen].sum())
    if network:
        units, leads = flow_values(pairs, chosen, n_leads)
        value = units / scale
        kind = np.full(n_reps, "exact", dtype=object)
        return CapacityValues(
            value, leads, value.copy(), kind, "flow", {}, time.perf_counter() - started
        )
    if len(pairs) > MAX_PAIRS:
        return CapacityValues.unknown(n_reps, time.perf_counter() - started)
    why = reusable(stage_lp, count)
    found = lp_values(pairs, side, count, objective * scale, time_limit_s, stage_lp)
    if found is None:
        return CapacityValues.unknown(n_reps, time.perf_counter() - started)
    dual, bound, label, rules = found
    for entry in rules.values():
        entry["value"] = entry.pop("dual_units") / scale
        entry["value_is"] = label
    return CapacityValues(
        dual / scale if label != "bound" else bound / scale,
        np.full(n_reps, -1, dtype=np.int64),
        bound / scale,
        np.full(n_reps, label, dtype=object),
        "lp",
        rules,
        time.perf_counter() - started,
        "the LP stage's" if not why else f"solved again: {why}",
    )


def territory_values(
    territories: tuple[str, ...] | list[str],
    cover: np.ndarray,
    available: np.ndarray,
    capacity: np.ndarray,
    values: CapacityValues,
) -> list[dict[str, Any]]:
    """Per territory: the best ``value`` of one more unit at an available rep covering it
    (``cover``: territories x reps), that rep, and ``one_more_rep``: that figure times the
    median capacity of the available reps there -- what one more rep like the best one is
    worth at most (the value of capacity falls as it grows, so c units are worth at most c
    times the first: a bound when the per-unit figure is exact or a bound)."""
    out: list[dict[str, Any]] = []
    for t, name in enumerate(territories):
        reps = np.flatnonzero(cover[t] & available)
        if not len(reps) or values.overall == NONE:
            out.append({"territory": name, "value": None, "rep": None, "one_more_rep": None})
            continue
        per_unit = values.value[reps]
        best = int(reps[int(np.argmax(per_unit))])
        typical = float(np.median(capacity[reps]))
        unit = float(values.value[best])
        out.append(
            {
                "territory": name,
                "value": unit,
                "value_is": str(values.kind[best]),
                "rep": best,
                "typical_capacity": typical,
                "one_more_rep": max(unit, 0.0) * typical,
            }
        )
    return out


def territory_cover(rep_territories: list[tuple[str, ...]]) -> tuple[list[str], np.ndarray]:
    """The territories named by the reps (sorted, ``*`` left out) and territories x reps:
    which rep covers which (``*`` covers every one)."""
    names = sorted({t for ts in rep_territories for t in ts if t != WILDCARD})
    position = {name: k for k, name in enumerate(names)}
    cover = np.zeros((len(names), len(rep_territories)), dtype=bool)
    for j, ts in enumerate(rep_territories):  # a loop over reps
        if WILDCARD in ts:
            cover[:, j] = True
        for t in ts:
            if t in position:
                cover[position[t], j] = True
    return names, cover


def _number(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def capacity_section(
    values: CapacityValues, reps: RepTable, prices: dict[str, dict[str, Any]] | None
) -> dict[str, Any]:
    """summary.json's ``capacity``: per rep, per territory and per hard rule (module doc).
    ``prices``: the ``--price-rules`` figures, quoted per rule as ``without_rule``."""
    ids = reps.ids
    per_rep = [
        {
            "rep_id": str(ids[j]),
            "value": _number(values.value[j]),
            "value_is": str(values.kind[j]) or None,
            "leads": int(values.leads[j]) if values.leads[j] >= 0 else None,
            "bound": _number(values.bound[j]),
        }
        for j in range(len(ids))  # a loop over reps
    ]
    names, cover = territory_cover([tuple(t) for t in reps.territories])
    territories = territory_values(names, cover, reps.available, reps.capacity, values)
    for entry in territories:
        if entry["rep"] is not None:
            entry["rep"] = str(ids[entry["rep"]])
    rules: dict[str, dict[str, Any]] = {k: dict(v) for k, v in values.rules.items()}
    for rule, price in (prices or {}).items():
        rules.setdefault(rule, {})["without_rule"] = {
            k: price.get(k) for k in ("assigned_gain", "objective_gain", "proven", "status")
        }
    return {
        "value_is": values.overall or None,
        "source": values.source or None,
        "note": "from the LP's duals only with --capacity-values"
        if values.source == "off"
        else None,
        "reps": per_rep,
        "territories": territories,
        "rules": rules,
        "elapsed_s": round(values.seconds, 4),
        **({"lp": values.lp} if values.lp else {}),
    }


def capacity_line(values: CapacityValues, reps: RepTable) -> str | None:
    """The CLI's line: the rep whose next unit of capacity is worth most, and what the
    figure is (None when nothing was computed)."""
    known = np.flatnonzero(np.isfinite(values.value) & (values.kind != NONE))
    if not len(known):
        return None
    best = int(known[int(np.argmax(values.value[known]))])
    kind = str(values.kind[best])
    word = {"exact": "", "bound": "at most ", "estimate": "about "}[kind]
    return (
        f"capacity: one more unit of capacity is worth {word}{values.value[best]:,.2f} "
        f"(at {reps.ids[best]}, {kind}; reps.csv capacity_value)"
    )


__all__ = [
    "CapacityMode",
    "CapacityValues",
    "capacity_line",
    "capacity_section",
    "capacity_values",
    "flow_values",
    "lp_values",
    "reusable",
    "territory_cover",
    "territory_values",
]
