"""Quantizing transformers: round trips and the sklearn transformer contract."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from tsargen.transforms import MuLaw, Quantizer


def test_mulaw_levels_roundtrip_exact():
    mu = MuLaw(scale=2.0).fit(np.zeros((1, 1)))
    levels = np.arange(256)[:, None]
    assert np.array_equal(mu.transform(mu.inverse_transform(levels)), levels)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_quantizer_roundtrip_and_balance(strategy):
    x = np.random.default_rng(0).exponential(size=(4000, 2))
    q = Quantizer(n_bins=16, strategy=strategy).fit(x)
    levels = q.transform(x)
    assert levels.min() == 0 and levels.max() == 15
    assert np.array_equal(q.transform(q.inverse_transform(levels)), levels)
    counts = np.bincount(levels[:, 0], minlength=16)
    if strategy == "quantile":
        assert counts.min() >= 200                  # equal shares: 250 per bin
    width = np.diff(q.bin_edges_[0]).max()
    assert np.abs(q.inverse_transform(levels) - x).max() <= width / 2 + 1e-9


def test_errors():
    with pytest.raises(ValueError, match="n_bins"):
        Quantizer(n_bins=1).fit(np.ones((3, 1)))
    with pytest.raises(ValueError, match="levels must lie"):
        Quantizer(n_bins=4).fit(np.ones((3, 1))).inverse_transform(np.array([[7]]))
    with pytest.raises(ValueError):
        MuLaw().fit(np.array([[np.inf]]))


@pytest.mark.parametrize("transformer", [Quantizer(n_bins=4), MuLaw(mu=3)],
                         ids=["Quantizer", "MuLaw"])
def test_inverse_transform_checks_levels(transformer):
    t = transformer.fit(np.linspace(-1, 1, 9)[:, None])          # levels 0..3 for both
    for bad, match in ((1.7, "integers"), (4, r"\[0, 3\]"), (-1, r"\[0, 3\]"),
                       (np.inf, "inf")):
        with pytest.raises(ValueError, match=match):
            t.inverse_transform(np.array([[bad]]))
    with pytest.raises(TypeError, match="numeric"):
        t.inverse_transform(np.array([["1"]]))
    # NaN is a missing level: it comes back as NaN, the other rows as usual
    back = t.inverse_transform(np.array([[np.nan], [3.0]]))
    assert np.isnan(back[0, 0]) and back[1, 0] == t.inverse_transform(np.array([[3]]))[0, 0]


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_quantizer_constant_column_roundtrips(strategy):
    x = np.array([[0.1, 0.0], [0.1, 1.0], [0.1, 2.0]])
    q = Quantizer(n_bins=4, strategy=strategy).fit(x)
    back = q.inverse_transform(q.transform(x))
    assert np.array_equal(back[:, 0], x[:, 0])


@parametrize_with_checks([MuLaw(), Quantizer(n_bins=8)])
def test_sklearn_contract(estimator, check):
    check(estimator)
