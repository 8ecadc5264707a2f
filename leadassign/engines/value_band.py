"""A Lagrangian bound for a fairness band over the flow (every pair of size and effort 1).

The band's rows for rep j of group g, with ``u_j = (q+p) w_j / (q C_g)`` and
``l_j = (q-p) w_j / (q C_g)`` (band = p/q, C_g the group's weight) and ``M_g`` the sum of
the group's ``m_k``, are ``m_j - u_j M_g <= 0`` and ``l_j M_g - m_j <= 0``. Moving them into
the objective with multipliers ``alpha_j, beta_j >= 0`` leaves a flow whose pair (i, k)
weighs ``units_ik + gamma_k * metric_i``, where

    gamma_k = beta_k - alpha_k + sum over j in k's group of (alpha_j u_j - beta_j l_j).

For any choice that meets the band the added terms are >= 0, so the flow's optimum (at the
same count: the flow puts the count first) bounds the value of every such choice with that
count. Weights are integers, so ``gamma_k * metric_i`` is rounded; each chosen pair's
rounding is at most 1/2, which the bound adds back. The multipliers follow the
subgradient, deflected by the last direction (``DEFLECT``), with Polyak's step towards
the best known value. Any multipliers give a valid bound: the search only makes it
tighter.

This is the bound for a value band that no LP reaches: on a 10,000 x 200 book (440,000
pairs) with a band of 0.3, 40 flows took the bound from the flow's 13% above the best
known choice to 1.4%.

``band_prices`` prices every row instead, the capacities and floors too (``lambda_j``,
``nu_j >= 0``), which leaves each lead free to take its best pair at

    units_ik + gamma_k * metric_i - lambda_k + nu_k

and the count exact: the ``count`` leads whose best pairs weigh most. For any multipliers

    value <= sum of those ``count`` best weights + sum_k lambda_k cap_k - sum_k nu_k floor_k

bounds every choice of ``count`` pairs within the capacities, floors and band (its best
multipliers give the LP relaxation's bound: the relaxed problem is integral). A step costs
a few numpy passes over the pairs instead of a flow, so a subgradient search of hundreds of
steps fits where a few flows did. The band's rows are counted in value units and the
capacities in leads; the search scales the band's part of each step by the mean metric per
pair (as if the metric were counted in mean leads), without which the capacities' part of
the step drowns the band's and the bound stays at the flow's. The choices of the last
``AVERAGED`` of the steps, averaged, approach the LP's solution (the ergodic primal of the
subgradient method): a flow that follows them is closer to the band than the flow at the
best multipliers, and loses less in the trading. At 10,000 x 200 (value band 0.5 within
level) 600 steps took 2.2 s to 0.12% above the LP bound, where 27 flows of the search above
took 18 s to 0.27% above it (benchmarks/RESULTS.md, section 5, "Session 9").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from leadassign.compile.candidates import lead_starts
from leadassign.compile.families import Fairness
from leadassign.compile.pairs import Pairs
from leadassign.control.budget import out_of_time
from leadassign.engines.priced_flows import Flows, value_bound

#: Flows the subgradient may solve, and after how many without a better bound it halves
#: its step.
MAX_FLOWS = 40
PATIENCE = 3
#: The step's direction keeps this share of the last direction (Camerini, Fratta and
#: Maffioli's deflected subgradient), which damps the zigzag between the band's rows: at
#: 10,000 x 200 (value band 0.5 within level, LP bound 3.5090e11 value units) 20, 25 and 40
#: flows reached 3.5185e11, 3.5152e11 and 3.5108e11, against 3.5229e11, 3.5218e11 and
#: 3.5183e11 undeflected with a patience of 5.
DEFLECT = 0.7
#: Above this a rounded weight adjustment would lose integer precision in float64.
_EXACT = 2**52
#: ``band_prices``: its subgradient steps (a work limit: the answer does not depend on the
#: clock), the first step's size, after how many steps without a better bound it halves, the
#: Polyak target (this share of the best bound below it, or the best known value if that
#: is higher) and the deflection. Chosen on the 10,000 x 200 and 50,000 x 300 value band
#: books (benchmarks/RESULTS.md, section 5, "Session 9"): with a patience of 10 and no
#: deflection the step shrank before the band's multipliers moved.
PRICED_STEPS = 600
PRICED_FIRST_STEP = 2.0
PRICED_PATIENCE = 20
PRICED_DROP = 0.03
PRICED_DEFLECT = 0.5
#: ... and at most this many pairs priced over all its steps (a step prices every pair):
#: 600 steps at 10,000 x 200 (440,152 pairs, about 2 s), 296 at 50,000 x 300 (3,372,094
#: pairs, about 8 s), where 600 took 17 s of a 60 s limit, for a bound 0.2% tighter and an
#: answer no better (1.1662e12 value units after 296 steps, 1.1634e12 after 600).
PRICED_PAIRS = 1_000_000_000
#: The share of the steps, the last ones, whose choices are averaged (``BandPrices.shares``):
#: at 10,000 x 200 the last 100, 200 or 400 of 600 gave answers within 0.1% of each other.
AVERAGED = 1 / 3
#: The exact bound's weights stay below this (float64 products then err far below a unit).
_PRICED_EXACT = 2**50


@dataclass(frozen=True, eq=False)
class BandPrices:
    """``band_prices``' bound (value units, exact, for every choice of its count that meets
    the capacities, floors and band), its best multipliers of the band's rows (``alpha``,
    ``beta``, per rep, in value units per unit of metric) and their weight of a unit of
    metric per rep (``gamma``), the capacities' and floors' (``lam``, ``nu``), per pair the
    share of the last ``AVERAGED`` of the steps whose choice took it (``shares``); ``steps``
    taken and the step size they ended at (``step``: a search resumed from these starts
    there)."""

    bound: int | None
    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    shares: np.ndarray
    steps: int
    lam: np.ndarray
    nu: np.ndarray
    step: float


def band_prices(
    pairs: Pairs,
    fairness: Fairness,
    count: int,
    best: int,
    *,
    steps: int | None = None,
    time_left: Callable[[], float] | None = None,
    start: BandPrices | None = None,
) -> BandPrices:
    """The bound over every row priced (module doc) of any choice of ``count`` pairs (at most
    one per unit, every pair of effort and size 1) within the capacities, floors and the
    hard band of ``fairness``, in ``steps`` subgradient steps (None: ``priced_steps``, by
    the book's size), fewer when ``time_left()`` falls below the time the last step took (a
    backstop), or when the bound reaches ``best`` (the value of a known such choice, the
    step's least target). Its ``bound`` is None when no multipliers were tried (no step,
    or ``count`` of 0 or above the units).
    ``start``: an earlier search's answer to go on from (its best multipliers, at the step
    size it ended at)."""
    m = len(pairs.capacity)
    starts = lead_starts(pairs.unit)
    lead_of = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(pairs))))
    groups = fairness.groups()
    upper, lower, in_group = _band_shares(fairness, groups, m)
    metric = fairness.metric.astype(np.float64)
    units = pairs.units.astype(np.float64)
    capacity = pairs.capacity.astype(np.float64)
    floor = pairs.min_leads.astype(np.float64)
    # the band's part of each step in mean leads (module doc)
    mean_metric = float(np.abs(metric).mean()) if len(metric) else 1.0
    band_scale = 1.0 / max(mean_metric, 1e-300) ** 2
    lam, nu, alpha, beta = (np.zeros(m) for _ in range(4))
    step, stalled = PRICED_FIRST_STEP, 0
    if start is not None:
        lam, nu, alpha, beta = start.lam, start.nu, start.alpha, start.beta
        step = start.step
    d_lam, d_nu, d_alpha, d_beta = (np.zeros(m) for _ in range(4))
    best_at = (lam, nu, alpha, beta)
    shares = np.zeros(len(pairs))
    averaged = 0
    lowest = np.inf
    done, took = 0, 0.0
    if steps is None:
        steps = priced_steps(len(pairs))
    if not 0 < count <= len(starts):
        steps = 0
    averaging = steps - int(np.ceil(steps * AVERAGED))  # the step averaging starts at
    for k in range(steps):
        if out_of_time(time_left, took):
            break
        begun = time.perf_counter()
        done += 1
        weight = _gamma(alpha, beta, upper, lower, groups)[pairs.rep]
        weight *= metric
        weight += units
        weight += (nu - lam)[pairs.rep]
        most = np.maximum.reduceat(weight, starts)
        # each lead's first pair of the most weight, in lead order (as best_per_lead)
        hit = np.flatnonzero(weight == most[lead_of])
        picked = hit[np.concatenate(([True], lead_of[hit[1:]] != lead_of[hit[:-1]]))]
        chosen = picked[np.argpartition(-most, count - 1)[:count]]
        value = float(weight[chosen].sum() + lam @ capacity - nu @ floor)
        if value < lowest:
            lowest, best_at, stalled = value, (lam, nu, alpha, beta), 0
        else:
            stalled += 1
            if stalled >= PRICED_PATIENCE:
                step, stalled = step / 2, 0
        if k >= averaging:
            shares[chosen] += 1.0  # one pair per lead: no index twice
            averaged += 1
        if lowest <= best:
            break
        load = np.bincount(pairs.rep[chosen], minlength=m).astype(np.float64)
        held = np.bincount(pairs.rep[chosen], weights=metric[chosen], minlength=m)
        over, under = _outside_band(held, upper, lower, in_group, groups)
        # the subgradient, without the parts that would push a zero multiplier below zero
        g_lam = np.where((lam > 0) | (load > capacity), load - capacity, 0.0)
        g_nu = np.where((nu > 0) | (load < floor), floor - load, 0.0)
        g_alpha = np.where((alpha > 0) | (over > 0), over, 0.0)
        g_beta = np.where((beta > 0) | (under > 0), under, 0.0)
        if not (g_lam.any() or g_nu.any() or g_alpha.any() or g_beta.any()):
            break  # the choice meets every row, tight where priced: it is the optimum
        d_lam = g_lam + PRICED_DEFLECT * d_lam
        d_nu = g_nu + PRICED_DEFLECT * d_nu
        d_alpha = g_alpha + PRICED_DEFLECT * d_alpha
        d_beta = g_beta + PRICED_DEFLECT * d_beta
        norm = float(d_lam @ d_lam + d_nu @ d_nu)
        norm += band_scale * float(d_alpha @ d_alpha + d_beta @ d_beta)
        if not norm > 0.0:
            break  # the deflection cancelled the subgradient (the bound stays valid)
        target = max(float(best), lowest - PRICED_DROP * abs(lowest))
        t = step * max(value - target, 1.0) / norm
        lam = np.maximum(lam + t * d_lam, 0.0)
        nu = np.maximum(nu + t * d_nu, 0.0)
        alpha = np.maximum(alpha + t * band_scale * d_alpha, 0.0)
        beta = np.maximum(beta + t * band_scale * d_beta, 0.0)
        took = time.perf_counter() - begun
    lam, nu, alpha, beta = best_at
    gamma = _gamma(alpha, beta, upper, lower, groups)
    bound = None
    if done:
        bound = _priced_bound(pairs, fairness, count, gamma, lam, nu, (alpha, beta, upper, lower))
    if averaged:
        shares /= averaged
    return BandPrices(bound, alpha, beta, gamma, shares, done, lam, nu, step)


def priced_steps(n_pairs: int) -> int:
    """``band_prices``' steps on a book of ``n_pairs`` pairs (``PRICED_PAIRS``), at least 1."""
    return max(1, min(PRICED_STEPS, PRICED_PAIRS // max(n_pairs, 1)))


def _priced_bound(
    pairs: Pairs,
    fairness: Fairness,
    count: int,
    gamma: np.ndarray,
    lam: np.ndarray,
    nu: np.ndarray,
    band: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> int | None:
    """The bound of the module doc in integers, by ``priced_flows.value_bound``: each pair's
    ``gamma * metric`` rounded into its weight, and the rep prices ``lam - nu`` rounded to
    whole value units (``value_bound`` prices a rep's capacity when its price is positive,
    its floor when negative, and shifts every price by its best constant, which is never
    looser than ``lam`` and ``nu`` apart). Rounding moves each lead's best weight by at most
    1/2, and float64's errors in ``gamma`` (bounded from the terms that made it) by at most
    the rest of the allowance added per chosen lead. None when a weight would be too big."""
    metric = fairness.metric.astype(np.float64)
    adjust = np.rint(gamma[pairs.rep] * metric)
    prices = np.rint(lam).astype(np.int64) - np.rint(nu).astype(np.int64)
    if np.abs(adjust).max(initial=0.0) >= _PRICED_EXACT or np.any(np.abs(prices) >= _PRICED_EXACT):
        return None
    weight = pairs.units.astype(np.int64) + adjust.astype(np.int64)
    value = value_bound(
        pairs.unit, pairs.rep, weight, count, prices, pairs.min_leads, pairs.capacity
    )
    # float64's error in gamma: at most (terms summed) * 2**-52 times their magnitudes
    alpha, beta, upper, lower = band
    summed = float((np.abs(alpha * upper) + np.abs(beta * lower)).sum())
    terms = np.abs(alpha) + np.abs(beta) + summed
    slip = float(terms.max(initial=0.0)) * (len(terms) + 4) * 2.0**-52
    slip *= float(np.abs(metric).max(initial=0.0))
    return value + int(count * (0.5 + slip + 2.0**-20)) + 1


def value_band_bound(
    pairs: Pairs,
    fairness: Fairness,
    flows: Flows,
    count: int,
    best: int,
    *,
    time_left: Callable[[], float] | None = None,
    max_flows: int = MAX_FLOWS,
    on_flow: Callable[[np.ndarray], int | None] | None = None,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    first_took: float = 0.0,
) -> int | None:
    """An upper bound on the value units of any choice of ``count`` pairs that meets the
    hard band of ``fairness`` (module doc), or None when no flow reached ``count``.
    ``best``: the value of a known choice that meets it (the step's target). Stops after
    ``max_flows`` flows, at ``best`` (proven), or when ``time_left()`` is below the time
    the last flow took (``first_took`` before the first: a flow's time measured elsewhere).
    ``start``: the band's multipliers to start from (``alpha``, ``beta``; zeros when
    None)."""
    m = len(pairs.capacity)
    groups = fairness.groups()
    upper, lower, in_group = _band_shares(fairness, groups, m)
    metric = fairness.metric.astype(np.float64)
    units = pairs.units.astype(np.int64)
    alpha, beta = (np.zeros(m), np.zeros(m)) if start is None else start
    d_alpha, d_beta = np.zeros(m), np.zeros(m)
    bound: int | None = None
    step, stalled = 1.0, 0
    took = first_took
    for _ in range(max_flows):
        if out_of_time(time_left, took):
            break
        started = time.perf_counter()
        gamma = _gamma(alpha, beta, upper, lower, groups)
        adjust = np.rint(gamma[pairs.rep] * metric)
        if np.abs(adjust).max(initial=0.0) >= _EXACT:
            break
        solved = flows.solve(
            units + adjust.astype(np.int64), pairs.min_leads, pairs.capacity, count
        )
        took = time.perf_counter() - started
        if solved.chosen is None or solved.count != count or solved.bound is None:
            break
        # Rounding: at most 1/2 per chosen pair; floats in gamma: far below one unit.
        lagrange = solved.bound + (count + 1) // 2 + 1 + int(1e-9 * abs(solved.bound))
        if bound is None or lagrange < bound:
            bound, stalled = lagrange, 0
        else:
            stalled += 1
            if stalled >= PATIENCE:
                step, stalled = step / 2, 0
        if on_flow is not None:
            best = max(best, on_flow(solved.chosen) or best)
        if bound <= best:
            break
        held = np.bincount(pairs.rep[solved.chosen], weights=metric[solved.chosen], minlength=m)
        over, under = _outside_band(held, upper, lower, in_group, groups)
        # the subgradient, without the parts that would push a zero multiplier below zero
        g_alpha = np.where((alpha > 0) | (over > 0), over, 0.0)
        g_beta = np.where((beta > 0) | (under > 0), under, 0.0)
        if not (g_alpha.any() or g_beta.any()):
            break  # the flow meets the band: its value is the optimum at this count
        d_alpha = g_alpha + DEFLECT * d_alpha
        d_beta = g_beta + DEFLECT * d_beta
        norm = float((d_alpha**2).sum() + (d_beta**2).sum())
        t = step * max(lagrange - best, 1) / norm
        alpha = np.maximum(alpha + t * d_alpha, 0.0)
        beta = np.maximum(beta + t * d_beta, 0.0)
    return bound


def _band_shares(
    fairness: Fairness, groups: list[np.ndarray], m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per rep: ``u_j`` and ``l_j`` (the band's upper and lower shares of its group's
    metric, module doc), and whether it is in a group."""
    p, q = fairness.band.numerator, fairness.band.denominator
    upper, lower = np.zeros(m), np.zeros(m)
    for members in groups:
        c = float(int(fairness.weights[members].sum()))
        w = fairness.weights[members].astype(np.float64)
        upper[members] = (q + p) * w / (q * c)
        lower[members] = (q - p) * w / (q * c)
    in_group = np.zeros(m, dtype=bool)
    for members in groups:
        in_group[members] = True
    return upper, lower, in_group


def _gamma(
    alpha: np.ndarray,
    beta: np.ndarray,
    upper: np.ndarray,
    lower: np.ndarray,
    groups: list[np.ndarray],
) -> np.ndarray:
    """Per rep k: ``gamma_k``, the weight of a unit of metric at k (module doc)."""
    gamma: np.ndarray = beta - alpha
    for members in groups:
        gamma[members] += float((alpha[members] * upper[members]).sum())
        gamma[members] -= float((beta[members] * lower[members]).sum())
    return gamma


def _outside_band(
    held: np.ndarray,
    upper: np.ndarray,
    lower: np.ndarray,
    in_group: np.ndarray,
    groups: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Per rep, how far the metric it ``held`` is above its band (> 0) and below it (> 0):
    the band's rows at a flow's choice."""
    total = np.zeros(len(held))
    for members in groups:
        total[members] = held[members].sum()
    over = np.where(in_group, held - upper * total, 0.0)  # > 0: above the band
    under = np.where(in_group, lower * total - held, 0.0)  # > 0: below it
    return over, under
