"""A realistic sample book: territories, industries, skills, levels, accounts, reps on leave.

Used by ``leadassign demo``, the tests and the benchmarks. Deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TERRITORIES = ("NA-East", "NA-West", "EMEA", "APAC", "LATAM")
TERRITORY_WEIGHTS = (0.28, 0.24, 0.24, 0.14, 0.10)
INDUSTRIES = ("software", "finance", "healthcare", "retail", "manufacturing", "education")
INDUSTRY_WEIGHTS = (0.26, 0.18, 0.16, 0.16, 0.14, 0.10)
#: a language skill some leads of a territory need
LANGUAGE = {"EMEA": "german", "LATAM": "spanish", "APAC": "japanese"}
FIRST_NAMES = (
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kemi",
    "Liam",
    "Mei",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Xin",
    "Yara",
    "Zane",
)


@dataclass(frozen=True)
class Sample:
    leads: pd.DataFrame
    reps: pd.DataFrame
    affinity: pd.DataFrame


def make_sample(
    n_leads: int = 600,
    n_reps: int = 25,
    *,
    seed: int = 7,
    on_leave: int | None = None,
    effort: bool = False,
    slack: float = 1.05,
) -> Sample:
    """A sample book of ``n_leads`` leads and ``n_reps`` reps.

    Rep capacities add up to about ``slack`` times the leads, so a few leads find no room
    where territories are busy. With ``effort``, enterprise leads take 3 capacity units.
    """
    rng = np.random.default_rng(seed)  # one stream: leads, then reps, then affinity
    leads = _leads(rng, n_leads, effort)
    reps = _reps(rng, n_reps, n_leads, on_leave=on_leave, effort=effort, slack=slack)
    return Sample(leads, reps, _affinity(rng, reps))


def _leads(rng: np.random.Generator, n_leads: int, effort: bool) -> pd.DataFrame:
    """The leads: territory, industry, value, the skills they need, account and source."""
    terr = rng.choice(len(TERRITORIES), size=n_leads, p=TERRITORY_WEIGHTS)
    industry = rng.choice(len(INDUSTRIES), size=n_leads, p=INDUSTRY_WEIGHTS)
    value = np.round(rng.lognormal(mean=9.6, sigma=0.9, size=n_leads), 2)
    enterprise = value > np.quantile(value, 0.85) if n_leads else np.zeros(0, bool)
    language = rng.random(n_leads) < 0.25
    accounts = max(1, n_leads // 3)
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i + 1:06d}" for i in range(n_leads)],
            "territory": [TERRITORIES[t] for t in terr],
            "industry": [INDUSTRIES[d] for d in industry],
            "skills": _lead_skills(terr, enterprise, language),
            "value": value,
            "account_id": [f"A{a:05d}" for a in rng.integers(0, accounts, size=n_leads)],
            "source": rng.choice(["web", "event", "referral", "outbound"], size=n_leads),
        }
    )
    if effort:
        leads["effort"] = np.where(enterprise, 3, 1)
    return leads


def _lead_skills(terr: np.ndarray, enterprise: np.ndarray, language: np.ndarray) -> list[str]:
    """Per lead, the skills it needs: enterprise for the largest, its territory's language
    for some."""
    skills = []
    for t, ent, lang in zip(terr, enterprise, language, strict=True):
        need = []
        if ent:
            need.append("enterprise")
        name = TERRITORIES[t]
        if lang and name in LANGUAGE:
            need.append(LANGUAGE[name])
        skills.append(";".join(need))
    return skills


def _reps(
    rng: np.random.Generator,
    n_reps: int,
    n_leads: int,
    *,
    on_leave: int | None,
    effort: bool,
    slack: float,
) -> pd.DataFrame:
    """The reps: territories, industries, skills, capacity near ``slack`` times the leads,
    floors for juniors, win rates, level, and ``on_leave`` of them unavailable."""
    territories = _rep_territories(rng, n_reps)
    level = rng.choice([1, 2, 3], size=n_reps, p=[0.35, 0.4, 0.25])
    industries = _rep_industries(rng, n_reps)
    rep_skills = _rep_skills(rng, territories, level)
    units = (3 if effort else 1) * 0.15 + 0.85
    raw = rng.uniform(0.6, 1.4, size=n_reps) * (0.7 + 0.15 * level)
    capacity = np.maximum(1, np.round(raw / raw.sum() * n_leads * slack * units)).astype(int)
    min_leads = np.where(level == 1, np.minimum(capacity // 4, 6), 0)
    if on_leave is None:
        on_leave = max(1, n_reps // 12) if n_reps >= 4 else 0
    available = np.ones(n_reps, dtype=bool)
    available[rng.choice(n_reps, size=min(on_leave, n_reps), replace=False)] = False
    names = [
        f"{FIRST_NAMES[j % len(FIRST_NAMES)]}{'' if j < len(FIRST_NAMES) else j}"
        for j in range(n_reps)
    ]
    return pd.DataFrame(
        {
            "rep_id": [f"R{j + 1:04d}" for j in range(n_reps)],
            "name": names,
            "territories": territories,
            "industries": industries,
            "skills": rep_skills,
            "capacity": capacity,
            "min_leads": min_leads,
            "win_rate": np.round(rng.uniform(0.12, 0.32, size=n_reps) + 0.03 * level, 3),
            "level": level,
            "available": np.where(available, "true", "false"),
        }
    )


def _rep_territories(rng: np.random.Generator, n_reps: int) -> list[str]:
    """Most reps cover one territory, a few cover two, one or two cover everything."""
    home = rng.choice(len(TERRITORIES), size=n_reps, p=TERRITORY_WEIGHTS)
    territories = []
    for j, h in enumerate(home):
        if n_reps >= 10 and j % 12 == 11:
            territories.append("*")
        elif rng.random() < 0.25:
            other = (h + 1 + rng.integers(0, len(TERRITORIES) - 1)) % len(TERRITORIES)
            territories.append(f"{TERRITORIES[h]};{TERRITORIES[other]}")
        else:
            territories.append(TERRITORIES[h])
    return territories


def _rep_industries(rng: np.random.Generator, n_reps: int) -> list[str]:
    """Most reps take every industry (""), the others three."""
    industries = []
    for _ in range(n_reps):
        if rng.random() < 0.6:
            industries.append("")
        else:
            pick = rng.choice(len(INDUSTRIES), size=3, replace=False)
            industries.append(";".join(INDUSTRIES[d] for d in sorted(pick)))
    return industries


def _rep_skills(rng: np.random.Generator, territories: list[str], level: np.ndarray) -> list[str]:
    """Per rep: enterprise for seniors (and some juniors), some of their territories'
    languages, every language for those who cover everything."""
    rep_skills = []
    for j, covered in enumerate(territories):
        held = []
        if level[j] >= 2 or rng.random() < 0.2:
            held.append("enterprise")
        for name in covered.split(";"):
            if name in LANGUAGE and rng.random() < 0.6:
                held.append(LANGUAGE[name])
        if covered == "*":
            held.extend(LANGUAGE.values())
        rep_skills.append(";".join(dict.fromkeys(held)))
    return rep_skills


def _affinity(rng: np.random.Generator, reps: pd.DataFrame) -> pd.DataFrame:
    """Some reps convert better (or worse) in particular industries."""
    rows = []
    for j in range(len(reps)):
        for d in rng.choice(len(INDUSTRIES), size=int(rng.integers(0, 3)), replace=False):
            rate = float(reps["win_rate"].to_numpy()[j]) * rng.uniform(0.7, 1.6)
            rows.append((reps.loc[j, "rep_id"], INDUSTRIES[d], round(min(rate, 0.95), 3)))
    return pd.DataFrame(rows, columns=["rep_id", "industry", "win_rate"])
