"""Calendar covariates of the forecasters (``time_features``): which terms a fit keeps, the
columns it appends for the history and for the forecast dates (the same functions of the dates
everywhere), their combination with a user ``X``, and that ``time_features=None`` changes
nothing."""

import numpy as np
import pandas as pd
import pytest

from tsargen import WaveNetForecaster, load
from tsargen.calendar import calendar_features

from .conftest import TINY

SMALL = {**TINY, "max_epochs": 1, "n_paths": 4}
HOUR, DAY = pd.Timedelta("1h"), pd.Timedelta("1D")


def _hourly(n=24 * 15, start="2024-01-01", tz=None, seed=0):
    index = pd.date_range(start, periods=n, freq="h", tz=tz)
    rng = np.random.default_rng(seed)
    return pd.Series(np.sin(2 * np.pi * index.hour / 24) + 0.1 * rng.normal(size=n),
                     index=index, name="load")


def _expected(index, harmonics):
    """The calendar columns written out from the wall-clock fields, not by tsargen.calendar."""
    wall = index.tz_localize(None) if getattr(index, "tz", None) is not None else index
    day = (wall.hour + wall.minute / 60) / 24
    phases = {"hour_of_day": day, "day_of_week": (wall.day_of_week + day) / 7,
              "day_of_year": (wall.day_of_year - 1 + day)
              / np.where(wall.is_leap_year, 366, 365)}
    cols = []
    for term, n in harmonics.items():
        for k in range(1, n + 1):
            angle = 2 * np.pi * k * np.asarray(phases[term], dtype=float)
            cols += [np.sin(angle), np.cos(angle)]
    return np.stack(cols, axis=1)


def _spy(model, method):
    """Record the covariates ``model.<method>`` is given (``_paths``: history + future rows
    per series; ``_score_arrays``: one row per step)."""
    seen, original = [], getattr(model, method)

    def wrapped(*args):
        covs = args[1][1] if method == "_paths" else args[1]
        seen.append(None if covs is None else [c.copy() for c in covs])
        return original(*args)

    setattr(model, method, wrapped)
    return seen


# ---------------------------------------------------------------------- which terms
@pytest.mark.parametrize("y, terms, harmonics", [
    (_hourly(24 * 15), ["hour_of_day", "day_of_week"], [2, 2]),
    (_hourly(24 * 10), ["hour_of_day"], [2]),                       # under two weeks
    (pd.Series(np.arange(800.0), pd.date_range("2020-01-01", periods=800, freq="D")),
     ["day_of_week", "day_of_year"], [2, 2]),
    (pd.Series(np.arange(100.0), pd.date_range("2020-01-01", periods=100, freq="D")),
     ["day_of_week"], [2]),
    # six-hourly: the half-day harmonic sits at the Nyquist limit (2 * 6 h = 24 h / 2)
    (pd.Series(np.arange(100.0), pd.date_range("2024-01-01", periods=100, freq="6h")),
     ["hour_of_day", "day_of_week"], [1, 2]),
    # twelve-hourly: the day's fundamental is at the limit, so no hour_of_day at all
    (pd.Series(np.arange(100.0), pd.date_range("2024-01-01", periods=100, freq="12h")),
     ["day_of_week"], [2]),
    # quarterly: the yearly fundamental only (its half-year harmonic is two quarters)
    (pd.Series(np.arange(40.0), pd.date_range("2000-01-01", periods=40, freq="QS")),
     ["day_of_year"], [1]),
    (pd.Series(np.arange(36.0), pd.period_range("2020-01", periods=36, freq="M")),
     ["day_of_year"], [2]),
    (pd.Series(np.arange(100.0), pd.date_range("2000-01-01", periods=100, freq="YS")), [], []),
    (_hourly(24 * 15).to_numpy(), [], []),                            # an array: no dates
    (_hourly(24 * 15).reset_index(drop=True), [], []),                # a RangeIndex
    (pd.Series(np.arange(300.0), index=np.arange(300.0) * 0.5), [], []),   # numeric index
])
def test_terms_kept(y, terms, harmonics):
    f = WaveNetForecaster(**SMALL).fit(y)
    assert f.time_features_ == terms
    assert f.time_harmonics_ == dict(zip(terms, harmonics))
    assert f.n_covariates_ == 0
    width = 2 * sum(harmonics)
    assert (f.history_X_ is None) if not width else f.history_X_[0].shape == (len(y), width)


def test_explicit_terms_and_off():
    y = _hourly(24 * 10)
    f = WaveNetForecaster(**SMALL, time_features=["day_of_week"]).fit(y)   # no span rule
    assert f.time_features_ == ["day_of_week"] and f.history_X_[0].shape[1] == 4
    for off in (None, []):
        g = WaveNetForecaster(**SMALL, time_features=off).fit(y)
        assert g.time_features_ == [] and g.time_harmonics_ == {} and g.history_X_ is None
    with pytest.raises(ValueError, match="needs every series of y with a DatetimeIndex"):
        WaveNetForecaster(**SMALL, time_features=["hour_of_day"]).fit(y.to_numpy())
    daily = pd.Series(np.arange(100.0), pd.date_range("2020-01-01", periods=100, freq="D"))
    with pytest.raises(ValueError, match=r"too coarse for the calendar terms \['hour_of_day'\]"):
        WaveNetForecaster(**SMALL, time_features=["hour_of_day", "day_of_week"]).fit(daily)


# ---------------------------------------------------------------------- the columns
def test_columns_are_the_same_functions_of_the_dates_everywhere():
    """History at fit, forecast dates (stored series and y= histories), scoring and update: the
    calendar columns are those of each row's date, after the user's columns."""
    y = _hourly(24 * 15)
    h, n = 5, len(y)
    X = pd.DataFrame({"u": np.arange(n + h, dtype=float)},
                     index=pd.date_range(y.index[0], periods=n + h, freq="h"))
    f = WaveNetForecaster(**SMALL, horizon=h).fit(y, X[:n])
    harm = {"hour_of_day": 2, "day_of_week": 2}
    assert f.time_harmonics_ == harm and f.n_covariates_ == 1 and f.covariate_names_ == ["u"]
    stored = f.history_X_[0]
    np.testing.assert_array_equal(stored[:, 0], X["u"][:n])
    np.testing.assert_allclose(stored[:, 1:], _expected(y.index, harm), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(stored[:, 1:], calendar_features(y.index, list(harm), harm))

    seen = _spy(f, "_paths")
    future = X.index[n:]
    point = f.predict(X=X[n:])
    assert point.index.equals(future)
    covs = seen[-1][0]                                 # history + horizon rows
    assert covs.shape == (n + h, 9)
    np.testing.assert_array_equal(covs[:n], stored)
    np.testing.assert_array_equal(covs[n:, 0], X["u"][n:])
    np.testing.assert_allclose(covs[n:, 1:], _expected(future, harm), rtol=0, atol=1e-12)

    f.predict(y=y[:100], X=X[:100 + h])                 # a new history: its own dates
    covs = seen[-1][0]
    np.testing.assert_array_equal(covs[:, 0], X["u"][:100 + h])
    np.testing.assert_allclose(covs[:, 1:], _expected(X.index[:100 + h], harm), rtol=0,
                               atol=1e-12)

    scored = _spy(f, "_score_arrays")
    f.score_steps(y[50:120], X[50:120])
    np.testing.assert_allclose(scored[-1][0][:, 1:], _expected(y.index[50:120], harm), rtol=0,
                               atol=1e-12)

    # update appends the new rows' dates; forecasting the stored series then equals
    # forecasting the same history given as y= (one series: the same scaling)
    new = pd.Series([0.5, -0.5, 0.0], index=future[:3], name="load")
    f.update(new, X[n:n + 3])
    np.testing.assert_allclose(f.history_X_[0][n:, 1:], _expected(future[:3], harm), rtol=0,
                               atol=1e-12)
    ahead = pd.DataFrame({"u": np.arange(h, dtype=float)},
                         index=pd.date_range(future[3], periods=h, freq="h"))
    full = pd.concat([y, new])
    pd.testing.assert_series_equal(
        f.predict(X=ahead),
        f.predict(y=full, X=pd.concat([X[:n + 3], ahead])))


def test_time_features_none_is_todays_behaviour():
    """Off, or on data without dates, the calendar adds nothing: a dated fit with
    time_features=None draws exactly what the default draws from the same values as an array."""
    y = _hourly(24 * 15)
    X = np.random.default_rng(3).normal(size=(len(y) + 4, 1))
    dated = WaveNetForecaster(**SMALL, horizon=4, time_features=None).fit(
        y, pd.DataFrame(X[:len(y)], index=y.index))
    plain = WaveNetForecaster(**SMALL, horizon=4).fit(y.to_numpy(), X[:len(y)])
    assert plain.time_features_ == [] and dated.time_features_ == []
    np.testing.assert_array_equal(dated.predict(X=X[len(y):]).to_numpy(),
                                  plain.predict(X=X[len(y):]))
    np.testing.assert_array_equal(dated.score_steps(y, X[:len(y)]).to_numpy(),
                                  plain.score_steps(y.to_numpy(), X[:len(y)]))
    auto = WaveNetForecaster(**SMALL, horizon=4).fit(y, X[:len(y)])       # and on: differs
    assert not np.array_equal(auto.predict(X=X[len(y):]).to_numpy(),
                              plain.predict(X=X[len(y):]))


def test_time_zone_aware_index_uses_local_wall_time():
    """Across a daylight-saving change the columns follow the local clock, and the forecast
    dates keep the zone."""
    y = _hourly(24 * 15, start="2024-03-20", tz="Europe/Paris")     # clocks change 31 March
    f = WaveNetForecaster(**SMALL, horizon=6).fit(y)
    assert f.time_features_ == ["hour_of_day", "day_of_week"]
    np.testing.assert_allclose(f.history_X_[0], _expected(y.index, f.time_harmonics_),
                               rtol=0, atol=1e-12)
    seen = _spy(f, "_paths")
    point = f.predict()
    assert str(point.index.tz) == "Europe/Paris" and point.index[0] == y.index[-1] + HOUR
    np.testing.assert_allclose(seen[-1][0][len(y):], _expected(point.index, f.time_harmonics_),
                               rtol=0, atol=1e-12)
    # 09:00 local before and after the change: the same columns
    nine = f.history_X_[0][y.index.hour == 9]
    np.testing.assert_allclose(nine[:, :4], np.repeat(nine[:1, :4], len(nine), axis=0),
                               rtol=0, atol=1e-12)


def test_list_of_series_with_their_own_indexes():
    a = _hourly(24 * 15, start="2024-01-01")
    b = _hourly(24 * 12, start="2024-05-03 07:00", seed=1)
    f = WaveNetForecaster(**SMALL, horizon=3).fit([a, b])
    assert f.time_features_ == ["hour_of_day", "day_of_week"]       # b alone: hour_of_day
    for s, covs in zip((a, b), f.history_X_):
        np.testing.assert_allclose(covs, _expected(s.index, f.time_harmonics_), rtol=0,
                                   atol=1e-12)
    seen = _spy(f, "_paths")
    points = f.predict()
    assert [p.index[0] for p in points] == [a.index[-1] + HOUR, b.index[-1] + HOUR]
    for p, covs in zip(points, seen[-1]):
        np.testing.assert_allclose(covs[-3:], _expected(p.index, f.time_harmonics_), rtol=0,
                                   atol=1e-12)
    # one series without dates: no calendar for any
    g = WaveNetForecaster(**SMALL).fit([a, b.to_numpy()])
    assert g.time_features_ == [] and g.history_X_ is None


def test_histories_without_dates_are_refused_clearly():
    y = _hourly(24 * 15)
    f = WaveNetForecaster(**SMALL, horizon=2).fit(y)
    message = r"y has no DatetimeIndex or PeriodIndex, but the model was fitted with calendar"
    for call in (lambda: f.predict(y=y.to_numpy()), lambda: f.sample(2, y=y.to_numpy()),
                 lambda: f.predict_interval(y=y.reset_index(drop=True)),
                 lambda: f.score(y.to_numpy())):
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(ValueError, match=r"y\[1\] has no DatetimeIndex"):
        WaveNetForecaster(**SMALL).fit([y, y]).predict(y=[y, y.to_numpy()])
    # the user's X keeps its own column count in messages
    g = WaveNetForecaster(**SMALL, horizon=2).fit(y, np.ones((len(y), 1)))
    with pytest.raises(ValueError, match="X has 9 columns but the model was fitted with 1"):
        g.predict(X=np.ones((2, 9)))
    with pytest.raises(ValueError, match="fitted without covariates; do not pass X"):
        f.predict(X=np.ones((2, 8)))


# ---------------------------------------------------------------------- saving, checkpoints
def test_save_load_round_trip(tmp_path):
    y = pd.Series(np.sin(np.arange(60) / 3), pd.date_range("2020-01-01", periods=60, freq="QS"))
    f = WaveNetForecaster(**SMALL, horizon=3).fit(y)
    assert f.time_harmonics_ == {"day_of_year": 1}
    f.save(tmp_path / "m.pt")
    g = load(tmp_path / "m.pt")
    assert g.time_features_ == ["day_of_year"] and g.time_harmonics_ == {"day_of_year": 1}
    pd.testing.assert_series_equal(g.predict(), f.predict())
    pd.testing.assert_series_equal(g.predict(y=y[:40]), f.predict(y=y[:40]))
    # files written before calendar terms load without them
    old = {k: v for k, v in vars(f).items() if k.endswith("_")
           and k not in ("time_features_", "time_harmonics_")}
    h = WaveNetForecaster(**SMALL, horizon=3)
    h._restore_fitted(old)
    assert h.time_features_ == [] and h.time_harmonics_ == {}


def test_checkpoint_is_not_resumed_across_calendar_settings(tmp_path):
    y = _hourly(24 * 15)
    path = str(tmp_path / "ckpt.pt")
    WaveNetForecaster(**SMALL, time_features=None).fit(y, checkpoint=path)
    with pytest.raises(ValueError, match="written by a different fit"):
        WaveNetForecaster(**SMALL).fit(y, checkpoint=path)
    # same parameters, same values: dates (calendar columns) or none are different data
    path = str(tmp_path / "ckpt2.pt")
    WaveNetForecaster(**SMALL).fit(y.to_numpy(), checkpoint=path)
    with pytest.raises(ValueError, match="written by a different fit"):
        WaveNetForecaster(**SMALL).fit(y, checkpoint=path)
    WaveNetForecaster(**SMALL).fit(y.to_numpy(), checkpoint=path)     # same fit: resumes


# ---------------------------------------------------------------------- does it help
@pytest.mark.slow
def test_calendar_terms_forecast_a_daily_cycle():
    """A tiny network whose receptive field spans 4 hours cannot carry a daily cycle through a
    48-hour forecast on its own; with the hour of day it can (mean absolute error to the
    noiseless cycle: 0.13-0.27 with the calendar, 0.58-0.76 without over random_state 0-4,
    the ratio 0.41 at worst, for seed 0 used here). The levels, globally scaled: the
    calendar is the only way to the cycle (a seasonal difference would be another, and
    window scaling hides the level that the hour of day maps to)."""
    index = pd.date_range("2024-01-01", periods=24 * 14 + 48, freq="h")
    hour = index.hour.to_numpy()
    clean = np.sin(2 * np.pi * hour / 24) + 0.5 * np.cos(4 * np.pi * hour / 24)
    y = pd.Series(clean + 0.3 * np.random.default_rng(0).normal(size=len(index)), index=index)
    errors = {}
    for setting in ("auto", None):
        f = WaveNetForecaster(horizon=48, n_layers=2, residual_channels=8, skip_channels=8,
                              max_epochs=5, batch_size=16, n_paths=20, random_state=0,
                              differences=0, seasonal_lag=None, scaling="global",
                              time_features=setting).fit(y[:-48])
        errors[setting] = np.abs(f.predict().to_numpy() - clean[-48:]).mean()
    assert errors["auto"] < 0.6 * errors[None], errors
