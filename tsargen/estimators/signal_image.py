"""Forecasting 2-D signal-images with the PixelCNN family.

A signal-image is a series whose every timestep is a row of bins: ``(n_timesteps, n_bins)`` or
``(n_timesteps, n_bins, n_channels)`` — spectrogram frames, order-book depth at price levels,
a sensor array. An image density's raster order (row by row, bin by bin, channel by channel) is
then causal in time: generating the rows below ``context`` known rows is forecasting, each new
row conditioned on every row before it and on the earlier bins of its own row.

:class:`SignalImageForecaster` trains any tsargen image density (``PixelCNNDensity``,
``GatedPixelCNNDensity``, ``PixelCNNPPDensity``, ``PixelRNNDensity``) on windows of
``context + horizon`` rows sliced from the stored stream batch by batch (the set of windows is
never materialised), through the density's own training, scoring and generation plumbing
(:meth:`_ImageDensity._fit_network`, ``_log_prob``, ``_generate``).
"""

import math
import numbers

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone

from ..audio import mu_law_decode
from ..constraints import Check, Interval, Options, validate_params
from ..timeindex import warn_irregular
from ..transforms import MuLaw, Quantizer
from ..validation import (_check_values, check_covariate_frames, check_covariates,
                          check_fitted_columns, check_series, covariate_names)
from ._checkpoint import fit_fingerprint, fit_seed
from ._forecaster import Layout, PathForecaster
from ._image_density import _ImageDensity
from ._runtime import seeded
from ._training import WindowBank
from ._wavenet import scale_stats
from .image import GatedPixelCNNDensity

_STRATEGIES = ("levels", "uniform", "quantile", "mu_law")
_SCORE_WINDOWS = 64            # windows per scoring forward pass


def _default_density():
    """Small CPU defaults: 3 gated layers of 32 maps, 64 levels per bin."""
    return GatedPixelCNNDensity(n_layers=3, hidden_channels=32, kernel_size=3,
                                input_kernel_size=5, n_levels=64, max_epochs=10, batch_size=16,
                                lr=3e-3, patience=3)


class SignalImageForecaster(PathForecaster):
    """Probabilistic forecaster of signal-images: a PixelCNN-family density generating the
    future one row (timestep) at a time.

    ``fit`` trains a clone of ``density`` on windows of ``context + horizon`` consecutive rows
    of the stream(s); forecasting keeps the last ``context`` observed rows of a window as they
    are (bit for bit, as the density's ``complete``) and samples the rows below them, bin by
    bin. Horizons longer than ``horizon`` are generated in blocks of ``horizon`` rows, each
    conditioned on the ``context`` rows before it, as in training. Point forecasts and
    quantiles summarise ``n_paths`` sample paths drawn with a fixed seed.

    As for :class:`~tsargen.WaveNetForecaster`, rows are consecutive steps: a time index with
    missing steps or no regular frequency gives one :class:`~tsargen.IrregularIndexWarning`.

    Parameters
    ----------
    density : tsargen image density, default=None
        ``PixelCNNDensity``, ``GatedPixelCNNDensity`` (default: 3 gated layers of 32 maps,
        64 levels, at most 10 epochs), ``PixelCNNPPDensity`` or ``PixelRNNDensity``; it is
        cloned and its training settings (``max_epochs``, ``batch_size``, ``lr``,
        ``validation_fraction``, ``patience``, ``ema_decay``, ``device``, ``verbose``) are
        used. Its
        ``n_levels`` is replaced by the number of levels of ``transform``.
    transform : {None, "levels", "uniform", "quantile", "mu_law"} or Quantizer or MuLaw
        How values become integer levels, fitted in ``fit`` and inverted on output.
        ``"levels"``: the data already are integers ``0..n_levels-1`` (density's
        ``n_levels``). ``"uniform"`` / ``"quantile"``: a :class:`~tsargen.transforms.Quantizer`
        with ``density.n_levels`` bins, one set of bin edges per channel shared by all bins
        (a level means the same magnitude in every bin). ``"mu_law"``: values centred on
        their per-channel median, then mu-law companded to ``density.n_levels`` levels
        (fine resolution near the median). A ``Quantizer`` / ``MuLaw`` instance sets the
        levels itself. ``None``: ``"levels"`` for integer data within the density's levels,
        else ``"uniform"``. Sample paths of quantised data are bin centres (levels);
        ``predict`` (their median) and ``predict_quantiles`` interpolate between them.
    horizon : int, default=8
        Rows forecast (and rows per training window after the context).
    context : int, default=32
        Observed rows a forecast conditions on; forecasting needs at least this many.
    n_paths : int, default=100
        Sample paths behind ``predict``, ``predict_quantiles`` and ``predict_interval``.
    random_state : int, RandomState or None
        Controls initialisation, window draws and sampling (it replaces the density's own
        ``random_state`` unless None); the global RNGs are untouched.

    Attributes
    ----------
    density_ : fitted image density
        Trained on ``(context + horizon, n_bins[, n_channels])`` windows; its ``network_``
        takes the per-row covariates when ``X`` was given.
    quantizer_ : Quantizer, MuLaw or None
    n_bins_, n_channels_, n_levels_, n_covariates_ : int
    history_ : list of int arrays ``(T_i, n_bins, n_channels)``
        The stored streams as levels (the forecast context).
    loss_curve_, val_loss_curve_ : list of float
        Mean NLL per element (nats) per epoch.

    Notes
    -----
    Log-likelihoods (``score``, ``score_steps``) are those of the integer levels (bins), in
    nats: a discrete distribution, so no Jacobian is involved. ``score_steps`` scores the
    stream in the forecasting windows: the first ``context + horizon`` rows as one window,
    then each following block of ``horizon`` rows given the ``context`` rows before it.

    A convolutional density sees ``density_.receptive_field_`` rows above a row at most, so
    a ``context`` beyond that adds nothing for PixelCNN / Gated PixelCNN: grow ``n_layers``
    or ``kernel_size`` for series with long periods (e.g. one heartbeat of spectrogram
    frames).

    Examples
    --------
    >>> import numpy as np
    >>> from tsargen import GatedPixelCNNDensity, SignalImageForecaster
    >>> t = np.arange(200)[:, None]
    >>> y = np.sin(t / 4 + np.arange(6)[None] / 2)                  # (200 rows, 6 bins)
    >>> d = GatedPixelCNNDensity(n_layers=1, hidden_channels=8, input_kernel_size=3,
    ...                          n_levels=8, max_epochs=1, batch_size=8)
    >>> f = SignalImageForecaster(d, horizon=3, context=6, n_paths=4, random_state=0).fit(y)
    >>> f.predict().shape, f.sample(5).shape, f.predict_quantiles(quantiles=(0.1, 0.9)).shape
    ((3, 6), (5, 3, 6), (3, 6, 2))
    """

    # read only when forecasting (horizon and context set the training windows' length)
    _predict_only_params = ("n_paths",)
    _parameter_constraints = {
        "density": [None, Check(lambda d: isinstance(d, _ImageDensity),
                                "a tsargen image density (PixelCNNDensity, GatedPixelCNNDensity, "
                                "PixelCNNPPDensity, PixelRNNDensity)")],
        "transform": [None, Options(_STRATEGIES), Quantizer, MuLaw],
        "horizon": [Interval(numbers.Integral, 1, None)],
        "context": [Interval(numbers.Integral, 1, None)],
        "n_paths": [Interval(numbers.Integral, 1, None)],
        "random_state": [None, numbers.Integral, np.random.RandomState],
    }

    def __init__(self, density=None, *, transform=None, horizon=8, context=32, n_paths=100,
                 random_state=None):
        self.density = density
        self.transform = transform
        self.horizon = horizon
        self.context = context
        self.n_paths = n_paths
        self.random_state = random_state

    # ------------------------------------------------------------------ parameters
    def _check_params(self):
        validate_params(self)
        density = _default_density() if self.density is None else self.density
        density._check_params()                 # e.g. its n_levels, before the levels are built
        return density

    # ------------------------------------------------------------------ input checks
    def _check_image(self, y, name):
        """One signal-image -> ``(values float64 (T, W, C), layout)``."""
        if isinstance(y, (pd.Series, pd.DataFrame)):
            values, info = check_series(y, name, allow_nan=False)
            if isinstance(y, pd.Series):
                raise ValueError(f"{name} is a pandas Series (one bin per row); a signal-image "
                                 "needs rows of bins: pass a DataFrame with one column per bin.")
            return values[:, :, None], Layout("frame", info.index, info.columns, squeeze=True,
                                              level="bin")
        if y is None or isinstance(y, (str, bytes, dict)):
            raise TypeError(f"{name} must be a signal-image array (n_timesteps, n_bins) or "
                            f"(n_timesteps, n_bins, n_channels); got {type(y).__name__}.")
        ndim = np.ndim(y)
        if ndim not in (2, 3):
            raise ValueError(f"{name} must be a signal-image (n_timesteps, n_bins) or "
                             f"(n_timesteps, n_bins, n_channels); got shape {np.shape(y)}. "
                             "For one scalar series use WaveNetForecaster (or y[:, None]).")
        values = _check_values(y, name, ensure_2d=True, allow_nd=True)
        if np.isnan(values).any():
            where = tuple(np.argwhere(np.isnan(values))[0].tolist())
            raise ValueError(f"{name} contains NaN (first at {where}); signal-images must not "
                             "have missing values: fill or interpolate them first.")
        if 0 in values.shape:
            raise ValueError(f"{name} is empty (shape {values.shape}).")
        kind = "2d" if values.ndim == 2 else "3d"
        values = values[:, :, None] if values.ndim == 2 else values
        return values, Layout(kind, dtype=np.asarray(y).dtype.str, squeeze=kind == "2d",
                              level="bin")

    def _check_targets(self, y, name="y", fitted=True, warn=True):
        """-> (list of values (T, W, C), list of layouts, was_list); ``warn``: one
        :class:`IrregularIndexWarning` for time indexes with gaps (``update`` judges its own)."""
        many = isinstance(y, (list, tuple)) and len(y) > 0 and np.ndim(y[0]) >= 2
        items = list(y) if many else [y]
        out, layouts = [], []
        for i, item in enumerate(items):
            v, layout = self._check_image(item, f"{name}[{i}]" if many else name)
            out.append(v)
            layouts.append(layout)
        shapes = {v.shape[1:] for v in out}
        if len(shapes) > 1:
            raise ValueError(f"the signal-images in {name} have different (n_bins, n_channels) "
                             f"{sorted(shapes)}; all must have the same.")
        w, c = out[0].shape[1:]
        if fitted and (w, c) != (self.n_bins_, self.n_channels_):
            raise ValueError(f"{name} has {w} bins and {c} channel(s) per row but the model was "
                             f"fitted on {self.n_bins_} bins and {self.n_channels_} channel(s); "
                             "transform new data with the same settings (same n_fft / levels).")
        if fitted:
            check_fitted_columns(layouts, self.layouts_, name)
        if warn:
            warn_irregular(layouts, name, many)
        return out, layouts, many

    @staticmethod
    def _layout_from_meta(meta):
        """A :class:`Layout` from the dict files written before it held."""
        return Layout(meta["kind"], meta["index"], meta.get("columns"), dtype=meta.get("dtype"),
                      squeeze=meta["kind"] != "3d", level="bin")

    def _check_covariates(self, X, lengths, many, where, extra=0, layouts=None):
        """Per-row covariates per stream: ``lengths[i] + extra`` rows each, finite; pandas
        covariates keep the fitted columns and line up with ``y`` (``layouts``) in time."""
        n_cov = self.n_covariates_ if where != "fit" else None
        covs = check_covariates(X, lengths, many, where, n_cov, extra, unit="row")
        if covs is not None:
            check_covariate_frames(X, many, lengths, layouts, getattr(self, "layouts_", None),
                                   getattr(self, "covariate_names_", None) if where != "fit"
                                   else None)
        return covs

    # ------------------------------------------------------------------ quantisation
    def _fit_transform(self, values, n_levels):
        """Fit the value -> level map on all rows; returns (quantizer, loc, strategy, levels)."""
        t = self.transform
        flat = np.concatenate([v.reshape(-1, v.shape[2]) for v in values])     # (N * W, C)
        integer = bool(np.all(flat == np.round(flat)) and flat.min() >= 0
                       and flat.max() <= n_levels - 1)
        if t is None:
            t = "levels" if integer else "uniform"
        loc = np.zeros(flat.shape[1])
        if isinstance(t, Quantizer):
            q = clone(t).fit(flat)
            return q, loc, "quantizer", q.n_bins
        if isinstance(t, MuLaw):
            loc = np.median(flat, axis=0)
            q = clone(t).fit(flat - loc)
            return q, loc, "mu_law", q.mu + 1
        if t == "levels":
            if not integer:
                bad = flat[(flat != np.round(flat)) | (flat < 0) | (flat > n_levels - 1)][0]
                raise ValueError(f"transform='levels' needs integers 0..{n_levels - 1} (the "
                                 f"density's n_levels); found {float(bad):g}. Use a quantising "
                                 "transform ('uniform', 'quantile', 'mu_law') or raise "
                                 "n_levels.")
            return None, loc, "levels", n_levels
        if t == "mu_law":
            loc = np.median(flat, axis=0)
            q = MuLaw(mu=n_levels - 1).fit(flat - loc)
            return q, loc, "mu_law", n_levels
        q = Quantizer(n_bins=n_levels, strategy=t).fit(flat)
        return q, loc, "quantizer", n_levels

    def _to_levels(self, v):
        """Values ``(T, W, C)`` -> int levels ``(T, W, C)``."""
        t, w, c = v.shape
        if self.quantizer_ is None:
            if np.any(v != np.round(v)) or v.min() < 0 or v.max() > self.n_levels_ - 1:
                raise ValueError(f"y must hold integer levels 0..{self.n_levels_ - 1}, as in "
                                 "fit.")
            return v.astype(np.int64)
        flat = v.reshape(-1, c) - self.loc_
        return self.quantizer_.transform(flat).reshape(t, w, c).astype(np.int64)

    def _to_values(self, levels):
        """Levels ``(..., W, C)`` -> values (bin centres; levels stay levels)."""
        if self.quantizer_ is None:
            return levels
        c = levels.shape[-1]
        flat = levels.reshape(-1, c)
        if isinstance(self.quantizer_, MuLaw):
            values = mu_law_decode(flat, self.quantizer_.mu) * self.quantizer_.scale_
        else:
            values = self.quantizer_.inverse_transform(flat)
        return (values + self.loc_).reshape(levels.shape)

    # ------------------------------------------------------------------ fit
    def fit(self, y, X=None, *, checkpoint=None):
        """Fit on one signal-image stream ``y`` (``(T, n_bins)`` / ``(T, n_bins, n_channels)``
        array, or a DataFrame with one column per bin) or a list of them, with optional
        per-row covariates ``X`` (``(T, n_features)`` per stream, known in advance when
        forecasting). Returns self.

        ``checkpoint``: a file the training state is saved to after every epoch and resumed
        from when it exists (an interrupted fit then ends exactly as an uninterrupted one).
        A fit that fails or is interrupted leaves the previous fitted state as it was."""
        before = {k: v for k, v in vars(self).items() if k.endswith("_")}
        try:
            return self._fit(y, X, checkpoint)
        except BaseException:       # e.g. KeyboardInterrupt mid-training: nothing half-fitted
            for k in [k for k in vars(self) if k.endswith("_")]:
                delattr(self, k)
            self.__dict__.update(before)
            raise

    def _fit(self, y, X, checkpoint):
        base = self._check_params()
        values, layouts, many = self._check_targets(y, fitted=False)
        lengths = [v.shape[0] for v in values]
        need = self.context + self.horizon
        if max(lengths) < need:
            raise ValueError(f"y has {max(lengths)} rows but training windows need context + "
                             f"horizon = {need}: pass a longer stream or lower context/horizon.")
        short = [i for i, t in enumerate(lengths) if t < self.context]
        if short:
            raise ValueError(f"y[{short[0]}] has {lengths[short[0]]} rows, fewer than "
                             f"context={self.context}: it could neither train nor be forecast "
                             "from; drop it or lower context.")
        covs = self._check_covariates(X, lengths, many, "fit", layouts=layouts)
        self.n_covariates_ = 0 if covs is None else covs[0].shape[1]
        q, loc, kind, n_levels = self._fit_transform(values, base.n_levels)
        self.quantizer_, self.loc_, self.n_levels_ = q, loc, int(n_levels)
        self.n_bins_, self.n_channels_ = values[0].shape[1:]
        density = clone(base).set_params(n_levels=self.n_levels_)
        if self.random_state is not None:
            density.set_params(random_state=self.random_state)
        density._check_params()
        levels = [self._to_levels(v) for v in values]
        self.cov_scaler_ = None
        cov_t = None
        if covs is not None:
            cl, cs = scale_stats(np.concatenate(covs))
            self.cov_scaler_ = {"loc": cl, "scale": cs}
            cov_t = [torch.as_tensor((v - cl) / cs, dtype=torch.float32) for v in covs]
        bank = WindowBank(levels, cov_t, need, density.validation_fraction)
        seed = fit_seed(density.random_state, checkpoint)
        with seeded(seed, density._device()):
            net = density._new_network(self.n_channels_, 0, self.n_covariates_)
            density._fit_network(
                net, lambda: bank.train_batches(density.batch_size),
                (lambda: bank.val_batches(density.batch_size)) if bank.n_val else None,
                (need, self.n_bins_), 4, np.int64, checkpoint=checkpoint,
                fingerprint="" if checkpoint is None else fit_fingerprint(
                    self, len(levels), *map(torch.as_tensor, levels), *(cov_t or ())),
                seed=seed)
        self.density_ = density
        self.transform_kind_ = kind
        self.history_ = levels
        self.history_X_ = covs
        self.covariate_names_ = None if X is None else covariate_names(X, many)
        self.layouts_ = layouts
        self.multi_ = many
        self.loss_curve_ = density.loss_curve_
        self.val_loss_curve_ = density.val_loss_curve_
        self.n_iter_ = density.n_iter_
        return self

    # ------------------------------------------------------------------ paths
    def _resolve(self, fh, y, X):
        """-> ((levels, covariates (history + future) or None), layouts, many)."""
        if y is None:
            levels, layouts, many = self.history_, self.layouts_, self.multi_
            future = self._check_covariates(X, [0] * len(levels), many, "predict", extra=fh,
                                            layouts=layouts)
            covs = None if future is None else [np.concatenate([h, f]) for h, f in
                                                zip(self.history_X_, future)]
        else:
            values, layouts, many = self._check_targets(y)
            levels = [self._to_levels(v) for v in values]
            covs = self._check_covariates(X, [v.shape[0] for v in values], many, "predict",
                                          extra=fh, layouts=layouts)
        for i, lv in enumerate(levels):
            if lv.shape[0] < self.context:
                raise ValueError(f"y{'[%d]' % i if many else ''} has {lv.shape[0]} rows but the "
                                 f"forecast conditions on context={self.context}: pass a longer "
                                 "history or refit with a smaller context.")
        return (levels, covs), layouts, many

    def _scaled_cov(self, cv):
        return torch.as_tensor((cv - self.cov_scaler_["loc"]) / self.cov_scaler_["scale"],
                               dtype=torch.float32)

    def _windows(self, fh, levels, covs, n_paths, seed):
        """Generated windows: int levels ``(S, n_paths, context + fh, W, C)``; the first
        ``context`` rows are the given history rows, copied."""
        ctx, h = self.context, self.horizon
        s = len(levels)
        rows = torch.stack([torch.as_tensor(lv[-ctx:], dtype=torch.float32)
                            for lv in levels])                                 # (S, ctx, W, C)
        x = rows.permute(0, 3, 1, 2).repeat_interleave(n_paths, 0)             # (S*P, C, ctx, W)
        cond = None
        if covs is not None:
            cond = torch.stack([self._scaled_cov(cv[cv.shape[0] - fh - ctx:])
                                for cv in covs]).transpose(1, 2)               # (S, F, ctx+fh)
            cond = cond.repeat_interleave(n_paths, 0)
        block_seeds = np.random.RandomState(seed).randint(0, 2**31 - 1, size=math.ceil(fh / h))
        done = 0
        for bseed in block_seeds:
            step = min(h, fh - done)
            known = x[:, :, -ctx:]
            rc = None if cond is None else cond[:, :, done:done + ctx + step]
            new = self.density_._generate(x.shape[0], ctx + step, self.n_bins_, None, known,
                                          int(bseed), row_cond=rc)           # (B, ctx+step, W, C)
            x = torch.cat([x, torch.as_tensor(new[:, ctx:], dtype=torch.float32)
                           .permute(0, 3, 1, 2)], dim=2)
            done += step
        out = x.permute(0, 2, 3, 1).round().long().numpy()                   # (S*P, ctx+fh, W, C)
        return out.reshape(s, n_paths, ctx + fh, self.n_bins_, self.n_channels_)

    def _paths(self, fh, histories, n_paths, seed):
        """Sample paths in the data's units: ``(S, n_paths, fh, W, C)``."""
        windows = self._windows(fh, *histories, n_paths, seed)
        return self._to_values(windows[:, :, self.context:])

    def _array_paths(self, paths, layout):
        paths = paths[..., 0] if layout.squeeze else paths
        if self.quantizer_ is None and layout.dtype is not None:   # integer levels stay so
            return paths.astype(np.dtype(layout.dtype))
        return paths

    # ------------------------------------------------------------------ scoring, updating
    def score_steps(self, y, X=None):
        """Log-probability (nats) of every element's level given the rows before it and the
        earlier bins (and channels) of its row, shaped like ``y``.

        Scored in forecasting windows: rows ``0..context+horizon-1`` as one window, then each
        block of ``horizon`` rows given the ``context`` rows before it (a stream shorter than
        one window is one window). Entry ``(t, b)`` therefore never depends on rows after
        ``t`` nor on bins after ``b`` of row ``t``.
        """
        return super().score_steps(y, X)

    def _score_arrays(self, values, covs):
        return [self._score_levels(self._to_levels(v), None if covs is None else covs[i])
                for i, v in enumerate(values)]                           # (T, W, C) each

    def _score_levels(self, lv, cov):
        """Per-element log-probabilities ``(T, W, C)`` of one stream of levels."""
        t = lv.shape[0]
        win = min(self.context + self.horizon, t)
        ends = list(range(win, t + 1, self.horizon))
        if ends[-1] != t:
            ends.append(t)
        starts = np.array(ends) - win
        rows = starts[:, None] + np.arange(win)                                  # (K, win)
        out = np.empty(lv.shape, dtype=np.float64)
        cov_t = None if cov is None else self._scaled_cov(cov)                  # (T, F)
        for b in range(0, len(rows), _SCORE_WINDOWS):
            r = rows[b:b + _SCORE_WINDOWS]
            rc = None if cov_t is None else cov_t[torch.as_tensor(r)].transpose(1, 2)
            lp = self.density_._log_prob(lv[r].astype(np.float32), None, rc)   # (k, win, W, C)
            for k, (s, e) in enumerate(zip(starts[b:b + _SCORE_WINDOWS],
                                           ends[b:b + _SCORE_WINDOWS])):
                first = 0 if b + k == 0 else ends[b + k - 1]
                out[first:e] = lp[k, first - s:]
        return out

    def _append_history(self, i, values, covs):
        self.history_[i] = np.concatenate([self.history_[i], self._to_levels(values)])
        if covs is not None:
            self.history_X_[i] = np.concatenate([self.history_X_[i], covs])
