"""Metrics against direct definitions."""

import numpy as np
import pytest

from tsargen.metrics import bits_per_dim, crps, mase, quantile_loss, smape


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
