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


# ---------------------------------------------------------------------- shared priming
def _shared_and_unshared(net, hist, labels, paths, cond=None, cond_index=None, n_steps=15):
    """Samples drawn with priming shared (``paths=``), without (histories repeated), and by the
    naive recompute, each under the same seed."""
    runs = [dict(history=hist, labels=labels, paths=paths),
            dict(history=hist[paths], labels=labels[paths]),
            dict(history=hist, labels=labels, paths=paths, naive=True)]
    out = []
    for kw in runs:
        with torch.random.fork_rng():
            torch.manual_seed(3)
            out.append(generate(net, n_steps=n_steps, cond=cond, cond_index=cond_index, **kw))
    return out


@pytest.mark.parametrize("head", ["gaussian", "categorical"])
@pytest.mark.parametrize("dep", ["joint", "independent"])
@pytest.mark.parametrize("n_paths", [1, 3])
@pytest.mark.parametrize("kernel_size", [2, 3])
def test_shared_priming_draws_what_unshared_and_naive_draw(head, dep, n_paths, kernel_size):
    # 2 histories x 3 paths = 6 > FUSED_MAX_BATCH: both step layouts are covered
    net = _net(head, c=2, dep=dep, cond_channels=1, n_classes=2, kernel_size=kernel_size)
    hist = torch.randn(2, 2, 6, dtype=torch.float64)
    hist[1, 0, 2] = float("nan")                                # a missing value in a history
    labels = torch.tensor([1, 0])
    paths = torch.arange(2).repeat_interleave(n_paths)          # each history's paths together
    cond = torch.randn(2, 1, 6 + 15, dtype=torch.float64)[paths]
    cond[1::2, :, 6:] += 1.0              # paths of one history may differ in future covariates
    shared, unshared, naive = _shared_and_unshared(net, hist, labels, paths, cond)
    assert shared.shape == (2 * n_paths, 2, 15)
    # the same draws; a continuous head's values may differ in the last bits, since torch's
    # CPU kernels may round a batch of S rows differently from one of B rows (as the naive
    # recompute's do); a binned head's are equal
    for other in (unshared, naive):
        if head == "categorical":
            assert torch.equal(shared, other)
        torch.testing.assert_close(shared, other, atol=1e-10, rtol=0)


def test_shared_priming_any_order_and_frame_conditioning():
    """Paths in any order (sample-major, as ``complete`` lays them out) and covariates given as
    frames through ``cond_index``."""
    net = _net("categorical", c=1, cond_channels=2, n_classes=3)
    hist = torch.randn(3, 1, 7, dtype=torch.float64)
    labels = torch.tensor([2, 0, 1])
    paths = torch.tensor([1, 0, 2, 1, 0, 2, 2])
    frames = torch.randn(3, 2, 5, dtype=torch.float64)[paths]       # (B, K, F)
    index = torch.arange(7 + 20) // 6
    shared, unshared, naive = _shared_and_unshared(net, hist, labels, paths, frames, index, 20)
    assert torch.equal(shared, unshared) and torch.equal(shared, naive)


def test_priming_runs_the_network_once_per_history():
    net = _net("gaussian", c=2, cond_channels=1, n_classes=2)
    hist = torch.randn(2, 2, 30, dtype=torch.float64)
    cond, labels = torch.randn(2, 1, 30, dtype=torch.float64), torch.tensor([0, 1])
    rows = []
    hook = net.blocks[0].register_forward_hook(lambda m, args, out: rows.append(args[0].shape[0]))
    paths = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    try:
        state = net.init_state(hist, cond, labels, paths)
    finally:
        hook.remove()
    assert rows == [2]                           # one pass over the 2 histories, not 7 paths
    ref = net.init_state(hist[paths], cond[paths], labels[paths])
    assert state.ring.rows.shape == ref.ring.rows.shape == (net.receptive_field - 1, 7, 6)
    torch.testing.assert_close(state.ring.rows, ref.ring.rows, atol=1e-12, rtol=0)
    assert torch.equal(state.blocks.bias, ref.blocks.bias) and state.t == ref.t == 30
    # every path owns its queues: a commit to one path leaves the others of its history as
    # they were
    x_t = torch.zeros(7, 2, dtype=torch.float64)
    x_t[0] = 5.0
    net.commit(state, x_t)
    cond_t = torch.zeros(7, 1, dtype=torch.float64)
    a, b = net.step(x_t, state, cond_t), net.step(x_t, state, cond_t)
    assert torch.equal(a, b) and not torch.equal(a[0], a[1]) and torch.equal(a[1], a[2])


def test_paths_sharing_a_history_are_independent_draws():
    """Two paths of one history, over many seeds: their first steps (and fifth) are
    uncorrelated. Under independence the sample correlation of n pairs has standard deviation
    about 1/sqrt(n) = 0.05 for n = 400; the bound is 4 of those (a copied draw gives 1)."""
    net = _net("gaussian", c=1)
    hist = torch.randn(1, 1, 10, dtype=torch.float64)
    paths = torch.zeros(2, dtype=torch.long)
    steps = []
    for seed in range(400):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            steps.append(generate(net, hist, 5, paths=paths)[:, 0])              # (2, 5)
    steps = torch.stack(steps)                                                   # (400, 2, 5)
    for t in (0, 4):
        r = torch.corrcoef(steps[:, :, t].T)[0, 1].item()
        assert abs(r) < 0.2, (t, r)
    assert steps[:, 0].std(0).min() > 0.1              # and they do vary from seed to seed
