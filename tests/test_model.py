"""The ecosystem's promises: reproducibility, sane counts, staff and ranks consistent."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forumsim import Ecosystem
from forumsim.experiment.runner import run
from forumsim.experiment.store import write_run
from forumsim.world.agents import ROLE_CLASSES, State
from forumsim.world.forum import Rank


def test_same_seed_gives_identical_parquet_files(small_scenario, tmp_path):
    scenario = small_scenario.overridden(days=90)
    first = write_run(run(scenario), tmp_path / "first").folder
    second = write_run(run(scenario), tmp_path / "second").folder
    for name in ("ecosystem.parquet", "forums.parquet"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_different_seeds_give_different_runs(small_scenario):
    a = run(small_scenario.overridden(days=60, seed=1)).ecosystem
    b = run(small_scenario.overridden(days=60, seed=2)).ecosystem
    assert not a.equals(b)


def test_one_row_per_day_and_per_forum_and_day(small_run, small_scenario):
    daily = small_run.datacollector.get_model_vars_dataframe()
    assert list(daily["day"]) == list(range(1, small_scenario.days + 1))
    forums = small_run.datacollector.get_table_dataframe("forums")
    per_day = forums.groupby("day")["forum"].nunique()
    # Every forum that exists on a day has exactly one row that day.
    assert (forums.groupby(["day", "forum"]).size() == 1).all()
    assert per_day.iloc[0] == len(small_scenario.fora)


def test_counts_are_never_negative(small_run):
    daily = small_run.datacollector.get_model_vars_dataframe()
    forums = small_run.datacollector.get_table_dataframe("forums")
    numeric = pd.concat([daily.select_dtypes("number"), forums.select_dtypes("number")], axis=1)
    assert (numeric.fillna(0) >= 0).all().all()
    table = small_run.memberships.table
    for column in ("posts", "contributions", "thanks", "warnings"):
        assert (getattr(table, column) >= 0).all()


def test_role_counts_match_a_recount_of_people_in_the_ecosystem(busy_run):
    p = busy_run.people
    inside = p.state == State.ACTIVE
    recount = np.bincount(p.role[inside], minlength=5)
    assert list(busy_run.role_counts) == list(recount)
    assert busy_run.role_counts[Rank.VIP] > 0 and busy_run.role_counts[Rank.MODERATOR] > 0


def test_every_staff_member_is_a_member_of_their_forum(busy_run):
    table = busy_run.memberships.table
    for forum in busy_run.fora:
        for person, rank in [(a, Rank.ADMIN) for a in forum.admins] + [
                (m, Rank.MODERATOR) for m in forum.moderators]:
            row = busy_run.memberships.row_of[person, forum.id]
            assert row >= 0, f"staff {person} of {forum.name} is not a member"
            assert table.rank[row] == rank
            assert busy_run.people.state[person] == State.ACTIVE


def test_a_persons_class_is_their_highest_rank(busy_run):
    table = busy_run.memberships.table
    highest = np.zeros(busy_run.people.n, dtype=np.int8)
    np.maximum.at(highest, table.person, table.rank)
    registered = busy_run.people.registered()
    assert (busy_run.people.role[registered] == highest[registered]).all()
    for person in np.flatnonzero(registered)[:500]:
        assert type(busy_run.persons[person]) is ROLE_CLASSES[highest[person]]


def test_mesa_agent_sets_hold_each_registered_person_once_by_class(busy_run):
    by_type = busy_run.agents_by_type
    registered = np.flatnonzero(busy_run.people.registered())
    assert 0 < len(registered) < busy_run.people.n  # some people never entered
    indices = sorted(agent.index for agents in by_type.values() for agent in agents)
    assert indices == registered.tolist()
    assert sorted(busy_run.persons) == registered.tolist()
    assert len(busy_run.agents) == len(registered)
    assert len({agent.unique_id for agent in busy_run.agents}) == len(registered)
    for cls, agents in by_type.items():
        assert all(type(agent) is cls for agent in agents)
        assert all(busy_run.persons[agent.index] is agent for agent in agents)


def test_active_people_only_visit_online_fora(busy_run):
    forums = busy_run.datacollector.get_table_dataframe("forums")
    offline = forums[forums["status"] != "online"]
    assert (offline[["active_members", "posts", "shares"]] == 0).all().all()


def test_fora_are_founded_during_a_long_run_and_none_without_founding():
    from forumsim import embedded_scenario
    scenario = embedded_scenario().overridden(people=3000, days=400, seed=5)
    eco = Ecosystem(scenario).run()
    assert [f for f in eco.fora if f.founded > 0], "no forum was founded in 400 days"
    scenario.behaviour.founding_rate_per_day = 0.0
    still = Ecosystem(scenario).run()
    assert not [f for f in still.fora if f.founded > 0 and "(" not in f.name]


def test_skilled_admins_keep_their_forum_online(small_scenario):
    scenario = small_scenario.overridden(days=200)
    scenario.behaviour.outage_rate_per_day = 0.05
    eco = Ecosystem(scenario)
    skilled, unskilled = eco.fora[0], eco.fora[1]
    skill = eco.people.skill.copy()  # traits are read-only: give the run its own
    skill[skilled.admins] = 0.98
    skill[unskilled.admins] = 0.0
    eco.people.skill = skill
    eco.run()
    forums = eco.datacollector.get_table_dataframe("forums")
    down = forums[forums["status"] == "down"].groupby("forum").size()
    assert down.get(unskilled.name, 0) > 4 * down.get(skilled.name, 0) + 5


def test_mesa_agents_are_made_when_read_not_while_stepping(small_scenario):
    eco = Ecosystem(small_scenario.overridden(days=30)).run()
    assert len(eco._all_agents) == 0  # stepping made none: a run that never reads pays nothing
    registered = int(eco.people.registered().sum())
    assert len(eco.agents) == registered > 0
    first = dict(eco.persons)
    eco.run(20)
    # Agents made earlier stay the same objects; newcomers are added on the next read.
    assert all(eco.persons[i] is agent for i, agent in first.items())
    assert len(eco.agents) == int(eco.people.registered().sum()) > registered


def test_role_counts_are_labelled_by_role(busy_run):
    counts = busy_run.role_counts
    assert counts["vips"] == counts[Rank.VIP] and counts["lurkers"] == counts[Rank.LURKER]
    assert list(counts.as_dict()) == ["lurkers", "members", "vips", "moderators", "admins"]
    assert f"vips={counts[Rank.VIP]}" in repr(counts)


def test_the_kernels_codes_for_a_persons_state_are_the_agents():
    # The kernels cannot import agents.py (it imports them), so they repeat its code.
    from forumsim.world.agents import State
    from forumsim.world.kernels import join, visit

    assert join.ACTIVE == visit.ACTIVE == State.ACTIVE
