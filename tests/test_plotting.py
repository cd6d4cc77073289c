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


def test_sample_grid_has_one_image_per_sample():
    imgs = np.random.default_rng(0).integers(0, 17, size=(10, 8, 8))
    fig = plot_samples(imgs, n_cols=4)
    assert len(fig.axes) == 10 and all(len(ax.images) == 1 for ax in fig.axes)
    np.testing.assert_array_equal(fig.axes[3].images[0].get_array(), imgs[3])
    rgb = plot_samples(np.full((2, 4, 4, 3), 255, dtype=np.uint8), n_levels=256)
    assert rgb.axes[0].images[0].get_array().shape == (4, 4, 3)
    with pytest.raises(ValueError, match="images must be"):
        plot_samples(np.zeros((5, 5)))


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


def test_training_curves(fitted):
    f, _ = fitted
    fig = plot_training(f)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines][:2] == ["training", "validation"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), f.loss_curve_)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), f.val_loss_curve_)
    assert ax.lines[2].get_ydata()[0] == min(f.val_loss_curve_)
    assert len(plot_training(loss_curve=[3.0, 2.0, 1.5]).axes[0].lines) == 1
    with pytest.raises(ValueError, match="fit it first"):
        plot_training(WaveNetForecaster())


def test_clear_import_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"tsargen\[plot\]"):
        plot_training(loss_curve=[1.0])
