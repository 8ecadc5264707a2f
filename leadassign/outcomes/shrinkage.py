"""Empirical-Bayes shrinkage: rates and means of small groups pulled toward their parent.

Win rates (beta-binomial). Group ``g`` won ``k_g`` of ``n_g`` closed deals; its true rate is
drawn from ``Beta(m_g * s, (1 - m_g) * s)`` around a prior mean ``m_g`` (the team's rate for
a rep, the rep's rate for a rep x segment cell) with one *prior strength* ``s`` for the
level. ``s`` (and the mean, when it is not given) is fitted by maximizing the marginal
likelihood of the counts, ``sum_g log BetaBinomial(k_g | n_g, m_g s, (1 - m_g) s)``. The
posterior mean ``(k_g + m_g s) / (n_g + s)`` never reaches 0 or 1 while ``m_g`` is inside
(0, 1): a rep with 3 deals is pulled almost all the way to the mean. ``s`` is in deals: the
prior counts as ``s`` deals at the mean. When the likelihood keeps rising as ``s`` grows
(the groups differ no more than binomial noise), ``s`` is infinite and every group gets its
prior mean.

The heterogeneity test is the likelihood ratio of the fitted beta-binomial against the
binomial with the prior means (``s`` infinite); ``s = inf`` lies on the boundary of the
parameter space, so the p-value is half the chi-square(1) tail (Self & Liang, 1987).

Means (normal-normal, for cycle times). Group ``g`` has ``n_g`` observations with mean
``y_g``; ``y_g ~ N(mu, tau^2 + sigma^2 / n_g)`` with ``sigma^2`` the pooled within-group
variance. ``mu`` and ``tau^2`` maximize that marginal likelihood; the posterior mean is
``mu + B_g (y_g - mu)`` with ``B_g = tau^2 / (tau^2 + sigma^2 / n_g)``.

Every function is deterministic (bounded scalar searches, no random starts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

#: The prior strengths searched, in deals: below 0.01 the prior says nothing; above 1e7 no
#: history of deals can tell the beta-binomial from the binomial.
MIN_STRENGTH = 1e-2
MAX_STRENGTH = 1e7


@dataclass(frozen=True)
class BetaFit:
    """A fitted beta prior for one level of groups."""

    mean: float  # the pooled prior mean (when fitted; else the count-weighted prior mean)
    strength: float  # s, in deals; math.inf when the groups differ no more than noise
    loglik: float  # the marginal log likelihood at the fit
    loglik_binomial: float  # ... and with s infinite (no differences between groups)
    p_value: float  # the test of "no differences between groups" (boundary LR test)
    groups: int  # groups with at least one deal

    @property
    def spread(self) -> float:
        """The prior standard deviation of the groups' true rates around the mean."""
        if math.isinf(self.strength):
            return 0.0
        return math.sqrt(self.mean * (1.0 - self.mean) / (self.strength + 1.0))

    def posterior(self, won: np.ndarray, n: np.ndarray, prior_mean: np.ndarray) -> np.ndarray:
        """Posterior mean rates of groups with counts ``won`` of ``n`` and their prior means."""
        return posterior_rates(won, n, prior_mean, self.strength)


def posterior_rates(
    won: np.ndarray, n: np.ndarray, prior_mean: np.ndarray | float, strength: float
) -> np.ndarray:
    """``(won + m s) / (n + s)``; the prior mean itself when ``s`` is infinite."""
    won = np.asarray(won, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    m = np.broadcast_to(np.asarray(prior_mean, dtype=np.float64), won.shape)
    if math.isinf(strength):
        return m.copy()
    return (won + m * strength) / (n + strength)


def _loglik(won: np.ndarray, n: np.ndarray, m: np.ndarray, s: float) -> float:
    """Beta-binomial log likelihood without the binomial coefficients (they do not depend
    on the prior)."""
    a, b = m * s, (1.0 - m) * s
    return float(np.sum(special.betaln(won + a, n - won + b) - special.betaln(a, b)))


def _loglik_binomial(won: np.ndarray, n: np.ndarray, m: np.ndarray) -> float:
    return float(np.sum(special.xlogy(won, m) + special.xlog1py(n - won, -m)))


def _best_strength(won: np.ndarray, n: np.ndarray, m: np.ndarray) -> tuple[float, float]:
    """The strength maximizing the likelihood for fixed prior means, and that likelihood."""
    lo, hi = math.log(MIN_STRENGTH), math.log(MAX_STRENGTH)
    res = optimize.minimize_scalar(
        lambda t: -_loglik(won, n, m, math.exp(t)),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-6},
    )
    t = float(res.x)
    return math.exp(t), -float(res.fun)


def fit_beta(
    won: np.ndarray, n: np.ndarray, prior_mean: np.ndarray | float | None = None
) -> BetaFit:
    """Fit the prior strength (and the mean when ``prior_mean`` is None) to group counts.

    ``won`` and ``n`` are per group; groups with ``n == 0`` carry no information and are
    ignored. With ``prior_mean`` None one mean is fitted for all groups (the team's rate);
    otherwise each group keeps its given prior mean (e.g. its rep's shrunk rate).
    """
    won = np.asarray(won, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    seen = n > 0
    won, n = won[seen], n[seen]
    if len(n) == 0 or n.sum() == 0:
        raise ValueError("no closed deals to fit a prior to")
    pooled = float(won.sum() / n.sum())
    if prior_mean is None:
        m = np.full(len(n), pooled)
    else:
        m = np.broadcast_to(np.asarray(prior_mean, dtype=np.float64), seen.shape)[seen]
    # A prior mean of exactly 0 or 1 (a team that never lost) leaves nothing to fit.
    m = np.clip(m, 1e-9, 1.0 - 1e-9)
    ll_binomial = _loglik_binomial(won, n, m)
    if prior_mean is None and len(n) > 1:
        # The binomial's own maximum is at the pooled rate: the test compares the two
        # models each at its best (not the binomial at the beta-binomial's mean).
        strength, mean, ll = _fit_mean_and_strength(won, n, pooled)
    else:
        strength, ll = _best_strength(won, n, m)
        mean = float(np.average(m, weights=n))
    # No evidence of differences: the fit ran to the largest strength, or gains nothing
    # over the binomial (the beta-binomial tends to it as s grows).
    lr = max(0.0, 2.0 * (ll - ll_binomial))
    if strength >= MAX_STRENGTH * 0.999 or lr < 1e-9 or len(n) < 2:
        strength, ll, lr = math.inf, ll_binomial, 0.0
        if prior_mean is None:
            mean = pooled  # the binomial's estimate, exactly
    p_value = 1.0 if lr == 0.0 else float(0.5 * stats.chi2.sf(lr, 1))
    return BetaFit(mean, strength, ll, ll_binomial, p_value, len(n))


def _fit_mean_and_strength(
    won: np.ndarray, n: np.ndarray, pooled: float
) -> tuple[float, float, float]:
    """Maximize the likelihood over the mean and the strength; returns (s, mean, loglik)."""
    pooled = min(max(pooled, 1e-6), 1.0 - 1e-6)
    lo, hi = math.log(MIN_STRENGTH), math.log(MAX_STRENGTH)

    def negative(x: np.ndarray) -> float:
        mean = special.expit(x[0])
        return -_loglik(won, n, np.full(len(n), mean), math.exp(x[1]))

    start_s, _ = _best_strength(won, n, np.full(len(n), pooled))
    x0 = np.array([special.logit(pooled), math.log(start_s)])
    res = optimize.minimize(negative, x0, method="L-BFGS-B", bounds=[(-20.0, 20.0), (lo, hi)])
    mean, strength = float(special.expit(res.x[0])), math.exp(float(res.x[1]))
    return strength, mean, -float(res.fun)


@dataclass(frozen=True)
class NormalFit:
    """A fitted normal prior for group means (e.g. mean cycle days per rep)."""

    mean: float  # mu
    between_var: float  # tau^2 (0 when the groups differ no more than noise)
    within_var: float  # sigma^2, pooled within groups
    groups: int

    def posterior(self, means: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Shrunk group means; groups with no observations get ``mu``."""
        means = np.asarray(means, dtype=np.float64)
        n = np.asarray(n, dtype=np.float64)
        out = np.full(len(means), self.mean)
        seen = n > 0
        if self.between_var <= 0.0:
            return out
        noise = self.within_var / n[seen]
        weight = self.between_var / (self.between_var + noise)
        out[seen] = self.mean + weight * (means[seen] - self.mean)
        return out


def fit_normal(
    values: np.ndarray, group: np.ndarray, groups: int, mean: float | None = None
) -> NormalFit:
    """Fit ``mu``, ``tau^2`` (marginal likelihood) and the pooled ``sigma^2`` of ``values``
    observed in groups ``group`` (integer codes in ``range(groups)``). With ``mean`` given,
    ``mu`` is fixed there (residuals around a parent's mean shrink toward 0) and only
    ``tau^2`` is fitted."""
    values = np.asarray(values, dtype=np.float64)
    group = np.asarray(group, dtype=np.int64)
    if len(values) == 0:
        raise ValueError("no observations to fit a prior to")
    n = np.bincount(group, minlength=groups).astype(np.float64)
    sums = np.bincount(group, weights=values, minlength=groups)
    seen = n > 0
    means = np.zeros(groups)
    means[seen] = sums[seen] / n[seen]
    resid = values - means[group]
    dof = len(values) - int(seen.sum())
    within = float(resid @ resid / dof) if dof > 0 else float(np.var(values))
    y, k = means[seen], n[seen]
    if len(y) < 2 or within <= 0.0:
        mu0 = float(np.average(y, weights=k)) if mean is None else mean
        return NormalFit(mu0, 0.0, within, len(y))

    def profile(tau2: float) -> tuple[float, float]:
        var = tau2 + within / k
        mu = float(np.sum(y / var) / np.sum(1.0 / var)) if mean is None else mean
        ll = -0.5 * float(np.sum(np.log(var) + (y - mu) ** 2 / var))
        return mu, ll

    centre = float(np.mean(y)) if mean is None else mean
    spread = float(np.mean((y - centre) ** 2)) + within
    res = optimize.minimize_scalar(
        lambda t: -profile(t)[1],
        bounds=(0.0, spread * 10.0),
        method="bounded",
        options={"xatol": spread * 1e-9},
    )
    tau2 = float(res.x)
    # The boundary: keep tau^2 = 0 unless it is strictly better.
    if profile(0.0)[1] >= profile(tau2)[1]:
        tau2 = 0.0
    return NormalFit(profile(tau2)[0], tau2, within, len(y))


__all__ = [
    "MAX_STRENGTH",
    "MIN_STRENGTH",
    "BetaFit",
    "NormalFit",
    "fit_beta",
    "fit_normal",
    "posterior_rates",
]
