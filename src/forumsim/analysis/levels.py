"""Paired contrasts between the levels of a swept parameter, for plain sweeps: does an
outcome change from one level to another, with the other parameters and the replicate
held the same?"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from forumsim.analysis.labels import WHOLE, parameter
from forumsim.analysis.policies import (
    _difference_bounds,
    _forest,
    difference_cell,
    matched_differences,
)
from forumsim.analysis.sweep_report import (
    SCENARIO_OUTCOMES,
    SweepResults,
    _n,
    _short,
    _with_note,
)
from forumsim.measures.metrics import bootstrap_ci

MOST_LEVELS = 10  # contrasts of more levels than this are a curve: see the scatter plots
SHOCK_MEASURES = ("loss", "lasting_loss")


def level_outcomes(results: SweepResults) -> list[str]:
    """The outcomes compared between levels: the sweep's, or the scenario outcomes and the
    whole effect of the shocks."""
    chosen = results.sweep.outcomes or [*SCENARIO_OUTCOMES, *(WHOLE + k for k in SHOCK_MEASURES)]
    return [o for o in chosen if o in results.ok and results.ok[o].notna().any()]


def level_sections(results: SweepResults, figures: Path) -> list[tuple]:
    """For each discrete parameter, every level against the first: the mean paired
    difference of each outcome with a 95% bootstrap interval (none for policy sweeps)."""
    if results.policies:
        return []
    swept = [n for n in results.manifest["parameters"]
             if hasattr(results.sweep.space.get(n), "levels")
             and 1 < results.ok[n].nunique() <= MOST_LEVELS]
    if not swept:
        return []
    names = level_outcomes(results)
    seeds = ("replicates of the same number share their seed (common random numbers, "
             "common_seeds: true), so each difference is the parameter's effect, not noise "
             "between seeds" if results.sweep.common_seeds else
             "their seeds differ (the sweep does not set common_seeds: true), so the pairs "
             "are independent runs and the interval is that of a difference between them")
    blocks = [("h2", "Levels compared, run by run"),
              ("p", "For each parameter, each level minus the first, over pairs of runs that "
                    "agree on every other parameter and on the replicate number; "
                    f"{seeds}. Mean difference with a 95% bootstrap interval, clipped to "
                    "what the difference can be; n is the number of pairs, '(n = k)' where "
                    "an outcome is defined in only k of them (a shock's measure, in runs "
                    "with a shock); '–': defined in none.")]
    for name in swept:
        rows, stats = _contrasts(results, name, names)
        blocks += [("h3", parameter(name)), *_with_note(_table(rows, stats, names, results.title))]
        shown = [o for o in names if any(not math.isnan(stats[(r, o)][0]) for r in rows)]
        if shown:
            stem = "levels_" + name.replace(".", "_")
            blocks.append(("fig", _forest(results, [{"contrast": r} for r in rows], shown,
                                          stats, figures / f"{stem}.png"),
                           f"Paired differences between levels of {parameter(name)} with "
                           "95% bootstrap intervals; the dashed line is no difference."))
    return blocks


def _contrasts(results: SweepResults, name: str, outcomes: list[str]
               ) -> tuple[dict[str, dict], dict]:
    """Per contrast 'level − first': the differences of each outcome, and their
    (mean, low, high)."""
    ok = results.ok
    levels = list(dict.fromkeys(ok[name]))  # in the order the sweep ran them
    keys = [p for p in results.manifest["parameters"] if p != name] + ["replicate"]
    rows, stats = {}, {}
    for level in levels[1:]:
        contrast = f"{_short(level)} − {_short(levels[0])}"
        rows[contrast] = {o: matched_differences(ok, name, level, levels[0], o, keys)
                          for o in outcomes}
        for o, d in rows[contrast].items():
            stats[(contrast, o)] = bootstrap_ci(d, results.seed(f"{name}{contrast}{o}"),
                                                _difference_bounds(o))
    return rows, stats


def _table(rows: dict[str, dict], stats: dict, outcomes: list[str],
           title: Callable[[str], str]) -> pd.DataFrame:
    table = []
    for contrast, found in rows.items():
        most = max(map(len, found.values()), default=0)
        table.append({"contrast": contrast, "n": _n(most),
                      **{title(o): difference_cell(stats[(contrast, o)], len(found[o]), most)
                         for o in outcomes}})
    return pd.DataFrame(table)
