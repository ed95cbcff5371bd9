"""Results on disk: summary.json, Parquet tables and figures, written atomically.

A run's folder is written whole (`folders.write_output`): under a temporary name, moved
into place at the end, only into a folder that is new, empty, or an earlier run's results
folder (marked by `.forumsim-run`, which lists the files it wrote), replacing an earlier
run only when asked to, and never deleting what it did not write. A sweep's folder grows
part by part, each written atomically, with one writer at a time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from forumsim.experiment.files import read_bytes
from forumsim.experiment.folders import (
    Output,
    StoreError,
    check_output_folder,
    write_output,
)
from forumsim.version import __version__

if TYPE_CHECKING:  # the runner pulls in the model; the checks here must stay light
    from forumsim.experiment.runner import RunResult

RUN_MARKER = ".forumsim-run"
RUN_ROOM = 32 << 20  # bytes free a run's results need (a few MB of Parquet and figures)


def write_table(frame, path: Path) -> None:
    """Write a pandas DataFrame as a Parquet file (without the pandas index)."""
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def write_community(community: dict[str, dict], folder: Path) -> None:
    """Write a run's exported community (`RunResult.community`) as posts.parquet,
    members.parquet and events.parquet, in the posts-table format of docs/data.md: times
    in UTC, an empty `reply_to` for a post that starts a thread. `reply_to` is a nullable
    integer that pandas reads back as such (Int64), so the tables saved again as CSV with
    pandas keep whole-number ids. Marked as simulated, so that `forum_data` takes their
    times as the model's calendar."""
    import pandas as pd

    from forumsim.experiment.forum_data import SIMULATED

    for name, columns in community.items():
        frame = pd.DataFrame({
            column: (pd.Series(values, dtype="Int64").mask(values < 0)
                     if column == "reply_to" else
                     pd.Series(values.tolist(), dtype="string") if values.dtype == object
                     else values)
            for column, values in columns.items()})
        for column in frame.columns[frame.dtypes.map(lambda kind: kind.kind == "M")]:
            frame[column] = frame[column].dt.tz_localize("UTC")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table.replace_schema_metadata(
            {**table.schema.metadata, SIMULATED: b"true"}), folder / f"{name}.parquet")


def check_run_folder(out: Path, overwrite: bool = False, room: int = RUN_ROOM) -> str:
    """How a run's results may go to `out`: 'new', 'into' (an empty folder) or 'replace'
    (an earlier run, with `overwrite`). Raises StoreError for anything else: a file, a
    link, a folder holding other things, an earlier run without `overwrite`, or a place
    that cannot be written or is full."""
    return check_output_folder(
        Path(out), overwrite, room, RUN_MARKER, "run",
        lambda marker: f"scenario '{marker.get('scenario')}', written {marker.get('written')}")


def write_run(result: RunResult, out: Path,
              figures: Callable[[RunResult, Path], list[Path]] | None = None,
              overwrite: bool = False) -> Output:
    """Write summary.json, scenario.yaml (the fully resolved scenario: rerunning it gives
    the same results), ecosystem.parquet, forums.parquet, counterfactual.parquet (with
    interventions), posts.parquet, members.parquet and events.parquet (with an exported
    community) and figures into `out`: a new or empty folder, or, with `overwrite`,
    the folder of an earlier run (see `check_run_folder`)."""
    out = Path(out)
    mode = check_run_folder(out, overwrite)

    def fill(staging: Path) -> None:
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

    return write_output(out, mode, RUN_MARKER, {
        "forumsim": __version__, "kind": "run", "scenario": result.scenario.name,
        "seed": result.scenario.seed, "written": datetime.now(UTC).isoformat(timespec="seconds")},
        fill)


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


# What every reader of a sweep folder relies on in manifest.json, and its kind.
MANIFEST_FIELDS = {"sweep": str, "parameters": list, "plan_sha256": str, "spec": dict,
                   "base_scenario": dict, "design": str, "points": int, "replicates": int,
                   "planned_runs": int}
MAX_MANIFEST_BYTES = 64 << 20  # a manifest is kilobytes; its base scenario is the most


def read_manifest(folder: Path) -> dict:
    """A sweep folder's manifest.json, with the fields every reader relies on, or a
    StoreError saying why it is not a sweep's."""
    folder = Path(folder)
    try:
        data = read_bytes(folder / MANIFEST, MAX_MANIFEST_BYTES)
        if len(data) > MAX_MANIFEST_BYTES:
            raise ValueError(f"larger than {MAX_MANIFEST_BYTES >> 20} MiB")
        manifest = json.loads(data)
    except FileNotFoundError:
        raise StoreError(f"{folder}: not a sweep's results folder (no {MANIFEST}); give the "
                         "--out folder of `forumsim sweep`.") from None
    except (OSError, ValueError) as error:
        raise StoreError(f"{folder}: its {MANIFEST} cannot be read ({error}); it is not a "
                         "usable sweep folder.") from None
    if not isinstance(manifest, dict):
        raise StoreError(f"{folder}: its {MANIFEST} is not a sweep's manifest (it holds a "
                         f"{type(manifest).__name__}, not a mapping of fields).")
    for key, kind in MANIFEST_FIELDS.items():
        value = manifest.get(key)
        wrong = not isinstance(value, kind) or isinstance(value, bool) or (
            key == "parameters" and not all(isinstance(p, str) for p in value))
        if wrong:
            problem = "missing" if value is None else f"not a {kind.__name__}"
            raise StoreError(f"{folder}: its {MANIFEST} is damaged or not a sweep's: field "
                             f"'{key}' is {problem}.")
    return manifest


def read_part(path: Path, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file of a sweep folder (summary.parquet, a part of runs/ or series/), or a
    StoreError saying it is damaged and how to get past it."""
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError, ValueError) as error:
        reason = " ".join(str(error).split())[:200]
        if path.name == SUMMARY:
            advice = ("`forumsim sweep FILE --out FOLDER --resume` writes it again from the "
                      "finished runs")
        else:
            advice = ("move it, and the part of the same name in runs/ or series/, out of the "
                      "folder; `forumsim sweep FILE --out FOLDER --resume` runs those runs again")
        raise StoreError(f"{path}: cannot be read ({reason}); {advice}.") from None


def read_series(folder: Path) -> pa.Table | None:
    """The daily series of a sweep folder (its series/ parts as one table), or None if the
    sweep kept none; StoreError for a damaged part."""
    parts = sorted((Path(folder) / "series").glob("part-*.parquet"))
    if not parts:
        return None
    return pa.concat_tables([read_part(part) for part in parts], promote_options="permissive")


def read_summary(folder: Path) -> pa.Table:
    """A sweep folder's summary.parquet, with its id and status columns, or a StoreError."""
    path = Path(folder) / SUMMARY
    if not path.is_file():
        raise StoreError(f"{folder}: no {SUMMARY} yet; finish (or --resume) the sweep first.")
    table = read_part(path)
    missing = [c for c in ("run_id", "status") if c not in table.column_names]
    if missing:
        raise StoreError(f"{path}: has no column '{missing[0]}'; it is not a sweep's summary. "
                         "`forumsim sweep FILE --out FOLDER --resume` writes it again.")
    return table


LOCK = ".forumsim-sweep.lock"  # one writer per sweep folder (`folders.WriterLock`)


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
            was, now = old.get("posterior"), manifest.get("posterior")
            if isinstance(was, dict) and now and was.get("sha256") != now["sha256"]:
                raise StoreError(
                    f"{folder}: its runs are on other posterior draws than the sweep file "
                    f"now gives (the posterior {now['file']} changed since the sweep "
                    f"started: draws hash {str(was.get('sha256'))[:12]}, now "
                    f"{now['sha256'][:12]}). Resuming would mix results; use another --out "
                    f"folder, or delete {folder} to start over.")
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
        `check`, holding the folder's `WriterLock`)."""
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
            table = read_part(part, columns=["run_id", "status"])
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
        tables = [read_part(part) for part in self.parts()]
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
