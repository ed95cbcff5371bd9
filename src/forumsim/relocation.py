"""Finding a forum (newcomers and the displaced), founding new fora, and desisting.

The market is semi-open: there is no search engine, so a person can only register on a
forum whose address they know: from the public link list (open and restricted fora),
from a forum they belong to (cross-promotion), or from a contact (an invitation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from forumsim.agents import State
from forumsim.forum import Address, Rank

if TYPE_CHECKING:
    from forumsim.model import Ecosystem


def search_and_join(eco: Ecosystem, people: np.ndarray) -> int:
    """Each person registers on one forum they know of and may enter, preferring large
    fora; returns how many registered. People with no such forum stay where they are."""
    people = np.unique(people)
    people = people[eco.people.state[people] <= State.ACTIVE]
    if not len(people):
        return 0
    n_fora = len(eco.fora)
    known = eco.known[people, :n_fora]
    open_now = np.array([f.online and f.registrations_open for f in eco.fora])
    listed = np.array([f.access.publicly_listed for f in eco.fora])
    allowed = (open_now & (listed | (known >= Address.KNOWN)) & (known != Address.BANNED)
               & (eco.memberships.row_of[people, :n_fora] < 0))
    for forum in eco.fora:
        column = allowed[:, forum.id]
        if column.any():
            column[column] = forum.access.admits(known[column, forum.id] == Address.INVITED)
    size = np.array([f.members + 1.0 for f in eco.fora])
    weight = np.where(allowed, size, 0.0)
    total = weight.sum(axis=1)
    can = total > 0
    if not can.any():
        return 0
    cumulative = np.cumsum(weight[can], axis=1)
    pick = eco.rng.random(int(can.sum())) * total[can]
    choice = (cumulative <= pick[:, None]).sum(axis=1)
    joined = people[can]
    for forum_id in np.unique(choice).tolist():
        eco.join(joined[choice == forum_id], eco.fora[forum_id])
    return len(joined)


def found_forum(eco: Ecosystem, founder: int, access: str, name: str | None = None) -> int:
    """`founder` opens a new forum as its admin and tells their contacts; returns its id."""
    forum = eco.add_forum(name or f"New forum {eco.founded_count + 1}", access, founder=founder)
    eco.founded_count += 1
    eco.join(np.array([founder]), forum, rank=Rank.ADMIN)
    contacts = eco.ties.neighbours(founder)
    contacts = contacts[eco.known[contacts, forum.id] != Address.BANNED]
    tell = Address.INVITED if access == "closed" else Address.KNOWN
    eco.known[contacts, forum.id] = np.maximum(eco.known[contacts, forum.id], tell)
    return forum.id


def maybe_found_forum(eco: Ecosystem) -> int | None:
    """Now and then a skilled, active person founds a new forum (weighted by skill)."""
    b = eco.behaviour
    if eco.rng.random() >= b.founding_rate_per_day:
        return None
    p = eco.people
    candidates = np.flatnonzero((p.state == State.ACTIVE) & (p.skill >= b.founder_min_skill)
                                & (p.role >= Rank.MEMBER))
    if not len(candidates):
        return None
    weight = p.skill[candidates].astype(np.float64)
    founder = int(eco.rng.choice(candidates, p=weight / weight.sum()))
    mix = b.new_forum_access
    access = str(eco.rng.choice(["open", "restricted", "closed"],
                                p=[mix.open, mix.restricted, mix.closed]))
    return found_forum(eco, founder, access)


def desist(eco: Ecosystem, people: np.ndarray, state: int = State.DESISTED) -> None:
    """People leave the ecosystem for good (or are arrested): they never act again."""
    p = eco.people
    people = people[p.state[people] == State.ACTIVE]
    if not len(people):
        return
    p.state[people] = state
    p.p_max[people] = 0.0
    eco.role_counts -= np.bincount(p.role[people], minlength=len(eco.role_counts))
    staff = people[p.role[people] >= Rank.MODERATOR]
    for person in staff.tolist():
        for forum in eco.fora:
            if person in forum.staff:
                eco.leave_staff(person, forum)
