"""Agents: promotions keep identity, traits, memberships and ties; roles behave by rank."""

from __future__ import annotations

import numpy as np

from forumsim import Ecosystem
from forumsim.world.agents import VIP, Lurker, Member, Moderator
from forumsim.world.forum import Rank


def _lurker_with_membership(eco: Ecosystem) -> int:
    table = eco.memberships.table
    rows = np.flatnonzero(table.rank == Rank.LURKER)
    return int(table.person[rows[0]])


def test_promotion_keeps_identity_traits_memberships_and_ties(small_scenario):
    eco = Ecosystem(small_scenario)
    person = _lurker_with_membership(eco)
    agent = eco.persons[person]
    before = (agent.unique_id, agent.traits, [(m.forum, m.joined) for m in agent.memberships])
    other = (person + 1) % eco.people.n
    eco.ties.interact(np.array([person]), np.array([other]), day=0)
    row = agent.memberships[0].row
    eco.set_rank(np.array([row]), Rank.VIP)
    assert eco.persons[person] is agent
    assert isinstance(agent, VIP)
    assert agent in eco.agents_by_type[VIP]
    assert agent not in eco.agents_by_type.get(Lurker, [])
    after = (agent.unique_id, agent.traits, [(m.forum, m.joined) for m in agent.memberships])
    assert after == before
    assert other in eco.ties.neighbours(person)
    assert agent.memberships[0].rank == Rank.VIP


def test_class_does_not_drop_when_a_lower_rank_is_set(small_scenario):
    eco = Ecosystem(small_scenario)
    admin = eco.fora[0].admins[0]
    assert type(eco.persons[admin]).__name__ == "Admin"
    rows = eco.memberships.current_rows(admin)
    eco.set_rank(rows, Rank.MEMBER)
    assert type(eco.persons[admin]).__name__ == "Admin"


def test_lurkers_who_post_become_members(small_run):
    table = small_run.memberships.table
    posted = table.posts > 0
    assert posted.any()
    assert (table.rank[posted] >= Rank.MEMBER).all()
    # Sharing is not posting: silent sharers stay lurkers unless they earn VIP status.
    shared_only = (table.contributions > 0) & ~posted
    assert shared_only.any()
    assert np.isin(table.rank[shared_only], (Rank.LURKER, Rank.VIP)).all()
    silent = small_run.people.communicate == 0
    silent_rows = silent[table.person]
    # People with no propensity to communicate never leave the lurker rank by posting.
    assert (table.posts[silent_rows] == 0).all()


def test_vips_earned_their_status_by_contributions(busy_run):
    table, b = busy_run.memberships.table, busy_run.behaviour
    vip = (table.rank == Rank.VIP)
    assert vip.any()
    assert (table.contributions[vip] >= b.vip_contributions).all()
    assert (table.thanks[vip] >= b.vip_thanks).all()


def test_recruited_moderators_had_tenure(small_scenario):
    scenario = small_scenario.model_copy(deep=True)
    scenario.behaviour.members_per_moderator = 3  # short of staff: admins must recruit
    busy_run = Ecosystem(scenario).run()
    table, b = busy_run.memberships.table, busy_run.behaviour
    recruited = (table.rank == Rank.MODERATOR) & (table.promoted > 0)
    assert recruited.any(), "no moderator was recruited during the run"
    for row in np.flatnonzero(recruited):
        assert table.posts[row] > 0
        assert table.promoted[row] - table.joined[row] >= b.moderator_min_tenure_days
    assert isinstance(busy_run.persons[int(table.person[np.flatnonzero(recruited)[0]])],
                      Moderator)


def test_banned_people_lose_membership_and_cannot_return(busy_run):
    table = busy_run.memberships.table
    banned = np.argwhere(busy_run.known == -1)
    assert len(banned), "no ban happened in the busy run"
    for person, forum in banned[:50]:
        assert busy_run.memberships.row_of[person, forum] == -1
    warned = table.warnings >= busy_run.behaviour.warnings_before_ban
    assert warned.any()


def test_member_subclasses_share_member_behaviour():
    assert issubclass(VIP, Member) and issubclass(Moderator, VIP)
    assert not issubclass(Lurker, Member)
