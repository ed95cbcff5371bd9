"""Outcome measures on plain numpy series: inequality, resilience and replicate statistics.

Nothing here knows about Mesa or the model. Resilience is always measured against a
paired counterfactual: the same scenario and seed run without the intervention (common
random numbers), so the gap between the two series is the intervention's effect rather
than noise. Series are daily values (index = day); `start` is the day of the shock.
"""

from __future__ import annotations

import math
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
    """Depth of the shock: the largest relative gap on any day of the `window` days from
    `start` on (to the end of the series if `window` is None).

    Always >= 0: 0.0 if the actual never falls below the counterfactual.
    """
    gap = relative_gap(actual, counterfactual)
    return max(0.0, float(gap[_window(gap.size, start, window)].max()))


def days_to_recovery(
    actual: ArrayLike, counterfactual: ArrayLike, start: int, tolerance: float = 0.1,
    hold: int = 28,
) -> int | None:
    """Days from `start` to the first day from which the actual stays within the band for
    `hold` days in a row: the shock's recovery, not a later dip's.

    The band is one-sided: a day is within it when the relative gap is at most
    `tolerance`, i.e. actual >= (1 - tolerance) * cf, so running above the counterfactual
    counts as recovered. A later, unrelated dip out of the band does not undo a recovery
    that held for `hold` days. Returns 0 if the series stays in the band for the first
    `hold` days, and None if no run of `hold` days in the band starts before the series
    ends (too few days left to tell also gives None).
    """
    if hold < 1:
        raise ValueError(f"hold must be at least one day, got {hold}")
    gap = relative_gap(actual, counterfactual)
    _check_start(start, gap.size)
    inside = gap[start:] <= tolerance
    if inside.size < hold:
        return None
    # In-band days in each stretch of `hold` days; a full count means it held.
    counts = np.concatenate([[0], np.cumsum(inside)])
    held = np.flatnonzero(counts[hold:] - counts[:-hold] == hold)
    return int(held[0]) if held.size else None


def triangle(actual: ArrayLike, counterfactual: ArrayLike, start: int,
             window: int | None = None) -> float:
    """Resilience-triangle area: the summed shortfall (cf - actual) over the `window`
    days from `start` on (to the end of the series if `window` is None).

    Only days below the counterfactual count, so an overshoot does not pay back a loss.
    Units are the series' units times days (e.g. person-days of activity lost).
    """
    a, cf = _paired(actual, counterfactual)
    days = _window(a.size, start, window)
    shortfall = cf[days] - a[days]
    return float(shortfall[shortfall > 0].sum())


def lasting_loss(actual: ArrayLike, counterfactual: ArrayLike, window: int = 30) -> float:
    """Relative gap averaged over the last `window` days: the loss that has not healed.

    Negative if the actual ends above the counterfactual. Days where the counterfactual
    is 0 are left out of the average (the gap is undefined there); 0.0 if all are.
    """
    if window < 1:
        raise ValueError(f"window must be at least one day, got {window}")
    a, cf = _paired(actual, counterfactual)
    gap = relative_gap(a, cf)[-window:]
    defined = cf[-window:] != 0
    return float(gap[defined].mean()) if defined.any() else 0.0


def key_player_dependence(loss_strategy: float, loss_random: float) -> float:
    """How much a targeted removal outperforms a random one: loss(strategy) / loss(random).

    Above 1 the ecosystem depends on its key players. nan when the random removal caused
    no loss, since the ratio is then undefined (not infinite: both may be zero).
    """
    if loss_random == 0:
        return math.nan
    return float(loss_strategy / loss_random)


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
