"""The memory a run needs, estimated before anything is allocated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forumsim import embedded_scenario
from forumsim.experiment import resources
from forumsim.experiment.resources import (
    NotEnoughMemoryError,
    check_memory,
    forum_columns,
    run_memory,
    scenario_memory,
    snapshots,
)

GIB = 2**30
# Peak RSS measured with benchmarks/memory.py (people, fora, days, takedown, one-day outages
# of the largest forum spread over the run -> GiB); the estimate must stay above each.
MEASURED = [(250_000, 8, 1095, False, 0, 0.81), (1_000_000, 8, 1095, True, 0, 2.77),
            (40_000, 8, 300, False, 30, 0.51), (200_000, 8, 400, False, 20, 1.30)]


@pytest.mark.parametrize("people, fora, days, takedown, outages, gib", MEASURED)
def test_the_estimate_stays_above_measured_peaks(people, fora, days, takedown, outages,
                                                 gib):
    shocks = [{"type": "takedown", "day": 365, "target": "largest"}] * takedown + [
        {"type": "outage", "day": 30 + i * (days - 40) // outages, "target": "largest",
         "duration_days": 1} for i in range(outages)]
    scenario = embedded_scenario("large").with_fora(fora).overridden(
        people=people, days=days, interventions=shocks)
    assert scenario_memory(scenario) > gib * GIB


def test_each_day_a_paired_run_parts_from_the_run_costs_a_snapshot():
    base = embedded_scenario("small").overridden(days=200)

    def kept(*shocks) -> int:
        return snapshots(base.overridden(interventions=list(shocks)))

    outage = {"type": "outage", "target": "largest"}
    assert kept() == 0
    assert kept({**outage, "day": 50}) == 1  # the counterfactual
    assert kept({**outage, "day": 50}, {**outage, "day": 60}) == 2  # each without the other
    assert kept({**outage, "day": 50}, {**outage, "day": 50, "target": "random"}) == 1
    assert kept({"type": "arrests", "day": 50, "strategy": "degree", "k": 3}) == 1
    assert kept({**outage, "day": 40}, {"type": "arrests", "day": 50, "strategy": "degree",
                                        "k": 3}) == 2
    many = base.overridden(people=200_000, interventions=[
        {**outage, "day": 20 + day} for day in range(150)])
    assert scenario_memory(many) > 5.4 * GIB  # measured in issue 25; estimated 0.84 GB then


def test_a_run_whose_snapshots_cannot_fit_is_refused_before_it_starts(tmp_path):
    shocks = "".join(f"  - {{type: outage, day: {day}, target: largest}}\n"
                     for day in range(2, 152))
    (tmp_path / "many.yaml").write_text(f"extends: small\npeople: 2000000\ndays: 160\n"
                                        f"interventions:\n{shocks}")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    done = subprocess.run([sys.executable, "-m", "forumsim.ui.cli", "run", "many.yaml",
                           "--out", "out"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "keeping 150 snapshots for its paired runs" in " ".join(done.stderr.split())
    assert not (tmp_path / "out").exists()


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
