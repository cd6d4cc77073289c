"""Differencing for the forecasters: the map from levels to the modelled series (ordinary and
seasonal differences, as ARIMA's ``d`` and SARIMA's ``D=1``), its inverse on sample paths, and
the choice of ``d`` and the season from the data (:mod:`tsargen.seasonality`). numpy and pandas
only; see docs/architecture.md."""

import numpy as np
import pandas as pd

from ..seasonality import ndiffs, nsdiffs, seasonal_period


def seasonal_difference(v, lag):
    """``v[t] - v[t - lag]`` of ``v (T, C)``, same length, first ``lag`` rows NaN (identity
    without a lag)."""
    if not lag:
        return v
    head = np.full((min(lag, v.shape[0]), v.shape[1]), np.nan)
    return np.vstack([head, v[lag:] - v[:-lag]])


def difference(v, d, lag):
    """The modelled series: ``d``-th differences of the seasonal differences of ``v (T, C)``,
    same length, first ``lag + d`` rows NaN."""
    v = seasonal_difference(v, lag)
    for _ in range(d):
        v = np.vstack([np.full((1, v.shape[1]), np.nan), np.diff(v, axis=0)])
    return v


def choose(values, indexes, levels, d="auto", lag="auto"):
    """``(d, lag)``: the given settings, or for ``"auto"`` the ones the series ``values`` (each
    ``(T_i, C)``, with its time index or None) call for: the period of the longest series that
    its index suggests and its autocorrelation confirms (:func:`seasonal_period`), kept when its seasonal strength asks
    for a seasonal difference; then ``d`` in {0, 1}, the largest KPSS order over the series
    (seasonally differenced first). None with integer-level channels (``levels.any()``)."""
    if lag == "auto":
        lag = None
        if not levels.any():
            longest = int(np.argmax([v.shape[0] for v in values]))
            v, index = values[longest], indexes[longest]
            period = seasonal_period(v, index if isinstance(
                index, (pd.DatetimeIndex, pd.PeriodIndex)) else None)
            if period and period < v.shape[0] // 2 and nsdiffs(v, period):
                lag = int(period)
    if d == "auto":
        d = 0 if levels.any() else max(
            ndiffs(seasonal_difference(v, lag)[lag or 0:], max_d=1) for v in values)
    return int(d), lag


def integrate(draws, history, d, lag):
    """Sample paths of the modelled series ``(n, fh, C)`` -> levels, anchored on the last
    observed values of ``history (T, C)`` at every differencing order: the regular
    differences are summed up first, then each seasonal difference is added to the level one
    season earlier (observed for the first season ahead, else a step of the path)."""
    if not d and not lag:
        return draws
    filled = pd.DataFrame(history).ffill().to_numpy()
    anchors = [seasonal_difference(filled, lag)]
    for _ in range(d - 1):
        anchors.append(np.diff(anchors[-1], axis=0))
    for level in reversed(anchors[:d]):
        draws = level[-1] + np.cumsum(draws, axis=1)
    if lag:
        n, fh, c = draws.shape
        blocks = -(-fh // lag)                          # seasons ahead, the last one partial
        padded = np.concatenate([draws, np.zeros((n, blocks * lag - fh, c))], axis=1)
        summed = np.cumsum(padded.reshape(n, blocks, lag, c), axis=1)   # (n, blocks, lag, C)
        draws = summed.reshape(n, blocks * lag, c) + np.tile(filled[-lag:], (blocks, 1))
        draws = draws[:, :fh]
    return draws
