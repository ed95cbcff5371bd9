"""The shipped single-scenario experiments over several seeds: the table of
docs/interventions.md, each figure a mean with its range over the seeds.

    python scripts/shipped_experiments.py [--seeds 5100:5105] [--workers 2]
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from forumsim import load_scenario, run

EXPERIMENTS = ("takedown_largest", "takedown_quiet", "decapitation", "key_players_single")
ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("loss", "peak_loss", "days_to_recovery", "lasting_loss", "arrested", "displaced",
           "rehomed_30d", "top_destination_share", "successor_fora", "kpd")


def one(task: tuple[str, int]) -> tuple[str, int, dict]:
    name, seed = task
    scenario = load_scenario(ROOT / "experiments" / f"{name}.yaml").overridden(seed=seed)
    return name, seed, run(scenario).metrics["interventions"][0]


def shown(values: list, column: str) -> str:
    """Mean [min, max] over the seeds where the value exists; how many never recovered."""
    numbers = np.array([v for v in values if v is not None and not (
        isinstance(v, float) and math.isnan(v))], dtype=float)
    missing = len(values) - len(numbers)
    if not len(numbers):
        return "–" if column != "days_to_recovery" else f"never ({missing} of {len(values)})"
    percent = column in ("loss", "peak_loss", "lasting_loss", "rehomed_30d",
                         "top_destination_share")
    fmt = (lambda x: f"{100 * x:.1f}%") if percent else (
        (lambda x: f"{x:,.0f}") if column in ("arrested", "displaced", "days_to_recovery")
        else (lambda x: f"{x:.2g}"))
    text = f"{fmt(numbers.mean())} [{fmt(numbers.min())}, {fmt(numbers.max())}]"
    if missing and column == "days_to_recovery":
        text += f", never in {missing}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="5100:5105")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    start, stop = (int(x) for x in args.seeds.split(":"))
    began = time.perf_counter()
    records: dict[str, list[dict]] = {name: [] for name in EXPERIMENTS}
    with ProcessPoolExecutor(args.workers) as pool:
        for name, _, record in pool.map(one, [(n, s) for n in EXPERIMENTS
                                               for s in range(start, stop)]):
            records[name].append(record)
    print(f"seeds {start} to {stop - 1}: mean [min, max] over seeds "
          f"({time.perf_counter() - began:.0f} s)\n")
    print("| experiment | " + " | ".join(COLUMNS) + " |")
    print("| --- " * (len(COLUMNS) + 1) + "|")
    for name in EXPERIMENTS:
        cells = [shown([r.get(c) for r in records[name]], c) for c in COLUMNS]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
