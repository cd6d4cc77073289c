"""Forecast and density metrics (numpy only).

Examples
--------
>>> import numpy as np
>>> from tsargen.metrics import mase, smape, crps, quantile_loss
>>> y_train = np.arange(20.0)
>>> round(mase([20.0, 21.0], [20.5, 21.5], y_train), 3)
0.5
>>> float(crps(np.array([0.0]), np.zeros((100, 1)))[0])   # a point mass on the truth
0.0
"""

import warnings

import numpy as np


def _values(x, name):
    """Float array of ``x``: TypeError for non-numbers, ValueError for inf or no elements.
    NaN marks a missing value and is skipped by the averages."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric array-like, got {type(x).__name__}.") from None
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one value.")
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains inf; metrics need finite values (NaN = missing).")
    return arr


def _pair(y_true, y_pred):
    y_true, y_pred = _values(y_true, "y_true"), _values(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}.")
    if not (np.isfinite(y_true) & np.isfinite(y_pred)).any():
        raise ValueError("y_true and y_pred have no position where both are observed (not NaN).")
    return y_true, y_pred


def mase(y_true, y_pred, y_train, sp=1):
    """Mean absolute scaled error: MAE over the in-sample MAE of the seasonal-naive forecast
    with period ``sp`` (Hyndman & Koehler 2006). Averaged over channels for 2-D input; NaN
    marks missing values, which are skipped."""
    y_true, y_pred = _pair(y_true, y_pred)
    y_train = _values(y_train, "y_train")
    if y_train.shape[0] <= sp:
        raise ValueError(f"y_train needs more than sp={sp} timesteps, got {y_train.shape[0]}.")
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)          # all-NaN columns -> NaN
        scale = np.nanmean(np.abs(y_train[sp:] - y_train[:-sp]), axis=0)
        scale = np.where(scale > 0, scale, np.nan)
        value = float(np.nanmean(np.nanmean(np.abs(y_true - y_pred), axis=0) / scale))
    if not np.isfinite(value):
        raise ValueError(f"MASE is undefined: the seasonal-naive (sp={sp}) in-sample error of "
                         "y_train is zero or missing for every channel (a constant series).")
    return value


def smape(y_true, y_pred):
    """Symmetric MAPE in percent, ``200 * mean(|y - f| / (|y| + |f|))`` (0/0 counts as 0;
    NaN marks missing values, which are skipped)."""
    y_true, y_pred = _pair(y_true, y_pred)
    denom = np.abs(y_true) + np.abs(y_pred)
    ratio = np.divide(np.abs(y_true - y_pred), denom, out=np.zeros_like(denom), where=denom > 0)
    ratio[~(np.isfinite(y_true) & np.isfinite(y_pred))] = np.nan
    return float(200.0 * np.nanmean(ratio))


def crps(y_true, samples):
    """CRPS of each element from samples, ``E|X - y| - E|X - X'| / 2``, exact for the empirical
    distribution (sorted-sample form, O(n log n)). A NaN (missing) truth gives NaN there.

    ``samples`` has shape ``(n_samples, *y_true.shape)``; returns an array shaped like
    ``y_true``. Average it for a summary.
    """
    y_true = _values(y_true, "y_true")
    samples = _values(samples, "samples")
    if np.isnan(samples).any():
        raise ValueError("samples contain NaN; every sample path must be complete.")
    if samples.shape[1:] != y_true.shape:
        raise ValueError(f"samples must have shape (n_samples, *{y_true.shape}), got "
                         f"{samples.shape}.")
    n = samples.shape[0]
    x = np.sort(samples, axis=0)
    term1 = np.mean(np.abs(x - y_true[None]), axis=0)
    # E|X - X'| = 2/n^2 * sum_i (2i - n - 1) x_(i)  (i = 1..n)
    weights = (2 * np.arange(1, n + 1) - n - 1).reshape((n,) + (1,) * y_true.ndim)
    term2 = np.sum(weights * x, axis=0) / (n * n)
    return term1 - term2


def quantile_loss(y_true, y_quantiles, quantiles):
    """Mean pinball loss per quantile level: ``y_quantiles`` has shape ``(*y_true.shape, Q)``;
    returns ``(Q,)``."""
    y_true = _values(y_true, "y_true")
    q = _values(quantiles, "quantiles")
    yq = _values(y_quantiles, "y_quantiles")
    if yq.shape != y_true.shape + q.shape:
        raise ValueError(f"y_quantiles must have shape {y_true.shape + q.shape}, got {yq.shape}.")
    diff = y_true[..., None] - yq
    loss = np.maximum(q * diff, (q - 1) * diff)
    return np.nanmean(loss.reshape(-1, q.size), axis=0)


def bits_per_dim(log_likelihood, n_dims):
    """Negative log-likelihood in bits per dimension from a total log-likelihood in nats."""
    return -np.asarray(log_likelihood, dtype=float) / (np.asarray(n_dims) * np.log(2.0))
