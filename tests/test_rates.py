"""The hierarchical rate model against hand-computed values: the rep level, the rep x segment
level, the fallbacks (unknown rep, unknown cell, empty segment) and the boundary cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from leadassign.outcomes.rates import fit_rates
from leadassign.outcomes.shrinkage import fit_beta


def _deals(spec: list[tuple[str, str, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rep, segment, won, lost) rows as per-deal arrays: rep, segment, won."""
    rep, seg, won = [], [], []
    for r, s, w, lost in spec:
        rep += [r] * (w + lost)
        seg += [s] * (w + lost)
        won += [True] * w + [False] * lost
    return np.array(rep), np.array(seg), np.array(won)


def _best_strength(k: np.ndarray, n: np.ndarray, m: np.ndarray) -> float:
    """An independent maximization of the beta-binomial likelihood over s (scipy's pmf)."""

    def negative(t: float) -> float:
        s = math.exp(t)
        return -float(stats.betabinom.logpmf(k, n, m * s, (1 - m) * s).sum())

    res = optimize.minimize_scalar(negative, bounds=(-4, 16), method="bounded")
    return math.exp(float(res.x))


def test_equal_reps_get_exactly_the_pooled_rate() -> None:
    # Three reps with 5 of 10 each: less spread than binomial noise, so s is infinite and
    # every rep gets the pooled rate 15/30 = 0.5 exactly; p = 1.
    rep, _seg, won = _deals([("A", "", 5, 5), ("B", "", 5, 5), ("C", "", 5, 5)])
    model = fit_rates(rep, won, np.full(len(rep), 10.0))
    assert math.isinf(model.rep_fit.strength)
    assert model.rep_fit.p_value == 1.0
    assert model.team_rate == 0.5 and model.pooled_rate == 0.5
    assert model.rep_rate.tolist() == [0.5, 0.5, 0.5]
    # an unknown rep gets the team's rate
    assert model.win_rate(np.array(["Z"])).tolist() == [0.5]


def test_cells_shrink_toward_their_rep_by_the_hand_computed_posterior() -> None:
    # Reps A and B both 10 of 20 (rep level: s infinite, rates 0.5). Inside A, retail won
    # 9 of 10 and tech 1 of 10: a strong rep x segment difference. The cell posterior is
    # (k + 0.5 s) / (n + s) with s maximizing the beta-binomial likelihood of the cells.
    rep, seg, won = _deals(
        [("A", "retail", 9, 1), ("A", "tech", 1, 9), ("B", "retail", 5, 5), ("B", "tech", 5, 5)]
    )
    model = fit_rates(rep, won, np.full(len(rep), np.nan), seg)
    assert model.rep_rate.tolist() == [0.5, 0.5]
    k, n = np.array([9, 1, 5, 5]), np.array([10, 10, 10, 10])
    s = _best_strength(k, n, np.full(4, 0.5))
    assert model.cell_fit is not None
    assert model.cell_fit.strength == pytest.approx(s, rel=1e-3)
    got = model.win_rate(np.array(["A", "A", "B", "B"]), np.array(["retail", "tech"] * 2))
    assert got == pytest.approx((k + 0.5 * s) / (n + s), rel=1e-4)
    assert 0.5 < got[0] < 0.9 and 0.1 < got[1] < 0.5  # pulled toward A's 0.5, never raw
    # an unseen cell of a known rep gets the rep's rate; an empty segment too
    assert model.win_rate(np.array(["A", "A"]), np.array(["energy", ""])).tolist() == [0.5, 0.5]


def test_rep_level_posterior_matches_the_fitted_prior() -> None:
    rng = np.random.default_rng(5)
    n = np.array([40, 60, 80, 100, 120, 30, 50, 70])
    p = np.array([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.5])
    k = rng.binomial(n, p)
    rep = np.repeat([f"R{i}" for i in range(8)], n)
    won = np.concatenate([[True] * ki + [False] * (ni - ki) for ki, ni in zip(k, n, strict=True)])
    model = fit_rates(rep, won, np.full(len(rep), np.nan))
    fit = fit_beta(k, n)
    m, s = fit.mean, fit.strength
    assert math.isfinite(s) and fit.p_value < 0.01
    assert model.rep_rate == pytest.approx((k + m * s) / (n + s))
    assert model.team_rate == pytest.approx(m)  # a new rep: the population's mean
    assert model.pooled_rate == pytest.approx(k.sum() / n.sum())
    # the LR test compares each model at its own best: the binomial at the pooled rate
    pooled = k.sum() / n.sum()
    ll_binomial = float(np.sum(k * np.log(pooled) + (n - k) * np.log1p(-pooled)))
    assert fit.loglik_binomial == pytest.approx(ll_binomial)


def test_empty_segment_deals_pool_into_the_rep_only() -> None:
    rep, seg, won = _deals([("A", "retail", 3, 1), ("A", "", 0, 4), ("B", "retail", 2, 2)])
    model = fit_rates(rep, won, np.full(len(rep), np.nan), seg)
    # A's rep-level count is 3 of 8 (the empty-segment deals count); cells exist only with a value
    assert model.cells.tolist() == ["A\x1fretail", "B\x1fretail"]
    assert model.pooled_rate == pytest.approx(5 / 12)


def test_a_rep_with_only_empty_segment_deals_gets_its_rep_rate() -> None:
    rep, seg, won = _deals([("A", "", 3, 1), ("B", "retail", 2, 2), ("C", "tech", 1, 3)])
    model = fit_rates(rep, won, np.full(len(rep), np.nan), seg)
    r = model.win_rate(np.array(["A"]))
    assert model.win_rate(np.array(["A"]), np.array(["retail"])).tolist() == r.tolist()


def test_one_rep_has_nothing_to_compare() -> None:
    rep, seg, won = _deals([("A", "x", 3, 2)])
    model = fit_rates(rep, won, np.full(len(rep), np.nan), seg)
    assert math.isinf(model.rep_fit.strength) and model.rep_fit.p_value == 1.0
    assert model.rep_rate.tolist() == [0.6]


def test_all_won_never_writes_100_percent() -> None:
    # 4 of 4 and 6 of 6: pooled 1, nothing to fit; Jeffreys (10 + 1/2) / (10 + 1).
    rep, _seg, won = _deals([("A", "", 4, 0), ("B", "", 6, 0)])
    model = fit_rates(rep, won, np.full(len(rep), 3.0))
    assert model.team_rate == pytest.approx(10.5 / 11)
    assert np.all(model.rep_rate < 1.0)
    assert model.win_rate(np.array(["Z"]))[0] < 1.0


def test_cycle_days_hand_computed_normal_normal() -> None:
    # Rep means shrink toward mu by B = tau^2 / (tau^2 + sigma^2 / n); cells' residual means
    # around their rep's shrunk mean shrink toward 0 the same way.
    rng = np.random.default_rng(11)
    reps = np.repeat(["A", "B", "C", "D"], 50)
    seg = np.tile(["x", "y"], 100)
    truth = {"A": 20.0, "B": 40.0, "C": 60.0, "D": 80.0}
    days = np.array([truth[r] for r in reps]) + rng.normal(0, 10, 200)
    model = fit_rates(reps, np.ones(200, bool), days, seg)
    fit = model.rep_cycle_fit
    assert fit is not None and fit.between_var > 0
    means = np.array([days[reps == r].mean() for r in "ABCD"])
    weight = fit.between_var / (fit.between_var + fit.within_var / 50)
    assert model.rep_cycle == pytest.approx(fit.mean + weight * (means - fit.mean))
    cell = model.cell_cycle_fit
    assert cell is not None and cell.mean == 0.0
    a_x = (reps == "A") & (seg == "x")
    resid = days[a_x].mean() - model.rep_cycle[0]
    w = cell.between_var / (cell.between_var + cell.within_var / a_x.sum())
    got = model.cycle_days(np.array(["A"]), np.array(["x"]))[0]
    assert got == pytest.approx(model.rep_cycle[0] + w * resid)
