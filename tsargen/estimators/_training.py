"""The one training loop, and lazily drawn training windows for sequence models.

``SeriesBank`` keeps every series once, concatenated along time with NaN rows before and after
each, and gathers a batch of windows by index on demand: the set of all training windows is never
materialised. Every training target is equally likely to be counted, wherever it lies: windows
may overhang the ends of a training range (their targets outside it are masked), so the first and
last targets of a series, and short series in a global model, weigh as much as any other.
"""

import copy
import hashlib
import math
import numbers
import os

import torch
from tqdm.auto import tqdm

from ._base import make_seed, read_checked, write_checked


# an epoch has at least this many optimiser steps, so that early stopping on short data acts on
# a meaningful amount of training (large models pay for it: shrink batch_size or max_epochs)
MIN_BATCHES = 32


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
    """

    def __init__(self, series, pad, n_targets, covariates=None, labels=None, train_ranges=None,
                 val_ranges=None, cov_hop=1):
        self.pad, self.n_targets = pad, n_targets
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

    def gather(self, series_idx, starts, lo, hi):
        """Windows for targets ``starts .. starts+n_targets`` of the given series.

        Returns ``x (B, C, pad + n_targets)``, ``cov (B, K, L)`` or None, ``labels (B,)`` or None,
        and the target mask ``(B, n_targets)`` (True where the target counts: in ``[lo, hi)``).
        """
        length = self.pad + self.n_targets
        first = self.offsets[series_idx] + starts - self.pad                 # (B,)
        rows = first[:, None] + torch.arange(length)                         # (B, L)
        x = self.data[rows].transpose(1, 2)                                   # (B, C, L)
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
        idx, starts, los, his = [], [], [], []
        for i, (lo, hi) in enumerate(self.val_ranges):
            for s in range(lo, hi, self.n_targets):
                idx.append(i), starts.append(s), los.append(lo), his.append(hi)
        idx, starts, los, his = map(torch.tensor, (idx, starts, los, his))
        for b in range(0, len(idx), batch_size):
            sl = slice(b, b + batch_size)
            yield self.gather(idx[sl], starts[sl], los[sl], his[sl])


def window_nll(net, batch, pad):
    """Summed NLL of a window batch's counted targets, and how many there were."""
    x, cov, labels, keep = batch
    logp = net.log_prob(x, cov, labels)[:, :, pad:]                     # (B, C, n_targets)
    target = x[:, :, pad:]
    mask = keep[:, None, :] & ~torch.isnan(target)
    return -(logp * mask).sum(), mask.sum()


# ---------------------------------------------------------------------------- checkpoints
CHECKPOINT_FORMAT = "tsargen-checkpoint/1"


def _fit_params(estimator):
    """``(class name, sorted parameters)`` a fit depends on, nested estimators (e.g. a
    forecaster's density) included the same way: without ``verbose``, ``device``, the
    parameters only prediction reads (the class's ``_predict_only_params``) and a non-integer
    ``random_state`` (whose repr would hold a memory address)."""
    skip = ("verbose", "device") + tuple(getattr(estimator, "_predict_only_params", ()))
    params = {k: v for k, v in estimator.get_params(deep=False).items() if k not in skip}
    if "random_state" in params and not isinstance(params["random_state"], numbers.Integral):
        params["random_state"] = None
    params = {k: _fit_params(v) if hasattr(v, "get_params") else v for k, v in params.items()}
    return type(estimator).__name__, sorted(params.items(), key=str)


def fit_fingerprint(estimator, *data):
    """A digest of what a fit depends on: the estimator's class and parameters (but ``verbose``,
    ``device``, prediction-only ones and a non-integer ``random_state``) and the training data
    and split (tensors, arrays, None or plain values). A checkpoint is resumed only by a fit
    with the same digest."""
    h = hashlib.sha256(repr(_fit_params(estimator)).encode())
    for item in data:
        if isinstance(item, torch.Tensor):
            item = item.detach().cpu().contiguous()
            h.update(f"{item.dtype}{tuple(item.shape)}".encode())
            h.update(item.view(torch.uint8).numpy().tobytes() if item.numel() else b"")
        else:
            h.update(repr(item).encode())
    return h.hexdigest()


def _rng_state(device):
    state = {"cpu": torch.get_rng_state()}
    if torch.device(device).type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(torch.device(device))
    return state


def _set_rng_state(state, device):
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.device(device).type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], torch.device(device))


def fit_seed(random_state, checkpoint=None):
    """The seed of a fit: from ``random_state``; without an integer one, a checkpoint being
    resumed keeps the seed it was written with (the data split and the initialisation depend
    on it, so a fresh draw could never match the checkpoint's fingerprint)."""
    if checkpoint is not None and not isinstance(random_state, numbers.Integral) and (
            os.path.exists(checkpoint)):
        try:
            stored = read_checked(checkpoint, CHECKPOINT_FORMAT, "checkpoint").get("seed")
        except ValueError:           # unreadable: train() reports it with the usual message
            stored = None
        if stored is not None:
            return int(stored)
    return make_seed(random_state)


def _read_checkpoint(path, expected):
    ckpt = read_checked(path, CHECKPOINT_FORMAT, "checkpoint")
    if ckpt.get("fingerprint") != expected:
        raise ValueError(f"checkpoint {path} was written by a different fit (other estimator "
                         "parameters or training data); pass another checkpoint path or delete "
                         "the file to start afresh.")
    return ckpt


# ---------------------------------------------------------------------------- distributed
def check_jobs(n_jobs):
    """Process-parallel fits (``n_jobs`` other than None or 1) cannot run under ``torchrun``:
    their workers would inherit its rendezvous and join the process group as duplicate ranks."""
    if n_jobs not in (None, 1) and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError(f"n_jobs={n_jobs!r} under torchrun (WORLD_SIZE="
                         f"{os.environ['WORLD_SIZE']}): every fit already trains data-parallel "
                         "across the ranks; use n_jobs=None.")


def distributed(device="cpu"):
    """``(rank, world_size)`` when ``torch.distributed`` is initialised, else None.

    A process started by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) initialises the
    default process group here when the caller has not: gloo for training on CPU, nccl on CUDA.
    """
    dist = torch.distributed
    if not dist.is_available():
        return None
    if not dist.is_initialized():
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "MASTER_ADDR" not in os.environ:
            return None
        cuda = torch.device(device).type == "cuda"
        backend = "nccl" if cuda and dist.is_nccl_available() else "gloo"
        dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()


def _shard(batches, rank, world):
    """Batches ``rank, rank + world, ...`` of a lazily drawn epoch, padded as
    ``DistributedSampler`` pads (index ``i`` past the end takes batch ``i % n``), so every rank
    makes the same number of optimiser steps. At most ``world`` batches are held."""
    head, n = [], 0
    for n, batch in enumerate(batches, 1):
        if len(head) < world:
            head.append(batch)
        if (n - 1) % world == rank:
            yield batch
    for idx in range(rank, -(-n // world) * world, world):
        if idx >= n:
            yield head[idx % n]


class _Loss(torch.nn.Module):
    """``loss_fn(net, batch)`` as a forward pass, so DistributedDataParallel syncs gradients."""

    def __init__(self, net, loss_fn):
        super().__init__()
        self.net, self.loss_fn = net, loss_fn

    def forward(self, *batch):
        return self.loss_fn(self.net, batch)


# ---------------------------------------------------------------------------- the loop
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
        After every epoch the whole training state (weights, optimiser, epoch, early-stopping
        state and curves, torch RNG states) is written there atomically; an existing file with
        the same ``fingerprint`` is resumed, so an interrupted fit ends exactly as an
        uninterrupted one. A file from another fit raises ``ValueError``.
    fingerprint : str
        Digest of the fit's parameters and data (see :func:`fit_fingerprint`).
    ema_decay : float in [0, 1) or None
        Polyak averaging: after every optimiser step the averaged weights move to ``decay *
        averaged + (1 - decay) * current``. Validation, early stopping and the returned net use
        the averaged weights (the training loss is that of the current ones).

    Under ``torch.distributed`` (e.g. launched by ``torchrun``) the net is wrapped in
    DistributedDataParallel, each rank trains on its shard of every epoch's batches, losses are
    summed over ranks and only rank 0 writes the checkpoint.

    Returns
    -------
    dict with ``loss_curve`` and ``val_loss_curve`` (mean loss per counted element, per epoch),
    ``best_epoch`` and ``n_epochs``.
    """
    ddp = distributed(device)
    rank, world = ddp or (0, 1)
    if ddp and torch.device(device).type == "cuda":
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
        torch.cuda.set_device(device)
    net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    # the averaged copy starts as the weights after the first step (AveragedModel's rule)
    ema = None if ema_decay is None else torch.optim.swa_utils.AveragedModel(
        net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(ema_decay))
    judged = net if ema is None else ema.module.eval()   # the weights validation scores
    curve, val_curve = [], []
    best, best_state, best_epoch, bad = math.inf, None, 0, 0
    start, finished = 0, False
    if checkpoint is not None and not os.path.isdir(
            os.path.dirname(os.path.abspath(os.fspath(checkpoint)))):
        raise ValueError(f"checkpoint {checkpoint}: its folder does not exist; create it first "
                         "(checked before training, not after the first epoch).")
    if checkpoint is not None and os.path.exists(checkpoint):
        ckpt = _read_checkpoint(checkpoint, fingerprint)
        try:
            net.load_state_dict(ckpt["net"])
            opt.load_state_dict(ckpt["optimizer"])
            if ema is not None:
                ema.load_state_dict(ckpt["ema"])
            start, finished = int(ckpt["epoch"]), bool(ckpt["finished"])
            best, best_epoch, bad = float(ckpt["best"]), int(ckpt["best_epoch"]), int(ckpt["bad"])
            best_state = ckpt["best_state"]
            curve, val_curve = list(ckpt["loss_curve"]), list(ckpt["val_loss_curve"])
            _set_rng_state(ckpt["rng"], device)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"checkpoint {checkpoint} does not fit this model ({err}); delete "
                             "it to start afresh.") from None
    elif ddp:   # identical window draws on every rank even for random_state=None
        state = torch.get_rng_state().to(device)      # nccl only moves CUDA tensors
        torch.distributed.broadcast(state, 0)
        torch.set_rng_state(state.cpu())
    model = _Loss(net, loss_fn)
    if ddp:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[torch.device(device).index] if "cuda" in str(device) else None,
            static_graph=True)      # one graph every step; unused parameters are fine

    def to_device(batch):
        return tuple(None if t is None else t.to(device, non_blocking=True) for t in batch)

    def reduce(*values):
        if not ddp:
            return values
        t = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=device)
                         for v in values])
        torch.distributed.all_reduce(t)
        return tuple(t.tolist())

    def save(epoch, done):
        if checkpoint is None or rank != 0:
            return
        write_checked({"format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "epoch": epoch,
                       "finished": done, "net": net.state_dict(), "optimizer": opt.state_dict(),
                       "best": best, "best_epoch": best_epoch, "bad": bad,
                       "best_state": best_state, "loss_curve": curve,
                       "val_loss_curve": val_curve, "rng": _rng_state(device),
                       "ema": None if ema is None else ema.state_dict(), "seed": seed},
                      checkpoint, CHECKPOINT_FORMAT)

    bar = tqdm(range(start, max_epochs), desc=desc, disable=not verbose or rank != 0,
               initial=start, total=max_epochs)     # kept on screen: the final loss stays
    for epoch in ([] if finished else bar):
        model.train()
        total, count = torch.zeros((), device=device), torch.zeros((), device=device)
        batches = train_batches()
        steps = len(batches) if hasattr(batches, "__len__") else None
        inner = tqdm(desc=f"epoch {epoch + 1}", total=steps if steps is None or not ddp
                     else -(-steps // world), unit="batch", leave=False, delay=EPOCH_BAR_DELAY,
                     disable=not verbose or rank != 0)
        for batch in (_shard(batches, rank, world) if ddp else batches):
            inner.update()
            loss_sum, n = model(*to_device(batch))
            if n == 0 and not ddp:   # every rank must step together under DDP
                continue
            opt.zero_grad(set_to_none=True)
            (loss_sum / n.clamp(min=1) if ddp else loss_sum / n).backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
            opt.step()
            if ema is not None:
                ema.update_parameters(net)
            total += loss_sum.detach()
            count += n
        inner.close()
        total, count = reduce(total, count) if ddp else (total, count)
        if float(count) == 0:
            raise ValueError("the training part holds no observed target (every value before "
                             "the validation split is missing); lower validation_fraction or "
                             "pass data observed earlier.")
        epoch_loss = float(total / max(count, 1)) if ddp else (total / count.clamp(min=1)).item()
        if not math.isfinite(epoch_loss):
            raise FloatingPointError(f"training loss became {epoch_loss} at epoch {epoch + 1}; "
                                     "lower lr or check the data scale.")
        curve.append(epoch_loss)
        score = epoch_loss
        if val_batches is not None:
            model.eval()
            with torch.no_grad():
                v_total, v_count = 0.0, 0
                for i, batch in enumerate(val_batches()):
                    if i % world != rank:
                        continue
                    s, n = loss_fn(judged, to_device(batch))
                    v_total, v_count = v_total + s.item(), v_count + n.item()
                v_total, v_count = reduce(v_total, v_count)
            if v_count == 0:
                raise ValueError("the validation part (the last validation_fraction of the "
                                 "data) holds no observed target, so early stopping has nothing "
                                 "to judge; set validation_fraction=0 or pass data observed "
                                 "there.")
            score = v_total / max(v_count, 1)
            val_curve.append(score)
        bar.set_postfix(loss=f"{epoch_loss:.4f}",
                        **({"val": f"{score:.4f}"} if val_batches is not None else {}))
        stop = False
        if score < best - 1e-6:
            best, best_epoch, bad = score, epoch, 0
            best_state = copy.deepcopy(judged.state_dict())
        else:
            bad += 1
            stop = val_batches is not None and bad >= patience
        save(epoch + 1, stop or epoch + 1 == max_epochs)
        if stop:
            break
    bar.close()
    if best_state is not None and val_batches is not None:
        net.load_state_dict(best_state)
    elif ema is not None:
        net.load_state_dict(ema.module.state_dict())
    net.eval()
    return {"loss_curve": curve, "val_loss_curve": val_curve, "best_epoch": best_epoch + 1,
            "n_epochs": len(curve)}
