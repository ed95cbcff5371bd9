"""The EMA Workbench round trip: a forumsim sweep file as an EMA ReplicatorModel that EMA
runs itself, and a forumsim sweep folder as EMA's (experiments, outcomes), on a tiny sweep
whose runs both sides must agree on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forumsim.ema import ema_name, replicator_model, scenario_path, sweep_results
from forumsim.experiment.executors import run_sweep
from forumsim.experiment.plan import load_sweep

SWEEP = Path(__file__).parent / "data" / "ema_sweep.yaml"
OUTCOMES = ["active_people_mean_last30", "iv0_loss", "online_fora"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ema") / "out"
    run_sweep(load_sweep(SWEEP), out, executor="inline")
    return out


def test_names_are_identifiers_and_map_back():
    assert ema_name("behaviour.home_loyalty") == "behaviour__home_loyalty"
    assert ema_name("fora.0.size_weight").isidentifier()
    assert scenario_path(ema_name("fora.0.size_weight")) == "fora.0.size_weight"


def test_the_model_has_the_sweeps_uncertainties_levers_outcomes_and_seeds():
    from ema_workbench import CategoricalParameter, RealParameter

    model = replicator_model(SWEEP)
    uncertainties = {u.name: u for u in model.uncertainties}
    assert set(uncertainties) == {"behaviour__home_loyalty", "fora__0__size_weight"}
    assert isinstance(uncertainties["behaviour__home_loyalty"], RealParameter)
    assert (uncertainties["behaviour__home_loyalty"].lower_bound,
            uncertainties["behaviour__home_loyalty"].upper_bound) == (0.5, 0.95)
    assert isinstance(uncertainties["fora__0__size_weight"], CategoricalParameter)
    [lever] = model.levers
    assert lever.name == "policy_name"
    assert [c.value for c in lever.categories] == ["none", "seize"]
    assert [o.name for o in model.outcomes] == OUTCOMES
    plan = load_sweep(SWEEP)  # common seeds: replicate r of every point has one seed
    assert [r["seed"] for r in model.replications] == [plan.runs[0].seed, plan.runs[1].seed]


def test_ema_runs_the_model_and_gets_what_the_sweep_got(folder):
    from ema_workbench import Sample, SequentialEvaluator

    model = replicator_model(SWEEP)
    summary = pd.read_parquet(folder / "summary.parquet")
    run = summary[(summary["policy"] == "seize") & (summary["scenario"] == 1)]
    loyalty = float(run["behaviour.home_loyalty"].iloc[0])
    weight = float(run["fora.0.size_weight"].iloc[0])
    scenario = Sample(name="s1", behaviour__home_loyalty=loyalty, fora__0__size_weight=weight)
    policy = Sample(name="seize", policy_name="seize")
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=[scenario],
                                                              policies=[policy])
    assert len(experiments) == 1 and outcomes["iv0_loss"].shape == (1, 2)
    for name in OUTCOMES:  # EMA's replications are forumsim's replicates, run for run
        expected = run.sort_values("replicate")[name].to_numpy(dtype=float)
        np.testing.assert_allclose(outcomes[name][0], expected)


def test_a_sweep_folder_reads_as_emas_experiments_and_outcomes(folder):
    from ema_workbench.analysis import prim
    from ema_workbench.util import process_replications

    experiments, outcomes = sweep_results(folder)
    assert len(experiments) == 6  # 3 scenarios x 2 policies
    assert {"behaviour__home_loyalty", "fora__0__size_weight", "policy_name", "policy",
            "scenario", "model"} <= set(experiments.columns)
    summary = pd.read_parquet(folder / "summary.parquet")
    loss = outcomes["iv0_loss"]
    assert loss.shape == (6, 2)
    seize = summary[(summary["policy"] == "seize") & (summary["scenario"] == 2)]
    row = experiments.index[(experiments["policy"] == "seize")
                            & (experiments["scenario"] == 2)][0]
    np.testing.assert_allclose(np.sort(loss[row]), np.sort(seize["iv0_loss"]))
    assert np.isnan(loss[experiments["policy"] == "none"]).all()  # no record without one
    _, means = process_replications((experiments, outcomes))
    assert means["active_people_mean_last30"].shape == (6,)
    # EMA's own analysis runs on it
    x = experiments[["behaviour__home_loyalty"]]
    y = means["active_people_mean_last30"] < np.median(means["active_people_mean_last30"])
    assert prim.Prim(x, y).find_box() is not None
