"""What-if scenarios: a base book and variants, solved and compared (README "What-if
scenarios")."""

from leadassign.scenarios.compare import Run, comparison, diff, run_all, write_comparison
from leadassign.scenarios.spec import BASE, Scenario, build, load_scenario

__all__ = [
    "BASE",
    "Run",
    "Scenario",
    "build",
    "comparison",
    "diff",
    "load_scenario",
    "run_all",
    "write_comparison",
]
