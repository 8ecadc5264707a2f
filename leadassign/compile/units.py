"""Units: what one model variable assigns (a lead, or a whole account kept together),
and how the lead-level candidate pairs map onto the unit pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadassign.compile.candidates import Candidates
from leadassign.compile.pairs import Pairs


@dataclass(frozen=True, eq=False)
class Units:
    """The model's pairs over units, and how lead-level candidate pairs map onto them."""

    pairs: Pairs
    #: per candidate pair: index of its unit pair, -1 when unusable (effort above capacity)
    var: np.ndarray
    #: per candidate pair: scaled value units (expected value plus keep bonus)
    lead_units: np.ndarray
    #: per candidate pair: effort of its whole unit with that rep (the account's summed effort)
    unit_effort: np.ndarray

    @property
    def usable(self) -> np.ndarray:
        """Candidate pairs that some model variable represents."""
        return np.flatnonzero(self.var >= 0)

    def lead_choice(self, chosen: np.ndarray) -> np.ndarray:
        """Unit-pair choice -> candidate-pair choice."""
        out = np.zeros(len(self.var), dtype=bool)
        usable = self.var >= 0
        out[usable] = chosen[self.var[usable]]
        return out

    def unit_choice(self, lead_chosen: np.ndarray) -> np.ndarray:
        """Candidate-pair choice -> unit pairs all of whose leads are chosen with that rep."""
        usable = self.var >= 0
        hits = np.bincount(self.var[usable & lead_chosen], minlength=len(self.pairs)).astype(
            np.int64
        )
        out: np.ndarray = hits == self.pairs.size
        return out


def _all_fit(effort: np.ndarray, rep: np.ndarray, capacity: np.ndarray) -> bool:
    """Every pair's effort is within its rep's capacity (one comparison when the largest
    effort is within the smallest capacity, the common case)."""
    if not len(effort) or int(effort.max()) <= int(capacity.min()):
        return True
    return bool(np.all(effort <= capacity[rep]))


def build_units(
    cands: Candidates,
    lead_units: np.ndarray,
    groups: np.ndarray,
    capacity: np.ndarray,
    min_leads: np.ndarray,
) -> Units:
    """Merge each account's pairs with one rep into one unit pair (summed effort, value and
    size); drop unit pairs whose effort exceeds the rep's capacity."""
    n, m = cands.n_leads, cands.n_reps
    unit_of_lead = np.arange(n, dtype=np.int64)
    if np.any(groups >= 0):
        first = np.full(int(groups.max()) + 1, n, dtype=np.int64)
        np.minimum.at(first, groups[groups >= 0], np.flatnonzero(groups >= 0))
        unit_of_lead = np.where(groups >= 0, first[np.maximum(groups, 0)], unit_of_lead)
    key = unit_of_lead[cands.lead] * max(m, 1) + cands.rep
    if np.all(key[1:] > key[:-1]):
        # No account merges two pairs (candidates are sorted by lead, then rep): each pair
        # is its own unit pair, and np.unique's sort would only confirm that.
        effort = cands.effort.astype(np.int64, copy=False)
        if _all_fit(effort, cands.rep, capacity):  # the common case: no drop, no copies
            var = np.arange(len(key), dtype=np.int64)
            pairs = Pairs(
                unit=cands.lead,
                rep=cands.rep,
                effort=effort,
                units=lead_units.astype(np.int64, copy=False),
                capacity=capacity,
                min_leads=min_leads,
                size=np.ones(len(key), dtype=np.int64),
            )
            return Units(pairs, var, lead_units, effort)
        keys, inverse = key, np.arange(len(key), dtype=np.int64)
        size = np.ones(len(key), dtype=np.int64)
        units = lead_units.astype(np.int64)
    else:
        keys, inverse = np.unique(key, return_inverse=True)
        k = len(keys)
        effort = np.bincount(inverse, weights=cands.effort, minlength=k).astype(np.int64)
        size = np.bincount(inverse, minlength=k).astype(np.int64)
        units = np.zeros(k, dtype=np.int64)
        np.add.at(units, inverse, lead_units)
    unit, rep = keys // max(m, 1), keys % max(m, 1)
    fits = effort <= capacity[rep]
    new_index = np.cumsum(fits) - 1
    var = np.where(fits[inverse], new_index[inverse], -1).astype(np.int64)
    pairs = Pairs(
        unit=unit[fits],
        rep=rep[fits],
        effort=effort[fits],
        units=units[fits],
        capacity=capacity,
        min_leads=min_leads,
        size=size[fits],
    )
    return Units(pairs, var, lead_units, effort[inverse])
