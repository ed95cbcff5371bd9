"""Is a faster engine the same model? The key outputs of the default ecosystem over 20
seeds, to compare, distribution against distribution, with those of another version
(tests/test_equivalence.py compares them with tests/data/equivalence_reference.json,
written by this script on the engine before its loops were compiled).

Per seed: the baseline's activity (mean daily active people over the last 30 days),
shares of posting members and lurkers; the takedown of the largest forum on day 365:
loss, days to recovery (the days left when never), top destination share; 20 arrests by
betweenness: key-player dependence.

    python scripts/equivalence.py [--seeds 2000:2020] [--write FILE]
"""

from __future__ import annotations

import argparse
import json
import math
from concurrent.futures import ProcessPoolExecutor

from forumsim import embedded_scenario, run
from forumsim.experiment.runner import simulate

SHOCK_DAY = 365
OUTPUTS = ("activity", "share_posting", "share_lurkers", "loss", "days_to_recovery",
           "top_destination_share", "kpd")


def outputs(seed: int) -> dict[str, float]:
    """The key outputs of one seed."""
    base = embedded_scenario().overridden(seed=seed)
    metrics = simulate(base).metrics
    takedown = run(base.overridden(interventions=[
        {"type": "takedown", "day": SHOCK_DAY, "target": "largest"}])).metrics[
        "interventions"][0]
    arrests = run(base.overridden(interventions=[
        {"type": "arrests", "day": SHOCK_DAY, "strategy": "betweenness", "k": 20}])).metrics[
        "interventions"][0]
    recovery = takedown["days_to_recovery"]
    return {"activity": metrics["active_people_mean_last30"],
            "share_posting": metrics["share_posting"],
            "share_lurkers": metrics["share_lurkers"],
            "loss": takedown["loss"],
            "days_to_recovery": float(base.days - SHOCK_DAY if recovery is None else recovery),
            "top_destination_share": takedown["top_destination_share"] or math.nan,
            "kpd": math.nan if arrests["kpd"] is None else arrests["kpd"]}


def collect(seeds: range, workers: int = 2) -> dict[str, list[float]]:
    """Every output over `seeds`, one list per output."""
    with ProcessPoolExecutor(workers) as pool:
        rows = list(pool.map(outputs, seeds))
    return {name: [row[name] for row in rows] for name in OUTPUTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="2000:2020", help="START:STOP")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", help="write the outputs as JSON here")
    args = parser.parse_args()
    start, stop = (int(x) for x in args.seeds.split(":"))
    values = collect(range(start, stop), args.workers)
    text = json.dumps({"seeds": [start, stop], "outputs": values}, indent=1)
    if args.write:
        with open(args.write, "w") as out:
            out.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
