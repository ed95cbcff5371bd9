"""The compiled loops behind `draws.Draws`: SplitMix64's output function applied to
counters, one fused loop per call instead of a dozen numpy passes over the array.

A draw for person `who` (and option `index`) is

    z = mix(base + who · GAMMA);  with an index: z = mix(z + (index + 1) · GAMMA)

in 64-bit arithmetic that wraps, and its uniform number is the top 53 bits of z over
2^53. `base` carries the seed, the purpose and the day (`Draws._base`). Compiled with
numba on first use and cached on disk (next to this file, or in the user's cache folder
when the install folder cannot be written).
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit, uint64

GAMMA = uint64(0x9E3779B97F4A7C15)
_M1, _M2 = uint64(0xBF58476D1CE4E5B9), uint64(0x94D049BB133111EB)
UNIT = 1.0 / (1 << 53)


@njit(cache=True, inline="always")
def _mix(z):
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(cache=True, inline="always")
def draw(base, who):
    """The uniform number of `who` (for the compiled kernels, one draw at a time)."""
    return (_mix(uint64(base) + uint64(who) * GAMMA) >> uint64(11)) * UNIT


@njit(cache=True, inline="always")
def draw_at(base, who, index):
    """The uniform number of the pair (who, index)."""
    z = _mix(uint64(base) + uint64(who) * GAMMA)
    return (_mix(z + (uint64(index) + uint64(1)) * GAMMA) >> uint64(11)) * UNIT


@njit(cache=True)
def uniform(base, who):
    """One uniform number per entry of `who`."""
    out = np.empty(who.shape[0])
    for i in range(who.shape[0]):
        out[i] = draw(base, who[i])
    return out


@njit(cache=True)
def uniform_pairs(base, who, index):
    """One uniform number per pair (who[i], index[i])."""
    out = np.empty(who.shape[0])
    for i in range(who.shape[0]):
        out[i] = draw_at(base, who[i], index[i])
    return out


@njit(cache=True)
def uniform_grid(base, who, index):
    """Uniform numbers for every pair of `who` (rows) and `index` (columns)."""
    out = np.empty((who.shape[0], index.shape[0]))
    start = uint64(base)
    for i in range(who.shape[0]):
        row = _mix(start + uint64(who[i]) * GAMMA)
        for j in range(index.shape[0]):
            z = _mix(row + (uint64(index[j]) + uint64(1)) * GAMMA)
            out[i, j] = (z >> uint64(11)) * UNIT
    return out


@njit(cache=True)
def below(base, bound, factor):
    """The people whose number today is below `bound[i] · factor`, and their numbers: the
    first, cheap pass of the daily activity draw, over everyone, without an array of
    everyone's numbers."""
    n = bound.shape[0]
    found = np.empty(n, dtype=np.int64)
    numbers = np.empty(n)
    k = 0
    start = uint64(base)
    # Without branches (everyone's number is drawn, every slot written, the count moves
    # on for those below), the loop runs four times as fast as skipping the zero bounds
    # of people not in the ecosystem: which those are follows no pattern a processor
    # can predict.
    for i in range(n):
        u = (_mix(start + uint64(i) * GAMMA) >> uint64(11)) * UNIT
        found[k] = i
        numbers[k] = u
        k += u < bound[i] * factor
    return found[:k], numbers[:k]


@njit(cache=True)
def pick_points(points, point_base, who, base, index, indexed):
    """`Draws.pick_points`: for each `who` (with `index[i]` if `indexed`), the first of
    `points` on the circle at or after its own position; the k-th repeat of a point sits
    at the position of the pair (point, k). Of points at the same position, the one
    listed first.

    The picks are few and the points (a forum's visitors) many, so the picks are
    sorted by position, not the points: each point is offered to the last pick at or
    before it, and each pick takes the first point offered to it or to any pick after
    it (the circle wraps round to the first point of all)."""
    n, m = points.shape[0], who.shape[0]
    where = _positions(points, point_base)
    target = np.empty(m)
    for i in range(m):
        target[i] = draw_at(base, who[i], index[i]) if indexed else draw(base, who[i])
    queue = np.argsort(target, kind="mergesort")
    ahead = target[queue]
    best = np.full(m, -1, dtype=np.int64)  # by rank in `queue`: the first point offered
    lowest = 0  # the first point of all, where the circle wraps round
    for k in range(n):
        if where[k] < where[lowest]:
            lowest = k
        j = np.searchsorted(ahead, where[k], side="right") - 1
        if j >= 0 and (best[j] < 0 or where[k] < where[best[j]]):
            best[j] = k
    out = np.empty(m, dtype=np.int64)
    pick = -1
    for j in range(m - 1, -1, -1):
        if best[j] >= 0 and (pick < 0 or where[best[j]] < where[pick]):
            pick = best[j]
        out[queue[j]] = points[pick if pick >= 0 else lowest]
    return out


@njit(cache=True)
def _positions(points, point_base):
    """Each point's position on the circle: that of the pair (point, k) for its k-th
    repeat (in the order listed)."""
    n = points.shape[0]
    where = np.empty(n)
    ascending = True
    for k in range(1, n):
        ascending = ascending and points[k] > points[k - 1]
    if ascending:  # no repeats (a forum's visitors, in order): no sorting
        for k in range(n):
            where[k] = draw_at(point_base, points[k], 0)
        return where
    order = np.argsort(points, kind="mergesort")
    first = 0
    for k in range(n):
        if k > 0 and points[order[k]] != points[order[k - 1]]:
            first = k
        where[order[k]] = draw_at(point_base, points[order[k]], k - first)
    return where


def prepare() -> float:
    """Compile every kernel, or load it from the disk cache where an earlier run left it;
    returns the seconds it took (well under one once cached)."""
    began = time.perf_counter()
    who = np.zeros(1, dtype=np.int64)
    base = np.uint64(1)
    uniform(base, who)
    uniform_pairs(base, who, who)
    uniform_pairs(base, who, np.broadcast_to(who, who.shape))  # an index read-only
    uniform_grid(base, who, who)
    below(base, np.ones(1, dtype=np.float32), 1.0)
    pick_points(who, base, who, base, who, False)
    return time.perf_counter() - began
