"""Results on disk are written atomically: a failed write leaves nothing behind."""

from __future__ import annotations

import json

import pytest

from forumsim.runner import run
from forumsim.store import write_run


@pytest.fixture(scope="module")
def short_result(small_scenario):
    return run(small_scenario.overridden(days=20, people=500))


def test_a_failing_write_leaves_no_results_folder(short_result, tmp_path):
    def broken_figures(result, folder):
        (folder / "half.png").write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_run(short_result, tmp_path / "out", broken_figures)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_rewrite_keeps_the_previous_results(short_result, tmp_path):
    out = write_run(short_result, tmp_path / "out")
    before = (out / "summary.json").read_text()

    def broken(result, folder):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_run(short_result, out, broken)
    assert (out / "summary.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_rewrite_replaces_the_folder_whole(short_result, tmp_path):
    out = write_run(short_result, tmp_path / "out")
    (out / "stale.txt").write_text("old")
    write_run(short_result, out)
    assert not (out / "stale.txt").exists()
    assert json.loads((out / "summary.json").read_text())["days"] == 20
