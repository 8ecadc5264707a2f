"""The three routing strategies CRMs use, over the optimizer's eligible pairs.

Each function takes the eligible pairs (sorted by lead, then rep, as
:class:`~leadassign.compile.candidates.Candidates` holds them) in CSR form: the pairs of lead
``i`` are ``indptr[i]:indptr[i + 1]``. Each returns, per lead, the index of the chosen pair
(-1 when the lead stays unassigned). A pair fits when its effort is at most the rep's room
(capacity minus the effort already assigned to it), exactly as capacity counts in the
optimizer. Nothing here is random, and nothing loops in Python over lead x rep pairs: the
round robins loop once over leads (numpy on each lead's slice of pairs), greedy once per
heap entry (one per lead, plus one each time a lead's best rep turned out full).
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from leadassign.compile.candidates import best_per_lead


def offsets(keys: np.ndarray, n: int) -> np.ndarray:
    """CSR offsets of items with ``keys`` in ``range(n)``: once the items are sorted by key,
    key k owns ``offsets[k]:offsets[k + 1]``."""
    out = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=out[1:])
    return out


def round_robin(
    indptr: np.ndarray, rep: np.ndarray, effort: np.ndarray, capacity: np.ndarray
) -> np.ndarray:
    """Leads in input order; each goes to the first rep at or after the pointer, in rep
    input order and wrapping around, that is eligible for it and has room; the pointer then
    moves just past that rep. A lead no eligible rep has room for stays unassigned and the
    pointer stays where it was. One pointer for the whole book (one queue)."""
    n = len(indptr) - 1
    room = capacity.astype(np.int64, copy=True)
    chosen = np.full(n, -1, dtype=np.int64)
    bounds = indptr.tolist()
    pointer = 0
    for i in range(n):
        start, end = bounds[i], bounds[i + 1]
        if start == end:
            continue
        reps = rep[start:end]
        open_ = np.flatnonzero(room[reps] >= effort[start:end])
        if not len(open_):
            continue
        # reps is sorted, so the open reps at or after the pointer come first from here
        k = int(np.searchsorted(reps[open_], pointer))
        pick = start + int(open_[k] if k < len(open_) else open_[0])
        j = int(rep[pick])
        room[j] -= effort[pick]
        chosen[i] = pick
        pointer = j + 1
    return chosen


def current_owners(
    indptr: np.ndarray, rep: np.ndarray, effort: np.ndarray, capacity: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    """Leads in input order; each goes to its current owner (``owner[i]``, -1: none) when
    the owner is eligible for it and has room for its effort, else stays unassigned (what
    the CRM holds today, within today's rules). Capacity counts in input order, as in the
    round robins; one pass over the owned leads, the owner's pair found by numpy."""
    n = len(indptr) - 1
    lead = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    own = np.flatnonzero(rep == owner[lead]) if len(rep) else np.array([], dtype=np.int64)
    pair = np.full(n, -1, dtype=np.int64)
    pair[lead[own]] = own  # at most one pair per (lead, rep)
    room: list[int] = capacity.astype(np.int64).tolist()
    chosen = np.full(n, -1, dtype=np.int64)
    owned = np.flatnonzero(pair >= 0)
    picks = pair[owned]
    for i, k, j, size in zip(
        owned.tolist(), picks.tolist(), rep[picks].tolist(), effort[picks].tolist(), strict=True
    ):
        if room[j] >= size:
            room[j] -= size
            chosen[i] = k
    return chosen


def weighted_round_robin(
    indptr: np.ndarray, rep: np.ndarray, effort: np.ndarray, capacity: np.ndarray
) -> np.ndarray:
    """Leads in input order; each goes to the eligible rep with room whose assigned effort
    divided by its capacity is lowest (ties: the earlier rep in input order). Reps thereby
    take turns in proportion to capacity: with capacities 20 and 10 and every lead eligible for
    both, the order is A, B, A, A, B, A, ... A lead no eligible rep has room for stays
    unassigned."""
    n = len(indptr) - 1
    room = capacity.astype(np.int64, copy=True)
    load = np.zeros(len(capacity), dtype=np.int64)
    # load / capacity, updated on each assignment (a rep that takes a lead has capacity >= 1)
    ratio = np.zeros(len(capacity), dtype=np.float64)
    chosen = np.full(n, -1, dtype=np.int64)
    bounds = indptr.tolist()
    for i in range(n):
        start, end = bounds[i], bounds[i + 1]
        if start == end:
            continue
        reps = rep[start:end]
        turn = np.where(room[reps] >= effort[start:end], ratio[reps], np.inf)
        k = int(turn.argmin())  # the first minimum: the earliest rep among equal ratios
        if turn[k] == np.inf:
            continue
        pick = start + k
        j = int(rep[pick])
        room[j] -= effort[pick]
        load[j] += effort[pick]
        ratio[j] = load[j] / capacity[j]
        chosen[i] = pick
    return chosen


def greedy(
    indptr: np.ndarray,
    lead: np.ndarray,
    rep: np.ndarray,
    effort: np.ndarray,
    ev: np.ndarray,
    capacity: np.ndarray,
) -> np.ndarray:
    """All pairs in order of expected value, highest first (ties: lead, then rep, in input
    order); a pair is taken when its lead is still free and its rep has room.

    Computed without sorting the pairs. ``live`` holds each pair's expected value while the
    pair still fits (its effort at most its rep's room) and -inf once it no longer does: after
    each assignment that leaves a rep less room than its widest pair takes, that rep's pairs
    that no longer fit are struck in one vectorized step (a pair that no longer fits never
    fits again: rooms only shrink). A heap holds one entry per free lead: its best pair that
    fitted when the entry was made, so the entry's key (expected value, lead, rep) is at least
    that of every pair of the lead that still fits. When the top entry still fits it is
    exactly the next pair the sorted scan would take; when not, the lead's best live pair
    (one argmax over its pairs) replaces it.
    """
    n, m = len(indptr) - 1, len(capacity)
    chosen = np.full(n, -1, dtype=np.int64)
    if not len(rep):
        return chosen
    room = capacity.astype(np.int64, copy=True)
    live = np.where(effort <= room[rep], ev, -np.inf)
    by_rep, rep_ptr, widest = _pairs_by_rep(rep, effort, m)
    heap = _best_entries(live, lead, rep, effort, ev)
    rooms: list[int] = room.tolist()
    widths: list[int] = widest.tolist()
    bounds: list[int] = indptr.tolist()
    taken: list[tuple[int, int]] = []
    while heap:
        _, pick, i, j, size = heap[0]
        if rooms[j] >= size:
            heapq.heappop(heap)
            rooms[j] -= size
            taken.append((i, pick))
            if rooms[j] < widths[j]:
                pairs = by_rep[rep_ptr[j] : rep_ptr[j + 1]]
                live[pairs[effort[pairs] > rooms[j]]] = -math.inf
                widths[j] = rooms[j]
            continue
        start = bounds[i]
        k = start + int(live[start : bounds[i + 1]].argmax())
        value = float(live[k])
        if value == -math.inf:
            heapq.heappop(heap)  # nothing of this lead fits any more
        else:
            heapq.heapreplace(heap, (-value, k, i, int(rep[k]), int(effort[k])))
    if taken:
        leads, picks = zip(*taken, strict=True)
        chosen[list(leads)] = picks
    return chosen


def _pairs_by_rep(
    rep: np.ndarray, effort: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs grouped by rep (an index, and each rep's offsets into it) and the largest
    effort among each rep's pairs (0 for a rep without any)."""
    # numpy's stable sort of 16-bit integers is a radix sort
    by_rep = np.argsort(rep.astype(np.int16) if m <= 2**15 else rep, kind="stable")
    rep_ptr = offsets(rep, m)
    widest = (np.diff(rep_ptr) > 0).astype(np.int64)
    wide = np.flatnonzero(effort > 1)
    np.maximum.at(widest, rep[wide], effort[wide])
    return by_rep, rep_ptr, widest


def _best_entries(
    live: np.ndarray, lead: np.ndarray, rep: np.ndarray, effort: np.ndarray, ev: np.ndarray
) -> list[tuple[float, int, int, int, int]]:
    """A heap of each lead's best pair that fits (the first maximum of its segment of
    ``live``): (-expected value, pair, lead, rep, effort)."""
    first = best_per_lead(live, lead)
    heap = list(
        zip(
            (-ev[first]).tolist(),
            first.tolist(),
            lead[first].tolist(),
            rep[first].tolist(),
            effort[first].tolist(),
            strict=True,
        )
    )
    heapq.heapify(heap)
    return heap


__all__ = ["current_owners", "greedy", "offsets", "round_robin", "weighted_round_robin"]
