"""The state the training loop carries from epoch to epoch, and its checkpoint file.

:class:`TrainState` holds everything a checkpoint holds: the network, the optimiser, the
weight average (:class:`WeightAverage`), the early-stopping record (:class:`EarlyStopping`), the
epoch count and loss curves; its file adds torch's RNG states, the fit's seed and a
:func:`fit_fingerprint` that ties it to one fit. The file is a :func:`write_checked` dict
(format ``CHECKPOINT_FORMAT``) with the keys ``format, fingerprint, epoch, finished, net,
optimizer, best, best_epoch, bad, best_state, loss_curve, val_loss_curve, rng, ema, seed``.
"""

import copy
import hashlib
import math
import numbers
import os
from dataclasses import dataclass, field

import torch

from ._persistence import read_checked, write_checked
from ._runtime import make_seed

CHECKPOINT_FORMAT = "tsargen-checkpoint/1"

# a validation score counts as better than the best so far when lower by more than this
MIN_IMPROVEMENT = 1e-6


# ---------------------------------------------------------------------------- identifying a fit
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


def check_checkpoint_folder(path):
    """Fail before training, not after the first epoch, when the folder of ``path`` (None: no
    checkpoint) is missing."""
    if path is not None and not os.path.isdir(os.path.dirname(os.path.abspath(os.fspath(path)))):
        raise ValueError(f"checkpoint {path}: its folder does not exist; create it first "
                         "(checked before training, not after the first epoch).")


def _read_checkpoint(path, expected):
    ckpt = read_checked(path, CHECKPOINT_FORMAT, "checkpoint")
    if ckpt.get("fingerprint") != expected:
        raise ValueError(f"checkpoint {path} was written by a different fit (other estimator "
                         "parameters or training data); pass another checkpoint path or delete "
                         "the file to start afresh.")
    return ckpt


def _rng_state(device):
    state = {"cpu": torch.get_rng_state()}
    if torch.device(device).type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(torch.device(device))
    return state


def _set_rng_state(state, device):
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.device(device).type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], torch.device(device))


# ---------------------------------------------------------------------------- the state
class WeightAverage:
    """Polyak averaging of a network's weights, or none (``decay=None``).

    After every optimiser step (:meth:`update`) the averaged weights move to ``decay *
    averaged + (1 - decay) * current``; they start as the weights after the first step
    (``torch.optim.swa_utils.AveragedModel``'s rule). ``module`` is what validation scores and
    a fit returns: the averaged copy (in eval mode), or the network itself without averaging.
    """

    def __init__(self, net, decay):
        self.averaged = None if decay is None else torch.optim.swa_utils.AveragedModel(
            net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(decay))
        self.module = net if self.averaged is None else self.averaged.module.eval()

    def update(self, net):
        if self.averaged is not None:
            self.averaged.update_parameters(net)

    def state_dict(self):
        return None if self.averaged is None else self.averaged.state_dict()

    def load_state_dict(self, state):
        if self.averaged is not None:
            self.averaged.load_state_dict(state)


@dataclass
class EarlyStopping:
    """The best score so far and how many epochs have passed without beating it.

    Without validation data (``active=False``) the scores are training losses and never stop
    the fit; the best weights are still recorded (a checkpoint holds them either way).
    """

    patience: int
    active: bool = True
    best: float = math.inf
    best_epoch: int = 0
    bad: int = 0                      # epochs since the best one
    best_state: dict | None = None    # weights at the best epoch

    def update(self, score, epoch, module):
        """Record epoch ``epoch``'s ``score`` (``module``: the weights scored); True when the
        fit should stop."""
        if score < self.best - MIN_IMPROVEMENT:
            self.best, self.best_epoch, self.bad = score, epoch, 0
            self.best_state = copy.deepcopy(module.state_dict())
            return False
        self.bad += 1
        return self.active and self.bad >= self.patience


@dataclass
class TrainState:
    """Everything a fit carries from one epoch to the next: what a checkpoint holds.

    ``net``, ``optimizer`` and ``average`` are live objects (their ``state_dict`` is saved);
    ``epoch`` counts the epochs done and ``finished`` is set once early stopping or
    ``max_epochs`` has ended the fit (a resumed finished fit trains no more). ``fingerprint``
    (see :func:`fit_fingerprint`) and ``seed`` identify the fit.
    """

    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    average: WeightAverage
    stopping: EarlyStopping
    fingerprint: str = ""
    seed: int | None = None
    epoch: int = 0
    finished: bool = False
    loss_curve: list = field(default_factory=list)
    val_loss_curve: list = field(default_factory=list)

    def save(self, path, device):
        """Write the state and torch's RNG states to ``path`` atomically."""
        s = self.stopping
        write_checked({"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint,
                       "epoch": self.epoch, "finished": self.finished,
                       "net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                       "best": s.best, "best_epoch": s.best_epoch, "bad": s.bad,
                       "best_state": s.best_state, "loss_curve": self.loss_curve,
                       "val_loss_curve": self.val_loss_curve, "rng": _rng_state(device),
                       "ema": self.average.state_dict(), "seed": self.seed},
                      path, CHECKPOINT_FORMAT)

    def restore(self, path, device):
        """Load the state and torch's RNG states from ``path``. Raises ``ValueError`` for a file
        of another fit (other fingerprint) or one that does not fit the network."""
        ckpt = _read_checkpoint(path, self.fingerprint)
        s = self.stopping
        try:
            self.net.load_state_dict(ckpt["net"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.average.load_state_dict(ckpt["ema"])
            self.epoch, self.finished = int(ckpt["epoch"]), bool(ckpt["finished"])
            s.best, s.best_epoch, s.bad = float(ckpt["best"]), int(ckpt["best_epoch"]), int(
                ckpt["bad"])
            s.best_state = ckpt["best_state"]
            self.loss_curve = list(ckpt["loss_curve"])
            self.val_loss_curve = list(ckpt["val_loss_curve"])
            _set_rng_state(ckpt["rng"], device)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"checkpoint {path} does not fit this model ({err}); delete it to "
                             "start afresh.") from None

    def final_weights(self):
        """The weights a fit returns, or None to keep the network's own: the best validated
        ones, else the average."""
        if self.stopping.active and self.stopping.best_state is not None:
            return self.stopping.best_state
        return None if self.average.averaged is None else self.average.module.state_dict()
