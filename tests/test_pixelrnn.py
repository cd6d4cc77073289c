"""PixelRNN (Row LSTM, Diagonal BiLSTM): skew/unskew, receptive fields by gradient (float64, no
holes), exact normalisation, cached == naive generation, row covariates, class conditioning,
completion, bad input. Black-box causality and persistence: test_image_density.py."""

import itertools

import numpy as np
import pytest
import torch

from tsargen import PixelRNNDensity
from tsargen.networks import NETWORKS, PixelRNN
from tsargen.nn.recurrent import DiagonalBiLSTM, RowLSTM, skew, unskew

from .conftest import NO_DATA_CHECKS

KINDS = ["row_lstm", "diagonal_bilstm"]
TINY = dict(n_layers=2, hidden_channels=6, input_kernel_size=3, max_epochs=1, batch_size=8,
            random_state=0)


def _net(kind, c=1, n_levels=4, n_classes=0, n_row_features=0, **kw):
    torch.manual_seed(0)
    net = PixelRNN(n_channels=c, n_levels=n_levels, kind=kind, n_classes=n_classes,
                   n_row_features=n_row_features,
                   **{"n_layers": 2, "hidden_channels": 12, **kw}).double()
    with torch.no_grad():                     # label biases start at zero: make them matter
        for name, p in net.named_parameters():
            if "label" in name:
                p.normal_(0.0, 1.0)
    return net


def _seen(fn, shape, out_index, n_draws=3):
    """Union over random inputs of the input entries with a nonzero gradient for one output
    entry: bool ``shape[1:]`` (a gate may saturate or a ReLU be off for one input)."""
    seen = torch.zeros(shape[1:], dtype=torch.bool)
    for _ in range(n_draws):
        x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
        fn(x)[out_index].sum().backward()
        seen |= x.grad[0] != 0
    return seen


def _order(h, w, c):
    """Raster/colour index of every sub-pixel: ``(C, H, W)``."""
    return torch.arange(h * w * c).reshape(h, w, c).permute(2, 0, 1)


# ---------------------------------------------------------------------- layers
def test_skew_and_unskew_follow_their_definition():
    x = torch.randn(2, 3, 4, 6)
    s = skew(x)
    assert s.shape == (2, 3, 4, 9)
    expected = torch.zeros_like(s)
    for i, j in itertools.product(range(4), range(6)):
        expected[:, :, i, i + j] = x[:, :, i, j]
    assert torch.equal(s, expected)
    assert torch.equal(unskew(s), x)
    assert torch.equal(unskew(skew(x[:, :, :1])), x[:, :, :1])            # one row


def test_lstm_layers_fields_and_colour_masks():
    shape = (1, 2, 6, 7)
    row = RowLSTM([0, 1], [0, 1, 1], kernel_size=3).double()
    diag = DiagonalBiLSTM([0, 1], [0, 1, 1]).double()
    for layer in (row, diag):
        assert "mask" in dict(layer.input_to_state.named_buffers())
        assert "mask" not in dict(layer.input_to_state.named_parameters())
    # unit 0 (group 0) at (3, 3) sees input group 0 only at its own pixel, group 1 not at all
    i, j = 3, 3
    r = _seen(row, shape, (0, 0, i, j))
    assert r[0, i, j] and not r[1, i, j]
    expected = torch.zeros(6, 7, dtype=torch.bool)
    for d in range(i + 1):                                   # triangle: j-(d+1) .. j+d
        expected[i - d, max(0, j - d - 1):min(7, j + d + 1)] = True
    assert torch.equal(r.any(0), expected)
    d = _seen(diag, shape, (0, 0, i, j))
    assert d[0, i, j] and not d[1, i, j]
    expected = torch.zeros(6, 7, dtype=torch.bool)
    expected[:i] = True                                      # every row above (right too)
    expected[i, :j + 1] = True                               # left part of its row
    assert torch.equal(d.any(0), expected)


# ---------------------------------------------------------------------- receptive fields
def _row_lstm_field(h, w, i, j, r0, s, n_layers):
    """The documented triangle of the Row LSTM network (module docstring)."""
    field = torch.zeros(h, w, dtype=torch.bool)
    field[i, max(0, j - r0 - n_layers * s):j] = True
    for d in range(1, i + 1):
        lo, hi = j - r0 - (d + n_layers) * s, j + max(r0 + (d - 1) * s, d * s - 1)
        field[i - d, max(0, lo):min(w, hi + 1)] = True
    return field


@pytest.mark.parametrize("n_layers,kernel_size,input_kernel_size", [(1, 3, 7), (2, 3, 3),
                                                                    (2, 5, 3)])
def test_row_lstm_sees_exactly_its_triangle(n_layers, kernel_size, input_kernel_size):
    net = _net("row_lstm", n_layers=n_layers, kernel_size=kernel_size,
               input_kernel_size=input_kernel_size, hidden_channels=8)
    h, w = 8, 21
    for i, j in [(7, 10), (4, 2)]:
        seen = _seen(net, (1, 1, h, w), (0, slice(None), i, j))[0]
        expected = _row_lstm_field(h, w, i, j, input_kernel_size // 2, kernel_size // 2,
                                   n_layers)
        assert torch.equal(seen, expected)
    # by design a triangle: the pixel just above-right beyond its edge is not seen
    assert not seen[i - 1, j + input_kernel_size // 2 + 1]


@pytest.mark.parametrize("n_layers,input_kernel_size", [(1, 3), (2, 7)])
def test_diagonal_bilstm_sees_the_whole_causal_context(n_layers, input_kernel_size):
    net = _net("diagonal_bilstm", n_layers=n_layers, input_kernel_size=input_kernel_size,
               hidden_channels=8)
    h, w = 7, 11
    for i, j in [(6, 2), (3, 0), (3, 10), (0, 5), (5, 5)]:
        seen = _seen(net, (1, 1, h, w), (0, slice(None), i, j))[0]
        expected = torch.zeros(h, w, dtype=torch.bool)
        expected[:i] = True                                  # all rows above, incl. above-right
        expected[i, :j] = True                               # its row, to the left
        assert torch.equal(seen, expected), (i, j)


@pytest.mark.parametrize("kind", KINDS)
def test_rgb_network_is_autoregressive_by_gradient(kind):
    net = _net(kind, 3, n_levels=3, n_classes=2, n_row_features=2)
    h, w = 5, 6
    labels, rows = torch.tensor([1]), torch.randn(1, 2, h, dtype=torch.float64)
    order = _order(h, w, 3)
    for i, j in [(0, 0), (2, 3), (4, 5)]:
        for ch in range(3):
            seen = _seen(lambda z: net(z, labels, rows), (1, 3, h, w),
                         (0, slice(ch * 3, (ch + 1) * 3), i, j))
            assert not seen[order >= order[ch, i, j]].any()    # nothing at or after itself
            assert seen[:ch, i, j].all()                       # earlier colours of its pixel
            if j > 0:
                assert seen[:, i, j - 1].all()                 # the pixel to its left
            if i > 0:
                assert seen[:, i - 1, j].all()                 # and the one above


# ---------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("kind", KINDS)
def test_probabilities_of_all_binary_3x3_images_sum_to_one(kind):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 2, size=(20, 3, 3)).astype(np.uint8)
    d = PixelRNNDensity(**TINY, kind=kind, n_levels=2).fit(train)
    every = np.array(list(itertools.product(range(2), repeat=9)), np.uint8).reshape(-1, 3, 3)
    assert len(every) == 512
    assert abs(np.exp(d.score_samples(every)).sum() - 1.0) < 1e-4


@pytest.mark.parametrize("kind", KINDS)
def test_rgb_conditional_and_marginal_normalise(kind):
    rng = np.random.default_rng(1)
    train = rng.integers(0, 2, size=(12, 1, 2, 3)).astype(np.uint8)
    labels = np.array(["a", "b"] * 6)
    d = PixelRNNDensity(**TINY, kind=kind, n_levels=2).fit(train, labels)
    every = np.array(list(itertools.product(range(2), repeat=6)), np.uint8).reshape(-1, 1, 2, 3)
    for label in ("a", "b"):
        assert abs(np.exp(d.score_samples(every, np.full(64, label))).sum() - 1) < 1e-5
    assert abs(np.exp(d.score_samples(every)).sum() - 1) < 1e-5


# ---------------------------------------------------------------------- generation
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("c", [1, 3])
def test_cached_step_logits_equal_full_forward(kind, c):
    """Teacher-forced: every cached step reproduces the full network's logits."""
    net = _net(kind, c, n_levels=5, n_classes=3, n_row_features=2)
    x = torch.randint(0, 5, (2, c, 5, 6)).double()
    labels, rows = torch.tensor([0, 2]), torch.randn(2, 2, 5, dtype=torch.float64)
    full = net(x, labels, rows)
    for first in (0, 2):
        stepper = net.stepper(x.clone(), first, labels, row_cond=rows)
        filled = x.clone()
        filled[:, :, first:] = 0
        for i in range(first, 5):
            stepper.begin_row(i)
            for j in range(6):
                for ch in range(c):
                    raw = stepper.raw(i, j, filled)
                    part = slice(ch * 5, (ch + 1) * 5)
                    assert (raw[:, part] - full[:, part, i, j]).abs().max() < 1e-10
                    filled[:, ch, i, j] = x[:, ch, i, j]
                stepper.end_pixel(i, j, filled)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("c,n_classes", [(1, 0), (3, 2)])
def test_cached_generation_equals_naive(kind, c, n_classes):
    net = _net(kind, c, n_levels=4, n_classes=n_classes)
    labels = torch.tensor([0, 1, 1]) if n_classes else None
    known = torch.randint(0, 4, (3, c, 2, 5)).double()
    for kn in (None, known):
        out = []
        for naive in (False, True):
            with torch.random.fork_rng():
                torch.manual_seed(3)
                out.append(net.generate(3, 5, 5, labels=labels, known=kn, naive=naive))
        assert torch.equal(out[0], out[1])
        assert out[0].shape == (3, c, 5, 5)
        assert ((out[0] >= 0) & (out[0] <= 3) & (out[0] == out[0].round())).all()
        if kn is not None:
            assert torch.equal(out[0][:, :, :2], known)
    with torch.random.fork_rng():
        torch.manual_seed(4)
        other = net.generate(3, 5, 5, labels=labels)
    assert not torch.equal(other, out[0])


@pytest.mark.parametrize("kind", KINDS)
def test_row_covariates_change_log_prob_and_keep_causality(kind):
    net = _net(kind, 1, n_levels=4, n_row_features=3)
    x = torch.randint(0, 4, (2, 1, 5, 4)).double()
    rows = torch.randn(2, 3, 5, dtype=torch.float64)
    base = net.log_prob(x, row_cond=rows)
    moved = rows.clone()
    moved[:, :, 3] += 1.0                                     # covariates of row 3 only
    diff = (net.log_prob(x, row_cond=moved) != base)[:, 0]
    assert not diff[:, :3].any()                              # rows above: unchanged
    assert diff[:, 3].all()                                   # the row itself: changed
    seen = _seen(lambda z: net(z, row_cond=rows[:1]), (1, 1, 5, 4), (0, slice(None), 2, 1))[0]
    assert not seen[2, 1:].any() and not seen[3:].any()       # still causal in the pixels
    with torch.random.fork_rng():
        torch.manual_seed(0)
        a = net.generate(2, 5, 4, row_cond=rows)
        torch.manual_seed(0)
        b = net.generate(2, 5, 4, row_cond=rows, naive=True)
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="row_cond must have shape"):
        net.log_prob(x)
    with pytest.raises(ValueError, match="no row covariates"):
        _net(kind).log_prob(x, row_cond=rows)


def test_network_config_round_trip_and_bad_kind():
    net = _net("diagonal_bilstm", 3, n_classes=2, n_row_features=1)
    rebuilt = NETWORKS["PixelRNN"](**net.config)
    assert rebuilt.config == net.config
    rebuilt.load_state_dict(net.state_dict())
    with pytest.raises(ValueError, match="kind must be one of"):
        PixelRNN(kind="gru")
    with pytest.raises(ValueError, match="labels"):
        _net("row_lstm", n_classes=2)(torch.zeros(1, 1, 3, 3, dtype=torch.float64))


# ---------------------------------------------------------------------- estimator
@pytest.mark.slow
def test_class_conditioning_follows_the_label():
    rng = np.random.default_rng(5)
    dark = rng.integers(0, 2, size=(30, 4, 4)).astype(np.uint8)
    bright = rng.integers(6, 8, size=(30, 4, 4)).astype(np.uint8)
    X, y = np.concatenate([dark, bright]), np.array(["dark"] * 30 + ["bright"] * 30)
    d = PixelRNNDensity(**{**TINY, "hidden_channels": 16, "max_epochs": 3}, kind="row_lstm",
                        n_levels=8, lr=1e-2).fit(X, y)
    low = d.sample(10, y="dark", random_state=0)
    high = d.sample(10, y="bright", random_state=0)
    assert low.mean() < 2.5 and high.mean() > 5.0
    assert d.score_samples(dark, np.full(30, "dark")).mean() > (
        d.score_samples(dark, np.full(30, "bright")).mean())


@pytest.mark.parametrize("kind", KINDS)
def test_labels_change_scores_and_complete_keeps_rows(kind):
    rng = np.random.default_rng(6)
    X = rng.integers(0, 5, size=(8, 5, 4, 3)).astype(np.uint8)
    y = np.array([0, 1] * 4)
    d = PixelRNNDensity(**TINY, kind=kind, n_levels=5).fit(X, y)
    zeros, ones = np.zeros(8, int), np.ones(8, int)
    assert not np.allclose(d.score_samples(X, zeros), d.score_samples(X, ones))
    out = d.complete(X[:3], n_known=2, n_samples=4, y=y[:3], random_state=0)
    assert out.shape == (4, 3, 5, 4, 3) and out.dtype == np.uint8
    assert np.array_equal(out[:, :, :2], np.broadcast_to(X[:3, :2], out[:, :, :2].shape))
    assert not np.array_equal(out[0, :, 2:], out[1, :, 2:])
    s = d.sample(3, y=1, length=3, width=6, random_state=0)
    assert s.shape == (3, 3, 6, 3) and s.max() <= 4


GOOD = np.random.default_rng(9).integers(0, 4, size=(6, 4, 4)).astype(np.uint8)


@pytest.mark.parametrize("params,X,match", [
    ({"kind": "gru"}, GOOD, "kind must be one of"),
    ({"kind": None}, GOOD, "kind must be one of"),
    ({"kernel_size": 2}, GOOD, "kernel_size must be an odd"),
    ({"input_kernel_size": 1}, GOOD, "input_kernel_size"),
    ({"hidden_channels": 1}, GOOD, "hidden_channels"),
    ({"n_layers": 0}, GOOD, "n_layers"),
    ({}, GOOD + 0.5, "integer levels"),
    ({}, GOOD.astype(int) + 4, "level 7 but n_levels=4"),
    ({}, GOOD[0], r"\(n, H, W\) or \(n, H, W, C\)"),
    ({"hidden_channels": 4}, GOOD[..., None].repeat(3, axis=3), "too small for 3"),
])
def test_bad_input(params, X, match):
    with pytest.raises(ValueError, match=match):
        PixelRNNDensity(**{**TINY, "n_levels": 4, **params}).fit(X)


def test_labels_for_an_unconditional_model_are_rejected():
    d = PixelRNNDensity(**TINY, kind="row_lstm", n_levels=4).fit(GOOD)
    with pytest.raises(ValueError, match="fitted without labels"):
        d.score_samples(GOOD, y=np.zeros(6))
    with pytest.raises(ValueError, match="n_levels=4"):
        d.score_steps(GOOD + 4)


@pytest.mark.parametrize("check", NO_DATA_CHECKS)
def test_sklearn_checks_without_data(check):
    from sklearn.utils import estimator_checks

    getattr(estimator_checks, check)("PixelRNNDensity", PixelRNNDensity(**TINY))
