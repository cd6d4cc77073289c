"""WaveNet network: receptive field, within-step channel causality, incremental == full."""

import pytest
import torch

from tsargen.networks import WaveNet, generate
from tsargen.networks.wavenet import FUSED_MAX_BATCH

HEADS = {
    "gaussian": {"name": "gaussian"},
    "student_t": {"name": "student_t"},
    "logistic_mixture": {"name": "logistic_mixture", "kwargs": {"n_mixtures": 3}},
    "categorical": {"name": "categorical", "kwargs": {"n_bins": 16, "quantization": "mu_law"}},
    "discretized_logistic_mixture": {"name": "discretized_logistic_mixture",
                                     "kwargs": {"n_bins": 16, "n_mixtures": 2}},
}


def _net(head="gaussian", c=3, dep="joint", **kw):
    spec = [{**HEADS[head], "channels": list(range(c))}]
    torch.manual_seed(0)
    net = WaveNet(spec, **{"n_stacks": 2, "n_layers": 3, "residual_channels": 6,
                           "skip_channels": 6, "channel_dependence": dep, **kw}).double()
    net.input_loc.fill_(0.3)        # non-trivial input standardisation on every path
    net.input_scale.fill_(2.0)
    return net


@pytest.mark.parametrize("kernel_size,n_stacks,n_layers", [(2, 1, 4), (3, 2, 3), (2, 2, 2)])
def test_receptive_field_is_the_dependency_span(kernel_size, n_stacks, n_layers):
    net = _net(c=1, kernel_size=kernel_size, n_stacks=n_stacks, n_layers=n_layers)
    t = 60
    x = torch.randn(1, 1, t + 1, dtype=torch.float64, requires_grad=True)
    net(x)[:, :, t].sum().backward()
    seen = torch.nonzero(x.grad[0, 0]).flatten()
    assert seen.max().item() == t - 1                       # never its own value
    assert t - seen.min().item() == net.receptive_field     # reaches back exactly the field
    assert net.receptive_field == (kernel_size - 1) * (1 + n_stacks * (2 ** n_layers - 1))


@pytest.mark.parametrize("dep", ["joint", "independent"])
def test_channel_dependence_within_a_step(dep):
    net = _net(c=3, dep=dep, residual_channels=12, skip_channels=12)
    per_channel = net.heads.n_params_per_channel[0]
    for c in range(3):
        seen_own, seen_prev = set(), set()
        for t in range(15, 30):   # union over steps: a ReLU may be off at any one step
            x = torch.randn(1, 3, 40, dtype=torch.float64, requires_grad=True)
            net(x)[:, c * per_channel:(c + 1) * per_channel, t].sum().backward()
            seen_own |= {i for i in range(3) if x.grad[0, i, t] != 0}
            seen_prev |= {i for i in range(3) if x.grad[0, i, t - 1] != 0}
            assert x.grad[0, :, t + 1:].abs().sum() == 0
        assert seen_own == (set(range(c)) if dep == "joint" else set())
        assert seen_prev == {0, 1, 2}


@pytest.mark.parametrize("head", list(HEADS))
@pytest.mark.parametrize("dep", ["joint", "independent"])
@pytest.mark.parametrize("batch,kernel_size", [(3, 2), (FUSED_MAX_BATCH + 2, 2),
                                               (1, 3), (FUSED_MAX_BATCH + 1, 3)])
def test_step_equals_full_forward(head, dep, batch, kernel_size):
    # batch <= FUSED_MAX_BATCH runs the fused small-batch step, larger batches the other one
    net = _net(head, c=2, dep=dep, cond_channels=2, n_classes=3, kernel_size=kernel_size).float()
    x = torch.randn(batch, 2, 40)
    x[0, 1, 5] = float("nan")                                   # missing values are flagged
    cond, labels = torch.randn(batch, 2, 40), torch.arange(batch) % 3
    full = net(x, cond, labels)
    state = net.init_state(x[:, :, :12], cond[:, :, :12], labels)
    for t in range(12, 40):
        raw = net.step(x[:, :, t], state, cond[:, :, t])
        assert (raw - full[:, :, t]).abs().max() < 1e-5
        net.commit(state, x[:, :, t])


@pytest.mark.parametrize("head", list(HEADS))
@pytest.mark.parametrize("dep", ["joint", "independent"])
@pytest.mark.parametrize("batch", [2, FUSED_MAX_BATCH + 1])
def test_cached_generation_equals_naive(head, dep, batch):
    net = _net(head, c=2, dep=dep, cond_channels=1, n_classes=2)
    hist = torch.randn(batch, 2, 6, dtype=torch.float64)
    cond = torch.randn(batch, 1, 6 + 15, dtype=torch.float64)
    labels = torch.arange(batch) % 2
    out = []
    for naive in (False, True):
        with torch.random.fork_rng():
            torch.manual_seed(3)
            out.append(generate(net, hist, 15, cond, labels, naive=naive))
    assert out[0].shape == (batch, 2, 15)
    torch.testing.assert_close(out[0], out[1], atol=1e-10, rtol=0)


def test_generation_from_empty_history():
    net = _net("gaussian", c=1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        a = generate(net, torch.zeros(4, 1, 0, dtype=torch.float64), 10)
    assert a.shape == (4, 1, 10) and torch.isfinite(a).all()


def test_joint_needs_enough_channels():
    with pytest.raises(ValueError, match="residual_channels"):
        WaveNet([{"name": "gaussian", "channels": [0, 1, 2]}], residual_channels=2)
