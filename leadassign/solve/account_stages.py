"""Accounts kept together on books too big for HiGHS' MIP: the grouped assignment's
Lagrangian bound over units and its packed choices (``engines.grouped``).

The flow relaxation splits accounts between reps, so its bound is loose there (at 10,000 x
200 it allowed 4% more value than any choice that keeps accounts whole); CP-SAT at this size
did not improve the regret greedy's start. Pricing each rep's capacity over whole units is
the LP relaxation over units, and the best pairs at each prices, cut back to the
capacities and topped up by the regret greedy, are choices that keep every account whole.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from leadassign.compile.families.fairness import Band, band_bounds, fairness_band
from leadassign.compile.pairs import Pairs
from leadassign.control import budget
from leadassign.engines import mip
from leadassign.engines.grouped import MAX_STEPS, grouped_search
from leadassign.heuristics.repair import repair_floors
from leadassign.result import Status
from leadassign.solve import flow_stages as flows
from leadassign.solve.incumbent import Finish
from leadassign.solve.run import Run
from leadassign.solve.starts import polished

#: Books of at most this many pairs go to HiGHS' MIP instead (tests lower it).
GROUPED_MIN_PAIRS = mip.MAX_PAIRS
#: Fold a hard count band of one group into the search. Off at first: with tiers and a band
#: of 0.4 the packed choices placed 9,570 of 9,631 leads at 10,000 x 200 and 35,797 of
#: 48,199 at 50,000 x 300 (the regret greedy declines above 20,000 open units). With the
#: packs completed by flows (``repair.fill_by_flows``, ``repair.repacked``) both place every
#: lead, 0.41% and 0.83% from the bound.
FOLD_BAND = True
#: Books up to ``GROUPED_ONLY_PAIRS`` pairs end with the grouped answer too once it is this
#: close to its bound (relative); else CP-SAT continues from it. At 10,000 x 200 CP-SAT ran
#: the rest of the 60 s limit without improving the grouped answer (accounts: 0.04% from
#: the bound; tiers, a count band of 0.4 and accounts: 0.41%), and was cut by the clock.
GROUPED_FINAL_GAP = 0.01
#: Subgradient steps (a work limit): at most ``GROUPED_STEPS``, at most ``GROUPED_PAIRS``
#: pairs over all of them, at least the engine's ``MAX_STEPS`` (150). At 10,000 x 200 with
#: tiers, a count band of 0.4 and accounts (880,000 pairs) 150 steps ended 1.3% from the
#: bound, 600 steps 0.4% (7.5 s). At 50,000 x 300 (1.8M and 2.0M pairs: 333 and 301 steps,
#: about 30 s idle) 150 steps ended that book 0.83% from the bound and accounts alone 0.45%;
#: these steps 0.32% and 0.11% (session 9, benchmarks/RESULTS.md section 5).
GROUPED_STEPS = 600
GROUPED_PAIRS = 600_000_000
#: The search's share of the time left (a backstop: its steps are the work limit), and on
#: books where its answer is final (above ``GROUPED_ONLY_PAIRS``). Under a load of 9 on 2
#: cores half the time cut the 50,000 x 300 search short (9.6% from the bound, against
#: 0.68% on an idle machine, where it ends by its steps in 15 s).
GROUPED_SHARE = 0.5
GROUPED_FINAL_SHARE = 0.9
#: Above this many pairs the grouped answer is final (CP-SAT would not build its model in
#: time; at 50,000 x 300 it did not finish presolve in 60 s).
GROUPED_ONLY_PAIRS = 500_000


def _grouped_pairs(run: Run) -> Pairs | None:
    """The pairs the search works on: the book's, with a hard count band of one group folded
    into each rep's capacity and floor at the count bound (every lead weighs one capacity
    unit, so the band at the count bound is a per-rep range); None when the book is not one
    the search takes (no accounts, other side rules, efforts, or few enough pairs for
    HiGHS' MIP)."""
    pairs, side = run.prep.pairs, run.prep.side
    if not np.any(pairs.size > 1) or len(pairs) <= GROUPED_MIN_PAIRS:
        return None
    fair = side.fairness
    others = [spec for spec in side if spec is not fair]
    if others or not np.all(pairs.effort == pairs.size):
        return None
    if fair is None:
        return pairs
    groups = fair.groups()
    if not FOLD_BAND or fair.penalty is not None or not run.counting or len(groups) != 1:
        return None
    low, high = band_bounds(fair, {0: run.incumbent.count_upper})
    return replace(
        pairs,
        capacity=np.minimum(pairs.capacity.astype(np.int64), high),
        min_leads=np.maximum(pairs.min_leads.astype(np.int64), low),
    )


def grouped_accounts(run: Run) -> Finish | None:
    """The grouped search (``engines.grouped``) from zero prices towards the flow's value:
    its best packed choice, floors topped up, as the incumbent when it meets every rule and
    beats it; its bound when the incumbent places the count bound. Ends the run on books
    too big for CP-SAT (``method: grouped``)."""
    work = _grouped_pairs(run)
    if work is None:
        return None
    prep, inc = run.prep, run.incumbent
    run.report.phase("lagrangian")
    final = len(prep.pairs) > GROUPED_ONLY_PAIRS  # no CP-SAT after it: most of the time
    with budget.stage(GROUPED_FINAL_SHARE if final else GROUPED_SHARE) as part:
        assert part is not None
        found = grouped_search(
            work,
            inc.count_upper,
            np.zeros(len(work.capacity), dtype=np.int64),
            _target(run),
            time_left=part.time_left,
            max_steps=grouped_steps(len(work)),
        )
    chosen = None if found.chosen is None else repair_floors(work, found.chosen)
    if chosen is None or not prep.side.feasible(prep.pairs, chosen):
        return None
    if int(prep.pairs.size[chosen].sum()) < inc.count_upper:
        # short of the count bound: the relaxation's start too, and the better of the two
        # (at 50,000 x 300 with a count band the search placed 35,797 leads, the start 47,946)
        flows.relaxation_start(run)
    inc.offer(polished(prep, chosen, _band(run, chosen), None))
    if inc.placed() < inc.count_upper:
        return None
    inc.units_at_most(found.bound)
    run.grouped_bound = True
    if not inc.feasible:
        return None
    if len(prep.pairs) <= GROUPED_ONLY_PAIRS and not _close(run):
        return None
    return inc_finish(run)


def _close(run: Run) -> bool:
    """The incumbent is within ``GROUPED_FINAL_GAP`` of the value bound (relative)."""
    inc = run.incumbent
    assert inc.chosen is not None and inc.units_upper is not None
    missing = inc.missing(inc.chosen, inc.units_upper)
    return missing <= GROUPED_FINAL_GAP * abs(inc.units_upper)


#: The Polyak target, as a fraction of the flow relaxation's value: an underestimate makes
#: longer steps. At 10,000 x 200 with accounts, 0.9 gave every lead the flow places within
#: 0.7% of the bound in 150 steps, 0.98 left 154 leads out (6.8%).
TARGET_SHARE = 0.9


def grouped_steps(n_pairs: int) -> int:
    """The grouped search's steps on a book of ``n_pairs`` pairs (``GROUPED_PAIRS``)."""
    return min(GROUPED_STEPS, max(MAX_STEPS, GROUPED_PAIRS // max(n_pairs, 1)))


def _target(run: Run) -> int:
    """The Polyak target (``TARGET_SHARE`` of the flow's value bound)."""
    return int(TARGET_SHARE * (run.incumbent.units_upper or 0))


def _band(run: Run, chosen: np.ndarray) -> Band | None:
    fair = run.prep.side.fairness
    return None if fair is None else fairness_band(run.prep.pairs, fair, chosen)


def inc_finish(run: Run) -> Finish:
    """The incumbent as the answer, named by the grouped search."""
    inc = run.incumbent
    finish = inc.finish(inc.count_upper)
    if finish.status == Status.FEASIBLE and finish.missing_units == 0:
        return replace(finish, status=Status.OPTIMAL, by="grouped")
    return replace(finish, by="grouped")


__all__ = [
    "GROUPED_FINAL_GAP",
    "GROUPED_FINAL_SHARE",
    "GROUPED_MIN_PAIRS",
    "GROUPED_ONLY_PAIRS",
    "GROUPED_PAIRS",
    "GROUPED_SHARE",
    "GROUPED_STEPS",
    "TARGET_SHARE",
    "grouped_accounts",
    "grouped_steps",
]
