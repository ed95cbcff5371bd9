"""The report of a sweep: report.md and report.html with figures. Each scenario's (or
policy's) outcomes as means with 95% bootstrap intervals over replicates; interventions as
paired effects against their counterfactual (same seed, no shock); activity over time with
bands; key-player dependence curves; Sobol or Morris sensitivity indices (SALib); for
policies x uncertainties, the sections of `policies.py`.
"""

from __future__ import annotations

import base64
import html
import math
import os
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False  # names from users' tables drawn as written
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from forumsim.analysis import labels as names_of  # noqa: E402
from forumsim.analysis.labels import parameter  # noqa: E402
from forumsim.analysis.report import _save  # noqa: E402
from forumsim.experiment.plan import unit_sample  # noqa: E402
from forumsim.experiment.store import (  # noqa: E402
    StoreError,
    read_manifest,
    read_series,
    read_summary,
)
from forumsim.experiment.sweep import Goal, Sweep  # noqa: E402
from forumsim.measures.metrics import bootstrap_ci  # noqa: E402

SCENARIO_OUTCOMES = ("active_people_mean_last30", "registered_people", "share_posting",
                     "top1pct_post_share", "online_fora", "fora_founded", "network_giant_share")
SHOCK_OUTCOMES = ("loss", "peak_loss", "days_to_recovery", "lasting_loss", "triangle",
                  "rehomed_30d",
                  "top_destination_share", "successor_fora", "arrested")
MOST_POINTS_SHOWN = 30  # beyond this, a table per scenario is unreadable: pool the runs
MOST_LINES = 8
MOST_COLUMNS = 4  # value columns of one table; wider tables are split (they must fit a page)
FEW = 5  # fewer runs than this: the interval is rough, and flagged
FEW_MARK = "†"
FEW_NOTE = (f"{FEW_MARK} fewer than {FEW}: intervals and summaries over so few values are "
            "rough (a bootstrap interval is then usually too narrow). '(n = k)' in a cell: "
            "the outcome is defined in only k of the row's runs (e.g. the share of the "
            "displaced who rehomed, in runs where someone was displaced).")


class ReportError(ValueError):
    """The folder is not a sweep's results folder (or has no results yet)."""


@dataclass
class SweepResults:
    """A sweep folder read back: its manifest, the sweep, and one row per run."""

    folder: Path
    manifest: dict
    sweep: Sweep
    summary: pd.DataFrame

    @property
    def ok(self) -> pd.DataFrame:
        return self.summary[self.summary["status"] == "ok"]

    def series(self) -> pd.DataFrame | None:
        try:
            series = read_series(self.folder)
        except StoreError as error:
            raise ReportError(str(error)) from None
        return None if series is None else series.to_pandas()

    def labels(self) -> pd.Series:
        """A short label per point, e.g. 'home_loyalty=0.6, interventions=takedown'."""
        names = self.manifest["parameters"]
        short = {n: n.split(".")[-1] for n in names}
        if len(set(short.values())) < len(names):
            short = {n: n for n in names}
        points = self.summary.drop_duplicates("point").set_index("point").sort_index()
        if not names:
            return pd.Series("base scenario", index=points.index)
        return points.apply(lambda row: ", ".join(f"{short[n]}={_short(row[n])}"
                                                  for n in names), axis=1)

    @property
    def policies(self) -> list[str]:
        return self.manifest.get("policies") or []

    def grouped(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
        """Rows grouped for the tables, as (frame with `point` the group, group labels):
        by policy (pooled over scenarios) in a policy sweep, else by point, or all runs
        together when there are too many points to list."""
        if self.policies:
            order = {name: i for i, name in enumerate(self.policies)}
            return (frame.assign(point=frame["policy"].map(order)),
                    pd.Series([self.policy_label(p) for p in self.policies],
                              index=range(len(self.policies))))
        labels = self.labels()
        if len(labels) > MOST_POINTS_SHOWN:
            return frame.assign(point=0), pd.Series({0: "all runs"})
        return frame, labels

    def policy_label(self, name: str) -> str:
        """The name the report shows for a policy: its label in the sweep file, or its key."""
        return self.sweep.policy_label(name)

    def seed(self, name: str) -> list[int]:
        """The bootstrap seed of one figure: the sweep's root seed and the figure's name."""
        return [self.sweep.seed % 2**32, zlib.crc32(name.encode())]

    def cell(self, values: pd.Series, name: str, what: str = "") -> str:
        """'mean [low, high]' over the values, the interval clipped to the outcome's range;
        with the number of values behind it when some are missing (undefined in those
        runs), flagged when few."""
        x = values.dropna().to_numpy(dtype=float)
        mean, low, high = bootstrap_ci(x, self.seed(name + what), self.bounds(name))
        if math.isnan(mean):
            return "–"
        shown = number(mean) if math.isnan(low) else (
            f"{number(mean)} [{number(low)}, {number(high)}]")
        return shown if len(x) == len(values) else f"{shown} (n = {_n(len(x))})"

    def bounds(self, name: str) -> tuple[float, float]:
        return names_of.outcome(name).bounds

    def title(self, name: str) -> str:
        return names_of.title(name, _interventions(self.summary))

    def column(self, name: str) -> str:
        """The results column an outcome names: itself, or for a shock's measure (loss,
        lasting_loss, ...) the whole effect of a run's shocks, `policy_<name>`."""
        whole = names_of.WHOLE + name
        return whole if name not in self.summary and whole in self.summary else name

    def goals(self, extra: list[tuple[str, Goal]] | None = None) -> list[tuple[str, Goal]]:
        """The sweep file's goals and then `extra` (the command line's), each on the
        column it reads, without repeats."""
        found = []
        for name, goal in [*self.sweep.goals.items(), *(extra or [])]:
            if (self.column(name), goal) not in found:
                found.append((self.column(name), goal))
        return found


def parse_goal(text: str) -> tuple[str, Goal]:
    """A goal written on the command line, 'iv0_lasting_loss>=0.1' or 'online_fora<=2'."""
    for sign, side in ((">=", "at_least"), ("<=", "at_most")):
        name, found, value = text.partition(sign)
        if found:
            try:
                return name.strip(), Goal(**{side: float(value)})
            except (ValueError, ValidationError):
                break
    raise ReportError(f"--goal {text!r}: write OUTCOME>=NUMBER or OUTCOME<=NUMBER, e.g. "
                      "iv0_lasting_loss>=0.1")


def load_results(folder: str | Path) -> SweepResults:
    """Read a sweep folder, or raise ReportError saying what is missing."""
    folder = Path(folder)
    if not (folder / "manifest.json").is_file():
        raise ReportError(f"{folder}: not a sweep's results folder (no manifest.json); give "
                          "the --out folder of `forumsim sweep`.")
    if not (folder / "summary.parquet").is_file():
        raise ReportError(f"{folder}: no summary.parquet yet; finish (or --resume) the sweep "
                          "first.")
    try:
        manifest = read_manifest(folder)
        summary = read_summary(folder).to_pandas()
    except StoreError as error:
        raise ReportError(str(error)) from None
    if summary.empty:
        raise ReportError(f"{folder}: no run has finished yet; nothing to report.")
    try:
        sweep = Sweep.model_validate(manifest["spec"])
    except (KeyError, ValidationError) as error:
        raise ReportError(f"{folder}: manifest.json does not hold a readable sweep (written "
                          f"by another version of forumsim?): {error}") from None
    return SweepResults(folder, manifest, sweep, summary)


def write_report(folder: str | Path, reference: str | None = None, all_pairs: bool = False,
                 goals: list[tuple[str, Goal]] | None = None) -> list[Path]:
    """Write report.md, report.html and figures/ into a sweep's folder; returns the paths.
    For policies: the bottom line first, contrasts with `reference` (or every pair) and the
    share of scenarios meeting each of `goals` (added to the sweep file's)."""
    from forumsim.analysis.levels import level_sections
    from forumsim.analysis.policies import policy_sections

    results = load_results(folder)
    if reference is not None and reference not in results.policies:
        raise ReportError(f"--reference {reference!r}: not a policy of this sweep ("
                          f"{', '.join(results.policies) or 'it has no policies'}).")
    unknown = [name for name, _ in goals or [] if results.column(name) not in results.summary]
    if unknown:
        raise ReportError(f"--goal {unknown[0]!r}: no such outcome in the results (e.g. "
                          "lasting_loss, the whole effect; iv0_lasting_loss, the first "
                          "shock's; active_people_mean_last30).")
    figures = results.folder / "figures"
    figures.mkdir(exist_ok=True)
    bottom, policy_blocks = policy_sections(results, figures, reference, all_pairs, goals)
    blocks = [("h1", f"Sweep report: {results.manifest['sweep']}"), *bottom,
              *_overview(results), *_outcomes(results, figures),
              *level_sections(results, figures), *_shocks(results, figures), *policy_blocks,
              *_key_players(results, figures), *_sensitivity(results, figures)]
    md = results.folder / "report.md"
    page = results.folder / "report.html"
    _write_text(md, _markdown(blocks))
    _write_text(page, _html(blocks, results.manifest["sweep"], results.folder))
    return [md, page, *sorted(figures.glob("*.png"))]


# --- sections: each returns blocks ('h1'...'h3', text) ('p', text) ('ul', [text]),
# ('table', frame) or ('fig', path, caption) ---


def _overview(results: SweepResults) -> list[tuple]:
    m, sweep = results.manifest, results.sweep
    failed = results.summary[results.summary["status"] != "ok"]
    blocks = [("h2", "The sweep")] if results.policies else []
    if m.get("question"):
        blocks.append(("p", m["question"]))
    if m.get("description"):
        blocks.append(("p", m["description"]))
    if results.policies:
        design = (f"{'posterior draws' if m.get('posterior') else sweep.design}: "
                  f"{len(results.policies)} policies x {m['scenarios']:,} scenarios x "
                  f"{sweep.replicates} replicates")
        varied = {"policies": ", ".join(f"{results.policy_label(p)} ({p})"
                                        if results.policy_label(p) != p else p
                                        for p in results.policies),
                  "uncertainties": ", ".join(parameter(u) for u in m["uncertainties"])
                  or "none"}
    else:
        design = f"{sweep.design}, {m['points']:,} points x {sweep.replicates} replicates"
        varied = {"parameters": ", ".join(m["parameters"])
                  or "none (replicates of the base scenario)"}
    posterior = m.get("posterior")
    drawn = ({"posterior": f"{posterior.get('draws')} joint draws, by weight, from generation "
                           f"{posterior.get('generation')} ({posterior.get('population')} "
                           f"particles) of {posterior.get('file')}"}
             if isinstance(posterior, dict) else {})
    facts = {
        "design": design, **drawn,
        "runs": f"{len(results.summary):,} of {m['planned_runs']:,} planned finished, "
                f"{len(failed):,} failed",
        **varied,
        "base scenario": f"{sweep.base}: {m['base_scenario']['people']:,} people, "
                         f"{m['base_scenario']['days']} days",
        "root seed": f"{sweep.seed}" + (" (common random numbers across policies)"
                                        if results.policies else
                                        " (common seeds across points)"
                                        if sweep.common_seeds else ""),
        "run": f"{m['started']} to {m.get('ended') or 'not finished'}",
        "software": f"forumsim {m['forumsim']}, Python {m['python']}, "
                    + ", ".join(f"{k} {v}" for k, v in m["dependencies"].items() if v),
    }
    blocks.append(("table", pd.DataFrame({"": list(facts), "value": list(facts.values())})))
    if len(failed):
        blocks += [("h2", "Failed runs"),
                   ("table", failed[["run_id", "seed", *m["parameters"], "error"]].head(50))]
    return blocks


def _outcomes(results: SweepResults, figures: Path) -> list[tuple]:
    outcomes = [o for o in (results.sweep.outcomes or SCENARIO_OUTCOMES)  # not shock records
                if o in results.ok and not o.startswith(("iv", names_of.WHOLE))
                and results.ok[o].notna().any()]
    what = "policy (pooled over scenarios)" if results.policies else "scenario"
    blocks = [("h2", f"Outcomes per {what}"),
              ("p", "Mean over runs with its 95% bootstrap interval (percentile, clipped to "
                    "the values the outcome can take) in brackets; n is the number of "
                    "finished runs.")]
    ok, labels = results.grouped(results.ok)
    if not results.policies and len(results.labels()) > MOST_POINTS_SHOWN:
        blocks.append(("p", f"{len(results.labels()):,} points are too many to list; the "
                            "table pools all runs. See the sensitivity section and the "
                            "scatter plots for how outcomes depend on the parameters."))
        blocks += _ci_blocks(results, ok, outcomes, labels)
        blocks.append(("fig", _scatter(results, outcomes[:3], figures / "scatter.png"),
                       "Each run's outcome against each parameter."))
    else:
        blocks += _ci_blocks(results, ok, outcomes, labels)
        blocks.append(("fig", _interval_chart(results, ok, outcomes, labels,
                                              figures / "outcomes.png"),
                       "Means with 95% bootstrap intervals over runs."))
    series = results.series()
    if series is not None:
        blocks.append(("fig", _activity_bands(results, series, figures / "activity.png"),
                       "Active people per day (7-day mean): mean over runs with a 95% "
                       "bootstrap band" + ("; the dotted line marks the shock."
                                           if shock_days(results) else ".")))
    return blocks


MEASURES_NOTE = ("Loss: deepest relative drop of active people; lasting loss: the relative "
                 "gap over the last 30 days; activity lost: person-days; days to recovery: "
                 "until back within 10% for good, over the runs that recovered ('not "
                 "recovered' counts the others).")
AGAINST = {"without shocks": "no shock (whole effect)",
           "without this shock": "the others kept (marginal)"}


def _shocks(results: SweepResults, figures: Path) -> list[tuple]:
    blocks = []
    whole = [f"{names_of.WHOLE}{k}" for k in SHOCK_OUTCOMES
             if f"{names_of.WHOLE}{k}" in results.ok
             and results.ok[f"{names_of.WHOLE}{k}"].notna().any()]
    several = "iv1_type" in results.ok and results.ok["iv1_type"].notna().any()
    if whole and several:  # with one shock per run, its record is the whole effect
        with_shock, labels = results.grouped(results.ok[results.ok[whole[0]].notna()])
        never = with_shock.groupby("point")[f"{names_of.WHOLE}days_to_recovery"].apply(
            lambda s: int(s.isna().sum()))
        blocks += [("h2", "Whole effect of each run's shocks together"),
                   ("p", "Each run against the same scenario and seed without any of its "
                         "shocks (common random numbers): what the shocks did together. "
                         + MEASURES_NOTE),
                   *_ci_blocks(results, with_shock, whole, labels,
                               extra={"not recovered": never})]
    for i in range(_interventions(results.ok)):
        with_shock, labels = results.grouped(results.ok[results.ok[f"iv{i}_type"].notna()])
        columns = [f"iv{i}_{k}" for k in SHOCK_OUTCOMES
                   if f"iv{i}_{k}" in with_shock and with_shock[f"iv{i}_{k}"].notna().any()]
        never = with_shock.groupby("point")[f"iv{i}_days_to_recovery"].apply(
            lambda s: int(s.isna().sum()))
        # A point (or policy) has one set of shocks, so one kind of counterfactual.
        extra = {"not recovered": never}
        if f"iv{i}_counterfactual" in with_shock:
            extra = {"measured against": with_shock.groupby("point")[
                f"iv{i}_counterfactual"].first().map(AGAINST), **extra}
        table_blocks = _ci_blocks(results, with_shock, columns, labels, extra=extra)
        blocks += [("h2", f"Intervention {i + 1} on its own: paired effect against the run "
                          "without it"),
                   ("p", "Each run is compared with the same scenario and seed without this "
                         "intervention (common random numbers), so the difference is its "
                         "effect, not noise between seeds. Where it is a run's only shock, "
                         "that is the run without shocks: its whole effect. Where the run "
                         "has other shocks too, they are kept: this is its marginal effect, "
                         "what it adds to the others, not what the combination does (see "
                         "the whole effect above). " + MEASURES_NOTE),
                   *table_blocks]
    series = results.series()
    if blocks and series is not None and series["active_people_counterfactual"].notna().any():
        blocks.append(("fig", _gap_bands(results, series, figures / "paired_gap.png"),
                       "Relative shortfall of active people against the same scenario and "
                       "seed without any shock (7-day means): the whole effect of each "
                       "run's shocks, mean over runs with a 95% bootstrap band; the dotted "
                       "line marks the shock."))
    return blocks


def _key_players(results: SweepResults, figures: Path) -> list[tuple]:
    ok = results.ok
    blocks = []
    for i in range(_interventions(ok)):
        if f"iv{i}_strategy" not in ok or ok[f"iv{i}_strategy"].isna().all():
            continue
        arrests = ok[ok[f"iv{i}_strategy"].notna()].copy()
        k, share = arrests[f"iv{i}_k"], arrests[f"iv{i}_share"]
        arrests["size"] = k.fillna(share)  # each arrest gives one of the two
        arrests["by_share"] = k.isna()
        size = "k" if share.isna().all() else "share" if k.isna().all() else "k or share"
        shown = {"k": "people arrested (k)", "share": "share of candidates arrested"}.get(
            size, "people arrested (k) or share")
        rows = []
        for (strategy, amount, by_share), group in arrests.groupby(
                [f"iv{i}_strategy", "size", "by_share"]):
            row = {"strategy": strategy, shown: f"{amount:.0%}" if by_share else number(amount),
                   "n": _n(len(group))}
            for name in ("loss", "loss_random", "kpd"):
                column = f"iv{i}_{name}"
                row[results.title(column)] = results.cell(group[column], column,
                                                          f"{strategy}{amount}")
            rows.append(row)
        blocks += [("h2", f"Key players (intervention {i + 1}: arrests)"),
                   ("p", "Key-player dependence = loss(strategy) / mean loss of as many "
                         "arrests at random over several draws, each against the "
                         "counterfactual; above 1 the ecosystem depends on the players the "
                         "strategy picks. A run's kpd is empty where its random draws' loss "
                         "cannot be told from zero; each run's own interval is in "
                         "summary.parquet (iv0_kpd_low, iv0_kpd_high). The random strategy "
                         "is its own baseline (1)."),
                   *_with_note(pd.DataFrame(rows))]
        several = arrests.groupby(f"iv{i}_strategy")["size"].nunique().max() > 1
        if several:  # a curve needs several sizes; one size is the table alone
            blocks.append(("fig", _kpd_curves(results, arrests, i, shown,
                                              figures / f"key_players_{i}.png"),
                           "Loss and key-player dependence against the number arrested, "
                           "one line per strategy, with 95% bootstrap intervals over runs."))
    return blocks


def _sensitivity(results: SweepResults, figures: Path) -> list[tuple]:
    sweep = results.sweep
    if sweep.design not in ("sobol", "morris"):
        return []
    outcomes = [o for o in (sweep.outcomes or [*SCENARIO_OUTCOMES, "iv0_loss",
                                               "iv0_lasting_loss"]) if o in results.ok]
    blocks = [("h2", f"Sensitivity ({sweep.design}, SALib)")]
    summary = results.summary.assign(
        **{o: results.summary[o].where(results.summary["status"] == "ok") for o in outcomes})
    groups = ([(p, summary[summary["policy"] == p], "scenario") for p in results.policies]
              or [("", summary, "point")])
    names = list(sweep.space)
    problem = {"num_vars": len(names), "names": [parameter(n) for n in names],
               "bounds": [[0.0, 1.0]] * len(names)}
    indices, skipped = {}, []
    for policy, rows, by in groups:
        means = rows.groupby(by)[outcomes].mean()
        points = results.manifest.get("scenarios", results.manifest["points"])
        if len(means) < points:
            return [*blocks, ("p", f"Only {len(means)} of {points} points have finished "
                                   "runs; sensitivity indices need them all (resume the "
                                   "sweep).")]
        for name in outcomes:
            shown = results.title(name) + (f", policy {policy}" if policy else "")
            y = means[name].to_numpy(dtype=float)
            if np.isnan(y).any() or np.ptp(y) == 0:
                skipped.append(shown)
                continue
            indices[shown] = _indices(sweep, problem, y)
    blocks.append(("p", "Each point's outcome is its mean over replicates. "
                   + ("First-order (S1) and total (ST) Sobol indices: the share of the "
                      "outcome's variance due to the parameter alone, and with all its "
                      "interactions." if sweep.design == "sobol" else
                      "Morris elementary effects on parameters scaled to [0, 1]: mu_star "
                      "(mean absolute effect: importance) and sigma (spread: interactions "
                      "or non-linearity).")
                   + " Brackets: 95% bootstrap confidence intervals."))
    for shown, table in indices.items():
        blocks += [("h3", shown), ("table", table)]
    if skipped:
        blocks.append(("p", "Not analysed (missing values in some points, or constant): "
                            + ", ".join(skipped) + "."))
    if indices:
        blocks.append(("fig", _sensitivity_bars(indices, sweep.design,
                                                figures / "sensitivity.png"),
                       "Sensitivity indices per outcome and parameter."))
    return blocks


def _indices(sweep: Sweep, problem: dict, y: np.ndarray) -> pd.DataFrame:
    if sweep.design == "sobol":
        from SALib.analyze import sobol

        found = sobol.analyze(problem, y, calc_second_order=sweep.second_order,
                              seed=sweep.seed % 2**32)
        return pd.DataFrame({"parameter": problem["names"],
                             "S1": [_pm(v, c) for v, c in zip(found["S1"], found["S1_conf"],
                                                              strict=True)],
                             "ST": [_pm(v, c) for v, c in zip(found["ST"], found["ST_conf"],
                                                              strict=True)],
                             "_S1": found["S1"], "_ST": found["ST"]})
    from SALib.analyze import morris

    found = morris.analyze(problem, unit_sample(sweep), y, num_levels=sweep.levels,
                           seed=sweep.seed % 2**32)
    return pd.DataFrame({"parameter": problem["names"],
                         "mu_star": [_pm(v, c) for v, c in zip(
                             found["mu_star"], found["mu_star_conf"], strict=True)],
                         "sigma": [f"{v:.3g}" for v in found["sigma"]],
                         "_mu_star": found["mu_star"], "_sigma": found["sigma"]})


# --- tables -----------------------------------------------------------------------------


def number(x: float) -> str:
    """Three significant digits, but whole numbers from 1,000 on (no 1.79e+04)."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _pm(value: float, half_width: float) -> str:
    return f"{value:.3f} [{value - half_width:.3f}, {value + half_width:.3f}]"


def _n(count: int) -> str:
    """A count of runs, flagged when too few for a trustworthy interval."""
    return f"{count} {FEW_MARK}" if count < FEW else str(count)


def _with_note(table: pd.DataFrame) -> list[tuple]:
    """A table, and the note on few runs if any of its rows is flagged."""
    flagged = table.astype(str).apply(lambda column: column.str.contains(FEW_MARK)).any().any()
    return [("table", table), *([("p", FEW_NOTE)] if flagged else [])]


def _ci_blocks(results: SweepResults, ok: pd.DataFrame, columns: list[str],
               labels: pd.Series, extra: dict[str, pd.Series] | None = None) -> list[tuple]:
    """One row per group: its label, n, any `extra` columns, each column's mean [interval]."""
    rows = []
    for point, group in ok.groupby("point"):
        rows.append({"scenario" if not results.policies else "policy": labels[point],
                     "point": point, "n": _n(len(group)),
                     **{k: v.get(point, 0) for k, v in (extra or {}).items()},
                     **{results.title(c): results.cell(group[c], c, str(labels[point]))
                        for c in columns}})
    return _with_note(pd.DataFrame(rows))


def _interventions(ok: pd.DataFrame) -> int:
    return sum(1 for c in ok.columns if c.startswith("iv") and c.endswith("_type"))


def _short(value: object) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 24 else text[:21] + "..."


# --- figures ----------------------------------------------------------------------------


def _interval_chart(results: SweepResults, ok: pd.DataFrame, outcomes: list[str],
                    labels: pd.Series, path: Path) -> Path:
    """One panel per outcome: each group's mean with its 95% interval, axes labelled."""
    columns = min(3, len(outcomes)) or 1
    rows = math.ceil(len(outcomes) / columns) or 1
    fig, axes = plt.subplots(rows, columns, figsize=(4.8 * columns, 0.5 * len(labels) * rows
                                                     + 2.0 * rows), squeeze=False)
    groups = sorted(ok["point"].unique())
    for ax, name in zip(axes.flat, outcomes, strict=False):
        for y, point in enumerate(groups):
            values = ok.loc[ok["point"] == point, name].dropna().to_numpy(dtype=float)
            mean, low, high = bootstrap_ci(values, results.seed(name + str(labels[point])),
                                           results.bounds(name))
            if not math.isnan(low):
                ax.plot([low, high], [y, y], color="C0", lw=2)
            ax.plot([mean], [y], "o", color="C0")
        ax.set_yticks(range(len(groups)), [_wrapped(str(labels[p]), 28) for p in groups],
                      fontsize=8)
        ax.set_xlabel(_wrapped(results.title(name)), fontsize=9)
        ax.set_ylabel("policy" if results.policies else "scenario", fontsize=9)
        ax.invert_yaxis()
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.set_axis_off()
    fig.tight_layout()
    return _save(fig, path)


def _wrapped(text: str, width: int = 40) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


BAND_RESAMPLES = 1000


def _by_day(frame: pd.DataFrame, value: str, seed: list[int], smooth: bool = True
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Days, and the mean over runs of a daily value (its 7-day mean unless `smooth` is
    False) with a 95% percentile bootstrap band over runs: like every interval of the
    report it stays within what the runs' values can be (a share stays a share)."""
    wide = frame.pivot(index="day", columns="run_id", values=value)
    if smooth:
        wide = wide.rolling(7, min_periods=1).mean()
    x = wide.to_numpy(dtype=float)
    picks = np.random.default_rng(seed).integers(0, x.shape[1],
                                                 size=(BAND_RESAMPLES, x.shape[1]))
    with warnings.catch_warnings():  # a day no run reached has no mean: a gap in the line
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.stack([np.nanmean(x[:, p], axis=1) for p in picks], axis=1)
        low, high = np.nanpercentile(means, [2.5, 97.5], axis=1)
        mean = np.nanmean(x, axis=1)
    return wide.index.to_numpy(), mean, low, high


def _groups(results: SweepResults, series: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Series grouped by policy or scenario, or all runs together when there are many."""
    ok, labels = results.grouped(results.ok)
    points = ok.set_index("run_id")["point"]
    series = series[series["run_id"].isin(points.index)]
    if len(labels) > MOST_LINES:
        return [("all runs", series)]
    return [(labels[p], series[series["run_id"].map(points) == p]) for p in labels.index]


def _band(ax: plt.Axes, days: np.ndarray, mean: np.ndarray, low: np.ndarray,
          high: np.ndarray, label: str, colour: str) -> None:
    ax.plot(days, mean, color=colour, lw=1.5, label=label)
    ax.fill_between(days, low, high, color=colour, alpha=0.2, lw=0)


def shock_days(results: SweepResults) -> list[int]:
    """The days the runs' first shocks hit (each intervention's first application)."""
    ok = results.ok
    if not _interventions(ok):  # a sweep without shocks (a baseline)
        return []
    days = pd.concat([ok[f"iv{i}_day"] for i in range(_interventions(ok))])
    return sorted(int(d) for d in days.dropna().unique())


def _mark_shocks(ax: plt.Axes, days: list[int]) -> None:
    """A dotted line at each shock day (a few at most), named once in the legend."""
    for i, day in enumerate(days[:MOST_LINES]):
        ax.axvline(day, color="crimson", ls=":", lw=1.2,
                   label=f"shock (day {', '.join(map(str, days[:MOST_LINES]))})"
                   if i == 0 else None)


def _activity_bands(results: SweepResults, series: pd.DataFrame, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4.6))
    for i, (label, group) in enumerate(_groups(results, series)):
        _band(ax, *_by_day(group, "active_people", results.seed(f"activity{label}")),
              label, f"C{i}")
    _mark_shocks(ax, shock_days(results))
    ax.set(title="Active people per day", xlabel="day", ylabel="active people (7-day mean)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def shortfall(series: pd.DataFrame) -> pd.DataFrame:
    """The daily series of runs with a counterfactual, with `gap`: the relative shortfall
    of the run's 7-day mean of active people below its counterfactual's, the gap its loss
    and lasting loss are read from (0 where the counterfactual has nobody)."""
    series = series[series["active_people_counterfactual"].notna()].sort_values(
        ["run_id", "day"])
    by_run = series.groupby("run_id")
    actual = by_run["active_people"].transform(lambda s: s.rolling(7, min_periods=1).mean())
    without = by_run["active_people_counterfactual"].transform(
        lambda s: s.rolling(7, min_periods=1).mean())
    return series.assign(gap=(1 - actual / without.where(without > 0)).fillna(0.0))


def _gap_bands(results: SweepResults, series: pd.DataFrame, path: Path) -> Path:
    series = shortfall(series)
    fig, ax = plt.subplots(figsize=(9, 4.6))
    for i, (label, group) in enumerate(_groups(results, series)):
        if len(group):
            _band(ax, *_by_day(group, "gap", results.seed(f"gap{label}"), smooth=False),
                  label, f"C{i}")
    ax.axhline(0, color="0.4", lw=0.8)
    _mark_shocks(ax, shock_days(results))
    last = int(series["day"].max())
    ax.axvspan(last - 29.5, last + 0.5, color="0.93", zorder=0,
               label="last 30 days: the lasting loss is the mean gap here")
    ax.set(title="Paired shortfall against the same runs without any shock",
           xlabel="day", ylabel="(without − with) / without, 7-day means")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _kpd_curves(results: SweepResults, arrests: pd.DataFrame, i: int, what: str,
                path: Path) -> Path:
    fig, (ax_loss, ax_kpd) = plt.subplots(1, 2, figsize=(11, 4.4))
    for c, (strategy, group) in enumerate(arrests.groupby(f"iv{i}_strategy")):
        for ax, value in ((ax_loss, "loss"), (ax_kpd, "kpd")):
            column = f"iv{i}_{value}"
            stats = [(k, *bootstrap_ci(g[column].to_numpy(dtype=float),
                                       results.seed(column + f"{strategy}{k}"),
                                       results.bounds(column)))
                     for k, g in group.groupby("size")]
            stats = [s for s in stats if not math.isnan(s[1])]
            if not stats:
                continue
            k, mean, low, high = (np.array(v, dtype=float) for v in zip(*stats, strict=True))
            err = np.nan_to_num(np.vstack([mean - low, high - mean]))
            ax.errorbar(k, mean, yerr=err, marker="o", capsize=3, color=f"C{c}",
                        label=strategy)
    ax_kpd.axhline(1, color="0.4", ls="--", lw=1)
    ax_loss.set(title="Loss of activity against the counterfactual", xlabel=what,
                ylabel=_wrapped(results.title(f"iv{i}_loss")))
    ax_kpd.set(title="Key-player dependence", xlabel=what,
               ylabel="loss / loss of as many random arrests")
    for ax in (ax_loss, ax_kpd):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def _scatter(results: SweepResults, outcomes: list[str], path: Path) -> Path:
    names = results.manifest["parameters"]
    ok = results.ok
    fig, axes = plt.subplots(len(outcomes) or 1, len(names),
                             figsize=(3.2 * len(names), 2.8 * max(len(outcomes), 1)),
                             squeeze=False)
    for r, outcome in enumerate(outcomes):
        for c, name in enumerate(names):
            x = pd.to_numeric(ok[name], errors="coerce")
            if x.isna().all():  # variants: plot their order
                x = ok[name].astype("category").cat.codes
            axes[r][c].scatter(x, ok[outcome], s=6, alpha=0.5)
            axes[r][c].set(xlabel=parameter(name),
                           ylabel=_wrapped(results.title(outcome), 30) if c == 0 else "")
    return _save(fig, path)


def _sensitivity_bars(indices: dict[str, pd.DataFrame], design: str, path: Path) -> Path:
    measures = ("_S1", "_ST") if design == "sobol" else ("_mu_star", "_sigma")
    columns = min(3, len(indices))
    rows = math.ceil(len(indices) / columns)
    tables = list(indices.values())
    # The same parameters in every panel: name them once per row, at the left.
    shared = all(list(t["parameter"]) == list(tables[0]["parameter"]) for t in tables)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.8 * rows),
                             squeeze=False, sharey=shared, layout="constrained")
    for ax in list(axes.flat)[len(indices):]:
        ax.set_axis_off()
    for k, (ax, (outcome, table)) in enumerate(zip(axes.flat, indices.items(), strict=False)):
        y = np.arange(len(table))
        for j, measure in enumerate(measures):
            ax.barh(y + 0.4 * j, table[measure], height=0.4, label=measure.lstrip("_"))
        ax.set_yticks(y + 0.2, list(table["parameter"]), fontsize=8)
        if shared and k % columns:
            ax.tick_params(labelleft=False)
        ax.set_title(_wrapped(outcome, 45), fontsize=9)
        ax.set_xlabel("index (share of variance)" if design == "sobol"
                      else "elementary effect (outcome per unit of the scaled parameter)",
                      fontsize=8)
        if not (shared and k):
            ax.invert_yaxis()  # shared axes are inverted once
        ax.grid(alpha=0.3, axis="x")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(measures), fontsize=8)
    return _save(fig, path)


# --- output -----------------------------------------------------------------------------


def _visible(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in frame.columns if not str(c).startswith("_") and c != "point"]]


def pieces(frame: pd.DataFrame, most: int = MOST_COLUMNS) -> list[pd.DataFrame]:
    """A table cut into tables of at most `most` value columns, each repeating the row
    labels (the first column, and n), so that none is wider than the page."""
    frame = _visible(frame)
    keys = [c for i, c in enumerate(frame.columns) if i == 0 or c == "n"]
    values = [c for c in frame.columns if c not in keys]
    if len(values) <= most:
        return [frame]
    chunks = math.ceil(len(values) / most)
    size = math.ceil(len(values) / chunks)  # even pieces, not a full one and a stub
    return [frame[keys + values[i:i + size]] for i in range(0, len(values), size)]


def _markdown(blocks: list[tuple]) -> str:
    lines = []
    for kind, *content in blocks:
        if kind in ("h1", "h2", "h3"):
            lines.append(f"{'#' * int(kind[1])} {content[0]}")
        elif kind == "p":
            lines.append(content[0])
        elif kind == "ul":
            lines += [f"- {item}" for item in content[0]]
        elif kind == "table":
            for frame in pieces(content[0]):
                cells = [[str(c) for c in frame.columns]] + [
                    [str(v).replace("|", "\\|").replace("\n", " ") for v in row]
                    for row in frame.itertuples(index=False)]
                lines += ["| " + " | ".join(cells[0]) + " |",
                          "|" + "|".join(" --- " for _ in cells[0]) + "|",
                          *("| " + " | ".join(row) + " |" for row in cells[1:]), ""]
            lines.pop()
        elif kind == "fig":
            path, caption = content
            lines.append(f"![{caption}](figures/{path.name})\n\n*{caption}*")
        lines.append("")
    return "\n".join(lines)


def _html(blocks: list[tuple], title: str, folder: Path) -> str:
    body = []
    for kind, *content in blocks:
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{html.escape(content[0])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{html.escape(content[0])}</p>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in content[0])
                        + "</ul>")
        elif kind == "table":
            for frame in pieces(content[0]):
                head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
                rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>"
                                                for v in row)
                               + "</tr>" for row in frame.itertuples(index=False))
                body.append(f"<table><tr>{head}</tr>{rows}</table>")
        elif kind == "fig":
            path, caption = content
            data = base64.b64encode(path.read_bytes()).decode()
            body.append(f'<figure><img src="data:image/png;base64,{data}" '
                        f'alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}'
                        "</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
             "line-height:1.45}table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
             "td,th{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left;"
             "overflow-wrap:break-word}th{background:#f4f4f4;font-weight:600}"
             "table{max-width:100%}"
             "img{max-width:100%}figcaption{font-style:italic;color:#444}")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Sweep report: {html.escape(title)}</title><style>{style}</style></head>"
            f"<body>\n" + "\n".join(body) + "\n</body></html>\n")


def _write_text(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    try:
        staging.write_text(text)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
