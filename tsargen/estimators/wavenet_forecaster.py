"""WaveNetForecaster: a probabilistic forecaster drawing sample paths from a WaveNet (values
standardised per window by their own past, differencing and season chosen from the data; see
docs/architecture.md for the forecaster base it builds on)."""

import math
import numbers

import numpy as np
import pandas as pd
import torch

from ..constraints import Interval, Options
from ..timeindex import warn_irregular
from ..validation import (check_covariate_frames, check_covariates, check_fitted_columns,
                          check_series, covariate_names, is_series_list)
from . import _differencing as differencing
from ._checkpoint import fit_seed
from ._forecaster import TIME_FEATURES, Layout, PathForecaster
from ._runtime import seeded
from ._training import SeriesBank, WindowScaling
from ._wavenet import COMMON_DOC, WaveNetParams, as_tensor, check_observed, scale_stats


class WaveNetForecaster(PathForecaster, WaveNetParams):
    __doc__ = """Probabilistic multi-step forecaster: a WaveNet sampled forward in time.

    One global model for one series or a list of series. By default (``scaling="window"``)
    every training window and every forecast context is standardised by the statistics of its
    own past (the mean and mean absolute deviation of the receptive field before it), so that
    levels never seen in training (trends, random walks, level shifts) look like any other,
    and the forecast of ``a * y + b`` (``a > 0``) is ``a * forecast(y) + b``. The differencing
    (``differences="auto"``) and the season (``seasonal_lag="auto"``) are chosen from the
    training series by unit-root and seasonal-strength tests (:mod:`tsargen.seasonality`);
    the choices are ``differences_`` and ``seasonal_lag_``. Forecasts come from ``n_paths``
    sample paths drawn with cached generation; ``predict`` is their median, drawn with a fixed
    seed, so it is deterministic for a fitted model.

    Rows are modelled as consecutive steps; a time index dates the forecasts and, by default,
    gives calendar covariates (``time_features``). A DatetimeIndex, PeriodIndex or
    TimedeltaIndex with missing steps (an hourly index with rows dropped, market hours, trading
    days with holidays) or with no regular frequency gives one
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
    differences : int or "auto", default="auto"
        Model the ``d``-th differences of the series (as ARIMA's ``d``) and integrate the
        sample paths back to levels. ``"auto"``: 0 or 1, by repeated KPSS tests of the
        training series (seasonally differenced first when ``seasonal_lag_`` is set; the
        largest over channels and series; :func:`~tsargen.seasonality.ndiffs` with
        ``max_d=1``: a second difference makes the paths' spread grow with the cube of the
        horizon, and window scaling already follows a changing slope); always 0 with
        integer-level channels. The log-likelihood is still that of the levels (the map is
        volume-preserving given the past); the first ``d`` steps of ``score_steps`` are NaN.
        Differenced series (here and with ``seasonal_lag``) are scaled but not centred, so the
        network's zero output means no drift, not the training period's mean change.
    seasonal_lag : int, None or "auto", default="auto"
        Model the seasonal differences ``y[t] - y[t - s]`` with ``s = seasonal_lag`` (as
        SARIMA's ``D=1``; applied before the regular ``differences``) and integrate the sample
        paths back to levels, each step adding the value one season earlier (observed or
        forecast). ``"auto"``: the period of the longest training series that its index's
        frequency suggests and its autocorrelation confirms, of several the one whose
        seasonal naive forecast errs least (:func:`~tsargen.seasonality.seasonal_period`;
        hourly 24 or 168, daily 7, monthly 12, ...), differenced only when its seasonal strength calls for it
        (:func:`~tsargen.seasonality.nsdiffs`), else None. The log-likelihood is still that of
        the levels (the map is volume-preserving given the past); the first ``s + d`` steps of
        ``score_steps`` are NaN, and forecasting needs a history of at least ``s + d``
        timesteps.
    scaling : {"window", "global", "none"}, default="window"
        ``"window"``: every training window and forecast context is shifted and scaled by the
        statistics of the receptive field before its first target (the mean and the mean
        absolute deviation per channel, the deviation at least 0.1 times the series' RMS
        one-step change; no shift for differenced series), and sample paths are mapped back.
        The statistics depend only on the past, so ``score_steps`` stays an exact
        log-likelihood in the data's units: it scores the series in consecutive windows
        standardised by their contexts and subtracts ``log(scale)`` per element.
        ``"global"``: each series standardised once by its training mean and standard
        deviation (differenced: its root-mean-square). ``"none"``: the values as they are.
        Integer-level channels are never scaled.
    time_features : "auto", None or list of str, default="auto"
        Calendar covariates from the dates of ``y`` (a DatetimeIndex, or a PeriodIndex by the
        start of each period): sines and cosines of the phase in the day (``"hour_of_day"``),
        the week (``"day_of_week"``) and the year (``"day_of_year"``), in local wall time
        (:mod:`tsargen.calendar`). They are made for the history at ``fit`` and for the forecast
        dates (those of the pandas output) at ``predict`` and ``sample``, and for ``y=``
        histories, ``score`` and ``update`` from their own index, and appended after the
        columns of any ``X`` (which keeps only the user's columns). ``"auto"`` keeps the
        cycles the fitted series hold at least twice and sample more than twice per period
        (hourly data over three weeks: day and week; daily data over two years: week and
        year), none for arrays or series without dates; a list, e.g. ``["hour_of_day"]``,
        asks for those terms; ``None`` adds none. Up to two harmonics per cycle, each kept
        only below the Nyquist limit of the step (``k * step < period / 2``). The terms kept
        are ``time_features_``; a model fitted with some forecasts new histories ``y=`` only
        when they come with their dates.""" + (
        COMMON_DOC) + """
    Attributes
    ----------
    network_ : WaveNet, or WaveNetEnsemble when ``n_networks > 1``
    receptive_field_ : int
    n_channels_ : int
    differences_ : int
        The differencing order modelled (``differences``, or the one chosen).
    seasonal_lag_ : int or None
        The seasonal lag modelled (``seasonal_lag``, or the one chosen).
    scaler_ : dict with ``loc``, ``scale`` and ``floor`` arrays, shape (n_series, n_channels)
        Each series' global scaling, and the least window scale in those units.
    n_covariates_ : int
        Columns of the user's ``X`` (0 without).
    covariate_names_ : list or None
        Column names of ``X`` when it was fitted as DataFrames: later ``X`` must match them.
        (A time index of ``X`` must also line up with ``y``'s.)
    time_features_ : list of str
        The calendar terms in use (``time_features``), empty when none.
    time_harmonics_ : dict
        Harmonics per term in use, ``{term: n}``: the network's covariates are the user's
        columns and then ``tsargen.calendar.calendar_features(dates, time_features_,
        time_harmonics_)``.
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
                              "differences": [Options(("auto",)),
                                              Interval(numbers.Integral, 0, None)],
                              "seasonal_lag": [None, Options(("auto",)),
                                               Interval(numbers.Integral, 1, None)],
                              "scaling": [Options(("window", "global", "none"))],
                              "time_features": TIME_FEATURES}
    # a saved model predating a parameter was fitted with this value of it
    _params_before = {"scaling": "global", "time_features": None}

    def __init__(self, *, horizon=1, context=None, n_paths=200, differences="auto",
                 seasonal_lag="auto", scaling="window", time_features="auto", n_stacks=1,
                 n_layers=6,
                 kernel_size=2, residual_channels=32, skip_channels=64, distribution="gaussian",
                 quantization="uniform", n_bins=256, n_mixtures=5, channel_dependence="joint",
                 n_networks=1, max_epochs=100, batch_size=32, lr=1e-3, validation_fraction=0.1,
                 patience=10, ema_decay=None, device="auto", random_state=None, verbose=False,
                 n_threads=1):
        self.horizon = horizon
        self.context = context
        self.n_paths = n_paths
        self.differences = differences
        self.seasonal_lag = seasonal_lag
        self.scaling = scaling
        self.time_features = time_features
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
        self.n_threads = n_threads

    def __repr__(self, N_CHAR_MAX=700):
        text = super().__repr__(N_CHAR_MAX)
        if not hasattr(self, "differences_"):
            return text
        return f"{text}  # differences_={self.differences_}, seasonal_lag_={self.seasonal_lag_}"

    def _progress_name(self):
        # the choices of "auto" are shown while fitting (verbose), as in repr afterwards
        return (f"{type(self).__name__} (differences_={self.differences_}, "
                f"seasonal_lag_={self.seasonal_lag_})")

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
        return (self.seasonal_lag_ or 0) + self.differences_

    def _difference(self, v):
        """The modelled series of ``v (T, C)``: see :func:`._differencing.difference`."""
        return differencing.difference(v, self.differences_, self.seasonal_lag_)

    def _choose_differencing(self, values, layouts, levels):
        """``(d, s)``: the explicit settings, or for ``"auto"`` the ones the training series
        call for (:func:`._differencing.choose`)."""
        return differencing.choose(values, [layout.index for layout in layouts], levels,
                                   self.differences, self.seasonal_lag)

    def _integrate(self, draws, history):
        """Sample paths of the modelled series ``(n, fh, C)`` -> levels after ``history``."""
        return differencing.integrate(draws, history, self.differences_, self.seasonal_lag_)

    def _series_scaling(self, values, unscaled, center=True):
        """Per-series ``(loc, scale, floor)``, each ``(n_series, C)``: the global scaling (loc
        0 and the root-mean-square when not ``center``; none for ``scaling="none"`` and
        integer-level channels) and, in those units, the least window scale
        (:meth:`WindowScaling.floors`)."""
        if self.scaling == "none":
            loc, scale = np.zeros((len(values), values[0].shape[1])), np.ones(
                (len(values), values[0].shape[1]))
        else:
            stats = [scale_stats(v, center) for v in values]
            loc = np.stack([s[0] for s in stats])
            scale = np.stack([s[1] for s in stats])
        loc[:, unscaled], scale[:, unscaled] = 0.0, 1.0
        return loc, scale, WindowScaling.floors(values, scale)

    def _window(self, floor):
        """The :class:`WindowScaling` of series with these floors, or None (not "window")."""
        if self.scaling != "window":
            return None
        return WindowScaling(as_tensor(floor), center=not (self.differences_ or
                                                           self.seasonal_lag_),
                             active=torch.as_tensor(~self.unscaled_channels_))

    def _history_scaling(self, modelled, own=True):
        """``(loc, scale, floor)`` for the modelled (differenced) series. A model of one series
        takes any series as that one (e.g. windows at several origins): its fitted scaling. A
        global model's as many series as at fit are the fitted ones (their fitted scaling);
        any other count are new series: for forecasting (``own``) each gets its own scaling
        from its history, as every series did at fit (the forecast is then a distribution given
        the history, which may depend on all of it); for scoring, the pooled fitted scaling
        (mean loc, root-mean-square scale and floor), so that the likelihood is a fixed density
        and each step depends only on earlier ones."""
        loc, scale, floor = self.scaler_["loc"], self.scaler_["scale"], self.scaler_["floor"]
        if len(modelled) == loc.shape[0]:
            return loc, scale, floor
        n = len(modelled)
        if loc.shape[0] == 1:
            return tuple(np.repeat(a, n, axis=0) for a in (loc, scale, floor))
        if own:
            return self._series_scaling(modelled, self.unscaled_channels_, center=not (
                self.differences_ or self.seasonal_lag_))
        pooled = np.sqrt((scale ** 2).mean(axis=0, keepdims=True))
        return (np.repeat(loc.mean(axis=0, keepdims=True), n, axis=0),
                np.repeat(pooled, n, axis=0),
                np.repeat(np.sqrt(((floor * scale) ** 2).mean(axis=0, keepdims=True)) / pooled,
                          n, axis=0))

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
        n_cov, times = 0 if covs is None else covs[0].shape[1], self._time_terms(layouts)
        covs = self._time_covariates(covs, layouts, lengths, terms=times)
        rf = self._receptive_field()
        if max(lengths) <= rf:
            raise ValueError(f"y has {max(lengths)} timesteps but the receptive field is {rf}: "
                             "pass a longer series or reduce n_layers / n_stacks.")
        check_observed(values, "y")
        c = values[0].shape[1]
        specs = self._head_specs(c, layouts[0].columns)
        self._check_levels(values, "y", specs)
        fixed = self._unscaled_channels(specs, c)
        explicit = [v for v in (self.differences, self.seasonal_lag) if v != "auto"]
        if any(explicit) and fixed.any():
            raise ValueError("differences > 0 or a seasonal_lag cannot be combined with "
                             "integer-level channels (quantization='levels'); difference those "
                             "channels yourself.")
        self.differences_, self.seasonal_lag_ = self._choose_differencing(values, layouts, fixed)
        if self.seasonal_lag_ and max(lengths) <= self._n_lost():
            raise ValueError(f"y has {max(lengths)} timesteps but seasonal_lag="
                             f"{self.seasonal_lag_} and differences={self.differences_} leave "
                             "none to model: pass a longer series or a shorter seasonal_lag.")
        self.unscaled_channels_ = fixed
        modelled = [self._difference(v) for v in values]
        # differenced series are scaled, not centred: a network output of 0 is then no drift
        # (the random walk / seasonal naive), as ARIMA with d >= 1 has no constant by default;
        # a drift the data support is still learnt
        loc, scale, floor = self._series_scaling(modelled, fixed, center=not (
            self.differences_ or self.seasonal_lag_))
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
                              val_ranges=[(k, t) for k, t in zip(cut, lengths)],
                              window=self._window(floor))
            result = self._fit_network(net, bank, device, checkpoint, seed=seed)
        self.network_ = self._ensemble(net.cpu(), build, bank, device, seed, checkpoint).eval()
        self.receptive_field_ = rf
        self.n_channels_ = c
        self.n_covariates_ = n_cov
        self.time_features_, self.time_harmonics_ = list(times), times
        self.scaler_ = {"loc": loc, "scale": scale, "floor": floor}
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
            loc, scale, floor = self.scaler_["loc"], self.scaler_["scale"], self.scaler_["floor"]
            future = self._check_covariates(X, [0] * len(values), many, "predict", extra=fh,
                                            layouts=layouts)
            future = self._time_covariates(future, layouts, [0] * len(values), extra=fh)
            covs = None if future is None else [np.concatenate([h, f]) for h, f in
                                                zip(self.history_X_, future)]
        else:
            values, layouts, many = self._check_targets(y)
            short = min(v.shape[0] for v in values)
            if short < self._n_lost():
                raise ValueError(f"a history has {short} timesteps but seasonal_lag="
                                 f"{self.seasonal_lag_} and differences={self.differences_} need "
                                 f"at least {self._n_lost()} to anchor the forecast: pass a longer "
                                 "y.")
            loc, scale, floor = self._history_scaling([self._difference(v) for v in values])
            covs = self._check_covariates(X, [v.shape[0] for v in values], many, "predict",
                                          extra=fh, layouts=layouts)
            covs = self._time_covariates(covs, layouts, [v.shape[0] for v in values], extra=fh)
        return (values, covs, loc, scale, floor), layouts, many

    def _paths(self, fh, histories, n_paths, seed):
        """Sample paths in original units: list of ``(n_paths, fh, C)`` arrays, one per series."""
        values, covs, loc, scale, floor = histories
        ctx, window = self._context_len(), self._window(floor)
        # window statistics read the receptive field before the origin, as in training
        n_rows = ctx if window is None else max(ctx, self.receptive_field_)
        hist = torch.stack([
            torch.cat([torch.full((max(n_rows - v.shape[0], 0), v.shape[1]), float("nan")),
                       as_tensor(((self._difference(v)[-n_rows:] - l) / s))])
            for v, l, s in zip(values, loc, scale)])                          # (S, n_rows, C)
        if window is not None:
            w_loc, w_scale = window.stats(hist[:, -self.receptive_field_:].transpose(1, 2),
                                          window.floor)                       # (S, C) each
            hist = (hist - w_loc[:, None]) / w_scale[:, None]
            w_loc, w_scale = w_loc.double().numpy(), w_scale.double().numpy()
        hist = hist[:, -ctx:]                                                 # (S, ctx, C)
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
        if window is not None:
            draws = draws * w_scale[:, None, None] + w_loc[:, None, None]
        return [self._integrate(d * s + l, v) for d, l, s, v in zip(draws, loc, scale, values)]

    # ------------------------------------------------------------------ scoring and updating
    def score_steps(self, y, X=None):
        """One-step log-likelihood (nats, original units) of every element of ``y``, each step
        conditioned on the steps before it; shaped like ``y`` (NaN where ``y`` is missing).

        Each series is standardised with a scaling fixed at fit time — series ``i``'s own when
        ``y`` holds as many series as were fitted (or the one of a single-series model), else
        the pooled training scaling — and, with ``scaling="window"``, then scored in
        consecutive windows of ``max(receptive_field_, 32)`` steps, each standardised by the
        statistics of the receptive field before it, with ``log(scale)`` subtracted per element:
        a step's score depends on nothing after it, and the scores are an exact
        log-likelihood in the data's units. (Forecasts for new series use each history's own
        scaling instead, see :meth:`predict`; for a likelihood that would make every step
        depend on the whole series.)"""
        return super().score_steps(y, X)

    def _score_arrays(self, values, covs):
        modelled = [self._difference(v) for v in values]
        loc, scale, floor = self._history_scaling(modelled, own=False)
        cov_t = None
        if covs is not None:
            cl, cs = self.cov_scaler_["loc"], self.cov_scaler_["scale"]
            cov_t = [as_tensor((cv - cl) / cs) for cv in covs]
        scaled = [as_tensor((v - l) / s) for v, l, s in zip(modelled, loc, scale)]
        window = self._window(floor)
        lps = (self._log_prob_scaled(scaled, cov_t) if window is None
               else self._log_prob_windows(scaled, cov_t, window))
        return [np.where(np.isnan(v), np.nan, lp - np.log(s))              # (T, C) each
                for v, lp, s in zip(modelled, lps, scale)]

    def _nothing_to_score(self):
        return ("y has no step to score: every value is missing, or the series is too short for "
                f"differences={self.differences_} and seasonal_lag={self.seasonal_lag_} (the "
                f"first {self._n_lost()} steps have no likelihood).")

    def _restore_fitted(self, fitted):
        # files written before the differencing choices and window floors were kept
        fitted.setdefault("differences_", self.differences)
        fitted.setdefault("seasonal_lag_", self.seasonal_lag)
        scaler = fitted.get("scaler_")
        if isinstance(scaler, dict) and "floor" not in scaler:
            scaler["floor"] = np.ones_like(scaler["scale"])
        super()._restore_fitted(fitted)

    def _append_history(self, i, values, covs):
        self.history_[i] = np.concatenate([self.history_[i], values])
        if covs is not None:
            self.history_X_[i] = np.concatenate([self.history_X_[i], covs])
