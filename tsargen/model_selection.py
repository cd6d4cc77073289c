"""Rolling-origin backtests of probabilistic forecasters, and automatic model selection.

:func:`backtest`: at each origin ``t`` a fresh clone of the forecaster is fitted on ``y[:t]``
and forecasts ``y[t:t + horizon]``; point forecasts are scored with MASE and sMAPE, sample paths
with CRPS, and the forecast quantiles with the pinball loss and interval coverage
(:mod:`tsargen.metrics`). The fits are independent, so they run through joblib: ``n_jobs``
spreads them over local processes, and a Dask or Ray joblib backend
(``with joblib.parallel_backend("dask"): ...``) over a cluster.

:class:`AutoForecaster`: a forecaster that picks the :class:`~tsargen.WaveNetForecaster`
settings with the best CRPS on rolling origins inside its training data, then refits them on
all of it.

Examples
--------
>>> import numpy as np
>>> from tsargen import WaveNetForecaster
>>> from tsargen.model_selection import backtest
>>> y = np.sin(np.arange(160) / 4)
>>> f = WaveNetForecaster(n_layers=2, residual_channels=4, skip_channels=4, max_epochs=1,
...                       n_paths=20, random_state=0)
>>> table = backtest(f, y, horizon=5, n_origins=2, n_samples=20)
>>> table["origin"].tolist(), list(table.columns[1:4])
([150, 155], ['mase', 'smape', 'crps'])
"""

import numbers
import time
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .constraints import (Check, Interval, InvalidParameterError, check_jobs,
                          check_positive_int, validate_params)
from .estimators import TsargenEstimator, WaveNetForecaster
from .estimators._runtime import make_seed
from .metrics import crps, mase, quantile_loss, smape
from .timeindex import IrregularIndexWarning
from .validation import check_covariates, check_quantiles, check_series, is_series_list

__all__ = ["AutoForecaster", "backtest"]


def _values(obj, horizon, n_channels):
    """A forecaster's output (array or pandas) -> float array ``(horizon, C)``."""
    return np.asarray(obj, dtype=float).reshape(horizon, n_channels)


def _one_origin(estimator, train, truth, origin, horizon, quantiles, sp, n_samples, seed):
    est = estimator.fit(train)
    truth = np.asarray(truth, dtype=float).reshape(horizon, -1)          # (h, C)
    c = truth.shape[1]
    history = np.asarray(train, dtype=float).reshape(len(train), c)
    point = _values(est.predict(horizon), horizon, c)
    row = {"origin": origin, "mase": mase(truth, point, history, sp),
           "smape": smape(truth, point)}
    if hasattr(est, "sample"):
        paths = np.asarray(est.sample(n_samples, horizon, random_state=seed), dtype=float)
        paths = paths.reshape(n_samples, horizon, c)                     # (n, h, C)
        row["crps"] = float(np.nanmean(crps(truth, paths)))
        qs = np.quantile(paths, quantiles, axis=0)                       # (Q, h, C)
        losses = quantile_loss(truth, np.moveaxis(qs, 0, -1), quantiles)
        row.update({f"pinball_{q:g}": float(v) for q, v in zip(quantiles, losses)})
        lo, hi = min(quantiles), max(quantiles)
        if hi > lo:
            q_lo, q_hi = qs[int(np.argmin(quantiles))], qs[int(np.argmax(quantiles))]
            # over the observed truth only: a missing value is neither covered nor missed
            observed = ~np.isnan(truth)
            inside = (truth >= q_lo) & (truth <= q_hi)
            row[f"coverage_{lo:g}_{hi:g}"] = float(np.mean(inside[observed]))
    return row


def _at_origin(estimator, train, truth, origin, *args):
    """:func:`_one_origin`, with a ValueError naming the origin (the message alone may speak
    of "y", which is then a prefix of the user's series)."""
    try:
        return _one_origin(estimator, train, truth, origin, *args)
    except ValueError as exc:
        raise ValueError(f"backtest origin {origin} (training on the first {origin} timesteps "
                         f"of y): {exc} If that history is too short, lower n_origins, step or "
                         "horizon.") from exc


def backtest(estimator, y, *, horizon, n_origins=5, step=None, quantiles=(0.1, 0.5, 0.9), sp=1,
             n_samples=200, n_jobs=None, random_state=0):
    """Rolling-origin evaluation of a forecaster on one series.

    Parameters
    ----------
    estimator : forecaster
        Anything with ``fit(y)`` and ``predict(horizon)`` (``sample(n, horizon,
        random_state=...)`` adds CRPS, pinball losses and coverage), e.g.
        :class:`~tsargen.WaveNetForecaster`. It is cloned for every origin.
    y : array-like (T,) or (T, C), pandas Series or DataFrame
        One series (a list of series is refused: backtest each one).
    horizon : int
        Steps forecast from each origin.
    n_origins : int, default=5
        Forecast origins; the last one ends exactly at the end of ``y``.
    step : int, optional
        Distance between origins (default ``horizon``: non-overlapping test windows).
    quantiles : sequence of float, default=(0.1, 0.5, 0.9)
    sp : int, default=1
        Seasonal period of the naive forecast that scales MASE.
    n_samples : int, default=200
        Sample paths per origin for CRPS and quantiles.
    n_jobs : int, optional
        Parallel fits (joblib; the active joblib backend decides where they run).
    random_state : int, default=0
        Seed of the sample paths.

    Returns
    -------
    pandas.DataFrame
        One row per origin: ``origin`` (position in ``y``; the time stamp in column ``time``
        for pandas input), ``mase``, ``smape`` and, for forecasters that sample, ``crps``,
        ``pinball_<q>`` and ``coverage_<lo>_<hi>`` (the share of the observed truth values
        inside the interval). A ValueError at one origin names it.
    """
    horizon = check_positive_int(horizon, "horizon")
    n_origins = check_positive_int(n_origins, "n_origins")
    step = horizon if step is None else check_positive_int(step, "step")
    n_samples = check_positive_int(n_samples, "n_samples")
    q = check_quantiles(quantiles)
    if isinstance(y, (list, tuple)) and any(
            isinstance(s, (np.ndarray, pd.Series, pd.DataFrame)) for s in y):
        raise ValueError(f"backtest evaluates one series, but y is a list of {len(y)} series; "
                         "backtest each one, e.g. [backtest(estimator, s, ...) for s in y].")
    if not (isinstance(y, (pd.Series, pd.DataFrame)) or np.ndim(y) in (1, 2)):
        raise ValueError(f"y must be one series (T,) or (T, C); got shape {np.shape(y)}.")
    n = len(y)
    first = n - horizon - (n_origins - 1) * step
    if first <= sp:
        raise ValueError(f"y has {n} timesteps: too short for {n_origins} origins {step} steps "
                         f"apart with horizon {horizon}; lower n_origins, step or horizon.")
    origins = [first + k * step for k in range(n_origins)]

    def part(a, b):
        return y.iloc[a:b] if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)[a:b]

    check_jobs(n_jobs)
    rows = Parallel(n_jobs=n_jobs)(
        delayed(_at_origin)(clone(estimator), part(0, t), part(t, t + horizon), t, horizon,
                            q, sp, n_samples, random_state)
        for t in origins)
    table = pd.DataFrame(rows)
    if isinstance(y, (pd.Series, pd.DataFrame)):
        table.insert(1, "time", y.index[origins])
    return table


# ---------------------------------------------------------------------------- AutoForecaster
#: The default candidates of :class:`AutoForecaster`, each over WaveNetForecaster's defaults
#: (window scaling, automatic differencing and season): one change at a time.
DEFAULT_CANDIDATES = ({}, {"scaling": "global"}, {"differences": 0}, {"seasonal_lag": None})

# AutoForecaster's own settings, set on every candidate (so not in candidates or base_params)
_OWN = ("horizon", "n_paths", "random_state", "verbose")


def _is_candidate_list(value):
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and all(isinstance(c, dict) and all(isinstance(k, str) for k in c) for c in value))


def _head(series, n):
    """The first ``n`` rows of a series or its covariates (pandas keeps its index)."""
    return series.iloc[:n] if isinstance(series, (pd.Series, pd.DataFrame)) else (
        np.asarray(series)[:n])


def _nanmean(values):
    """Mean of the observed (non-NaN) values, NaN when there are none (without a warning)."""
    values = np.asarray(values, dtype=float)
    observed = values[~np.isnan(values)]
    return float(observed.mean()) if observed.size else float("nan")


class _Origins:
    """The validation protocol on training data ``y`` (one series or a list) and its
    covariates ``X``: the last ``n_origins`` blocks of ``horizon`` steps of every series are
    forecast, each from the true history before it, by a candidate fitted on what precedes the
    first block. Nothing here reads past a series' end."""

    def __init__(self, y, X, horizon, n_origins, sp):
        self.many = is_series_list(y) and not isinstance(y, np.ndarray)
        self.series = list(y) if self.many else [y]
        self.values = [check_series(s, f"y[{i}]" if self.many else "y")[0]      # (T_i, C)
                       for i, s in enumerate(self.series)]
        lengths = [v.shape[0] for v in self.values]
        check_covariates(X, lengths, self.many, "fit")
        self.covariates = None if X is None else (list(X) if self.many else [X])
        need = n_origins * horizon + sp + 1
        for i, t in enumerate(lengths):
            if t < need:
                name = f"y[{i}]" if self.many else "y"
                raise ValueError(
                    f"{name} has {t} timesteps but AutoForecaster needs at least {need}: "
                    f"n_origins={n_origins} validation blocks of horizon={horizon} steps at its "
                    f"end, after at least sp + 1 = {sp + 1} steps to fit on; lower n_origins "
                    "or horizon, or pass a longer series.")
        self.horizon = horizon
        self.origins = [[t - (n_origins - k) * horizon for k in range(n_origins)]
                        for t in lengths]

    def _pick(self, parts):
        return parts if self.many else parts[0]

    def _cut(self, y_ends, x_extra):
        y = self._pick([_head(s, e) for s, e in zip(self.series, y_ends)])
        if self.covariates is None:
            return y, None
        return y, self._pick([_head(c, e + x_extra) for c, e in zip(self.covariates, y_ends)])

    def train(self):
        """``(y, X)`` before the first validation origin: what the candidates are fitted on."""
        return self._cut([o[0] for o in self.origins], 0)

    def history(self, k):
        """``(y, X)`` of origin ``k``: ``y`` up to it, ``X`` also over the forecast block."""
        return self._cut([o[k] for o in self.origins], self.horizon)

    def truth(self, i, k):
        """Series ``i``'s block after origin ``k``, ``(horizon, C)``."""
        o = self.origins[i][k]
        return self.values[i][o:o + self.horizon]


class AutoForecaster(TsargenEstimator):
    """Automatic forecaster: the :class:`~tsargen.WaveNetForecaster` settings with the best
    CRPS on rolling origins inside the training data, refitted on all of it.

    ``fit`` validates every candidate the same way: the last ``n_origins`` blocks of
    ``horizon`` steps of the training series are held out; the candidate is fitted once on the
    steps before the first block and forecasts each block from the true history before it
    (``sample(n_paths, horizon, y=history)``, no refit per origin). Its score is the CRPS of
    those ``n_paths`` sample paths, averaged over every element of a block and then over the
    blocks. With a list of series (one global model) every series' last blocks are forecast,
    and a block's CRPS pools the elements of all series (so it is in the series' units: series
    on very different scales weigh by their scale). Nothing after the end of the training data
    is ever read, and nothing after an origin is shown to a forecast from it. The ensemble
    stage then validates the best single configuration as an ensemble of ``ensemble_size``
    networks, and the candidate with the lowest mean CRPS (the first one on ties) is refitted
    on all the training data as :attr:`best_estimator_`, which every forecasting method uses.

    Parameters
    ----------
    horizon : int, default=1
        Default forecast horizon, and the length of each validation block.
    candidates : list of dict, default=None
        WaveNetForecaster settings to compare, each over ``base_params`` and the library's
        defaults. ``None`` means :data:`DEFAULT_CANDIDATES`: the defaults (window scaling,
        automatic differencing and season), ``scaling="global"``, ``differences=0`` and
        ``seasonal_lag=None``. Candidates that come out identical are validated once.
    base_params : dict, default=None
        WaveNetForecaster settings applied to every candidate (e.g. the network's size and
        ``max_epochs``); a candidate's own entries override them. ``horizon``, ``n_paths``,
        ``random_state`` and ``verbose`` are AutoForecaster's own and are set on every
        candidate.
    n_origins : int, default=3
        Validation blocks at the end of the training data; every series needs at least
        ``n_origins * horizon + sp + 1`` timesteps.
    ensemble_size : int or None, default=3
        After the candidates, the best one is also validated as an ensemble of this many
        networks (``n_networks``) and kept if it scores better. ``None`` skips this stage (as
        does a winner that already has as many networks).
    n_paths : int, default=200
        Sample paths behind each validation CRPS, and those of the fitted forecaster (behind
        ``predict``, ``predict_quantiles`` and ``predict_interval``).
    sp : int, default=1
        Seasonal period of the naive forecast that scales the validation MASE (reported in
        ``cv_results_``; the choice is by CRPS).
    random_state : int, RandomState or None, default=None
        Every candidate and the refit are fitted with the same seed (``random_state`` itself
        when it is an int, else one int drawn from it), and their validation paths are drawn
        with it; the global RNGs are untouched.
    verbose : bool, default=False
        Show a progress bar of the fits (tqdm, on stderr) with the best CRPS so far.

    Attributes
    ----------
    best_estimator_ : WaveNetForecaster
        The chosen candidate refitted on all the training data.
    best_params_ : dict
        Its settings over ``base_params`` (``cv_results_["params"][best_index_]``).
    best_index_ : int
        Its row in ``cv_results_``.
    cv_results_ : pandas.DataFrame
        One row per validated candidate (the ensemble last): ``params`` (its settings over
        ``base_params``), ``param_<name>`` (the value it was fitted with, for every setting a
        candidate names), ``differences_`` and ``seasonal_lag_`` (what its validation fit
        chose, where a setting is ``"auto"``), ``crps`` (mean over the blocks), ``mase``
        (mean MASE of the median of the paths, scaled by the in-sample error of the seasonal
        naive of period ``sp`` before each origin), ``fit_time`` (seconds) and
        ``crps_origin_<k>`` (the CRPS of block ``k``, oldest first).
    origins_ : list of int, or one list per series for a list
        The validation origins: positions in each training series where a block starts.
    refit_time_ : float
        Seconds taken by the refit of the winner.

    Examples
    --------
    >>> import numpy as np
    >>> from tsargen.model_selection import AutoForecaster
    >>> y = np.cumsum(np.random.default_rng(0).normal(size=200))          # a random walk
    >>> tiny = dict(n_layers=2, residual_channels=4, skip_channels=4, max_epochs=1)
    >>> f = AutoForecaster(horizon=5, candidates=[{"differences": 0}, {"differences": 1}],
    ...                    base_params=tiny, n_origins=2, ensemble_size=None, n_paths=20,
    ...                    random_state=0).fit(y)
    >>> list(f.cv_results_.columns)[:6]
    ['params', 'param_differences', 'differences_', 'seasonal_lag_', 'crps', 'mase']
    >>> list(f.cv_results_.columns)[6:]
    ['fit_time', 'crps_origin_0', 'crps_origin_1']
    >>> f.best_index_ == f.cv_results_["crps"].idxmin(), f.predict().shape
    (True, (5,))
    """

    _parameter_constraints = {
        "horizon": [Interval(numbers.Integral, 1, None)],
        "candidates": [None, Check(_is_candidate_list, "a non-empty list of dicts of "
                                   "WaveNetForecaster parameters")],
        "base_params": [None, dict],
        "n_origins": [Interval(numbers.Integral, 1, None)],
        "ensemble_size": [None, Interval(numbers.Integral, 2, None)],
        "n_paths": [Interval(numbers.Integral, 1, None)],
        "sp": [Interval(numbers.Integral, 1, None)],
        "random_state": [None, numbers.Integral, np.random.RandomState],
        "verbose": [bool, Interval(numbers.Integral, 0, None)],
    }

    def __init__(self, *, horizon=1, candidates=None, base_params=None, n_origins=3,
                 ensemble_size=3, n_paths=200, sp=1, random_state=None, verbose=False):
        self.horizon = horizon
        self.candidates = candidates
        self.base_params = base_params
        self.n_origins = n_origins
        self.ensemble_size = ensemble_size
        self.n_paths = n_paths
        self.sp = sp
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ candidates
    @staticmethod
    def _check_settings(settings, where):
        """``settings`` must name WaveNetForecaster parameters other than AutoForecaster's."""
        own = sorted(set(settings) & set(_OWN))
        if own:
            raise ValueError(f"{where} sets {own}: set them on AutoForecaster itself, which "
                             "applies them to every candidate.")
        unknown = sorted(set(settings) - set(WaveNetForecaster().get_params(deep=False)))
        if unknown:
            raise ValueError(f"{where} sets {unknown}, which WaveNetForecaster does not take.")
        return dict(settings)

    def _candidate(self, params, seed, where):
        """An unfitted WaveNetForecaster of ``params`` over ``base_params``, checked."""
        est = WaveNetForecaster(**{**(self.base_params or {}), **params}, horizon=self.horizon,
                                n_paths=self.n_paths, random_state=seed, verbose=False)
        try:
            validate_params(est)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"{where}: {exc}") from None
        return est

    def _singles(self, seed):
        """The candidates to validate: [(params, estimator)], duplicates dropped."""
        self._check_settings(self.base_params or {}, "base_params")
        given = DEFAULT_CANDIDATES if self.candidates is None else self.candidates
        out, seen = [], []
        for i, params in enumerate(given):
            where = "candidates" if self.candidates is None else f"candidates[{i}]"
            params = self._check_settings(params, where)
            est = self._candidate(params, seed, where)
            if est.get_params(deep=False) not in seen:
                seen.append(est.get_params(deep=False))
                out.append((params, est))
        return out

    # ------------------------------------------------------------------ validation
    def _validate(self, est, params, index, origins, seed):
        """Fit ``est`` before the first origin, forecast every block: one row of
        ``cv_results_``."""
        start = time.perf_counter()
        y, X = origins.train()
        try:
            est.fit(y, X)
        except ValueError as exc:
            first = [o[0] for o in origins.origins]
            raise ValueError(
                f"validating candidate {index} ({params}): its fit on the first "
                f"{first if origins.many else first[0]} timesteps (before the first of "
                f"n_origins={self.n_origins} validation blocks of horizon={self.horizon}) "
                f"failed: {exc} Pass longer series, or lower n_origins or horizon.") from exc
        fit_time = time.perf_counter() - start
        h = self.horizon
        per_origin, mases = [], []
        for k in range(self.n_origins):
            y_k, X_k = origins.history(k)
            out = est.sample(self.n_paths, h, y=y_k, X=X_k, random_state=seed)
            scores = []
            for i, drawn in enumerate(out if origins.many else [out]):
                truth = origins.truth(i, k)                                   # (h, C)
                paths = np.asarray(drawn, dtype=float).reshape(self.n_paths, h, -1)
                scores.append(crps(truth, paths).ravel())
                history = origins.values[i][:origins.origins[i][k]]
                try:
                    mases.append(mase(truth, np.median(paths, axis=0), history, self.sp))
                except ValueError:      # a constant history, or no observed truth: no scale
                    mases.append(np.nan)
            per_origin.append(_nanmean(np.concatenate(scores)))
        row = {"params": params, "crps": _nanmean(per_origin), "mase": _nanmean(mases),
               "fit_time": fit_time}
        row.update({f"crps_origin_{k}": v for k, v in enumerate(per_origin)})
        return row

    @staticmethod
    def _best(rows):
        scores = np.array([r["crps"] for r in rows], dtype=float)
        if np.isnan(scores).all():
            raise ValueError("no candidate could be scored: the validation blocks at the end of "
                             "y hold no observed value.")
        return int(np.nanargmin(scores))

    def _table(self, rows, estimators):
        """``cv_results_``: the rows with a ``param_<name>`` column per setting named."""
        names = sorted({k for r in rows for k in r["params"]})
        table = pd.DataFrame(rows)
        for j, name in enumerate(names):
            table.insert(1 + j, f"param_{name}", pd.Series(
                [e.get_params(deep=False)[name] for e in estimators], dtype=object))
        for j, name in enumerate(("differences_", "seasonal_lag_")):    # what "auto" chose
            table.insert(1 + len(names) + j, name,
                         pd.Series([getattr(e, name) for e in estimators], dtype=object))
        return table

    # ------------------------------------------------------------------ fit
    def fit(self, y, X=None):
        """Validate the candidates on the end of ``y`` (a series or a list of series, with
        optional covariates ``X`` as :meth:`WaveNetForecaster.fit` takes them), then refit the
        best on all of ``y``."""
        validate_params(self)
        seed = (self.random_state if isinstance(self.random_state, numbers.Integral)
                else make_seed(self.random_state))
        singles = self._singles(seed)
        origins = _Origins(y, X, self.horizon, self.n_origins, self.sp)
        rows, fitted = [], []
        steps = len(singles) + (self.ensemble_size is not None) + 1
        with tqdm(total=steps, desc=type(self).__name__, unit="fit",
                  disable=not self.verbose) as bar:

            def validate(params, est):
                rows.append(self._validate(est, params, len(rows), origins, seed))
                fitted.append(est)
                bar.set_postfix(best_crps=f"{rows[self._best(rows)]['crps']:.4g}")
                bar.update()

            with warnings.catch_warnings():
                # the refit warns once about a gapped time index; the fits before it need not
                warnings.simplefilter("ignore", IrregularIndexWarning)
                for params, est in singles:
                    validate(params, est)
                params, est = singles[self._best(rows)]
                if self.ensemble_size is not None and est.n_networks < self.ensemble_size:
                    params = {**params, "n_networks": self.ensemble_size}
                    validate(params, self._candidate(params, seed, "the ensemble"))
            best = self._best(rows)
            bar.total = len(rows) + 1
            bar.set_description(f"{type(self).__name__} refit")
            start = time.perf_counter()
            winner = clone(fitted[best]).fit(y, X)
            refit_time = time.perf_counter() - start
            bar.update()
        self.cv_results_ = self._table(rows, fitted)
        self.best_index_ = best
        self.best_params_ = dict(rows[best]["params"])
        self.best_estimator_ = winner
        self.origins_ = origins.origins if origins.many else origins.origins[0]
        self.refit_time_ = refit_time
        return self

    # ------------------------------------------------------------------ forecasting
    def predict(self, horizon=None, *, y=None, X=None):
        """:meth:`WaveNetForecaster.predict` of :attr:`best_estimator_`."""
        check_is_fitted(self)
        return self.best_estimator_.predict(horizon, y=y, X=X)

    def predict_quantiles(self, horizon=None, quantiles=(0.1, 0.5, 0.9), *, y=None, X=None):
        """:meth:`WaveNetForecaster.predict_quantiles` of :attr:`best_estimator_`."""
        check_is_fitted(self)
        return self.best_estimator_.predict_quantiles(horizon, quantiles, y=y, X=X)

    def predict_interval(self, horizon=None, coverage=0.9, *, y=None, X=None):
        """:meth:`WaveNetForecaster.predict_interval` of :attr:`best_estimator_`."""
        check_is_fitted(self)
        return self.best_estimator_.predict_interval(horizon, coverage, y=y, X=X)

    def sample(self, n_samples=100, horizon=None, *, y=None, X=None, random_state=None):
        """:meth:`WaveNetForecaster.sample` of :attr:`best_estimator_`."""
        check_is_fitted(self)
        return self.best_estimator_.sample(n_samples, horizon, y=y, X=X,
                                           random_state=random_state)

    def score_steps(self, y, X=None):
        """:meth:`WaveNetForecaster.score_steps` of :attr:`best_estimator_`."""
        check_is_fitted(self)
        return self.best_estimator_.score_steps(y, X)

    def score(self, y, X=None):
        """:meth:`WaveNetForecaster.score` of :attr:`best_estimator_`."""
        check_is_fitted(self)
        return self.best_estimator_.score(y, X)

    def update(self, y, X=None):
        """Append new observations to :attr:`best_estimator_`'s history (no refit, no new
        selection)."""
        check_is_fitted(self)
        self.best_estimator_.update(y, X)
        return self
