"""Phase 3, where today's active people go: each visits their home forum or, now and
then, another forum they belong to (`Ecosystem._choose_visits` calls these)."""

from __future__ import annotations

import numpy as np
from numba import njit

from forumsim.world.hashing import draw


@njit(cache=True)
def homes(people, home, row_of, count, gone):
    """Everyone's home forum and membership row there (-1 where none); and who needs to
    choose: people with several memberships or no usable home (most have neither)."""
    n = people.shape[0]
    forums = np.empty(n, dtype=np.int64)
    rows = np.empty(n, dtype=np.int64)
    others = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(n):
        forum = home[people[i]]
        row = row_of[people[i], max(forum, 0)]
        forums[i], rows[i] = forum, row
        if not (forum >= 0 and row >= 0 and not gone[max(forum, 0)]
                and count[people[i]] == 1):
            others[k] = i
            k += 1
    return forums, rows, others[:k]


@njit(cache=True)
def among(people, home, row_of, gone, offer, home_loyalty, drift_prob, bias, clock,
          loyalty_base, drift_base):
    """For people with several memberships or no usable home: the forum each visits and
    its row, and who has no usable membership left. Someone with a home goes there out
    of loyalty; otherwise they choose among their usable fora by offer (and `bias`),
    never home (unless it is the only one), by an exponential race on `clock`. The
    homeless make home where they went; others drift to a forum that offers more than
    home does at `drift_prob`. Sets `home`."""
    n, n_fora = people.shape[0], gone.shape[0]
    forums = np.empty(n, dtype=np.int64)
    rows = np.empty(n, dtype=np.int64)
    unplaced = np.zeros(n, dtype=np.bool_)
    weight = np.empty(n_fora)
    for i in range(n):
        person = people[i]
        own = home[person]
        has_home = (own >= 0 and row_of[person, max(own, 0)] >= 0 and not gone[max(own, 0)])
        usable = 0
        for f in range(n_fora):
            usable += row_of[person, f] >= 0 and not gone[f]
        choosing = (usable > 1 and not (has_home and draw(loyalty_base, person) < home_loyalty)
                    or not has_home and usable == 1)
        forum = own
        if choosing:
            alone = True
            for f in range(n_fora):
                weight[f] = (max(offer[f], 1e-3) * (1.0 if row_of[person, f] >= 0 and not gone[f]
                                                     else 0.0)) * bias[i, f]
            if has_home:
                weight[own] = 0.0
            for f in range(n_fora):
                alone = alone and weight[f] == 0
            if alone:  # only home is usable
                for f in range(n_fora):
                    weight[f] = 1.0 if row_of[person, f] >= 0 and not gone[f] else 0.0
            forum = race(clock[i], weight)
            better = has_home and forum != own and offer[forum] > offer[max(own, 0)]
            if not has_home or (better and draw(drift_base, person) < drift_prob):
                home[person] = forum
        forums[i], rows[i], unplaced[i] = forum, row_of[person, max(forum, 0)], usable == 0
    return forums, rows, unplaced


@njit(cache=True, inline="always")
def race(clock, weight):
    """`Draws.race` for one row: the option whose exponential number (`clock`) over its
    weight is smallest, the first of equals; zero weights never win; -1 if none can."""
    best, best_time = 0, np.inf
    for f in range(weight.shape[0]):
        time = clock[f] / weight[f] if weight[f] > 0 else np.inf
        if f == 0 or time < best_time:
            best, best_time = f, time
    return best if np.isfinite(best_time) else -1


def prepare() -> None:
    """Compile (or load) this module's kernels."""
    ints, flags = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.bool_)
    home, row_of = np.zeros(1, dtype=np.int32), np.zeros((1, 1), dtype=np.int32)
    homes(ints, home, row_of, np.ones(1, dtype=np.int16), flags)
    among(ints, home, row_of, flags, np.ones(1), 0.5, 0.5, np.ones((1, 1)), np.ones((1, 1)),
          np.uint64(1), np.uint64(2))
