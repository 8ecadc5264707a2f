"""What the run date changes in a book (README "Between weekly runs"): time off, departures
and lead SLA, applied to a validated :class:`Problem` as one :class:`Operations`.

- A rep away on the run date (``away_on``) takes no new lead; the book stays with them
  unless the absence (the run date to its last day, both counted) lasts longer than
  ``continuity.handover_after_days``: then the rep takes nothing this run and the book is
  handed over (reason ``time_off_handover``).
- A rep leaving (``--rep-leaving``, or ``available: false`` with no return date in a book
  that gives dates) takes nothing: the book is handed over (reason ``rep_leaving``).
- An owned lead untouched for longer than ``sla.untouched_hours`` (``sla_expired``) goes
  back into the pool: its (lead, owner) pair is not a candidate unless it is the lead's
  only one (reason ``sla_release``).

Handed-over and released leads are forced moves: the owner may not keep them, so
``continuity.max_reassign`` does not count them (as for an owner on leave).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import numpy as np

from leadassign.errors import InputError
from leadassign.models.availability import back_on, days_away, sla_expired
from leadassign.models.clock import at_text, day_of
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem

REASON_SLA = "sla_release"
REASON_HANDOVER = "time_off_handover"
REASON_LEAVING = "rep_leaving"
#: Why a lead has no eligible rep when the run date took its last one.
WHY_AWAY = "every rep who could take it is away on the run date"


@dataclass(frozen=True, eq=False)
class Operations:
    """The run date's effect on a problem (``Problem.ops``)."""

    at: datetime
    closed: np.ndarray  # per rep: away on the run date, keeps the book, takes no new lead
    gone: np.ndarray  # per rep: '' or why the book is handed over (REASON_HANDOVER, _LEAVING)
    back: np.ndarray  # per rep: the last day away (ISO date), '' when none / open-ended
    released: np.ndarray  # per lead: SLA expired (owned, untouched too long)
    sla_hours: float | None = None
    leaving: tuple[str, ...] = ()

    @property
    def day(self) -> date:
        return day_of(self.at)

    def summary(self) -> dict[str, Any]:
        """summary.json ``operations`` (run time and what it changed, before solving)."""
        return {
            "at": at_text(self.at),
            "run_date": self.day.isoformat(),
            "reps_away_keeping_book": int(self.closed.sum()),
            "reps_handing_over": int((self.gone == REASON_HANDOVER).sum()),
            "reps_leaving": int((self.gone == REASON_LEAVING).sum()),
            "sla_untouched_hours": self.sla_hours,
            "sla_expired": int(self.released.sum()),
        }

    def key(self) -> str:
        """What a re-run must share (run_key): the masks this run date gives."""
        text = json.dumps(
            {
                "closed": np.flatnonzero(self.closed).tolist(),
                "gone": self.gone.tolist(),
                "back": self.back.tolist(),
                "released": np.flatnonzero(self.released).tolist(),
                "at": at_text(self.at) if self.sla_hours is not None else self.day.isoformat(),
            },
            sort_keys=True,
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def leaving_reps(problem: Problem, leaving: tuple[str, ...]) -> np.ndarray:
    """Per rep: named by ``--rep-leaving``; an unknown id is an InputError (exit 2)."""
    position = {str(r): j for j, r in enumerate(problem.reps.ids.tolist())}
    out = np.zeros(problem.n_reps, dtype=bool)
    for name in leaving:
        if name not in position:
            raise InputError(f"--rep-leaving {name!r} is not a rep_id of the reps table")
        out[position[name]] = True
    return out


def _gone(problem: Problem, policy: Policy, day: date, leaving: np.ndarray) -> np.ndarray:
    """Per rep: why their book is handed over this run ('' when it is not)."""
    reps = problem.reps
    c = policy.continuity
    after = c.handover_after_days if c is not None else None
    days = days_away(reps, day)
    away = days > 0
    gone = np.full(problem.n_reps, "", dtype=object)
    if after is not None:
        gone[reps.available & away & (days > after)] = REASON_HANDOVER
    if reps.time_off is not None:  # the book gives dates: available false is a departure
        gone[~reps.available] = np.where(
            np.isfinite(days[~reps.available]) & away[~reps.available],
            REASON_HANDOVER,
            REASON_LEAVING,
        )
    gone[leaving] = REASON_LEAVING
    return gone


def apply_operations(
    problem: Problem, policy: Policy, at: datetime, leaving: tuple[str, ...] = ()
) -> Problem:
    """``problem`` as of ``at``: reps handing over their book are made unavailable, reps away
    keeping their book lose their floor (``min_leads``) and take no new lead, owned leads
    past the SLA are released (``Problem.ops`` says which)."""
    day = day_of(at)
    reps = problem.reps
    gone = _gone(problem, policy, day, leaving_reps(problem, leaving))
    back = back_on(reps, day)
    closed = (days_away(reps, day) > 0) & reps.available & (gone == "")
    hours = policy.sla.untouched_hours if policy.sla is not None else None
    released = (
        sla_expired(problem.leads, at, hours)
        if hours is not None
        else np.zeros(problem.n_leads, dtype=bool)
    )
    available = reps.available & (gone == "")
    new_reps = replace(
        reps,
        available=available,
        min_leads=np.where(closed | ~available, 0, reps.min_leads).astype(np.int64),
    )
    ops = Operations(
        at=at,
        closed=closed,
        gone=gone,
        back=np.array([str(b) if not np.isnat(b) else "" for b in back], dtype=object),
        released=released,
        sla_hours=hours,
        leaving=tuple(leaving),
    )
    return replace(problem, reps=new_reps, ops=ops)


def uses_run_date(problem: Problem, policy: Policy, leaving: tuple[str, ...]) -> bool:
    """Whether the run date changes anything: dated time off, an SLA or departures."""
    return problem.reps.time_off is not None or policy.sla is not None or bool(leaving)


__all__ = [
    "REASON_HANDOVER",
    "REASON_LEAVING",
    "REASON_SLA",
    "WHY_AWAY",
    "Operations",
    "apply_operations",
    "leaving_reps",
    "uses_run_date",
]
