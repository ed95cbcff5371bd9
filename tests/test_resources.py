"""The memory a run needs, estimated before anything is allocated."""

from __future__ import annotations

import pytest

from forumsim import embedded_scenario
from forumsim.experiment import resources
from forumsim.experiment.resources import (
    NotEnoughMemoryError,
    check_memory,
    forum_columns,
    run_memory,
)

GIB = 2**30
# Peak RSS measured with benchmarks/memory.py (people, fora, days, takedown -> bytes); the
# estimate must stay above every one of them.
MEASURED = [(250_000, 8, 1095, False, 0.81), (1_000_000, 8, 1095, True, 2.77)]


@pytest.mark.parametrize("people, fora, days, takedown, gib", MEASURED)
def test_the_estimate_stays_above_measured_peaks(people, fora, days, takedown, gib):
    assert run_memory(people, fora) > gib * GIB


def test_the_forum_tables_double_with_the_fora():
    assert [forum_columns(k) for k in (1, 8, 9, 40, 60)] == [16, 16, 32, 128, 128]
    assert run_memory(100_000, 60) > run_memory(100_000, 3)


def test_the_large_scenario_fits_a_24_gb_machine_and_20_million_people_do_not(monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: 22 * GIB)  # 24 GB, idle
    large = embedded_scenario("large")
    check_memory([large], workers=2, what="large")
    with pytest.raises(NotEnoughMemoryError, match="20,000,000 people and 8 fora needs about"):
        check_memory([large.overridden(people=20_000_000)], workers=1, what="huge")


def test_a_sweep_counts_each_worker(monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: 8 * GIB)
    scenario = embedded_scenario("large").overridden(people=2_000_000)
    check_memory([scenario], workers=1, what="sweep")
    with pytest.raises(NotEnoughMemoryError, match="2 at a time.*or fewer --workers"):
        check_memory([scenario], workers=2, what="sweep")


def test_available_memory_is_known_here():
    assert resources.available_memory() > 100 << 20
