"""What ``leadassign learn`` computes from a deal history (statistics only, no files).

From the closed deals (closed before ``as_of`` when given):

- the hierarchical rate model (:func:`~.rates.fit_rates`): win rates shrunk rep toward the
  team and rep x segment toward the rep, cycle days of won deals shrunk the same way;
- per rep: the shrunk ``win_rate``, the raw ``deals`` and ``won`` counts, the shrunk
  ``cycle_days`` and a suggested ``capacity`` (:func:`throughput`);
- per (rep, segment value) cell *with closed deals*: its shrunk ``win_rate`` (a cell without
  deals is not written: solve then uses the rep's own rate, which is what the model says too);
- the held-out check (:func:`held_out_check`): the last share of the training deals by close
  date predicted from the rest, by the team's base rate, by raw rates and by the learned
  rates (Brier score, log loss, bootstrap intervals, a reliability table);
- the heterogeneity sentences (:func:`heterogeneity`): whether reps (and a rep's segments)
  differ detectably, in words.

Every figure is deterministic: the bootstrap has a fixed seed; orders are sorted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leadassign.errors import InputError
from leadassign.outcomes.deals import Deals
from leadassign.outcomes.rates import RateModel, fit_rates
from leadassign.outcomes.shrinkage import BetaFit

#: A difference is called detectable at this p-value of the likelihood-ratio test.
ALPHA = 0.05
#: The held-out share of the training deals (the latest by close date).
VALIDATION_SHARE = 0.2
#: Bootstrap replicates of the held-out differences.
BOOTSTRAP = 1000
#: The capacity statistic: this percentile of a rep's deals created per period.
CAPACITY_PERCENTILE = 75.0
#: Fewer validation deals than this: the held-out check is not run (it would say nothing).
MIN_VALIDATION = 20


def sig(value: float, digits: int = 6) -> float:
    """``value`` rounded to ``digits`` significant digits (NaN and inf as they are): the
    stable form every learned figure is written in."""
    if not math.isfinite(value) or value == 0.0:
        return float(value)
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True)
class LearnOptions:
    """What to learn: the segment column (None: rates per rep only), the date before which
    deals must have closed (None: every closed deal), the capacity period in days, the
    held-out share, the bootstrap replicates and their seed."""

    segment: str | None = None
    as_of: np.datetime64 | None = None
    period_days: int = 7
    validation_share: float = VALIDATION_SHARE
    bootstrap: int = BOOTSTRAP
    seed: int = 0


@dataclass(frozen=True)
class Score:
    """One predictor's held-out scores."""

    brier: float
    brier_low: float
    brier_high: float
    log_loss: float
    log_loss_low: float
    log_loss_high: float


@dataclass(frozen=True)
class Difference:
    """A difference of held-out scores (learned minus another predictor; < 0: learned is
    better), with its bootstrap 95% interval."""

    against: str
    brier: float
    brier_low: float
    brier_high: float
    log_loss: float
    log_loss_low: float
    log_loss_high: float


@dataclass(frozen=True)
class HeldOut:
    """The held-out check: fit on the earlier deals, score the later ones."""

    split_date: str  # validation deals closed on or after this day
    fit_deals: int
    validation_deals: int
    validation_won: int
    scores: dict[str, Score]  # 'base', 'raw', 'learned'
    differences: list[Difference]
    reliability: dict[str, pd.DataFrame]  # 'learned', 'raw': bin, predicted, observed, deals
    bootstrap: int
    seed: int


@dataclass(frozen=True)
class Heterogeneity:
    """Whether a level's groups differ detectably, with the figures behind the sentence."""

    level: str  # 'rep' or 'rep x <segment>'
    detectable: bool
    strength: float  # inf: no detectable difference
    p_value: float
    spread: float  # the prior sd of the groups' true rates (0 when strength is inf)
    groups: int
    sentence: str


@dataclass(frozen=True)
class Learned:
    """Everything ``learn`` found; :meth:`summary` is learn.json's content."""

    options: LearnOptions
    training: Deals
    model: RateModel
    reps: pd.DataFrame  # rep_id, win_rate, deals, won, cycle_days, capacity
    affinity: pd.DataFrame | None  # rep_id, <segment>, win_rate
    check: HeldOut | None
    heterogeneity: list[Heterogeneity]
    capacity_statistic: str
    history_deals: int
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return _summary(self)


# -- the training deals -----------------------------------------------------------------------


def training_deals(deals: Deals, as_of: np.datetime64 | None) -> Deals:
    """The closed deals, closed strictly before ``as_of`` when given."""
    mask = deals.is_closed
    if as_of is not None:
        mask = mask & (deals.closed < as_of)
    return deals.subset(mask)


# -- capacity ---------------------------------------------------------------------------------


def capacity_statistic(period_days: int) -> str:
    return (
        f"the {CAPACITY_PERCENTILE:.0f}th percentile (linear interpolation) of the rep's deals "
        f"created per {period_days}-day period, over the periods from the rep's first to last "
        "created deal in the history before --as-of (open deals included, periods without a "
        "deal counted as 0), rounded up; at least 1"
    )


def throughput(
    rep: np.ndarray, created: np.ndarray, reps: np.ndarray, period_days: int
) -> np.ndarray:
    """The suggested capacity of each rep of ``reps`` (0 for a rep without a dated deal):
    see :func:`capacity_statistic`."""
    out = np.zeros(len(reps), dtype=np.int64)
    dated = ~np.isnat(created)
    rep, created = rep[dated], created[dated]
    days = created.astype("datetime64[D]").astype(np.int64)
    for j, name in enumerate(reps):
        mine = days[rep == name]
        if len(mine) == 0:
            continue
        period = (mine - mine.min()) // period_days
        counts = np.bincount(period)
        out[j] = max(1, math.ceil(sig(float(np.percentile(counts, CAPACITY_PERCENTILE)), 9)))
    return out


# -- the held-out check -----------------------------------------------------------------------


def _losses(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-deal squared error and log loss of predictions ``p`` (inside (0, 1))."""
    brier = (p - y) ** 2
    logloss = -(y * np.log(p) + (1.0 - y) * np.log1p(-p))
    return brier, logloss


def _clip(rate: np.ndarray, n: np.ndarray) -> np.ndarray:
    """A raw rate k/n kept inside [1/(2n), 1 - 1/(2n)]: 0 wins of 4 predicts 1/8, not 0
    (whose log loss is infinite on a later win)."""
    half = 0.5 / np.maximum(n, 1.0)
    return np.asarray(np.clip(rate, half, 1.0 - half), dtype=np.float64)


def raw_rates(
    fit: Deals, rep: np.ndarray, segment: np.ndarray | None, column: str | None
) -> np.ndarray:
    """The raw predictor: the rep x segment cell's won/deals in ``fit``, else the rep's, else
    the team's; each clipped to [1/(2n), 1 - 1/(2n)] of its own count n."""
    won = fit.won.astype(np.float64)
    n_all = float(len(fit))
    base = _clip(np.array([won.sum() / n_all]), np.array([n_all]))[0]
    out = np.full(len(rep), base)
    frame = pd.DataFrame({"rep": fit.rep, "won": won})
    by_rep = frame.groupby("rep")["won"].agg(["sum", "count"])
    rep_rate = _clip((by_rep["sum"] / by_rep["count"]).to_numpy(), by_rep["count"].to_numpy(float))
    where = by_rep.index.get_indexer(pd.Index(rep))
    out = np.where(where >= 0, rep_rate[np.maximum(where, 0)], out)
    if column is not None and segment is not None:
        frame["seg"] = fit.segment(column)
        cells = frame[frame["seg"] != ""].groupby(["rep", "seg"])["won"].agg(["sum", "count"])
        if len(cells):
            cell_rate = _clip(
                (cells["sum"] / cells["count"]).to_numpy(), cells["count"].to_numpy(float)
            )
            keys = pd.MultiIndex.from_arrays([rep, segment])
            at = cells.index.get_indexer(keys)
            known = (at >= 0) & (segment != "")
            out = np.where(known, cell_rate[np.maximum(at, 0)], out)
    return np.asarray(out, dtype=np.float64)


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Equal-width bins of the predicted rate: per bin its range, the mean prediction, the
    observed win rate and the deals in it (empty bins have NaN means and 0 deals)."""
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    n = np.bincount(which, minlength=bins).astype(np.float64)
    sp = np.bincount(which, weights=p, minlength=bins)
    sy = np.bincount(which, weights=y, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        predicted = np.where(n > 0, sp / n, np.nan)
        observed = np.where(n > 0, sy / n, np.nan)
    edges = np.arange(bins + 1) / bins
    return pd.DataFrame(
        {
            "bin": [f"{edges[i]:.1f}-{edges[i + 1]:.1f}" for i in range(bins)],
            "predicted": [sig(float(v)) for v in predicted],
            "observed": [sig(float(v)) for v in observed],
            "deals": n.astype(np.int64),
        }
    )


def _interval(values: np.ndarray, rng: np.random.Generator, replicates: int) -> tuple[float, float]:
    """The bootstrap 95% percentile interval of the mean of ``values`` (deals resampled
    with replacement), in chunks of replicates."""
    n = len(values)
    means = np.empty(replicates)
    chunk = max(1, min(replicates, 2_000_000 // max(n, 1)))
    for start in range(0, replicates, chunk):
        size = min(chunk, replicates - start)
        idx = rng.integers(0, n, size=(size, n))
        means[start : start + size] = values[idx].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def held_out_check(train: Deals, options: LearnOptions) -> HeldOut | None:
    """Fit on the training deals closed before the split day, score those closed on or after
    it (about ``validation_share`` of them: whole days go to one side). None when either side
    would have fewer than MIN_VALIDATION deals."""
    n = len(train)
    if n < 2 * MIN_VALIDATION:
        return None
    order = np.lexsort((train.ids, train.closed))
    cut_at = math.floor(n * (1.0 - options.validation_share))
    split = train.closed[order[cut_at]]
    later = train.closed >= split
    if later.sum() < MIN_VALIDATION or (~later).sum() < MIN_VALIDATION:
        return None
    fit, test = train.subset(~later), train.subset(later)
    column = options.segment
    seg_fit = fit.segment(column) if column else None
    seg_test = test.segment(column) if column else None
    model = fit_rates(fit.rep, fit.won, fit.cycle_days, seg_fit)
    y = test.won.astype(np.float64)
    n_fit = float(len(fit))
    base_rate = _clip(np.array([fit.won.sum() / n_fit]), np.array([n_fit]))[0]
    predictions = {
        "base": np.full(len(test), base_rate),
        "raw": raw_rates(fit, test.rep, seg_test, column),
        "learned": np.clip(model.win_rate(test.rep, seg_test), 1e-9, 1 - 1e-9),
    }
    losses = {name: _losses(p, y) for name, p in predictions.items()}
    rng = np.random.default_rng(options.seed)
    scores: dict[str, Score] = {}
    for name in ("base", "raw", "learned"):
        brier, logloss = losses[name]
        b_lo, b_hi = _interval(brier, rng, options.bootstrap)
        l_lo, l_hi = _interval(logloss, rng, options.bootstrap)
        scores[name] = Score(
            *(sig(v) for v in (brier.mean(), b_lo, b_hi, logloss.mean(), l_lo, l_hi))
        )
    differences = []
    for other in ("base", "raw"):
        db = losses["learned"][0] - losses[other][0]
        dl = losses["learned"][1] - losses[other][1]
        b_lo, b_hi = _interval(db, rng, options.bootstrap)
        l_lo, l_hi = _interval(dl, rng, options.bootstrap)
        differences.append(
            Difference(other, *(sig(v) for v in (db.mean(), b_lo, b_hi, dl.mean(), l_lo, l_hi)))
        )
    return HeldOut(
        split_date=str(split),
        fit_deals=len(fit),
        validation_deals=len(test),
        validation_won=int(y.sum()),
        scores=scores,
        differences=differences,
        reliability={
            "learned": reliability(predictions["learned"], y),
            "raw": reliability(predictions["raw"], y),
        },
        bootstrap=options.bootstrap,
        seed=options.seed,
    )


# -- heterogeneity in words -------------------------------------------------------------------


def _p_words(p: float) -> str:
    """A p-value as people read it: ``< 0.001``, three decimals below 0.1 (so that 0.055 is
    not shown as the 0.05 threshold), else two."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def _strength_words(strength: float) -> str:
    return "infinite" if math.isinf(strength) else f"{strength:,.0f} deals"


def heterogeneity(
    fit: BetaFit, level: str, rates: np.ndarray, raw: tuple[float, float] | None
) -> Heterogeneity:
    """The sentence on whether the groups of one level differ, from its fitted prior."""
    detectable = fit.groups >= 2 and fit.p_value < ALPHA
    figures = (
        f"prior strength {_strength_words(fit.strength)}; likelihood-ratio test "
        f"p = {_p_words(fit.p_value)}"
    )
    raw_words = (
        f" Raw rates range from {raw[0]:.1%} to {raw[1]:.1%}, no more than chance would "
        "spread them;"
        + (
            f" the learned rates all equal the team's {rates.min():.1%}."
            if rates.min() == rates.max()
            else f" the learned rates stay within {rates.min():.1%} to {rates.max():.1%}."
        )
        if raw is not None and len(rates)
        else ""
    )
    if level == "rep":
        if fit.groups < 2:
            sentence = (
                "Only one rep has closed deals: there is nothing to compare reps with. "
                "Optimizing on win rates will not raise conversion; it still balances load "
                "and value."
            )
        elif not detectable:
            sentence = (
                f"No detectable difference between reps in this history ({figures})."
                f"{raw_words} Optimizing on win rates will not raise conversion; it still "
                "balances load and value."
            )
        else:
            sentence = (
                f"Reps differ: the spread (standard deviation) of their true win rates is "
                f"about {fit.spread * 100:.1f} points around {fit.mean:.1%} ({figures}); the "
                f"learned rates range from {rates.min():.1%} to {rates.max():.1%}."
            )
    else:
        segment = level.split(" x ", 1)[1]
        if fit.groups < 2 or not detectable:
            sentence = (
                f"No detectable difference between a rep's {segment} values beyond the rep's "
                f"own rate ({figures}): the {segment} rates equal the rep's rate"
                + ("." if math.isinf(fit.strength) else " up to a small shrunk adjustment.")
            )
        else:
            sentence = (
                f"Reps' win rates differ by {segment}: around their rep's rate the cells' true "
                f"rates spread about {fit.spread * 100:.1f} points ({figures}); the learned "
                f"rates range from {rates.min():.1%} to {rates.max():.1%}."
            )
    return Heterogeneity(
        level, detectable, fit.strength, fit.p_value, fit.spread, fit.groups, sentence
    )


def _raw_range(won: np.ndarray, n: np.ndarray) -> tuple[float, float] | None:
    seen = n > 0
    if seen.sum() < 2:
        return None
    r = won[seen] / n[seen]
    return float(r.min()), float(r.max())


# -- learn ------------------------------------------------------------------------------------


def learn(deals: Deals, options: LearnOptions | None = None) -> Learned:
    """Learn rates, cycle days and capacities from ``deals`` (see the module doc). Raises
    InputError naming the history when the options leave nothing to learn from."""
    options = options or LearnOptions()
    column = options.segment
    where = deals.source.name
    if column is not None and column not in deals.segments:
        have = ", ".join(sorted(deals.segments)) or "none"
        raise InputError(
            f"--segment {column}: the history has no such column (its segment columns: {have})",
            source=where,
            column=column,
        )
    train = training_deals(deals, options.as_of)
    if len(train) == 0:
        closed = deals.closed[deals.is_closed]
        first = str(closed.min()) if len(closed) else None
        why = (
            f"--as-of {options.as_of}: no deal closed before it (the first closed on {first})"
            if options.as_of is not None and first
            else "the history has no closed (won or lost) deal"
        )
        raise InputError(f"nothing to learn from: {why}", source=where)
    segment = train.segment(column) if column else None
    model = fit_rates(train.rep, train.won, train.cycle_days, segment)

    reps = model.reps
    codes = np.searchsorted(reps, train.rep)
    n_rep = np.bincount(codes, minlength=len(reps))
    w_rep = np.bincount(codes, weights=train.won, minlength=len(reps)).astype(np.int64)
    dated = ~np.isnat(deals.created)
    if options.as_of is not None:
        dated &= deals.created < options.as_of
    capacity = throughput(deals.rep[dated], deals.created[dated], reps, options.period_days)
    table = pd.DataFrame(
        {
            "rep_id": reps,
            "win_rate": [sig(float(v)) for v in model.rep_rate],
            "deals": n_rep.astype(np.int64),
            "won": w_rep,
            "cycle_days": [sig(float(v)) for v in model.rep_cycle],
            "capacity": capacity,
        }
    )
    affinity = None
    levels = [
        heterogeneity(
            model.rep_fit,
            "rep",
            model.rep_rate,
            _raw_range(w_rep.astype(float), n_rep.astype(float)),
        )
    ]
    if column is not None:
        split = np.char.partition(model.cells.astype(str), "\x1f")
        affinity = pd.DataFrame(
            {
                "rep_id": split[:, 0] if len(model.cells) else np.array([], dtype=str),
                column: split[:, 2] if len(model.cells) else np.array([], dtype=str),
                "win_rate": [sig(float(v)) for v in model.cell_rate],
            }
        )
        if model.cell_fit is not None:
            levels.append(heterogeneity(model.cell_fit, f"rep x {column}", model.cell_rate, None))
    warnings = []
    if column is not None and model.cell_fit is None:
        warnings.append(f"every closed deal has an empty {column}: no {column} rates learned")
    return Learned(
        options=options,
        training=train,
        model=model,
        reps=table,
        affinity=affinity,
        check=held_out_check(train, options),
        heterogeneity=levels,
        capacity_statistic=capacity_statistic(options.period_days),
        history_deals=len(deals),
        warnings=warnings,
    )


# -- learn.json -------------------------------------------------------------------------------


def _number(value: float) -> float | None:
    """A JSON number: inf and NaN become null (JSON has neither)."""
    return sig(value) if math.isfinite(value) else None


def _beta(fit: BetaFit | None) -> dict[str, Any] | None:
    if fit is None:
        return None
    return {
        "prior_mean": _number(fit.mean),
        "prior_strength": _number(fit.strength),
        "prior_strength_words": _strength_words(fit.strength)
        + (
            " (no detectable difference: every group gets its prior mean)"
            if math.isinf(fit.strength)
            else ""
        ),
        "prior_spread": _number(fit.spread),
        "p_value": _number(fit.p_value),
        "groups": fit.groups,
    }


def _frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            str(k): (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in row.items()
        }
        for row in frame.astype(object).to_dict("records")
    ]


def _summary(learned: Learned) -> dict[str, Any]:
    model, options, train = learned.model, learned.options, learned.training
    cycle = {
        "rep": None
        if model.rep_cycle_fit is None
        else {
            "prior_mean": _number(model.rep_cycle_fit.mean),
            "between_sd": _number(math.sqrt(model.rep_cycle_fit.between_var)),
            "within_sd": _number(math.sqrt(model.rep_cycle_fit.within_var)),
        },
        "cell": None
        if model.cell_cycle_fit is None
        else {
            "prior_mean": 0.0,
            "between_sd": _number(math.sqrt(model.cell_cycle_fit.between_var)),
            "within_sd": _number(math.sqrt(model.cell_cycle_fit.within_var)),
        },
    }
    check: dict[str, Any] | None = None
    if learned.check is not None:
        c = learned.check
        check = {
            "split": f"fit on the deals closed before {c.split_date}; scored on the "
            f"{c.validation_deals:,} closed on or after it (the latest "
            f"{options.validation_share:.0%} of the training deals by close date)",
            "split_date": c.split_date,
            "fit_deals": c.fit_deals,
            "validation_deals": c.validation_deals,
            "validation_won": c.validation_won,
            "predictors": {
                "base": "the team's win rate over the fit deals",
                "raw": "raw won/deals of the rep x segment cell, else of the rep, else the "
                "team; clipped to [1/(2n), 1 - 1/(2n)] of its n (a raw 0 or 1 would have "
                "an infinite log loss)",
                "learned": "the shrunk rates learn writes, fitted on the fit deals",
            },
            "scores": {k: vars(v) for k, v in c.scores.items()},
            "differences": [vars(d) for d in c.differences],
            "interval": f"bootstrap 95% percentile interval, {c.bootstrap} replicates "
            f"resampling validation deals with replacement, seed {c.seed}",
            "reliability": {k: _frame_records(v) for k, v in c.reliability.items()},
        }
    warnings = list(learned.warnings)
    if learned.check is None:
        warnings.append(
            f"too few closed deals for the held-out check (at least {MIN_VALIDATION} on each "
            "side of the split are needed)"
        )
    return {
        "method": "empirical-Bayes shrinkage: hierarchical beta-binomial (rep toward the team, "
        "rep x segment toward the rep), prior strengths by maximum marginal likelihood; cycle "
        "days of won deals by the normal-normal model (see docs/history.md)",
        "segment": options.segment,
        "as_of": None if options.as_of is None else str(options.as_of),
        "deals": {
            "history": learned.history_deals,
            "training": len(train),
            "won": int(train.won.sum()),
            "reps": len(model.reps),
            "first_closed": str(train.closed.min()),
            "last_closed": str(train.closed.max()),
        },
        "team": {
            "pooled_rate": _number(model.pooled_rate),
            "rate": _number(model.team_rate),
            "cycle_days": _number(model.team_cycle),
        },
        "rates": {"rep": _beta(model.rep_fit), "cell": _beta(model.cell_fit)},
        "cycle_days": cycle,
        "heterogeneity": [
            {
                "level": h.level,
                "detectable": h.detectable,
                "alpha": ALPHA,
                "prior_strength": _number(h.strength),
                "p_value": _number(h.p_value),
                "prior_spread": _number(h.spread),
                "groups": h.groups,
                "sentence": h.sentence,
            }
            for h in learned.heterogeneity
        ],
        "capacity": {"statistic": learned.capacity_statistic, "period_days": options.period_days},
        "held_out": check,
        "warnings": warnings,
    }


__all__ = [
    "ALPHA",
    "HeldOut",
    "Heterogeneity",
    "LearnOptions",
    "Learned",
    "capacity_statistic",
    "held_out_check",
    "learn",
    "raw_rates",
    "reliability",
    "sig",
    "throughput",
    "training_deals",
]
