"""Which hard rule holds back an unassigned lead that an eligible rep had room for.

A lead is held back when every eligible rep with room for it would break a hard rule if it
took it, given the rest of the assignment: the fairness band (the rep would go above its
band, or the group's total would grow past what another rep's share allows: that rep's
floor) or the account cap. Checked in floats on the answer itself, per (lead, rep with room)
pair with numpy; the detail names the rule and, for the first such rep, how it breaks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from leadassign.compile.families.fairness import fairness_groups

if TYPE_CHECKING:
    from leadassign.result.result import Result

#: Relative slack of the float checks: a pair breaks a rule only beyond it.
_SLACK = 1e-9


def held_back(result: Result, waiting: np.ndarray, open_pair: np.ndarray) -> np.ndarray:
    """Per lead: '' or the words naming the hard rule that holds it back. ``waiting``: the
    unassigned leads some eligible rep had room for; ``open_pair``: per candidate pair, the
    lead is unassigned and the rep has room for it."""
    cands = result.candidates
    n = result.problem.n_leads
    pairs = np.flatnonzero(open_pair & waiting[cands.lead])
    breaks = np.zeros(len(pairs), dtype=bool)
    cause = np.full(len(pairs), "", dtype=object)
    for check in (_fairness_breaks, _cap_breaks):
        found, words = check(result, pairs)
        cause[found & ~breaks] = words[found & ~breaks]
        breaks |= found
    detail = np.full(n, "", dtype=object)
    if not len(pairs):
        return detail
    lead = cands.lead[pairs]
    open_count = np.bincount(lead, minlength=n)
    broken = np.bincount(lead[breaks], minlength=n)
    held = (open_count > 0) & (broken == open_count) & waiting
    first = np.full(n, -1, dtype=np.int64)
    first[lead[::-1]] = np.arange(len(pairs))[::-1]  # each lead's first open pair
    for i in np.flatnonzero(held).tolist():
        k, rule = int(open_count[i]), str(cause[first[i]])
        detail[i] = (
            f"held back by {rule}"
            if k == 1
            else f"held back: each of its {k} eligible reps with room would break a rule "
            f"(the first by {rule})"
        )
    return detail


def _unit_metric(result: Result, metric: np.ndarray) -> np.ndarray:
    """Per lead: what it adds when placed; with accounts together, its whole account."""
    if not result.policy.accounts_together:
        return metric
    account = np.asarray(result.problem.leads.account_id, dtype=object)
    codes = np.unique(account, return_inverse=True)[1]
    total = np.bincount(codes, weights=metric)[codes]
    return np.where(account != "", total, metric)


def _fairness_breaks(result: Result, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = result.policy.hard_fairness
    words = np.full(len(pairs), "", dtype=object)
    if f is None or not len(pairs):
        return np.zeros(len(pairs), dtype=bool), words
    problem, cands = result.problem, result.candidates
    group, names = fairness_groups(f.within, problem)
    per_lead = np.ones(problem.n_leads) if f.metric == "count" else result.lead_value
    rep = result.rep_of_lead
    on = rep >= 0
    m = np.bincount(rep[on], weights=per_lead[on], minlength=problem.n_reps)
    cap = problem.reps.capacity.astype(np.float64)
    g = np.maximum(group, 0)
    big_c = np.bincount(g, weights=np.where(group >= 0, cap, 0.0), minlength=len(names) or 1)
    big_m = np.bincount(g, weights=np.where(group >= 0, m, 0.0), minlength=len(names) or 1)
    b = float(f.band)
    # How far the group total may grow before rep k falls below its band (its floor)
    lower = (1.0 - b) * cap
    room = np.where(
        (group >= 0) & (lower > 0), big_c[g] * m / np.where(lower > 0, lower, 1.0), np.inf
    )
    floor_rep, floor_room, second = _two_lowest(room, group, len(names))
    j = cands.rep[pairs]
    gj = g[j]
    a = _unit_metric(result, per_lead)[cands.lead[pairs]]
    total = big_m[gj] + a
    slack = _SLACK * np.maximum(big_c[gj] * total, 1.0)
    above = big_c[gj] * (m[j] + a) > (1.0 + b) * cap[j] * total + slack
    other_room = np.where(floor_rep[gj] == j, second[gj], floor_room[gj])
    below = total > other_room * (1.0 + _SLACK) + _SLACK
    found = (group[j] >= 0) & (above | below)
    ids = problem.reps.ids
    rule = f"the fairness band ({f.metric}, {f.band:g}"
    group_words = np.asarray([f" of group {n}" if f.within != "all" else "" for n in names])
    for k in np.flatnonzero(found).tolist():
        gk = int(gj[k])
        where = group_words[gk] if len(group_words) else ""
        if above[k]:
            words[k] = f"{rule}{where}): {ids[j[k]]} would go above its band"
        else:
            r = int(floor_rep[gk]) if floor_rep[gk] != j[k] else -1
            who = ids[r] if r >= 0 else "another rep"
            words[k] = f"{rule}{where}): the floor of {who}, who would fall below its band"
    return found, words


def _two_lowest(
    room: np.ndarray, group: np.ndarray, groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group: the rep with the least room, that room, and the second least (inf)."""
    rep = np.full(max(groups, 1), -1, dtype=np.int64)
    lowest = np.full(max(groups, 1), np.inf)
    second = np.full(max(groups, 1), np.inf)
    for g in range(groups):
        members = np.flatnonzero(group == g)
        if not len(members):
            continue
        order = members[np.argsort(room[members], kind="stable")]
        rep[g], lowest[g] = int(order[0]), float(room[order[0]])
        if len(order) > 1:
            second[g] = float(room[order[1]])
    return rep, lowest, second


def _cap_breaks(result: Result, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cap = result.policy.account_cap
    words = np.full(len(pairs), "", dtype=object)
    if cap is None or not len(pairs):
        return np.zeros(len(pairs), dtype=bool), words
    problem, cands = result.problem, result.candidates
    account = np.asarray(problem.leads.account_id, dtype=object)
    codes = np.unique(account, return_inverse=True)[1].astype(np.int64)
    rep = result.rep_of_lead
    on = (rep >= 0) & (account != "")
    width = int(codes.max(initial=0)) + 1
    held = np.bincount(rep[on] * width + codes[on], minlength=problem.n_reps * width)
    lead, j = cands.lead[pairs], cands.rep[pairs]
    found = (account[lead] != "") & (held[j * width + codes[lead]] >= cap.max_per_rep)
    ids = problem.reps.ids
    for k in np.flatnonzero(found).tolist():
        words[k] = (
            f"the account cap ({cap.max_per_rep} per rep): {ids[j[k]]} already has "
            f"{cap.max_per_rep} leads of account {account[lead[k]]}"
        )
    return found, words


__all__ = ["held_back"]
