"""Is the baseline steady, and how fast does the ecosystem come back after a seizure?

Three checks on the default ecosystem, over seeds:

- baseline: 91-day (quarter) means of daily active people after the scenario's
  burn-in, as a share of their mean; the largest deviation (the baseline is flat if
  within ±10%; 30-day means also catch a forum's outage or closure, events of the
  baseline rather than a trend);
- pure displacement: the largest forum seized on day 365 (no publicity, no data
  seized); the 7-day gap's peak within the first week and its value two weeks after the
  seizure (the published destinations level off within a week: at most half the peak);
- publicized seizure with seized data (30%): days until activity is within 10% of the
  counterfactual for 28 days in a row (published: within months), and the lasting loss.

    python scripts/dynamics_check.py [--seeds 300:308] [--only baseline,pure,publicized]
        [--set behaviour.entry_rate_per_day=0.0006 ...]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from forumsim import embedded_scenario, run
from forumsim.experiment.runner import simulate

SHOCK_DAY = 365
OVERRIDES: dict[str, float] = {}  # --set, for trying other values


def scenario_of(seed: int, **values):
    return embedded_scenario().overridden(seed=seed, **OVERRIDES, **values)


def baseline(seed: int) -> dict[str, float]:
    scenario = scenario_of(seed)
    active = simulate(scenario).ecosystem["active_people"].to_numpy(float)
    after = active[scenario.burn_in_days:]
    months = np.array([after[i:i + 30].mean() for i in range(0, len(after) - 29, 30)])
    quarters = np.array([after[i:i + 91].mean() for i in range(0, len(after) - 90, 91)])
    return {"max_deviation_quarters": float(np.abs(quarters / after.mean() - 1).max()),
            "max_deviation_months": float(np.abs(months / after.mean() - 1).max()),
            "last_vs_first_quarter": float(quarters[-1] / quarters[0] - 1),
            "growth_from_day_0": float(active[-30:].mean() / active[:30].mean() - 1)}


def seizure(seed: int, publicized: bool) -> dict[str, float]:
    shock = {"type": "takedown", "day": SHOCK_DAY, "target": "largest"}
    if publicized:
        shock.update(publicized=True, data_seized=0.3)
    result = run(scenario_of(seed, interventions=[shock]))
    record = result.metrics["interventions"][0]
    a = result.ecosystem["active_people"].rolling(7, min_periods=1).mean().to_numpy()
    cf = result.counterfactual["active_people"].rolling(7, min_periods=1).mean().to_numpy()
    gap = 1 - a / cf
    start = SHOCK_DAY - 1
    recovery = record["days_to_recovery"]
    return {"peak_first_week": float(gap[start:start + 7].max()),
            "gap_day_14": float(gap[start + 14]),
            "ratio_14_to_peak": float(gap[start + 14] / gap[start:start + 7].max()),
            "gap_day_90": float(gap[start + 90]),
            "loss": record["loss"], "lasting_loss": record["lasting_loss"],
            "days_to_recovery": np.nan if recovery is None else float(recovery),
            "recovered_in_180": float(recovery is not None and recovery <= 180),
            "arrested": float(record["arrested"])}


def task(job: tuple[str, int, dict]) -> tuple[str, int, dict[str, float]]:
    kind, seed, overrides = job
    OVERRIDES.update(overrides)
    values = baseline(seed) if kind == "baseline" else seizure(seed, kind == "publicized")
    return kind, seed, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="300:308", help="START:STOP")
    parser.add_argument("--only", default="baseline,pure,publicized")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="PATH=VALUE")
    args = parser.parse_args()
    start, stop = (int(x) for x in args.seeds.split(":"))
    kinds = args.only.split(",")
    began = time.perf_counter()
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    overrides = {path: float(value) for path, value in (item.split("=") for item in args.set)}
    jobs = [(kind, seed, overrides) for kind in kinds for seed in range(start, stop)]
    with ProcessPoolExecutor(args.workers) as pool:
        for kind, _, values in pool.map(task, jobs):
            results[kind].append(values)
    print(f"seeds {start} to {stop - 1}: mean [min, max] over seeds")
    for kind in kinds:
        print(f"{kind}:")
        for key in results[kind][0]:
            x = np.array([r[key] for r in results[kind]], dtype=float)
            shown = x[~np.isnan(x)]
            text = (f"{shown.mean():8.3f} [{shown.min():.3f}, {shown.max():.3f}]"
                    if len(shown) else "none")
            missing = len(x) - len(shown)
            print(f"  {key:22s} {text}" + (f" ({missing} of {len(x)} none)" if missing else ""))
    print(f"wall {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
