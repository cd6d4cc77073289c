"""WaveNetEnsemble (n_networks > 1): exact mixture likelihood, sampler that draws from it,
cached == naive generation, black-box causality, estimator plumbing and persistence."""

import itertools
import pickle

import numpy as np
import pytest
import torch

import tsargen
from tsargen import WaveNetDensity, WaveNetForecaster
from tsargen.networks import WaveNet, WaveNetEnsemble, generate
from tsargen.networks.wavenet import FUSED_MAX_BATCH

from .conftest import TINY


def _ensemble(head, c=2, dep="joint", n=3, **kw):
    spec = [{**head, "channels": list(range(c))}]
    torch.manual_seed(0)
    nets = [WaveNet(spec, **{"n_stacks": 1, "n_layers": 3, "residual_channels": 6,
                             "skip_channels": 6, "channel_dependence": dep, **kw}).double()
            for _ in range(n)]
    return WaveNetEnsemble(nets)


LEVELS = {"name": "categorical", "kwargs": {"n_bins": 4, "quantization": "levels"}}
GAUSS = {"name": "gaussian"}


def test_log_prob_is_the_log_mean_exp_of_the_members():
    ens = _ensemble(GAUSS)
    x = torch.randn(3, 2, 20, dtype=torch.float64)
    members = torch.stack([m.log_prob(x) for m in ens.members]).exp()     # (M, B, C, T)
    torch.testing.assert_close(ens.log_prob(x).exp(), members.mean(0))


@pytest.mark.parametrize("dep", ["joint", "independent"])
def test_mixture_is_normalised_over_every_value_of_a_step(dep):
    """Sum of p(x_t | past) over all 4 x 4 level pairs of a step is 1 (joint: the product of
    the channel conditionals, each a mixture given the channels before it)."""
    ens = _ensemble(LEVELS, dep=dep)
    past = torch.randint(0, 4, (1, 2, 9)).double()
    pairs = torch.tensor(list(itertools.product(range(4), repeat=2)), dtype=torch.float64)
    x = torch.cat([past.expand(16, -1, -1), pairs[:, :, None]], dim=2)     # (16, 2, 10)
    step = ens.log_prob(x)[:, :, -1].sum(1)                                # log p(x_t | past)
    assert abs(step.exp().sum().item() - 1) < 1e-10


def test_sampler_draws_from_the_mixture():
    """One generated step from a fixed history: level frequencies over 40,000 paths match the
    mixture probabilities (not one member's, not their parameters averaged)."""
    head = {"name": "categorical", "kwargs": {"n_bins": 6, "quantization": "levels"}}
    ens = _ensemble(head, c=1, n=2)
    with torch.no_grad():
        for m, member in enumerate(ens.members):        # make the members clearly disagree
            member.post2.bias.add_(torch.linspace(-2, 2, 6) * (1 if m else -1))
    hist = torch.randint(0, 6, (1, 1, 8)).double()
    candidates = torch.cat([hist.expand(6, -1, -1), torch.arange(6.0)[:, None, None]], 2)
    probs = ens.log_prob(candidates)[:, 0, -1].exp()
    member_probs = torch.stack([m.log_prob(candidates)[:, 0, -1].exp() for m in ens.members])
    assert (member_probs - probs).abs().max() > 0.1
    n = 40_000
    with torch.random.fork_rng():
        torch.manual_seed(0)
        draws = generate(ens, hist.expand(n, -1, -1), 1)[:, 0, 0].long()
    freq = torch.bincount(draws, minlength=6).double() / n
    sd = (probs * (1 - probs) / n).sqrt()
    assert ((freq - probs).abs() < 5 * sd + 1e-3).all(), (freq, probs)


@pytest.mark.parametrize("head", [GAUSS, LEVELS])
@pytest.mark.parametrize("dep", ["joint", "independent"])
@pytest.mark.parametrize("batch", [2, FUSED_MAX_BATCH + 1])
def test_cached_generation_equals_naive(head, dep, batch):
    ens = _ensemble(head, dep=dep, cond_channels=1, kernel_size=3)
    hist = torch.randn(batch, 2, 6, dtype=torch.float64)
    if head is LEVELS:
        hist = hist.abs().mul(1.5).floor().clamp(max=3)
    cond = torch.randn(batch, 1, 6 + 12, dtype=torch.float64)
    out = []
    for naive in (False, True):
        with torch.random.fork_rng():
            torch.manual_seed(3)
            out.append(generate(ens, hist, 12, cond, naive=naive))
    assert out[0].shape == (batch, 2, 12)
    torch.testing.assert_close(out[0], out[1], atol=1e-10, rtol=0)


def test_members_must_agree():
    a = WaveNet([{**GAUSS, "channels": [0]}], n_stacks=1, n_layers=3)
    b = WaveNet([{**GAUSS, "channels": [0]}], n_stacks=1, n_layers=4)
    with pytest.raises(ValueError, match="receptive field"):
        WaveNetEnsemble([a, b])
    with pytest.raises(ValueError, match="at least one"):
        WaveNetEnsemble([])


# ---------------------------------------------------------------------------- estimators
def test_forecaster_ensemble_first_member_is_the_single_fit(ar2):
    y = ar2[:400]
    one = WaveNetForecaster(**TINY).fit(y)
    ens = WaveNetForecaster(**TINY, n_networks=3).fit(y)
    assert isinstance(ens.network_, WaveNetEnsemble) and len(ens.network_.members) == 3
    first = ens.network_.members[0].state_dict()
    assert all(torch.equal(v, first[k]) for k, v in one.network_.state_dict().items())
    w = [m.input.weight for m in ens.network_.members]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])
    assert ens.loss_curve_ == one.loss_curve_
    # the likelihood is the mixture's, computed from the members' step likelihoods
    members = []
    for m in ens.network_.members:              # score with each member in turn (same scaling)
        one.network_ = m
        members.append(one.score_steps(y))
    np.testing.assert_allclose(ens.score_steps(y),
                               np.log(np.mean(np.exp(members), axis=0)), rtol=1e-6)
    assert ens.predict(5).shape == (5,)
    np.testing.assert_array_equal(ens.predict(5), ens.predict(5))


@pytest.mark.parametrize("kw", [{}, {"differences": 1}])
def test_forecaster_ensemble_is_black_box_causal(ar2, kw):
    y = ar2[:300]
    f = WaveNetForecaster(**TINY, n_networks=2, **kw).fit(y)
    base = f.score_steps(y)
    for t in (40, 299):
        bumped = y.copy()
        bumped[t] += 50.0
        steps = f.score_steps(bumped)
        np.testing.assert_array_equal(steps[:t], base[:t])
        assert steps[t] != base[t]


def test_density_ensemble_save_load_pickle(tmp_path):
    X = np.cumsum(np.random.default_rng(0).normal(size=(30, 40)), axis=1)
    d = WaveNetDensity(**TINY, n_networks=2).fit(X)
    assert isinstance(d.network_, WaveNetEnsemble)
    d.save(tmp_path / "d.tsargen")
    for other in (tsargen.load(tmp_path / "d.tsargen"), pickle.loads(pickle.dumps(d))):
        assert isinstance(other.network_, WaveNetEnsemble)
        np.testing.assert_array_equal(other.score_steps(X), d.score_steps(X))
        np.testing.assert_array_equal(other.sample(3, random_state=1), d.sample(3, random_state=1))


@pytest.mark.parametrize("bad", [0, 2.5, True, "2"])
def test_bad_n_networks(bad):
    with pytest.raises(ValueError, match="n_networks"):
        WaveNetForecaster(**TINY, n_networks=bad).fit(np.arange(100.0))


def test_ensemble_checkpoints_one_file_per_network(tmp_path, ar2):
    y, path = ar2[:300], tmp_path / "fit.ckpt"
    a = WaveNetForecaster(**TINY, n_networks=2).fit(y, checkpoint=path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.ckpt", "fit.ckpt.1"]
    b = WaveNetForecaster(**TINY, n_networks=2).fit(y, checkpoint=path)      # resumed: done
    np.testing.assert_array_equal(a.score_steps(y), b.score_steps(y))
    np.testing.assert_array_equal(a.score_steps(y), WaveNetForecaster(
        **TINY, n_networks=2).fit(y).score_steps(y))
