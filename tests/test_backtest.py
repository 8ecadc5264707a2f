"""leadassign backtest: observed figures, honest scoring, intervals, determinism, bad input."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from leadassign.app.backtest import backtest
from leadassign.cli import main
from leadassign.publish import MANIFEST

SPLIT = "2020-07-01"


def synthetic(path: Path, rates: np.ndarray, *, n: int = 4000, seed: int = 7) -> Path:
    """A history of ``n`` deals, half created in each of two years around ``SPLIT``: rep r
    wins a deal of segment s with probability ``rates[r, s]``; deals are routed at random
    (rep r gets a deal of segment s with probability ``routing[s, r]``, known)."""
    rng = np.random.default_rng(seed)
    reps, segments = rates.shape
    routing = np.full((segments, reps), 1.0 / reps)
    start = np.datetime64("2019-07-01")
    created = start + rng.integers(0, 730 - 60, n).astype("timedelta64[D]")
    seg = rng.integers(0, segments, n)
    rep = np.array([rng.choice(reps, p=routing[s]) for s in seg])
    won = rng.random(n) < rates[rep, seg]
    cycle = rng.integers(5, 45, n)
    closed = created + cycle.astype("timedelta64[D]")
    frame = pd.DataFrame(
        {
            "deal_id": [f"D{i:05d}" for i in range(n)],
            "rep_id": [f"R{r}" for r in rep],
            "outcome": np.where(won, "won", "lost"),
            "created": created.astype(str),
            "closed": closed.astype(str),
            "amount": 1000.0,
            "industry": [f"S{s}" for s in seg],
        }
    )
    frame.to_csv(path, index=False)
    return path


def true_uplift(history: Path, plan: Path, rates: np.ndarray) -> float:
    """The expected wins of ``plan`` minus those of the historical owners, on the book's
    deals, from the true rates."""
    deals = pd.read_csv(history)
    chosen = pd.read_csv(plan).merge(deals, on="deal_id", suffixes=("_plan", ""))
    seg = chosen["industry"].str[1:].astype(int).to_numpy()
    ours = rates[chosen["rep_id_plan"].str[1:].astype(int).to_numpy(), seg]
    theirs = rates[chosen["rep_id"].str[1:].astype(int).to_numpy(), seg]
    return float(ours.sum() - theirs.sum())


#: 8 reps, 4 segments: rep r wins 70% in segment r % 4 and 35% elsewhere.
SKILLED = np.where(np.arange(8)[:, None] % 4 == np.arange(4)[None, :], 0.7, 0.35)
#: Every rep wins 50% everywhere.
EVEN = np.full((8, 4), 0.5)


@pytest.fixture(scope="module")
def skilled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, object]]:
    folder = tmp_path_factory.mktemp("skilled")
    history = synthetic(folder / "history.csv", SKILLED)
    out = folder / "bt"
    report = backtest(history, segment="industry", split=SPLIT, out=out, bootstrap=50)
    return history, out, report


@pytest.fixture(scope="module")
def even(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, object]]:
    folder = tmp_path_factory.mktemp("even")
    history = synthetic(folder / "history.csv", EVEN, seed=11)
    out = folder / "bt"
    report = backtest(history, segment="industry", split=SPLIT, out=out, bootstrap=50)
    return history, out, report


def test_planted_uplift_is_recovered_inside_the_interval(
    skilled: tuple[Path, Path, dict[str, object]],
) -> None:
    history, out, _ = skilled
    uplift = pd.read_csv(out / "uplift.csv").set_index("plan")
    truth = true_uplift(history, out / "plans" / "optimized.csv", SKILLED)
    row = uplift.loc["optimized"]
    assert truth > 100  # the planted uplift is large: every deal can go to a specialist
    assert row["wins_diff_low"] <= truth <= row["wins_diff_high"]
    assert row["wins_diff_low"] > 0 and bool(row["wins_distinguishable"])
    # random routing over 8 reps: an eighth of the deals agree, enough for DR
    assert row["method"] == "dr"


def test_no_true_difference_is_not_claimed(even: tuple[Path, Path, dict[str, object]]) -> None:
    history, out, report = even
    uplift = pd.read_csv(out / "uplift.csv").set_index("plan")
    for plan in ("round_robin", "greedy", "optimized"):
        row = uplift.loc[plan]
        assert row["wins_diff_low"] <= 0 <= row["wins_diff_high"], plan
        assert not bool(row["wins_distinguishable"])
        assert abs(true_uplift(history, out / "plans" / f"{plan}.csv", EVEN)) < 1e-9
    words = report["uplift_in_words"]
    assert isinstance(words, list)
    assert any("optimized - historical, wins" in w and "not distinguishable" in w for w in words)


def test_historical_observed_figures_are_direct_sums(
    skilled: tuple[Path, Path, dict[str, object]],
) -> None:
    history, out, _ = skilled
    deals = pd.read_csv(history, parse_dates=["created", "closed"])
    book = deals[deals["created"] >= pd.Timestamp(SPLIT)]
    won = book[book["outcome"] == "won"]
    row = pd.read_csv(out / "backtest.csv").set_index("plan").loc["historical"]
    assert row["deals"] == len(book)
    assert row["observed_wins"] == len(won)
    assert row["observed_revenue"] == pytest.approx(won["amount"].sum(), abs=0.005)
    cycle = (won["closed"] - won["created"]).dt.days.mean()
    assert row["observed_cycle_days"] == pytest.approx(cycle, abs=0.005)
    assert row["method"] == "observed" and row["agreement"] == 1.0
    # every plan assigns the whole book (capacity actual), and its file says how
    table = pd.read_csv(out / "backtest.csv")
    assert list(table["plan"]) == ["historical", "round_robin", "greedy", "optimized"]
    assert (table["deals"] == len(book)).all()
    assert table.loc[1:, "observed_wins"].isna().all()
    for plan in table["plan"]:
        chosen = pd.read_csv(out / "plans" / f"{plan}.csv")
        assert sorted(chosen["deal_id"]) == sorted(book["deal_id"])
    historical = pd.read_csv(out / "plans" / "historical.csv").merge(book, on="deal_id")
    assert (historical["rep_id_x"] == historical["rep_id_y"]).all()


def test_outputs_are_byte_identical_across_runs(
    tmp_path: Path, even: tuple[Path, Path, dict[str, object]]
) -> None:
    history, first, _ = even
    again = tmp_path / "again"
    backtest(history, segment="industry", split=SPLIT, out=again, bootstrap=50)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert {str(p) for p in files} >= {
        "backtest.csv",
        "uplift.csv",
        "backtest.json",
        "report.html",
        "plans/optimized.csv",
    }
    for rel in files:
        if rel.name == MANIFEST:
            continue
        assert (first / rel).read_bytes() == (again / rel).read_bytes(), rel


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--split", "2030-01-01"], "no won or lost deal was created on or after it"),
        (["--split", "2010-01-01"], "no deal closed before it"),
        (["--split", "soon"], "is not a date"),
        (["--segment", "sector"], "--segment 'sector': the history has no such column"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(tmp_path: Path, args: list[str], words: str) -> None:
    history = synthetic(tmp_path / "history.csv", EVEN, n=400)
    options = {"--split": SPLIT, "--segment": "industry"}
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    out = tmp_path / "bt"
    command = ["backtest", "--history", str(history), "--out", str(out), "--bootstrap", "10"]
    for key, value in options.items():
        command += [key, value]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert not out.exists()


def test_bad_history_row_exits_2_naming_it(tmp_path: Path) -> None:
    history = synthetic(tmp_path / "history.csv", EVEN, n=400)
    text = history.read_text().splitlines()
    text[3] = text[3].replace(",won,", ",maybe,").replace(",lost,", ",maybe,")
    history.write_text("\n".join(text) + "\n")
    result = CliRunner().invoke(
        main,
        [
            "backtest",
            "--history",
            str(history),
            "--segment",
            "industry",
            "--split",
            SPLIT,
            "--out",
            str(tmp_path / "bt"),
        ],
    )
    assert result.exit_code == 2
    assert "line 4" in result.output and "outcome" in result.output


def test_cli_prints_the_uplift_in_words(tmp_path: Path) -> None:
    history = synthetic(tmp_path / "history.csv", EVEN, n=600)
    out = tmp_path / "bt"
    result = CliRunner().invoke(
        main,
        [
            "backtest",
            "--history",
            str(history),
            "--segment",
            "industry",
            "--split",
            SPLIT,
            "--out",
            str(out),
            "--bootstrap",
            "10",
            "--capacity",
            "learned",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "optimized - historical, wins" in result.output
    assert (out / MANIFEST).exists()
    again = CliRunner().invoke(
        main,
        [
            "backtest",
            "--history",
            str(history),
            "--segment",
            "industry",
            "--split",
            SPLIT,
            "--out",
            str(out),
            "--bootstrap",
            "10",
        ],
    )
    assert again.exit_code == 0  # its own folder is replaced without --force


def test_report_renders_in_headless_chromium(
    tmp_path: Path, skilled: tuple[Path, Path, dict[str, object]]
) -> None:
    from matplotlib.image import imread

    _, out, _ = skilled
    page = (out / "report.html").read_text()
    for part in (
        "Plans",
        "Calibration of the scoring model",
        "Per rep",
        "censored",
        "no unmeasured confounding",
        "does not re-solve",
    ):
        assert part in page
    lowered = page.lower()
    assert "<script" not in lowered and 'src="http' not in lowered
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package 'chromium')")
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1280,2000",
            f"--screenshot={shot}",
            (out / "report.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = imread(shot)
    assert image.shape[:2] == (2000, 1280)
    pixels = image[..., :3].reshape(-1, 3)
    assert len(np.unique((pixels * 255).astype(np.uint8), axis=0)) > 50
    blue = (pixels[:, 2] > 0.6) & (pixels[:, 0] < 0.3)
    assert blue.mean() > 0.001
