"""The inputs of a run: its tables and policy as paths, loaded and validated."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from leadassign.models import Policy, Problem, load_policy, load_problem


@dataclass(frozen=True)
class Inputs:
    """The tables and policy of a run, as paths."""

    leads: Path
    reps: Path
    affinity: Path | None = None
    pairs: Path | None = None
    pairs_mode: Literal["only", "override"] = "only"
    policy: Path | None = None

    @property
    def paths(self) -> list[Path | None]:
        """Every file the run reads (an output may never replace one)."""
        return [self.leads, self.reps, self.affinity, self.pairs, self.policy]


def load(inputs: Inputs, solver: dict[str, Any] | None = None) -> tuple[Problem, Policy]:
    """The validated problem and policy (solver settings overridden by ``solver``)."""
    policy = load_policy(inputs.policy).with_solver(**(solver or {}))
    problem = load_problem(
        inputs.leads,
        inputs.reps,
        inputs.affinity,
        inputs.pairs,
        pairs_mode=inputs.pairs_mode,
        policy=policy,
    )
    return problem, policy
