"""Where forumsim writes: an output folder or file written whole, one writer per folder.

A command's output folder (a run's results, an export) is written under a temporary name
and moved into place at the end, so that it is never seen half-written. It goes only
into a folder that is new or empty, or, when asked, replaces an earlier output of the same
command, marked by a marker file that lists every file and folder it wrote with each
file's SHA-256. forumsim never deletes what it did not write: a file that is not in the
marker or was changed since, a sub-folder or a link the user added, whether it was there
when the command started or appeared while it ran. What appears while a command runs is
kept in the new output; only if it sits where a new file goes is it moved aside, into a
folder named after the output (`<out>.kept-<time>`), and the command says so.

A single output file (targets.json, the validation table) follows the same rules: it is
written through a temporary file, only where there is no file yet or, when asked, over
an earlier output of the same command; never over anything else, and never into a link,
folder, pipe or device, which are refused before any work.

One writer per folder: a lock file created exclusively, holding the writer's process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import socket
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from forumsim.experiment import interrupts


class StoreError(ValueError):
    """A folder cannot be used as asked (it holds something else, or cannot be written);
    the message says which folder and what to do."""


def _listing(paths: list[str], limit: int = 4) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def entries(folder: Path) -> dict[str, str]:
    """Everything under `folder` by path relative to it: 'file', 'folder', 'link' or
    'other' (a pipe, socket or device). Links are listed, never followed."""
    found = {}
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            path = Path(root) / name
            mode = path.lstat().st_mode
            kind = ("link" if stat.S_ISLNK(mode) else "folder" if stat.S_ISDIR(mode)
                    else "file" if stat.S_ISREG(mode) else "other")
            found[str(path.relative_to(folder))] = kind
    return found


def sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def write_marker(folder: Path, name: str, fields: dict) -> None:
    """Write the marker `name` into `folder`: `fields`, and every file and folder in it,
    each file with its SHA-256 (what `foreign` compares against)."""
    found = entries(folder)
    files = sorted(p for p, kind in found.items() if kind == "file")
    marker = {**fields, "files": files,
              "folders": sorted(p for p, kind in found.items() if kind == "folder"),
              "sha256": {p: sha256(folder / p) for p in files}}
    (folder / name).write_text(json.dumps(marker, indent=2) + "\n")


def folder_marker(folder: Path, name: str) -> dict | None:
    """The marker file `name` that forumsim left in `folder` (a mapping listing the files
    it wrote), or None if there is none."""
    path = folder / name
    if not path.is_file() or path.is_symlink():
        return None
    try:
        marker = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and isinstance(marker.get("files"), list) else None


def foreign(folder: Path, marker_name: str, marker: dict) -> list[str]:
    """What `folder` holds that forumsim did not write: entries missing from its marker,
    files changed since (by SHA-256, where the marker has it), links, sub-folders it did
    not make; each given by its path, a folder's with a trailing slash."""
    files = {p for p in marker.get("files", []) if isinstance(p, str)}
    hashes = marker.get("sha256") if isinstance(marker.get("sha256"), dict) else {}
    folders = {p for p in marker.get("folders", []) if isinstance(p, str)}
    folders |= {str(parent) for p in files for parent in Path(p).parents if str(parent) != "."}
    found = []
    for path, kind in entries(folder).items():
        if path == marker_name:
            continue
        if kind == "file" and path in files:
            if path not in hashes or sha256(folder / path) == hashes[path]:
                continue
        elif kind == "folder" and path in folders:
            continue
        found.append(path + "/" if kind == "folder" else path)
    return sorted(found)


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and not path.is_symlink() and path != path.parent:
        path = path.parent
    return path


def check_writable(out: Path, place: Path, room: int, option: str = "--out") -> None:
    """Refuse, before any work, an `out` (given as `option`) whose folder `place` (where
    its files are made) cannot be created or written, or has less than `room` bytes free."""
    home = _existing_ancestor(place)
    if not home.is_dir():
        raise StoreError(f"{option} {out}: cannot be created, because {home} is a file, not "
                         f"a folder; choose another {option}.")
    probe = home / f".forumsim-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as error:
        raise StoreError(f"{option} {out}: cannot write in {home}: {error.strerror}; choose "
                         f"another {option}.") from None
    free = shutil.disk_usage(home).free
    if free < room:
        raise StoreError(f"{option} {out}: only {free / 2**20:,.1f} MB free in {home}, and "
                         f"the results need about {room / 2**20:,.0f} MB; free some space or "
                         f"choose another {option}.")


def check_output_folder(out: Path, overwrite: bool, room: int, marker_name: str, command: str,
                        details: Callable[[dict], str]) -> str:
    """How the output of `forumsim <command>` may go to `out`: 'new', 'into' (an empty
    folder) or 'replace' (an earlier output, with `overwrite`). An earlier output is
    recognised by its marker file `marker_name`, and `details(marker)` describes it in the
    message that asks for `overwrite`. Raises StoreError for anything else: a file, a
    link, a folder holding anything forumsim did not write, an earlier output without
    `overwrite`, or a place that cannot be written or is full."""
    if out.is_symlink():
        raise StoreError(f"--out {out}: is a symbolic link; give the folder itself (forumsim "
                         "does not write through links).")
    mode = "new"
    if out.exists():
        if not out.is_dir():
            raise StoreError(f"--out {out}: exists and is a file, not a folder; forumsim "
                             "writes results into a folder and never replaces a file. Choose "
                             "another --out.")
        marker = folder_marker(out, marker_name)
        if not any(out.iterdir()):
            mode = "into"
        elif marker is None:
            held = sorted(p + "/" * (kind == "folder") for p, kind in entries(out).items())
            raise StoreError(f"--out {out}: is a folder that was not written by forumsim "
                             f"{command} (it holds {_listing(held)}); forumsim never deletes "
                             "what it did not write. Choose another --out, or a new or empty "
                             "folder.")
        elif not overwrite:
            raise StoreError(f"--out {out}: holds an earlier {command} ({details(marker)}); "
                             "add --overwrite to replace it, or choose another --out.")
        else:
            others = foreign(out, marker_name, marker)
            if others:
                raise StoreError(f"--out {out}: holds an earlier {command}, but also files "
                                 "or folders forumsim did not write, or changed since it "
                                 f"wrote them ({_listing(others)}); move them out first, or "
                                 "choose another --out.")
            mode = "replace"
    check_writable(out, out if mode == "into" else out.parent, room)
    return mode


@dataclass(frozen=True)
class Output:
    """A folder written whole: where it is, the files written, and where what the user
    had put in their way meanwhile was moved (None if nothing was)."""

    folder: Path
    files: list[Path]
    kept: Path | None


def write_output(out: Path, mode: str, marker_name: str, fields: dict,
                 fill: Callable[[Path], object]) -> Output:
    """Write an output folder whole: `fill` writes its files into a staging folder, the
    marker `marker_name` (with `fields`) lists them, and the folder is moved to `out` as
    `mode` says (from `check_output_folder`). If anything fails or the command is
    interrupted before the move, nothing is left behind and `out` is as it was."""
    staging = staging_folder(out, mode)
    try:
        staging.mkdir()  # here, so that it goes however the command ends; with the umask
        fill(staging)
        write_marker(staging, marker_name, fields)
        files = sorted(out / p for p, kind in entries(staging).items()
                       if kind == "file" and p != marker_name)
        try:
            with interrupts.held():
                kept = move_into_place(staging, out, mode, marker_name)
        except interrupts.Interrupted as stop:  # it came while moving: the output is whole
            stop.written = out
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Output(out, files, kept)


def staging_folder(out: Path, mode: str) -> Path:
    """The name of a new hidden folder to write the output for `out` in, on the same file
    system (so that it can be renamed into place): inside `out` if it is an empty folder,
    else beside it (whose missing parents are made here)."""
    if mode == "new":
        out.parent.mkdir(parents=True, exist_ok=True)
    home = out if mode == "into" else out.parent
    return home / f".{out.name}.forumsim-{secrets.token_hex(4)}"


def move_into_place(staging: Path, target: Path, mode: str, marker_name: str) -> Path | None:
    """Move the staged output to `target`: renamed into place if new; moved into an empty
    folder entry by entry (the folder itself stays the user's); swapped with an earlier
    output, of which only what forumsim wrote is then deleted. What the user put there
    meanwhile stays; returns the folder it was moved aside to if some of it sat where the
    new output goes (else None)."""
    kept = _kept_folder(target)
    if mode == "new":
        staging.rename(target)
    elif mode == "into":
        _merge(staging, target, kept, source_wins=True)
        staging.rmdir()
    else:
        old = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
        target.rename(old)
        try:
            staging.rename(target)
        except OSError:
            old.rename(target)
            raise
        try:
            _delete_written(old, marker_name)
            _merge(old, target, kept, source_wins=False)
        finally:
            with contextlib.suppress(OSError):
                old.rmdir()
            if old.exists():  # a move failed half-way: what is left stays in sight
                old.rename(kept if not kept.exists() else _kept_folder(target))
    return kept if kept.exists() else None


def _kept_folder(target: Path) -> Path:
    """A name beside `target`, not taken yet, for what the user had where new output goes."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    kept = target.with_name(f"{target.name}.kept-{stamp}")
    while kept.exists() or kept.is_symlink():
        kept = target.with_name(f"{target.name}.kept-{stamp}-{secrets.token_hex(2)}")
    return kept


def _delete_written(folder: Path, marker_name: str) -> None:
    """Delete what forumsim wrote in `folder`: the files its marker lists, unchanged, and
    the folders it made once they are empty. Everything else stays."""
    marker = folder_marker(folder, marker_name) or {"files": []}
    others = set(foreign(folder, marker_name, marker))
    found = entries(folder)
    for path, kind in found.items():
        if kind == "file" and path in marker["files"] and path not in others:
            (folder / path).unlink()
    (folder / marker_name).unlink(missing_ok=True)
    made = [p for p, kind in found.items() if kind == "folder" and p + "/" not in others]
    for path in sorted(made, key=lambda p: -p.count(os.sep)):  # the deepest first
        with contextlib.suppress(OSError):
            (folder / path).rmdir()  # only if empty


def _merge(source: Path, target: Path, kept: Path, source_wins: bool) -> None:
    """Move everything in `source` into `target` without ever writing over an entry: a
    folder that both hold is merged; where an entry of `source` meets one of `target`,
    the loser (`target`'s if `source_wins`) is moved under `kept` instead."""
    for entry in sorted(source.iterdir()):
        into = target / entry.name
        if not into.exists() and not into.is_symlink():
            _move(entry, into)
        elif _real_folder(into) and _real_folder(entry):
            _merge(entry, into, kept / entry.name, source_wins)
            entry.rmdir()
        else:
            kept.mkdir(parents=True, exist_ok=True)
            if source_wins:
                _move(into, kept / entry.name)
                _move(entry, into)
            else:
                _move(entry, kept / entry.name)


def _real_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _move(entry: Path, to: Path) -> None:
    """Rename `entry` to `to` without replacing anything there: a file or link by a hard
    link, which cannot overwrite (a plain rename where the file system has no hard
    links); a folder by a rename, which replaces at most an empty folder."""
    if _real_folder(entry):
        entry.rename(to)
        return
    try:
        os.link(entry, to, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (e.g. exFAT, some network shares)
        if to.exists() or to.is_symlink():
            raise FileExistsError(f"{to} appeared while moving into place") from None
        entry.rename(to)
        return
    entry.unlink()


# --- an output file ------------------------------------------------------------------------


def check_output_file(path: Path, overwrite: bool, earlier: Callable[[Path], bool],
                      command: str, option: str = "--out", room: int = 1 << 20) -> None:
    """Refuse, before any work, a `path` that the output of `forumsim <command>` may not
    be written to: a link, a folder, a pipe or device, a file that `earlier` does not
    recognise as an earlier output of the command, an earlier output without `overwrite`,
    or a place that cannot be written or is full."""
    path = Path(path)
    if path.is_symlink():
        raise StoreError(f"{option} {path}: is a symbolic link; give the path of a new file "
                         "(forumsim does not write through links).")
    if path.exists():
        if path.is_dir():
            raise StoreError(f"{option} {path}: is a folder; give the path of a new file.")
        if not path.is_file():
            raise StoreError(f"{option} {path}: is not a regular file (a pipe, socket or "
                             "device); give the path of a new file.")
        if not earlier(path):
            raise StoreError(f"{option} {path}: exists and was not written by forumsim "
                             f"{command}; forumsim never replaces it. Choose another "
                             f"{option}.")
        if not overwrite:
            raise StoreError(f"{option} {path}: holds an earlier output of forumsim {command}; "
                             f"add --overwrite to replace it, or choose another {option}.")
    check_writable(path, path.parent, room, option)


def write_output_file(path: Path, text: str, overwrite: bool, earlier: Callable[[Path], bool],
                      command: str, option: str = "--out") -> None:
    """Write `text` to `path` whole, where `check_output_file` allows it (checked again
    now: the place may have changed while the work ran); a file that appeared there
    meanwhile is never written over."""
    path = Path(path)
    check_output_file(path, overwrite, earlier, command, option, room=len(text.encode()))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        staging.write_text(text)
        with interrupts.held():
            if path.exists():  # an earlier output, just checked
                os.replace(staging, path)
            else:
                _move(staging, path)  # fails if a file appeared in the meantime
    except FileExistsError:
        raise StoreError(f"{option} {path}: a file appeared there while forumsim {command} "
                         "ran; it was left as it is and nothing was written.") from None
    finally:
        staging.unlink(missing_ok=True)


# --- one writer per folder ---------------------------------------------------------------


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, Linux), to tell it from a later
    process that got the same pid; None where /proc does not say."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat_line.rsplit(")", 1)[1].split()[19]


def process_alive(pid: int, started: str | None = None) -> bool:
    """Whether process `pid` of this machine is running (and is the one that started at
    `started`, if given)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    now = process_start(pid)
    return started is None or now is None or now == started


class WriterLock:
    """One writer per folder: a lock file created exclusively (O_EXCL) holding the
    writer's pid, host and start time. A lock left by a process of this host that is gone
    (killed, crashed) is stale and taken over; one from another host is respected, since
    its process cannot be checked from here."""

    def __init__(self, path: Path, holder: dict) -> None:
        self.path = path
        self.holder = holder

    @classmethod
    def acquire(cls, folder: Path, name: str, command: str) -> WriterLock:
        """Take the lock file `name` of `folder` (which must exist) for `forumsim
        <command>`, or raise StoreError naming the process that holds it."""
        path = Path(folder) / name
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "process_start": process_start(os.getpid()),
              "started": datetime.now(UTC).isoformat(timespec="seconds")}
        for _ in range(3):
            try:
                descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _lock_holder(path)
                if holder is not None and _holds(holder):
                    raise StoreError(
                        f"{folder}: another forumsim {command} is writing here (process "
                        f"{holder.get('pid')} on {holder.get('host')}, since "
                        f"{holder.get('started')}); wait for it to finish or stop it first. "
                        f"If no {command} runs there any more, delete {path}.") from None
                _break_stale(path, holder)
                continue
            with os.fdopen(descriptor, "w") as handle:
                handle.write(json.dumps(me) + "\n")
            return cls(path, me)
        raise StoreError(f"{folder}: cannot take the lock {path}; another {command} keeps "
                         "taking it. Try again.")

    def release(self) -> None:
        """Remove the lock file if it is still this process's."""
        if _lock_holder(self.path) == self.holder:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_holder(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # half-written by a process killed while taking it, or gone
    return holder if isinstance(holder, dict) else None


def _holds(holder: dict) -> bool:
    """Whether the lock's writer may still be running."""
    if holder.get("host") != socket.gethostname():
        return True
    pid = holder.get("pid")
    return isinstance(pid, int) and process_alive(pid, holder.get("process_start"))


def _break_stale(path: Path, holder: dict | None) -> None:
    """Remove a stale lock: renamed aside first, so that of two writers breaking it at once
    only one removes it, and a fresh lock taken meanwhile is put back."""
    aside = path.with_name(f"{path.name}.stale-{secrets.token_hex(4)}")
    try:
        path.rename(aside)
    except FileNotFoundError:
        return
    if _lock_holder(aside) == holder:
        aside.unlink(missing_ok=True)
    else:
        with contextlib.suppress(OSError):
            os.link(aside, path)  # someone's fresh lock: back, unless another is there now
        aside.unlink(missing_ok=True)


@contextlib.contextmanager
def claimed(folder: Path, lock_name: str, command: str) -> Iterator[WriterLock]:
    """Create `folder` if needed and hold its lock `lock_name` for `forumsim <command>`;
    on the way out release the lock and remove the folders made here if nothing was
    written into them."""
    made = []
    missing = folder
    while not missing.exists():
        made.append(missing)
        missing = missing.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with WriterLock.acquire(folder, lock_name, command) as lock:
            yield lock
    finally:
        for path in made:  # deepest first; a folder holding anything stays
            with contextlib.suppress(OSError):
                path.rmdir()
