"""validate's warnings (docs/data.md "Validate warnings"): valid inputs that are probably not what
was meant. Each warning on a small book built to raise it and nothing else; exit 0, and exit
2 with --strict; the clean book prints none."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from click.testing import CliRunner, Result

from leadassign.cli import main

CLEAN_LEADS = [
    # lead_id, territory, industry, skills, current_owner
    ("L1", "East", "tech", "", "R1"),
    ("L2", "East", "retail", "spanish", ""),
    ("L3", "West", "tech", "", "R2"),
    ("L4", "West", "retail", "", ""),
]
CLEAN_REPS = [
    # rep_id, territories, industries, skills, available
    ("R1", "East", "*", "spanish", "true"),
    ("R2", "West;East", "tech;retail", "", "true"),
    ("R3", "South", "", "", "false"),  # on leave: no lead for them is expected, not warned
]


def book(
    tmp_path: Path,
    leads: Sequence[tuple[str, ...]] = CLEAN_LEADS,
    reps: Sequence[tuple[str, ...]] = CLEAN_REPS,
) -> list[str]:
    lead_frame = pd.DataFrame(
        leads, columns=["lead_id", "territory", "industry", "skills", "current_owner"]
    ).assign(value="100")
    rep_frame = pd.DataFrame(
        reps, columns=["rep_id", "territories", "industries", "skills", "available"]
    ).assign(capacity="5")
    lead_frame.to_csv(tmp_path / "leads.csv", index=False)
    rep_frame.to_csv(tmp_path / "reps.csv", index=False)
    leads_csv, reps_csv = str(tmp_path / "leads.csv"), str(tmp_path / "reps.csv")
    return ["validate", "--leads", leads_csv, "--reps", reps_csv]


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, args)


def warnings(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("warning: ")]


def test_a_clean_book_warns_nothing(tmp_path: Path) -> None:
    args = book(tmp_path)
    for extra in ([], ["--strict"]):
        result = run(args + extra)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("valid: 4 leads, 3 reps")
        assert result.stderr == ""


def test_leads_with_no_eligible_rep_are_counted_with_why(tmp_path: Path) -> None:
    leads = [
        *CLEAN_LEADS,
        ("L5", "North", "tech", "", ""),  # nobody covers North
        ("L6", "North", "retail", "", ""),
        ("L7", "West", "tech", "german", ""),  # nobody speaks German
    ]
    result = run(book(tmp_path, leads))
    assert result.exit_code == 0
    (warned,) = warnings(result)
    assert warned.startswith("warning: 3 leads of 7 can go to no rep")
    # the candidates' own reasons, largest group first, with the ids
    assert "2 because no rep covers its territory (L5, L6)" in warned
    assert "1 because no rep in its territory and industry has its skills (L7)" in warned
    strict = run([*book(tmp_path, leads), "--strict"])
    assert strict.exit_code == 2
    assert warnings(strict) == [warned]
    assert "error: --strict: 1 warning about the inputs" in strict.stderr
    assert strict.stdout.startswith("valid: 7 leads")  # the description is still printed


def test_all_covering_reps_on_leave(tmp_path: Path) -> None:
    reps = [("R1", "East", "*", "spanish", "false"), *CLEAN_REPS[1:]]
    leads = [*CLEAN_LEADS[1:2], *CLEAN_LEADS[2:]]  # L2 (Spanish, East) needs R1
    (warned,) = warnings(run(book(tmp_path, leads, reps)))
    assert "1 because every rep who could work it is on leave (L2)" in warned


def test_owner_outside_the_leads_territory(tmp_path: Path) -> None:
    leads = [*CLEAN_LEADS, ("L5", "West", "tech", "", "R1")]  # R1 covers East only
    result = run(book(tmp_path, leads))
    assert result.exit_code == 0
    (warned,) = warnings(result)
    assert "1 lead have a current owner whose territories do not cover" in warned
    assert "L5 (West, owner R1 covers East)" in warned


def test_names_that_differ_only_in_case_or_spaces(tmp_path: Path) -> None:
    leads = [
        ("L1", "east", "tech", "", ""),
        ("L2", "East", "Real  Estate", "", ""),
        ("L3", "West", "tech", "", ""),
    ]
    reps = [
        ("R1", "East", "*", "", "true"),
        ("R2", "West", "tech;real estate", "", "true"),
    ]
    result = run(book(tmp_path, leads, reps))
    assert result.exit_code == 0
    found = warnings(result)
    assert any(
        "leads' territory 'east' (1 lead) and reps' 'East' (1 rep) differ only in case or spaces"
        in w
        and "e.g. 'East' in the leads table" in w
        for w in found
    ), found
    assert any("leads' industry 'Real  Estate'" in w and "'real estate'" in w for w in found)
    # 'East' matches exactly: not reported against itself
    assert not any("territory 'East'" in w for w in found)
    # and the mismatch is why L1 has no rep
    assert any("no rep covers its territory (L1)" in w for w in found)
    assert run([*book(tmp_path, leads, reps), "--strict"]).exit_code == 2


def test_reps_with_no_eligible_lead(tmp_path: Path) -> None:
    reps = [*CLEAN_REPS, ("R4", "South", "*", "", "true"), ("R5", "East", "*", "german", "true")]
    result = run(book(tmp_path, reps=reps))
    assert result.exit_code == 0
    (warned,) = warnings(result)
    assert warned == (
        "warning: 1 available rep with capacity can take none of the 4 leads (their "
        "territories, industries or skills match none): R4"
    )
