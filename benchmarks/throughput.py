"""Throughput of the ecosystem model against bare Mesa stepping.

Prints person-days per second for the default scenario and for 200,000 people over
365 days, and, on the same number of agents, for a bare Mesa model whose agents do
nothing but `shuffle_do("step")` each day. Two ratios to bare Mesa:

- stepping: `Ecosystem.step` alone (set-up timed apart);
- whole run: `forumsim run --people 200000 --days 365 --no-figures`, run as a command,
  by the `wall_seconds` of its summary.json (set-up, stepping and metrics, not writing
  files).

    python benchmarks/throughput.py [--people 200000] [--days 365] [--bare-days 20] [--repeats 3]

The large runs and the bare Mesa run are repeated, interleaved, and medians reported,
because single timings on a shared machine vary by 10-20%.

Also the default scenario's simulation in CPU seconds (issue 22: at most 0.5 s).

Targets (issues 2 and 9): default scenario under 10 s; 200,000 people x 365 days under
60 s and under 2 GB peak memory; stepping and whole-run throughput at least 30x bare
Mesa's.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mesa

from forumsim import Ecosystem, embedded_scenario, run


class IdleAgent(mesa.Agent):
    """An agent that does nothing."""

    def step(self) -> None:
        pass


class BareModel(mesa.Model):
    """Bare Mesa stepping: every agent's step() every day, in random order."""

    def __init__(self, n: int) -> None:
        super().__init__(rng=1)
        IdleAgent.create_agents(self, n)

    def step(self) -> None:
        self.agents.shuffle_do("step")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_ecosystem(people: int | None, days: int | None) -> dict[str, float]:
    """Set up and step the default scenario (optionally resized)."""
    scenario = embedded_scenario().overridden(people=people, days=days)
    start = time.perf_counter()
    eco = Ecosystem(scenario)
    built, built_cpu = time.perf_counter(), time.process_time()
    eco.run()
    done, step_cpu = time.perf_counter(), time.process_time() - built_cpu
    step_s = done - built
    return {"people": scenario.people, "days": scenario.days, "setup_s": built - start,
            "step_s": step_s, "total_s": done - start, "step_cpu_s": step_cpu,
            "person_days_per_s": scenario.people * scenario.days / step_s}


def time_bare(people: int, days: int) -> dict[str, float]:
    """Step a bare Mesa model for `days` days."""
    model = BareModel(people)
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(days):
        model.step()
    step_s = time.perf_counter() - start
    return {"people": people, "days": days, "step_s": step_s,
            "step_cpu_s": time.process_time() - start_cpu,
            "person_days_per_s": people * days / step_s}


def time_run_cpu(people: int, days: int) -> float:
    """CPU seconds of `runner.run` (what `wall_seconds` times) in this process."""
    scenario = embedded_scenario().overridden(people=people, days=days)
    start = time.process_time()
    run(scenario)
    return time.process_time() - start


def time_command(people: int, days: int) -> dict[str, float]:
    """`forumsim run` without interventions, in its own process; its own `wall_seconds`."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run"
        subprocess.run([sys.executable, "-c", "from forumsim.ui.cli import app; app()", "run",
                        "--people", str(people), "--days", str(days), "--out", str(out),
                        "--no-figures", "--quiet"], check=True, stdout=subprocess.DEVNULL)
        wall = json.loads((out / "summary.json").read_text())["wall_seconds"]
    return {"wall_s": wall, "person_days_per_s": people * days / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--bare-days", type=int, default=20,
                        help="days of bare Mesa stepping to time (its cost per day is flat)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved repetitions of the large and bare runs (medians)")
    args = parser.parse_args()

    defaults = [time_ecosystem(None, None) for _ in range(args.repeats)]
    default = defaults[0]
    print(f"default scenario: {default['people']:,} people x {default['days']} days: "
          f"setup {default['setup_s']:.2f} s, stepping {default['step_s']:.2f} s, "
          f"total {default['total_s']:.2f} s (target < 10 s); "
          f"{default['person_days_per_s']:,.0f} person-days/s")
    cpu = [d["step_cpu_s"] for d in defaults]
    print(f"default simulation seconds (CPU, stepping, median of {args.repeats}): "
          f"{statistics.median(cpu):.2f} s, range {min(cpu):.2f}-{max(cpu):.2f} s "
          "(target <= 0.5 s)")

    larges, commands, bares, ratios, whole_ratios, cpu_ratios = [], [], [], [], [], []
    for i in range(args.repeats):
        large = time_ecosystem(args.people, args.days)
        if i == 0:
            rss = peak_rss_mb()  # before any bare Mesa model adds its own agents
        command = time_command(args.people, args.days)
        run_cpu = time_run_cpu(args.people, args.days)
        bare = time_bare(args.people, args.bare_days)
        bare_cpu = bare["step_cpu_s"] / (args.people * args.bare_days)  # per person-day
        cpu_ratios.append((bare_cpu * args.people * args.days / large["step_cpu_s"],
                           bare_cpu * args.people * args.days / run_cpu))
        ratio = large["person_days_per_s"] / bare["person_days_per_s"]
        whole = command["person_days_per_s"] / bare["person_days_per_s"]
        larges.append(large)
        commands.append(command)
        bares.append(bare)
        ratios.append(ratio)
        whole_ratios.append(whole)
        print(f"  repeat {i + 1}: forumsim stepping {large['step_s']:.2f} s, total "
              f"{large['total_s']:.2f} s; forumsim run wall_seconds {command['wall_s']:.2f} s; "
              f"bare Mesa {bare['step_s']:.2f} s for {bare['days']} days; "
              f"ratios {ratio:.1f}x stepping, {whole:.1f}x whole run")
    step_s = statistics.median(r["step_s"] for r in larges)
    total_s = statistics.median(r["total_s"] for r in larges)
    setup_s = statistics.median(r["setup_s"] for r in larges)
    rate = statistics.median(r["person_days_per_s"] for r in larges)
    bare_rate = statistics.median(r["person_days_per_s"] for r in bares)
    print(f"large: {args.people:,} people x {args.days} days (median of {args.repeats}): "
          f"setup {setup_s:.2f} s, stepping {step_s:.2f} s, total {total_s:.2f} s "
          f"(target < 60 s); peak RSS {rss:,.0f} MB (target < 2048 MB); "
          f"{rate:,.0f} person-days/s")
    print(f"bare Mesa shuffle_do('step'), {args.people:,} agents (median): "
          f"{bare_rate:,.0f} person-days/s")
    wall = statistics.median(c["wall_s"] for c in commands)
    print(f"forumsim run --people {args.people} --days {args.days} (median): wall_seconds "
          f"{wall:.2f} s, {args.people * args.days / wall:,.0f} person-days/s")
    print(f"ratio (forumsim stepping / bare Mesa stepping): median {statistics.median(ratios):.1f}x"
          f", range {min(ratios):.1f}-{max(ratios):.1f}x (target >= 30x)")
    print(f"ratio (forumsim run, whole run / bare Mesa stepping): median "
          f"{statistics.median(whole_ratios):.1f}x, range {min(whole_ratios):.1f}-"
          f"{max(whole_ratios):.1f}x (target >= 30x)")
    # Wall times on a shared machine move with the other load; CPU times much less.
    print(f"by CPU time (steadier when the machine is shared): stepping median "
          f"{statistics.median(r[0] for r in cpu_ratios):.1f}x, whole run (runner.run in "
          f"this process) median {statistics.median(r[1] for r in cpu_ratios):.1f}x")


if __name__ == "__main__":
    main()
