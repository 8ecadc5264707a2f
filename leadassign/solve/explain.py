"""Why a policy is infeasible, in the rules' own words (never a silent relaxation).

Two stages. Cheap pre-checks catch the obvious cases before any search, with precise
messages: a floor above a rep's eligible leads or capacity, floors that a set of reps cannot
share (Hall's condition, from a max-flow min cut), a fairness band that floors make
impossible, a churn limit the owners' capacities cannot meet. When CP-SAT proves the rest
infeasible, :func:`explain` rebuilds the model at lead level with one indicator literal per
rule instance (a rep's capacity or floor, a tier, an account kept together, and each side
rule's own: ``SideRule.explain``, e.g. a rep's fairness band or the churn limit), solves it
under those assumptions on one worker without an objective, and shrinks the infeasible
subset CP-SAT returns by deletion until it names few rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from ortools.sat.python import cp_model

from leadassign.compile.families import FAMILIES
from leadassign.compile.families.accounts import account_allows
from leadassign.compile.families.base import MAX_LISTED, LeadModel
from leadassign.compile.families.base import listed as _listed
from leadassign.compile.families.continuity import owner_pairs
from leadassign.compile.families.fairness import fairness_words as _fairness_words
from leadassign.compile.families.floors import add_min_leads
from leadassign.compile.pairs import Pairs
from leadassign.compile.prepare import Prepared, fits_in_order
from leadassign.control import budget
from leadassign.control.stop import cancelling, stopped
from leadassign.engines.cpsat import add_capacity, add_one_rep_per_lead
from leadassign.engines.cpsat_proto import add_linear, add_variables, new_int
from leadassign.models.policy import Policy, SolverPolicy
from leadassign.models.problem import Problem


def _leads(k: int) -> str:
    return f"{k} lead{'s' if k != 1 else ''}"


# ----------------------------------------------------------------------------- pre-checks


def _cut_note(prep: Prepared, j: int) -> str:
    notes = [
        f"{rule} took {int(prep.cut[rule][j])} more away"
        for rule in ("tiers", "accounts")
        if int(prep.cut[rule][j]) > 0
    ]
    return f" ({'; '.join(notes)})" if notes else ""


def floor_conflicts(problem: Problem, prep: Prepared) -> list[str]:
    """A rep whose floor exceeds its eligible leads or, in effort units, its capacity."""
    pairs = prep.pairs
    messages: list[str] = []
    ids = problem.reps.ids
    count = np.bincount(pairs.rep, weights=pairs.size, minlength=problem.n_reps).astype(np.int64)
    for j in np.flatnonzero(pairs.min_leads > count).tolist():
        messages.append(
            f"min_leads {pairs.min_leads[j]} for {ids[j]} but only {count[j]} "
            f"lead{'s are' if count[j] != 1 else ' is'} eligible" + _cut_note(prep, j)
        )
    if np.any(pairs.size != 1):
        return messages
    # The lightest min_leads candidates of each rep, in effort: sort by (rep, effort) once and
    # read each floor's prefix sum from one cumulative sum.
    check = np.flatnonzero((pairs.min_leads > 0) & (pairs.min_leads <= count))
    if len(check):
        if np.all(pairs.effort == 1):  # the common case: min_leads leads take min_leads
            lightest = pairs.min_leads[check].astype(np.int64)
        else:
            order = np.lexsort((pairs.effort, pairs.rep))
            cumulative = np.concatenate([[0], np.cumsum(pairs.effort[order])])
            first = np.concatenate([[0], np.cumsum(count)])[check]
            lightest = cumulative[first + pairs.min_leads[check]] - cumulative[first]
        for r, need in zip(check.tolist(), lightest.tolist(), strict=True):
            if need > pairs.capacity[r]:
                messages.append(
                    f"min_leads {pairs.min_leads[r]} for {ids[r]} needs at least {need} "
                    f"effort but its capacity is {pairs.capacity[r]}"
                )
    return messages


def fairness_conflicts(problem: Problem, policy: Policy, prep: Prepared) -> list[str]:
    """Count fairness against floors: the floors of a group force a total M_G >= their sum,
    so each rep needs at least (1-band)*share*that many leads, and may hold at most
    (1+band)*share*(the most the group can take)."""
    f, spec = policy.fairness, prep.side.fairness
    if f is None or spec is None or f.mode != "hard" or f.metric != "count":
        return []
    pairs, reps = prep.pairs, problem.reps
    have = np.minimum(
        np.bincount(pairs.rep, weights=pairs.size, minlength=problem.n_reps).astype(np.int64),
        pairs.capacity,
    )
    p, q = spec.band.numerator, spec.band.denominator
    messages = []
    for members in spec.groups():
        weight = int(spec.weights[members].sum())
        least = int(pairs.min_leads[members].sum())
        most = int(have[members].sum())
        level = f" level {reps.level[members[0]]}" if f.within == "level" else ""
        short = [
            j
            for j in members.tolist()
            if (q - p) * int(spec.weights[j]) * least > q * weight * int(have[j])
        ]
        if short:
            share = (q - p) * int(spec.weights[short[0]]) * least / (q * weight)
            messages.append(
                f"{_fairness_words(policy)}{level} cannot hold: "
                f"rep{'s' if len(short) > 1 else ''} {_listed(reps.ids[short].tolist())} "
                f"can take only {int(have[short[0]])} eligible "
                f"lead{'s' if int(have[short[0]]) != 1 else ''} for a share of at least "
                f"{share:.4g} (the group's min_leads add up to {least})"
            )
        over = [
            j
            for j in members.tolist()
            if q * weight * int(pairs.min_leads[j]) > (q + p) * int(spec.weights[j]) * most
        ]
        if over:
            messages.append(
                f"{_fairness_words(policy)}{level} cannot hold: min_leads of "
                f"{_listed(reps.ids[over].tolist())} exceed their share of the at most "
                f"{most} leads the group can take"
            )
    return messages


def continuity_conflicts(problem: Problem, policy: Policy, prep: Prepared) -> list[str]:
    """The churn limit needs more leads kept than the owners have room for."""
    c, spec = policy.continuity, prep.side.continuity
    if c is None or spec is None or c.mode != "hard":
        return []
    need = spec.keepable - spec.limit
    if need <= 0:
        return []
    cands, reps = prep.cands, problem.reps
    keep = owner_pairs(cands, problem, prep.units.var)
    owner = cands.rep[keep]
    effort = cands.effort[keep]
    order = np.lexsort((effort, owner))
    owner, effort = owner[order], effort[order]
    fits = fits_in_order(owner, effort, reps.capacity)
    amount = np.ones(len(fits), dtype=np.int64)
    if spec.lead_measure is not None:  # continuity.measure: the amounts kept, not leads
        amount = spec.lead_measure[cands.lead[keep]][order]
    can_keep = int(amount[fits].sum())
    if can_keep >= need:
        return []
    owned = int((problem.owner >= 0).sum())
    short = np.unique(owner[~fits])
    if spec.lead_measure is not None:
        units = spec.measure_scale
        return [
            f"continuity max_reassign {c.max_reassign:g} lets {spec.limit / units:g} "
            f"{c.measure} move, so {need / units:g} must stay with their owners, but the "
            f"owners' capacities hold at most {can_keep / units:g} of it (full: "
            f"{_listed(reps.ids[short].tolist())})"
        ]
    return [
        f"continuity max_reassign {c.max_reassign:g} lets {spec.limit} of {owned} owned "
        f"leads change owner, so {need} must stay with their owners, but the owners' "
        f"capacities hold at most {can_keep} of them (full: {_listed(reps.ids[short].tolist())})"
    ]


def precheck(problem: Problem, policy: Policy, prep: Prepared) -> list[str]:
    """Every cheap conflict found before solving (empty: none found)."""
    return (
        floor_conflicts(problem, prep)
        + fairness_conflicts(problem, policy, prep)
        + continuity_conflicts(problem, policy, prep)
    )


def hall_message(problem: Problem, prep: Prepared, reps: np.ndarray | None, leads: int) -> str:
    """A set of reps whose floors add up to more leads than can reach any of them."""
    if reps is None or len(reps) == 0:
        return generic_message(problem)
    ids = problem.reps.ids[reps]
    total = int(problem.reps.min_leads[reps].sum())
    shown = _listed(ids.tolist())
    removed = {rule: int(prep.cut[rule][reps].sum()) for rule in ("tiers", "accounts")}
    note = "; ".join(f"{rule} took {k} pairs away" for rule, k in removed.items() if k)
    note = f" ({note})" if note else ""
    if len(ids) == 1:
        return (
            f"min_leads {total} for {shown} but only {leads} "
            f"lead{'s are' if leads != 1 else ' is'} eligible{note}"
        )
    return (
        f"min_leads of {shown} add up to {total} but only {leads} "
        f"lead{'s are' if leads != 1 else ' is'} eligible for any of them{note}"
    )


def generic_message(problem: Problem) -> str:
    floors = problem.reps.ids[(problem.reps.min_leads > 0) & problem.reps.available]
    return f"min_leads of {_listed(floors.tolist())} cannot all be met within the reps' capacities"


# ----------------------------------------------------------------------- assumptions core


@dataclass(frozen=True)
class _Rule:
    kind: str  # capacity | min_leads | tier | account | a side-rule family's name
    subject: int  # rep, tier or account index (a side rule's: as its ``explain`` says)


def _build(
    problem: Problem, policy: Policy, prep: Prepared
) -> tuple[cp_model.CpModel, list[int], list[_Rule]]:
    """The lead-level model, every rule instance guarded by its own literal."""
    base, reps = prep.base, problem.reps
    usable = base.effort <= reps.capacity[base.rep]
    lead, rep = base.lead[usable], base.rep[usable]
    effort = base.effort[usable]
    n_pairs, m = len(lead), problem.n_reps
    pairs = Pairs(
        unit=lead,
        rep=rep,
        effort=effort,
        units=np.zeros(n_pairs, dtype=np.int64),
        capacity=reps.capacity.astype(np.int64),
        min_leads=prep.pairs.min_leads,
        size=np.ones(n_pairs, dtype=np.int64),
    )
    model = cp_model.CpModel()
    proto = model.proto
    add_variables(proto, n_pairs)
    rules: list[_Rule] = []
    literals: list[int] = []

    def guard(kind: str, subject: int) -> int:
        index = new_int(proto, 0, 1)
        rules.append(_Rule(kind, subject))
        literals.append(index)
        return index

    by_rep = np.argsort(rep, kind="stable")
    add_one_rep_per_lead(proto, pairs)
    loads = np.bincount(rep, weights=effort, minlength=m)
    caps = np.full(m, -1, dtype=np.int64)
    for j in np.flatnonzero(loads > reps.capacity).tolist():
        caps[j] = guard("capacity", j)
    add_capacity(proto, pairs, by_rep, caps)
    floors = np.full(m, -1, dtype=np.int64)
    for j in np.flatnonzero(pairs.min_leads > 0).tolist():
        floors[j] = guard("min_leads", j)
    add_min_leads(proto, pairs, by_rep, floors)

    values = prep.values
    if policy.tiers:
        for k, tier in enumerate(policy.tiers):
            need = np.where(values >= tier.min_value, tier.min_level, 0)
            cut = np.flatnonzero(reps.level[rep] < need[lead])
            if len(cut):
                add_linear(proto, cut.tolist(), [1] * len(cut), 0, 0, guard("tier", k))
    groups = prep.groups
    if np.any(groups >= 0):
        allows = account_allows(lead, rep, m, groups)
        for a in np.unique(groups[groups >= 0]).tolist():
            literal = guard("account", a)
            mine = groups[lead] == a
            off = np.flatnonzero(mine & ~allows)
            if len(off):
                add_linear(proto, off.tolist(), [1] * len(off), 0, 0, literal)
            on = np.flatnonzero(mine & allows)
            size = int((groups == a).sum())
            for j in np.unique(rep[on]).tolist():
                together = on[rep[on] == j]
                y = new_int(proto, 0, 1)
                add_linear(
                    proto, [*together.tolist(), y], [1] * len(together) + [-size], 0, 0, literal
                )
    lead_model = LeadModel(proto, pairs, by_rep, lead, problem, policy, prep, guard)
    for spec in prep.side:  # each side rule's instances (compile/families/base.py)
        spec.explain(lead_model)
    return model, literals, rules


def _infeasible_core(
    model: cp_model.CpModel, assumed: list[int], seconds: float, seed: int
) -> tuple[str, list[int]]:
    """Solve under ``assumed``: status, and a sufficient subset when infeasible (UNKNOWN at
    once when stopped or out of work)."""
    meter = budget.current()
    if stopped() or (meter is not None and meter.work_left() <= 0):
        return "UNKNOWN", []
    model.clear_assumptions()
    model.proto.assumptions.extend(assumed)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_time_in_seconds = max(seconds, 0.05)
    if meter is not None:  # the work limit too (budget.py)
        solver.parameters.max_deterministic_time = max(meter.work_left(), 0.001)
    solver.parameters.catch_sigint_signal = False  # the stop token ends it (stop.py)
    with cancelling(solver.stop_search):
        code = solver.solve(model)
    if meter is not None:
        meter.spend(float(solver.response_proto.deterministic_time))
    if code == cp_model.INFEASIBLE:
        return "INFEASIBLE", list(solver.sufficient_assumptions_for_infeasibility())
    return ("FEASIBLE" if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) else "UNKNOWN"), []


def explain(
    problem: Problem, policy: Policy, prep: Prepared, settings: SolverPolicy, seconds: float
) -> tuple[str, ...]:
    """Name a small set of rule instances that cannot all hold (within ``seconds``)."""
    started = time.perf_counter()
    model, literals, rules = _build(problem, policy, prep)

    def left() -> float:
        return seconds - (time.perf_counter() - started)

    status, core = _infeasible_core(model, literals, left(), settings.seed)
    if status != "INFEASIBLE":
        return (_fallback(policy),)
    core = sorted(set(core) or set(literals))
    # Deletion: drop each literal the rest stays infeasible without.
    for literal in list(core):
        meter = budget.current()
        if left() <= 0.1 or literal not in core or (meter is not None and meter.work_left() <= 0):
            continue
        rest = [x for x in core if x != literal]
        status, smaller = _infeasible_core(model, rest, min(left(), 10.0), settings.seed)
        if status == "INFEASIBLE":
            core = sorted(set(smaller) or set(rest))
    position = {literal: k for k, literal in enumerate(literals)}
    return (_describe(problem, policy, prep, [rules[position[x]] for x in core]),)


def _fallback(policy: Policy) -> str:
    return (
        "the hard rules (capacity, min_leads"
        + (", tiers" if policy.tiers else "")
        + "".join(f", {family.name}" for family in FAMILIES if family.policy_names(policy))
        + (", accounts" if policy.accounts_together else "")
        + ") cannot all hold; no smaller conflict was isolated within the time limit"
    )


def _describe(problem: Problem, policy: Policy, prep: Prepared, core: list[_Rule]) -> str:
    ids = problem.reps.ids
    reps = problem.reps
    parts: list[str] = []
    by_kind: dict[str, list[int]] = {}
    for rule in core:
        by_kind.setdefault(rule.kind, []).append(rule.subject)
    words: dict[str, Callable[[list[int]], str]] = {
        "min_leads": lambda js: (
            "; ".join(f"min_leads {reps.min_leads[j]} for {ids[j]}" for j in js[:MAX_LISTED])
            + (f" and {len(js) - MAX_LISTED} more floors" if len(js) > MAX_LISTED else "")
        ),
        "capacity": lambda js: (
            "capacity of " + _listed([f"{ids[j]} ({reps.capacity[j]})" for j in js])
        ),
        "tier": lambda ks: "; ".join(
            f"tier: leads of value >= {policy.tiers[k].min_value:g} only to reps of level >= "
            f"{policy.tiers[k].min_level}"
            for k in ks
        ),
        "account": lambda accounts: (
            "accounts together: " + _listed([_account_words(problem, prep, a) for a in accounts])
        ),
    }
    for spec in prep.side:
        words[spec.name] = partial(spec.words, problem=problem, policy=policy, prep=prep)
    side_kinds = [spec.name for spec in prep.side]
    for kind in ("min_leads", *side_kinds, "tier", "account", "capacity"):
        if kind in by_kind:
            parts.append(words[kind](sorted(by_kind[kind])))
    if len(parts) == 1 and len(core) == 1:
        return f"{parts[0]} cannot hold"
    return "these rules cannot all hold together: " + "; ".join(parts)


def _account_words(problem: Problem, prep: Prepared, account: int) -> str:
    members = np.flatnonzero(prep.groups == account)
    name = problem.leads.account_id[members[0]]
    return f"account {name} ({_leads(len(members))})"


__all__ = ["explain", "generic_message", "hall_message", "precheck"]
