"""Nothing the user has is lost to a command that writes: not a file written into a results
folder while `run --overwrite` or `export --overwrite` works on it, not a sub-folder or a
link, not a file `validate --write` is pointed at; and a command stopped by Ctrl-C or
SIGTERM leaves nothing half-written, says so in one line and exits 130 or 143. Each case
runs the real command in its own process, as a user would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

SRC = str(Path(__file__).parents[1] / "src")
TINY_SWEEP = Path(__file__).parent / "data" / "tiny_sweep.yaml"


def forumsim(*args: object, cwd: Path | None = None, preexec_fn=None) -> subprocess.Popen:
    """`forumsim ARGS` in a process of its own (a session of its own, so that signals sent
    to it reach only it), with Ctrl-C acting as in a terminal (a test run started in the
    background ignores SIGINT, and its children would inherit that)."""
    def start() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if preexec_fn is not None:
            preexec_fn()

    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "forumsim.ui.cli", *map(str, args)],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=start)


def finished(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 120) -> None:
    """Poll `condition` every millisecond until it holds; fail if the process ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the command ended before {what}: "
                                 f"{process.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


RUN = ("run", "small", "--people", "600", "--days", "60", "--quiet")


@pytest.fixture
def earlier_run(tmp_path) -> Path:
    out = tmp_path / "R"
    code, _, stderr = finished(forumsim(*RUN, "--days", "20", "--out", out, "--no-figures"))
    assert code == 0, stderr
    return out


# --- 1. what appears in the folder while the command runs is kept ---------------------------


def test_a_file_written_into_the_folder_while_run_overwrites_it_is_kept(earlier_run):
    out = earlier_run
    process = forumsim(*RUN, "--out", out, "--overwrite")
    staging = out.parent.glob(".R.forumsim-*")
    wait_for(lambda: any(out.parent.glob(".R.forumsim-*")), process, "the results were staged")
    (out / "thesis_draft.txt").write_text("draft\n")  # while the staged results are written
    code, _, stderr = finished(process)
    assert code == 0, stderr
    assert (out / "thesis_draft.txt").read_text() == "draft\n"
    assert json.loads((out / "summary.json").read_text())["days"] == 60  # the new results
    marker = json.loads((out / ".forumsim-run").read_text())
    assert "thesis_draft.txt" not in marker["files"]
    assert not list(staging) and sorted(p.name for p in out.parent.iterdir()) == ["R"]
    again = forumsim(*RUN, "--out", out, "--overwrite")
    code, _, stderr = finished(again)
    assert code == 2 and "thesis_draft.txt" in one_line(stderr)


def test_a_file_written_into_the_folder_while_export_overwrites_it_is_kept(
        exported_sweep, tmp_path):
    out = tmp_path / "csv"
    code, _, stderr = finished(forumsim("export", exported_sweep, "--out", out))
    assert code == 0, stderr
    process = forumsim("export", exported_sweep, "--out", out, "--overwrite")
    wait_for(lambda: any(tmp_path.glob(".csv.forumsim-*")), process, "the export was staged")
    (out / "my_pivot.xlsx").write_text("mine")
    code, _, stderr = finished(process)
    assert code == 0, stderr
    assert (out / "my_pivot.xlsx").read_text() == "mine"
    assert (out / "runs.csv").exists() and not list(tmp_path.glob(".csv.*"))


@pytest.fixture(scope="module")
def exported_sweep(tmp_path_factory) -> Path:
    """A finished sweep whose daily series are long enough that exporting them takes a
    moment (a second or so): the tiny sweep, its series stretched to 20,000 days."""
    from forumsim.experiment.executors import run_sweep
    from forumsim.experiment.plan import load_sweep

    out = tmp_path_factory.mktemp("sweep") / "sweep"
    run_sweep(load_sweep(TINY_SWEEP), out, executor="inline")
    series = pd.read_parquet(out / "series")
    days = pd.DataFrame({"day": range(1, 20_001)})
    long = series.drop(columns="day").drop_duplicates("run_id").merge(days, how="cross")
    for part in (out / "series").glob("part-*.parquet"):
        part.unlink()
    pq.write_table(pa.Table.from_pandas(long, preserve_index=False),
                   out / "series" / "part-00000.parquet")
    return out


def test_a_file_written_into_an_empty_folder_while_run_fills_it_is_kept(tmp_path):
    out = tmp_path / "E"
    out.mkdir()
    process = forumsim(*RUN, "--out", out)
    wait_for(lambda: any(out.glob(".E.forumsim-*")), process, "the results were staged")
    (out / "summary.json").write_text("my own summary")  # where a result goes
    (out / "notes.txt").write_text("notes")
    code, _, stderr = finished(process)
    assert code == 0, stderr
    kept = list(tmp_path.glob("E.kept-*"))
    assert len(kept) == 1 and (kept[0] / "summary.json").read_text() == "my own summary"
    assert f"was moved to {kept[0]}" in stderr
    assert json.loads((out / "summary.json").read_text())["days"] == 60
    assert (out / "notes.txt").read_text() == "notes"


# --- 2. sub-folders and links the user added are never deleted ------------------------------


@pytest.mark.parametrize("added", ["folder", "empty folder", "link", "changed file"])
def test_overwrite_refuses_a_folder_holding_a_users_sub_folder_link_or_edit(
        earlier_run, tmp_path, added):
    out = earlier_run
    data = tmp_path / "data"
    data.mkdir()
    (data / "precious.csv").write_text("1,2\n")
    if added == "folder":
        (out / "my_notes").mkdir()
        (out / "my_notes" / "idea.txt").write_text("idea")
        shown = "my_notes/"
    elif added == "empty folder":
        (out / "my_notes").mkdir()
        shown = "my_notes/"
    elif added == "link":
        (out / "my_link").symlink_to(data)
        shown = "my_link"
    else:
        (out / "scenario.yaml").write_text("# my annotated copy\n")
        shown = "scenario.yaml"
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    code, _, stderr = finished(forumsim(*RUN, "--out", out, "--overwrite"))
    assert code == 2 and shown in one_line(stderr)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    assert (data / "precious.csv").read_text() == "1,2\n"


# --- 3. validate --write replaces only a table it wrote -----------------------------------


@pytest.mark.parametrize("target", ["file", "folder", "fifo"])
def test_validate_refuses_an_output_it_did_not_write_before_validating(tmp_path, target):
    path = tmp_path / "validation.md"
    if target == "file":
        path.write_text("my thesis chapter")
    elif target == "folder":
        path.mkdir()
        (path / "inside.txt").write_text("mine")
    else:
        os.mkfifo(path)
    before = {p.name: (p.read_text() if p.is_file() else None) for p in tmp_path.rglob("*")
              if not p.is_fifo()}
    process = forumsim("validate", "--replicates", "2", "--workers", "1", "--write", path,
                       "--overwrite")
    code, stdout, stderr = finished(process, timeout=60)  # refused before validating
    assert code == 2 and stdout == "", stderr
    assert str(path) in one_line(stderr)
    after = {p.name: (p.read_text() if p.is_file() else None) for p in tmp_path.rglob("*")
             if not p.is_fifo()}
    assert after == before


def test_validate_writes_beside_files_of_its_own_names_and_replaces_only_its_table(
        tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from forumsim.analysis import validate
    from forumsim.ui.cli import app

    rows = [{"key": "p", "pattern": "members who post", "source": "a source", "target": "3%",
             "test": "mean from 2% to 6%", "unit": "share", "mean": 0.03, "low": 0.02,
             "high": 0.04, "n": 3, "passed": True}]
    monkeypatch.setattr(validate, "timed_validate", lambda **kwargs: (rows, 1.0))
    path = tmp_path / "validation.md"
    partial = tmp_path / "validation.md.partial"  # the temporary name the old code used
    partial.write_text("mine")
    runner = CliRunner()
    assert runner.invoke(app, ["validate", "--quick", "--write", str(path)]).exit_code == 0
    assert partial.read_text() == "mine" and "members who post" in path.read_text()
    again = runner.invoke(app, ["validate", "--quick", "--write", str(path)])
    assert again.exit_code == 2 and "add --overwrite" in again.output
    assert runner.invoke(app, ["validate", "--quick", "--write", str(path),
                               "--overwrite"]).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["validation.md",
                                                          "validation.md.partial"]


# --- 5. SIGTERM and Ctrl-C: one line, a distinct exit code, nothing half-written ------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("into", ["new", "empty"])
def test_a_run_stopped_while_writing_leaves_nothing_and_says_so(tmp_path, signum, into):
    out = tmp_path / "D"
    home = out if into == "empty" else tmp_path
    for _ in range(3):  # until the signal comes while the results are being written
        if into == "empty":
            out.mkdir(exist_ok=True)
        process = forumsim(*RUN, "--out", out)
        wait_for(lambda: any(home.glob(".D.forumsim-*")), process, "the results were staged")
        process.send_signal(signal.SIGSTOP)
        if any(home.glob(".D.forumsim-*")) and not (out / "summary.json").exists():
            break
        process.send_signal(signal.SIGCONT)  # too late, on a busy machine: again
        finished(process)
        shutil.rmtree(out)
    process.send_signal(signum)
    process.send_signal(signal.SIGCONT)
    code, _, stderr = finished(process)
    assert code == 128 + signum, stderr
    line = one_line(stderr)
    assert line.startswith("interrupted (") and f"nothing was written to {out}" in line
    assert list(home.iterdir()) == []
    again = forumsim(*RUN, "--out", out, "--no-figures")  # the folder is usable at once
    assert finished(again)[0] == 0


def _holds_open(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open (it is reading it)."""
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path)
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(int(entry))
        except OSError:
            continue
    return found


def _stopped(process: subprocess.Popen) -> str:
    """SIGTERM `process`; its one line, once it has ended with 143."""
    process.send_signal(signal.SIGTERM)
    code, _, stderr = finished(process, timeout=120)
    assert code == 143, stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("interrupted (SIGTERM): ") and "Traceback" not in stderr, stderr
    return line


def test_an_export_stopped_while_writing_leaves_nothing(exported_sweep, tmp_path):
    process = forumsim("export", exported_sweep, "--out", tmp_path / "csv")
    wait_for(lambda: any(tmp_path.glob(".csv.forumsim-*")), process, "the export was staged")
    assert f"nothing was written to {tmp_path / 'csv'}" in _stopped(process)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="reads /proc")
def test_a_summary_stopped_while_reading_leaves_nothing(tmp_path):
    posts = tmp_path / "posts.csv"
    rows = "".join(f"{i},{i // 3},F{i % 5},a{i % 997},2021-01-{1 + i % 28:02d}T00:00:00Z,\n"
                   for i in range(1_000_000))
    posts.write_text("post_id,thread_id,forum,author,timestamp,reply_to\n" + rows)
    process = forumsim("data", "summarize", posts, "--out", tmp_path / "t.json")
    wait_for(lambda: _holds_open(process.pid, posts), process, "the table is read")
    assert f"nothing was written to {tmp_path / 't.json'}" in _stopped(process)
    assert sorted(tmp_path.iterdir()) == [posts]


def test_a_report_stopped_while_drawing_leaves_no_half_figure(exported_sweep):
    figures = exported_sweep / "figures"
    before = set(figures.glob("*")) if figures.exists() else set()
    process = forumsim("report", exported_sweep)
    wait_for(lambda: figures.exists() and set(figures.glob("*.png")) - before, process,
             "a figure is drawn")
    assert "the report in" in _stopped(process)
    assert not list(exported_sweep.rglob("*.tmp")) and not list(figures.glob(".*"))


def test_a_calibration_stopped_keeps_what_it_did_and_resumes(tmp_path):
    (tmp_path / "calibration.yaml").write_text(CALIBRATION.replace("generations: 1",
                                                                   "generations: 2"))
    out = tmp_path / "cal"
    process = forumsim("calibrate", "calibration.yaml", "--out", out, cwd=tmp_path)
    wait_for(lambda: (out / "history.db").exists(), process, "the calibration started")
    line = _stopped(process)
    assert f"continue with: forumsim calibrate calibration.yaml --out {out} --resume" in line
    assert not (out / ".forumsim-calibrate.lock").exists()
    resumed = forumsim("calibrate", "calibration.yaml", "--out", out, "--resume",
                       cwd=tmp_path)
    code, _, stderr = finished(resumed)
    assert code == 0, stderr


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_validation_stopped_ends_at_once_with_its_workers(tmp_path):
    process = forumsim("validate", "--replicates", "2", "--workers", "2", cwd=tmp_path)
    wait_for(lambda: len(_children(process.pid)) >= 2, process, "the workers started")
    time.sleep(1)
    children = _children(process.pid)
    assert _stopped(process) == "interrupted (SIGTERM): nothing was written."
    time.sleep(1)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()
                and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]]


# --- a full or read-only disk: one line, nothing half-written -------------------------------


SMALL_POSTS = ("post_id,thread_id,forum,author,timestamp,reply_to\n"
               "1,1,F,a,2021-01-01T00:00:00Z,\n2,1,F,b,2021-01-02T00:00:00Z,1\n")
CALIBRATION = ("name: quick\nbase: small\nfixed: {people: 500, days: 40}\n"
               "parameters: {behaviour.reply_share: {uniform: [0.2, 0.9]}}\n"
               "targets: {published: {reply_share: {value: 0.5, tolerance: 0.1}}}\n"
               "fit: [reply_share]\npopulation: 5\ngenerations: 1\npredictive: 0\n")


def _command(name: str, folder: Path, sweep: Path, out: Path) -> list[object]:
    (folder / "posts.csv").write_text(SMALL_POSTS)
    (folder / "calibration.yaml").write_text(CALIBRATION)
    return {"summarize": ["data", "summarize", folder / "posts.csv", "--out", out / "t.json"],
            "export": ["export", sweep, "--out", out / "csv"],
            "calibrate": ["calibrate", folder / "calibration.yaml", "--out", out / "cal"]}[name]


def _limited(size: int):
    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


@pytest.mark.parametrize("name", ["summarize", "export", "calibrate"])
def test_a_full_disk_ends_the_command_in_one_line(exported_sweep, tmp_path, name):
    # Files over 1 kB cannot be written (as on a full disk: the write fails, EFBIG here).
    args = _command(name, tmp_path, exported_sweep, tmp_path / "out")
    code, _, stderr = finished(forumsim(*args, preexec_fn=_limited(1024)))
    assert code == 1, stderr
    line = stderr.strip().splitlines()[-1]
    assert "Traceback" not in stderr and line.startswith("error: --out ")
    assert "File too large" in line or "disk I/O error" in line
    if name == "calibrate":  # what it did is kept, to resume once there is room
        assert "--resume" in line
    else:
        assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@pytest.fixture
def read_only(tmp_path):
    """A folder on a read-only file system (a read-only tmpfs as root, which ignores file
    permissions; a folder without write permission otherwise)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs",
                              str(folder)], capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a read-only file system here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.parametrize("name", ["summarize", "export", "calibrate"])
def test_a_read_only_place_is_refused_before_the_work(exported_sweep, tmp_path, read_only,
                                                      name):
    args = _command(name, tmp_path, exported_sweep, read_only)
    code, stdout, stderr = finished(forumsim(*args))
    assert code == 2 and stdout == "", stderr
    assert one_line(stderr).startswith(f"error: --out {read_only}")
