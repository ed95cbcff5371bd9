"""Where a run's time goes, by phase of the simulated day.

Times each phase of `Ecosystem.step` (wall clock, summed over the run) by wrapping the
methods that make it up, and prints a Markdown table with each phase's share of the
stepping time. The wrappers cost a few microseconds a call, so the total is a little above
an unwrapped run's.

    python benchmarks/phases.py [SCENARIO] [--people N] [--days D]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

from forumsim.world import agents, pull
from forumsim.world.model import Ecosystem
from forumsim.world.scenario import embedded_scenario

spent: defaultdict[str, float] = defaultdict(float)

# (owner, method, label, whether it is a classmethod), in the order of the day
PHASES = (
    (Ecosystem, "_new_day", "new day (counters)", False),
    (Ecosystem, "apply_interventions", "shocks", False),
    (agents.Admin, "keep_online", "outages and closures", True),
    (Ecosystem, "_draw_active", "act: draw who is active", False),
    (Ecosystem, "_choose_visits", "act: choose where to go", False),
    (agents.Person, "visit", "act: visits (post, share, credit, ties, reports, invitations)",
     True),
    (Ecosystem, "search_and_join", "act: search for a forum and register", False),
    (Ecosystem, "govern", "govern (queues, cross-promotion, recruiting)", False),
    (agents.Member, "tie_thankers", "ties through thanks", True),
    (Ecosystem, "relocate", "relocate (successors, founding, careers ending)", False),
    (pull, "update", "pull of each forum", False),
    (Ecosystem, "collect", "collect (Mesa DataCollector)", False),
)


def _wrap(owner, name: str, label: str, is_classmethod: bool) -> None:
    method = getattr(owner, name)
    inner = method.__func__ if is_classmethod else method

    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - began

    setattr(owner, name, classmethod(timed) if is_classmethod else timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", nargs="?", default="default")
    parser.add_argument("--people", type=int)
    parser.add_argument("--days", type=int)
    args = parser.parse_args()
    scenario = embedded_scenario(args.scenario)
    scenario = scenario.overridden(**{k: v for k, v in (("people", args.people),
                                                         ("days", args.days)) if v})
    Ecosystem(scenario).run(3)  # compile or load the kernels first
    for phase in PHASES:
        _wrap(*phase)
    _wrap(Ecosystem, "step", "total", False)
    spent.clear()
    cpu = time.process_time()
    Ecosystem(scenario).run()
    cpu = time.process_time() - cpu
    total = spent.pop("total")
    print(f"{args.scenario}: {scenario.people:,} people x {scenario.days} days; stepping "
          f"{total:.3f} s wall, run {cpu:.3f} s CPU\n")
    print("| phase | seconds | share of stepping |\n| --- | --- | --- |")
    for label, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"| {label} | {seconds:.3f} | {100 * seconds / total:.1f}% |")
    rest = total - sum(spent.values())
    print(f"| the rest (the day's loops over fora, events following visits, invitations, "
          f"newcomers) | {rest:.3f} | {100 * rest / total:.1f}% |")


if __name__ == "__main__":
    main()
