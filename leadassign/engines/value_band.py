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
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from leadassign.compile.families import Fairness
from leadassign.compile.pairs import Pairs
from leadassign.control.budget import out_of_time
from leadassign.engines.priced_flows import Flows

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
) -> int | None:
    """An upper bound on the value units of any choice of ``count`` pairs that meets the
    hard band of ``fairness`` (module doc), or None when no flow reached ``count``.
    ``best``: the value of a known choice that meets it (the step's target). Stops after
    ``max_flows`` flows, at ``best`` (proven), or when ``time_left()`` is below the time
    the last flow took."""
    m = len(pairs.capacity)
    groups = fairness.groups()
    upper, lower, in_group = _band_shares(fairness, groups, m)
    metric = fairness.metric.astype(np.float64)
    units = pairs.units.astype(np.int64)
    alpha, beta = np.zeros(m), np.zeros(m)
    d_alpha, d_beta = np.zeros(m), np.zeros(m)
    bound: int | None = None
    step, stalled = 1.0, 0
    took = 0.0
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
