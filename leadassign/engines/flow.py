"""Exact solve of the network core by min-cost flow (OR-Tools ``SimpleMinCostFlow``).

When every usable pair takes one capacity unit, the problem is a transportation problem:

    source --1--> lead --1, cost -value--> rep --capacity--> sink

A maximum flow of minimum cost is exactly the default lexicographic objective (most leads,
then most expected value); the algorithm is exact on integers, so its answer is a proof.
``min_leads`` are lower bounds on the rep -> sink arcs: a maximum flow that meets them exists
whenever any flow does (augmenting paths never lower the flow into the sink), so if the
unconstrained optimum misses a floor we solve again with supplies that force the floors
(rep j demands ``min_leads_j``, the sink the rest of the maximum flow). When even that is
infeasible, a max-flow min cut names a set of reps whose floors add up to more leads than
can reach them (Hall's condition).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import max_flow, min_cost_flow

from leadassign.compile.scaling import per_lead_max


@dataclass(frozen=True, eq=False)
class FlowOutcome:
    """``chosen``: which of the given pairs carry flow (None when infeasible)."""

    feasible: bool
    chosen: np.ndarray | None
    max_count: int
    #: when infeasible: reps whose min_leads cannot all be met, and the leads that can reach them
    hall_reps: np.ndarray | None = None
    hall_leads: int = 0


class FlowError(RuntimeError):
    """The flow solver refused the model (a bug or a range problem, never bad user input)."""


def _leads_used(lead: np.ndarray, n_leads: int) -> np.ndarray:
    """The leads with at least one pair, ascending (a bincount: no sort)."""
    return np.flatnonzero(np.bincount(lead, minlength=n_leads) > 0)


def lead_nodes(lead: np.ndarray, units: np.ndarray, n_leads: int) -> np.ndarray:
    """The node of each lead (1 to ``n_leads``): the leads in the order of their largest
    weight, smallest first (ties by index). The numbering changes only how much work
    OR-Tools' push-relabel does, not what is optimal: on the demo books' certified subsets
    it took 3.2-3.4 s instead of 5.7 s (100,000 x 500, 2.4M pairs) and 9.3 s instead of
    22.1 s (200,000 x 800, 4.8M pairs), the same optimum (benchmarks/RESULTS.md, "Session
    14"). Among tied optima it may return another one."""
    weight = np.asarray(units, dtype=np.int64)
    top = per_lead_max(weight, lead, n_leads, empty=np.iinfo(np.int64).min)
    node = np.empty(n_leads, dtype=np.int64)
    node[np.argsort(top, kind="stable")] = np.arange(1, n_leads + 1)
    return node


def _network(
    lead: np.ndarray,
    rep: np.ndarray,
    n_leads: int,
    n_reps: int,
    rep_cap: np.ndarray,
    node: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arcs as (tails, heads, capacities, pair-arc flag), nodes laid out as in the module doc
    (lead ``i`` is node ``node[i]``)."""
    source, sink = 0, n_leads + n_reps + 1
    leads_used = _leads_used(lead, n_leads)
    reps_used = np.flatnonzero(rep_cap > 0)
    tails = np.concatenate(
        [np.full(len(leads_used), source), node[lead], 1 + n_leads + reps_used]
    ).astype(np.int32)
    heads = np.concatenate(
        [np.sort(node[leads_used]), 1 + n_leads + rep, np.full(len(reps_used), sink)]
    ).astype(np.int32)
    caps = np.concatenate(
        [np.ones(len(leads_used) + len(lead), dtype=np.int64), rep_cap[reps_used]]
    ).astype(np.int64)
    return tails, heads, caps, reps_used


def solve_flow(
    lead: np.ndarray,
    rep: np.ndarray,
    units: np.ndarray,
    n_leads: int,
    capacity: np.ndarray,
    min_leads: np.ndarray,
) -> FlowOutcome:
    """Most pairs, then most total ``units``, with at most one pair per lead and rep loads
    within ``[min_leads, capacity]`` (counted in pairs: every effort is 1 here)."""
    n_reps = len(capacity)
    degree = np.bincount(rep, minlength=n_reps)
    rep_cap = np.minimum(capacity, degree).astype(np.int64)
    if np.any(min_leads > rep_cap):
        return _infeasible(lead, rep, n_leads, min_leads)
    node = lead_nodes(lead, units, n_leads)
    tails, heads, caps, reps_used = _network(lead, rep, n_leads, n_reps, rep_cap, node)
    first_pair = len(_leads_used(lead, n_leads))
    pair_arcs = np.arange(first_pair, first_pair + len(lead), dtype=np.int32)
    costs = np.zeros(len(tails), dtype=np.int64)
    costs[pair_arcs] = -units
    sink = n_leads + n_reps + 1

    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    flow.set_node_supply(0, first_pair)
    flow.set_node_supply(sink, -first_pair)
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise FlowError(f"min-cost flow returned status {status}")
    chosen = np.asarray(flow.flows(pair_arcs)) > 0
    max_count = int(flow.maximum_flow())
    load = np.bincount(rep[chosen], minlength=n_reps)
    if np.all(load >= min_leads):
        return FlowOutcome(True, chosen, max_count)

    # Force the floors: rep j keeps min_leads_j units, only the rest flows on to the sink.
    floors = min_leads.astype(np.int64)
    if max_count < floors.sum():
        return _infeasible(lead, rep, n_leads, min_leads)
    forced_caps = caps.copy()
    forced_caps[len(tails) - len(reps_used) :] = (rep_cap - floors)[reps_used]
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, forced_caps, costs)
    flow.set_node_supply(0, max_count)
    demand = np.flatnonzero(floors > 0)
    flow.set_nodes_supplies(
        (1 + n_leads + demand).astype(np.int32), (-floors[demand]).astype(np.int64)
    )
    flow.set_node_supply(sink, -(max_count - int(floors.sum())))
    status = flow.solve()
    if status == flow.INFEASIBLE:
        return _infeasible(lead, rep, n_leads, min_leads)
    if status != flow.OPTIMAL:
        raise FlowError(f"min-cost flow with floors returned status {status}")
    chosen = np.asarray(flow.flows(pair_arcs)) > 0
    return FlowOutcome(True, chosen, max_count)


def _infeasible(
    lead: np.ndarray, rep: np.ndarray, n_leads: int, min_leads: np.ndarray
) -> FlowOutcome:
    """The outcome for floors already known to be infeasible, naming a Hall violator if any."""
    violation = hall_violation(lead, rep, n_leads, min_leads)
    if violation is None:
        # Floors can be met alone; the conflict is elsewhere (cannot happen with unit effort).
        return FlowOutcome(False, None, 0, np.zeros(0, dtype=np.int64), 0)
    return violation


def hall_violation(
    lead: np.ndarray, rep: np.ndarray, n_leads: int, min_leads: np.ndarray
) -> FlowOutcome | None:
    """None when every rep can be given ``min_leads`` distinct eligible leads at once;
    otherwise an infeasible outcome naming reps whose floors add up to more leads than can
    reach them (Hall's condition, read off a max-flow min cut). Counts leads only, so it is a
    valid infeasibility proof whatever the efforts."""
    n_reps = len(min_leads)
    floors = min_leads.astype(np.int64)
    if not np.any(floors > 0):
        return None
    identity = np.arange(1, n_leads + 1)
    tails, heads, caps, _ = _network(lead, rep, n_leads, n_reps, floors, identity)
    first_pair = len(_leads_used(lead, n_leads))
    caps[first_pair : first_pair + len(lead)] = n_leads + 1  # pair arcs are never cut
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(tails, heads, caps)
    sink = n_leads + n_reps + 1
    status = flow.solve(0, sink)
    if status != flow.OPTIMAL:
        raise FlowError(f"max flow returned status {status}")
    if int(flow.optimal_flow()) >= int(floors.sum()):
        return None
    source_side = np.zeros(n_leads + n_reps + 2, dtype=bool)
    source_side[np.asarray(flow.get_source_side_min_cut(), dtype=np.int64)] = True
    reps = np.flatnonzero((floors > 0) & ~source_side[1 + n_leads + np.arange(n_reps)])
    hall_leads = int(np.unique(lead[np.isin(rep, reps)]).size)
    return FlowOutcome(False, None, 0, reps, hall_leads)
