"""The one place where float values become the integers the solvers work with.

CP-SAT and the min-cost flow need integer coefficients. Expected values are scaled so that the
largest magnitude becomes :data:`VALUE_RESOLUTION` units, then rounded; the scale shrinks when
needed so that any objective value (a sum of at most one value per lead) stays below
:data:`OBJECTIVE_LIMIT` and is exact in a float64. Reported objectives are recomputed from the
float values, never read back from the integers.

Rounding moves each pair's value by at most half a unit, i.e. ``0.5 / scale``; an assignment
proven optimal in integers is therefore optimal in floats to within
``n_assigned / scale`` in total: about 1e-9 of the largest value per lead by default.

A caller may ask for a coarser scale (``scale_values(..., scale=...)``, never finer than the
default): ``prepare`` does so for a value-0 book whose whole objective is continuity's keep
bonus counted in a measure column (the disruption of a territory realignment), up to
``prepare.MEASURED_MAX_PAIRS`` pairs. Its units are then the column's own integer units
(``continuity.measure_units``: exact for amounts with at most 6 decimals, else 1e-6 of the
largest amount), the units the band and ``max_reassign`` on that column are already held in;
``n_assigned / scale`` is then 1e-6 of ``keep_bonus`` times the largest amount per lead (and
the rounding itself nil when the amounts have at most 6 decimals). At 1e9 units an exact
proof asked 2e-11 of the objective, finer than the column itself is held and beyond what the
exact stages prove in the time (benchmarks/RESULTS.md sections 9b and 9c).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadassign.compile.candidates import lead_starts
from leadassign.compile.pairs import INT_MAX
from leadassign.errors import InputError

#: The largest |expected value| of any pair is scaled to this many integer units.
VALUE_RESOLUTION = 10**9
#: Bound on the largest possible |objective| in integer units (exact in float64).
OBJECTIVE_LIMIT = 2**53
#: The largest scale used, so that the scale and ``units / scale`` stay finite floats.
MAX_SCALE = 1e300


@dataclass(frozen=True, eq=False)
class ScaledValues:
    """Integer pair values and the scale that made them (integer units per unit of value)."""

    units: np.ndarray  # int64, one per pair
    scale: float

    def to_value(self, units: int | float) -> float:
        return float(units) / self.scale


def per_lead_max(
    values: np.ndarray, lead: np.ndarray, n_leads: int, empty: int | float = 0
) -> np.ndarray:
    """The largest of each lead's ``values`` (``empty`` for a lead without any; it must be
    at most every value: 0 for non-negative ones): one ``reduceat`` when the items are
    sorted by lead, as candidate pairs are."""
    out = np.full(n_leads, empty, dtype=values.dtype)
    if not len(lead):
        return out
    if np.all(lead[1:] >= lead[:-1]):
        starts = lead_starts(lead)
        out[lead[starts]] = np.maximum.reduceat(values, starts)
    else:
        np.maximum.at(out, lead, values)
    return out


def scale_values(
    values: np.ndarray, lead: np.ndarray, n_leads: int, scale: float | None = None
) -> ScaledValues:
    """Scale pair ``values`` (pairs of lead ``lead``) to int64 units; see the module doc.
    ``scale``: a coarser scale asked for (units per unit of value; the default's is used
    when it is finer)."""
    magnitude = np.abs(values)
    largest = float(magnitude.max()) if len(values) else 0.0
    if largest == 0.0:
        return ScaledValues(np.zeros(len(values), dtype=np.int64), 1.0)
    # Values so small that the scale would overflow (below ~1e-291) get the largest finite
    # scale: they then round to few or zero units, and the count still decides.
    finest = min(VALUE_RESOLUTION / largest, MAX_SCALE)
    scale = finest if scale is None or not 0 < scale < finest else scale
    lead_max = per_lead_max(magnitude, lead, n_leads)
    worst_total = float(lead_max.sum()) * scale
    if worst_total > OBJECTIVE_LIMIT / 2:
        scale *= (OBJECTIVE_LIMIT / 2) / worst_total
    scaled = np.multiply(values, scale, out=magnitude)  # the magnitudes are done with
    units = np.rint(scaled, out=scaled).astype(np.int64)
    # rounding and a positive scale keep the order of magnitudes, so the largest |units| of
    # each lead is its largest magnitude's, rounded: the guard needs no pass over the pairs
    if np.rint(largest * scale) > VALUE_RESOLUTION or (
        np.rint(lead_max * scale).astype(np.int64).sum() > OBJECTIVE_LIMIT
    ):
        raise OverflowError("scaled values out of range")  # cannot happen; a guard
    return ScaledValues(units, scale)


def penalty_units(weight: float, per_unit: float, largest: int, rule: str) -> int:
    """A soft rule's weight in objective units per unit of excess; InputError when it would
    push the objective past the model's integers."""
    penalty = round(weight * per_unit)
    if penalty * max(largest, 1) > INT_MAX // 4:
        raise InputError(f"{rule}.weight {weight:g} is too large for the model's integers")
    return penalty
