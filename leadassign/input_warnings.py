"""What ``validate`` warns about: inputs that are valid but probably not what was meant.

Each warning is a :class:`InputWarning` (a code and a sentence naming the leads, reps or
values concerned, with a few examples); ``validate`` prints them on stderr, exits 0, and
exits 2 with ``--strict``. Eligibility comes from the solver's own candidates
(``compile.prepare``: territories, industries, skills, leave, the pairs table, tiers and
accounts), so a lead warned about here is a lead the solve cannot assign.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from leadassign.compile.candidates import Candidates, _codes, _rep_cover
from leadassign.compile.prepare import prepare
from leadassign.models import Policy, Problem
from leadassign.models.tables import WILDCARD

#: How many ids a warning lists before "and N more".
SHOWN = 5

NO_ELIGIBLE_REP = "no_eligible_rep"
OWNER_OUTSIDE_TERRITORY = "owner_outside_territory"
NAME_VARIANTS = "name_variants"
REP_WITHOUT_LEADS = "rep_without_leads"


@dataclass(frozen=True)
class InputWarning:
    code: str  # one of the constants above
    message: str  # in words, with examples


def _listed(ids: Iterable[object], total: int) -> str:
    shown = [str(i) for i in ids][:SHOWN]
    more = f" and {total - len(shown)} more" if total > len(shown) else ""
    return ", ".join(shown) + more


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def leads_without_rep(problem: Problem, cands: Candidates) -> list[InputWarning]:
    """Leads no rep may take, grouped by why (the candidates' own reason)."""
    none = np.flatnonzero(cands.eligible_reps == 0)
    if not len(none):
        return []
    why = cands.why_none[none]
    parts = []
    for reason in sorted(set(why.tolist()), key=lambda r: (-int((why == r).sum()), r)):
        hit = none[why == reason]
        parts.append(
            f"{len(hit)} because {reason or 'no rule leaves them a rep'} "
            f"({_listed(problem.leads.ids[hit], len(hit))})"
        )
    return [
        InputWarning(
            NO_ELIGIBLE_REP,
            f"{_plural(len(none), 'lead')} of {problem.n_leads} can go to no rep and will be "
            f"left unassigned: {'; '.join(parts)}",
        )
    ]


def owners_outside_territory(problem: Problem) -> list[InputWarning]:
    """Leads whose current owner's territories do not cover the lead's territory."""
    owned = np.flatnonzero(problem.owner >= 0)
    if not len(owned):
        return []
    territory, names = _codes(problem.leads.territory)
    cover = _rep_cover(problem.reps.territories, names, all_when_empty=False)  # reps x names
    outside = owned[~cover[problem.owner[owned], territory[owned]]]
    if not len(outside):
        return []
    leads, reps = problem.leads, problem.reps
    examples = [
        f"{leads.ids[i]} ({leads.territory[i]}, owner {reps.ids[problem.owner[i]]} covers "
        f"{';'.join(reps.territories[problem.owner[i]]) or 'nothing'})"
        for i in outside[:SHOWN].tolist()
    ]
    more = f" and {len(outside) - SHOWN} more" if len(outside) > SHOWN else ""
    return [
        InputWarning(
            OWNER_OUTSIDE_TERRITORY,
            f"{_plural(len(outside), 'lead')} have a current owner whose territories do not "
            f"cover the lead's territory, so the owner cannot keep them (a forced move): "
            f"{', '.join(examples)}{more}",
        )
    ]


_SPACES = re.compile(r"\s+")


def _key(name: str) -> str:
    """A name without case or spaces: 'North East', 'north  east' and 'NorthEast' agree."""
    return _SPACES.sub("", name).casefold()


def _variants(column: str, lead_names: np.ndarray, rep_lists: np.ndarray) -> list[str]:
    """Names in the leads' ``column`` that a rep's list spells differently (case or spaces
    only), each with the fix."""
    lead_count: dict[str, int] = {}
    for name in lead_names.tolist():
        if name:
            lead_count[name] = lead_count.get(name, 0) + 1
    rep_holders: dict[str, list[int]] = {}
    for j, held in enumerate(rep_lists):
        for name in held:
            if name and name != WILDCARD:
                rep_holders.setdefault(name, []).append(j)
    by_key: dict[str, list[str]] = {}
    for name in rep_holders:
        by_key.setdefault(_key(name), []).append(name)
    found = []
    for name in sorted(lead_count):
        for rep_name in sorted(by_key.get(_key(name), [])):
            if rep_name == name:
                continue
            holders = rep_holders[rep_name]
            found.append(
                f"leads' {column} '{name}' ({_plural(lead_count[name], 'lead')}) and reps' "
                f"'{rep_name}' ({_plural(len(holders), 'rep')}) differ only in case or spaces; "
                f"they are different {column} values: write one of them as the other "
                f"(e.g. '{rep_name}' in the leads table)"
            )
    return found


def name_variants(problem: Problem) -> list[InputWarning]:
    """Territories, industries and skills that differ only in case or spaces between the
    leads and the reps (``East`` vs ``east``): they do not match, so leads lose reps."""
    leads, reps = problem.leads, problem.reps
    skills = np.array([s for held in leads.skills for s in held], dtype=object)
    found = [
        *_variants("territory", leads.territory, reps.territories),
        *_variants("industry", leads.industry, reps.industries),
        *_variants("skill", skills, reps.skills),
    ]
    return [InputWarning(NAME_VARIANTS, text) for text in found]


def reps_without_leads(problem: Problem, cands: Candidates) -> list[InputWarning]:
    """Available reps with capacity that no lead may go to."""
    reps = problem.reps
    eligible = np.bincount(cands.rep, minlength=problem.n_reps)
    idle = np.flatnonzero((eligible == 0) & reps.available & (reps.capacity > 0))
    if not len(idle) or not problem.n_leads:
        return []
    return [
        InputWarning(
            REP_WITHOUT_LEADS,
            f"{_plural(len(idle), 'available rep')} with capacity can take none of the "
            f"{problem.n_leads} leads (their territories, industries or skills match none): "
            f"{_listed(reps.ids[idle], len(idle))}",
        )
    ]


def input_warnings(
    problem: Problem, policy: Policy, cands: Candidates | None = None
) -> list[InputWarning]:
    """Every warning about a valid problem, in a fixed order (``cands``: its eligible pairs
    after every pair rule, ``prepare(problem, policy).cands``, when already at hand)."""
    if cands is None:
        cands = prepare(problem, policy).cands
    return [
        *leads_without_rep(problem, cands),
        *owners_outside_territory(problem),
        *name_variants(problem),
        *reps_without_leads(problem, cands),
    ]


__all__ = ["InputWarning", "input_warnings"]
