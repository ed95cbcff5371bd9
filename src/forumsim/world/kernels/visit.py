"""Phase 3, what visitors do: the posts of the day's visits (replies and whom they
answer, rule breaking) and the credit of contributions (thanks, fresh material, the
visitors who thank). `Member.post` and `Member.credit` call these and keep the rest:
ties, promotions, the staff's queues.

Updates of the model's arrays follow numpy's `a[index] += values`: every entry reads the
array as it was before the update, so a row listed twice gains once (the last write
wins), as it did with numpy.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from forumsim.world.forum import Rank
from forumsim.world.hashing import draw, draw_at, pick_points

ACTIVE = 1  # agents.State.ACTIVE (agents.py imports this module)
VIP = int(Rank.VIP)
MEMBER = int(Rank.MEMBER)
THANKS_PER_SHARE_MAX = 1 << 20  # bound of a share's thanks, to address each thanks' draw


@njit(cache=True)
def post(people, forums, rows, n_fora, table_posts, people_posts, state, row_of,
         authors, author_start, reply_share, private_prob, rule_breaking,
         reply_base, answer_base, author_point_base, private_base, break_base):
    """Count the posts; the replies among them, each answering one of its forum's recent
    authors still there (consistent hashing over the authors, in forum order), and
    whether it leads to a private exchange; which posts break the rules. Returns the
    posts per forum, repliers, answered, private, breaking."""
    n = people.shape[0]
    counts = np.zeros(n_fora, dtype=np.int64)
    replying = np.zeros(n, dtype=np.bool_)
    breaking = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        table_posts[rows[i]] += 1
        people_posts[people[i]] += 1
        counts[forums[i]] += 1
        replying[i] = draw(reply_base, people[i]) < reply_share
        breaking[i] = draw(break_base, people[i]) < rule_breaking[people[i]]
    repliers = np.empty(n, dtype=np.int64)
    answered = np.empty(n, dtype=np.int64)
    done = 0
    order = np.argsort(forums, kind="mergesort")
    start = 0
    while start < n:
        forum = forums[order[start]]
        stop = start
        while stop < n and forums[order[stop]] == forum:
            stop += 1
        here = people[order[start:stop]][replying[order[start:stop]]]
        present = authors[author_start[forum]:author_start[forum + 1]]
        present = present[still_there(present, forum, state, row_of)]
        if here.shape[0] and present.shape[0]:
            repliers[done:done + here.shape[0]] = here
            answered[done:done + here.shape[0]] = pick_points(
                present, author_point_base, here, answer_base, here, False)
            done += here.shape[0]
        start = stop
    private = np.empty(done, dtype=np.bool_)
    for k in range(done):
        private[k] = draw(private_base, repliers[k]) < private_prob
    return counts, repliers[:done], answered[:done], private, breaking


@njit(cache=True)
def still_there(people, forum, state, row_of):
    """Which of `people` are still in the ecosystem and members of `forum`."""
    there = np.empty(people.shape[0], dtype=np.bool_)
    for i in range(people.shape[0]):
        there[i] = state[people[i]] == ACTIVE and row_of[people[i], forum] >= 0
    return there


@njit(cache=True)
def credit(rows, table_person, table_forum, table_rank, table_contributions, table_thanks,
           people_thanks, forum_keys, n_fora, thanks_mean, no_thanks_chance, vip_weight,
           vip_contributions, vip_thanks, tie_prob, visitors, visitor_start,
           thanks_base, tie_base, thanker_base, visitor_point_base):
    """Contributions accepted today (membership `rows`): each earns Poisson thanks
    (`no_thanks_chance` = exp(-thanks_mean)), counts as fresh material on its forum
    (`vip_weight` from VIPs and staff), and some of its thanks come from today's
    visitors (`visitors`, by forum), picked by consistent hashing. Returns the material
    per forum, the thankers and thanked (forum by forum), and which rows earned VIP."""
    n = rows.shape[0]
    sharers = np.empty(n, dtype=np.int64)
    forums = np.empty(n, dtype=np.int64)
    thanks = np.zeros(n, dtype=np.int64)
    for i in range(n):
        sharers[i], forums[i] = table_person[rows[i]], table_forum[rows[i]]
        if thanks_mean > 0:
            thanks[i] = poisson(draw_at(thanks_base, sharers[i], forum_keys[forums[i]]),
                                thanks_mean, no_thanks_chance)
    contributions = table_contributions[rows] + 1
    thanked_rows = table_thanks[rows] + thanks
    thanked_people = people_thanks[sharers] + thanks
    material = np.zeros(n_fora)
    for i in range(n):
        table_contributions[rows[i]] = contributions[i]
        table_thanks[rows[i]] = thanked_rows[i]
        people_thanks[sharers[i]] = thanked_people[i]
        material[forums[i]] += vip_weight if table_rank[rows[i]] >= VIP else 1.0
    # Each thanks is a draw of its own, addressed by the sharer, the forum and its rank
    # among the share's thanks.
    units, addresses = thanks_from_visitors(sharers, forums, thanks, forum_keys, tie_prob,
                                            tie_base)
    thankers, thanked = visitors_who_thank(units, addresses, sharers, forums, visitors,
                                           visitor_start, thanker_base, visitor_point_base)
    earned = np.empty(n, dtype=np.bool_)
    for i in range(n):
        row = rows[i]
        earned[i] = (table_rank[row] <= MEMBER and table_contributions[row] >= vip_contributions
                     and table_thanks[row] >= vip_thanks)
    return material, thankers, thanked, earned


@njit(cache=True, inline="always")
def poisson(u, mean, no_thanks_chance):
    """`Draws.poisson` for one number: the count whose distribution function first
    exceeds `u` (at most 1000)."""
    term = cumulative = no_thanks_chance
    k = 0
    while u >= cumulative and k < 1000:
        k += 1
        term *= mean / k
        cumulative += term
    return k


@njit(cache=True)
def thanks_from_visitors(sharers, forums, thanks, forum_keys, tie_prob, tie_base):
    """The thanks (share, address) that come from one of today's visitors."""
    total = thanks.sum()
    units = np.empty(total, dtype=np.int64)
    addresses = np.empty(total, dtype=np.int64)
    kept = 0
    for i in range(sharers.shape[0]):
        for rank in range(thanks[i]):
            address = forum_keys[forums[i]] * THANKS_PER_SHARE_MAX + rank
            if draw_at(tie_base, sharers[i], address) < tie_prob:
                units[kept], addresses[kept] = i, address
                kept += 1
    return units[:kept], addresses[:kept]


@njit(cache=True)
def visitors_who_thank(units, addresses, sharers, forums, visitors, visitor_start,
                       thanker_base, visitor_point_base):
    """Which of today's visitors of its forum gives each thanks, forum by forum (fora
    without visitors give none); returns thankers and thanked."""
    unit_forums = forums[units]
    order = np.argsort(unit_forums, kind="mergesort")
    thankers = np.empty(units.shape[0], dtype=np.int64)
    thanked = np.empty(units.shape[0], dtype=np.int64)
    done = 0
    start = 0
    while start < order.shape[0]:
        forum = unit_forums[order[start]]
        stop = start
        while stop < order.shape[0] and unit_forums[order[stop]] == forum:
            stop += 1
        here = visitors[visitor_start[forum]:visitor_start[forum + 1]]
        if here.shape[0]:
            mine = order[start:stop]
            count = stop - start
            thanked[done:done + count] = sharers[units[mine]]
            thankers[done:done + count] = pick_points(
                here, visitor_point_base, thanked[done:done + count], thanker_base,
                addresses[mine], True)
            done += count
        start = stop
    return thankers[:done], thanked[:done]


def prepare() -> None:
    """Compile (or load) this module's kernels."""
    ints, one = np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64)
    i32, i16, i8 = (np.zeros(1, dtype=t) for t in (np.int32, np.int16, np.int8))
    base = np.uint64(1)
    trait = np.zeros(1, dtype=np.float32)
    trait.flags.writeable = False  # as the people's traits are
    post(ints, ints, ints, 1, i32, i32, i8, np.zeros((1, 1), dtype=np.int32), ints,
         np.array([0, 1]), 0.5, 0.5, trait, base, base, base, base,
         base)
    credit(ints, i32, i16, i8, i32, i32, i32, one, 1, 1.0, 0.3, 2.0, 5, 5, 0.5, ints,
           np.array([0, 1]), base, base, base, base)
