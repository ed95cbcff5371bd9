"""What a run needs of the machine, checked before anything is allocated: memory, from
the number of people and fora, against what the machine has available now.

The estimate is calibrated on measured peak resident memory (`benchmarks/memory.py`;
numbers in docs/experiments.md) and kept above it: a refused run would not have fit,
while a run that is allowed may still be refused by the operating system if other
programs take the memory meanwhile.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from forumsim.world.scenario import Scenario

PROCESS_BYTES = 300 << 20  # Python, numpy, pandas, Mesa and the model's fixed part
PERSON_BYTES = 2800  # arrays, memberships, ties (most of it) and records of one person
SLOT_BYTES = 8  # per person and forum column (membership index and known addresses,
#                 with the copy made while the columns double)


def forum_columns(fora: int) -> int:
    """Columns of the person x forum tables: 16, doubling while fora founded during the
    run (counted as many again as at day 0) need more."""
    columns = 16
    while columns < 2 * fora:
        columns *= 2
    return columns


def run_memory(people: int, fora: int) -> int:
    """Estimated peak bytes of one run (with its counterfactual) in its own process."""
    return PROCESS_BYTES + people * (PERSON_BYTES + SLOT_BYTES * forum_columns(fora))


def available_memory() -> int | None:
    """Bytes that new allocations can have now: the kernel's MemAvailable, or less if a
    cgroup (a container, a batch job) sets a lower limit. None if unknown."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            room = int(limit) - used
            available = room if available is None else min(available, room)
    except (OSError, ValueError):
        pass
    return available


class NotEnoughMemoryError(ValueError):
    """A run or sweep would need more memory than the machine has available."""


def _gb(n: int) -> str:
    return f"{n / 2**30:,.1f} GB"


def check_memory(scenarios: Iterable[Scenario], workers: int, what: str) -> None:
    """Refuse runs that cannot fit: the largest of `scenarios`, `workers` at a time, each
    in its own process (plus this one when `workers` > 1)."""
    available = available_memory()
    if available is None:
        return
    largest = max(scenarios, key=lambda s: run_memory(s.people, len(s.fora)))
    one = run_memory(largest.people, len(largest.fora))
    need = one * workers + (PROCESS_BYTES if workers > 1 else 0)
    if need <= available:
        return
    fits = max(0, (available - PROCESS_BYTES * (2 if workers > 1 else 1)) // workers
               // (PERSON_BYTES + SLOT_BYTES * forum_columns(len(largest.fora))))
    at_once = f", {workers} at a time" if workers > 1 else ""
    fewer = " or fewer --workers" if workers > 1 else ""
    raise NotEnoughMemoryError(
        f"{what}: a run of {largest.people:,} people and {len(largest.fora)} fora needs about "
        f"{_gb(one)} of memory{at_once} ({_gb(need)} in all), but this machine has "
        f"{_gb(available)} available; use at most about {fits:,} people{fewer}.")
