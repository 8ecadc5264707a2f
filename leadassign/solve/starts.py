"""Starting assignments for the searches: a previous answer, the flow relaxation's choice
made to fit, the regret greedy's fill, and the fairness draft, each improved by moves."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadassign.compile.candidates import lead_starts
from leadassign.compile.families import Continuity, Fairness
from leadassign.compile.families.fairness import Band, band_bounds, fairness_band, group_totals
from leadassign.compile.pairs import Pairs
from leadassign.compile.prepare import Prepared, fits_in_order
from leadassign.control import budget
from leadassign.control.budget import out_of_time
from leadassign.engines.flow import solve_flow
from leadassign.heuristics.band_room import BandRoom
from leadassign.heuristics.draft import balanced_draft, owners_start
from leadassign.heuristics.moves import MOVE_CELLS, improve_by_moves
from leadassign.heuristics.repair import fill_by_regret, repair_floors, room_left
from leadassign.models.problem import Problem
from leadassign.result import SharedRelaxation
from leadassign.solve.incumbent import better

#: Unit visits of the local search (``improve_by_moves``) after the balanced draft and after
#: the Lagrangian churn flow: about 4 s at 10,000 x 200. After the draft of a value band,
#: 5,000 and 20,000 visits ended within 0.5% of each other; after the churn flow, they cut
#: the gap to the bound from 7.7e-5 to 1.9e-5 (continuity 0.05) and from 4.1e-5 to 2.4e-5
#: (tiers, count fairness and continuity).
MOVE_VISITS = 5_000


@dataclass(frozen=True)
class Start:
    """A previous answer to start from (a scenario's base, last week's run): ``owners``
    (lead_id -> rep_id) where they still meet every hard rule, the churn search's keep
    bonus (``Result.keep_bonus``, in value per kept owner) as its first guess, the flow
    relaxation's rep prices (``Result.rep_prices``, rep_id -> value) that pick the pairs its
    relaxation starts from (``flow_stages.flow_relaxation``), that relaxation itself
    (``Result.relaxation``), taken as is when the run's relaxation is the same problem, and
    the rep prices of the churn search's flow at its bonus (``Result.keep_prices``, rep_id ->
    value), at which its churn search's pairs are widened before the first flow."""

    owners: Mapping[str, str]
    keep_bonus: float | None = None
    rep_prices: Mapping[str, float] | None = None
    relaxation: SharedRelaxation | None = None
    keep_prices: Mapping[str, float] | None = None


def trim_to_capacity(pairs: Pairs, chosen: np.ndarray) -> np.ndarray:
    """A start for CP-SAT when efforts differ: the chosen pairs of a relaxation in which each
    lead took one unit, cut back per rep to the best-value prefix that fits its capacity in
    effort (vectorized: sort by rep then value, one cumulative sum per rep)."""
    picked = np.flatnonzero(chosen)
    order = picked[np.lexsort((picked, -pairs.units[picked], pairs.rep[picked]))]
    keep = fits_in_order(pairs.rep[order], pairs.effort[order], pairs.capacity)
    trimmed = np.zeros(len(pairs), dtype=bool)
    trimmed[order[keep]] = True
    return trimmed


def relaxed_start(
    prep: Prepared,
    relaxed: np.ndarray,
    lead_of: np.ndarray,
    rep_of: np.ndarray,
    lead_units: np.ndarray,
) -> np.ndarray:
    """A start from the lead-level relaxation (chosen ``relaxed`` over the usable pairs):
    owners preferred under a continuity limit, merged into whole accounts, trimmed to the
    capacities in effort and topped up to the floors."""
    cands, units, pairs, side = prep.cands, prep.units, prep.pairs, prep.side
    usable = units.usable
    start = relaxed
    if side.continuity is not None:
        # Among the most leads, prefer owners: an owner pair's bonus outweighs the value
        # difference of any one lead, so the hint makes few changes.
        keep = side.continuity.kept[units.var[usable]] > 0
        bonus = 2 * int(np.abs(lead_units).max(initial=0)) + 1
        kept_flow = solve_flow(
            lead_of,
            rep_of,
            lead_units + bonus * keep,
            cands.n_leads,
            pairs.capacity,
            np.zeros_like(pairs.min_leads),
        ).chosen
        assert kept_flow is not None
        start = kept_flow
    spread = np.zeros(len(cands), dtype=bool)
    spread[usable[start]] = True
    merged = units.unit_choice(spread)
    if np.any(pairs.size > 1):
        # Accounts: the same flow over whole units (one unit of flow each, bigger accounts
        # first), which keeps accounts whole where the lead-level flow splits them.
        weight = 2 * int(np.abs(pairs.units).max(initial=0)) + 1
        whole = solve_flow(
            pairs.unit,
            pairs.rep,
            pairs.units + weight * pairs.size,
            int(pairs.unit.max(initial=-1)) + 1,
            pairs.capacity,
            np.zeros_like(pairs.min_leads),
        ).chosen
        assert whole is not None
        merged = whole
    return repair_floors(pairs, trim_to_capacity(pairs, merged))


def filled_start(prep: Prepared, hint: np.ndarray) -> np.ndarray:
    """The relaxation's hint, or a fuller start when the regret greedy finds one that meets
    every hard rule: the hint topped up (most value first), or built afresh with the pair
    taking the smallest share of its rep's capacity first, which on generalized-assignment
    books assigns every job where the trimmed relaxation left a quarter of them out; either
    then improved by shifts and swaps (``improve_by_moves``)."""
    pairs = prep.pairs
    share = -pairs.effort / np.maximum(pairs.capacity[pairs.rep], 1)
    best = hint
    for start, desirability in (
        (hint, pairs.units.astype(np.float64)),
        (np.zeros(len(pairs), dtype=bool), share),
    ):
        filled = improve_by_moves(pairs, fill_by_regret(pairs, start, desirability))
        if prep.side.feasible(pairs, filled) and better(prep, filled, best):
            best = filled
    return best


def previous_start(problem: Problem, prep: Prepared, start: Mapping[str, str]) -> np.ndarray | None:
    """A previous assignment (lead_id -> rep_id) as a start: the pairs of it that still
    exist (whole accounts), trimmed to the capacities and topped up to the floors; None when
    it breaks a hard rule. (Not topped up by the regret greedy: at 20,000 x 200 that took
    12 s per variant, six times the solve.)"""
    cands, units, pairs = prep.cands, prep.units, prep.pairs
    wanted = pd.Series(problem.leads.ids).map(pd.Series(start, dtype=object)).fillna("")
    rep_of_lead = pd.Index(problem.reps.ids).get_indexer(wanted.to_numpy(dtype=object))
    spread = (rep_of_lead[cands.lead] == cands.rep) & (rep_of_lead[cands.lead] >= 0)
    chosen = repair_floors(pairs, trim_to_capacity(pairs, units.unit_choice(spread)))
    return chosen if prep.side.feasible(pairs, chosen) else None


def guessed_bonus(start: Start | None, scale: float) -> int | None:
    """A start's keep bonus in this book's value units (None: none, or not a finite one)."""
    if start is None or start.keep_bonus is None:
        return None
    units = start.keep_bonus * scale
    return round(units) if math.isfinite(units) and units < 2**62 else None


#: A start's rep prices are clipped to this many value units either way (far from int64's
#: ends: only their order per lead matters, to pick a subset).
PRICE_LIMIT = 2**60


def guessed_prices(start: Start | None, problem: Problem, scale: float) -> np.ndarray | None:
    """A start's rep prices (``Start.rep_prices``) per rep of this book, in its value units
    (a rep the start has no price for: 0); None when it has none."""
    return prices_by_rep(None if start is None else start.rep_prices, problem, scale)


def prices_by_rep(
    known_prices: Mapping[str, float] | None, problem: Problem, scale: float
) -> np.ndarray | None:
    """Prices by rep_id (in value) per rep of this book, in its value units (a rep without
    one: 0); None for None."""
    if known_prices is None:
        return None
    known = pd.Series(known_prices, dtype=np.float64)
    value = known.reindex(pd.Index(problem.reps.ids, dtype=object)).fillna(0.0).to_numpy()
    units = np.nan_to_num(value * scale, nan=0.0, posinf=PRICE_LIMIT, neginf=-PRICE_LIMIT)
    prices: np.ndarray = np.round(np.clip(units, -PRICE_LIMIT, PRICE_LIMIT)).astype(np.int64)
    return prices


#: Drafts with ceilings (``ceiling_draft``) tried, each at the band of the previous one's
#: totals, and how far below the band's top (towards its middle) the ceiling sits.
CEILING_ROUNDS = 4
CEILING_SLACK = 0.25
#: The fill after a ceiling draft takes at most this share of the time left (at 50,000 x
#: 300 it checks every rule for each lead it tries: the run overran its limit).
FILL_SHARE = 0.5
#: The drafts (plain, then with ceilings) and the fill take at most this share of the time
#: left (each draft is a loop over the units in Python, about 10 s at 50,000 x 300: on an
#: idle machine they ended 44 s into that book's 60 s): a draft cut short returns what it
#: placed, kept when that meets every rule. Often the only answer there is (CP-SAT is skipped
#: with less time left than building its model takes), so most of the time is theirs: with
#: 0.6 the 50,000 x 300 value band ended UNKNOWN under a load of 9 on 2 cores.
DRAFT_SHARE = 0.9


def drafted_start(
    prep: Prepared, fair: Fairness, estimate: np.ndarray | None = None
) -> np.ndarray | None:
    """``balanced_draft`` by value, then improved by moves that keep the band at the draft's
    totals (and the churn limit); None when the draft breaks a hard rule. Under a churn
    limit the draft starts from just enough owners for it (``owners_start``) and prefers
    owners for the rest. When the plain draft breaks the band and ``estimate`` (a choice,
    such as the flow's, whose group totals approximate the answer's) is given, drafts with
    per-rep ceilings (``ceiling_draft``) follow."""
    pairs, side, churn = prep.pairs, prep.side, prep.side.continuity
    desirability = pairs.units.astype(np.float64)
    start = None
    if churn is not None and churn.penalty is None:
        desirability += (2.0 * float(np.abs(pairs.units).max(initial=0)) + 1.0) * (churn.kept > 0)
        start = owners_start(pairs, churn, enough=churn.keepable - churn.limit)
    with budget.stage(DRAFT_SHARE) as part:
        time_left = None if part is None else part.time_left
        drafted: np.ndarray | None = balanced_draft(
            pairs, fair, desirability, start, None, time_left
        )
        assert drafted is not None
        if not side.feasible(pairs, drafted):
            if estimate is None:
                return None
            drafted = ceiling_draft(prep, fair, desirability, start, estimate, time_left)
            if drafted is None:
                return None
            drafted = filled_within_rules(prep, drafted)
    return polished(prep, drafted, fairness_band(pairs, fair, drafted), churn)


def ceiling_draft(
    prep: Prepared,
    fair: Fairness,
    desirability: np.ndarray,
    start: np.ndarray | None,
    estimate: np.ndarray,
    time_left: Callable[[], float] | None = None,
) -> np.ndarray | None:
    """The best of up to ``CEILING_ROUNDS`` balanced drafts in which no rep takes a unit that
    would lift it above a ceiling: ``CEILING_SLACK`` of the way from the top of its band
    (at the group totals of ``estimate``, then of the previous draft) to the band's middle.
    Units whose every rep is at its ceiling stay out (fewer leads, but the band holds, where
    the plain draft placed them and broke it: a 10,000 x 200 value band of 0.5 within level
    had no answer). None when no round meets every hard rule, or ``time_left`` ran out
    first (a round cut short by it is kept when what it placed meets every rule)."""
    pairs, side = prep.pairs, prep.side
    basis = estimate
    for _ in range(CEILING_ROUNDS):
        if out_of_time(time_left, 0.0):
            break
        low, high = band_bounds(fair, group_totals(pairs, fair, basis, fair.metric))
        open_top = high == np.iinfo(np.int64).max
        top = high.astype(np.float64)
        ceiling = np.where(open_top, np.inf, top - CEILING_SLACK * (top - low) / 2)
        basis = balanced_draft(pairs, fair, desirability, start, ceiling, time_left)
        if side.feasible(pairs, basis):
            return basis  # the first that holds (each round is a loop over the units)
    return None


def filled_within_rules(prep: Prepared, chosen: np.ndarray, tries: int = 3) -> np.ndarray:
    """``chosen`` (feasible) with units it leaves out added, most valuable first, each at the
    best of its ``tries`` most valuable reps with room where every hard rule still holds
    (a loop over the units left out, not over pairs). When the only side rule is a hard
    fairness band, each try is checked on its group alone (``BandRoom``: the same answer,
    about 0.1 ms a try instead of 12 ms at 10,000 x 200), and the whole once at the end."""
    pairs, side = prep.pairs, prep.side
    fair = side.fairness
    if fair is not None and fair.penalty is None and len(side.specs) == 1:
        room = BandRoom.of(pairs, fair, chosen)
        if room is not None:
            filled = _filled(prep, chosen, tries, room)
            if side.feasible(pairs, filled):
                return filled
    return _filled(prep, chosen, tries, None)


def _filled(prep: Prepared, chosen: np.ndarray, tries: int, band: BandRoom | None) -> np.ndarray:
    """``filled_within_rules``: each try checked by ``band`` (None: every hard rule)."""
    pairs, side = prep.pairs, prep.side
    chosen = chosen.copy()
    room = room_left(pairs, chosen)
    placed = np.zeros(int(pairs.unit.max(initial=-1)) + 1, dtype=bool)
    placed[pairs.unit[chosen]] = True
    starts = lead_starts(pairs.unit)
    ends = np.append(starts[1:], len(pairs))
    best_units = np.maximum.reduceat(pairs.units, starts) if len(pairs) else pairs.units
    metric = None if band is None else band.fairness.metric
    meter = budget.current()
    keep = None if meter is None else (1 - FILL_SHARE) * meter.time_left()
    for visits, k in enumerate(np.argsort(-best_units, kind="stable").tolist()):
        if placed[pairs.unit[starts[k]]]:
            continue
        if visits % 64 == 0 and meter is not None and out_of_time(meter.time_left, keep or 0.0):
            break
        mine = np.arange(starts[k], ends[k])
        mine = mine[pairs.effort[mine] <= room[pairs.rep[mine]]]
        for pick in mine[np.argsort(-pairs.units[mine], kind="stable")][:tries].tolist():
            rep = int(pairs.rep[pick])
            if band is not None and metric is not None:
                if not band.fits(rep, int(metric[pick])):
                    continue
                band.add(rep, int(metric[pick]))
            else:
                chosen[pick] = True
                if not side.feasible(pairs, chosen):
                    chosen[pick] = False
                    continue
            chosen[pick] = True
            room[rep] -= int(pairs.effort[pick])
            break
    return chosen


def polished(
    prep: Prepared,
    chosen: np.ndarray,
    band: Band | None,
    limit: Continuity | None,
    *,
    visits: int = MOVE_VISITS,
    cells: int = MOVE_CELLS,
    time_left: Callable[[], float] | None = None,
) -> np.ndarray:
    """``chosen`` (feasible) improved by ``improve_by_moves`` (at most ``visits`` visits,
    on books of at most ``cells`` units x reps, within ``time_left()``) within ``band`` and
    the churn ``limit``, when the result still meets every rule (else ``chosen`` as it is)."""
    pairs = prep.pairs
    moved = improve_by_moves(
        pairs,
        chosen,
        band=band,
        continuity=limit,
        max_visits=visits,
        max_cells=cells,
        time_left=time_left,
    )
    return moved if prep.side.feasible(pairs, moved) else chosen


__all__ = [
    "CEILING_ROUNDS",
    "CEILING_SLACK",
    "DRAFT_SHARE",
    "MOVE_VISITS",
    "Start",
    "ceiling_draft",
    "drafted_start",
    "filled_start",
    "filled_within_rules",
    "guessed_bonus",
    "polished",
    "previous_start",
    "prices_by_rep",
    "relaxed_start",
    "trim_to_capacity",
]
