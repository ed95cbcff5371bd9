"""CSV export of a sweep folder: the runs table and the daily series in BehaviorSpace's long
layout, with the sweep's metadata beside them, written only where it replaces nothing it did
not write."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from forumsim.experiment.executors import run_sweep
from forumsim.experiment.plan import load_sweep
from forumsim.ui.cli import app

TINY = Path(__file__).parent / "data" / "tiny_sweep.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "sweep"
    run_sweep(load_sweep(TINY), out, executor="inline")
    return out


def test_runs_and_daily_series_are_written_in_the_long_layout(folder, tmp_path):
    out = tmp_path / "csv"
    result = runner.invoke(app, ["export", str(folder), "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = pd.read_parquet(folder / "summary.parquet")
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == len(summary) == 8 and list(runs.columns[:2]) == ["run", "point"]
    assert runs["iv0_loss"].round(12).equals(summary["iv0_loss"].round(12))
    series = pd.read_csv(out / "series.csv")
    assert list(series.columns[:4]) == ["run", "behaviour.home_loyalty", "interventions",
                                        "day"]
    stored = pd.read_parquet(folder / "series")
    assert len(series) == len(stored) == 8 * 60
    run3 = series[series["run"] == 3]
    assert list(run3["day"]) == list(range(1, 61))
    assert run3["interventions"].unique().tolist() == [summary.loc[3, "interventions"]]
    expected = stored[stored["run_id"] == 3].sort_values("day")["active_people"]
    assert run3["active_people"].tolist() == expected.astype(int).tolist()
    sidecar = json.loads((out / "export.json").read_text())
    assert sidecar["sweep"] == "tiny" and sidecar["runs"] == 8
    assert sidecar["spec"]["seed"] == 2024 and "series.csv" in sidecar["files"]


def test_export_never_replaces_what_it_did_not_write(folder, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.csv").write_text("keep me")
    result = runner.invoke(app, ["export", str(folder), "--out", str(mine), "--overwrite"])
    assert result.exit_code == 2 and "not written by forumsim export" in result.output
    assert [p.name for p in mine.iterdir()] == ["notes.csv"]
    assert (mine / "notes.csv").read_text() == "keep me"
    a_file = tmp_path / "file.csv"
    a_file.write_text("keep")
    result = runner.invoke(app, ["export", str(folder), "--out", str(a_file)])
    assert result.exit_code == 2 and a_file.read_text() == "keep"


def test_an_earlier_export_is_replaced_only_when_asked(folder, tmp_path):
    out = tmp_path / "csv"
    assert runner.invoke(app, ["export", str(folder), "--out", str(out)]).exit_code == 0
    result = runner.invoke(app, ["export", str(folder), "--out", str(out)])
    assert result.exit_code == 2 and "add --overwrite" in result.output
    (out / "runs.csv").write_text("changed")  # edited in a spreadsheet: no longer ours
    result = runner.invoke(app, ["export", str(folder), "--out", str(out), "--overwrite"])
    assert result.exit_code == 2 and "changed since it wrote them (runs.csv)" in " ".join(
        result.output.split())
    assert (out / "runs.csv").read_text() == "changed"
    (out / "runs.csv").unlink()
    assert runner.invoke(app, ["export", str(folder), "--out", str(out),
                               "--overwrite"]).exit_code == 0
    assert (out / "runs.csv").read_text().startswith("run,point,replicate,seed")
    (out / "extra.txt").write_text("mine")
    result = runner.invoke(app, ["export", str(folder), "--out", str(out), "--overwrite"])
    assert result.exit_code == 2 and "extra.txt" in result.output
    assert (out / "extra.txt").read_text() == "mine"


def test_a_folder_that_is_not_a_sweep_is_refused(tmp_path):
    result = runner.invoke(app, ["export", str(tmp_path)])
    assert result.exit_code == 2 and "not a finished sweep's results folder" in result.output
    assert list(tmp_path.iterdir()) == []
