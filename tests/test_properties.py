"""Property-based tests: every public estimator and transform, fed random shapes, dtypes,
NaN/inf placement, empty inputs and pandas indexes, either succeeds with finite outputs of the
documented shape or raises ``ValueError``/``TypeError`` with a message. Never another exception
type, never NaN out of finite input.

Examples are derandomised (the same inputs on every run) so CI is reproducible; models are tiny
and fitted once per module where the property is about the fitted model's methods.
"""

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tsargen import (GatedPixelCNNDensity, GenerativeClassifier, PixelCNNDensity,
                     PixelCNNPPDensity, PixelRNNDensity, SignalImageForecaster, WaveNetDensity,
                     WaveNetForecaster)
from tsargen import metrics
from tsargen.transforms import MuLaw, OrderBookImage, Quantizer, Spectrogram, TickFeatures

from .conftest import TINY

# CI runs 20 fixed examples per property; TSARGEN_PROPERTY_EXAMPLES=500 explores further.
_N = int(os.environ.get("TSARGEN_PROPERTY_EXAMPLES", "20"))
PROPERTY = settings(max_examples=_N, deadline=None, derandomize=_N <= 20, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FAST = dict(TINY, max_epochs=1)
IMAGE_FAST = dict(n_layers=1, hidden_channels=4, max_epochs=1, batch_size=8, random_state=0)


def call(fn, *args, **kwargs):
    """Run ``fn``; a ValueError/TypeError with a message is an accepted outcome (-> None)."""
    try:
        out = fn(*args, **kwargs)
    except (ValueError, TypeError) as err:
        assert str(err).strip(), f"{type(err).__name__} without a message"
        event(f"{getattr(fn, '__name__', 'call')}: {type(err).__name__}")
        return None
    event(f"{getattr(fn, '__name__', 'call')}: ok")
    return out


def finite(x):
    values = np.asarray(x.to_numpy() if hasattr(x, "to_numpy") else x, dtype=np.float64)
    return bool(np.isfinite(values).all())


# ------------------------------------------------------------------ strategies
DTYPES = [np.float64, np.float32, np.int64, np.int32, np.bool_]
FAULTS = ["none", "none", "nan", "inf", "-inf"]


@st.composite
def arrays(draw, shape, dtypes=DTYPES, faults=FAULTS, low=-50.0, high=50.0):
    """A random array of ``shape``: random dtype, values, and maybe one NaN/inf cell."""
    dtype = draw(st.sampled_from(dtypes))
    if np.dtype(dtype).kind == "f":
        elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=32)
    elif np.dtype(dtype).kind == "b":
        elements = st.booleans()
    else:
        elements = st.integers(int(low), int(high))
    arr = draw(hnp.arrays(dtype, shape, elements=elements))
    fault = draw(st.sampled_from(faults))
    if fault != "none" and arr.size:
        arr = arr.astype(np.float64)
        idx = draw(st.integers(0, arr.size - 1))
        arr.flat[idx] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}[fault]
    return arr


INDEXES = ["range", "daily", "irregular", "float", "strings", "duplicated", "descending"]


def with_index(arr, kind):
    """Wrap a (T,) or (T, C) array in pandas with an index of ``kind``."""
    n = len(arr)
    index = {
        "range": pd.RangeIndex(n),
        "daily": pd.date_range("2020-01-01", periods=n, freq="D"),
        "irregular": pd.DatetimeIndex(pd.Timestamp("2020-01-01")
                                      + pd.to_timedelta(np.cumsum(np.arange(n) % 3 + 1), "h")),
        "float": pd.Index(np.arange(n) * 0.5),
        "strings": pd.Index([f"t{i}" for i in range(n)]),
        "duplicated": pd.Index(np.arange(n) // 2),
        "descending": pd.Index(np.arange(n)[::-1]),
    }[kind]
    if arr.ndim == 1:
        return pd.Series(arr, index=index, name="y")
    return pd.DataFrame(arr, index=index, columns=[f"c{i}" for i in range(arr.shape[1])])


@st.composite
def series(draw, max_len=40, channels=(None, 1, 2)):
    """One series: numpy (T,) / (T, C), a list, or pandas with a random index."""
    length = draw(st.integers(0, max_len))
    c = draw(st.sampled_from(channels))
    arr = draw(arrays((length,) if c is None else (length, c)))
    form = draw(st.sampled_from(["numpy", "numpy", "list", "pandas"]))
    if form == "list" and c is None:          # a list of lists is a list of series
        return arr.tolist()
    if form == "pandas":
        return with_index(arr, draw(st.sampled_from(INDEXES)))
    return arr


@st.composite
def panels(draw, max_n=6, max_len=30):
    """A panel: (n, T), (n, T, C) or a list of unequal-length series."""
    n = draw(st.integers(0, max_n))
    c = draw(st.sampled_from([None, 1, 2]))
    if draw(st.booleans()):
        length = draw(st.integers(0, max_len))
        return draw(arrays((n, length) if c is None else (n, length, c)))
    lengths = draw(st.lists(st.integers(0, max_len), min_size=n, max_size=n))
    return [draw(arrays((t,) if c is None else (t, c))) for t in lengths]


@st.composite
def images(draw, max_n=5, max_side=6, n_levels=4):
    n = draw(st.integers(0, max_n))
    h, w = draw(st.integers(0, max_side)), draw(st.integers(0, max_side))
    c = draw(st.sampled_from([None, None, 1, 3]))
    shape = (n, h, w) if c is None else (n, h, w, c)
    dtype = draw(st.sampled_from([np.uint8, np.int64, np.float64, np.float32]))
    low = 0 if dtype == np.uint8 else -1
    return draw(arrays(shape, dtypes=[dtype], low=low, high=n_levels))


SIGNAL = np.sin(np.arange(120) / 4.0) + 0.1 * np.random.default_rng(0).normal(size=120)


# ------------------------------------------------------------------ forecaster
@pytest.mark.slow
@PROPERTY
@given(y=series())
def test_forecaster_fit_any_series(y):
    f = call(WaveNetForecaster(**FAST).fit, y)
    if f is None:
        return
    point = f.predict(3)
    n_channels = f.n_channels_
    assert point.shape in ((3,), (3, n_channels))
    assert finite(point)
    assert np.isfinite(f.score(y))


@pytest.fixture(scope="module")
def forecaster():
    return WaveNetForecaster(**TINY, n_paths=20).fit(SIGNAL)


@PROPERTY
@given(horizon=st.one_of(st.none(), st.integers(-2, 6), st.floats(-1, 5), st.booleans(),
                         st.text(max_size=2)),
       quantiles=st.lists(st.one_of(st.floats(-0.5, 1.5), st.just(float("nan"))),
                                 min_size=0, max_size=4))
def test_forecaster_predict_arguments(forecaster, horizon, quantiles):
    point = call(forecaster.predict, horizon)
    if point is not None:
        h = forecaster.horizon if horizon is None else horizon
        assert point.shape == (h,) and finite(point)
    q = call(forecaster.predict_quantiles, horizon, quantiles)
    if q is not None:
        h = forecaster.horizon if horizon is None else horizon
        assert q.shape == (h, len(quantiles)) and finite(q)
        assert all(0 < v < 1 for v in quantiles)


@PROPERTY
@given(y=series(channels=(None, 1)))
def test_forecaster_new_history(forecaster, y):
    point = call(forecaster.predict, 2, y=y)
    if point is not None:
        assert len(point) == 2 and finite(point)
    steps = call(forecaster.score_steps, y)
    if steps is not None:
        values = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y, dtype=np.float64)
        assert np.shape(steps)[0] == values.shape[0]
        observed = np.isfinite(values).reshape(len(values), -1).all(axis=1)
        assert np.isfinite(np.asarray(steps, dtype=np.float64)[observed]).all()


@PROPERTY
@given(n_samples=st.one_of(st.integers(-1, 4), st.floats(0, 3), st.none()),
       horizon=st.integers(-1, 3))
def test_forecaster_sample_arguments(forecaster, n_samples, horizon):
    paths = call(forecaster.sample, n_samples, horizon, random_state=0)
    if paths is not None:
        assert paths.shape == (n_samples, horizon, 1) and finite(paths)


# ------------------------------------------------------------------ density
@pytest.mark.slow
@PROPERTY
@given(X=panels())
def test_density_fit_any_panel(X):
    d = call(WaveNetDensity(**FAST).fit, X)
    if d is None:
        return
    scores = d.score_samples(X)
    assert scores.shape == (len(X),) and finite(scores)
    draws = d.sample(2, length=5, random_state=0)
    assert draws.shape[:2] == (2, 5) and finite(draws)


@pytest.fixture(scope="module")
def density():
    return WaveNetDensity(**TINY).fit(np.stack([SIGNAL[i:i + 40] for i in range(0, 80, 8)]))


@PROPERTY
@given(X=panels(), n_known=st.one_of(st.integers(-1, 45), st.floats(0, 3), st.none()))
def test_density_methods(density, X, n_known):
    scores = call(density.score_samples, X)
    if scores is not None:
        assert scores.shape == (len(X),) and finite(scores)
    done = call(density.complete, X, n_known=n_known, random_state=0)
    if done is not None:
        assert done.shape[:2] == (1, len(X)) and finite(done)


@PROPERTY
@given(n=st.one_of(st.integers(-1, 3), st.floats(0, 2)), length=st.one_of(
    st.none(), st.integers(-1, 6)))
def test_density_sample_arguments(density, n, length):
    draws = call(density.sample, n, length=length, random_state=0)
    if draws is not None:
        assert draws.shape[:2] == (n, length or 40) and finite(draws)


# ------------------------------------------------------------------ images
@PROPERTY
@given(X=images(), kind=st.sampled_from([
    PixelCNNDensity, GatedPixelCNNDensity, PixelCNNPPDensity,
    dict(cls=PixelRNNDensity, kind="row_lstm"),
    dict(cls=PixelRNNDensity, kind="diagonal_bilstm")]))
def test_image_fit_any_stack(X, kind):
    extra = {}
    if isinstance(kind, dict):
        kind, extra = kind["cls"], {"kind": kind["kind"]}
    d = call(kind(n_levels=4, **IMAGE_FAST, **extra).fit, X)
    if d is None:
        return
    steps = d.score_steps(X)
    assert steps.shape == np.shape(X) and finite(steps)
    assert d.sample(2, random_state=0).shape == (2,) + np.shape(X)[1:]


@pytest.fixture(scope="module")
def image_density():
    X = np.random.default_rng(0).integers(0, 4, size=(20, 5, 5))
    return GatedPixelCNNDensity(n_levels=4, **IMAGE_FAST).fit(X)


@PROPERTY
@given(X=images(), n_known=st.one_of(st.integers(-1, 7), st.floats(0, 2)),
       size=st.tuples(st.one_of(st.none(), st.integers(-1, 4)),
                      st.one_of(st.none(), st.integers(-1, 4))))
def test_image_methods(image_density, X, n_known, size):
    steps = call(image_density.score_steps, X)
    if steps is not None:
        assert steps.shape == np.shape(X) and finite(steps)
    done = call(image_density.complete, X, n_known=n_known, random_state=0)
    if done is not None:
        assert done.shape == (1,) + np.shape(X) and finite(done)
    draws = call(image_density.sample, 2, length=size[0], width=size[1], random_state=0)
    if draws is not None:
        assert draws.shape == (2, size[0] or 5, size[1] or 5) and finite(draws)


# ------------------------------------------------------------------ classifier
@PROPERTY
@given(X=panels(max_n=8, max_len=20),
       labels=st.lists(st.one_of(st.sampled_from(["a", "b"] * 8 + [None]), st.floats(0, 1)),
                    min_size=0, max_size=8),
       matched=st.booleans())
def test_classifier_fit_any_input(X, labels, matched):
    y = (labels * len(X))[:len(X)] if matched and labels else labels
    clf = call(GenerativeClassifier(WaveNetDensity(**FAST)).fit, X, y)
    if clf is None:
        return
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_)) and finite(proba)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


# ------------------------------------------------------------------ transforms and metrics
@PROPERTY
@given(X=st.integers(0, 12).flatmap(lambda n: arrays((n, 2))),
       transformer=st.sampled_from([MuLaw(), Quantizer(n_bins=8),
                                    Quantizer(n_bins=8, strategy="quantile")]))
def test_transforms_any_input(X, transformer):
    fitted = call(transformer.fit, X)
    if fitted is None:
        return
    levels = call(fitted.transform, X)
    if levels is None:
        return
    assert levels.shape == X.shape
    back = fitted.inverse_transform(levels)
    assert back.shape == X.shape and finite(back)


@PROPERTY
@given(n=st.integers(0, 8), data=st.data())
def test_metrics_any_input(n, data):
    y_true = data.draw(arrays((n,)))
    y_pred = data.draw(arrays((data.draw(st.sampled_from([n, n + 1])),)))
    y_train = data.draw(arrays((data.draw(st.integers(0, 10)),)))
    clean = all(np.isfinite(a).all() for a in (y_true, y_pred, y_train))
    for value in (call(metrics.mase, y_true, y_pred, y_train),
                  call(metrics.smape, y_true, y_pred)):
        if value is not None:
            assert np.isfinite(value) or not clean
    samples = data.draw(arrays((data.draw(st.integers(0, 4)), n)))
    value = call(metrics.crps, y_true, samples)
    if value is not None:
        assert value.shape == y_true.shape
        assert np.isfinite(value[np.isfinite(y_true)]).all()


# ------------------------------------------------------------------ signal-images
@PROPERTY
@given(y=st.integers(0, 30).flatmap(lambda t: arrays((t, 4))),
       horizon=st.integers(-1, 3), context=st.integers(-1, 6))
def test_signal_image_forecaster_any_stream(y, horizon, context):
    density = GatedPixelCNNDensity(n_levels=8, n_layers=1, hidden_channels=4,
                                   input_kernel_size=3, max_epochs=1, batch_size=4)
    f = call(SignalImageForecaster(density, horizon=horizon, context=context, n_paths=3,
                                   random_state=0).fit, y)
    if f is None:
        return
    point = f.predict()
    assert point.shape == (horizon, 4) and finite(point)
    assert np.isfinite(f.score(y))


@PROPERTY
@given(x=st.sampled_from([None, 1, 2]).flatmap(
    lambda c: st.integers(0, 300).flatmap(lambda t: arrays((t,) if c is None else (t, c)))),
    n_fft=st.sampled_from([1, 8, 16, 64]))
def test_spectrogram_any_signal(x, n_fft):
    spec = Spectrogram(n_fft=n_fft, n_iter=2)
    frames = call(spec.fit_transform, x)
    if frames is None:
        return
    assert frames.shape[0] >= 1 and frames.shape[1] == n_fft // 2 + 1 and finite(frames)
    back = spec.inverse_transform(frames)
    assert finite(back)


@st.composite
def event_frames(draw, max_n=12):
    """LOBSTER-like event frames with random (possibly invalid) values."""
    n = draw(st.integers(0, max_n))
    steps = draw(hnp.arrays(np.int64, n, elements=st.integers(-2, 10 ** 9)))
    index = pd.DatetimeIndex(pd.Timestamp("2012-06-21 09:30") + pd.to_timedelta(
        np.cumsum(steps), "ns"))
    mid = 100 + draw(hnp.arrays(np.int64, n, elements=st.integers(-5, 5))).cumsum() * 0.01
    half = draw(hnp.arrays(np.int64, n, elements=st.integers(-1, 3))) * 0.01
    frame = pd.DataFrame({
        "type": draw(hnp.arrays(np.int64, n, elements=st.integers(0, 8))),
        "order_id": np.arange(n),
        "size": draw(arrays((n,), dtypes=[np.float64, np.int64], low=-2, high=500)),
        "price": mid + 0.01 * draw(hnp.arrays(np.int64, n, elements=st.integers(-3, 3))),
        "direction": draw(hnp.arrays(np.int64, n, elements=st.sampled_from([-1, 0, 1]))),
        "ask_price_1": mid + half, "ask_size_1": draw(arrays((n,), dtypes=[np.int64], low=0,
                                                              high=900)),
        "bid_price_1": mid - half, "bid_size_1": draw(arrays((n,), dtypes=[np.int64], low=0,
                                                              high=900)),
    }, index=index)
    drop = draw(st.sampled_from([None, None, "type", "ask_price_1", "size"]))
    return frame if drop is None else frame.drop(columns=drop)


@PROPERTY
@given(events=event_frames())
def test_tick_features_any_events(events):
    tf = TickFeatures(tick_size=0.01)
    feats = call(tf.fit_transform, events)
    if feats is None:
        return
    assert len(feats) == len(events) and not np.isinf(feats.to_numpy()).any()
    if np.isfinite(events.select_dtypes("number").to_numpy(np.float64)).all():
        assert finite(feats)                     # NaN out only where a value was missing
    back = tf.inverse_transform(feats)
    assert len(back) == len(events)
    np.testing.assert_array_equal(back.index.asi8, events.index.asi8)


@PROPERTY
@given(events=event_frames(), n_ticks=st.integers(-1, 4))
def test_order_book_image_any_book(events, n_ticks):
    book = events.drop(columns=[c for c in ("type", "order_id", "size", "price", "direction")
                                if c in events])
    image = call(OrderBookImage(n_ticks=n_ticks, tick_size=0.01).fit_transform, book)
    if image is not None:
        assert image.shape[0] == len(book) and finite(image)
