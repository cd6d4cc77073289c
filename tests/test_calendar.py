"""Calendar covariates: which cycles a time index keeps, their exact values in local wall time,
and the same values for a date in the history or among the forecast dates."""

import numpy as np
import pandas as pd
import pytest

from tsargen.calendar import (calendar_features, calendar_harmonics, calendar_terms,
                              history_and_future)

ALL = ["hour_of_day", "day_of_week", "day_of_year"]


def _hours(start, n, tz=None):
    return pd.date_range(start, periods=n, freq="h", tz=tz)


@pytest.mark.parametrize("index, expected", [
    (_hours("2024-01-01", 24 * 21), ["hour_of_day", "day_of_week"]),
    (_hours("2022-01-01", 24 * 730), ALL),                   # exactly two common years
    (pd.date_range("2020-01-01", periods=3 * 365, freq="D"), ["day_of_week", "day_of_year"]),
    (pd.date_range("2020-01-05", periods=3 * 52, freq="W"), ["day_of_year"]),
    (pd.date_range("2020-01-05", periods=52, freq="W"), []),   # one year: seen once
    (pd.date_range("2021-01-01", periods=24, freq="MS"), ["day_of_year"]),
    (pd.date_range("2021-01-31", periods=24, freq="ME"), ["day_of_year"]),
    (pd.date_range("2021-01-01", periods=18, freq="MS"), []),
    (pd.date_range("2020-01-01", periods=12, freq="QS"), ["day_of_year"]),
    (pd.date_range("2000-01-01", periods=30, freq="YS"), []),  # one sample a year
    (pd.date_range("2024-01-01", periods=2 * 96, freq="15min"), ["hour_of_day"]),
    (pd.date_range("2024-01-01", periods=2 * 96 - 1, freq="15min"), []),
    (pd.period_range("2020-01", periods=36, freq="M"), ["day_of_year"]),
    (pd.period_range("2024-01-01", periods=24 * 15, freq="h"), ["hour_of_day",
                                                                "day_of_week"]),
    (pd.RangeIndex(1000), []),
    (pd.Index(np.arange(1000.0)), []),
    (pd.timedelta_range(0, periods=1000, freq="h"), []),     # elapsed time: no calendar
    (None, []),
    (pd.DatetimeIndex([]), []),
    (pd.DatetimeIndex(["2024-01-01"]), []),                   # no step
])
def test_terms(index, expected):
    assert calendar_terms(index) == expected


def test_terms_rule_boundaries():
    """Kept when step <= P / 2 and span >= 2 P, to the second."""
    index = _hours("2024-01-01", 24 * 21)
    day, week = pd.Timedelta(days=1), pd.Timedelta(days=7)
    assert calendar_terms(index, step="12h") == ["hour_of_day", "day_of_week"]
    assert calendar_terms(index, step=day / 2 + pd.Timedelta(1, "s")) == ["day_of_week"]
    assert calendar_terms(index, step=pd.Timedelta(days=3.5)) == ["day_of_week"]
    assert calendar_terms(index, span=2 * week) == ["hour_of_day", "day_of_week"]
    assert calendar_terms(index, span=2 * week - pd.Timedelta(1, "s")) == ["hour_of_day"]
    assert calendar_terms(index, span="730D") == ALL
    assert calendar_terms(index, span="729D") == ["hour_of_day", "day_of_week"]
    # an alias is a frequency, not a Timedelta ("MS" is months, not milliseconds)
    assert calendar_terms(index, step="MS", span="730D") == ["day_of_year"]


def test_terms_irregular_and_unsorted():
    """The step is the most common gap: a few missing or shuffled rows change nothing."""
    index = _hours("2024-01-01", 24 * 21)
    gapped = index.delete([5, 50, 300])
    assert gapped.freq is None
    assert calendar_terms(gapped) == ["hour_of_day", "day_of_week"]
    shuffled = index[np.random.default_rng(0).permutation(len(index))]
    assert calendar_terms(shuffled) == ["hour_of_day", "day_of_week"]


def test_terms_wall_time_across_dst():
    """Two weeks of local days across a daylight-saving change are 14 days of calendar, though
    13 days 23 hours elapse: day_of_week is kept."""
    index = pd.date_range("2024-03-04", periods=14, freq="D", tz="America/New_York")
    assert index[-1] - index[0] + pd.Timedelta(days=1) < pd.Timedelta(days=14)
    assert calendar_terms(index) == ["day_of_week"]
    hourly = _hours("2024-11-02", 2 * 24 + 1, tz="America/New_York")  # 2 local days, fall back
    assert calendar_terms(hourly) == ["hour_of_day"]


def test_harmonics_below_the_nyquist_limit():
    """Harmonic k of a cycle of length P is kept when k * step < P / 2, strictly."""
    three = ALL
    day, week = pd.Timedelta(days=1), pd.Timedelta(days=7)
    index = _hours("2024-01-01", 24 * 21)
    assert calendar_harmonics(index, three, n_harmonics=3) == dict.fromkeys(three, 3)
    assert calendar_harmonics(index, three, 3, step="6h") == {
        "hour_of_day": 1, "day_of_week": 3, "day_of_year": 3}
    second = pd.Timedelta(1, "s")
    assert calendar_harmonics(index, three, 3, step=day / 4 - second)["hour_of_day"] == 2
    assert calendar_harmonics(index, three, 3, step=day / 6)["hour_of_day"] == 2
    assert calendar_harmonics(index, three, 3, step=day / 6 - second)["hour_of_day"] == 3
    assert "hour_of_day" not in calendar_harmonics(index, three, 3, step="12h")   # at the limit
    assert calendar_harmonics(index, ["day_of_week"], 5, step=day) == {"day_of_week": 3}
    assert calendar_harmonics(index, ["day_of_week"], 5, step=week / 2) == {}
    # calendar steps: quarters keep the year's fundamental only, months two harmonics
    quarters = pd.date_range("2000-01-01", periods=40, freq="QS")
    assert calendar_harmonics(quarters, ["day_of_year"]) == {"day_of_year": 1}
    months = pd.period_range("2000-01", periods=40, freq="M")
    assert calendar_harmonics(months, ["day_of_year"], 6) == {"day_of_year": 5}   # 6 * 31 > 182
    assert calendar_harmonics(pd.RangeIndex(10), three) == {}
    assert calendar_harmonics(pd.DatetimeIndex(["2024-01-01"]), three) == {}
    with pytest.raises(ValueError, match="unknown calendar terms"):
        calendar_harmonics(index, ["month_of_year"])
    with pytest.raises(ValueError, match="n_harmonics"):
        calendar_harmonics(index, three, 0)


def test_harmonics_per_term():
    index = _hours("2024-01-01", 48)
    f = calendar_features(index, ["hour_of_day", "day_of_week"],
                          {"hour_of_day": 1, "day_of_week": 2})
    assert list(f.columns) == ["hour_of_day_sin1", "hour_of_day_cos1", "day_of_week_sin1",
                               "day_of_week_cos1", "day_of_week_sin2", "day_of_week_cos2"]
    np.testing.assert_array_equal(f.to_numpy(), np.hstack([
        calendar_features(index, ["hour_of_day"], 1), calendar_features(index, ["day_of_week"])]))
    with pytest.raises(ValueError, match=r"no count for the terms \['day_of_week'\]"):
        calendar_features(index, ["hour_of_day", "day_of_week"], {"hour_of_day": 1})
    with pytest.raises(ValueError, match="n_harmonics"):
        calendar_features(index, ["hour_of_day"], {"hour_of_day": 0})


def _phase(features, term, k=1):
    """The phase in [0, 1) that the harmonic ``k`` columns encode, divided back by ``k``."""
    angle = np.arctan2(features[f"{term}_sin{k}"], features[f"{term}_cos{k}"])
    return np.asarray((angle / (2 * np.pi)) % 1.0)


def test_hour_of_day_values():
    index = pd.DatetimeIndex(["2024-05-17 00:00", "2024-05-17 06:00", "2024-05-17 12:00",
                              "2024-05-17 18:00", "2024-05-17 09:30:36"])
    f = calendar_features(index, ["hour_of_day"], n_harmonics=2)
    assert f.index.equals(index)
    assert list(f.columns) == ["hour_of_day_sin1", "hour_of_day_cos1", "hour_of_day_sin2",
                               "hour_of_day_cos2"]
    assert (f.dtypes == np.float64).all()
    np.testing.assert_array_equal(f.iloc[0], [0.0, 1.0, 0.0, 1.0])   # midnight, exactly
    assert f["hour_of_day_sin1"].iloc[1] == 1.0                      # 06:00, exactly
    np.testing.assert_allclose(f.iloc[1:4, :2], [[1, 0], [0, -1], [-1, 0]], atol=1e-15)
    np.testing.assert_allclose(f.iloc[1:4, 2:], [[0, -1], [0, 1], [0, -1]], atol=1e-15)
    phase = (9 + 30 / 60 + 36 / 3600) / 24
    np.testing.assert_allclose(f.iloc[4], [np.sin(2 * np.pi * phase), np.cos(2 * np.pi * phase),
                                           np.sin(4 * np.pi * phase), np.cos(4 * np.pi * phase)],
                               rtol=0, atol=1e-14)


def test_day_of_week_values():
    """Monday 00:00 is phase 0; each day adds 1/7, each hour 1/168."""
    index = pd.date_range("2024-01-01", periods=14 * 24, freq="h")    # starts on a Monday
    assert index[0].day_name() == "Monday"
    f = calendar_features(index, ["day_of_week"], n_harmonics=1)
    assert f["day_of_week_sin1"].iloc[0] == 0.0 and f["day_of_week_cos1"].iloc[0] == 1.0
    expected = ((index.day_of_week + index.hour / 24) / 7) % 1.0
    np.testing.assert_allclose(_phase(f, "day_of_week"), expected, rtol=0, atol=1e-12)
    mondays = f[index.day_of_week == 0]
    assert mondays.iloc[0].tolist() == mondays.iloc[24].tolist()      # a week apart


def test_day_of_year_values_and_leap_years():
    times = ["2023-01-01", "2024-01-01", "2023-12-31 12:00", "2024-12-31 12:00", "2024-03-01",
             "2023-03-01"]
    f = calendar_features(pd.DatetimeIndex(times), ["day_of_year"], n_harmonics=2)
    assert f.iloc[0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert f.iloc[1].tolist() == [0.0, 1.0, 0.0, 1.0]
    phases = np.array([0, 0, 364.5 / 365, 365.5 / 366, 60 / 366, 59 / 365])
    np.testing.assert_allclose(_phase(f, "day_of_year"), phases, rtol=0, atol=1e-12)
    np.testing.assert_allclose(_phase(f, "day_of_year", 2), (2 * phases) % 1, rtol=0,
                               atol=1e-12)


def test_time_zone_uses_local_wall_time():
    """09:00 in New York has the same features before and after the clocks change (spring
    forward on 10 March 2024, fall back on 3 November), and the same as a naive 09:00."""
    terms = ALL
    for start in ("2024-03-08", "2024-11-01"):
        index = _hours(start, 4 * 24, tz="America/New_York")
        f = calendar_features(index, ["hour_of_day"])
        nine = f[index.hour == 9]
        assert len(nine) == 4
        assert (nine.nunique() == 1).all()
        naive = calendar_features(pd.DatetimeIndex([f"{start} 09:00"]), ["hour_of_day"])
        np.testing.assert_array_equal(nine.iloc[:1].to_numpy(), naive.to_numpy())
        # the full set agrees with the same wall times without a zone, row by row
        local = calendar_features(index, terms)
        wall = calendar_features(index.tz_localize(None), terms)
        np.testing.assert_array_equal(local.to_numpy(), wall.to_numpy())
        assert local.index.equals(index)
    # the same instant in UTC is another wall time (14:00): other features
    ny = _hours("2024-03-08 09:00", 1, tz="America/New_York")
    utc = calendar_features(ny.tz_convert("UTC"), ["hour_of_day"], n_harmonics=1)
    np.testing.assert_allclose(_phase(utc, "hour_of_day"), [14 / 24], rtol=0, atol=1e-12)


def test_period_index_uses_period_start():
    periods = pd.period_range("2023-01", periods=12, freq="M")
    f = calendar_features(periods, ["day_of_year"], n_harmonics=1)
    assert f.index.equals(periods)
    starts = calendar_features(periods.to_timestamp(how="start"), ["day_of_year"], 1)
    np.testing.assert_array_equal(f.to_numpy(), starts.to_numpy())
    assert f.iloc[0].tolist() == [0.0, 1.0]


@pytest.mark.parametrize("index", [
    _hours("2024-01-01", 500),
    pd.DatetimeIndex(list(_hours("2024-01-01", 500))),         # no freq: inferred
    _hours("2024-03-05", 500, tz="America/New_York"),          # across a DST change
    pd.date_range("2019-01-01", periods=1200, freq="D"),
    pd.period_range("2020-01", periods=40, freq="M"),
])
def test_history_and_future_continuity(index):
    h = 48 if len(index) > 100 else 10
    terms = ALL
    past, future = history_and_future(index[:-h], h, terms, n_harmonics=3)
    expected = calendar_features(index[-h:], terms, n_harmonics=3)
    assert future.index.equals(index[-h:])
    np.testing.assert_array_equal(future.to_numpy(), expected.to_numpy())
    assert list(future.columns) == list(expected.columns)
    np.testing.assert_array_equal(past.to_numpy(),
                                  calendar_features(index[:-h], terms, 3).to_numpy())


def test_history_and_future_default_terms_and_no_dates():
    index = _hours("2024-01-01", 24 * 21)
    past, future = history_and_future(index, 5)
    assert list(past.columns) == list(future.columns) == [
        f"{t}_{f}{k}" for t in ("hour_of_day", "day_of_week") for k in (1, 2)
        for f in ("sin", "cos")]
    assert len(future) == 5 and future.index[0] == index[-1] + pd.Timedelta(hours=1)
    past, future = history_and_future(pd.RangeIndex(50), 3)       # no calendar: no columns
    assert past.shape == (50, 0) and future.shape == (3, 0)
    assert future.index.equals(pd.RangeIndex(50, 53))


def test_bad_input():
    index = _hours("2024-01-01", 24)
    with pytest.raises(ValueError, match="unknown calendar terms"):
        calendar_features(index, ["month_of_year"])
    with pytest.raises(TypeError, match="DatetimeIndex or PeriodIndex"):
        calendar_features(pd.RangeIndex(24), ["hour_of_day"])
    with pytest.raises(ValueError, match="n_harmonics"):
        calendar_features(index, ["hour_of_day"], n_harmonics=0)
    with pytest.raises(ValueError, match="horizon"):
        history_and_future(index, -1, ["hour_of_day"])
