"""Learning from CRM history and backtesting on the Maven and DTC data: every figure of
RESULTS.md's section "Learning from CRM history and backtesting (Maven, DTC)", through the
real commands, each in its own process, printed as the section's Markdown tables.

    python benchmarks/bench_outcomes.py                               # ../shared/data/...
    python benchmarks/bench_outcomes.py --maven DIR --dtc DIR --out work/

Maven (``--maven``, Maven's raw crm_sales files): ``examples/maven_history.py`` joins them;
``leadassign learn`` (segment industry, with Maven's reps table; and segment product) and
``leadassign backtest`` (segment industry, split 2017-07-01, 200 bootstrap replicates, seed
0). Then the optimizer's curse in money: the open deals (``leads.csv``) are solved once with
*raw* rates (each rep's won / closed, each rep x industry cell's won / closed, computed here
from the closed deals, as a pandas user would) and once with the learned rates; each plan's
expected value is given as the optimizer claims it and under the learned rates, next to
today's owners (``leads.csv``'s ``current_owner``). Two more raw solves show the most raw
rates can promise: every rep's capacity the whole book, and also every rep in every office.

DTC (``--dtc``, Salesforce's DTC sample): the opportunities with ``Industry`` joined from
DTC_Account.csv on ``Account.Name`` (written to ``OUT/dtc/history.csv``), read with the
``salesforce`` preset (its optional segment ``industry`` picks up the ``Industry`` column);
``learn`` (segment industry, 30-day capacity period) and ``backtest`` (split 2014-01-01: the
median close date of the closed deals, so that training and book are of similar size).

``--out`` holds the working files (default: a new temporary folder). A folder that exists,
is not empty and was not made by this script is refused (exit 2). The same data give the
same tables (fixed seeds); only the date and the timings change.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
#: A file that marks a --out folder as this script's (it may then be written over).
MARKER = ".bench_outcomes"
MAVEN_SPLIT = "2017-07-01"
DTC_SPLIT = "2014-01-01"
SEED = "0"
BOOTSTRAP = "200"
MAVEN_FILES = ("sales_pipeline.csv", "accounts.csv", "products.csv", "sales_teams.csv")
TIMINGS: list[tuple[str, float]] = []


class Refused(Exception):
    """A bad --out or data folder (exit 2)."""


# ---------------------------------------------------------------- running the commands


def leadassign() -> list[str]:
    exe = Path(sys.executable).with_name("leadassign")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "leadassign"]


def run(label: str, command: Sequence[str]) -> str:
    """One command in its own process; its stdout. Any exit but 0 stops the benchmark."""
    started = time.perf_counter()
    proc = subprocess.run(list(command), capture_output=True, text=True, cwd=REPO)
    TIMINGS.append((label, time.perf_counter() - started))
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise RuntimeError(f"{label}: {' '.join(command)} exited {proc.returncode}")
    print(f"  {label}: {TIMINGS[-1][1]:.1f} s", file=sys.stderr)
    return proc.stdout


def out_folder(given: Path | None) -> Path:
    """The working folder: a new one, or one this script made before; never a folder with
    somebody else's files."""
    if given is None:
        folder = Path(tempfile.mkdtemp(prefix="bench-outcomes-"))
    else:
        folder = given
        if folder.exists() and not folder.is_dir():
            raise Refused(f"--out {folder}: not a folder")
        if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
            raise Refused(
                f"--out {folder}: the folder holds files this script did not write; "
                "give a new or empty folder"
            )
        folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("working files of benchmarks/bench_outcomes.py\n")
    return folder


def data_folder(path: Path, needed: Sequence[str], option: str) -> Path:
    missing = [name for name in needed if not (path / name).is_file()]
    if missing:
        raise Refused(f"{option} {path}: no {', '.join(missing)} there")
    return path


# ---------------------------------------------------------------- formatting


def num(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):,.{digits}f}"


def signed(value: float, digits: int) -> str:
    return f"{value:+,.{digits}f}"


def ci(value: float, low: float, high: float, digits: int, sign: bool = False) -> str:
    f: Callable[[float, int], str] = signed if sign else num
    return f"{f(value, digits)} [{f(low, digits)}, {f(high, digits)}]"


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def strength(value: float | str | None) -> str:
    return "infinite" if value is None or value == "inf" else num(float(value))


def ci3(triple: Sequence[float], digits: int, sign: bool = False) -> str:
    """A (value, low, high) list as ``value [low, high]``."""
    value, low, high = triple
    return ci(value, low, high, digits, sign=sign)


# ---------------------------------------------------------------- learn


def learn_rows(name: str, learned: dict[str, Any]) -> list[list[str]]:
    """Held-out Brier and log loss of base, raw and learned."""
    held = learned["held_out"]
    rows = []
    for predictor in ("base", "raw", "learned"):
        s = held["scores"][predictor]
        rows.append(
            [
                name,
                f"{held['split_date']}",
                f"{held['fit_deals']:,} / {held['validation_deals']:,}",
                predictor,
                ci(s["brier"], s["brier_low"], s["brier_high"], 4),
                ci(s["log_loss"], s["log_loss_low"], s["log_loss_high"], 4),
            ]
        )
    return rows


def difference_rows(name: str, learned: dict[str, Any]) -> list[list[str]]:
    rows = []
    for d in learned["held_out"]["differences"]:
        rows.append(
            [
                name,
                f"learned - {d['against']}",
                ci(d["brier"], d["brier_low"], d["brier_high"], 5, sign=True),
                ci(d["log_loss"], d["log_loss_low"], d["log_loss_high"], 5, sign=True),
                "learned better" if d["brier_high"] < 0 else "no difference shown",
            ]
        )
    return rows


def reliability(learned: dict[str, Any]) -> str:
    rel = learned["held_out"]["reliability"]
    rows = []
    for a, b in zip(rel["learned"], rel["raw"], strict=True):
        rows.append(
            [
                a["bin"],
                num(a["predicted"], 3),
                num(a["observed"], 3),
                f"{a['deals']:,}",
                num(b["predicted"], 3),
                num(b["observed"], 3),
                f"{b['deals']:,}",
            ]
        )
    header = [
        "bin",
        "learned: predicted",
        "observed",
        "deals",
        "raw: predicted",
        "observed",
        "deals",
    ]
    return table(header, rows)


def heterogeneity_rows(name: str, learned: dict[str, Any]) -> list[list[str]]:
    rows = []
    for level in learned["heterogeneity"]:
        rows.append(
            [
                name,
                level["level"],
                f"{level['groups']:,}",
                f"{learned['deals']['training']:,}",
                strength(level["prior_strength"]),
                f"{100 * level['prior_spread']:.2f}",
                f"{level['p_value']:.2f}",
                "yes" if level["detectable"] else "no",
            ]
        )
    return rows


# ---------------------------------------------------------------- backtest


def backtest_tables(folder: Path) -> str:
    info = json.loads((folder / "backtest.json").read_text())
    frame = pd.read_csv(folder / "backtest.csv", keep_default_na=False, na_values=[""])
    deals, model = info["deals"], info["training_model"]
    predicted = [b["predicted"] for b in info["calibration"]]
    head = (
        f"Split {info['split']}, segment {info['segment']}: training {deals['training']:,} "
        f"deals closed before the split, book {deals['book']:,} deals created on or after it "
        f"and closed; in neither {deals['straddling']:,} straddling and {deals['open']:,} "
        f"open; {info['reps']} reps; capacity {info['capacity']['mode']} (total "
        f"{info['capacity']['total']:,}); {info['bootstrap']} bootstrap replicates, seed "
        f"{info['seed']}. Training model: team rate {pct(model['team_rate'])}, rep strength "
        f"{strength(model['rep_strength'])} (p = {model['rep_p_value']:.2f}), rep x segment "
        f"strength {strength(model['segment_strength'])} (p = {model['segment_p_value']:.2f}). "
        f"The cross-fitted scoring model's predictions, in 10 equal-count bins, range from "
        f"{pct(min(predicted))} to {pct(max(predicted))}."
    )
    rows = []
    for r in frame.to_dict("records"):
        rows.append(
            [
                r["plan"],
                f"{int(r['deals']):,}",
                ci(r["wins"], r["wins_low"], r["wins_high"], 1),
                pct(r["conversion"], 2),
                ci(r["revenue"], r["revenue_low"], r["revenue_high"], 0),
                ci(r["cycle_days"], r["cycle_days_low"], r["cycle_days_high"], 1),
                pct(r["agreement"]),
                r["method"],
            ]
        )
        if r["plan"] == "historical":
            rows.append(
                [
                    "historical, observed",
                    f"{int(r['deals']):,}",
                    num(r["observed_wins"], 0),
                    pct(r["observed_wins"] / r["deals"], 2),
                    num(r["observed_revenue"], 0),
                    num(r["observed_cycle_days"], 1),
                    "100.0%",
                    "what happened",
                ]
            )
    header = [
        "plan",
        "deals",
        "wins [95%]",
        "conversion",
        "revenue [95%]",
        "cycle days [95%]",
        "agreement",
        "method",
    ]
    return "\n\n".join([head, table(header, rows), uplift_table(info), dr_table(info)])


def uplift_table(info: dict[str, Any]) -> str:
    rows = []
    for plan, figs in info["uplift"].items():
        method = info["plans"][plan]["method"]
        rows.append(
            [
                plan,
                method,
                ci3(figs["wins"], 1, sign=True),
                ci3(figs["revenue"], 0, sign=True),
                ci3(figs["cycle_days"], 2, sign=True),
                "yes" if any(lo > 0 or hi < 0 for _, lo, hi in figs.values()) else "no",
            ]
        )
    header = [
        "plan - historical",
        "method",
        "wins [95%]",
        "revenue [95%]",
        "cycle days [95%]",
        "any distinguishable",
    ]
    return table(header, rows)


def dr_table(info: dict[str, Any]) -> str:
    rows = []
    for plan, fig in info["plans"].items():
        if "dr" not in fig:
            continue
        iv = fig["dr_interval"]
        rows.append(
            [
                plan,
                f"{fig['agreeing_deals']:,}",
                num(fig["dr_effective_sample_size"], 1),
                pct(fig["dr_overlap_share"]),
                ci3([fig["dr"]["wins"], *iv["wins"]], 0),
                ci3([fig["dr"]["revenue"], *iv["revenue"]], 0),
                "yes" if fig["dr_reliable"] else "no",
            ]
        )
    header = [
        "plan",
        "deals agreeing with history",
        "DR effective sample",
        "overlap",
        "DR wins [95%]",
        "DR revenue [95%]",
        "DR used",
    ]
    return table(header, rows)


# ---------------------------------------------------------------- the raw rates' promise


def raw_rates(history: pd.DataFrame, reps: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Maven's reps table with each rep's raw won / closed, and the raw rep x industry
    table (cells with closed deals). A rep without closed deals gets the team's raw rate
    (raw rates have nothing else to give it)."""
    closed = history[history["deal_stage"].isin(["Won", "Lost"])]
    won = (closed["deal_stage"] == "Won").astype(float)
    team = float(won.mean())
    rep_rate = won.groupby(closed["sales_agent"]).mean()
    out = reps.copy()
    out["win_rate"] = rep_rate.reindex(out["rep_id"]).fillna(team).map(repr).to_numpy()
    cells = closed[closed["sector"] != ""]
    cell_rate = won[cells.index].groupby([cells["sales_agent"], cells["sector"]]).mean()
    affinity = cell_rate.rename("win_rate").reset_index()
    affinity.columns = ["rep_id", "industry", "win_rate"]
    affinity["win_rate"] = affinity["win_rate"].map(repr)
    return out, affinity


def expected_value(
    plan: pd.DataFrame, leads: pd.DataFrame, reps: pd.DataFrame, affinity: pd.DataFrame
) -> float:
    """Sum of value x rate over the plan's assigned leads: the rep x industry rate where the
    affinity table has the cell, else the rep's win_rate (what solve uses)."""
    frame = plan[plan["rep_id"] != ""].merge(leads[["lead_id", "industry", "value"]], on="lead_id")
    rep_rate = pd.to_numeric(reps.set_index("rep_id")["win_rate"])
    cell = affinity.assign(rate=pd.to_numeric(affinity["win_rate"]))[["rep_id", "industry", "rate"]]
    frame = frame.merge(cell, on=["rep_id", "industry"], how="left")
    rate = frame["rate"].fillna(frame["rep_id"].map(rep_rate))
    if rate.isna().any():
        raise RuntimeError("a plan's rep has no rate")
    return float((pd.to_numeric(frame["value"]) * rate).sum())


def promise(out: Path, data: Path, learned: Path) -> str:
    text = {"dtype": str, "keep_default_na": False}
    history = pd.read_csv(data / "history.csv", **text)  # type: ignore[call-overload]
    reps = pd.read_csv(data / "reps.csv", **text)  # type: ignore[call-overload]
    leads = pd.read_csv(data / "leads.csv", **text)  # type: ignore[call-overload]
    raw_reps, raw_affinity = raw_rates(history, reps)
    raw, unlimited, anywhere = (
        out / "maven-raw",
        out / "maven-raw-unlimited",
        out / "maven-raw-anywhere",
    )
    # the same raw rates with every rep's capacity the whole book (only the office limits),
    # and also with every rep in every office: the most a raw-fed optimizer can promise
    variants = (
        (raw, raw_reps["capacity"], raw_reps["territories"]),
        (unlimited, str(len(leads)), raw_reps["territories"]),
        (anywhere, str(len(leads)), "*"),
    )
    for folder, capacity, territories in variants:
        folder.mkdir(exist_ok=True)
        raw_reps.assign(capacity=capacity, territories=territories).to_csv(
            folder / "reps.csv", index=False
        )
        raw_affinity.to_csv(folder / "affinity.csv", index=False)
    rates = {
        "raw": (raw_reps, raw_affinity),
        "learned": (
            pd.read_csv(learned / "reps.csv", **text),  # type: ignore[call-overload]
            pd.read_csv(learned / "affinity.csv", **text),  # type: ignore[call-overload]
        ),
    }
    plans = {
        "today's owners (current_owner)": leads[["lead_id", "current_owner"]].set_axis(
            ["lead_id", "rep_id"], axis=1
        )
    }
    claimed: dict[str, float] = {}
    solves = (
        ("raw rates", raw, "raw"),
        ("raw rates, no capacity limit", unlimited, "raw"),
        ("raw rates, no capacity or office limit", anywhere, "raw"),
        ("learned rates", learned, "learned"),
    )
    for name, folder, kind in solves:
        label, plan, value = solve_book(out, data, name, folder)
        plans[label], claimed[label] = plan, value
        own = expected_value(plan, leads, *rates[kind])
        if not math.isclose(own, value, rel_tol=1e-9):
            raise RuntimeError(f"{label}: recomputed {own} != summary {value}")
    return promise_table(plans, claimed, leads, rates)


def solve_book(out: Path, data: Path, name: str, folder: Path) -> tuple[str, pd.DataFrame, float]:
    """``leadassign solve`` of Maven's open deals with the rates in ``folder``: the plan's
    label, its assignment and the expected value it claims."""
    solved = out / ("maven-solve-" + name.replace(",", "").replace(" ", "-"))
    run(
        f"maven solve ({name})",
        [
            *leadassign(),
            "solve",
            "--no-store",
            "--no-progress",
            "--leads",
            str(data / "leads.csv"),
            "--reps",
            str(folder / "reps.csv"),
            "--affinity",
            str(folder / "affinity.csv"),
            "--seed",
            SEED,
            "--out",
            str(solved),
        ],
    )
    summary = json.loads((solved / "summary.json").read_text())
    assigned = pd.read_csv(solved / "assignments.csv", dtype=str, keep_default_na=False)
    label = f"optimized on {name} ({summary['status']})"
    return label, assigned[["lead_id", "rep_id"]], float(summary["expected_value"])


def promise_table(
    plans: dict[str, pd.DataFrame],
    claimed: dict[str, float],
    leads: pd.DataFrame,
    rates: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
) -> str:
    ev = {
        (plan, name): expected_value(frame, leads, *rates[name])
        for plan, frame in plans.items()
        for name in rates
    }
    today = next(iter(plans))
    rows = []
    for plan, frame in plans.items():
        raw_ev, honest = ev[(plan, "raw")], ev[(plan, "learned")]
        rows.append(
            [
                plan,
                f"{int((frame['rep_id'] != '').sum()):,}",
                num(claimed.get(plan)),
                num(raw_ev),
                signed(100 * (raw_ev / ev[(today, "raw")] - 1), 1) + "%",
                num(honest),
                signed(100 * (honest / ev[(today, "learned")] - 1), 2) + "%",
                num(claimed[plan] - honest) if plan in claimed else "–",
            ]
        )
    header = [
        "plan",
        "leads assigned",
        "claimed by the optimizer",
        "under raw rates",
        "vs today (raw)",
        "under learned rates",
        "vs today (learned)",
        "claimed - learned",
    ]
    return table(header, rows)


# ---------------------------------------------------------------- the two datasets


def maven(args: argparse.Namespace, out: Path) -> dict[str, str]:
    source = args.maven
    data = out / "maven"
    columns = REPO / "examples" / "maven_columns.yaml"
    script = REPO / "examples" / "maven_history.py"
    run(
        "maven_history.py",
        [sys.executable, str(script), "--data", str(source), "--out", str(data), "--force"],
    )
    history = ["--history", str(data / "history.csv"), "--columns", str(columns)]
    learned = out / "maven-learn-industry"
    run(
        "maven learn (industry)",
        [
            *leadassign(),
            "learn",
            *history,
            "--segment",
            "industry",
            "--reps",
            str(data / "reps.csv"),
            "--seed",
            SEED,
            "--out",
            str(learned),
        ],
    )
    run(
        "maven learn (product)",
        [
            *leadassign(),
            "learn",
            *history,
            "--segment",
            "product",
            "--seed",
            SEED,
            "--out",
            str(out / "maven-learn-product"),
        ],
    )
    run(
        "maven backtest",
        [
            *leadassign(),
            "backtest",
            *history,
            "--segment",
            "industry",
            "--split",
            MAVEN_SPLIT,
            "--bootstrap",
            BOOTSTRAP,
            "--seed",
            SEED,
            "--out",
            str(out / "maven-backtest"),
        ],
    )
    return {
        "backtest": backtest_tables(out / "maven-backtest"),
        "promise": promise(out, data, learned),
    }


def dtc_history(source: Path, folder: Path) -> Path:
    """DTC's opportunities with their account's Industry (a left join on Account.Name)."""
    text = {"dtype": str, "keep_default_na": False, "encoding": "utf-8-sig"}
    opportunities = pd.read_csv(source / "DTC_Opportunity.csv", **text)  # type: ignore[call-overload]
    accounts = pd.read_csv(source / "DTC_Account.csv", **text)  # type: ignore[call-overload]
    industry = accounts[["Name", "Industry"]].rename(columns={"Name": "Account.Name"})
    if industry["Account.Name"].duplicated().any():
        raise Refused(f"{source / 'DTC_Account.csv'}: account names repeat; cannot join")
    joined = opportunities.merge(industry, on="Account.Name", how="left", validate="m:1")
    joined["Industry"] = joined["Industry"].fillna("")
    folder.mkdir(exist_ok=True)
    path = folder / "history.csv"
    joined.to_csv(path, index=False)
    unmatched = int((joined["Industry"] == "").sum())
    print(f"  dtc history: {len(joined):,} deals, {unmatched} without an industry", file=sys.stderr)
    return path


def dtc(args: argparse.Namespace, out: Path) -> str:
    source = args.dtc
    path = dtc_history(source, out / "dtc")
    history = ["--history", str(path), "--columns", "salesforce"]
    run(
        "dtc learn (industry)",
        [
            *leadassign(),
            "learn",
            *history,
            "--segment",
            "industry",
            "--period-days",
            "30",
            "--seed",
            SEED,
            "--out",
            str(out / "dtc-learn-industry"),
        ],
    )
    run(
        "dtc backtest",
        [
            *leadassign(),
            "backtest",
            *history,
            "--segment",
            "industry",
            "--split",
            DTC_SPLIT,
            "--bootstrap",
            BOOTSTRAP,
            "--seed",
            SEED,
            "--out",
            str(out / "dtc-backtest"),
        ],
    )
    return backtest_tables(out / "dtc-backtest")


# ---------------------------------------------------------------- the report


def learn_section(out: Path) -> str:
    runs = [
        ("Maven, industry", out / "maven-learn-industry"),
        ("Maven, product", out / "maven-learn-product"),
        ("DTC, industry", out / "dtc-learn-industry"),
    ]
    learned = {name: json.loads((folder / "learn.json").read_text()) for name, folder in runs}
    scores = [row for name, j in learned.items() for row in learn_rows(name, j)]
    diffs = [row for name, j in learned.items() for row in difference_rows(name, j)]
    het = [row for name, j in learned.items() for row in heterogeneity_rows(name, j)]
    parts = [
        "### Held-out calibration (lower is better; 95% bootstrap intervals)",
        table(
            ["data, segment", "split", "fit / held-out deals", "rates", "Brier", "log loss"],
            scores,
        ),
        table(["data, segment", "difference", "Brier", "log loss", "reading"], diffs),
        "### Reliability, Maven (industry), held-out deals",
        reliability(learned["Maven, industry"]),
        "### Reliability, DTC (industry), held-out deals",
        reliability(learned["DTC, industry"]),
        "### Heterogeneity (fitted prior strength; likelihood-ratio test against no difference)",
        table(
            [
                "data, segment",
                "level",
                "groups",
                "training deals",
                "prior strength (deals)",
                "spread (points)",
                "p",
                "detectable",
            ],
            het,
        ),
    ]
    sentences: list[str] = []
    for name, j in learned.items():
        for level in j["heterogeneity"]:
            if not any(seen.endswith(level["sentence"]) for seen in sentences):
                sentences.append(f"- {name}: {level['sentence']}")
    return "\n\n".join([*parts, "\n".join(sentences)])


def machine() -> str:
    from importlib.metadata import version

    cpu = platform.processor() or platform.machine()
    return (
        f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()}; Python "
        f"{platform.python_version()}, OR-Tools {version('ortools')}, numpy {np.__version__}, "
        f"pandas {pd.__version__}. Date: {datetime.now(UTC).date().isoformat()}."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maven", type=Path, default=REPO.parent / "shared/data/crm_sales")
    parser.add_argument("--dtc", type=Path, default=REPO.parent / "shared/data/dtc_sales")
    parser.add_argument("--out", type=Path, default=None, help="working files (default: temp)")
    args = parser.parse_args()
    started = time.perf_counter()
    try:
        data_folder(args.maven, MAVEN_FILES, "--maven")
        data_folder(args.dtc, ["DTC_Opportunity.csv", "DTC_Account.csv"], "--dtc")
        out = out_folder(args.out)
        print(f"working files: {out}", file=sys.stderr)
        maven_parts = maven(args, out)
        dtc_part = dtc(args, out)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sections = [
        f"<!-- python benchmarks/bench_outcomes.py; working files in {out.name} -->",
        machine(),
        "## (a) Learned rates against the base rate and raw rates",
        learn_section(out),
        "## (b) Maven backtest",
        maven_parts["backtest"],
        "## (c) DTC backtest",
        dtc_part,
        "## (d) What an optimizer fed raw rates promises (Maven's 2,089 open deals)",
        maven_parts["promise"],
        "## Timings",
        table(["step", "seconds"], [[label, f"{s:.1f}"] for label, s in TIMINGS]),
        f"Wall time of the script: {time.perf_counter() - started:.0f} s.",
    ]
    print("\n\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
