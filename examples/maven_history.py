"""Turn Maven Analytics' raw CRM files into a deal history and a book to assign today.

Maven's "CRM Sales Opportunities" data (sales_pipeline.csv, accounts.csv, products.csv,
sales_teams.csv; see its README) keeps each fact in its own file: a deal's sector is on its
account, an agent's office on the sales team. leadassign reads one table per input, so this
script does the joins, once, with pandas (an example may; the product's commands never ask
you to). It writes, into --out:

- ``history.csv``: one row per opportunity, Maven's column names (opportunity_id,
  sales_agent, product, account, deal_stage, engage_date, close_date, close_value) plus
  ``sector`` (the account's; empty when the deal has no account), ``manager`` and
  ``regional_office`` (the agent's) and ``expected_amount``: the close_value of a Won deal,
  the product's list price (products.csv sales_price) otherwise. Maven's Lost deals carry
  close_value 0, which is what they brought in, not what they were worth; an open deal has
  no close_value at all. The list price is the only expected amount the data has.
  Maven calls one product ``GTXPro`` in the pipeline and ``GTX Pro`` in products.csv: the
  history uses ``GTX Pro``. Read it with ``--columns examples/maven_columns.yaml``.
- ``leads.csv``: the open deals (Engaging and Prospecting; 2,089 in the full data), the book
  to assign today: lead_id (the opportunity_id), territory (the owning agent's regional
  office: Maven ties no account to a region, so this is the only link), industry (the
  sector, empty without an account), account_id (the account, empty without one), value
  (the expected amount) and current_owner (the agent).
- ``reps.csv``: every agent of sales_teams.csv (35, five of them without any deal): rep_id,
  territories (the regional office), capacity, manager, regional_office. Leads only go to
  reps of their office, so capacity is set per office: ceil(1.15 x the office's open deals /
  its agents), the office's book spread evenly with 15% headroom.

Usage::

    python examples/maven_history.py --data ../shared/data/crm_sales --out maven/
    leadassign validate --history maven/history.csv --columns examples/maven_columns.yaml
    leadassign validate --leads maven/leads.csv --reps maven/reps.csv

Existing files in --out are never replaced unless --force is given; on any error nothing
is written. Bad input exits with code 2 and a message naming the file, line and column.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

#: What products.csv calls the pipeline's product names that differ (Maven's quirk).
PRODUCT_NAMES = {"GTXPro": "GTX Pro"}
#: Headroom of each rep's capacity over an even share of the office's open deals.
HEADROOM = 1.15
OUTPUTS = ("history.csv", "leads.csv", "reps.csv")
NEEDED = {
    "sales_pipeline.csv": (
        "opportunity_id",
        "sales_agent",
        "product",
        "account",
        "deal_stage",
        "engage_date",
        "close_date",
        "close_value",
    ),
    "accounts.csv": ("account", "sector"),
    "products.csv": ("product", "sales_price"),
    "sales_teams.csv": ("sales_agent", "manager", "regional_office"),
}


class BadInput(Exception):
    """A problem in Maven's files, named by file, line and column."""


def _read(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name
    if not path.is_file():
        raise BadInput(f"{path}: file not found")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in NEEDED[name] if c not in frame.columns]
    if missing:
        raise BadInput(f"{path}: missing column {', '.join(repr(c) for c in missing)}")
    stripped: pd.DataFrame = frame.apply(lambda column: column.str.strip())
    return stripped


def _first_bad(path: Path, frame: pd.DataFrame, bad: pd.Series, column: str, what: str) -> None:
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise BadInput(f"{path}, line {i + 2}, column '{column}': '{frame[column].iloc[i]}' {what}")


def build(data: Path) -> dict[str, pd.DataFrame]:
    """history, leads and reps from the four Maven files in ``data``."""
    pipeline = _read(data, "sales_pipeline.csv")
    accounts = _read(data, "accounts.csv")
    products = _read(data, "products.csv")
    teams = _read(data, "sales_teams.csv")

    prices = pd.to_numeric(products["sales_price"], errors="coerce")
    _first_bad(data / "products.csv", products, prices.isna(), "sales_price", "is not a number")
    price_of = dict(zip(products["product"], prices, strict=True))
    sector_of = dict(zip(accounts["account"], accounts["sector"], strict=True))
    team = teams.set_index("sales_agent")

    history = pipeline[list(NEEDED["sales_pipeline.csv"])].copy()
    history["product"] = history["product"].replace(PRODUCT_NAMES)
    path = data / "sales_pipeline.csv"
    _first_bad(
        path, history, ~history["product"].isin(price_of), "product", "is not in products.csv"
    )
    _first_bad(
        path,
        history,
        ~history["sales_agent"].isin(team.index),
        "sales_agent",
        "is not in sales_teams.csv",
    )
    with_account = history["account"] != ""
    _first_bad(
        path,
        history,
        with_account & ~history["account"].isin(sector_of),
        "account",
        "is not in accounts.csv",
    )
    history["sector"] = history["account"].map(sector_of).fillna("")
    history["manager"] = history["sales_agent"].map(team["manager"])
    history["regional_office"] = history["sales_agent"].map(team["regional_office"])
    won = history["deal_stage"] == "Won"
    value = pd.to_numeric(history["close_value"].where(won, ""), errors="coerce")
    _first_bad(path, history, won & value.isna(), "close_value", "is not the amount of a Won deal")
    history["expected_amount"] = value.where(won, history["product"].map(price_of))

    is_open = history["deal_stage"].isin(["Engaging", "Prospecting"])
    book = history[is_open]
    leads = pd.DataFrame(
        {
            "lead_id": book["opportunity_id"],
            "territory": book["regional_office"],
            "industry": book["sector"],
            "account_id": book["account"],
            "value": book["expected_amount"],
            "current_owner": book["sales_agent"],
        }
    )
    per_office = leads["territory"].value_counts()
    agents = teams["regional_office"].value_counts()
    capacity = {
        office: math.ceil(HEADROOM * int(per_office.get(office, 0)) / int(agents[office]))
        for office in agents.index
    }
    reps = pd.DataFrame(
        {
            "rep_id": teams["sales_agent"],
            "territories": teams["regional_office"],
            "capacity": teams["regional_office"].map(capacity).astype(int),
            "manager": teams["manager"],
            "regional_office": teams["regional_office"],
        }
    )
    return {"history.csv": history, "leads.csv": leads, "reps.csv": reps}


def write(tables: dict[str, pd.DataFrame], out: Path, force: bool) -> list[Path]:
    """Write every table, or none: existing files are refused unless ``force``."""
    targets = [out / name for name in OUTPUTS]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise BadInput(f"{names}: already exists (give --force to replace)")
    out.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name in OUTPUTS:
            handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", dir=out)
            os.close(handle)
            staged.append((Path(temp_name), out / name))
            tables[name].to_csv(temp_name, index=False, lineterminator="\n", float_format="%.10g")
    except BaseException:
        for staged_file, _ in staged:
            staged_file.unlink(missing_ok=True)
        raise
    for staged_file, target in staged:
        os.replace(staged_file, target)
    return [target for _, target in staged]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="folder of Maven's CSV files")
    parser.add_argument("--out", required=True, type=Path, help="folder to write into")
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    args = parser.parse_args(argv)
    try:
        tables = build(args.data)
        written = write(tables, args.out, args.force)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    history, leads, reps = (tables[name] for name in OUTPUTS)
    print(
        f"history: {len(history):,} deals; leads: {len(leads):,} open deals; reps: {len(reps)} "
        f"(capacity {', '.join(f'{o} {c}' for o, c in _capacities(reps))})"
    )
    for path in written:
        print(f"wrote {path}")
    return 0


def _capacities(reps: pd.DataFrame) -> list[tuple[str, int]]:
    per = reps.groupby("regional_office", sort=True)["capacity"].first()
    return [(str(office), int(c)) for office, c in per.items()]


if __name__ == "__main__":
    sys.exit(main())
