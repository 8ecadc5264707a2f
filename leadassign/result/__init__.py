"""What a solve returns: :class:`Result` and its tables."""

from leadassign.result.result import NoSolutionError, Result, Status

__all__ = ["NoSolutionError", "Result", "Status"]
