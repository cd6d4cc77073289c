"""SignalImageForecaster and the per-row covariates of the PixelCNN networks: black-box
causality, exact normalisation, predict == summary of sample paths, kept context rows,
covariates, cached == naive, bad input, persistence."""

import itertools
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

import tsargen
from tsargen import GatedPixelCNNDensity, PixelCNNDensity, SignalImageForecaster
from tsargen.networks import GatedPixelCNN, PixelCNN
from tsargen.transforms import MuLaw, Quantizer

TINY = dict(n_layers=1, hidden_channels=8, kernel_size=3, input_kernel_size=3, max_epochs=1,
            batch_size=4, validation_fraction=0.0)
DENSITIES = [PixelCNNDensity, GatedPixelCNNDensity]


def _levels_stream(t=80, w=5, n_levels=4, c=None, seed=0):
    """Integer levels with structure along time and bins (a travelling ridge) plus noise."""
    rng = np.random.default_rng(seed)
    ridge = (np.arange(t)[:, None] + np.arange(w)[None]) % n_levels
    y = np.clip(ridge + rng.integers(-1, 2, size=(t, w)), 0, n_levels - 1)
    if c:
        y = np.stack([y, n_levels - 1 - y][:c], axis=-1)
    return y.astype(np.int64)


def _forecaster(cls=GatedPixelCNNDensity, n_levels=4, **kw):
    params = dict(horizon=2, context=4, n_paths=6, random_state=0)
    params.update(kw)
    return SignalImageForecaster(cls(n_levels=n_levels, **TINY), **params)


@pytest.fixture(scope="module")
def fitted():
    return _forecaster().fit(_levels_stream())


@pytest.fixture(scope="module")
def fitted_cov():
    y = _levels_stream()
    X = np.sin(np.arange(len(y)) / 3.0)[:, None]
    return _forecaster().fit(y, X=X), y, X


# ---------------------------------------------------------------------------- likelihood
@pytest.mark.parametrize("cls", DENSITIES)
def test_score_steps_is_causal_in_time_and_bins(cls):
    f = _forecaster(cls).fit(_levels_stream(40))
    y = _levels_stream(15, seed=1)                      # 4 + 2 rows, then blocks of 2: ragged end
    base = f.score_steps(y)
    assert base.shape == y.shape and np.isfinite(base).all()
    for t, b in [(0, 0), (3, 2), (6, 0), (9, 4), (14, 1)]:
        y2 = y.copy()
        y2[t, b] = (y2[t, b] + 2) % 4
        new = f.score_steps(y2)
        before = np.zeros(y.shape, dtype=bool)
        before[:t] = True
        before[t, :b] = True
        np.testing.assert_allclose(new[before], base[before], rtol=0, atol=1e-6)
        assert not np.allclose(new[~before], base[~before])    # the perturbation is seen


def test_score_steps_is_causal_over_channels_too():
    f = _forecaster().fit(_levels_stream(40, c=2))
    y = _levels_stream(9, c=2, seed=1)
    base = f.score_steps(y)
    assert base.shape == y.shape
    for t, b, c in [(2, 3, 0), (2, 3, 1), (7, 0, 1)]:
        y2 = y.copy()
        y2[t, b, c] = (y2[t, b, c] + 2) % 4
        new = f.score_steps(y2)
        before = np.zeros(y.shape, dtype=bool)
        before[:t] = True
        before[t, :b] = True
        before[t, b, :c] = True
        np.testing.assert_allclose(new[before], base[before], rtol=0, atol=1e-6)
        assert not np.allclose(new[~before], base[~before])


def test_score_is_exactly_normalised_over_the_last_row():
    f = _forecaster(n_levels=2).fit(_levels_stream(40, w=3, n_levels=2))
    y = _levels_stream(6, w=3, n_levels=2, seed=3)          # exactly one window
    total = 0.0
    for row in itertools.product(range(2), repeat=3):
        y[-1] = row
        total += np.exp(f.score_steps(y)[-1].sum())
    assert abs(total - 1.0) < 1e-5


def test_score_is_mean_row_log_likelihood(fitted):
    y = _levels_stream(30, seed=2)
    steps = fitted.score_steps(y)
    assert fitted.score(y) == pytest.approx(steps.sum(axis=1).mean(), rel=1e-12)


def test_covariates_change_scores_and_keep_causality(fitted_cov):
    f, y, X = fitted_cov
    yy, XX = y[:14], X[:14]
    base = f.score_steps(yy, X=XX)
    for t in (2, 7, 13):
        X2 = XX.copy()
        X2[t] += 3.0
        new = f.score_steps(yy, X=X2)
        np.testing.assert_allclose(new[:t], base[:t], rtol=0, atol=1e-6)
        assert not np.allclose(new[t], base[t])


# ---------------------------------------------------------------------------- forecasting
def test_predict_is_the_median_of_the_sample_paths(fitted):
    paths = fitted.sample(fitted.n_paths, random_state=0)
    assert paths.shape == (6, 2, 5) and paths.dtype == np.int64
    assert np.array_equal(fitted.predict(), np.median(paths, axis=0))
    assert np.array_equal(fitted.predict(), fitted.predict())
    q = fitted.predict_quantiles(quantiles=(0.1, 0.5, 0.9))
    assert np.array_equal(q[..., 1], np.quantile(paths, 0.5, axis=0))
    lo_hi = fitted.predict_interval(coverage=0.8)
    np.testing.assert_allclose(lo_hi, q[..., [0, 2]], rtol=0, atol=1e-9)
    nested = fitted.predict_interval(coverage=(0.8, 0.5))               # (..., coverage, bound)
    assert nested.shape == lo_hi.shape[:-1] + (2, 2)
    np.testing.assert_array_equal(nested[..., 0, :], lo_hi)
    np.testing.assert_array_equal(nested[..., 1, :], fitted.predict_interval(coverage=0.5))
    a, b = fitted.sample(5, horizon=5, random_state=3), fitted.sample(5, horizon=5, random_state=3)
    assert a.shape == (5, 5, 5) and np.array_equal(a, b)


def test_forecast_keeps_the_given_rows_bit_for_bit(fitted):
    history = fitted.history_
    win = fitted._windows(5, history, None, n_paths=3, seed=1)     # 5 rows: 3 blocks of 2
    assert win.shape == (1, 3, 4 + 5, 5, 1)
    assert np.array_equal(win[0, :, :4], np.repeat(history[0][None, -4:], 3, axis=0))
    y_new = _levels_stream(10, seed=5)
    fc = fitted.sample(4, random_state=7, y=y_new)
    assert fc.shape == (4, 2, 5) and ((fc >= 0) & (fc < 4)).all()


def test_update_appends_to_the_context():
    y = _levels_stream(60)
    f = _forecaster().fit(y[:50])
    direct = f.predict(y=y)
    f.update(y[50:])
    assert f.history_[0].shape[0] == 60
    assert np.array_equal(f.predict(), direct)


def test_covariates_change_the_forecast(fitted_cov):
    f, y, X = fitted_cov
    p1 = f.sample(20, X=np.zeros((2, 1)), random_state=0)
    p2 = f.sample(20, X=np.full((2, 1), 5.0), random_state=0)
    assert not np.array_equal(p1, p2)
    with pytest.raises(ValueError, match="fitted with covariates"):
        f.predict()
    with pytest.raises(ValueError, match="3 rows but 2 are needed"):
        f.predict(X=np.zeros((3, 1)))
    assert f.predict(y=y[:20], X=X[:22]).shape == (2, 5)


@pytest.mark.parametrize("transform", ["uniform", "quantile", "mu_law",
                                       Quantizer(n_bins=6), MuLaw(mu=5)])
def test_continuous_values_are_quantised_and_mapped_back(transform):
    rng = np.random.default_rng(0)
    y = np.log1p(np.abs(np.sin(np.arange(90)[:, None] / 4 + np.arange(7)[None] / 3)) * 5
                 + 0.1 * rng.random((90, 7)))
    f = SignalImageForecaster(GatedPixelCNNDensity(n_levels=6, **TINY), transform=transform,
                              horizon=2, context=3, n_paths=4, random_state=0).fit(y)
    assert f.n_levels_ == 6
    paths = f.sample(4, random_state=0)
    assert paths.dtype == np.float64 and paths.shape == (4, 2, 7)
    centres = f._to_values(np.arange(6).reshape(6, 1, 1)).ravel()      # one value per level
    assert len(np.unique(centres)) == 6 and np.isin(paths, centres).all()
    assert centres.min() >= y.min() - np.ptp(y) and centres.max() <= y.max() + np.ptp(y)
    # quantising the data moves a value by at most its bin's width
    assert np.abs(f._to_values(f._to_levels(y[:, :, None]))[..., 0] - y).max() < np.ptp(y) / 2
    assert np.isfinite(f.score(y[:20]))


def test_pandas_and_multichannel_and_list_input():
    idx = pd.date_range("2024-01-01", periods=60, freq="s")
    df = pd.DataFrame(_levels_stream(60), index=idx, columns=[f"b{i}" for i in range(5)])
    f = _forecaster().fit(df)
    p = f.predict()
    assert isinstance(p, pd.DataFrame) and list(p.columns) == list(df.columns)
    assert p.index[0] == idx[-1] + pd.Timedelta("1s")
    q = f.predict_interval()
    assert q.shape == (2, 10) and q.columns.names == ["bin", "coverage", "bound"]
    long = f.sample(3)
    assert long.shape == (6, 5) and long.index.names == ["sample", "time"]
    steps = f.score_steps(df.iloc[:12])
    assert isinstance(steps, pd.DataFrame) and steps.shape == (12, 5)

    y3 = _levels_stream(50, c=2)
    f3 = _forecaster().fit([y3, y3[::-1].copy()])
    out = f3.predict()
    assert isinstance(out, list) and out[0].shape == (2, 5, 2)


def test_wide_rectangular_rows():
    y = _levels_stream(20, w=48)
    f = _forecaster(horizon=1, context=2).fit(y)
    assert f.predict().shape == (1, 48)


# ---------------------------------------------------------------------------- networks
@pytest.mark.parametrize("cls", [PixelCNN, GatedPixelCNN])
@pytest.mark.parametrize("c,height,width", [(1, 4, 6), (2, 3, 25)])
def test_cached_equals_naive_with_row_covariates(cls, c, height, width):
    torch.manual_seed(0)
    net = cls(n_channels=c, n_levels=5, n_layers=2, hidden_channels=8, kernel_size=3,
              input_kernel_size=5, n_row_features=3).double()
    rc = torch.randn(3, 3, height, dtype=torch.float64)
    known = torch.randint(0, 5, (3, c, 1, width)).double()
    outs = []
    for naive in (False, True):
        with torch.random.fork_rng():
            torch.manual_seed(4)
            outs.append(net.generate(3, height, width, known=known, naive=naive, row_cond=rc))
    assert torch.equal(outs[0], outs[1])
    assert torch.equal(outs[0][:, :, :1], known)
    # covariates are causal by construction (given), but must matter, row by row
    x = outs[0]
    rc2 = rc.clone()
    rc2[:, :, -1] += 2.0
    a, b = net.log_prob(x, row_cond=rc), net.log_prob(x, row_cond=rc2)
    assert torch.equal(a[:, :, :-1], b[:, :, :-1]) and not torch.allclose(a[:, :, -1],
                                                                             b[:, :, -1])
    with pytest.raises(ValueError, match="row_cond"):
        net.log_prob(x)
    with pytest.raises(ValueError, match="expected"):
        net.log_prob(x, row_cond=rc[:, :, :-1])


# ---------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors(fitted):
    y = _levels_stream(40)
    with pytest.raises(ValueError, match="context \\+ horizon = 6"):
        _forecaster().fit(y[:5])
    with pytest.raises(ValueError, match="context=4"):
        fitted.predict(y=y[:3])
    with pytest.raises(ValueError, match="7 bins .* fitted on 5 bins"):
        fitted.predict(y=_levels_stream(10, w=7))
    bad = y.astype(float)
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(y=bad)
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="inf"):
        fitted.score(bad)
    with pytest.raises(ValueError, match="integers 0..3"):
        _forecaster(transform="levels").fit(y + 0.5)
    with pytest.raises(ValueError, match="signal-image"):
        fitted.predict(y=np.zeros(10))
    with pytest.raises(TypeError, match="image density"):
        SignalImageForecaster(density="gated").fit(y)
    with pytest.raises(ValueError, match="transform"):
        SignalImageForecaster(transform="log").fit(y)
    with pytest.raises(ValueError, match="horizon"):
        _forecaster(horizon=0).fit(y)
    with pytest.raises(ValueError, match=r"y\[1\] has 3 rows, fewer than context=4"):
        _forecaster().fit([y, y[:3]])
    with pytest.raises(ValueError, match="n_levels"):
        SignalImageForecaster(GatedPixelCNNDensity(n_levels=1, **TINY)).fit(y.astype(float))
    with pytest.raises(ValueError, match=r"found 9\.5\. Use"):
        _forecaster(transform="levels").fit(np.r_[y[:-1], np.full((1, 5), 9.5)])
    with pytest.raises(ValueError, match="one row per row of y"):
        _forecaster().fit(y, X=np.ones((40, 1))).score(y)


def test_covariate_frames_must_line_up_with_the_stream():
    idx = pd.date_range("2020", periods=50, freq="h")
    y = pd.DataFrame(_levels_stream(40), index=idx[:40])
    X = pd.DataFrame({"u": np.sin(np.arange(50.0)), "v": np.arange(50.0) / 50}, index=idx)
    f = _forecaster(horizon=2).fit(y, X=X.iloc[:40])
    assert f.covariate_names_ == ["u", "v"]
    f.predict(X=X.iloc[40:42])
    with pytest.raises(ValueError, match="fitted with \\['u', 'v'\\]"):
        f.predict(X=X.iloc[40:42][["v", "u"]])
    with pytest.raises(ValueError, match="after the history's end"):
        f.predict(X=X.iloc[:2])
    with pytest.raises(ValueError, match="index does not match y's"):
        f.score(y, X=X.iloc[10:50])


def test_a_short_validation_tail_is_widened_to_one_window():
    # 10% of 40 rows is 4, fewer than one window (context 4 + horizon 2): the tail takes 6 rows
    d = GatedPixelCNNDensity(n_levels=4, **{**TINY, "validation_fraction": 0.1, "max_epochs": 2})
    f = SignalImageForecaster(d, horizon=2, context=4, n_paths=4, random_state=0)
    f.fit(_levels_stream(40))
    assert len(f.val_loss_curve_) == 2


# ---------------------------------------------------------------------------- persistence
def test_save_load_round_trip(tmp_path, fitted_cov):
    f, y, X = fitted_cov
    path = tmp_path / "sif.pt"
    f.save(path)
    g = tsargen.load(path)
    assert isinstance(g, SignalImageForecaster) and isinstance(g.density, GatedPixelCNNDensity)
    future = np.ones((2, 1))
    assert np.array_equal(g.predict(X=future), f.predict(X=future))
    np.testing.assert_array_equal(g.score_steps(y[:12], X=X[:12]), f.score_steps(y[:12], X=X[:12]))
    h = pickle.loads(pickle.dumps(f))
    assert np.array_equal(h.predict(X=future), f.predict(X=future))

    q = SignalImageForecaster(GatedPixelCNNDensity(n_levels=5, **TINY), transform="mu_law",
                              horizon=1, context=2, n_paths=3, random_state=0)
    q.fit(np.sin(np.arange(40)[:, None] + np.arange(3)[None]))
    q.save(path)
    assert np.array_equal(tsargen.load(path).predict(), q.predict())


def test_a_failed_or_interrupted_refit_keeps_the_previous_model(monkeypatch):
    f = _forecaster().fit(_levels_stream())
    before = f.predict()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("tsargen.estimators._image_density._image_nll", interrupt)
    with pytest.raises(KeyboardInterrupt):
        f.fit(_levels_stream(60, w=7, seed=3))          # other bins: every attribute would change
    assert f.n_bins_ == 5
    np.testing.assert_array_equal(f.predict(), before)
    g = _forecaster()
    with pytest.raises(KeyboardInterrupt):
        g.fit(_levels_stream())
    assert not [k for k in vars(g) if k.endswith("_")]
