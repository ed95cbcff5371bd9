"""Results on disk: summary.json, Parquet tables and figures, written atomically.

A run's folder is first written under a temporary name and moved into place at the end,
so an interrupted or failed write never leaves a half-written results folder behind.
`forumsim` writes only into a folder that is new, empty, or an earlier run's results
folder (marked by `.forumsim-run`, which lists the files it wrote), and replaces an
earlier run only when asked to and only if the folder holds nothing else: it never
deletes or replaces what it did not write.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from forumsim.version import __version__

if TYPE_CHECKING:  # the runner pulls in the model; the checks here must stay light
    from forumsim.experiment.runner import RunResult

RUN_MARKER = ".forumsim-run"
RUN_ROOM = 32 << 20  # bytes free a run's results need (a few MB of Parquet and figures)


class StoreError(ValueError):
    """A results folder cannot be used as asked (it holds something else, or cannot be
    written); the message says which folder and what to do."""


def write_table(frame, path: Path) -> None:
    """Write a pandas DataFrame as a Parquet file (without the pandas index)."""
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def write_community(community: dict[str, dict], folder: Path) -> None:
    """Write a run's exported community (`RunResult.community`) as posts.parquet,
    members.parquet and events.parquet, in the posts-table format of docs/data.md: times
    in UTC, an empty `reply_to` for a post that starts a thread. `reply_to` is a nullable
    integer that pandas reads back as such (Int64), so the tables saved again as CSV with
    pandas keep whole-number ids."""
    import pandas as pd

    for name, columns in community.items():
        frame = pd.DataFrame({
            column: (pd.Series(values, dtype="Int64").mask(values < 0)
                     if column == "reply_to" else
                     pd.Series(values.tolist(), dtype="string") if values.dtype == object
                     else values)
            for column, values in columns.items()})
        for column in frame.columns[frame.dtypes.map(lambda kind: kind.kind == "M")]:
            frame[column] = frame[column].dt.tz_localize("UTC")
        write_table(frame, folder / f"{name}.parquet")


def _listing(paths: list[str], limit: int = 4) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def earlier_run(folder: Path) -> dict | None:
    """The marker of an earlier `forumsim run` in `folder`, or None if it holds none."""
    return folder_marker(folder, RUN_MARKER)


def folder_marker(folder: Path, name: str) -> dict | None:
    """The marker file `name` that forumsim left in `folder` (a mapping listing the files
    it wrote), or None if there is none."""
    try:
        marker = json.loads((folder / name).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and isinstance(marker.get("files"), list) else None


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and not path.is_symlink() and path != path.parent:
        path = path.parent
    return path


def check_writable(out: Path, place: Path, room: int) -> None:
    """Refuse, before any work, an `out` whose folder `place` (where its files are made)
    cannot be created or written, or has less than `room` bytes free."""
    home = _existing_ancestor(place)
    if not home.is_dir():
        raise StoreError(f"--out {out}: cannot be created, because {home} is a file, not a "
                         "folder; choose another --out.")
    probe = home / f".forumsim-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as error:
        raise StoreError(f"--out {out}: cannot write in {home}: {error.strerror}; choose "
                         "another --out.") from None
    free = shutil.disk_usage(home).free
    if free < room:
        raise StoreError(f"--out {out}: only {free / 2**20:,.1f} MB free in {home}, and the "
                         f"results need about {room / 2**20:,.0f} MB; free some space or "
                         "choose another --out.")


def check_run_folder(out: Path, overwrite: bool = False, room: int = RUN_ROOM) -> str:
    """How a run's results may go to `out`: 'new', 'into' (an empty folder) or 'replace'
    (an earlier run, with `overwrite`). Raises StoreError for anything else: a file, a
    link, a folder holding other things, an earlier run without `overwrite`, or a place
    that cannot be written or is full."""
    return check_output_folder(
        Path(out), overwrite, room, RUN_MARKER, "run",
        lambda marker: f"scenario '{marker.get('scenario')}', written {marker.get('written')}")


def check_output_folder(out: Path, overwrite: bool, room: int, marker_name: str, command: str,
                        details: Callable[[dict], str]) -> str:
    """How the output of `forumsim <command>` may go to `out` (see `check_run_folder`):
    an earlier output is recognised by its marker file `marker_name`, and `details(marker)`
    describes it in the message that asks for `overwrite`."""
    if out.is_symlink():
        raise StoreError(f"--out {out}: is a symbolic link; give the folder itself (forumsim "
                         "does not write through links).")
    mode = "new"
    if out.exists():
        if not out.is_dir():
            raise StoreError(f"--out {out}: exists and is a file, not a folder; forumsim "
                             "writes results into a folder and never replaces a file. Choose "
                             "another --out.")
        entries = _files_under(out)
        marker = folder_marker(out, marker_name)
        if not entries and not any(out.iterdir()):
            mode = "into"
        elif marker is None:
            raise StoreError(f"--out {out}: is a folder that was not written by forumsim "
                             f"{command} (it holds "
                             f"{_listing(entries or sorted(os.listdir(out)))}); forumsim "
                             "never deletes what it did not write. Choose another --out, or "
                             "a new or empty folder.")
        elif not overwrite:
            raise StoreError(f"--out {out}: holds an earlier {command} ({details(marker)}); "
                             "add --overwrite to replace it, or choose another --out.")
        else:
            foreign = sorted(set(entries) - set(marker["files"]) - {marker_name})
            if foreign:
                raise StoreError(f"--out {out}: holds an earlier {command}, but also files "
                                 f"forumsim did not write ({_listing(foreign)}); move them "
                                 "out first, or choose another --out.")
            mode = "replace"
    check_writable(out, out if mode == "into" else out.parent, room)
    return mode


def write_run(result: RunResult, out: Path,
              figures: Callable[[RunResult, Path], list[Path]] | None = None,
              overwrite: bool = False) -> Path:
    """Write summary.json, scenario.yaml (the fully resolved scenario: rerunning it gives
    the same results), ecosystem.parquet, forums.parquet, counterfactual.parquet (with
    interventions), posts.parquet, members.parquet and events.parquet (with an exported
    community) and figures into `out`: a new or empty folder, or, with `overwrite`,
    the folder of an earlier run (see `check_run_folder`)."""
    out = Path(out)
    mode = check_run_folder(out, overwrite)
    if mode == "new":
        out.parent.mkdir(parents=True, exist_ok=True)
    # Made with mkdir, so the folder gets the user's usual permissions (umask).
    home = out if mode == "into" else out.parent
    staging = home / f".{out.name}.forumsim-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        (staging / "summary.json").write_text(json.dumps(result.summary(), indent=2) + "\n")
        (staging / "scenario.yaml").write_text(
            yaml.safe_dump(result.scenario.model_dump(mode="json"), sort_keys=False))
        write_table(result.ecosystem, staging / "ecosystem.parquet")
        if result.counterfactual is not None:
            write_table(result.counterfactual, staging / "counterfactual.parquet")
        write_table(result.forums, staging / "forums.parquet")
        if result.community is not None:
            write_community(result.community, staging)
        if figures is not None:
            (staging / "figures").mkdir()
            figures(result, staging / "figures")
        marker = {"forumsim": __version__, "kind": "run", "scenario": result.scenario.name,
                  "seed": result.scenario.seed,
                  "written": datetime.now(UTC).isoformat(timespec="seconds"),
                  "files": _files_under(staging)}
        (staging / RUN_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        _move_into_place(staging, out, mode)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _move_into_place(staging: Path, target: Path, mode: str) -> None:
    """Move the staged results to `target`: renamed into place if new; moved into an empty
    folder entry by entry (the folder itself stays the user's); swapped with an earlier
    run, which is deleted only once the new one is in place."""
    if mode == "new":
        staging.rename(target)
    elif mode == "into":
        for entry in staging.iterdir():
            entry.rename(target / entry.name)
        staging.rmdir()
    else:
        old = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)


# --- a sweep's results folder -----------------------------------------------------------

MANIFEST = "manifest.json"
SUMMARY = "summary.parquet"
HEAD = ("run_id", "point", "replicate", "seed", "status", "error")
# Where and how long each run ran: kept in runs/ only, so that summary.parquet depends on
# the sweep file alone.
EXECUTION = ("wall_seconds", "worker")


def write_json(data: dict, path: Path) -> None:
    """Write JSON through a temporary file renamed into place (never half-written)."""
    staging = path.with_name(f".{path.name}.tmp")
    try:
        staging.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)  # left only if the write failed (e.g. disk full)


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write a Parquet file through a temporary name renamed into place."""
    staging = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table, staging)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def rows_table(rows: list[dict]) -> pa.Table:
    """A table of result rows; a column missing from a row is null there."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return pa.table({name: pa.array([row.get(name) for row in rows]) for name in columns})


def read_manifest(folder: Path) -> dict:
    """A sweep folder's manifest.json, or a StoreError saying it cannot be read."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise StoreError(f"{folder}: its {MANIFEST} cannot be read ({error}); it is not a "
                         "usable sweep folder. Choose another --out folder.") from None
    if not isinstance(manifest, dict):
        raise StoreError(f"{folder}: its {MANIFEST} is not a sweep's manifest; choose "
                         "another --out folder.")
    return manifest


# --- one writer per sweep folder ---------------------------------------------------------

LOCK = ".forumsim-sweep.lock"


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, Linux), to tell it from a later
    process that got the same pid; None where /proc does not say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


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


class SweepLock:
    """One writer per sweep folder: a lock file created exclusively (O_EXCL) holding the
    writer's pid, host and start time. A lock left by a process of this host that is gone
    (killed, crashed) is stale and taken over; one from another host is respected, since
    its process cannot be checked from here."""

    def __init__(self, path: Path, holder: dict) -> None:
        self.path = path
        self.holder = holder

    @classmethod
    def acquire(cls, folder: Path) -> SweepLock:
        """Take the lock of `folder` (which must exist), or raise StoreError naming the
        sweep that holds it."""
        path = Path(folder) / LOCK
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
                        f"{folder}: another forumsim sweep is writing here (process "
                        f"{holder.get('pid')} on {holder.get('host')}, since "
                        f"{holder.get('started')}); wait for it to finish or stop it first. "
                        f"If no sweep runs there any more, delete {path}.") from None
                _break_stale(path, holder)
                continue
            with os.fdopen(descriptor, "w") as handle:
                handle.write(json.dumps(me) + "\n")
            return cls(path, me)
        raise StoreError(f"{folder}: cannot take the sweep lock {path}; another sweep keeps "
                         "taking it. Try again.")

    def release(self) -> None:
        """Remove the lock file if it is still this process's."""
        if _lock_holder(self.path) == self.holder:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> SweepLock:
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
    """Remove a stale lock: renamed aside first, so that of two sweeps breaking it at once
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


class SweepStore:
    """One sweep's folder: manifest.json, runs/ and series/ Parquet parts, summary.parquet.

    A batch of finished runs is one part in runs/ (and its daily series, the part of the
    same number in series/), each written under a temporary name and renamed, so a run
    is finished exactly when its row is in a part: a killed sweep loses only the batch it
    had not written yet.
    """

    def __init__(self, folder: Path, manifest: dict) -> None:
        self.folder = Path(folder)
        self.manifest = manifest
        self.runs = self.folder / "runs"
        self.series = self.folder / "series"

    @classmethod
    def check(cls, folder: Path, manifest: dict, resume: bool) -> None:
        """Refuse, writing nothing, a folder that holds something other than this sweep,
        this sweep without `resume`, or another sweep."""
        folder = Path(folder)
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise StoreError(f"{folder}: exists and is not a folder; choose another --out "
                             "folder.")
        if (folder / MANIFEST).is_file():
            old = read_manifest(folder)
            if not resume:
                raise StoreError(
                    f"{folder}: already holds sweep '{old.get('sweep')}' "
                    f"({len(cls(folder, old).finished())} of {old.get('planned_runs')} runs "
                    "finished). Add --resume to continue it, or choose another --out folder.")
            if old.get("plan_sha256") != manifest["plan_sha256"]:
                raise StoreError(
                    f"{folder}: holds results of a different sweep (its file "
                    f"{old.get('sweep_file')} planned other runs: plan hash "
                    f"{str(old.get('plan_sha256'))[:12]}, now {manifest['plan_sha256'][:12]}). "
                    "Resuming would mix results; use another --out folder, or delete "
                    f"{folder} to start over.")
        elif folder.exists() and any(p.name != LOCK for p in folder.iterdir()):
            raise StoreError(f"{folder}: exists and is not a sweep's results folder (no "
                             f"{MANIFEST}); choose another --out folder.")

    @classmethod
    def open(cls, folder: Path, manifest: dict, resume: bool) -> SweepStore:
        """Start a new sweep in `folder`, or continue the one there with `resume` (after
        `check`, holding the folder's `SweepLock`)."""
        folder = Path(folder)
        cls.check(folder, manifest, resume)
        if (folder / MANIFEST).is_file():
            store = cls(folder, read_manifest(folder))
            store._tidy()
            return store
        folder.mkdir(parents=True, exist_ok=True)
        write_json(manifest, folder / MANIFEST)
        store = cls(folder, manifest)
        store.runs.mkdir()
        store.series.mkdir()
        return store

    def _tidy(self) -> None:
        """Remove what a killed sweep can leave: temporary files, and series parts whose
        runs part was never written (those runs are not finished and will run again)."""
        self.runs.mkdir(exist_ok=True)
        self.series.mkdir(exist_ok=True)
        for folder in (self.folder, self.runs, self.series):
            for leftover in folder.glob(".*.tmp"):
                leftover.unlink()
        runs = {p.name for p in self.runs.glob("part-*.parquet")}
        for part in self.series.glob("part-*.parquet"):
            if part.name not in runs:
                part.unlink()

    def parts(self) -> list[Path]:
        """The runs/ parts, in the order they were written."""
        return sorted(self.runs.glob("part-*.parquet"))

    def finished(self, failed_too: bool = True) -> set[int]:
        """Ids of runs with a row on disk (only the successful ones unless `failed_too`)."""
        ids: set[int] = set()
        for part in self.parts():
            table = pq.read_table(part, columns=["run_id", "status"])
            for run_id, status in zip(table["run_id"].to_pylist(),
                                      table["status"].to_pylist(), strict=True):
                if failed_too or status == "ok":
                    ids.add(run_id)
                else:
                    ids.discard(run_id)  # a later retry may have succeeded
        return ids

    def write_part(self, rows: list[dict], series: list) -> Path:
        """Write a batch of finished runs (rows, and their daily series) as the next part."""
        import pandas as pd

        parts = self.parts()
        number = int(parts[-1].stem.split("-")[1]) + 1 if parts else 0
        name = f"part-{number:05d}.parquet"
        if series:
            frame = pd.concat(series, ignore_index=True)
            write_parquet(pa.Table.from_pandas(frame, preserve_index=False), self.series / name)
        write_parquet(rows_table(rows), self.runs / name)  # last: the runs are now finished
        return self.runs / name

    def update_manifest(self, **changes: object) -> None:
        """Change top-level fields of manifest.json (atomically)."""
        self.manifest.update(changes)
        write_json(self.manifest, self.folder / MANIFEST)

    def write_summary(self) -> Path:
        """Build summary.parquet (one row per run, by run id) from the parts, and give every
        runs/ part the same schema so that the folder reads as one dataset."""
        tables = [pq.read_table(part) for part in self.parts()]
        schema = pa.unify_schemas([t.schema for t in tables], promote_options="permissive") \
            if tables else pa.schema([])
        tables = [_conform(t, schema) for t in tables]
        table = pa.concat_tables(tables) if tables else rows_table([])
        order = _column_order(table, self.manifest.get("parameters", []))
        every = [*order, *(c for c in EXECUTION if c in schema.names)]
        for part, conformed in zip(self.parts(), tables, strict=True):
            if conformed.column_names != every:
                write_parquet(conformed.select(every), part)
        if table.num_rows:
            table = _last_per_run(table).select(order)
        write_parquet(table, self.folder / SUMMARY)
        return self.folder / SUMMARY


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = [table[f.name].cast(f.type) if f.name in table.column_names
               else pa.nulls(table.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _last_per_run(table: pa.Table) -> pa.Table:
    """Rows sorted by run id, keeping the last written row of a run (a retry's)."""
    ids = table["run_id"].to_pylist()
    last = {run_id: i for i, run_id in enumerate(ids)}
    return table.take(sorted(last.values(), key=lambda i: ids[i]))


def _column_order(table: pa.Table, parameters: list[str]) -> list[str]:
    """Ids, status and parameters first; then metrics in the order the first run (by id)
    that has them gives; columns that are null everywhere last, by name."""
    fixed = [c for c in (*HEAD, *parameters) if c in table.column_names]
    rest = [c for c in table.column_names if c not in fixed and c not in EXECUTION]
    if not table.num_rows:
        return fixed + rest
    ids = table["run_id"].to_numpy()
    first = {}
    for name in rest:
        valid = table[name].is_valid().to_numpy(zero_copy_only=False)
        first[name] = ids[valid].min() if valid.any() else None
    present = [c for c in rest if first[c] is not None]
    present.sort(key=lambda c: (first[c], rest.index(c)))
    return fixed + present + sorted(c for c in rest if first[c] is None)
