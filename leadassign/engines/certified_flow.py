"""The transportation problem solved exactly on a priced subset of its pairs, with an integer
certificate that covers every pair.

The problem is :func:`engines.flow.solve_flow`'s: at most one pair per lead, rep loads in
``[low, high]``, most pairs first, then most weight ``w``. With the count weight ``big``
(``priced_flows._count_weight`` over *all* pairs: more than any change of value a set of
augmenting moves can make) that lexicographic objective is the LP

    max sum (big + w_ij) x_ij   s.t.  sum_j x_ij <= 1,  low_j <= sum_i x_ij <= high_j,

whose dual has a potential ``u_i >= 0`` per lead and a free price ``r_j`` per rep. An
assignment is optimal over every pair when, for every pair,

    slack_ij = u_i + r_j - big - w_ij >= 0,

with ``slack = 0`` on the chosen pairs, ``u_i = 0`` for unassigned leads, ``r_j > 0`` only at
reps that are full and ``r_j < 0`` only at reps at their floor (complementary slackness).

:func:`certified_flow` solves the flow on each lead's ``per_lead`` best pairs by ``w``,
reads exact integer rep prices off the optimal subset flow (:func:`priced_flows.rep_prices`,
a longest-path fixpoint over the reps), sets each lead's potential from its chosen pair,
checks ``slack >= 0`` for *every* pair in numpy, a chunk of pairs at a time, adds the pairs
that break it (per lead, the ``PER_LEAD`` that break it most) and solves again, until none
does. Each round adds at least one pair, so it ends; the last round's prices and potentials
are the certificate, in integers. OR-Tools only ever sees the subset.

After the first round the flow is re-solved locally (:func:`local_resolve`): with the last
round's duals every residual arc of its optimum has a reduced cost >= 0 but the added pairs,
so an improving cycle that uses an arc of reduced cost ``c`` needs added pairs worth more
than ``c`` on it; a simple cycle enters each rep at most once, so ``reach`` = the sum over
reps of the most negative slack of an added pair into it bounds them all. A lead whose every
residual arc (its other pairs' slacks, and ``u_i`` to leave it out) costs ``>= reach`` keeps
its pair; OR-Tools solves the other leads with what their reps have left. The combined
assignment is optimal on the subset (some optimum differs from the last one only by
improving cycles); :func:`rep_prices` re-proves it, or the whole subset is solved again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadassign.engines.flow import FlowError, FlowOutcome, solve_flow
from leadassign.engines.priced_flows import (
    CHUNK_PAIRS,
    _count_weight,
    _lead_chunks,
    exact_sum,
    first_subset,
    rep_prices,
    top_per_lead,
)

#: Pairs priced at once (the chunk's temporaries are a few int64 arrays of this length).
CHUNK = CHUNK_PAIRS
#: The share of the leads whose optimum prices the first subset (:func:`sample_prices`).
#: 20%: with 5% the 100,000 x 500 book's sample flow took 0.6 s instead of 3.5 s for as many
#: rounds (5), but 200,000 x 800 needed 6 rounds instead of 3 (487 s against 216 s under
#: load 7-9). benchmarks/RESULTS.md section 1b.
SAMPLE = 0.2
#: Each lead's pairs in the first subset, and the most a pricing round adds per lead.
PER_LEAD = 4


@dataclass(frozen=True, eq=False)
class Certificate:
    """Integer duals proving the flow optimal over every pair (module doc): ``slack_ij =
    lead_potential[i] + rep_price[j] - big - w_ij >= 0`` for all pairs, 0 on chosen ones."""

    big: int
    rep_price: np.ndarray  # int64 per rep
    lead_potential: np.ndarray  # int64 per lead (0 for leads left out)
    rounds: int  # flows solved on the subset
    first_pairs: int  # pairs in the first subset
    added: int  # pairs the pricing rounds added
    pairs: int  # pairs in the final subset
    local: int = 0  # rounds re-solved locally (:func:`local_resolve`)
    local_leads: int = 0  # leads those local flows re-assigned, summed over them
    rebased: int = 0  # pairs in the subset re-based on round 1's prices (0: not re-based)

    def details(self) -> dict[str, int]:
        """What summary.json reports ("flow_certificate")."""
        return {
            "rounds": self.rounds,
            "first_subset_pairs": self.first_pairs,
            "pairs_added": self.added,
            "final_subset_pairs": self.pairs,
            "local_rounds": self.local,
            "local_leads": self.local_leads,
            "rebased_subset_pairs": self.rebased,
        }


@dataclass(frozen=True, eq=False)
class CertifiedFlow:
    """The flow's outcome over all pairs (``chosen`` indexes the given pairs) and its
    certificate (None when the floors cannot be met)."""

    outcome: FlowOutcome
    certificate: Certificate | None
    #: with ``within`` > 0 and no floors, when the run stopped before a certificate: an
    #: upper bound on the weight ``w`` of any choice of ``outcome.max_count`` pairs over
    #: every pair, that count proven the most (:func:`dual_excess`); None otherwise
    bound: int | None = None
    #: the last round's rep prices (the certificate's when there is one)
    prices: np.ndarray | None = None


def sample_prices(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    n_leads: int,
    capacity: np.ndarray,
    min_leads: np.ndarray,
    big: int,
    fraction: float = 0.0,
) -> np.ndarray:
    """Rep prices (count weight ``big``) that prove the optimum of a sample of the book: a
    fixed ``fraction`` of the leads with all their pairs, every rep's capacity and floor
    scaled by it. They estimate the whole book's prices, so each lead's best pairs at them
    are likely the ones the optimum uses; zeros when the sample's floors cannot be met."""
    zero = np.zeros(len(capacity), dtype=np.int64)
    picked = np.random.default_rng(0).random(n_leads) < fraction
    arcs = np.flatnonzero(picked[lead])
    if not len(arcs):
        return zero
    high = np.floor(capacity * fraction + 0.5).astype(np.int64)
    low = np.minimum(np.floor(min_leads * fraction), high).astype(np.int64)
    outcome = solve_flow(lead[arcs], rep[arcs], w[arcs], n_leads, high, low)
    if outcome.chosen is None:
        return zero
    prices = rep_prices(lead[arcs], rep[arcs], w[arcs], outcome.chosen, n_leads, low, high, big=big)
    return zero if prices is None else prices


def certified_flow(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    n_leads: int,
    capacity: np.ndarray,
    min_leads: np.ndarray,
    *,
    per_lead: int = PER_LEAD,
    chunk: int = CHUNK,
    sample: float = SAMPLE,
    within: float = 0.0,
    rebase: int = 0,
) -> CertifiedFlow:
    """:func:`solve_flow` over all pairs (``lead`` sorted), solved on a priced subset and
    certified over every pair (module doc). ``sample``: the share of the leads whose optimum
    prices the first subset (0: each lead's best pairs by ``w``). ``within`` > 0 (no floors
    only): stop after the first round whose duals prove its count the most and its weight
    within that share of the best (:func:`dual_excess`), with that bound and no
    certificate. ``per_lead``: each lead's pairs in the first subset (the pricing rounds add
    at most ``PER_LEAD`` a lead). ``rebase`` > 0: when the first round leaves pairs of
    negative slack, the subset is rebuilt once from that round's prices — each lead's
    ``rebase`` best pairs at them, that round's choice and the pairs of negative slack — and
    solved whole (its duals price the book far better than the sample's)."""
    big = _count_weight(w, lead)
    if big >= 2**58:
        raise FlowError("values too large for an integer certificate")
    guess = sample_prices(lead, rep, w, n_leads, capacity, min_leads, big, sample)
    selected = first_subset(lead, rep, w, guess, per_lead, chunk)
    first_pairs = int(selected.sum())
    floors_added = False
    rounds = local = local_leads = added = rebased = 0
    last: _Round | None = None
    while True:
        rounds += 1
        arcs = np.flatnonzero(selected)
        sub = (lead[arcs], rep[arcs], w[arcs])
        proven = (
            None if last is None else _local_round(sub, arcs, last, n_leads, capacity, min_leads)
        )
        if proven is not None:
            local += 1
            local_leads += proven[2]
        else:
            solved = _whole_round(sub, n_leads, capacity, min_leads, big)
            if isinstance(solved, FlowOutcome):
                if floors_added or not np.any(min_leads > 0):
                    return CertifiedFlow(solved, None)  # every pair of a floored rep was in it
                selected |= min_leads[rep] > 0  # the floors' Hall condition needs only these
                floors_added = True
                continue
            proven = (*solved, 0)
        sub_chosen, prices = proven[0], proven[1]
        potential = _lead_potentials(*sub, sub_chosen, prices, big, n_leads)
        broken = _violations(lead, rep, w, prices, potential, big, chunk)
        chosen = np.zeros(len(lead), dtype=bool)
        chosen[arcs[sub_chosen]] = True
        outcome = FlowOutcome(True, chosen, int(chosen.sum()))
        if not len(broken):
            cert = Certificate(
                big,
                prices,
                potential,
                rounds,
                first_pairs,
                added,
                int(selected.sum()),
                local,
                local_leads,
                rebased,
            )
            return CertifiedFlow(outcome, cert, prices=prices)
        if within > 0 and not np.any(min_leads > 0):
            bound = _bound_within(lead, rep, w, chosen, prices, potential, big, within, chunk)
            if bound is not None:
                return CertifiedFlow(outcome, None, bound, prices)
        added += len(broken)
        if rebase > 0 and not rebased and last is None:  # the first round that was solved
            selected = first_subset(lead, rep, w, prices, rebase, chunk) | chosen
            if floors_added:
                selected |= min_leads[rep] > 0
            selected[broken] = True
            rebased = int(selected.sum())
            continue  # with ``last`` still None: the next round solves the whole new subset
        # a broken pair is never in the subset: the subset's duals are feasible there
        selected[broken] = True
        last = _Round(
            chosen, prices, potential, big, _reach(lead, rep, w, broken, prices, potential, big)
        )


def _whole_round(
    sub: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_leads: int,
    capacity: np.ndarray,
    min_leads: np.ndarray,
    big: int,
) -> tuple[np.ndarray, np.ndarray] | FlowOutcome:
    """The flow on the whole subset and the rep prices proving it, or its outcome when the
    floors cannot be met on it."""
    outcome = solve_flow(*sub, n_leads, capacity, min_leads)
    if outcome.chosen is None:
        return outcome
    prices = rep_prices(*sub, outcome.chosen, n_leads, min_leads, capacity, big=big)
    if prices is None:
        raise FlowError("no rep prices prove the subset flow optimal")
    return outcome.chosen, prices


@dataclass(frozen=True, eq=False)
class _Round:
    """A round's optimum over all pairs (``chosen``), its duals, and the ``reach`` of the
    pairs it added (module doc)."""

    chosen: np.ndarray
    prices: np.ndarray
    potential: np.ndarray
    big: int
    reach: int


def dual_excess(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    prices: np.ndarray,
    potential: np.ndarray,
    big: int,
    chunk: int = CHUNK,
) -> int:
    """How far the duals (rep ``prices`` >= 0, lead ``potential``, of an optimum on a subset
    with no floors) are from feasible over every pair: per lead its most negative slack (0
    when none), summed. Raising each lead's potential by that much makes them feasible, so
    the dual objective, which is the subset optimum's ``big * count + weight`` (complementary
    slackness) plus this excess, bounds ``big * count + weight`` of every choice over every
    pair (weak duality)."""
    worst = np.zeros(len(potential), dtype=np.int64)
    for lo, hi in _lead_chunks(lead, chunk):
        gain = w[lo:hi].astype(np.int64) - prices[rep[lo:hi]]
        gain += big
        gain -= potential[lead[lo:hi]]  # = -slack
        bad = np.flatnonzero(gain > 0)
        np.maximum.at(worst, lead[lo + bad], gain[bad])
    return exact_sum(worst)


def _bound_within(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    chosen: np.ndarray,
    prices: np.ndarray,
    potential: np.ndarray,
    big: int,
    within: float,
    chunk: int,
) -> int | None:
    """The bound on the weight of any choice of ``chosen``'s count over every pair, when the
    duals prove that count the most (any choice of one more pair is worth at least
    ``(count + 1) * (big + min(w, 0))``) and the bound is within ``within`` of the weight;
    None otherwise."""
    if np.any(prices < 0):
        return None  # only floors give negative prices; the excess assumes none
    excess = dual_excess(lead, rep, w, prices, potential, big, chunk)
    count = int(chosen.sum())
    value = exact_sum(w[chosen])
    floor = big + min(int(w.min(initial=0)), 0)
    if big * count + value + excess >= (count + 1) * floor:
        return None  # the count is not proven
    if excess > within * max(abs(value), 1):
        return None
    return value + excess


def _reach(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    added: np.ndarray,
    prices: np.ndarray,
    potential: np.ndarray,
    big: int,
) -> int:
    """The most an improving cycle can gain from the ``added`` pairs (negative slack): per
    rep the most negative slack of an added pair into it (a simple cycle enters a rep once),
    summed."""
    gain = big + w[added].astype(np.int64) - prices[rep[added]] - potential[lead[added]]
    most = np.zeros(len(prices), dtype=np.int64)
    np.maximum.at(most, rep[added], gain)
    return int(most.sum())


def _local_round(
    sub: tuple[np.ndarray, np.ndarray, np.ndarray],
    arcs: np.ndarray,
    last: _Round,
    n_leads: int,
    capacity: np.ndarray,
    min_leads: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The subset's optimum by :func:`local_resolve` from the last round's, with rep prices
    that prove it (None when they do not: then the whole subset is solved)."""
    was = last.chosen[arcs]
    local = local_resolve(
        *sub, was, last.prices, last.potential, last.big, last.reach, n_leads, capacity, min_leads
    )
    if local is None:
        return None
    chosen, freed = local
    prices = rep_prices(*sub, chosen, n_leads, min_leads, capacity, big=last.big)
    return None if prices is None else (chosen, prices, freed)


def local_resolve(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    was: np.ndarray,
    prices: np.ndarray,
    potential: np.ndarray,
    big: int,
    reach: int,
    n_leads: int,
    capacity: np.ndarray,
    min_leads: np.ndarray,
) -> tuple[np.ndarray, int] | None:
    """The optimum on these pairs from ``was`` (optimal before pairs of negative slack were
    added, with duals ``prices`` and ``potential``), re-solving only the leads an improving
    cycle of gain at most ``reach`` can touch (module doc): the chosen pairs and how many
    leads were re-solved, or None when the flow on them finds no assignment."""
    slack = potential[lead] + prices[rep] - big - w.astype(np.int64)
    free = np.zeros(n_leads, dtype=bool)
    free[lead[~was & (slack < reach)]] = True  # a move (or an added pair) within reach
    free[lead[was]] |= potential[lead[was]] < reach  # leaving the lead out within reach
    fixed = was & ~free[lead]
    load = np.bincount(rep[fixed], minlength=len(capacity))
    part = np.flatnonzero(free[lead])
    floors = np.maximum(min_leads - load, 0)
    outcome = solve_flow(lead[part], rep[part], w[part], n_leads, capacity - load, floors)
    if outcome.chosen is None:
        return None
    chosen = fixed.copy()
    chosen[part[outcome.chosen]] = True
    return chosen, int(free.sum())


def _lead_potentials(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    chosen: np.ndarray,
    prices: np.ndarray,
    big: int,
    n_leads: int,
) -> np.ndarray:
    """``u_i = big + w_ij - r_j`` of each lead's chosen pair (complementary slackness), 0
    for a lead left out, per lead."""
    potential = np.zeros(n_leads, dtype=np.int64)
    picked = np.flatnonzero(chosen)
    potential[lead[picked]] = big + w[picked].astype(np.int64) - prices[rep[picked]]
    if np.any(potential < 0):
        raise FlowError("a chosen pair with a negative lead potential")
    return potential


def _violations(
    lead: np.ndarray,
    rep: np.ndarray,
    w: np.ndarray,
    prices: np.ndarray,
    potential: np.ndarray,
    big: int,
    chunk: int,
) -> np.ndarray:
    """Of every pair, those with negative slack (module doc): per lead, the ``PER_LEAD``
    with the most negative slack, ascending. Priced a chunk of whole leads at a time."""
    found: list[np.ndarray] = []
    u = potential
    for lo, hi in _lead_chunks(lead, chunk):
        gain = w[lo:hi].astype(np.int64) - prices[rep[lo:hi]]
        gain += big
        gain -= u[lead[lo:hi]]  # = -slack
        bad = np.flatnonzero(gain > 0)
        if len(bad):
            found.append(top_per_lead(bad + lo, lead[lo + bad], gain[bad], PER_LEAD))
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def slack(lead: np.ndarray, rep: np.ndarray, w: np.ndarray, certificate: Certificate) -> np.ndarray:
    """Every pair's slack under the certificate (module doc), for reports and checks."""
    u = certificate.lead_potential
    out: np.ndarray = u[lead] + certificate.rep_price[rep] - certificate.big - w.astype(np.int64)
    return out


__all__ = [
    "CHUNK",
    "PER_LEAD",
    "SAMPLE",
    "Certificate",
    "CertifiedFlow",
    "certified_flow",
    "dual_excess",
    "first_subset",
    "local_resolve",
]
