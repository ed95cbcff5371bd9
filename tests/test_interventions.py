"""Shocks: each intervention does what it promises, and only that."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from forumsim import Ecosystem
from forumsim.measures.keyplayers import fragmentation
from forumsim.world.agents import State
from forumsim.world.forum import Address, Rank, Status
from forumsim.world.interventions import Arrests
from forumsim.world.scenario import ArrestsSpec, ScenarioError, parse_scenario


def _with(scenario, *interventions, **changes):
    data = scenario.model_dump()
    data.update(changes)
    data["interventions"] = list(interventions)
    return parse_scenario(data)


@pytest.fixture(scope="module")
def takedown_run(small_scenario):
    scenario = _with(small_scenario, {"type": "takedown", "day": 90, "target": "largest",
                                      "data_seized": 0.5})
    return Ecosystem(scenario).run()


def test_seized_forum_has_no_activity_after_takedown(takedown_run):
    seized = [f for f in takedown_run.fora if f.status == Status.SEIZED]
    assert len(seized) == 1 and seized[0].ended == 90
    forums = takedown_run.datacollector.get_table_dataframe("forums")
    after = forums[(forums["forum"] == seized[0].name) & (forums["day"] >= 90)]
    assert len(after) == takedown_run.config.days - 89
    assert (after[["active_members", "posts", "shares", "registrations"]] == 0).all().all()
    before = forums[(forums["forum"] == seized[0].name) & (forums["day"] < 90)]
    assert before["active_members"].sum() > 0


def test_largest_forum_is_the_one_seized(small_scenario):
    eco = Ecosystem(small_scenario).run(89)
    largest = max(eco.fora, key=lambda f: f.members)
    assert eco.resolve_forum("largest") is largest


def test_arrested_people_never_act_again(takedown_run):
    p = takedown_run.people
    arrested = np.flatnonzero(p.state == State.ARRESTED)
    assert len(arrested) > 0
    table = takedown_run.memberships.table
    rows = np.isin(table.person, arrested)
    assert (table.last_visit[rows] < 90).all()
    assert not np.isin(arrested, np.concatenate(
        [f.visitors for f in takedown_run.fora])).any()


def test_seized_data_identifies_only_people_with_poor_opsec(takedown_run):
    p = takedown_run.people
    arrested = np.flatnonzero(p.state == State.ARRESTED)
    opsec = (p.skill[arrested] + p.risk_aversion[arrested]) / 2
    assert (opsec < takedown_run.behaviour.poor_opsec_threshold).all()


def test_successors_are_founded_only_by_surviving_staff_of_the_downed_forum(small_scenario):
    scenario = _with(small_scenario, {"type": "takedown", "day": 60, "target": "Forum A"},
                     {"type": "takedown", "day": 100, "target": "Forum B"})
    scenario.behaviour.successor_prob = 1.0
    eco = Ecosystem(scenario)
    staff_before = {}
    for _ in range(scenario.days):
        for forum in eco.fora:
            staff_before.setdefault(forum.name, set()).update(forum.staff)
        eco.step()
    successors = [f for f in eco.fora if "(" in f.name]
    assert successors, "no successor was founded"
    for forum in successors:
        old = forum.name.split(" (")[0]
        assert forum.founder in staff_before[old]
        assert eco.people.state[forum.founder] != State.ARRESTED
    records = {e.target: e.successors for e in eco.events}
    assert records["Forum A"] and records["Forum A"][0].startswith("Forum A")


def test_no_successor_when_all_staff_are_arrested(small_scenario):
    scenario = _with(small_scenario,
                     {"type": "arrests", "day": 59, "strategy": "staff", "forum": "Forum A",
                      "share": 1.0})
    scenario.behaviour.successor_prob = 1.0
    scenario.behaviour.handover_min_thanks = 10**9  # no member may take over: it closes
    eco = Ecosystem(scenario).run()
    forum_a = eco.forum("Forum A")
    assert forum_a.status == Status.CLOSED, "a forum without staff should close"
    assert not [f for f in eco.fora if f.name.startswith("Forum A (")]
    assert len(eco.events[0].displaced) > 0


def test_displaced_join_only_fora_they_know_and_may_enter(takedown_run):
    event = takedown_run.events[0]
    table = takedown_run.memberships.table
    new = np.flatnonzero(np.isin(table.person, event.displaced) & (table.joined >= event.day))
    assert len(new) > 0
    for row in new:
        person, forum = int(table.person[row]), takedown_run.fora[int(table.forum[row])]
        known = takedown_run.known[person, forum.id]
        if forum.founder == person:
            continue
        assert known != Address.BANNED
        if not forum.access.publicly_listed:  # recorded from what they held before joining
            assert table.invited[row], f"person {person} entered closed {forum.name} uninvited"


def test_displaced_rehome_mostly_on_coexisting_fora(takedown_run):
    event = takedown_run.events[0]
    assert len(event.displaced) > 50
    assert len(event.rehomed) / len(event.displaced) > 0.3
    founded = np.array([takedown_run.fora[f].founded for f in event.rehomed.values()])
    assert (founded < event.day).mean() > 0.5, "most should go to fora that existed already"


def test_arrests_remove_exactly_k_people_by_role(small_scenario):
    scenario = _with(small_scenario, {"type": "arrests", "day": 30, "strategy": "admins",
                                      "k": 2})
    eco = Ecosystem(scenario).run(29)
    admins = {a for f in eco.fora for a in f.admins}  # the admins on the day before
    eco.run(1)
    arrested = set(np.flatnonzero(eco.people.state == State.ARRESTED).tolist())
    assert len(arrested) == 2 and arrested <= admins


def test_betweenness_arrests_fragment_a_broker_network_more_than_random(small_scenario):
    """Five dense groups chained through single brokers: the brokers are the key players."""
    def network_after(strategy: str, seed: int) -> float:
        eco = Ecosystem(small_scenario.overridden(seed=seed))
        people = np.flatnonzero(eco.people.state == State.ACTIVE)[:55]
        groups = [people[i * 10:(i + 1) * 10] for i in range(5)]
        brokers = people[50:54]
        for group in groups:
            a, b = np.triu_indices(10, 1)
            eco.ties.interact(group[a], group[b], day=0)
        for i, broker in enumerate(brokers):
            eco.ties.interact(np.array([broker, broker]),
                              np.array([groups[i][0], groups[i + 1][0]]), day=0)
        spec = ArrestsSpec(type="arrests", day=1, strategy=strategy, k=4)
        targets = Arrests(spec, 0).select(eco, people[:54], 4, None)
        graph = eco.ties.to_networkx(people=people[:54])
        graph.remove_nodes_from(targets)
        return fragmentation(graph)

    targeted = network_after("betweenness", 0)
    randoms = [network_after("random", seed) for seed in range(10)]
    assert targeted > max(randoms)
    assert targeted > 0.75


def test_outage_takes_a_forum_down_for_its_duration(small_scenario):
    scenario = _with(small_scenario, {"type": "outage", "day": 20, "target": "Forum A",
                                      "duration_days": 5})
    scenario.behaviour.outage_rate_per_day = 0.0
    eco = Ecosystem(scenario)
    statuses = []
    for _ in range(30):
        eco.step()
        statuses.append(eco.forum("Forum A").status)
    assert statuses[18] == Status.ONLINE
    assert statuses[19:24] == [Status.DOWN] * 5
    assert statuses[24] == Status.ONLINE


def test_infiltration_identifies_members_then_arrests_and_seizes(small_scenario):
    scenario = _with(small_scenario, {"type": "infiltration", "day": 30, "target": "Forum A",
                                      "duration_days": 40, "identify_prob_per_day": 0.5})
    scenario.behaviour.undercover_detection_prob_per_day = 0.0
    eco = Ecosystem(scenario).run(69)
    forum = eco.forum("Forum A")
    assert forum.online and forum.infiltrated
    eco.run(1)
    assert forum.status == Status.SEIZED and not forum.infiltrated
    assert eco.events[0].arrested > 0


def test_staff_who_detect_infiltration_end_it_and_tighten_access(small_scenario):
    scenario = _with(small_scenario, {"type": "infiltration", "day": 10, "target": "Forum A",
                                      "duration_days": 100})
    scenario.behaviour.undercover_detection_prob_per_day = 1.0
    eco = Ecosystem(scenario).run(40)
    forum = eco.forum("Forum A")
    assert not forum.infiltrated and forum.online
    assert forum.access.name == "restricted" and forum.hidden
    assert eco.events[0].detected is not None


def test_bot_wave_makes_admins_freeze_registrations(small_scenario):
    scenario = _with(small_scenario, {"type": "bot_wave", "day": 10, "target": "Forum A",
                                      "duration_days": 3, "freeze_days": 20})
    eco = Ecosystem(scenario).run(12)
    forum = eco.forum("Forum A")
    assert not forum.registrations_open
    eco.run(10)
    forums = eco.datacollector.get_table_dataframe("forums")
    frozen = forums[(forums["forum"] == "Forum A") & forums["day"].between(10, 29)]
    assert (frozen["registrations"] == 0).all()
    eco.run(10)
    assert forum.registrations_open


def test_publicized_takedown_deters_activity(small_scenario):
    base = small_scenario.overridden(people=4000)
    quiet = _with(base, {"type": "takedown", "day": 60, "target": "Forum C"})
    loud = _with(base, {"type": "takedown", "day": 60, "target": "Forum C", "publicized": True})
    a = Ecosystem(quiet).run().datacollector.get_model_vars_dataframe()
    b = Ecosystem(loud).run().datacollector.get_model_vars_dataframe()
    window = slice(60, 90)
    assert b["active_people"].iloc[window].sum() < 0.9 * a["active_people"].iloc[window].sum()


@pytest.mark.parametrize("through", ["replies", "thanks"])
def test_after_enforcement_news_fewer_new_ties_form(small_scenario, through):
    # Ties form from replies and from thanks; caution acts on each, so each is checked with
    # the other switched off.
    base = small_scenario.overridden(people=4000)
    off = {"thanks_tie_prob": 0.0} if through == "replies" else {"reply_share": 0.0}
    base = _with(base, behaviour={**base.behaviour.model_dump(), **off})
    calm = Ecosystem(base).run()
    alarmed = Ecosystem(_with(base, {"type": "arrests", "day": 60, "k": 1})).run()
    cautious = slice(60, 60 + int(base.behaviour.threat_days))  # the days people are wary

    def new_ties(eco):
        formed = eco.ties.edges.formed
        return ((formed >= cautious.start) & (formed < cautious.stop)).sum()

    # Only a threat_new_tie_factor (0.3) of replies to strangers still form ties.
    assert new_ties(calm) > 50
    assert new_ties(alarmed) < 0.6 * new_ties(calm)


def test_repeated_arrests_happen_on_every_scheduled_day(small_scenario):
    scenario = _with(small_scenario, {"type": "arrests", "day": 20, "every_days": 30,
                                      "times": 4, "k": 3})
    eco = Ecosystem(scenario).run()
    assert [e.day for e in eco.events] == [20, 50, 80, 110]
    assert (eco.people.state == State.ARRESTED).sum() == 12


@pytest.mark.parametrize("intervention, words", [
    ({"type": "takedown", "day": 500}, "after the last simulated day"),
    ({"type": "arrests", "day": 5}, "exactly one of k"),
    ({"type": "arrests", "day": 5, "k": 2, "times": 3}, "needs every_days"),
    ({"type": "outage", "day": 5, "target": "Forum Z"}, "no forum 'Forum Z'"),
    ({"type": "raid", "day": 5}, "does not match any of the expected tags"),
    ({"type": "arrests", "day": 5, "k": 2, "strategy": "loudest"}, "strategy"),
])
def test_impossible_or_unknown_interventions_are_refused(small_scenario, intervention, words):
    with pytest.raises(ScenarioError, match=words):
        _with(small_scenario, intervention)


def test_role_ranks_are_respected_by_staff_strategy(small_scenario):
    eco = Ecosystem(small_scenario).run(5)
    forum = eco.forum("Forum A")
    staff = set(forum.staff)
    spec = ArrestsSpec(type="arrests", day=6, strategy="staff", share=1.0, forum="Forum A")
    chosen = Arrests(spec, 0).select(eco, eco.members_of(forum), len(staff), forum)
    assert set(chosen) == staff
    table = eco.memberships.table
    assert all(table.rank[eco.memberships.row_of[p, forum.id]] >= Rank.MODERATOR for p in chosen)


def test_graph_export_matches_tie_table(small_run):
    graph = small_run.ties.to_networkx()
    assert isinstance(graph, nx.Graph) and graph.number_of_edges() == len(small_run.ties)
