"""What a run needs of the machine, checked before anything is allocated: memory, from
the number of people and fora and the snapshots its paired runs start from, against what
the machine (or each worker of a Dask cluster) has available now.

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
SNAPSHOT_BYTES = 500  # per person, of a fork kept for a paired run (measured 260 to 450:
#                       arrays copied, ties shared; more the later in the run it is taken)


def forum_columns(fora: int) -> int:
    """Columns of the person x forum tables: 16, doubling while fora founded during the
    run (counted as many again as at day 0) need more."""
    columns = 16
    while columns < 2 * fora:
        columns *= 2
    return columns


def model_memory(people: int, fora: int) -> int:
    """Estimated peak bytes of one model and its counterfactual, without the process."""
    return people * (PERSON_BYTES + SLOT_BYTES * forum_columns(fora))


def run_memory(people: int, fora: int, snapshots: int = 0) -> int:
    """Estimated peak bytes of one run in its own process: the model, its counterfactual,
    and `snapshots` forks kept at once for paired runs."""
    per_snapshot = people * (SNAPSHOT_BYTES + SLOT_BYTES * forum_columns(fora))
    return PROCESS_BYTES + model_memory(people, fora) + snapshots * per_snapshot


def snapshots(scenario: Scenario) -> int:
    """Forks of the model `runner.run` holds at the end of the run with shocks: one for
    each day on which a paired run parts from it (the day before the first shock, for the
    counterfactual; with several shocks, the day before each, for the scenario without
    it; the day before each targeted arrest, for its random variant)."""
    specs = scenario.interventions
    if not specs:
        return 0
    days = {min(spec.day for spec in specs) - 1}
    if len(specs) > 1:
        days |= {spec.day - 1 for spec in specs}
    days |= {spec.day - 1 for spec in specs
             if spec.type == "arrests" and spec.strategy != "random"}
    return len(days)


def scenario_memory(scenario: Scenario) -> int:
    """Estimated peak bytes of a run of `scenario` in its own process."""
    return run_memory(scenario.people, len(scenario.fora), snapshots(scenario))


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


def _largest(scenarios: Iterable[Scenario]) -> tuple[Scenario, int]:
    largest = max(scenarios, key=scenario_memory)
    return largest, scenario_memory(largest)


def _described(scenario: Scenario) -> str:
    kept = snapshots(scenario)
    forks = f", keeping {kept} snapshots for its paired runs" if kept > 1 else ""
    return f"a run of {scenario.people:,} people and {len(scenario.fora)} fora{forks}"


def _people_fitting(room: int, scenario: Scenario) -> int:
    """About how many people a run like `scenario` may have within `room` bytes."""
    per_person = (scenario_memory(scenario) - PROCESS_BYTES) / max(scenario.people, 1)
    return max(0, int(room / per_person))


def check_memory(scenarios: Iterable[Scenario], workers: int, what: str) -> None:
    """Refuse runs that cannot fit: the largest of `scenarios`, `workers` at a time, each
    in its own process (plus this one when `workers` > 1)."""
    available = available_memory()
    if available is None:
        return
    largest, one = _largest(scenarios)
    need = one * workers + (PROCESS_BYTES if workers > 1 else 0)
    if need <= available:
        return
    room = (available - PROCESS_BYTES * (2 if workers > 1 else 1)) // workers
    at_once = f", {workers} at a time" if workers > 1 else ""
    fewer = " or fewer --workers" if workers > 1 else ""
    raise NotEnoughMemoryError(
        f"{what}: {_described(largest)} needs about {_gb(one)} of memory{at_once} "
        f"({_gb(need)} in all), but this machine has {_gb(available)} available; use at "
        f"most about {_people_fitting(room, largest):,} people{fewer}.")


def check_workers_memory(scenarios: Iterable[Scenario], workers: dict[str, dict],
                         what: str) -> None:
    """Refuse runs that a Dask cluster's workers cannot hold: each worker runs as many at
    once as it has threads, within its memory limit (`workers`: the scheduler's
    description of each worker, with `memory_limit` and `nthreads`; a limit of 0 is none).
    """
    largest, one = _largest(scenarios)
    short = {address: info for address, info in workers.items()
             if info.get("memory_limit") and one * max(1, info.get("nthreads", 1))
             > info["memory_limit"]}
    if not short:
        return
    address, info = next(iter(short.items()))
    threads = max(1, info.get("nthreads", 1))
    room = info["memory_limit"] // threads - PROCESS_BYTES
    raise NotEnoughMemoryError(
        f"{what}: {_described(largest)} needs about {_gb(one)} of memory, but "
        f"{len(short)} of the cluster's {len(workers)} workers cannot hold that for each "
        f"of their threads (worker {address}: {_gb(info['memory_limit'])} for {threads} "
        f"thread{'s' if threads > 1 else ''}); start them with more memory or fewer threads, "
        f"or use at most about {_people_fitting(room, largest):,} people.")
