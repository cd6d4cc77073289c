"""The one training loop, and lazily drawn training windows for sequence models.

:func:`train` runs the epochs: :func:`train_epoch` (the optimiser steps), :func:`validate`,
early stopping and a checkpoint of the :class:`~._checkpoint.TrainState` after each, with
:class:`ProgressBars` on screen; :mod:`._distributed` shares the work between the ranks of a
``torchrun`` job.

``SeriesBank`` keeps every series once, concatenated along time with NaN rows before and after
each, and gathers a batch of windows by index on demand: the set of all training windows is never
materialised. Every training target is equally likely to be counted, wherever it lies: windows
may overhang the ends of a training range (their targets outside it are masked), so the first and
last targets of a series, and short series in a global model, weigh as much as any other.
"""

import dataclasses
import math
import os
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from tqdm.auto import tqdm

from ..constraints import Interval
from ._checkpoint import EarlyStopping, TrainState, WeightAverage, check_checkpoint_folder
from ._distributed import (broadcast_rng_state, detect_ranks, loss_module, rank_batches,
                           rank_device, sum_over_ranks)
from ._runtime import DEVICE


# an epoch has at least this many optimiser steps, so that early stopping on short data acts on
# a meaningful amount of training (large models pay for it: shrink batch_size or max_epochs)
MIN_BATCHES = 32


#: ``_parameter_constraints`` of the training settings every neural estimator takes.
TRAINING_PARAMS = {
    "max_epochs": [Interval(Integral, 1, None)],
    "batch_size": [Interval(Integral, 1, None)],
    "lr": [Interval(Real, 0, math.inf, closed="neither")],
    "validation_fraction": [Interval(Real, 0, 1)],
    "patience": [Interval(Integral, 1, None)],
    "ema_decay": [None, Interval(Real, 0, 1)],
    "device": DEVICE,
    "random_state": [None, Integral, np.random.RandomState],
    "verbose": [bool, Interval(Integral, 0, None)],
}

# an epoch taking longer than this many seconds gets a transient bar of its batches (verbose)
EPOCH_BAR_DELAY = 2.0


class Epoch:
    """One epoch's batches, drawn lazily as they are iterated, and how many there are (for the
    progress bar); ``iter`` runs ``batches`` (an iterable) once."""

    def __init__(self, batches, n_batches):
        self.batches, self.n_batches = batches, n_batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return self.n_batches


@dataclasses.dataclass(eq=False)
class WindowScaling:
    """Standardisation of each window by statistics of its context alone (the rows before its
    first target), so that a window's values are invariant to ``a * y + b`` (``a > 0``) and a
    target's density depends on nothing at or after it.

    ``loc`` is the mean of the context's observed values (0 when not ``center``: a differenced
    series keeps its drift visible), ``scale`` their mean absolute deviation from ``loc``, at
    least ``floor`` (flat windows). A channel with fewer than ``min_obs`` observed context values,
    or not ``active`` (integer levels), keeps loc 0 and scale 1.
    """

    floor: torch.Tensor             # (n_series, C) the smallest scale of each series' channels
    center: bool = True
    active: torch.Tensor = None     # (C,) bool, None: every channel
    min_obs: int = 2

    #: the floor's fraction of a series' RMS one-step change: a flat stretch then does not
    #: blow up the next change
    FLOOR_FRACTION = 0.1

    @classmethod
    def floors(cls, series, scale):
        """Floors ``(n_series, C)`` of ``series`` (each ``(T_i, C)``) in the units of their
        global ``scale (n_series, C)``: ``FLOOR_FRACTION`` times the RMS one-step change (1 for
        a channel that never changes)."""
        floor = np.ones_like(scale)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)           # no change observed
            for i, (v, s) in enumerate(zip(series, scale)):
                rms = np.sqrt(np.nanmean(np.diff(v, axis=0) ** 2, axis=0)) / s          # (C,)
                floor[i] = np.where(np.isfinite(rms) & (rms > 0), cls.FLOOR_FRACTION * rms, 1.0)
        return floor

    def stats(self, context, floor):
        """``context (B, C, L)``, ``floor (B, C)`` -> ``(loc, scale)``, each ``(B, C)``."""
        observed = ~torch.isnan(context)
        n = observed.sum(-1).clamp(min=1)                                    # (B, C)
        filled = torch.where(observed, context, 0.0)
        loc = filled.sum(-1) / n if self.center else torch.zeros_like(floor)
        dev = torch.where(observed, (context - loc[..., None]).abs(), 0.0).sum(-1) / n
        scale = torch.maximum(dev, floor)
        use = observed.sum(-1) >= self.min_obs
        if self.active is not None:
            use &= self.active
        return torch.where(use, loc, 0.0), torch.where(use, scale, 1.0)


class SeriesBank:
    """Series stored once; windows of ``pad + n_targets`` rows gathered per batch.

    Parameters
    ----------
    series : list of float tensors (T_i, C)
        Targets (scaled); NaN marks missing values.
    pad : int
        Context rows before the first target of a window (the receptive field).
    n_targets : int
        Targets per window.
    covariates : list of float tensors (F_i, K), optional
        Local covariates, one row per ``cov_hop`` timesteps: row ``j`` of series ``i`` goes with
        its timesteps ``j * cov_hop .. (j + 1) * cov_hop - 1`` (``cov_hop=1``: one row per
        timestep). They stay at their own rate in memory and are repeated to the timestep rate
        only for the windows of a batch; padding (before a series, or past its last row) gets
        zeros.
    cov_hop : int, default=1
    labels : long tensor (n_series,), optional
    train_ranges, val_ranges : list of (lo, hi)
        Per series, the target positions used for training / validation.
    window : WindowScaling, optional
        Standardise every window by statistics of its own context (its first ``pad`` rows).
    """

    def __init__(self, series, pad, n_targets, covariates=None, labels=None, train_ranges=None,
                 val_ranges=None, cov_hop=1, window=None):
        self.pad, self.n_targets, self.window = pad, n_targets, window
        c = series[0].shape[1]
        # before each series: the context of a window whose targets start n_targets - 1 early
        front = pad + n_targets - 1
        rows, offsets, pos = [], [], 0
        for s in series:
            rows += [s.new_full((front, c), float("nan")), s,
                     s.new_full((n_targets, c), float("nan"))]
            offsets.append(pos + front)
            pos += front + s.shape[0] + n_targets
        self.data = torch.cat(rows)                                        # (N, C)
        self.cov = None
        if covariates is not None:
            n_rows = torch.tensor([k.shape[0] for k in covariates])
            k = covariates[0]
            # all rows once, then one zero row that padding positions point to
            self.cov = torch.cat(list(covariates) + [k.new_zeros(1, k.shape[1])])  # (F + 1, K)
            self.cov_rows = n_rows
            self.cov_offsets = torch.cumsum(n_rows, 0) - n_rows
            self.cov_hop = int(cov_hop)
        self.labels = labels
        self.offsets = torch.tensor(offsets)
        lengths = [s.shape[0] for s in series]
        self.train_ranges = train_ranges or [(0, n) for n in lengths]
        self.val_ranges = val_ranges or [(n, n) for n in lengths]
        ranges = torch.tensor(self.train_ranges, dtype=torch.long).reshape(-1, 2)
        lo, hi = self._lo, self._hi = ranges[:, 0], ranges[:, 1]
        n = (hi - lo).clamp(min=0)
        # A range longer than a window: starts from lo - n_targets + 1 to hi - 1, so each target
        # is in exactly n_targets of the n + n_targets - 1 windows. One that fits in a window:
        # the single window at lo, which holds each target once. Drawing a range with
        # probability proportional to starts / (windows holding each target) then counts every
        # target of every range with the same probability.
        long = n > n_targets
        self._first = torch.where(long, lo - n_targets + 1, lo)
        self._n_starts = torch.where(long, n + n_targets - 1, (n > 0).long())
        self._weights = torch.where(long, self._n_starts.double() / n_targets, (n > 0).double())
        self.n_train_targets = int(n.sum())
        self.n_val_targets = int(sum(b - a for a, b in self.val_ranges))

    def gather(self, series_idx, starts, lo, hi, with_scale=False):
        """Windows for targets ``starts .. starts+n_targets`` of the given series.

        Returns ``x (B, C, pad + n_targets)``, ``cov (B, K, L)`` or None, ``labels (B,)`` or None,
        and the target mask ``(B, n_targets)`` (True where the target counts: in ``[lo, hi)``);
        ``with_scale``: also each window's scale ``(B, C)`` (ones without ``window``).
        """
        length = self.pad + self.n_targets
        first = self.offsets[series_idx] + starts - self.pad                 # (B,)
        rows = first[:, None] + torch.arange(length)                         # (B, L)
        x = self.data[rows].transpose(1, 2)                                   # (B, C, L)
        scale = None
        if self.window is not None:
            loc, scale = self.window.stats(x[:, :, :self.pad], self.window.floor[series_idx])
            x = (x - loc[..., None]) / scale[..., None]
        cov = None
        if self.cov is not None:
            t = starts[:, None] - self.pad + torch.arange(length)             # (B, L) timesteps
            frame = torch.div(t, self.cov_hop, rounding_mode="floor")
            inside = (t >= 0) & (frame < self.cov_rows[series_idx][:, None])
            crow = torch.where(inside, self.cov_offsets[series_idx][:, None] + frame,
                               self.cov.shape[0] - 1)
            cov = self.cov[crow].transpose(1, 2)                               # (B, K, L)
        labels = None if self.labels is None else self.labels[series_idx]
        t = starts[:, None] + torch.arange(self.n_targets)                   # (B, n_targets)
        keep = (t >= lo[:, None]) & (t < hi[:, None])
        if with_scale:
            return x, cov, labels, keep, (x.new_ones(x.shape[:2]) if scale is None else scale)
        return x, cov, labels, keep

    def train_batches(self, batch_size):
        """One epoch of random windows (global torch RNG): as many windows as it takes to count
        each training target once on average, and at least ``MIN_BATCHES`` batches."""
        # each window counts a given target with probability 1 / sum(weights)
        n_windows = max(math.ceil(float(self._weights.sum()) - 1e-9), MIN_BATCHES * batch_size)
        return Epoch(self._draw(n_windows, batch_size), math.ceil(n_windows / batch_size))

    def _draw(self, n_windows, batch_size):
        series_idx = torch.multinomial(self._weights, n_windows, replacement=True)
        starts = (self._first[series_idx]
                  + (torch.rand(n_windows) * self._n_starts[series_idx]).long())
        lo, hi = self._lo[series_idx], self._hi[series_idx]
        for b in range(0, n_windows, batch_size):
            sl = slice(b, b + batch_size)
            yield self.gather(series_idx[sl], starts[sl], lo[sl], hi[sl])

    def val_batches(self, batch_size):
        """Fixed windows tiling every validation range."""
        return self.tiles(self.val_ranges, batch_size)

    def tiles(self, ranges, batch_size, with_scale=False):
        """Fixed windows tiling ``ranges`` (per series ``(lo, hi)``), in order: batches of
        :meth:`gather`'s output, after ``(series_idx, starts)`` when ``with_scale``."""
        idx, starts, los, his = [], [], [], []
        for i, (lo, hi) in enumerate(ranges):
            for s in range(lo, hi, self.n_targets):
                idx.append(i), starts.append(s), los.append(lo), his.append(hi)
        idx, starts, los, his = (torch.tensor(v, dtype=torch.long)
                                 for v in (idx, starts, los, his))
        for b in range(0, len(idx), batch_size):
            sl = slice(b, b + batch_size)
            batch = self.gather(idx[sl], starts[sl], los[sl], his[sl], with_scale)
            yield ((idx[sl], starts[sl]) + batch) if with_scale else batch


def window_nll(net, batch, pad):
    """Summed NLL of a window batch's counted targets, and how many there were."""
    x, cov, labels, keep = batch
    logp = net.log_prob(x, cov, labels)[:, :, pad:]                     # (B, C, n_targets)
    target = x[:, :, pad:]
    mask = keep[:, None, :] & ~torch.isnan(target)
    return -(logp * mask).sum(), mask.sum()


# ---------------------------------------------------------------------------- the loop
class WindowBank:
    """Signal-image streams of levels stored once; windows of ``length`` rows sliced per batch
    (the image densities' counterpart of :class:`SeriesBank`).

    Validation (``validation_fraction`` of each stream's last rows, widened to one window when
    that is fewer rows) is tiled by disjoint windows that lie wholly in that tail; training
    windows lie wholly before it.
    """

    def __init__(self, levels, covs, length, validation_fraction):
        self.length = length
        data, cov_rows, offsets, pos = [], [], [], 0
        train_hi, val = [], []
        for i, lv in enumerate(levels):
            t = lv.shape[0]
            data.append(torch.as_tensor(lv, dtype=torch.float32))               # (T, W, C)
            if covs is not None:
                cov_rows.append(covs[i])
            offsets.append(pos)
            n_val = int(math.ceil(validation_fraction * t)) if validation_fraction > 0 else 0
            if 0 < n_val < length:               # a tail holds at least one whole window
                n_val = length
            cut = t - n_val
            if cut < length:                     # too short to hold out a tail: train on all
                cut, n_val = t, 0
            train_hi.append(cut)
            val += [pos + s for s in range(cut, t - length + 1, length)]
            pos += t
        self.data = torch.cat(data).permute(0, 2, 1)                             # (N, C, W)
        self.cov = torch.cat(cov_rows) if covs is not None else None             # (N, F)
        self.offsets = torch.tensor(offsets)
        self.n_starts = (torch.tensor(train_hi) - length + 1).clamp(min=0)
        self.n_train_rows = int(sum(train_hi))
        self.val_starts = torch.tensor(val, dtype=torch.long)
        self.n_val = len(val)

    def gather(self, first):
        """Windows starting at global rows ``first (B,)`` -> ``(x (B, C, L, W), None,
        row_cond (B, F, L) or None)``."""
        rows = first[:, None] + torch.arange(self.length)                       # (B, L)
        x = self.data[rows].permute(0, 2, 1, 3)                                  # (B, C, L, W)
        cov = None if self.cov is None else self.cov[rows].transpose(1, 2)       # (B, F, L)
        return x, None, cov

    def train_batches(self, batch_size):
        """One epoch of random windows (global torch RNG): enough to cover the training rows
        once, and at least ``MIN_BATCHES`` batches."""
        n_windows = max(math.ceil(self.n_train_rows / self.length), MIN_BATCHES * batch_size)

        def draw():                            # drawn when iterated, as the epoch begins
            stream = torch.multinomial(self.n_starts.double(), n_windows, replacement=True)
            first = self.offsets[stream] + (torch.rand(n_windows) * self.n_starts[stream]).long()
            for b in range(0, n_windows, batch_size):
                yield self.gather(first[b:b + batch_size])
        return Epoch(draw(), math.ceil(n_windows / batch_size))

    def val_batches(self, batch_size):
        for b in range(0, self.n_val, batch_size):
            yield self.gather(self.val_starts[b:b + batch_size])


class ProgressBars:
    """A fit's progress on stderr when ``show``: a bar of the epochs, kept on screen with the
    last losses, and per epoch a transient bar of its batches that appears only when the epoch
    takes longer than ``EPOCH_BAR_DELAY`` seconds."""

    def __init__(self, desc, start, max_epochs, show):
        self.show = show
        self.epochs = tqdm(range(start, max_epochs), desc=desc, disable=not show,
                           initial=start, total=max_epochs)

    def __iter__(self):
        return iter(self.epochs)

    def batches(self, epoch, n_batches):
        return tqdm(desc=f"epoch {epoch + 1}", total=n_batches, unit="batch", leave=False,
                    delay=EPOCH_BAR_DELAY, disable=not self.show)

    def losses(self, loss, val=None):
        self.epochs.set_postfix(loss=f"{loss:.4f}",
                                **({} if val is None else {"val": f"{val:.4f}"}))

    def close(self):
        self.epochs.close()


def _to_device(batch, device):
    return tuple(None if t is None else t.to(device, non_blocking=True) for t in batch)


def train_epoch(epoch, model, state, batches, *, ranks, device, grad_clip, bars):
    """One pass over this rank's share of ``batches``: an Adam step with gradient clipping per
    batch (a batch with nothing counted is skipped, except under DDP, where every rank must
    step together) and an update of the weight average. Returns the epoch's mean loss per counted
    element over all ranks."""
    model.train()
    total, count = torch.zeros((), device=device), torch.zeros((), device=device)
    batches, n_batches = rank_batches(batches, ranks)
    bar = bars.batches(epoch, n_batches)
    for batch in batches:
        bar.update()
        loss_sum, n = model(*_to_device(batch, device))
        if n == 0 and not ranks.ddp:
            continue
        state.optimizer.zero_grad(set_to_none=True)
        (loss_sum / (n.clamp(min=1) if ranks.ddp else n)).backward()
        torch.nn.utils.clip_grad_norm_(state.net.parameters(), grad_clip)
        state.optimizer.step()
        state.average.update(state.net)
        total += loss_sum.detach()
        count += n
    bar.close()
    total, count = sum_over_ranks((total, count), device, ranks)
    if float(count) == 0:
        raise ValueError("the training part holds no observed target (every value before "
                         "the validation split is missing); lower validation_fraction or "
                         "pass data observed earlier.")
    loss = float(total / max(count, 1))
    if not math.isfinite(loss):
        raise FloatingPointError(f"training loss became {loss} at epoch {epoch + 1}; "
                                 "lower lr or check the data scale.")
    return loss


def validate(model, module, loss_fn, batches, *, ranks, device):
    """Mean ``loss_fn`` per counted element of ``module`` over ``batches`` (each rank scores
    every ``world``-th batch) and all ranks."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i, batch in enumerate(batches):
            if i % ranks.world == ranks.rank:
                s, n = loss_fn(module, _to_device(batch, device))
                total, count = total + s.item(), count + n.item()
    total, count = sum_over_ranks((total, count), device, ranks)
    if count == 0:
        raise ValueError("the validation part (the last validation_fraction of the data) holds "
                         "no observed target, so early stopping has nothing to judge; set "
                         "validation_fraction=0 or pass data observed there.")
    return total / max(count, 1)


def train(net, train_batches, val_batches, loss_fn, *, max_epochs, lr, patience, grad_clip=1.0,
          verbose=False, device="cpu", desc="fit", checkpoint=None, fingerprint="",
          ema_decay=None, seed=None):
    """Adam with gradient clipping, early stopping on the validation loss, best weights restored.

    Parameters
    ----------
    net : torch.nn.Module
    train_batches : callable () -> iterable of batches
        Called once per epoch; draws from torch's global generator (the caller seeds it).
    val_batches : callable () -> iterable of batches, or None
    loss_fn : callable (net, batch) -> (summed loss tensor, count tensor)
    checkpoint : str or path-like, optional
        After every epoch the :class:`TrainState` is written there atomically; an existing file
        with the same ``fingerprint`` (:func:`fit_fingerprint`) is resumed, so an interrupted
        fit ends exactly as an uninterrupted one. A file from another fit raises ``ValueError``.
    ema_decay : float in [0, 1) or None
        Polyak averaging (:class:`WeightAverage`): validation, early stopping and the returned
        net use the averaged weights (the training loss is that of the current ones).

    Under ``torch.distributed`` (e.g. ``torchrun``) the ranks share every epoch's batches and
    average their gradients (:mod:`._distributed`); only rank 0 writes the checkpoint.

    Returns
    -------
    dict with ``loss_curve`` and ``val_loss_curve`` (mean loss per counted element, per epoch),
    ``best_epoch`` and ``n_epochs``.
    """
    ranks = detect_ranks(device)
    device = rank_device(device, ranks)
    net.to(device)
    state = TrainState(net, torch.optim.Adam(net.parameters(), lr=lr),
                       WeightAverage(net, ema_decay),
                       EarlyStopping(patience, active=val_batches is not None),
                       fingerprint=fingerprint, seed=seed)
    check_checkpoint_folder(checkpoint)
    if checkpoint is not None and os.path.exists(checkpoint):
        state.restore(checkpoint, device)
    elif ranks.ddp:      # identical window draws on every rank even for random_state=None
        broadcast_rng_state(device)
    model = loss_module(net, loss_fn, device, ranks)
    bars = ProgressBars(desc, state.epoch, max_epochs, show=verbose and ranks.main)
    for epoch in ([] if state.finished else bars):
        loss = train_epoch(epoch, model, state, train_batches(), ranks=ranks, device=device,
                           grad_clip=grad_clip, bars=bars)
        state.loss_curve.append(loss)
        val = None
        if val_batches is not None:
            val = validate(model, state.average.module, loss_fn, val_batches(), ranks=ranks,
                           device=device)
            state.val_loss_curve.append(val)
        bars.losses(loss, val)
        stop = state.stopping.update(loss if val is None else val, epoch, state.average.module)
        state.epoch, state.finished = epoch + 1, stop or epoch + 1 == max_epochs
        if checkpoint is not None and ranks.main:
            state.save(checkpoint, device)
        if stop:
            break
    bars.close()
    weights = state.final_weights()
    if weights is not None:
        net.load_state_dict(weights)
    net.eval()
    return {"loss_curve": state.loss_curve, "val_loss_curve": state.val_loss_curve,
            "best_epoch": state.stopping.best_epoch + 1, "n_epochs": len(state.loss_curve)}
