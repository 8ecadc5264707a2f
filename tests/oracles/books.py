"""Random books with every business rule, for the tests that hold leadassign against the
oracles: :func:`random_book` (hundreds of leads) and the policies the tests share."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tests.oracles.rules import PolicyDict, RuleBook

TERRITORIES = ("N", "S", "E", "W")
INDUSTRIES = ("fin", "soft", "health", "retail")
SKILLS = ("de", "ent")
#: the largest lead value of every random book: integer values are then exact multiples of
#: its 1e-6 (the value resolution of value-metric fairness)
TOP_VALUE = 100_000
TIERS = [{"min_value": 8000, "min_level": 2}, {"min_value": 20000, "min_level": 3}]
FAIR_VALUE = {"metric": "value", "band": 0.35, "within": "all"}
ALL_RULES: PolicyDict = {
    "tiers": TIERS,
    "fairness": {"metric": "count", "band": 0.4, "within": "level"},
    "continuity": {"max_reassign": 0.2, "keep_bonus": 100},
    "accounts": {"together": True},
}


def covers(rep: Mapping[Any, Any], lead: Mapping[Any, Any]) -> bool:
    territories = set(str(rep["territories"]).split(";"))
    industries = set(filter(None, str(rep["industries"]).split(";"))) - {"*"}
    skills = set(filter(None, str(rep["skills"]).split(";")))
    return (
        ("*" in territories or lead["territory"] in territories)
        and (not industries or lead["industry"] in industries)
        and set(filter(None, str(lead["skills"]).split(";"))) <= skills
    )


def random_book(
    seed: int,
    n_leads: int,
    n_reps: int,
    policy: PolicyDict,
    *,
    slack: float = 1.0,
    owned: float = 0.6,
    floors: float = 0.3,
    leave: float = 0.1,
    effort: bool = False,
    keepable_owners: bool = False,
    values: Sequence[int] = (),
    win_rates: Sequence[float] = (),
) -> RuleBook:
    """A random book: territories, industries, skills, levels, reps on leave, floors, an
    affinity table, accounts of 1-4 leads, current owners (some on leave or no longer
    eligible, unless ``keepable_owners``) and optionally efforts of 1-3.

    Values are integers up to TOP_VALUE (one lead has exactly TOP_VALUE), or drawn from
    ``values``. With ``win_rates``, rep win rates are drawn from it, without affinity."""
    rng = np.random.default_rng(seed)
    rep_rows = _random_reps(rng, n_reps, leave)
    mean_effort = 1.3 if effort else 1.0
    for rep in rep_rows:
        capacity = max(2, round(slack * mean_effort * n_leads / n_reps * rng.uniform(0.5, 1.5)))
        rep["capacity"] = capacity
        if rng.random() < floors:
            rep["min_leads"] = int(rng.integers(1, max(2, capacity // 4)))

    lead_rows: list[dict[str, Any]] = []
    load = [0] * n_reps
    n_accounts = 0
    while len(lead_rows) < n_leads:
        size = min(
            int(rng.choice([1, 2, 3, 4], p=[0.5, 0.25, 0.15, 0.1])), n_leads - len(lead_rows)
        )
        account = ""
        if size > 1 or rng.random() < 0.5:
            account = f"A{n_accounts:04d}"
            n_accounts += 1
        territory = str(rng.choice(TERRITORIES))
        industry = str(rng.choice(INDUSTRIES))
        group: list[dict[str, Any]] = []
        for _ in range(size):
            value = int(np.clip(round(math.exp(rng.normal(8.3, 0.9))), 50, TOP_VALUE))
            if values:
                value = int(rng.choice(values))
            group.append(
                {
                    "lead_id": f"L{len(lead_rows) + len(group):04d}",
                    "territory": territory if rng.random() < 0.9 else str(rng.choice(TERRITORIES)),
                    "industry": industry if rng.random() < 0.85 else str(rng.choice(INDUSTRIES)),
                    "skills": ";".join(s for s in SKILLS if rng.random() < 0.12),
                    "value": value,
                    "account_id": account,
                    "current_owner": "",
                    "effort": int(rng.choice([1, 2, 3], p=[0.85, 0.1, 0.05])) if effort else 1,
                }
            )
        if rng.random() < owned:
            _give_owners(rng, group, rep_rows, load, keepable_owners)
        lead_rows.extend(group)
    lead_rows[int(rng.integers(n_leads))]["value"] = max(values) if values else TOP_VALUE
    if effort and not keepable_owners:
        # A rep whose capacity is below the effort of a lead it owns: a forced move.
        small = int(rng.integers(n_reps))
        rep_rows[small]["capacity"] = 2
        rep_rows[small]["min_leads"] = 0
        for x in lead_rows[:40]:
            if x["effort"] == 3:
                x["current_owner"] = rep_rows[small]["rep_id"]
    affinity = pd.DataFrame(
        [
            (rep["rep_id"], industry, round(float(rng.uniform(0.05, 0.8)), 3))
            for rep in rep_rows
            for industry in INDUSTRIES
            if rng.random() < 0.2
        ],
        columns=["rep_id", "industry", "win_rate"],
    )
    if win_rates:
        for rep in rep_rows:
            rep["win_rate"] = float(rng.choice(win_rates))
        return RuleBook(pd.DataFrame(lead_rows), pd.DataFrame(rep_rows), None, policy)
    return RuleBook(pd.DataFrame(lead_rows), pd.DataFrame(rep_rows), affinity, policy)


def _random_reps(rng: np.random.Generator, n_reps: int, leave: float) -> list[dict[str, Any]]:
    """Reps with random territories, industries, skills, win rates and levels, some on leave
    (never the first); capacities and floors are set by the caller."""
    rep_rows: list[dict[str, Any]] = []
    for j in range(n_reps):
        if rng.random() < 0.15:
            territories = "*"
        else:
            k = int(rng.integers(1, 3))
            territories = ";".join(sorted(rng.choice(TERRITORIES, size=k, replace=False)))
        industries = ""
        if rng.random() < 0.5:
            k = int(rng.integers(2, 4))
            industries = ";".join(sorted(rng.choice(INDUSTRIES, size=k, replace=False)))
        rep_rows.append(
            {
                "rep_id": f"R{j:02d}",
                "territories": territories,
                "industries": industries,
                "skills": ";".join(s for s in SKILLS if rng.random() < 0.6),
                "capacity": 0,
                "min_leads": 0,
                "win_rate": round(float(rng.uniform(0.1, 0.6)), 3),
                "level": int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25])),
                "available": "false" if rng.random() < leave and j > 0 else "true",
            }
        )
    return rep_rows


def _give_owners(
    rng: np.random.Generator,
    group: list[dict[str, Any]],
    rep_rows: list[dict[str, Any]],
    load: list[int],
    keepable_owners: bool,
) -> None:
    """Current owners for one account's leads: one available rep eligible for all of them
    with room (``keepable_owners``), else mostly one nearby rep, some on leave or no longer
    eligible."""
    n_reps = len(rep_rows)
    if keepable_owners:
        # An available rep eligible for the whole account, with room for it.
        need = sum(int(x["effort"]) for x in group)
        fit = [
            j
            for j, rep in enumerate(rep_rows)
            if rep["available"] == "true"
            and all(covers(rep, x) for x in group)
            and load[j] + need <= int(rep["capacity"])
        ]
        if fit:
            j = int(rng.choice(fit))
            load[j] += need
            for x in group:
                x["current_owner"] = rep_rows[j]["rep_id"]
    else:
        near = [j for j, rep in enumerate(rep_rows) if covers(rep, group[0])]
        pool = near if near and rng.random() < 0.8 else list(range(n_reps))
        common = int(rng.choice(pool))
        for x in group:
            j = common if rng.random() < 0.85 else int(rng.choice(pool))
            x["current_owner"] = rep_rows[j]["rep_id"]
