"""What the image densities share: input checks, training, scoring and generation.

:class:`_ImageDensity` holds everything but the network: input checks, training, scoring
(``score_steps``, ``score_samples``, ``score``, ``bits_per_dim``, marginal scoring of a
class-conditional model), ``sample`` and ``complete``. A subclass names its hyperparameters in
``__init__`` (and their constraints in ``_parameter_constraints``) and implements
``_build_network(n_channels, n_classes)``; the network must offer

* ``log_prob(x (B, C, H, W) float levels, labels (B,) or None) -> (B, C, H, W)`` in nats,
* ``generate(n, height, width, labels=None, known=None, naive=False) -> (n, C, H, W)`` levels,
  keeping the rows of ``known (n, C, H0, W)`` and drawing from torch's global generator,
* ``receptive_field`` and ``config`` (JSON-able keyword arguments; the class is registered in
  ``tsargen.networks.NETWORKS`` for save/load).

Per-row covariates (used by :class:`tsargen.SignalImageForecaster`): a network built with
``n_row_features=F`` also takes ``row_cond (B, F, H)`` as a keyword of ``log_prob`` and
``generate``. :meth:`_ImageDensity._new_network` builds one from any subclass's
``_build_network``, and :meth:`_ImageDensity._fit_network` trains a network on any batch source,
so a caller with its own data layout (windows sliced from a long stream) reuses the training,
scoring and generation plumbing.
"""

import math
from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.base import DensityMixin
from sklearn.utils.validation import check_is_fitted

from ..constraints import Interval, check_param, check_positive_int, validate_params
from ..validation import check_real
from ._base import TsargenEstimator
from ._checkpoint import fit_fingerprint, fit_seed
from ._conditional import ClassConditional
from ._runtime import make_seed, resolve_device, seeded
from ._training import MIN_BATCHES, TRAINING_PARAMS, Epoch, train

#: Odd kernel sizes of the masked convs; a 1x1 mask-A input conv would see no earlier pixel.
KERNEL_PARAMS = {"kernel_size": [Interval(Integral, 1, None, parity="odd")],
                 "input_kernel_size": [Interval(Integral, 3, None, parity="odd")]}

_PIXELS_PER_CHUNK = 2 ** 16          # scoring batches: about this many pixels per forward pass


def check_images(X, n_levels, name="X"):
    """Validate an image stack -> ``(levels float32 (n, H, W, C), original ndarray)``.

    Raises ``TypeError`` for non-numeric input (``check_real``) and ``ValueError`` for complex
    input, a wrong shape, NaN/inf, non-integer values or levels outside ``0..n_levels-1``.
    """
    if X is None or isinstance(X, (str, bytes, dict)) or hasattr(X, "tocsr"):
        raise TypeError(f"{name} must be an array of images (n, H, W) or (n, H, W, C); got "
                        f"{type(X).__name__}.")
    if isinstance(X, (pd.DataFrame, pd.Series)):
        raise ValueError(f"{name} must be images (n, H, W) or (n, H, W, C), not a pandas "
                         f"{type(X).__name__}; pass a numpy array.")
    try:
        arr = np.asarray(X)
    except ValueError as err:
        raise ValueError(f"{name} is ragged ({err}); all images must have the same size.") from None
    arr = check_real(arr, name, "hold integer levels")
    if arr.ndim not in (3, 4):
        raise ValueError(f"{name} must be images (n, H, W) or (n, H, W, C); got shape "
                         f"{arr.shape}. For one image use X[None].")
    if 0 in arr.shape:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one image of at "
                         "least one pixel.")
    if arr.dtype.kind == "f":
        if np.isnan(arr).any():
            raise ValueError(f"{name} contains NaN (first at {_first(np.isnan(arr))}); images "
                             "must not have missing values.")
        if np.isinf(arr).any():
            raise ValueError(f"{name} contains inf (first at {_first(np.isinf(arr))}).")
        frac = arr != np.round(arr)
        if frac.any():
            where = _first(frac)
            raise ValueError(f"{name} must hold integer levels 0..{n_levels - 1}; found "
                             f"{arr[where]!r} at {where}. Quantise the images first "
                             "(e.g. np.round, or np.floor(x * n_levels) for values in [0, 1)).")
    lo, hi = arr.min(), arr.max()
    if lo < 0 or hi > n_levels - 1:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{name} has level {bad.item()!r} but n_levels={n_levels} allows "
                         f"0..{n_levels - 1}; raise n_levels or rescale the images.")
    values = arr.astype(np.float32)
    return (values if arr.ndim == 4 else values[..., None]), arr


def _first(mask):
    return tuple(int(i) for i in np.argwhere(mask)[0])


class _ImageDensity(ClassConditional, DensityMixin, TsargenEstimator):
    """Shared plumbing of the image densities (see the module docstring for the contract)."""

    _label_unit = "image"
    _parameter_constraints = {**TRAINING_PARAMS, "n_levels": [Interval(Integral, 2, None)]}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.allow_nan = False
        return tags

    # ------------------------------------------------------------------ parameters
    def _check_params(self):
        validate_params(self)
        resolve_device(self.device)                    # "cuda" needs a CUDA device here

    def _build_network(self, n_channels, n_classes):
        raise NotImplementedError

    def _device(self):
        return resolve_device(self.device)

    # ------------------------------------------------------------------ inputs
    def _check_X(self, X, fitted=True):
        n_levels = self.n_levels_ if fitted else self.n_levels
        values, arr = check_images(X, n_levels)
        if fitted and values.shape[3] != self.n_channels_:
            raise ValueError(f"X has {values.shape[3]} channels but the model was fitted on "
                             f"{self.n_channels_}; pass images with {self.n_channels_} "
                             "channel(s).")
        return values, arr

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, checkpoint=None):
        """Fit the density on images ``X``; labels ``y`` (one per image) make it
        class-conditional. Returns self.

        ``checkpoint``: a file the training state is saved to after every epoch and resumed
        from when it exists (an interrupted fit then ends exactly as an uninterrupted one)."""
        self._check_params()
        values, arr = self._check_X(X, fitted=False)
        labels = self._check_labels(y, len(values), fitting=True)
        n, height, width, c = values.shape
        classes, prior, codes = self._encode_classes(labels)
        images = torch.from_numpy(np.ascontiguousarray(values.transpose(0, 3, 1, 2)))
        seed = fit_seed(self.random_state, checkpoint)
        with seeded(seed, self._device()):
            train_idx, val_idx = self._split(n)
            net = self._new_network(c, 0 if classes is None else len(classes))
            self._fit_network(
                net, lambda: self._train_batches(images, codes, train_idx),
                (lambda: self._val_batches(images, codes, val_idx)) if len(val_idx) else None,
                (height, width), arr.ndim, arr.dtype, checkpoint=checkpoint,
                fingerprint="" if checkpoint is None else fit_fingerprint(
                    self, images, codes, train_idx, val_idx), seed=seed)
        self.classes_ = classes
        self.class_prior_ = prior
        return self

    def _new_network(self, n_channels, n_classes=0, n_row_features=0):
        """The subclass's network, rebuilt with ``n_row_features`` per-row covariates when
        asked (every network of the family takes that keyword)."""
        net = self._build_network(n_channels, n_classes)
        if n_row_features:
            net = type(net)(**{**net.config, "n_row_features": int(n_row_features)})
        return net

    def _fit_network(self, net, train_batches, val_batches, image_shape, input_ndim, dtype,
                     checkpoint=None, fingerprint="", seed=None):
        """Train ``net`` on batches ``(x (B, C, H, W) levels, labels or None[, row_cond (B, F,
        H)])`` from ``train_batches()`` (one epoch per call) and set the fitted attributes of an
        unconditional density. Run it under :func:`seeded`. ``checkpoint``: see ``fit``."""
        result = train(net, train_batches, val_batches, _image_nll, max_epochs=self.max_epochs,
                       lr=self.lr, patience=self.patience, ema_decay=self.ema_decay,
                       verbose=self.verbose, device=self._device(), desc=type(self).__name__,
                       checkpoint=checkpoint, fingerprint=fingerprint, seed=seed)
        self.network_ = net.cpu().eval()
        self.receptive_field_ = net.receptive_field
        self.n_channels_ = net.n_channels
        self.n_levels_ = int(self.n_levels)
        self.image_shape_ = tuple(int(v) for v in image_shape)
        self.input_ndim_ = int(input_ndim)
        self.dtype_ = np.dtype(dtype).str
        self.classes_ = None
        self.class_prior_ = None
        self.loss_curve_ = result["loss_curve"]
        self.val_loss_curve_ = result["val_loss_curve"]
        self.n_iter_ = result["n_epochs"]
        return self

    def _split(self, n):
        """Random train / validation image indices (global torch RNG, seeded by fit)."""
        perm = torch.randperm(n)
        n_val = 0
        if self.validation_fraction > 0 and n >= 2:
            n_val = min(max(1, int(round(self.validation_fraction * n))), n - 1)
        return perm[n_val:], perm[:n_val]

    def _train_batches(self, images, labels, idx):
        """One epoch: shuffled passes over the training images, at least ``MIN_BATCHES``
        batches so that a handful of images still gets a useful number of steps."""
        size = min(self.batch_size, len(idx))
        n_batches = max(math.ceil(len(idx) / size), MIN_BATCHES)

        def draw():                            # drawn when iterated, as the epoch begins
            order = torch.cat([idx[torch.randperm(len(idx))]
                               for _ in range(math.ceil(n_batches * size / len(idx)))])
            for b in range(n_batches):
                sel = order[b * size:(b + 1) * size]
                yield images[sel], None if labels is None else labels[sel]
        return Epoch(draw(), n_batches)

    def _val_batches(self, images, labels, idx):
        for b in range(0, len(idx), self.batch_size):
            sel = idx[b:b + self.batch_size]
            yield images[sel], None if labels is None else labels[sel]

    # ------------------------------------------------------------------ scoring
    @torch.no_grad()
    def _log_prob(self, values, labels, row_cond=None):
        """Per-sub-pixel log-probabilities ``(n, H, W, C)`` float64 for levels ``(n, H, W, C)``
        (and per-row covariates ``row_cond``, a float tensor ``(n, F, H)``)."""
        net, device = self.network_, self._device()
        n, height, width, _ = values.shape
        chunk = max(1, _PIXELS_PER_CHUNK // (height * width))
        out = np.empty(values.shape, dtype=np.float64)
        net.to(device)
        try:
            for b in range(0, n, chunk):
                x = torch.from_numpy(np.ascontiguousarray(
                    values[b:b + chunk].transpose(0, 3, 1, 2))).to(device)
                lab = None if labels is None else labels[b:b + chunk].to(device)
                if row_cond is None:
                    lp = net.log_prob(x, lab)
                else:
                    lp = net.log_prob(x, lab, row_cond=row_cond[b:b + chunk].to(device))
                lp = lp.permute(0, 2, 3, 1)                                 # (B, H, W, C)
                out[b:b + chunk] = lp.double().cpu().numpy()
        finally:
            net.cpu()
        return out

    def _marginal_log_prob(self, values):
        """Steps of the marginal ``sum_k p(k) p(x | k)``: log-ratios of consecutive prefix
        marginals in raster order (row, column, channel), so they stay autoregressive."""
        n = len(values)
        flat = np.stack([self._log_prob(values, codes).reshape(n, -1)
                         for codes in self._every_class(n)])                 # (K, n, D)
        return self._marginal_of(flat).reshape(values.shape)

    def score_steps(self, X, y=None):
        """Log-probability (nats) of every sub-pixel given the ones before it in raster order,
        shaped like ``X``: ``(n, H, W)`` or ``(n, H, W, C)``. Sums to :meth:`score_samples`.

        A class-conditional model scored without ``y`` gives the steps of the marginal over
        the classes (weighted by their training frequencies).
        """
        check_is_fitted(self)
        values, arr = self._check_X(X)
        labels = self._check_labels(y, len(values))
        if labels is None and self.classes_ is not None:
            steps = self._marginal_log_prob(values)
        else:
            steps = self._log_prob(values, labels)
        return steps if arr.ndim == 4 else steps[..., 0]

    def score_samples(self, X, y=None):
        """Log-likelihood of each image in nats, ``(n,)``."""
        steps = self.score_steps(X, y)
        return steps.reshape(len(steps), -1).sum(axis=1)

    def score(self, X, y=None):
        """Mean log-likelihood per image in nats (higher is better)."""
        return float(np.mean(self.score_samples(X, y)))

    def bits_per_dim(self, X, y=None):
        """Mean negative log-likelihood in bits per sub-pixel (lower is better)."""
        steps = self.score_steps(X, y)
        return float(-steps.mean() / math.log(2.0))

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def _generate(self, n, height, width, labels, known, seed, row_cond=None):
        """Levels ``(n, height, width, C)`` as an int64 array (cached generation); per-row
        covariates ``row_cond`` are a float tensor ``(n, F, height)``."""
        device = self._device()
        net = self.network_.to(device)
        extra = {} if row_cond is None else {"row_cond": row_cond.to(device)}
        try:
            with seeded(seed, device):
                out = net.generate(n, height, width,
                                   labels=None if labels is None else labels.to(device),
                                   known=None if known is None else known.to(device), **extra)
        finally:
            net.cpu()
        return out.permute(0, 2, 3, 1).round().long().cpu().numpy()

    def _output_dtype(self, dtype):
        """The training images' dtype, widened when it cannot hold every level (uint8 images
        with n_levels=512 come back as uint16, not wrapped)."""
        dtype, top = np.dtype(dtype), self.n_levels_ - 1
        if dtype == bool:
            return dtype if top <= 1 else np.min_scalar_type(top)
        if dtype.kind in "ui" and top > np.iinfo(dtype).max:
            return np.promote_types(dtype, np.min_scalar_type(top))
        return dtype

    def _as_output(self, levels, ndim, dtype):
        out = levels.astype(self._output_dtype(dtype))
        return out if ndim == 4 else out[..., 0]

    def sample(self, n_samples=1, *, y=None, length=None, width=None, random_state=None):
        """Draw ``n_samples`` new images with cached generation.

        Parameters
        ----------
        n_samples : int
        y : label or array-like of shape (n_samples,), optional
            Class(es) to generate for a class-conditional model; by default labels are drawn
            from the training class frequencies.
        length, width : int, optional
            Rows and columns of the images (default: the training size). Rows are the model's
            "time" axis, as for signal-images.
        random_state : int, RandomState or None

        Returns
        -------
        ndarray ``(n_samples, length, width)`` or ``(n_samples, length, width, C)``, with the
        training data's dtype.
        """
        check_is_fitted(self)
        n_samples = 0 if n_samples == 0 else check_positive_int(n_samples, "n_samples")
        height = self.image_shape_[0] if length is None else check_positive_int(length, "length")
        width = self.image_shape_[1] if width is None else check_positive_int(width, "width")
        seed = make_seed(random_state)
        labels = self._sample_labels(y, n_samples, seed)
        if n_samples == 0:
            levels = np.zeros((0, height, width, self.n_channels_), dtype=np.int64)
        else:
            levels = self._generate(n_samples, height, width, labels, None, seed)
        return self._as_output(levels, self.input_ndim_, np.dtype(self.dtype_))

    def complete(self, X, *, n_known, n_samples=1, y=None, random_state=None):
        """Keep the first ``n_known`` rows of each image in ``X`` and sample the rest.

        Parameters
        ----------
        X : images ``(n, H, W)`` or ``(n, H, W, C)``
        n_known : int in ``[0, H]``
            Rows kept (copied bit for bit); rows ``n_known..H-1`` are drawn from the model
            given them.
        n_samples : int
            Completions per image.
        y : labels of the images, optional (class-conditional models)
        random_state : int, RandomState or None

        Returns
        -------
        ndarray ``(n_samples, *X.shape)`` with ``X``'s dtype.
        """
        check_is_fitted(self)
        values, arr = self._check_X(X)
        n, height, width, c = values.shape
        check_param(n_known, "n_known", [Interval(Integral, 0, height, closed="both")],
                    " (the image height)")
        n_samples = check_positive_int(n_samples, "n_samples")
        seed = make_seed(random_state)
        out = np.repeat(arr[None], n_samples, axis=0).astype(            # (S, n, H, W[, C])
            self._output_dtype(arr.dtype), copy=False)
        if n_known == height:
            return out
        if y is None and self.classes_ is not None:   # the marginal: classes given the known rows
            log_lik = np.stack([self._log_prob(values, codes)[:, :n_known]
                                .reshape(n, -1).sum(axis=1)
                                for codes in self._every_class(n)], axis=1)   # (n, K)
            labels = self._posterior_classes(log_lik, n_samples, seed)
        else:
            labels = self._check_labels(y, n)
            labels = None if labels is None else labels.repeat(n_samples)
        known = torch.from_numpy(np.ascontiguousarray(
            values[:, :n_known].transpose(0, 3, 1, 2))).repeat(n_samples, 1, 1, 1)
        levels = self._generate(n_samples * n, height, width, labels, known,
                                seed)                                     # (S*n, H, W, C)
        new = levels[:, n_known:].reshape(n_samples, n, height - n_known, width, c)
        out[:, :, n_known:] = new if arr.ndim == 4 else new[..., 0]
        return out


def _image_nll(net, batch):
    """Summed NLL (nats) of a batch ``(images, labels[, row_cond])``, and how many sub-pixels
    it covers."""
    x, labels = batch[:2]
    if len(batch) > 2 and batch[2] is not None:
        lp = net.log_prob(x, labels, row_cond=batch[2])                    # (B, C, H, W)
    else:
        lp = net.log_prob(x, labels)                                       # (B, C, H, W)
    return -lp.sum(), torch.tensor(lp.numel(), device=lp.device)


class _ConvImageDensity(_ImageDensity):
    """Hyperparameters shared by PixelCNN and Gated PixelCNN; subclasses set ``_network``."""

    _parameter_constraints = {"n_layers": [Interval(Integral, 1, None)],
                              "hidden_channels": [Interval(Integral, 1, None)], **KERNEL_PARAMS}

    def __init__(self, *, n_layers=5, hidden_channels=64, kernel_size=3, input_kernel_size=7,
                 n_levels=256, max_epochs=20, batch_size=32, lr=1e-3, validation_fraction=0.1,
                 patience=5, ema_decay=None, device="auto", random_state=None, verbose=False):
        self.n_layers = n_layers
        self.hidden_channels = hidden_channels
        self.kernel_size = kernel_size
        self.input_kernel_size = input_kernel_size
        self.n_levels = n_levels
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.ema_decay = ema_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    _network = None
    _min_hidden_per_channel = 1

    def _build_network(self, n_channels, n_classes):
        if self.hidden_channels < self._min_hidden_per_channel * n_channels:
            raise ValueError(
                f"hidden_channels={self.hidden_channels} is too small for {n_channels} colour "
                f"channels: every layer is split into one group per channel; use "
                f"hidden_channels >= {self._min_hidden_per_channel * n_channels}.")
        return self._network(n_channels=n_channels, n_levels=self.n_levels,
                             n_layers=self.n_layers, hidden_channels=self.hidden_channels,
                             kernel_size=self.kernel_size,
                             input_kernel_size=self.input_kernel_size, n_classes=n_classes)
