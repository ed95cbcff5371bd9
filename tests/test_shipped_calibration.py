"""The calibration of the defaults that ships with the project, and the two files of the
path from a posts table to a policy comparison (`experiments/own_data/`).

The shipped posterior is evidence for the defaults only while it is the posterior of the
current defaults: these tests fail when a default, the base scenario or the calibration
file changes without the calibration being run again, and when a default that the
posterior pins down is not its posterior median."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from forumsim.experiment.calibration import load_calibration
from forumsim.experiment.inference import weighted_quantile
from forumsim.experiment.plan import load_sweep
from forumsim.world.scenario import Behaviour

EXPERIMENTS = Path(__file__).parents[1] / "experiments"
CALIBRATION = EXPERIMENTS / "calibrate_default.yaml"
SHIPPED = EXPERIMENTS / "posteriors" / "calibrate_default"
NARROW = 0.5  # a 90% interval under half the prior's central 90% pins a parameter down


def last_generation() -> pd.DataFrame:
    posterior = pd.read_parquet(SHIPPED / "posterior.parquet")
    return posterior[posterior["generation"] == posterior["generation"].max()]


def test_the_shipped_posterior_is_that_of_the_current_calibration_and_defaults():
    problem = load_calibration(CALIBRATION)
    marker = json.loads((SHIPPED / "calibration.json").read_text())
    assert marker["identity"] == problem.identity(), (
        "the calibration file or the defaults changed since the shipped posterior was made: "
        "run experiments/calibrate_default.yaml again (docs/calibration.md)")
    assert problem.calibration.replicates >= 3
    assert set(problem.calibration.fit) == {
        "posters_among_members", "takedown_1_top_destination_share",
        "takedown_1_recovery_days"}
    assert set(last_generation().columns) - {"generation", "weight"} == {
        f"behaviour.{name}" for name in ("communicator_share", "herding_weight",
                                         "contact_weight", "expectation_days")}


def test_a_default_the_patterns_pin_down_is_its_posterior_median():
    problem = load_calibration(CALIBRATION)
    last = last_generation()
    weights = last["weight"].to_numpy()
    defaults = Behaviour()
    identified = []
    for name, prior in problem.calibration.parameters.items():
        values = last[name].to_numpy()
        # as the calibration's report and calibrated.yaml compute them
        low, median, high = (weighted_quantile(values, weights, q) for q in (0.05, 0.5, 0.95))
        a, b = prior.bounds
        scale = np.log if prior.kind == "log_uniform" else (lambda x: x)
        width = (scale(high) - scale(low)) / (0.9 * (scale(b) - scale(a)))
        if width < NARROW:
            identified.append(name)
            default = getattr(defaults, name.split(".", 1)[1])
            digits = 1 - math.floor(math.log10(abs(median)))  # two significant figures
            assert default == round(median, digits), (name, default, median)
            assert low <= default <= high
    # The documented finding: the posting share is pinned down, the crowd's pull, the
    # contacts' and the expectation's time scale are not.
    assert identified == ["behaviour.communicator_share"]


def test_the_posterior_predictive_check_of_the_defaults_holds_the_posting_share():
    check = json.loads((SHIPPED / "check.json").read_text())
    assert check["source"].endswith("posterior predictive draws")
    posters = check["statistics"]["posters_among_members"]
    assert posters["low"] <= 0.034 <= posters["high"]


def test_the_own_data_files_make_one_path(tmp_path):
    """The calibration and the policy sweep of experiments/own_data/ fit together: the
    sweep's uncertainties are exactly the calibration's parameters, on the same base."""
    for name in ("calibration.yaml", "policies.yaml"):
        shutil.copy(EXPERIMENTS / "own_data" / name, tmp_path / name)
    shutil.copy(Path(__file__).parent / "data" / "tiny_targets.json",
                tmp_path / "targets.json")
    problem = load_calibration(tmp_path / "calibration.yaml")
    parameters = list(problem.calibration.parameters)
    rng = np.random.default_rng(5)
    folder = tmp_path / "posterior"
    folder.mkdir()
    particles = pd.DataFrame({name: rng.uniform(*prior.bounds, size=30) for name, prior
                              in problem.calibration.parameters.items()})
    particles.assign(generation=0, weight=1.0)[["generation", "weight", *parameters]] \
        .to_parquet(folder / "posterior.parquet", index=False)
    (folder / "calibration.json").write_text('{"kind": "calibration"}\n')
    plan = load_sweep(tmp_path / "policies.yaml")
    assert plan.uncertain == parameters
    assert len(plan.runs) == 2 * 12 * 2
    assert plan.base.days == problem.base.days == 365
    assert plan.base.people == problem.base.people


def test_the_calibration_with_run_statistics_is_shipped_as_the_run_it_records():
    """experiments/calibrate_default_run.yaml fits statistics of the run (which no posts
    table has) besides those of its posts; its shipped folder is the run the docs
    describe, whose last generation degenerated (docs/calibration.md)."""
    path = EXPERIMENTS / "calibrate_default_run.yaml"
    problem = load_calibration(path)
    folder = EXPERIMENTS / "posteriors" / "calibrate_default_run"
    marker = json.loads((folder / "calibration.json").read_text())
    assert marker["identity"] == problem.identity()
    assert {"run_share_sharing", "run_takedown_1_rehomed_top_destination_share"} <= set(
        problem.calibration.fit)
    posterior = pd.read_parquet(folder / "posterior.parquet")
    last = posterior[posterior["generation"] == problem.calibration.generations - 1]
    weights = last["weight"].to_numpy()
    assert weights.sum() ** 2 / (weights ** 2).sum() < 5  # the degeneracy the docs report
