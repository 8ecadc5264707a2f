"""Each CP-SAT constraint family on its own: the set of solutions it admits on a tiny instance
equals the set a brute-force enumeration of every 0/1 vector admits."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from ortools.sat.python import cp_model

from leadassign.compile.families import Continuity, Fairness
from leadassign.compile.families.continuity import add_continuity
from leadassign.compile.families.fairness import add_fairness
from leadassign.compile.families.floors import add_min_leads
from leadassign.compile.pairs import Pairs
from leadassign.engines.cpsat import add_capacity, add_one_rep_per_lead
from leadassign.engines.cpsat_proto import add_variables

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
    def add(proto: Any, by_rep: np.ndarray) -> None:
        if family == "one_rep_per_lead":
            add_one_rep_per_lead(proto, pairs)
        elif family == "capacity":
            add_capacity(proto, pairs, by_rep)
        else:
            add_min_leads(proto, pairs, by_rep)

    return solutions(pairs, add)


def brute_force(pairs: Pairs, family: str) -> set[tuple[int, ...]]:
    """Every 0/1 vector that satisfies the rule as README "Business rules" words it."""
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


# ----------------------------------------------------------------- fairness and continuity

BANDS = ("0", "0.25", "0.5", "1.5")


def side_pairs(seed: int) -> Pairs:
    """3 to 12 random pairs over 4 leads x 3 or 4 reps, unit effort, random capacities."""
    rng = np.random.default_rng(1000 + seed)
    n_leads, n_reps = 4, 3 + seed % 2
    while True:
        mask = rng.random((n_leads, n_reps)) < 0.55
        if 3 <= mask.sum() <= 12:
            break
    lead, rep = np.nonzero(mask)
    return Pairs(
        unit=lead.astype(np.int64),
        rep=rep.astype(np.int64),
        effort=np.ones(len(lead), dtype=np.int64),
        units=np.zeros(len(lead), dtype=np.int64),
        capacity=rng.integers(0, 4, size=n_reps).astype(np.int64),
        min_leads=np.zeros(n_reps, dtype=np.int64),
        size=np.ones(len(lead), dtype=np.int64),
    )


def fairness_of(pairs: Pairs, band: str, within: str, metric: str, seed: int) -> Fairness:
    """All reps in one group, or two level groups; sometimes a rep on leave (in no group)
    and a rep of weight (capacity) 0; counts, or small integer values as the metric."""
    rng = np.random.default_rng(2000 + seed)
    m = len(pairs.capacity)
    pattern = [0, 0, 1] if m == 3 else [0, 1, 0, 1]
    group = np.array(pattern if within == "level" else [0] * m, dtype=np.int64)
    if seed % 3 == 2:
        group[m - 1] = -1
    if metric == "count":
        values = np.ones(len(pairs), dtype=np.int64)
    else:
        values = rng.integers(1, 6, size=len(pairs)).astype(np.int64)
    weights = rng.integers(1, 4, size=m).astype(np.int64)
    if seed % 2 == 1:
        weights[0] = 0
    return Fairness(group, values, Fraction(band), weights)


def solutions(pairs: Pairs, add: Callable[[Any, np.ndarray], object]) -> set[tuple[int, ...]]:
    """Every solution of a model of the pair Booleans and one family, projected onto the
    pair variables (the family's own integer variables, such as m_j and M_g, are
    determined by them)."""
    model = cp_model.CpModel()
    add_variables(model.proto, len(pairs))
    add(model.proto, np.argsort(pairs.rep, kind="stable"))
    return model_solutions(model, len(pairs))


def model_solutions(model: cp_model.CpModel, n: int) -> set[tuple[int, ...]]:
    """Every solution of ``model``, projected onto its first ``n`` variables."""
    found: set[tuple[int, ...]] = set()

    class Collect(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            found.add(tuple(int(v) for v in list(self.response_proto.solution)[:n]))

    solver = cp_model.CpSolver()
    solver.parameters.enumerate_all_solutions = True
    solver.parameters.num_workers = 1
    solver.solve(model, Collect())
    return found


def fair_by_brute_force(pairs: Pairs, fairness: Fairness, band: str) -> set[tuple[int, ...]]:
    """README "fairness" in exact fractions: for rep j of group G with capacity share
    share_j = w_j / sum(w in G) (groups with a positive total only), m_j its metric and M_G
    the group's total, (1-band)*share_j*M_G <= m_j <= (1+band)*share_j*M_G."""
    b = Fraction(band)
    m = len(pairs.capacity)
    groups = {int(g) for g in fairness.group.tolist() if g >= 0}
    out = set()
    for bits in itertools.product((0, 1), repeat=len(pairs)):
        x = np.array(bits, dtype=bool)
        metric = [int(fairness.metric[x & (pairs.rep == j)].sum()) for j in range(m)]
        ok = True
        for g in groups:
            members = [j for j in range(m) if fairness.group[j] == g]
            total_weight = sum(int(fairness.weights[j]) for j in members)
            if total_weight == 0:
                continue
            big_m = sum(metric[j] for j in members)
            for j in members:
                share = Fraction(int(fairness.weights[j]), total_weight)
                if not (1 - b) * share * big_m <= metric[j] <= (1 + b) * share * big_m:
                    ok = False
        if ok:
            out.add(bits)
    return out


@pytest.mark.parametrize("metric", ["count", "value"])
@pytest.mark.parametrize("within", ["all", "level"])
@pytest.mark.parametrize("band", BANDS)
@pytest.mark.parametrize("seed", range(4))
def test_fairness_family_admits_exactly_the_band(
    seed: int, band: str, within: str, metric: str
) -> None:
    pairs = side_pairs(seed)
    fairness = fairness_of(pairs, band, within, metric, seed)

    def add(proto: Any, by_rep: np.ndarray) -> object:
        return add_fairness(proto, pairs, by_rep, fairness)

    assert len(pairs) <= 12
    assert solutions(pairs, add) == fair_by_brute_force(pairs, fairness, band)


def test_fairness_family_on_a_hand_checked_case() -> None:
    # Two reps of weights 1 and 3 (shares 1/4 and 3/4), band 0.5: rep 0 must hold between
    # 0.125*M and 0.375*M of the M leads assigned, rep 1 between 0.375*M and 1.125*M. Lead 0
    # may only go to rep 0, leads 1-3 only to rep 1.
    pairs = Pairs(
        unit=np.array([0, 1, 2, 3]),
        rep=np.array([0, 1, 1, 1]),
        effort=np.ones(4, dtype=np.int64),
        units=np.zeros(4, dtype=np.int64),
        capacity=np.array([1, 3]),
        min_leads=np.zeros(2, dtype=np.int64),
        size=np.ones(4, dtype=np.int64),
    )
    fairness = Fairness(
        np.array([0, 0]), np.ones(4, dtype=np.int64), Fraction(1, 2), pairs.capacity
    )
    got = solutions(pairs, lambda proto, by_rep: add_fairness(proto, pairs, by_rep, fairness))
    # Rep 0 with its lead and k leads with rep 1: M = 1 + k, and 1 <= 0.375*(1 + k) needs
    # k >= 2 (then 1 >= 0.125*M and 0.375*M <= k <= 1.125*M hold too). Without it, M = k and
    # rep 0's 0 >= 0.125*k allows only k = 0.
    want = {(0, 0, 0, 0)} | {
        (1, *bits) for bits in itertools.product((0, 1), repeat=3) if sum(bits) >= 2
    }
    assert got == want


def continuity_case(seed: int) -> tuple[Pairs, Continuity, np.ndarray, np.ndarray, int]:
    """Random pairs, an owner per lead (-1: none) and which owned leads are forced moves."""
    rng = np.random.default_rng(3000 + seed)
    pairs = side_pairs(seed)
    n_leads, m = int(pairs.unit.max()) + 1, len(pairs.capacity)
    owner = np.where(rng.random(n_leads) < 0.9, rng.integers(0, m, size=n_leads), -1)
    # Forced: owned, but the owner holds no pair for the lead (on leave, not eligible, ...).
    has_pair = np.zeros((n_leads, m), dtype=bool)
    has_pair[pairs.unit, pairs.rep] = True
    keepable = (owner >= 0) & has_pair[np.arange(n_leads), np.maximum(owner, 0)]
    share = (0.0, 0.25, 0.5, 0.34)[seed % 4]
    owned = int((owner >= 0).sum())
    limit = math.floor(share * owned + 1e-9)
    kept = (owner[pairs.unit] == pairs.rep).astype(np.int64)
    spec = Continuity(kept, int(keepable.sum()), limit)
    return pairs, spec, owner, keepable, limit


def changes_by_brute_force(
    pairs: Pairs, owner: np.ndarray, keepable: np.ndarray, limit: int
) -> set[tuple[int, ...]]:
    """README "continuity" (hard): a keepable owned lead not given to its owner is a change;
    forced moves are free; at most ``limit`` changes."""
    out = set()
    for bits in itertools.product((0, 1), repeat=len(pairs)):
        x = np.array(bits, dtype=bool)
        changes = 0
        for i in np.flatnonzero(keepable).tolist():
            with_owner = x & (pairs.unit == i) & (pairs.rep == owner[i])
            changes += not with_owner.any()
        if changes <= limit:
            out.add(bits)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_continuity_family_admits_exactly_the_churn_limit(seed: int) -> None:
    pairs, spec, owner, keepable, limit = continuity_case(seed)
    assert len(pairs) <= 12
    got = solutions(pairs, lambda proto, _: add_continuity(proto, pairs, spec))
    assert got == changes_by_brute_force(pairs, owner, keepable, limit)


def test_continuity_family_with_an_impossible_limit_admits_nothing() -> None:
    # One account of two leads (one unit), its leads owned by rep 0 and rep 1: each unit pair
    # keeps one lead, so at most one of the two keepable leads is kept; limit 0 needs both.
    pairs = Pairs(
        unit=np.array([0, 0]),
        rep=np.array([0, 1]),
        effort=np.full(2, 2, dtype=np.int64),
        units=np.zeros(2, dtype=np.int64),
        capacity=np.array([2, 2]),
        min_leads=np.zeros(2, dtype=np.int64),
        size=np.full(2, 2, dtype=np.int64),
    )
    spec = Continuity(np.array([1, 1]), keepable=2, limit=0)

    def add(proto: Any, _: np.ndarray) -> None:
        add_one_rep_per_lead(proto, pairs)
        add_continuity(proto, pairs, spec)

    assert solutions(pairs, add) == set()
    loose = Continuity(np.array([1, 1]), keepable=2, limit=1)
    got = solutions(pairs, lambda proto, _: add_continuity(proto, pairs, loose))
    assert got == {(0, 1), (1, 0), (1, 1)}  # without one-rep-per-unit, (1, 1) keeps both
