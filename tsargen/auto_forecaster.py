"""Automatic forecaster: the :class:`~tsargen.WaveNetForecaster` settings with the best CRPS
on rolling origins inside the training data, refitted on all of it (reached as
``tsargen.AutoForecaster`` and ``tsargen.model_selection.AutoForecaster``). The validation
protocol is :class:`_Origins`; see docs/architecture.md."""

import numbers
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .constraints import Check, Interval, InvalidParameterError, validate_params
from .estimators import TsargenEstimator, WaveNetForecaster
from .estimators._runtime import make_seed
from .metrics import crps, mase
from .timeindex import IrregularIndexWarning
from .validation import check_covariates, check_series, is_series_list

__all__ = ["AutoForecaster", "default_candidates"]


def default_candidates(first):
    """The default candidates after the library defaults, one change at a time from what the
    defaults' validation fit ``first`` chose: ``scaling="global"``, the other differencing
    order (1 after 0, 0 after 1 or 2) and, when it took a seasonal difference,
    ``seasonal_lag=None``. A change to what ``"auto"`` chose anyway would refit the same
    model."""
    grid = [{"scaling": "global"}, {"differences": 1 - min(first.differences_, 1)}]
    if first.seasonal_lag_:
        grid.append({"seasonal_lag": None})
    return grid


# AutoForecaster's own settings, set on every candidate (so not in candidates or base_params)
_OWN = ("horizon", "n_paths", "random_state", "verbose", "n_threads")


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
        defaults. ``None``: the defaults (window scaling, automatic differencing and season)
        first, then one change at a time from what their validation fit chose
        (:func:`default_candidates`): ``scaling="global"``, the other differencing order (0 or
        1), and ``seasonal_lag=None`` when a season was differenced. Candidates that come out
        identical are validated once.
    base_params : dict, default=None
        WaveNetForecaster settings applied to every candidate (e.g. the network's size and
        ``max_epochs``); a candidate's own entries override them. ``horizon``, ``n_paths``,
        ``random_state``, ``verbose`` and ``n_threads`` are AutoForecaster's own and are set
        on every candidate.
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
    n_threads : int or None, default=1
        torch threads of every candidate's fit and forecasts, and of the refit winner
        (:class:`~tsargen.WaveNetForecaster`'s ``n_threads``; the caller's setting is restored
        after each call). None leaves torch's setting alone.

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
        "n_threads": [None, Interval(numbers.Integral, 1, None)],
    }

    def __init__(self, *, horizon=1, candidates=None, base_params=None, n_origins=3,
                 ensemble_size=3, n_paths=200, sp=1, random_state=None, verbose=False,
                 n_threads=1):
        self.horizon = horizon
        self.candidates = candidates
        self.base_params = base_params
        self.n_origins = n_origins
        self.ensemble_size = ensemble_size
        self.n_paths = n_paths
        self.sp = sp
        self.random_state = random_state
        self.verbose = verbose
        self.n_threads = n_threads

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
                                n_paths=self.n_paths, random_state=seed, verbose=False,
                                n_threads=self.n_threads)
        try:
            validate_params(est)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"{where}: {exc}") from None
        return est

    def _singles(self, given, seed, seen):
        """The candidates ``given`` to validate: [(params, estimator)], those whose settings
        are in ``seen`` (a list it extends) dropped."""
        self._check_settings(self.base_params or {}, "base_params")
        out = []
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
        seen = []
        singles = self._singles([{}] if self.candidates is None else self.candidates, seed, seen)
        origins = _Origins(y, X, self.horizon, self.n_origins, self.sp)
        rows, fitted = [], []
        more = 3 if self.candidates is None else 0          # the default grid's, at most
        steps = len(singles) + more + (self.ensemble_size is not None) + 1
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
                if self.candidates is None:         # changes to what the defaults chose
                    grid = self._singles(default_candidates(fitted[0]), seed, seen)
                    bar.total -= more - len(grid)
                    for params, est in grid:
                        validate(params, est)
                    singles += grid
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
