"""Empirical-Bayes shrinkage against hand-computed beta-binomial and normal-normal models."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from leadassign.outcomes.shrinkage import fit_beta, fit_normal, posterior_rates


def _betabinom_loglik(won: np.ndarray, n: np.ndarray, mean: float, s: float) -> float:
    """The full beta-binomial log likelihood, from scipy's distribution."""
    return float(stats.betabinom.logpmf(won, n, mean * s, (1 - mean) * s).sum())


def test_fit_maximizes_the_marginal_likelihood_by_grid() -> None:
    rng = np.random.default_rng(3)
    n = rng.integers(5, 80, size=40)
    p = rng.beta(6.0, 4.0, size=40)  # true rates spread: strength 10 around 0.6
    won = rng.binomial(n, p)
    fit = fit_beta(won, n)
    assert math.isfinite(fit.strength)
    best = _betabinom_loglik(won, n, fit.mean, fit.strength)
    for mean in np.linspace(0.45, 0.75, 31):
        for s in np.geomspace(1.0, 1000.0, 61):
            assert _betabinom_loglik(won, n, mean, s) <= best + 1e-6
    # The strength found is within a broad range of the truth (10) for 40 groups.
    assert 3.0 < fit.strength < 40.0
    assert fit.p_value < 1e-6


def test_posterior_is_the_hand_computed_beta_mean() -> None:
    # Beta(6, 4) prior (mean 0.6, strength 10) and 3 wins of 3 deals: (3 + 6) / (3 + 10).
    assert posterior_rates(np.array([3]), np.array([3]), 0.6, 10.0)[0] == pytest.approx(9 / 13)
    # A rep with 3 deals never gets 0% or 100%.
    rates = posterior_rates(np.array([0, 3]), np.array([3, 3]), 0.6, 10.0)
    assert 0.0 < rates[0] < rates[1] < 1.0


def test_fixed_prior_means_fit_only_the_strength() -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(10, 60, size=50)
    m = rng.uniform(0.3, 0.7, size=50)
    won = rng.binomial(n, rng.beta(m * 20, (1 - m) * 20))
    fit = fit_beta(won, n, m)
    grid = np.geomspace(0.5, 5000.0, 400)
    ll = [float(stats.betabinom.logpmf(won, n, m * s, (1 - m) * s).sum()) for s in grid]
    assert abs(math.log(fit.strength) - math.log(grid[int(np.argmax(ll))])) < 0.05


def test_no_differences_gives_infinite_strength_and_the_mean() -> None:
    n = np.full(30, 100)
    won = np.full(30, 60)  # identical reps: less spread than binomial noise
    fit = fit_beta(won, n)
    assert math.isinf(fit.strength)
    assert fit.spread == 0.0 and fit.p_value == 1.0
    assert np.allclose(fit.posterior(won, n, np.full(30, fit.mean)), 0.6)


def test_normal_fit_against_closed_form_with_equal_groups() -> None:
    # Equal group sizes: the ML between-group variance is var(y) - sigma^2 / k (when >= 0).
    rng = np.random.default_rng(9)
    groups, k = 20, 50
    true_means = rng.normal(40.0, 6.0, size=groups)
    g = np.repeat(np.arange(groups), k)
    values = true_means[g] + rng.normal(0.0, 20.0, size=groups * k)
    fit = fit_normal(values, g, groups)
    means = np.bincount(g, weights=values) / k
    resid = values - means[g]
    sigma2 = resid @ resid / (groups * k - groups)
    assert fit.within_var == pytest.approx(sigma2)
    assert fit.between_var == pytest.approx(max(0.0, means.var() - sigma2 / k), rel=1e-4)
    assert fit.mean == pytest.approx(means.mean())
    shrunk = fit.posterior(means, np.full(groups, k))
    b = fit.between_var / (fit.between_var + sigma2 / k)
    assert np.allclose(shrunk, fit.mean + b * (means - fit.mean))
