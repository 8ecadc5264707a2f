"""leadassign evaluate: a run's arms compared on the outcomes of a deal history.

The runs are real solves with --holdout of a synthetic book; the histories are drawn with a
known conversion per arm, so what evaluate must find is known."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from leadassign.cli import main
from leadassign.outcomes.uplift import detectable_difference, proportion_difference, wilson

TERRITORIES = {"East": 900, "West": 700, "South": 400}


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A solved book of 2,000 leads, half of them held out (round robin), recorded."""
    root = tmp_path_factory.mktemp("book")
    territory = np.repeat(list(TERRITORIES), list(TERRITORIES.values()))
    rng = np.random.default_rng(1)
    leads = pd.DataFrame(
        {
            "lead_id": [f"D{i:05d}" for i in range(len(territory))],
            "territory": territory,
            "value": rng.integers(1_000, 20_000, size=len(territory)),
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": [f"R{t[0]}{k}" for t in TERRITORIES for k in range(4)],
            "territories": [t for t in TERRITORIES for _ in range(4)],
            "capacity": [300 for _ in TERRITORIES for _ in range(4)],
            "win_rate": [0.2 + 0.1 * k for _ in TERRITORIES for k in range(4)],
        }
    )
    leads.to_csv(root / "leads.csv", index=False)
    reps.to_csv(root / "reps.csv", index=False)
    code, out = _cli(
        "solve", "--leads", str(root / "leads.csv"), "--reps", str(root / "reps.csv"),
        "--out", str(root / "run"), "--store", str(root / "h.db"), "--holdout", "0.5",
        "--holdout-seed", "3",
    )  # fmt: skip
    assert code == 0, out
    return root


def _history(run: Path, rates: dict[str, float], seed: int, path: Path) -> pd.DataFrame:
    """Outcomes drawn per arm: won with the arm's rate, else lost; every 10th deal still
    open; won amounts and cycle days drawn the same way in both arms."""
    table = pd.read_csv(run / "assignments.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    n = len(table)
    rate = table["arm"].map(rates).to_numpy(dtype=float)
    won = rng.random(n) < rate
    still_open = np.arange(n) % 10 == 0
    outcome = np.where(still_open, "open", np.where(won, "won", "lost"))
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    closed = created + pd.to_timedelta(rng.integers(5, 90, n), unit="D")
    history = pd.DataFrame(
        {
            "deal_id": table["lead_id"],
            "rep_id": table["rep_id"].replace("", "R?"),
            "outcome": outcome,
            "created": created.strftime("%Y-%m-%d"),
            "closed": np.where(still_open, "", closed.strftime("%Y-%m-%d")),
            "amount": np.where(outcome == "won", rng.integers(500, 5_000, n), 0),
            "territory": table["territory"],
        }
    )
    history.to_csv(path, index=False)
    return history


def _evaluated(path: Path) -> dict[str, pd.Series]:
    table = pd.read_csv(path / "evaluate.csv")
    return {row["row"]: row for _, row in table.iterrows()}


def test_a_planted_conversion_difference_is_detected(run_folder: Path, tmp_path: Path) -> None:
    history = tmp_path / "deals.csv"
    _history(run_folder / "run", {"optimized": 0.70, "holdout": 0.50}, 7, history)
    code, out = _cli(
        "evaluate", "--run", str(run_folder / "run"), "--history", str(history),
        "--out", str(tmp_path / "ev"),
    )  # fmt: skip
    assert code == 0, out
    rows = _evaluated(tmp_path / "ev")
    diff = rows["difference"]
    assert diff["conversion_low"] <= 0.20 <= diff["conversion_high"]  # covers the truth
    assert diff["conversion_low"] > 0  # and excludes zero
    assert diff["conversion_p"] < 0.001
    assert "in conversion" in out and "is distinguishable from zero" in out
    # revenue per lead: 90% of deals closed, won amounts uniform on 500..4999 (mean 2,749.5):
    # the true difference is (0.70 - 0.50) * 0.9 * 2,749.5 = 494.91
    assert diff["revenue_per_lead_low"] <= 494.91 <= diff["revenue_per_lead_high"]
    assert rows["optimized"]["leads"] + rows["holdout"]["leads"] == 2000


def test_no_difference_is_not_claimed(run_folder: Path, tmp_path: Path) -> None:
    history = tmp_path / "deals.csv"
    _history(run_folder / "run", {"optimized": 0.60, "holdout": 0.60}, 8, history)
    code, out = _cli(
        "evaluate", "--run", str(run_folder / "run"), "--history", str(history),
        "--out", str(tmp_path / "ev"),
    )  # fmt: skip
    assert code == 0, out
    diff = _evaluated(tmp_path / "ev")["difference"]
    assert diff["conversion_low"] < 0 < diff["conversion_high"]
    assert "is not distinguishable from zero" in out
    assert "only a difference of" in out and "points or more could be detected" in out
    # the detectable difference printed is the one the arm sizes and pooled rate give
    rows = _evaluated(tmp_path / "ev")
    closed = rows["optimized"]["closed"], rows["holdout"]["closed"]
    pooled = (rows["optimized"]["won"] + rows["holdout"]["won"]) / sum(closed)
    assert diff["conversion_detectable"] == pytest.approx(
        detectable_difference(int(closed[0]), int(closed[1]), pooled)
    )


def test_observed_figures_equal_a_direct_pandas_computation(
    run_folder: Path, tmp_path: Path
) -> None:
    history = tmp_path / "deals.csv"
    deals = _history(run_folder / "run", {"optimized": 0.65, "holdout": 0.55}, 9, history)
    deals = deals.iloc[:1900]  # 100 leads missing from the history
    deals.to_csv(history, index=False)
    code, out = _cli(
        "evaluate", "--run", str(run_folder / "run"), "--history", str(history),
        "--out", str(tmp_path / "ev"),
    )  # fmt: skip
    assert code == 0, out
    assert "100 of the run's 2,000 leads are not in the history" in out
    rows = _evaluated(tmp_path / "ev")
    run = pd.read_csv(run_folder / "run" / "assignments.csv", dtype=str, keep_default_na=False)
    joined = run.merge(deals, left_on="lead_id", right_on="deal_id", how="inner")
    joined["days"] = (pd.to_datetime(joined["closed"]) - pd.to_datetime(joined["created"])).dt.days
    for arm, group in joined.groupby("arm"):
        row = rows[str(arm)]
        closed = group[group["outcome"] != "open"]
        won = group[group["outcome"] == "won"]
        assert row["leads"] == (run["arm"] == arm).sum()
        assert row["in_history"] == len(group)
        assert row["closed"] == len(closed) and row["won"] == len(won)
        assert row["open"] == (group["outcome"] == "open").sum()
        assert row["conversion"] == pytest.approx(len(won) / len(closed), rel=1e-12)
        assert row["revenue"] == pytest.approx(won["amount"].sum(), rel=1e-12)
        assert row["revenue_per_lead"] == pytest.approx(won["amount"].sum() / len(group))
        assert row["cycle_days"] == pytest.approx(won["days"].mean(), rel=1e-12)
        assert row["followed"] == (group["rep_id_x"] == group["rep_id_y"]).sum()
        low, high = wilson(len(won), len(closed))  # type: ignore[misc]
        assert (row["conversion_low"], row["conversion_high"]) == pytest.approx((low, high))


def test_same_inputs_same_bytes_and_a_run_id_reads_the_store(
    run_folder: Path, tmp_path: Path
) -> None:
    history = tmp_path / "deals.csv"
    _history(run_folder / "run", {"optimized": 0.6, "holdout": 0.5}, 10, history)
    outs = []
    for name, run in (("a", str(run_folder / "run")), ("b", str(run_folder / "run")), ("c", "1")):
        code, out = _cli(
            "evaluate", "--run", run, "--history", str(history), "--out", str(tmp_path / name),
            "--store", str(run_folder / "h.db"),
        )  # fmt: skip
        assert code == 0, out
        outs.append((tmp_path / name / "evaluate.csv").read_bytes())
    a_json = json.loads((tmp_path / "a" / "evaluate.json").read_text())
    c_json = json.loads((tmp_path / "c" / "evaluate.json").read_text())
    assert outs[0] == outs[1] == outs[2]
    assert a_json["arms"] == c_json["arms"] and a_json["difference"] == c_json["difference"]
    code, printed = _cli("evaluate", "--run", str(run_folder / "run"), "--history", str(history),
                         "--json")  # fmt: skip
    assert code == 0 and json.loads(printed)["difference"] == a_json["difference"]


def test_bad_inputs_exit_2(run_folder: Path, tmp_path: Path) -> None:
    history = tmp_path / "deals.csv"
    _history(run_folder / "run", {"optimized": 0.6, "holdout": 0.5}, 11, history)
    code, out = _cli("evaluate", "--run", str(tmp_path / "nope"), "--history", str(history))
    assert code == 2 and "not found" in out
    code, out = _cli(
        "evaluate", "--run", "99", "--history", str(history), "--store", str(run_folder / "h.db")
    )
    assert code == 2 and "99" in out
    # a history that holds none of the run's leads
    other = pd.read_csv(history, dtype=str, keep_default_na=False)
    other["deal_id"] = "X" + other["deal_id"]
    other.to_csv(tmp_path / "other.csv", index=False)
    code, out = _cli(
        "evaluate", "--run", str(run_folder / "run"), "--history", str(tmp_path / "other.csv"),
        "--out", str(tmp_path / "ev"),
    )  # fmt: skip
    assert code == 2 and "none of the 2,000 leads" in out
    assert not (tmp_path / "ev").exists()
    # a run without a holdout
    plain = tmp_path / "plain"
    plain.mkdir()
    table = pd.read_csv(run_folder / "run" / "assignments.csv", dtype=str)
    table.drop(columns=["arm"]).to_csv(plain / "assignments.csv", index=False)
    code, out = _cli("evaluate", "--run", str(plain), "--history", str(history))
    assert code == 2 and "no 'arm' column" in out
    # a bad history row names its line and column
    bad = pd.read_csv(history, dtype=str, keep_default_na=False)
    bad.loc[4, "outcome"] = "maybe"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    code, out = _cli("evaluate", "--run", str(run_folder / "run"), "--history",
                     str(tmp_path / "bad.csv"))  # fmt: skip
    assert code == 2 and "line 6" in out and "outcome" in out


def test_newcombe_interval_and_detectable_difference_by_hand() -> None:
    # Newcombe (1998), Table II example (56/70 vs 48/80): method 10 gives 0.0524 to 0.3339
    diff = proportion_difference(56, 70, 48, 80)
    assert diff.estimate == pytest.approx(0.2)
    assert (round(diff.low, 4), round(diff.high, 4)) == (0.0524, 0.3339)  # type: ignore[arg-type]
    # 1,000 per arm at 50%: (1.959964 + 0.841621) * sqrt(0.25 * 2 / 1000) = 0.062645
    assert detectable_difference(1000, 1000, 0.5) == pytest.approx(0.062645, abs=1e-6)
    assert detectable_difference(0, 10, 0.5) is None
    assert math.isclose(proportion_difference(5, 10, 5, 10).p_value or 0.0, 1.0)


def test_ids_a_spreadsheet_would_run_are_joined_as_given(tmp_path: Path) -> None:
    # assignments.csv writes '=A1' as "'=A1" (spreadsheet-safe); evaluate joins it to =A1
    leads = pd.DataFrame(
        {
            "lead_id": ["=A1", "-B2", "C3", "@D4"] * 50,
            "territory": ["T"] * 200,
            "value": [100] * 200,
        }
    )
    leads["lead_id"] = leads["lead_id"] + [str(i) for i in range(200)]
    leads.to_csv(tmp_path / "leads.csv", index=False)
    pd.DataFrame(
        {"rep_id": ["R1", "R2"], "territories": ["T", "T"], "capacity": [100, 100]}
    ).to_csv(tmp_path / "reps.csv", index=False)
    code, out = _cli(
        "solve", "--leads", str(tmp_path / "leads.csv"), "--reps", str(tmp_path / "reps.csv"),
        "--out", str(tmp_path / "run"), "--no-store", "--holdout", "0.5",
    )  # fmt: skip
    assert code == 0, out
    assert "'=A10" in (tmp_path / "run" / "assignments.csv").read_text()
    history = pd.DataFrame(
        {
            "deal_id": leads["lead_id"],
            "rep_id": "R1",
            "outcome": ["won", "lost"] * 100,
            "created": "2024-01-01",
            "closed": "2024-02-01",
        }
    )
    history.to_csv(tmp_path / "deals.csv", index=False)
    code, out = _cli("evaluate", "--run", str(tmp_path / "run"), "--history",
                     str(tmp_path / "deals.csv"), "--json")  # fmt: skip
    assert code == 0, out
    report = json.loads(out)
    assert report["arms"]["optimized"]["missing"] == report["arms"]["holdout"]["missing"] == 0
    assert report["arms"]["optimized"]["leads"] == report["arms"]["holdout"]["leads"] == 100


def test_the_written_out_normal_quantiles_are_scipys() -> None:
    from scipy import stats

    from leadassign.outcomes.uplift import Z80, Z95

    assert float(stats.norm.ppf(0.975)) == Z95
    assert float(stats.norm.ppf(0.80)) == Z80


def test_the_cli_imports_neither_scipy_stats_nor_matplotlib() -> None:
    """Every command paid ~2 s to import them (issue 24): learn, backtest and evaluate
    import them when they run."""
    import subprocess
    import sys

    code = (
        "import sys, leadassign.cli; "
        "print(sorted(m for m in ('scipy.stats', 'matplotlib.pyplot') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
