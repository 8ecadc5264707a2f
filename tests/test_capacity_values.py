"""What capacity is worth (leadassign.result.capacity): each rep's figure against re-solving
the book with that rep's capacity + 1 through the full solver, on many small books.

``exact`` figures (network books, from the flow's prices) must equal the change of the value
score, and ``leads`` the change of the leads assigned; ``bound`` figures, and the ``bound``
of ``estimate`` figures, must be at least the change (valid upper bounds); territory
figures are the best of their reps'. Every answer is rechecked by the independent checker
(``tests.oracles.checker.solved``)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from leadassign import load_problem
from leadassign.models.policy import policy_from_mapping
from leadassign.output import write_result
from leadassign.result import Result
from tests.oracles.books import random_book
from tests.oracles.checker import solved
from tests.oracles.rules import RuleBook


def _solve(book: RuleBook, capacity: np.ndarray | None = None) -> Result:
    reps = book.reps.copy()
    if capacity is not None:
        reps["capacity"] = capacity
    policy = policy_from_mapping(book.policy)
    problem = load_problem(book.leads, reps, book.affinity, policy=policy)
    return solved(problem, policy, workers=1, time_limit_s=30, capacity="all")


def _changes(book: RuleBook, base: Result) -> list[tuple[int, float, int]]:
    """Per rep: (rep, value score change, leads change) when its capacity grows by one."""
    out = []
    for j in range(len(book.reps)):  # a loop over reps
        capacity = book.reps["capacity"].to_numpy().copy()
        capacity[j] += 1
        up = _solve(book, capacity)
        assert up.objective is not None and base.objective is not None
        out.append((j, up.objective - base.objective, up.assigned - base.assigned))
    return out


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


@pytest.mark.parametrize("seed", range(12))
def test_exact_figures_equal_resolving_with_one_more_unit(seed: int) -> None:
    """Policy-free books (some with floors and reps on leave), tight on capacity: the flow's
    figure is the change of the value score, and says whether a lead more is placed."""
    book = random_book(seed, 24 + seed, 4 + seed % 3, {}, slack=0.6, owned=0.0)
    base = _solve(book)
    assert base.method == "flow" and base.status == "OPTIMAL"
    values = base.capacity
    assert values is not None
    exact = 0
    for j, change, leads in _changes(book, base):
        if values.kind[j] != "exact":  # a rep one more unit would open to a new lead
            assert values.kind[j] == "estimate"
            continue
        exact += 1
        assert _close(values.value[j], change), (j, values.value[j], change)
        assert values.leads[j] == leads
    assert exact >= 3


def test_a_hand_solved_book() -> None:
    """Most leads come first: both leads are placed, L2 (10) at A, the only rep for it, so
    L1 (100 at A) goes to B, where it is worth 1: 11. One more unit at A puts both there:
    110, +99 with no lead more; one more at B is worth nothing (B has nothing else to take).
    """
    leads = pd.DataFrame(
        [
            {"lead_id": "L1", "territory": "T", "value": 100.0, "industry": "x"},
            {"lead_id": "L2", "territory": "T", "value": 10.0, "industry": "y"},
        ]
    )
    reps = pd.DataFrame(
        [
            {"rep_id": "A", "territories": "T", "capacity": 1, "win_rate": 1.0},
            {"rep_id": "B", "territories": "T", "capacity": 1, "win_rate": 0.01, "industries": "x"},
        ]
    )
    book = RuleBook(leads, reps, None, {})
    base = _solve(book)
    assert base.assigned == 2 and base.objective == pytest.approx(11.0)
    values = base.capacity
    assert values is not None
    for j, change, leads_gained in _changes(book, base):
        assert values.kind[j] == "exact"
        assert _close(values.value[j], change)
        assert values.leads[j] == leads_gained
    assert values.value.tolist() == pytest.approx([99.0, 0.0])


#: (policy, efforts of 1-3, share of reps with a floor): a churn limit, with tiers, accounts
#: kept together, the account cap, efforts (generalized assignment) alone and with floors.
#: Floors with the other rules make most of these random books infeasible.
RULES: list[tuple[dict[str, Any], bool, float]] = [
    ({"continuity": {"max_reassign": 0.1, "keep_bonus": 50}}, False, 0.0),
    (
        {"continuity": {"max_reassign": 0.2}, "tiers": [{"min_value": 8000, "min_level": 2}]},
        False,
        0.0,
    ),
    ({"accounts": {"together": True}}, False, 0.0),
    ({"account_cap": {"max_per_rep": 2}}, False, 0.0),
    ({}, True, 0.0),
    ({}, True, 0.3),
]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("rules", range(len(RULES)))
def test_bounds_hold_against_resolving(seed: int, rules: int) -> None:
    """Books with side rules or efforts: every ``bound`` figure, and the bound of every
    ``estimate``, is at least the change re-solving with one more unit brings."""
    policy, effort, floors = RULES[rules]
    book = random_book(
        seed,
        30,
        5,
        policy,
        slack=0.6,
        owned=0.5,
        keepable_owners=True,
        effort=effort,
        floors=floors,
    )
    base = _solve(book)
    assert base.status == "OPTIMAL"  # else the change would not be known exactly
    values = base.capacity
    assert values is not None and values.source == "lp"
    checked = 0
    for j, change, _ in _changes(book, base):
        tolerance = 1e-6 * max(1.0, abs(change))
        if values.kind[j] == "bound":
            assert values.value[j] >= change - tolerance
        if np.isfinite(values.bound[j]):
            assert values.bound[j] >= change - tolerance
            checked += 1
    assert checked >= 2


def test_a_fairness_band_gives_estimates_without_bounds() -> None:
    """Shares follow capacity: no dual of a capacity row prices the band's move."""
    book = random_book(1, 30, 5, {"fairness": {"metric": "count", "band": 0.5}}, slack=0.6)
    values = _solve(book).capacity
    assert values is not None
    assert set(values.kind.tolist()) == {"estimate"} and not np.isfinite(values.bound).any()


def test_territories_take_their_best_rep_and_outputs_say_what_the_figures_are(
    tmp_path: Any,
) -> None:
    book = random_book(3, 40, 6, {}, slack=0.6, owned=0.0)
    base = _solve(book)
    write_result(base, tmp_path)
    reps = pd.read_csv(tmp_path / "reps.csv", keep_default_na=False)
    assert list(reps.columns[-2:]) == ["capacity_value", "capacity_value_is"]
    assert set(reps["capacity_value_is"]) <= {"exact", "estimate"}
    summary = json.loads((tmp_path / "summary.json").read_text())
    section = summary["capacity"]
    by_rep = {r["rep_id"]: r for r in section["reps"]}
    for rep_id, cell in zip(reps["rep_id"], reps["capacity_value"].astype(float), strict=True):
        assert by_rep[rep_id]["value"] == pytest.approx(cell)
    problem = base.problem
    for entry in section["territories"]:
        covering = [
            str(problem.reps.ids[j])
            for j in range(problem.n_reps)
            if problem.reps.available[j]
            and (
                entry["territory"] in problem.reps.territories[j]
                or "*" in problem.reps.territories[j]
            )
        ]
        best = max(by_rep[r]["value"] for r in covering)
        assert entry["value"] == pytest.approx(best)
        assert entry["one_more_rep"] == pytest.approx(max(best, 0) * entry["typical_capacity"])


def test_same_inputs_same_figures(tmp_path: Any) -> None:
    book = random_book(5, 40, 6, RULES[0][0], slack=0.6, owned=0.5, keepable_owners=True)
    first, second = _solve(book), _solve(book)
    write_result(first, tmp_path / "a")
    write_result(second, tmp_path / "b")
    assert (tmp_path / "a" / "reps.csv").read_bytes() == (tmp_path / "b" / "reps.csv").read_bytes()
    one, two = (json.loads((tmp_path / d / "summary.json").read_text()) for d in "ab")
    one["capacity"].pop("elapsed_s"), two["capacity"].pop("elapsed_s")
    assert one["capacity"] == two["capacity"]


def test_the_comparison_report_has_the_capacity_chart(tmp_path: Any) -> None:
    from leadassign.scenarios.report import _capacity_chart
    from leadassign.scenarios.run import Run

    book = random_book(2, 40, 6, {}, slack=0.6, owned=0.0)
    base = _solve(book)
    run = Run("base", "", base.status, base.summary(), np.zeros(0), np.zeros(0), np.zeros(0))
    page = _capacity_chart([run])
    assert "<svg" in page and "one more rep in " in page


def test_solve_prints_the_capacity_line(tmp_path: Any) -> None:
    """The hand-solved book of ``test_a_hand_solved_book`` through the CLI: one more unit at
    A is worth 99, exactly."""
    from click.testing import CliRunner

    from leadassign.cli import main

    pd.DataFrame(
        [
            {"lead_id": "L1", "territory": "T", "value": 100, "industry": "x"},
            {"lead_id": "L2", "territory": "T", "value": 10, "industry": "y"},
        ]
    ).to_csv(tmp_path / "leads.csv", index=False)
    pd.DataFrame(
        [
            {"rep_id": "A", "territories": "T", "capacity": 1, "win_rate": 1.0, "industries": ""},
            {"rep_id": "B", "territories": "T", "capacity": 1, "win_rate": 0.01, "industries": "x"},
        ]
    ).to_csv(tmp_path / "reps.csv", index=False)
    args = ["solve", "--leads", str(tmp_path / "leads.csv"), "--reps", str(tmp_path / "reps.csv")]
    out = CliRunner().invoke(main, [*args, "--no-store", "--out", str(tmp_path / "run")])
    assert out.exit_code == 0, out.output
    assert "capacity: one more unit of capacity is worth 99.00 (at A, exact;" in out.output
    reps = (tmp_path / "run" / "reps.csv").read_text().splitlines()
    assert reps[1].endswith(",99.0,exact") and reps[2].endswith(",0.0,exact")


def test_side_rule_books_are_priced_from_the_lp_only_when_asked(tmp_path: Any) -> None:
    """One more LP costs seconds on books with side rules, so ``solve`` prices them only
    with ``--capacity-values``: without it reps.csv's cells are empty, and summary.json
    says so; with it the figures come from the LP, and ``leadassign solve`` says what they
    are."""
    from click.testing import CliRunner

    from leadassign.cli import main

    book = random_book(0, 30, 5, {}, slack=0.6, owned=0.5, keepable_owners=True, floors=0.0)
    book.leads.to_csv(tmp_path / "leads.csv", index=False)
    book.reps.to_csv(tmp_path / "reps.csv", index=False)
    (tmp_path / "policy.yaml").write_text("continuity: {max_reassign: 0.1, keep_bonus: 50}\n")
    args = ["solve", "--no-store", "--leads", str(tmp_path / "leads.csv")]
    args += ["--reps", str(tmp_path / "reps.csv"), "--policy", str(tmp_path / "policy.yaml")]
    plain = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    reps = pd.read_csv(tmp_path / "plain" / "reps.csv", keep_default_na=False)
    assert set(reps["capacity_value"]) == {""} and set(reps["capacity_value_is"]) == {""}
    section = json.loads((tmp_path / "plain" / "summary.json").read_text())["capacity"]
    assert section["value_is"] is None and section["source"] == "off" and section["note"]
    assert "capacity:" not in plain.output
    priced = CliRunner().invoke(
        main, [*args, "--capacity-values", "--out", str(tmp_path / "priced")]
    )
    assert priced.exit_code == 0, priced.output
    reps = pd.read_csv(tmp_path / "priced" / "reps.csv", keep_default_na=False)
    assert set(reps["capacity_value_is"]) <= {"bound", "estimate"}
    assert "capacity: one more unit of capacity is worth " in priced.output


@pytest.mark.parametrize("rules", [2, 4, 5])
def test_the_lp_stages_duals_give_figures_as_valid_as_a_second_lp(rules: int) -> None:
    """Where the LP stage solved the relaxation the figures need (its floor is the answer's
    count), its duals are used, not a second LP (``capacity.lp``): the figures pass the same
    re-solve checks as ``test_bounds_hold_against_resolving``, and their labels are those a
    second LP gives (the LP's optimum, so the gap to the answer, is the same; only the
    duals may be another optimal choice)."""
    from leadassign.compile.prepare import prepare
    from leadassign.result.capacity import lp_values

    policy, effort, floors = RULES[rules]
    book = random_book(
        1, 30, 5, policy, slack=0.6, owned=0.5, keepable_owners=True, effort=effort, floors=floors
    )
    base = _solve(book)
    values = base.capacity
    assert values is not None and values.lp == "the LP stage's" and base.status == "OPTIMAL"
    assert base.objective is not None
    prep = prepare(base.problem, policy_from_mapping(book.policy))
    count = int(base.assigned)
    again = lp_values(prep.pairs, prep.side, count, base.objective * base.value_scale, 30.0)
    assert again is not None
    assert set(values.kind.tolist()) == {again[2]}
    for j, change, _ in _changes(book, base):
        tolerance = 1e-6 * max(1.0, abs(change))
        if values.kind[j] == "bound":
            assert values.value[j] >= change - tolerance
            assert again[1][j] / base.value_scale >= change - tolerance
        assert np.isfinite(values.bound[j]) and values.bound[j] >= change - tolerance
