"""The policy-free flow on a priced subset of the pairs (engines.certified_flow): the same
optimum as the flow over every pair and the MILP oracle, a certificate that this test
rechecks with its own code over every pair, the pricing loop exercised, and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from leadassign import load_problem
from leadassign.engines import certified_flow as cf
from leadassign.engines.certified_flow import Certificate, certified_flow, local_resolve
from leadassign.engines.flow import solve_flow
from leadassign.engines.priced_flows import _count_weight, rep_prices
from leadassign.models.policy import Policy
from leadassign.solve import flow_stages
from tests.oracles.books import random_book
from tests.oracles.checker import solved
from tests.oracles.milp import milp_optimum

Book = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]


def _random_pairs(seed: int) -> Book:
    """Lead-sorted pairs of a random bipartite book (ties in ``w`` on purpose), capacities
    and, for some seeds, floors."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(5, 120)), int(rng.integers(2, 12))
    eligible = rng.random((n, m)) < rng.uniform(0.15, 0.9)
    lead, rep = np.nonzero(eligible)
    w = rng.integers(0, 30 if seed % 3 == 0 else 10**6, size=len(lead)).astype(np.int64)
    capacity = rng.integers(0, max(2, 2 * n // m), size=m).astype(np.int64)
    low = np.zeros(m, dtype=np.int64)
    if seed % 4 == 1:
        low = np.minimum(capacity, rng.integers(0, 4, size=m)).astype(np.int64)
    return lead.astype(np.int64), rep.astype(np.int64), w, capacity, low, n


def _check_certificate(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    capacity: np.ndarray,
    low: np.ndarray,
    chosen: np.ndarray,
    cert: Certificate,
) -> None:
    """LP duality for max sum (big + w) x over every pair, checked here from scratch:
    dual feasibility on every pair, complementary slackness, and a count weight large
    enough to put the count first."""
    best = np.zeros(int(lead.max()) + 1, dtype=object)
    for i, value in zip(lead.tolist(), w.tolist(), strict=True):
        best[i] = max(best[i], abs(value))
    assert cert.big > 2 * sum(best.tolist())
    u = cert.lead_potential.astype(object)
    r = cert.rep_price.astype(object)
    slack = [
        u[i] + r[j] - cert.big - x
        for i, j, x in zip(lead.tolist(), rep.tolist(), w.tolist(), strict=True)
    ]
    assert min(slack) >= 0
    assert all(slack[k] == 0 for k in np.flatnonzero(chosen).tolist())
    assert all(value >= 0 for value in u.tolist())
    assigned = np.zeros(len(u), dtype=bool)
    assigned[lead[chosen]] = True
    assert all(u[i] == 0 for i in np.flatnonzero(~assigned).tolist())
    load = np.bincount(rep[chosen], minlength=len(capacity))
    for j in range(len(capacity)):
        assert r[j] <= 0 or load[j] == capacity[j]
        assert r[j] >= 0 or load[j] == low[j]


@pytest.mark.parametrize(
    ("per_lead", "sample", "chunk", "rebase"),
    # one pair a lead, a 40-pair chunk and (every other seed) no sample: the pricing loop works;
    # three pairs a lead at a 5% sample, re-based on round 1's prices with 2 pairs a lead: the
    # policy-free stage's shape (24 and 8 there)
    [(1, None, 40, 0), (3, 0.05, None, 2)],
)
@pytest.mark.parametrize("seed", range(60))
def test_subset_flow_equals_the_full_flow_with_a_certificate(
    seed: int, per_lead: int, sample: float | None, chunk: int | None, rebase: int
) -> None:
    lead, rep, w, capacity, low, n = _random_pairs(seed)
    full = solve_flow(lead, rep, w, n, capacity, low)
    subset = certified_flow(
        lead,
        rep,
        w,
        n,
        capacity,
        low,
        per_lead=per_lead,
        chunk=cf.CHUNK if chunk is None else chunk,
        sample=0.5 * (seed % 2) if sample is None else sample,
        rebase=rebase,
    )
    assert subset.outcome.feasible == full.feasible
    if not full.feasible:
        assert subset.certificate is None
        return
    assert full.chosen is not None and subset.outcome.chosen is not None
    chosen = subset.outcome.chosen
    assert int(chosen.sum()) == int(full.chosen.sum())
    assert int(w[chosen].sum()) == int(w[full.chosen].sum())
    assert np.all(np.bincount(lead[chosen], minlength=n) <= 1)
    load = np.bincount(rep[chosen], minlength=len(capacity))
    assert np.all(load <= capacity) and np.all(load >= low)
    assert subset.certificate is not None
    degree = np.bincount(lead, minlength=n)
    assert subset.certificate.first_pairs == int(np.minimum(degree, per_lead).sum())
    _check_certificate(lead, rep, w, capacity, low, chosen, subset.certificate)


def test_the_first_round_is_re_based_on_its_prices() -> None:
    """The policy-free shape on the books above: where the first round leaves pairs of
    negative slack the subset is rebuilt from its prices (on 33 of the 60), later rounds grow
    that one (their optima and certificates are checked above)."""
    rebased = grown = 0
    for seed in range(60):
        lead, rep, w, capacity, low, n = _random_pairs(seed)
        out = certified_flow(lead, rep, w, n, capacity, low, per_lead=3, sample=0.05, rebase=2)
        cert = out.certificate
        if cert is None or not cert.rebased:
            continue
        rebased += 1
        assert cert.added > 0 and cert.rounds >= 2 and cert.pairs >= cert.rebased
        grown += cert.pairs > cert.rebased
    assert rebased > 0 and grown > 0


def test_the_forced_rounds_are_re_solved_locally() -> None:
    """The books above with a one-pair first subset: past the first round the flow is
    re-solved locally on some of them (the whole subset on others), and on some the local
    flow leaves leads fixed (their certificates are checked above)."""
    certs = []
    for seed in range(60):
        lead, rep, w, capacity, low, n = _random_pairs(seed)
        out = certified_flow(lead, rep, w, n, capacity, low, per_lead=1, sample=0.0)
        if out.certificate is not None:
            certs.append(out.certificate)
    assert sum(c.local for c in certs) >= 20
    assert any(c.local and c.local_leads < c.local * int(c.lead_potential.size) for c in certs)


@pytest.mark.parametrize("seed", range(40))
def test_a_local_re_solve_equals_the_flow_on_the_grown_subset(seed: int) -> None:
    """One round by hand: each lead's best pair, its optimum and duals, the pairs of
    negative slack added; re-solving only the leads within reach gives the same count and
    value as the flow over the whole grown subset."""
    lead, rep, w, capacity, low, n = _random_pairs(seed)
    low = np.zeros_like(low) if seed % 2 else low
    big = _count_weight(w, lead)
    first = cf.first_subset(lead, rep, w, np.zeros(len(capacity), dtype=np.int64), 1)
    arcs = np.flatnonzero(first)
    start = solve_flow(lead[arcs], rep[arcs], w[arcs], n, capacity, low)
    if start.chosen is None:
        return
    prices = rep_prices(lead[arcs], rep[arcs], w[arcs], start.chosen, n, low, capacity, big=big)
    assert prices is not None
    u = cf._lead_potentials(lead[arcs], rep[arcs], w[arcs], start.chosen, prices, big, n)
    broken = cf._violations(lead, rep, w, prices, u, big, 40)
    reach = cf._reach(lead, rep, w, broken, prices, u, big)
    grown = first.copy()
    grown[broken] = True
    was = np.zeros(len(lead), dtype=bool)
    was[arcs[start.chosen]] = True
    sub = np.flatnonzero(grown)
    whole = solve_flow(lead[sub], rep[sub], w[sub], n, capacity, low)
    local = local_resolve(
        lead[sub], rep[sub], w[sub], was[sub], prices, u, big, reach, n, capacity, low
    )
    assert whole.chosen is not None and local is not None
    chosen, freed = local
    assert freed <= n
    assert int(chosen.sum()) == int(whole.chosen.sum())
    assert int(w[sub][chosen].sum()) == int(w[sub][whole.chosen].sum())
    load = np.bincount(rep[sub][chosen], minlength=len(capacity))
    assert np.all(load <= capacity) and np.all(load >= low)
    assert np.all(np.bincount(lead[sub][chosen], minlength=n) <= 1)


def test_the_pricing_loop_finds_a_pair_outside_the_first_subset() -> None:
    """Three reps of capacity 1; every lead's best pair is rep 0. By hand: lead 0 must take
    rep 0 (only it can), lead 1 rep 1 (w 5 over 1), lead 2 rep 2 (its third-best pair):
    3 leads, value 10 + 5 + 1 = 16. Each lead's best pair alone reaches 1 lead."""
    lead = np.array([0, 1, 1, 2, 2, 2])
    rep = np.array([0, 0, 1, 0, 1, 2])
    w = np.array([10, 20, 5, 30, 9, 1], dtype=np.int64)
    capacity = np.ones(3, dtype=np.int64)
    low = np.zeros(3, dtype=np.int64)
    out = certified_flow(lead, rep, w, 3, capacity, low, per_lead=1, sample=0.0)
    cert = out.certificate
    assert cert is not None and out.outcome.chosen is not None
    assert cert.rounds >= 2 and cert.added >= 2 and cert.first_pairs == 3
    assert np.flatnonzero(out.outcome.chosen).tolist() == [0, 2, 5]
    assert int(w[out.outcome.chosen].sum()) == 16
    _check_certificate(lead, rep, w, capacity, low, out.outcome.chosen, cert)


def test_infeasible_floors_name_a_hall_violator() -> None:
    """Rep 1's floor of 2 with one lead that can reach it: no assignment, whatever subset."""
    lead = np.array([0, 0, 1, 2])
    rep = np.array([0, 1, 0, 0])
    w = np.array([5, 1, 5, 5], dtype=np.int64)
    out = certified_flow(
        lead, rep, w, 3, np.array([3, 2]), np.array([0, 2]), per_lead=1, sample=0.0
    )
    assert not out.outcome.feasible and out.certificate is None
    assert out.outcome.hall_reps is not None and out.outcome.hall_reps.tolist() == [1]


def test_deterministic() -> None:
    lead, rep, w, capacity, low, n = _random_pairs(7)
    runs = [certified_flow(lead, rep, w, n, capacity, low, per_lead=2) for _ in range(3)]
    for other in runs[1:]:
        assert other.outcome.chosen is not None and runs[0].outcome.chosen is not None
        assert np.array_equal(other.outcome.chosen, runs[0].outcome.chosen)
        assert other.certificate is not None and runs[0].certificate is not None
        assert np.array_equal(other.certificate.rep_price, runs[0].certificate.rep_price)
        assert other.certificate.details() == runs[0].certificate.details()


@pytest.mark.parametrize("seed", range(8))
def test_the_flow_stage_on_a_subset_matches_the_oracle(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole solves of random policy-free books (floors, reps on leave) with the subset
    path forced: OPTIMAL, the checker's recount, the MILP oracle's optimum, the certificate
    in the result."""
    book = random_book(seed, 60, 6, {})
    problem = load_problem(book.leads, book.reps, book.affinity)
    optimum = milp_optimum(book)
    full = solved(problem, Policy())
    monkeypatch.setattr(flow_stages, "CERTIFIED_FLOW_PAIRS", 0)
    subset = solved(problem, Policy())
    assert subset.method == full.method == "flow"
    if optimum is None:
        assert subset.status == full.status == "INFEASIBLE"
        return
    assert subset.status == "OPTIMAL" and subset.flow_certificate is not None
    assert full.flow_certificate is None
    assert subset.assigned == full.assigned == optimum.assigned
    assert subset.objective == pytest.approx(optimum.score, rel=1e-9)
    assert subset.objective == pytest.approx(full.objective, rel=1e-12)
