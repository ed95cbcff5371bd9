"""The same sweep on a Dask cluster gives the same results as on the local process pool:
a LocalCluster (`--executor dask-local`), and a scheduler with two workers started by hand
on loopback (`--scheduler tcp://...`), as docs/distributed.md describes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from forumsim.ui.cli import app

TINY = Path(__file__).parent / "data" / "tiny_sweep.yaml"
SRC = str(Path(__file__).parents[1] / "src")
runner = CliRunner()


@pytest.fixture(scope="module")
def on_process_pool(tmp_path_factory):
    out = tmp_path_factory.mktemp("pool") / "out"
    result = runner.invoke(app, ["sweep", str(TINY), "--out", str(out), "--workers", "2", "-q"])
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out / "summary.parquet")


def test_dask_local_cluster_gives_the_same_summary_as_the_process_pool(on_process_pool,
                                                                        tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["sweep", str(TINY), "--out", str(out), "--executor",
                                 "dask-local", "--workers", "2", "-q"])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), on_process_pool)
    session = json.loads((out / "manifest.json").read_text())["sessions"][0]
    assert session["executor"] == "a Dask LocalCluster of 2"


def _dask(*args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen([sys.executable, "-m", "dask", *args], env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


@pytest.fixture
def loopback_cluster(tmp_path):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1."""
    yield from _cluster(tmp_path)


@pytest.fixture
def small_workers(tmp_path):
    """A scheduler and two workers of 500 MB each, on 127.0.0.1."""
    yield from _cluster(tmp_path, "--memory-limit", "500MB")


def _cluster(tmp_path, *worker_options: str):
    address_file = tmp_path / "scheduler.json"
    processes = [_dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                       "--scheduler-file", str(address_file), log=tmp_path / "scheduler.log")]
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists():
            assert processes[0].poll() is None, (tmp_path / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written whole, but give it a moment
        address = json.loads(address_file.read_text())["address"]
        for i in range(2):
            processes.append(_dask("worker", address, "--nthreads", "1", "--nworkers", "1",
                                   "--host", "127.0.0.1", "--no-dashboard", *worker_options,
                                   log=tmp_path / f"worker{i}.log"))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def test_a_sweep_on_a_scheduler_with_two_loopback_workers_matches_the_process_pool(
        on_process_pool, loopback_cluster, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run([sys.executable, "-m", "forumsim.ui.cli", "sweep", str(TINY), "--out",
                           str(out), "--scheduler", loopback_cluster, "-q"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), on_process_pool)
    session = json.loads((out / "manifest.json").read_text())["sessions"][0]
    assert session["executor"] == f"the Dask cluster at {loopback_cluster}"
    workers = set(pd.read_parquet(out / "runs")["worker"])
    assert len(workers) == 2  # both workers ran runs


def test_runs_a_clusters_workers_cannot_hold_are_refused_before_any_starts(small_workers,
                                                                         tmp_path):
    sweep = tmp_path / "big.yaml"
    sweep.write_text(TINY.read_text().replace("people: 400", "people: 400000"))
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run([sys.executable, "-m", "forumsim.ui.cli", "sweep", str(sweep),
                           "--out", str(tmp_path / "out"), "--scheduler", small_workers, "-q"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    message = " ".join(done.stderr.split())
    assert "400,000 people and 3 fora" in message
    assert "2 of the cluster's 2 workers cannot hold that" in message
    assert not (tmp_path / "out").exists()
