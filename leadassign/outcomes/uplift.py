"""Comparing two arms of a randomized experiment on observed outcomes (``leadassign
evaluate``): intervals for proportions and their difference, a stratified bootstrap for means,
and the smallest difference the sample could detect.

- A proportion's 95% interval is Wilson's score interval; a difference of two independent
  proportions gets Newcombe's hybrid score interval (his method 10, built from the two Wilson
  intervals; Newcombe 1998, Statistics in Medicine 17:873), and the two-sided p-value of the
  pooled two-proportion z-test.
- A difference of two means (revenue per lead, cycle days) gets a percentile interval from a
  bootstrap that resamples units with replacement within each (stratum, arm) cell, so every
  replicate keeps the strata's sizes (the experiment was stratified by territory); its
  p-value is Welch's t-test.
- :func:`detectable_difference` is the minimum detectable difference in a proportion at
  80% power and two-sided alpha 0.05 for the arm sizes and a pooled rate (normal
  approximation: ``(z_0.975 + z_0.8) * sqrt(p (1 - p) (1/n1 + 1/n2))``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: scipy.stats.norm.ppf(0.975) and .ppf(0.80), written out: importing scipy.stats takes
#: ~1.5 s, which every ``leadassign`` command paid (tests/test_evaluate.py checks them).
Z95 = 1.959963984540054
Z80 = 0.8416212335729143
#: Bootstrap cells are resampled in chunks of at most this many drawn indices.
CHUNK = 2_000_000


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson's score interval for k successes of n (None when n is 0)."""
    if n <= 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Difference:
    """An estimate of arm A minus arm B, its 95% interval and two-sided p-value."""

    estimate: float | None
    low: float | None
    high: float | None
    p_value: float | None

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


NONE = Difference(None, None, None, None)


def proportion_difference(k1: int, n1: int, k2: int, n2: int) -> Difference:
    """k1/n1 - k2/n2 with Newcombe's hybrid score interval and the pooled z-test."""
    a, b = wilson(k1, n1), wilson(k2, n2)
    if a is None or b is None:
        return NONE
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    low = d - math.sqrt((p1 - a[0]) ** 2 + (b[1] - p2) ** 2)
    high = d + math.sqrt((a[1] - p1) ** 2 + (p2 - b[0]) ** 2)
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    from scipy import stats  # ~1.5 s to import: only when a difference is tested

    p_value = 1.0 if se == 0 else float(2 * stats.norm.sf(abs(d) / se))
    return Difference(d, low, high, p_value)


def detectable_difference(n1: int, n2: int, rate: float) -> float | None:
    """The smallest true difference in a proportion that a two-sided test at alpha 0.05
    detects with 80% power, for arms of n1 and n2 and a pooled rate (None without data)."""
    if n1 <= 0 or n2 <= 0:
        return None
    return (Z95 + Z80) * math.sqrt(rate * (1 - rate) * (1 / n1 + 1 / n2))


def welch_p(a: np.ndarray, b: np.ndarray) -> float | None:
    """Two-sided p-value of Welch's t-test (None when an arm has fewer than 2 values, or
    both arms are constant)."""
    if len(a) < 2 or len(b) < 2:
        return None
    if float(np.var(a)) == 0.0 and float(np.var(b)) == 0.0:
        return None if float(a[0]) == float(b[0]) else 0.0
    from scipy import stats

    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


@dataclass(frozen=True)
class Bootstrap:
    """Replicates of each arm's mean (``first``, ``second``) from a stratified bootstrap."""

    first: np.ndarray
    second: np.ndarray

    def interval(self, which: str) -> tuple[float, float] | None:
        values = {"first": self.first, "second": self.second}.get(which)
        if values is None:
            values = self.first - self.second
        values = values[np.isfinite(values)]
        if not len(values):
            return None
        low, high = np.quantile(values, [0.025, 0.975])
        return float(low), float(high)


def _resampled_sums(values: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Per replicate: the sum of ``len(values)`` values drawn with replacement."""
    n = len(values)
    out = np.zeros(replicates, dtype=np.float64)
    if n == 0:
        return out
    step = max(1, CHUNK // n)
    for start in range(0, replicates, step):
        stop = min(replicates, start + step)
        draw = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = values[draw].sum(axis=1)
    return out


def stratified_bootstrap(
    values: np.ndarray,
    first: np.ndarray,
    strata: np.ndarray,
    *,
    replicates: int,
    rng: np.random.Generator,
) -> Bootstrap:
    """Replicates of the mean of ``values`` in each arm (``first`` True: the first arm),
    resampling with replacement within each (stratum, arm) cell, cells in sorted order."""
    strata = np.asarray(strata, dtype=str)
    means = []
    for arm in (True, False):
        in_arm = first == arm
        total = np.zeros(replicates, dtype=np.float64)
        for stratum in np.unique(strata[in_arm]).tolist():
            cell = values[in_arm & (strata == stratum)]
            total += _resampled_sums(cell, replicates, rng)
        count = int(in_arm.sum())
        means.append(total / count if count else np.full(replicates, np.nan))
    return Bootstrap(means[0], means[1])


__all__ = [
    "Bootstrap",
    "Difference",
    "detectable_difference",
    "proportion_difference",
    "stratified_bootstrap",
    "welch_p",
    "wilson",
]
