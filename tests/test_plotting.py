"""Figures (Agg, no display): the expected artists exist and show the right data."""

import sys

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tsargen import WaveNetForecaster  # noqa: E402
from tsargen.plotting import (plot_forecast, plot_samples, plot_signal_image,  # noqa: E402
                              plot_training)

from .conftest import TINY  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    idx = pd.date_range("2022-01-01", periods=150, freq="D")
    y = pd.DataFrame({"a": np.sin(np.arange(150) / 4), "b": np.cos(np.arange(150) / 6)},
                     index=idx)
    return WaveNetForecaster(**TINY, horizon=6, n_paths=40).fit(y), y


def _bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_fan_chart_from_a_forecaster(fitted):
    f, y = fitted
    truth = np.ones((6, 2))
    fig = plot_forecast(y, forecaster=f, quantiles=(0.05, 0.25, 0.75, 0.95), truth=truth,
                        channel=1)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels[:3] == ["history", "median", "truth"]
    assert len(_bands(ax)) == 2
    history, median = ax.lines[0], ax.lines[1]
    np.testing.assert_allclose(history.get_ydata(), y["b"].to_numpy())
    expected = f.predict_quantiles(6, quantiles=(0.5,), y=y)[("b", 0.5)].to_numpy()
    np.testing.assert_allclose(median.get_ydata(), expected)
    assert pd.Timestamp(matplotlib.dates.num2date(median.get_xdata(orig=False)[0])
                        ).tz_localize(None) == pd.Timestamp("2022-05-31")
    fig.savefig(__import__("io").BytesIO(), format="png")      # renders


def test_fan_chart_from_sample_paths_uses_their_quantiles():
    rng = np.random.default_rng(0)
    paths = rng.normal(size=(500, 8)).cumsum(1)
    fig = plot_forecast(np.zeros(30), samples=paths, quantiles=(0.1, 0.9))
    ax = fig.axes[0]
    (band,) = _bands(ax)
    median = [line for line in ax.lines if line.get_label() == "median"][0]
    np.testing.assert_allclose(median.get_xdata(), np.arange(30, 38))
    np.testing.assert_allclose(median.get_ydata(), np.median(paths, axis=0))
    verts = band.get_paths()[0].vertices
    lo, hi = np.quantile(paths, [0.1, 0.9], axis=0)
    assert np.isclose(verts[:, 1].min(), lo.min()) and np.isclose(verts[:, 1].max(), hi.max())
    with pytest.raises(ValueError, match="exactly one"):
        plot_forecast(np.zeros(30))


@pytest.fixture(scope="module")
def fitted_with_covariates():
    idx = pd.date_range("2021-01-01", periods=84, freq="D")
    y = pd.Series(np.sin(np.arange(80) / 4), index=idx[:80], name="y")
    X = pd.DataFrame({"c": np.cos(np.arange(84) / 4)}, index=idx)
    g = WaveNetForecaster(n_layers=2, residual_channels=8, skip_channels=8, max_epochs=1,
                          batch_size=16, random_state=0, horizon=4, n_paths=30)
    return g.fit(y, X.iloc[:80]), y, X


def _median(ax):
    return [line for line in ax.lines if line.get_label() == "median"][0]


def _dates(line):
    return pd.DatetimeIndex(matplotlib.dates.num2date(line.get_xdata(orig=False))
                            ).tz_localize(None)


def test_fan_chart_from_the_long_frame_of_sample(fitted):
    f, y = fitted
    s = f.sample(30, random_state=0)                  # (30 * 6, 2) indexed by (sample, time)
    fig = plot_forecast(y, samples=s, channel=1, quantiles=(0.1, 0.9))
    median = _median(fig.axes[0])
    paths_b = s["b"].unstack("time").to_numpy()       # (30, 6)
    np.testing.assert_allclose(median.get_ydata(), np.median(paths_b, axis=0))
    assert _dates(median).equals(s.index.get_level_values("time").unique())
    verts = _bands(fig.axes[0])[0].get_paths()[0].vertices
    assert np.isclose(verts[:, 1].max(), np.quantile(paths_b, 0.9, axis=0).max())
    one = plot_forecast(y["a"], samples=s["a"])       # a Series of samples: one channel
    np.testing.assert_allclose(_median(one.axes[0]).get_ydata(),
                               np.median(s["a"].unstack("time").to_numpy(), axis=0))
    with pytest.raises(ValueError, match=r"long frame .*\(sample, time\)"):
        plot_forecast(y, samples=s.reset_index(drop=True))
    with pytest.raises(ValueError, match="same time steps"):
        plot_forecast(y, samples=s.iloc[:-1])
    with pytest.raises(ValueError, match="one series' samples"):
        plot_forecast(y, samples=[s, s])
    for bad in (np.zeros(6), np.zeros((0, 6)), np.zeros((2, 3, 6, 2))):
        with pytest.raises(ValueError, match="samples must be paths"):
            plot_forecast(y, samples=bad)
    with pytest.raises(ValueError, match="history has 2 channels but the forecast 3"):
        plot_forecast(y, samples=np.zeros((10, 6, 3)))


def test_fan_chart_of_a_forecaster_with_covariates(fitted_with_covariates):
    g, y, X = fitted_with_covariates
    fig = plot_forecast(y, forecaster=g, X=X)
    median = _median(fig.axes[0])
    expected = g.predict_quantiles(quantiles=(0.5,), y=y, X=X)
    np.testing.assert_allclose(median.get_ydata(), expected.to_numpy()[:, 0])
    assert _dates(median).equals(X.index[80:])
    with pytest.raises(ValueError, match="pass X"):
        plot_forecast(y, forecaster=g)
    with pytest.raises(ValueError, match="X= goes with forecaster="):
        plot_forecast(y, samples=np.zeros((5, 4)), X=X)


def test_channel_out_of_range_is_a_clear_error(fitted, fitted_with_covariates):
    f, y = fitted
    with pytest.raises(ValueError, match=r"channel must be an integer in 0\.\.1 .*got 2"):
        plot_forecast(y, forecaster=f, channel=2)
    g, y1, X = fitted_with_covariates
    with pytest.raises(ValueError, match=r"channel must be an integer in 0\.\.0 .*got 3"):
        plot_forecast(y1.to_frame(), forecaster=g, X=X, channel=3)
    with pytest.raises(ValueError, match=r"channel must be an integer in 0\.\.0 .*got 3"):
        plot_forecast(np.zeros(20), samples=np.zeros((5, 4)), channel=3)
    # a one-channel history next to one channel of a multichannel forecast is fine
    paths = np.random.default_rng(0).normal(size=(50, 4, 2))
    fig = plot_forecast(np.zeros(20), samples=paths, channel=1)
    np.testing.assert_allclose(_median(fig.axes[0]).get_ydata(),
                               np.median(paths[..., 1], axis=0))


def test_sample_grid_has_one_image_per_sample():
    imgs = np.random.default_rng(0).integers(0, 17, size=(10, 8, 8))
    fig = plot_samples(imgs, n_cols=4)
    assert len(fig.axes) == 10 and all(len(ax.images) == 1 for ax in fig.axes)
    np.testing.assert_array_equal(fig.axes[3].images[0].get_array(), imgs[3])
    rgb = plot_samples(np.full((2, 4, 4, 3), 255, dtype=np.uint8), n_levels=256)
    assert rgb.axes[0].images[0].get_array().shape == (4, 4, 3)
    with pytest.raises(ValueError, match="images must be"):
        plot_samples(np.zeros((5, 5)))
    titled = plot_samples(imgs[:3], titles=["a", "b", "c"])
    assert [ax.get_title() for ax in titled.axes] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="titles has 1 entries but there are 3 images"):
        plot_samples(imgs[:3], titles=["a"])


def test_signal_image_next_to_truth():
    rng = np.random.default_rng(1)
    history, truth, forecast = rng.random((20, 12)), rng.random((6, 12)), rng.random((6, 12))
    fig = plot_signal_image(forecast, truth, history=history)
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 2 and len(fig.axes) == 3           # two panels + colour bar
    assert [ax.get_title() for ax in image_axes] == ["truth", "forecast"]
    shown = image_axes[1].images[0].get_array()
    np.testing.assert_allclose(shown, np.vstack([history, forecast]).T)   # time on x
    assert image_axes[0].images[0].get_clim() == image_axes[1].images[0].get_clim()
    assert len(plot_signal_image(forecast).axes) == 2
    with pytest.raises(ValueError, match="truth has shape"):
        plot_signal_image(forecast, truth[:3])


def _ticks(ax, axis):
    get = ax.get_xticks if axis == "x" else ax.get_yticks
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return get(), [t.get_text() for t in labels]


def test_signal_image_axes_follow_the_dataframe_labels():
    rng = np.random.default_rng(2)
    ticks = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]                  # OrderBookImage columns
    times = pd.date_range("2012-06-21 10:00:00", periods=14, freq="s")
    frame = pd.DataFrame(rng.normal(size=(14, 6)), index=times, columns=ticks)
    fig = plot_signal_image(frame.iloc[10:], frame.iloc[10:] * 2, history=frame.iloc[:10],
                            value_label="signed log depth")
    ax = fig.axes[0]
    pos, text = _ticks(ax, "y")                                  # bin axis: ticks from the mid
    assert "0" in text and 3 <= len(text) <= 8
    np.testing.assert_allclose([float(t) for t in text], ticks[0] + pos)   # at the right bins
    pos, text = _ticks(ax, "x")                                  # time: history, then forecast
    assert 2 <= len(text) <= 8 and text[0] == "10:00:00"
    assert text == [times[int(p)].strftime("%H:%M:%S") for p in pos]
    assert ax.get_xlabel() == "time" and ax.get_ylabel() == "bin"
    assert fig.axes[-1].get_ylabel() == "signed log depth"       # the colour bar
    freqs = np.fft.rfftfreq(256, 1 / 8000)                         # Spectrogram columns (Hz)
    spec = pd.DataFrame(rng.normal(size=(5, 129)), columns=freqs,
                        index=pd.RangeIndex(100, 105, name="frame"))
    fig = plot_signal_image(spec, bin_label="Hz")
    ax = fig.axes[0]
    pos, text = _ticks(ax, "y")
    assert text == ["0", "1000", "2000", "3000", "4000"]
    np.testing.assert_allclose(pos, [0, 32, 64, 96, 128])
    assert ax.get_ylabel() == "Hz" and ax.get_xlabel() == "frame"
    assert _ticks(ax, "x")[1][0] == "100" and fig.axes[-1].get_ylabel() == "value"
    # a numpy forecast after a dated history continues the history's dates
    fig = plot_signal_image(frame.iloc[10:].to_numpy(), history=frame.iloc[:10])
    pos, text = _ticks(fig.axes[0], "x")
    assert text == [times[int(p)].strftime("%H:%M:%S") for p in pos]
    with pytest.raises(ValueError, match="different columns"):
        plot_signal_image(frame.iloc[10:], frame.iloc[10:].set_axis(list("abcdef"), axis=1))


def test_training_curves(fitted):
    f, _ = fitted
    fig = plot_training(f)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines][:2] == ["training", "validation"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), f.loss_curve_)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), f.val_loss_curve_)
    assert ax.lines[2].get_ydata()[0] == min(f.val_loss_curve_)
    assert len(plot_training(loss_curve=[3.0, 2.0, 1.5]).axes[0].lines) == 1
    for curve in ([3.0, 2.0, 1.5], [2.0]):                       # whole epochs on the x axis
        ax = plot_training(loss_curve=curve).axes[0]
        lo, hi = ax.get_xlim()
        shown = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert shown and all(float(t).is_integer() for t in shown)
    with pytest.raises(ValueError, match="fit it first"):
        plot_training(WaveNetForecaster())


def test_clear_import_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"tsargen\[plot\]"):
        plot_training(loss_curve=[1.0])
