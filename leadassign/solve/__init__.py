"""Solving: ``solve(problem, policy) -> Result`` runs a pipeline of named stages (FLOW,
AUTO, CPSAT in ``pipeline.py``) that share one incumbent (``incumbent.py``) and one budget."""

from leadassign.solve.pipeline import AUTO, CPSAT, FLOW, Pipeline, Stage, solve
from leadassign.solve.starts import Start

__all__ = ["AUTO", "CPSAT", "FLOW", "Pipeline", "Stage", "Start", "solve"]
