"""Paired runs: an intervention is measured against the same scenario and seed without it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from forumsim import load_scenario
from forumsim.experiment.runner import run, simulate
from forumsim.ui.cli import app
from forumsim.world.scenario import parse_scenario


def _with(scenario, *interventions):
    data = scenario.model_dump()
    data["interventions"] = list(interventions)
    return parse_scenario(data)


@pytest.fixture(scope="module")
def paired(small_scenario):
    scenario = _with(small_scenario.overridden(people=3000),
                     {"type": "takedown", "day": 90, "target": "largest"})
    return run(scenario)


def test_without_interventions_paired_runs_are_identical(small_scenario):
    scenario = small_scenario.overridden(days=60)
    a, b = simulate(scenario), simulate(scenario.without_interventions())
    assert a.ecosystem.equals(b.ecosystem) and a.forums.equals(b.forums)


def test_paired_runs_are_identical_until_the_shock(paired):
    before = paired.ecosystem["day"] < 90
    assert paired.ecosystem[before].equals(paired.counterfactual[before])
    after = ~before
    assert not paired.ecosystem[after]["active_people"].equals(
        paired.counterfactual[after]["active_people"])


def test_takedown_record_has_every_resilience_figure(paired):
    record = paired.metrics["interventions"][0]
    assert {"type", "day", "target", "loss", "days_to_recovery", "triangle", "lasting_loss",
            "displaced", "rehomed_30d", "top_destination_share", "successor_fora",
            "arrested"} <= set(record)
    assert record["type"] == "takedown" and record["day"] == 90
    assert 0.05 < record["loss"] <= 1.0
    assert record["triangle"] > 0
    assert record["displaced"] > 0 and 0 < record["rehomed_30d"] <= 1
    assert 0 < record["top_destination_share"] <= 1
    assert sum(record["destinations"].values()) == round(record["rehomed_30d"]
                                                          * record["displaced"])


def test_seizing_the_largest_forum_costs_more_person_days_than_the_smallest(paired,
                                                                          small_scenario):
    smallest = min(small_scenario.fora, key=lambda f: f.size_weight).name
    minor = run(_with(small_scenario.overridden(people=3000),
                      {"type": "takedown", "day": 90, "target": smallest}))
    major, minor = paired.metrics["interventions"][0], minor.metrics["interventions"][0]
    assert major["triangle"] > 2 * minor["triangle"]
    assert major["loss"] > minor["loss"]


def test_arresting_a_forums_whole_staff_costs_more_than_as_many_random_arrests(small_scenario):
    scenario = _with(small_scenario, {"type": "arrests", "day": 60, "share": 1.0,
                                      "strategy": "staff", "forum": small_scenario.fora[0].name})
    record = run(scenario).metrics["interventions"][0]
    assert record["arrested"] >= 2
    # The forum loses everyone who runs it and closes; random arrests barely register.
    assert record["loss"] > 0.1
    assert record["loss"] > 3 * record["loss_random"]
    assert record["kpd"] > 3 or np.isnan(record["kpd"])


def test_run_with_interventions_writes_records_and_shock_figures(tmp_path):
    path = tmp_path / "shock.yaml"
    path.write_text("extends: small\nname: shock\npeople: 1500\n"
                    "interventions:\n  - {type: takedown, day: 60, target: largest}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["interventions"][0]["type"] == "takedown"
    counterfactual = pq.read_table(out / "counterfactual.parquet").to_pandas()
    assert len(counterfactual) == 180 and "active_people" in counterfactual
    # The folder holds everything needed to reproduce the run.
    again = run(load_scenario(out / "scenario.yaml"))
    assert json.loads(json.dumps(again.metrics)) == summary["metrics"]
    names = {p.name for p in (out / "figures").glob("*.png")}
    assert {"activity_vs_counterfactual.png", "members_around_shocks.png",
            "displaced_destinations.png"} <= names
    assert "against the counterfactual" in result.output


@pytest.mark.parametrize("name", ["takedown_largest", "decapitation", "key_players_single"])
def test_shipped_experiments_are_valid(name):
    from forumsim import load_scenario
    scenario = load_scenario(Path(__file__).parents[1] / "experiments" / f"{name}.yaml")
    assert scenario.name == name and scenario.interventions
