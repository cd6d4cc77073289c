"""Time zones of every kind pandas accepts (zoneinfo, pytz, dateutil, fixed offsets) round-trip
through the forecasters, the tick transform and save/load, keeping both the instants and the
kind of zone.

Installs nothing: pytz is a test dependency, dateutil one of pandas. python-dateutil 4.0 with
pandas 3.0.x cannot localize to a dateutil zone at all (pandas reads tzfile internals that 4.0
removed); a fresh install resolves pandas 3.1, which can.
"""

import datetime
import zoneinfo

import dateutil.tz
import numpy as np
import pandas as pd
import pytest
import pytz

import tsargen
from tests.conftest import TINY
from tests.test_ticks import make_events
from tsargen import WaveNetForecaster
from tsargen.estimators._persistence import _decode_tz, _encode_tz
from tsargen.transforms import TickFeatures

ZONES = {
    "zoneinfo": zoneinfo.ZoneInfo("America/New_York"),
    "pytz": pytz.timezone("America/New_York"),
    "dateutil": dateutil.tz.gettz("America/New_York"),
    "fixed": datetime.timezone(datetime.timedelta(hours=-4)),
    "utc": datetime.timezone.utc,
}
# one instant each side of both 2012 DST changes, and one in each
INSTANTS = pd.to_datetime(["2012-03-11 06:30", "2012-03-11 07:30", "2012-07-01 12:00",
                           "2012-11-04 05:30", "2012-11-04 06:30", "2012-12-24 00:00"], utc=True)


def _same_zone(a, b):
    """Same kind of zone and the same UTC offset at every test instant (DST included)."""
    return (type(a) is type(b)
            and [t.tz_convert(a).utcoffset() for t in INSTANTS]
            == [t.tz_convert(b).utcoffset() for t in INSTANTS])


@pytest.mark.parametrize("kind", ZONES)
def test_the_zone_codec_keeps_kind_and_offsets(kind):
    tz = ZONES[kind]
    text = _encode_tz(tz)
    assert isinstance(text, str)
    assert _same_zone(_decode_tz(text), tz)


class _Seasonal(datetime.tzinfo):
    """A zone with no name and no fixed offset (its offset depends on the month)."""

    def utcoffset(self, dt):
        return None if dt is None else datetime.timedelta(hours=dt.month % 2)

    def dst(self, dt):
        return datetime.timedelta(0)


def test_a_zone_without_a_name_or_fixed_offset_is_refused_by_name():
    with pytest.raises(TypeError, match="cannot save the time zone"):
        _encode_tz(_Seasonal())


def test_files_of_the_earlier_format_still_read_their_zone_names():
    assert _decode_tz("Europe/Paris") == "Europe/Paris"      # str(tz), read by pandas as before
    assert _decode_tz("UTC") == "UTC"


@pytest.mark.parametrize("kind", ZONES)
def test_tick_features_round_trip_every_zone(kind):
    ev = make_events(30)
    ev.index = ev.index.tz_localize(ZONES[kind])
    tf = TickFeatures().fit(ev)
    back = tf.inverse_transform(tf.transform(ev))
    assert (back.index == ev.index).all()
    assert _same_zone(back.index.tz, ev.index.tz)


@pytest.fixture(scope="module")
def hourly():
    rng = np.random.default_rng(0)
    t = np.arange(240)
    return np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=240)


@pytest.mark.parametrize("kind", ZONES)
def test_forecasts_and_saved_models_keep_every_zone(kind, hourly, tmp_path):
    tz = ZONES[kind]
    index = pd.date_range("2012-11-01", periods=len(hourly), freq="h", tz="UTC").tz_convert(tz)
    y = pd.Series(hourly, index=index, name="load")
    f = WaveNetForecaster(horizon=6, n_paths=20, **{**TINY, "max_epochs": 1}).fit(y)
    pred = f.predict()
    assert _same_zone(pred.index.tz, tz)
    assert pred.index[0] == y.index[-1] + pd.Timedelta(hours=1)      # an instant, DST or not
    f.save(tmp_path / "m.tsargen")
    back = tsargen.load(tmp_path / "m.tsargen")
    again = back.predict()
    assert _same_zone(again.index.tz, tz)
    pd.testing.assert_series_equal(again, pred)
