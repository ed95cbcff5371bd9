"""Scenario validation: clear errors naming the field, embedded scenarios, overrides."""

from __future__ import annotations

import pytest

from forumsim.experiment.files import load_scenario
from forumsim.world.scenario import (
    ScenarioError,
    embedded_scenario,
    parse_scenario,
)


def _valid() -> dict:
    return embedded_scenario("small").model_dump()


@pytest.mark.parametrize("name", ["default", "small", "large"])
def test_embedded_scenarios_load_and_validate(name):
    scenario = embedded_scenario(name)
    assert scenario.name == name
    assert scenario.fora


def test_default_scenario_matches_the_documented_shape():
    scenario = embedded_scenario()
    assert scenario.people == 20_000
    assert scenario.days == 730
    assert sorted({f.access for f in scenario.fora}) == ["closed", "open", "restricted"]


def test_unknown_field_is_named_in_the_error():
    data = _valid()
    data["behaviour"]["post_rate"] = 0.3
    with pytest.raises(ScenarioError, match=r"unknown field 'behaviour\.post_rate'"):
        parse_scenario(data)


def test_out_of_range_value_names_field_value_and_rule():
    data = _valid()
    data["behaviour"]["home_loyalty"] = 1.5
    with pytest.raises(ScenarioError) as error:
        parse_scenario(data)
    message = str(error.value)
    assert "behaviour.home_loyalty" in message
    assert "1.5" in message
    assert "less than or equal to 1" in message


def test_unknown_access_regime_lists_the_allowed_ones():
    data = _valid()
    data["fora"][0]["access"] = "secret"
    with pytest.raises(ScenarioError, match=r"fora\.0\.access.*'open', 'restricted' or 'closed'"):
        parse_scenario(data)


def test_repeated_forum_names_are_refused():
    data = _valid()
    data["fora"][1]["name"] = data["fora"][0]["name"]
    with pytest.raises(ScenarioError, match="must be unique"):
        parse_scenario(data)


def test_new_forum_access_mix_must_sum_to_one():
    data = _valid()
    data["behaviour"]["new_forum_access"] = {"open": 0.5, "restricted": 0.5, "closed": 0.5}
    with pytest.raises(ScenarioError, match="sum to 1"):
        parse_scenario(data)


def test_malformed_yaml_reports_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nfora: [\n  {name: A, access: open\n")
    with pytest.raises(ScenarioError, match=r"not valid YAML at line \d+"):
        load_scenario(path)


def test_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.yaml")


def test_overrides_are_validated():
    with pytest.raises(ScenarioError, match="days"):
        embedded_scenario().overridden(days=0)
    assert embedded_scenario().overridden(people=500, seed=9).people == 500


def test_with_fora_trims_or_extends_with_unique_names():
    scenario = embedded_scenario()
    assert [f.name for f in scenario.with_fora(2).fora] == ["Forum A", "Forum B"]
    extended = scenario.with_fora(8)
    names = [f.name for f in extended.fora]
    assert len(names) == len(set(names)) == 8


def test_too_few_people_for_the_staff_is_refused():
    with pytest.raises(ScenarioError, match="too few for the"):
        embedded_scenario().overridden(people=12)


@pytest.mark.parametrize("field, value", [("career_days_mean", float("inf")),
                                          ("novelty_days", float("nan")),
                                          ("outage_days_mean", 0.5)])
def test_infinite_nan_and_impossible_means_are_refused(field, value):
    data = _valid()
    data["behaviour"][field] = value
    with pytest.raises(ScenarioError, match=f"behaviour.{field}"):
        parse_scenario(data)


def test_an_infiltration_must_end_within_the_horizon():
    data = _valid()
    data["interventions"] = [{"type": "infiltration", "day": 150, "duration_days": 40}]
    with pytest.raises(ScenarioError, match="after the last simulated day"):
        parse_scenario(data)


def test_config_hash_changes_with_any_parameter():
    scenario = embedded_scenario()
    other = scenario.model_copy(deep=True)
    other.behaviour.reply_share = 0.5
    assert scenario.config_sha256() == embedded_scenario().config_sha256()
    assert scenario.config_sha256() != other.config_sha256()


def test_an_infiltration_ending_on_the_last_day_is_accepted_one_day_later_is_not():
    data = _valid()
    days = data["days"]
    data["interventions"] = [{"type": "infiltration", "day": days - 10, "duration_days": 10}]
    parse_scenario(data)
    data["interventions"][0]["duration_days"] = 11
    with pytest.raises(ScenarioError, match=f"day {days + 1}"):
        parse_scenario(data)


def test_a_repeated_infiltration_is_refused():
    data = _valid()
    data["interventions"] = [{"type": "infiltration", "day": 10, "duration_days": 10,
                              "every_days": 50, "times": 2}]
    with pytest.raises(ScenarioError, match="happens once"):
        parse_scenario(data)
