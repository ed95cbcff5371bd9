"""Which policy is best, and how sure we can be: for each outcome with an aim, each
policy's chance of being the best one (the share of scenarios x seeds in which it does
best, compared within the same scenario and seed), its expected outcome with the range
the runs span, and its regret. Over a calibration's posterior draws the chance is a
posterior probability (Bayesian decision analysis, as in Claxton 1999 and Briggs et al.
2012); over sampled ranges, it is a share of the scenarios someone chose."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forumsim.analysis.labels import outcome
from forumsim.analysis.policies import policy_outcomes, regret, scenario_means
from forumsim.analysis.sweep_report import SweepResults, _n, _with_note, number

PAIRED = ["scenario", "replicate"]  # the runs of one scenario and seed, one per policy
RESAMPLES = 2000
SPREAD = (0.05, 0.95)  # the runs' range shown beside the expected value


def paired_outcomes(results: SweepResults, name: str) -> pd.DataFrame:
    """One row per scenario and replicate, one column per policy with a value; rows where
    one of those policies lacks its value (a failed run) are left out, so every row
    compares all of them on the same scenario and seed."""
    table = results.ok.pivot_table(index=PAIRED, columns="policy", values=name,
                                   aggfunc="mean", dropna=False)
    table = table.reindex(columns=[p for p in results.policies if p in table.columns])
    return table.dropna(axis=1, how="all").dropna(axis=0, how="any")


def best_shares(table: pd.DataFrame, better: str) -> pd.DataFrame:
    """For each row (a scenario and seed), each policy's share of being best: 1 for the
    best, split evenly between policies that tie for it, 0 for the others."""
    values = table.to_numpy(dtype=float)
    top = values.max(axis=1) if better == "higher" else values.min(axis=1)
    best = np.isclose(values, top[:, None], rtol=1e-12, atol=0.0)
    return pd.DataFrame(best / best.sum(axis=1, keepdims=True), index=table.index,
                        columns=table.columns)


def chance_of_best(shares: pd.DataFrame, seed: list[int]) -> pd.DataFrame:
    """Each policy's chance of being best (the mean share over rows) with a 95% interval
    from resampling whole scenarios (a scenario's seeds stay together, as its draw's
    runs are not independent of one another)."""
    by_scenario = shares.groupby(level="scenario")
    sums, counts = by_scenario.sum(), by_scenario.size().to_numpy(dtype=float)
    chance = shares.mean()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(sums), size=(RESAMPLES, len(sums)))
    resampled = sums.to_numpy()[picks].sum(axis=1) / counts[picks].sum(axis=1)[:, None]
    low, high = np.quantile(resampled, [0.025, 0.975], axis=0)
    return pd.DataFrame({"chance": chance, "low": low, "high": high}, index=shares.columns)


def best_policy_sections(results: SweepResults) -> list[tuple]:
    """The report's section on which policy is best on each outcome with an aim."""
    if len(results.policies) < 2:
        return []
    posterior = results.manifest.get("posterior")
    over = "posterior draw" if posterior else "sampled scenario"
    blocks = [("h2", "Which policy is best, and how sure"),
              ("p", f"For each outcome, every policy is compared with the others on the same "
                    f"{over} and seed (common random numbers). Chance of being best: the "
                    f"share of {over}s x seeds in which it does best (a tie shares the win), "
                    "with a 95% interval from resampling whole "
                    f"{over}s. "
                    + ("Over a calibration's posterior, this is the posterior probability "
                       "that the policy is the best one, given the calibration's data and "
                       "the model. " if posterior else
                       "Over ranges someone chose, it is a share of those scenarios, not a "
                       "probability; a sweep over a calibration's posterior gives one. ")
                    + f"Expected: the mean over all runs, with the range of the middle "
                    f"{SPREAD[1] - SPREAD[0]:.0%} of runs (what the "
                    + ("posterior" if posterior else "scenarios")
                    + " and chance together leave open). Regret: how far the policy falls "
                      f"short of the best one on the same {over} (mean over replicates), mean "
                      f"and worst over {over}s.")]
    tables = 0
    for name in policy_outcomes(results):
        aim = outcome(name).better
        table = paired_outcomes(results, name) if aim else pd.DataFrame()
        if table.shape[1] < 2 or table.empty:
            continue
        chances = chance_of_best(best_shares(table, aim), results.seed("best" + name))
        lost = regret(scenario_means(results, name), aim)
        rows = []
        for policy in table.columns:
            runs = results.ok.loc[results.ok["policy"] == policy, name].dropna()
            low, high = np.quantile(runs, SPREAD)
            c = chances.loc[policy]
            rows.append({"policy": results.policy_label(policy), "n": _n(len(table)),
                         "chance of being best": f"{c['chance']:.0%} [{c['low']:.0%}, "
                                                 f"{c['high']:.0%}]",
                         "expected": f"{number(runs.mean())} [{number(low)}, "
                                     f"{number(high)}]",
                         "mean regret": number(lost[policy].mean()),
                         "worst regret": number(lost[policy].max())})
        blocks += [("h3", f"{results.title(name)}: {aim} is better"),
                   *_with_note(pd.DataFrame(rows))]
        tables += 1
    return blocks if tables else []


def most_likely_best(results: SweepResults, name: str) -> str | None:
    """A sentence naming the policy most often best on `name`, with its chance."""
    aim = outcome(name).better
    table = paired_outcomes(results, name) if aim else pd.DataFrame()
    if table.shape[1] < 2 or table.empty:
        return None
    chances = best_shares(table, aim).mean().sort_values(ascending=False)
    over = "posterior draws" if results.manifest.get("posterior") else "sampled scenarios"
    shown = ", ".join(f"{results.policy_label(p)} {v:.0%}" for p, v in chances.items())
    return (f"Chance of being best on {results.title(name)} ({aim} is better), over "
            f"{over} x seeds: {shown}.")
