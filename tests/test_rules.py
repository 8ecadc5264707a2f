"""Tiny hand-solved instances, one or more per rule of README "Business rules".

Each test states how its optimum was derived by hand. Every solve goes through
``solved``, which also runs the independent validator, and each instance is solved by both
exact methods where both apply.
"""

from __future__ import annotations

import pytest

from leadassign import Problem, Result, Status, solve
from tests.helpers import lead, owners, problem_of, rep
from tests.oracles.checker import solved

BOTH = ["flow", "cpsat"]


@pytest.mark.parametrize("method", BOTH)
def test_value_decides_who_gets_the_scarce_slot(method: str) -> None:
    # One slot, two leads: both can be assigned only one at a time, so count is 1 either way
    # and the higher value (90 * 1.0 > 10 * 1.0) wins.
    p = problem_of([lead("L1", 10), lead("L2", 90)], [rep("R1", 1)])
    r = solved(p, method=method)
    assert r.status == Status.OPTIMAL
    assert owners(r) == {"L1": "", "L2": "R1"}
    assert r.objective == pytest.approx(90)
    assert r.assignments["reason"].tolist() == ["no_capacity", "assigned"]


@pytest.mark.parametrize("method", BOTH)
def test_count_comes_before_value(method: str) -> None:
    # R1 may take anything, R2 only territory A. L_big (value 100) is in A, L_small (1) in B.
    # Greedy by value gives L_big to R1 (the better win rate: 0.9 vs 0.5) and strands L_small.
    # The lexicographic optimum assigns both: L_small -> R1 (0.9), L_big -> R2 (50): 50.9.
    p = problem_of(
        [lead("Lbig", 100, "A"), lead("Lsmall", 1, "B")],
        [rep("R1", 1, "*", win_rate=0.9), rep("R2", 1, "A", win_rate=0.5)],
    )
    r = solved(p, method=method)
    assert owners(r) == {"Lbig": "R2", "Lsmall": "R1"}
    assert r.objective == pytest.approx(50.9)


@pytest.mark.parametrize("method", BOTH)
def test_eligibility_territory_industry_skills_leave(method: str) -> None:
    # Each lead can be taken by exactly one rep, or by none for a stated reason.
    leads = [
        lead("L1", 10, "EMEA", industry="finance", skills="german"),
        lead("L2", 10, "EMEA", industry="retail"),
        lead("L3", 10, "APAC"),  # nobody covers APAC
        lead("L4", 10, "EMEA", industry="mining"),  # industries: nobody in EMEA covers mining
        lead("L5", 10, "EMEA", industry="finance", skills="japanese"),  # nobody has japanese
        lead("L6", 10, "LATAM"),  # only R4 covers LATAM and R4 is on leave
    ]
    reps = [
        rep("R1", 5, "EMEA", industries="finance", skills="german;spanish"),
        rep("R2", 5, "EMEA;NA", industries="retail;software"),
        rep("R4", 5, "LATAM", available="false"),
    ]
    r = solved(problem_of(leads, reps), method=method)
    assert owners(r) == {"L1": "R1", "L2": "R2", "L3": "", "L4": "", "L5": "", "L6": ""}
    table = r.assignments.set_index("lead_id")
    assert (table.loc[["L3", "L4", "L5", "L6"], "reason"] == "no_eligible_rep").all()
    detail = table["detail"].astype(str)
    assert "territory" in detail["L3"]
    assert "industry" in detail["L4"]
    assert "skills" in detail["L5"]
    assert "leave" in detail["L6"]
    assert table["eligible_reps"].tolist() == [1, 1, 0, 0, 0, 0]


@pytest.mark.parametrize("method", BOTH)
def test_wildcards_cover_everything(method: str) -> None:
    # territories '*' and industries '*' (or empty) cover all; skills must still be held.
    p = problem_of(
        [lead("L1", 5, "X", industry="a"), lead("L2", 5, "Y", industry="b", skills="s")],
        [rep("R1", 2, "*", industries="*")],
    )
    r = solved(p, method=method)
    assert owners(r) == {"L1": "R1", "L2": ""}


@pytest.mark.parametrize("method", BOTH)
def test_capacity_zero_and_capacity_binding(method: str) -> None:
    # R0 has capacity 0; R1 takes the two best of three leads: 30 + 20.
    p = problem_of([lead("L1", 10), lead("L2", 20), lead("L3", 30)], [rep("R0", 0), rep("R1", 2)])
    r = solved(p, method=method)
    assert owners(r) == {"L1": "", "L2": "R1", "L3": "R1"}
    assert r.rep_table.set_index("rep_id").loc["R1", "utilization"] == 1.0


@pytest.mark.parametrize("method", BOTH)
def test_min_leads_floor_moves_value_to_the_novice(method: str) -> None:
    # R_senior (win 0.5) would take both leads on value, but R_novice (win 0.1) must get one.
    # Best under the floor: the novice takes the smaller lead: 100*0.5 + 10*0.1 = 51.
    p = problem_of(
        [lead("L1", 100), lead("L2", 10)],
        [rep("Rs", 2, win_rate=0.5), rep("Rn", 2, win_rate=0.1, min_leads=1)],
    )
    r = solved(p, method=method)
    assert owners(r) == {"L1": "Rs", "L2": "Rn"}
    assert r.objective == pytest.approx(51)


@pytest.mark.parametrize("method", BOTH)
def test_min_leads_of_a_rep_on_leave_is_ignored(method: str) -> None:
    p = problem_of([lead("L1", 1)], [rep("R1", 1), rep("R2", 3, min_leads=3, available="false")])
    r = solved(p, method=method)
    assert r.status == Status.OPTIMAL and owners(r) == {"L1": "R1"}


@pytest.mark.parametrize("method", BOTH)
def test_min_leads_infeasible_is_explained(method: str) -> None:
    # R2 needs 2 leads but only one lead is in its territory.
    p = problem_of(
        [lead("L1", 1, "A"), lead("L2", 1, "B")],
        [rep("R1", 2, "*"), rep("R2", 2, "A", min_leads=2)],
    )
    r = solve_infeasible(p, method)
    assert r.conflicts == ("min_leads 2 for R2 but only 1 lead is eligible",)


@pytest.mark.parametrize("method", BOTH)
def test_min_leads_of_two_reps_competing_for_the_same_leads(method: str) -> None:
    # Each of R1, R2 alone has 2 candidate leads, but together they need 4 of the same 2:
    # only a joint (Hall) argument proves this infeasible.
    p = problem_of(
        [lead("L1", 1, "A"), lead("L2", 1, "A"), lead("L3", 1, "B")],
        [rep("R1", 2, "A", min_leads=2), rep("R2", 2, "A", min_leads=2), rep("R3", 5, "*")],
    )
    r = solve_infeasible(p, method)
    assert len(r.conflicts) == 1
    if method == "flow":
        assert "R1, R2" in r.conflicts[0] and "4" in r.conflicts[0] and "2 leads" in r.conflicts[0]


def solve_infeasible(p: Problem, method: str) -> Result:
    r = solve(p, method=method)  # type: ignore[arg-type]
    assert r.status == Status.INFEASIBLE
    assert r.objective is None and not r.has_solution
    return r


def test_effort_counts_capacity_in_units() -> None:
    # R1 has 3 units: the enterprise lead (effort 3, value 100) or the two small ones (10+10).
    # Count first: two small leads (count 2) beat the single enterprise lead (count 1).
    p = problem_of([lead("Lent", 100, effort=3), lead("L1", 10), lead("L2", 10)], [rep("R1", 3)])
    r = solved(p)
    assert r.method in ("mip", "cpsat")
    assert owners(r) == {"Lent": "", "L1": "R1", "L2": "R1"}
    assert r.status == Status.OPTIMAL
    with pytest.raises(Exception, match="effort 1"):
        solved(p, method="flow")


def test_effort_larger_than_any_capacity_is_no_capacity() -> None:
    p = problem_of([lead("L1", 10, effort=5)], [rep("R1", 4)])
    r = solved(p)
    assert owners(r) == {"L1": ""}
    assert r.assignments["reason"].tolist() == ["no_capacity"]


@pytest.mark.parametrize("method", BOTH)
def test_affinity_overrides_win_rate_for_its_industry(method: str) -> None:
    # R1 base 0.2 but 0.9 in finance; R2 base 0.5. One slot each, two leads of equal value:
    # finance lead -> R1 (0.9), retail lead -> R2 (0.5): 90 + 50 = 140 (swap gives 20 + 50).
    p = problem_of(
        [lead("Lf", 100, industry="finance"), lead("Lr", 100, industry="retail")],
        [rep("R1", 1, win_rate=0.2), rep("R2", 1, win_rate=0.5)],
        affinity=[{"rep_id": "R1", "industry": "finance", "win_rate": 0.9}],
    )
    r = solved(p, method=method)
    assert owners(r) == {"Lf": "R1", "Lr": "R2"}
    assert r.objective == pytest.approx(140)


@pytest.mark.parametrize("method", BOTH)
def test_pairs_only_mode_limits_the_candidates(method: str) -> None:
    # Only (L1,R2) and (L2,R1) are listed, so that is the assignment, scored from the table.
    p = problem_of(
        [lead("L1", 100), lead("L2", 100)],
        [rep("R1", 2), rep("R2", 2)],
        pairs=[{"lead_id": "L1", "rep_id": "R2", "score": 7}, {"lead_id": "L2", "rep_id": "R1"}],
    )
    r = solved(p, method=method)
    assert owners(r) == {"L1": "R2", "L2": "R1"}
    assert r.objective == pytest.approx(7 + 100)


@pytest.mark.parametrize("method", BOTH)
def test_pairs_override_mode_keeps_other_pairs(method: str) -> None:
    # Override scores (L1,R1)=-5, so L1 goes to R2 (value 100*1.0) in preference.
    p = problem_of(
        [lead("L1", 100)],
        [rep("R1", 1), rep("R2", 1, win_rate=0.3)],
        pairs=[{"lead_id": "L1", "rep_id": "R1", "score": -5}],
        pairs_mode="override",
    )
    r = solved(p, method=method)
    assert owners(r) == {"L1": "R2"}
    assert r.objective == pytest.approx(30)


def test_negative_scores_still_assign_for_count() -> None:
    # Assigning comes first: a lead whose only pair scores -3 is still assigned.
    p = problem_of(
        [lead("L1", 1)], [rep("R1", 1)], pairs=[{"lead_id": "L1", "rep_id": "R1", "score": -3}]
    )
    for method in BOTH:
        r = solved(p, method=method)
        assert owners(r) == {"L1": "R1"} and r.objective == pytest.approx(-3)


def test_pair_effort_overrides_lead_effort() -> None:
    # Pair effort 2 with R1 (capacity 2) leaves no room for L2, which has no other rep.
    p = problem_of(
        [lead("L1", 50), lead("L2", 10)],
        [rep("R1", 2)],
        pairs=[{"lead_id": "L1", "rep_id": "R1", "effort": 2}, {"lead_id": "L2", "rep_id": "R1"}],
    )
    r = solved(p)
    # Count first: only one fits either way (2 + 1 > 2), so the more valuable L1.
    assert owners(r) == {"L1": "R1", "L2": ""}


def test_pairs_listing_an_ineligible_pair_is_counted_not_used() -> None:
    p = problem_of(
        [lead("L1", 5, "A")],
        [rep("R1", 1, "B")],
        pairs=[{"lead_id": "L1", "rep_id": "R1", "score": 9}],
    )
    r = solved(p)
    assert owners(r) == {"L1": ""}
    assert r.summary()["pairs_table_rows_ignored"] == 1


@pytest.mark.parametrize("method", BOTH)
def test_empty_leads_table(method: str) -> None:
    p = problem_of([], [rep("R1", 3)])
    r = solved(p, method=method)
    assert r.status == Status.OPTIMAL and r.assigned == 0 and r.objective == 0
    assert len(r.assignments) == 0


def test_empty_leads_with_a_floor_is_infeasible() -> None:
    r = solve_infeasible(problem_of([], [rep("R1", 3, min_leads=1)]), "auto")
    assert "min_leads 1 for R1" in r.conflicts[0]
