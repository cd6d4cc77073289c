"""WaveNetDensity: exact normalisation, black-box causality, sampling, the sklearn contract."""

import itertools

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from tsargen import WaveNetDensity

from .conftest import TINY

LEVELS = dict(distribution="categorical", quantization="levels")


def _all_sequences(n_levels, t, c):
    combos = np.array(list(itertools.product(range(n_levels), repeat=t * c)), dtype=float)
    return combos.reshape(-1, t, c)


@pytest.mark.parametrize("c,n_levels,t,dep", [(1, 3, 4, "joint"), (2, 2, 3, "joint"),
                                              (2, 3, 2, "independent")])
def test_exact_normalisation_over_all_sequences(c, n_levels, t, dep):
    rng = np.random.default_rng(0)
    train = rng.integers(0, n_levels, size=(30, t, c)).astype(float)
    d = WaveNetDensity(**{**TINY, **LEVELS}, n_bins=n_levels, channel_dependence=dep).fit(train)
    logp = d.score_samples(_all_sequences(n_levels, t, c))
    assert abs(np.exp(logp).sum() - 1.0) < 1e-5
    # levels enter the network as [-1, 1]; the likelihood stays the exact pmf of the levels
    assert d.network_.input_loc.tolist() == [(n_levels - 1) / 2] * c


def test_conditional_and_marginal_normalise_exactly():
    rng = np.random.default_rng(1)
    train = rng.integers(0, 3, size=(40, 3)).astype(float)
    labels = np.array(["a", "b"] * 20)
    d = WaveNetDensity(**{**TINY, **LEVELS}, n_bins=3).fit(train, labels)
    every = _all_sequences(3, 3, 1)[:, :, 0]
    for label in ("a", "b"):
        assert abs(np.exp(d.score_samples(every, np.full(len(every), label))).sum() - 1) < 1e-5
    marginal = d.score_samples(every)
    assert abs(np.exp(marginal).sum() - 1) < 1e-5
    steps = d.score_steps(every)
    np.testing.assert_allclose(steps.sum(1), marginal, atol=1e-9)


@pytest.mark.slow
def test_gaussian_density_integrates_in_original_units():
    rng = np.random.default_rng(2)
    train = 7.0 + 3.0 * rng.normal(size=(50, 2))            # loc 7, scale 3: Jacobian matters
    d = WaveNetDensity(**TINY).fit(train)
    grid = np.linspace(-40, 55, 381)
    g1, g2 = np.meshgrid(grid, grid, indexing="ij")
    logp = d.score_samples(np.stack([g1.ravel(), g2.ravel()], 1)).reshape(g1.shape)
    total = np.trapezoid(np.trapezoid(np.exp(logp), grid, axis=1), grid)
    assert abs(total - 1.0) < 1e-2


@pytest.mark.parametrize("dep,tp", [("joint", False), ("independent", False), ("joint", True)])
def test_score_steps_is_autoregressive_black_box(dep, tp):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 30, 3))
    # wider than TINY: with 8 units split over 3 channel groups a group's few ReLUs can all be
    # off at a step, which hides a real dependence from this black-box check
    wide = dict(TINY, residual_channels=16, skip_channels=16)
    d = WaveNetDensity(**wide, channel_dependence=dep, time_position=tp).fit(X)
    base = d.score_steps(X)
    rf = d.receptive_field_
    for t, c in [(0, 0), (10, 1), (17, 2), (29, 0)]:
        Xp = X.copy()
        Xp[:, t, c] += 5.0
        diff = np.abs(d.score_steps(Xp) - base) > 0
        assert not diff[:, :t].any()
        assert not diff[:, t, :c].any()                  # earlier channels of the same step
        assert diff[:, t, c].all()                       # its own entry changes
        later = diff[:, t, c + 1:] if dep == "joint" else np.zeros((6, 0), bool)
        assert later.all()                               # joint: later channels see it
        if dep == "independent":
            assert not diff[:, t, c + 1:].any()
        if t + rf + 1 < 30:
            assert not diff[:, t + rf + 1:].any()        # nothing beyond the receptive field
            assert diff[:, t + rf].any()


def test_shapes_and_sum(ar2):
    X = ar2[:600].reshape(12, 50)
    d = WaveNetDensity(**TINY).fit(X)
    steps = d.score_steps(X)
    assert steps.shape == (12, 50)
    np.testing.assert_allclose(steps.sum(1), d.score_samples(X))
    assert d.score(X) == pytest.approx(d.score_samples(X).mean())
    X3 = np.stack([X, -X], axis=2)
    d3 = WaveNetDensity(**TINY).fit(X3)
    assert d3.score_steps(X3).shape == (12, 50, 2)
    assert d3.sample(4, length=9, random_state=0).shape == (4, 9, 2)
    assert d.sample(4, random_state=0).shape == (4, 50)      # training length by default


def test_time_position_is_absolute_and_generates():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(8, 24))
    d = WaveNetDensity(**TINY, time_position=True).fit(X)
    # the same values at another position score differently; without positions they do not
    shifted = np.roll(X, 5, axis=1)
    steps, steps_shift = d.score_steps(X), d.score_steps(shifted)
    assert not np.allclose(steps[:, 10:19], steps_shift[:, 15:24])
    plain = WaveNetDensity(**TINY).fit(X)
    rf = plain.receptive_field_
    # steps rf..18 of X reappear at 5 + rf..23 of the shifted series with the same past
    np.testing.assert_allclose(plain.score_steps(X)[:, rf:19],
                               plain.score_steps(shifted)[:, 5 + rf:24], rtol=1e-4, atol=1e-5)
    assert d.sample(3, random_state=0).shape == (3, 24)
    out = d.complete(X[:2], n_known=12, n_samples=2, random_state=0)
    assert out.shape == (2, 2, 24) and np.array_equal(out[:, :, :12], np.broadcast_to(
        X[:2, :12], (2, 2, 12)))


def test_unequal_lengths_list():
    rng = np.random.default_rng(4)
    X = [rng.normal(size=n) for n in (7, 20, 13)]
    d = WaveNetDensity(**TINY).fit(X)
    steps = d.score_steps(X)
    assert [s.shape for s in steps] == [(7,), (20,), (13,)]
    with pytest.raises(ValueError, match="length="):
        d.sample(2)
    assert d.sample(2, length=5, random_state=1).shape == (2, 5)


def test_missing_values_are_skipped_not_poisonous():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(10, 40))
    X[2, 5:9] = np.nan
    d = WaveNetDensity(**TINY).fit(X)
    steps = d.score_steps(X)
    assert np.isnan(steps[2, 5:9]).all()
    assert np.isfinite(np.delete(steps.ravel(), np.flatnonzero(np.isnan(X)))).all()
    assert np.isfinite(d.score_samples(X)).all()
    assert np.isfinite(d.loss_curve_).all()


def test_complete_keeps_known_rows_bit_for_bit():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(3, 25, 2))
    d = WaveNetDensity(**TINY).fit(X)
    out = d.complete(X, n_known=10, n_samples=4, random_state=0)
    assert out.shape == (4, 3, 25, 2)
    assert np.array_equal(out[:, :, :10], np.broadcast_to(X[:, :10], (4, 3, 10, 2)))
    assert not np.allclose(out[0, :, 10:], out[1, :, 10:])


@pytest.mark.slow
def test_conditional_samples_depend_on_label():
    rng = np.random.default_rng(7)
    X = np.concatenate([rng.normal(-3, 0.3, size=(40, 20)), rng.normal(3, 0.3, size=(40, 20))])
    y = np.array([0] * 40 + [1] * 40)
    d = WaveNetDensity(**{**TINY, "max_epochs": 40}).fit(X, y)
    low, high = (d.sample(30, y=k, length=20, random_state=0).mean() for k in (0, 1))
    assert low < -1.5 and high > 1.5
    assert d.score_samples(X[:40], np.zeros(40)).mean() > d.score_samples(X[:40],
                                                                           np.ones(40)).mean()
    with pytest.raises(ValueError, match="not seen in fit"):
        d.score_samples(X[:2], [0, 5])
    # without labels a completion is drawn from the marginal: its class follows the known part
    # (the prefix of a class-1 series is e^-100s less likely under class 0)
    out = d.complete(X[30:50], n_known=10, n_samples=5, random_state=1)   # (5, 20, 20)
    assert (out[:, :10, 10:].mean(axis=2) < 0).all() and (out[:, 10:, 10:].mean(axis=2) > 0).all()
    prior_draws = d.complete(X[[0, 40]], n_known=0, n_samples=40, random_state=1)
    assert 0.2 < (prior_draws.mean(axis=2) > 0).mean() < 0.8              # both classes drawn


def test_same_seed_same_model_and_global_rng_untouched():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(10, 30))
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    a = WaveNetDensity(**TINY).fit(X)
    b = WaveNetDensity(**TINY).fit(X)
    for (ka, va), (kb, vb) in zip(a.network_.state_dict().items(),
                                  b.network_.state_dict().items()):
        assert torch.equal(va, vb), ka
    assert np.array_equal(a.sample(3, random_state=5), b.sample(3, random_state=5))
    assert not np.array_equal(a.sample(3, random_state=5), a.sample(3, random_state=6))
    # random_state=None draws fresh entropy, not from the global generators
    assert not np.array_equal(a.sample(3), a.sample(3))
    assert torch.equal(torch_state, torch.get_rng_state())
    assert all(np.array_equal(x, y) for x, y in zip(np_state[1:2], np.random.get_state()[1:2]))
    c = WaveNetDensity(**{**TINY, "random_state": 1}).fit(X)
    assert not torch.equal(a.network_.input.weight, c.network_.input.weight)


def test_clone_and_params():
    d = WaveNetDensity(n_layers=4, distribution="student_t")
    c = clone(d)
    assert c.get_params() == d.get_params()
    c.set_params(n_layers=2)
    assert c.n_layers == 2 and d.n_layers == 4


EXPECTED_FAILURES = {
    "check_n_features_in_after_fitting":
        "a sequence density scores series of any length; n_features_in_ only records the "
        "training length, it does not constrain scoring",
}


@parametrize_with_checks(
    [WaveNetDensity(n_layers=2, residual_channels=4, skip_channels=4, max_epochs=2, batch_size=8,
                    random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_contract(estimator, check):
    check(estimator)


def test_dataframe_panels_keep_their_channel_names():
    rng = np.random.default_rng(11)
    frames = [pd.DataFrame({"price": rng.normal(size=20), "volume": rng.gamma(2.0, size=20)})
              for _ in range(6)]
    d = WaveNetDensity(**TINY, distribution={"price": "gaussian", "volume": "student_t"})
    d.fit(frames)
    assert d.channel_names_ == ["price", "volume"]
    assert [s["name"] for s in d.network_.heads.specs] == ["gaussian", "student_t"]
    assert np.isfinite(d.score_samples(frames[:2])).all()
    with pytest.raises(ValueError, match="fitted on \\['price', 'volume'\\]"):
        d.score_samples([f[["volume", "price"]] for f in frames[:2]])
    with pytest.raises(ValueError, match="different columns"):
        d.score_samples([frames[0], frames[1].rename(columns={"price": "p"})])



def test_samples_and_completions_prime_once_per_history_and_label():
    """Priming runs over the distinct (history, label) pairs only, and draws what priming
    every sample on its own draws (the same levels: a discrete head's draws do not move with
    the float rounding of a batch of another size)."""
    rng = np.random.default_rng(9)
    X = rng.integers(0, 5, size=(6, 20)).astype(float)
    d = WaveNetDensity(**{**TINY, **LEVELS}, n_bins=5).fit(X, [0, 1, 2, 0, 1, 2])
    rows = []
    hook = d.network_.input.register_forward_hook(lambda m, a, o: rows.append(a[0].shape[0]))
    try:
        d.sample(40, length=5, y=[0, 2] * 20, random_state=0)          # one empty history
        d.complete(X[:3], n_known=8, n_samples=10, y=[0, 1, 1], random_state=0)
    finally:
        hook.remove()
    assert rows == [2, 3]
    hist = torch.randint(0, 5, (2, 8, 1)).float()
    paths, labels = torch.tensor([0, 1, 0, 1, 1]), torch.tensor([0, 2, 0, 1, 2])
    shared = d._generate(hist, 6, labels=labels, seed=5, paths=paths)     # 3 distinct pairs
    assert torch.equal(shared, d._generate(hist[paths], 6, labels=labels, seed=5))
