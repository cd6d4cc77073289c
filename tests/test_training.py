"""The training loop: lazy windows, NaN masking, early stopping with best-weights restore,
Polyak weight averaging."""

import re

import numpy as np
import pytest
import torch

from tsargen import PixelCNNDensity, WaveNetForecaster
from tsargen.estimators import _training
from tsargen.estimators._training import MIN_BATCHES, SeriesBank, train

from .conftest import TINY


def test_bank_stores_each_series_once_and_gathers_windows():
    series = [torch.arange(100.0)[:, None], torch.arange(1000.0, 1040.0)[:, None]]
    bank = SeriesBank(series, pad=5, n_targets=8)
    # data + pads (context of a window overhanging the start by 7, 8 targets after), no windows
    assert bank.data.shape[0] == (12 + 100 + 8) + (12 + 40 + 8)
    x, cov, labels, keep = bank.gather(torch.tensor([0, 1, 0]), torch.tensor([0, 36, -3]),
                                       torch.tensor([0, 0, 0]), torch.tensor([100, 40, 100]))
    assert x.shape == (3, 1, 13) and cov is None and labels is None
    assert torch.isnan(x[0, 0, :5]).all() and torch.equal(x[0, 0, 5:], torch.arange(8.0))
    assert torch.equal(x[1, 0, :9], torch.arange(1031.0, 1040.0))  # context then 4 targets
    assert torch.isnan(x[1, 0, 9:]).all()
    assert keep[1].tolist() == [True] * 4 + [False] * 4
    assert torch.isnan(x[2, 0, :8]).all() and torch.equal(x[2, 0, 8:], torch.arange(5.0))
    assert keep[2].tolist() == [False] * 3 + [True] * 5            # overhang before the start
    batches = bank.train_batches(16)
    assert not isinstance(batches, (list, tuple))                   # drawn lazily
    first = next(iter(batches))
    assert first[0].shape == (16, 1, 13)


def test_every_training_target_is_counted_equally_often():
    """Targets at the ends of a training range, in a range shorter than a window, or in a range
    that starts inside a series are counted as often as any other, and never outside it."""
    n_targets, pad = 8, 3
    lengths, ranges = (5, 8, 9, 60, 200), [(0, 5), (0, 8), (0, 9), (3, 41), (0, 200)]
    series = [torch.arange(n, dtype=torch.float32)[:, None] + 1000 * i
              for i, n in enumerate(lengths)]
    bank = SeriesBank(series, pad, n_targets, train_ranges=ranges)
    counts = torch.zeros(len(lengths) * 1000)
    epochs, batch_size = 60, 40
    with torch.random.fork_rng():
        torch.manual_seed(0)
        for _ in range(epochs):
            for x, _, _, keep in bank.train_batches(batch_size):
                counted = x[:, 0, pad:][keep]
                assert not torch.isnan(counted).any()
                counts += torch.bincount(counted.long(), minlength=counts.numel())
    inside = torch.zeros_like(counts, dtype=torch.bool)
    for i, (lo, hi) in enumerate(ranges):
        inside[1000 * i + lo: 1000 * i + hi] = True
    assert (counts[~inside] == 0).all()
    per_epoch = counts[inside] / epochs
    n_windows = MIN_BATCHES * batch_size                   # the floor binds on this small set
    expected = n_windows / sum(
        1 if hi - lo <= n_targets else (hi - lo + n_targets - 1) / n_targets for lo, hi in ranges)
    # about 36 windows per target and epoch: 60 epochs put every count within ~5% of its mean
    assert per_epoch.min() > 0.9 * expected and per_epoch.max() < 1.1 * expected


def test_an_epoch_counts_each_target_once_on_average():
    bank = SeriesBank([torch.randn(3000, 1), torch.randn(50, 1)], pad=4, n_targets=32)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        n = sum(int(b[3].sum()) for _ in range(20) for b in bank.train_batches(1))
    assert abs(n / 20 / 3050 - 1) < 0.05


def test_validation_windows_tile_the_range():
    bank = SeriesBank([torch.randn(50, 1)], pad=4, n_targets=8, train_ranges=[(0, 30)],
                      val_ranges=[(30, 50)])
    counted = sum(int((b[3] & ~torch.isnan(b[0][:, 0, 4:])).sum()) for b in bank.val_batches(2))
    assert counted == 20


def test_early_stopping_restores_best_weights(ar2):
    f = WaveNetForecaster(**{**TINY, "max_epochs": 40, "patience": 2, "lr": 0.05}).fit(ar2[:600])
    assert len(f.val_loss_curve_) == f.n_iter_ <= 40
    best = int(np.argmin(f.val_loss_curve_))
    if f.n_iter_ < 40:
        assert f.n_iter_ - 1 - best == 2                            # stopped after patience
    # the restored network scores the validation part exactly as at its best epoch
    from tsargen.estimators._training import window_nll
    cut = 600 - 60
    modelled = f._difference(ar2[:600, None])
    bank = SeriesBank([torch.tensor((modelled - f.scaler_["loc"][0]) / f.scaler_["scale"][0],
                                    dtype=torch.float32)],
                      f.receptive_field_, f._n_targets([cut]), train_ranges=[(0, cut)],
                      val_ranges=[(cut, 600)], window=f._window(f.scaler_["floor"]))
    with torch.no_grad():
        s, n = map(sum, zip(*[window_nll(f.network_, b, bank.pad) for b in bank.val_batches(32)]))
    assert abs(float(s / n) - f.val_loss_curve_[best]) < 1e-4


def test_loss_ignores_nan_targets():
    net_in = torch.randn(2, 1, 12)
    net_in[0, 0, 9] = float("nan")
    from tsargen.networks import WaveNet
    from tsargen.estimators._training import window_nll
    net = WaveNet([{"name": "gaussian", "channels": [0]}], n_stacks=1, n_layers=2)
    keep = torch.ones(2, 8, dtype=torch.bool)
    s, n = window_nll(net, (net_in, None, None, keep), 4)
    assert torch.isfinite(s) and int(n) == 15


def _regression():
    """A linear least-squares problem, its fixed batches and a loss that records the weights
    every training step starts from."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(64, generator=g)
    batches = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 64, 8)]
    iterates = []

    def loss_fn(net, batch):
        if net.training:
            iterates.append([p.detach().clone() for p in net.parameters()])
        r = net(batch[0]).squeeze(-1) - batch[1]
        return (r ** 2).sum(), torch.tensor(r.numel())
    return batches, iterates, loss_fn


def _linear():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 1)


def test_weight_averaging_is_the_exponential_average_of_the_iterates():
    batches, iterates, loss_fn = _regression()
    plain = _linear()
    train(plain, lambda: batches, None, loss_fn, max_epochs=3, lr=0.05, patience=10)
    steps = iterates[1:] + [[p.detach() for p in plain.parameters()]]   # after steps 1..n
    decay = 0.8
    avg = steps[0]                                    # starts at the weights after step 1
    for w in steps[1:]:
        avg = [decay * a + (1 - decay) * b for a, b in zip(avg, w)]
    averaged = _linear()
    train(averaged, lambda: batches, None, loss_fn, max_epochs=3, lr=0.05, patience=10,
          ema_decay=decay)
    for got, want, last in zip(averaged.parameters(), avg, steps[-1]):
        torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(got, last)          # not the last iterate


def test_weight_averaging_is_what_validation_scores_and_restores():
    batches, _, loss_fn = _regression()
    net = _linear()
    out = train(net, lambda: batches[:6], lambda: batches[6:], loss_fn, max_epochs=6, lr=0.2,
                patience=100, ema_decay=0.9)
    with torch.no_grad():
        s, n = map(sum, zip(*[loss_fn(net.eval(), b) for b in batches[6:]]))
    assert abs(float(s / n) - min(out["val_loss_curve"])) < 1e-6


def test_verbose_shows_a_progress_bar_with_the_loss_and_quiet_prints_nothing(capsys):
    y = np.sin(np.arange(200) / 4.0)
    WaveNetForecaster(**{**TINY, "max_epochs": 2, "n_networks": 2, "verbose": True}).fit(y)
    out = capsys.readouterr()
    assert out.out == ""
    for k in (1, 2):
        bar = rf"WaveNetForecaster \(differences_=\d+, seasonal_lag_=\w+\) \[network {k}/2\]:"
        assert re.search(bar, out.err), k
    for text in ("loss=", "val=", "2/2"):
        assert text in out.err, text
    WaveNetForecaster(**{**TINY, "max_epochs": 2}).fit(y)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("make, data", [
    (lambda: WaveNetForecaster(**{**TINY, "max_epochs": 1, "batch_size": 4, "verbose": True}),
     lambda: np.sin(np.arange(200) / 4.0)),
    (lambda: PixelCNNDensity(n_layers=1, hidden_channels=4, n_levels=4, max_epochs=1,
                             batch_size=8, verbose=True),
     lambda: np.random.default_rng(0).integers(0, 4, size=(20, 4, 4)))])
def test_a_long_epoch_shows_its_batches(capsys, monkeypatch, make, data):
    monkeypatch.setattr(_training, "EPOCH_BAR_DELAY", 0.0)
    make().fit(data())
    err = capsys.readouterr().err
    assert "epoch 1:" in err and "/32 [" in err and "batch/s" in err   # MIN_BATCHES batches
