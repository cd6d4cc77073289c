"""WaveNetForecaster: learning, probabilistic calibration, pandas, covariates, update."""

import numpy as np
import pandas as pd
import pytest
import torch

from tsargen import IrregularIndexWarning, WaveNetDensity, WaveNetForecaster

from .conftest import TINY


def test_ar2_one_step_rmse_near_noise_level(ar2):
    f = WaveNetForecaster(n_layers=4, residual_channels=16, skip_channels=16, max_epochs=30,
                          random_state=0).fit(ar2[:2500])
    # one-step forecasts from every origin in one batch: the model's conditional means
    preds = np.array([f.predict(1, y=ar2[:t])[0] for t in range(2500, 2700)])
    rmse = np.sqrt(np.mean((preds - ar2[2500:2700]) ** 2))
    assert rmse < 1.10                                     # noise sd is 1


@pytest.mark.slow
def test_noisy_sine_interval_coverage():
    rng = np.random.default_rng(0)
    t = np.arange(2400)
    y = np.sin(2 * np.pi * t / 25) + 0.3 * rng.normal(size=t.size)
    f = WaveNetForecaster(n_layers=5, residual_channels=16, skip_channels=16, max_epochs=25,
                          n_paths=300, random_state=0).fit(y[:2000])
    hits = []
    for origin in range(2000, 2400 - 10, 40):
        lo_hi = f.predict_interval(10, coverage=0.8, y=y[:origin])
        truth = y[origin:origin + 10]
        hits.append((truth >= lo_hi[:, 0]) & (truth <= lo_hi[:, 1]))
    coverage = np.mean(hits)
    assert 0.70 <= coverage <= 0.90, coverage


def test_predict_is_deterministic_and_summarises_paths(ar2):
    f = WaveNetForecaster(**TINY, horizon=5).fit(ar2[:500])
    a, b = f.predict(), f.predict()
    assert a.shape == (5,) and np.array_equal(a, b)
    q = f.predict_quantiles(quantiles=(0.05, 0.5, 0.95))
    assert q.shape == (5, 3) and np.all(np.diff(q, axis=1) >= 0)
    np.testing.assert_allclose(q[:, 1], a)                 # median of the same paths
    paths = f.sample(f.n_paths, random_state=f.random_state)[:, :, 0]
    np.testing.assert_allclose(np.median(paths, axis=0), a)  # ...which sample() returns
    s1 = f.sample(7, random_state=3)
    assert s1.shape == (7, 5, 1)
    assert np.array_equal(s1, f.sample(7, random_state=3))
    assert not np.array_equal(s1, f.sample(7, random_state=4))


def test_pandas_in_pandas_out_with_future_index():
    idx = pd.date_range("2021-01-01", periods=300, freq="h")
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(300, 2)).cumsum(0), index=idx, columns=["a", "b"])
    f = WaveNetForecaster(**TINY, horizon=4).fit(df)
    p = f.predict()
    assert isinstance(p, pd.DataFrame) and list(p.columns) == ["a", "b"]
    assert list(p.index) == list(pd.date_range("2021-01-13 12:00", periods=4, freq="h"))
    q = f.predict_quantiles(quantiles=(0.1, 0.9))
    assert q.columns.tolist() == [("a", 0.1), ("a", 0.9), ("b", 0.1), ("b", 0.9)]
    iv = f.predict_interval(coverage=0.5)
    assert iv.columns.tolist() == [("a", 0.5, "lower"), ("a", 0.5, "upper"),
                                   ("b", 0.5, "lower"), ("b", 0.5, "upper")]
    several = f.predict_interval(coverage=[0.5, 0.9])
    assert several.columns.names == ["variable", "coverage", "bound"]
    assert several.columns.tolist()[:4] == [("a", 0.5, "lower"), ("a", 0.5, "upper"),
                                            ("a", 0.9, "lower"), ("a", 0.9, "upper")]
    np.testing.assert_array_equal(several.xs(0.5, axis=1, level="coverage").to_numpy(),
                                  iv.to_numpy())
    s = f.sample(3)
    assert s.shape == (12, 2) and s.index.names == ["sample", "time"]
    steps = f.score_steps(df)
    assert isinstance(steps, pd.DataFrame) and steps.index.equals(df.index)
    # a series: pd.Series out, named like the input
    ser = df["a"].rename("load")
    g = WaveNetForecaster(**TINY, horizon=2).fit(ser)
    out = g.predict()
    assert isinstance(out, pd.Series) and out.name == "load" and out.index[0] == idx[-1] + idx.freq


def test_trading_days_with_holidays_continue_on_business_days():
    days = pd.bdate_range("2022-01-03", periods=200)     # weekends missing, ends on a Friday
    idx = days.delete([10, 50])                           # and a couple of holidays
    y = pd.Series(np.random.default_rng(2).normal(size=len(idx)), index=idx)
    with pytest.warns(IrregularIndexWarning, match="2 steps are missing"):
        f = WaveNetForecaster(**TINY, horizon=3).fit(y)
    assert list(f.predict().index) == list(pd.bdate_range(idx[-1], periods=4)[1:])


@pytest.mark.parametrize("freq, tz", [("MS", None), ("ME", None), ("QS", None), ("QE-NOV", None),
                                      ("YS", None), ("W-WED", None), ("B", "US/Eastern"),
                                      ("D", None)])
def test_calendar_index_with_gaps_keeps_its_calendar(freq, tz):
    from tsargen.timeindex import future_index
    full = pd.date_range("2001-01-01 09:00", periods=40, freq=freq, tz=tz)
    idx = full[:36].delete([4, 20])                        # no inferable freq any more
    assert pd.infer_freq(idx) is None
    assert list(future_index(idx, 4)) == list(full[36:])


@pytest.mark.parametrize("months, gaps", [(1, []), (1, [5, 17]), (3, [2]), (12, [])])
def test_data_stamped_mid_month_keeps_its_day(months, gaps):
    from tsargen.timeindex import future_index
    full = pd.date_range("2001-01-15", periods=30, freq=pd.DateOffset(months=months))
    idx = pd.DatetimeIndex(full[:26].delete(gaps).to_numpy())    # as read from a file: no freq
    assert idx.freq is None and pd.infer_freq(idx) is None
    assert list(future_index(idx, 4)) == list(full[26:])    # not 31-day steps off the 15th


def test_intraday_gaps_extend_by_most_common_step():
    from tsargen.timeindex import future_index
    day = pd.date_range("2020-01-02 09:30", periods=390, freq="min")    # market hours
    idx = day.append(day + pd.Timedelta(1, "D"))
    assert list(future_index(idx, 2)) == [pd.Timestamp("2020-01-03 16:00"),
                                          pd.Timestamp("2020-01-03 16:01")]


def test_elapsed_time_index_and_index_names_carry_over():
    y = pd.Series(np.random.default_rng(3).normal(size=200),
                  index=pd.timedelta_range(0, periods=200, freq="5s", name="elapsed"))
    p = WaveNetForecaster(**TINY, horizon=2).fit(y).predict()
    assert list(p.index) == [pd.Timedelta(seconds=1000), pd.Timedelta(seconds=1005)]
    assert p.index.name == "elapsed"
    z = y.set_axis(pd.date_range("2020", periods=200, freq="D", name="day"))
    assert WaveNetForecaster(**TINY, horizon=2).fit(z).predict().index.name == "day"


def test_column_names_and_levels_carry_over(tmp_path):
    import tsargen
    cols = pd.MultiIndex.from_product([["store1"], ["a", "b"]], names=["store", "item"])
    df = pd.DataFrame(np.random.default_rng(4).normal(size=(150, 2)), columns=cols,
                      index=pd.date_range("2020", periods=150, freq="D", name="day"))
    f = WaveNetForecaster(**TINY, horizon=2).fit(df)
    for out in (f.predict(), f.sample(3), f.score_steps(df)):
        assert out.columns.equals(cols) and out.columns.names == ["store", "item"]
    assert f.predict()["store1"].shape == (2, 2)
    f.save(tmp_path / "m.tsargen")
    assert tsargen.load(tmp_path / "m.tsargen").predict().columns.equals(cols)
    flat = df.droplevel(0, axis=1).rename_axis(columns="item")
    assert WaveNetForecaster(**TINY, horizon=2).fit(flat).predict().columns.name == "item"


def test_numeric_event_time_index():
    y = pd.Series(np.random.default_rng(3).normal(size=200), index=np.arange(0, 400, 2))
    f = WaveNetForecaster(**TINY, horizon=3).fit(y)
    assert list(f.predict().index) == [400, 402, 404]


def test_list_of_series_global_model():
    rng = np.random.default_rng(4)
    ys = [rng.normal(size=n).cumsum() for n in (200, 150, 300)]
    f = WaveNetForecaster(**TINY, horizon=6).fit(ys)
    preds = f.predict()
    assert isinstance(preds, list) and [p.shape for p in preds] == [(6,)] * 3
    assert f.scaler_["loc"].shape == (3, 1)


@pytest.mark.parametrize("params", [{}, {"differences": 1}])
def test_global_model_forecasts_new_series_with_their_own_scaling(params):
    """Histories other than the fitted ones are new series: each is forecast with its own
    history's mean and scale, so forecasts follow an affine change of units. Their likelihood
    keeps a fixed (pooled) scaling, so it stays autoregressive."""
    rng = np.random.default_rng(5)
    t = np.arange(200)
    small = 10 + np.sin(t / 3) + 0.1 * rng.normal(size=200)
    big = 10_000 + 1000 * np.sin(t / 3) + 100 * rng.normal(size=200)
    f = WaveNetForecaster(**TINY, horizon=4, **params).fit([small, big])
    np.testing.assert_allclose(f.predict(y=1000 * small - 3), 1000 * f.predict(y=small) - 3,
                               rtol=1e-4)
    assert np.abs(f.predict(y=small) - small[-1]).max() < 5          # not at big's level
    bumped = small.copy()
    bumped[150] += 50.0
    a, b = f.score_steps(small), f.score_steps(bumped)
    np.testing.assert_array_equal(a[:150], b[:150])
    assert not np.allclose(a[150:], b[150:])


def test_levels_channels_must_hold_levels():
    rng = np.random.default_rng(7)
    kw = dict(TINY, distribution="categorical", quantization="levels", n_bins=8)
    levels = rng.integers(0, 8, 300).astype(float)
    for bad, what in [(levels + 100, "holds 107"), (np.r_[levels[:-1], 3.5], "holds 3.5"),
                      (np.r_[-1.0, levels[1:]], "holds -1")]:
        with pytest.raises(ValueError, match=f"{what} .*n_bins=8 takes the integers 0..7"):
            WaveNetForecaster(**kw).fit(bad)
    f = WaveNetForecaster(**kw).fit(np.r_[levels[:-1], np.nan])           # NaN: missing
    with pytest.raises(ValueError, match="holds 9"):
        f.score(np.r_[levels[:50], 9.0])
    with pytest.raises(ValueError, match="holds 9"):
        f.predict(y=np.r_[levels[:50], 9.0])
    d = WaveNetDensity(**kw).fit(levels.reshape(10, 30))
    with pytest.raises(ValueError, match="holds 8"):
        d.score_samples(np.r_[levels[:29], 8.0][None])
    with pytest.raises(ValueError, match="holds 2.5"):
        WaveNetDensity(**kw).fit(np.r_[levels[:29], 2.5][None])


def test_constant_series_is_scaled_by_its_magnitude():
    f = WaveNetForecaster(**TINY, horizon=3).fit(np.full(200, 0.001))
    assert f.scaler_["scale"][0, 0] == pytest.approx(0.001)
    assert np.abs(f.predict_interval(coverage=0.9) - 0.001).max() < 0.01


def test_covariates_known_future_are_used():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1200, 1))
    y = 2.0 * x[:, 0] + 0.1 * rng.normal(size=1200)        # y is driven by the covariate
    f = WaveNetForecaster(n_layers=3, residual_channels=16, skip_channels=16, max_epochs=20,
                          horizon=5, random_state=0).fit(y[:1000], X=x[:1000])
    pred = f.predict(5, y=y[:1100], X=x[:1105])
    assert np.abs(pred - y[1100:1105]).max() < 0.5
    with pytest.raises(ValueError, match="rows but"):
        f.predict(5, y=y[:1100], X=x[:1102])
    with pytest.raises(ValueError, match="covariates"):
        f.predict(5)
    assert f.predict(3, X=x[1000:1003]).shape == (3,)


def test_update_appends_context(ar2):
    f = WaveNetForecaster(**TINY, horizon=3).fit(ar2[:400])
    direct = f.predict(y=ar2[:450])
    weights = {k: v.clone() for k, v in f.network_.state_dict().items()}
    f.update(ar2[400:450])
    assert len(f.history_[0]) == 450
    assert all(torch.equal(weights[k], v) for k, v in f.network_.state_dict().items())
    # same context, but the stored scaler is kept, so compare against the same history scaled
    # by the fitted statistics: forecasts must follow the new data, not the old end point
    assert f.predict().shape == direct.shape
    assert not np.array_equal(f.predict(), WaveNetForecaster(**TINY, horizon=3)
                              .fit(ar2[:400]).predict())


def test_update_checks_time_order():
    idx = pd.date_range("2020", periods=200, freq="D")
    y = pd.Series(np.random.default_rng(6).normal(size=200), index=idx)
    f = WaveNetForecaster(**TINY).fit(y.iloc[:150])
    with pytest.raises(ValueError, match="not after"):
        f.update(y.iloc[100:160])
    with pytest.raises(ValueError, match="does not continue"):
        f.update(y.iloc[150:].reset_index(drop=True))
    with pytest.raises(ValueError, match="does not continue"):
        f.update(y.iloc[150:].tz_localize("UTC"))
    f.update(y.iloc[150:])
    assert f.predict(2).index[0] == idx[-1] + pd.Timedelta("1D")


def test_score_and_multichannel_joint(ar2):
    y = np.stack([ar2[:600], np.roll(ar2[:600], 1) + 0.1 * ar2[:600]], 1)
    f = WaveNetForecaster(**TINY, channel_dependence="joint").fit(y)
    steps = f.score_steps(y)
    assert steps.shape == (600, 2)
    assert f.score(y) == pytest.approx(np.nansum(steps, 1).mean())
    assert f.sample(5, 4).shape == (5, 4, 2)


def test_mixed_per_channel_heads():
    rng = np.random.default_rng(7)
    kind = rng.integers(0, 3, size=500).astype(float)
    size = np.exp(rng.normal(size=500))
    y = pd.DataFrame({"kind": kind, "size": size})
    f = WaveNetForecaster(**TINY, distribution={
        "kind": {"name": "categorical", "n_bins": 3, "quantization": "levels"},
        "size": "student_t"}).fit(y)
    s = f.sample(20, 3, random_state=0)
    assert set(np.unique(s["kind"])) <= {0.0, 1.0, 2.0}
    assert np.isfinite(f.score_steps(y).to_numpy()).all()


def test_nan_targets_are_missing_values(ar2):
    y = ar2[:800].copy()
    y[100:130] = np.nan
    f = WaveNetForecaster(**TINY).fit(y)
    assert np.isfinite(f.loss_curve_).all()
    steps = f.score_steps(y)
    assert np.isnan(steps[100:130]).all() and np.isfinite(steps[131:]).all()
    assert np.isfinite(f.predict(3, y=y[:120])).all()     # history ending in missing values


def test_differences_extrapolate_a_trend():
    rng = np.random.default_rng(8)
    y = np.cumsum(0.5 + rng.normal(size=1100))          # random walk with drift, ends near 550
    truth = y[1000:1010]
    errs = {}
    for d in (0, 1):   # global scaling: levels outside the training range need differencing
        f = WaveNetForecaster(**{**TINY, "max_epochs": 5}, differences=d,
                              scaling="global").fit(y[:600])
        errs[d] = np.abs(f.predict(10, y=y[:1000]) - truth).mean()
    assert errs[1] < 6.0 < 50.0 < errs[0]                 # levels far outside the training range
    f = WaveNetForecaster(**TINY, differences=1).fit(y[:600])
    steps = f.score_steps(y[:300])
    assert np.isnan(steps[0]) and np.isfinite(steps[1:]).all()
    np.testing.assert_allclose(f.score_steps(y[:300] + 1000.0), steps, rtol=1e-6, atol=1e-6)
    paths = f.sample(20, 5, y=y[:300], random_state=0)[:, :, 0]
    assert abs(np.median(paths[:, 0]) - y[299]) < 5      # anchored on the last value


@pytest.mark.parametrize("noise", [0.2, 0.005], ids=["noisy", "steady"])
def test_differenced_series_are_scaled_not_centred_and_the_drift_is_learnt(noise):
    rng = np.random.default_rng(9)
    y = np.cumsum(0.5 + noise * rng.normal(size=600))   # strong drift, small noise
    f = WaveNetForecaster(**{**TINY, "max_epochs": 20}, differences=1).fit(y)
    assert np.all(f.scaler_["loc"] == 0.0)
    # the root-mean-square about 0: scaled differences are O(1) however steady the trend
    # (scaled by their spread alone, the steady ones would sit near 100)
    rms = np.sqrt(np.mean(np.diff(y) ** 2))
    assert f.scaler_["scale"][0, 0] == pytest.approx(rms, rel=1e-6)
    steps = np.diff(f.predict(10), prepend=y[-1])
    assert abs(steps.mean() - 0.5) < 0.1                  # the network learnt the drift


def test_second_differences_integrate_exactly():
    t = np.arange(400, dtype=float)
    y = 0.01 * t ** 2                                     # second differences are exactly 0.02
    f = WaveNetForecaster(**{**TINY, "max_epochs": 1}, differences=2).fit(y)
    draws = np.full((2, 3, 1), 0.02)                      # paths of second differences
    levels = f._integrate(draws, y[:, None])
    np.testing.assert_allclose(levels[:, :, 0], np.tile(0.01 * np.arange(400, 403) ** 2, (2, 1)))
    assert f.predict(3).shape == (3,)


def test_differences_reject_levels_and_bad_values():
    with pytest.raises(ValueError, match="differences"):
        WaveNetForecaster(**TINY, differences=-1).fit(np.ones(100))
    with pytest.raises(ValueError, match="integer-level"):
        WaveNetForecaster(**TINY, differences=1, distribution="categorical",
                          quantization="levels", n_bins=3).fit(np.zeros(100))


@pytest.mark.parametrize("kw", [{}, {"differences": 1}, {"seasonal_lag": 8, "differences": 1}])
def test_score_steps_black_box_causal(ar2, kw):
    """Perturbing y[t] (hugely, so any data-dependent rescaling would show) changes no score
    before t; the scores from t on do change. The first s + d steps are undefined (NaN)."""
    y = ar2[:300]
    f = WaveNetForecaster(**kw, **TINY).fit(y)
    base = f.score_steps(y)
    lost = kw.get("seasonal_lag", 0) + kw.get("differences", 0)
    assert np.isnan(base[:lost]).all() and np.isfinite(base[lost:]).all()
    for t in (40, 150, 299):
        bumped = y.copy()
        bumped[t] += 50.0
        steps = f.score_steps(bumped)
        np.testing.assert_array_equal(steps[:t], base[:t])
        assert steps[t] != base[t]


def _seasonal(n, period=8, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    return np.sin(2 * np.pi * np.arange(n) / period) + noise * rng.normal(size=n)


@pytest.mark.parametrize("differences", [0, 1])
def test_seasonal_lag_likelihood_is_exact_in_original_units(differences):
    """score_steps equals a hand computation: the network's Gaussian for the (differenced)
    seasonal difference, shifted back by the known past and rescaled to original units."""
    from scipy.stats import norm

    from tsargen.nn.heads import MIN_SCALE

    s = 8
    y = _seasonal(200) + np.linspace(0, 3, 200)
    f = WaveNetForecaster(**{**TINY, "max_epochs": 1}, seasonal_lag=s,
                          differences=differences, scaling="global").fit(y)
    w = np.full_like(y, np.nan)
    w[s:] = y[s:] - y[:-s]
    m = w.copy()
    if differences:
        m[1:] = np.diff(w)
        m[:s + 1] = np.nan
    loc, scale = f.scaler_["loc"][0, 0], f.scaler_["scale"][0, 0]
    rf = f.receptive_field_
    x = np.concatenate([np.full(rf, np.nan), (m - loc) / scale])
    with torch.no_grad():
        raw = f.network_(torch.tensor(x, dtype=torch.float32)[None, None])[0].double()
    mu, sd = raw[0, rf:].numpy(), (torch.nn.functional.softplus(raw[1, rf:]) + MIN_SCALE).numpy()
    # the level's predictive mean: known past (one season earlier, plus the last seasonal
    # difference for d=1) + the network's mean; its sd: the network's, in original units
    t = np.arange(s + differences, 200)
    past = y[t - s] + (w[t - 1] if differences else 0.0)
    expected = norm.logpdf(y[t], past + loc + scale * mu[t], scale * sd[t])
    steps = f.score_steps(y)
    assert np.isnan(steps[:s + differences]).all()
    np.testing.assert_allclose(steps[t], expected, rtol=1e-4, atol=1e-4)
    assert f.score(y) == pytest.approx(expected.mean(), rel=1e-4)


def test_seasonal_lag_integrates_a_periodic_series_exactly():
    s = 12
    pattern = np.random.default_rng(3).normal(size=s)
    y = np.tile(pattern, 20) + 0.5                        # purely periodic: seasonal diffs are 0
    f = WaveNetForecaster(**{**TINY, "max_epochs": 1}, seasonal_lag=s).fit(y)
    zeros = np.zeros((3, 30, 1))                          # paths of seasonal differences
    levels = f._integrate(zeros, y[:, None])
    np.testing.assert_allclose(levels[:, :, 0], np.tile(np.tile(pattern, 3)[:30] + 0.5, (3, 1)))
    # a constant seasonal difference c adds c per season ahead; with d=1, zero second-order
    # draws continue the last seasonal difference
    levels = f._integrate(np.full((1, 30, 1), 2.0), y[:, None])[0, :, 0]
    np.testing.assert_allclose(levels, np.tile(pattern, 3)[:30] + 0.5
                               + 2.0 * (1 + np.arange(30) // s))
    g = WaveNetForecaster(**{**TINY, "max_epochs": 1}, seasonal_lag=s, differences=1).fit(y)
    trend = y + 0.1 * np.arange(y.size)                   # seasonal differences all 1.2
    levels = g._integrate(np.zeros((1, 30, 1)), trend[:, None])[0, :, 0]
    np.testing.assert_allclose(levels, np.tile(pattern, 3)[:30] + 0.5
                               + 0.1 * np.arange(y.size, y.size + 30))
    # a network whose draws are near 0 reproduces the pattern: the forecast of a periodic series
    p = f.predict(30)
    assert p.shape == (30,)
    assert np.abs(p - (np.tile(pattern, 3)[:30] + 0.5)).max() < 0.5 * np.abs(pattern).max()


def test_seasonal_lag_forecast_with_pandas_and_history():
    idx = pd.date_range("2021-01-01", periods=240, freq="h")
    y = pd.Series(_seasonal(240, period=24), index=idx, name="load")
    f = WaveNetForecaster(**TINY, horizon=30, seasonal_lag=24).fit(y)
    p = f.predict()
    assert isinstance(p, pd.Series) and p.name == "load" and len(p) == 30
    assert p.index[0] == idx[-1] + pd.Timedelta("1h")
    paths = f.sample(5, 30, y=y.iloc[:100], random_state=0)
    assert paths.shape == (150, 1) and np.isfinite(paths.to_numpy()).all()
    with pytest.raises(ValueError, match="seasonal_lag=24"):
        f.predict(3, y=y.iloc[:20])                       # too short to anchor a season


@pytest.mark.parametrize("lag", [0, -3, 2.5, True, "24"])
def test_seasonal_lag_rejects_bad_values(lag):
    with pytest.raises(ValueError, match="seasonal_lag"):
        WaveNetForecaster(**TINY, seasonal_lag=lag).fit(_seasonal(100))


def test_seasonal_lag_rejects_levels_and_short_series():
    with pytest.raises(ValueError, match="integer-level"):
        WaveNetForecaster(**TINY, seasonal_lag=4, distribution="categorical",
                          quantization="levels", n_bins=3).fit(np.zeros(100))
    with pytest.raises(ValueError, match="seasonal_lag"):
        WaveNetForecaster(**TINY, seasonal_lag=100).fit(_seasonal(60))


def test_seasonal_lag_params_clone_and_save_round_trip(tmp_path):
    from sklearn.base import clone

    import tsargen

    f = WaveNetForecaster(**TINY, seasonal_lag=8, differences=1, horizon=10)
    assert f.get_params()["seasonal_lag"] == 8
    assert clone(f).get_params() == f.get_params()
    assert WaveNetForecaster().get_params()["seasonal_lag"] == "auto"
    f.fit(_seasonal(200))
    f.save(tmp_path / "f.pt")
    g = tsargen.load(tmp_path / "f.pt")
    assert g.seasonal_lag == 8
    np.testing.assert_array_equal(g.predict(), f.predict())
    np.testing.assert_array_equal(g.score_steps(_seasonal(100)), f.score_steps(_seasonal(100)))


@pytest.mark.parametrize("params", [{}, {"differences": 1}, {"seasonal_lag": 8}])
def test_predict_from_history_uses_fitted_scaling(ar2, params):
    """A new history is standardised with the fitted scaler: the forecast depends on the last
    context only, not on how much earlier history is passed (nor on its mean and spread)."""
    f = WaveNetForecaster(**TINY, **params).fit(ar2[:500])
    need = f.receptive_field_ + f._n_lost()
    long = np.concatenate([ar2[500:900] * 5.0 + 20.0, ar2[900:1000]])   # odd early history
    np.testing.assert_array_equal(f.predict(6, y=long), f.predict(6, y=long[-need:]))
    np.testing.assert_array_equal(f.sample(4, 6, y=long, random_state=1),
                                  f.sample(4, 6, y=long[-need:], random_state=1))
    # several origins of the one fitted series at once: each still takes the fitted scaling
    np.testing.assert_array_equal(f.predict(6, y=[long, ar2[:300]])[0],
                                  f.predict(6, y=[long[-need:], ar2[:300]])[0])


def test_paths_of_a_series_share_its_priming():
    """predict primes each series once (the network runs over 2 histories, not 2 x n_paths)
    and draws what priming every path on its own draws (a binned head: its draws do not move
    with the float rounding of a batch of another size)."""
    rng = np.random.default_rng(3)
    ys = [rng.normal(size=80), rng.normal(size=60) + 2.0]
    xs = [rng.normal(size=(85, 1)), rng.normal(size=(65, 1))]
    f = WaveNetForecaster(**TINY, horizon=5, distribution="categorical", n_bins=16).fit(
        ys, X=[xs[0][:80], xs[1][:60]])
    rows = []
    hook = f.network_.input.register_forward_hook(lambda m, a, o: rows.append(a[0].shape[0]))
    try:
        f.sample(7, X=[xs[0][80:], xs[1][60:]])
    finally:
        hook.remove()
    assert rows == [2]
    hist = torch.randn(2, 12, 1)
    cond = torch.randn(2, 12 + 5, 1)
    paths = torch.tensor([0, 0, 0, 1, 1])
    shared = f._generate(hist, 5, cond=cond[paths], seed=4, paths=paths)
    assert torch.equal(shared, f._generate(hist[paths], 5, cond=cond[paths], seed=4))
