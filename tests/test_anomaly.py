"""anomaly_score: infinite steps, trailing windows, density panels and bad arguments."""

import numpy as np
import pandas as pd
import pytest

from tsargen.anomaly import anomaly_score


def test_window_keeps_an_impossible_step_and_skips_missing_ones():
    ll = np.array([-1.0, -1.0, -np.inf, -1.0, -1.0])
    np.testing.assert_array_equal(anomaly_score(ll), [1, 1, np.inf, 1, 1])
    np.testing.assert_array_equal(anomaly_score(ll, window=2), [1, 1, np.inf, np.inf, 1])
    assert anomaly_score(ll, segments=[(0, 2), (1, 4)]).tolist() == [1.0, np.inf]
    # otherwise unchanged: the trailing mean over the observed steps, as pandas rolling gives
    rng = np.random.default_rng(0)
    ll = rng.normal(size=(300, 2))
    ll[rng.random(ll.shape) < 0.2] = np.nan
    ll[100:110] = np.nan                                        # ten steps fully missing
    steps = anomaly_score(ll)
    expected = pd.Series(steps).rolling(4, min_periods=1).mean().to_numpy()
    np.testing.assert_allclose(anomaly_score(ll, window=4), expected, rtol=1e-12, atol=1e-12)
    assert np.isnan(anomaly_score(ll, window=4)[103:110]).all()  # no observed step in window


def test_density_panel():
    rng = np.random.default_rng(1)
    panel = rng.normal(size=(3, 12, 2))
    for arr in (panel, panel[..., 0]):                          # (n, T, C) and (n, T)
        per_series = np.stack([anomaly_score(a, window=3) for a in arr])
        np.testing.assert_allclose(anomaly_score(arr, window=3, panel=True), per_series)
        by_segment = anomaly_score(arr, segments=[(0, 4), (4, 12)], panel=True)
        assert by_segment.shape == (3, 2)
        np.testing.assert_allclose(by_segment[2], anomaly_score(arr[2], segments=[(0, 4), (4, 12)]))
    ragged = [panel[0, :, 0], panel[1, :7, 0]]                  # unequal lengths: a list
    out = anomaly_score(ragged, window=3, panel=True)
    assert [len(s) for s in out] == [12, 7]
    np.testing.assert_allclose(out[1], anomaly_score(ragged[1], window=3))
    with pytest.raises(ValueError, match=r"outside \[0, 7\] of series 1"):
        anomaly_score(ragged, segments=[(0, 10)], panel=True)
    with pytest.raises(ValueError, match="panel=True"):
        anomaly_score(panel)
    with pytest.raises(ValueError, match="panel=True"):
        anomaly_score(ragged)


def test_density_score_steps_gives_one_row_per_series():
    from tsargen import WaveNetDensity
    X = np.random.default_rng(0).normal(size=(6, 16))
    d = WaveNetDensity(n_layers=1, residual_channels=4, skip_channels=4, max_epochs=1,
                       random_state=0).fit(X)
    assert anomaly_score(d.score_steps(X[:2]), window=4, panel=True).shape == (2, 16)


def test_bad_window_and_segments():
    with pytest.raises(ValueError, match="window must be a positive integer"):
        anomaly_score(np.zeros(10), window=True)
    with pytest.raises(ValueError, match="pair of integers"):
        anomaly_score(np.zeros(10), segments=[(0.0, 5)])
    with pytest.raises(ValueError, match="pair of integers"):
        anomaly_score(np.zeros(10), segments=[(0, 5, 9)])
    for panel in (False, True):                    # segments already average: no silent drop
        with pytest.raises(ValueError, match="window or segments, not both"):
            anomaly_score(np.zeros((2, 10)) if panel else np.zeros(10), window=3,
                          segments=[(0, 5)], panel=panel)
