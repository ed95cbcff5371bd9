import math

import numpy as np
import pytest

from forumsim.measures import metrics
from forumsim.measures.metrics import (
    days_to_recovery,
    gini,
    key_player_dependence,
    lasting_loss,
    lorenz_curve,
    loss,
    mean_ci,
    peak_loss,
    relative_gap,
    top_share,
    triangle,
)

SHOCK_DAY = 10


def dip_and_climb(days: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Counterfactual flat at 100; actual drops to 60 on day 10 and climbs 2 a day to 100."""
    counterfactual = np.full(days, 100.0)
    day = np.arange(days)
    actual = np.clip(60.0 + 2.0 * (day - SHOCK_DAY), 60.0, 100.0)
    actual[:SHOCK_DAY] = 100.0
    return actual, counterfactual


# --- inequality -------------------------------------------------------------------------


def test_lorenz_curve_of_equal_values_is_the_diagonal():
    x, y = lorenz_curve([3, 3, 3, 3])
    np.testing.assert_allclose(x, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(y, x)


def test_lorenz_curve_of_all_zero_values_is_the_diagonal():
    x, y = lorenz_curve(np.zeros(5))
    assert x[0] == 0 and x[-1] == 1
    np.testing.assert_allclose(y, x)


def test_lorenz_curve_sorts_people_from_least_to_most():
    x, y = lorenz_curve([5, 0, 0, 5])
    np.testing.assert_allclose(x, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(y, [0, 0, 0, 0.5, 1])


def test_top_share_when_one_in_a_hundred_holds_everything_is_one():
    assert top_share([0] * 99 + [1]) == 1.0


def test_top_share_counts_at_least_one_entry():
    assert top_share([1, 1, 2], fraction=0.01) == pytest.approx(0.5)


def test_top_share_of_seven_percent_takes_seven_of_a_hundred():
    values = np.arange(1, 101)
    assert top_share(values, fraction=0.07) == pytest.approx(values[-7:].sum() / values.sum())


def test_top_share_of_a_zero_total_is_zero():
    assert top_share(np.zeros(10)) == 0.0


def test_gini_of_equal_values_is_zero():
    assert gini([7, 7, 7, 7]) == pytest.approx(0.0)


def test_gini_when_one_holds_everything_is_n_minus_one_over_n():
    assert gini([0] * 99 + [1]) == pytest.approx(0.99)


def test_inequality_measures_reject_negative_values():
    with pytest.raises(ValueError):
        gini([1, -1])


# --- resilience -------------------------------------------------------------------------


def test_relative_gap_is_zero_where_counterfactual_is_zero():
    gap = relative_gap([5, 50, 0], [0, 100, 0])
    np.testing.assert_allclose(gap, [0, 0.5, 0])


def test_loss_is_the_share_of_counterfactual_activity_lost_in_the_window():
    actual, counterfactual = dip_and_climb()
    # Shortfall 40, 38, ..., 2 over days 10..29 (420) of 50 days x 100 (5000).
    assert loss(actual, counterfactual, SHOCK_DAY) == pytest.approx(420 / 5000)
    assert loss(actual, counterfactual, SHOCK_DAY, window=20) == pytest.approx(420 / 2000)


def test_peak_loss_is_the_largest_relative_drop_below_counterfactual():
    actual, counterfactual = dip_and_climb()
    assert peak_loss(actual, counterfactual, SHOCK_DAY) == pytest.approx(0.4)


def test_days_above_the_counterfactual_pay_back_a_loss_but_not_a_peak():
    assert loss([120, 130, 150], [100, 100, 100], 0) == pytest.approx(-100 / 300)
    assert loss([50, 150], [100, 100], 0) == 0.0
    assert peak_loss([120, 130, 150], [100, 100, 100], 0) == 0.0
    assert peak_loss([50, 150], [100, 100], 0) == pytest.approx(0.5)


def test_noise_around_the_counterfactual_costs_nothing_on_average():
    # Gaps drawn symmetric about zero: the loss averages out, the peak keeps a floor.
    rng = np.random.default_rng(3)
    counterfactual = np.full(200, 1000.0)
    losses, peaks = [], []
    for _ in range(200):
        actual = counterfactual + rng.normal(0, 30, 200)
        losses.append(loss(actual, counterfactual, 20))
        peaks.append(peak_loss(actual, counterfactual, 20))
    assert abs(np.mean(losses)) < 3 * np.std(losses) / np.sqrt(len(losses))
    assert np.mean(peaks) > 0.05


def test_recovery_is_counted_from_the_shock_to_re_entering_the_band():
    actual, counterfactual = dip_and_climb()
    # 60 + 2j >= 95 first at j = 18 days after the shock.
    assert days_to_recovery(actual, counterfactual, SHOCK_DAY, tolerance=0.05) == 18


def test_recovery_band_edge_counts_as_recovered():
    actual, counterfactual = dip_and_climb()
    # 60 + 2j reaches exactly 90 at j = 15.
    assert days_to_recovery(actual, counterfactual, SHOCK_DAY, tolerance=0.1) == 15


def test_a_later_dip_after_a_recovery_that_held_is_not_the_shocks():
    actual, counterfactual = dip_and_climb(days=100)
    actual[45:50] = 50.0  # a dip 20 days after the series came back into the band (day 25)
    # Recovered on day 25 if 15 days in the band are enough: the dip is a later event.
    assert days_to_recovery(actual, counterfactual, SHOCK_DAY, hold=15) == 15
    # With 28 days required, the first stretch that holds starts after the dip.
    assert days_to_recovery(actual, counterfactual, SHOCK_DAY, hold=28) == 50 - SHOCK_DAY


def test_recovery_must_hold_for_the_hold_days():
    counterfactual = np.full(60, 100.0)
    actual = counterfactual.copy()
    actual[10:20] = 50.0
    actual[25:27] = 50.0  # back in the band on day 20, out again on days 25-26
    assert days_to_recovery(actual, counterfactual, 10, hold=5) == 10
    assert days_to_recovery(actual, counterfactual, 10, hold=10) == 17


def test_too_few_days_left_to_see_a_recovery_hold_is_no_recovery():
    actual, counterfactual = dip_and_climb()
    # Back in the band 15 days after the shock, with fewer than 100 days left after it.
    assert days_to_recovery(actual, counterfactual, SHOCK_DAY, hold=100) is None


def test_series_still_below_the_band_at_the_end_has_not_recovered():
    counterfactual = np.full(60, 100.0)
    actual = counterfactual.copy()
    actual[10:] = 80.0
    assert days_to_recovery(actual, counterfactual, 10, hold=5) is None


def test_running_far_above_the_counterfactual_is_not_recovered():
    # Two days above the band (a surge), then inside it.
    actual = [100, 50, 200, 300, 105, 95, 100]
    assert days_to_recovery(actual, [100] * 7, 1, hold=2) == 3
    assert days_to_recovery([100, 50, 200, 300], [100] * 4, 1, hold=2) is None


def test_loss_and_triangle_look_only_inside_their_window():
    counterfactual = np.full(40, 100.0)
    actual = counterfactual.copy()
    actual[12:14] = 70.0  # the shock's dip
    actual[30] = 20.0  # an unrelated dip later
    assert loss(actual, counterfactual, 10, window=10) == pytest.approx(60 / 1000)
    assert loss(actual, counterfactual, 10) == pytest.approx(140 / 3000)
    assert peak_loss(actual, counterfactual, 10, window=10) == pytest.approx(0.3)
    assert peak_loss(actual, counterfactual, 10) == pytest.approx(0.8)
    assert triangle(actual, counterfactual, 10, window=10) == pytest.approx(60.0)
    assert triangle(actual, counterfactual, 10) == pytest.approx(140.0)


def test_triangle_sums_the_daily_shortfall():
    actual, counterfactual = dip_and_climb()
    # Shortfall 40, 38, ..., 2 over days 10..29.
    assert triangle(actual, counterfactual, SHOCK_DAY) == pytest.approx(420.0)


def test_triangle_is_net_of_days_above_the_counterfactual():
    assert triangle([50, 150], [100, 100], 0) == pytest.approx(0.0)
    assert triangle([50, 120], [100, 100], 0) == pytest.approx(30.0)


def test_identical_series_show_no_loss_no_recovery_time_and_no_triangle():
    series = np.linspace(10, 50, 40)
    assert loss(series, series, 5) == 0.0
    assert peak_loss(series, series, 5) == 0.0
    assert days_to_recovery(series, series, 5, hold=28) == 0
    assert triangle(series, series, 5) == 0.0
    assert lasting_loss(series, series) == 0.0


def test_lasting_loss_is_the_loss_of_the_last_days():
    counterfactual = np.full(50, 100.0)
    actual = counterfactual.copy()
    actual[-10:] = 80.0
    assert lasting_loss(actual, counterfactual, window=20) == pytest.approx(0.1)


def test_lasting_loss_is_negative_when_the_actual_ends_above():
    assert lasting_loss([100, 110, 130], [100, 100, 100], window=2) == pytest.approx(-0.2)


def test_lasting_loss_weighs_days_by_the_counterfactual_activity():
    # A day without counterfactual activity adds what the actual had to its side.
    assert lasting_loss([0, 5, 50], [100, 0, 100], window=2) == pytest.approx(45 / 100)
    assert lasting_loss([5, 0], [0, 0], window=2) == 0.0


def test_shock_day_outside_the_series_is_rejected():
    with pytest.raises(ValueError):
        loss([1, 2], [1, 2], start=2)


def test_series_of_different_lengths_are_rejected():
    with pytest.raises(ValueError):
        relative_gap([1, 2, 3], [1, 2])


def test_key_player_dependence_is_the_ratio_to_the_mean_random_loss():
    kpd = key_player_dependence(0.6, [0.19, 0.2, 0.21])
    assert kpd.kpd == pytest.approx(3.0)
    assert kpd.loss_random == pytest.approx(0.2) and kpd.draws == 3
    # t(0.975, 2) x 0.01 / sqrt(3) on either side of 0.2.
    half = 4.302653 * 0.01 / math.sqrt(3)
    assert kpd.low == pytest.approx(0.6 / (0.2 + half), rel=1e-5)
    assert kpd.high == pytest.approx(0.6 / (0.2 - half), rel=1e-5)


def test_key_player_dependence_is_undefined_when_random_loss_is_noise():
    # Random draws whose mean cannot be told from zero: no ratio, rather than a huge one.
    kpd = key_player_dependence(0.3, [0.01, -0.01, 0.002])
    assert kpd.kpd is None and kpd.low is None and kpd.high is None
    assert kpd.loss_random_low < 0 < kpd.loss_random_high
    assert key_player_dependence(0.3, [0.0, 0.0]).kpd is None
    assert key_player_dependence(0.3, [0.2]).kpd is None  # one draw: no interval


# --- replicate statistics ---------------------------------------------------------------


def test_mean_ci_uses_student_t():
    pytest.importorskip("scipy")
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    # t(0.975, 2) = 4.302653; sd = 1; half width = 4.302653 / sqrt(3).
    assert mean == pytest.approx(2.0)
    assert high - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert mean - low == pytest.approx(high - mean)


def test_mean_ci_falls_back_to_normal_without_scipy(monkeypatch):
    monkeypatch.setattr(metrics, "_student_t", None)
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    assert high - mean == pytest.approx(1.959964 / math.sqrt(3), rel=1e-5)


def test_mean_ci_of_a_single_replicate_has_no_interval():
    mean, low, high = mean_ci([4.0])
    assert mean == 4.0 and math.isnan(low) and math.isnan(high)
