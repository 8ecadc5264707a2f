"""Issue 21, category 1: leadassign only ever deletes or overwrites what it wrote itself.

Every command that writes (solve, rebalance, baseline, demo, compare, frontier: folders;
export, diff: one file) is attacked the way a careless user would: ``--out`` at the inputs'
folder or above it, a folder holding the user's own files, a run folder as the place of a
single file, crashes (SIGKILL) at every statement of the publishing code, a reader or a writer
holding the SQLite history, a commit that fails after the files went into place, and OS errors
(permission denied, disk full, a path through a file, a read-only store, symlink loops). The
parent folder is snapshotted (paths, bytes, mtimes) before and after.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from leadassign import publish
from leadassign.cli import main
from leadassign.demo import make_sample
from leadassign.publish import MANIFEST, write_folder

FOLDER_COMMANDS = ["solve", "rebalance", "baseline", "demo", "compare", "frontier"]
FILE_COMMANDS = ["export", "diff"]
ROOT = Path(__file__).resolve().parents[1]


# -- helpers -----------------------------------------------------------------------------------


def write_book(folder: Path, leads: int = 40, reps: int = 4) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sample = make_sample(leads, reps, seed=3)
    paths = {}
    for name, frame in (("leads", sample.leads), ("reps", sample.reps)):
        paths[name] = folder / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    first_rep = str(sample.reps["rep_id"].iloc[0])
    (folder / "scenario.yaml").write_text(
        "base: {leads: leads.csv, reps: reps.csv}\n"
        f"variants:\n  less:\n    reps:\n      - {{rep_id: {first_rep}, capacity: 1}}\n"
    )
    (folder / "frontier.yaml").write_text(
        "base: {leads: leads.csv, reps: reps.csv}\n"
        "sweep: {key: fairness.band, values: [0.5, 1.0], against: utilization_spread}\n"
    )
    paths["scenario"] = folder / "scenario.yaml"
    paths["frontier"] = folder / "frontier.yaml"
    return paths


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root`` (hidden ones too): sha256 and mtime."""
    found = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink():
                found[str(path.relative_to(root))] = (f"-> {os.readlink(path)}", 0)
                continue
            data = hashlib.sha256(path.read_bytes()).hexdigest()
            found[str(path.relative_to(root))] = (data, path.stat().st_mtime_ns)
    return found


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def book_args(book: dict[str, Path]) -> list[str]:
    return ["--leads", str(book["leads"]), "--reps", str(book["reps"])]


def folder_args(command: str, book: dict[str, Path], out: Path) -> list[str]:
    if command in ("solve", "rebalance"):
        return [command, *book_args(book), "--out", str(out), "--time-limit", "20"]
    if command == "baseline":
        return ["baseline", "--strategy", "greedy", *book_args(book), "--out", str(out)]
    if command == "demo":
        return ["demo", "--leads", "40", "--reps", "4", "--out", str(out)]
    spec = book["scenario" if command == "compare" else "frontier"]
    return [command, str(spec), "--out", str(out), "--time-limit", "20"]


def file_args(command: str, out: Path) -> list[str]:
    if command == "export":
        return ["export", "latest", "--format", "csv", "--out", str(out)]
    return ["diff", "latest", "latest", "--out", str(out)]


def prepare(command: str, book: dict[str, Path], tmp: Path) -> None:
    """What a command needs first: a recorded run for rebalance, export and diff."""
    if command in ("rebalance", "export", "diff"):
        done = cli("solve", *book_args(book), "--out", str(tmp / "first"))
        assert done.exit_code == 0, done.output


def one_line_error(result: Result) -> str:
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def book(tmp_path: Path) -> dict[str, Path]:
    return write_book(tmp_path / "in")


# -- inputs are sacred ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [c for c in FOLDER_COMMANDS if c != "demo"])
@pytest.mark.parametrize("where", ["the inputs' folder", "above the inputs"])
@pytest.mark.parametrize("force", [False, True])
def test_an_out_that_is_or_contains_an_input_is_refused(
    command: str, where: str, force: bool, book: dict[str, Path], tmp_path: Path
) -> None:
    prepare(command, book, tmp_path)
    out = book["leads"].parent if where == "the inputs' folder" else tmp_path
    before = snapshot(tmp_path)
    result = cli(*folder_args(command, book, out), *(["--force"] if force else []))
    assert result.exit_code == 2, result.output
    line = one_line_error(result)
    assert "never writes over its inputs" in line and "in/" in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_a_single_file_out_never_replaces_an_input(
    command: str, book: dict[str, Path], tmp_path: Path
) -> None:
    prepare(command, book, tmp_path)
    store = Path(os.environ["LEADASSIGN_STORE"])
    before = snapshot(store.parent)
    result = cli(*file_args(command, store), "--force")
    assert result.exit_code == 2
    assert "never writes over its inputs" in one_line_error(result)
    assert snapshot(store.parent) == before


# -- user files in the output folder -------------------------------------------------------


@pytest.mark.parametrize("command", FOLDER_COMMANDS)
def test_a_user_file_in_the_folder_is_refused_and_kept_with_force(
    command: str, book: dict[str, Path], tmp_path: Path
) -> None:
    prepare(command, book, tmp_path)
    out = tmp_path / "out"
    (out / "mine").mkdir(parents=True)
    (out / "mine" / "notes.txt").write_text("my notes")
    (out / "reps.csv").write_text("my own reps table\n")  # named like an output file
    before = snapshot(tmp_path)
    refused = cli(*folder_args(command, book, out))
    assert refused.exit_code == 2, refused.output
    line = one_line_error(refused)
    assert "mine/notes.txt" in line and "--force" in line
    assert snapshot(tmp_path) == before  # nothing solved, nothing written
    kept_mtime = (out / "mine" / "notes.txt").stat().st_mtime_ns
    forced = cli(*folder_args(command, book, out), "--force")
    assert forced.exit_code == 0, forced.output
    assert (out / "mine" / "notes.txt").read_text() == "my notes"
    assert (out / "mine" / "notes.txt").stat().st_mtime_ns == kept_mtime
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["state"] == "complete" and manifest["command"] == command
    assert "mine/notes.txt" not in manifest["files"]
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
    if "reps.csv" in manifest["files"]:  # replaced: a file with the name leadassign writes
        assert (out / "reps.csv").read_text() != "my own reps table\n"
    else:
        assert (out / "reps.csv").read_text() == "my own reps table\n"
    # the folder is now leadassign's but for the kept files: a re-run still needs --force
    assert cli(*folder_args(command, book, out)).exit_code == 2
    leftovers = [p.name for p in tmp_path.iterdir() if "leadassign-" in p.name]
    assert leftovers == []


def test_stale_files_go_but_the_users_matrix_and_vanished_stay(
    book: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["solve", *book_args(book), "--out", str(out), "--no-store"]
    assert cli(*args, "--matrix").exit_code == 0
    assert (out / "matrix.csv").is_file()
    # leadassign wrote matrix.csv and nobody changed it: a run without --matrix removes it
    assert cli(*args, "--seed", "2").exit_code == 0
    assert not (out / "matrix.csv").exists()
    # the user's own matrix.csv and vanished.csv: refused, then kept with --force
    (out / "matrix.csv").write_text("user matrix\n")
    (out / "vanished.csv").write_text("user vanished\n")
    refused = cli(*args, "--seed", "3")
    assert refused.exit_code == 2 and "matrix.csv" in one_line_error(refused)
    assert cli(*args, "--seed", "3", "--force").exit_code == 0
    assert (out / "matrix.csv").read_text() == "user matrix\n"
    assert (out / "vanished.csv").read_text() == "user vanished\n"
    # a listed file the user edited is the user's now
    with (out / "assignments.csv").open("a") as handle:
        handle.write("edited\n")
    refused = cli(*args, "--seed", "4")
    assert refused.exit_code == 2 and "assignments.csv" in one_line_error(refused)
    assert (out / "assignments.csv").read_text().endswith("edited\n")


def test_a_folder_of_files_without_a_manifest_is_refused(
    book: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "old-run"
    out.mkdir()
    for name in ("assignments.csv", "reps.csv", "summary.json"):  # an older leadassign's run
        (out / name).write_text("x\n")
    before = snapshot(tmp_path)
    result = cli("solve", *book_args(book), "--out", str(out))
    assert result.exit_code == 2 and "assignments.csv" in one_line_error(result)
    assert snapshot(tmp_path) == before


# -- single-file outputs ------------------------------------------------------------------------


@pytest.mark.parametrize("command", FILE_COMMANDS)
@pytest.mark.parametrize("folder", ["a run folder", "the inputs' folder"])
def test_a_single_file_output_touches_that_file_only(
    command: str, folder: str, book: dict[str, Path], tmp_path: Path
) -> None:
    prepare(command, book, tmp_path)
    where = tmp_path / "first" if folder == "a run folder" else book["leads"].parent
    (where / "assignments.csv").write_text("precious\n")  # in the inputs' folder: a user file
    target = where / "x.csv"
    before = snapshot(tmp_path)
    made = cli(*file_args(command, target))
    assert made.exit_code == 0, made.output
    after = snapshot(tmp_path)
    new = str(target.relative_to(tmp_path))
    assert {k: v for k, v in after.items() if k != new} == before
    assert target.read_text().startswith("lead_id")
    # again: the file exists, and leadassign cannot know it wrote it
    refused = cli(*file_args(command, target))
    assert refused.exit_code == 2 and "--force" in one_line_error(refused)
    assert snapshot(tmp_path) == after
    target.write_text("user's edit\n")
    assert cli(*file_args(command, target), "--force").exit_code == 0
    assert target.read_text().startswith("lead_id")
    rest = snapshot(tmp_path)
    assert {k: v for k, v in rest.items() if k != new} == before
    assert not [p for p in where.iterdir() if "leadassign-tmp" in p.name]


# -- crash at any instant ---------------------------------------------------------------------


def _files(tag: str, names: tuple[str, ...]) -> dict[str, Callable[[Path], object]]:
    def writer(text: str) -> Callable[[Path], object]:
        return lambda path: path.write_text(text)

    return {name: writer(f"{tag} {name}\n" * 50) for name in names}


OLD = ("assignments.csv", "reps.csv", "summary.json", "matrix.csv", "sub/x.csv")
NEW = ("assignments.csv", "reps.csv", "summary.json", "vanished.csv", "sub/y.csv")


def _publish_killed_at(out: Path, line: int, force: bool) -> int:
    """In a forked child, publish the new run and SIGKILL it at its ``line``-th executed line
    of leadassign/publish.py; returns the lines executed when it ran to the end (no kill)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        os.close(read)
        count = 0

        def tracer(frame: Any, event: str, _arg: Any) -> Any:
            nonlocal count
            if frame.f_code.co_filename != publish.__file__:
                return None
            if event == "line":
                count += 1
                if count == line:
                    os.kill(os.getpid(), signal.SIGKILL)
            return tracer

        sys.settrace(tracer)
        try:
            write_folder(out, _files("new", NEW), command="solve", force=force)
        finally:
            sys.settrace(None)
        os.write(write, str(count).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        told = pipe.read()
    _, status = os.waitpid(pid, 0)
    return int(told) if told else -os.WEXITSTATUS(status) - 1


def _state(out: Path) -> str:
    manifest = json.loads((out / MANIFEST).read_text())
    files = {
        str(p.relative_to(out)): p.read_text()
        for p in out.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    files.pop("user.txt", None)
    files.pop(publish.MARKER, None)  # leadassign's, for a moment (the next run ignores it)
    tags = {text.split()[0] for text in files.values()}
    if manifest["state"] == "complete":
        assert set(files) == set(manifest["files"]), (files.keys(), manifest)
        for rel, digest in manifest["files"].items():
            assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
        assert len(tags) == 1, tags
        return tags.pop()
    # the fallback without the swap: each file is the old or the new run's, as listed
    listed = {**manifest.get("previous_files", {}), **manifest["files"]}
    for rel in files:
        digest = hashlib.sha256((out / rel).read_bytes()).hexdigest()
        assert digest in (manifest["files"].get(rel), manifest["previous_files"].get(rel))
    assert set(files) <= set(listed)
    return "incomplete"


@pytest.mark.parametrize("mode", ["exchange", "one by one", "force with a user file"])
def test_a_crash_at_any_instant_leaves_the_old_or_the_new_run(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if mode == "one by one":

        def no_exchange(first: Path, second: Path) -> None:
            raise OSError(errno.EINVAL, "no exchange here")

        monkeypatch.setattr(publish, "_exchange", no_exchange)
    out = tmp_path / "out"
    force = mode == "force with a user file"
    write_folder(out, _files("old", OLD), command="solve")
    if force:
        (out / "user.txt").write_text("user\n")
    probe = tmp_path / "probe"
    write_folder(probe, _files("old", OLD), command="solve")
    if force:
        (probe / "user.txt").write_text("user\n")
    total = _publish_killed_at(probe, 10**9, force)
    assert total > 20
    assert _state(probe) == "new"
    seen = set()
    for line in range(1, total + 1, max(1, total // 30)):
        shutil.rmtree(out)
        write_folder(out, _files("old", OLD), command="solve")
        if force:
            (out / "user.txt").write_text("user\n")
        assert _publish_killed_at(out, line, force) < 0  # killed
        state = _state(out)
        seen.add(state)
        if force:
            assert (out / "user.txt").read_text() == "user\n"
        if mode == "exchange" or force:
            assert state in ("old", "new")
        # the next run: recognises its own files, removes the dead run's staging folder
        write_folder(out, _files("next", NEW), command="solve", force=force)
        assert _state(out) == "next"
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []
    assert {"old", "new"} <= seen


def test_leftover_staging_folders_without_the_marker_are_never_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    users = tmp_path / ".out.leadassign-staging-mine"  # named like ours, but no marker
    users.mkdir()
    (users / "keep.txt").write_text("keep")
    alive = tmp_path / ".out.leadassign-staging-alive"  # a running process's
    alive.mkdir()
    (alive / publish.MARKER).write_text(
        json.dumps({"pid": os.getppid(), "host": os.uname().nodename})
    )
    write_folder(out, _files("new", NEW), command="solve")
    assert (users / "keep.txt").read_text() == "keep" and alive.is_dir()


# -- the store and the files agree --------------------------------------------------------------


def _run_cli(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.update(kwargs.pop("env", {}))
    process = subprocess.Popen(
        [sys.executable, "-m", "leadassign", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )
    try:
        out, err = process.communicate(timeout=120)  # a hang guard, not a timing
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _runs(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        return int(conn.execute("SELECT count(*) FROM leadassign_runs").fetchone()[0])


def test_a_reader_holding_the_sqlite_history_does_not_block_a_run(
    book: dict[str, Path], tmp_path: Path
) -> None:
    store = Path(os.environ["LEADASSIGN_STORE"])
    assert cli("solve", *book_args(book), "--out", str(tmp_path / "first")).exit_code == 0
    reader = sqlite3.connect(store, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM leadassign_runs").fetchone()[0] == 1
    try:
        out = tmp_path / "second"
        done = _run_cli(
            ["solve", *book_args(book), "--out", str(out), "--seed", "5", "--wait", "2"]
        )
        assert done.returncode == 0, done.stderr
        assert (out / "assignments.csv").is_file() and (out / MANIFEST).is_file()
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert _runs(store) == 2
    assert json.loads((out / MANIFEST).read_text())["run_id"] == 2


def test_a_writer_holding_the_sqlite_history_makes_a_run_exit_5_with_nothing_written(
    book: dict[str, Path], tmp_path: Path
) -> None:
    store = Path(os.environ["LEADASSIGN_STORE"])
    assert cli("solve", *book_args(book), "--out", str(tmp_path / "first")).exit_code == 0
    writer = sqlite3.connect(store, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        out = tmp_path / "second"
        done = _run_cli(
            ["solve", *book_args(book), "--out", str(out), "--seed", "5", "--wait", "1"]
        )
        assert done.returncode == 5, done.stderr
        assert "another leadassign run is writing" in done.stderr and "Traceback" not in done.stderr
        assert not out.exists()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert _runs(store) == 1
    assert not [p for p in tmp_path.iterdir() if "leadassign-staging" in p.name]


def test_a_failed_commit_puts_the_previous_run_back(
    book: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.engine.default import DefaultDialect

    store = Path(os.environ["LEADASSIGN_STORE"])
    out = tmp_path / "out"
    assert cli("solve", *book_args(book), "--out", str(out)).exit_code == 0
    before = snapshot(tmp_path)
    armed = {"on": False}
    real_publish = publish.publish
    real_commit: Any = DefaultDialect.do_commit

    def publish_then_arm(*args: Any, **kwargs: Any) -> Any:
        published = real_publish(*args, **kwargs)
        assert (out / "assignments.csv").is_file()  # the new files are in place ...
        armed["on"] = True
        return published

    def failing_commit(self: Any, dbapi_connection: Any) -> None:
        if armed["on"]:  # what the driver raises when the disk fails at COMMIT
            raise sqlite3.OperationalError("disk I/O error")
        real_commit(self, dbapi_connection)

    monkeypatch.setattr("leadassign.app.runs.publish", publish_then_arm)
    monkeypatch.setattr(DefaultDialect, "do_commit", failing_commit)
    result = cli("solve", *book_args(book), "--out", str(out), "--seed", "9")
    assert result.exit_code == 2, result.output
    assert "nothing was written or recorded" in one_line_error(result)
    assert snapshot(tmp_path) == before  # ... and taken back: the previous run, intact
    assert _runs(store) == 1


# -- OS errors -----------------------------------------------------------------------------------


def _chattr(flag: str, *paths: Path) -> bool:
    """The immutable attribute: what refuses writes even to root (tests run as root here)."""
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, check=False)
    return done.returncode == 0


def test_permission_denied_and_a_read_only_store_exit_2_naming_the_path(tmp_path: Path) -> None:
    book = write_book(tmp_path / "in")
    locked, run = tmp_path / "locked", tmp_path / "locked" / "run"
    assert _run_cli(["solve", *book_args(book), "--out", str(run), "--no-store"]).returncode == 0
    frozen = tmp_path / "frozen"
    assert _run_cli(["solve", *book_args(book), "--out", str(frozen), "--no-store"]).returncode == 0
    store = tmp_path / "store" / "history.db"
    assert (
        _run_cli(
            ["solve", *book_args(book), "--out", str(tmp_path / "s"), "--store", str(store)]
        ).returncode
        == 0
    )
    if not _chattr("+i", locked, frozen, store):
        pytest.skip("cannot make a file immutable here (chattr +i)")
    try:
        before = snapshot(tmp_path)
        cases = [
            (["--out", str(locked / "new"), "--no-store"], str(locked)),  # cannot create it
            (["--out", str(run), "--no-store", "--seed", "4"], str(locked)),  # nor stage beside
            (["--out", str(frozen), "--no-store", "--seed", "4"], str(frozen)),  # nor change it
            (["--out", str(tmp_path / "new"), "--store", str(store), "--seed", "4"], "store"),
        ]
        for extra, named in cases:
            done = _run_cli(["solve", *book_args(book), *extra])
            assert done.returncode == 2, (extra, done.stderr)
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and named in lines[0], lines
            assert "Traceback" not in done.stderr, done.stderr
            after = snapshot(tmp_path)  # (SQLite's own -wal/-shm files of a read-only store)
            assert {k: v for k, v in after.items() if not k.endswith(("-wal", "-shm"))} == before
            assert not (tmp_path / "new").exists()
            assert not [p for p in tmp_path.rglob("*") if "leadassign-staging" in p.name]
    finally:
        _chattr("-i", locked, frozen, store)


def _disk_full() -> None:  # pragma: no cover (in the child)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000))


def test_a_full_disk_exits_2_and_keeps_the_previous_run(tmp_path: Path) -> None:
    book = write_book(tmp_path / "in", leads=300, reps=8)
    out = tmp_path / "out"
    assert _run_cli(["solve", *book_args(book), "--out", str(out), "--no-store"]).returncode == 0
    before = snapshot(tmp_path)
    done = _run_cli(
        ["solve", *book_args(book), "--out", str(out), "--no-store", "--seed", "8"],
        preexec_fn=_disk_full,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and "file too large" in lines[0], lines
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", FOLDER_COMMANDS)
def test_a_path_through_a_file_and_a_symlink_loop_exit_2(
    command: str, book: dict[str, Path], tmp_path: Path
) -> None:
    prepare(command, book, tmp_path)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    before = snapshot(tmp_path)
    for out, words in ((book["leads"] / "sub", "is a file"), (loop, "symlink loop")):
        result = cli(*folder_args(command, book, out))
        assert result.exit_code == 2, result.output
        line = one_line_error(result)
        assert str(out) in line and words in line, line
        assert snapshot(tmp_path) == before


def test_a_symlink_loop_as_input_exits_2(book: dict[str, Path], tmp_path: Path) -> None:
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    result = cli(
        "solve", "--leads", str(loop), "--reps", str(book["reps"]), "--out", str(tmp_path / "o")
    )
    assert result.exit_code == 2
    line = one_line_error(result)
    assert str(loop) in line and "symbolic links" in line
    assert not (tmp_path / "o").exists()


_BLOCKING_WRITER = """
import sys, time
from pathlib import Path
from leadassign.publish import write_file

def write(path: Path) -> None:
    path.write_text("lead_id,rep_id\\nL1,")  # half a file
    print(path.name, flush=True)  # the test kills the process once it has this line
    time.sleep(600)

write_file(sys.argv[1], write, force=True)
"""


def test_a_temp_file_left_by_a_killed_write_is_removed_by_the_next_write(tmp_path: Path) -> None:
    """``export``/``diff --out FILE`` write ``.FILE.leadassign-tmp-<pid>@<host>.<random>``
    and rename it: SIGKILL mid-write leaves that temp file. The next write of the same file
    removes it (its process is gone); a temp of a live process, a temp of another file and
    user files that only look alike are never touched."""
    out = tmp_path / "owners.csv"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen(
        [sys.executable, "-c", _BLOCKING_WRITER, str(out)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert child.stdout is not None
        left = tmp_path / child.stdout.readline().strip()  # blocks until mid-write
        child.kill()
        child.wait(timeout=60)
    finally:
        child.kill()
    assert left.is_file() and left.read_text() == "lead_id,rep_id\nL1,"
    assert left.name.startswith(f".owners.csv.leadassign-tmp-{child.pid}@")
    host = left.name.split("@", 1)[1].rsplit(".", 1)[0]
    # a live writer (this test's process), another target, and user files that only look alike
    alive_tmp = tmp_path / f".owners.csv.leadassign-tmp-{os.getpid()}@{host}.abcd1234"
    other = tmp_path / f".moves.csv.leadassign-tmp-{child.pid}@{host}.abcd1234"
    lookalikes = [
        tmp_path / ".owners.csv.leadassign-tmp-notes.txt",
        tmp_path / f".owners.csv.leadassign-tmp-{child.pid}@{host}.abcd1234.bak",
        tmp_path / f".owners.csv.leadassign-tmp-{child.pid}.abcd1234",
        tmp_path / f"owners.csv.leadassign-tmp-{child.pid}@{host}.abcd1234",
        tmp_path / f".owners.csv.leadassign-tmp-{child.pid}@elsewhere.abcd1234",
    ]
    for path in [alive_tmp, other, *lookalikes]:
        path.write_text("mine")
    linked = tmp_path / f".owners.csv.leadassign-tmp-{child.pid}@{host}.link5678"
    linked.symlink_to(tmp_path / "target-of-link")
    (tmp_path / "target-of-link").write_text("kept")
    publish.write_file(out, lambda p: p.write_text("lead_id,rep_id\nL1,R1\n"))
    assert out.read_text() == "lead_id,rep_id\nL1,R1\n"
    assert not left.exists()
    for path in [alive_tmp, other, *lookalikes]:
        assert path.read_text() == "mine", path
    assert linked.is_symlink() and (tmp_path / "target-of-link").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir() if "leadassign-tmp" in p.name) == sorted(
        p.name for p in [alive_tmp, other, *lookalikes, linked]
    )
