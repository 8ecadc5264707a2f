"""Every business rule of the README against an independent exact MILP solved by HiGHS.

The reference (``tests/oracles/milp.py``) is written from README "Business rules" only and
shares no code with leadassign's solver: eligible pairs come from pandas merges
(``tests.oracles.eligibility.eligible_pairs``),
tiers filter those pairs, ``accounts.together`` merges each account's leads into one
*unit* whose reps must be eligible for every lead of it (and have capacity for its summed
effort), hard fairness and continuity are linear rows, soft rules are integer penalty
variables, and the lexicographic objective is two MILP solves (the most leads ``K``; then the
best value score among assignments of ``K`` leads). Every binary stays integral.

The MILP itself is checked first against a plain-Python brute force (every assignment of up
to 6 leads to 3 reps, rules evaluated lead by lead with exact fractions), which needs nothing
from leadassign but the table conventions. Then, on random books of 100-600 leads, leadassign's
``solve`` must agree with the MILP on the status, the assigned count and the value score, its
assignment must pass ``leadassign.check`` and ``tests.oracles.rules.evaluate``, and every
book the MILP proves infeasible must be INFEASIBLE (exit 3 from the CLI) with every rule
named whose removal would make the book feasible.

Value-metric fairness: leadassign compares values rounded to 1e-6 of the largest value and
HiGHS works to 1e-6 tolerances, so that rule is solved twice, with the band tightened and
widened by 1e-6 relative; the books are chosen so the two optima coincide (not borderline),
and leadassign must lie between them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from leadassign import Result, Status
from leadassign.check import check_assignment
from leadassign.cli import main
from tests.oracles.books import ALL_RULES, FAIR_VALUE, TIERS, covers, random_book
from tests.oracles.checker import run_leadassign
from tests.oracles.eligibility import eligible_pairs, is_available
from tests.oracles.milp import VALUE_SLACK, milp_feasible, milp_optimum, reference, value_fairness
from tests.oracles.rules import (
    REL_TOL,
    Optimum,
    PolicyDict,
    Ref,
    RuleBook,
    brute_force,
    close,
    evaluate,
    policy_block,
)

#: words that name each rule in a conflict explanation
RULE_WORDS: dict[str, tuple[str, ...]] = {
    "min_leads": ("min_leads",),
    "fairness": ("fairness",),
    "tiers": ("tier",),
    "continuity": ("continuity", "max_reassign"),
    "accounts": ("account",),
}


# ---------------------------------------------------------------------------------------------
# The MILP against brute force on tiny books
# ---------------------------------------------------------------------------------------------


def tiny_rule_book(seed: int) -> RuleBook:
    """2-6 leads, 3 reps, and a random mix of every rule (hard and soft)."""
    rng = np.random.default_rng(10_000 + seed)
    n = int(rng.integers(2, 7))
    rep_rows = []
    for j in range(3):
        capacity = int(rng.integers(0, 5))
        rep_rows.append(
            {
                "rep_id": f"R{j}",
                "territories": str(rng.choice(["N", "S", "N;S", "*"])),
                "industries": str(rng.choice(["", "", "fin", "soft", "fin;soft"])),
                "skills": "",
                "capacity": capacity,
                "min_leads": int(rng.integers(0, min(capacity, 2) + 1))
                if rng.random() < 0.3
                else 0,
                "win_rate": round(float(rng.uniform(0.1, 0.9)), 3),
                "level": int(rng.integers(1, 4)),
                "available": "false" if rng.random() < 0.12 else "true",
            }
        )
    lead_rows = []
    for i in range(n):
        lead_rows.append(
            {
                "lead_id": f"L{i}",
                "territory": str(rng.choice(["N", "S"])),
                "industry": str(rng.choice(["fin", "soft"])),
                "skills": "",
                "value": int(rng.integers(1, 101)),
                "account_id": str(rng.choice(["", "", "A", "B"])),
                "current_owner": str(rng.choice(["", "R0", "R1", "R2"])),
                "effort": 1 if rng.random() < 0.7 else 2,
            }
        )
    policy: PolicyDict = {}
    if rng.random() < 0.4:
        policy["tiers"] = [{"min_value": 50, "min_level": 2}]
        if rng.random() < 0.5:
            policy["tiers"].append({"min_value": 80, "min_level": 3})
    if rng.random() < 0.5:
        metric = "value" if rng.random() < 0.3 else "count"
        soft = metric == "count" and rng.random() < 0.3
        policy["fairness"] = {
            "metric": metric,
            "band": float(rng.choice([0.2, 0.5, 1.0] if metric == "value" else [0, 0.2, 0.5, 1])),
            "within": str(rng.choice(["all", "level"])),
            "mode": "soft" if soft else "hard",
            "weight": 7.0,
        }
    if rng.random() < 0.5:
        block: dict[str, Any] = {
            "keep_bonus": float(rng.choice([0.0, 3.0])),
            "mode": "soft" if rng.random() < 0.3 else "hard",
            "weight": 11.0,
        }
        if rng.random() < 0.85:
            block["max_reassign"] = float(rng.choice([0.0, 0.25, 0.5, 1.0]))
        policy["continuity"] = block
    if rng.random() < 0.5:
        policy["accounts"] = {"together": bool(rng.random() < 0.85)}
    return RuleBook(pd.DataFrame(lead_rows), pd.DataFrame(rep_rows), None, policy)


N_TINY = 100


def test_milp_matches_brute_force_on_tiny_books() -> None:
    """The MILP reference itself, against enumeration (independent of leadassign)."""
    infeasible = soft = value_metric = accounts = forced = 0
    for seed in range(N_TINY):
        book = tiny_rule_book(seed)
        want = brute_force(book)
        tight, loose = reference(book)
        where = f"seed {seed}, policy {book.policy}"
        if want is None:
            infeasible += 1
            assert loose is None, where
            continue
        # Values are small integers here, so the widened band admits nothing more than the
        # exact one; the tightened one may lose solutions on the band's edge.
        assert loose is not None, where
        assert loose.assigned == want.assigned, (where, want, loose)
        assert close(loose.score, want.score, 1e-9), (where, want, loose)
        if tight is not None and tight.assigned == want.assigned:
            assert tight.score <= want.score + 1e-9, (where, want, tight)
        ref = Ref.build(book)
        soft += any(
            policy_block(book.policy, k).get("mode") == "soft" for k in ("fairness", "continuity")
        )
        value_metric += value_fairness(book)
        accounts += bool(ref.accounts)
        forced += any(ref.forced) and "continuity" in book.policy
    # The seeds really exercise every rule (guards the generator).
    assert infeasible >= 15, infeasible
    assert soft >= 12, soft
    assert value_metric >= 10, value_metric
    assert accounts >= 15, accounts
    assert forced >= 25, forced


def test_brute_force_on_hand_solved_rules() -> None:
    # R0 (level 1) and R1 (level 2), one slot each; L0 (value 90, owned by R0), L1 (10).
    # Tier 50 -> level 2: L0 only to R1, so R0's ownership is a forced move, and with
    # max_reassign 0 the optimum still assigns both: L0 -> R1, L1 -> R0.
    leads = pd.DataFrame(
        {
            "lead_id": ["L0", "L1"],
            "territory": "T",
            "industry": "x",
            "skills": "",
            "value": [90, 10],
            "account_id": "",
            "current_owner": ["R0", ""],
            "effort": 1,
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["R0", "R1"],
            "territories": "T",
            "industries": "",
            "skills": "",
            "capacity": [1, 1],
            "min_leads": 0,
            "win_rate": [0.5, 0.5],
            "level": [1, 2],
            "available": "true",
        }
    )
    policy: PolicyDict = {
        "tiers": [{"min_value": 50, "min_level": 2}],
        "continuity": {"max_reassign": 0, "keep_bonus": 100},
    }
    book = RuleBook(leads, reps, None, policy)
    assert brute_force(book) == Optimum(2, 50.0, 50.0, (1, 0))
    assert milp_optimum(book) == Optimum(2, 50.0, 50.0, (1, 0))
    # Without tiers R0 keeps L0 (45 + bonus 100) and L1 goes to R1.
    free = book.with_policy(tiers=None)
    assert brute_force(free) == Optimum(2, 150.0, 50.0, (0, 1))
    # Accounts: L0 and L1 together, one slot each: nobody can take both.
    joined = free.with_leads(leads.assign(account_id="A")).with_policy(
        accounts={"together": True}, continuity=None
    )
    assert brute_force(joined) == Optimum(0, 0.0, 0.0, (-1, -1))
    # Fairness count band 0 within all, equal capacities: 1 lead each or none.
    fair = free.with_policy(continuity=None, fairness={"metric": "count", "band": 0})
    assert brute_force(fair) == Optimum(2, 50.0, 50.0, (0, 1))
    # ... and with R1 unable to take anything (territory), nobody gets anything.
    lonely = fair.with_reps(reps.assign(territories=["T", "Z"]))
    assert brute_force(lonely) == Optimum(0, 0.0, 0.0, (-1, -1))
    # ... unless fairness is soft: weight 10 per lead of excess (E = 1 with one lead on R0;
    # both leads on R0 would need capacity).
    soft = lonely.with_policy(fairness={"metric": "count", "band": 0, "mode": "soft", "weight": 10})
    assert brute_force(soft) == Optimum(1, 35.0, 45.0, (0, -1))
    assert milp_optimum(soft) == Optimum(1, 35.0, 45.0, (0, -1))


# ---------------------------------------------------------------------------------------------
# Random books of hundreds of leads
# ---------------------------------------------------------------------------------------------


def rep_positions(book: RuleBook, rep_ids: Sequence[str]) -> list[int]:
    index = {str(r): j for j, r in enumerate(book.reps["rep_id"].tolist())}
    return [index[r] if r else -1 for r in rep_ids]


def active_rules(book: RuleBook) -> list[str]:
    rules = []
    available = book.reps["available"].map(is_available)
    if (book.reps["min_leads"].astype(int)[available] > 0).any():
        rules.append("min_leads")
    if book.policy.get("tiers"):
        rules.append("tiers")
    fairness = policy_block(book.policy, "fairness")
    if fairness and fairness.get("mode", "hard") == "hard":
        rules.append("fairness")
    continuity = policy_block(book.policy, "continuity")
    if continuity.get("max_reassign") is not None and continuity.get("mode", "hard") == "hard":
        rules.append("continuity")
    if policy_block(book.policy, "accounts").get("together", False):
        rules.append("accounts")
    return rules


def without(book: RuleBook, rule: str) -> RuleBook:
    if rule == "min_leads":
        return book.with_reps(book.reps.assign(min_leads=0))
    return book.with_policy(**{rule: None})


def necessary_rules(book: RuleBook) -> list[str]:
    """The rules whose removal alone makes an infeasible book feasible (every conflict
    involves them, so an explanation must name them)."""
    pairs = eligible_pairs(book.leads, book.reps, book.affinity)  # the same for all
    return [rule for rule in active_rules(book) if milp_feasible(without(book, rule), pairs)]


def assert_names(text: str, rules: Sequence[str], where: str) -> None:
    lowered = text.lower()
    missing = [rule for rule in rules if not any(w in lowered for w in RULE_WORDS[rule])]
    assert not missing, f"{where}: conflicts do not name {missing}: {text!r}"


def describe(result: Result) -> str:
    return (
        f"leadassign: {result.status.value}, assigned {result.assigned}, "
        f"objective {result.objective}, expected_value {result.expected_value}, "
        f"conflicts {result.conflicts}"
    )


def compare(book: RuleBook, where: str) -> Result:
    """leadassign against the MILP on one book (see the module docstring)."""
    tight, loose = reference(book)
    problem, policy, result = run_leadassign(book)
    if loose is None:
        assert result.status == Status.INFEASIBLE, f"{where}: MILP infeasible; {describe(result)}"
        assert result.conflicts, f"{where}: an infeasible result must explain itself"
        necessary = necessary_rules(book)
        assert necessary, f"{where}: no single rule is necessary; pick another book"
        assert_names(" ".join(result.conflicts), necessary, where)
        return result
    assert tight is not None, f"{where}: borderline book (tight infeasible); pick another"
    assert tight.assigned == loose.assigned and close(tight.score, loose.score, 1e-9), (
        f"{where}: borderline book {tight} {loose}; pick another"
    )
    milp_says = f"MILP: assigned {tight.assigned}, score {tight.score}, ev {tight.expected_value}"
    assert result.status in (Status.OPTIMAL, Status.FEASIBLE), f"{where}: {milp_says}; " + (
        describe(result)
    )
    assert result.assigned == tight.assigned, f"{where}: {milp_says}; {describe(result)}"
    assert result.objective is not None and result.expected_value is not None
    assert tight.score - REL_TOL * abs(tight.score) - 1e-6 <= result.objective, (
        f"{where}: {milp_says}; {describe(result)}"
    )
    assert result.objective <= loose.score + REL_TOL * abs(loose.score) + 1e-6, (
        f"{where}: {milp_says}; {describe(result)}"
    )
    rep_ids = result.assignments["rep_id"].fillna("").astype(str).tolist()
    check = check_assignment(problem, policy, rep_ids)
    assert check.ok, f"{where}: check_assignment: {check.violations[:5]}"
    mine = evaluate(
        Ref.build(book),
        rep_positions(book, rep_ids),
        Fraction(VALUE_SLACK) if value_fairness(book) else Fraction(0),
    )
    assert not mine.violations, f"{where}: leadassign's assignment breaks {mine.violations[:5]}"
    assert mine.assigned == result.assigned
    assert close(mine.score, result.objective), (where, mine, result.objective)
    assert close(mine.expected_value, result.expected_value), (where, mine, result.expected_value)
    return result


SOFT_FAIRNESS: PolicyDict = {"metric": "count", "band": 0.1, "mode": "soft", "weight": 500}
SOFT_CONTINUITY: PolicyDict = {
    "max_reassign": 0.05,
    "mode": "soft",
    "weight": 300,
    "keep_bonus": 20,
}

#: (rule, seed, leads, reps, policy, random_book options). Sizes are kept where leadassign's
#: CP-SAT proves the optimum in seconds on 2 workers.
CASES: list[tuple[str, int, int, int, PolicyDict, dict[str, Any]]] = [
    ("tiers", 1, 600, 25, {"tiers": TIERS}, {}),
    ("tiers-floors", 2, 300, 12, {"tiers": TIERS}, {"floors": 0.5}),
    ("fairness-count-all", 3, 400, 15, {"fairness": {"metric": "count", "band": 0.25}}, {}),
    (
        "fairness-count-level",
        4,
        400,
        15,
        {"fairness": {"metric": "count", "band": 0.3, "within": "level"}},
        {},
    ),
    # Value-metric fairness makes the value stage a multiple knapsack that HiGHS proves in
    # seconds only when expected value is proportional to lead value (one win rate).
    ("fairness-value", 5, 250, 10, {"fairness": FAIR_VALUE}, {"win_rates": (0.3,)}),
    (
        "fairness-value-level",
        6,
        250,
        10,
        {"fairness": {**FAIR_VALUE, "within": "level"}},
        {"win_rates": (0.3,)},
    ),
    ("continuity", 6, 500, 20, {"continuity": {"max_reassign": 0.1}}, {"effort": True}),
    (
        "continuity-keep-bonus",
        8,
        250,
        10,
        {"continuity": {"max_reassign": 0.25, "keep_bonus": 300}},
        {},
    ),
    ("accounts", 9, 300, 12, {"accounts": {"together": True}}, {"effort": True}),
    ("all-together", 11, 250, 10, ALL_RULES, {"effort": True}),
    ("soft-fairness-count", 12, 100, 8, {"fairness": SOFT_FAIRNESS}, {}),
    ("soft-continuity", 13, 100, 8, {"continuity": SOFT_CONTINUITY}, {"slack": 0.8}),
]


@pytest.mark.parametrize(
    ("rule", "seed", "n_leads", "n_reps", "policy", "options"),
    CASES,
    ids=[f"{c[0]}-{c[1]}" for c in CASES],
)
def test_rule_matches_milp(
    rule: str, seed: int, n_leads: int, n_reps: int, policy: PolicyDict, options: dict[str, Any]
) -> None:
    book = random_book(seed, n_leads, n_reps, policy, **options)
    compare(book, f"rule {rule}, seed {seed}")


# ---------------------------------------------------------------------------------------------
# Books the MILP proves infeasible
# ---------------------------------------------------------------------------------------------


def _eligible_count(book: RuleBook, rep: int, below: float = math.inf) -> int:
    pairs = eligible_pairs(book.leads, book.reps, book.affinity)
    mine = pairs[pairs["ri"] == rep]
    return int((book.leads["value"].to_numpy()[mine["li"].to_numpy()] < below).sum())


def infeasible_min_leads_fairness() -> RuleBook:
    # R00 covers no territory with leads (share > 0, gets nothing): fairness then allows only
    # the empty assignment, and R01 has a floor.
    book = random_book(21, 200, 10, {"fairness": {"metric": "count", "band": 0.1}}, floors=0)
    reps = book.reps.assign(available="true")
    reps.loc[0, "territories"] = "Z"
    reps.loc[1, "min_leads"] = 3
    return book.with_reps(reps)


def infeasible_continuity_capacity() -> RuleBook:
    # max_reassign 0, and the busiest owner's capacity cut below what it owns.
    book = random_book(
        22, 200, 10, {"continuity": {"max_reassign": 0}}, floors=0, keepable_owners=True
    )
    owners = book.leads["current_owner"]
    owned = owners[owners != ""].value_counts()
    busiest = str(owned.index[0])
    reps = book.reps.copy()
    reps.loc[reps["rep_id"] == busiest, "capacity"] = int(owned.iloc[0]) - 2
    return book.with_reps(reps)


def infeasible_accounts_continuity() -> RuleBook:
    # max_reassign 0 and one account of two leads owned by two reps that may both take it.
    book = random_book(
        23,
        200,
        10,
        {"continuity": {"max_reassign": 0}, "accounts": {"together": True}},
        floors=0,
        keepable_owners=True,
    )
    leads, reps = book.leads.copy(), book.reps.copy()
    rows = reps.to_dict("records")
    for _, group in leads.groupby("account_id"):
        if len(group) < 2 or group["account_id"].iloc[0] == "":
            continue
        fit = [
            j
            for j, rep in enumerate(rows)
            if is_available(rep["available"])
            and all(covers(rep, x) for x in group.to_dict("records"))
        ]
        if len(fit) >= 2:
            # The first reps that may take the account own it, except its second lead.
            leads.loc[group.index, "current_owner"] = rows[fit[0]]["rep_id"]
            leads.loc[group.index[1], "current_owner"] = rows[fit[1]]["rep_id"]
            reps.loc[fit[:2], "capacity"] = reps.loc[fit[:2], "capacity"] + 4
            return RuleBook(leads, reps, book.affinity, book.policy)
    raise AssertionError("no account with two possible owners")


def infeasible_tiers_min_leads() -> RuleBook:
    # A novice's floor is one more than the leads under the tier threshold it may take.
    book = random_book(24, 200, 10, {"tiers": [{"min_value": 3000, "min_level": 2}]}, floors=0)
    reps = book.reps.assign(available="true")
    novice = int(np.flatnonzero(reps["level"].to_numpy() == 1)[0])
    low = _eligible_count(book.with_reps(reps), novice, below=3000)
    assert _eligible_count(book.with_reps(reps), novice) > low + 1
    reps.loc[novice, "min_leads"] = low + 1
    reps.loc[novice, "capacity"] = max(int(reps["capacity"].iloc[novice]), low + 1)
    return book.with_reps(reps)


def infeasible_fairness_continuity() -> RuleBook:
    # max_reassign 0 keeps owned leads; R00 can take nothing, so fairness allows nothing.
    book = random_book(
        25,
        200,
        10,
        {"continuity": {"max_reassign": 0}, "fairness": {"metric": "count", "band": 0.2}},
        floors=0,
        keepable_owners=True,
    )
    reps = book.reps.copy()
    reps.loc[0, "territories"] = "Z"
    reps.loc[0, "available"] = "true"
    leads = book.leads.assign(current_owner=book.leads["current_owner"].replace("R00", ""))
    return RuleBook(leads, reps, book.affinity, book.policy)


INFEASIBLE: dict[str, tuple[Any, list[str]]] = {
    "min_leads+fairness": (infeasible_min_leads_fairness, ["min_leads", "fairness"]),
    "continuity+capacity": (infeasible_continuity_capacity, ["continuity"]),
    "accounts+continuity": (infeasible_accounts_continuity, ["accounts", "continuity"]),
    "tiers+min_leads": (infeasible_tiers_min_leads, ["tiers", "min_leads"]),
    "fairness+continuity": (infeasible_fairness_continuity, ["fairness", "continuity"]),
}


def _cli_inputs(book: RuleBook, folder: Path) -> list[str]:
    book.leads.to_csv(folder / "leads.csv", index=False)
    book.reps.to_csv(folder / "reps.csv", index=False)
    (folder / "policy.yaml").write_text(yaml.safe_dump(book.policy), encoding="utf-8")
    args = ["--leads", str(folder / "leads.csv"), "--reps", str(folder / "reps.csv")]
    if book.affinity is not None:
        book.affinity.to_csv(folder / "affinity.csv", index=False)
        args += ["--affinity", str(folder / "affinity.csv")]
    return [*args, "--policy", str(folder / "policy.yaml")]


@pytest.mark.parametrize("name", list(INFEASIBLE))
def test_infeasible_rules_are_named(name: str, tmp_path: Path) -> None:
    make, rules = INFEASIBLE[name]
    book: RuleBook = make()
    assert milp_optimum(book) is None, f"{name}: the MILP finds a solution"
    assert necessary_rules(book) == sorted(rules, key=active_rules(book).index), name
    _, _, result = run_leadassign(book)
    assert result.status == Status.INFEASIBLE, f"{name}: {describe(result)}"
    assert_names(" ".join(result.conflicts), rules, name)

    out = tmp_path / "out"
    done = CliRunner().invoke(
        main, ["solve", *_cli_inputs(book, tmp_path), "--out", str(out), "--workers", "2"]
    )
    assert done.exit_code == 3, (name, done.exit_code, done.stdout, done.stderr)
    assert_names(done.stderr, rules, f"{name} (CLI)")
    assert sorted(p.name for p in out.iterdir()) == [".leadassign-manifest.json", "summary.json"]


def test_max_reassign_is_read_as_a_decimal() -> None:
    # 100 owned leads, max_reassign 0.29: floor(0.29 * 100) = 29 changes allowed (in floats
    # 0.29 * 100 = 28.999999999999996). R0 owns all of them but has room for 71.
    n = 100
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i:03d}" for i in range(n)],
            "territory": "T",
            "industry": "x",
            "skills": "",
            "value": np.arange(1, n + 1) * 10,
            "account_id": "",
            "current_owner": "R0",
            "effort": 1,
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["R0", "R1"],
            "territories": "T",
            "industries": "",
            "skills": "",
            "capacity": [71, 100],
            "min_leads": 0,
            "win_rate": [0.5, 0.4],
            "level": 1,
            "available": "true",
        }
    )
    book = RuleBook(leads, reps, None, {"continuity": {"max_reassign": 0.29}})
    want = milp_optimum(book)
    assert want is not None and want.assigned == n
    result = compare(book, "max_reassign 0.29")
    assert result.assigned == n


@pytest.mark.parametrize("seed", [33, 41])
def test_random_infeasible_books_match_milp(seed: int) -> None:
    """All rules at once with floors on most reps: the MILP proves these seeds infeasible
    (by chance, not by construction), and leadassign must agree and name the rules."""
    policy = {**ALL_RULES, "fairness": {"metric": "count", "band": 0.15}}
    policy["continuity"] = {"max_reassign": 0.05}
    book = random_book(seed, 200, 10, policy, floors=0.8)
    assert not milp_feasible(book), "the seed no longer gives an infeasible book"
    compare(book, f"all rules with floors, seed {seed}")
