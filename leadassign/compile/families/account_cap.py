"""The account cap family: no rep receives more than ``max_per_rep`` leads of one account
(policy ``account_cap: {max_per_rep: K}``, a hard rule). Leads without an ``account_id``
are not capped. It is the worked example of docs/extending.md: everything the solver asks
of a side rule (``base.SideRule``), in one module.

In integers, for every rep j and account a: ``sum(size_k * x_k) <= K`` over the pairs k of
rep j whose leads belong to account a. Only (rep, account) groups with more than K eligible
leads can bind, so only those are written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from leadassign.compile.families.accounts import account_codes
from leadassign.compile.families.base import Columns, Compiled, LeadModel, SideRule, listed
from leadassign.compile.pairs import Pairs
from leadassign.engines.cpsat_proto import Aux, add_linear, segments
from leadassign.engines.lp_rows import INF, Rows
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem

if TYPE_CHECKING:
    from leadassign.compile.prepare import Prepared


def capped_groups(
    account: np.ndarray, rep: np.ndarray, size: np.ndarray, limit: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Per (account, rep) whose pairs hold more than ``limit`` leads: the account and the
    pairs (indices), in (account, rep) order."""
    member = np.flatnonzero(account >= 0)
    key = account[member] * (int(rep.max(initial=0)) + 1) + rep[member]
    order = np.argsort(key, kind="stable")
    member, key = member[order], key[order]
    starts, ends = segments(key)
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        group = member[a:b]
        if int(size[group].sum()) > limit:
            yield int(account[group[0]]), group


@dataclass(frozen=True, eq=False)
class AccountCap(SideRule):
    """At most ``limit`` leads of one account per rep."""

    name = "account_cap"

    account: np.ndarray  # per pair: the account of its leads, -1 when they have none
    limit: int  # K, leads of one account a rep may receive
    penalty: int | None = None  # always hard

    @classmethod
    def build(cls, data: Compiled) -> AccountCap | None:
        cap = data.policy.account_cap
        if cap is None:
            return None
        units, lead = data.units, data.cands.lead
        usable = units.var >= 0
        account = np.full(len(units.pairs), -1, dtype=np.int64)
        # every lead of a unit is of one account (the policy refuses accounts.together)
        account[units.var[usable]] = account_codes(data.problem)[lead[usable]]
        return cls(account, cap.max_per_rep)

    @classmethod
    def policy_names(cls, policy: Policy) -> bool:
        return policy.account_cap is not None

    def excess(self, pairs: Pairs, chosen: np.ndarray) -> int:
        """Leads above the cap, summed over every (rep, account)."""
        account, rep = self.account[chosen], pairs.rep[chosen]
        size = pairs.size[chosen]
        capped = account >= 0
        key = account[capped] * len(pairs.capacity) + rep[capped]
        _, inverse = np.unique(key, return_inverse=True)
        load = np.bincount(inverse, weights=size[capped]).astype(np.int64)
        return int(np.maximum(load - self.limit, 0).sum())

    def add_to_model(self, proto: Any, pairs: Pairs, by_rep: np.ndarray, aux: Aux) -> int | None:
        for _, group in capped_groups(self.account, pairs.rep, pairs.size, self.limit):
            add_linear(proto, group.tolist(), pairs.size[group].tolist(), 0, self.limit)
        return None

    def add_rows(self, rows: Rows, pairs: Pairs, next_var: int) -> Columns:
        for _, group in capped_groups(self.account, pairs.rep, pairs.size, self.limit):
            rows.add(group, pairs.size[group], -INF, float(self.limit))
        return Columns([])

    def restrict(self, keep: np.ndarray) -> Self:
        return replace(self, account=self.account[keep])

    def explain(self, model: LeadModel) -> None:
        """The cap at lead level, one literal per account (for all its reps)."""
        pairs = model.pairs
        account = account_codes(model.problem)[model.lead]
        literal: dict[int, int] = {}
        for a, group in capped_groups(account, pairs.rep, pairs.size, self.limit):
            if a not in literal:
                literal[a] = model.guard(self.name, a)
            ones = [1] * len(group)
            add_linear(model.proto, group.tolist(), ones, 0, self.limit, literal[a])

    def words(self, subjects: list[int], problem: Problem, policy: Policy, prep: Prepared) -> str:
        codes = account_codes(problem)
        names = [str(problem.leads.account_id[np.argmax(codes == a)]) for a in subjects]
        return f"account_cap max_per_rep {self.limit} for account {listed(names)}"
