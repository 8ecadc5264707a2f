"""Which rep may take which lead, and at what expected value and effort, recomputed from the
input tables with none of leadassign's code: lead by lead in plain Python
(:func:`pair_tables`) and by pandas merges (:func:`eligible_pairs`), straight from the
README's input contracts (docs/data.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from leadassign import Problem, load_problem

FALSE_WORDS = ("false", "no", "n", "f", "0")


def items(cell: object) -> set[str]:
    """A ';'-separated list cell as a set of stripped, non-empty items."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return set()
    return {part.strip() for part in str(cell).split(";") if part.strip()}


def is_available(cell: object) -> bool:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return True
    return str(cell).strip().lower() not in FALSE_WORDS


def number(cell: object, default: float) -> float:
    """A numeric cell (a number or its text); ``default`` when empty."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return default
    text = str(cell).strip()
    return default if text == "" else float(text)


@dataclass(frozen=True)
class Book:
    leads: pd.DataFrame
    reps: pd.DataFrame
    affinity: pd.DataFrame | None
    pairs: pd.DataFrame | None
    pairs_mode: Literal["only", "override"]
    unit_effort: bool  # every effort in the inputs (leads and pairs) is 1

    def problem(self) -> Problem:
        return load_problem(
            self.leads, self.reps, self.affinity, self.pairs, pairs_mode=self.pairs_mode
        )


def pair_tables(book: Book) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(eligible, expected value, effort), each leads x reps, straight from docs/data.md."""
    leads, reps = book.leads, book.reps
    n, m = len(leads), len(reps)
    rates: dict[tuple[str, str], float] = {}
    if book.affinity is not None:
        for row in book.affinity.itertuples(index=False):
            rates[(str(row.rep_id), str(row.industry))] = number(row.win_rate, math.nan)
    listed: dict[tuple[str, str], tuple[float, float]] = {}
    if book.pairs is not None:
        for row in book.pairs.itertuples(index=False):
            listed[(str(row.lead_id), str(row.rep_id))] = (
                number(row.score, math.nan),
                number(row.effort, math.nan),
            )
    eligible = np.zeros((n, m), dtype=bool)
    ev = np.zeros((n, m))
    effort = np.ones((n, m), dtype=np.int64)
    for i, lead in enumerate(leads.to_dict("records")):
        lead_id = str(lead["lead_id"])
        industry = str(lead.get("industry", "") or "")
        for j, rep in enumerate(reps.to_dict("records")):
            rep_id = str(rep["rep_id"])
            territories = items(rep["territories"])
            industries = items(rep.get("industries")) - {"*"}
            ok = (
                is_available(rep.get("available"))
                and ("*" in territories or str(lead["territory"]) in territories)
                and (not industries or industry in industries)
                and items(lead.get("skills")) <= items(rep.get("skills"))
            )
            if book.pairs is not None and book.pairs_mode == "only":
                ok = ok and (lead_id, rep_id) in listed
            eligible[i, j] = ok
            rate = rates.get((rep_id, industry), number(rep.get("win_rate"), 1.0))
            ev[i, j] = number(lead["value"], math.nan) * rate
            effort[i, j] = int(number(lead.get("effort"), 1.0))
            score, own_effort = listed.get((lead_id, rep_id), (math.nan, math.nan))
            if not math.isnan(score):
                ev[i, j] = score
            if not math.isnan(own_effort):
                effort[i, j] = int(own_effort)
    return eligible, ev, effort


def _exploded(frame: pd.DataFrame, key: str, column: str, name: str) -> pd.DataFrame:
    """(key, item) rows, one per item of the list column (no row for an empty cell)."""
    out = frame[[key]].assign(**{name: frame[column].map(lambda c: sorted(items(c)))})
    return out.explode(name).dropna(subset=[name]).reset_index(drop=True)


def eligible_pairs(
    leads: pd.DataFrame, reps: pd.DataFrame, affinity: pd.DataFrame | None
) -> pd.DataFrame:
    """Eligible pairs with columns li, ri (positions), ev and effort, built by merges."""
    lead = leads.reset_index(drop=True).assign(li=np.arange(len(leads)))
    rep = reps.reset_index(drop=True).assign(ri=np.arange(len(reps)))
    rep = rep[rep["available"].map(is_available)]

    # Territory: a rep's listed territories, or every territory with '*'.
    territory = _exploded(rep, "ri", "territories", "territory")
    star = territory.loc[territory["territory"] == "*", ["ri"]]
    pairs = pd.concat(
        [
            lead[["li", "territory"]].merge(territory, on="territory")[["li", "ri"]],
            lead[["li"]].merge(star, how="cross"),
        ]
    ).drop_duplicates()

    # Industry: reps with no list (or '*') cover all; others must list the lead's industry.
    industry = _exploded(rep, "ri", "industries", "industry")
    covers_all = set(rep["ri"]) - set(industry.loc[industry["industry"] != "*", "ri"])
    covers_all |= set(industry.loc[industry["industry"] == "*", "ri"])
    pairs = pairs.merge(lead[["li", "industry"]], on="li")
    listed = pairs.merge(industry, on=["ri", "industry"], how="left", indicator=True)
    pairs = pairs[(listed["_merge"] == "both").to_numpy() | pairs["ri"].isin(covers_all).to_numpy()]

    # Skills: the rep holds as many of the lead's skills as the lead needs.
    need = _exploded(lead, "li", "skills", "skill")
    held = _exploded(rep, "ri", "skills", "skill")
    needed = need.groupby("li").size().rename("needed")
    matched = need.merge(held, on="skill").groupby(["li", "ri"]).size().rename("matched")
    pairs = pairs.merge(needed, left_on="li", right_index=True, how="left")
    pairs = pairs.merge(matched.reset_index(), on=["li", "ri"], how="left")
    pairs = pairs[pairs["needed"].fillna(0).to_numpy() == pairs["matched"].fillna(0).to_numpy()]

    # Expected value: value times the affinity rate for the industry, else the rep's win_rate.
    pairs = pairs.merge(lead[["li", "value"]], on="li")
    pairs = pairs.merge(rep[["ri", "rep_id", "win_rate"]], on="ri")
    rate = pairs["win_rate"].astype(float)
    if affinity is not None and len(affinity):
        special = affinity.rename(columns={"win_rate": "affinity_rate"})
        pairs = pairs.merge(special, on=["rep_id", "industry"], how="left")
        rate = pairs["affinity_rate"].astype(float).fillna(pairs["win_rate"].astype(float))
    pairs["ev"] = pairs["value"].astype(float) * rate
    effort = lead["effort"].astype(int).to_numpy() if "effort" in lead else np.ones(len(lead), int)
    pairs["effort"] = effort[pairs["li"].to_numpy()]
    out: pd.DataFrame = pairs[["li", "ri", "ev", "effort"]]
    return out.sort_values(["li", "ri"]).reset_index(drop=True)
