"""Rolling-origin backtests of probabilistic forecasters, and automatic model selection.

:func:`backtest`: at each origin ``t`` a fresh clone of the forecaster is fitted on ``y[:t]``
and forecasts ``y[t:t + horizon]``; point forecasts are scored with MASE and sMAPE, sample paths
with CRPS, and the forecast quantiles with the pinball loss and interval coverage
(:mod:`tsargen.metrics`). The fits are independent, so they run through joblib: ``n_jobs``
spreads them over local processes, and a Dask or Ray joblib backend
(``with joblib.parallel_backend("dask"): ...``) over a cluster.

:class:`AutoForecaster` (defined in :mod:`tsargen.auto_forecaster`): a forecaster that picks
the :class:`~tsargen.WaveNetForecaster` settings with the best CRPS on rolling origins inside its
training data, then refits them on all of it.

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

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone

from .auto_forecaster import AutoForecaster
from .constraints import check_jobs, check_positive_int
from .metrics import crps, mase, quantile_loss, smape
from .validation import check_quantiles

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
