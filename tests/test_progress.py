"""The progress line (docs/solver.md "Progress"): format, throttling on an injected clock, the
CP-SAT callbacks in user units, no effect on the answer, and the CLI flag. No wall-clock asserts."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from click.testing import CliRunner

from leadassign import Policy, load_problem, solve
from leadassign.cli import main
from leadassign.cli.progress import progress_line
from leadassign.compile.pairs import Pairs
from leadassign.control.progress import (
    CLEAR,
    NO_PROGRESS,
    NoProgress,
    Progress,
    TerminalProgress,
    status_line,
)
from leadassign.demo import make_sample
from leadassign.engines.cpsat import CpSatOutcome, CpSatSettings, solve_cpsat

PHASE_1, PHASE_2 = "cpsat phase 1 (count)", "cpsat phase 2 (value)"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A Progress that keeps the state after each report: (phase, objective, bound)."""

    def __init__(self) -> None:
        self.states: list[tuple[str, float | None, float | None]] = []
        self._lock = threading.Lock()

    def phase(self, name: str) -> None:
        with self._lock:
            self.states.append((name, None, None))

    def update(self, objective: float | None, bound: float | None) -> None:
        with self._lock:
            name, obj, top = self.states[-1] if self.states else ("", None, None)
            self.states.append(
                (name, obj if objective is None else objective, top if bound is None else bound)
            )

    def of(self, name: str) -> list[tuple[float | None, float | None]]:
        return [(obj, top) for phase, obj, top in self.states if phase == name]


def lines(text: str) -> list[str]:
    """The successive contents of the self-overwriting line."""
    return [part for part in text.split(CLEAR) if part]


def test_status_line_shows_counts_values_gap_and_time() -> None:
    assert (
        status_line(PHASE_2, 1_234_567.0, 1_240_000.0, 12.34)
        == "cpsat phase 2 (value)  obj 1,234,567  bound 1,240,000  gap 0.44%  12.3 s"
    )
    assert status_line(PHASE_1, 1180, 1200, 3.0) == (
        "cpsat phase 1 (count)  obj 1,180  bound 1,200  gap 1.67%  3.0 s"
    )
    # Small scores keep 4 significant digits, the same decimals for objective and bound.
    assert status_line("x", 12.5, 13.0, 0.0) == "x  obj 12.50  bound 13.00  gap 3.85%  0.0 s"
    assert status_line("mip", None, None, 5.0) == "mip  5.0 s"
    assert status_line("x", None, 7.0, 1.0) == "x  bound 7  1.0 s"
    assert status_line("x", 0.0, 0.0, 1.0) == "x  obj 0  bound 0  gap 0.00%  1.0 s"
    assert status_line("x", 1.0, float("inf"), 1.0) == "x  obj 1  1.0 s"


def test_terminal_progress_throttles_on_its_clock_and_ends_the_line() -> None:
    stream, clock = io.StringIO(), FakeClock()
    progress = TerminalProgress(stream, clock=clock, interval=0.2, ticker=False)
    clock.now = 100.0
    progress.phase(PHASE_2)  # the first report draws at once and starts the clock
    assert stream.getvalue() == CLEAR + "cpsat phase 2 (value)  0.0 s"
    clock.now = 100.1
    progress.update(10.0, 20.0)  # within the interval: held back
    progress.update(None, 15.0)  # None keeps the objective
    assert len(lines(stream.getvalue())) == 1
    clock.now = 100.25
    progress.update(12.0, None)  # due: the latest state
    assert lines(stream.getvalue())[-1] == (
        "cpsat phase 2 (value)  obj 12  bound 15  gap 20.00%  0.2 s"
    )
    clock.now = 100.3
    progress.phase("next")  # a new phase forgets the figures (drawn when due)
    clock.now = 101.0
    progress.close()
    progress.close()  # idempotent
    progress.update(1.0, 2.0)  # ignored once closed
    text = stream.getvalue()
    assert lines(text) == [
        "cpsat phase 2 (value)  0.0 s",
        "cpsat phase 2 (value)  obj 12  bound 15  gap 20.00%  0.2 s",
        "next  1.0 s\n",
    ]
    assert text.endswith("\n") and text.count("\n") == 1


def test_terminal_progress_with_nothing_reported_writes_nothing() -> None:
    stream = io.StringIO()
    with TerminalProgress(stream) as progress:
        assert isinstance(progress, TerminalProgress)
    assert stream.getvalue() == ""


def test_ticker_thread_stops_on_close() -> None:
    stream = io.StringIO()
    with TerminalProgress(stream, interval=0.01) as progress:
        progress.phase("flow")
    assert not any(t.name == "leadassign-progress" for t in threading.enumerate())
    assert lines(stream.getvalue())[-1].startswith("flow  ")
    assert stream.getvalue().endswith("\n")


class Broken(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError("gone")


def test_a_broken_stream_does_not_stop_the_solve() -> None:
    progress = TerminalProgress(Broken(), ticker=False)
    progress.phase("flow")
    progress.update(1.0, 2.0)
    progress.close()


def test_no_progress_is_a_progress() -> None:
    quiet: Progress = NoProgress()
    quiet.phase("flow")
    quiet.update(None, None)
    assert isinstance(NO_PROGRESS, NoProgress)


def book(seed: int, n: int = 120, m: int = 8) -> Pairs:
    """Random pairs with efforts 1-3 and too little capacity: both CP-SAT phases search."""
    rng = np.random.default_rng(seed)
    lead, rep = np.nonzero(rng.random((n, m)) < 0.4)
    return Pairs(
        unit=lead.astype(np.int64),
        rep=rep.astype(np.int64),
        effort=rng.integers(1, 4, size=len(lead)).astype(np.int64),
        units=rng.integers(1_000, 1_000_000, size=len(lead)).astype(np.int64),
        capacity=np.full(m, int(n * 1.4 / m), dtype=np.int64),
        min_leads=np.zeros(m, dtype=np.int64),
        size=np.ones(len(lead), dtype=np.int64),
    )


def settings(workers: int) -> CpSatSettings:
    # A deterministic work limit, so the search stops at the same point whatever the timing.
    return CpSatSettings(time_limit_s=60.0, workers=workers, params={"max_deterministic_time": 0.1})


def run(pairs: Pairs, workers: int, progress: Progress | None) -> CpSatOutcome:
    """No hint and the trivial count bound (every lead), so phase 1 searches too."""
    n_units = int(pairs.unit.max()) + 1
    return solve_cpsat(
        pairs, settings(workers), None, n_units, progress=progress, value_scale=1000.0
    )


def assert_below_bounds(states: list[tuple[float | None, float | None]]) -> None:
    for obj, top in states:
        if obj is not None and top is not None:
            assert obj <= top + 1e-9 * abs(top)


def test_cpsat_reports_leads_in_phase_1_and_the_value_score_in_phase_2() -> None:
    pairs = book(0)
    recorder = Recorder()
    outcome = run(pairs, 1, recorder)
    assert outcome.chosen is not None and outcome.units_bound is not None
    phase_1, phase_2 = recorder.of(PHASE_1), recorder.of(PHASE_2)
    assert list(dict.fromkeys(name for name, _, _ in recorder.states)) == [PHASE_1, PHASE_2]
    assert any(obj is not None for obj, _ in phase_1)
    assert_below_bounds(phase_1)
    assert_below_bounds(phase_2)
    n_units = int(pairs.unit.max()) + 1
    for obj, top in phase_1:  # whole leads, not the weighted count objective
        assert obj is None or (float(obj).is_integer() and 0 <= obj <= n_units)
        assert top is None or (float(top).is_integer() and 0 <= top <= n_units)
    assert phase_1[-1][0] is not None and phase_1[-1][0] <= int(pairs.size[outcome.chosen].sum())
    # Phase 2 ends at the answer's score and bound, in value units (units / value_scale).
    final_obj, final_bound = phase_2[-1]
    assert final_obj is not None and final_bound is not None
    assert final_obj == pytest.approx(int(pairs.units[outcome.chosen].sum()) / 1000.0)
    assert final_bound >= final_obj
    assert final_bound == pytest.approx(outcome.units_bound / 1000.0, abs=1.1e-3)


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_does_not_change_the_answer(workers: int) -> None:
    pairs = book(1)
    plain = run(pairs, workers, None)
    recorded = run(pairs, workers, Recorder())
    with TerminalProgress(io.StringIO(), interval=0.01) as line:
        drawn = run(pairs, workers, line)
    assert plain.chosen is not None
    for other in (recorded, drawn):
        assert other.chosen is not None
        assert np.array_equal(other.chosen, plain.chosen)
        assert (other.status, other.count_bound, other.units_bound) == (
            plain.status,
            plain.count_bound,
            plain.units_bound,
        )


def test_solve_passes_progress_down_and_keeps_the_assignment() -> None:
    sample = make_sample(60, 6, seed=1, effort=True)
    problem = load_problem(sample.leads, sample.reps, sample.affinity)
    recorder = Recorder()
    with_progress = solve(problem, Policy(), method="cpsat", progress=recorder)
    without = solve(problem, Policy(), method="cpsat")
    assert np.array_equal(with_progress.pair_of_lead, without.pair_of_lead)
    phases = list(dict.fromkeys(name for name, _, _ in recorder.states))
    assert phases[0] == "flow" and phases[-1] == PHASE_2
    final_obj, final_bound = recorder.of(PHASE_2)[-1]
    assert with_progress.objective is not None
    assert final_obj is not None and final_bound is not None
    assert final_obj == pytest.approx(with_progress.objective, rel=1e-9)
    assert final_obj <= final_bound + 1e-9 * abs(final_bound)


def demo_args(*extra: str) -> list[str]:
    """A demo book that CP-SAT's phase 2 proves in well under a second."""
    return [
        *("demo", "--leads", "60", "--reps", "6", "--sample-seed", "1", "--effort"),
        *("--method", "cpsat", *extra),
    ]


def test_cli_no_progress_keeps_stderr_clean() -> None:
    for flag in ("--no-progress", None):  # CliRunner's stderr is no terminal: off by default
        result = CliRunner().invoke(main, demo_args(*([flag] if flag else [])))
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
        assert CLEAR not in result.stdout


def test_cli_progress_draws_a_line_on_stderr_only() -> None:
    result = CliRunner().invoke(main, demo_args("--progress"))
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(CLEAR + "flow")
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1
    assert lines(result.stderr)[-1].startswith(PHASE_2 + "  obj ")
    assert CLEAR not in result.stdout and "status: OPTIMAL" in result.stdout


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("flag", "log", "policy_log", "on"),
    [
        (None, None, False, True),
        (None, True, False, False),
        (None, None, True, False),
        (False, None, False, False),
        (True, True, False, True),
    ],
)
def test_cli_default_is_on_for_a_terminal_without_the_log(
    monkeypatch: pytest.MonkeyPatch, flag: bool | None, log: bool | None, policy_log: bool, on: bool
) -> None:
    monkeypatch.setattr("sys.stderr", Tty())
    options = {"progress": flag, "log": log}
    policy = Policy.model_validate({"solver": {"log": policy_log}})
    with progress_line(options, policy) as progress:
        assert isinstance(progress, TerminalProgress) is on
    assert "progress" not in options  # solve() gets the object, not the flag
