"""Peak memory of one `forumsim run` against the estimate that `run` and `sweep` check
before they allocate (forumsim.experiment.resources.run_memory).

    python benchmarks/memory.py [--people 250000] [--fora 8] [--days 1095] [--takedown]
                                [--outages 0 10 40]

Each size runs in a fresh process (peak RSS is per process): the large scenario with the
given people, fora and days (and, with --takedown, a takedown on day 365 plus the
counterfactual, as `forumsim run` does; with --outages N, N one-day outages of the largest
forum on N days from day 30 on, each measured against the same scenario without it, so
that the run keeps a snapshot of the model for each). Prints measured peak RSS, the
estimate and their ratio; the estimate must stay above the measurement.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, time
from forumsim import embedded_scenario
from forumsim.experiment.runner import run
from forumsim.world.scenario import parse_scenario
people, fora, days, takedown, outages = json.loads(sys.argv[1])
data = embedded_scenario("large").with_fora(fora).overridden(people=people, days=days).model_dump()
if takedown:
    data["interventions"] = [{"type": "takedown", "day": min(365, days), "target": "largest"}]
data["interventions"] = data.get("interventions", []) + [
    {"type": "outage", "day": 30 + i * max(1, (days - 40) // max(outages, 1)),
     "target": "largest", "duration_days": 1} for i in range(outages)]
scenario = parse_scenario(data, source="benchmark")
start = time.perf_counter()
run(scenario)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"peak": peak, "seconds": time.perf_counter() - start}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, nargs="+", default=[250_000])
    parser.add_argument("--fora", type=int, default=8)
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--takedown", action="store_true")
    parser.add_argument("--outages", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    from forumsim.experiment.resources import run_memory

    for people, outages in ((p, o) for p in args.people for o in args.outages):
        done = subprocess.run([sys.executable, "-c", CHILD,
                               json.dumps([people, args.fora, args.days, args.takedown,
                                           outages])],
                              capture_output=True, text=True, check=True)
        measured = json.loads(done.stdout.splitlines()[-1])
        estimate = run_memory(people, args.fora)
        print(f"{people:>11,} people x {args.fora} fora x {args.days} days"
              f"{' + takedown' if args.takedown else ''}"
              f"{f' + {outages} outages' if outages else ''}: peak RSS "
              f"{measured['peak'] / 2**30:.2f} GiB, estimate {estimate / 2**30:.2f} GiB "
              f"(x{estimate / measured['peak']:.2f}), {measured['seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
