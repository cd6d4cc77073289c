"""Window scaling and automatic differencing of WaveNetForecaster (its defaults): equivariance,
exact likelihoods under the change of variables, random walks and trends, the choices made."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import norm

from tsargen import WaveNetForecaster
from tsargen.estimators._forecaster import Layout
from tsargen.estimators._persistence import _construct
from tsargen.nn.heads import MIN_SCALE

from .conftest import TINY

PLAIN = dict(differences=0, seasonal_lag=None)          # window scaling alone


def _wavy(n=300, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(t / 5) + 0.02 * t + 0.1 * rng.normal(size=n)


@pytest.mark.parametrize("a", [2.0, 0.37])
@pytest.mark.parametrize("settings", [{}, {"differences": 1}], ids=["auto", "diff"])
def test_forecasts_are_equivariant_to_affine_maps(a, settings):
    """The forecast of a * y + b is a * forecast(y) + b, with b far outside y's range."""
    y, b = _wavy(), 1e4
    kw = {**TINY, "n_paths": 30, **settings}
    f = WaveNetForecaster(**kw).fit(y)
    g = WaveNetForecaster(**kw).fit(a * y + b)
    assert (f.differences_, f.seasonal_lag_) == (g.differences_, g.seasonal_lag_)
    tol = 1e-5 * a * np.abs(y).max()
    np.testing.assert_allclose(g.predict(12), a * f.predict(12) + b, rtol=0, atol=tol)
    np.testing.assert_allclose(g.sample(5, 12, random_state=1),
                               a * f.sample(5, 12, random_state=1) + b, rtol=0, atol=tol)
    # a new history far from anything seen in training: still the same forecast, mapped
    np.testing.assert_allclose(g.predict(6, y=a * y[:200] + b + 5e3),
                               a * f.predict(6, y=y[:200] + 5e3 / a) + b, rtol=0, atol=tol)
    # the likelihood in data units changes by the log-Jacobian -log(a) per element
    np.testing.assert_allclose(g.score_steps(a * y + b), f.score_steps(y) - np.log(a),
                               rtol=0, atol=1e-4)


def test_score_steps_is_the_change_of_variables_by_hand():
    """score_steps = the network's Gaussian for the window-standardised value, with the
    window's statistics computed by hand from the receptive field before each window, mapped
    back to data units (log-Jacobian -log(global scale * window scale))."""
    y = _wavy(150)
    f = WaveNetForecaster(**{**TINY, "max_epochs": 1}, **PLAIN).fit(y)
    loc, scale, floor = (f.scaler_[k][0, 0] for k in ("loc", "scale", "floor"))
    rf, g = f.receptive_field_, (y - loc) / scale
    n = max(rf, 32)
    expected = np.full_like(y, np.nan)
    for s in range(0, len(y), n):
        ctx = g[max(s - rf, 0):s]
        if len(ctx) >= 2:
            w_loc = ctx.mean()
            w_scale = max(np.abs(ctx - w_loc).mean(), floor)
        else:                                     # no past to standardise by
            w_loc, w_scale = 0.0, 1.0
        x = np.concatenate([np.full(rf - len(ctx), np.nan), g[max(s - rf, 0):s + n]])
        z = (x - w_loc) / w_scale
        with torch.no_grad():
            raw = f.network_(torch.tensor(z, dtype=torch.float32)[None, None])[0].double()
        m = len(x) - rf
        mu = raw[0, rf:].numpy()
        sd = (torch.nn.functional.softplus(raw[1, rf:]) + MIN_SCALE).numpy()
        expected[s:s + m] = norm.logpdf(y[s:s + m], loc + scale * (w_loc + w_scale * mu),
                                        scale * w_scale * sd)
    np.testing.assert_allclose(f.score_steps(y), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("settings", [PLAIN, {"differences": 1, "seasonal_lag": None}],
                         ids=["levels", "differenced"])
def test_score_steps_density_integrates_to_one(settings):
    """exp(score_steps) of one step, over a grid of its values given a fixed past, integrates
    to 1 in data units: the window scale's log-Jacobian is accounted for."""
    y = 50.0 + 3.0 * _wavy(120)
    f = WaveNetForecaster(**{**TINY, "max_epochs": 1}, **settings).fit(y)
    t = 100                                        # scored with window statistics
    grid = np.linspace(y[t] - 40.0, y[t] + 40.0, 4001)
    series = [np.concatenate([y[:t], [v]]) for v in grid]
    density = np.exp([s[t] for s in f.score_steps(series)])
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-3)


def test_integer_level_channel_stays_normalised_next_to_a_window_scaled_one():
    """A channel of integer levels (never scaled) conditioned on a window-scaled channel of the
    same step: its probabilities over the levels sum to 1; auto differencing leaves it alone."""
    rng = np.random.default_rng(3)
    y = np.column_stack([100.0 + _wavy(200), rng.integers(0, 4, size=200)]).astype(float)
    f = WaveNetForecaster(**{**TINY, "max_epochs": 1}, distribution={
        0: "gaussian", 1: {"name": "categorical", "quantization": "levels", "n_bins": 4}}).fit(y)
    assert f.differences_ == 0 and f.seasonal_lag_ is None
    series = []
    for level in range(4):
        v = y[:150].copy()
        v[-1, 1] = level
        series.append(v)
    probs = np.exp([s[-1, 1] for s in f.score_steps(series)])
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)


def test_a_random_walk_is_forecast_no_worse_than_the_random_walk():
    """Default settings on random walks: the median forecast's error is within 10% of the
    last value's (the random walk forecast), averaged over three walks and 19 origins each
    (the network may learn the sample drift of its training part, which costs a little)."""
    ours, naive = [], []
    for seed in range(3):
        y = np.cumsum(np.random.default_rng(seed).normal(size=800))
        f = WaveNetForecaster(**{**TINY, "max_epochs": 10}, n_paths=100).fit(y[:600])
        assert f.differences_ == 1
        for origin in range(600, 790, 10):
            truth = y[origin:origin + 10]
            ours.append(np.abs(f.predict(10, y=y[:origin]) - truth).mean())
            naive.append(np.abs(y[origin - 1] - truth).mean())
    assert np.mean(ours) < 1.1 * np.mean(naive)


def test_a_linear_trend_is_extrapolated():
    """Default settings on a noisy line: the forecast follows the slope, ending far closer to
    the line than the last value does."""
    rng = np.random.default_rng(4)
    t = np.arange(520)
    y = 0.5 * t + 0.2 * rng.normal(size=520)
    f = WaveNetForecaster(**{**TINY, "max_epochs": 10}, n_paths=100).fit(y[:500])
    err = np.abs(f.predict(20) - 0.5 * t[500:]).mean()
    assert err < 0.2 * np.abs(y[499] - 0.5 * t[500:]).mean()


def test_auto_differencing_picks_1_on_random_walks_and_0_on_white_noise():
    """100 seeded draws of each, length 300: KPSS at 5% (ndiffs) rejects stationarity on about
    96% of walks (its power at this length) and about 5% of noise; allowed: 7 walks and 10
    noises wrong (binomial tails of about 5% and 1% at those rates; 4 and 4 here)."""
    f, layout = WaveNetForecaster(), [Layout("2d")]
    levels = np.zeros(1, dtype=bool)
    walks = noise = 0
    for seed in range(100):
        e = np.random.default_rng(seed).normal(size=(300, 1))
        walks += f._choose_differencing([np.cumsum(e, axis=0)], layout, levels)[0] == 1
        noise += f._choose_differencing([e], layout, levels)[0] == 0
    assert walks >= 93 and noise >= 90


def test_auto_season_finds_24_on_an_hourly_daily_cycle(capsys):
    rng = np.random.default_rng(5)
    index = pd.date_range("2024-01-01", periods=24 * 40, freq="h")
    hours = np.arange(len(index))
    y = pd.Series(5 * np.sin(2 * np.pi * hours / 24) + rng.normal(size=len(index)), index=index)
    f = WaveNetForecaster(**{**TINY, "max_epochs": 1}, n_paths=10, verbose=True).fit(y)
    assert f.seasonal_lag_ == 24 and f.differences_ == 0
    assert "seasonal_lag_=24" in repr(f)                   # and in the progress bar
    assert "differences_=0, seasonal_lag_=24" in capsys.readouterr().err
    assert WaveNetForecaster(**{**TINY, "max_epochs": 1}, seasonal_lag=None).fit(
        y).seasonal_lag_ is None                   # explicit settings are kept
    noise = pd.Series(rng.normal(size=len(index)), index=index)
    assert WaveNetForecaster(**{**TINY, "max_epochs": 1}).fit(noise).seasonal_lag_ is None


def test_global_and_none_scaling_and_files_predating_scaling():
    y = _wavy(200)
    for scaling in ("global", "none"):
        f = WaveNetForecaster(**{**TINY, "max_epochs": 1}, **PLAIN, scaling=scaling).fit(y)
        assert np.isfinite(f.predict(5)).all() and np.isfinite(f.score_steps(y)).all()
    none = WaveNetForecaster(**{**TINY, "max_epochs": 1}, **PLAIN, scaling="none").fit(y)
    assert none.scaler_["loc"][0, 0] == 0.0 and none.scaler_["scale"][0, 0] == 1.0
    # a saved model without a `scaling` parameter was fitted with global scaling
    assert _construct(WaveNetForecaster, {"horizon": 3}).scaling == "global"
    assert _construct(WaveNetForecaster, {"scaling": "window"}).scaling == "window"


def test_window_scaled_fit_save_load_round_trip(tmp_path):
    import tsargen

    f = WaveNetForecaster(**{**TINY, "max_epochs": 1}, n_paths=20).fit(_wavy(200))
    f.save(tmp_path / "f.pt")
    g = tsargen.load(tmp_path / "f.pt")
    assert (g.differences_, g.seasonal_lag_, g.scaling) == (f.differences_, f.seasonal_lag_,
                                                            "window")
    np.testing.assert_array_equal(g.predict(7), f.predict(7))
    np.testing.assert_array_equal(g.score_steps(_wavy(90)), f.score_steps(_wavy(90)))
