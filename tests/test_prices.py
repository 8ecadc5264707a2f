"""--price-rules: each hard rule's price is the gain of the same solve without it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from leadassign.cli import main
from leadassign.models.policy import policy_from_mapping
from leadassign.solve.prices import price_rules
from tests.helpers import lead, problem_of, rep
from tests.oracles.checker import solved


def test_tiers_and_floors_priced_by_solving_without_them() -> None:
    # L1 (value 100) needs level 2; only R1 (level 1, capacity 1, min_leads 1) and R2 (level
    # 2, capacity 1) cover T. With tiers: R2 takes L1 (100), R1 takes L2 (10): 2 leads, 110.
    # Without tiers: the same (each rep one lead, R1 and R2 have win_rate 1): price 0.
    # L3 (territory U) only R3 (level 1) covers; tiers block it (value 50 >= 50): without
    # tiers it is assigned too: +1 lead, +50.
    problem = problem_of(
        [lead("L1", 100), lead("L2", 10), lead("L3", 50, "U")],
        [
            rep("R1", 1, level=1, min_leads=1),
            rep("R2", 1, level=2),
            rep("R3", 1, "U", level=1),
        ],
    )
    policy = policy_from_mapping({"tiers": [{"min_value": 50, "min_level": 2}]})
    result = solved(problem, policy)
    assert result.assigned == 2 and result.objective == 110
    priced = price_rules(result)
    assert priced.prices is not None
    assert priced.prices["tiers"] == {
        "status": "OPTIMAL",
        "assigned": 3,
        "objective": 160.0,
        "limited_by": None,
        "assigned_gain": 1,
        "objective_gain": 50.0,
        "proven": True,
    }
    assert priced.prices["min_leads"]["assigned_gain"] == 0
    assert set(priced.prices) == {"tiers", "min_leads"}
    assert priced.summary()["price_of_rules"] == priced.prices


def test_price_rules_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text(
        "lead_id,territory,value,current_owner\nL1,T,100,R1\nL2,T,10,R1\nL3,T,50,R2\n"
    )
    (tmp_path / "reps.csv").write_text("rep_id,territories,capacity\nR1,T,1\nR2,T,2\n")
    # R1 (capacity 1) owns L1 and L2: one of them must move to R2 (capacity 2, owns L3).
    # max_reassign 0.34 allows floor(0.34 * 3) = 1 change, exactly what is needed, so the
    # limit costs nothing: all 3 leads assigned, L1 kept by R1 (any split has value 160).
    (tmp_path / "policy.yaml").write_text("continuity: {max_reassign: 0.34}\n")
    out = tmp_path / "out"
    args = ["solve", "--leads", str(tmp_path / "leads.csv"), "--reps", str(tmp_path / "reps.csv")]
    result = CliRunner().invoke(
        main, [*args, "--policy", str(tmp_path / "policy.yaml"), "--out", str(out), "--price-rules"]
    )
    assert result.exit_code == 0, result.output
    assert "price of continuity: +0 leads" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["price_of_rules"]["continuity"]["objective_gain"] == 0.0
    assert summary["churn"] == {
        "owned": 3,
        "kept": 2,
        "moved": 1,
        "released": 0,
        "held_back": 0,
        "new": 0,
        "forced_moves": 0,
        "changes": 1,
        "changes_allowed": 1,
    }
