"""The accounts family: the leads of one account go to one rep. A pair rule (a rep eligible
for every lead of the account, :func:`apply_accounts`) whose groups then merge each
account's leads into one unit per rep (``compile/units.py``), so one Boolean assigns it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadassign.compile.candidates import Candidates, restrict
from leadassign.models.policy import Policy
from leadassign.models.problem import Problem


def account_codes(problem: Problem) -> np.ndarray:
    """Per lead: the index of its account (in order of first appearance), -1 without one."""
    ids = problem.leads.account_id
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    codes, _ = pd.factorize(pd.Series(ids, dtype=object), sort=False)
    result: np.ndarray = np.where(ids == "", -1, codes).astype(np.int64)
    return result


def account_groups(problem: Problem, policy: Policy) -> np.ndarray:
    """Per lead: the index of its account when kept together with others (-1 otherwise)."""
    n = problem.n_leads
    if not policy.accounts_together or n == 0:
        return np.full(n, -1, dtype=np.int64)
    codes = account_codes(problem)
    if not np.any(codes >= 0):
        return np.full(n, -1, dtype=np.int64)
    size = np.bincount(codes[codes >= 0], minlength=int(codes.max(initial=-1)) + 1)
    shared = (codes >= 0) & (size[np.maximum(codes, 0)] > 1)
    return np.where(shared, codes, -1)


def account_allows(lead: np.ndarray, rep: np.ndarray, m: int, groups: np.ndarray) -> np.ndarray:
    """Per pair (lead, rep): is the rep eligible for every lead of the lead's account?"""
    account = groups[lead]
    member = account >= 0
    if not member.any():
        return np.ones(len(lead), dtype=bool)
    size = np.bincount(groups[groups >= 0])
    key = account[member] * m + rep[member]
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    allows = np.ones(len(lead), dtype=bool)
    allows[member] = counts[inverse] == size[account[member]]
    return allows


def apply_accounts(cands: Candidates, problem: Problem, groups: np.ndarray) -> Candidates:
    if not np.any(groups >= 0):
        return cands
    account_ids = problem.leads.account_id
    why = np.array(
        [f"accounts: no rep is eligible for every lead of account {a}" for a in account_ids],
        dtype=object,
    )
    return restrict(cands, account_allows(cands.lead, cands.rep, cands.n_reps, groups), why)
