"""What a solve returns: :class:`Result` and its tables."""

from leadassign.result.result import Result, SharedRelaxation
from leadassign.result.status import NoSolutionError, Status

__all__ = ["NoSolutionError", "Result", "SharedRelaxation", "Status"]
