"""Solving: ``solve(problem, policy) -> Result`` runs a pipeline of named stages (FLOW,
AUTO, CPSAT in ``pipeline.py``) that share one incumbent (``incumbent.py``) and one budget.

``leadassign.solve`` (the attribute) is the function, re-exported by ``leadassign``; reach
the modules with ``from leadassign.solve import pipeline`` or ``from leadassign.solve.pipeline
import ...`` (``import leadassign.solve.pipeline as m`` resolves the attribute and fails)."""

from leadassign.solve.pipeline import AUTO, CPSAT, FLOW, Pipeline, Stage, solve
from leadassign.solve.starts import Start

__all__ = ["AUTO", "CPSAT", "FLOW", "Pipeline", "Stage", "Start", "solve"]
