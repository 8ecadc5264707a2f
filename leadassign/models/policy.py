"""The policy file (DESIGN.md §2): YAML validated into frozen pydantic models.

Unknown keys are errors that name the key (a typo must never silently disable a rule).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from leadassign.errors import InputError
from leadassign.models.columns import MAX_COUNT, MAX_NUMBER
from leadassign.models.yaml12 import YamlRefused, load_yaml

Method = Literal["auto", "flow", "cpsat"]
#: The widest fairness band: 1000 is +-100,000% of the share, already no band at all.
MAX_BAND = 1000.0
#: The longest time limit (about 115 days): any longer is a typo, and overflows timers.
MAX_TIME_LIMIT_S = 1e7


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Keys added since the policy's dumps were first recorded (summary.json, run history),
    #: with their defaults: left out of a dump while at the default, so that a policy
    #: without them dumps, and hashes, as it always did.
    LATER: ClassVar[dict[str, Any]] = {}

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for key, default in self.LATER.items():
                if key in data and data[key] == default:
                    del data[key]
        return data


class ValuePolicy(_Block):
    """Lead value computed from weighted numeric lead columns instead of the ``value`` column."""

    weights: dict[str, float] = Field(
        description="column name -> weight; value = sum(weight * column)", min_length=1
    )

    @field_validator("weights")
    @classmethod
    def _finite(cls, weights: dict[str, float]) -> dict[str, float]:
        for name, weight in weights.items():
            if not math.isfinite(weight):
                raise ValueError(f"weight of '{name}' must be a finite number")
            if abs(weight) > MAX_NUMBER:
                raise ValueError(
                    f"weight of '{name}' must be at most {int(MAX_NUMBER):,} in absolute value"
                )
            if name.strip() == "":
                raise ValueError("a column name is empty")
        return weights


Mode = Literal["hard", "soft"]


class Tier(_Block):
    """Leads of value >= ``min_value`` only to reps of level >= ``min_level``."""

    min_value: float = Field(
        ge=0, le=MAX_NUMBER, allow_inf_nan=False, description="lead value threshold"
    )
    min_level: int = Field(
        ge=1, le=MAX_COUNT, description="lowest rep level allowed for such leads"
    )


#: Fairness on ``value`` or a lead column is decided on each lead's amount rounded to this
#: fraction of the largest one (exactly, when amounts have at most 6 decimals).
BAND_RESOLUTION = 1e-6


def band_tolerance(metric: str, largest: float, leads: int, total: float) -> float:
    """How far outside its hard band a rep's ``m_j`` may lie in floats, for a group of
    ``leads`` assigned leads summing to ``total``, the largest lead amount ``largest``: 1e-9
    of the total (float noise), plus for value and column metrics the rounding of each lead's
    amount (``BAND_RESOLUTION`` of the largest, per lead). The solver keeps the band exactly
    on the rounded amounts; the checker (``leadassign.check``) and summary.json accept a rep
    as inside its band, and an answer as OPTIMAL, within this tolerance and no further."""
    noise = 1e-9 * max(abs(total), 1.0)
    if metric == "count":
        return noise
    return BAND_RESOLUTION * largest * (leads + 1) + noise


class FairnessPolicy(_Block):
    """Each rep's count, value or lead column within ``band`` of its capacity-proportional
    share."""

    metric: str = Field(
        "count",
        min_length=1,
        description="count | value | the name of a numeric lead column (e.g. workload)",
    )
    band: float = Field(
        ge=0, le=MAX_BAND, allow_inf_nan=False, description="relative tolerance around the share"
    )
    within: str = Field(
        "all",
        min_length=1,
        max_length=200,
        description="all (one group), level, or any column of the reps table (manager, "
        "regional_office, team): each group's reps share its capacity",
    )
    mode: Mode = "hard"
    weight: float = Field(
        1.0, ge=0, le=MAX_NUMBER, allow_inf_nan=False, description="soft: value lost per unit"
    )

    @field_validator("band")
    @classmethod
    def _three_decimals(cls, band: float) -> float:
        if abs(round(band, 3) - band) > 1e-12:
            raise ValueError(f"band {band} has more than 3 decimals")
        return band


class ContinuityPolicy(_Block):
    """Limit how many owned leads change owner; optionally reward keeping owners."""

    max_reassign: float | None = Field(
        None, ge=0, le=1, description="share of owned leads that may change owner"
    )
    mode: Mode = "hard"
    weight: float = Field(
        1.0, ge=0, le=MAX_NUMBER, allow_inf_nan=False, description="soft: value per change"
    )
    keep_bonus: float = Field(
        0.0,
        ge=0,
        le=MAX_NUMBER,
        allow_inf_nan=False,
        description="value credited per lead kept by its owner",
    )

    measure: str | None = Field(
        None,
        min_length=1,
        description="a numeric lead column: max_reassign and keep_bonus count it instead of "
        "leads (e.g. workload moved)",
    )

    handover_after_days: float | None = Field(
        None,
        ge=0,
        le=MAX_NUMBER,
        allow_inf_nan=False,
        description="rebalance hands over the book of a rep away for longer than this many "
        "days from the run date (None: an away rep keeps the book)",
    )

    LATER: ClassVar[dict[str, Any]] = {"measure": None, "handover_after_days": None}

    def changes_allowed(self, owned: int) -> int | None:
        """floor(max_reassign * owned leads), read as a decimal; None without a limit."""
        if self.max_reassign is None:
            return None
        return math.floor(self.max_reassign * owned + 1e-9)


class SlaPolicy(_Block):
    """Owned leads untouched (``last_activity``, else ``first_contact``) for longer than
    ``untouched_hours`` at the run time go back into the pool, never to the same rep unless
    no other rep is eligible."""

    untouched_hours: float = Field(
        gt=0, le=MAX_NUMBER, allow_inf_nan=False, description="hours without activity"
    )


class AccountsPolicy(_Block):
    """``together``: all leads of one account_id go to one rep, or all stay unassigned."""

    together: bool = True


class AccountCapPolicy(_Block):
    """No rep receives more than ``max_per_rep`` leads of one account (a hard rule;
    ``compile/families/account_cap.py``)."""

    max_per_rep: int = Field(
        ge=1, le=MAX_COUNT, description="most leads of one account_id that one rep may receive"
    )


class SolverPolicy(_Block):
    """How to solve: limits, parallelism, seed, target gap, logging and the engine."""

    time_limit_s: float = Field(
        60.0, gt=0, le=MAX_TIME_LIMIT_S, description="wall-clock limit of the solve"
    )
    work_limit: float = Field(
        20.0,
        gt=0,
        le=1e6,
        allow_inf_nan=False,
        description="deterministic work limit (CP-SAT deterministic seconds; same answer on "
        "any machine while the time limit does not cut first)",
    )
    workers: int = Field(
        1, ge=1, le=64, description="CP-SAT search workers (more than 1: interleaved search)"
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="random seed; same seed, same answer")
    relative_gap: float = Field(
        0.0, ge=0, lt=1, description="stop CP-SAT once within this relative gap of the bound"
    )
    log: bool = Field(False, description="print the CP-SAT search log on stderr")
    method: Method = Field(
        "auto",
        description="auto: exact min-cost flow when the problem is a network, else HiGHS' "
        "MIP then CP-SAT; cpsat: CP-SAT only",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="raw CP-SAT parameters (SatParameters field names)"
    )

    @field_validator("params")
    @classmethod
    def _known_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        from ortools.sat import sat_parameters_pb2

        fields = sat_parameters_pb2.SatParameters.DESCRIPTOR.fields_by_name
        for name, value in params.items():
            if name not in fields:
                raise ValueError(f"unknown CP-SAT parameter '{name}'")
            try:
                sat_parameters_pb2.SatParameters(**{name: value})
            except (TypeError, ValueError) as exc:
                raise ValueError(f"bad value for CP-SAT parameter '{name}': {exc}") from exc
        return params


class IntakePolicy(_Block):
    """route: how many routed leads a rep may receive per calendar day and per ISO week."""

    per_day: int | None = Field(default=None, ge=0, description="routed leads per rep per day")
    per_week: int | None = Field(
        default=None, ge=0, description="routed leads per rep per ISO week (Monday to Sunday)"
    )


class WorkingHoursPolicy(_Block):
    """route: reps on shift at --at (rep columns timezone and hours) are preferred (soft:
    ``weight`` added to the value of routing a lead to a rep on shift) or the only ones
    routed to (hard)."""

    mode: Literal["soft", "hard"] = "soft"
    weight: float = Field(
        default=1.0,
        ge=0,
        le=MAX_NUMBER,
        allow_inf_nan=False,
        description="value bonus for a rep on shift (soft)",
    )


class Policy(_Block):
    """Every block is optional; an empty policy solves the default objective (DESIGN §2)."""

    value: ValuePolicy | None = None
    tiers: tuple[Tier, ...] = ()
    fairness: FairnessPolicy | None = None
    continuity: ContinuityPolicy | None = None
    accounts: AccountsPolicy | None = None
    account_cap: AccountCapPolicy | None = None
    assign_all: bool = Field(
        default=False,
        description="every lead must be assigned (a hard rule: INFEASIBLE otherwise)",
    )
    solver: SolverPolicy = Field(default_factory=lambda: SolverPolicy.model_validate({}))
    sla: SlaPolicy | None = None
    intake: IntakePolicy | None = None
    working_hours: WorkingHoursPolicy | None = None

    LATER: ClassVar[dict[str, Any]] = {
        "account_cap": None,
        "assign_all": False,
        "sla": None,
        "intake": None,
        "working_hours": None,
    }

    @model_validator(mode="after")
    def _cap_apart_from_together(self) -> Policy:
        if self.account_cap is not None and self.accounts_together:
            raise ValueError(
                "account_cap cannot be combined with accounts.together: together gives all "
                "leads of an account to one rep, which the cap forbids for any account of "
                "more than max_per_rep leads (set accounts.together: false, or drop account_cap)"
            )
        return self

    @property
    def accounts_together(self) -> bool:
        return self.accounts is not None and self.accounts.together

    @property
    def hard_fairness(self) -> FairnessPolicy | None:
        return self.fairness if self.fairness is not None and self.fairness.mode == "hard" else None

    def with_solver(self, **changes: Any) -> Policy:
        """A copy with some solver settings changed (None leaves a setting as it is),
        re-validated."""
        data = self.model_dump()
        data["solver"].update({k: v for k, v in changes.items() if v is not None})
        try:
            return Policy.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            setting = ".".join(str(part) for part in first["loc"][1:])
            message = first["msg"].removeprefix("Value error, ")
            raise InputError(
                f"solver setting '{setting}' = {first['input']!r}: {message}",
                source="solver settings",
            ) from exc


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return f"unknown key '{location}'"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if location:
        return f"key '{location}': {message}"
    return message


def policy_from_mapping(data: Any, source: str = "policy") -> Policy:
    """Validate a parsed policy document; errors name the offending key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(
            "the policy must be a mapping of blocks (value, solver, ...)", source=source
        )
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = exc.error_count() - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise InputError(_describe(dict(first)) + suffix, source=source) from exc


def read_yaml(path: str | Path) -> Any:
    """The parsed YAML document of a file, by the YAML 1.2 core schema (``yaml12``);
    InputError (naming the file, and the line when the parser knows it) when it is missing,
    not UTF-8 text, not valid YAML, names a key twice or is too deep or too large."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", source=str(path))
    if not path.is_file():
        raise InputError("not a file", source=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("not a UTF-8 YAML text file", source=str(path)) from exc
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", source=str(path)) from exc
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or "not valid YAML"
        message = problem if isinstance(exc, YamlRefused) else f"not valid YAML: {problem}"
        raise InputError(message, source=str(path), where=where) from exc


def load_policy(path: str | Path | None) -> Policy:
    """Read and validate a YAML policy file; ``None`` gives the default policy."""
    if path is None:
        return Policy()
    return policy_from_mapping(read_yaml(path), source=str(path))
