"""A solve's status, with CP-SAT's meanings kept apart."""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    """CP-SAT's statuses, kept apart: UNKNOWN (no solution yet) is not INFEASIBLE."""

    OPTIMAL = "OPTIMAL"  # proven: the objective equals the bound
    FEASIBLE = "FEASIBLE"  # a solution, not proven optimal (time limit or relative gap)
    INFEASIBLE = "INFEASIBLE"  # proven: no assignment satisfies the hard rules
    UNKNOWN = "UNKNOWN"  # no solution found within the time limit, nothing proven
    MODEL_INVALID = "MODEL_INVALID"  # the model was rejected: a bug, please report it

    @property
    def has_solution(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)


class NoSolutionError(RuntimeError):
    """Asked for an assignment of a result that has none (INFEASIBLE, UNKNOWN, ...)."""


__all__ = ["NoSolutionError", "Status"]
