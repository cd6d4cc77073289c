"""The bases are real extension points: a new image density and a new path-sampling forecaster
built from them with only the hooks docs/architecture.md names get the whole public surface,
exact likelihoods and the autoregressive property."""

import itertools

import numpy as np
import pandas as pd
import pytest
from torch import nn

from tsargen.estimators._forecaster import Layout, PathForecaster
from tsargen.estimators._image_density import _ImageDensity
from tsargen.networks._image import (LevelImageNetwork, NaiveStepper, colour_ids, level_heads,
                                     level_output)
from tsargen.nn.masked import MaskedConv2d
from tsargen.validation import check_series


# ---------------------------------------------------------------------- a new image density
class TinyPixelNet(LevelImageNetwork):
    """One 3x3 mask-A conv and the family's output convs and softmax heads; no cache of its
    own (the naive stepper serves both generation paths)."""

    def __init__(self, n_channels=1, n_levels=4, hidden_channels=6, n_classes=0,
                 n_row_features=0):
        super().__init__()
        self._keep_config(dict(n_channels=n_channels, n_levels=n_levels,
                               hidden_channels=hidden_channels, n_classes=n_classes),
                          n_row_features)
        ids = colour_ids(hidden_channels, n_channels)
        self.input = MaskedConv2d(list(range(n_channels)), ids, "A", 3)
        self.label_bias = nn.Embedding(n_classes, hidden_channels) if n_classes else None
        self.out1, self.out2 = level_output(ids, n_channels, n_levels)
        self.heads = level_heads(n_channels, n_levels)
        self.receptive_field = 2

    def _forward(self, x, labels, row_cond=None, keep=False):
        h = self.input(self.scale(x))                                       # (B, h, H, W)
        if labels is not None:
            h = h + self.label_bias(labels)[:, :, None, None]
        return self.logits(h), None

    def _cache(self, x, first_row, labels, row_cond):
        return NaiveStepper(self, labels, row_cond)


class TinyPixelDensity(_ImageDensity):
    """The only estimator code a new image density needs: its parameters and its network."""

    def __init__(self, *, hidden_channels=6, n_levels=4, max_epochs=2, batch_size=16, lr=1e-2,
                 validation_fraction=0.0, patience=5, ema_decay=None, device="cpu",
                 random_state=0, verbose=False):
        self.hidden_channels = hidden_channels
        self.n_levels = n_levels
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.ema_decay = ema_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _build_network(self, n_channels, n_classes):
        return TinyPixelNet(n_channels, self.n_levels, self.hidden_channels, n_classes)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 2, size=(60, 2, 2)), np.array(["a", "b"] * 30)


def test_a_new_image_density_normalises_exactly_and_conditions(images):
    X, y = images
    d = TinyPixelDensity(n_levels=2).fit(X, y)
    every = np.array(list(itertools.product([0, 1], repeat=4))).reshape(16, 2, 2)
    for label in ("a", "b"):
        assert abs(np.exp(d.score_samples(every, [label] * 16)).sum() - 1) < 1e-5
    assert abs(np.exp(d.score_samples(every)).sum() - 1) < 1e-5      # the marginal
    assert d.sample(5, y=["a"] * 5, random_state=0).shape == (5, 2, 2)
    done = d.complete(X[:3], n_known=1, n_samples=2, random_state=0)
    assert done.shape == (2, 3, 2, 2) and (done[:, :, :1] == X[None, :3, :1]).all()


def test_a_new_image_density_is_autoregressive(images):
    X, _ = images
    d = TinyPixelDensity(n_levels=2).fit(X)
    base = d.score_steps(X[:4]).reshape(4, -1)
    for i in range(4):                         # raster position i: nothing before it changes
        moved = X[:4].reshape(4, -1).copy()
        moved[:, i] = 1 - moved[:, i]
        steps = d.score_steps(moved.reshape(4, 2, 2)).reshape(4, -1)
        np.testing.assert_array_equal(steps[:, :i], base[:, :i])
        assert not np.allclose(steps[:, i:], base[:, i:])


# ---------------------------------------------------------------------- a new forecaster
class GaussianWalkForecaster(PathForecaster):
    """A random walk with Gaussian steps whose scale is fitted: the five hooks of the base."""

    def __init__(self, *, horizon=3, n_paths=400, random_state=0):
        self.horizon = horizon
        self.n_paths = n_paths
        self.random_state = random_state

    def _check_targets(self, y, name="y", fitted=True, warn=True):
        v, info = check_series(y, name)
        return [v], [Layout(info.kind, info.index, info.columns, name=info.name,
                            squeeze=info.kind in ("1d", "series"))], False

    def _check_covariates(self, X, lengths, many, where, extra=0, layouts=None):
        return None

    def fit(self, y):
        values, self.layouts_, self.multi_ = self._check_targets(y, fitted=False)
        self.history_, self.history_X_ = values, None
        self.sigma_ = np.diff(values[0], axis=0).std(axis=0)               # (C,)
        return self

    def _resolve(self, fh, y, X):
        if y is None:
            return self.history_, self.layouts_, self.multi_
        values, layouts, many = self._check_targets(y)
        return values, layouts, many

    def _paths(self, fh, histories, n_paths, seed):
        rng = np.random.default_rng(seed)
        return [v[-1] + np.cumsum(rng.normal(size=(n_paths, fh, v.shape[1])) * self.sigma_,
                                  axis=1) for v in histories]               # (n, fh, C)

    def _score_arrays(self, values, covs):
        steps = np.diff(values[0], axis=0, prepend=np.nan) / self.sigma_
        return [-0.5 * steps ** 2 - np.log(self.sigma_ * np.sqrt(2 * np.pi))]

    def _append_history(self, i, values, covs):
        self.history_[i] = np.concatenate([self.history_[i], values])


def test_a_new_forecaster_gets_the_whole_surface_from_the_base():
    idx = pd.date_range("2021-01-01", periods=50, freq="D")
    y = pd.Series(np.cumsum(np.random.default_rng(1).normal(size=50)), idx, name="walk")
    f = GaussianWalkForecaster().fit(y)
    point = f.predict()
    assert isinstance(point, pd.Series) and point.index[0] == idx[-1] + pd.Timedelta(days=1)
    assert abs(point.iloc[0] - y.iloc[-1]) < 0.3                  # a random walk's median
    q = f.predict_quantiles(quantiles=(0.1, 0.9))
    assert list(q.columns) == [("walk", 0.1), ("walk", 0.9)]
    assert (q.iloc[:, 0] < q.iloc[:, 1]).all()
    interval = f.predict_interval(coverage=[0.5, 0.8])
    assert interval.shape == (3, 4)
    assert f.sample(7).shape == (21, 1)
    steps = f.score_steps(y)
    assert steps.index.equals(idx) and np.isnan(steps.iloc[0])
    assert np.isfinite(f.score(y))
    f.update(pd.Series([y.iloc[-1] + 5.0], [idx[-1] + pd.Timedelta(days=1)], name="walk"))
    assert f.predict().index[0] == idx[-1] + pd.Timedelta(days=2)
    with pytest.raises(ValueError, match="not after the stored history"):
        f.update(pd.Series([0.0], [idx[0]], name="walk"))


def test_a_new_forecaster_mirrors_arrays_too():
    y = np.cumsum(np.random.default_rng(2).normal(size=(40, 2)), axis=0)
    f = GaussianWalkForecaster(horizon=4).fit(y)
    assert f.predict().shape == (4, 2)
    assert f.predict_quantiles(quantiles=(0.5,)).shape == (4, 2, 1)
    assert f.sample(3).shape == (3, 4, 2)
    np.testing.assert_array_equal(f.predict(), f.predict())         # deterministic
