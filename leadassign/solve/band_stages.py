"""The value band at the full count: the flow relaxation's choice (every lead it can place)
traded until the hard band holds (``heuristics/band_repair.py``), before the drafts, which
place fewer leads; then the band's Lagrangian bound (``engines/value_band.py``), each of
whose flows is traded into the band the same way, the best kept. With every lead the count
bound allows placed, the answer has a gap, and the flows priced towards the band start the
repair closer to the optimum than the flow's choice does (10,000 x 200, value band 0.5
within level: 16% from the bound from the flow's choice, 5.6% from the best of 40 flows)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from leadassign.compile.families.fairness import Fairness, fairness_band
from leadassign.control import budget
from leadassign.engines.lp import MAX_PAIRS
from leadassign.engines.value_band import MAX_FLOWS, value_band_bound
from leadassign.heuristics.band_repair import repair_band
from leadassign.solve.run import Run
from leadassign.solve.starts import polished

#: Books of more pairs take these stages; smaller ones go to the LP and HiGHS' MIP, which
#: prove their value bands (tests lower it to run the stages against the MILP oracle).
MIN_PAIRS = MAX_PAIRS
#: The repair's share of the work and time left: the drafts that follow when it fails need
#: the rest (at 50,000 x 300 they answered 27 s into the 60 s limit under load).
REPAIR_SHARE = 0.5
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
        repaired = _repaired(run, fair, chosen, time_left)
        if repaired is not None:
            repaired = polished(prep, repaired, fairness_band(prep.pairs, fair, repaired), None)
            inc.offer(repaired)


def value_band(run: Run) -> None:
    """A value band on a book too big for the LP, with an answer that meets it at the count
    bound: the band's Lagrangian bound over the flow (the flow's own ignores the band), in
    at most ``bound_flows`` flows (``BOUND_SHARE`` of the time left a backstop); each of its
    flows is traded into the band (``band_repair``) and the best that meets every rule,
    improved by moves, is offered."""
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
    best: list[np.ndarray] = []
    seen = [0]
    with budget.stage(BOUND_SHARE) as part:
        assert part is not None
        time_left = part.time_left

        def traded(chosen: np.ndarray) -> int | None:
            """The flow's choice traded into the band: its value units (None: no trade;
            the first flow, unpriced, is the relaxation's, which ``band_repair`` traded)."""
            seen[0] += 1
            if seen[0] == 1:
                return None
            repaired = _repaired(run, fair, chosen, time_left)
            if repaired is None or not inc.offer(repaired):
                return None
            best[:] = [repaired]
            return int(pairs.units[repaired].sum())

        band_bound = value_band_bound(
            pairs, fair, run.flows, inc.count_upper, int(pairs.units[hint].sum()),
            time_left=time_left, on_flow=traded, max_flows=bound_flows(len(pairs)),
        )  # fmt: skip
    if best:
        inc.offer(polished(run.prep, best[0], fairness_band(pairs, fair, best[0]), None))
    if band_bound is not None:
        inc.units_at_most(band_bound)


def bound_flows(n_pairs: int) -> int:
    """How many flows the value band's bound may solve on a book of ``n_pairs`` pairs."""
    return min(MAX_FLOWS, max(2, FLOW_PAIRS // max(n_pairs, 1)))


def _repaired(
    run: Run, fair: Fairness, chosen: np.ndarray, time_left: Callable[[], float] | None
) -> np.ndarray | None:
    """``chosen`` traded into the band (``repair_band``) when that meets every rule."""
    pairs = run.prep.pairs
    repaired = repair_band(pairs, fair, chosen, time_left=time_left)
    if repaired is None or not run.prep.side.feasible(pairs, repaired):
        return None
    return repaired


__all__ = [
    "BOUND_SHARE",
    "FLOW_PAIRS",
    "MIN_PAIRS",
    "REPAIR_SHARE",
    "band_repair",
    "bound_flows",
    "value_band",
]
