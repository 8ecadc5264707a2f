"""Local search: shifts and swaps that gain value within capacities, a fairness band and a
churn limit (``improve_by_moves``).
"""

from __future__ import annotations

import numpy as np

from leadassign.compile.families import Continuity
from leadassign.compile.families.fairness import Band
from leadassign.compile.pairs import Pairs
from leadassign.control.stop import stopped
from leadassign.heuristics.repair import room_left

#: improve_by_moves works on books with at most this many units x reps (a dense pair index).
MOVE_CELLS = 4_000_000


def improve_by_moves(
    pairs: Pairs,
    chosen: np.ndarray,
    *,
    band: Band | None = None,
    continuity: Continuity | None = None,
    max_rounds: int = 30,
    max_visits: int = 20_000,
) -> np.ndarray:
    """``chosen`` (one rep per unit, within capacity and floors) improved by local search on
    the value: a unit moves to another rep with room for it (a shift), or two units at
    different reps trade places where both fit (a swap), whenever that raises the summed
    units; each unit in turn takes its best such move, rounds repeat until one gains
    nothing, or ``max_visits`` unit visits are spent (a work limit of about a second, so the
    result does not depend on the machine's speed), or the solve is stopped (``control.stop``).
    The same units stay assigned, so the count, capacities and floors hold (a shift only
    leaves a rep above its floor). With a ``band``, a move must also keep both reps' metric
    within it (so a fair start stays fair); with a ``continuity`` limit, the owners kept
    must stay enough for it. Soft rules are not looked at, so callers check."""
    n_units = int(pairs.unit.max(initial=-1)) + 1
    m = len(pairs.capacity)
    if n_units * m > MOVE_CELLS or not chosen.any():
        return chosen
    chosen = chosen.copy()
    index = np.full((n_units, m), -1, dtype=np.int64)
    index[pairs.unit, pairs.rep] = np.arange(len(pairs))
    units = pairs.units.astype(np.int64)
    effort = pairs.effort.astype(np.int64)
    room = room_left(pairs, chosen)
    count = np.bincount(pairs.rep[chosen], weights=pairs.size[chosen], minlength=m).astype(np.int64)
    at = np.full(n_units, -1, dtype=np.int64)  # the chosen pair of each unit
    at[pairs.unit[chosen]] = np.flatnonzero(chosen)
    if band is None:  # no limits: every metric 0, within [0, 0] in one group
        metric = np.zeros(len(pairs), dtype=np.int64)
        low = high = group = np.zeros(m, dtype=np.int64)
    else:
        metric, low, high, group = band.metric, band.low, band.high, band.group
    held = np.zeros(m, dtype=np.int64)  # exact: value metrics can pass float precision
    np.add.at(held, pairs.rep[chosen], metric[chosen])
    if continuity is None or continuity.penalty is not None:
        kept = np.zeros(len(pairs), dtype=np.int64)
        spare = 0
    else:  # owners kept beyond what the limit needs: moves may spend them (none when short)
        kept = continuity.kept.astype(np.int64)
        spare = int(kept[chosen].sum()) - (continuity.keepable - continuity.limit)
    # the units with a pair at each rep: a swap partner of a unit at rep a must have one
    # there, so the swap scan walks those instead of every assigned unit (the same partners,
    # in the same order: at 20,000 x 200 it took 7.5 of a solve's 14 s)
    having = [np.flatnonzero(index[:, j] >= 0) for j in range(m)]
    visits = 0
    for _ in range(max_rounds):
        gained = 0
        for u in np.flatnonzero(at >= 0).tolist():
            visits += 1
            if visits > max_visits or (visits % 64 == 0 and stopped()):
                return chosen
            p = int(at[u])
            a = int(pairs.rep[p])
            # shifts: u's other pairs at reps with room, a staying at or above its floor
            mine = index[u]
            shift_gain, shift_to = 0, -1
            if count[a] - pairs.size[p] >= pairs.min_leads[a] and held[a] - metric[p] >= low[a]:
                ok = (mine >= 0) & (np.arange(m) != a) & (group == group[a])
                ok[ok] &= effort[mine[ok]] <= room[ok]
                ok[ok] &= held[ok] + metric[mine[ok]] <= high[ok]
                ok[ok] &= kept[mine[ok]] - kept[p] + max(spare, 0) >= 0
                if ok.any():
                    gain = np.where(ok, units[np.maximum(mine, 0)] - units[p], 0)
                    b = int(np.argmax(gain))
                    shift_gain, shift_to = int(gain[b]), b
            # swaps: u at a with v at b, where u has a pair at b and v one at a
            near = having[a]
            placed = at[near]
            others = near[(placed >= 0) & (pairs.rep[np.maximum(placed, 0)] != a)]
            swap_gain, swap_with = 0, -1
            if len(others):
                theirs = at[others]  # v's pair, at rep b
                reps = pairs.rep[theirs]
                u_at_b = mine[reps]
                v_at_a = index[others, a]
                ok = (u_at_b >= 0) & (v_at_a >= 0) & (pairs.size[theirs] == pairs.size[p])
                u_at_b, v_at_a = np.maximum(u_at_b, 0), np.maximum(v_at_a, 0)
                ok &= room[a] + effort[p] - effort[v_at_a] >= 0
                ok &= room[reps] + effort[theirs] - effort[u_at_b] >= 0
                ok &= group[reps] == group[a]
                at_a = held[a] - metric[p] + metric[v_at_a]
                at_b = held[reps] - metric[theirs] + metric[u_at_b]
                ok &= (at_a >= low[a]) & (at_a <= high[a])
                ok &= (at_b >= low[reps]) & (at_b <= high[reps])
                ok &= kept[u_at_b] + kept[v_at_a] - kept[p] - kept[theirs] + max(spare, 0) >= 0
                gain = np.where(ok, units[u_at_b] + units[v_at_a] - units[p] - units[theirs], 0)
                k = int(np.argmax(gain))
                swap_gain, swap_with = int(gain[k]), int(others[k])
            if shift_gain <= 0 and swap_gain <= 0:
                continue
            if shift_gain >= swap_gain:
                q = int(index[u, shift_to])
                chosen[p], chosen[q] = False, True
                room[a] += effort[p]
                room[shift_to] -= effort[q]
                count[a] -= pairs.size[p]
                count[shift_to] += pairs.size[q]
                held[a] -= metric[p]
                held[shift_to] += metric[q]
                spare += kept[q] - kept[p]
                at[u] = q
                gained += shift_gain
            else:
                v = swap_with
                r = int(at[v])
                b = int(pairs.rep[r])
                q, s = int(index[u, b]), int(index[v, a])
                chosen[p] = chosen[r] = False
                chosen[q] = chosen[s] = True
                room[a] += effort[p] - effort[s]
                room[b] += effort[r] - effort[q]
                held[a] += metric[s] - metric[p]
                held[b] += metric[q] - metric[r]
                spare += kept[q] + kept[s] - kept[p] - kept[r]
                at[u], at[v] = q, s
                gained += swap_gain
        if gained <= 0:
            break
    return chosen
