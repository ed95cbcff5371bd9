"""Phase 4, governance: admins cross-promote the other fora they belong to
(`Admin.cross_promote` calls this, then registers those told who may enter)."""

from __future__ import annotations

import numpy as np
from numba import njit

from forumsim.world.forum import Address, Rank
from forumsim.world.hashing import draw_at

BANNED, KNOWN, INVITED = int(Address.BANNED), int(Address.KNOWN), int(Address.INVITED)
LURKER, VIP = int(Rank.LURKER), int(Rank.VIP)


@njit(cache=True)
def cross_promote(forum, visitors, admins, row_of, rank, gone, closed, forum_keys, known,
                  base, prob):
    """Which of today's `visitors` of `forum` learn the address of each ally (another
    forum not gone where one of its `admins` is a member): each at `prob`, by the draw
    of the pair (visitor, ally's key). A visitor at VIP rank or above (as of now) is
    vouched for on a closed ally. Updates `known` (never over a ban) and returns those
    told, grouped by ally in order of id, and how many each ally has."""
    n_fora = gone.shape[0]
    told = np.empty(visitors.shape[0] * n_fora, dtype=np.int64)
    counts = np.zeros(n_fora, dtype=np.int64)
    k = 0
    for ally in range(n_fora):
        allied = False
        for admin in admins:
            allied = allied or row_of[admin, ally] >= 0
        if not allied or ally == forum or gone[ally]:
            continue
        for person in visitors:
            if draw_at(base, person, forum_keys[ally]) >= prob:
                continue
            row = row_of[person, forum]
            standing = rank[row] if row >= 0 else LURKER
            tell = INVITED if closed[ally] and standing >= VIP else KNOWN
            if known[person, ally] != BANNED:
                known[person, ally] = max(known[person, ally], tell)
            told[k] = person
            k += 1
            counts[ally] += 1
    return told[:k], counts


def prepare() -> None:
    """Compile (or load) this module's kernels."""
    one, flags = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.bool_)
    cross_promote(0, one, one, np.zeros((1, 1), dtype=np.int32), np.zeros(1, dtype=np.int8),
                  flags, flags, one, np.zeros((1, 1), dtype=np.int8), np.uint64(0), 0.5)
