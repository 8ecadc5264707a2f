"""The solver-neutral problem every engine takes: the eligible pairs as index arrays
(:class:`Pairs`) and one small spec per side rule (:class:`Fairness`, :class:`Continuity`,
together :class:`SideRules`), each with its own checker (``excess``, ``feasible``, ``score``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Pairs:
    """The usable pairs handed to a solver: index arrays sorted by unit, then rep.

    A *unit* is what one variable assigns: a lead, or all leads of an account kept together
    (``size`` leads, ``effort`` their summed effort, ``units`` their summed value units).
    """

    unit: np.ndarray
    rep: np.ndarray
    effort: np.ndarray
    units: np.ndarray  # scaled integer value of each pair (the value score's units)
    capacity: np.ndarray  # per rep, in effort units
    min_leads: np.ndarray  # per rep (0 for reps on leave)
    size: np.ndarray  # leads per pair (1 unless accounts are kept together)

    def __len__(self) -> int:
        return len(self.unit)


INT_MAX = 2**62
