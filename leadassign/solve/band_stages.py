"""The value band at the full count: the flow relaxation's choice (every lead it can place)
traded until the hard band holds (``heuristics/band_repair.py``, value-aware trades),
before the drafts, which place fewer leads; then the band's Lagrangian with every row
priced (``engines/value_band.py``, ``band_prices``), whose averaged choice, as a flow, is
traded into the band with the widest looks and improved by moves; the search goes on, and
the flow at its multipliers is traded too; then the flow-based Lagrangian bound from its
multipliers, whose last flows are traded the same way, the best answer kept. With every
lead the count bound allows placed, the answer has a gap; the flows priced by every row
start the trading closest to the optimum (10,000 x 200, value band 0.5 within level,
session 9, after trading and moves: 3.43e11 value units from the relaxation's choice,
3.499e11-3.502e11 from the flow-based bound's flows, 3.501e11 from the averaged flow,
3.504e11 from the flow at the resumed search's multipliers; the LP bound is 3.509e11)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import numpy as np

from leadassign.compile.families.fairness import Fairness, fairness_band
from leadassign.control import budget
from leadassign.control.budget import out_of_time
from leadassign.engines.lp import MAX_PAIRS
from leadassign.engines.value_band import MAX_FLOWS, BandPrices, band_prices, value_band_bound
from leadassign.heuristics.band_repair import LOOKS, WIDE_LOOKS, WIDEST_LOOKS, Looks, repair_band
from leadassign.heuristics.moves import MOVE_CELLS
from leadassign.solve.run import Run
from leadassign.solve.starts import MOVE_VISITS, polished

#: Books of more pairs take these stages; smaller ones go to the LP and HiGHS' MIP, which
#: prove their value bands (tests lower it to run the stages against the MILP oracle).
MIN_PAIRS = MAX_PAIRS
#: The repair's share of the work and time left: the drafts that follow when it fails need
#: the rest (at 50,000 x 300 they took 5 s at load 5). With 0.5 the value-aware trading of
#: that book (wide looks, 4,100 trades) was cut by the clock at load 5 after 25 s.
REPAIR_SHARE = 0.8
#: The Lagrangian bound's share of the time left, a backstop: its flows are counted
#: (``FLOW_PAIRS``), and with 0.6 the third flow's trading at 50,000 x 300 was sometimes cut
#: by the clock at load 2 (339.4M or 325.8M, run to run). What is left goes to CP-SAT, which
#: did not improve these answers.
BOUND_SHARE = 0.9
#: The bound's flows, each traded into the band, are counted, not timed, so that the answer
#: is the same run after run: at most this many pairs over all its flows (and between 2 and
#: ``value_band.MAX_FLOWS`` flows). 10,000 x 200 (440,152 pairs): 27 flows, its best answer
#: at the 24th; 50,000 x 300 (3,372,094 pairs): 3 flows of 5-7 s each with the trading,
#: which fit the stage's share of a 60 s limit (a fourth was cut by the clock).
FLOW_PAIRS = 12_000_000
#: The bound's last flows traded into the band (with the wide looks, then moves), counted
#: like the flows: at most this many pairs over all of them, and at most ``MAX_TRADED``.
#: 10,000 x 200 (440,152 pairs): 3, each about 5 s idle, 10-15 s at load 6 (from the
#: fourth flow on, each ended within 0.5% of the others, 3.47e11-3.49e11 value units
#: against the LP bound's 3.509e11); 50,000 x 300 (3.4M pairs): none, as one such trading
#: takes 25-50 s there: ``band_repair`` trades the relaxation's choice with the wide looks
#: instead.
TRADED_PAIRS = 1_500_000
MAX_TRADED = 3
#: The moves after trading ``band_prices``' flows into the band: visits, and on books of up
#: to this many units x reps (``improve_by_moves``' dense index: 120 MB at 50,000 x 300).
VISITS = 20_000
CELLS = 16_000_000
#: The averaged flow's weights: a pair's share in 1 / SHARE_UNIT, then its weight at the
#: best multipliers scaled into [0, SHARE_UNIT) to break ties.
SHARE_UNIT = 2**16


def band_repair(run: Run) -> None:
    """A hard fairness band that the incumbent (the flow relaxation's choice, at the count
    bound) breaks, on a network-shaped book: that choice traded until the band holds, the
    same leads placed, then improved by moves within the band; offered when it meets every
    rule."""
    prep, inc = run.prep, run.incumbent
    fair, chosen = prep.side.fairness, inc.chosen
    if (
        fair is None
        or fair.penalty is not None
        or chosen is None
        or not run.network_shaped
        or inc.placed() != inc.count_upper
        or inc.count_upper == 0
        or len(prep.pairs) <= MIN_PAIRS
        or inc.feasible
    ):
        return
    run.report.phase("repair")
    with budget.stage(REPAIR_SHARE) as part:
        time_left = None if part is None else part.time_left
        # the wide looks when no flow of the bound will be traded (its answer stands)
        looks = LOOKS if traded_flows(len(prep.pairs)) else WIDE_LOOKS
        repaired = _repaired(run, fair, chosen, time_left, looks)
        if repaired is not None:
            inc.offer(repaired)


def value_band(run: Run) -> None:
    """A value band on a book too big for the LP, with an answer that meets it at the count
    bound (``BOUND_SHARE`` of the time left a backstop for all of it): ``band_prices``'
    bound; the flow that follows its averaged choice traded into the band with the widest
    looks (``band_repair.WIDEST_LOOKS``), improved by ``VISITS`` visits of moves and
    offered; the search resumed towards that answer, and the flow at its multipliers
    traded the same way; then the band's Lagrangian bound over the flow from those
    multipliers, in at most ``bound_flows`` flows, the last ``traded_flows`` of which are
    traded, improved by moves and offered (the incumbent keeps the best that meets every
    rule, and the lowest bound)."""
    pairs, side, inc = run.prep.pairs, run.prep.side, run.incumbent
    fair, hint = side.fairness, inc.chosen
    if not (
        run.network_shaped
        and side.flows_know_all
        and fair is not None
        and fair.penalty is None
        and not run.counting
        and hint is not None
        and side.feasible(pairs, hint)
        and int(hint.sum()) == inc.count_upper
        and len(pairs) > MIN_PAIRS
    ):
        return
    run.report.phase("lagrangian")
    last: deque[np.ndarray] = deque(maxlen=traded_flows(len(pairs)))
    seen = [0]

    def kept(chosen: np.ndarray) -> None:
        """Each flow after the first (the flow at ``band_prices``' multipliers, traded
        above), its chosen pairs, the last ``traded_flows`` kept."""
        seen[0] += 1
        if seen[0] > 1:
            last.append(np.flatnonzero(chosen))

    with budget.stage(BOUND_SHARE) as part:
        assert part is not None
        time_left = part.time_left
        priced = band_prices(
            pairs, fair, inc.count_upper, int(pairs.units[hint].sum()), time_left=time_left
        )
        if priced.bound is not None:
            inc.units_at_most(priced.bound)
        flow_s = round_s = 0.0  # the averaged flow's time, and its round's with the trading
        for averaged in (True, False):
            if averaged is False:  # the search goes on towards the answer found
                best = int(pairs.units[inc.chosen].sum())
                more = band_prices(
                    pairs, fair, inc.count_upper, best, time_left=time_left, start=priced
                )
                if more.bound is not None:
                    inc.units_at_most(more.bound)
                    priced = more
                if out_of_time(time_left, round_s):
                    break  # a round like the first would end past the stage's time
            begun = time.perf_counter()
            chosen = _priced_flow(run, fair, priced, averaged)
            flow_s = max(flow_s, time.perf_counter() - begun)
            repaired = (
                None
                if chosen is None
                else _repaired(
                    run, fair, chosen, time_left, WIDEST_LOOKS, visits=VISITS, cells=CELLS
                )
            )
            if repaired is not None:
                inc.offer(repaired)
            round_s = max(round_s, time.perf_counter() - begun)
            if out_of_time(time_left, 0.0):
                break
        band_bound = value_band_bound(
            pairs, fair, run.flows, inc.count_upper, int(pairs.units[inc.chosen].sum()),
            time_left=time_left, on_flow=kept, max_flows=bound_flows(len(pairs)),
            start=(priced.alpha, priced.beta), first_took=flow_s,
        )  # fmt: skip
        for at in reversed(last):  # the last flow first
            chosen = np.zeros(len(pairs), dtype=bool)
            chosen[at] = True
            repaired = _repaired(run, fair, chosen, time_left, WIDEST_LOOKS)
            if repaired is not None:
                inc.offer(repaired)
            if out_of_time(time_left, 0.0):
                break
    if band_bound is not None:
        inc.units_at_most(band_bound)


def _priced_flow(run: Run, fair: Fairness, priced: BandPrices, averaged: bool) -> np.ndarray | None:
    """A flow at the count that follows ``band_prices``: with ``averaged``, the averaged
    choice of its last steps (each pair weighed by its share, ties by its weight at the
    best multipliers), else the flow at the best multipliers of the band alone (the flow
    prices the capacities); None when it falls short of the count."""
    pairs, count = run.prep.pairs, run.incumbent.count_upper
    metric = fair.metric.astype(np.float64)
    at_prices = pairs.units + np.rint(priced.gamma[pairs.rep] * metric)
    if priced.steps == 0 or np.abs(at_prices).max(initial=0.0) >= 2**52:
        return None
    w = at_prices
    if averaged:
        low, high = float(at_prices.min()), float(at_prices.max())
        ties = np.rint((at_prices - low) / max(high - low, 1.0) * (SHARE_UNIT - 1))
        w = np.rint(priced.shares * SHARE_UNIT) * SHARE_UNIT + ties
    solved = run.flows.solve(w.astype(np.int64), pairs.min_leads, pairs.capacity, count)
    return solved.chosen if solved.chosen is not None and solved.count == count else None


def bound_flows(n_pairs: int) -> int:
    """How many flows the value band's bound may solve on a book of ``n_pairs`` pairs."""
    return min(MAX_FLOWS, max(2, FLOW_PAIRS // max(n_pairs, 1)))


def traded_flows(n_pairs: int) -> int:
    """How many of the bound's last flows are traded into the band on a book of
    ``n_pairs`` pairs (0: none; ``band_repair`` then trades with the wide looks)."""
    return min(MAX_TRADED, TRADED_PAIRS // max(n_pairs, 1))


def _repaired(
    run: Run,
    fair: Fairness,
    chosen: np.ndarray,
    time_left: Callable[[], float] | None,
    looks: Looks = LOOKS,
    *,
    visits: int = MOVE_VISITS,
    cells: int = MOVE_CELLS,
) -> np.ndarray | None:
    """``chosen`` traded into the band (``repair_band`` with ``looks``) when that meets
    every rule, then improved by at most ``visits`` visits of moves within the band it holds
    (``starts.polished``, on books of at most ``cells`` units x reps, in ``time_left()``)."""
    pairs = run.prep.pairs
    repaired = repair_band(pairs, fair, chosen, time_left=time_left, looks=looks)
    if repaired is None or not run.prep.side.feasible(pairs, repaired):
        return None
    band = fairness_band(pairs, fair, repaired)
    return polished(run.prep, repaired, band, None, visits=visits, cells=cells, time_left=time_left)


__all__ = [
    "BOUND_SHARE",
    "FLOW_PAIRS",
    "MAX_TRADED",
    "MIN_PAIRS",
    "REPAIR_SHARE",
    "TRADED_PAIRS",
    "band_repair",
    "bound_flows",
    "traded_flows",
    "value_band",
]
