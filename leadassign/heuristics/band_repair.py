"""A count-preserving repair of a hard fairness band: from a choice that places the most
leads (the flow's) but breaks the band, trades that keep every placed unit placed until the
band holds.

Each step takes the rep furthest outside its band (exact integers: ``Fairness``'s
``(q-p) w_j M <= q W m_j <= (q+p) w_j M``) and weighs, in numpy, every trade of one of its
units ``y`` for a unit ``x`` it has a pair with:

- a *swap*: ``x`` is held by rep ``b``, which takes ``y`` in exchange (``y`` has a pair at
  ``b``); both keep their counts;
- a *replacement*: ``x`` is left out; it takes ``y``'s place and ``y`` is left out;
- a *take*: ``x`` comes from ``b`` alone, when the rep has room and ``b`` stays at or above
  its floor.

The count placed never changes, nor any rep's capacity or floor. A trade is scored by the
summed distance outside the band of the two reps it touches at the current group totals;
of those that remove at least a share (``VALUE_SHARE``) of the most any removes, the most
valuable come first (value-aware: the value lost is what the repair costs), then the rest
by that distance, then by value. The few best are re-scored exactly over every rep (a
trade between groups, or with a lead left out, moves the group totals and so every bound
of the group) and the first that lowers the total violation is taken. When the rep has no
such trade, the next furthest is tried; the repair ends when the band holds, no rep has an
improving trade, or the step limit (a work limit, so the answer does not depend on the
machine) or the clock runs out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from leadassign.compile.candidates import lead_starts
from leadassign.compile.families import Fairness
from leadassign.compile.pairs import Pairs
from leadassign.control.budget import out_of_time
from leadassign.control.stop import stopped

#: A look: how many of the other units (None: all), how many of its own, and whether the
#: others are narrowed first to those whose rep keeps its band (``LOOKS``).
Looks = tuple[tuple[int | None, int, bool], ...]
#: Trades the repair may take (a work limit: the same answer whatever the machine's speed).
MAX_STEPS = 20_000
#: The trades of a rep weighed, widest last (each only when the narrower finds none): how
#: many of the other units (None: all; most metric first under the band, least above it),
#: how many of its own (least metric first under the band, most above it), and whether the
#: others are narrowed first to those whose rep keeps its band in the trade.
LOOKS: Looks = (
    (256, 12, True),
    (2048, 12, False),
    (None, 24, False),
)
#: The looks of a wide repair (``repair_band(..., looks=WIDE_LOOKS)``): a thousand others
#: before the narrowest fall-back. With value-aware trades (``VALUE_SHARE``) the breadth is
#: what keeps value (the narrow look offers only the most extreme leads in trade): at
#: 10,000 x 200 (value band 0.5 within level) a Lagrangian flow of 3.486e11 value units
#: ended at 3.436e11 after the moves from ``LOOKS`` (256 others first), 3.476e11 from 512,
#: 3.487e11 from 1,024 (these) and 3.490e11 from 2,048, in 1.3, 2.6, 5.3 and 11.7 s at load
#: 6 (the LP bound is 3.509e11).
WIDE_LOOKS: Looks = (
    (1024, 12, True),
    (2048, 12, False),
    (None, 24, False),
)
#: The widest looks, for flows priced towards the band (``band_stages``, after
#: ``value_band.band_prices``): 4,096 others first. From the flow that follows its averaged
#: choice, after trading and 20,000 visits of moves (value units; LP bound 3.509e11 at
#: 10,000 x 200, ``band_prices``' bound 1.1729e12 at 50,000 x 300): 1,024 others 3.4920e11
#: and 1.107e12, 2,048 3.4953e11, 4,096 3.5014e11 and 1.1662e12, every other unit 3.5010e11
#: and 1.1676e12; trading took 2.3 s at 10,000 x 200 and 23 s (4,096) or 100 s (every other
#: unit) at 50,000 x 300.
WIDEST_LOOKS: Looks = (
    (4096, 12, True),
    (2048, 12, False),
    (None, 24, False),
)
#: The repair aims at a band this share narrower than the rule's (a trade rarely lands
#: exactly: the last few units of violation at the rule's own edge can leave no single
#: trade that lowers the whole), and ends when the rule's band holds; if it does not, the
#: trades go on from there at the rule's own band.
MARGIN = Fraction(1, 20)
#: Books of at most this many units x reps look pairs up in a dense index (4 bytes a cell:
#: 60 MB at 50,000 x 300), larger ones by binary search.
DENSE_CELLS = 20_000_000
#: Value-aware trades: of the trades that lower the two reps' violation by at least this
#: share of the most any of them does, the most valuable is tried first (then the rest,
#: most violation removed first); None: the most violation removed first, value only
#: breaking ties. At 10,000 x 200 (value band 0.5 within level) the flow relaxation's
#: choice traded into the band kept 2.975e11 value units without, 3.33e11 with 0.2-0.5
#: (after the moves; the flow's own, outside the band, is 3.72e11); on two of the bound's
#: flows 0.02-0.1 ended within 0.1% of each other, and the band held in every case.
VALUE_SHARE: Fraction | None = Fraction(1, 10)
#: Trades re-scored exactly over every rep, best first by the two-rep score.
EXACT_TRIES = 128
#: The band's products must stay below this for int64 arithmetic to be exact.
_SAFE = 2**62


@dataclass(eq=False)
class _Book:
    """The repair's state: each unit's chosen pair (-1: left out), each rep's count and
    metric, each group's total metric, and the band's integer coefficients per rep."""

    pairs: Pairs
    key: np.ndarray  # per pair: unit * reps + rep (sorted: pairs are sorted by unit, rep)
    index: np.ndarray | None  # (unit, rep) -> pair, -1 where none (None: too large; ``key``)
    by_rep: np.ndarray  # pair indices sorted by rep, then metric
    rep_start: np.ndarray  # per rep + 1: where its pairs start in by_rep
    metric: np.ndarray  # per pair, int64, and a 0 after the last (``-1``: no pair)
    units: np.ndarray  # per pair: value units, int64, and a 0 after the last
    at: np.ndarray  # per unit: its chosen pair, -1 when left out
    count: np.ndarray  # per rep: units held
    held: np.ndarray  # per rep: metric held
    group: np.ndarray  # per rep: index into ``members`` (-1: in no band group)
    members: list[np.ndarray]
    total: np.ndarray  # per group: metric held
    scale: np.ndarray  # per rep: q * W_g (0 outside a group)
    up: np.ndarray  # per rep: (q + p) * w_j
    down: np.ndarray  # per rep: (q - p) * w_j (0 when the band has no floor)

    @classmethod
    def start(
        cls, pairs: Pairs, fair: Fairness, chosen: np.ndarray, band: Fraction
    ) -> _Book | None:
        """The state of ``chosen`` aiming at ``band`` (the rule's, or one inside it), or
        None when the band's products could overflow int64."""
        m = len(pairs.capacity)
        n_units = int(pairs.unit.max(initial=-1)) + 1
        metric = fair.metric.astype(np.int64)
        p, q = band.numerator, band.denominator
        weights = fair.weights.astype(np.int64)
        members = fair.groups()
        # the most any total can hold: each unit's largest metric, summed
        unit_most = np.maximum.reduceat(np.abs(metric), lead_starts(pairs.unit))
        largest = int(unit_most.sum())
        heaviest = max((int(weights[reps].sum()) for reps in members), default=1)
        if (q + p) * max(heaviest, 1) * max(largest, 1) >= _SAFE:
            return None
        group = np.full(m, -1, dtype=np.int64)
        scale = np.zeros(m, dtype=np.int64)
        for g, reps in enumerate(members):
            group[reps] = g
            scale[reps] = q * int(weights[reps].sum())
        up = np.where(group >= 0, (q + p) * weights, 0)
        down = np.where(group >= 0, max(q - p, 0) * weights, 0)
        at = np.full(n_units, -1, dtype=np.int64)
        at[pairs.unit[chosen]] = np.flatnonzero(chosen)
        count = np.bincount(pairs.rep[chosen], minlength=m).astype(np.int64)
        held = np.zeros(m, dtype=np.int64)
        np.add.at(held, pairs.rep[chosen], metric[chosen])
        total = np.array([int(held[reps].sum()) for reps in members], dtype=np.int64)
        by_rep = np.lexsort((np.arange(len(pairs)), metric, pairs.rep))
        rep_start = np.searchsorted(pairs.rep[by_rep], np.arange(m + 1))
        key = pairs.unit.astype(np.int64) * m + pairs.rep
        index = None
        if n_units * m <= DENSE_CELLS and len(pairs) < 2**31:
            index = np.full((n_units, m), -1, dtype=np.int32)
            index[pairs.unit, pairs.rep] = np.arange(len(pairs), dtype=np.int32)
        # a 0 after the last pair: ``metric[p]`` with ``p == -1`` (no pair) is 0
        metric0 = np.append(metric, np.int64(0))
        units0 = np.append(pairs.units.astype(np.int64), np.int64(0))
        return cls(
            pairs, key, index, by_rep, rep_start, metric0, units0,
            at, count, held, group, members, total, scale, up, down,
        )  # fmt: skip

    def outside(self, held: np.ndarray, totals: np.ndarray, reps: np.ndarray) -> np.ndarray:
        """Per entry: how far rep ``reps`` holding ``held`` is outside its band at its group
        total ``totals``, in the band's scaled units (``q W`` per unit of metric)."""
        s = self.scale[reps] * held
        over = s - self.up[reps] * totals
        under = self.down[reps] * totals - s
        return np.where(self.group[reps] >= 0, np.maximum(np.maximum(over, under), 0), 0)

    def outside_of(self, rep: int, held: np.ndarray, totals: np.ndarray) -> np.ndarray:
        """``outside`` for one rep (``rep``, in a group) at many ``held`` and ``totals``."""
        s = int(self.scale[rep]) * held
        over = s - int(self.up[rep]) * totals
        under = int(self.down[rep]) * totals - s
        out: np.ndarray = np.maximum(np.maximum(over, under), 0)
        return out

    def violations(self) -> np.ndarray:
        """Per rep: its distance outside the band, in metric units (rounded up)."""
        reps = np.arange(len(self.held))
        totals = self.total[np.maximum(self.group, 0)] if len(self.total) else self.held * 0
        scaled = self.outside(self.held, totals, reps)
        out: np.ndarray = -(-scaled // np.maximum(self.scale, 1))
        return out

    def limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Per rep: the least and most metric its band allows at the group totals (floats:
        to narrow the candidates only; every decision is in integers)."""
        totals = self.total[np.maximum(self.group, 0)].astype(np.float64)
        scale = np.maximum(self.scale, 1).astype(np.float64)
        inside = self.group >= 0
        low = np.where(inside, self.down * totals / scale, -np.inf)
        high = np.where(inside, self.up * totals / scale, np.inf)
        return low, high

    def pair_of(self, units: np.ndarray, reps: np.ndarray) -> np.ndarray:
        """The pair of each (unit, rep), -1 where there is none."""
        if self.index is not None:
            found: np.ndarray = self.index[units, reps].astype(np.int64)
            return found
        want = units.astype(np.int64) * len(self.held) + reps
        k = np.minimum(np.searchsorted(self.key, want), len(self.key) - 1)
        return np.where(self.key[k] == want, k, -1)


def repair_band(
    pairs: Pairs,
    fair: Fairness,
    chosen: np.ndarray,
    *,
    max_steps: int = MAX_STEPS,
    time_left: Callable[[], float] | None = None,
    looks: Looks = LOOKS,
    value_share: Fraction | None = VALUE_SHARE,
) -> np.ndarray | None:
    """``chosen`` (one rep per unit, within capacities and floors) traded (module doc) until
    the hard band of ``fair`` holds, with the same units placed; None when the repair stops
    first (or the band's products could overflow). Every effort and size must be 1.
    ``looks``: the trades weighed per rep, narrowest first (``LOOKS``, ``WIDE_LOOKS``);
    ``value_share``: value-aware trades (``VALUE_SHARE``; None: violation first)."""
    out = chosen
    for band in (fair.band * (1 - MARGIN), fair.band):
        book = _Book.start(pairs, fair, out, band)
        if book is None:
            return None
        _trade_away(book, max_steps, time_left, looks, value_share)
        out = np.zeros(len(pairs), dtype=bool)
        out[book.at[book.at >= 0]] = True
        if fair.excess(pairs, out) == 0:
            return out
    return None


def _trade_away(
    book: _Book,
    max_steps: int,
    time_left: Callable[[], float] | None,
    looks: Looks,
    value_share: Fraction | None,
) -> None:
    """Trades (module doc) until ``book`` meets its band, no rep outside it has a trade
    that lowers the whole violation, or ``max_steps``, the clock or a stop ends it."""
    stuck = np.zeros(len(book.held), dtype=bool)
    for step in range(max_steps):
        viol = book.violations()
        if not viol.any():
            return
        if step % 16 == 0 and (stopped() or out_of_time(time_left, 0.0)):
            return
        order = np.lexsort((np.arange(len(viol)), -viol))
        order = order[(viol[order] > 0) & ~stuck[order]]
        if not len(order):
            return
        rep = int(order[0])
        found = (_best_trade(book, rep, look, value_share) for look in looks)
        trade = next((one for one in found if one is not None), None)
        if trade is None:
            stuck[rep] = True
            continue
        _apply(book, *trade)
        stuck[:] = False


@dataclass(frozen=True)
class _Trades:
    """Candidate trades for one rep ``a``: per trade, the pair ``a`` takes (``take``), the
    pair it gives up (``give``, -1: none), the pair the taken unit leaves (``lose``, -1: it
    was left out), the pair the given unit goes to (``gain``, -1: left out), and ``b`` (the
    other rep, -1: none)."""

    take: np.ndarray
    give: np.ndarray
    lose: np.ndarray
    gain: np.ndarray
    b: np.ndarray


def _trades(book: _Book, a: int, under: bool, look: tuple[int | None, int, bool]) -> _Trades:
    """Every swap, replacement and take of rep ``a`` (module doc) within ``look`` (one of
    ``LOOKS``): its own units of least metric (``under`` its band) or most (above
    it), the other units of most metric (or least), narrowed first to those whose rep keeps
    its band in the trade."""
    pairs = book.pairs
    others, owns, narrowed = look
    mine = book.by_rep[book.rep_start[a] : book.rep_start[a + 1]]
    holder = book.at[pairs.unit[mine]]
    own = mine[holder == mine]
    sign = 1 if under else -1
    own = own[np.lexsort((own, sign * book.metric[own]))][:owns]
    other = mine[holder != mine]  # by metric, least first
    lose = book.at[pairs.unit[other]]
    b = np.where(lose >= 0, pairs.rep[np.maximum(lose, 0)], -1)
    if len(own) and narrowed:  # b within its band after trading for a's nearest own unit
        after = book.held[np.maximum(b, 0)] - book.metric[lose] + book.metric[own[0]]
        low, high = book.limits()
        bs = np.maximum(b, 0)
        ok = (b < 0) | ((after >= low[bs]) if under else (after <= high[bs]))
        other, lose, b = other[ok], lose[ok], b[ok]
    if others is not None:
        keep = slice(-others, None) if under else slice(0, others)
        other, lose, b = other[keep], lose[keep], b[keep]
    # swaps and replacements: every (other, own) combination
    take = np.repeat(other, len(own))
    lose_all = np.repeat(lose, len(own))
    b_all = np.repeat(b, len(own))
    give = np.tile(own, len(other))
    gain = np.where(b_all >= 0, book.pair_of(pairs.unit[give], np.maximum(b_all, 0)), -1)
    ok = (b_all < 0) | (gain >= 0)
    take, give, lose_all, gain, b_all = take[ok], give[ok], lose_all[ok], gain[ok], b_all[ok]
    # takes: a has room, b stays at or above its floor
    if book.count[a] < int(pairs.capacity[a]):
        free = (b >= 0) & (book.count[np.maximum(b, 0)] > pairs.min_leads[np.maximum(b, 0)])
        none = np.full(int(free.sum()), -1, dtype=np.int64)
        take = np.concatenate([take, other[free]])
        give = np.concatenate([give, none])
        lose_all = np.concatenate([lose_all, lose[free]])
        gain = np.concatenate([gain, none])
        b_all = np.concatenate([b_all, b[free]])
    return _Trades(take, give, lose_all, gain, b_all)


def _best_trade(
    book: _Book, a: int, look: tuple[int | None, int, bool], value_share: Fraction | None
) -> tuple[int, int, int, int] | None:
    """(take, give, lose, gain) of the first of rep ``a``'s ``EXACT_TRIES`` best trades
    within ``look`` that lowers the whole violation (module doc), or None. Best: by the
    two-rep score, then value; with ``value_share``, first the most valuable of those that
    remove at least that share of the most the two-rep score removes."""
    g_a = int(book.group[a])
    total_a = int(book.total[g_a])
    under = int(book.scale[a]) * int(book.held[a]) < int(book.down[a]) * total_a
    t = _trades(book, a, under, look)
    if not len(t.take):
        return None
    metric, units = book.metric, book.units  # -1 (no pair) reads 0
    d_a = metric[t.take] - metric[t.give]
    d_b = metric[t.gain] - metric[t.lose]
    bs = np.maximum(t.b, 0)
    g_b = book.group[bs]
    same = (t.b >= 0) & (g_b == g_a)
    # the two reps at the current totals (a's group total moves by d_a unless b shares it)
    t_a = total_a + np.where(same, d_a + d_b, d_a)
    t_b = book.total[np.maximum(g_b, 0)] + np.where(same, d_a + d_b, d_b)
    after = book.outside_of(a, book.held[a] + d_a, t_a) / book.scale[a]
    # each rep's distance outside its band now (a's and b's before the trade)
    reps = np.arange(len(book.held))
    now = book.outside(book.held, book.total[np.maximum(book.group, 0)], reps)
    now = now / np.maximum(book.scale, 1)
    b_scale = np.maximum(book.scale[bs], 1)
    in_b = t.b >= 0
    before = now[a] + np.where(in_b, now[bs], 0)
    after = after + np.where(in_b, book.outside(book.held[bs] + d_b, t_b, bs) / b_scale, 0)
    gain = units[t.take] + units[t.gain] - units[t.give] - units[t.lose]
    delta = after - before
    lowering = np.flatnonzero(delta < 0)
    if not len(lowering):
        return None
    if value_share is None:
        tries = _first_by(lowering, (delta, -gain), EXACT_TRIES)
    else:  # the strong ones by value first, then the rest by violation removed (doc)
        strong = delta[lowering] <= float(value_share) * float(delta[lowering].min())
        tries = _first_by(lowering[strong], (-gain,), EXACT_TRIES)
        if len(tries) < EXACT_TRIES:
            rest = _first_by(lowering[~strong], (delta, -gain), EXACT_TRIES - len(tries))
            tries = np.concatenate([tries, rest])
    k = _first_lowering(book, a, t, d_a, d_b, tries)
    if k < 0:
        return None
    return int(t.take[k]), int(t.give[k]), int(t.lose[k]), int(t.gain[k])


def _first_by(items: np.ndarray, keys: tuple[np.ndarray, ...], k: int) -> np.ndarray:
    """The first ``k`` of ``items`` (ascending indices) ordered by ``keys`` (arrays over all
    indices, the first the primary), ties by index: the same as a full lexsort's first
    ``k``, with only the items at or below the primary key's ``k``-th value sorted."""
    if len(items) > k:
        primary = keys[0][items]
        cut = np.partition(primary, k - 1)[k - 1]
        items = items[primary <= cut]
    order = np.lexsort((items, *(key[items] for key in reversed(keys))))
    out: np.ndarray = items[order[:k]]
    return out


def _first_lowering(
    book: _Book, a: int, t: _Trades, d_a: np.ndarray, d_b: np.ndarray, tries: np.ndarray
) -> int:
    """The first of ``tries`` (trade indices) that lowers the whole violation, -1: none."""
    now = _whole(book, book.held, book.total)
    g_a = int(book.group[a])
    for k in tries.tolist():
        held, total = book.held.copy(), book.total.copy()
        held[a] += d_a[k]
        total[g_a] += d_a[k]
        b = int(t.b[k])
        if b >= 0:
            held[b] += d_b[k]
            if book.group[b] >= 0:
                total[book.group[b]] += d_b[k]
        if _whole(book, held, total) < now:
            return int(k)
    return -1


def _whole(book: _Book, held: np.ndarray, total: np.ndarray) -> float:
    """The summed distance outside the band over every rep, in metric units."""
    reps = np.arange(len(held))
    totals = total[np.maximum(book.group, 0)]
    scaled = book.outside(held, totals, reps)
    return float((scaled / np.maximum(book.scale, 1)).sum())


def _apply(book: _Book, take: int, give: int, lose: int, gain: int) -> None:
    """Make the trade: a rep takes pair ``take`` and gives up ``give`` (-1: none); the taken
    unit leaves ``lose`` (-1: it was left out) and the given unit goes to ``gain`` (-1: it
    is left out)."""
    pairs, metric = book.pairs, book.metric
    for p, sign in ((take, 1), (give, -1), (lose, -1), (gain, 1)):
        if p < 0:
            continue
        rep, unit = int(pairs.rep[p]), int(pairs.unit[p])
        book.count[rep] += sign
        book.held[rep] += sign * int(metric[p])
        g = int(book.group[rep])
        if g >= 0:
            book.total[g] += sign * int(metric[p])
        if sign < 0 and book.at[unit] == p:
            book.at[unit] = -1
    for p in (take, gain):
        if p >= 0:
            book.at[int(pairs.unit[p])] = p


__all__ = [
    "DENSE_CELLS",
    "EXACT_TRIES",
    "LOOKS",
    "MARGIN",
    "MAX_STEPS",
    "VALUE_SHARE",
    "WIDEST_LOOKS",
    "WIDE_LOOKS",
    "Looks",
    "repair_band",
]
