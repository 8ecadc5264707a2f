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
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from leadassign.cli import main
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


def test_signals_end_every_store_command_while_the_store_never_answers(
    silent: SilentServer, tmp_path: Path
) -> None:
    """Each store command (default wait: 30 s to connect) blocked on the silent server ends
    at SIGTERM or SIGINT with exit 4 and a message, writes nothing and leaves no process;
    all six run at once (one connection each) to keep the test short."""
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


# -- signals mid-solve -------------------------------------------------------------------------


def test_sigterm_while_pricing_rules_keeps_the_assignment(tmp_path: Path) -> None:
    """``solve --price-rules`` solves the book once more per hard rule (each up to the time
    limit); SIGTERM during those solves keeps the main assignment, written whole and marked
    interrupted (its prices are left out), exit 0 -- not after every rule was priced."""
    args = ["solve", *slow_book(tmp_path), "--out", "run", "--price-rules", "--time-limit", "15"]
    args += ["--method", "auto"]
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


def test_sigterm_mid_compare_jobs_keeps_answers_and_ends_every_worker(tmp_path: Path) -> None:
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
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left
    deadline = time.monotonic() + 10  # the resource tracker sees its pipe close
    while alive(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(children), alive(children)


def cpu_seconds_or_0(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except OSError:
        return 0.0


def test_sigint_mid_frontier_in_process_keeps_what_it_has(tmp_path: Path) -> None:
    """frontier --jobs 1 (every run in the CLI's own process): SIGINT during the first
    point's solve keeps that point's best answer and leaves the others NOT_RUN; exit 4 and a
    message on stderr."""
    scenario = scenario_book(tmp_path, variants=0)
    spec = yaml.safe_load(scenario.read_text())
    spec.pop("variants")
    spec["sweep"] = {"key": "fairness.band", "values": [0.25, 0.3]}  # 8 s each
    scenario.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "frontier"
    process = leadassign("frontier", str(scenario), "--out", str(out), cwd=tmp_path)
    try:
        until(lambda: (out / "base" / "summary.json").exists(), process, "the base's answer")
        time.sleep(1.0)  # into the first point's solve (its start is the base's answer)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=GUARD_S)
    finally:
        process.kill()
    message = err.decode()
    assert process.returncode == 4, message
    assert "interrupted by SIGINT" in message and "not run" in message
    table = pd.read_csv(out / "frontier.csv", keep_default_na=False)
    assert table["status"].tolist() == ["FEASIBLE", "NOT_RUN"]
