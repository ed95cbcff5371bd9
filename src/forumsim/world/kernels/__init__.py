"""The day's hot loops, compiled: one module per phase of `Ecosystem.step`, each kernel a
loop over the day's batch (visits, searchers) on the model's own arrays, drawing its
random numbers one at a time from the same addresses as `world/draws.py`, so that a run
is the same run, bit for bit, as with the numpy code it replaces.

Kernels never compute a value that is kept or compared with an exponential or a
logarithm: numpy's vectorised versions of those (SIMD) can differ from the C library's
in the last bit, so such values are computed with numpy by the caller and passed in.
Compiled with numba on first use and cached on disk, like `world/hashing.py`.
"""

from __future__ import annotations

import time

import numpy as np


def stacked(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of people (one per forum) as one array and the start of each: forum f's
    people are `flat[start[f]:start[f + 1]]`."""
    start = np.zeros(len(arrays) + 1, dtype=np.int64)
    start[1:] = np.cumsum([len(a) for a in arrays])
    flat = np.concatenate(arrays, dtype=np.int64) if arrays else np.empty(0, dtype=np.int64)
    return flat, start


def prepare() -> float:
    """Compile every kernel, or load it from the disk cache; returns the seconds it took."""
    from forumsim.world import hashing
    from forumsim.world.kernels import choice, govern, join, ties, visit

    began = time.perf_counter()
    hashing.prepare()
    choice.prepare()
    visit.prepare()
    join.prepare()
    govern.prepare()
    ties.prepare()
    return time.perf_counter() - began
