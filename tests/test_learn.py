"""leadassign learn: shrunk rates, the held-out check, the heterogeneity sentence, the files
(byte-identical across runs, ready for solve) and bad options (exit 2)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from leadassign.app.learn import run_learn
from leadassign.cli import main
from leadassign.outcomes.deals import load_deals
from leadassign.outcomes.learn import LearnOptions, learn, throughput

DATA = Path(__file__).parent / "data"
MAVEN_SAMPLE = DATA / "maven_history_sample.csv"  # 2,500 closed Maven deals, seeded sample


def _history(rates: dict[str, float], deals: int, seed: int, segments: int = 4) -> pd.DataFrame:
    """A synthetic history: each rep wins with its own rate; created over 2016, closed 1-90
    days later; industries drawn uniformly."""
    rng = np.random.default_rng(seed)
    rows = []
    for rep, rate in sorted(rates.items()):
        created = np.datetime64("2016-01-01") + rng.integers(0, 365, deals)
        closed = created + rng.integers(1, 90, deals)
        won = rng.random(deals) < rate
        industry = rng.integers(0, segments, deals)
        for i in range(deals):
            rows.append(
                {
                    "deal_id": f"{rep}-{i}",
                    "rep_id": rep,
                    "outcome": "won" if won[i] else "lost",
                    "created": str(created[i]),
                    "closed": str(closed[i]),
                    "amount": 1000.0,
                    "industry": f"ind{industry[i]}",
                }
            )
    return pd.DataFrame(rows)


def test_planted_rep_differences_are_detected_and_beat_the_base_rate() -> None:
    rates = {f"R{i:02d}": 0.25 + 0.5 * i / 19 for i in range(20)}  # 25% to 75%
    deals = load_deals(_history(rates, 300, seed=1))
    found = learn(deals, LearnOptions(segment="industry"))
    rep = found.heterogeneity[0]
    assert rep.detectable and math.isfinite(rep.strength) and rep.p_value < 0.01
    assert rep.sentence.startswith("Reps differ")
    # the learned rates follow the truth, pulled toward the mean
    learned = found.reps.set_index("rep_id")["win_rate"]
    assert learned["R19"] - learned["R00"] > 0.3
    check = found.check
    assert check is not None
    against_base = next(d for d in check.differences if d.against == "base")
    assert against_base.brier_high < 0  # the learned rates beat the base rate held out
    assert against_base.log_loss_high < 0
    # industries were planted without effect: not claimed
    assert not found.heterogeneity[1].detectable


def test_no_planted_difference_is_reported_in_words() -> None:
    deals = load_deals(_history({f"R{i:02d}": 0.4 for i in range(15)}, 200, seed=2))
    found = learn(deals, LearnOptions(segment="industry"))
    rep = found.heterogeneity[0]
    assert not rep.detectable and rep.p_value >= 0.05
    assert rep.sentence.startswith("No detectable difference between reps in this history")
    assert "Optimizing on win rates will not raise conversion" in rep.sentence
    # no written rate claims more than the data shows: all within a point of the pool
    pooled = deals.won.sum() / len(deals)
    assert np.all(np.abs(found.reps["win_rate"] - pooled) < 0.01)
    assert found.affinity is not None
    assert np.all(np.abs(found.affinity["win_rate"] - pooled) < 0.01)


def test_maven_sample_shows_no_detectable_difference() -> None:
    found = learn(load_deals(MAVEN_SAMPLE), LearnOptions(segment="industry"))
    assert [h.detectable for h in found.heterogeneity] == [False, False]
    assert found.heterogeneity[0].sentence.startswith("No detectable difference between reps")
    check = found.check
    assert check is not None
    # raw per rep x industry rates do worse held out than the learned ones
    assert check.scores["raw"].log_loss > check.scores["learned"].log_loss
    assert check.scores["raw"].brier > check.scores["learned"].brier
    # the learned rates claim (almost) nothing beyond the team's rate
    assert float(found.reps["win_rate"].max() - found.reps["win_rate"].min()) < 0.02


def test_hand_computed_posteriors_of_a_small_history() -> None:
    # Rep level: A 4 of 5, B 1 of 5, C 3 of 5 (pooled 8/15). The beta-binomial with mean m and
    # strength s is fitted; each rep's rate is (k + m s) / (n + s).
    rows = []
    for rep, won in (("A", 4), ("B", 1), ("C", 3)):
        for i in range(5):
            rows.append(
                {
                    "deal_id": f"{rep}{i}",
                    "rep_id": rep,
                    "outcome": "won" if i < won else "lost",
                    "created": "2017-01-01",
                    "closed": f"2017-01-{2 + i:02d}",
                }
            )
    found = learn(load_deals(pd.DataFrame(rows)))
    fit = found.model.rep_fit
    k, n = np.array([4, 1, 3]), np.array([5, 5, 5])
    if math.isinf(fit.strength):
        expected = np.full(3, 8 / 15)
    else:
        expected = (k + fit.mean * fit.strength) / (n + fit.strength)
    assert found.reps["win_rate"].to_numpy() == pytest.approx(expected, abs=1e-6)
    assert found.reps["deals"].tolist() == [5, 5, 5]
    assert found.reps["won"].tolist() == [4, 1, 3]
    assert found.check is None  # 15 deals: too few to hold any out


def test_throughput_is_the_75th_percentile_of_weekly_deals_rounded_up() -> None:
    # One rep: weeks with 1, 3, 0 and 4 deals created (0 counts); p75 of [1, 3, 0, 4] = 3.25
    days = ["2017-01-02"] + ["2017-01-09"] * 3 + ["2017-01-23"] * 4
    created = np.array(days, dtype="datetime64[D]")
    got = throughput(np.array(["A"] * 8), created, np.array(["A", "B"]), 7)
    assert got.tolist() == [4, 0]


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_files_are_byte_identical_across_runs(tmp_path: Path) -> None:
    history = _write(_history({"A": 0.3, "B": 0.5, "C": 0.7}, 150, seed=3), tmp_path / "h.csv")
    for out in ("one", "two"):
        run_learn(history, tmp_path / out, segment="industry")
    for name in ("reps.csv", "affinity.csv", "learn.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_as_of_excludes_later_deals(tmp_path: Path) -> None:
    frame = _history({"A": 0.3, "B": 0.5, "C": 0.7}, 150, seed=4)
    as_of = "2016-09-01"
    later = pd.to_datetime(frame["closed"]) >= pd.Timestamp(as_of)
    flipped = frame.copy()
    flipped.loc[later, "outcome"] = np.where(frame.loc[later, "outcome"] == "won", "lost", "won")
    one = run_learn(
        _write(frame, tmp_path / "a.csv"), tmp_path / "a", segment="industry", as_of=as_of
    )
    two = run_learn(
        _write(flipped, tmp_path / "b.csv"), tmp_path / "b", segment="industry", as_of=as_of
    )
    assert one.summary["deals"]["training"] == int((~later).sum())
    for name in ("reps.csv", "affinity.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert one.summary["held_out"] == two.summary["held_out"]


def test_empty_segment_cells_pool_into_the_rep(tmp_path: Path) -> None:
    frame = _history({"A": 0.5, "B": 0.5}, 60, seed=5)
    frame.loc[frame.index[:20], "industry"] = ""  # 20 of A's deals have no industry
    done = run_learn(_write(frame, tmp_path / "h.csv"), tmp_path / "out", segment="industry")
    reps = pd.read_csv(tmp_path / "out" / "reps.csv")
    assert reps.set_index("rep_id").loc["A", "deals"] == 60  # the empty ones count for A
    affinity = pd.read_csv(tmp_path / "out" / "affinity.csv", keep_default_na=False)
    assert "" not in set(affinity["industry"])
    assert done.affinity is not None


def test_learn_json_writes_inf_as_null_with_words(tmp_path: Path) -> None:
    run_learn(MAVEN_SAMPLE, tmp_path / "out", segment="industry")
    data = json.loads((tmp_path / "out" / "learn.json").read_text())
    cell = data["rates"]["cell"]
    assert cell["prior_strength"] is None and cell["prior_strength_words"].startswith("infinite")
    check = data["held_out"]
    assert [d["against"] for d in check["differences"]] == ["base", "raw"]
    assert len(check["reliability"]["learned"]) == 10
    assert sum(row["deals"] for row in check["reliability"]["learned"]) == check["validation_deals"]


def test_learned_tables_go_straight_into_validate_and_solve(tmp_path: Path) -> None:
    """A Maven-derived book: the sample's reps in two territories, 80 leads."""
    deals = pd.read_csv(MAVEN_SAMPLE, keep_default_na=False)
    agents = sorted(set(deals["rep_id"]))
    reps = pd.DataFrame(
        {
            "rep_id": [*agents, "New Hire"],
            "territories": ["East" if i % 2 else "West" for i in range(len(agents) + 1)],
            "capacity": 5,
            "manager": "M",
        }
    )
    _write(reps, tmp_path / "reps.csv")
    industries = sorted(set(deals["industry"]) - {""})
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i:03d}" for i in range(80)],
            "territory": ["East" if i % 2 else "West" for i in range(80)],
            "value": [1000 + 10 * i for i in range(80)],
            "industry": [industries[i % len(industries)] for i in range(80)],
        }
    )
    _write(leads, tmp_path / "leads.csv")
    runner = CliRunner()
    learned = runner.invoke(
        main,
        [
            "learn",
            "--history",
            str(MAVEN_SAMPLE),
            "--segment",
            "industry",
            "--reps",
            str(tmp_path / "reps.csv"),
            "--out",
            str(tmp_path / "learned"),
        ],
    )
    assert learned.exit_code == 0, learned.output
    assert "No detectable difference between reps" in learned.output
    assert "New Hire" in learned.output  # the warning names the rep without history
    merged = pd.read_csv(tmp_path / "learned" / "reps.csv")
    assert list(merged.columns[:4]) == ["rep_id", "territories", "capacity", "manager"]
    assert merged["capacity"].tolist() == [5] * len(merged)  # the user's capacity kept
    tables = [
        "--leads",
        str(tmp_path / "leads.csv"),
        "--reps",
        str(tmp_path / "learned" / "reps.csv"),
        "--affinity",
        str(tmp_path / "learned" / "affinity.csv"),
    ]
    valid = runner.invoke(main, ["validate", *tables])
    assert valid.exit_code == 0, valid.output
    solved = runner.invoke(main, ["solve", *tables, "--no-store", "--out", str(tmp_path / "run")])
    assert solved.exit_code == 0, solved.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "OPTIMAL" and summary["assigned"] == 80


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--segment", "sector"], "no such column (its segment columns: industry)"),
        (["--as-of", "2010-01-01"], "no deal closed before it"),
        (["--as-of", "soon"], "is not a date"),
        (["--period-days", "0"], "--period-days"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(
    tmp_path: Path, options: list[str], words: str
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["learn", "--history", str(MAVEN_SAMPLE), *options, "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert not out.exists()


def test_every_option_is_documented() -> None:
    result = CliRunner().invoke(main, ["learn", "--help"])
    assert result.exit_code == 0
    for option in ("--history", "--columns", "--segment", "--as-of", "--reps", "--period-days"):
        assert option in result.output
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "leadassign learn" in readme
    assert "## learn" in (Path(__file__).parents[1] / "docs" / "history.md").read_text()
