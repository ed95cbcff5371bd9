"""Scenario discovery: under which combinations of uncertain conditions does an outcome fall
on the named side of a threshold? PRIM (Friedman and Fisher 1999) and feature scores from
the EMA Workbench (Kwakkel 2017), on the runs of a sweep.

The EMA Workbench takes seconds to import, so it is imported only when a discovery runs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_COVERAGE = 0.5  # the chosen box must hold at least this share of the cases


class DiscoveryError(ValueError):
    """Discovery cannot run on these runs (no cases, no uncertain conditions...)."""


@dataclass
class Discovery:
    """What PRIM found: the peeling trajectory, the chosen box and the feature scores."""

    cases: int  # runs of interest
    runs: int
    tradeoff: pd.DataFrame  # one row per box on the trajectory: coverage, density, mass, ...
    chosen: int  # row of `tradeoff` chosen
    limits: pd.DataFrame  # restricted conditions of the chosen box: low, high (or levels)
    scores: pd.Series  # feature score per condition, highest first

    @property
    def box(self) -> pd.Series:
        return self.tradeoff.iloc[self.chosen]


def _ema():
    with warnings.catch_warnings():  # optional EMA parts we do not use
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import feature_scoring, prim
    return prim, feature_scoring


def discover(conditions: pd.DataFrame, of_interest: np.ndarray, seed: int = 0,
             min_coverage: float = MIN_COVERAGE) -> Discovery:
    """PRIM on `conditions` (one row per run) with `of_interest` marking the runs whose
    outcome fell on the named side; the chosen box is the densest one on the peeling
    trajectory that still covers `min_coverage` of the cases (fewest restrictions on a
    tie)."""
    y = np.asarray(of_interest, dtype=bool)
    cases = int(y.sum())
    if conditions.shape[1] == 0:
        raise DiscoveryError("no uncertain conditions varied between the runs")
    if cases == 0 or cases == len(y):
        side = "none" if cases == 0 else "all"
        raise DiscoveryError(f"{side} of the {len(y)} runs fall on that side; there is "
                             "nothing to tell apart")
    x = conditions.reset_index(drop=True).copy()
    for name in x.columns:  # text levels as categories, which PRIM peels one at a time
        if not pd.api.types.is_numeric_dtype(x[name]) or pd.api.types.is_bool_dtype(x[name]):
            x[name] = x[name].astype(str).astype("category")
        else:  # PRIM pastes limits between values: an integer column must take floats
            x[name] = x[name].astype(float)
    prim, feature_scoring = _ema()
    with warnings.catch_warnings():  # pandas deprecations inside the EMA Workbench
        warnings.filterwarnings("ignore", module=r"ema_workbench\.")
        box = prim.Prim(x, y, peel_alpha=0.05, paste_alpha=0.05, mass_min=0.05).find_box()
    tradeoff = box.peeling_trajectory.reset_index(drop=True)
    eligible = tradeoff[tradeoff["coverage"] >= min_coverage]
    chosen = int(eligible.sort_values(["density", "coverage", "res_dim"],
                                      ascending=[False, False, True]).index[0])
    scores, _ = feature_scoring.get_ex_feature_scores(
        x, y, mode=feature_scoring.RuleInductionType.CLASSIFICATION, random_state=seed)
    return Discovery(cases, len(y), tradeoff, chosen, _limits(box.box_lims[0],
                     box.box_lims[chosen], x), scores.iloc[:, 0].sort_values(ascending=False))


def _limits(initial: pd.DataFrame, final: pd.DataFrame, x: pd.DataFrame) -> pd.DataFrame:
    """The conditions the box restricts, with their limits and the range sampled."""
    rows = []
    for name in final.columns:
        before, after = initial[name], final[name]
        if isinstance(x[name].dtype, pd.CategoricalDtype):
            kept, allowed = set(after.iloc[0]), set(before.iloc[0])
            if kept != allowed:
                rows.append({"condition": name, "box": ", ".join(map(str, sorted(kept))),
                         "in all runs": ", ".join(map(str, sorted(allowed))),
                         "low": math.nan, "high": math.nan})
            continue
        low, high = float(after.iloc[0]), float(after.iloc[1])
        if low != float(before.iloc[0]) or high != float(before.iloc[1]):
            rows.append({"condition": name, "box": f"{_num(low)} to {_num(high)}",
                         "in all runs": f"{_num(float(before.iloc[0]))} to "
                                    f"{_num(float(before.iloc[1]))}",
                         "low": low, "high": high})
    return pd.DataFrame(rows, columns=["condition", "box", "in all runs", "low", "high"])


def _num(x: float) -> str:
    return f"{x:.4g}"


def cases_of(values: pd.Series, below: float | None, above: float | None) -> np.ndarray:
    """The runs whose outcome falls strictly below or above the threshold (a missing value
    is not a case)."""
    x = values.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return x < below if below is not None else x > above
