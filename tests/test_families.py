"""Each CP-SAT constraint family on its own: the set of solutions it admits on a tiny instance
equals the set a brute-force enumeration of every 0/1 vector admits."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from ortools.sat.python import cp_model

from leadassign.solver.cpsat import (
    Pairs,
    add_capacity,
    add_min_leads,
    add_one_rep_per_lead,
    add_variables,
)

Family = Callable[[object, Pairs, np.ndarray], None]


def tiny_pairs(seed: int) -> Pairs:
    rng = np.random.default_rng(seed)
    n_leads, n_reps = 4, 3
    mask = rng.random((n_leads, n_reps)) < 0.6
    lead, rep = np.nonzero(mask)
    return Pairs(
        unit=lead.astype(np.int64),
        rep=rep.astype(np.int64),
        effort=rng.integers(1, 4, size=len(lead)).astype(np.int64),
        units=rng.integers(-5, 50, size=len(lead)).astype(np.int64),
        capacity=rng.integers(0, 5, size=n_reps).astype(np.int64),
        min_leads=rng.integers(0, 3, size=n_reps).astype(np.int64),
        size=np.ones(len(lead), dtype=np.int64),
    )


def cpsat_solutions(pairs: Pairs, family: str) -> set[tuple[int, ...]]:
    model = cp_model.CpModel()
    add_variables(model.proto, len(pairs))
    by_rep = np.argsort(pairs.rep, kind="stable")
    if family == "one_rep_per_lead":
        add_one_rep_per_lead(model.proto, pairs)
    elif family == "capacity":
        add_capacity(model.proto, pairs, by_rep)
    else:
        add_min_leads(model.proto, pairs, by_rep)

    found: set[tuple[int, ...]] = set()

    class Collect(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            found.add(tuple(int(v) for v in list(self.response_proto.solution)[: len(pairs)]))

    solver = cp_model.CpSolver()
    solver.parameters.enumerate_all_solutions = True
    solver.parameters.num_workers = 1
    solver.solve(model, Collect())
    return found


def brute_force(pairs: Pairs, family: str) -> set[tuple[int, ...]]:
    """Every 0/1 vector that satisfies the rule as DESIGN §2 words it."""
    out = set()
    m = len(pairs.capacity)
    for bits in itertools.product((0, 1), repeat=len(pairs)):
        x = np.array(bits, dtype=bool)
        if family == "one_rep_per_lead":
            ok = all(x[pairs.unit == i].sum() <= 1 for i in set(pairs.unit.tolist()))
        elif family == "capacity":
            ok = all(
                pairs.effort[x & (pairs.rep == j)].sum() <= pairs.capacity[j] for j in range(m)
            )
        else:
            ok = all((x & (pairs.rep == j)).sum() >= pairs.min_leads[j] for j in range(m))
        if ok:
            out.add(bits)
    return out


@pytest.mark.parametrize("family", ["one_rep_per_lead", "capacity", "min_leads"])
@pytest.mark.parametrize("seed", range(8))
def test_family_admits_exactly_the_rule(family: str, seed: int) -> None:
    pairs = tiny_pairs(seed)
    assert len(pairs) <= 12
    assert cpsat_solutions(pairs, family) == brute_force(pairs, family)


def test_min_leads_for_a_rep_without_candidates_is_infeasible() -> None:
    pairs = Pairs(
        unit=np.array([0]),
        rep=np.array([0]),
        effort=np.array([1]),
        units=np.array([1]),
        capacity=np.array([1, 1]),
        min_leads=np.array([0, 1]),
        size=np.array([1]),
    )
    assert cpsat_solutions(pairs, "min_leads") == set()
