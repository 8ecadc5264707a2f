"""The hierarchical rate model: win rate and cycle time per rep, and per rep x segment.

Two levels of empirical-Bayes shrinkage (:mod:`~.shrinkage`), fitted on closed deals:

1. rep toward the team: each rep's wins of closed deals, with a beta prior around the
   team's rate whose strength is fitted to the reps' counts;
2. rep x segment toward the rep: each (rep, segment value) cell's wins, with a beta prior
   around *its rep's* shrunk rate and one strength fitted to all cells' counts.

An empty segment cell pools into the rep's rate (it belongs to no cell). A rep the history
has not seen gets the team's rate (``team_rate``: the fitted mean of the reps' true rates,
which is what a new rep is expected to convert at; it equals the pooled rate ``won / deals``
when reps do not differ detectably); a (rep, segment) cell it has not seen gets the rep's
rate. When every closed deal was won (or every one lost) the pooled rate is 0 or 1 and
nothing can be fitted: the team's rate is then the Jeffreys estimate ``(won + 1/2) / (deals +
1)``, so that no rate written is 0% or 100%.

Cycle time (days from created to closed, of won deals) is shrunk the same way with the
normal-normal model: rep means toward the team mean, then cell means of the residuals
(a deal's days minus its rep's shrunk mean) toward 0, the between-cell variance fitted with
the mean held at 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from leadassign.outcomes.shrinkage import BetaFit, NormalFit, fit_beta, fit_normal


@dataclass(frozen=True)
class RateModel:
    """Shrunk win rates and cycle days, queryable for any (rep, segment) pair."""

    reps: np.ndarray  # str, sorted: the reps with at least one closed deal
    rep_rate: np.ndarray  # per rep in ``reps``
    rep_cycle: np.ndarray  # per rep in ``reps`` (days)
    cells: np.ndarray  # str keys 'rep\x1fsegment', sorted; empty without a segment
    cell_rate: np.ndarray
    cell_cycle: np.ndarray
    team_rate: float
    team_cycle: float
    rep_fit: BetaFit
    cell_fit: BetaFit | None
    rep_cycle_fit: NormalFit | None
    cell_cycle_fit: NormalFit | None
    pooled_rate: float = float("nan")  # won / closed deals of the whole history fitted

    def _lookup(
        self, rep: np.ndarray, segment: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Index into reps/cells for each pair and whether it is there."""
        rep = np.asarray(rep, dtype=str)
        r = np.searchsorted(self.reps, rep)
        r = np.minimum(r, max(len(self.reps) - 1, 0))
        rep_known = (self.reps[r] == rep) if len(self.reps) else np.zeros(len(rep), bool)
        if segment is None or len(self.cells) == 0:
            none = np.zeros(len(rep), dtype=np.int64)
            return r, rep_known, none, np.zeros(len(rep), dtype=bool)
        keys = np.char.add(np.char.add(rep, "\x1f"), np.asarray(segment, dtype=str))
        c = np.minimum(np.searchsorted(self.cells, keys), len(self.cells) - 1)
        cell_known = (self.cells[c] == keys) & (np.asarray(segment, dtype=str) != "")
        return r, rep_known, c, cell_known

    def win_rate(self, rep: np.ndarray, segment: np.ndarray | None = None) -> np.ndarray:
        """The shrunk win rate of each (rep, segment) pair (arrays of equal length)."""
        r, rep_known, c, cell_known = self._lookup(rep, segment)
        out = np.where(rep_known, self.rep_rate[r] if len(self.reps) else 0.0, self.team_rate)
        if cell_known.any():
            out = np.where(cell_known, self.cell_rate[c], out)
        return np.asarray(out, dtype=np.float64)

    def cycle_days(self, rep: np.ndarray, segment: np.ndarray | None = None) -> np.ndarray:
        """The shrunk mean cycle days (of won deals) of each (rep, segment) pair."""
        r, rep_known, c, cell_known = self._lookup(rep, segment)
        out = np.where(rep_known, self.rep_cycle[r] if len(self.reps) else 0.0, self.team_cycle)
        if cell_known.any():
            out = np.where(cell_known, self.cell_cycle[c], out)
        return np.asarray(out, dtype=np.float64)


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys, codes = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return keys, codes.astype(np.int64)


def _cycle_level(
    days: np.ndarray, codes: np.ndarray, groups: int, fallback: float, mean: float | None = None
) -> tuple[np.ndarray, NormalFit | None]:
    """Shrunk mean days per group (``fallback`` everywhere when no won deal has a cycle);
    ``mean`` fixes the prior mean (else it is fitted)."""
    if len(days) == 0:
        return np.full(groups, fallback), None
    fit = fit_normal(days, codes, groups, mean)
    n = np.bincount(codes, minlength=groups).astype(np.float64)
    sums = np.bincount(codes, weights=days, minlength=groups)
    means = np.divide(sums, n, out=np.zeros(groups), where=n > 0)
    return fit.posterior(means, n), fit


def fit_rates(
    rep: np.ndarray,
    won: np.ndarray,
    cycle_days: np.ndarray,
    segment: np.ndarray | None = None,
) -> RateModel:
    """Fit the model to closed deals: their ``rep``, whether each was ``won``, its cycle in
    days (used where won and finite) and optionally its ``segment`` value ('' = none)."""
    rep = np.asarray(rep, dtype=str)
    won = np.asarray(won, dtype=bool)
    if len(rep) == 0:
        raise ValueError("no closed deals to learn from")
    reps, rc = _codes(rep)
    m = len(reps)
    n_rep = np.bincount(rc, minlength=m).astype(np.float64)
    w_rep = np.bincount(rc, weights=won, minlength=m)
    rep_fit = fit_beta(w_rep, n_rep)
    pooled_rate = float(w_rep.sum() / n_rep.sum())
    team_rate = rep_fit.mean
    if pooled_rate in (0.0, 1.0):  # every deal won, or every one lost: Jeffreys
        team_rate = float((w_rep.sum() + 0.5) / (n_rep.sum() + 1.0))
        rep_fit = replace(rep_fit, mean=team_rate)
    rep_rate = rep_fit.posterior(w_rep, n_rep, np.full(m, rep_fit.mean))

    has_cycle = won & np.isfinite(cycle_days)
    days = np.asarray(cycle_days, dtype=np.float64)[has_cycle]
    team_cycle = float(days.mean()) if len(days) else float("nan")
    rep_cycle, rep_cycle_fit = _cycle_level(days, rc[has_cycle], m, team_cycle)
    if rep_cycle_fit is not None:
        team_cycle = rep_cycle_fit.mean

    cells = np.array([], dtype=str)
    cell_rate = cell_cycle = np.array([], dtype=np.float64)
    cell_fit: BetaFit | None = None
    cell_cycle_fit: NormalFit | None = None
    if segment is not None:
        segment = np.asarray(segment, dtype=str)
        in_cell = segment != ""
        if in_cell.any():
            keys = np.char.add(np.char.add(rep[in_cell], "\x1f"), segment[in_cell])
            cells, cc = _codes(keys)
            k = len(cells)
            n_cell = np.bincount(cc, minlength=k).astype(np.float64)
            w_cell = np.bincount(cc, weights=won[in_cell], minlength=k)
            cell_rep = np.zeros(k, dtype=np.int64)
            cell_rep[cc] = rc[in_cell]
            prior = rep_rate[cell_rep]
            cell_fit = fit_beta(w_cell, n_cell, prior)
            cell_rate = cell_fit.posterior(w_cell, n_cell, prior)
            cyc = has_cycle[in_cell]
            days_in = np.asarray(cycle_days, dtype=np.float64)[in_cell][cyc]
            resid = days_in - rep_cycle[rc[in_cell][cyc]]
            # residuals shrink toward 0 (the rep's own mean), not toward their mean
            shift, cell_cycle_fit = _cycle_level(resid, cc[cyc], k, 0.0, mean=0.0)
            cell_cycle = rep_cycle[cell_rep] + shift
    return RateModel(
        reps=reps,
        rep_rate=rep_rate,
        rep_cycle=rep_cycle,
        cells=cells,
        cell_rate=cell_rate,
        cell_cycle=cell_cycle,
        team_rate=team_rate,
        team_cycle=team_cycle,
        rep_fit=rep_fit,
        cell_fit=cell_fit,
        rep_cycle_fit=rep_cycle_fit,
        cell_cycle_fit=cell_cycle_fit,
        pooled_rate=pooled_rate,
    )


__all__ = ["RateModel", "fit_rates"]
