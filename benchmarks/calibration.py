"""Does `forumsim calibrate` recover parameter values it should? A coverage check on
synthetic communities.

For each of K data sets, draw known values of three parameters from their (wide)
priors, run the `small` scenario at those values with its posts exported (what `forumsim
run --export-posts` writes), summarise the export with the code of `forumsim data
summarize`, and calibrate the three parameters to those statistics by ABC-SMC. Then say
where each known value falls in its posterior (the posterior quantile of the truth: near
0 or 1 means the posterior missed it), whether the 90% credible interval holds it, and
how wide that interval is against the prior's (in the prior's scale: log for log-uniform
priors). Over the data sets, the share of intervals that hold the truth is the coverage;
for a well-calibrated posterior it is about 90%.

    python benchmarks/calibration.py [--datasets 5] [--workers 2] [--out recovery.json]

Each data set's calibration folder is kept under --work (a temporary folder by default).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from forumsim.experiment.calibration import load_calibration
from forumsim.experiment.forum_data import exported_community
from forumsim.experiment.inference import calibrate, weighted_quantile
from forumsim.experiment.runner import simulate
from forumsim.experiment.targets import summarize, write_targets

PRIORS = {
    "behaviour.communicator_share": {"log_uniform": [0.01, 0.16]},
    "behaviour.reply_share": {"uniform": [0.2, 0.95]},
    "behaviour.post_prob_per_visit": {"log_uniform": [0.05, 0.8]},
}
FIT = ["posters_among_members", "reply_share", "posts_per_author_mean",
       "posts_per_author_median", "thread_size_mean"]
HOLD_OUT = ["monthly_active_authors_mean", "reply_degree_mean", "multi_forum_author_share"]


def calibration_file(folder: Path, priors: dict, fixed: dict, population: int,
                     generations: int, seed: int) -> dict:
    """A calibration of `priors` to the targets in `folder/targets.json`."""
    return {"name": folder.name, "base": "small", "fixed": fixed, "parameters": priors,
            "targets": {"file": "targets.json"},
            "fit": FIT, "hold_out": HOLD_OUT, "population": population,
            "generations": generations, "seed": seed}


def draw_truth(priors: dict, rng: np.random.Generator) -> dict[str, float]:
    """Known values drawn from the priors (uniform, or uniform in the log)."""
    truth = {}
    for name, prior in priors.items():
        kind, (low, high) = next(iter(prior.items()))
        truth[name] = (float(rng.uniform(low, high)) if kind == "uniform"
                       else float(math.exp(rng.uniform(math.log(low), math.log(high)))))
    return truth


def synthetic_targets(folder: Path, priors: dict, fixed: dict, truth: dict[str, float],
                      seed: int) -> None:
    """Run the base scenario at `truth` with its posts exported and summarise the export
    into folder/targets.json, as `forumsim run --export-posts` then `forumsim data
    summarize` would."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / "probe.yaml"  # only to build the scenario the calibration varies
    probe.write_text(yaml.safe_dump({
        "base": "small", "fixed": fixed, "parameters": priors,
        "targets": {"published": {"reply_share": {"value": 0.5, "tolerance": 1}}},
        "fit": ["reply_share"]}))
    scenario = load_calibration(probe).scenario(truth, seed=seed)
    probe.unlink()
    result = simulate(scenario, export_posts=True)
    write_targets(summarize(exported_community(result.community)), folder / "targets.json")


def recovery(posterior: pd.DataFrame, priors: dict, truth: dict[str, float]) -> list[dict]:
    """Per parameter: the posterior quantile of the truth, its 90% interval, whether it
    holds the truth, and the interval's width over the prior's 90% width (prior scale)."""
    last = posterior[posterior["generation"] == posterior["generation"].max()]
    weights = last["weight"].to_numpy()
    rows = []
    for name, prior in priors.items():
        kind, (low, high) = next(iter(prior.items()))
        values = last[name].to_numpy(dtype=float)
        scale = (lambda x: x) if kind == "uniform" else np.log
        lo, mid, hi = (weighted_quantile(values, weights, q) for q in (0.05, 0.5, 0.95))
        quantile = float(weights[values < truth[name]].sum()
                         + 0.5 * weights[values == truth[name]].sum()) / weights.sum()
        rows.append({"parameter": name, "truth": truth[name], "median": mid, "low": lo,
                     "high": hi, "truth_quantile": quantile,
                     "inside": bool(lo <= truth[name] <= hi),
                     "width_ratio": float((scale(hi) - scale(lo))
                                          / (0.9 * (scale(high) - scale(low))))})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=5, help="synthetic data sets (K)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--people", type=int, default=4000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--population", type=int, default=60, help="particles")
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0, help="root of the truths and seeds")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the data sets and calibrations (default: temporary)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    fixed = {"people": args.people, "days": args.days}
    work = args.work or Path(tempfile.mkdtemp(prefix="forumsim-recovery-"))
    rng = np.random.default_rng(args.seed)
    rows, started = [], time.perf_counter()
    for k in range(args.datasets):
        truth = draw_truth(PRIORS, rng)
        folder = work / f"data{k}"
        synthetic_targets(folder, PRIORS, fixed, truth, seed=1000 + args.seed + k)
        (folder / "calibration.yaml").write_text(yaml.safe_dump(calibration_file(
            folder, PRIORS, fixed, args.population, args.generations, seed=args.seed + k)))
        began = time.perf_counter()
        done = calibrate(load_calibration(folder / "calibration.yaml"), folder / "out",
                         workers=args.workers)
        seconds = time.perf_counter() - began
        found = recovery(pd.read_parquet(folder / "out" / "posterior.parquet"), PRIORS, truth)
        for row in found:
            rows.append({"dataset": k, **row, "simulations": done[-1].simulations,
                         "seconds": round(seconds, 1)})
            print(f"data set {k}: {row['parameter']:<32} truth {row['truth']:.4g}  "
                  f"posterior {row['median']:.4g} [{row['low']:.4g}, {row['high']:.4g}]  "
                  f"quantile {row['truth_quantile']:.2f}  "
                  f"{'inside' if row['inside'] else 'OUTSIDE'}  width {row['width_ratio']:.2f} "
                  "of the prior's", flush=True)
        print(f"data set {k}: {done[-1].simulations} simulations, {seconds:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby("parameter", sort=False).agg(
        coverage=("inside", "mean"), truth_quantile_mean=("truth_quantile", "mean"),
        width_ratio_mean=("width_ratio", "mean"))
    total = time.perf_counter() - started
    print(f"\n{args.datasets} data sets, {total:.0f} s; 90% interval coverage and mean "
          "posterior width over prior width:")
    print(summary.to_string(float_format=lambda x: f"{x:.2f}"))
    print(f"all parameters: coverage {table['inside'].mean():.2f} "
          f"({int(table['inside'].sum())} of {len(table)} intervals)")
    if args.out is not None:
        args.out.write_text(json.dumps({
            "command": "python benchmarks/calibration.py " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                if v is not None and k not in ("out", "work")),
            "seconds": round(total, 1), "priors": PRIORS, "fit": FIT, "hold_out": HOLD_OUT,
            "fixed": fixed, "coverage": float(table["inside"].mean()),
            "per_parameter": summary.reset_index().to_dict(orient="records"),
            "rows": rows}, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
