"""Phase 3, looking for a forum: which forum each searcher registers on (`relocation.
search_and_join` calls this and registers them)."""

from __future__ import annotations

import numpy as np
from numba import njit

from forumsim.world.forum import Address, Rank
from forumsim.world.kernels.choice import race

BANNED, KNOWN, INVITED = int(Address.BANNED), int(Address.KNOWN), int(Address.INVITED)
ACTIVE = 1  # agents.State.ACTIVE (agents.py imports the kernels)
VIP = int(Rank.VIP)


@njit(cache=True)
def contacts_on_fora(people, n_fora, start, adjacent, recent_ends, recent_others, state,
                     row_of, rank):
    """For each of `people` and each forum: how many of their contacts (the tie index
    `start`/`adjacent` and the recent ties, see `Ties.adjacency`) still in the ecosystem
    are members there, and how many of those are VIPs or staff (who can vouch)."""
    contacts = np.zeros((people.shape[0], n_fora), dtype=np.int64)
    vouchers = np.zeros((people.shape[0], n_fora), dtype=np.int64)
    for i in range(people.shape[0]):
        person = people[i]
        lo = np.searchsorted(recent_ends, person)
        hi = np.searchsorted(recent_ends, person, side="right")
        indexed = start[person + 1] - start[person]
        for k in range(indexed + hi - lo):
            contact = (adjacent[start[person] + k] if k < indexed
                       else recent_others[lo + k - indexed])
            if state[contact] != ACTIVE:
                continue
            for f in range(n_fora):
                row = row_of[contact, f]
                if row >= 0:
                    contacts[i, f] += 1
                    if rank[row] >= VIP:
                        vouchers[i, f] += 1
    return contacts, vouchers


@njit(cache=True)
def choose_forum(people, known, row_of, open_now, listed, by_invitation, contacts, vouchers,
                 size, contact_weight, bias, clock):
    """For each of `people` (with their contacts and vouchers on each forum), the forum
    they register on, or -1 when none will have them; and whether they come invited.

    A forum is open to a searcher who is not a member nor banned there and knows its
    address (listed, learnt, or from a contact there); one taken by invitation only
    needs an invitation or a vouching VIP or staff contact. Its weight is its apparent
    `size`, raised by `contact_weight` per contact there (an address learnt personally
    counts as one), times the displaced's `bias`. The choice is an exponential race:
    the smallest `clock` (exponential numbers, by forum) over weight wins."""
    n, n_fora = people.shape[0], open_now.shape[0]
    choice = np.full(n, -1, dtype=np.int64)
    invited = np.zeros(n, dtype=np.bool_)
    weight = np.empty(n_fora)
    invite = np.empty(n_fora, dtype=np.bool_)
    for i in range(n):
        person = people[i]
        for f in range(n_fora):
            address = known[person, f]
            invite[f] = address == INVITED or vouchers[i, f] > 0
            weight[f] = 0.0
            if (open_now[f] and address != BANNED and row_of[person, f] < 0
                    and (listed[f] or address >= KNOWN or contacts[i, f] > 0)
                    and (invite[f] or not by_invitation[f])):
                pull = contacts[i, f] + (1 if address >= KNOWN else 0)
                weight[f] = size[f] * (1.0 + contact_weight * pull) * bias[i, f]
        choice[i] = race(clock[i], weight)
        invited[i] = choice[i] >= 0 and invite[choice[i]]
    return choice, invited


def prepare() -> None:
    """Compile (or load) this module's kernels."""
    none = np.empty(0, dtype=np.int64)
    contacts_on_fora(np.zeros(1, dtype=np.int64), 1, np.zeros(2, dtype=np.int64),
                     np.empty(0, dtype=np.int32), none, none, np.zeros(1, dtype=np.int8),
                     np.zeros((1, 1), dtype=np.int32), np.zeros(1, dtype=np.int8))
    ints, flags = np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.bool_)
    grid = np.zeros((1, 1), dtype=np.int64)
    choose_forum(ints, np.zeros((1, 1), dtype=np.int8), np.zeros((1, 1), dtype=np.int32),
                 flags, flags, flags, grid, grid, np.ones(1), 1.0, np.ones((1, 1)),
                 np.ones((1, 1)))
