"""Outcome measures on plain numpy series: inequality, resilience and replicate statistics.

Nothing here knows about Mesa or the model. Resilience is always measured against a
paired counterfactual: the same scenario and seed run without the intervention (common
random numbers), so the gap between the two series is the intervention's effect rather
than noise. Series are daily values (index = day); `start` is the day of the shock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike

try:
    from scipy.stats import t as _student_t
except ImportError:  # scipy is optional: fall back to a normal approximation
    _student_t = None


# --- inequality -------------------------------------------------------------------------


def _non_negative(values: ArrayLike) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if (x < 0).any():
        raise ValueError("inequality measures need non-negative values")
    return x


def lorenz_curve(values: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve of non-negative values (e.g. posts per person).

    Returns (x, y), both of length n + 1 and starting at 0: x is the cumulative share of
    people sorted from least to most, y their cumulative share of the total. With a zero
    total (or no values) there is no inequality to show, so the diagonal is returned.
    """
    x = np.sort(_non_negative(values))
    n = x.size
    total = x.sum()
    if n == 0 or total == 0:
        people = np.linspace(0.0, 1.0, max(n, 1) + 1)
        return people, people.copy()
    people = np.arange(n + 1) / n
    share = np.concatenate(([0.0], np.cumsum(x) / total))
    return people, share


def top_share(values: ArrayLike, fraction: float = 0.01) -> float:
    """Share of the total held by the top `fraction` of entries (e.g. the top 1% of sharers).

    The top group is the smallest number of entries covering `fraction` of them, and at
    least one entry; 0.0 if the total is 0.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    x = _non_negative(values)
    total = x.sum()
    if total == 0:
        return 0.0
    # The small slack keeps e.g. 0.07 * 100 = 7.000000000000001 from rounding up to 8.
    k = max(1, math.ceil(fraction * x.size - 1e-9))
    return float(np.sort(x)[-k:].sum() / total)


def gini(values: ArrayLike) -> float:
    """Gini coefficient of non-negative values: 0 when all equal, (n - 1)/n when one holds all."""
    x = np.sort(_non_negative(values))
    n = x.size
    total = x.sum()
    if n == 0 or total == 0:
        return 0.0
    rank = np.arange(1, n + 1)
    return float(2.0 * (rank * x).sum() / (n * total) - (n + 1) / n)


# --- resilience against a paired counterfactual -----------------------------------------


def _paired(actual: ArrayLike, counterfactual: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=float)
    cf = np.asarray(counterfactual, dtype=float)
    if a.ndim != 1 or a.shape != cf.shape:
        raise ValueError(f"need two daily series of equal length, got {a.shape} and {cf.shape}")
    return a, cf


def _check_start(start: int, days: int) -> None:
    if not 0 <= start < days:
        raise ValueError(f"shock day {start} is outside the series (0..{days - 1})")


def relative_gap(actual: ArrayLike, counterfactual: ArrayLike) -> np.ndarray:
    """Daily relative shortfall (cf - actual) / cf; positive when the actual is below.

    On days where the counterfactual is 0 the gap is undefined and set to 0, so such days
    never count as a loss.
    """
    a, cf = _paired(actual, counterfactual)
    gap = np.zeros_like(cf)
    np.divide(cf - a, cf, out=gap, where=cf != 0)
    return gap


def _window(size: int, start: int, window: int | None) -> slice:
    """Days `start` .. `start + window - 1` (to the end of the series if `window` is None)."""
    _check_start(start, size)
    if window is not None and window < 1:
        raise ValueError(f"window must be at least one day, got {window}")
    return slice(start, size if window is None else min(size, start + window))


def loss(actual: ArrayLike, counterfactual: ArrayLike, start: int,
         window: int | None = None) -> float:
    """Activity lost to the shock: the share of the counterfactual's activity over the
    `window` days from `start` on (to the end of the series if `window` is None) that the
    actual did not have, sum(cf - actual) / sum(cf).

    Days above the counterfactual pay back days below, so a shock that changes nothing
    loses exactly 0 and noise averages out instead of adding up (a maximum of a noisy
    gap, `peak_loss`, is above 0 even then). Negative if the actual ran above; 0.0 if
    the counterfactual had no activity in the window.
    """
    a, cf = _paired(actual, counterfactual)
    days = _window(a.size, start, window)
    total = cf[days].sum()
    return float((total - a[days].sum()) / total) if total else 0.0


def peak_loss(actual: ArrayLike, counterfactual: ArrayLike, start: int,
              window: int | None = None) -> float:
    """Depth of the shock: the largest relative gap on any day of the `window` days from
    `start` on (to the end of the series if `window` is None), on series the caller has
    smoothed (e.g. 7-day means). Always >= 0.

    A maximum picks the largest excursion of whatever noise is left in the gap, so
    under a shock that changes little it is above 0 on average: read it beside `loss`,
    which has no such floor.
    """
    gap = relative_gap(actual, counterfactual)
    return max(0.0, float(gap[_window(gap.size, start, window)].max()))


def days_to_recovery(
    actual: ArrayLike, counterfactual: ArrayLike, start: int, tolerance: float = 0.1,
    hold: int = 28,
) -> int | None:
    """Days from `start` to the first day from which the actual stays within the band for
    `hold` days in a row: the shock's recovery, not a later dip's.

    The band is two-sided: a day is within it when the relative gap is within
    ±`tolerance` of the counterfactual, so running far above it (a surge that has not
    settled) is not recovered either. A later, unrelated excursion out of the band does
    not undo a recovery that held for `hold` days. Returns 0 if the series stays in the
    band for the first `hold` days, and None if no run of `hold` days in the band starts
    before the series ends (too few days left to tell also gives None).
    """
    if hold < 1:
        raise ValueError(f"hold must be at least one day, got {hold}")
    gap = relative_gap(actual, counterfactual)
    _check_start(start, gap.size)
    inside = np.abs(gap[start:]) <= tolerance
    if inside.size < hold:
        return None
    # In-band days in each stretch of `hold` days; a full count means it held.
    counts = np.concatenate([[0], np.cumsum(inside)])
    held = np.flatnonzero(counts[hold:] - counts[:-hold] == hold)
    return int(held[0]) if held.size else None


def triangle(actual: ArrayLike, counterfactual: ArrayLike, start: int,
             window: int | None = None) -> float:
    """Resilience-triangle area: the summed shortfall (cf - actual) over the `window`
    days from `start` on (to the end of the series if `window` is None), in the
    series' units times days (e.g. person-days of activity lost).

    Net of days above the counterfactual, like `loss` (of which it is the numerator), so
    that noise cancels rather than accumulates.
    """
    a, cf = _paired(actual, counterfactual)
    days = _window(a.size, start, window)
    return float(cf[days].sum() - a[days].sum())


def lasting_loss(actual: ArrayLike, counterfactual: ArrayLike, window: int = 30) -> float:
    """The loss that has not healed: `loss` over the last `window` days of the series.

    Negative if the actual ends above the counterfactual; 0.0 if the counterfactual had
    no activity then.
    """
    if window < 1:
        raise ValueError(f"window must be at least one day, got {window}")
    a, _ = _paired(actual, counterfactual)
    return loss(actual, counterfactual, max(a.size - window, 0))


@dataclass(frozen=True)
class KeyPlayerDependence:
    """How much a targeted removal outperforms random removals of the same size, with
    intervals; `kpd` is None where random removals' loss cannot be told from zero."""

    kpd: float | None
    low: float | None
    high: float | None
    loss_random: float
    loss_random_low: float
    loss_random_high: float
    draws: int


def key_player_dependence(loss_strategy: float, losses_random: ArrayLike,
                          confidence: float = 0.95) -> KeyPlayerDependence:
    """Key-player dependence: loss(strategy) / mean loss of random removals of as many
    people, over several random draws (Borgatti 2006; above 1 the ecosystem depends on
    the players the strategy picks).

    The interval comes from the spread of the random draws (a t interval of their mean).
    Where that interval reaches zero, random removals cost nothing measurable and the
    ratio would divide by noise: `kpd` and its interval are None then.
    """
    x = np.asarray(losses_random, dtype=float).ravel()
    mean, low, high = mean_ci(x, confidence)
    if x.size < 2 or not low > 0:
        return KeyPlayerDependence(None, None, None, mean, low, high, int(x.size))
    bounds = sorted((loss_strategy / high, loss_strategy / low))
    return KeyPlayerDependence(float(loss_strategy / mean), float(bounds[0]),
                               float(bounds[1]), mean, low, high, int(x.size))


# --- replicate statistics ---------------------------------------------------------------


def mean_ci(values: ArrayLike, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean over replicates with a two-sided t-based confidence interval: (mean, low, high).

    Uses Student's t when scipy is installed, else the normal approximation (too narrow
    for few replicates). One value gives (x, nan, nan); none gives all nan.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    p = (1 + confidence) / 2
    if _student_t is not None:
        quantile = float(_student_t.ppf(p, x.size - 1))
    else:
        quantile = NormalDist().inv_cdf(p)
    half_width = quantile * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half_width, mean + half_width


def bootstrap_ci(values: ArrayLike, seed: int, bounds: tuple[float, float] = (-math.inf,
                 math.inf), confidence: float = 0.95, resamples: int = 4000
                 ) -> tuple[float, float, float]:
    """Mean with a percentile bootstrap interval, clipped to what the value can be:
    (mean, low, high). Reproducible from `seed`; one value gives (x, nan, nan).

    A percentile interval never leaves the range of the data, so with few values it
    stays possible (a share stays in [0, 1]) where a t interval would not; it is too
    narrow for very few values, which the report flags.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = np.asarray(values, dtype=float).ravel()
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return (mean, float(np.clip(low, *bounds)), float(np.clip(high, *bounds)))
