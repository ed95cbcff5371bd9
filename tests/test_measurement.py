"""What a shock's measurement counts: current members, the arrested left out of the
rehomed, a seized forum's staff gone, replies only to people still there, and traits that
stay put when another trait's parameter changes."""

from __future__ import annotations

import numpy as np
import pytest

from forumsim.experiment.runner import run, simulate, smoothed
from forumsim.measures import metrics
from forumsim.world.agents import State
from forumsim.world.forum import Status
from forumsim.world.model import Ecosystem
from forumsim.world.scenario import parse_scenario


def _with(scenario, *interventions, **behaviour):
    data = scenario.model_dump()
    data["interventions"] = list(interventions)
    data["behaviour"].update(behaviour)
    return parse_scenario(data)


@pytest.fixture(scope="module")
def raid(small_scenario):
    """The largest forum seized on day 90 with its data: many of its members arrested."""
    scenario = _with(small_scenario.overridden(people=3000),
                     {"type": "takedown", "day": 90, "target": "largest", "data_seized": 0.9})
    return scenario, run(scenario)


def test_members_count_only_people_still_in_the_ecosystem(small_scenario):
    scenario = _with(small_scenario, {"type": "arrests", "day": 60, "k": 150,
                                      "strategy": "random"})
    eco = Ecosystem(scenario)
    eco.run(60)  # the arrests happen at the start of day 60
    for forum in eco.fora:
        assert forum.members == len(eco.members_of(forum))
    arrested = np.flatnonzero(eco.people.state == State.ARRESTED)
    assert len(arrested) == 150
    assert sum(f.registered for f in eco.fora) > sum(f.members for f in eco.fora)


def test_members_column_is_current_and_registered_column_keeps_accounts(raid):
    _, result = raid
    forums = result.forums
    last = forums[forums["day"] == forums["day"].max()]
    assert (last["members"] <= last["registered"]).all()
    assert (last["members"] < last["registered"]).any()


def test_rehomed_share_leaves_out_the_people_the_shock_arrested(raid):
    _, result = raid
    record = result.metrics["interventions"][0]
    event = result.events[0]
    assert event.arrested > 50, "the seized data should identify many members"
    free = np.setdiff1d(event.displaced, event.arrested_people)
    assert record["displaced"] == len(free) < len(event.displaced)
    assert record["arrested"] == event.arrested
    rehomed = set(event.rehomed) - set(event.arrested_people.tolist())
    assert record["rehomed_30d"] == pytest.approx(len(rehomed) / len(free))


@pytest.mark.parametrize("closes_after, displaced", [(10, True), (45, False)])
def test_a_forum_closing_long_after_a_shock_is_not_the_shocks(small_scenario, closes_after,
                                                              displaced):
    # Staff arrests on day 20 (followed for 30 days); the forum is left without staff
    # 10 days later (the shock's doing) or 45 days later (not the shock's).
    scenario = _with(small_scenario, {"type": "arrests", "day": 20, "k": 1,
                                      "strategy": "random", "forum": "Forum A"})
    eco = Ecosystem(scenario)
    eco.run(20 + closes_after)
    forum = next(f for f in eco.fora if f.name == "Forum A")
    forum.abandoned = True
    eco.step()
    assert forum.status == Status.CLOSED
    assert bool(len(eco.events[0].displaced)) == displaced


def test_seized_forum_keeps_no_staff(raid):
    _, result = raid
    # The run's fora are not in the result; re-run the shocked scenario to day 100.
    scenario, _ = raid
    eco = Ecosystem(scenario)
    eco.run(100)
    seized = [f for f in eco.fora if f.status == Status.SEIZED]
    assert len(seized) == 1
    assert seized[0].staff == []


def test_nobody_answers_people_who_left(small_scenario):
    # The most connected people are the recent authors others would answer.
    scenario = _with(small_scenario, {"type": "arrests", "day": 60, "k": 8,
                                      "strategy": "degree"}, threat_new_tie_factor=1.0)
    eco = Ecosystem(scenario)
    eco.run(60)
    arrested = np.flatnonzero(eco.people.state == State.ARRESTED)
    eco.run(40)
    edges = eco.ties.edges
    after = edges.last[: len(edges)] >= 60
    touched = np.union1d(edges.u[: len(edges)][after], edges.v[: len(edges)][after])
    assert len(touched) > 0
    assert not np.isin(arrested, touched).any(), "a tie was fed with someone arrested"


def test_loss_and_triangle_are_measured_within_the_effect_window(small_scenario):
    base = small_scenario.overridden(people=3000)
    shock = {"type": "takedown", "day": 60, "target": "largest"}
    result = run(_with(base, shock))
    wide = result.metrics["interventions"][0]
    data = _with(base, shock).model_dump()
    data["measurement"]["effect_window_days"] = 5
    narrow = run(parse_scenario(data)).metrics["interventions"][0]
    assert wide["effect_window_days"] == 180 and narrow["effect_window_days"] == 5
    assert narrow["triangle"] < wide["triangle"]
    assert narrow["peak_loss"] <= wide["peak_loss"]
    # The loss is the shortfall of the window's days: the first five after the seizure.
    actual = result.ecosystem["active_people"].to_numpy()[59:64]
    other = result.counterfactual["active_people"].to_numpy()[59:64]
    assert narrow["loss"] == pytest.approx(1 - actual.sum() / other.sum())
    assert narrow["triangle"] == other.sum() - actual.sum()


@pytest.mark.parametrize("parameter, value", [("sharer_share", 0.9),
                                              ("communicator_share", 0.2),
                                              ("activity_sigma", 2.0)])
def test_changing_one_trait_parameter_redraws_no_other_trait(small_scenario, parameter, value):
    before = Ecosystem(small_scenario).people
    after = Ecosystem(_with(small_scenario, **{parameter: value})).people
    changed = {"sharer_share": {"share"},
               "communicator_share": {"communicate"},
               "activity_sigma": {"activity"}}[parameter]
    for trait in ("activity", "communicate", "share", "rule_breaking", "skill",
                  "risk_aversion", "career_days"):
        same = np.array_equal(getattr(before, trait), getattr(after, trait))
        assert same == (trait not in changed), trait
    if parameter == "communicator_share":
        # Those who communicate in both keep their propensity to post.
        both = (before.communicate > 0) & (after.communicate > 0)
        assert both.any()
        np.testing.assert_array_equal(before.communicate[both], after.communicate[both])


def test_each_of_several_shocks_is_measured_without_that_shock_alone(small_scenario):
    # A handful of random arrests, then the seizure of the largest forum 60 days later,
    # inside the arrests' effect window: the seizure's loss is not the arrests'.
    base = small_scenario.overridden(people=3000)
    arrests = {"type": "arrests", "day": 60, "k": 3, "strategy": "random"}
    seizure = {"type": "takedown", "day": 120, "target": "largest"}
    result = run(_with(base, arrests, seizure))
    small, large = result.metrics["interventions"]
    assert small["counterfactual"] == large["counterfactual"] == "without this shock"
    assert large["loss"] > 0.1
    assert small["loss"] < 0.5 * large["loss"]
    # Measured against the run with only the seizure, simulated from day 0.
    only_seizure = simulate(_with(base, seizure)).ecosystem["active_people"]
    expected = metrics.loss(result.ecosystem["active_people"], only_seizure, 59, window=180)
    assert small["loss"] == pytest.approx(expected)
    alone = run(_with(base, seizure)).metrics["interventions"][0]
    assert alone["counterfactual"] == "without shocks"


def test_a_combinations_whole_effect_is_read_against_the_run_without_any_of_its_shocks(
        small_scenario):
    # The seizure of the largest forum and, on the same day, arrests of ten VIPs: each
    # shock's own record is its margin given the other; the policy record is both together.
    base = small_scenario.overridden(people=3000)
    seizure = {"type": "takedown", "day": 90, "target": "largest"}
    arrests = {"type": "arrests", "day": 90, "k": 10, "strategy": "vips"}
    result = run(_with(base, seizure, arrests))
    whole = result.metrics["policy"]
    assert whole["counterfactual"] == "without shocks" and whole["type"] == "takedown + arrests"
    # Against the same scenario and seed with no shock at all, simulated from day 0.
    without = simulate(_with(base)).ecosystem["active_people"]
    actual = result.ecosystem["active_people"]
    assert whole["loss"] == pytest.approx(metrics.loss(actual, without, 89, window=180))
    assert whole["lasting_loss"] == pytest.approx(metrics.lasting_loss(actual, without))
    assert whole["peak_loss"] == pytest.approx(metrics.peak_loss(
        smoothed(actual), smoothed(without), 89, window=180))
    # Not the margin of either shock (each read against the run with the other one).
    seize_margin, arrest_margin = result.metrics["interventions"]
    assert whole["lasting_loss"] not in (seize_margin["lasting_loss"],
                                         arrest_margin["lasting_loss"])
    assert whole["arrested"] == seize_margin["arrested"] + arrest_margin["arrested"]
    # All the displaced, less those the arrests caught.
    assert (seize_margin["displaced"] - arrest_margin["arrested"] <= whole["displaced"]
            <= seize_margin["displaced"] + arrest_margin["displaced"])


def test_a_single_shocks_policy_record_is_its_own_record(raid):
    _, result = raid
    record, whole = result.metrics["interventions"][0], result.metrics["policy"]
    for key in ("loss", "lasting_loss", "triangle", "days_to_recovery", "displaced",
                "rehomed_30d", "arrested"):
        assert whole[key] == record[key], key
