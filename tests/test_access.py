"""Access regimes: semi-open addresses, closed fora by invitation, restricted by contribution."""

from __future__ import annotations

import numpy as np

from forumsim import Ecosystem
from forumsim.world.access import ClosedAccess, OpenAccess, RestrictedAccess, stricter
from forumsim.world.agents import Moderator, State
from forumsim.world.forum import Address, Rank


def _outsiders(eco: Ecosystem, k: int) -> np.ndarray:
    return np.flatnonzero(eco.people.state == State.OUTSIDE)[:k]


def _forum(eco: Ecosystem, access: str):
    return next(f for f in eco.fora if f.access.name == access)


def _only_registering(eco: Ecosystem, *fora) -> None:
    """Freeze registrations everywhere but on `fora`."""
    for forum in eco.fora:
        forum.registrations_open = forum in fora


def test_closed_forum_admits_only_invited_people(small_scenario):
    eco = Ecosystem(small_scenario)
    closed = _forum(eco, "closed")
    _only_registering(eco, closed)
    knowing, invited = _outsiders(eco, 40)[:20], _outsiders(eco, 40)[20:]
    eco.known[knowing, closed.id] = Address.KNOWN
    eco.known[invited, closed.id] = Address.INVITED
    eco.search_and_join(np.concatenate([knowing, invited]))
    assert (eco.memberships.row_of[knowing, closed.id] == -1).all()
    assert (eco.memberships.row_of[invited, closed.id] >= 0).all()


def test_closed_forum_members_joined_by_invitation_during_a_run(busy_run):
    for forum in busy_run.fora:
        if forum.access.name != "closed":
            continue
        table = busy_run.memberships.table
        rows = np.flatnonzero((table.forum == forum.id) & (table.joined > forum.founded)
                              & (table.person != forum.founder))
        # Recorded at registration from what the newcomer held before joining: an
        # invitation or a vouching contact. Staff placed by their founder are not newcomers.
        newcomers = rows[table.rank[rows] < Rank.MODERATOR]
        assert table.invited[newcomers].all()


def test_knowing_a_closed_address_is_not_enough_to_get_in_during_a_run(small_scenario):
    eco = Ecosystem(small_scenario)
    closed = _forum(eco, "closed")
    eco.known[:, closed.id] = np.maximum(eco.known[:, closed.id], Address.KNOWN)
    eco.run(60)
    table = eco.memberships.table
    rows = np.flatnonzero((table.forum == closed.id) & (table.joined > 0)
                          & (table.rank[:len(table)] < Rank.MODERATOR))
    everyone_knew = (eco.people.state == State.ACTIVE).sum()
    assert table.invited[rows].all()
    assert len(rows) < 0.05 * everyone_knew, "the closed forum let in people who only knew it"


def test_open_forum_newcomers_mostly_came_without_invitation(busy_run):
    table = busy_run.memberships.table
    open_ids = [f.id for f in busy_run.fora if f.access.name == "open"]
    rows = np.flatnonzero(np.isin(table.forum, open_ids) & (table.joined > 0))
    assert len(rows) > 100
    assert table.invited[rows].mean() < 0.5


def test_closed_fora_are_not_on_the_public_link_list(small_scenario):
    eco = Ecosystem(small_scenario)
    open_forum = _forum(eco, "open")
    _only_registering(eco, open_forum, _forum(eco, "closed"))
    unaware = _outsiders(eco, 50)
    eco.search_and_join(unaware)
    closed = _forum(eco, "closed")
    assert (eco.memberships.row_of[unaware, closed.id] == -1).all()
    assert (eco.memberships.row_of[unaware, open_forum.id] >= 0).all()


def test_restricted_forum_grants_full_access_only_after_accepted_contribution(small_scenario):
    eco = Ecosystem(small_scenario.model_copy(deep=True))  # its behaviour is changed below
    restricted = _forum(eco, "restricted")
    _only_registering(eco, restricted)
    person = _outsiders(eco, 1)
    eco.search_and_join(person)
    row = eco.memberships.row_of[person[0], restricted.id]
    table = eco.memberships.table
    assert row >= 0 and not table.full_access[row]
    restricted.applications.append(int(row))
    eco.behaviour.application_accept_prob = 1.0
    Moderator.screen_applicants(eco, restricted, capacity=0)
    assert not table.full_access[row], "reviewed without staff capacity"
    Moderator.screen_applicants(eco, restricted, capacity=5)
    assert table.full_access[row]
    assert table.contributions[row] == 1


def test_restricted_members_with_full_access_had_a_contribution_accepted(busy_run):
    table = busy_run.memberships.table
    for forum in busy_run.fora:
        if forum.access.name != "restricted" or forum.founded != 0:
            continue
        rows = np.flatnonzero((table.forum == forum.id) & table.full_access
                              & (table.rank < Rank.VIP))
        assert len(rows)
        assert (table.contributions[rows] >= 1).all()


def test_nobody_registers_on_a_forum_they_were_banned_from(small_scenario):
    eco = Ecosystem(small_scenario)
    open_forum = _forum(eco, "open")
    _only_registering(eco, open_forum)
    people = _outsiders(eco, 10)
    eco.known[people, open_forum.id] = Address.BANNED
    assert eco.search_and_join(people) == 0


def test_tightening_goes_open_to_restricted_to_closed():
    assert isinstance(stricter(OpenAccess()), RestrictedAccess)
    assert isinstance(stricter(RestrictedAccess()), ClosedAccess)
    assert isinstance(stricter(ClosedAccess()), ClosedAccess)
