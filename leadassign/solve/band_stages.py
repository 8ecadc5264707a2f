"""The value band at the full count: the flow relaxation's choice (every lead it can place)
traded until the hard band holds (``heuristics/band_repair.py``), before the drafts, which
place fewer leads. With every lead the count bound allows placed, the value band bound
(``flow_stages.value_band``) that follows gives the answer a gap."""

from __future__ import annotations

from leadassign.compile.families.fairness import fairness_band
from leadassign.control import budget
from leadassign.heuristics.band_repair import repair_band
from leadassign.solve.run import Run
from leadassign.solve.starts import polished

#: The repair's share of the work and time left: the drafts that follow when it fails need
#: the rest (at 50,000 x 300 they answered 27 s into the 60 s limit under load).
REPAIR_SHARE = 0.5


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
        or inc.feasible
    ):
        return
    run.report.phase("repair")
    with budget.stage(REPAIR_SHARE) as part:
        repaired = repair_band(
            prep.pairs, fair, chosen, time_left=None if part is None else part.time_left
        )
        if repaired is None or not prep.side.feasible(prep.pairs, repaired):
            return
        repaired = polished(prep, repaired, fairness_band(prep.pairs, fair, repaired), None)
    inc.offer(repaired)


__all__ = ["REPAIR_SHARE", "band_repair"]
