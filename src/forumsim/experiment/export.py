"""A sweep folder as CSV for spreadsheets and for NetLogo BehaviorSpace users: runs.csv (one
row per run: run, its parameters, every end-of-run metric), series.csv (the long layout:
run, parameters, day, the day's measures) and export.json (the sweep's metadata). No
cell is one a spreadsheet would run as a formula (`spreadsheet_safe`).

Like a run's folder, the export is written under a temporary name and moved into place,
only into a new or empty folder or, with `overwrite`, an earlier export holding nothing
else (marked by `.forumsim-export`, which lists its files): it never replaces what it did
not write.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from forumsim.experiment.folders import Output, check_output_folder, write_output
from forumsim.experiment.store import (
    MANIFEST,
    SUMMARY,
    StoreError,
    read_manifest,
    read_series,
    read_summary,
)
from forumsim.version import __version__

EXPORT_MARKER = ".forumsim-export"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP's rule against CSV
    injection): text starting with =, +, -, @, a tab or a carriage return gets a leading
    apostrophe, which spreadsheets show as text; numbers and other text stay as they are.
    Forum names from a posts table and labels from a sweep file are such text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell and column name made `spreadsheet_safe`."""
    safe = frame.rename(columns=spreadsheet_safe)
    for name in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[name]):
            safe[name] = safe[name].map(spreadsheet_safe)
    return safe


def check_export_folder(out: Path, overwrite: bool) -> str:
    """How an export may go to `out`: 'new', 'into' (an empty folder) or 'replace' (an
    earlier export, with `overwrite`); StoreError for anything else."""
    return check_output_folder(out, overwrite, 16 << 20, EXPORT_MARKER, "export",
                               lambda marker: f"written {marker.get('written')}")


def long_series(runs: pd.DataFrame, series: pd.DataFrame, parameters: list[str]
                ) -> pd.DataFrame:
    """The daily series in BehaviorSpace's long layout: run, parameters, day, measures."""
    head = runs[["run_id", *parameters]].rename(columns={"run_id": "run"})
    daily = series.rename(columns={"run_id": "run"})
    table = head.merge(daily, on="run", how="inner", validate="one_to_many")
    for name in daily.columns:  # counts stored as floats are written as whole numbers
        values = table[name]
        if pd.api.types.is_float_dtype(values) and values.notna().all() and (
                values == values.round()).all():
            table[name] = values.astype("int64")
    return table.sort_values(["run", "day"], kind="stable").reset_index(drop=True)


def export_csv(folder: Path, out: Path, overwrite: bool = False) -> Output:
    """Write runs.csv, series.csv (if the sweep kept its series) and export.json for the
    sweep in `folder` into `out`; returns where they went."""
    folder, out = Path(folder), Path(out)
    if not (folder / MANIFEST).is_file() or not (folder / SUMMARY).is_file():
        raise StoreError(f"{folder}: not a finished sweep's results folder (no {MANIFEST} "
                         f"or {SUMMARY}); give the --out folder of `forumsim sweep`.")
    mode = check_export_folder(out, overwrite)
    manifest = read_manifest(folder)
    runs = read_summary(folder).to_pandas().sort_values("run_id", kind="stable")
    series = read_series(folder)
    parameters = [p for p in manifest["parameters"] if p in runs]
    if "scenario" in runs and "scenario" not in parameters:
        parameters.append("scenario")
    has_series = series is not None
    exported = datetime.now(UTC).isoformat(timespec="seconds")

    def fill(staging: Path) -> None:
        spreadsheet_safe_frame(runs.rename(columns={"run_id": "run"})).to_csv(
            staging / "runs.csv", index=False)
        if has_series:
            spreadsheet_safe_frame(long_series(runs, series.to_pandas(), parameters)).to_csv(
                staging / "series.csv", index=False)
        sidecar = {
            "forumsim": __version__, "sweep": manifest["sweep"],
            "description": manifest.get("description"), "question": manifest.get("question"),
            "sweep_file": manifest.get("sweep_file"), "plan_sha256": manifest["plan_sha256"],
            "design": manifest["design"], "points": manifest["points"],
            "replicates": manifest["replicates"], "planned_runs": manifest["planned_runs"],
            "runs": len(runs), "failed": int((runs["status"] != "ok").sum()),
            "parameters": parameters, "policies": manifest.get("policies", []),
            "uncertainties": manifest.get("uncertainties", []),
            "spec": manifest["spec"], "base_scenario": manifest["base_scenario"],
            "files": {"runs.csv": "one row per run: run, point, replicate, seed, status, "
                                  "error, the parameters, every end-of-run metric",
                      **({"series.csv": "one row per run and day: run, the parameters, "
                                        "day, the day's measures (long layout)"}
                         if has_series else {})},
            "source": str(folder), "exported": exported,
        }
        (staging / "export.json").write_text(json.dumps(sidecar, indent=2, default=str) + "\n")

    return write_output(out, mode, EXPORT_MARKER, {
        "forumsim": __version__, "kind": "export", "sweep": manifest["sweep"],
        "written": exported}, fill)
