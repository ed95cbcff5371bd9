"""Results on disk are written atomically: a failed write leaves nothing behind; a sweep's
folder resumes after any interruption, even SIGKILL, to the same summary."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from forumsim.experiment import runner as runner_module
from forumsim.experiment.executors import run_sweep
from forumsim.experiment.folders import StoreError, WriterLock
from forumsim.experiment.plan import load_sweep
from forumsim.experiment.runner import run
from forumsim.experiment.store import (
    LOCK,
    RUN_MARKER,
    SweepStore,
    check_run_folder,
    write_run,
)


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
    out = write_run(short_result, tmp_path / "out").folder
    before = (out / "summary.json").read_text()

    def broken(result, folder):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_run(short_result, out, broken, overwrite=True)
    assert (out / "summary.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_overwrite_replaces_an_earlier_run_whole(short_result, tmp_path):
    out = write_run(short_result, tmp_path / "out", lambda result, folder: [
        (folder / "old.png").write_bytes(b"png")]).folder
    write_run(short_result, out, overwrite=True)
    assert not (out / "figures").exists()
    assert json.loads((out / "summary.json").read_text())["days"] == 20
    marker = json.loads((out / RUN_MARKER).read_text())
    assert marker["scenario"] == "small" and "summary.json" in marker["files"]


def test_an_earlier_run_is_not_replaced_without_overwrite(short_result, tmp_path):
    out = write_run(short_result, tmp_path / "out").folder
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(StoreError, match="holds an earlier run .scenario 'small'.*--overwrite"):
        write_run(short_result, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_users_file_inside_an_earlier_run_stops_the_overwrite(short_result, tmp_path):
    out = write_run(short_result, tmp_path / "out").folder
    (out / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match=r"files or folders forumsim did not write.*\(notes.txt\)"):
        write_run(short_result, out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine" and (out / "summary.json").exists()


def test_a_users_folder_and_file_are_never_written_over(short_result, tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("\\chapter{One}")
    (thesis / "data.csv").write_text("a,b\n1,2\n")
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    for target in (thesis, precious, precious / "sub"):
        for overwrite in (False, True):
            with pytest.raises(StoreError):
                write_run(short_result, target, overwrite=overwrite)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious.txt", "thesis"]
    assert sorted(p.name for p in thesis.iterdir()) == ["chapter1.tex", "data.csv"]
    assert precious.read_text() == "keep me"


def test_an_empty_folder_is_written_into_and_stays_the_users(short_result, tmp_path):
    out = tmp_path / "empty"
    out.mkdir(mode=0o750)
    os.chmod(out, 0o750)
    inode = out.stat().st_ino
    write_run(short_result, out)
    assert out.stat().st_ino == inode and (out.stat().st_mode & 0o777) == 0o750
    assert (out / "summary.json").exists() and not list(out.glob(".*.forumsim-*"))


def test_results_folders_get_the_users_usual_permissions(short_result, tmp_path):
    old = os.umask(0o027)
    try:
        out = write_run(short_result, tmp_path / "run").folder
        run_sweep(load_sweep(TINY), tmp_path / "sweep", executor="inline")
    finally:
        os.umask(old)
    assert (out.stat().st_mode & 0o777) == 0o750
    assert ((tmp_path / "sweep").stat().st_mode & 0o777) == 0o750


def test_a_place_that_cannot_be_written_or_is_full_is_refused_before_the_run(
        tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        check_run_folder(tmp_path / "file" / "out")
    full = tmp_path / "full"
    full.mkdir()
    usage = shutil.disk_usage(tmp_path)._replace(free=1 << 20)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)
    with pytest.raises(StoreError, match="only 1.0 MB free"):
        check_run_folder(full / "out")
    assert list(full.iterdir()) == []


# --- a sweep's results folder -----------------------------------------------------------




TINY = Path(__file__).parent / "data" / "tiny_sweep.yaml"
SRC = str(Path(__file__).parents[1] / "src")
# Long enough to be killed half-way: 16 runs, half of them with a counterfactual.
KILLABLE = """
base: small
fixed: {people: 800, days: 80}
parameters:
  interventions:
    variants:
      none: []
      takedown: [{type: takedown, day: 40}]
replicates: 8
seed: 5
"""


@pytest.fixture(scope="module")
def tiny_summary(tmp_path_factory):
    """The tiny sweep run in one go (the reference for resumed sweeps)."""
    out = tmp_path_factory.mktemp("tiny") / "out"
    run_sweep(load_sweep(TINY), out, executor="inline")
    return out


def _summary(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "summary.parquet")


def test_sweep_folder_reads_as_one_dataset(tiny_summary):
    runs = ds.dataset(tiny_summary / "runs", format="parquet").to_table().to_pandas()
    assert sorted(runs["run_id"]) == list(range(8))
    assert len(pd.read_parquet(tiny_summary / "runs")) == 8
    series = ds.dataset(tiny_summary / "series", format="parquet").to_table()
    assert series.num_rows == 8 * 60
    first = {p.name: ds.dataset(p).schema for p in (tiny_summary / "runs").glob("*.parquet")}
    assert len({str(s) for s in first.values()}) == 1  # every part has the same schema


def test_resume_skips_finished_runs_and_never_recomputes_them(tmp_path, tiny_summary,
                                                              monkeypatch):
    plan = load_sweep(TINY)
    calls = []
    real_run = runner_module.run

    def counting(scenario, progress=None):
        calls.append(scenario.seed)
        if len(calls) > 3:
            raise KeyboardInterrupt  # Ctrl-C during the fourth run
        return real_run(scenario, progress)

    monkeypatch.setattr(runner_module, "run", counting)
    first = run_sweep(plan, tmp_path / "out", executor="inline", runs_per_part=1)
    assert first.interrupted and len(SweepStore(tmp_path / "out", {}).finished()) == 3
    calls.clear()
    monkeypatch.setattr(runner_module, "run", lambda s, progress=None: (calls.append(s.seed),
                                                                        real_run(s))[1])
    second = run_sweep(plan, tmp_path / "out", executor="inline", resume=True)
    assert not second.interrupted and second.tally.earlier == 3
    assert calls == [run.seed for run in plan.runs[3:]]
    pd.testing.assert_frame_equal(_summary(tmp_path / "out"), _summary(tiny_summary))


def test_resuming_a_finished_sweep_runs_nothing(tiny_summary, tmp_path, monkeypatch):
    out = tmp_path / "copy"
    run_sweep(load_sweep(TINY), out, executor="inline")
    monkeypatch.setattr(runner_module, "run", lambda *a, **k: pytest.fail("recomputed"))
    outcome = run_sweep(load_sweep(TINY), out, executor="inline", resume=True)
    assert outcome.tally.done == 0 and outcome.tally.earlier == 8


def test_resuming_with_a_changed_sweep_file_is_refused(tmp_path, tiny_summary):
    changed = tmp_path / "changed.yaml"
    changed.write_text(TINY.read_text().replace("replicates: 2", "replicates: 3"))
    before = sorted(p.name for p in (tiny_summary / "runs").iterdir())
    with pytest.raises(StoreError, match="different sweep.*another --out folder"):
        run_sweep(load_sweep(changed), tiny_summary, executor="inline", resume=True)
    assert sorted(p.name for p in (tiny_summary / "runs").iterdir()) == before


def test_a_sweep_folder_is_not_reused_without_resume(tiny_summary):
    with pytest.raises(StoreError, match="already holds sweep 'tiny' .8 of 8 runs.*--resume"):
        run_sweep(load_sweep(TINY), tiny_summary, executor="inline")


def test_a_folder_that_is_not_a_sweep_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a sweep's results folder"):
        run_sweep(load_sweep(TINY), tmp_path, executor="inline", resume=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_resume_removes_what_a_killed_write_left(tmp_path, tiny_summary):
    out = tmp_path / "out"
    run_sweep(load_sweep(TINY), out, executor="inline", runs_per_part=4)
    (out / "runs" / "part-00001.parquet").unlink()  # killed between series and runs parts
    (out / "runs" / ".part-00002.parquet.tmp").write_bytes(b"half a file")
    outcome = run_sweep(load_sweep(TINY), out, executor="inline", resume=True)
    assert outcome.tally.done == 4
    assert not list(out.rglob("*.tmp"))
    assert sorted(p.name for p in (out / "series").iterdir()) == sorted(
        p.name for p in (out / "runs").iterdir())
    assert len(pd.read_parquet(out / "series")) == 8 * 60  # no run's series twice
    pd.testing.assert_frame_equal(_summary(out), _summary(tiny_summary))


def test_summary_does_not_depend_on_how_runs_were_batched(tmp_path, tiny_summary):
    run_sweep(load_sweep(TINY), tmp_path / "one", executor="inline", runs_per_part=1)
    assert len(list((tmp_path / "one" / "runs").glob("*.parquet"))) == 8
    pd.testing.assert_frame_equal(_summary(tmp_path / "one"), _summary(tiny_summary))


def _sweep_process(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen([sys.executable, "-m", "forumsim.ui.cli", "sweep", *args, "-q"],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def killable(tmp_path_factory):
    """The killable sweep file and its summary when run without interruption."""
    folder = tmp_path_factory.mktemp("killable")
    (folder / "kill.yaml").write_text(KILLABLE)
    run_sweep(load_sweep(folder / "kill.yaml"), folder / "reference", executor="inline")
    return folder


@pytest.mark.parametrize("executor, when", [("process", "runs/part-00001.parquet"),
                                             ("inline", "manifest.json")])
def test_a_sweep_killed_with_sigkill_and_resumed_ends_with_the_same_summary(
        killable, executor, when):
    out = killable / f"killed-{executor}"
    process = _sweep_process(["kill.yaml", "--out", str(out), "--executor", executor,
                              "--workers", "2", "--runs-per-part", "1"], killable)
    _wait_for(out / when, process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # its orphaned workers, if any
    assert process.returncode == -signal.SIGKILL
    assert not (out / "summary.parquet").exists()
    finished = len(SweepStore(out, {}).finished())
    assert finished < 16
    resumed = _sweep_process(["kill.yaml", "--out", str(out), "--resume", "--executor",
                              executor, "--workers", "2"], killable)
    stdout, stderr = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, stderr
    assert f"{16 - finished} runs done" in stdout
    pd.testing.assert_frame_equal(_summary(out), _summary(killable / "reference"))


def test_ctrl_c_stops_cleanly_keeping_finished_runs(killable):
    out = killable / "interrupted"
    process = _sweep_process(["kill.yaml", "--out", str(out), "--workers", "1",
                              "--runs-per-part", "2"], killable)
    _wait_for(out / "runs" / "part-00000.parquet", process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "--resume" in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sessions"][-1]["status"] == "interrupted" and manifest["ended"] is None
    kept = SweepStore(out, {}).finished()
    assert 2 <= len(kept) < 16
    assert set(_summary(out)["run_id"]) == kept  # a summary of what is finished so far


def _group(pgid: int) -> list[int]:
    """Processes still alive in process group `pgid` (the sweep's session)."""
    alive = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    alive.append(int(entry))
    return alive


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_pool_exits_within_seconds_when_the_sweep_is_killed(killable):
    out = killable / "orphans"
    process = _sweep_process(["kill.yaml", "--out", str(out), "--workers", "2",
                              "--runs-per-part", "1"], killable)
    _wait_for(out / "runs" / "part-00000.parquet", process)
    assert len(_group(process.pid)) >= 4  # the sweep, forkserver, tracker, 2 workers
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while _group(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _group(process.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    assert left == [], "pool processes outlived the sweep"
    # The killed sweep's lock is stale: the next writer takes it over.
    assert (out / LOCK).exists()
    WriterLock.acquire(out, LOCK, "sweep").release()


def test_a_killed_worker_ends_the_sweep_with_one_line_and_the_resume_command(killable):
    out = killable / "dead-worker"
    process = _sweep_process(["kill.yaml", "--out", str(out), "--workers", "2",
                              "--runs-per-part", "1"], killable)
    _wait_for(out / "runs" / "part-00000.parquet", process)
    pool = [pid for pid in _group(process.pid) if pid != process.pid
            and "forkserver" in Path(f"/proc/{pid}/cmdline").read_text()]
    workers = [pid for pid in pool if Path(f"/proc/{pid}/stat").read_text().rsplit(
        ")", 1)[1].split()[1] != str(process.pid)]  # the forkserver's children
    os.kill(workers[0], signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr and stderr.count("\n") == 1
    assert f"worker process {workers[0]} was killed by SIGKILL" in stderr
    assert re.search(r"while running run \d+;", stderr)
    assert f"forumsim sweep kill.yaml --out {out} --resume" in stderr
    assert not (out / LOCK).exists()


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with WriterLock.acquire(out, LOCK, "sweep"):
        with pytest.raises(StoreError, match=rf"another forumsim sweep is writing here "
                                             rf"\(process {os.getpid()} on "):
            run_sweep(load_sweep(TINY), out, executor="inline")
        with pytest.raises(StoreError, match="another forumsim sweep"):
            run_sweep(load_sweep(TINY), out, executor="inline", resume=True)
    assert sorted(p.name for p in out.iterdir()) == []  # refused before writing anything
    outcome = run_sweep(load_sweep(TINY), out, executor="inline")  # the lock is released
    assert outcome.tally.done == 8 and not (out / LOCK).exists()


def test_a_stale_lock_is_taken_over_and_another_hosts_lock_is_respected(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (tmp_path / LOCK).write_text(json.dumps({"pid": int(gone.stdout), "host": socket.gethostname(),
                                             "started": "earlier"}))
    WriterLock.acquire(tmp_path, LOCK, "sweep").release()  # its process is gone
    (tmp_path / LOCK).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                             "process_start": "0", "started": "earlier"}))
    WriterLock.acquire(tmp_path, LOCK, "sweep").release()  # the pid is another process now
    (tmp_path / LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere.example",
                                             "started": "earlier"}))
    with pytest.raises(StoreError, match="process 1 on elsewhere.example.*delete"):
        WriterLock.acquire(tmp_path, LOCK, "sweep")


def test_an_unreachable_scheduler_leaves_nothing_and_the_plain_command_then_works(tmp_path):
    from typer.testing import CliRunner

    from forumsim.ui.cli import app

    out = tmp_path / "deep" / "out"
    for address in ("tcp://127.0.0.1:9", "garbage-address"):
        result = CliRunner().invoke(app, ["sweep", str(TINY), "--out", str(out),
                                          "--scheduler", address, "-q"])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert f"cannot reach the Dask scheduler at {address}" in " ".join(
            result.output.split())
        assert list(tmp_path.iterdir()) == []
    again = CliRunner().invoke(app, ["sweep", str(TINY), "--out", str(out), "--executor",
                                     "inline", "-q"])
    assert again.exit_code == 0, again.output


def test_a_full_disk_is_refused_before_the_sweep_writes_anything(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)._replace(free=1 << 20)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)
    with pytest.raises(StoreError, match="only 1.0 MB free"):
        run_sweep(load_sweep(TINY), tmp_path / "out", executor="inline")
    assert list(tmp_path.iterdir()) == []


def test_a_write_failing_half_way_leaves_no_temporary_file(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError):
        run_sweep(load_sweep(TINY), tmp_path / "out", executor="inline")
    assert list(tmp_path.iterdir()) == []
