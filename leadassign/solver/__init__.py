"""Eligibility, the exact flow, LP, MIP and CP-SAT engines, and the Result they produce."""

from leadassign.solver.candidates import Candidates, build_candidates
from leadassign.solver.result import NoSolutionError, Result, Status

__all__ = [
    "Candidates",
    "NoSolutionError",
    "Result",
    "Status",
    "build_candidates",
]
