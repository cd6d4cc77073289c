"""Time indexes with gaps or no regular frequency: one IrregularIndexWarning per call that is
given the index (fit, update, a ``y=`` history), saying how many steps are missing."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import tsargen
from tsargen import (GatedPixelCNNDensity, IrregularIndexWarning, SignalImageForecaster,
                     WaveNetForecaster)
from tsargen.timeindex import _missing_steps

FAST = dict(n_layers=2, residual_channels=4, skip_channels=4, max_epochs=1, batch_size=16,
            random_state=0)
HOURS = pd.date_range("2024-01-01", periods=300, freq="h")
DROPPED = np.sort(np.random.default_rng(0).choice(np.arange(5, 295), 10, replace=False))


def _series(index, channels=1):
    values = np.random.default_rng(1).normal(size=(len(index), channels))
    if channels == 1:
        return pd.Series(values[:, 0], index=index, name="load")
    return pd.DataFrame(values, index=index, columns=[f"c{i}" for i in range(channels)])


def _market_hours():
    """Half-hourly 09:30-16:00 on weekdays: overnight and weekend gaps."""
    t = pd.date_range("2024-01-01", periods=3000, freq="30min")
    return t[(t.day_of_week < 5) & (t.time >= pd.Timestamp("09:30").time())
             & (t.time <= pd.Timestamp("16:00").time())]


def _shifted(index, i, by):
    """``index`` with entry ``i`` moved later by ``by``: two gaps off the step."""
    return index.delete(i).insert(i, index[i] + pd.Timedelta(by))


def _irregular(call):
    """The IrregularIndexWarnings ``call()`` raises (every one, none filtered)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [w for w in caught if issubclass(w.category, IrregularIndexWarning)]


REGULAR = {
    "hourly freq": HOURS,
    "hourly, freq inferred": pd.DatetimeIndex(HOURS.to_numpy()),
    "business hours": pd.date_range("2024-01-01 09:00", periods=300, freq="bh"),
    "trading days": pd.bdate_range("2024-01-01", periods=300),
    "months": pd.period_range("2000-01", periods=300, freq="M"),
    "elapsed seconds": pd.timedelta_range(0, periods=300, freq="5s"),
    "range": pd.RangeIndex(300),
    "integer positions with gaps": pd.Index(np.delete(np.arange(310), DROPPED)),
    "event times": pd.Index(np.sort(np.random.default_rng(2).random(300))),
}


@pytest.mark.parametrize("index", REGULAR.values(), ids=REGULAR.keys())
def test_regular_and_numeric_indexes_do_not_warn(index):
    assert not _irregular(lambda: WaveNetForecaster(**FAST).fit(_series(index)))


@pytest.mark.parametrize("index, match", [
    (HOURS.delete(DROPPED), r"y's time index \(step h\) has gaps: 10 steps are missing"),
    (HOURS.delete(DROPPED[:1]), "1 step is missing"),
    (pd.period_range("2000-01", periods=300, freq="M").delete([3, 4, 30]),
     r"\(step M\) has gaps: 3 steps are missing"),
    (pd.bdate_range("2024-01-01", periods=300).delete([10, 50]), "2 steps are missing"),
    (pd.timedelta_range(0, periods=300, freq="5s").delete(DROPPED), "10 steps are missing"),
    (_shifted(HOURS.delete(DROPPED), 50, "7min"),
     r"no regular step \(most gaps are h, some are not multiples of it\)"),
    (pd.DatetimeIndex(np.sort(pd.Timestamp("2024") + pd.to_timedelta(
        np.random.default_rng(3).integers(0, 10**15, 300)))), "has no regular frequency"),
], ids=["hourly minus 10", "hourly minus 1", "periods", "trading days with holidays",
        "elapsed time", "a gap off the step", "random times"])
def test_gaps_warn_once_with_the_count(index, match):
    ws = _irregular(lambda: WaveNetForecaster(**FAST).fit(_series(index)))
    assert len(ws) == 1
    msg = str(ws[0].message)
    assert re.search(match, msg), msg
    assert "consecutive events" in msg and "IrregularIndexWarning" in msg
    assert "\n" not in msg and len(msg) < 400
    assert ws[0].filename == __file__           # points at the caller, not at tsargen


def test_market_hours_warn_and_the_documented_filter_silences_them():
    index = _market_hours()
    missing, step = _missing_steps(index)
    expected = len(pd.date_range(index[0], index[-1], freq="30min")) - len(index)
    assert (missing, step) == (expected, pd.Timedelta("30min")) and missing > 1000
    y = _series(index)
    ws = _irregular(lambda: WaveNetForecaster(**FAST).fit(y))
    assert len(ws) == 1 and f"{expected} steps are missing" in str(ws[0].message)
    assert "y.asfreq('30min')" in str(ws[0].message)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=tsargen.IrregularIndexWarning)
        WaveNetForecaster(**FAST).fit(y)
    assert not [w for w in caught if issubclass(w.category, IrregularIndexWarning)]


def test_one_warning_per_fit_not_per_channel_series_or_epoch():
    gappy = HOURS.delete(DROPPED)
    frame = _series(gappy, channels=3)
    ws = _irregular(lambda: WaveNetForecaster(**{**FAST, "max_epochs": 3}).fit(frame))
    assert len(ws) == 1
    many = [_series(gappy), _series(HOURS), _series(HOURS.delete([7]))]
    ws = _irregular(lambda: WaveNetForecaster(**FAST).fit(many))
    assert len(ws) == 1
    assert str(ws[0].message).startswith(
        "2 of 3 series in y have irregular time indexes (y[0]: 10 steps are missing (step h); "
        "y[2]: 1 step is missing (step h))")


def test_histories_given_later_are_judged_too():
    f = WaveNetForecaster(**FAST, horizon=2, n_paths=4).fit(_series(HOURS[:200]))
    assert not _irregular(lambda: f.predict())
    ws = _irregular(lambda: f.predict(y=_series(HOURS.delete(DROPPED))))
    assert len(ws) == 1 and "10 steps are missing" in str(ws[0].message)
    assert not _irregular(lambda: f.update(_series(HOURS[200:210])))      # continues: fine
    ws = _irregular(lambda: f.update(_series(HOURS[213:220])))            # skips 3 hours
    assert len(ws) == 1
    assert str(ws[0].message).startswith("the rows appended to y leave gaps (step h): 3 steps "
                                         "are missing")


def test_a_history_with_gaps_is_not_reported_again_at_every_update():
    gappy = HOURS[:200].delete([50, 51])
    with pytest.warns(IrregularIndexWarning, match="2 steps are missing"):
        f = WaveNetForecaster(**FAST).fit(_series(gappy))
    assert not _irregular(lambda: f.update(_series(HOURS[200:205])))


def test_signal_image_forecaster_warns_once():
    minutes = pd.date_range("2024-01-01", periods=83, freq="min").delete([9, 10, 40])
    bins = pd.DataFrame(np.random.default_rng(4).integers(0, 4, size=(80, 5)), index=minutes)
    density = GatedPixelCNNDensity(n_levels=4, n_layers=1, hidden_channels=8, kernel_size=3,
                                   input_kernel_size=3, max_epochs=1, batch_size=4,
                                   validation_fraction=0.0)
    f = SignalImageForecaster(density, horizon=2, context=4, n_paths=4, random_state=0)
    ws = _irregular(lambda: f.fit(bins))
    assert len(ws) == 1 and "(step min) has gaps: 3 steps are missing" in str(ws[0].message)


@pytest.mark.parametrize("index, expected", [
    (pd.date_range("2001-01-15", periods=30, freq=pd.DateOffset(months=1)).delete([5, 17]),
     (2, pd.DateOffset(months=1))),                                  # the calendar of the 15th
    (pd.date_range("2024-03-01", periods=60, freq="D", tz="Europe/Paris").delete([40]),
     (1, "D")),                                                      # across a DST change
    (pd.date_range("2000", periods=60, freq="MS").delete(20), (1, "MS")),
    (HOURS[:2], (0, None)),                                          # too short to judge
])
def test_missing_steps_follow_the_forecast_calendar(index, expected):
    assert _missing_steps(pd.DatetimeIndex(index.to_numpy() if index.tz is None else index)) \
        == expected
