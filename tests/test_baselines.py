"""Baselines (docs/scenarios.md "Baselines"): what CRMs do, for comparison with the optimizer.

Tiny hand-solved books per strategy (each expected answer derived in a comment), the
independent validator on every assignment (eligibility, tiers, capacity in effort), reasons,
plain-Python reference implementations of the three strategies on random books (greedy as a
literal sorted scan of every pair), determinism, the optimizer never worse, and the CLI.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import leadassign
from leadassign import InputError, Policy, Problem, Result, Status, load_problem, solve
from leadassign.baselines import ROUTING, baseline_candidates, run_baseline
from leadassign.check import check_assignments
from leadassign.cli import main
from leadassign.compile.prepare import prepare
from leadassign.demo import make_sample
from leadassign.output import write_result
from tests.helpers import assert_same_outputs, lead, owners, problem_of, rep

PLAIN_REASONS = {"assigned", "no_eligible_rep", "no_capacity"}


def policy(**blocks: Any) -> Policy:
    return Policy.model_validate(blocks)


def checked(problem: Problem, strategy: str, pol: Policy | None = None) -> Result:
    """Run a baseline and check it: valid under eligibility, tiers and capacity (the rules
    baselines keep), one row per lead in input order, truthful reasons and figures."""
    pol = pol or Policy()
    result = run_baseline(problem, strategy, pol)
    assert result.status == Status.FEASIBLE and result.method == strategy
    assert result.best_bound is None and result.gap is None and result.assigned_bound is None
    table = result.assignments
    assert table["lead_id"].tolist() == problem.leads.ids.tolist()  # no lead dropped
    # The validator with the rules baselines keep (not fairness, continuity, accounts).
    kept = pol.model_copy(update={"fairness": None, "continuity": None, "accounts": None})
    check = check_assignments(problem, kept, table)
    floors = [v for v in check.violations if "min_leads" in v]
    assert check.violations == floors, check.violations  # min_leads is ignored on purpose
    assert check.assigned == result.assigned
    assert result.expected_value is not None and result.objective == result.expected_value
    assert math.isclose(check.expected_value, result.expected_value, rel_tol=1e-12, abs_tol=1e-9)
    # A lead is left unassigned only when no eligible rep had room for it.
    assert check.improvable == []
    unassigned = table[table["rep_id"] == ""]
    none = unassigned["eligible_reps"] == 0
    assert (unassigned["reason"][none] == "no_eligible_rep").all()
    if not (problem.owner >= 0).any():
        assert set(table["reason"]) <= PLAIN_REASONS
        assert (unassigned["reason"][~none] == "no_capacity").all()
    return result


# ------------------------------------------------------------------------- hand-solved


def test_round_robin_hand_solved() -> None:
    # Reps in order A (T, cap 2), B (T, cap 1), C (T and S, cap 2); the pointer starts at A.
    # L1 (T): A, pointer -> B.  L2 (S): only C may take it, C; pointer past C wraps to A.
    # L3 (T): A (now full), pointer -> B.  L4 (T): B (now full), pointer -> C.
    # L5 (T): C (now full).  L6 (X): nobody covers X.  L7 (T): everybody is full.
    problem = problem_of(
        [
            lead("L1", 10),
            lead("L2", 10, "S"),
            lead("L3", 10),
            lead("L4", 10),
            lead("L5", 10),
            lead("L6", 10, "X"),
            lead("L7", 10),
        ],
        [rep("A", 2), rep("B", 1), rep("C", 2, "T;S")],
    )
    result = checked(problem, "round-robin")
    assert owners(result) == {
        "L1": "A",
        "L2": "C",
        "L3": "A",
        "L4": "B",
        "L5": "C",
        "L6": "",
        "L7": "",
    }
    reasons = dict(zip(result.assignments["lead_id"], result.assignments["reason"], strict=True))
    assert reasons["L6"] == "no_eligible_rep" and reasons["L7"] == "no_capacity"
    assert result.summary()["reasons"] == {"assigned": 5, "no_capacity": 1, "no_eligible_rep": 1}


def test_round_robin_skips_full_and_ineligible_reps_and_reps_on_leave() -> None:
    # A (cap 1), B on leave, C (cap 3, lacks 'spanish'), D (cap 3, has it).
    # L1: A, pointer -> B.  L2 (spanish): B is on leave, C lacks the skill, D; pointer wraps.
    # L3: A is full, B on leave, C.  L4: D (after C).  L5: pointer wraps; A full, B on leave: C.
    leads = [lead(f"L{k}", 1) for k in range(1, 6)]
    leads[1] = lead("L2", 1, skills="spanish")
    problem = problem_of(
        leads,
        [
            rep("A", 1),
            rep("B", 5, available="false"),
            rep("C", 3),
            rep("D", 3, skills="spanish"),
        ],
    )
    result = checked(problem, "round-robin")
    assert owners(result) == {"L1": "A", "L2": "D", "L3": "C", "L4": "D", "L5": "C"}


def test_weighted_round_robin_hand_solved() -> None:
    # A (cap 4), B (cap 2): the rep with the lowest assigned / capacity takes the next lead,
    # ties to the earlier rep. L1: 0/4 = 0/2, A.  L2: 1/4 > 0/2, B.  L3: 1/4 < 1/2, A.
    # L4: 2/4 = 1/2, A.  L5: 3/4 > 1/2, B (now full).  L6: A (now full).  L7: no room.
    # So A, B, A, A, B, A: four to A and two to B, in proportion to capacity.
    problem = problem_of([lead(f"L{k}", 1) for k in range(1, 8)], [rep("A", 4), rep("B", 2)])
    result = checked(problem, "weighted-round-robin")
    assert [owners(result)[f"L{k}"] for k in range(1, 8)] == ["A", "B", "A", "A", "B", "A", ""]
    # Plain round robin alternates instead: A, B, A, B, A, A (B full after two), then none.
    rr = checked(problem, "round-robin")
    assert [owners(rr)[f"L{k}"] for k in range(1, 8)] == ["A", "B", "A", "B", "A", "A", ""]


def test_greedy_hand_solved_and_what_the_optimizer_gains() -> None:
    # A (win 0.9) covers T and S, B (win 0.5) covers T; one lead each.
    # Pairs by expected value: L1-A 90, L2-A 81, L1-B 50. Greedy takes L1-A (A is then full),
    # skips L2-A (A full) and L1-B (L1 taken): 1 lead, 90. L2 has only A: no_capacity.
    # The optimizer assigns both: L1-B 50 + L2-A 81 = 131.
    problem = problem_of(
        [lead("L1", 100), lead("L2", 90, "S")],
        [rep("A", 1, "T;S", win_rate=0.9), rep("B", 1, win_rate=0.5)],
    )
    result = checked(problem, "greedy")
    assert owners(result) == {"L1": "A", "L2": ""}
    assert result.objective == pytest.approx(90.0)
    assert result.assignments["reason"].tolist() == ["assigned", "no_capacity"]
    best = solve(problem)
    assert owners(best) == {"L1": "B", "L2": "A"}
    assert best.objective == pytest.approx(131.0)


def test_greedy_breaks_ties_by_lead_then_rep() -> None:
    # Every pair is worth 10. In (lead, rep) order: L1-A taken, L1-B skipped, L2-A skipped
    # (A full), L2-B taken, L3 finds both full.
    problem = problem_of(
        [lead("L1", 10), lead("L2", 10), lead("L3", 10)], [rep("A", 1), rep("B", 1)]
    )
    result = checked(problem, "greedy")
    assert owners(result) == {"L1": "A", "L2": "B", "L3": ""}


@pytest.mark.parametrize("strategy", ROUTING)
def test_effort_counts_against_capacity(strategy: str) -> None:
    # A and B have capacity 4; L1 and L2 take 3 each, L3 1, L4 2. Whatever the order, each
    # 3-effort lead fills a rep to 3, L3 then fits in the 1 unit left, and L4 (2) never fits.
    # round robin: L1 A, L2 B, L3 A (pointer wrapped), L4 no room.
    # weighted: L1 A (0/4), L2 B (0/4 < 3/4), L3 A (3/4 = 3/4, earlier rep), L4 no room.
    # greedy (values 40, 30, 20, 10): L1-A, L2-A does not fit, L2-B, L3-A, L4 no room.
    problem = problem_of(
        [
            lead("L1", 40, effort=3),
            lead("L2", 30, effort=3),
            lead("L3", 20, effort=1),
            lead("L4", 10, effort=2),
        ],
        [rep("A", 4), rep("B", 4)],
    )
    result = checked(problem, strategy)
    assert owners(result) == {"L1": "A", "L2": "B", "L3": "A", "L4": ""}
    table = result.rep_table
    assert table["assigned_effort"].tolist() == [4, 3]
    assert result.assignments["reason"].tolist()[-1] == "no_capacity"


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("round-robin", {"L1": "B", "L2": "A", "L3": ""}),
        ("weighted-round-robin", {"L1": "B", "L2": "A", "L3": ""}),
        ("greedy", {"L1": "", "L2": "A", "L3": "B"}),
    ],
)
def test_pairs_table_and_tiers_apply_as_in_the_optimizer(
    strategy: str, expected: dict[str, str]
) -> None:
    # Pairs table (only mode): L1 only with B (score 7, effort 2), L2 and L3 with A or B.
    # Tiers: a lead worth 1000 or more needs level 2, so L3 (1000) may only go to B.
    # Round robin: L1 B (only B; B is then full), L2 A, L3 finds B full. Weighted: the same
    # (L2: B is full). Greedy by value: L3-B 1000 (B has 1 unit left), L2-A 8, L2-B skipped,
    # L1-B 7 needs 2 units: no room.
    problem = problem_of(
        [lead("L1", 5), lead("L2", 8), lead("L3", 1000)],
        [rep("A", 3), rep("B", 2, level=2)],
        pairs=[
            {"lead_id": "L1", "rep_id": "B", "score": 7, "effort": 2},
            {"lead_id": "L2", "rep_id": "A"},
            {"lead_id": "L2", "rep_id": "B"},
            {"lead_id": "L3", "rep_id": "A"},
            {"lead_id": "L3", "rep_id": "B"},
        ],
    )
    pol = policy(tiers=[{"min_value": 1000, "min_level": 2}])
    result = checked(problem, strategy, pol)
    assert owners(result) == expected
    table = result.assignments.set_index("lead_id")
    assert table["eligible_reps"].tolist() == [1, 2, 1]
    assert table.loc["L2", "expected_value"] == 8.0
    if expected["L1"]:
        assert table.loc["L1", "expected_value"] == 7.0  # the pairs table's score


def test_candidates_are_the_optimizers() -> None:
    """Without accounts kept together, the baselines' pairs are prepare()'s, exactly."""
    sample = make_sample(200, 12, seed=3, effort=True)
    leads = sample.leads
    pairs = pd.DataFrame(
        {
            "lead_id": leads["lead_id"].iloc[::3].to_numpy(),
            "rep_id": sample.reps["rep_id"].iloc[0],
            "score": 1.5,
        }
    )
    problem = load_problem(leads, sample.reps, sample.affinity, pairs, pairs_mode="override")
    pol = policy(tiers=[{"min_value": 30000, "min_level": 2}], fairness={"band": 0.3})
    values, cands = baseline_candidates(problem, pol)
    prep = prepare(problem, pol)
    assert np.array_equal(values, prep.values)
    for name in ("lead", "rep", "ev", "effort", "eligible_reps", "why_none"):
        assert np.array_equal(getattr(cands, name), getattr(prep.cands, name)), name


# ------------------------------------------------------------ reference implementations


def reference(problem: Problem, strategy: str, pol: Policy) -> list[int]:
    """Each strategy as docs/scenarios.md words it, in plain Python over the same eligible pairs:
    per lead, the chosen rep index or -1."""
    _, cands = baseline_candidates(problem, pol)
    n = problem.n_leads
    room = [int(c) for c in problem.reps.capacity]
    capacity = list(room)
    per_lead: list[list[tuple[int, float, int]]] = [[] for _ in range(n)]
    for i, j, ev, effort in zip(
        cands.lead.tolist(),
        cands.rep.tolist(),
        cands.ev.tolist(),
        cands.effort.tolist(),
        strict=True,
    ):
        per_lead[i].append((j, ev, effort))
    chosen = [-1] * n
    if strategy == "greedy":
        # Every pair sorted by expected value, highest first, then lead, then rep.
        scan = sorted(
            ((-ev, i, j, effort) for i in range(n) for j, ev, effort in per_lead[i]),
        )
        for _, i, j, effort in scan:
            if chosen[i] < 0 and room[j] >= effort:
                chosen[i] = j
                room[j] -= effort
        return chosen
    pointer = 0
    m = problem.n_reps
    for i in range(n):
        fits = {j: effort for j, _, effort in per_lead[i] if room[j] >= effort}
        if not fits:
            continue
        if strategy == "round-robin":
            j = next(r % m for r in range(pointer, pointer + m) if r % m in fits)
            pointer = j + 1
        else:
            j = min(fits, key=lambda r: ((capacity[r] - room[r]) / capacity[r], r))
        chosen[i] = j
        room[j] -= fits[j]
    return chosen


def random_book(seed: int) -> tuple[Problem, Policy]:
    """A small book with territories, skills, efforts, tiers, leave, and often a pairs table
    with scores and efforts, or affinities; many ties in value on purpose."""
    rng = random.Random(seed)
    n, m = rng.randint(0, 40), rng.randint(1, 7)
    territories = ["N", "S", "E"]
    leads = [
        lead(
            f"L{i}",
            rng.choice([0, 5, 10, 10, 20, 35, 50]),
            rng.choice(territories),
            industry=rng.choice(["tech", "retail"]),
            skills=rng.choice(["", "", "de"]),
            effort=rng.choice([1, 1, 1, 2, 3]),
        )
        for i in range(n)
    ]
    reps = [
        rep(
            f"R{j}",
            rng.randint(0, 8),
            ";".join(rng.sample(territories, rng.randint(1, 3))),
            skills=rng.choice(["", "de"]),
            win_rate=rng.choice([0.2, 0.5, 0.5, 1.0]),
            level=rng.randint(1, 3),
            available=rng.choice(["true", "true", "true", "false"]),
        )
        for j in range(m)
    ]
    pairs = None
    mode = "only"
    if n and rng.random() < 0.4:
        mode = rng.choice(["only", "override"])
        pairs = [
            {
                "lead_id": f"L{i}",
                "rep_id": f"R{j}",
                "score": rng.choice(["", 3, 7.5, -2]),
                "effort": rng.choice(["", 1, 2]),
            }
            for i in range(n)
            for j in range(m)
            if rng.random() < 0.5
        ]
    affinity = None
    if rng.random() < 0.5:
        affinity = [{"rep_id": f"R{j}", "industry": "tech", "win_rate": 0.7} for j in range(m)]
    problem = problem_of(leads, reps, affinity, pairs, mode)
    tiers = [{"min_value": 35, "min_level": 2}] if rng.random() < 0.5 else []
    return problem, policy(tiers=tiers)


@pytest.mark.parametrize("seed", range(40))
def test_strategies_match_their_plain_python_definitions(seed: int) -> None:
    problem, pol = random_book(seed)
    for strategy in ROUTING:
        result = checked(problem, strategy, pol)
        assert result.rep_of_lead.tolist() == reference(problem, strategy, pol), strategy


def test_greedy_matches_the_sorted_scan_on_a_larger_book() -> None:
    # Big enough for reps to fill while many leads wait on them (the heap's replacements).
    sample = make_sample(1500, 40, seed=5, effort=True, slack=0.8)
    problem = load_problem(sample.leads, sample.reps, sample.affinity)
    result = checked(problem, "greedy")
    assert result.rep_of_lead.tolist() == reference(problem, "greedy", Policy())


# --------------------------------------------------------------------- optimizer gains


@pytest.mark.parametrize("seed", range(12))
def test_the_optimizer_is_never_worse(seed: int) -> None:
    """solve() is lexicographic (most leads, then most value): against every baseline it
    assigns at least as many leads, and at the same count at least as much value. The
    books have no min_leads (baselines ignore floors, so a floor could cost the optimizer)."""
    problem, pol = random_book(100 + seed)
    best = solve(problem, pol, workers=1, time_limit_s=30)
    assert best.status == Status.OPTIMAL
    assert best.objective is not None
    for strategy in ROUTING:
        base = checked(problem, strategy, pol)
        assert base.objective is not None
        assert best.assigned >= base.assigned, strategy
        if best.assigned == base.assigned:
            assert best.objective >= base.objective - 1e-6 * max(1.0, abs(base.objective))


def test_baselines_on_a_sample_book_leave_value_on_the_table() -> None:
    sample = make_sample(300, 12, seed=2)
    problem = load_problem(sample.leads, sample.reps, sample.affinity)
    best = solve(problem)
    assert best.objective is not None
    for strategy in ROUTING:
        base = checked(problem, strategy)
        assert base.objective is not None
        assert (best.assigned, best.objective) > (base.assigned, base.objective)


# ------------------------------------------------------------------ API and summary


def test_run_baseline_is_exported_and_rejects_unknown_strategies() -> None:
    assert leadassign.run_baseline is run_baseline
    problem = problem_of([lead("L1", 1)], [rep("A", 1)])
    with pytest.raises(InputError, match="unknown baseline strategy 'random'"):
        run_baseline(problem, "random")


def test_ignored_rules_are_listed_and_their_figures_still_reported() -> None:
    # Floors, fairness, continuity and accounts are not applied, but the summary still
    # reports what the assignment does to them (band figures, churn).
    problem = problem_of(
        [
            lead("L1", 10, account_id="X", current_owner="B"),
            lead("L2", 10, account_id="X"),
            lead("L3", 10),
        ],
        [rep("A", 3), rep("B", 3, min_leads=1)],
    )
    pol = policy(
        fairness={"band": 0.1},
        continuity={"max_reassign": 0.0},
        accounts={"together": True},
    )
    result = checked(problem, "weighted-round-robin", pol)
    # weighted: L1 A (0/3 = 0/3, earlier rep), L2 B, L3 A (1/3 = 1/3). L1 moved away from
    # its owner B, account X is split.
    assert owners(result) == {"L1": "A", "L2": "B", "L3": "A"}
    summary = result.summary()
    assert summary["baseline"] == {
        "strategy": "weighted-round-robin",
        "ignored": ["min_leads", "fairness", "continuity", "accounts"],
    }
    assert summary["reasons"] == {"assigned": 2, "reassigned": 1}
    assert summary["churn"]["changes"] == 1 and summary["churn"]["changes_allowed"] == 0
    assert summary["fairness"]["band"]["reps_outside"] == ["A", "B"]
    assert summary["status"] == "FEASIBLE" and summary["gap"] is None


def test_seed_is_recorded_and_changes_nothing() -> None:
    sample = make_sample(120, 6, seed=4)
    problem = load_problem(sample.leads, sample.reps, sample.affinity)
    for strategy in ROUTING:
        a = run_baseline(problem, strategy, seed=1)
        b = run_baseline(problem, strategy, seed=2)
        assert a.summary()["seed"] == 1 and b.summary()["seed"] == 2
        assert a.rep_of_lead.tolist() == b.rep_of_lead.tolist()


@pytest.mark.parametrize("strategy", ROUTING)
def test_empty_books(strategy: str) -> None:
    no_leads = problem_of([], [rep("A", 2)])
    assert checked(no_leads, strategy).assigned == 0
    no_room = problem_of([lead("L1", 1)], [rep("A", 0)])
    result = checked(no_room, strategy)
    assert result.assignments["reason"].tolist() == ["no_capacity"]


@pytest.mark.parametrize("strategy", ROUTING)
def test_same_inputs_give_identical_files(tmp_path: Path, strategy: str) -> None:
    sample = make_sample(400, 15, seed=9, effort=True)
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        problem = load_problem(sample.leads, sample.reps, sample.affinity)
        write_result(run_baseline(problem, strategy), out, matrix=True)
    assert_same_outputs(outs[0], outs[1], ("assignments.csv", "reps.csv", "matrix.csv"))


# ---------------------------------------------------------------------------- CLI


def write_book(folder: Path) -> list[str]:
    sample = make_sample(250, 10, seed=6)
    folder.mkdir(parents=True, exist_ok=True)
    args = []
    for name, table in (
        ("leads", sample.leads),
        ("reps", sample.reps),
        ("affinity", sample.affinity),
    ):
        table.to_csv(folder / f"{name}.csv", index=False)
        args += [f"--{name}", str(folder / f"{name}.csv")]
    return args


@pytest.mark.parametrize("strategy", ROUTING)
def test_cli_baseline_writes_the_files_of_solve(tmp_path: Path, strategy: str) -> None:
    inputs = write_book(tmp_path / "in")
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["baseline", "--strategy", strategy, *inputs, "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert f"method {strategy}" in run.stdout and "assigned:" in run.stdout
    assert "ignored, as CRMs do: min_leads" in run.stdout  # the sample has training floors
    assert sorted(p.name for p in out.iterdir()) == [
        ".leadassign-manifest.json",
        "assignments.csv",
        "reps.csv",
        "summary.json",
    ]
    table = pd.read_csv(
        out / "assignments.csv",
        dtype={"rep_id": str},
        keep_default_na=False,
        na_values={"expected_value": [""]},
    )
    problem = load_problem(*(tmp_path / "in" / f"{n}.csv" for n in ("leads", "reps", "affinity")))
    check = check_assignments(problem, Policy(), table)
    assert [v for v in check.violations if "min_leads" not in v] == []
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "FEASIBLE" and summary["method"] == strategy
    assert summary["objective"] == pytest.approx(check.expected_value, rel=1e-12)
    assert summary["assigned"] == check.assigned
    assert summary["baseline"]["strategy"] == strategy
    # The same book, solved: the comparison the command is for.
    solved = CliRunner().invoke(main, ["solve", *inputs, "--out", str(tmp_path / "opt")])
    assert solved.exit_code == 0
    best = json.loads((tmp_path / "opt" / "summary.json").read_text())
    assert (best["assigned"], best["objective"]) >= (summary["assigned"], summary["objective"])


def test_cli_bad_strategy_is_a_usage_error(tmp_path: Path) -> None:
    inputs = write_book(tmp_path / "in")
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["baseline", "--strategy", "random", *inputs, "--out", str(out)])
    assert run.exit_code == 2
    assert "round-robin" in run.stderr and "greedy" in run.stderr
    assert not out.exists()


def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    inputs = write_book(tmp_path / "in")
    leads = pd.read_csv(tmp_path / "in" / "leads.csv", dtype=str, keep_default_na=False)
    leads.loc[3, "value"] = "lots"
    leads.to_csv(tmp_path / "in" / "leads.csv", index=False)
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["baseline", "--strategy", "greedy", *inputs, "--out", str(out)])
    assert run.exit_code == 2
    assert run.stderr.startswith("error: ") and "line 5" in run.stderr and "'value'" in run.stderr
    assert not out.exists()
