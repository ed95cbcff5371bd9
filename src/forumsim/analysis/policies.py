"""The report's answer to a policy question, for sweeps of policies x uncertainties: the
bottom line (`bottom_line.py`), paired contrasts between policies (same scenario and seed),
which policy is best and how sure (`best_policy.py`), robustness across the sampled
scenarios or posterior draws (distribution, regret, share meeting a goal) and scenario
discovery (where a policy fails its goal)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from forumsim.analysis.discovery import Discovery, DiscoveryError, discover
from forumsim.analysis.labels import outcome, parameter
from forumsim.analysis.report import _save
from forumsim.analysis.sweep_report import (
    SweepResults,
    _n,
    _with_note,
    _wrapped,
    number,
)
from forumsim.experiment.sweep import Goal
from forumsim.measures.metrics import bootstrap_ci

# The whole effect of a policy's shocks (policy_...) and the ecosystem at the end.
POLICY_OUTCOMES = ("policy_lasting_loss", "policy_loss", "policy_peak_loss", "policy_triangle",
                   "policy_arrested",
                   "policy_rehomed_30d", "active_people_mean_last30", "online_fora",
                   "network_giant_share")
MIN_DISCOVERY_RUNS = 10
FEW_DISCOVERY_RUNS = 50  # below this, PRIM's box is a hint: a few runs more could move it
GoalList = list[tuple[str, Goal]]


def policy_outcomes(results: SweepResults) -> list[str]:
    """The outcomes compared between policies: the sweep's, or a few key ones."""
    chosen = results.sweep.outcomes or POLICY_OUTCOMES
    return [o for o in chosen if o in results.ok and results.ok[o].notna().any()]


def policy_sections(results: SweepResults, figures: Path, reference: str | None = None,
                    all_pairs: bool = False, goals: GoalList | None = None
                    ) -> tuple[list[tuple], list[tuple]]:
    """The report blocks of a policy sweep (none for other sweeps): the bottom line, for
    the report's first screen, and the sections that back it up."""
    from forumsim.analysis.best_policy import best_policy_sections
    from forumsim.analysis.bottom_line import bottom_line

    if not results.policies:
        return [], []
    reference = reference or results.sweep.reference or results.policies[0]
    goals = results.goals(goals)
    missing = [("p", f"Goal on {name}: no such outcome in the results (e.g. the whole "
                     "effect of shocks, policy_..., needs runs of this version).")
               for name, _ in goals if name not in results.ok]
    goals = [(name, goal) for name, goal in goals if name in results.ok]
    failures = {(name, str(goal)): where_it_fails(results, name, goal) for name, goal in goals}
    return (bottom_line(results, goals, failures),
            [*contrasts(results, figures, reference, all_pairs),
             *best_policy_sections(results), *robustness(results, figures),
             *satisficing(results, goals, failures, figures), *missing])


def _difference_bounds(name: str) -> tuple[float, float]:
    low, high = outcome(name).bounds
    return low - high, high - low


def paired(results: SweepResults, a: str, b: str, name: str) -> np.ndarray:
    """Policy a minus policy b, run by run: the runs of one scenario and replicate share
    their seed, so each difference is the policies' effect, not noise between seeds."""
    return matched_differences(results.ok, "policy", a, b, name, ["scenario", "replicate"])


def matched_differences(ok: pd.DataFrame, column: str, a: object, b: object, name: str,
                        keys: list[str]) -> np.ndarray:
    """Outcome `name` where `column` is a minus where it is b, between runs that agree on
    `keys`; pairs where either value is missing are left out."""
    left = ok[ok[column] == a].set_index(keys)[name]
    right = ok[ok[column] == b].set_index(keys)[name]
    both = pd.concat([left.rename("a"), right.rename("b")], axis=1, join="inner").dropna()
    return (both["a"] - both["b"]).to_numpy(dtype=float)


def difference_cell(stats: tuple[float, float, float], count: int, most: int) -> str:
    """'mean [low, high]' of `count` paired differences, with that count when it is fewer
    than the row's `most` pairs; '–' for none."""
    mean, low, high = stats
    shown = ("–" if math.isnan(mean) else number(mean) if math.isnan(low) else
             f"{number(mean)} [{number(low)}, {number(high)}]")
    return shown if count in (0, most) else f"{shown} (n = {_n(count)})"


def contrasts(results: SweepResults, figures: Path, reference: str,
              all_pairs: bool) -> list[tuple]:
    """Every outcome's paired difference for each policy against the reference (or every
    pair), with a bootstrap interval clipped to what a difference can be."""
    names = policy_outcomes(results)
    pairs = (list(itertools.combinations(results.policies, 2)) if all_pairs else
             [(p, reference) for p in results.policies if p != reference])
    rows, stats = [], {}
    for a, b in pairs:
        row = {"contrast": f"{results.policy_label(a)} − {results.policy_label(b)}", "n": ""}
        found = {name: paired(results, a, b, name) for name in names}
        most = max(map(len, found.values()), default=0)
        for name, d in found.items():
            stats[(row["contrast"], name)] = bootstrap_ci(
                d, results.seed(f"{name}{a}-{b}"), _difference_bounds(name))
            row[results.title(name)] = difference_cell(stats[(row["contrast"], name)],
                                                       len(d), most)
        row["n"] = _n(most)
        rows.append(row)
    if not rows:
        return []
    which = "every pair of policies" if all_pairs else f"each policy against '{reference}'"
    blocks = [("h2", "Policies compared, run by run"),
              ("p", f"The paired difference of {which} (first minus second), over runs of "
                    "the same scenario and replicate, which share their seed (common random "
                    "numbers): mean with a 95% bootstrap interval, clipped to what the "
                    "difference can be; n is the number of pairs. '–': the outcome is not "
                    "defined for one of the two (an intervention's record, for a policy "
                    "without interventions). Shock measures are whole effects: each run "
                    "against the same run without any of its policy's shocks."),
              *_with_note(pd.DataFrame(rows))]
    shown = [n for n in names if any(not math.isnan(stats[(r["contrast"], n)][0])
                                     for r in rows)]
    if shown:
        blocks.append(("fig", _forest(results, rows, shown, stats, figures / "contrasts.png"),
                       "Paired differences between policies with 95% bootstrap intervals; "
                       "the dashed line is no difference."))
    return blocks


def scenario_means(results: SweepResults, name: str) -> pd.DataFrame:
    """One row per sampled scenario, one column per policy: the mean over replicates."""
    ok = results.ok
    table = ok.pivot_table(index="scenario", columns="policy", values=name, aggfunc="mean")
    return table.reindex(columns=[p for p in results.policies if p in table.columns])


def regret(means: pd.DataFrame, better: str) -> pd.DataFrame:
    """How far each policy falls short of the best policy in each scenario (Savage's
    regret), in the outcome's units; the best has 0."""
    best = means.max(axis=1) if better == "higher" else means.min(axis=1)
    gap = means.rsub(best, axis=0) if better == "higher" else means.sub(best, axis=0)
    return gap.abs()


def robustness(results: SweepResults, figures: Path) -> list[tuple]:
    """Per outcome with an aim: each policy's spread across scenarios and its regret."""
    scenarios = int(results.ok["scenario"].nunique())
    sampled = "posterior draws" if results.manifest.get("posterior") else "sampled scenarios"
    blocks = [("h2", "Robustness across scenarios"),
              ("p", f"Each of the {scenarios} {sampled} gives one value per policy "
                    "(its mean over replicates). Spread: the median over scenarios with the "
                    "10th and 90th percentiles. Regret: how far the policy falls short of "
                    "the best policy in the same scenario, in the outcome's units, for the "
                    "aim of enforcement stated in the heading (mean and worst over "
                    "scenarios); a robust policy has small worst-case regret.")]
    panels = []
    for name in policy_outcomes(results):
        aim = outcome(name).better
        if aim is None:
            continue
        means = scenario_means(results, name)
        if means.notna().sum().sum() == 0:
            continue
        lost = regret(means, aim)
        rows = []
        for policy in means.columns:
            values = means[policy].dropna()
            if values.empty:
                continue
            p10, median, p90 = np.quantile(values, [0.1, 0.5, 0.9])
            rows.append({"policy": results.policy_label(policy),
                         "scenarios": _n(len(values)),
                         "median [10%, 90%]": f"{number(median)} [{number(p10)}, "
                                              f"{number(p90)}]",
                         "mean regret": number(lost[policy].mean()),
                         "worst regret": number(lost[policy].max())})
        blocks += [("h3", f"{results.title(name)}: {aim} is better"),
                   *_with_note(pd.DataFrame(rows).rename(columns={"scenarios": "n"}))]
        panels.append((name, means))
    if len(panels) and scenarios > 1:
        blocks.append(("fig", _spread(results, panels, figures / "robustness.png"),
                       "Each policy's value in every sampled scenario (one dot per scenario, "
                       "mean over replicates); the bar is the median."))
    return blocks if panels else []


def satisficing(results: SweepResults, goals: GoalList, failures: dict,
                figures: Path) -> list[tuple]:
    """The share of scenarios in which each policy meets each goal, and where it fails."""
    if not goals:
        return [("h2", "Goals"),
                ("p", "No goal was stated. Add goals to the sweep file (goals: "
                      "{lasting_loss: {at_least: 0.1}}) or to the command (forumsim "
                      "report DIR --goal 'lasting_loss>=0.1') to see in how many "
                      "scenarios each policy meets it, and where it fails.")]
    drawn = bool(results.manifest.get("posterior"))
    blocks = [("h2", "Goals: in how many scenarios each policy meets them"),
              ("p", "A scenario meets the goal when its mean over replicates does; a "
                    "policy for which the outcome is not defined meets no goal on it. A "
                    "goal on a shock's measure (loss, lasting_loss, ...) reads the whole "
                    "effect of the policy's shocks; iv0_..., iv1_... read one shock's own "
                    "record."
                    + (" Each scenario is a draw from the posterior; the draws failing "
                       "the goal are listed by number (the scenario column of "
                       "summary.parquet, which holds each draw's parameters)."
                       if drawn else ""))]
    for name, goal in goals:
        means = scenario_means(results, name)
        rows = []
        for policy in results.policies:
            values = means[policy] if policy in means else pd.Series(dtype=float)
            met = goal.met(values.to_numpy(dtype=float))
            row = {"policy": results.policy_label(policy), "n": _n(len(values)),
                   "scenarios meeting the goal": f"{int(met.sum())} of {len(values)}"
                                                 + (f" ({met.mean():.0%})"
                                                    if len(values) else "")}
            if drawn:
                row["draws failing it"] = listed_draws(values.index[~met])
            rows.append(row)
        blocks += [("h3", f"Goal: {results.title(name)} {goal}"),
                   *_with_note(pd.DataFrame(rows))]
        blocks += discovery_blocks(results, name, failures[(name, str(goal))], figures)
    return blocks


def listed_draws(draws: pd.Index, most: int = 12) -> str:
    """Draw numbers as a short list: '2, 5, 9', or the first `most` and how many more."""
    shown = ", ".join(str(int(d)) for d in draws[:most])
    more = len(draws) - most
    return (shown or "none") + (f" and {more} more" if more > 0 else "")


def uncertain_conditions(results: SweepResults) -> list[str]:
    """The uncertainties that vary between the runs."""
    return [u for u in results.manifest.get("uncertainties", [])
            if results.ok[u].nunique() > 1]


def where_it_fails(results: SweepResults, name: str, goal: Goal) -> dict[str, Discovery | str]:
    """For each policy, PRIM on its runs: the box of uncertain conditions under which it
    fails the goal, or why there is none (in words)."""
    conditions = uncertain_conditions(results)
    found: dict[str, Discovery | str] = {}
    for policy in results.policies:
        runs = results.ok[results.ok["policy"] == policy]
        fails = ~goal.met(runs[name].to_numpy(dtype=float))
        if runs[name].isna().all():
            found[policy] = "has no value to meet it with (e.g. a policy without shocks)"
        elif not fails.any():
            found[policy] = f"meets it in all {len(runs)} runs"
        elif fails.all():
            found[policy] = f"fails it in all {len(runs)} runs"
        elif not conditions:
            found[policy] = f"fails it in {int(fails.sum())} of {len(runs)} runs"
        elif len(runs) < MIN_DISCOVERY_RUNS:
            found[policy] = (f"fails it in {int(fails.sum())} of {len(runs)} runs, too few "
                             f"to tell where (scenario discovery needs {MIN_DISCOVERY_RUNS})")
        else:
            try:
                found[policy] = discover(runs[conditions], fails,
                                         seed=results.sweep.seed % 2**32)
            except DiscoveryError as error:
                found[policy] = f"fails it in {int(fails.sum())} of {len(runs)} runs ({error})"
    return found


def discovery_blocks(results: SweepResults, name: str, failures: dict[str, Discovery | str],
                     figures: Path) -> list[tuple]:
    """For each policy that PRIM could look at: the uncertain conditions under which it
    fails the goal, with the trade-off figure."""
    blocks = []
    for policy, found in failures.items():
        if not isinstance(found, Discovery):
            continue
        label = results.policy_label(policy)
        stem = f"discovery_{name}_{policy}".replace(".", "_")
        blocks += [("h3", f"Where '{label}' fails the goal (PRIM)")]
        if found.runs < FEW_DISCOVERY_RUNS:
            blocks.append(("p", f"Only {found.runs} runs: PRIM's box is fitted to "
                                f"{found.cases} failing runs, and a few runs more could "
                                "move it. Read it as a hint of where to look, and confirm it "
                                "with more scenarios (samples) before relying on it."))
        blocks += [*discovery_tables(found),
                   ("fig", tradeoff_figure(found, figures / f"{stem}.png", label),
                    f"Coverage against density of PRIM's boxes for '{label}' failing the "
                    "goal; the circled box is the one chosen.")]
    return blocks


PRIM_TERMS = ("Coverage: of the runs where the policy fails, the share inside the box. "
              "Density: of the runs inside the box, the share where it fails. Mass: the "
              "share of all runs inside the box. A good box has both high coverage (it "
              "explains most failures) and high density (inside it the policy mostly "
              "fails); peeling conditions off raises density at the cost of coverage.")


def discovery_tables(found: Discovery) -> list[tuple]:
    """The chosen box (its limits and statistics) and the feature scores, as blocks."""
    box = found.box
    text = (f"It fails in {found.cases} of {found.runs} runs. The chosen box (the densest "
            f"that still covers half of them) holds {int(box['n'])} runs: coverage "
            f"{box['coverage']:.0%}, density {box['density']:.0%}, mass {box['mass']:.0%}. "
            + PRIM_TERMS)
    limits = found.limits.assign(condition=found.limits["condition"].map(parameter))[
        ["condition", "box", "in all runs"]]
    if limits.empty:
        limits = pd.DataFrame({"condition": ["(none)"], "box": ["the whole space"],
                               "in all runs": [""]})
    scores = pd.DataFrame({"condition": [parameter(c) for c in found.scores.index],
                           "feature score": [f"{v:.3f}" for v in found.scores]})
    return [("p", text), ("table", limits.rename(columns={"box": "in the box"})),
            ("p", "Feature scores (extra trees, EMA Workbench): how much each uncertain "
                  "condition tells these runs apart, summing to 1."),
            ("table", scores)]


def tradeoff_figure(found: Discovery, path: Path, label: str) -> Path:
    """PRIM's peeling trajectory: coverage against density, the chosen box marked."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    t = found.tradeoff
    points = ax.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis", s=18)
    ax.plot(t["coverage"], t["density"], color="0.6", lw=0.8, zorder=0)
    ax.scatter([found.box["coverage"]], [found.box["density"]], s=140, facecolors="none",
               edgecolors="C3", lw=1.6, label="chosen box")
    bar = fig.colorbar(points, ax=ax, label="restricted conditions")
    bar.set_ticks(range(int(t["res_dim"].max()) + 1))
    ax.set(xlabel="coverage (share of the failing runs inside the box)",
           ylabel="density (share of the box's runs that fail)", xlim=(0, 1.02),
           ylim=(0, 1.02))
    ax.set_title(_wrapped(f"Where '{label}' fails: PRIM coverage-density trade-off "
                          f"({found.runs} runs)", 60), fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _forest(results: SweepResults, rows: list[dict], names: list[str], stats: dict,
            path: Path) -> Path:
    columns = min(3, len(names))
    nrows = math.ceil(len(names) / columns)
    labels = [r["contrast"] for r in rows]
    fig, axes = plt.subplots(nrows, columns, figsize=(4.8 * columns,
                                                      (0.4 * len(labels) + 1.9) * nrows),
                             squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        for y, label in enumerate(labels):
            mean, low, high = stats[(label, name)]
            if not math.isnan(low):
                ax.plot([low, high], [y, y], color="C0", lw=2)
            if not math.isnan(mean):
                ax.plot([mean], [y], "o", color="C0")
        ax.axvline(0, color="0.4", ls="--", lw=1)
        ax.set_yticks(range(len(labels)), [_wrapped(x, 26) for x in labels], fontsize=8)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlabel(_wrapped("difference in " + results.title(name)), fontsize=9)
        ax.set_ylabel("contrast", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.set_axis_off()
    fig.tight_layout()
    return _save(fig, path)


def _spread(results: SweepResults, panels: list[tuple[str, pd.DataFrame]],
            path: Path) -> Path:
    columns = min(3, len(panels))
    nrows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(nrows, columns, figsize=(4.8 * columns,
                                                      (0.4 * len(results.policies) + 1.9)
                                                      * nrows), squeeze=False)
    for ax, (name, means) in zip(axes.flat, panels, strict=False):
        for y, policy in enumerate(means.columns):
            values = means[policy].dropna().to_numpy()
            if values.size:
                jitter = (np.arange(values.size) % 5 - 2) * 0.06
                ax.scatter(values, y + jitter, s=10, alpha=0.6, color="C0")
                ax.plot([np.median(values)] * 2, [y - 0.3, y + 0.3], color="C3", lw=2)
        ax.set_yticks(range(len(means.columns)),
                      [_wrapped(results.policy_label(p), 26) for p in means.columns],
                      fontsize=9)
        ax.set_ylim(len(means.columns) - 0.5, -0.5)
        ax.set_xlabel(_wrapped(results.title(name)), fontsize=9)
        ax.set_ylabel("policy", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    fig.tight_layout()
    return _save(fig, path)

