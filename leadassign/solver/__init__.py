"""Eligibility, the exact flow and CP-SAT engines, and the Result they produce."""

from leadassign.solver.candidates import Candidates, build_candidates
from leadassign.solver.result import NoSolutionError, Result, Status
from leadassign.solver.solve import solve

__all__ = ["Candidates", "NoSolutionError", "Result", "Status", "build_candidates", "solve"]
