"""Calibration files and `forumsim calibrate`: bad files refused in one line, distances
in units of the targets' tolerances, and an ABC-SMC run that can be resumed and whose
calibrated scenario runs."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from forumsim.experiment.calibration import (
    CalibrationError,
    CalibrationFolderError,
    check_folder,
    load_calibration,
)
from forumsim.experiment.files import load_scenario
from forumsim.ui.cli import app

TINY = {
    "name": "quick", "base": "small", "fixed": {"people": 500, "days": 40},
    "parameters": {"behaviour.communicator_share": {"log_uniform": [0.02, 0.2]},
                   "behaviour.herding_days": {"uniform": [2, 30]}},
    "targets": {"published": {"posters_among_members": {"value": 0.05, "tolerance": 0.02},
                              "reply_share": {"value": 0.3, "tolerance": 0.1},
                              "thread_size_mean": {"value": 1.3, "tolerance": 0.2}}},
    "fit": ["posters_among_members", "reply_share"], "hold_out": ["thread_size_mean"],
    "population": 5, "generations": 1, "seed": 3, "predictive": 4,
}


def _file(tmp_path, changes=None, name="calibration.yaml"):
    data = json.loads(json.dumps(TINY))
    data.update(changes or {})
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("changes, words", [
    ({"parameters": {"behaviour.reply_share": {"uniform": [0.9, 0.1]}}}, "low < high"),
    ({"parameters": {"behaviour.reply_share": {"log_uniform": [0.0, 0.5]}}}, "above 0"),
    ({"parameters": {"behaviour.reply_share": {"uniform": [0.1, 0.5], "log_uniform": [1, 2]}}},
     "exactly one of"),
    ({"parameters": {"behaviour.no_such_thing": {"uniform": [0.1, 0.5]}}},
     "parameters.behaviour.no_such_thing"),
    ({"parameters": {"behaviour.reply_share": {"uniform": [0.5, 1.5]}}},
     "parameters.behaviour.reply_share"),
    ({"fit": ["reply_sharing"]}, "'reply_sharing' is not a statistic"),
    ({"hold_out": ["reply_share"]}, "'reply_share' is both fitted and held out"),
    ({"fit": ["reply_clustering"]}, "'reply_clustering' has no target value"),
    ({"fit": ["run_share_nothing"]}, "nor of the simulated run"),
    ({"targets": {"file": "targets.json"}, "fit": ["run_share_sharing"], "hold_out": []},
     "'run_share_sharing' is one of the simulated run"),
    ({"targets": {"file": "missing.json"}}, "not a targets file"),
    ({"population": 2}, "field 'population'"),
    ({"generation": 2}, "unknown field 'generation'"),
    ({"base": "nowhere.yaml"}, "its base scenario is invalid"),
])
def test_a_bad_calibration_file_is_refused_in_one_line(tmp_path, changes, words):
    (tmp_path / "targets.json").write_text(json.dumps(
        {"kind": "forumsim targets", "statistics": {"run_share_sharing": 0.07}}))
    path = _file(tmp_path, changes)
    with pytest.raises(CalibrationError) as caught:
        load_calibration(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message


def test_the_distance_counts_errors_in_tolerances(tmp_path):
    problem = load_calibration(_file(tmp_path))
    assert problem.distance({"posters_among_members": 0.07, "reply_share": 0.3}) == \
        pytest.approx(math.sqrt((1 + 0) / 2))
    assert problem.distance({"posters_among_members": 0.05, "reply_share": None}) == math.inf


def test_targets_from_a_file_count_by_relative_error(tmp_path):
    (tmp_path / "targets.json").write_text(json.dumps(
        {"kind": "forumsim targets", "statistics": {"reply_share": 0.25, "fora": 4,
                                                    "posters_among_members": None}}))
    problem = load_calibration(_file(tmp_path, {
        "targets": {"file": "targets.json",
                    "published": {"posters_among_members": {"value": 0.1, "tolerance": 0.05}}},
        "hold_out": ["fora"]}))
    assert problem.targets == {"posters_among_members": 0.1, "reply_share": 0.25, "fora": 4.0}
    assert problem.scales == {"posters_among_members": 0.05, "reply_share": 0.25, "fora": 4.0}


def test_a_particle_is_a_scenario_with_its_own_seed(tmp_path):
    problem = load_calibration(_file(tmp_path))
    values = {"behaviour.communicator_share": 0.05, "behaviour.herding_days": 20.4}
    scenario = problem.scenario(values, seed=problem.seed_of(values))
    assert scenario.behaviour.herding_days == 20 and scenario.people == 500
    assert problem.seed_of(values) == problem.seed_of(dict(values))
    assert problem.seed_of(values) != problem.seed_of({**values, "behaviour.herding_days": 21})


def test_replicates_average_the_statistics_of_runs_with_seeds_of_their_own(tmp_path):
    from forumsim.experiment.inference import statistics

    values = {"behaviour.communicator_share": 0.1, "behaviour.herding_days": 7}
    single = load_calibration(_file(tmp_path))
    double = load_calibration(_file(tmp_path, {"replicates": 2}, name="double.yaml"))
    seed = single.seed_of(values)
    first, second = double.replicate_seeds(seed)
    assert first == seed != second and single.replicate_seeds(seed) == [seed]
    one = statistics(single, values)
    other = statistics(single, values, second)
    both = statistics(double, values)
    assert one != other  # the second replicate is another run
    for name in both:
        assert both[name] == pytest.approx((one[name] + other[name]) / 2)
    assert double.identity() != single.identity()  # not resumable across the change


def test_statistics_of_the_run_are_those_of_its_metrics(tmp_path):
    """`run_...` statistics (no posts table has them) are the figures `forumsim run`
    reports for the same scenario and seed: the end-of-run shares, and where a
    takedown's displaced people went."""
    from forumsim.experiment.inference import statistics
    from forumsim.experiment.runner import run

    names = {"run_share_sharing": 0.07, "run_takedown_1_rehomed_share": 0.6,
             "run_takedown_1_rehomed_top_destination_share": 0.66,
             "run_takedown_2_rehomed_share": 0.5}
    (tmp_path / "seized.yaml").write_text(yaml.safe_dump({
        "extends": "small", "people": 1500, "days": 120,
        "interventions": [{"type": "takedown", "day": 60, "target": "largest"}]}))
    problem = load_calibration(_file(tmp_path, {
        "base": "seized.yaml", "fixed": {},
        "targets": {"published": {name: {"value": v, "tolerance": 0.1}
                                  for name, v in names.items()}},
        "fit": list(names)[:3], "hold_out": [list(names)[3]]}))
    values = {"behaviour.communicator_share": 0.05, "behaviour.herding_days": 7}
    simulated = statistics(problem, values)
    metrics = run(problem.scenario(values, seed=problem.seed_of(values))).metrics
    shock = metrics["interventions"][0]
    assert shock["displaced"] > 50 and 0 < shock["top_destination_share"] < 1
    assert simulated["run_share_sharing"] == metrics["share_sharing"]
    assert simulated["run_takedown_1_rehomed_share"] == shock["rehomed_30d"]
    assert simulated["run_takedown_1_rehomed_top_destination_share"] == \
        shock["top_destination_share"]
    assert math.isnan(simulated["run_takedown_2_rehomed_share"])  # no second takedown


def test_a_folder_forumsim_did_not_write_is_never_used(tmp_path):
    problem = load_calibration(_file(tmp_path))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(CalibrationFolderError, match="not written by forumsim calibrate"):
        check_folder(mine, problem, resume=False)
    with pytest.raises(CalibrationFolderError, match="no calibration to resume"):
        check_folder(tmp_path / "new", problem, resume=True)


runner = CliRunner()


def test_a_calibration_runs_resumes_and_its_scenario_runs(tmp_path):
    out = tmp_path / "cal"
    first = runner.invoke(app, ["calibrate", str(_file(tmp_path)), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "generation 0: epsilon" in first.output and "simulations so far" in first.output
    assert {"history.db", "posterior.parquet", "calibrated.yaml", "check.json",
            "calibration.json"} <= {p.name for p in out.iterdir()}
    again = runner.invoke(app, ["calibrate", str(_file(tmp_path)), "--out", str(out)])
    assert again.exit_code == 2 and "add --resume" in again.output
    other = _file(tmp_path, {"seed": 4}, name="other.yaml")
    refused = runner.invoke(app, ["calibrate", str(other), "--out", str(out), "--resume"])
    assert refused.exit_code == 2 and "cannot be resumed" in refused.output
    longer = _file(tmp_path, {"generations": 2}, name="longer.yaml")
    resumed = runner.invoke(app, ["calibrate", str(longer), "--out", str(out), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "generation 1: epsilon" in resumed.output
    assert "generation 0:" not in resumed.output  # continued, not started again
    posterior = pd.read_parquet(out / "posterior.parquet")
    assert sorted(posterior["generation"].unique()) == [0, 1]
    assert list(posterior.columns) == ["generation", "weight", "behaviour.communicator_share",
                                       "behaviour.herding_days"]
    assert posterior.groupby("generation")["weight"].sum().round(9).tolist() == [1.0, 1.0]
    last = posterior[posterior["generation"] == 1]
    scenario = load_scenario(out / "calibrated.yaml")
    assert last["behaviour.communicator_share"].min() <= scenario.behaviour.communicator_share \
        <= last["behaviour.communicator_share"].max()
    assert scenario.people == 500 and scenario.days == 40
    assert "over 40 days" in scenario.description and "180 days" not in scenario.description
    check = json.loads((out / "check.json").read_text())
    assert check["statistics"]["thread_size_mean"]["role"] == "held out"
    ran = runner.invoke(app, ["run", str(out / "calibrated.yaml"), "--quiet", "--no-figures",
                              "--out", str(tmp_path / "run")])
    assert ran.exit_code == 0, ran.output
    _check_report(out, longer, generation=1)
    # On a finished calibration, --resume only rewrites the report (from the draws kept).
    drawn = (out / "predictive.parquet").stat().st_mtime_ns
    (out / "report.html").unlink()
    again = runner.invoke(app, ["calibrate", str(longer), "--out", str(out), "--resume"])
    assert again.exit_code == 0, again.output
    assert "already has its 2 generations" in again.output and (out / "report.html").exists()
    assert (out / "predictive.parquet").stat().st_mtime_ns == drawn


def _check_report(out, file, generation):
    """The report, the predictive draws and check.json of a finished calibration."""
    import re

    from forumsim.analysis.calibration_report import predictive_seed

    problem = load_calibration(file)
    draws = pd.read_parquet(out / "predictive.parquet")
    assert len(draws) == 4 and set(draws["generation"]) == {generation}
    last = pd.read_parquet(out / "posterior.parquet").query("generation == @generation")
    names = list(problem.calibration.parameters)
    particles = {tuple(row) for row in last[names].itertuples(index=False)}
    assert all(tuple(row) in particles for row in draws[names].itertuples(index=False))
    # Fresh seeds: the particle's own would only repeat the simulation that accepted it.
    assert list(draws["seed"]) == [predictive_seed(problem, generation, k) for k in range(4)]
    assert not set(draws["seed"]) & {problem.seed_of(dict(zip(names, row, strict=True)))
                                     for row in particles}
    check = json.loads((out / "check.json").read_text())
    assert check["source"] == "4 posterior predictive draws"
    values = draws["thread_size_mean"].dropna()
    row = check["statistics"]["thread_size_mean"]
    assert row["low"] == pytest.approx(values.quantile(0.05))
    assert row["inside"] == (row["low"] <= 1.3 <= row["high"])
    page = (out / "report.html").read_text()
    assert len(re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{200,}"', page)) == 4
    assert "behaviour.herding_days" in page and "Posterior predictive check" in page
    assert "<th>narrowed to</th>" in page and "the width of that interval over" in page
    assert "<th>statistic of the posts</th><th>unit</th>" in page
    assert "<td>thread_size_mean</td><td>posts per thread</td>" in page
    assert "http" not in page.replace("http-equiv", "")  # works offline: nothing fetched


def test_the_predictive_check_says_when_a_target_falls_outside(tmp_path):
    from forumsim.analysis.calibration_report import predictive_check

    problem = load_calibration(_file(tmp_path))
    draws = pd.DataFrame({"generation": 0, "posters_among_members": [0.09, 0.1, 0.11, 0.12],
                          "reply_share": [0.2, 0.3, 0.4, math.nan],
                          "thread_size_mean": math.nan})
    check = predictive_check(problem, draws)["statistics"]
    assert check["posters_among_members"]["inside"] is False  # target 0.05, draws 0.09+
    assert check["reply_share"]["inside"] is True and check["reply_share"]["undefined_draws"] == 1
    assert check["thread_size_mean"]["inside"] is None  # no draw defined it
    assert check["thread_size_mean"]["role"] == "held out"


@pytest.mark.slow
def test_the_tiny_calibration_runs_to_its_last_generation(tmp_path):
    # How long it takes is measured, not tested: docs/calibration.md gives the time.

    tiny = Path(__file__).parent / "data" / "tiny_calibration.yaml"
    result = runner.invoke(app, ["calibrate", str(tiny), "--out", str(tmp_path / "cal"),
                                 "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "generation 2: epsilon" in result.output


def test_a_bad_calibration_file_stops_before_any_heavy_import(tmp_path):
    import subprocess
    import sys

    path = _file(tmp_path, {"fit": ["reply_sharing"]})
    code = ("import sys; from typer.testing import CliRunner; from forumsim.ui.cli import app; "
            f"r = CliRunner().invoke(app, ['calibrate', {str(path)!r}]); print(r.exit_code); "
            "print(sorted(m for m in ('pandas', 'mesa', 'pyabc') if m in sys.modules))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.split("\n")
    assert shown[:2] == ["2", "[]"]


def test_workers_and_a_scheduler_exclude_each_other(tmp_path):
    result = runner.invoke(app, ["calibrate", str(_file(tmp_path)), "--out",
                                 str(tmp_path / "cal"), "--workers", "2", "--scheduler",
                                 "tcp://127.0.0.1:8786"])
    assert result.exit_code == 2 and "exclude each other" in result.output
    assert not (tmp_path / "cal").exists()


@pytest.mark.slow  # 47 s on 2 shared cores: the cluster's start and pyabc's polling
def test_a_calibration_runs_on_a_dask_cluster(tmp_path):
    import logging

    import dask
    from distributed import LocalCluster

    out = tmp_path / "cal"
    with dask.config.set({"distributed.worker.profile.enabled": False}), LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        result = runner.invoke(app, ["calibrate", str(_file(tmp_path)), "--out", str(out),
                                     "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    assert f"the Dask cluster at {cluster.scheduler_address}" in result.output
    posterior = pd.read_parquet(out / "posterior.parquet")
    assert len(posterior) == 5 and posterior["weight"].sum() == pytest.approx(1)
    assert len(pd.read_parquet(out / "predictive.parquet")) == 4
    assert (out / "report.html").exists()


@pytest.mark.slow
def test_calibration_recovers_known_values_of_a_synthetic_community(tmp_path):
    """A community exported from known values, summarised, and calibrated from wide priors:
    each posterior median lies nearer the truth than the prior's median, and each 90%
    interval is under three quarters of the prior's (benchmarks/calibration.py repeats
    this over several data sets and three parameters, for coverage)."""
    from forumsim.experiment.forum_data import exported_community
    from forumsim.experiment.inference import weighted_quantile
    from forumsim.experiment.runner import simulate
    from forumsim.experiment.targets import summarize, write_targets
    from forumsim.world.scenario import embedded_scenario

    truth = {"behaviour.communicator_share": 0.09, "behaviour.reply_share": 0.35}
    priors = {"behaviour.communicator_share": ("log_uniform", 0.01, 0.16),
              "behaviour.reply_share": ("uniform", 0.2, 0.95)}
    fixed = {"people": 3000, "days": 150}
    calibration = {
        "name": "recovery", "base": "small", "fixed": fixed,
        "parameters": {name: {kind: [low, high]} for name, (kind, low, high) in priors.items()},
        "targets": {"file": "targets.json"}, "fit": ["posters_among_members", "reply_share"],
        "hold_out": ["thread_size_mean"], "population": 30, "generations": 3, "seed": 5,
        "predictive": 0}
    file = tmp_path / "recovery.yaml"
    file.write_text(yaml.safe_dump(calibration))
    scenario = embedded_scenario("small").overridden(seed=77, **fixed, **truth)
    exported = simulate(scenario, export_posts=True).community
    write_targets(summarize(exported_community(exported)), tmp_path / "targets.json")
    result = runner.invoke(app, ["calibrate", str(file), "--out", str(tmp_path / "cal"),
                                 "--workers", "2"])
    assert result.exit_code == 0, result.output
    posterior = pd.read_parquet(tmp_path / "cal" / "posterior.parquet").query("generation == 2")
    for name, (kind, low, high) in priors.items():
        scale = (lambda x: x) if kind == "uniform" else math.log
        values, weights = posterior[name].to_numpy(), posterior["weight"].to_numpy()
        five, median, ninety_five = (scale(weighted_quantile(values, weights, q))
                                     for q in (0.05, 0.5, 0.95))
        prior_median = (scale(low) + scale(high)) / 2
        shown = f"{name}: posterior {median:.3g} [{five:.3g}, {ninety_five:.3g}] (prior scale)"
        assert abs(median - scale(truth[name])) < abs(prior_median - scale(truth[name])), shown
        assert ninety_five - five < 0.75 * 0.9 * (scale(high) - scale(low)), shown


# --- one writer, exact resumes, no stray workers: through the real command ----------------

SRC = str(Path(__file__).parents[1] / "src")


def _calibrate(*args, cwd):
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen([sys.executable, "-m", "forumsim.ui.cli", "calibrate",
                             *map(str, args)], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def _wait_for(path, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, f"timed out waiting for {path}"
        time.sleep(0.01)


LONGER = {"generations": 3, "predictive": 0}


def test_a_second_calibration_into_a_running_ones_folder_is_refused(tmp_path):
    file = _file(tmp_path, LONGER)
    out = tmp_path / "cal"
    first = _calibrate(file, "--out", out, cwd=tmp_path)
    _wait_for(out / "history.db", first)
    second = _calibrate(file, "--out", out, "--resume", cwd=tmp_path)
    _, stderr = second.communicate(timeout=120)
    assert second.returncode == 2 and stderr.count("\n") == 1, stderr
    assert "another forumsim calibrate is writing here" in stderr
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    posterior = pd.read_parquet(out / "posterior.parquet")
    assert posterior.groupby("generation").size().tolist() == [5, 5, 5]  # no mixture


def test_a_killed_calibration_resumes_to_what_an_uninterrupted_one_gives(tmp_path):
    file = _file(tmp_path, LONGER)
    whole = _calibrate(file, "--out", tmp_path / "whole", cwd=tmp_path)
    assert whole.wait(timeout=300) == 0
    out = tmp_path / "killed"
    killed = _calibrate(file, "--out", out, cwd=tmp_path)
    _wait_for(out / "posterior.parquet", killed)  # generation 0 is stored
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert len(pd.read_parquet(out / "posterior.parquet")["generation"].unique()) < 3
    resumed = _calibrate(file, "--out", out, "--resume", cwd=tmp_path)
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / "posterior.parquet"),
                                  pd.read_parquet(tmp_path / "whole" / "posterior.parquet"))
    assert (out / "calibrated.yaml").read_text() == \
        (tmp_path / "whole" / "calibrated.yaml").read_text().replace("whole", "killed")


def test_a_history_two_calibrations_wrote_into_is_not_resumed(tmp_path):
    import pyabc

    out = tmp_path / "cal"
    assert runner.invoke(app, ["calibrate", str(_file(tmp_path, {"predictive": 0})),
                               "--out", str(out)]).exit_code == 0
    history = pyabc.History(f"sqlite:///{out / 'history.db'}")
    history.id = 1
    history.append_population(0, 1.0, history.get_population(t=0), 10, ["model"])
    longer = _file(tmp_path, LONGER, name="longer.yaml")
    result = runner.invoke(app, ["calibrate", str(longer), "--out", str(out), "--resume"])
    assert result.exit_code == 2
    assert "two populations for generation 0" in " ".join(result.output.split())


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_workers_of_a_killed_calibration_end_with_it(tmp_path):
    out = tmp_path / "cal"
    slow = {**LONGER, "fixed": {"people": 30_000, "days": 730}}  # each simulation: ~20 s
    process = _calibrate(_file(tmp_path, slow), "--out", out, "--workers", "2", cwd=tmp_path)
    _wait_for(out / "history.db", process)
    time.sleep(1.0)  # the workers of generation 0 are running

    def group() -> list[int]:
        alive = []
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == process.pid and fields[0] != "Z":
                alive.append(int(entry))
        return alive

    assert len(group()) >= 3  # the command and its two workers
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 3  # they used to run on to the end of their simulation
    while group() and time.monotonic() < deadline:
        time.sleep(0.05)
    left = group()
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], "workers outlived the calibration"
