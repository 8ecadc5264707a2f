"""The account cap family (``account_cap: {max_per_rep: K}``, compile/families/account_cap.py),
the worked example of docs/extending.md: its checker by hand, its CP-SAT constraints and LP
rows against brute force, leadassign against the independent MILP oracle on random books,
an end-to-end CLI solve where the cap binds, the policy's validation, and the doc itself."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from leadassign import Status
from leadassign.cli import main
from leadassign.compile.families import FAMILIES, AccountCap, SideRules
from leadassign.compile.pairs import Pairs
from leadassign.compile.prepare import prepare
from leadassign.engines.cpsat import build_model
from leadassign.engines.lp import build_relaxation, restrict_pairs
from leadassign.models.policy import policy_from_mapping
from leadassign.models.problem import load_problem
from tests.oracles.books import random_book
from tests.oracles.checker import run_leadassign, solved
from tests.oracles.milp import milp_optimum
from tests.oracles.rules import Ref, RuleBook, close, evaluate
from tests.test_families import model_solutions

ROOT = Path(__file__).resolve().parents[1]


def pairs_of(rep: list[int], n_reps: int = 2) -> Pairs:
    """One pair per lead (lead k with rep ``rep[k]``), unit effort and value."""
    n = len(rep)
    return Pairs(
        unit=np.arange(n, dtype=np.int64),
        rep=np.array(rep, dtype=np.int64),
        effort=np.ones(n, dtype=np.int64),
        units=np.ones(n, dtype=np.int64),
        capacity=np.full(n_reps, n, dtype=np.int64),
        min_leads=np.zeros(n_reps, dtype=np.int64),
        size=np.ones(n, dtype=np.int64),
    )


# ------------------------------------------------------------------------------ the checker


def test_excess_counts_leads_above_the_cap_per_rep_and_account() -> None:
    # Leads 0-3 of account 0, lead 4 of account 1, lead 5 without one; reps 0 0 0 1 0 0.
    pairs = pairs_of([0, 0, 0, 1, 0, 0])
    cap = AccountCap(np.array([0, 0, 0, 0, 1, -1]), limit=2)
    everything = np.ones(6, dtype=bool)
    assert cap.excess(pairs, everything) == 1  # rep 0 holds 3 of account 0: one above 2
    assert cap.excess(pairs, np.array([1, 1, 0, 1, 1, 1], dtype=bool)) == 0
    tight = AccountCap(cap.account, limit=1)
    assert tight.excess(pairs, everything) == 2  # rep 0: 3 of account 0, 1 allowed
    assert tight.excess(pairs, np.zeros(6, dtype=bool)) == 0
    # hard: feasible exactly when the excess is 0; score is the value (no penalty)
    side = SideRules.of(cap)
    assert not side.feasible(pairs, everything)
    assert side.feasible(pairs, np.array([1, 1, 0, 1, 1, 1], dtype=bool))
    assert side.score(pairs, everything) == 6


def test_leads_without_an_account_are_not_capped() -> None:
    pairs = pairs_of([0, 0, 0, 0])
    cap = AccountCap(np.full(4, -1, dtype=np.int64), limit=1)
    assert cap.excess(pairs, np.ones(4, dtype=bool)) == 0


def test_restrict_keeps_each_pairs_account() -> None:
    pairs = pairs_of([0, 0, 1, 1])
    cap = AccountCap(np.array([3, -1, 3, 5]), limit=1)
    sub, side = restrict_pairs(pairs, SideRules.of(cap), np.array([0, 2, 3]))
    restricted = side.get(AccountCap)
    assert restricted is not None and restricted.account.tolist() == [3, 3, 5]
    assert len(sub) == 3


# ---------------------------------------------------- the model and the rows, by brute force


def random_capped(seed: int) -> tuple[Pairs, AccountCap]:
    """Up to 12 pairs over 5 leads of 2 accounts (or none) x 3 reps, K of 1 or 2."""
    rng = np.random.default_rng(3000 + seed)
    while True:
        mask = rng.random((5, 3)) < 0.5
        if 3 <= mask.sum() <= 12:
            break
    lead, rep = np.nonzero(mask)
    pairs = Pairs(
        unit=lead.astype(np.int64),
        rep=rep.astype(np.int64),
        effort=np.ones(len(lead), dtype=np.int64),
        units=np.zeros(len(lead), dtype=np.int64),
        capacity=np.full(3, 5, dtype=np.int64),
        min_leads=np.zeros(3, dtype=np.int64),
        size=np.ones(len(lead), dtype=np.int64),
    )
    account_of_lead = rng.integers(-1, 2, size=5)
    return pairs, AccountCap(account_of_lead[lead].astype(np.int64), int(rng.integers(1, 3)))


def brute_force(pairs: Pairs, cap: AccountCap) -> set[tuple[int, ...]]:
    """Every 0/1 vector (one rep per lead) in which no rep holds more than K leads of one
    account, counted lead by lead."""
    out = set()
    for bits in itertools.product((0, 1), repeat=len(pairs)):
        x = np.array(bits, dtype=bool)
        if any(x[pairs.unit == i].sum() > 1 for i in range(5)):
            continue
        held: dict[tuple[int, int], int] = {}
        for k in np.flatnonzero(x).tolist():
            if cap.account[k] >= 0:
                key = (int(cap.account[k]), int(pairs.rep[k]))
                held[key] = held.get(key, 0) + 1
        if all(v <= cap.limit for v in held.values()):
            out.add(bits)
    return out


@pytest.mark.parametrize("seed", range(10))
def test_model_admits_exactly_the_rule(seed: int) -> None:
    pairs, cap = random_capped(seed)
    built = build_model(pairs, SideRules.of(cap))
    assert model_solutions(built.model, len(pairs)) == brute_force(pairs, cap)


@pytest.mark.parametrize("seed", range(10))
def test_lp_rows_hold_exactly_at_the_rules_points(seed: int) -> None:
    pairs, cap = random_capped(seed)
    relax = build_relaxation(pairs, SideRules.of(cap))
    assert relax.upper.shape == (len(pairs),)  # no columns of its own
    allowed = brute_force(pairs, cap)
    for bits in itertools.product((0, 1), repeat=len(pairs)):
        x = np.array(bits, dtype=np.float64)
        if any(x[pairs.unit == i].sum() > 1 for i in range(5)):
            continue
        activity = np.bincount(relax.row, weights=relax.val * x[relax.col], minlength=len(relax.lo))
        holds = bool(np.all(activity >= relax.lo - 1e-9) and np.all(activity <= relax.hi + 1e-9))
        assert holds == (bits in allowed)


# ------------------------------------------------------------------ against the MILP oracle


def capped_book(seed: int, cap: int) -> RuleBook:
    policy = {"account_cap": {"max_per_rep": cap}, "accounts": {"together": False}}
    return random_book(seed, 120, 5, policy, slack=1.6, owned=0.0, floors=0.3)


@pytest.mark.parametrize(("seed", "cap"), [(1, 1), (2, 1), (3, 2), (4, 1)])
def test_leadassign_agrees_with_the_milp_oracle(seed: int, cap: int) -> None:
    book = capped_book(seed, cap)
    reference = milp_optimum(book)
    _, _, result = run_leadassign(book)
    if reference is None:
        assert result.status == Status.INFEASIBLE
        return
    assert result.status == Status.OPTIMAL
    assert result.assigned == reference.assigned
    assert result.objective is not None and close(result.objective, reference.score)
    rep_position = {r: j for j, r in enumerate(book.reps["rep_id"].tolist())}
    rep_of = [rep_position.get(r, -1) for r in result.assignments["rep_id"].fillna("").tolist()]
    assert evaluate(Ref.build(book), rep_of).violations == []


def test_the_oracle_books_bind() -> None:
    """On these books the cap changes the optimum (so the agreement above tests it)."""
    book = capped_book(1, 1)
    free = milp_optimum(book.with_policy(account_cap=None))
    capped = milp_optimum(book)
    assert free is not None and capped is not None
    assert (capped.assigned, capped.score) < (free.assigned, free.score)


# -------------------------------------------------------------------------- end to end (CLI)


def write_book(folder: Path) -> tuple[Path, Path]:
    """Two reps with room for everything; R1 wins twice as often, so without the cap it
    takes all four leads of ACME (and the lead of no account). With ``max_per_rep: 2``
    the optimum gives R1 two ACME leads (the most valuable: 900 and 800) and R2 the other
    two: value 0.6*(900+800+100) + 0.3*(700+600) = 1470, against 0.6*3100 = 1860."""
    leads = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4", "L5"],
            "territory": ["N"] * 5,
            "industry": ["fin"] * 5,
            "value": [900, 800, 700, 600, 100],
            "account_id": ["ACME", "ACME", "ACME", "ACME", ""],
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R2"],
            "territories": ["N", "N"],
            "capacity": [10, 10],
            "win_rate": [0.6, 0.3],
        }
    )
    leads.to_csv(folder / "leads.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    return folder / "leads.csv", folder / "reps.csv"


def cli_solve(tmp_path: Path, policy: dict[str, object], name: str) -> tuple[int, Path]:
    leads, reps = write_book(tmp_path)
    policy_file = tmp_path / f"{name}.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    out = tmp_path / name
    args = ["solve", "--leads", str(leads), "--reps", str(reps), "--policy", str(policy_file)]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    return result.exit_code, out


def acme_per_rep(out: Path) -> dict[str, int]:
    table = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    acme = table[table["lead_id"].isin(["L1", "L2", "L3", "L4"])]
    return {str(k): int(v) for k, v in acme["rep_id"].value_counts().items()}


def test_cli_solve_where_the_cap_binds(tmp_path: Path) -> None:
    code, free = cli_solve(tmp_path, {}, "free")
    assert code == 0 and acme_per_rep(free) == {"R1": 4}
    code, capped = cli_solve(tmp_path, {"account_cap": {"max_per_rep": 2}}, "capped")
    assert code == 0
    assert acme_per_rep(capped) == {"R1": 2, "R2": 2}
    summary = yaml.safe_load((capped / "summary.json").read_text())
    assert summary["status"] == "OPTIMAL"
    assert summary["policy"]["account_cap"] == {"max_per_rep": 2}
    book = RuleBook(
        pd.read_csv(tmp_path / "leads.csv", dtype={"account_id": str}),
        pd.read_csv(tmp_path / "reps.csv"),
        None,
        {"account_cap": {"max_per_rep": 2}},
    )
    reference = milp_optimum(_with_defaults(book))
    assert reference is not None and reference.assigned == 5
    assert close(summary["objective"], reference.score) and close(reference.score, 1470.0)


def _with_defaults(book: RuleBook) -> RuleBook:
    """The CSV book with the optional columns the oracle reads filled in as leadassign
    defaults them (README "Inputs")."""
    leads = book.leads.assign(skills="", current_owner="", effort=1)
    reps = book.reps.assign(industries="", skills="", min_leads=0, level=1, available="true")
    return RuleBook(leads, reps, None, book.policy)


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        ({"account_cap": {"max_per_rep": 0}}, "account_cap.max_per_rep"),
        ({"account_cap": {}}, "account_cap.max_per_rep"),
        ({"account_cap": {"max_per_rep": 2, "per": 1}}, "account_cap.per"),
        ({"account_cap": {"max_per_rep": 2}, "accounts": {"together": True}}, "accounts.together"),
    ],
)
def test_policy_errors_exit_2_naming_the_key(
    tmp_path: Path, policy: dict[str, object], words: str
) -> None:
    leads, reps = write_book(tmp_path)
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    args = ["solve", "--leads", str(leads), "--reps", str(reps), "--policy", str(policy_file)]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert words in result.output


def test_infeasible_floors_name_the_cap(tmp_path: Path) -> None:
    """R2 must take 3 leads but may take only ACME's (the others are out of its territory)
    and at most 2 of them: the explanation names the floor and the cap."""
    leads, reps = write_book(tmp_path)
    table = pd.read_csv(reps).assign(min_leads=[0, 3], territories=["N;S", "N"])
    table.to_csv(reps, index=False)
    lead_table = pd.read_csv(leads, dtype={"account_id": str}, keep_default_na=False)
    lead_table.loc[lead_table["lead_id"] == "L5", "territory"] = "S"
    lead_table.to_csv(leads, index=False)
    policy = policy_from_mapping({"account_cap": {"max_per_rep": 2}})
    problem = load_problem(pd.read_csv(leads, dtype={"account_id": str}), table, policy=policy)
    result = solved(problem, policy)
    assert result.status == Status.INFEASIBLE
    message = " ".join(result.conflicts)
    assert "min_leads 3 for R2" in message and "account_cap max_per_rep 2" in message


def test_the_flows_leave_the_cap_to_the_general_stages() -> None:
    """The flow engines do not model the cap: a book with it is not a network, and the
    answer still meets it (via CP-SAT / HiGHS)."""
    assert AccountCap in FAMILIES and not AccountCap.flows_know
    book = capped_book(1, 1)
    problem, policy, result = run_leadassign(book)
    prep = prepare(problem, policy)
    assert prep.side.any and not prep.side.flows_know_all
    assert result.status == Status.OPTIMAL and result.method != "flow"


# ------------------------------------------------------------------------ docs/extending.md


def test_extending_doc_quotes_the_real_module() -> None:
    """Every ``python`` block of docs/extending.md that names a file in its first line
    (``# leadassign/...``) is a verbatim excerpt of that file."""
    doc = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n# ((?:leadassign|tests)/\S+\.py)\n(.*?)```", doc, re.S)
    assert len(blocks) >= 4
    for path, excerpt in blocks:
        source = (ROOT / path).read_text(encoding="utf-8")
        assert excerpt.strip("\n") in source, f"docs/extending.md quotes {path} out of date"


def test_extending_doc_lists_the_registration_line() -> None:
    doc = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    registry = (ROOT / "leadassign" / "compile" / "families" / "__init__.py").read_text()
    line = next(x for x in registry.splitlines() if x.startswith("FAMILIES"))
    assert line in doc
