"""Backtest statistics: score assignments of a past book of deals against what happened.

The book is a set of closed deals (won or lost) with their historical owner ``A_i``, their
segment ``s_i``, outcome ``Y_i`` (won), amount and cycle days. A *plan* gives each deal a rep
``d(i)`` ('' = left unassigned, which wins nothing). Plans were chosen from a model fitted on
*earlier* deals; here they are scored by models that never saw the plan's choice and never
saw the deal they score:

- **Direct method (dm)**: an outcome model (:func:`~.rates.fit_rates`, shrunk rep and
  rep x segment rates) fitted on the book's own outcomes with K-fold cross-fitting: deals are
  split into ``K_FOLDS`` folds by a seeded permutation, and the model that scores deal ``i``
  is fitted on the other folds. ``wins = sum_i p(d(i), s_i)``, ``revenue = sum_i p * amount_i``,
  ``cycle_days`` = the win-weighted mean of the predicted cycle days.
- **Doubly robust (dr)**: ``DR_i = p(d(i)) + 1[d(i) = A_i] / pi(A_i | s_i) * (Y_i - p(A_i))``
  with ``pi(r | s)`` the share of segment ``s``'s book deals that rep ``r`` owned. The
  propensities are plain shares of the book, not cross-fitted: they are frequencies, not a
  fitted outcome model, and a cross-fitted share can be 0 for a (rep, segment) seen in one
  fold only, which would make a weight infinite. DR is unbiased when either the outcome
  model or the propensities are right; its weights' effective sample size
  ``(sum w)^2 / sum w^2`` over the deals where the plan agrees with history says how many
  deals it really rests on.
- **Observed**: what happened under the historical owners (direct sums).

Intervals: a two-stage bootstrap with Poisson weights: each rep gets a weight
``W_r ~ Exp(1)`` (the Bayesian bootstrap over reps), then each of its book deals is drawn
``Poisson(W_r)`` times, so reps weigh more or less as a whole (outcomes of one rep are
correlated) and deals vary within them. Unlike drawing reps with replacement, a rep is
(almost) never dropped whole: the plans name reps, and a replicate without a rep the plan
relies on would score its deals at the team's rate, biasing every replicate toward "no
difference" (on a synthetic book with planted skill the point estimate fell above the
whole interval). The cross-fitted model (new folds) and the propensities are refitted in
each replicate; the plans are fixed (not re-solved). Each replicate's sums are scaled to the
book's size, so the interval is about rates, not about how many deals a replicate drew.
Percentile intervals (2.5%, 97.5%). Differences against ``historical`` are paired: both
sides come from the same replicate.

Nothing loops over deal x rep pairs: loops run over folds, reps and replicates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leadassign.outcomes.rates import fit_rates

#: Folds of the cross-fitted outcome model.
K_FOLDS = 5
#: DR is the reported estimate only when its weights rest on at least this many deals and
#: this share of the book (below it, DR's variance swamps what it corrects: on Maven a plan
#: agreeing with history on 4% of deals gives DR intervals five times as wide as DM's) ...
DR_MIN_ESS = 50.0
DR_MIN_ESS_SHARE = 0.1
#: ... and at least this share of the plan's deals goes to a rep the segment's history saw.
DR_MIN_OVERLAP = 0.95
#: The figures each plan gets.
FIGURES = ("wins", "revenue", "cycle_days")
#: Bins of the calibration table.
CALIBRATION_BINS = 10
HISTORICAL = "historical"


@dataclass(frozen=True)
class Book:
    """The deals replayed: every array has one entry per book deal."""

    ids: np.ndarray  # str
    rep: np.ndarray  # str: the historical owner
    segment: np.ndarray  # str ('' = none)
    won: np.ndarray  # bool
    cycle: np.ndarray  # float days, NaN unless won
    amount: np.ndarray  # float >= 0, unknown amounts already filled

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Estimate:
    """One replicate's (or the point's) figures for every plan."""

    dm: dict[str, dict[str, float]]  # plan -> figure -> value
    dr: dict[str, dict[str, float]]
    observed: dict[str, float]
    ess: dict[str, float]  # plan -> effective sample size of the DR weights
    overlap: dict[str, float]  # plan -> share of its assigned deals with pi(d(i) | s_i) > 0
    agreeing: dict[str, int]  # plan -> deals kept with their historical owner
    p_hist: np.ndarray = field(repr=False)  # cross-fitted p(A_i), per deal of the replicate
    p_plan: dict[str, np.ndarray] = field(repr=False)


def folds_of(n: int, rng: np.random.Generator, k: int = K_FOLDS) -> np.ndarray:
    """Fold of each deal: a seeded permutation dealt into ``k`` folds of (nearly) equal size."""
    folds = np.empty(n, dtype=np.int64)
    folds[rng.permutation(n)] = np.arange(n) % k
    return folds


def _keys(rep: np.ndarray, segment: np.ndarray) -> np.ndarray:
    return np.char.add(np.char.add(np.asarray(rep, dtype=str), "\x1f"), segment)


def _figures(
    p: np.ndarray, cycle: np.ndarray, amount: np.ndarray, scale: float
) -> dict[str, float]:
    wins = float(p.sum())
    weighted = p * np.nan_to_num(cycle, nan=0.0)
    return {
        "wins": wins * scale,
        "revenue": float((p * amount).sum()) * scale,
        "cycle_days": float(weighted.sum() / wins) if wins > 0 else math.nan,
    }


def estimate(
    book: Book, plans: Mapping[str, np.ndarray], idx: np.ndarray, folds: np.ndarray
) -> Estimate:
    """Every plan's dm and dr figures on the deals ``idx`` (indices into the book, repeats
    allowed: a bootstrap replicate), cross-fitted by ``folds`` (per book deal), with sums
    scaled to the book's size."""
    rep, seg, y = book.rep[idx], book.segment[idx], book.won[idx]
    cyc, amt, fold = book.cycle[idx], book.amount[idx], folds[idx]
    m = len(idx)
    scale = len(book) / m
    p_hist, c_hist = np.zeros(m), np.zeros(m)
    p_plan = {name: np.zeros(m) for name in plans}
    c_plan = {name: np.zeros(m) for name in plans}
    chosen = {name: np.asarray(plan, dtype=str)[idx] for name, plan in plans.items()}
    for k in np.unique(fold):
        test = fold == k
        train = ~test
        if not train.any():  # a replicate that drew one fold only: score by the fold itself
            train = test
        model = fit_rates(rep[train], y[train], cyc[train], seg[train])
        p_hist[test] = model.win_rate(rep[test], seg[test])
        c_hist[test] = model.cycle_days(rep[test], seg[test])
        for name, d in chosen.items():
            dk = d[test]
            p_plan[name][test] = np.where(dk != "", model.win_rate(dk, seg[test]), 0.0)
            c_plan[name][test] = model.cycle_days(dk, seg[test])
    # propensities: the share of each segment's deals each rep owned, in this sample
    owned = pd.Series(_keys(rep, seg)).value_counts()
    per_segment = pd.Series(seg).value_counts()
    pi_owner = owned.reindex(_keys(rep, seg)).to_numpy(dtype=float) / per_segment.reindex(
        seg
    ).to_numpy(dtype=float)
    won_cycle = np.where(y, np.nan_to_num(cyc, nan=0.0), 0.0)
    observed = {
        "wins": float(y.sum()) * scale,
        "revenue": float(np.where(y, amt, 0.0).sum()) * scale,
        "cycle_days": float(won_cycle.sum() / y.sum()) if y.any() else math.nan,
    }
    dm: dict[str, dict[str, float]] = {HISTORICAL: _figures(p_hist, c_hist, amt, scale)}
    dr: dict[str, dict[str, float]] = {}
    ess: dict[str, float] = {}
    overlap: dict[str, float] = {}
    agreeing: dict[str, int] = {}
    for name, d in chosen.items():
        p, c = p_plan[name], c_plan[name]
        dm[name] = _figures(p, c, amt, scale)
        agree = d == rep
        w = np.where(agree, 1.0 / pi_owner, 0.0)
        dr_i = p + w * (y - p_hist)
        cyc_num = p * np.nan_to_num(c, nan=0.0) + w * (
            won_cycle - p_hist * np.nan_to_num(c_hist, nan=0.0)
        )
        wins = float(dr_i.sum())
        dr[name] = {
            "wins": wins * scale,
            "revenue": float((dr_i * amt).sum()) * scale,
            "cycle_days": float(cyc_num.sum() / wins) if wins > 0 else math.nan,
        }
        ww = w[agree]
        ess[name] = float(ww.sum() ** 2 / (ww @ ww)) if len(ww) else 0.0
        assigned = d != ""
        seen = owned.reindex(_keys(d, seg)).notna().to_numpy()
        overlap[name] = float(seen[assigned].mean()) if assigned.any() else 0.0
        agreeing[name] = int(agree.sum())
    return Estimate(dm, dr, observed, ess, overlap, agreeing, p_hist, p_plan)


def chosen_method(ess: float, overlap: float, deals: int) -> str:
    """``dr`` where the history's routing gives overlap enough to rest on, else ``dm``."""
    enough = ess >= max(DR_MIN_ESS, DR_MIN_ESS_SHARE * deals)
    return "dr" if enough and overlap >= DR_MIN_OVERLAP else "dm"


@dataclass(frozen=True)
class Scored:
    """A backtest's figures: point estimates, bootstrap intervals, uplift, calibration."""

    point: Estimate
    method: dict[str, str]  # plan -> 'dm' | 'dr' ('observed' for historical)
    intervals: dict[str, dict[str, dict[str, tuple[float, float]]]]  # plan -> dm|dr -> figure
    observed_interval: dict[str, tuple[float, float]]
    uplift: dict[str, dict[str, tuple[float, float, float]]]  # plan -> figure -> (diff, lo, hi)
    replicates: int
    seed: int


def _interval(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=np.float64)
    a = a[np.isfinite(a)]
    if not len(a):
        return (math.nan, math.nan)
    lo, hi = np.quantile(a, [0.025, 0.975])
    return (float(lo), float(hi))


def _reference(e: Estimate, method: str) -> dict[str, float]:
    """What a plan scored by ``method`` is compared with: the historical owners scored the
    same way (the model for dm; what happened, DR's own value of history, for dr)."""
    return e.dm[HISTORICAL] if method == "dm" else e.observed


def score(
    book: Book, plans: Mapping[str, np.ndarray], *, seed: int = 0, replicates: int = 200
) -> Scored:
    """Point estimates and bootstrap intervals of every plan (see the module doc)."""
    rng = np.random.default_rng(seed)
    n = len(book)
    point = estimate(book, plans, np.arange(n), folds_of(n, rng))
    method = {name: chosen_method(point.ess[name], point.overlap[name], n) for name in plans}
    reps, code = np.unique(book.rep, return_inverse=True)
    draws: list[Estimate] = []
    for _ in range(replicates):
        # two stages of Poisson weights: a rep's weight W_r ~ Exp(1), then each of its deals
        # is drawn Poisson(W_r) times
        weight = rng.exponential(1.0, len(reps))
        idx = np.repeat(np.arange(n), rng.poisson(weight[code]))
        draws.append(estimate(book, plans, idx, folds_of(n, rng)))
    names = [HISTORICAL, *plans]
    intervals: dict[str, dict[str, dict[str, tuple[float, float]]]] = {}
    for name in names:
        intervals[name] = {
            how: {fig: _interval([getattr(e, how)[name][fig] for e in draws]) for fig in FIGURES}
            for how in (("dm",) if name == HISTORICAL else ("dm", "dr"))
        }
    observed_interval = {fig: _interval([e.observed[fig] for e in draws]) for fig in FIGURES}
    uplift: dict[str, dict[str, tuple[float, float, float]]] = {}
    for name in plans:
        how = method[name]

        def diff(e: Estimate, fig: str, name: str = name, how: str = how) -> float:
            ours = (e.dm if how == "dm" else e.dr)[name][fig]
            return ours - _reference(e, how)[fig]

        uplift[name] = {
            fig: (diff(point, fig), *_interval([diff(e, fig) for e in draws])) for fig in FIGURES
        }
    return Scored(point, method, intervals, observed_interval, uplift, replicates, seed)


def calibration(p: np.ndarray, won: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Predicted against observed win rates in ``bins`` groups of (nearly) equal size by
    prediction (ties broken by deal order): ``bin, deals, predicted, observed, observed_low,
    observed_high`` (a Wilson 95% interval)."""
    order = np.argsort(p, kind="stable")
    rows = []
    for b, part in enumerate(np.array_split(order, bins)):
        if not len(part):
            continue
        n = len(part)
        k = float(won[part].sum())
        rate = k / n
        z = 1.959963984540054
        centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        rows.append(
            {
                "bin": b + 1,
                "deals": n,
                "predicted": float(p[part].mean()),
                "observed": rate,
                "observed_low": centre - half,
                "observed_high": centre + half,
            }
        )
    return pd.DataFrame(rows)


def per_rep(book: Book, plans: Mapping[str, np.ndarray], point: Estimate) -> pd.DataFrame:
    """Per rep and plan: deals and the cross-fitted predicted win rate of its deals
    (``historical`` also has the observed rate)."""
    frames = []
    hist = pd.DataFrame({"rep_id": book.rep, "p": point.p_hist, "won": book.won})
    g = hist.groupby("rep_id", sort=True)
    frames.append(
        pd.DataFrame(
            {
                "plan": HISTORICAL,
                "deals": g.size(),
                "win_rate": g["p"].mean(),
                "observed_win_rate": g["won"].mean(),
            }
        )
    )
    for name, plan in plans.items():
        d = np.asarray(plan, dtype=str)
        frame = pd.DataFrame({"rep_id": d, "p": point.p_plan[name]})[d != ""]
        g = frame.groupby("rep_id", sort=True)
        frames.append(pd.DataFrame({"plan": name, "deals": g.size(), "win_rate": g["p"].mean()}))
    out = pd.concat(frames).rename_axis("rep_id").reset_index()
    return out[["plan", "rep_id", "deals", "win_rate", "observed_win_rate"]]


def summary(scored: Scored, plans: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The figures as plain data (backtest.json's ``plans`` and ``uplift``)."""
    e = scored.point
    out: dict[str, Any] = {
        HISTORICAL: {
            "method": "observed",
            "observed": e.observed,
            "observed_interval": {k: list(v) for k, v in scored.observed_interval.items()},
            "dm": e.dm[HISTORICAL],
            "dm_interval": {k: list(v) for k, v in scored.intervals[HISTORICAL]["dm"].items()},
        }
    }
    for name in plans:
        out[name] = {
            "method": scored.method[name],
            "dm": e.dm[name],
            "dm_interval": {k: list(v) for k, v in scored.intervals[name]["dm"].items()},
            "dr": e.dr[name],
            "dr_interval": {k: list(v) for k, v in scored.intervals[name]["dr"].items()},
            "dr_effective_sample_size": e.ess[name],
            "dr_overlap_share": e.overlap[name],
            "agreeing_deals": e.agreeing[name],
            "dr_reliable": scored.method[name] == "dr",
        }
    return out


__all__ = [
    "DR_MIN_ESS",
    "DR_MIN_ESS_SHARE",
    "DR_MIN_OVERLAP",
    "HISTORICAL",
    "K_FOLDS",
    "Book",
    "Estimate",
    "Scored",
    "calibration",
    "chosen_method",
    "estimate",
    "folds_of",
    "per_rep",
    "score",
    "summary",
]
