"""The first screen of a policy report: for every policy its whole effect (each run against
the same run without any of the policy's shocks), the share of scenarios meeting each goal,
the worst scenario, and where it fails, in words."""

from __future__ import annotations

import math

import pandas as pd

from forumsim.analysis.best_policy import most_likely_best
from forumsim.analysis.discovery import Discovery
from forumsim.analysis.labels import RECORD, WHOLE, outcome, parameter
from forumsim.analysis.policies import FEW_DISCOVERY_RUNS, GoalList, scenario_means
from forumsim.analysis.sweep_report import SweepResults, _n, _with_note, number
from forumsim.experiment.sweep import Goal

HEADLINE = ("lasting_loss", "loss")  # the whole effect's measures on the first screen


def bottom_line(results: SweepResults, goals: GoalList, failures: dict) -> list[tuple]:
    """The bottom line of a policy sweep as report blocks."""
    ok = results.ok
    whole = [WHOLE + k for k in HEADLINE if WHOLE + k in ok and ok[WHOLE + k].notna().any()]
    scenarios = int(ok["scenario"].nunique())
    posterior = results.manifest.get("posterior")
    sampled = ("scenarios drawn jointly from a calibration's posterior" if posterior
               else "sampled scenarios")
    intro = (f"{len(results.policies)} policies, each on the same {scenarios} {sampled} x "
             f"{results.sweep.replicates} replicates. ")
    if whole:
        intro += ("Whole effect: each run against the same scenario and seed without any of "
                  "the policy's shocks (common random numbers), as a share of the activity "
                  "(active people, 7-day means) the ecosystem would have had; mean over runs "
                  "with a 95% bootstrap interval. Lasting loss: the activity lost over the last "
                  "30 days; activity lost over the effect window: over the days after the "
                  "first shock that its effect is measured on (the deepest point of the gap "
                  "is further down). The effect of "
                  "each shock on its own, given the others, comes further down, labelled "
                  "marginal.")
    else:
        intro += ("The policies hold no shocks, so there is no run without them to read a "
                  "whole effect against; compare them in the paired contrasts below.")
    rows = []
    for policy in results.policies:
        runs = ok[ok["policy"] == policy]
        row = {"policy": results.policy_label(policy), "n": _n(len(runs))}
        for name in whole:
            row[RECORD[name.removeprefix(WHOLE)].label] = results.cell(runs[name], name,
                                                                      policy)
        for name, goal in goals:
            shown = ("scenarios meeting the goal" if len(goals) == 1 else
                     f"scenarios meeting {_goal_words(results, name, goal)}")
            row[shown] = _met(results, name, goal, policy)
        judged = goals[0] if goals else (whole[0], None) if whole else None
        if judged is not None:
            row[f"worst scenario's {_short(judged[0])}"] = _worst(results, *judged, policy)
        rows.append(row)
    blocks = [("h2", "Bottom line"), ("p", intro)]
    blocks += [("p", line) for line in _best(results, goals, whole)]
    blocks += _with_note(pd.DataFrame(rows))
    if goals:
        blocks.append(("p", "Where each policy fails "
                            + ("the goal" if len(goals) == 1 else "each goal")
                            + " (scenario discovery, PRIM, over its runs; details below):"))
        blocks.append(("ul", [f"{results.policy_label(policy)}: {_words(found)}"
                              + (f" [{_goal_words(results, name, goal)}]"
                                 if len(goals) > 1 else "")
                              for name, goal in goals
                              for policy, found in failures[(name, str(goal))].items()]))
    return blocks


def _short(name: str) -> str:
    """An outcome's label without ', whole effect'."""
    return outcome(name).label.removesuffix(", whole effect")


def _goal_words(results: SweepResults, name: str, goal: Goal) -> str:
    return f"{_short(name)} {goal}"


def _met(results: SweepResults, name: str, goal: Goal, policy: str) -> str:
    values = scenario_means(results, name).get(policy, pd.Series(dtype=float))
    met = goal.met(values.to_numpy(dtype=float))
    return f"{int(met.sum())} of {len(met)} ({met.mean():.0%})" if len(met) else "–"


def _worst(results: SweepResults, name: str, goal: Goal | None, policy: str) -> str:
    """The worst scenario's mean for the goal's side (or the outcome's aim)."""
    values = scenario_means(results, name).get(policy, pd.Series(dtype=float)).dropna()
    if values.empty:
        return "–"
    low = (goal.at_least is not None) if goal is not None else outcome(name).better != "lower"
    return number(values.min() if low else values.max())


def _best(results: SweepResults, goals: GoalList, whole: list[str]) -> list[str]:
    """One sentence per goal (and for the lasting loss): which policy does best."""
    lines = []
    for name, goal in goals:
        means = scenario_means(results, name)
        shares = {p: float(goal.met(means[p].to_numpy(dtype=float)).mean())
                  for p in means.columns}
        top = max(shares.values(), default=0.0)
        leaders = [results.policy_label(p) for p, v in shares.items() if v == top]
        lines.append(f"Goal {_goal_words(results, name, goal)}: "
                     + (f"met most often by {_listed(leaders)} ({top:.0%} of scenarios)."
                        if top > 0 else "no policy meets it in any scenario."))
    for name in whole[:1]:
        means = results.ok.groupby("policy")[name].mean().dropna()
        if len(means):
            best = means.idxmax()
            lines.append(f"Largest whole {_short(name)}: {results.policy_label(best)} "
                         f"({number(means[best])} on average).")
        chances = most_likely_best(results, name)
        if chances:
            lines.append(chances)
    return lines


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _words(found: Discovery | str) -> str:
    """Where a policy fails, in a sentence."""
    if isinstance(found, str):
        return found + "."
    where = []
    for limit in found.limits.to_dict("records"):
        name, low, high = parameter(limit["condition"]), limit["low"], limit["high"]
        if math.isnan(low):  # levels of a category
            where.append(f"{name} is {limit['box']}")
            continue
        first, last = (float(v) for v in limit["in all runs"].split(" to "))
        if low > first and high < last:
            where.append(f"{name} is between {low:.3g} and {high:.3g}")
        elif low > first:
            where.append(f"{name} is above {low:.3g}")
        else:
            where.append(f"{name} is below {high:.3g}")
    box = found.box
    rough = "; few runs: a hint" if found.runs < FEW_DISCOVERY_RUNS else ""
    if not where:
        return (f"fails in {found.cases} of {found.runs} runs, with no condition singling "
                f"them out ({found.runs} runs{rough}).")
    return (f"fails in {found.cases} of {found.runs} runs, mostly where "
            + " and ".join(where)
            + f" ({box['coverage']:.0%} of its failing runs are there, and "
              f"{box['density']:.0%} of the runs there fail){rough}.")

