"""Forecast and density metrics (numpy; pandas inputs are checked, not aligned).

Examples
--------
>>> import numpy as np
>>> from tsargen.metrics import mase, smape, crps, quantile_loss
>>> y_train = np.arange(20.0)
>>> round(mase([20.0, 21.0], [20.5, 21.5], y_train), 3)
0.5
>>> float(crps(np.array([0.0]), np.zeros((100, 1)))[0])   # a point mass on the truth
0.0

Inputs are compared by position. Two pandas inputs must share their index (and a pair of
DataFrames their columns): a ValueError asks to align them rather than pairing rows silently.
"""

import warnings

import numpy as np
import pandas as pd

from .constraints import check_positive_int


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


def _check_aligned(a, b, name_a, name_b, index=True, columns=True):
    """Two pandas inputs must label the same rows (and columns): metrics pair values by
    position, so a reordered or shifted index would be scored against the wrong truth."""
    pandas = (pd.Series, pd.DataFrame)
    if not (isinstance(a, pandas) and isinstance(b, pandas)):
        return
    if index and not a.index.equals(b.index):
        raise ValueError(f"{name_a} and {name_b} have different indexes; metrics compare values by "
                         f"position, so align them first (e.g. {name_b}.reindex({name_a}.index)) "
                         "or pass numpy arrays.")
    if (columns and isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame)
            and not a.columns.equals(b.columns)):
        raise ValueError(f"{name_a} and {name_b} have different columns {list(a.columns)} and "
                         f"{list(b.columns)}; select the same columns in the same order.")


def _pair(y_true, y_pred):
    _check_aligned(y_true, y_pred, "y_true", "y_pred")
    y_true, y_pred = _values(y_true, "y_true"), _values(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}.")
    if not (np.isfinite(y_true) & np.isfinite(y_pred)).any():
        raise ValueError("y_true and y_pred have no position where both are observed (not NaN).")
    return y_true, y_pred


def mase(y_true, y_pred, y_train, sp=1):
    """Mean absolute scaled error: MAE over the in-sample MAE of the seasonal-naive forecast
    with period ``sp`` (Hyndman & Koehler 2006). Averaged over channels for 2-D input; NaN
    marks missing values, which are skipped. ``sp`` is a positive integer smaller than
    ``len(y_train)``, and ``y_train`` has the channels of ``y_true``."""
    sp = check_positive_int(sp, "sp", " (the seasonal period in steps; 1 for the naive "
                                      "forecast)")
    _check_aligned(y_true, y_train, "y_true", "y_train", index=False)
    y_true, y_pred = _pair(y_true, y_pred)
    y_train = _values(y_train, "y_train")
    if y_train.ndim == 0:
        y_train = y_train[None]
    if y_train.shape[1:] != y_true.shape[1:]:
        n_train, n_true = int(np.prod(y_train.shape[1:])), int(np.prod(y_true.shape[1:]))
        if n_train != 1 or n_true != 1:
            raise ValueError(f"y_train has {n_train} channel(s) (shape {y_train.shape}) but "
                             f"y_true has {n_true} (shape {y_true.shape}); pass the training "
                             "part of the same series.")
        y_train = y_train.reshape((len(y_train),) + y_true.shape[1:])  # (T,) vs (T, 1)
    if y_train.shape[0] <= sp:
        raise ValueError(f"y_train needs more than sp={sp} timesteps, got {y_train.shape[0]}; "
                         "lower sp or pass a longer training series.")
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


def _long_frame_paths(samples):
    """The long frame of a forecaster's ``sample`` (a DataFrame, or one of its columns,
    indexed by (sample, time)) -> sample paths ``(n_samples, horizon, C)`` and the time
    labels."""
    idx = samples.index
    frame = samples.to_frame() if isinstance(samples, pd.Series) else samples
    s_code, s_uniq = pd.factorize(idx.get_level_values(0), sort=True)
    t_code, times = pd.factorize(idx.get_level_values(1), sort=True)
    n, h = len(s_uniq), len(times)
    if n == 0 or len(frame) != n * h or idx.has_duplicates:
        raise ValueError(f"samples has {len(frame)} rows for {n} samples and {h} time steps: "
                         "every sample must cover the same time steps, once each.")
    paths = np.full((n, h, frame.shape[1]), np.nan)
    paths[s_code, t_code] = frame.to_numpy(dtype=float)
    return paths, pd.Index(times, name=idx.names[1])


def _long_samples(samples, y_true):
    """A long DataFrame of sample paths indexed by (sample, time) -> ``(n, h, C)`` array."""
    if not (isinstance(samples, pd.DataFrame) and samples.index.nlevels == 2):
        return samples
    paths, times = _long_frame_paths(samples)
    if isinstance(y_true, (pd.Series, pd.DataFrame)) and not y_true.index.equals(times):
        raise ValueError("samples (indexed by sample, time) and y_true have different times; "
                         "align them first or pass numpy arrays.")
    return paths


def crps(y_true, samples):
    """CRPS of each element from samples, ``E|X - y| - E|X - X'| / 2``, exact for the empirical
    distribution (sorted-sample form, O(n log n)). A NaN (missing) truth gives NaN there.

    ``samples`` has shape ``(n_samples, *y_true.shape)``; returns an array shaped like
    ``y_true``. Average it for a summary. A forecaster's ``sample`` output fits as is: a
    trailing channel axis of size 1 may be present on one side only (``(h,)`` truth with
    ``(n, h, 1)`` samples), and the long DataFrame indexed by (sample, time) is reshaped to
    ``(n, h, C)``.
    """
    samples = _long_samples(samples, y_true)
    y_true = _values(y_true, "y_true")
    samples = _values(samples, "samples")
    if np.isnan(samples).any():
        raise ValueError("samples contain NaN; every sample path must be complete.")
    if samples.ndim == 0:
        raise ValueError("samples must have shape (n_samples, *y_true.shape), got a scalar.")
    if samples.shape[1:] != y_true.shape:
        trail = (lambda shape: shape[:-1] if shape[-1:] == (1,) else shape)
        if trail(samples.shape[1:]) == trail(y_true.shape):
            samples = samples.reshape(samples.shape[:1] + y_true.shape)   # one channel
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


def _quantile_frame(y_true, y_quantiles, levels):
    """A ``(variable, quantile)``-column frame (a forecaster's ``predict_quantiles`` of a
    DataFrame) -> ``(T, C, Q)`` values in ``y_true``'s column order and ``levels``' order."""
    _check_aligned(y_true, y_quantiles, "y_true", "y_quantiles", columns=False)
    variables = list(y_quantiles.columns.droplevel(-1).unique())
    if isinstance(y_true, pd.DataFrame):
        if list(y_true.columns) != variables:
            raise ValueError(f"y_quantiles has quantiles of {variables} but y_true has the "
                             f"columns {list(y_true.columns)}; select the same variables in the "
                             "same order.")
    elif len(variables) != 1:
        raise ValueError(f"y_quantiles has quantiles of {len(variables)} variables "
                         f"{variables} but y_true is one series.")
    out = np.empty((len(y_quantiles), len(variables), len(levels)))
    for i, v in enumerate(variables):
        for j, level in enumerate(levels):
            key = (*v, level) if isinstance(v, tuple) else (v, level)
            if key not in y_quantiles.columns:
                raise ValueError(f"y_quantiles has no column {key!r}: pass the quantile levels "
                                 "it was predicted for.")
            out[:, i, j] = _values(y_quantiles[key], "y_quantiles")
    return out if isinstance(y_true, pd.DataFrame) else out[:, 0]


def quantile_loss(y_true, y_quantiles, quantiles):
    """Mean pinball loss per quantile level: ``y_quantiles`` has shape ``(*y_true.shape, Q)``,
    or is a forecaster's ``predict_quantiles`` frame (columns: quantile levels for a Series,
    ``(variable, quantile)`` pairs for a DataFrame); returns ``(Q,)``. Each level of
    ``quantiles`` lies strictly between 0 and 1."""
    q = np.atleast_1d(_values(quantiles, "quantiles"))
    if q.ndim != 1 or not np.all((q > 0) & (q < 1)):
        raise ValueError(f"quantiles must be levels strictly between 0 and 1 (e.g. [0.1, 0.5, "
                         f"0.9]), got {quantiles!r}.")
    if isinstance(y_quantiles, pd.DataFrame) and isinstance(y_quantiles.columns, pd.MultiIndex):
        yq = _quantile_frame(y_true, y_quantiles, q.tolist())
    else:
        _check_aligned(y_true, y_quantiles, "y_true", "y_quantiles")
        yq = _values(y_quantiles, "y_quantiles")
    y_true = _values(y_true, "y_true")
    if np.ndim(quantiles) == 0 and yq.shape == y_true.shape:
        yq = yq[..., None]                             # one level given as a scalar
    if yq.shape[:-1] == y_true.shape and yq.shape[-1] != q.size:
        raise ValueError(f"y_quantiles has {yq.shape[-1]} quantile(s) on its last axis but "
                         f"quantiles lists {q.size}; pass one level per column.")
    if yq.shape != y_true.shape + q.shape:
        raise ValueError(f"y_quantiles must have shape {y_true.shape + q.shape} (y_true's shape "
                         f"plus one axis of {q.size} quantiles), got {yq.shape}.")
    diff = y_true[..., None] - yq
    loss = np.maximum(q * diff, (q - 1) * diff)
    return np.nanmean(loss.reshape(-1, q.size), axis=0)


def bits_per_dim(log_likelihood, n_dims):
    """Negative log-likelihood in bits per dimension from a total log-likelihood in nats."""
    return -np.asarray(log_likelihood, dtype=float) / (np.asarray(n_dims) * np.log(2.0))
