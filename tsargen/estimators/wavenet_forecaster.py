"""WaveNetForecaster: a probabilistic forecaster drawing sample paths from a WaveNet (values
standardised per series; see docs/architecture.md for the forecaster base it builds on)."""

import math
import numbers

import numpy as np
import pandas as pd
import torch

from ..constraints import Interval
from ..timeindex import warn_irregular
from ..validation import (check_covariate_frames, check_covariates, check_fitted_columns,
                          check_series, covariate_names, is_series_list)
from ._checkpoint import fit_seed
from ._forecaster import Layout, PathForecaster
from ._runtime import seeded
from ._training import SeriesBank
from ._wavenet import COMMON_DOC, WaveNetParams, as_tensor, check_observed, scale_stats


class WaveNetForecaster(PathForecaster, WaveNetParams):
    __doc__ = """Probabilistic multi-step forecaster: a WaveNet sampled forward in time.

    One global model for one series or a list of series, each standardised by its own mean and
    standard deviation at fit time (kept in ``scaler_``). Histories passed as ``y=`` reuse
    that scaling when the model has one series (any history is that series) or when a global
    model gets as many as at fit (the same series, continued); any other number are new
    series, each forecast with its own history's mean and scale. Forecasts come from
    ``n_paths`` sample paths drawn with cached generation; ``predict`` is their median, drawn
    with a fixed seed, so it is deterministic for a fitted model.

    Rows are modelled as consecutive steps; a time index only dates the forecasts. A
    DatetimeIndex, PeriodIndex or TimedeltaIndex with missing steps (an hourly index with rows
    dropped, market hours, trading days with holidays) or with no regular frequency gives one
    :class:`~tsargen.IrregularIndexWarning` per ``fit`` saying how many steps are missing (and
    at ``update`` and ``y=`` histories). Reindex (``y.asfreq("h")``) to mark the gaps as
    missing values, or, where rows are meant as events (market hours), silence it with
    ``warnings.filterwarnings("ignore", category=tsargen.IrregularIndexWarning)``. Numeric
    indexes (positions, event times) never warn: their irregularity is by design.

    Parameters
    ----------
    horizon : int, default=1
        Default forecast horizon.
    context : int or None, default=None
        Most recent timesteps the forecasts condition on; ``None`` means the receptive field.
    n_paths : int, default=200
        Sample paths behind ``predict``, ``predict_quantiles`` and ``predict_interval``.
    differences : int, default=0
        Model the ``d``-th differences of the series (as ARIMA's ``d``) and integrate the
        sample paths back to levels: use 1 for trending or random-walk-like series. The
        log-likelihood is still that of the levels (the map is volume-preserving given the
        past); the first ``d`` steps of ``score_steps`` are NaN. Differenced series (here and
        with ``seasonal_lag``) are scaled by their root-mean-square but not centred, so the
        network's zero output means no drift, not the training period's mean change.
    seasonal_lag : int or None, default=None
        Model the seasonal differences ``y[t] - y[t - s]`` with ``s = seasonal_lag`` (as
        SARIMA's ``D=1``; applied before the regular ``differences``) and integrate the sample
        paths back to levels, each step adding the value one season earlier (observed or
        forecast). Use the period of a strong, stable cycle (e.g. 48 for half-hourly data with a
        daily cycle). The log-likelihood is still that of the levels (the map is
        volume-preserving given the past); the first ``s + d`` steps of ``score_steps`` are NaN,
        and forecasting needs a history of at least ``s + d`` timesteps.""" + (
        COMMON_DOC) + """
    Attributes
    ----------
    network_ : WaveNet, or WaveNetEnsemble when ``n_networks > 1``
    receptive_field_ : int
    n_channels_ : int
    scaler_ : dict with ``loc`` and ``scale`` arrays, shape (n_series, n_channels)
    covariate_names_ : list or None
        Column names of ``X`` when it was fitted as DataFrames: later ``X`` must match them.
        (A time index of ``X`` must also line up with ``y``'s.)
    loss_curve_, val_loss_curve_ : list of float

    Examples
    --------
    >>> import numpy as np
    >>> from tsargen import WaveNetForecaster
    >>> y = np.sin(np.arange(300) / 5) + 0.1 * np.random.default_rng(0).normal(size=300)
    >>> f = WaveNetForecaster(n_layers=4, residual_channels=8, skip_channels=8, max_epochs=3,
    ...                       random_state=0).fit(y)
    >>> f.predict(horizon=12).shape, f.predict_quantiles(12, quantiles=(0.1, 0.9)).shape
    ((12,), (12, 2))
    """

    # read only when forecasting: changing them does not refuse a checkpoint's resume
    _predict_only_params = ("horizon", "context", "n_paths")
    _parameter_constraints = {"horizon": [Interval(numbers.Integral, 1, None)],
                              "context": [None, Interval(numbers.Integral, 1, None)],
                              "n_paths": [Interval(numbers.Integral, 1, None)],
                              "differences": [Interval(numbers.Integral, 0, None)],
                              "seasonal_lag": [None, Interval(numbers.Integral, 1, None)]}

    def __init__(self, *, horizon=1, context=None, n_paths=200, differences=0,
                 seasonal_lag=None, n_stacks=1, n_layers=6,
                 kernel_size=2, residual_channels=32, skip_channels=64, distribution="gaussian",
                 quantization="uniform", n_bins=256, n_mixtures=5, channel_dependence="joint",
                 n_networks=1, max_epochs=100, batch_size=32, lr=1e-3, validation_fraction=0.1,
                 patience=10, ema_decay=None, device="auto", random_state=None, verbose=False):
        self.horizon = horizon
        self.context = context
        self.n_paths = n_paths
        self.differences = differences
        self.seasonal_lag = seasonal_lag
        self.n_stacks = n_stacks
        self.n_layers = n_layers
        self.kernel_size = kernel_size
        self.residual_channels = residual_channels
        self.skip_channels = skip_channels
        self.distribution = distribution
        self.quantization = quantization
        self.n_bins = n_bins
        self.n_mixtures = n_mixtures
        self.channel_dependence = channel_dependence
        self.n_networks = n_networks
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.ema_decay = ema_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _check_targets(self, y, name="y", fitted=True, warn=True):
        """-> (list of values (T, C), list of :class:`Layout`, was_list); ``fitted``: check
        against the fitted model (channels, columns, levels); ``warn``: one
        :class:`IrregularIndexWarning` for time indexes with gaps (``update`` judges its own)."""
        if y is None:
            raise TypeError(f"{name} is required.")
        many = is_series_list(y) and not isinstance(y, np.ndarray)
        items = list(y) if many else [y]
        values, layouts = [], []
        for i, item in enumerate(items):
            v, info = check_series(item, f"{name}[{i}]" if many else name)
            values.append(v)
            layouts.append(Layout(info.kind, info.index, info.columns, list(item.columns.names)
                                  if isinstance(item, pd.DataFrame) else None, info.name,
                                  squeeze=info.kind in ("1d", "series")))
        if len({v.shape[1] for v in values}) > 1:
            raise ValueError(f"the series in {name} have different numbers of channels.")
        if fitted:
            if values[0].shape[1] != self.n_channels_:
                raise ValueError(f"y has {values[0].shape[1]} channels but the model was fitted "
                                 f"on {self.n_channels_}.")
            check_fitted_columns(layouts, self.layouts_)
            self._check_levels(values, "y")
        if warn:
            warn_irregular(layouts, name, many)
        return values, layouts, many

    @staticmethod
    def _layout_from_meta(meta):
        """A :class:`Layout` from the dict files written before it held."""
        return Layout(meta["kind"], meta["index"], meta.get("columns"),
                      meta.get("column_names"), meta.get("name"),
                      squeeze=meta["kind"] in ("1d", "series"))

    def _check_covariates(self, X, lengths, many, where, extra=0, layouts=None):
        """Covariates per series: ``lengths[i] + extra`` rows each, no NaN/inf. DataFrames must
        keep the fitted column names, and a time index must line up with ``y``'s (``layouts``;
        ``lengths`` of 0: the stored histories, which ``X`` must follow)."""
        n_cov = (getattr(self, "n_covariates_", None) or 0) if where != "fit" else None
        covs = check_covariates(X, lengths, many, where, n_cov, extra)
        if covs is not None:
            check_covariate_frames(X, many, lengths, layouts, getattr(self, "layouts_", None),
                                   getattr(self, "covariate_names_", None) if where != "fit"
                                   else None)
        return covs

    def _n_lost(self):
        """Leading timesteps the differencing leaves undefined: ``s + d``."""
        return (self.seasonal_lag or 0) + self.differences

    def _seasonal_difference(self, v):
        """``v[t] - v[t - s]``, same length, first ``s`` rows NaN (identity without a lag)."""
        lag = self.seasonal_lag
        if not lag:
            return v
        head = np.full((min(lag, v.shape[0]), v.shape[1]), np.nan)
        return np.vstack([head, v[lag:] - v[:-lag]])

    def _difference(self, v):
        """The modelled series: ``d``-th differences of the seasonal differences, same length,
        first ``s + d`` rows NaN."""
        v = self._seasonal_difference(v)
        for _ in range(self.differences):
            v = np.vstack([np.full((1, v.shape[1]), np.nan), np.diff(v, axis=0)])
        return v

    def _integrate(self, draws, history):
        """Sample paths of the modelled series ``(n, fh, C)`` -> levels, anchored on the last
        observed values of ``history (T, C)`` at every differencing order: the regular
        differences are summed up first, then each seasonal difference is added to the level
        one season earlier (observed for the first season ahead, else a step of the path)."""
        if not self.differences and not self.seasonal_lag:
            return draws
        filled = pd.DataFrame(history).ffill().to_numpy()
        anchors = [self._seasonal_difference(filled)]
        for _ in range(self.differences - 1):
            anchors.append(np.diff(anchors[-1], axis=0))
        for level in reversed(anchors[:self.differences]):
            draws = level[-1] + np.cumsum(draws, axis=1)
        lag = self.seasonal_lag
        if lag:
            n, fh, c = draws.shape
            blocks = -(-fh // lag)                      # seasons ahead, the last one partial
            padded = np.concatenate([draws, np.zeros((n, blocks * lag - fh, c))], axis=1)
            summed = np.cumsum(padded.reshape(n, blocks, lag, c), axis=1)
            draws = (summed.reshape(n, blocks * lag, c) + np.tile(filled[-lag:], (blocks, 1)))
            draws = draws[:, :fh]
        return draws

    @staticmethod
    def _series_scaling(values, unscaled, center=True):
        """Per-series (loc, scale), each ``(n_series, C)``; integer-level channels stay as is,
        and ``center=False`` keeps loc at 0 and scales by the root-mean-square."""
        stats = [scale_stats(v, center) for v in values]
        loc = np.stack([s[0] for s in stats])
        scale = np.stack([s[1] for s in stats])
        loc[:, unscaled], scale[:, unscaled] = 0.0, 1.0
        return loc, scale

    def _history_scaling(self, modelled, own=True):
        """``(loc, scale)`` for the modelled (differenced) series. A model of one series takes
        any series as that one (e.g. windows at several origins): its fitted scaling. A global
        model's as many series as at fit are the fitted ones (their fitted scaling); any other
        count are new series: for forecasting (``own``) each gets its own mean and scale from
        its history, as every series did at fit (the forecast is then a distribution given the
        history, which may depend on all of it); for scoring, the pooled fitted scaling (mean
        loc, root-mean-square scale), so that the likelihood is a fixed density and each step
        depends only on earlier ones."""
        loc, scale = self.scaler_["loc"], self.scaler_["scale"]
        if len(modelled) == loc.shape[0]:
            return loc, scale
        if loc.shape[0] == 1:
            n = len(modelled)
            return np.repeat(loc, n, axis=0), np.repeat(scale, n, axis=0)
        if own:
            return self._series_scaling(modelled, self.unscaled_channels_, center=not (
                self.differences or self.seasonal_lag))
        n = len(modelled)
        return (np.repeat(loc.mean(axis=0, keepdims=True), n, axis=0),
                np.repeat(np.sqrt((scale ** 2).mean(axis=0, keepdims=True)), n, axis=0))

    # ------------------------------------------------------------------ fit
    def fit(self, y, X=None, *, checkpoint=None):
        """Fit one global model on a series ``y`` or a list of series, with optional
        covariates ``X`` (one row per timestep of ``y``, known in advance for forecasting).

        ``checkpoint``: a file the training state is saved to after every epoch and resumed
        from when it exists (an interrupted fit then ends exactly as an uninterrupted one)."""
        self._check_params()
        values, layouts, many = self._check_targets(y, fitted=False)
        lengths = [v.shape[0] for v in values]
        covs = self._check_covariates(X, lengths, many, "fit", layouts=layouts)
        rf = self._receptive_field()
        if max(lengths) <= rf:
            raise ValueError(f"y has {max(lengths)} timesteps but the receptive field is {rf}: "
                             "pass a longer series or reduce n_layers / n_stacks.")
        check_observed(values, "y")
        if self.seasonal_lag and max(lengths) <= self._n_lost():
            raise ValueError(f"y has {max(lengths)} timesteps but seasonal_lag="
                             f"{self.seasonal_lag} and differences={self.differences} leave "
                             "none to model: pass a longer series or a shorter seasonal_lag.")
        c = values[0].shape[1]
        specs = self._head_specs(c, layouts[0].columns)
        self._check_levels(values, "y", specs)
        fixed = self._unscaled_channels(specs, c)
        if (self.differences or self.seasonal_lag) and fixed.any():
            raise ValueError("differences > 0 or a seasonal_lag cannot be combined with "
                             "integer-level channels (quantization='levels'); difference those "
                             "channels yourself.")
        modelled = [self._difference(v) for v in values]
        # differenced series are scaled, not centred: a network output of 0 is then no drift
        # (the random walk / seasonal naive), as ARIMA with d >= 1 has no constant by default;
        # a drift the data support is still learnt
        loc, scale = self._series_scaling(modelled, fixed, center=not (
            self.differences or self.seasonal_lag))
        cov_loc = cov_scale = None
        if covs is not None:
            cov_loc, cov_scale = scale_stats(np.concatenate(covs))
        scaled = [as_tensor((v - l) / s) for v, l, s in zip(modelled, loc, scale)]
        cov_t = None if covs is None else [as_tensor((v - cov_loc) / cov_scale) for v in covs]
        vf = self.validation_fraction
        cut = [t - int(math.ceil(vf * t)) if vf > 0 else t for t in lengths]
        if vf > 0 and sum(cut) < 1:
            raise ValueError("validation_fraction leaves no training timesteps; lower it.")
        seed = fit_seed(self.random_state, checkpoint)
        device = self._device()

        def build():
            return self._build_network(specs, c, cond_channels=0 if covs is None
                                       else covs[0].shape[1])

        with seeded(seed, device):
            net = build()
            bank = SeriesBank(scaled, rf, self._n_targets(cut), covariates=cov_t,
                              train_ranges=[(0, k) for k in cut],
                              val_ranges=[(k, t) for k, t in zip(cut, lengths)])
            result = self._fit_network(net, bank, device, checkpoint, seed=seed)
        self.network_ = self._ensemble(net.cpu(), build, bank, device, seed, checkpoint).eval()
        self.receptive_field_ = rf
        self.n_channels_ = c
        self.n_covariates_ = 0 if covs is None else covs[0].shape[1]
        self.scaler_ = {"loc": loc, "scale": scale}
        self.unscaled_channels_ = fixed
        self.cov_scaler_ = None if covs is None else {"loc": cov_loc, "scale": cov_scale}
        self.history_ = values
        self.history_X_ = covs
        self.covariate_names_ = None if X is None else covariate_names(X, many)
        self.layouts_ = layouts
        self.multi_ = many
        self.loss_curve_ = result["loss_curve"]
        self.val_loss_curve_ = result["val_loss_curve"]
        self.n_iter_ = result["n_epochs"]
        return self

    # ------------------------------------------------------------------ paths
    def _context_len(self):
        return self.receptive_field_ if self.context is None else min(self.context,
                                                                      max(self.receptive_field_, 1))

    def _resolve(self, fh, y, X):
        """-> ((values, covariates (history + future), loc, scale), layouts, many)."""
        if y is None:
            values, layouts, many = self.history_, self.layouts_, self.multi_
            loc, scale = self.scaler_["loc"], self.scaler_["scale"]
            future = self._check_covariates(X, [0] * len(values), many, "predict", extra=fh,
                                            layouts=layouts)
            covs = None if future is None else [np.concatenate([h, f]) for h, f in
                                                zip(self.history_X_, future)]
        else:
            values, layouts, many = self._check_targets(y)
            short = min(v.shape[0] for v in values)
            if short < self._n_lost():
                raise ValueError(f"a history has {short} timesteps but seasonal_lag="
                                 f"{self.seasonal_lag} and differences={self.differences} need at "
                                 f"least {self._n_lost()} to anchor the forecast: pass a longer y.")
            loc, scale = self._history_scaling([self._difference(v) for v in values])
            covs = self._check_covariates(X, [v.shape[0] for v in values], many, "predict",
                                          extra=fh, layouts=layouts)
        return (values, covs, loc, scale), layouts, many

    def _paths(self, fh, histories, n_paths, seed):
        """Sample paths in original units: list of ``(n_paths, fh, C)`` arrays, one per series."""
        values, covs, loc, scale = histories
        ctx = self._context_len()
        hist = torch.stack([
            torch.cat([torch.full((max(ctx - v.shape[0], 0), v.shape[1]), float("nan")),
                       as_tensor(((self._difference(v)[-ctx:] - l) / s))])
            for v, l, s in zip(values, loc, scale)])                          # (S, ctx, C)
        cond = None
        if covs is not None:
            cl, cs = self.cov_scaler_["loc"], self.cov_scaler_["scale"]
            need = ctx + fh
            cond = torch.stack([as_tensor(((cv - cl) / cs)[-need:]) if cv.shape[0] >= need
                                else torch.cat([torch.zeros(need - cv.shape[0], cv.shape[1]),
                                                as_tensor((cv - cl) / cs)])
                                for cv in covs])                              # (S, ctx+fh, K)
            cond = cond.repeat_interleave(n_paths, 0)
        paths = torch.arange(len(values)).repeat_interleave(n_paths)         # primed once each
        draws = self._generate(hist, fh, cond=cond, seed=seed, paths=paths).double().numpy()
        draws = draws.reshape(len(values), n_paths, fh, -1)
        return [self._integrate(d * s + l, v) for d, l, s, v in zip(draws, loc, scale, values)]

    # ------------------------------------------------------------------ scoring and updating
    def score_steps(self, y, X=None):
        """One-step log-likelihood (nats, original units) of every element of ``y``, each step
        conditioned on the steps before it; shaped like ``y`` (NaN where ``y`` is missing).

        Each series is standardised with a scaling fixed at fit time — series ``i``'s own when
        ``y`` holds as many series as were fitted (or the one of a single-series model), else
        the pooled training scaling — so a step's score depends on nothing after it.
        (Forecasts for new series use each history's own scaling instead, see
        :meth:`predict`; for a likelihood that would make every step depend on the whole
        series.)"""
        return super().score_steps(y, X)

    def _score_arrays(self, values, covs):
        modelled = [self._difference(v) for v in values]
        loc, scale = self._history_scaling(modelled, own=False)
        cov_t = None
        if covs is not None:
            cl, cs = self.cov_scaler_["loc"], self.cov_scaler_["scale"]
            cov_t = [as_tensor((cv - cl) / cs) for cv in covs]
        lps = self._log_prob_scaled([as_tensor((v - l) / s)
                                     for v, l, s in zip(modelled, loc, scale)], cov_t)
        return [np.where(np.isnan(v), np.nan, lp - np.log(s))              # (T, C) each
                for v, lp, s in zip(modelled, lps, scale)]

    def _nothing_to_score(self):
        return ("y has no step to score: every value is missing, or the series is too short for "
                f"differences={self.differences} and seasonal_lag={self.seasonal_lag} (the "
                f"first {self._n_lost()} steps have no likelihood).")

    def _append_history(self, i, values, covs):
        self.history_[i] = np.concatenate([self.history_[i], values])
        if covs is not None:
            self.history_X_[i] = np.concatenate([self.history_X_[i], covs])
