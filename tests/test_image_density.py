"""PixelCNNDensity / GatedPixelCNNDensity: exact normalisation, black-box causality, overfitting,
sampling and completion, class conditioning, seeding, persistence, bad input. The black-box
causality and persistence tests run on all five image densities (``ALL_DENSITIES``)."""

import itertools
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks

import tsargen
from tsargen import GatedPixelCNNDensity, PixelCNNDensity, PixelCNNPPDensity, PixelRNNDensity

from .conftest import NO_DATA_CHECKS

DENSITIES = [PixelCNNDensity, GatedPixelCNNDensity]
TINY_IMAGE = dict(n_layers=2, hidden_channels=6, kernel_size=3, input_kernel_size=3,
                  max_epochs=2, batch_size=8, random_state=0)
# every image density with tiny settings, for the contract tests they all share
ALL_DENSITIES = {
    "pixelcnn": (PixelCNNDensity, TINY_IMAGE),
    "gated_pixelcnn": (GatedPixelCNNDensity, TINY_IMAGE),
    "pixelcnn_pp": (PixelCNNPPDensity, dict(n_layers=1, hidden_channels=8, n_mixtures=2,
                                            dropout=0.0, max_epochs=1, batch_size=8,
                                            random_state=0)),
    **{kind: (PixelRNNDensity, dict(kind=kind, n_layers=2, hidden_channels=6,
                                    input_kernel_size=3, max_epochs=1, batch_size=8,
                                    random_state=0))
       for kind in ("row_lstm", "diagonal_bilstm")},
}


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return d.images.astype(np.uint8), d.target           # (1797, 8, 8), levels 0..16


def _all_images(n_levels, h, w, c):
    combos = np.array(list(itertools.product(range(n_levels), repeat=h * w * c)), dtype=np.uint8)
    return combos.reshape(-1, h, w, c)


# ---------------------------------------------------------------------- exact normalisation
@pytest.mark.parametrize("cls", DENSITIES)
@pytest.mark.parametrize("n_levels,shape", [(2, (2, 2, 1)), (3, (2, 2, 1)), (2, (1, 2, 3))])
def test_probabilities_of_all_images_sum_to_one(cls, n_levels, shape):
    rng = np.random.default_rng(0)
    train = rng.integers(0, n_levels, size=(20, *shape)).astype(np.uint8)
    d = cls(**TINY_IMAGE, n_levels=n_levels).fit(train)
    every = _all_images(n_levels, *shape)
    total = np.exp(d.score_samples(every)).sum()
    assert abs(total - 1.0) < 1e-5
    if shape[2] == 1:                                     # (n, H, W) input means C = 1
        np.testing.assert_allclose(d.score_samples(every[..., 0]), d.score_samples(every),
                                   rtol=1e-6)


@pytest.mark.parametrize("cls", DENSITIES)
def test_conditional_and_marginal_normalise_exactly(cls):
    rng = np.random.default_rng(1)
    train = rng.integers(0, 3, size=(24, 2, 2)).astype(np.uint8)
    labels = np.array(["a", "b", "c"] * 8)
    d = cls(**TINY_IMAGE, n_levels=3).fit(train, labels)
    every = _all_images(3, 2, 2, 1)[..., 0]
    for label in ("a", "b", "c"):
        assert abs(np.exp(d.score_samples(every, np.full(len(every), label))).sum() - 1) < 1e-5
    marginal = d.score_samples(every)
    assert abs(np.exp(marginal).sum() - 1) < 1e-5
    np.testing.assert_allclose(d.score_steps(every).sum((1, 2)), marginal, atol=1e-9)


# ---------------------------------------------------------------------- causality (black box)
@pytest.mark.parametrize("name", ALL_DENSITIES)
@pytest.mark.parametrize("c", [1, 3])
def test_score_steps_is_autoregressive_black_box(name, c):
    # 5 x 6: not multiples of PixelCNN++'s downsampling factor
    cls, tiny = ALL_DENSITIES[name]
    rng = np.random.default_rng(2)
    X = rng.integers(0, 8, size=(6, 5, 6, c)).astype(np.uint8)
    d = cls(**{**tiny, "max_epochs": 1}, n_levels=8).fit(X)
    base = d.score_steps(X)
    assert base.shape == X.shape
    np.testing.assert_allclose(base.sum((1, 2, 3)), d.score_samples(X))
    order = np.arange(5 * 6 * c).reshape(5, 6, c)          # raster, then colour
    for i, j, ch in [(0, 0, 0), (2, 3, c - 1), (4, 5, 0), (3, 0, c // 2), (2, 2, 0)]:
        Xp = X.copy()
        Xp[:, i, j, ch] = (Xp[:, i, j, ch] + 3) % 8
        diff = d.score_steps(Xp) != base
        assert not diff[:, order < order[i, j, ch]].any()   # no earlier entry changes
        assert diff[:, i, j, ch].all()                      # its own entry does
        if (order > order[i, j, ch]).any():
            assert diff[:, order > order[i, j, ch]].any()   # and some later one


@pytest.mark.parametrize("cls", DENSITIES)
def test_greyscale_steps_have_image_shape(cls):
    X = np.random.default_rng(3).integers(0, 4, size=(5, 4, 7)).astype(np.int64)
    d = cls(**TINY_IMAGE, n_levels=4).fit(X)
    steps = d.score_steps(X)
    assert steps.shape == (5, 4, 7) and steps.dtype == np.float64
    np.testing.assert_allclose(steps.sum((1, 2)), d.score_samples(X))
    assert d.score(X) == pytest.approx(d.score_samples(X).mean())
    assert d.bits_per_dim(X) == pytest.approx(-steps.mean() / np.log(2))
    assert d.score_steps(np.zeros((2, 9, 3), np.uint8)).shape == (2, 9, 3)   # any image size


# ---------------------------------------------------------------------- learning
@pytest.mark.parametrize("cls", DENSITIES)
def test_overfits_a_handful_of_images(cls, digits):
    X = digits[0][:6]
    d = cls(n_layers=2, hidden_channels=16, n_levels=17, max_epochs=6, lr=1e-2,
            validation_fraction=0.0, random_state=0).fit(X)
    noise = np.random.default_rng(4).integers(0, 17, size=X.shape).astype(np.uint8)
    assert d.bits_per_dim(X) < 1.0                        # uniform: log2(17) = 4.09 bits
    assert d.bits_per_dim(noise) > d.bits_per_dim(X) + 3.0
    assert d.loss_curve_[-1] < d.loss_curve_[0]


def test_digits_short_fit_beats_uniform_on_held_out_images(digits):
    X, _ = digits
    d = GatedPixelCNNDensity(n_layers=2, hidden_channels=16, n_levels=17, max_epochs=3,
                             random_state=0).fit(X[:1000])
    assert d.bits_per_dim(X[1500:]) < 3.2                  # uniform: 4.09 bits per pixel
    assert len(d.val_loss_curve_) == d.n_iter_


@pytest.mark.parametrize("cls", DENSITIES)
def test_class_conditional_samples_follow_the_label(cls):
    rng = np.random.default_rng(5)
    dark = rng.integers(0, 2, size=(30, 5, 5)).astype(np.uint8)
    bright = rng.integers(6, 8, size=(30, 5, 5)).astype(np.uint8)
    X, y = np.concatenate([dark, bright]), np.array(["dark"] * 30 + ["bright"] * 30)
    d = cls(**{**TINY_IMAGE, "hidden_channels": 16, "max_epochs": 3}, n_levels=8,
            lr=1e-2).fit(X, y)
    assert list(d.classes_) == ["bright", "dark"]
    low = d.sample(10, y="dark", random_state=0)
    high = d.sample(10, y="bright", random_state=0)
    assert low.mean() < 2.5 and high.mean() > 5.0
    assert d.score_samples(dark, np.full(30, "dark")).mean() > (
        d.score_samples(dark, np.full(30, "bright")).mean())
    mixed = d.sample(40, random_state=1)                   # labels drawn from the prior
    assert (mixed.mean((1, 2)) < 4).any() and (mixed.mean((1, 2)) > 4).any()
    completed = d.complete(bright[:2], n_known=2, y=["bright", "bright"], random_state=0)
    assert completed[:, :, 2:].mean() > 5.0
    # without labels each completion draws its class given the known rows (the marginal);
    # here they leave no doubt, so it draws exactly what the true labels give
    both = np.concatenate([dark[:8], bright[:8]])
    np.testing.assert_array_equal(
        d.complete(both, n_known=2, n_samples=3, random_state=0),
        d.complete(both, n_known=2, n_samples=3, y=y[np.r_[0:8, 30:38]], random_state=0))
    with pytest.raises(ValueError, match="not seen in fit"):
        d.sample(2, y=["dark", "grey"])


# ---------------------------------------------------------------------- sampling, completion
@pytest.mark.parametrize("cls", DENSITIES)
@pytest.mark.parametrize("c", [1, 3])
def test_sample_and_complete_shapes_dtypes_and_kept_rows(cls, c):
    rng = np.random.default_rng(6)
    X = rng.integers(0, 5, size=(8, 6, 5, c)).astype(np.uint8)
    if c == 1:
        X = X[..., 0]
    d = cls(**TINY_IMAGE, n_levels=5).fit(X)
    s = d.sample(4, random_state=0)
    assert s.shape == (4, 6, 5) + ((c,) if c > 1 else ()) and s.dtype == np.uint8
    assert s.min() >= 0 and s.max() <= 4
    assert d.sample(2, length=3, width=7, random_state=0).shape[:3] == (2, 3, 7)
    out = d.complete(X[:3], n_known=2, n_samples=4, random_state=0)
    assert out.shape == (4, *X[:3].shape) and out.dtype == X.dtype
    assert np.array_equal(out[:, :, :2], np.broadcast_to(X[:3, :2], out[:, :, :2].shape))
    assert not np.array_equal(out[0, :, 2:], out[1, :, 2:])
    assert np.array_equal(d.complete(X[:2], n_known=6), X[:2][None])
    floats = d.complete(X[:2].astype(np.float64), n_known=3, random_state=1)
    assert floats.dtype == np.float64 and np.array_equal(floats[0, :, :3], X[:2, :3])


def test_float_levels_and_bool_images():
    X = load_digits().images[:40]                         # float64 holding 0..16
    d = PixelCNNDensity(**TINY_IMAGE, n_levels=17).fit(X)
    assert d.sample(2, random_state=0).dtype == np.float64
    b = GatedPixelCNNDensity(**TINY_IMAGE, n_levels=2).fit(X > 8)
    s = b.sample(3, random_state=0)
    assert s.dtype == bool and s.shape == (3, 8, 8)
    # levels the training dtype cannot hold widen the output instead of wrapping
    wide = GatedPixelCNNDensity(**TINY_IMAGE, n_levels=3).fit((X > 8)[:, :3, :3])
    draws = wide.sample(200, random_state=0)
    assert draws.dtype == np.uint8 and draws.max() == 2
    assert wide.complete((X > 8)[:4, :3, :3], n_known=1, random_state=0).dtype == np.uint8


# ---------------------------------------------------------------------- seeding, persistence
@pytest.mark.parametrize("cls", DENSITIES)
def test_same_seed_same_model_and_global_rng_untouched(cls):
    X = np.random.default_rng(7).integers(0, 4, size=(10, 4, 4)).astype(np.uint8)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    a = cls(**TINY_IMAGE, n_levels=4).fit(X)
    b = cls(**TINY_IMAGE, n_levels=4).fit(X)
    for (ka, va), (kb, vb) in zip(a.network_.state_dict().items(),
                                  b.network_.state_dict().items()):
        assert torch.equal(va, vb), ka
    assert a.loss_curve_ == b.loss_curve_
    assert np.array_equal(a.sample(3, random_state=5), b.sample(3, random_state=5))
    assert not np.array_equal(a.sample(5, random_state=5), a.sample(5, random_state=6))
    assert np.array_equal(a.complete(X[:2], n_known=1, random_state=2),
                          b.complete(X[:2], n_known=1, random_state=2))
    assert torch.equal(torch_state, torch.get_rng_state())
    assert np.array_equal(np_state[1], np.random.get_state()[1])
    c = cls(**{**TINY_IMAGE, "random_state": 1}, n_levels=4).fit(X)
    assert not np.allclose(a.score_samples(X), c.score_samples(X))


@pytest.mark.parametrize("name", ALL_DENSITIES)
def test_save_load_pickle_and_clone(name, tmp_path):
    cls, tiny = ALL_DENSITIES[name]
    rng = np.random.default_rng(8)
    X = rng.integers(0, 4, size=(12, 4, 5, 3)).astype(np.uint8)
    y = np.array(["cat", "dog"] * 6)
    d = cls(**tiny, n_levels=4).fit(X, y)
    path = tmp_path / "image.tsargen"
    d.save(path)
    for other in (tsargen.load(path), pickle.loads(pickle.dumps(d))):
        assert type(other) is cls and other.get_params() == d.get_params()
        np.testing.assert_array_equal(other.score_steps(X, y), d.score_steps(X, y))
        np.testing.assert_array_equal(other.score_samples(X), d.score_samples(X))
        np.testing.assert_array_equal(other.classes_, d.classes_)
        assert other.image_shape_ == d.image_shape_ and other.dtype_ == d.dtype_
        np.testing.assert_array_equal(other.sample(2, y="dog", random_state=0),
                                      d.sample(2, y="dog", random_state=0))
        np.testing.assert_array_equal(other.complete(X[:1], n_known=2, y="cat", random_state=0),
                                      d.complete(X[:1], n_known=2, y="cat", random_state=0))
        assert other.receptive_field_ == d.receptive_field_
    assert clone(d).get_params() == d.get_params()


# ---------------------------------------------------------------------- bad input
GOOD = np.random.default_rng(9).integers(0, 4, size=(6, 4, 4)).astype(np.uint8)


@pytest.mark.parametrize("X,exc,match", [
    (GOOD + 0.5, ValueError, "integer levels"),
    (GOOD.astype(int) + 4, ValueError, "level 7 but n_levels=4"),
    (GOOD.astype(int) - 1, ValueError, "level -1"),
    (GOOD[0], ValueError, r"\(n, H, W\) or \(n, H, W, C\)"),
    (GOOD[..., None, None], ValueError, "got shape"),
    (np.where(GOOD == 0, np.nan, GOOD), ValueError, "NaN"),
    (np.where(GOOD == 0, np.inf, GOOD), ValueError, "inf"),
    (GOOD.astype(str), TypeError, "integer levels"),
    (np.empty((0, 4, 4)), ValueError, "empty"),
    ("images", TypeError, "array of images"),
    ([np.zeros((2, 2)), np.zeros((3, 3))], ValueError, "same size"),
])
def test_fit_rejects_bad_images(X, exc, match):
    d = PixelCNNDensity(**TINY_IMAGE, n_levels=4)
    with pytest.raises(exc, match=match):
        d.fit(X)
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(d))


@pytest.mark.parametrize("params,match", [
    ({"n_levels": 1}, "n_levels"), ({"n_layers": 0}, "n_layers"),
    ({"kernel_size": 4}, "kernel_size must be an odd"),
    ({"input_kernel_size": 1}, "input_kernel_size"), ({"hidden_channels": 0}, "hidden_channels"),
    ({"lr": -1.0}, "lr"), ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"device": "tpu"}, "device"), ({"batch_size": 2.5}, "batch_size"),
    ({"ema_decay": 1.0}, "ema_decay"),
])
def test_bad_hyperparameters(params, match):
    with pytest.raises(ValueError, match=match):
        GatedPixelCNNDensity(**{**TINY_IMAGE, **params}).fit(GOOD)


def test_errors_after_fit():
    d = GatedPixelCNNDensity(**TINY_IMAGE, n_levels=4)
    with pytest.raises(NotFittedError):
        d.sample(2)
    with pytest.raises(ValueError, match="hidden_channels=2 is too small for 3"):
        PixelCNNDensity(**{**TINY_IMAGE, "hidden_channels": 2}, n_levels=4).fit(
            GOOD[..., None].repeat(3, axis=3))
    d.fit(GOOD)
    with pytest.raises(ValueError, match="3 channels but the model was fitted on 1"):
        d.score_samples(GOOD[..., None].repeat(3, axis=3))
    with pytest.raises(ValueError, match="n_levels=4"):
        d.score_steps(GOOD + 4)
    with pytest.raises(ValueError, match="n_known must be an integer in"):
        d.complete(GOOD, n_known=5)
    with pytest.raises(ValueError, match="fitted without labels"):
        d.score_samples(GOOD, y=np.zeros(6))
    with pytest.raises(ValueError, match="n_samples"):
        d.sample(-1)
    with pytest.raises(ValueError, match="one label per image"):
        GatedPixelCNNDensity(**TINY_IMAGE, n_levels=4).fit(GOOD, y=[0, 1])


# ---------------------------------------------------------------------- scikit-learn contract
# The image densities declare two_d_array=False, so parametrize_with_checks (whose checks feed
# 2-D tables) skips them; these are the checks that do not need data.
@pytest.mark.parametrize("cls", DENSITIES)
@pytest.mark.parametrize("check", NO_DATA_CHECKS)
def test_sklearn_checks_without_data(cls, check):
    getattr(estimator_checks, check)(cls.__name__, cls(**TINY_IMAGE))


@pytest.mark.slow
def test_clone_and_generative_classifier(digits):
    X, y = digits
    keep = np.isin(y, [0, 1])
    X, y = X[keep], y[keep]
    d = PixelCNNDensity(n_layers=2, hidden_channels=16, input_kernel_size=3, max_epochs=3,
                        batch_size=16, lr=1e-2, n_levels=17, random_state=0)
    assert clone(d).get_params() == d.get_params()
    clf = tsargen.GenerativeClassifier(d).fit(X[:200], y[:200])
    assert clf.score(X[200:], y[200:]) > 0.95


@pytest.mark.parametrize("name", ["pixelcnn", "gated_pixelcnn", "row_lstm", "diagonal_bilstm"])
def test_completions_of_one_known_part_share_its_pass(name):
    """complete(..., n_samples=k) runs the network over the known rows once per distinct
    (image, label), not k times, and draws what the naive recompute draws."""
    cls, params = ALL_DENSITIES[name]
    rng = np.random.default_rng(7)
    X = rng.integers(0, 4, size=(6, 5, 4)).astype(np.uint8)
    d = cls(**params, n_levels=4).fit(X, ["a", "b"] * 3)
    net = d.network_
    passes = []                  # (images, rows) of every full pass (the output convs' input)
    hook = net.out1.register_forward_hook(lambda m, a, o: passes.append(tuple(a[0].shape[::2])))
    labels = torch.tensor([0, 1, 1] * 4)
    known = torch.as_tensor(X[:3, :3], dtype=torch.float32)[:, None].repeat(4, 1, 1, 1)
    try:
        out = d.complete(X[:2], n_known=3, n_samples=5, y=["a", "b"], random_state=0)
        with torch.random.fork_rng():
            torch.manual_seed(4)
            cached = net.generate(12, 5, 4, labels=labels, known=known)
    finally:
        hook.remove()
    assert out.shape == (5, 2, 5, 4)
    # 2 images x 1 label, then 3 images with labels 0, 1, 1 (3 distinct), 4 completions each
    assert passes == [(2, 3), (3, 3)]
    with torch.random.fork_rng():
        torch.manual_seed(4)
        naive = net.generate(12, 5, 4, labels=labels, known=known, naive=True)
    assert torch.equal(cached, naive)
