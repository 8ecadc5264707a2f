"""Eligibility, the exact flow and CP-SAT engines, and the Result they produce."""

from leadassign.solver.candidates import Candidates, build_candidates
from leadassign.solver.result import NoSolutionError, Result, Status
from leadassign.solver.solve import Start, solve

__all__ = [
    "Candidates",
    "NoSolutionError",
    "Result",
    "Start",
    "Status",
    "build_candidates",
    "solve",
]
