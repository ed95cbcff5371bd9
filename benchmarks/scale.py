"""A million people: the embedded `large` scenario (1,000,000 people, 8 fora, 3 years)
with a takedown of the largest forum after a year, and its counterfactual.

    python benchmarks/scale.py [--people 1000000] [--days 1095] [--profile]

Prints wall time, peak resident memory and person-days per second for the paired run
(`forumsim.experiment.runner.run`: the scenario with the takedown, then the same scenario
and seed without it). The counterfactual continues a snapshot taken the day before the
takedown, so days 1-364 are simulated once, not twice: 1,826 simulated days instead of
2,190 (person-days per second below count the paired run's 2 x 1,095 days). Targets
(issue 5): under 5 minutes and under 4 GB peak memory on one core. With --profile, also
prints where the time goes (cProfile, top functions).

To compare with an older commit, run this file with that commit's package first on the
path (e.g. `git worktree add /tmp/before <commit>`, then
`PYTHONPATH=/tmp/before/src .venv/bin/python benchmarks/scale.py`).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import time

# One core, as the target says: keep numpy's BLAS threads from using the second.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import forumsim  # noqa: E402
from forumsim import embedded_scenario  # noqa: E402
from forumsim.experiment.runner import run  # noqa: E402
from forumsim.world.scenario import parse_scenario  # noqa: E402


def large_with_takedown(people: int | None, days: int | None):
    """The large scenario with a publicized takedown of the largest forum on day 365."""
    data = embedded_scenario("large").overridden(people=people, days=days).model_dump()
    data["interventions"] = [{"type": "takedown", "day": min(365, data["days"]),
                              "target": "largest", "publicized": True}]
    return parse_scenario(data, source="benchmark")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    scenario = large_with_takedown(args.people, args.days)
    profiler = cProfile.Profile() if args.profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    result = run(scenario)
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - start
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    person_days = 2 * scenario.people * scenario.days
    record = result.metrics["interventions"][0]
    print(f"forumsim from {forumsim.__file__}")  # this tree, or an older commit's
    print(f"{scenario.people:,} people x {scenario.days} days, takedown + counterfactual: "
          f"wall {wall:.1f} s (target < 300 s), peak RSS {rss_gb:.2f} GB (target < 4 GB), "
          f"{person_days / wall:,.0f} person-days/s")
    print(f"takedown of {record['target']}: loss {record['loss']:.1%}, displaced "
          f"{record['displaced']:,}, rehomed within 30 days {record['rehomed_30d']:.1%}")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
