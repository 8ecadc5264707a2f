"""The policy's business rules (README "Business rules") on tiny hand-solved books.

Per rule: feasible books whose optimum is derived by hand in a comment, books that the rule
makes infeasible (with the conflict named in words, both from the cheap pre-checks and from
the assumption core of ``explain``), the rules together on one book, the independent validator
catching each kind of violation, the reasons, runner-up columns and summary figures, and the
CLI's exit code 3. Every solution is checked by ``leadassign.check.check_assignment``, whose
``score`` (value score) and ``expected_value`` must equal the result's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from leadassign import Policy, Problem, Result, Status, solve
from leadassign.check import check_assignment
from leadassign.cli import main
from leadassign.compile.prepare import prepare
from leadassign.output import write_result
from leadassign.solve.explain import precheck
from tests.helpers import frame, lead, owners, problem_of, rep

#: "auto" picks the min-cost flow where the README says it applies (tiers, floors or
#: keep_bonus alone); the tests then also check that it did.
FLOW_TOO = ["cpsat", "auto"]


def policy(**blocks: Any) -> Policy:
    return Policy.model_validate(blocks)


def run(problem: Problem, pol: Policy, method: str = "cpsat") -> Result:
    """Solve on 2 workers; check any solution with the independent validator."""
    result = solve(problem, pol, method=method, workers=2)  # type: ignore[arg-type]
    if method == "cpsat":
        assert result.method == "cpsat"
    if result.has_solution:
        check = check_assignment(problem, pol, result.assignments["rep_id"].fillna("").tolist())
        assert check.ok, check.violations
        assert check.assigned == result.assigned
        assert result.expected_value == pytest.approx(check.expected_value, abs=1e-9)
        assert result.objective == pytest.approx(check.score, abs=1e-6)
        assert result.gap is not None and result.gap <= 1e-9
    else:
        assert result.objective is None and result.expected_value is None
    return result


def optimal(problem: Problem, pol: Policy, method: str = "cpsat") -> Result:
    result = run(problem, pol, method)
    assert result.status == Status.OPTIMAL, result.conflicts
    return result


def infeasible(problem: Problem, pol: Policy, method: str = "cpsat") -> str:
    """Solve a book that must be INFEASIBLE; return its one conflict message."""
    result = run(problem, pol, method)
    assert result.status == Status.INFEASIBLE
    assert not result.has_solution
    assert len(result.conflicts) >= 1
    return "; ".join(result.conflicts)


def caught_early(problem: Problem, pol: Policy) -> bool:
    """Did the cheap pre-checks (before any search) find a conflict?"""
    return bool(precheck(problem, pol, prepare(problem, pol)))


def reasons(result: Result) -> dict[str, tuple[str, str]]:
    table = result.assignments.fillna({"detail": ""})  # <NA>: no detail
    return {
        str(i): (str(r), str(d))
        for i, r, d in zip(table["lead_id"], table["reason"], table["detail"], strict=True)
    }


# --------------------------------------------------------------------------------- tiers

TIERS = [{"min_value": 100, "min_level": 3}, {"min_value": 50, "min_level": 2}]


def tiered_book() -> Problem:
    return problem_of(
        [lead("L1", 150), lead("L2", 60), lead("L3", 50), lead("L4", 49), lead("L5", 10)],
        [
            rep("Rsen", 2, level=3, win_rate=0.5),
            rep("Rmid", 2, level=2, win_rate=0.8),
            rep("Rjun", 2, level=1, win_rate=1.0),
        ],
    )


@pytest.mark.parametrize("method", FLOW_TOO)
def test_tiers_send_valuable_leads_to_experienced_reps(method: str) -> None:
    # L1 (150 >= 100) needs level 3: only Rsen (75). L2 (60) and L3 (exactly 50: the tier
    # applies at >=) need level 2: Rmid (0.8) beats Rsen (0.5): 48 + 40, within Rmid's 2 slots.
    # L4 (49, below every tier) and L5 (10) go to Rjun (1.0): 49 + 10. Every lead is with its
    # best allowed rep and every rep's share fits its 2 slots, so this is the unique optimum:
    # 75 + 48 + 40 + 49 + 10 = 222. Without tiers Rjun (1.0) would take L1 and L2 instead.
    r = optimal(tiered_book(), policy(tiers=TIERS), method)
    if method == "auto":
        assert r.method == "flow"
    assert owners(r) == {"L1": "Rsen", "L2": "Rmid", "L3": "Rmid", "L4": "Rjun", "L5": "Rjun"}
    assert r.objective == pytest.approx(222)
    assert r.expected_value == pytest.approx(222)
    assert r.assignments["eligible_reps"].tolist() == [1, 2, 2, 3, 3]


@pytest.mark.parametrize("method", FLOW_TOO)
def test_tiers_alone_never_infeasible_the_lead_gets_no_eligible_rep(method: str) -> None:
    # L1 (150) needs level 3 and nobody has it: it stays unassigned for its tier, the run is
    # still OPTIMAL. L2 (20) goes to the better rate: R1 (1.0) over R2 (0.5): objective 20.
    p = problem_of(
        [lead("L1", 150), lead("L2", 20)],
        [rep("R1", 2, level=1), rep("R2", 2, level=2, win_rate=0.5)],
    )
    r = optimal(p, policy(tiers=[{"min_value": 100, "min_level": 3}]), method)
    if method == "auto":
        assert r.method == "flow"
    assert owners(r) == {"L1": "", "L2": "R1"}
    assert r.objective == pytest.approx(20) and r.expected_value == pytest.approx(20)
    reason, detail = reasons(r)["L1"]
    assert reason == "no_eligible_rep"
    assert "tiers" in detail and "level 3" in detail
    assert r.assignments["eligible_reps"].tolist() == [0, 2]


def test_tiers_with_min_leads_infeasible_is_caught_early() -> None:
    # R1 (level 1) must get 2 leads, but tiers leave it only L3: L1 and L2 (>= 100) need
    # level 3.
    p = problem_of(
        [lead("L1", 150), lead("L2", 120), lead("L3", 10)],
        [rep("R1", 2, level=1, min_leads=2), rep("R2", 3, level=3)],
    )
    pol = policy(tiers=[{"min_value": 100, "min_level": 3}])
    assert caught_early(p, pol)
    for method in FLOW_TOO:
        message = infeasible(p, pol, method)
        assert "min_leads 2 for R1" in message and "1 lead is eligible" in message
        assert "tiers took 2 more away" in message
        assert "R2" not in message


def test_tiers_in_an_assumption_core() -> None:
    # Value fairness, band 0, equal capacities: both reps hold the same lead value. R1 must get
    # a lead (min_leads 1); without tiers R1 takes L1 and R2 takes L2 (100 = 100). With the
    # tier R1 (level 1) may only take L3 (40) and no set of the others sums to 40.
    # No pre-check covers value fairness: the assumption core names the tier.
    p = problem_of(
        [lead("L1", 100), lead("L2", 100), lead("L3", 40)],
        [rep("R1", 1, level=1, min_leads=1), rep("R2", 1, level=3)],
    )
    fair = {"band": 0, "metric": "value"}
    assert run(p, policy(fairness=fair)).status == Status.OPTIMAL
    pol = policy(tiers=[{"min_value": 100, "min_level": 3}], fairness=fair)
    assert not caught_early(p, pol)
    message = infeasible(p, pol)
    assert "tier: leads of value >= 100 only to reps of level >= 3" in message
    assert "min_leads 1 for R1" in message
    assert "fairness band 0 (value)" in message


# ----------------------------------------------------------------------------- min_leads


@pytest.mark.parametrize("method", FLOW_TOO)
def test_min_leads_gives_the_floor_the_cheapest_leads(method: str) -> None:
    # All 4 leads fit (capacity 6). R1 (0.9) would take the top 3 (153) and R2 the last (5):
    # 158. R2 needs 2: with S the set R2 gets, value = 0.9*180 - 0.4*sum(S), smallest with
    # |S| >= 2 is {20, 10}: 162 - 12 = 150 (R1: 135, R2: 15).
    p = problem_of(
        [lead("L1", 100), lead("L2", 50), lead("L3", 20), lead("L4", 10)],
        [rep("R1", 3, win_rate=0.9), rep("R2", 3, win_rate=0.5, min_leads=2)],
    )
    r = optimal(p, policy(), method)
    if method == "auto":
        assert r.method == "flow"
    assert owners(r) == {"L1": "R1", "L2": "R1", "L3": "R2", "L4": "R2"}
    assert r.objective == pytest.approx(150) and r.expected_value == pytest.approx(150)


def test_min_leads_above_the_eligible_leads_is_caught_early() -> None:
    p = problem_of(
        [lead("A1", 1, "A"), lead("A2", 1, "A"), lead("B1", 1, "B")],
        [rep("R1", 3, "*"), rep("R2", 3, "A", min_leads=3)],
    )
    assert caught_early(p, policy())
    message = infeasible(p, policy())
    assert message == "min_leads 3 for R2 but only 2 leads are eligible"


def test_min_leads_of_reps_sharing_leads_names_only_those_reps() -> None:
    # R1 and R2 each see both A leads (2 each, enough alone) but need 4 of those 2 together
    # (Hall's condition); R3's floor is met by the B leads and must not be blamed.
    p = problem_of(
        [lead("A1", 1, "A"), lead("A2", 1, "A"), lead("B1", 1, "B"), lead("B2", 1, "B")],
        [rep("R1", 2, "A", min_leads=2), rep("R2", 2, "A", min_leads=2), rep("R3", 2, "*")],
    )
    message = infeasible(p, policy())
    assert (
        message == "min_leads of R1, R2 add up to 4 but only 2 leads are eligible for any of them"
    )


def test_capacity_against_min_leads_in_effort_is_caught_early() -> None:
    # R1 must get 2 leads; its lightest two take 2 + 2 = 4 effort, capacity 3.
    p = problem_of(
        [lead("L1", 5, effort=2), lead("L2", 5, effort=2), lead("L3", 5, "B")],
        [rep("R1", 3, min_leads=2), rep("R2", 3, "B")],
    )
    message = infeasible(p, policy())
    assert message == "min_leads 2 for R1 needs at least 4 effort but its capacity is 3"


def test_capacity_in_an_assumption_core() -> None:
    # The same conflict, but an account kept together elsewhere (X, served by R2) turns the
    # effort pre-check off, so the assumption core finds it: R1's floor against its capacity,
    # not R2 or R3 (whose floor holds).
    p = problem_of(
        [
            lead("L1", 5, effort=2),
            lead("L2", 5, effort=2),
            lead("X1", 1, "B", account_id="X"),
            lead("X2", 1, "B", account_id="X"),
            lead("C1", 1, "C"),
        ],
        [rep("R1", 3, min_leads=2), rep("R2", 3, "B"), rep("R3", 1, "C", min_leads=1)],
    )
    pol = policy(accounts={"together": True})
    assert not caught_early(p, pol)
    message = infeasible(p, pol)
    assert message == (
        "these rules cannot all hold together: min_leads 2 for R1; capacity of R1 (3)"
    )


# ------------------------------------------------------------------------------ fairness


def five_leads(caps: int) -> Problem:
    return problem_of(
        [lead(f"L{k}", v) for k, v in enumerate([50, 40, 30, 20, 10], 1)],
        [rep("R1", caps, win_rate=1.0), rep("R2", caps, win_rate=0.5)],
    )


def test_fairness_count_band_zero_holds_a_lead_back() -> None:
    # Equal capacities, band 0: both reps get the same number of leads, so at most 4 of the 5
    # are assigned (2 + 2). Value = 0.5*sum(the 4 leads) + 0.5*sum(R1's two): drop the
    # smallest (10) and give R1 the two largest: 0.5*140 + 0.5*90 = 115 (R1 90, R2 25).
    r = optimal(five_leads(3), policy(fairness={"band": 0}))
    assert r.method in ("mip", "cpsat")
    assert owners(r) == {"L1": "R1", "L2": "R1", "L3": "R2", "L4": "R2", "L5": ""}
    assert r.objective == pytest.approx(115) and r.expected_value == pytest.approx(115)
    reason, detail = reasons(r)["L5"]
    assert reason == "held_back" and "fairness" in detail


def test_fairness_count_band_allows_a_three_two_split() -> None:
    # Capacities 4 and 4, 5 leads, band 0.2: each rep within [0.8, 1.2] * 2.5 = [2, 3] leads.
    # R1 (1.0) takes the best 3: 120; R2 (0.5) the other 2: 15 -> 135. (Without fairness R1
    # takes 4: 140 + 5 = 145.)
    r = optimal(five_leads(4), policy(fairness={"band": 0.2}))
    assert owners(r) == {"L1": "R1", "L2": "R1", "L3": "R1", "L4": "R2", "L5": "R2"}
    assert r.objective == pytest.approx(135) and r.expected_value == pytest.approx(135)
    assert optimal(five_leads(4), policy()).objective == pytest.approx(145)


def level_book() -> Problem:
    return problem_of(
        [lead(f"L{k}", v) for k, v in enumerate([50, 40, 30, 20, 10], 1)],
        [
            rep("R1", 2, level=1, win_rate=1.0),
            rep("R2", 2, level=1, win_rate=0.2),
            rep("R3", 4, level=2, win_rate=0.5),
        ],
    )


def test_fairness_count_within_level_compares_peers_only() -> None:
    # Within level, band 0: R1 and R2 (level 1) get equal counts; R3 is alone at level 2.
    # All 5 fit only as (1, 1, 3) or (2, 2, 1) ((0, 0, 4) leaves one out). Best (1,1,3): R1
    # 50, R2 10 (2), R3 40+30+20 (45) = 97.
    # (2,2,1): R1 50+40 (90), R3 30 (15), R2 20+10 (6) = 111 (R3 20 and R2 30+10: 108).
    r = optimal(level_book(), policy(fairness={"band": 0, "within": "level"}))
    assert owners(r) == {"L1": "R1", "L2": "R1", "L3": "R3", "L4": "R2", "L5": "R2"}
    assert r.objective == pytest.approx(111) and r.expected_value == pytest.approx(111)


def test_fairness_count_within_all_uses_capacity_shares() -> None:
    # Within all, band 0: shares 2/8, 2/8, 4/8, so M is a multiple of 4: at most 4 leads,
    # (1, 1, 2). R1 50; R3 40 + 30 (35); R2 the 4th: 20 (4) rather than 10: 89, L5 held back.
    r = optimal(level_book(), policy(fairness={"band": 0, "within": "all"}))
    assert owners(r) == {"L1": "R1", "L2": "R3", "L3": "R3", "L4": "R2", "L5": ""}
    assert r.objective == pytest.approx(89) and r.expected_value == pytest.approx(89)


def test_fairness_value_within_all() -> None:
    # Value metric, band 0.5, equal capacities 2 and 2: all 4 leads fit (2 + 2), M = 200 and
    # each rep's value within [50, 150]. R1 (1.0) would like {100, 60} = 160 > 150; R1
    # {30, 10} = 40 < 50 is out too. The other splits, R1 / R2: {100, 30}/{60, 10}: 130 + 35
    # = 165; {100, 10}/{60, 30}: 110 + 45 = 155; {60, 30}/{100, 10}: 90 + 55 = 145;
    # {60, 10}/{100, 30}: 70 + 65 = 135. So 165.
    p = problem_of(
        [lead("L1", 100), lead("L2", 60), lead("L3", 30), lead("L4", 10)],
        [rep("R1", 2, win_rate=1.0), rep("R2", 2, win_rate=0.5)],
    )
    r = optimal(p, policy(fairness={"band": 0.5, "metric": "value"}))
    assert owners(r) == {"L1": "R1", "L2": "R2", "L3": "R1", "L4": "R2"}
    assert r.objective == pytest.approx(165) and r.expected_value == pytest.approx(165)


def value_level_book() -> Problem:
    return problem_of(
        [lead("L1", 100), lead("L2", 60), lead("L3", 30), lead("L4", 10)],
        [
            rep("R1", 2, level=1, win_rate=1.0),
            rep("R2", 2, level=1, win_rate=0.5),
            rep("R3", 2, level=2, win_rate=0.75),
        ],
    )


def test_fairness_value_within_level() -> None:
    # Value metric, band 0.5, within level: R1 and R2 (level 1) each within [0.25, 0.75] of
    # their group's value M1; R3 is alone at level 2. All 4 leads are assigned (R3 alone takes
    # at most 2, so the level-1 group is not empty, and then both of its reps have leads).
    # R1 {100, 60} breaks 0.75*M1 whatever R2 gets (160 > 0.75 * 200). Best balanced options:
    # R1 {100, 30}, R2 {60} (M1 190: 130 <= 142.5, 60 >= 47.5), R3 {10}: 130 + 30 + 7.5 = 167.5;
    # R1 {100}, R2 {30, 10} (M1 140: 100 <= 105), R3 {60}: 100 + 20 + 45 = 165;
    # R1 {100, 10}, R2 {60}, R3 {30}: 110 + 30 + 22.5 = 162.5. So 167.5.
    r = optimal(
        value_level_book(), policy(fairness={"band": 0.5, "metric": "value", "within": "level"})
    )
    assert owners(r) == {"L1": "R1", "L2": "R2", "L3": "R1", "L4": "R3"}
    assert r.objective == pytest.approx(167.5) and r.expected_value == pytest.approx(167.5)


def test_fairness_value_within_all_on_the_same_book() -> None:
    # Within all, shares 1/3: each rep within [1/6, 1/2] * M; R3 {10} (10 < 200/6) is out.
    # R1 {100}, R2 {30, 10}, R3 {60}: 100, 40, 60 all within [33.3, 100]: 165.
    r = optimal(value_level_book(), policy(fairness={"band": 0.5, "metric": "value"}))
    assert owners(r) == {"L1": "R1", "L2": "R3", "L3": "R2", "L4": "R2"}
    assert r.objective == pytest.approx(165)


def test_fairness_count_infeasible_is_caught_early() -> None:
    # Band 0, equal capacities: R1's floor of 3 forces M >= 3, so R2 needs >= 1.5 leads, but
    # only B1 is eligible for R2. Seen from R1: the group takes at most 4 leads (3 + 1), of
    # which R1 may hold half, 2 < 3. Both ways are reported.
    p = problem_of(
        [lead("A1", 1, "A"), lead("A2", 1, "A"), lead("A3", 1, "A"), lead("B1", 1, "B")],
        [rep("R1", 3, "*", min_leads=3), rep("R2", 3, "B")],
    )
    pol = policy(fairness={"band": 0})
    assert caught_early(p, pol)
    r = run(p, pol)
    assert r.status == Status.INFEASIBLE
    assert r.conflicts == (
        "fairness band 0 (count) cannot hold: rep R2 can take only 1 eligible lead for a share "
        "of at least 1.5 (the group's min_leads add up to 3)",
        "fairness band 0 (count) cannot hold: min_leads of R1 exceed their share of the at most "
        "4 leads the group can take",
    )


def test_fairness_count_within_level_conflict_through_eligibility_needs_the_core() -> None:
    # Level 1: R1, R2 share the two A leads; R3 must get 2 of the C leads. Band 0 and equal
    # capacities make R3 hold exactly a third: m3 = 2 needs R1 + R2 to hold 4, but only 2 A
    # leads exist. Each rep alone has enough eligible leads, so the pre-check passes; the
    # core is R3's floor and R3's band. Level 2 (R4 with a floor, R5) is not involved.
    p = problem_of(
        [
            lead("A1", 1, "A"),
            lead("A2", 1, "A"),
            lead("C1", 1, "C"),
            lead("C2", 1, "C"),
            lead("C3", 1, "C"),
            lead("X1", 1, "X"),
            lead("X2", 1, "X"),
        ],
        [
            rep("R1", 2, "A", level=1),
            rep("R2", 2, "A", level=1),
            rep("R3", 2, "C", level=1, min_leads=2),
            rep("R4", 2, "X", level=2, min_leads=1),
            rep("R5", 2, "X", level=2),
        ],
    )
    pol = policy(fairness={"band": 0, "within": "level"})
    assert not caught_early(p, pol)
    message = infeasible(p, pol)
    assert message == (
        "these rules cannot all hold together: min_leads 2 for R3; "
        "fairness band 0 (count within level) for R3"
    )
    for other in ("R1", "R2", "R4", "R5"):
        assert other not in message


def test_fairness_value_infeasible_needs_the_core() -> None:
    # Value band 0, equal capacities: R1 and R2 hold equal value, R1 at least one lead. No
    # two disjoint sets of {100, 30, 50} have equal sums, so only the empty split would do.
    # With band 0 one rep's band already pins it to exactly half of M (so both are equal):
    # R1's floor and R2's band are a core.
    p = problem_of(
        [lead("L1", 100), lead("L2", 30), lead("L3", 50)],
        [rep("R1", 2, min_leads=1), rep("R2", 2)],
    )
    pol = policy(fairness={"band": 0, "metric": "value"})
    assert not caught_early(p, pol)
    message = infeasible(p, pol)
    assert message == (
        "these rules cannot all hold together: min_leads 1 for R1; fairness band 0 (value) for R2"
    )


def test_fairness_value_within_level_infeasible_names_only_that_level() -> None:
    # The same conflict inside level 1 (R1, R2); level 2 (R3 with a floor and its own lead)
    # is fine and must not be named.
    p = problem_of(
        [lead("L1", 100), lead("L2", 30), lead("L3", 50), lead("X1", 10, "X")],
        [
            rep("R1", 2, level=1, min_leads=1),
            rep("R2", 2, level=1),
            rep("R3", 1, "X", level=2, min_leads=1),
        ],
    )
    pol = policy(fairness={"band": 0, "metric": "value", "within": "level"})
    assert not caught_early(p, pol)
    message = infeasible(p, pol)
    assert message.startswith("these rules cannot all hold together: min_leads 1 for R1; ")
    assert "fairness band 0 (value within level) for R" in message
    assert "R3" not in message


def test_soft_fairness_is_never_infeasible() -> None:
    # The book of test_fairness_count_infeasible_is_caught_early with a soft band: all 4
    # leads are assigned (only R1 takes A leads, only B1 fits R2): 3 and 1 against shares of 2
    # and 2, E = 1: EV 4, score 4 - 1 = 3.
    p = problem_of(
        [lead("A1", 1, "A"), lead("A2", 1, "A"), lead("A3", 1, "A"), lead("B1", 1, "B")],
        [rep("R1", 3, "*", min_leads=3), rep("R2", 3, "B")],
    )
    r = optimal(p, policy(fairness={"band": 0, "mode": "soft", "weight": 1}))
    assert owners(r) == {"A1": "R1", "A2": "R1", "A3": "R1", "B1": "R2"}
    assert r.objective == pytest.approx(3) and r.expected_value == pytest.approx(4)
    band = r.summary()["fairness"]["band"]
    assert band["largest_excess"] == pytest.approx(1) and band["reps_outside"] == ["R1", "R2"]


def test_fairness_value_exact_band_survives_the_rounding() -> None:
    # Capacities 2 and 1, band 0: R1 holds exactly 2/3 of the value, R2 1/3. R1 {10, 30} = 40
    # and R2 {20} = 20 of M = 60 meets it exactly, assigning all 3 leads (EV 60).
    p = problem_of([lead("L1", 10), lead("L2", 20), lead("L3", 30)], [rep("R1", 2), rep("R2", 1)])
    pol = policy(fairness={"band": 0, "metric": "value"})
    assert check_assignment(p, pol, ["R1", "R2", "R1"]).ok
    r = optimal(p, pol)
    assert r.assigned == 3 and r.objective == pytest.approx(60)


def soft_book() -> Problem:
    return problem_of(
        [lead("L1", 40), lead("L2", 30), lead("L3", 20), lead("L4", 10)],
        [rep("R1", 4, win_rate=1.0), rep("R2", 4, win_rate=0.5)],
    )


@pytest.mark.parametrize(
    ("weight", "r1_leads", "objective", "expected"),
    [(1, 4, 98, 100), (8, 3, 87, 95), (20, 2, 85, 85)],
)
def test_fairness_soft_count_trades_value_against_excess(
    weight: float, r1_leads: int, objective: float, expected: float
) -> None:
    # Soft, band 0: no constraint, so all 4 leads are assigned (count first); shares 2 and 2.
    # R1 takes its k best, R2 the rest: k=4: EV 100, E = 2; k=3: 90 + 5 = 95, E = 1;
    # k=2: 70 + 15 = 85, E = 0. Score EV - weight*E: weight 1 -> 98 (k=4); weight 8 -> 84,
    # 87, 85 -> 87 (k=3); weight 20 -> 60, 75, 85 -> 85 (k=2).
    r = optimal(soft_book(), policy(fairness={"band": 0, "mode": "soft", "weight": weight}))
    want = {f"L{k}": ("R1" if k <= r1_leads else "R2") for k in range(1, 5)}
    assert owners(r) == want
    assert r.objective == pytest.approx(objective)
    assert r.expected_value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("weight", "split", "objective", "expected"), [(0.25, False, 140, 160), (1, True, 110, 130)]
)
def test_fairness_soft_value(weight: float, split: bool, objective: float, expected: float) -> None:
    # Value metric, band 0, soft; shares 1/2. Both to R1 (1.0): EV 160, E = 80 (R1 160 vs 80).
    # R1 100 / R2 60: EV 130, E = 20. R1 60 / R2 100: 110, E = 20. Both to R2: 80, E = 80.
    # weight 0.25: 140, 125, 105, 60 -> both to R1; weight 1: 80, 110, 90, 0 -> the split.
    p = problem_of([lead("L1", 100), lead("L2", 60)], [rep("R1", 2), rep("R2", 2, win_rate=0.5)])
    pol = policy(fairness={"band": 0, "metric": "value", "mode": "soft", "weight": weight})
    r = optimal(p, pol)
    assert owners(r) == ({"L1": "R1", "L2": "R2"} if split else {"L1": "R1", "L2": "R1"})
    assert r.objective == pytest.approx(objective) and r.expected_value == pytest.approx(expected)


def test_fairness_soft_value_small_weight_is_not_rounded_away() -> None:
    # Both leads to R1: EV 200, E = 100, score 200 - 0.0004*100 = 199.96. The split (R2 at
    # win 0.9999999): EV 199.99999, E = 0, score 199.99999 -- the optimum, by 0.04 (4e-4 of
    # the largest lead value, far above the README's 1e-9 precision).
    p = problem_of(
        [lead("L1", 100), lead("L2", 100)], [rep("R1", 2), rep("R2", 2, win_rate=0.9999999)]
    )
    pol = policy(fairness={"band": 0, "metric": "value", "mode": "soft", "weight": 0.0004})
    r = optimal(p, pol)
    assert r.objective == pytest.approx(199.99999, abs=1e-6)


# ---------------------------------------------------------------------------- continuity


def owned_book(r1_capacity: int = 4, **r2: Any) -> Problem:
    """Four leads owned by R1 (win 0.5); R2 (win 1.0, capacity 3) would like them."""
    return problem_of(
        [lead(f"L{k}", v, current_owner="R1") for k, v in enumerate([40, 30, 20, 10], 1)],
        [rep("R1", r1_capacity, win_rate=0.5), rep("R2", 3, win_rate=1.0, **r2)],
    )


@pytest.mark.parametrize(
    ("max_reassign", "moved", "objective"),
    [(1.0, 3, 95), (0.5, 2, 85), (0.25, 1, 70), (0.0, 0, 50)],
)
def test_continuity_limits_the_changes(max_reassign: float, moved: int, objective: float) -> None:
    # Moving lead v from R1 (0.5) to R2 (1.0) gains 0.5*v, so with k changes allowed R2
    # takes the k most valuable (R2 holds at most 3). Limit floor(max_reassign * 4):
    # 4 -> k=3: 40+30+20 + 10*0.5 = 95; 2 -> 70 + 15 = 85; 1 -> 40 + 30 = 70; 0 -> 50.
    r = optimal(owned_book(), policy(continuity={"max_reassign": max_reassign}))
    want = {f"L{k}": ("R2" if k <= moved else "R1") for k in range(1, 5)}
    assert owners(r) == want
    assert r.objective == pytest.approx(objective) and r.expected_value == pytest.approx(objective)
    why = reasons(r)
    for k in range(1, 5):
        assert why[f"L{k}"] == (("reassigned", "from R1") if k <= moved else ("kept", ""))
    churn = r.summary()["churn"]
    assert churn["changes"] == moved and churn["changes_allowed"] == math.floor(4 * max_reassign)


def test_continuity_without_a_limit_is_a_network() -> None:
    # continuity without max_reassign (and no keep bonus) changes nothing: flow, 95.
    r = optimal(owned_book(), policy(continuity={}), "auto")
    assert r.method == "flow" and r.objective == pytest.approx(95)


def test_continuity_forced_moves_are_free() -> None:
    # max_reassign 0, but R1 is on leave and R3 may not take L3 (territory B, R3 covers T):
    # their leads must move and that costs nothing. L4 stays with R3.
    p = problem_of(
        [
            lead("L1", 10, current_owner="R1"),
            lead("L2", 20, current_owner="R1"),
            lead("L3", 30, "B", current_owner="R3"),
            lead("L4", 5, current_owner="R3"),
        ],
        [
            rep("R1", 2, available="false"),
            rep("R2", 3, "T;B", win_rate=0.5),
            rep("R3", 2, win_rate=0.1),
        ],
    )
    r = optimal(p, policy(continuity={"max_reassign": 0}))
    # Forced: L1, L2, L3 all to R2 (the only rep with room and the better rate: 5 + 10 + 15);
    # L4 kept by R3 (0.5): 30.5.
    assert owners(r) == {"L1": "R2", "L2": "R2", "L3": "R2", "L4": "R3"}
    assert r.objective == pytest.approx(30.5)
    why = reasons(r)
    assert why["L1"] == ("forced_move", "owner R1 is on leave")
    assert why["L3"] == ("forced_move", "owner R3 may not take it")
    assert why["L4"] == ("kept", "")


def test_continuity_infeasible_by_owner_capacity_is_caught_early() -> None:
    # max_reassign 0: all 4 owned leads must stay with R1, whose capacity is 3.
    p = owned_book(r1_capacity=3)
    pol = policy(continuity={"max_reassign": 0})
    assert caught_early(p, pol)
    message = infeasible(p, pol)
    assert message == (
        "continuity max_reassign 0 lets 0 of 4 owned leads change owner, so 4 must stay with "
        "their owners, but the owners' capacities hold at most 3 of them (full: R1)"
    )


def test_continuity_against_min_leads_needs_the_core() -> None:
    # R2 must get 2 leads, all leads are R1's, and only 1 may change owner. R3's floor (in
    # territory B, its own lead) holds and must not be blamed.
    p = problem_of(
        [lead(f"L{k}", v, current_owner="R1") for k, v in enumerate([40, 30, 20, 10], 1)]
        + [lead("B1", 1, "B")],
        [
            rep("R1", 4, win_rate=0.5),
            rep("R2", 3, min_leads=2),
            rep("R3", 1, "B", min_leads=1),
        ],
    )
    pol = policy(continuity={"max_reassign": 0.25})
    assert not caught_early(p, pol)
    message = infeasible(p, pol)
    assert message == (
        "these rules cannot all hold together: min_leads 2 for R2; continuity max_reassign "
        "0.25 (at most 1 of 4 owned leads change owner)"
    )


def test_soft_continuity_is_never_infeasible() -> None:
    # The book of test_continuity_infeasible_by_owner_capacity_is_caught_early, soft, weight
    # 12 per change above 0: R1 (capacity 3) cannot keep all 4, so k >= 1 move to R2 (the k
    # most valuable): k=1: 70 - 12 = 58, k=2: 85 - 24 = 61, k=3: 95 - 36 = 59 -> k=2.
    pol = policy(continuity={"max_reassign": 0, "mode": "soft", "weight": 12})
    r = optimal(owned_book(r1_capacity=3), pol)
    assert owners(r) == {"L1": "R2", "L2": "R2", "L3": "R1", "L4": "R1"}
    assert r.objective == pytest.approx(61) and r.expected_value == pytest.approx(85)
    churn = r.summary()["churn"]
    assert churn["changes"] == 2 and churn["changes_allowed"] == 0


@pytest.mark.parametrize(
    ("weight", "moved", "objective", "expected"),
    [(4, 3, 87, 95), (12, 2, 73, 85), (20, 1, 70, 70)],
)
def test_continuity_soft_pays_per_change_above_the_limit(
    weight: float, moved: int, objective: float, expected: float
) -> None:
    # Limit floor(0.25 * 4) = 1. k changes (the k best leads to R2): EV 50, 70, 85, 95 for
    # k = 0..3, minus weight*max(k - 1, 0). weight 4: 70, 81, 87 -> k=3; weight 12: 70, 73,
    # 71 -> k=2; weight 20: 70, 65, 55 -> k=1.
    pol = policy(continuity={"max_reassign": 0.25, "mode": "soft", "weight": weight})
    r = optimal(owned_book(), pol)
    assert owners(r) == {f"L{k}": ("R2" if k <= moved else "R1") for k in range(1, 5)}
    assert r.objective == pytest.approx(objective)
    assert r.expected_value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("bonus", "want", "objective", "expected"),
    [
        (0, {"L1": "R2", "L2": "R2"}, 70, 70),
        (18, {"L1": "R2", "L2": "R1"}, 73, 55),
        (30, {"L1": "R1", "L2": "R1"}, 95, 35),
    ],
)
@pytest.mark.parametrize("method", FLOW_TOO)
def test_keep_bonus(
    method: str, bonus: float, want: dict[str, str], objective: float, expected: float
) -> None:
    # Both leads are R1's (0.5); R2 (1.0) has room for both. Keep none: 70; keep L2 only:
    # 40 + 15 + b; keep L1 only: 20 + b + 30; keep both: 35 + 2b. b = 0: 70; b = 18: 70, 73,
    # 68, 71 -> keep L2; b = 30: 70, 85, 80, 95 -> keep both. The objective is the value
    # score (EV + b per kept lead), expected_value the plain EV.
    p = problem_of(
        [lead("L1", 40, current_owner="R1"), lead("L2", 30, current_owner="R1")],
        [rep("R1", 2, win_rate=0.5), rep("R2", 2, win_rate=1.0)],
    )
    r = optimal(p, policy(continuity={"keep_bonus": bonus}), method)
    if method == "auto":
        assert r.method == "flow"
    assert owners(r) == want
    assert r.objective == pytest.approx(objective) and r.expected_value == pytest.approx(expected)


@pytest.mark.parametrize("method", FLOW_TOO)
def test_keep_bonus_breaks_ties_in_favor_of_keeping(method: str) -> None:
    # R1 and R2 are equal; L1 is R2's. Any tiny bonus makes keeping it strictly better.
    p = problem_of([lead("L1", 10, current_owner="R2")], [rep("R1", 1), rep("R2", 1)])
    r = optimal(p, policy(continuity={"keep_bonus": 0.001}), method)
    assert owners(r) == {"L1": "R2"}
    assert r.objective == pytest.approx(10.001) and r.expected_value == pytest.approx(10)


# ------------------------------------------------------------------------------ accounts


def test_accounts_together_move_as_one() -> None:
    # Accounts A = {L1 50, L2 40} and B = {L3 30, L4 20}, L5 (10) alone. R1 (1.0, capacity 3)
    # cannot hold both accounts: A + L5 with R1, B with R2 (0.5): 100 + 25 = 125; B + L5 with
    # R1, A with R2: 60 + 45 = 105; A with R1, B + L5 with R2: 90 + 30 = 120. So 125.
    # (Lead by lead, R1 would take 50, 40, 30: 135.)
    p = problem_of(
        [
            lead("L1", 50, account_id="A"),
            lead("L2", 40, account_id="A"),
            lead("L3", 30, account_id="B"),
            lead("L4", 20, account_id="B"),
            lead("L5", 10),
        ],
        [rep("R1", 3, win_rate=1.0), rep("R2", 3, win_rate=0.5)],
    )
    r = optimal(p, policy(accounts={"together": True}), "auto")
    assert r.method in ("mip", "cpsat")
    assert owners(r) == {"L1": "R1", "L2": "R1", "L3": "R2", "L4": "R2", "L5": "R1"}
    assert r.objective == pytest.approx(125) and r.expected_value == pytest.approx(125)
    assert optimal(p, policy()).objective == pytest.approx(135)


def test_accounts_alone_never_infeasible_the_account_gets_no_eligible_rep() -> None:
    # Account C spans territories X and Z; R1 covers X, R3 covers Z, nobody both: C stays
    # unassigned (it could not be split). D1 (X) goes to R1.
    p = problem_of(
        [
            lead("C1", 10, "X", account_id="C"),
            lead("C2", 10, "Z", account_id="C"),
            lead("D1", 5, "X"),
        ],
        [rep("R1", 3, "X"), rep("R3", 3, "Z")],
    )
    r = optimal(p, policy(accounts={"together": True}))
    assert owners(r) == {"C1": "", "C2": "", "D1": "R1"}
    assert r.objective == pytest.approx(5)
    why = reasons(r)
    for name in ("C1", "C2"):
        assert why[name] == (
            "no_eligible_rep",
            "accounts: no rep is eligible for every lead of account C",
        )
    # Without the rule each lead has its rep.
    assert optimal(p, policy()).assigned == 3


def test_accounts_with_min_leads_infeasible_is_caught_early() -> None:
    # R2's only lead, C1, belongs to account C whose other lead (Z) R2 does not cover.
    p = problem_of(
        [lead("C1", 10, "X", account_id="C"), lead("C2", 10, "Z", account_id="C")],
        [rep("R1", 3, "X;Z"), rep("R2", 3, "X", min_leads=1)],
    )
    pol = policy(accounts={"together": True})
    assert caught_early(p, pol)
    message = infeasible(p, pol)
    assert message == "min_leads 1 for R2 but only 0 leads are eligible (accounts took 1 more away)"


def test_accounts_with_continuity_needs_the_core() -> None:
    # Account A's leads are owned by R1 and R2; together they go to one rep, so one of them
    # changes owner, and max_reassign 0 allows none. R3's floor (its own lead) holds.
    p = problem_of(
        [
            lead("L1", 10, account_id="A", current_owner="R1"),
            lead("L2", 10, account_id="A", current_owner="R2"),
            lead("B1", 5, "B"),
        ],
        [rep("R1", 3), rep("R2", 3), rep("R3", 2, "B", min_leads=1)],
    )
    pol = policy(continuity={"max_reassign": 0}, accounts={"together": True})
    assert not caught_early(p, pol)
    message = infeasible(p, pol)
    assert message == (
        "these rules cannot all hold together: continuity max_reassign 0 (at most 0 of 2 owned "
        "leads change owner); accounts together: account A (2 leads)"
    )
    # Either rule alone is fine.
    assert run(p, policy(continuity={"max_reassign": 0})).status == Status.OPTIMAL
    assert run(p, policy(accounts={"together": True})).status == Status.OPTIMAL


@pytest.mark.parametrize("with_column", [False, True])
def test_accounts_together_on_a_book_without_accounts(with_column: bool) -> None:
    # No account to keep together: the rule changes nothing, L1 goes to R1.
    extra = {"account_id": ""} if with_column else {}
    p = problem_of([lead("L1", 10, **extra)], [rep("R1", 1)])
    r = optimal(p, policy(accounts={"together": True}))
    assert owners(r) == {"L1": "R1"} and r.objective == pytest.approx(10)


# ---------------------------------------------------------------------------- all at once

ALL_RULES: dict[str, Any] = {
    "tiers": TIERS,
    "fairness": {"band": 0.5},
    "continuity": {"max_reassign": 0, "keep_bonus": 1},
    "accounts": {"together": True},
}


def combined_book() -> Problem:
    return problem_of(
        [
            lead("L1", 120, current_owner="Rsen", account_id="ACME"),
            lead("L2", 20, account_id="ACME"),
            lead("L3", 60, current_owner="Rjun"),
            lead("L4", 30, current_owner="Rmid"),
            lead("L5", 10),
            lead("L6", 40),
        ],
        [
            rep("Rsen", 3, level=3, win_rate=0.6),
            rep("Rjun", 3, level=1, win_rate=0.9, min_leads=1),
            rep("Rmid", 2, level=2, win_rate=0.8),
        ],
    )


def test_all_rules_together_on_one_book() -> None:
    # Tiers: ACME holds L1 (120, level 3) so the whole account may only go to Rsen; L3 (60)
    # needs level 2: Rsen or Rmid, never its owner Rjun (a forced move, free); L4-L6 anyone.
    # Continuity: owned L1 (Rsen), L4 (Rmid) are keepable, max_reassign 0 -> both kept.
    # Fairness (count, band 0.5, capacities 3/3/2 of 8): with all 6 assigned Rsen and Rjun
    # need 2-3 leads, Rmid 1-2. Rmid keeps L4; Rjun (level 1) can only get L5, L6 (L4 is
    # kept): exactly 2, so both; L3 to Rmid (48) rather than Rsen (36).
    # EV: ACME 140*0.6 = 84, L3 48, L4 24, L5 9, L6 36 = 201; value score + 2 kept = 203.
    # (Without the churn limit, Rjun takes L4 too: EV 204, score 205.)
    p = combined_book()
    r = optimal(p, policy(**ALL_RULES), "auto")
    assert r.method in ("mip", "cpsat")
    assert owners(r) == {
        "L1": "Rsen",
        "L2": "Rsen",
        "L3": "Rmid",
        "L4": "Rmid",
        "L5": "Rjun",
        "L6": "Rjun",
    }
    assert r.objective == pytest.approx(203) and r.expected_value == pytest.approx(201)
    why = reasons(r)
    assert why["L1"] == ("kept", "") and why["L4"] == ("kept", "")
    assert why["L3"] == ("forced_move", "owner Rjun may not take it")
    loose = dict(ALL_RULES, continuity={"keep_bonus": 1})
    r2 = optimal(p, policy(**loose))
    assert owners(r2)["L4"] == "Rjun"
    assert r2.objective == pytest.approx(205) and r2.expected_value == pytest.approx(204)


# ------------------------------------------------------------- the validator's rule checks


def violations(p: Problem, pol: Policy, rep_ids: list[str]) -> list[str]:
    return check_assignment(p, pol, rep_ids).violations


def test_validator_catches_a_broken_tier() -> None:
    p = problem_of(
        [lead("L1", 150), lead("L2", 10)], [rep("R1", 2, level=1), rep("R2", 2, level=3)]
    )
    pol = policy(tiers=[{"min_value": 100, "min_level": 3}])
    assert violations(p, pol, ["R2", "R1"]) == []
    assert violations(p, pol, ["R1", "R2"]) == ["lead L1: tiers need level 3, rep R1 has 1"]


def test_validator_catches_a_split_account() -> None:
    p = problem_of(
        [lead("L1", 1, account_id="A"), lead("L2", 1, account_id="A"), lead("L3", 1)],
        [rep("R1", 3), rep("R2", 3)],
    )
    pol = policy(accounts={"together": True})
    assert violations(p, pol, ["R1", "R1", "R2"]) == []
    assert violations(p, pol, ["", "", "R2"]) == []
    assert violations(p, pol, ["R1", "R2", ""]) == ["account A: its leads went to R1, R2"]
    assert violations(p, pol, ["R1", "", ""]) == ["account A: its leads went to (unassigned), R1"]
    assert violations(p, policy(), ["R1", "R2", ""]) == []  # only with the rule


def test_validator_catches_fairness_outside_the_band() -> None:
    p = problem_of(
        [lead("L1", 100), lead("L2", 60), lead("L3", 30), lead("L4", 10)],
        [rep("R1", 2, level=1), rep("R2", 2, level=1), rep("R3", 4, level=2)],
    )
    # count, band 0, within all: shares 1/4, 1/4, 1/2 of M = 4 -> 1, 1, 2.
    count = policy(fairness={"band": 0})
    assert violations(p, count, ["R1", "R2", "R3", "R3"]) == []
    found = violations(p, count, ["R1", "R1", "R3", "R3"])
    assert found == [
        "rep R1: fairness count 2 outside [1, 1]",
        "rep R2: fairness count 0 outside [1, 1]",
    ]
    # within level: R1 and R2 alone (1/2 each of their 2); R3 alone at level 2.
    level = policy(fairness={"band": 0, "within": "level"})
    assert violations(p, level, ["R1", "R2", "R3", "R3"]) == []
    assert violations(p, level, ["R1", "R1", "R3", "R3"]) == [
        "rep R1: fairness count 2 outside [1, 1]",
        "rep R2: fairness count 0 outside [1, 1]",
    ]
    # value, band 0.5, within all: M = 200, shares 50/50/100 -> [25, 75], [25, 75], [50, 150].
    value = policy(fairness={"band": 0.5, "metric": "value"})
    assert violations(p, value, ["R1", "R2", "R3", "R3"]) == [
        "rep R1: fairness value 100 outside [25, 75]",
        "rep R3: fairness value 40 outside [50, 150]",
    ]
    assert violations(p, value, ["R3", "R1", "R2", "R1"]) == []
    # soft: never a violation
    soft = policy(fairness={"band": 0, "mode": "soft"})
    assert violations(p, soft, ["R1", "R1", "R3", "R3"]) == []


def test_validator_catches_too_many_changes() -> None:
    # 4 owned leads, max_reassign 0.5 -> 2 changes allowed. L4's owner is on leave: moving it
    # is forced, not a change.
    p = problem_of(
        [
            lead("L1", 1, current_owner="R1"),
            lead("L2", 1, current_owner="R1"),
            lead("L3", 1, current_owner="R1"),
            lead("L4", 1, current_owner="R3"),
        ],
        [rep("R1", 4), rep("R2", 4), rep("R3", 1, available="false")],
    )
    pol = policy(continuity={"max_reassign": 0.5})
    assert violations(p, pol, ["R2", "R2", "R1", "R2"]) == []
    assert violations(p, pol, ["R2", "", "R2", "R1"]) == [
        "continuity: 3 owned leads changed owner, max_reassign allows 2"
    ]
    check = check_assignment(p, pol, ["R2", "", "R2", "R1"])
    assert check.changes == 3
    # soft: no violation, the score pays weight per change above the limit (3 - 2 = 1)
    soft = policy(continuity={"max_reassign": 0.5, "mode": "soft", "weight": 2.5})
    assert check_assignment(p, soft, ["R2", "", "R2", "R1"]).score == pytest.approx(3 - 2.5)


def test_validator_still_catches_floors_and_capacity() -> None:
    p = problem_of([lead("L1", 1), lead("L2", 1)], [rep("R1", 1), rep("R2", 2, min_leads=1)])
    assert violations(p, policy(), ["R1", "R2"]) == []
    assert violations(p, policy(), ["R1", "R1"]) == [
        "rep R1: effort 2 above capacity 1",
        "rep R2: 0 leads below min_leads 1",
    ]


# ----------------------------------------------------------------------- the CLI (exit 3)


def write_book(folder: Path, leads: list[dict[str, Any]], reps: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lead_cols = list(dict.fromkeys(k for row in leads for k in row))
    rep_cols = list(dict.fromkeys(k for row in reps for k in row))
    frame(leads, lead_cols).to_csv(folder / "leads.csv", index=False)
    frame(reps, rep_cols).to_csv(folder / "reps.csv", index=False)


CLI_CASES = {
    # caught early: the fairness pre-check
    "fairness": (
        [lead("A1", 1, "A"), lead("A2", 1, "A"), lead("A3", 1, "A"), lead("B1", 1, "B")],
        [rep("R1", 3, "*", min_leads=3), rep("R2", 3, "B")],
        "fairness:\n  band: 0\n",
        ["fairness band 0 (count) cannot hold", "R2"],
    ),
    # the assumption core
    "accounts": (
        [
            lead("L1", 10, account_id="A", current_owner="R1"),
            lead("L2", 10, account_id="A", current_owner="R2"),
        ],
        [rep("R1", 3), rep("R2", 3)],
        "continuity:\n  max_reassign: 0\naccounts:\n  together: true\n",
        ["continuity max_reassign 0", "account A (2 leads)"],
    ),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_infeasible_exits_3_and_writes_only_the_summary(tmp_path: Path, case: str) -> None:
    leads, reps, yaml_text, words = CLI_CASES[case]
    write_book(tmp_path / "in", leads, reps)
    (tmp_path / "in" / "policy.yaml").write_text(yaml_text)
    out = tmp_path / "out"
    from leadassign.publish import write_folder

    # a file from an earlier run (leadassign wrote it: its manifest lists it)
    write_folder(out, {"assignments.csv": lambda p: p.write_text("stale\n")}, command="solve")
    args = ["solve", "--leads", str(tmp_path / "in" / "leads.csv")]
    args += ["--reps", str(tmp_path / "in" / "reps.csv")]
    args += ["--policy", str(tmp_path / "in" / "policy.yaml"), "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--workers", "2"])
    assert result.exit_code == 3, result.output
    assert "INFEASIBLE" in result.stderr
    for word in words:
        assert word in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [".leadassign-manifest.json", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "INFEASIBLE"
    assert summary["assigned"] is None and summary["objective"] is None
    assert summary["conflicts"]
    for conflict in summary["conflicts"]:
        assert f"  - {conflict}" in result.stderr
    for word in words:
        assert word in summary["conflicts"][0]


# ----------------------------------------------------------------- reasons and summaries


def reasons_book() -> Problem:
    return problem_of(
        [
            lead("L1", 10, current_owner="R1"),
            lead("L2", 20, "B", current_owner="R2"),
            lead("L3", 30, current_owner="R3"),
            lead("L4", 40, "C", current_owner="R2"),
            lead("L5", 50, "C", current_owner="R2"),
            lead("L6", 5, "C", current_owner="R2"),
            lead("L7", 60, current_owner="R2"),
            lead("L8", 1),
            lead("L9", 1, "Z"),
        ],
        [
            rep("R1", 2, available="false"),
            rep("R2", 2, "T;C", win_rate=0.5),
            rep("R3", 4, "T;B", win_rate=1.0),
        ],
    )


def test_reasons_and_details_of_every_kind() -> None:
    # Capacity 2 + 4 = 6 for 8 coverable leads (L9's territory Z has nobody). Only R2 covers
    # C (L4-L6), only R3 covers B (L2). Count: 6, using all capacity; R2 must take C leads (a
    # T lead with R2 would strand a C lead), so R3 takes the best 4 of L1, L2, L3, L7, L8:
    # 60 + 30 + 20 + 10 = 120, and R2 the best two C leads, 50 + 40 at 0.5: 45 -> 165.
    # max_reassign 0.3 -> 2 changes allowed (of 7 owned): L6 released and L7 reassigned
    # (R2 can keep only 2 of its 4 keepable leads in any case).
    r = optimal(reasons_book(), policy(continuity={"max_reassign": 0.3}))
    assert owners(r) == {
        "L1": "R3",
        "L2": "R3",
        "L3": "R3",
        "L4": "R2",
        "L5": "R2",
        "L6": "",
        "L7": "R3",
        "L8": "",
        "L9": "",
    }
    assert r.objective == pytest.approx(165)
    assert reasons(r) == {
        "L1": ("forced_move", "owner R1 is on leave"),
        "L2": ("forced_move", "owner R2 may not take it"),
        "L3": ("kept", ""),
        "L4": ("kept", ""),
        "L5": ("kept", ""),
        "L6": (
            "released",
            "owner R2 could keep it; left unassigned (its 1 eligible rep had no room left)",
        ),
        "L7": ("reassigned", "from R2"),
        "L8": ("no_capacity", "its 2 eligible reps had no room left"),
        "L9": ("no_eligible_rep", "no rep covers its territory"),
    }
    summary = r.summary()
    assert summary["churn"] == {  # L1, L2 (forced) and L7 moved; L6 released
        "owned": 7,
        "kept": 3,
        "moved": 3,
        "released": 1,
        "held_back": 0,
        "new": 0,
        "forced_moves": 2,
        "changes": 2,
        "changes_allowed": 2,
    }
    assert summary["kept"] == 3 and summary["forced_moves"] == 2
    assert summary["reassigned"] == 4  # reassigned + released + forced moves
    assert summary["reasons"] == {
        "forced_move": 2,
        "kept": 3,
        "no_capacity": 1,
        "no_eligible_rep": 1,
        "reassigned": 1,
        "released": 1,
    }


def test_owner_left_unassigned_by_a_forced_move_says_why() -> None:
    # R1 is on leave and L1 has no other rep: a forced move that ends unassigned.
    p = problem_of(
        [lead("L1", 10, "A", current_owner="R1")],
        [rep("R1", 1, "A", available="f"), rep("R2", 1, "B")],
    )
    r = optimal(p, policy())
    assert reasons(r)["L1"] == (
        "forced_move",
        "owner R1 is on leave; left unassigned (every rep who could work it is on leave)",
    )


def test_runner_up_is_the_best_other_eligible_rep() -> None:
    # R1 0.9, R2 0.5, R3 0.5 (capacity 0, still eligible), R4 only territory X; capacity 1 for
    # R1, R2, R4. L1 -> R1 (90) and L3 -> R2 (10) beat the swap (50 + 18); L4 finds no room.
    # Runner-up: L1's best other is R2 or R3 (50 each): R2, first in rep order; L3's is R1 (18,
    # though full); L4 (unassigned) gets the best eligible rep, R1 (4.5); L2 has no other rep.
    p = problem_of(
        [lead("L1", 100), lead("L2", 10, "X"), lead("L3", 20), lead("L4", 5)],
        [
            rep("R1", 1, win_rate=0.9),
            rep("R2", 1, win_rate=0.5),
            rep("R3", 0, win_rate=0.5),
            rep("R4", 1, "X"),
        ],
    )
    r = optimal(p, policy())
    assert owners(r) == {"L1": "R1", "L2": "R4", "L3": "R2", "L4": ""}
    assert r.objective == pytest.approx(110)
    table = r.assignments
    assert table["runner_up"].fillna("").tolist() == ["R2", "", "R1", "R1"]
    values = table["runner_up_value"].tolist()
    assert values[0] == pytest.approx(50) and values[1] is pd.NA
    assert values[2] == pytest.approx(18) and values[3] == pytest.approx(4.5)
    assert reasons(r)["L4"] == ("no_capacity", "its 3 eligible reps had no room left")


def test_runner_up_respects_the_tiers() -> None:
    # R1 (level 1, 1.0) is better than R2 (level 3, 0.5) but may not take L1 (150): L1's only
    # allowed rep is R2 and it has no runner-up; L2's runner-up is R2.
    p = problem_of(
        [lead("L1", 150), lead("L2", 10)],
        [rep("R1", 2, level=1), rep("R2", 2, level=3, win_rate=0.5)],
    )
    r = optimal(p, policy(tiers=[{"min_value": 100, "min_level": 3}]))
    assert owners(r) == {"L1": "R2", "L2": "R1"}
    assert r.assignments["runner_up"].fillna("").tolist() == ["", "R2"]


def summary_file(r: Result, folder: Path) -> dict[str, Any]:
    write_result(r, folder)
    data: dict[str, Any] = json.loads((folder / "summary.json").read_text())
    return data


def test_summary_fairness_figures_soft_band_broken(tmp_path: Path) -> None:
    # soft_book with weight 1: R1 takes all 4 leads (value 100), R2 none. Per available rep:
    # leads 4 and 0, utilization 1.0 and 0.0 (spread 1.0); Gini of (0, 100) = 0.5. The band:
    # shares 2 and 2, both reps 2 leads outside it.
    r = optimal(soft_book(), policy(fairness={"band": 0, "mode": "soft", "weight": 1}))
    fair = summary_file(r, tmp_path)["fairness"]
    assert fair["reps_counted"] == 2
    assert fair["leads_per_rep"] == {"min": 0.0, "max": 4.0, "mean": 2.0}
    assert fair["utilization_spread"] == pytest.approx(1.0)
    assert fair["gini_assigned_value"] == pytest.approx(0.5)
    assert fair["band"] == {
        "metric": "count",
        "band": 0.0,
        "within": "all",
        "mode": "soft",
        "largest_excess": pytest.approx(2.0),
        "reps_outside": ["R1", "R2"],
    }


def test_summary_fairness_figures_hard_band_held(tmp_path: Path) -> None:
    # five_leads(4) with band 0.2: R1 {50, 40, 30} = 120, R2 {20, 10} = 30. Utilization 3/4
    # and 2/4 (spread 0.25); Gini of (30, 120) = 2*(30 + 240)/(2*150) - 3/2 = 0.3. Within band.
    r = optimal(five_leads(4), policy(fairness={"band": 0.2}))
    fair = summary_file(r, tmp_path)["fairness"]
    assert fair["utilization_spread"] == pytest.approx(0.25)
    assert fair["gini_assigned_value"] == pytest.approx(0.3)
    assert fair["value_per_rep"] == {"min": 30.0, "max": 120.0, "mean": 75.0}
    assert fair["band"]["largest_excess"] == pytest.approx(0.0)
    assert fair["band"]["reps_outside"] == []


def test_summary_churn_block_in_the_file(tmp_path: Path) -> None:
    r = optimal(owned_book(), policy(continuity={"max_reassign": 0.5}))
    summary = summary_file(r, tmp_path)
    assert summary["churn"] == {
        "owned": 4,
        "kept": 2,
        "moved": 2,
        "released": 0,
        "held_back": 0,
        "new": 0,
        "forced_moves": 0,
        "changes": 2,
        "changes_allowed": 2,
    }
    assert summary["objective"] == pytest.approx(85)
    assert summary["expected_value"] == pytest.approx(85)
    table = (tmp_path / "assignments.csv").read_text().splitlines()
    assert table[0].split(",")[:8] == [
        "lead_id",
        "rep_id",
        "expected_value",
        "reason",
        "detail",
        "eligible_reps",
        "runner_up",
        "runner_up_value",
    ]
