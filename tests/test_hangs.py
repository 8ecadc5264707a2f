"""Nothing hangs (issue 21, category 3): every wait is bounded and SIGINT / SIGTERM end every
command within moments, keeping the best complete answer where the README promises one.

The tests run the real CLI (``python -m leadassign``) in subprocesses against a real socket
server that accepts connections and never answers (a PostgreSQL server that hangs), and on
books that keep the solver busy; they signal once the run is under way (its JSON log, or the
server's accepted connections), then check the exit code, the message, the files and that
no child process outlives the command. No assertion is on wall-clock time: the guards
(``wait(timeout=...)``) only catch a hang.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from leadassign.cli import main
from leadassign.publish import MANIFEST
from tests.test_history import slow_book

BOOK = Path(__file__).resolve().parents[1] / "examples" / "book"
GUARD_S = 60  # only a hang (or a gross overrun) reaches it


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:  # closed
                return
            self.accepted.append(conn)

    def url(self) -> str:
        return f"postgresql+psycopg://leadassign:s3cret-pw@127.0.0.1:{self.port}/runs"

    def close(self) -> None:
        self.socket.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def leadassign(*args: str, cwd: Path, stderr: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("LEADASSIGN_STORE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "leadassign", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
    )


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc/*/stat's parent pid)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies of an exited parent count as gone)."""
    left = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.add(pid)
    return left


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def events_in(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def until(condition: Any, process: subprocess.Popen[bytes], what: str) -> None:
    """Poll ``condition()`` while the process runs (a hang guard, not a timing)."""
    deadline = time.monotonic() + GUARD_S
    while not condition():
        assert process.poll() is None, f"ended before {what}"
        assert time.monotonic() < deadline, f"never reached {what}"
        time.sleep(0.05)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


class Terminal:
    """A pseudo-terminal for a child's stderr, read in a thread (the child sees a tty)."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.data = bytearray()
        self.thread = threading.Thread(target=self._read, daemon=True)

    def started(self) -> None:
        os.close(self.slave)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed its side
                return
            if not chunk:
                return
            self.data.extend(chunk)

    def text(self) -> bytes:
        return bytes(self.data)

    def close(self) -> bytes:
        self.thread.join(timeout=GUARD_S)
        os.close(self.master)
        return bytes(self.data)


# -- the long cases run at once -----------------------------------------------------------------
#: test name -> its case (a function of an empty folder). The cases that wait for a solver, a
#: server or a signal's grace start when the first of their tests runs: those that keep the
#: CPU busy (``solver=True``) one after the other in one thread, each of the others in its own
#: thread alongside; each test then waits for its own case and raises what it raised. Only
#: the selected tests' cases run.
CASES: dict[str, tuple[Callable[[Path], None], bool]] = {}


def case(test: str, *, solver: bool) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    def register(function: Callable[[Path], None]) -> Callable[[Path], None]:
        CASES[test] = (function, solver)
        return function

    return register


class Background:
    def __init__(self, cases: dict[str, tuple[Callable[[Path], None], bool]], root: Path) -> None:
        self.errors: dict[str, BaseException] = {}
        self.done = {name: threading.Event() for name in cases}
        self.threads: list[threading.Thread] = []
        folders = {name: root / name for name in cases}
        for folder in folders.values():
            folder.mkdir()
        heavy = [(n, f, folders[n]) for n, (f, solver) in cases.items() if solver]
        light = [[(n, f, folders[n])] for n, (f, solver) in cases.items() if not solver]
        for lane in [heavy, *light]:
            thread = threading.Thread(target=self._run, args=(lane,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _run(self, lane: list[tuple[str, Callable[[Path], None], Path]]) -> None:
        for name, function, folder in lane:
            try:
                function(folder)
            except BaseException as exc:  # raised in the test that owns the case
                self.errors[name] = exc
            finally:
                self.done[name].set()

    def result(self, name: str) -> None:
        assert self.done[name].wait(timeout=10 * GUARD_S), f"{name} hung"
        if name in self.errors:
            raise self.errors[name]


@pytest.fixture(scope="module")
def background(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Background]:
    selected = {item.name for item in request.session.items}
    cases = {name: entry for name, entry in CASES.items() if name in selected}
    runner = Background(cases, tmp_path_factory.mktemp("hangs"))
    yield runner
    for thread in runner.threads:
        thread.join(timeout=10 * GUARD_S)


# -- --wait and --time-limit ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "abc", "1e999"])
@pytest.mark.parametrize("option", ["--wait", "--time-limit"])
def test_seconds_options_take_finite_numbers_only(
    option: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--wait nan`` once meant an endless wait: a usage error (exit 2) naming the option,
    before anything is read, written or recorded."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    args = ["solve", "--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv")]
    result = CliRunner().invoke(main, [*args, "--out", str(out), f"{option}={value}"])
    assert result.exit_code == 2, result.output
    assert option in result.output
    assert "finite number" in result.output or "not a number" in result.output
    assert not out.exists() and not (tmp_path / ".leadassign").exists()


def test_time_limit_zero_and_wait_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--wait 0`` is a valid wait (exit 5 at once when busy); ``--time-limit 0`` is not."""
    monkeypatch.chdir(tmp_path)
    args = ["solve", "--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv")]
    refused = CliRunner().invoke(main, [*args, "--out", "a", "--time-limit", "0"])
    assert refused.exit_code == 2 and "--time-limit" in refused.output
    ran = CliRunner().invoke(main, [*args, "--out", "b", "--wait", "0", "--no-store"])
    assert ran.exit_code == 0, ran.output


# -- a database that never answers ---------------------------------------------------------


def test_a_store_that_never_answers_is_given_up_within_wait(
    silent: SilentServer, tmp_path: Path
) -> None:
    """A server that accepts the connection and never replies: the run gives up after
    --wait (here 2 s; libpq's least) with exit 5 and one line naming the store without its
    password; nothing written, nothing left behind."""
    before = snapshot(tmp_path)
    args = ["solve", "--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv")]
    process = leadassign(
        *args, "--out", "run", "--store", silent.url(), "--wait", "2", cwd=tmp_path
    )
    try:
        _, err = process.communicate(timeout=GUARD_S)
    finally:
        process.kill()
    message = err.decode()
    assert process.returncode == 5, message
    assert "did not answer" in message and f"127.0.0.1:{silent.port}/runs" in message
    assert "s3cret-pw" not in message and "Traceback" not in message
    assert len(message.strip().splitlines()) == 1
    assert snapshot(tmp_path) == before and not (tmp_path / "run").exists()


TABLES = ["--leads", str(BOOK / "leads.csv"), "--reps", str(BOOK / "reps.csv")]
STORE_COMMANDS = {
    "solve": ["solve", *TABLES, "--out", "run"],
    "rebalance": ["rebalance", *TABLES, "--out", "run"],
    "history": ["history"],
    "show": ["show", "latest"],
    "diff": ["diff", "latest-1", "latest", "--out", "moves.csv"],
    "export": ["export", "latest", "--format", "csv", "--out", "owners.csv"],
}


@case("test_signals_end_every_store_command_while_the_store_never_answers", solver=False)
def _signals_end_every_store_command_while_the_store_never_answers(tmp_path: Path) -> None:
    """Each store command (default wait: 30 s to connect) blocked on the silent server ends
    at SIGTERM or SIGINT with exit 4 and a message, writes nothing and leaves no process;
    all six run at once (one connection each) to keep the test short."""
    silent = SilentServer()
    try:
        _store_commands_at_a_signal(silent, tmp_path)
    finally:
        silent.close()


def _store_commands_at_a_signal(silent: SilentServer, tmp_path: Path) -> None:
    started: dict[str, tuple[subprocess.Popen[bytes], signal.Signals, Path]] = {}
    for k, (name, args) in enumerate(STORE_COMMANDS.items()):
        folder = tmp_path / name
        folder.mkdir()
        sig = signal.SIGTERM if k % 2 == 0 else signal.SIGINT
        process = leadassign(*args, "--store", silent.url(), cwd=folder)
        started[name] = (process, sig, folder)
    try:
        first = next(iter(started.values()))[0]
        until(lambda: len(silent.accepted) >= len(started), first, "every command connected")
        children = {name: descendants(p.pid) for name, (p, _, _) in started.items()}
        for process, sig, _ in started.values():
            process.send_signal(sig)
        for name, (process, sig, folder) in started.items():
            _, err = process.communicate(timeout=GUARD_S)
            message = err.decode()
            assert process.returncode == 4, (name, process.returncode, message)
            assert f"interrupted by {sig.name}" in message, (name, message)
            assert "Traceback" not in message and "s3cret-pw" not in message
            assert list(folder.iterdir()) == [], (name, list(folder.iterdir()))
            assert not alive(children[name]), name
    finally:
        for process, _, _ in started.values():
            process.kill()


def test_signals_end_every_store_command_while_the_store_never_answers(
    background: Background,
) -> None:
    """The case above (run with the other long cases at once)."""
    background.result("test_signals_end_every_store_command_while_the_store_never_answers")


# -- signals mid-solve -------------------------------------------------------------------------


@case("test_sigterm_while_pricing_rules_keeps_the_assignment", solver=True)
def _sigterm_while_pricing_rules_keeps_the_assignment(tmp_path: Path) -> None:
    """``solve --price-rules`` solves the book once more per hard rule (each up to the time
    limit); SIGTERM during those solves keeps the main assignment, written whole and marked
    interrupted (its prices are left out), exit 0 -- not after every rule was priced."""
    args = ["solve", *slow_book(tmp_path), "--out", "run", "--price-rules", "--time-limit", "300"]
    # a small work limit: the main solve ends soon, each rule's re-solve takes a few seconds
    args += ["--method", "auto", "--work-limit", "6"]
    log = tmp_path / "log.jsonl"
    process = leadassign(*args, "--no-store", "--json", cwd=tmp_path, stderr=log.open("wb"))
    try:
        until(
            lambda: any(e["event"] == "pricing_rules" for e in events_in(log)),
            process,
            "pricing the rules",
        )
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=GUARD_S)
    finally:
        process.kill()
    events = events_in(log)
    assert process.returncode == 0, events[-3:]
    done = next(e for e in events if e["event"] == "done")
    assert done["interrupted"] == "SIGTERM"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["interrupted"] == "SIGTERM" and summary["status"] in ("OPTIMAL", "FEASIBLE")
    assert not summary.get("price_of_rules")
    table = pd.read_csv(tmp_path / "run" / "assignments.csv", dtype=str)
    assert len(table) == 3000


def test_sigterm_while_pricing_rules_keeps_the_assignment(background: Background) -> None:
    """The case above (run with the other long cases at once)."""
    background.result("test_sigterm_while_pricing_rules_keeps_the_assignment")


def scenario_book(folder: Path, variants: int) -> Path:
    """A scenario on the slow book: the base stops after 8 s with an answer (FEASIBLE); its
    variants (value changes only, so the base's answer is their start) get 300 s."""
    slow_book(folder)
    policy = yaml.safe_load((folder / "policy.yaml").read_text())
    policy["solver"] = {"time_limit_s": 8, "method": "auto"}
    spec = {
        "base": {
            "leads": "leads.csv",
            "reps": "reps.csv",
            "affinity": "affinity.csv",
            "policy": policy,
        },
        "variants": {
            f"boost-{k}": {
                "description": f"retail worth {10 * (k + 1)}% more",
                "policy": {"solver": {"time_limit_s": 300}},
                "leads": {
                    "value_multipliers": [
                        {"where": {"industry": "retail"}, "factor": 1 + 0.1 * (k + 1)}
                    ]
                },
            }
            for k in range(variants)
        },
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@case("test_sigterm_mid_compare_jobs_keeps_answers_and_ends_every_worker", solver=True)
def _sigterm_mid_compare_jobs_keeps_answers_and_ends_every_worker(tmp_path: Path) -> None:
    """compare --jobs 2 with three long variants: SIGTERM once both workers are solving. The
    two running variants keep their best answer (FEASIBLE, interrupted), the third, never
    begun, is NOT_RUN; comparison.csv and the message say so, exit 4, and no worker (or
    any other child) outlives the command."""
    scenario = scenario_book(tmp_path, variants=3)
    log = tmp_path / "log.jsonl"
    out = tmp_path / "what-if"
    process = leadassign(
        "compare", str(scenario), "--out", str(out), "--jobs", "2", "--json",
        cwd=tmp_path, stderr=log.open("wb"),
    )  # fmt: skip
    try:
        until(
            lambda: any(e["event"] == "run_finished" for e in events_in(log)),
            process,
            "the base's answer",
        )

        def workers_solving() -> bool:
            # the two spawned workers, each past its imports and into its solve (CPU time,
            # not wall time: a loaded machine only makes this take longer)
            busy = [pid for pid in descendants(process.pid) if cpu_seconds_or_0(pid) > 4.0]
            return len(busy) >= 2

        until(workers_solving, process, "two variants solving")
        children = descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=GUARD_S)
    finally:
        process.kill()
    events = events_in(log)
    assert process.returncode == 4, events[-3:]
    done = next(e for e in events if e["event"] == "done")
    assert done["interrupted"] == "SIGTERM" and done["exit_code"] == 4
    table = pd.read_csv(out / "comparison.csv", keep_default_na=False)
    status = dict(zip(table["variant"], table["status"], strict=True))
    # the base's answer, and so the variants' start, depends on the machine's speed (its
    # HiGHS phase within 8 s): each running variant kept what it had (FEASIBLE from that
    # start, else UNKNOWN); the variant still queued was not run
    assert status["base"] in ("FEASIBLE", "UNKNOWN")
    variants = sorted(status[f"boost-{k}"] for k in range(3))
    assert "NOT_RUN" in variants and set(variants) <= {"FEASIBLE", "UNKNOWN", "NOT_RUN"}
    if status["base"] == "FEASIBLE":
        assert variants == ["FEASIBLE", "FEASIBLE", "NOT_RUN"]
    assert done["not_run"] == [name for name, s in status.items() if s == "NOT_RUN"]
    interrupted = dict(zip(table["variant"], table["interrupted"], strict=True))
    assert all(interrupted[f"boost-{k}"] == "SIGTERM" for k in range(3))
    for name, state in status.items():
        if name != "base" and state == "FEASIBLE":
            summary = json.loads((out / name / "summary.json").read_text())
            assert summary["interrupted"] == "SIGTERM"
            assert len(pd.read_csv(out / name / "assignments.csv")) == 3000
        if state == "NOT_RUN":
            assert not (out / name).exists()
            assert pd.read_csv(out / f"diff_{name}.csv").empty
    assert (out / "report.html").is_file()
    # no staging left (beside the folder or in it); the manifest is the folder's own
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != MANIFEST]
    assert not [p for p in tmp_path.iterdir() if "leadassign-staging" in p.name]
    deadline = time.monotonic() + 10  # the resource tracker sees its pipe close
    while alive(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(children), alive(children)


def test_sigterm_mid_compare_jobs_keeps_answers_and_ends_every_worker(
    background: Background,
) -> None:
    """The case above (run with the other long cases at once)."""
    background.result("test_sigterm_mid_compare_jobs_keeps_answers_and_ends_every_worker")


def cpu_seconds_or_0(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except OSError:
        return 0.0


@case("test_sigint_mid_frontier_in_process_keeps_what_it_has", solver=True)
def _sigint_mid_frontier_in_process_keeps_what_it_has(tmp_path: Path) -> None:
    """frontier --jobs 1 (every run in the CLI's own process): SIGINT during the first
    point's solve keeps that point's best answer and leaves the others NOT_RUN; exit 4 and a
    message on stderr."""
    scenario = scenario_book(tmp_path, variants=0)
    spec = yaml.safe_load(scenario.read_text())
    spec.pop("variants")
    spec["sweep"] = {"key": "fairness.band", "values": [0.25, 0.3]}  # 8 s each
    scenario.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "frontier"
    # stderr a terminal: the run board says when the base has its answer (the folder is
    # written whole at the end only)
    terminal = Terminal()
    process = leadassign(
        "frontier", str(scenario), "--out", str(out), cwd=tmp_path, stderr=terminal.slave
    )
    terminal.started()
    try:
        base_done = re.compile(rb"base\s+(OPTIMAL|FEASIBLE|UNKNOWN|INFEASIBLE)")
        until(lambda: base_done.search(terminal.text()) is not None, process, "the base's answer")
        time.sleep(1.0)  # into the first point's solve (its start is the base's answer)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=GUARD_S)
    finally:
        process.kill()
    message = terminal.close().decode()
    assert process.returncode == 4, message
    assert "interrupted by SIGINT" in message and "not run" in message
    table = pd.read_csv(out / "frontier.csv", keep_default_na=False)
    assert table["status"].tolist() == ["FEASIBLE", "NOT_RUN"]


def test_sigint_mid_frontier_in_process_keeps_what_it_has(background: Background) -> None:
    """The case above (run with the other long cases at once)."""
    background.result("test_sigint_mid_frontier_in_process_keeps_what_it_has")


# -- validate, baseline and demo ----------------------------------------------------------------


def big_book(folder: Path, rows: int = 200_000) -> list[str]:
    """The example book's leads repeated to ``rows`` rows (unique ids): reading it takes the
    CLI a moment, long enough to signal it while it reads."""
    book = pd.read_csv(BOOK / "leads.csv", dtype=str, keep_default_na=False)
    big = book.iloc[np.arange(rows) % len(book)].reset_index(drop=True)
    big["lead_id"] = [f"B{k:07d}" for k in range(rows)]
    big.to_csv(folder / "leads.csv", index=False)
    return ["--leads", str(folder / "leads.csv"), "--reps", str(BOOK / "reps.csv")]


def reading(process: subprocess.Popen[bytes], path: Path) -> Callable[[], bool]:
    """Whether the process has ``path`` open (it reads its input: it has started its work,
    under its signal handling)."""

    def check() -> bool:
        folder = Path(f"/proc/{process.pid}/fd")
        try:
            links = [os.readlink(fd) for fd in folder.iterdir()]
        except OSError:  # an fd closed while listed
            return False
        return str(path) in links

    return check


def _signal_while_reading(command: list[str], sig: signal.Signals, tmp_path: Path) -> None:
    """``command`` (on the big book, in ``tmp_path``) gets ``sig`` while it reads the leads:
    exit 4, one line saying it was interrupted, nothing on stdout, nothing written (the
    folder as before, no staging, no temp file) and no process left."""
    args = big_book(tmp_path)
    before = snapshot(tmp_path)
    process = leadassign(*command, *args, cwd=tmp_path)
    try:
        until(reading(process, tmp_path / "leads.csv"), process, "reading the leads")
        children = descendants(process.pid)
        process.send_signal(sig)
        out, err = process.communicate(timeout=GUARD_S)
    finally:
        process.kill()
    message = err.decode()
    assert process.returncode == 4, (command, process.returncode, message)
    lines = message.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: interrupted by {sig.name}"), lines
    assert out == b"", out
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv"]
    assert not alive(children)


@case("test_validate_ends_at_sigterm_with_exit_4", solver=False)
def _validate_ends_at_sigterm_with_exit_4(tmp_path: Path) -> None:
    """validate keeps nothing: SIGTERM mid-read ends it (exit 4, a message), not killed
    outright with no word."""
    _signal_while_reading(["validate"], signal.SIGTERM, tmp_path)


def test_validate_ends_at_sigterm_with_exit_4(background: Background) -> None:
    """The case above (run with the other long cases at once)."""
    background.result("test_validate_ends_at_sigterm_with_exit_4")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda sig: sig.name)
def test_baseline_interrupted_writes_nothing(sig: signal.Signals, background: Background) -> None:
    """baseline at SIGTERM or SIGINT before its files are written: exit 4, a message, no
    --out folder and no staging folder."""
    background.result(f"test_baseline_interrupted_writes_nothing[{sig.name}]")


def _baseline_case(sig: signal.Signals) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        command = ["baseline", "--strategy", "greedy", "--out", "run"]
        _signal_while_reading(command, sig, folder)

    return run


for _sig in (signal.SIGTERM, signal.SIGINT):
    CASES[f"test_baseline_interrupted_writes_nothing[{_sig.name}]"] = (_baseline_case(_sig), False)


@case("test_demo_at_sigterm_keeps_its_best_answer_or_writes_nothing", solver=True)
def _demo_at_sigterm_keeps_its_best_answer_or_writes_nothing(tmp_path: Path) -> None:
    """demo solves a sample book (CP-SAT, effort units): SIGTERM once it solves keeps the
    best assignment it has, like solve (its first stages already have one on this book):
    written whole with the sample, marked interrupted, exit 0 and a line saying so; without
    one it would end with exit 4, a message and nothing written. Either way no staging and
    no process is left, and nothing is half-written."""
    args = ["demo", "--leads", "3000", "--reps", "50", "--effort", "--method", "cpsat"]
    args += ["--time-limit", "300", "--progress", "--out", "run"]
    log = tmp_path / "demo.log"
    process = leadassign(*args, cwd=tmp_path, stderr=log.open("wb"))
    try:
        until(lambda: b"flow" in log.read_bytes(), process, "the solve")
        children = descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=GUARD_S)
    finally:
        process.kill()
    said = log.read_text().replace("\r", "\n")
    run = tmp_path / "run"
    assert "Traceback" not in said
    if process.returncode == 0:
        assert "interrupted by SIGTERM: kept the best assignment found (FEASIBLE" in said
        summary = json.loads((run / "summary.json").read_text())
        assert summary["interrupted"] == "SIGTERM" and summary["status"] == "FEASIBLE"
        assert len(pd.read_csv(run / "assignments.csv")) == 3000
        assert len(pd.read_csv(run / "input" / "leads.csv")) == 3000
    else:
        assert process.returncode == 4, said[-500:]
        assert "error: interrupted by SIGTERM before any assignment was found" in said
        assert not run.exists()
    assert not [p for p in tmp_path.iterdir() if "leadassign-" in p.name]
    assert not alive(children)


def test_demo_at_sigterm_keeps_its_best_answer_or_writes_nothing(background: Background) -> None:
    """The case above (run with the other long cases at once)."""
    background.result("test_demo_at_sigterm_keeps_its_best_answer_or_writes_nothing")
