"""Cost of a snapshot (`Ecosystem.fork`) against the simulation it saves.

A paired run (counterfactual, random-arrest variant) forks from a snapshot taken the day
before its first shock instead of simulating those days again. This builds the default
scenario with 200,000 people, steps it to the day before a shock, and times set-up plus
those days (what a fork saves) against taking the snapshot, and against the first day
stepped after it (which is where a copy made lazily would pay).

    python benchmarks/fork.py [--people 200000] [--days 182 365] [--repeats 3]

Target (issue 9): a snapshot costs under 5% of the run it saves.
"""

from __future__ import annotations

import argparse
import statistics
import time

from forumsim import Ecosystem, embedded_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--days", type=int, nargs="+", default=[182, 365],
                        help="days simulated before the snapshot (the shock's day - 1)")
    parser.add_argument("--repeats", type=int, default=3, help="snapshots timed (median)")
    args = parser.parse_args()
    scenario = embedded_scenario().overridden(people=args.people, days=max(args.days) + 1)
    start = time.perf_counter()
    eco = Ecosystem(scenario)
    for day in sorted(args.days):
        eco.run(day - eco.day)
        history = time.perf_counter() - start  # set-up and the days before the shock
        costs = []
        twin = None
        for _ in range(args.repeats):
            twin = None  # one snapshot alive at a time, as in `runner.run`
            began = time.perf_counter()
            twin = eco.fork()
            costs.append(time.perf_counter() - began)
        snapshot = statistics.median(costs)
        began = time.perf_counter()
        twin.step()
        next_day = time.perf_counter() - began
        del twin
        print(f"{args.people:,} people, snapshot after day {day}: "
              f"{int(eco.people.registered().sum()):,} people entered, {len(eco.ties):,} ties; "
              f"simulating set-up and {day} days {history:.2f} s; "
              f"snapshot {snapshot * 1000:.0f} ms (median of {args.repeats}, "
              f"{min(costs) * 1000:.0f}-{max(costs) * 1000:.0f} ms) = "
              f"{snapshot / history:.1%} of the run it saves (target < 5%); "
              f"the fork's next day {next_day * 1000:.0f} ms")
        start += time.perf_counter() - began + sum(costs)  # keep `history` pure simulation


if __name__ == "__main__":
    main()
