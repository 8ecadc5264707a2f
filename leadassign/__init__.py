"""leadassign: decide which sales rep owns which lead, optimally and provably.

>>> import leadassign
>>> problem = leadassign.load_problem("leads.csv", "reps.csv")   # doctest: +SKIP
>>> result = leadassign.solve(problem)                           # doctest: +SKIP
>>> result.status, result.objective, result.gap                  # doctest: +SKIP
>>> result.assignments.head()                                    # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("leadassign")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from leadassign.baselines import run_baseline
from leadassign.errors import InputError, LeadassignError
from leadassign.models import Policy, Problem, load_policy, load_problem
from leadassign.result import NoSolutionError, Result, Status
from leadassign.solve import solve

__all__ = [
    "InputError",
    "LeadassignError",
    "NoSolutionError",
    "Policy",
    "Problem",
    "Result",
    "Status",
    "__version__",
    "load_policy",
    "load_problem",
    "run_baseline",
    "solve",
]
