"""How well paired runs cancel noise: effects of a null shock, a tiny shock and arrests.

A shock's effect is the gap between the run with it and the same scenario and seed
without it. How much of that gap is noise shows under shocks whose true effect is nil or
tiny:

- null: an outage of a forum that was taken down earlier (it changes nothing);
- tiny: a one-day outage of the smallest forum;

each on day 365 of the default ecosystem, over `--seeds` seeds. For each pair it reports
the effect measures computed from the daily active people (7-day means) in several
definitions, so the engine before and after a change can be compared on the same
footing:

- peak: the largest relative gap within the effect window (180 days);
- window: the share of the counterfactual's activity lost over the effect window;
- lasting: the mean relative gap over the run's last 30 days;
- recovery (one-sided: at most 10% below; two-sided: within 10%), 28 days in a row.

With `--kpd` it also runs, per seed, the scenario with 20 arrests by betweenness, by
degree and at random, and with all VIPs arrested, through `forumsim.run`, and prints
the key-player dependence each record gives.

    python benchmarks/pairing.py [--seeds 500:510] [--kpd] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from forumsim import Ecosystem, embedded_scenario, run

SHOCK_DAY = 365
WINDOW = 180
TAKEDOWN_E = {"type": "takedown", "day": 300, "target": "Forum E"}
OUTAGE_E = {"type": "outage", "day": SHOCK_DAY, "target": "Forum E", "duration_days": 1}
KPD_SHOCKS = {
    "betweenness_20": {"type": "arrests", "day": SHOCK_DAY, "strategy": "betweenness", "k": 20},
    "degree_20": {"type": "arrests", "day": SHOCK_DAY, "strategy": "degree", "k": 20},
    "random_20": {"type": "arrests", "day": SHOCK_DAY, "strategy": "random", "k": 20},
    "all_vips": {"type": "arrests", "day": SHOCK_DAY, "strategy": "vips", "share": 1.0},
}


def smoothed(series: np.ndarray) -> np.ndarray:
    """7-day trailing mean (the first days over what there is)."""
    cumulative = np.concatenate([[0.0], np.cumsum(series, dtype=float)])
    days = np.arange(1, len(series) + 1)
    low = np.maximum(days - 7, 0)
    return (cumulative[days] - cumulative[low]) / (days - low)


def measures(actual: np.ndarray, counterfactual: np.ndarray) -> dict[str, float | None]:
    """The effect of a shock on day SHOCK_DAY in every definition compared."""
    a, cf = smoothed(actual), smoothed(counterfactual)
    gap = np.divide(cf - a, cf, out=np.zeros_like(cf), where=cf != 0)
    start = SHOCK_DAY - 1
    window = slice(start, min(len(gap), start + WINDOW))
    raw_window = slice(start, min(len(actual), start + WINDOW))

    def recovery(inside: np.ndarray, hold: int = 28) -> int | None:
        counts = np.concatenate([[0], np.cumsum(inside)])
        held = np.flatnonzero(counts[hold:] - counts[:-hold] == hold)
        return int(held[0]) if held.size else None

    return {
        "peak": max(0.0, float(gap[window].max())),
        "window": float((counterfactual[raw_window].sum() - actual[raw_window].sum())
                        / counterfactual[raw_window].sum()),
        "lasting": float(gap[-30:].mean()),
        "recovery_one_sided": recovery(gap[start:] <= 0.1),
        "recovery_two_sided": recovery(np.abs(gap[start:]) <= 0.1),
    }


def active(eco: Ecosystem) -> np.ndarray:
    return eco.datacollector.get_model_vars_dataframe()["active_people"].to_numpy(float)


def pair(seed: int, before: list[dict], shock: dict) -> dict[str, float | None]:
    """Step the scenario with `before` to the day before the shock, then continue it with
    and without `shock` (forks of the same model) and measure the gap."""
    scenario = embedded_scenario().overridden(seed=seed, interventions=[*before, shock])
    eco = Ecosystem(scenario).run(SHOCK_DAY - 1)
    without = eco.fork(scenario.interventions[:-1])
    eco.run(scenario.days - eco.day)
    without.run(scenario.days - without.day)
    return measures(active(eco), active(without))


def kpd_records(seed: int) -> dict[str, dict]:
    """The intervention record of each arrest scenario, as `forumsim.run` gives it. For
    random arrests (their own baseline, so the record has no kpd), where the engine can
    draw other people (`draw`), kpd of draw 0 against draws 1 to 5: about 1 if kpd is
    not biased."""
    records = {}
    for name, shock in KPD_SHOCKS.items():
        scenario = embedded_scenario().overridden(seed=seed, interventions=[shock])
        record = run(scenario).metrics["interventions"][0]
        records[name] = {key: value for key, value in record.items()
                         if isinstance(value, int | float | type(None)) or key.startswith("kpd")}
        if shock["strategy"] == "random" and "draw" in type(scenario.interventions[0]).model_fields:
            from forumsim.measures.metrics import key_player_dependence
            others = [run(embedded_scenario().overridden(seed=seed, interventions=[
                {**shock, "draw": draw}])).metrics["interventions"][0]["loss"]
                for draw in range(1, 6)]
            kpd = key_player_dependence(record["loss"], others)
            records[name].update(kpd=kpd.kpd, kpd_low=kpd.low, kpd_high=kpd.high,
                                 loss_random=kpd.loss_random)
    return records


def describe(values: list) -> str:
    """mean ± SD [min, max] (n), over the values that are numbers."""
    x = np.array([v for v in values if isinstance(v, int | float) and not math.isnan(v)])
    missing = len(values) - len(x)
    if not len(x):
        return f"none of {len(values)}"
    sd = x.std(ddof=1) if len(x) > 1 else math.nan
    text = f"{x.mean():.4f} ± {sd:.4f} [{x.min():.4f}, {x.max():.4f}]"
    return text + (f" ({missing} of {len(values)} none)" if missing else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="500:510", help="START:STOP (default 500:510)")
    parser.add_argument("--kpd", action="store_true", help="also the key-player runs")
    parser.add_argument("--json", help="write every per-seed value to this file")
    args = parser.parse_args()
    start, stop = (int(x) for x in args.seeds.split(":"))
    seeds = list(range(start, stop))
    began = time.perf_counter()
    results: dict[str, dict] = {"null": {}, "tiny": {}, "kpd": {}}
    for seed in seeds:
        results["null"][seed] = pair(seed, [TAKEDOWN_E], OUTAGE_E)
        results["tiny"][seed] = pair(seed, [], OUTAGE_E)
        if args.kpd:
            results["kpd"][seed] = kpd_records(seed)
        print(f"seed {seed} done ({time.perf_counter() - began:.0f} s)", flush=True)
    print(f"\n{len(seeds)} seeds ({start} to {stop - 1}), default ecosystem, shock on day "
          f"{SHOCK_DAY}; mean ± SD [min, max]\n")
    for shock in ("null", "tiny"):
        print(f"{shock}:")
        for measure in next(iter(results[shock].values())):
            print(f"  {measure:20s} {describe([r[measure] for r in results[shock].values()])}")
    if args.kpd:
        for name in KPD_SHOCKS:
            print(f"{name}:")
            rows = [results["kpd"][seed][name] for seed in seeds]
            for key in rows[0]:
                if key in ("day", "effect_window_days", "successor_fora", "displaced"):
                    continue
                print(f"  {key:20s} {describe([row.get(key) for row in rows])}")
    print(f"\nwall {time.perf_counter() - began:.0f} s")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1, default=str)


if __name__ == "__main__":
    main()
