"""How a sweep scales: the same 16-run sweep with 1 and 2 workers, on the local process
pool and on a Dask LocalCluster.

Targets (issue 4): 2 workers at least 1.8 times as fast as 1 on the process pool, and
Dask within 10% of the process pool. Times are wall-clock for a whole `forumsim sweep`
(pool start-up included), so they are what a user waits for. Each run is the default
scenario (20,000 people, two years) with a takedown and its counterfactual, about 3 s of
work. Every configuration must give the identical summary.parquet.

    python benchmarks/sweep_scaling.py [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from forumsim.experiment.executors import run_sweep
from forumsim.experiment.plan import load_sweep

SWEEP = """
name: scaling
base: default
fixed:
  interventions: [{type: takedown, day: 365, target: largest}]
replicates: 16
seed: 16
keep_series: false
"""
CONFIGURATIONS = (("process", 1), ("process", 2), ("dask-local", 1), ("dask-local", 2))


def timed_sweep(path: Path, out: Path, executor: str, workers: int) -> float:
    start = time.perf_counter()
    outcome = run_sweep(load_sweep(path), out, executor=executor, workers=workers)
    seconds = time.perf_counter() - start
    assert outcome.tally.done == 16 and outcome.tally.failed == 0, outcome.tally
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="measurements per "
                        "configuration, interleaved; the median is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "scaling.yaml").write_text(SWEEP)
        times: dict[tuple[str, int], list[float]] = {c: [] for c in CONFIGURATIONS}
        summaries = []
        for repeat in range(args.repeats):
            for executor, workers in CONFIGURATIONS:
                out = folder / f"{executor}-{workers}-{repeat}"
                times[(executor, workers)].append(
                    timed_sweep(folder / "scaling.yaml", out, executor, workers))
                summaries.append(pd.read_parquet(out / "summary.parquet"))
                print(f"{executor:>10} x {workers}: {times[(executor, workers)][-1]:6.1f} s",
                      flush=True)
        for other in summaries[1:]:
            pd.testing.assert_frame_equal(other, summaries[0])
    median = {c: sorted(t)[len(t) // 2] for c, t in times.items()}
    speedup = median[("process", 1)] / median[("process", 2)]
    dask_ratio = median[("dask-local", 2)] / median[("process", 2)]
    print(f"\n16 runs on {os.cpu_count()} CPUs (median of {args.repeats}):")
    for (executor, workers), seconds in median.items():
        print(f"  {executor:>10}, {workers} worker{'s' if workers > 1 else ' '}: "
              f"{seconds:6.1f} s  ({16 / seconds * 60:5.1f} runs/min)")
    print(f"  speed-up of 2 workers over 1 (process pool): {speedup:.2f}x (target >= 1.8)")
    print(f"  Dask LocalCluster / process pool, 2 workers: {dask_ratio:.2f} (target <= 1.10)")
    print("  summaries identical in every configuration: yes")
    print(json.dumps({"seconds": {f"{e}-{w}": round(s, 2) for (e, w), s in median.items()},
                      "speedup_2_over_1": round(speedup, 3),
                      "dask_over_process": round(dask_ratio, 3)}))


if __name__ == "__main__":
    main()
