"""Metrics against direct definitions; their input checks; the backtest's scoring."""

import numpy as np
import pandas as pd
import pytest

from tsargen.metrics import bits_per_dim, crps, mase, quantile_loss, smape
from tsargen.model_selection import backtest


def test_crps_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(60, 3, 2))
    y = rng.normal(size=(3, 2))
    direct = (np.abs(samples - y).mean(0)
              - 0.5 * np.abs(samples[:, None] - samples[None]).mean((0, 1)))
    np.testing.assert_allclose(crps(y, samples), direct, atol=1e-12)


def test_crps_of_gaussian_samples_approaches_closed_form():
    from scipy.stats import norm
    rng = np.random.default_rng(1)
    z = 0.7
    closed = z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi)
    assert crps(np.array([z]), rng.normal(size=(200000, 1)))[0] == pytest.approx(closed, abs=5e-3)


def test_mase_smape_quantile_loss_bits():
    y_train = np.array([1.0, 3, 2, 4, 3, 5])
    assert mase([6.0, 7.0], [5.0, 5.0], y_train) == pytest.approx(1.5 / 1.6)
    assert mase([6.0, 7.0], [5.0, 5.0], y_train, sp=2) == pytest.approx(1.5 / 1.0)
    assert smape([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert smape([1.0], [3.0]) == pytest.approx(100.0)
    ql = quantile_loss(np.array([1.0, 2.0]), np.array([[0.0, 1.0], [2.0, 3.0]]), [0.1, 0.9])
    np.testing.assert_allclose(ql, [(0.1 * 1 + 0) / 2, (0 + 0.1 * 1) / 2])
    assert bits_per_dim(-np.log(2) * 8, 8) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        smape([1.0, 2.0], [1.0])


def test_crps_accepts_the_forecasters_sample_shapes():
    rng = np.random.default_rng(2)
    y, paths = rng.normal(size=4), rng.normal(size=(30, 4))
    expected = crps(y, paths)
    np.testing.assert_allclose(crps(y, paths[:, :, None]), expected)     # sample(): (n, h, 1)
    np.testing.assert_allclose(crps(y[:, None], paths)[:, 0], expected)
    idx = pd.date_range("2024-01-01", periods=4, freq="D")
    rows = pd.MultiIndex.from_product([range(30), idx], names=["sample", "time"])
    long = pd.DataFrame({"v": paths.ravel()}, index=rows)               # sample() of a Series
    np.testing.assert_allclose(crps(pd.Series(y, index=idx), long), expected)
    with pytest.raises(ValueError, match="different times"):
        crps(pd.Series(y, index=idx + pd.Timedelta("1D")), long)
    with pytest.raises(ValueError, match="shape"):
        crps(y, paths[:, :3, None])


def test_metrics_refuse_misaligned_pandas():
    idx = pd.date_range("2020-01-01", periods=10, freq="D")
    yt = pd.Series(np.arange(10.0) + 1, index=idx)
    assert mase(yt, yt + 0.5, np.arange(30.0)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="different indexes"):
        mase(yt, (yt + 0.5).iloc[::-1], np.arange(30.0))
    with pytest.raises(ValueError, match="different indexes"):
        smape(yt, (yt + 0.5).shift(1, freq="D"))
    with pytest.raises(ValueError, match="different indexes"):
        quantile_loss(yt, pd.DataFrame({0.5: yt.to_numpy()}).iloc[::-1], [0.5])
    frame = pd.DataFrame({"a": yt, "b": 2 * yt})
    with pytest.raises(ValueError, match="different columns"):
        smape(frame, frame[["b", "a"]])
    assert smape(yt, (yt + 0.5).to_numpy()) > 0                        # arrays: by position


def test_mase_validates_sp_and_channels():
    y_train = np.arange(6.0) ** 2
    for sp in (0, 1.5, True):
        with pytest.raises(ValueError, match="sp must be a positive integer"):
            mase([1.0, 2.0], [1.0, 3.0], y_train, sp=sp)
    with pytest.raises(ValueError, match="more than sp=6"):
        mase([1.0, 2.0], [1.0, 3.0], y_train, sp=6)
    with pytest.raises(ValueError, match="y_train has 3 channel"):
        mase(np.ones((3, 2)), np.zeros((3, 2)), np.ones((9, 3)).cumsum(0))
    assert mase(np.ones((2, 1)), np.zeros((2, 1)), y_train) == mase(np.ones(2), np.zeros(2),
                                                                       y_train)


def test_quantile_loss_validates_levels():
    y, yq = np.array([1.0, 2.0]), np.array([[1.5], [2.5]])
    for bad in ([1.5], [0.0], [np.nan]):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            quantile_loss(y, yq, bad)
    with pytest.raises(ValueError, match="1 quantile.*quantiles lists 2"):
        quantile_loss(y, yq, [0.1, 0.9])
    np.testing.assert_allclose(quantile_loss(y, yq[:, 0], 0.5), quantile_loss(y, yq, [0.5]))


# ---------------------------------------------------------------------- backtest
class _Wide:
    """Intervals about 2e6 wide around the training mean: every observed value is covered.
    Refuses fewer than ``min_length`` training steps, like a model with a receptive field."""

    def __init__(self, min_length=1):
        self.min_length = min_length

    def get_params(self, deep=True):
        return {"min_length": self.min_length}

    def set_params(self, **params):
        self.min_length = params.get("min_length", self.min_length)
        return self

    def fit(self, y):
        if len(y) < self.min_length:
            raise ValueError(f"y has {len(y)} timesteps but the receptive field is "
                             f"{self.min_length}.")
        self.mean_ = float(np.nanmean(np.asarray(y, dtype=float)))
        return self

    def predict(self, horizon):
        return np.full(horizon, self.mean_)

    def sample(self, n, horizon, random_state=None):
        return self.mean_ + np.linspace(-1e6, 1e6, n)[:, None] * np.ones(horizon)


def test_backtest_coverage_skips_missing_truth():
    y = np.arange(50.0)
    y[-1] = np.nan
    table = backtest(_Wide(), y, horizon=5, n_origins=1, n_samples=11)
    assert table["coverage_0.1_0.9"].item() == 1.0


def test_backtest_names_the_origin_and_refuses_a_list():
    y = np.sin(np.arange(100) / 3)
    with pytest.raises(ValueError, match=r"origin 10 \(training on the first 10 timesteps.*"
                                         "receptive field is 32"):
        backtest(_Wide(min_length=32), y, horizon=5, n_origins=18, n_samples=4)
    with pytest.raises(ValueError, match="one series.*list of 2 series"):
        backtest(_Wide(), [y, y], horizon=5, n_origins=2, n_samples=4)


def test_quantile_loss_reads_a_variable_quantile_frame():
    """The ``(variable, quantile)`` columns ``predict_quantiles`` writes for a DataFrame."""
    rng = np.random.default_rng(3)
    idx = pd.date_range("2020-01-01", periods=6, freq="D")
    truth = pd.DataFrame(rng.normal(size=(6, 2)), index=idx, columns=["a", "b"])
    levels = [0.1, 0.5, 0.9]
    values = rng.normal(size=(6, 2, 3))                                  # (T, C, Q)
    cols = pd.MultiIndex.from_product([["a", "b"], levels], names=["variable", "quantile"])
    frame = pd.DataFrame(values.reshape(6, 6), index=idx, columns=cols)
    expected = quantile_loss(truth.to_numpy(), values, levels)
    np.testing.assert_allclose(quantile_loss(truth, frame, levels), expected)
    # the levels are looked up by label, so their order in the call is the output's order
    np.testing.assert_allclose(quantile_loss(truth, frame, levels[::-1]), expected[::-1])
    np.testing.assert_allclose(quantile_loss(truth[["a"]], frame[["a"]], levels),
                               quantile_loss(truth["a"].to_numpy(), values[:, 0], levels))
    with pytest.raises(ValueError, match=r"quantiles of \['a', 'b'\] but y_true has the columns "
                                         r"\['b', 'a'\]"):
        quantile_loss(truth[["b", "a"]], frame, levels)
    with pytest.raises(ValueError, match=r"no column \('a', 0.25\)"):
        quantile_loss(truth, frame, [0.25])
    with pytest.raises(ValueError, match="different indexes"):
        quantile_loss(truth, frame.iloc[::-1], levels)
