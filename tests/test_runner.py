"""Paired runs: an intervention is measured against the same scenario and seed without it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from forumsim import Ecosystem, load_scenario
from forumsim.experiment.runner import (
    _random_variant,
    intervention_record,
    policy_record,
    run,
    simulate,
)
from forumsim.experiment.store import write_run
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
    def arrest_staff(handover_min_thanks: int) -> dict:
        scenario = _with(small_scenario, {"type": "arrests", "day": 60, "share": 1.0,
                                          "strategy": "staff",
                                          "forum": small_scenario.fora[0].name})
        scenario.behaviour.handover_min_thanks = handover_min_thanks
        return run(scenario).metrics["interventions"][0]
    # Without a trusted member to take over, the forum closes with everyone who runs it:
    # as many random arrests cost far less.
    closing = arrest_staff(10**9)
    assert closing["arrested"] >= 2
    assert closing["loss"] > 0.1
    assert closing["kpd_low"] > 2 and closing["kpd_low"] < closing["kpd"] < closing["kpd_high"]
    # When any member still there may take over, the forum carries on and the loss is
    # far smaller (over replicates: test_mechanisms.py, the hand-over ablation).
    handed = arrest_staff(0)
    assert handed["arrested"] == closing["arrested"]
    assert handed["loss"] < 0.5 * closing["loss"]


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


def _from_scratch(scenario):
    """What `run` computed before it forked: every paired run simulated from day 0."""
    result = simulate(scenario)
    counterfactual = simulate(scenario.without_interventions())
    result.counterfactual = counterfactual.ecosystem
    specs = scenario.interventions
    several = len(specs) > 1
    # With several shocks, each is measured against the scenario without that one.
    baselines = {i: simulate(scenario.model_copy(update={
        "interventions": [s for j, s in enumerate(specs) if j != i]})) if several
        else counterfactual for i in range(len(specs))}
    draws = range(scenario.measurement.random_arrest_draws)
    randoms = {i: [simulate(_random_variant(result, i, draw)) for draw in draws]
               for i, spec in enumerate(specs)
               if spec.type == "arrests" and spec.strategy != "random"}
    result.metrics["interventions"] = [
        intervention_record(result, baselines[i], i, randoms.get(i))
        for i in range(len(specs))]
    for record in result.metrics["interventions"]:
        record["counterfactual"] = "without this shock" if several else "without shocks"
    result.metrics["policy"] = policy_record(result, counterfactual)
    return result


@pytest.mark.parametrize("shocks", [
    [{"type": "takedown", "day": 70, "target": "largest", "publicized": True}],
    [{"type": "arrests", "day": 50, "k": 6, "strategy": "degree"}],
    # The variant of the later targeted arrests forks from the run with the takedown.
    [{"type": "takedown", "day": 30, "target": "largest", "data_seized": 0.3},
     {"type": "arrests", "day": 90, "k": 4, "strategy": "betweenness"}],
], ids=["takedown", "targeted_arrests", "takedown_then_targeted_arrests"])
def test_forked_paired_runs_write_what_runs_from_day_0_write(small_scenario, shocks,
                                                            tmp_path):
    scenario = _with(small_scenario.overridden(people=1500, days=130), *shocks)
    forked, scratch = run(scenario), _from_scratch(scenario)
    assert json.dumps(forked.metrics) == json.dumps(scratch.metrics)
    assert forked.counterfactual.equals(scratch.counterfactual)
    a, b = (write_run(result, tmp_path / name).folder
            for result, name in ((forked, "forked"), (scratch, "scratch")))
    for name in ("ecosystem.parquet", "forums.parquet", "counterfactual.parquet",
                 "scenario.yaml"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    # The shocks changed the run: the comparison is not between identical runs.
    assert not forked.ecosystem.equals(forked.counterfactual)
    records = forked.metrics["interventions"]
    assert all(r["arrested"] > 0 for r in records if r["type"] == "arrests")
    assert all("kpd" in r for r in records if r["type"] == "arrests")


def test_a_fork_continues_exactly_as_the_model_it_was_taken_from(small_scenario):
    scenario = small_scenario.overridden(days=120)
    eco = Ecosystem(scenario).run(50)
    twin = eco.fork()
    assert twin.time == eco.time == 50
    eco.run(70)
    assert twin.day == 50  # stepping the original leaves the fork where it was
    twin.run(70)
    fresh = Ecosystem(scenario).run()
    for model in (eco, twin):
        daily = model.datacollector.get_model_vars_dataframe()
        assert daily.equals(fresh.datacollector.get_model_vars_dataframe())
        forums = model.datacollector.get_table_dataframe("forums")
        assert forums.equals(fresh.datacollector.get_table_dataframe("forums"))
    assert all(agent.model is twin for agent in twin.agents)
    assert sorted(twin.persons) == sorted(fresh.persons)
    assert {cls: len(agents) for cls, agents in twin.agents_by_type.items()} == {
        cls: len(agents) for cls, agents in fresh.agents_by_type.items()}


def test_a_fork_can_drop_one_shock_and_keep_the_others(small_scenario):
    shocks = [{"type": "outage", "day": 80, "target": "largest", "duration_days": 10},
              {"type": "takedown", "day": 40, "target": "largest"}]
    scenario = _with(small_scenario.overridden(people=1500, days=120), *shocks)
    eco = Ecosystem(scenario).run(79)
    assert [(e.type, e.index) for e in eco.events] == [("takedown", 1)]
    without_outage = eco.fork(scenario.interventions[1:])
    without_outage.run(41)
    expected = Ecosystem(_with(scenario, shocks[1])).run()
    assert without_outage.datacollector.get_model_vars_dataframe().equals(
        expected.datacollector.get_model_vars_dataframe())
    # The takedown's record is renumbered to its place in the shorter list.
    assert [(e.type, e.index) for e in without_outage.events] == [("takedown", 0)]
    assert [(e.type, e.index) for e in eco.events] == [("takedown", 1)]  # original intact
    assert without_outage.config.interventions == expected.config.interventions
