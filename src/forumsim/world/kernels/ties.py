"""Phases 3 and 4, recording interactions (replies by day, thanks at night): finding the
ties of pairs of people and filing new ties into the sorted runs of `Ties` (its
`interact` calls these), in place of a search and five `np.insert` a call."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def find(keys, main_keys, main_rows, recent_keys, recent_rows):
    """The row of each tie key in the main or the recent sorted run, -1 where none."""
    rows = np.full(keys.shape[0], -1, dtype=np.int64)
    for i in range(keys.shape[0]):
        at = np.searchsorted(main_keys, keys[i])
        if at < main_keys.shape[0] and main_keys[at] == keys[i]:
            rows[i] = main_rows[at]
            continue
        at = np.searchsorted(recent_keys, keys[i])
        if at < recent_keys.shape[0] and recent_keys[at] == keys[i]:
            rows[i] = recent_rows[at]
    return rows


@njit(cache=True)
def tally(a, b, strength, n_people, main_keys, main_rows, recent_keys, recent_rows):
    """The interactions of pairs (a[i], b[i]) of different people, by tie: the sorted
    tie keys, the strength each tie gets (summed in the order of the pairs, as
    `np.bincount` sums) and each tie's row (-1 for a new tie)."""
    n = a.shape[0]
    all_keys = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(n):
        if a[i] != b[i]:
            all_keys[k] = min(a[i], b[i]) * n_people + max(a[i], b[i])
            k += 1
    all_keys = all_keys[:k]
    kept = np.empty(k, dtype=np.float64)
    k = 0
    for i in range(n):
        if a[i] != b[i]:
            kept[k] = strength[i]
            k += 1
    order = np.argsort(all_keys, kind="mergesort")
    keys = np.empty(k, dtype=np.int64)
    added = np.zeros(k, dtype=np.float64)
    m = -1
    for j in range(k):
        key = all_keys[order[j]]
        if m < 0 or keys[m] != key:
            m += 1
            keys[m] = key
        added[m] += kept[order[j]]
    keys, added = keys[:m + 1], added[:m + 1]
    return keys, added, find(keys, main_keys, main_rows, recent_keys, recent_rows)


@njit(cache=True)
def file_new(recent_keys, recent_rows, recent_ends, recent_others, recent_edge_rows,
             fresh, new_rows, n_people, degree):
    """New ties (`fresh`: their sorted keys, `new_rows`: their edge rows) filed into the
    recent runs: keys with their rows; both ends of each tie, sorted by end, a new
    entry after the entries already there for the same person, with the other end and
    the edge row. Counts them in `degree`. Returns the five new runs."""
    n = fresh.shape[0]
    ends = np.empty(2 * n, dtype=np.int64)
    others = np.empty(2 * n, dtype=np.int64)
    for i in range(n):
        u, v = fresh[i] // n_people, fresh[i] % n_people
        ends[i], ends[n + i], others[i], others[n + i] = u, v, v, u
        degree[u] += 1
        degree[v] += 1
    order = np.argsort(ends, kind="mergesort")
    keys, rows = _merge_before(recent_keys, recent_rows, fresh, new_rows)
    m = recent_ends.shape[0]
    merged_ends = np.empty(m + 2 * n, dtype=np.int64)
    merged_others = np.empty(m + 2 * n, dtype=np.int64)
    merged_rows = np.empty(m + 2 * n, dtype=np.int64)
    i = j = 0
    for k in range(m + 2 * n):
        if j == 2 * n or (i < m and recent_ends[i] <= ends[order[j]]):
            merged_ends[k], merged_others[k] = recent_ends[i], recent_others[i]
            merged_rows[k] = recent_edge_rows[i]
            i += 1
        else:
            new = order[j]
            merged_ends[k], merged_others[k] = ends[new], others[new]
            merged_rows[k] = new_rows[new % n]
            j += 1
    return keys, rows, merged_ends, merged_others, merged_rows


@njit(cache=True)
def _merge_before(old_keys, old_values, new_keys, new_values):
    """Two sorted runs of keys with their values as one, a new key before an equal old
    one (as `np.insert` at `np.searchsorted(old_keys, new_keys)` places it)."""
    m, n = old_keys.shape[0], new_keys.shape[0]
    keys = np.empty(m + n, dtype=np.int64)
    values = np.empty(m + n, dtype=np.int64)
    i = j = 0
    for k in range(m + n):
        if j < n and (i == m or new_keys[j] <= old_keys[i]):
            keys[k], values[k] = new_keys[j], new_values[j]
            j += 1
        else:
            keys[k], values[k] = old_keys[i], old_values[i]
            i += 1
    return keys, values


def prepare() -> None:
    """Compile (or load) this module's kernels."""
    one, empty = np.ones(1, dtype=np.int64), np.empty(0, dtype=np.int64)
    find(one, empty, empty, empty, empty)
    tally(one, one + 1, np.ones(1), 3, empty, empty, empty, empty)
    file_new(empty, empty, empty, empty, empty, one, one, 2, np.zeros(2, dtype=np.int32))
