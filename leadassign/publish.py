"""Output folders and files: leadassign only ever replaces or deletes what it wrote itself.

**Folders** (``--out DIR`` of solve, rebalance, baseline, demo, compare, frontier). Every folder
leadassign writes holds ``.leadassign-manifest.json``, written last: the run's identity
(command, run id, time, version) and the sha256 of each file it wrote. A later run may replace
or delete exactly the listed files whose content still matches; any other entry (a user's
file, a listed file someone changed, a folder of files without a manifest) makes the run stop
before it solves or writes anything (exit 2), unless ``--force``: then such entries are kept
(and those with the name of a file the run writes are replaced). An ``--out`` that is, or
contains, one of the run's inputs is refused, even with ``--force``.

A run is staged whole in a sibling folder ``.<name>.leadassign-staging-<random>`` (it holds a
marker file), then swapped with ``DIR`` in one step (Linux ``renameat2(RENAME_EXCHANGE)``), so a
crash at any instant leaves ``DIR`` as the previous complete run or the new one; the old
contents, now in the staging folder, are removed after. Kept (``--force``) entries are
hard-linked into the staging folder, so they survive the swap untouched. Where the swap is not
available (another OS or file system) or a kept entry cannot be linked, the files are moved into
``DIR`` one by one: first a manifest saying ``"state": "incomplete"`` that lists both the old and
the new files' digests, then the files, then the final manifest; a crash then leaves a folder
the manifest marks incomplete, whose files the next run still recognises as its own. The next
run removes leftover staging folders that hold the marker (of a process that is gone), and
only those.

**Single files** (``export --out FILE``, ``diff --out FILE``): only that file is touched: written
to ``.<name>.leadassign-tmp-<pid>@<host>.<random>`` beside it, flushed to disk, then renamed
over it; the next write of ``FILE`` removes such temporary files of ``FILE`` whose process (on
this host) is gone (a run killed mid-write), and nothing else. An existing ``FILE`` is replaced
only with ``--force`` (leadassign cannot tell whether it wrote it), and never when it is one of
the command's inputs.

OS errors (permission denied, disk full, a path through a file, symlink loops) become an
InputError (exit 2) naming the path; nothing is left half-written.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadassign import __version__
from leadassign.errors import InputError

MANIFEST = ".leadassign-manifest.json"
#: In a staging folder (and, for a moment, in the folder being replaced): leadassign's own.
MARKER = ".leadassign-staging"
STAGING = ".leadassign-staging-"
TMP = ".leadassign-tmp-"

Writer = Callable[[Path], object]


class OutputError(InputError):
    """An output folder or file leadassign may not, or cannot, write (exit 2)."""


def _os_error(exc: OSError, path: Path | str | None = None) -> OutputError:
    where = path if path is not None else exc.filename
    words = {
        errno.ELOOP: "too many levels of symbolic links (a symlink loop)",
        errno.ENOTDIR: "a part of this path is a file, not a folder",
        errno.EFBIG: "file too large (the disk or the file size limit is full)",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
    }
    text = words.get(exc.errno or 0) or exc.strerror or str(exc)
    return OutputError(f"cannot write: {text}; nothing was written", source=str(where))


def _given(path: Path | str | None) -> Path | None:
    return None if path is None else Path(path)


def _probe(path: Path) -> None:
    """Raise OutputError for a path that cannot name anything: a symlink loop, a component
    that is a file, a folder that cannot be searched. A missing path is fine."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _os_error(exc, path) from exc


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def refuse_inputs(out: Path, real_out: str, inputs: Iterable[Path | str | None]) -> None:
    """An ``out`` that is, or contains, one of ``inputs`` is refused (even with --force)."""
    for given in inputs:
        if given is None or str(given) == "":
            continue
        real_in = os.path.realpath(given)
        if _inside(real_in, real_out):
            same = real_in == real_out
            raise OutputError(
                f"--out {out} {'is' if same else 'contains'} the input {given}; leadassign "
                "never writes over its inputs (not even with --force): choose another folder",
                source=str(given),
            )


def sha256_of(path: Path) -> str | None:
    """The file's sha256, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _manifest_entries(folder: Path) -> dict[str, set[str]] | None:
    """The files a folder's manifest lists (relative path -> acceptable digests: the new and,
    in an incomplete manifest, the previous), or None without a readable manifest."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        listed: dict[str, set[str]] = {}
        for key in ("files", "previous_files"):
            for rel, digest in (data.get(key) or {}).items():
                parts = Path(rel).parts
                if Path(rel).is_absolute() or ".." in parts or not parts:
                    return None
                listed.setdefault(Path(rel).as_posix(), set()).add(str(digest))
        return listed
    except (OSError, ValueError, AttributeError, TypeError):
        return None


@dataclass
class Scan:
    """A folder's contents: what leadassign wrote (unchanged) and everything else."""

    owned: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    foreign: list[str] = field(default_factory=list)  # relative paths, sorted
    ours: list[str] = field(default_factory=list)  # manifests and markers


def scan(root: Path) -> Scan:
    """Walk ``root`` (not following links): a file is leadassign's when the manifest of its
    folder, or of a folder above, lists it with its current sha256. Links, special files and
    empty folders are never leadassign's."""
    found = Scan()
    if not os.path.lexists(root):
        return found
    listed: dict[str, set[str]] = {}

    def fail(exc: OSError) -> None:
        raise _os_error(exc)

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        if MANIFEST in filenames:
            for rel, digests in (_manifest_entries(here) or {}).items():
                listed.setdefault(prefix + rel, set()).update(digests)
        for name in list(dirnames):
            if (here / name).is_symlink():
                dirnames.remove(name)
                filenames.append(name)
        if not dirnames and not filenames and prefix and not _holds_listed(prefix, listed):
            found.foreign.append(prefix.rstrip("/") + "/")
        for name in filenames:
            rel = prefix + name
            path = here / name
            if (
                name in (MANIFEST, MARKER)
                and path.is_file()
                and not path.is_symlink()
                and (name == MARKER or _manifest_entries(here) is not None)
            ):
                found.ours.append(rel)
                continue
            if path.is_symlink() or not path.is_file():
                found.foreign.append(rel)
                continue
            digest = sha256_of(path) if rel in listed else None
            if digest is not None and digest in listed[rel]:
                found.owned[rel] = digest
            else:
                found.foreign.append(rel)
    found.foreign.sort()
    return found


def _holds_listed(prefix: str, listed: Mapping[str, set[str]]) -> bool:
    """An (empty) folder a manifest lists files in: leadassign's (a run cut short left it)."""
    return any(rel.startswith(prefix) for rel in listed)


@dataclass(frozen=True)
class Target:
    """An output folder, checked: ``path`` is its real path (links resolved)."""

    given: Path
    path: Path
    force: bool = False
    inputs: tuple[Path, ...] = ()


def _refusal(out: Path, rel: str) -> OutputError:
    return OutputError(
        f"--out {out} holds {rel}, which leadassign did not write (or which changed since): "
        "leadassign only replaces files it wrote itself; choose an empty folder or pass --force "
        "(which keeps such files)",
        source=str(out / rel),
    )


def target(
    out: Path | str, *, inputs: Iterable[Path | str | None] = (), force: bool = False
) -> Target:
    """Check ``out`` before anything is solved or written (see the module's rules)."""
    given = Path(out)
    _probe(given)
    if os.path.lexists(given) and not given.is_dir():
        raise OutputError("the output path exists and is not a folder", source=str(given))
    real = os.path.realpath(given)
    kept = tuple(Path(p) for p in inputs if p is not None and str(p) != "")
    refuse_inputs(given, real, kept)
    found = scan(Path(real))
    if found.foreign and not force:
        raise _refusal(given, found.foreign[0])
    return Target(given, Path(real), force, kept)


# -- staging and the swap ---------------------------------------------------------------------


def _exchange(first: Path, second: Path) -> None:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); OSError where the system
    cannot (ENOSYS, EINVAL)."""
    if not sys.platform.startswith("linux"):
        raise OSError(errno.ENOSYS, "renameat2 is Linux only")
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "no renameat2 in the C library")
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(second))


def _marker_text() -> str:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname()}) + "\n"


def _write_marker(folder: Path) -> None:
    (folder / MARKER).write_text(_marker_text(), encoding="utf-8")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(parent: Path, name: str) -> list[Path]:
    """Remove the staging folders of ``name`` in ``parent`` that a run left behind (they hold
    the marker; their process, on this host, is gone); returns them."""
    removed: list[Path] = []
    try:
        entries = list(parent.glob(f".{name}{STAGING}*"))
    except OSError:
        return removed
    for entry in entries:
        marker = entry / MARKER
        if entry.is_symlink() or not entry.is_dir():
            continue
        if not marker.is_file():
            with contextlib.suppress(OSError):
                entry.rmdir()  # a run killed before its marker: only an empty folder goes
                removed.append(entry)
            continue
        try:
            owner = json.loads(marker.read_text(encoding="utf-8"))
            pid = int(owner.get("pid"))
            gone = owner.get("host") == socket.gethostname() and not _alive(pid)
        except OSError:
            continue
        except (ValueError, TypeError, AttributeError):
            gone, pid = True, -1  # a marker cut short: its run was killed while writing it
        if not (gone or pid == os.getpid()):
            continue  # another run, still writing (or on another host: left alone)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_like(path: Path, existing: Path, default: int) -> None:
    """Give a staged file or folder the mode of the one it replaces, else the default less
    the umask (mkdtemp and NamedTemporaryFile make them private)."""
    try:
        mode = os.stat(existing).st_mode & 0o7777
    except OSError:
        mode = default & ~_umask()
    os.chmod(path, mode)


def _fsync_path(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _link_tree(source: Path, dest: Path, rels: list[str]) -> bool:
    """Hard-link the kept entries ``rels`` of ``source`` into ``dest`` (links copied as links,
    empty folders made); False when one cannot be (then the caller moves files one by one)."""
    try:
        for rel in rels:
            src, dst = source / rel.rstrip("/"), dest / rel.rstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            if rel.endswith("/"):
                dst.mkdir(exist_ok=True)
            elif src.is_symlink():
                os.symlink(os.readlink(src), dst)
            elif src.is_file():
                os.link(src, dst, follow_symlinks=False)
            else:
                return False  # a fifo, a socket, a device: never moved or copied
    except OSError:
        return False
    return True


def manifest_text(
    files: Mapping[str, str],
    *,
    command: str,
    run_id: int | None,
    state: str = "complete",
    previous: Mapping[str, str] | None = None,
) -> str:
    data: dict[str, Any] = {
        "leadassign_manifest": 1,
        "state": state,
        "command": command,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": __version__,
        "files": dict(sorted(files.items())),
    }
    if previous is not None:
        data["previous_files"] = dict(sorted(previous.items()))
    return json.dumps(data, indent=2) + "\n"


@dataclass
class Published:
    """A folder in place; ``done()`` removes what it replaced, ``undo()`` puts it back (when
    the run cannot be recorded after all)."""

    out: Path
    files: list[Path]
    _done: Callable[[], None]
    _undo: Callable[[], None]
    finished: bool = False

    def done(self) -> None:
        if not self.finished:
            self.finished = True
            self._done()

    def undo(self) -> None:
        if not self.finished:
            self.finished = True
            self._undo()


def publish(
    checked: Target, writers: Mapping[str, Writer], *, command: str, run_id: int | None = None
) -> Published:
    """Write ``writers`` (relative path -> function writing that file) as the new contents of
    the checked folder, with its manifest; raises OutputError (nothing changed) on refusal or
    an OS error."""
    out = checked.path
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(exc, out.parent) from exc
    remove_leftovers(out.parent, out.name)
    found = scan(out)  # again: the folder may have changed while the run solved
    if found.foreign and not checked.force:
        raise _refusal(checked.given, found.foreign[0])
    names = {Path(rel).as_posix() for rel in writers}
    kept = [rel for rel in found.foreign if rel not in names]
    for rel in kept:
        clash = rel.rstrip("/")
        if any(n.startswith(clash + "/") or clash.startswith(n + "/") for n in names):
            raise OutputError(
                f"--out {checked.given} holds {rel}, in the way of a file this run writes "
                "(even --force does not remove it): move it or choose another folder",
                source=str(checked.given / rel),
            )
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}{STAGING}", dir=out.parent))
    except OSError as exc:
        raise _os_error(exc, out.parent) from exc
    try:
        _mode_like(staging, out, 0o777)
        _write_marker(staging)
        digests: dict[str, str] = {}
        for rel, write in writers.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                write(path)
            except OSError as exc:
                raise _os_error(exc, checked.given / rel) from exc
            _fsync_path(path)
            digests[Path(rel).as_posix()] = sha256_of(path) or ""
        linked = _link_tree(out, staging, kept) if kept else True
        manifest = manifest_text(digests, command=command, run_id=run_id)
        (staging / MANIFEST).write_text(manifest, encoding="utf-8")
        _fsync_path(staging / MANIFEST)
        _fsync_path(staging)
        paths = [checked.given / rel for rel in writers]
        if not os.path.lexists(out):
            os.rename(staging, out)
            (out / MARKER).unlink()
            _fsync_path(out.parent)
            return Published(checked.given, paths, lambda: None, lambda: _undo_new(out))
        if linked and not _holds_cwd(out):
            swapped = _swap(staging, out)
            if swapped is not None:
                return swapped_published(checked.given, paths, out, staging)
        return _one_by_one(checked, staging, writers, digests, found, command, run_id, paths)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _os_error(exc, checked.given) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _holds_cwd(folder: Path) -> bool:
    """Swapping the working folder (or a folder above it) away would strand the shell in a
    deleted folder: such a folder gets its files one by one."""
    try:
        return _inside(os.getcwd(), str(folder))
    except OSError:
        return False


def _swap(staging: Path, out: Path) -> bool | None:
    """Exchange ``staging`` and ``out``; None when the system cannot."""
    _write_marker(out)  # the old contents are a staging folder of ours from now on
    try:
        _exchange(staging, out)
    except OSError as exc:
        (out / MARKER).unlink(missing_ok=True)
        if exc.errno in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.EXDEV, errno.EBUSY):
            return None
        raise
    (out / MARKER).unlink(missing_ok=True)
    _fsync_path(out.parent)
    return True


def swapped_published(given: Path, paths: list[Path], out: Path, old: Path) -> Published:
    def done() -> None:
        shutil.rmtree(old, ignore_errors=True)

    def undo() -> None:
        _write_marker(out)
        _exchange(old, out)
        (out / MARKER).unlink(missing_ok=True)
        shutil.rmtree(old, ignore_errors=True)

    return Published(given, paths, done, undo)


def _undo_new(out: Path) -> None:
    """Take back a folder that did not exist before the run."""
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}{STAGING}", dir=out.parent))
    _write_marker(aside)
    os.replace(out, aside / "new")
    shutil.rmtree(aside, ignore_errors=True)


def _one_by_one(
    checked: Target,
    staging: Path,
    writers: Mapping[str, Writer],
    digests: dict[str, str],
    found: Scan,
    command: str,
    run_id: int | None,
    paths: list[Path],
) -> Published:
    """The fallback without the swap: an incomplete manifest (old and new digests), the old
    files set aside in the staging folder, the new ones moved in, the final manifest."""
    out = checked.path
    old_manifest = out / MANIFEST
    before = old_manifest.read_bytes() if old_manifest.is_file() else None
    pending = manifest_text(
        digests, command=command, run_id=run_id, state="incomplete", previous=found.owned
    )
    _replace_text(out / MANIFEST, pending, staging)
    aside = staging / ".old"
    moved: list[str] = []
    new: list[str] = []
    try:
        for rel in [*found.owned, *(n for n in digests if n in found.foreign)]:
            if rel in moved:
                continue
            (aside / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(out / rel, aside / rel)
            moved.append(rel)
        for rel in digests:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, out / rel)
            new.append(rel)
        (staging / MANIFEST).replace(out / MANIFEST)
        for rel in moved:  # folders the new run has no file in
            for parent in Path(rel).parents:
                if str(parent) != ".":
                    with contextlib.suppress(OSError):
                        (out / parent).rmdir()
        _fsync_path(out)
    except BaseException:
        _put_back(out, aside, moved, new, before, staging)
        raise

    def done() -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def undo() -> None:
        _put_back(out, aside, moved, new, before, staging)
        shutil.rmtree(staging, ignore_errors=True)

    return Published(checked.given, paths, done, undo)


def _put_back(
    out: Path, aside: Path, moved: list[str], new: list[str], before: bytes | None, scratch: Path
) -> None:
    for rel in new:
        (out / rel).unlink(missing_ok=True)
    for rel in moved:
        os.replace(aside / rel, out / rel)
    if before is not None:
        _replace_text(out / MANIFEST, before.decode("utf-8"), scratch)
    else:
        (out / MANIFEST).unlink(missing_ok=True)


def _replace_text(path: Path, text: str, scratch: Path) -> None:
    """``text`` as ``path``, atomically: written in ``scratch`` (the staging folder, on the
    same file system), then renamed over it."""
    tmp = scratch / f".{path.name}{TMP}{os.getpid()}"
    tmp.write_text(text, encoding="utf-8")
    _fsync_path(tmp)
    os.replace(tmp, path)


def write_folder(
    out: Path | str,
    writers: Mapping[str, Writer],
    *,
    command: str,
    force: bool = False,
    inputs: Iterable[Path | str | None] = (),
    run_id: int | None = None,
) -> list[Path]:
    """Check ``out``, publish ``writers`` into it and finish: the files written."""
    published = publish(
        target(out, inputs=inputs, force=force), writers, command=command, run_id=run_id
    )
    published.done()
    return published.files


# -- single files -----------------------------------------------------------------------------


def _temp_prefix(name: str) -> str:
    """``.<name>.leadassign-tmp-<pid>@<host>.``: mkstemp adds 8 random characters."""
    return f".{name}{TMP}{os.getpid()}@{socket.gethostname()}."


def remove_temps(parent: Path, name: str) -> list[Path]:
    """Remove the temporary files of ``parent/name`` that a killed ``write_file`` left behind:
    regular files named exactly ``.<name>.leadassign-tmp-<pid>@<host>.<8 random>``, of this
    host, whose process is gone; anything else is left alone. Returns them."""
    pattern = re.compile(
        re.escape(f".{name}{TMP}") + r"(?P<pid>[0-9]{1,10})@(?P<host>[^/]+)\.[a-z0-9_]{8}"
    )
    removed: list[Path] = []
    try:
        entries = list(parent.glob(glob.escape(f".{name}{TMP}") + "*"))
    except OSError:
        return removed
    for entry in entries:
        found = pattern.fullmatch(entry.name)
        if found is None or found["host"] != socket.gethostname():
            continue
        pid = int(found["pid"])
        if pid == os.getpid() or _alive(pid) or entry.is_symlink() or not entry.is_file():
            continue
        with contextlib.suppress(OSError):
            entry.unlink()
            removed.append(entry)
    return removed


def write_file(
    path: Path | str,
    write: Writer,
    *,
    force: bool = False,
    inputs: Iterable[Path | str | None] = (),
) -> Path:
    """Write one file, touching nothing else (see the module's rules)."""
    path = Path(path)
    _probe(path)
    _probe(path.parent if str(path.parent) else Path("."))
    if os.path.isdir(path):
        raise OutputError("the output path is a folder, not a file", source=str(path))
    for given in inputs:
        if given is None or str(given) == "":
            continue
        if os.path.realpath(given) == os.path.realpath(path) or (
            os.path.exists(path) and os.path.exists(given) and os.path.samefile(given, path)
        ):
            raise OutputError(
                f"--out {path} is the input {given}; leadassign never writes over its inputs "
                "(not even with --force): choose another file",
                source=str(path),
            )
    if os.path.lexists(path) and not force:
        raise OutputError(
            "the file exists: leadassign writes a single file only where there is none; "
            "choose another name or pass --force to replace it",
            source=str(path),
        )
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)  # as the folder outputs do
        remove_temps(parent, path.name)
        fd, name = tempfile.mkstemp(dir=parent, prefix=_temp_prefix(path.name))
    except OSError as exc:
        raise _os_error(exc, path) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        _mode_like(tmp, path, 0o666)
        write(tmp)
        _fsync_path(tmp)
        os.replace(tmp, path)
        _fsync_path(parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _os_error(exc, path) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


__all__ = [
    "MANIFEST",
    "OutputError",
    "Published",
    "Scan",
    "Target",
    "publish",
    "remove_leftovers",
    "remove_temps",
    "scan",
    "target",
    "write_file",
    "write_folder",
]
