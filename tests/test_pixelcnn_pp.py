"""PixelCNN++: the discretized logistic mixture (exact normalisation, colour coupling, extreme
parameters, sampling), the network (causality and no blind spot by gradient, receptive field,
row covariates, cached == naive generation) and PixelCNNPPDensity (exact normalisation,
completion, conditioning, bad input). Black-box causality and persistence:
test_image_density.py."""

import itertools

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from tsargen import PixelCNNPPDensity
from tsargen.networks import NETWORKS, PixelCNNPP
from tsargen.networks.pixelcnn_pp import _reach
from tsargen.nn.pixel_mixture import PixelLogisticMixture, log_prob_all_levels
from tsargen.nn.resnet import GatedResnet, concat_elu

TINY = dict(n_layers=1, hidden_channels=8, n_mixtures=2, dropout=0.0, max_epochs=1,
            batch_size=8, random_state=0)


def _net(c=1, n_levels=4, n_classes=0, n_row_features=0, **kw):
    torch.manual_seed(0)
    net = PixelCNNPP(n_channels=c, n_levels=n_levels, n_classes=n_classes,
                     n_row_features=n_row_features,
                     **{"n_layers": 1, "hidden_channels": 6, "n_mixtures": 2, "dropout": 0.0,
                        **kw}).double().eval()
    with torch.no_grad():                      # label biases start at zero: make them matter
        if net.label_bias is not None:
            net.label_bias.weight.normal_(0.0, 1.0)
    return net


# ---------------------------------------------------------------------- likelihood
def _extreme_raw(lik, n=64):
    """Raw parameters with huge/tiny scales, means far outside [-1, 1] and extreme logits."""
    g = torch.Generator().manual_seed(0)
    raw = torch.randn(n, lik.n_params, generator=g)
    m, c = lik.n_mixtures, lik.n_channels
    logits, loc = raw[:, :m], raw[:, m:m + c * m]
    log_scale = raw[:, m + c * m:m + 2 * c * m]
    logits.mul_(torch.tensor([1e4, 1.0, -1e4])[torch.arange(n) % 3, None])
    loc.mul_(torch.tensor([1e6, 1.0, 30.0, -1e6])[torch.arange(n) % 4, None])
    log_scale.copy_(torch.tensor([-1e3, 1e3, -7.0, 7.0, 0.0])[torch.arange(n) % 5, None])
    raw[:, m + 2 * c * m:].mul_(50.0)                          # saturated coefficients
    return raw


@pytest.mark.parametrize("c,n_levels", [(1, 256), (1, 2), (3, 5)])
def test_mixture_sums_to_one_over_all_levels_for_extreme_parameters(c, n_levels):
    lik = PixelLogisticMixture(c, n_levels, n_mixtures=3)
    for raw in (_extreme_raw(lik), torch.randn(16, lik.n_params)):
        lp = log_prob_all_levels(lik, raw)                      # (n, L ** C)
        assert torch.isfinite(lp).all()
        assert (lp.logsumexp(-1).exp() - 1.0).abs().max() < 1e-5
        raw64 = raw.double().requires_grad_(True)
        log_prob_all_levels(lik, raw64).sum().backward()
        assert torch.isfinite(raw64.grad).all()


def test_mixture_steps_are_normalised_conditionals_with_colour_coupling():
    lik = PixelLogisticMixture(3, 4, n_mixtures=2)
    raw = torch.randn(lik.n_params, dtype=torch.float64) * 2
    grid = torch.cartesian_prod(*[torch.arange(4.0, dtype=torch.float64)] * 3)   # (64, 3)
    steps = lik.log_prob(raw.expand(64, -1), grid).reshape(4, 4, 4, 3)
    # p(G | R) sums to one over G for each R, p(B | R, G) over B for each (R, G)
    assert torch.allclose(steps[:, :, 0, 1].exp().sum(1), torch.ones(4, dtype=torch.float64))
    assert torch.allclose(steps[..., 2].exp().sum(2), torch.ones(4, 4, dtype=torch.float64))
    assert torch.allclose(steps[:, 0, 0, 0].exp().sum(), torch.tensor(1.0, dtype=torch.float64))
    # R's step ignores G and B; the G and B means move with R through tanh coefficients
    assert torch.equal(steps[:, 0, 0, 0], steps[:, 3, 1, 0])
    one = PixelLogisticMixture(3, 4, n_mixtures=1)
    base = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, -1.0, -1.0, -1.0, 0.0, 0.0], dtype=torch.float64)
    coupled = base.clone()
    coupled[7] = 20.0                                          # tanh -> 1: G mean += R value
    x = torch.tensor([[3.0, 3.0, 0.0], [0.0, 3.0, 0.0]], dtype=torch.float64)
    plain, moved = one.log_prob(base.expand(2, -1), x), one.log_prob(coupled.expand(2, -1), x)
    assert torch.allclose(plain[:, 0::2], moved[:, 0::2], rtol=0, atol=1e-12)  # R, B: as before
    assert moved[0, 1] > plain[0, 1] and moved[1, 1] < plain[1, 1]   # G pulled towards R


def test_mixture_samples_follow_the_joint_probabilities():
    lik = PixelLogisticMixture(2, 3, n_mixtures=2)
    raw = torch.tensor([0.5, -0.5, -0.8, 0.6, 0.3, -0.2, -0.5, -1.0, -0.3, 0.0, 2.0, -3.0],
                       dtype=torch.float64)
    probs = log_prob_all_levels(lik, raw).exp()                # (9,)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        draws = lik.sample(raw.expand(40000, -1))              # (N, 2)
    assert ((draws >= 0) & (draws <= 2) & (draws == draws.round())).all()
    freq = torch.bincount((draws[:, 0] * 3 + draws[:, 1]).long(), minlength=9) / 40000
    assert (freq - probs).abs().max() < 0.01                   # ~4 standard errors


def test_concat_elu_and_gated_resnet():
    x = torch.randn(2, 3, 4, 4)
    assert torch.equal(concat_elu(x), torch.nn.functional.elu(torch.cat([x, -x], 1)))
    from tsargen.nn.masked import DownShiftedConv2d
    blk = GatedResnet(3, DownShiftedConv2d, (2, 3), dropout=0.5)
    blk.eval()
    assert torch.equal(blk(x), blk(x))                         # dropout off in eval mode
    blk.train()
    assert not torch.equal(blk(x), blk(x))


# ---------------------------------------------------------------------- network: causality
def _seen(fn, shape, n_draws=3):
    """Union over random continuous inputs of the positions with nonzero gradient:
    bool ``(C, H, W)``."""
    seen = torch.zeros(shape[1:], dtype=torch.bool)
    for _ in range(n_draws):
        x = (torch.rand(shape, dtype=torch.float64) * 3).requires_grad_(True)
        fn(x).sum().backward()
        seen |= x.grad[0] != 0
    return seen


@pytest.mark.parametrize("c", [1, 3])
def test_network_sees_exactly_the_past_no_blind_spot(c):
    net = _net(c, n_classes=2)
    labels = torch.tensor([1])
    h = w = 6
    for i, j in [(5, 0), (5, 3), (5, 5), (2, 4), (0, 2)]:
        seen = _seen(lambda z: net(z, labels)[0, :, i, j], (1, c, h, w))
        expected = torch.zeros(h, w, dtype=torch.bool)
        expected[:i] = True                                    # every row above, incl. right
        expected[i, :j] = True                                 # the row to the left
        assert torch.equal(seen.any(0), expected)
        assert torch.equal(seen.all(0), expected)              # every colour of those pixels


@pytest.mark.parametrize("n_layers,n_stages", [(1, 1), (2, 1), (1, 2)])
def test_receptive_field_bounds_the_dependence(n_layers, n_stages):
    net = _net(1, n_layers=n_layers, n_stages=n_stages, hidden_channels=3)
    up, left, right = _reach(n_layers, n_stages)
    assert net.receptive_field == max(up, left, right)
    size = 2 * net.receptive_field + 4
    i = j = net.receptive_field + 2
    seen = _seen(lambda z: net(z)[0, :, i, j], (1, 1, size, size))[0]
    rows, cols = torch.nonzero(seen).T
    assert rows.min() >= i - up and cols.min() >= j - left and cols.max() <= j + right
    if n_stages == 1:                                          # the bound is exact here
        assert rows.min() == i - up and cols.min() == j - left and cols.max() == j + right


def test_row_features_change_log_prob_and_stay_causal():
    net = _net(1, n_row_features=2)
    x = torch.randint(0, 4, (2, 1, 7, 5)).double()
    rc = torch.randn(2, 2, 7, dtype=torch.float64)
    base = net.log_prob(x, row_cond=rc)
    assert base.shape == (2, 1, 7, 5)
    for r in (0, 3, 6):
        moved = rc.clone()
        moved[:, :, r] += 1.0
        diff = (net.log_prob(x, row_cond=moved) != base).any(1)   # (B, H, W)
        assert not diff[:, :r].any() and diff[:, r].all()         # rows before r untouched
    seen = _seen(lambda z: net.log_prob(x[:1], row_cond=z[:, :, :, 0])[0, 0, 3, 2],
                 (1, 2, 7, 1)).any(0)[:, 0]
    assert torch.equal(seen, torch.arange(7) <= 3)            # covariates of rows <= 3 only
    with pytest.raises(ValueError, match="row_cond must have shape"):
        net.log_prob(x, row_cond=rc[:, :, :5])
    with pytest.raises(ValueError, match="n_row_features=0"):
        _net(1).log_prob(x, row_cond=rc)


def test_any_image_size_and_config_round_trip():
    net = _net(3, n_levels=5)
    for h, w in [(1, 1), (3, 5), (9, 6)]:
        x = torch.randint(0, 5, (2, 3, h, w)).double()
        lp = net.log_prob(x)
        assert lp.shape == (2, 3, h, w) and torch.isfinite(lp).all() and (lp <= 0).all()
    rebuilt = NETWORKS["PixelCNNPP"](**net.config)
    assert rebuilt.config == net.config
    with pytest.raises(ValueError, match="labels"):
        _net(1, n_classes=2)(torch.zeros(1, 1, 4, 4, dtype=torch.float64))


# ---------------------------------------------------------------------- generation
def _assert_teacher_forced_steps_match(net, x, labels, rc, firsts):
    """From each first row, every cached step (fed the true pixels) equals the full pass."""
    full = net(x, labels, rc)
    h, w = x.shape[2:]
    for first in firsts:
        filled = x.clone()
        filled[:, :, first:] = 0
        stepper = net.stepper(filled, first, labels, row_cond=rc)
        for i in range(first, h):
            stepper.begin_row(i)
            for j in range(w):
                assert (stepper.raw(i, j) - full[:, :, i, j]).abs().max() < 1e-10
                filled[:, :, i, j] = x[:, :, i, j]
                stepper.end_pixel(i, j)


@pytest.mark.parametrize("c,n_classes,n_row_features,n_layers", [(1, 0, 0, 1), (3, 2, 2, 2)])
def test_cached_steps_equal_the_full_forward_pass(c, n_classes, n_row_features, n_layers):
    """Teacher-forced: every cached step reproduces the full network's output, from any
    first row (aligned with the downsampling or not), for sizes that do not divide it."""
    net = _net(c, n_levels=5, n_classes=n_classes, n_row_features=n_row_features,
               n_layers=n_layers)
    h, w = 9, 7
    x = torch.randint(0, 5, (2, c, h, w)).double()
    labels = torch.tensor([0, 1]) if n_classes else None
    rc = torch.randn(2, n_row_features, h, dtype=torch.float64) if n_row_features else None
    _assert_teacher_forced_steps_match(net, x, labels, rc, (0, 3, 4, 8))


@pytest.mark.parametrize("n_stages,h,firsts", [(2, 23, (0, 13)), (3, 50, (0, 30, 35))])
def test_incremental_u_stream_on_images_taller_than_the_receptive_field(n_stages, h, firsts):
    """The u stream is carried row by row in buffers: teacher-forced cached steps still equal
    the full pass far below the receptive field, for heights not a multiple of the factor and
    first rows aligned or not, with labels and row covariates."""
    net = _net(1, n_levels=5, n_classes=2, n_row_features=2, n_stages=n_stages,
               hidden_channels=4)
    assert h > net.receptive_field and h % net.factor
    w = 3
    x = torch.randint(0, 5, (2, 1, h, w)).double()
    labels, rc = torch.tensor([0, 1]), torch.randn(2, 2, h, dtype=torch.float64)
    _assert_teacher_forced_steps_match(net, x, labels, rc, firsts)


@pytest.mark.parametrize("c,n_classes,n_row_features", [(1, 0, 0), (3, 2, 0), (1, 2, 3)])
def test_cached_generation_equals_naive(c, n_classes, n_row_features):
    net = _net(c, n_levels=6, n_classes=n_classes, n_row_features=n_row_features)
    labels = torch.tensor([0, 1, 1]) if n_classes else None
    rc = torch.randn(3, n_row_features, 6, dtype=torch.float64) if n_row_features else None
    known = torch.randint(0, 6, (3, c, 2, 5)).double()
    for kn in (None, known):
        out = []
        for naive in (False, True):
            with torch.random.fork_rng():
                torch.manual_seed(3)
                out.append(net.generate(3, 6, 5, labels=labels, known=kn, naive=naive,
                                        row_cond=rc))
        assert torch.equal(out[0], out[1])
        assert out[0].shape == (3, c, 6, 5)
        assert ((out[0] >= 0) & (out[0] <= 5) & (out[0] == out[0].round())).all()
        if kn is not None:
            assert torch.equal(out[0][:, :, :2], known)
    with torch.random.fork_rng():
        torch.manual_seed(4)
        other = net.generate(3, 6, 5, labels=labels, row_cond=rc)
    assert not torch.equal(other, out[0])


# ---------------------------------------------------------------------- the density
def _all_images(n_levels, h, w, c):
    combos = np.array(list(itertools.product(range(n_levels), repeat=h * w * c)), dtype=np.uint8)
    return combos.reshape(-1, h, w, c)


@pytest.mark.slow
def test_density_normalises_exactly_over_all_binary_3x3_images():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 2, size=(20, 3, 3)).astype(np.uint8)
    d = PixelCNNPPDensity(**TINY, n_levels=2).fit(train)
    every = _all_images(2, 3, 3, 1)[..., 0]                  # (512, 3, 3)
    assert abs(np.exp(d.score_samples(every)).sum() - 1.0) < 1e-4
    rgb = PixelCNNPPDensity(**TINY, n_levels=2).fit(rng.integers(0, 2, size=(10, 1, 2, 3)))
    assert abs(np.exp(rgb.score_samples(_all_images(2, 1, 2, 3))).sum() - 1.0) < 1e-4


@pytest.mark.slow
def test_learns_digits_samples_completes_and_conditions():
    digits = load_digits()
    X, y = digits.images[:300].astype(np.uint8), digits.target[:300]
    d = PixelCNNPPDensity(n_layers=1, hidden_channels=12, n_mixtures=3, dropout=0.1,
                          n_levels=17, max_epochs=2, batch_size=16, lr=3e-3,
                          random_state=0).fit(X, y)
    assert d.bits_per_dim(X[:100], y[:100]) < 2.5            # uniform: log2(17) = 4.09 bits
    assert d.loss_curve_[-1] < d.loss_curve_[0]
    a, b = d.sample(6, y=0, random_state=0), d.sample(6, y=1, random_state=0)
    assert a.shape == (6, 8, 8) and a.dtype == np.uint8 and a.max() <= 16
    assert not np.array_equal(a, b)                            # the label changes the samples
    assert np.array_equal(d.sample(3, y=0, random_state=1), d.sample(3, y=0, random_state=1))
    out = d.complete(X[:2], n_known=3, n_samples=2, y=y[:2], random_state=0)
    assert out.shape == (2, 2, 8, 8)
    assert np.array_equal(out[:, :, :3], np.broadcast_to(X[:2, :3], out[:, :, :3].shape))
    assert not np.array_equal(out[0, :, 3:], out[1, :, 3:])
    # the net is in eval mode after fit: dropout off, scores deterministic
    assert np.array_equal(d.score_samples(X[:5], y[:5]), d.score_samples(X[:5], y[:5]))


GOOD = np.random.default_rng(9).integers(0, 4, size=(6, 4, 4)).astype(np.uint8)


@pytest.mark.parametrize("X,match", [
    (GOOD + 0.5, "integer levels"), (GOOD.astype(int) + 4, "level 7 but n_levels=4"),
    (GOOD[0], r"\(n, H, W\) or \(n, H, W, C\)"), (GOOD[..., None, None], "got shape"),
])
def test_rejects_bad_images(X, match):
    with pytest.raises(ValueError, match=match):
        PixelCNNPPDensity(**TINY, n_levels=4).fit(X)


@pytest.mark.parametrize("params,match", [
    ({"n_mixtures": 0}, "n_mixtures"), ({"dropout": 1.0}, "dropout"),
    ({"dropout": -0.1}, "dropout"), ({"n_layers": 0}, "n_layers"),
    ({"hidden_channels": 1.5}, "hidden_channels"), ({"n_levels": 1}, "n_levels"),
])
def test_rejects_bad_hyperparameters(params, match):
    with pytest.raises(ValueError, match=match):
        PixelCNNPPDensity(**{**TINY, **params}).fit(GOOD)


def test_errors_after_fit():
    d = PixelCNNPPDensity(**TINY, n_levels=4).fit(GOOD)
    with pytest.raises(ValueError, match="fitted without labels"):
        d.score_samples(GOOD, y=np.zeros(6))
    with pytest.raises(ValueError, match="fitted without labels"):
        d.sample(2, y=[0, 1])
    with pytest.raises(ValueError, match="n_levels=4"):
        d.score_steps(GOOD + 4)
    with pytest.raises(ValueError, match="3 channels but the model was fitted on 1"):
        d.score_samples(GOOD[..., None].repeat(3, axis=3))


@pytest.mark.slow
def test_same_seed_same_fit_with_dropout_and_global_rng_untouched():
    X = np.random.default_rng(7).integers(0, 4, size=(10, 4, 4)).astype(np.uint8)
    params = {**TINY, "dropout": 0.5}
    state = torch.get_rng_state()
    a = PixelCNNPPDensity(**params, n_levels=4).fit(X)
    b = PixelCNNPPDensity(**params, n_levels=4).fit(X)
    assert torch.equal(state, torch.get_rng_state())
    assert a.loss_curve_ == b.loss_curve_
    for (ka, va), (kb, vb) in zip(a.network_.state_dict().items(),
                                  b.network_.state_dict().items()):
        assert torch.equal(va, vb), ka
    c = PixelCNNPPDensity(**{**params, "random_state": 1}, n_levels=4).fit(X)
    assert c.loss_curve_ != a.loss_curve_
