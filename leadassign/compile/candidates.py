"""Eligible (lead, rep) pairs and their expected values, computed with numpy (DESIGN §2).

Leads that share a territory, an industry and a skill set share their eligible reps, so
eligibility is decided once per such *profile* (a profiles x reps boolean matrix) and then
expanded to pairs with index arithmetic. Nothing here loops over lead x rep pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from leadassign.models.problem import Problem
from leadassign.models.tables import WILDCARD

# Why a lead has no eligible rep, checked in this order (the first filter that leaves no rep).
WHY_TERRITORY = "no rep covers its territory"
WHY_INDUSTRY = "no rep in its territory covers its industry"
WHY_SKILLS = "no rep in its territory and industry has its skills"
WHY_LEAVE = "every rep who could work it is on leave"
WHY_PAIRS = "none of its eligible reps is listed for it in the pairs table"


def lead_starts(lead: np.ndarray) -> np.ndarray:
    """For items sorted by lead: the index where each lead's run of items begins."""
    if not len(lead):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate([[True], lead[1:] != lead[:-1]]))


def best_per_lead(score: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """For items sorted by lead (then rep): per lead with a score above -inf, the index of
    its first item with the highest score, ascending. One reduceat, no sort."""
    starts = lead_starts(lead)
    if not len(starts):
        return starts
    top = np.maximum.reduceat(score, starts)
    is_top = score == np.repeat(top, np.diff(starts, append=len(score)))
    is_top &= score > -np.inf
    hit = np.flatnonzero(is_top)
    best: np.ndarray = hit[lead_starts(lead[hit])]
    return best


@dataclass(frozen=True, eq=False)
class Candidates:
    """The eligible pairs, sorted by lead then rep, with per-pair expected value and effort."""

    lead: np.ndarray  # int64 lead index
    rep: np.ndarray  # int64 rep index
    ev: np.ndarray  # float64 expected value (or the pairs table's score)
    effort: np.ndarray  # int64 capacity units the lead takes with this rep
    n_leads: int
    n_reps: int
    eligible_reps: np.ndarray  # int64 per lead: how many reps may take it
    why_none: np.ndarray  # str per lead: why no rep may take it ('' when some may)
    pairs_ignored: int  # rows of the pairs table whose pair breaks a rule (so stays ineligible)

    def __len__(self) -> int:
        return len(self.lead)

    @property
    def unit_effort(self) -> bool:
        return bool(np.all(self.effort == 1))


def _codes(values: np.ndarray | list[tuple[str, ...]]) -> tuple[np.ndarray, list[object]]:
    """Integer codes in order of first appearance, and the distinct values."""
    series = pd.Series(values, dtype=object) if len(values) else pd.Series([], dtype=object)
    codes, uniques = pd.factorize(series, sort=False)
    return np.asarray(codes, dtype=np.int64), list(uniques)


def _rep_cover(rep_lists: np.ndarray, names: list[object], *, all_when_empty: bool) -> np.ndarray:
    """reps x names boolean matrix: rep j covers name k ('*', or empty when allowed, covers all)."""
    position = {name: k for k, name in enumerate(names)}
    cover = np.zeros((len(rep_lists), len(names)), dtype=bool)
    for j, items in enumerate(rep_lists):
        if WILDCARD in items or (all_when_empty and len(items) == 0):
            cover[j, :] = True
            continue
        hits = [position[item] for item in items if item in position]
        cover[j, hits] = True
    return cover


def win_rates(problem: Problem, industry_codes: np.ndarray, industries: list[object]) -> np.ndarray:
    """reps x industries matrix of conversion rates: affinity where given, else win_rate."""
    rates = np.repeat(problem.reps.win_rate[:, None], len(industries), axis=1)
    if problem.affinity is not None and len(problem.affinity):
        position = {name: k for k, name in enumerate(industries)}
        column = np.array([position.get(name, -1) for name in problem.affinity.industry])
        known = column >= 0
        rates[problem.affinity_rep[known], column[known]] = problem.affinity.win_rate[known]
    return rates


def _expand(eligible: np.ndarray, profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (lead, rep) pair whose lead's profile row of ``eligible`` is True, lead-major."""
    counts = eligible.sum(axis=1)
    _, profile_reps = np.nonzero(eligible)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    per_lead = counts[profile]
    total = int(per_lead.sum())
    lead = np.repeat(np.arange(len(profile), dtype=np.int64), per_lead)
    # pair k of a lead whose pairs begin at s is the profile's item k - s: one repeat
    # shifts each lead's run of positions onto its profile's row
    shift = indptr[profile] - (np.cumsum(per_lead) - per_lead)
    at = np.repeat(shift, per_lead)
    at += np.arange(total, dtype=np.int64)
    rep = profile_reps[at].astype(np.int64, copy=False)
    return lead, rep


def _skills_ok(skill_keys: list[tuple[str, ...]], rep_skills: np.ndarray) -> np.ndarray:
    """skill sets x reps: the rep holds every skill of the set."""
    vocabulary = sorted({s for key in skill_keys for s in key})
    if not vocabulary:
        return np.ones((len(skill_keys), len(rep_skills)), dtype=bool)
    position = {s: k for k, s in enumerate(vocabulary)}
    needs = np.zeros((len(skill_keys), len(vocabulary)), dtype=np.int32)
    for k, key in enumerate(skill_keys):
        needs[k, [position[s] for s in key]] = 1
    lacks = np.ones((len(rep_skills), len(vocabulary)), dtype=np.int32)
    for j, held in enumerate(rep_skills):
        lacks[j, [position[s] for s in held if s in position]] = 0
    result: np.ndarray = (needs @ lacks.T) == 0
    return result


def build_candidates(problem: Problem, values: np.ndarray) -> Candidates:
    """All eligible pairs of ``problem`` with expected value ``values[lead] * p[rep, lead]``.

    With a pairs table, ``score`` replaces the expected value and ``effort`` the lead's effort
    for the listed pairs; in mode ``only`` the listed pairs are the only candidates.
    """
    leads = problem.leads
    n = len(leads)
    ind, ind_names = _codes(leads.industry)
    profile, eligible, why_profile = _profiles(problem, ind, ind_names)
    why_none = why_profile[profile]
    rates = win_rates(problem, ind, ind_names)
    pairs = problem.pairs
    lead, rep, listing = _pairs_of(problem, eligible, profile)
    ev = values[lead] * rates[rep, ind[lead]]
    effort = leads.effort[lead].astype(np.int64, copy=False)
    if pairs is not None and listing is not None:
        listed, position, _ = listing
        score = pairs.score[listed]
        has_score = ~np.isnan(score)
        ev[position[has_score]] = score[has_score]
        own_effort = pairs.effort[listed]
        has_effort = own_effort > 0
        effort[position[has_effort]] = own_effort[has_effort]
    eligible_reps = np.bincount(lead, minlength=n).astype(np.int64)
    if pairs is not None and problem.pairs_mode == "only":
        why_none = np.where((eligible_reps == 0) & (why_none == ""), WHY_PAIRS, why_none)
    return Candidates(
        lead=lead,
        rep=rep,
        ev=np.asarray(ev, dtype=np.float64),
        effort=effort,
        n_leads=n,
        n_reps=len(problem.reps),
        eligible_reps=eligible_reps,
        why_none=np.asarray(why_none, dtype=object),
        pairs_ignored=0 if listing is None else listing[2],
    )


def _profiles(
    problem: Problem, ind: np.ndarray, ind_names: list[object]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lead profiles: distinct (territory, industry, skill set), decided once each. The
    profile of each lead, profiles x reps eligibility, and per profile why it has no
    eligible rep ('' when it has one): the first filter that leaves none."""
    leads, reps = problem.leads, problem.reps
    terr, terr_names = _codes(leads.territory)
    skl, skill_names = _codes([tuple(sorted(s)) for s in leads.skills])
    skill_keys: list[tuple[str, ...]] = [tuple(key) for key in skill_names]  # type: ignore[arg-type]
    key = (terr * max(len(ind_names), 1) + ind) * max(len(skill_keys), 1) + skl
    profile, profile_keys = _codes(key)
    _, first = np.unique(profile, return_index=True)  # a lead of each profile
    territory_ok = _rep_cover(reps.territories, terr_names, all_when_empty=False)[:, terr[first]].T
    industry_ok = _rep_cover(reps.industries, ind_names, all_when_empty=True)[:, ind[first]].T
    skills_ok = _skills_ok(skill_keys, reps.skills)[skl[first]]
    fits = territory_ok & industry_ok & skills_ok
    eligible = fits & reps.available[None, :]
    why_profile = np.full(len(profile_keys), "", dtype=object)
    for mask, why in reversed(
        [
            (territory_ok, WHY_TERRITORY),
            (territory_ok & industry_ok, WHY_INDUSTRY),
            (fits, WHY_SKILLS),
            (eligible, WHY_LEAVE),
        ]
    ):
        why_profile[~mask.any(axis=1)] = why
    return profile, eligible, why_profile


def _pairs_of(
    problem: Problem, eligible: np.ndarray, profile: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, int] | None]:
    """The candidate pairs (lead, rep), lead-major: every eligible pair, or in mode
    ``only`` the pairs table's eligible rows. With a pairs table, also its rows that break
    no rule, their positions among the candidates, and how many rows break one."""
    m = len(problem.reps)
    pairs = problem.pairs
    if pairs is None or problem.pairs_mode == "override":
        lead, rep = _expand(eligible, profile)
    if pairs is None:
        return lead, rep, None
    p_lead, p_rep = problem.pair_lead, problem.pair_rep
    rule_ok = eligible[profile[p_lead], p_rep]
    pairs_ignored = int((~rule_ok).sum())
    listed = np.flatnonzero(rule_ok)
    if problem.pairs_mode == "only":
        listed = listed[np.lexsort((p_rep[listed], p_lead[listed]))]
        lead, rep = p_lead[listed], p_rep[listed]
        position = np.arange(len(listed))
    else:
        position = np.searchsorted(lead * m + rep, p_lead[listed] * m + p_rep[listed])
    return lead, rep, (listed, position, pairs_ignored)


def restrict(cands: Candidates, keep: np.ndarray, why: np.ndarray) -> Candidates:
    """``cands`` without the pairs not in ``keep``; a lead that loses its last eligible rep
    here gets ``why[lead]`` as the reason it has none."""
    eligible = np.bincount(cands.lead[keep], minlength=cands.n_leads).astype(np.int64)
    lost_all = (eligible == 0) & (cands.eligible_reps > 0)
    why_none = np.where(lost_all, why, cands.why_none)
    return replace(
        cands,
        lead=cands.lead[keep],
        rep=cands.rep[keep],
        ev=cands.ev[keep],
        effort=cands.effort[keep],
        eligible_reps=eligible,
        why_none=np.asarray(why_none, dtype=object),
    )
