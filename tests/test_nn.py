"""Layers and heads: causality, channel masks, queues, exact normalisation."""

import math

import numpy as np
import pytest
import torch

from tsargen.audio import mu_law_decode, mu_law_encode
from tsargen.nn import (CausalConv1d, ChannelMaskedConv1d, HeadSet, ResidualBlock, group_mask,
                        make_head)


def _input_grad(module, x, t_out, out_slice=slice(None)):
    x = x.clone().requires_grad_(True)
    module(x)[:, out_slice, t_out].sum().backward()
    return x.grad


@pytest.mark.parametrize("kernel_size,dilation", [(2, 1), (3, 4), (5, 2)])
def test_causal_conv_sees_exactly_its_span(kernel_size, dilation):
    conv = CausalConv1d(2, 3, kernel_size, dilation).double()
    x = torch.randn(1, 2, 40, dtype=torch.float64)
    grad = _input_grad(conv, x, 30)[0].abs().sum(0)
    seen = torch.nonzero(grad).flatten().tolist()
    assert seen == [30 - j * dilation for j in range(kernel_size - 1, -1, -1)]
    assert conv.span == (kernel_size - 1) * dilation


def test_group_masks_a_and_b():
    a = group_mask([0, 1, 2], [0, 1, 2], "A")
    b = group_mask([0, 1, 2], [0, 1, 2], "B")
    assert torch.equal(a, torch.tensor([[0., 0, 0], [1, 0, 0], [1, 1, 0]]))
    assert torch.equal(b, torch.tensor([[1., 0, 0], [1, 1, 0], [1, 1, 1]]))
    with pytest.raises(ValueError, match="mask_type"):
        group_mask([0], [0], "C")


def test_channel_masked_conv_current_tap_only():
    conv = ChannelMaskedConv1d([0, 1], [0, 0, 1, 1], "A", kernel_size=2).double()
    x = torch.randn(1, 2, 10, dtype=torch.float64)
    g0 = _input_grad(conv, x, 5, slice(0, 2))[0]      # group 0 outputs
    g1 = _input_grad(conv, x, 5, slice(2, 4))[0]      # group 1 outputs
    assert g0[:, 5].abs().sum() == 0                  # sees nothing of step 5
    assert g0[:, 4].abs().min() > 0                   # but all of step 4
    assert g1[0, 5] != 0 and g1[1, 5] == 0            # channel 0 of its own step, not channel 1
    assert g1[:, 6:].abs().sum() == 0


def test_masks_are_buffers_and_weights_untouched():
    conv = ChannelMaskedConv1d([0, 1], [0, 1], "A", kernel_size=2)
    before = conv.weight.detach().clone()
    conv(torch.randn(2, 2, 7))
    assert torch.equal(conv.weight, before)
    assert "mask" in dict(conv.named_buffers())


def test_residual_block_is_causal():
    blk = ResidualBlock([0] * 4, [0] * 5, kernel_size=2, dilation=4).double()
    x = torch.randn(1, 4, 30, dtype=torch.float64, requires_grad=True)
    h, skip = blk(x)
    (h[:, :, 20].sum() + skip[:, :, 20].sum()).backward()
    assert x.grad[:, :, 21:].abs().sum() == 0
    assert x.grad[:, :, 16].abs().sum() > 0


# ---------------------------------------------------------------------------- heads
def _binned(name, n_bins, quantization="uniform", n_channels=2, **kw):
    head = make_head(name, n_bins=n_bins, quantization=quantization, n_channels=n_channels, **kw)
    head.fit(torch.randn(500, n_channels, dtype=torch.float64) * 3)
    return head.double()


@pytest.mark.parametrize("quantization", ["uniform", "quantile", "mu_law"])
@pytest.mark.parametrize("name,kw", [("categorical", {}),
                                     ("discretized_logistic_mixture", {"n_mixtures": 3})])
@pytest.mark.slow
def test_binned_density_integrates_to_one(name, kw, quantization):
    head = _binned(name, 32, quantization, **kw)
    raw = torch.randn(4, 2, head.n_params, dtype=torch.float64) * 3     # (B, C, P)
    centers = head.centers.T                                             # (n_bins, C)
    logp = head.log_prob(raw[:, None].expand(4, 32, 2, head.n_params), centers.expand(4, 32, 2))
    inside = (logp.exp() * head.widths.T).sum(1)         # constant within a bin: exact
    # beyond the outer edges, out to 50 outer-bin widths (the rest is below 1e-20)
    # the tails fall exponentially (one e-fold per outer-bin width w): a step of w/400 keeps
    # the trapezoid rule's relative error near 1e-7
    steps = torch.linspace(1e-12, 1.0, 20001, dtype=torch.float64)[:, None]      # (G, 1)
    w_lo, w_hi = head.widths[:, 0], head.widths[:, -1]
    for side, x in (("left", head.edges[:, 0] - 50 * w_lo * steps),
                    ("right", head.edges[:, -1] + 50 * w_hi * steps)):   # (G, C)
        dens = head.log_prob(raw[:, None].expand(4, len(x), 2, head.n_params),
                             x.expand(4, -1, -1)).exp()                  # (B, G, C)
        inside = inside + torch.trapezoid(dens, x[None].expand(4, -1, -1), dim=1).abs()
    torch.testing.assert_close(inside, torch.ones(4, 2, dtype=torch.float64), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["categorical", "discretized_logistic_mixture"])
def test_binned_density_sees_values_far_outside_the_fitted_range(name):
    head = _binned(name, 32, n_channels=1, **({"n_mixtures": 2} if "mixture" in name else {}))
    raw = torch.randn(1, 1, head.n_params, dtype=torch.float64)
    hi, w = head.edges[0, -1], head.widths[0, -1]
    x = torch.stack([hi - w / 2, hi + w, hi + 10 * w, hi + 1e6])[:, None]   # (4, 1)
    lp = head.log_prob(raw.expand(4, 1, head.n_params), x)[:, 0]
    # past the edge the log-density falls by one per outer-bin width; a huge outlier is
    # far less likely than any value inside the range
    torch.testing.assert_close(lp[1] - lp[2], torch.tensor(9.0, dtype=torch.float64))
    assert lp[0] > lp[1] and lp[3] < lp[0] - 1e5


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_discretized_logistic_mixture_levels_exact_and_safe(scale):
    head = make_head("discretized_logistic_mixture", n_bins=256, quantization="levels",
                     n_mixtures=5, n_channels=1).double()
    raw = torch.randn(6, 1, head.n_params, dtype=torch.float64) * scale
    raw[0, 0, 10:] = -50.0       # log-scales far below the clamp: a near point mass
    raw[1, 0, 5:10] = 40.0       # locations far beyond the edges
    levels = torch.arange(256, dtype=torch.float64)
    logp = head.log_prob(raw[:, None].expand(6, 256, 1, head.n_params),
                         levels[None, :, None].expand(6, 256, 1))
    assert torch.isfinite(logp).all()
    torch.testing.assert_close(logp.exp().sum(1), torch.ones(6, 1, dtype=torch.float64),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(head.log_prob_bins(raw).exp().sum(-1),
                               torch.ones(6, 1, dtype=torch.float64), atol=1e-5, rtol=0)


def test_discretized_logistic_mixture_huge_scales_stay_finite_in_float32():
    # a log-scale so large that 1/s underflows float32 must still give every level a finite
    # log-mass (an inner level's mass is tiny but not zero)
    head = make_head("discretized_logistic_mixture", n_bins=256, quantization="levels",
                     n_mixtures=2, n_channels=1)
    raw = torch.tensor([[[0.0, 0.0, 0.3, -0.2, 150.0, 300.0]]])            # (1, C, 3M)
    levels = torch.arange(256, dtype=torch.float32)
    logp = head.log_prob(raw.expand(256, 1, 6), levels[:, None])
    assert torch.isfinite(logp).all()
    assert abs(float(logp.double().exp().sum()) - 1.0) < 1e-4


@pytest.mark.parametrize("loc", [3e5, 1e7, -3e5])
def test_discretized_logistic_mixture_far_locations_stay_finite_in_float32(loc):
    # an inner bin's width term must not come from subtracting two huge standardised edges
    head = make_head("discretized_logistic_mixture", n_bins=256, quantization="levels",
                     n_mixtures=1, n_channels=1)
    raw = torch.tensor([[[0.0, loc, -7.0]]], requires_grad=True)           # (B, C, 3M)
    lp = head.log_prob(raw, torch.tensor([[100.0]]))
    (grad,) = torch.autograd.grad(lp.sum(), raw)
    assert torch.isfinite(lp).all() and torch.isfinite(grad).all()


def test_categorical_levels_exact():
    head = make_head("categorical", n_bins=7, quantization="levels").double()
    raw = torch.randn(3, 1, 7, dtype=torch.float64)
    lp = torch.stack([head.log_prob(raw, torch.full((3, 1), float(k), dtype=torch.float64))
                      for k in range(7)], -1)
    torch.testing.assert_close(lp, torch.log_softmax(raw, -1), atol=1e-12, rtol=0)


@pytest.mark.parametrize("name,kw", [("gaussian", {}), ("student_t", {}),
                                     ("logistic_mixture", {"n_mixtures": 3})])
def test_continuous_heads_integrate_to_one(name, kw):
    head = make_head(name, n_channels=1, **kw).double()
    raw = torch.randn(3, 1, head.n_params, dtype=torch.float64)
    grid = torch.linspace(-60, 60, 240001, dtype=torch.float64)
    logp = head.log_prob(raw[:, None].expand(3, grid.numel(), 1, head.n_params),
                         grid[None, :, None].expand(3, -1, 1))[..., 0]
    total = torch.trapezoid(logp.exp(), grid, dim=1)
    torch.testing.assert_close(total, torch.ones(3, dtype=torch.float64), atol=2e-3, rtol=0)


@pytest.mark.parametrize("name", ["gaussian", "student_t", "logistic_mixture", "categorical",
                                  "discretized_logistic_mixture"])
def test_head_sample_mean_matches_mean(name):
    kw = {"n_bins": 64} if name in ("categorical", "discretized_logistic_mixture") else {}
    head = make_head(name, n_channels=1, **kw).double()
    if hasattr(head, "edges"):
        head.fit(torch.linspace(-3, 3, 100, dtype=torch.float64)[:, None])
    raw = torch.randn(1, 1, head.n_params, dtype=torch.float64) * 0.5
    with torch.random.fork_rng():
        torch.manual_seed(0)
        draws = head.sample(raw.expand(40000, 1, head.n_params))
    assert abs(draws.mean() - head.mean(raw)[0, 0]) < 0.05


@pytest.mark.parametrize("quantization", ["uniform", "levels"])
def test_binned_head_draws_follow_bin_probabilities_per_channel(quantization):
    # two channels with different bin edges: each draw lands in its own channel's bins with the
    # head's probabilities (and on the integer levels themselves for quantization="levels")
    head = make_head("categorical", n_bins=4, quantization=quantization, n_channels=2).double()
    head.fit(torch.tensor([[0.0, 100.0], [1.0, 300.0]], dtype=torch.float64))
    raw = torch.tensor([[[2.0, 0.0, -1.0, 1.0], [-2.0, 1.0, 0.5, 0.0]]], dtype=torch.float64)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        draws = head.sample(raw.expand(40000, 2, 4))                    # (N, C)
    idx = head.bin_index(draws)
    if quantization == "levels":
        assert torch.equal(draws, idx.to(draws.dtype))
    else:  # half of an outer bin's draws lie in its tail, beyond the fitted range
        probs = torch.softmax(raw[0], -1)
        lo, hi = head.edges[:, 0], head.edges[:, -1]
        torch.testing.assert_close((draws < lo).double().mean(0), probs[:, 0] / 2,
                                   atol=0.01, rtol=0)
        torch.testing.assert_close((draws > hi).double().mean(0), probs[:, -1] / 2,
                                   atol=0.01, rtol=0)
    freq = torch.stack([(idx == k).double().mean(0) for k in range(4)], dim=-1)   # (C, 4)
    torch.testing.assert_close(freq, torch.softmax(raw[0], -1), atol=0.01, rtol=0)


def test_headset_mixed_heads_layout():
    hs = HeadSet([{"name": "categorical", "kwargs": {"n_bins": 3, "quantization": "levels"},
                   "channels": [1]},
                  {"name": "gaussian", "channels": [0, 2]}])
    assert hs.n_params_per_channel == [2, 3, 2]
    raw = torch.randn(5, 7)
    x = torch.tensor([[0.3, 2.0, -1.0]] * 5)
    lp = hs.log_prob(raw, x)
    expected_cat = torch.log_softmax(raw[:, 2:5], -1)[:, 2]
    torch.testing.assert_close(lp[:, 1], expected_cat)
    gauss = hs.heads[1].log_prob(raw[:, [0, 1, 5, 6]].reshape(5, 2, 2), x[:, [0, 2]])
    torch.testing.assert_close(lp[:, [0, 2]], gauss)
    with pytest.raises(ValueError, match="exactly once"):
        HeadSet([{"name": "gaussian", "channels": [0, 2]}])


def test_unknown_head_name():
    with pytest.raises(ValueError, match="unknown distribution"):
        make_head("poisson")


def test_mu_law_roundtrip_all_levels():
    levels = np.arange(256)
    assert np.array_equal(mu_law_encode(mu_law_decode(levels)), levels)
    x = np.linspace(-1, 1, 1001)
    assert np.max(np.abs(mu_law_decode(mu_law_encode(x)) - x)) < 0.05
    assert math.isclose(mu_law_decode(255), 1.0) and math.isclose(mu_law_decode(0), -1.0)
