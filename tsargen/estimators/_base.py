"""Shared plumbing of the estimators: input checks, seeding, device, save/load.

Series are time-first ``(T,)`` / ``(T, C)`` arrays or pandas objects indexed by time; panels are
``(n, T)`` / ``(n, T, C)`` arrays or lists of series (DESIGN §2).
"""

import contextlib
import datetime
import hashlib
import io
import json
import numbers
import os
import pickle
import sys
import tempfile
import warnings
import zoneinfo

import dateutil.tz
import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

FORMAT = "tsargen-model/1"


# ---------------------------------------------------------------------------- input checks
class SeriesInfo:
    """How a series came in, so outputs can mirror it (pandas in -> pandas out)."""

    def __init__(self, kind, index=None, columns=None, name=None):
        self.kind, self.index, self.columns, self.name = kind, index, columns, name

    @property
    def univariate(self):
        return self.kind in ("1d", "series")


#: Elements of an object array that stand for a missing value (NaN).
_MISSING_TYPES = (type(None), type(pd.NA))


def _floatable(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _not_real(values):
    """Why ``values`` (a numpy array or pandas Series) are not real numbers -- ``(is_complex,
    description)`` -- or None when they are: bool, integer and float dtypes, and object arrays
    of numbers and missing values. The description names the dtype, never the values."""
    dtype = values.dtype
    if dtype.kind == "c":
        return True, f"complex dtype {dtype}"
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return None
    if dtype != object:
        kind = ("bytes" if dtype.kind == "S" else "categorical"
                if isinstance(dtype, pd.CategoricalDtype) else "datetime" if dtype.kind == "M"
                else "timedelta" if dtype.kind == "m" else "text"
                if pd.api.types.is_string_dtype(dtype) else "non-numeric")
        return False, f"{kind} dtype {dtype}"
    examples = {}                                           # one element of each type held
    for v in np.asarray(values).ravel().tolist():
        examples.setdefault(type(v), v)
    if any(isinstance(v, (complex, np.complexfloating)) for v in examples.values()):
        return True, "object dtype holding complex values"
    bad = [t for t, v in examples.items() if not isinstance(v, _MISSING_TYPES)
           and (isinstance(v, (str, bytes)) or not _floatable(v))]
    if not bad:
        return None
    # the float() wording for objects such as dicts is what sklearn's estimator checks expect
    why = ("" if all(issubclass(t, (str, bytes)) for t in bad)
           else " (a float() argument must be a string or a real number)")
    return False, f"object dtype holding {', '.join(sorted(t.__name__ for t in bad))} values{why}"


def _real_error(name, problem, expected):
    """The one-line error for data that are not real numbers (``problem``: see ``_not_real``)."""
    is_complex, what = problem
    if is_complex:
        return ValueError(f"Complex data not supported: {name} has {what}; tsargen models "
                          "real-valued data, so pass the real part, the magnitude or both as "
                          "channels.")
    return TypeError(f"{name} must {expected}; got {what}: convert it to numbers first (e.g. "
                     "with pd.to_numeric or .astype(float), or encode categories).")


def check_real(values, name, expected="be numeric"):
    """Refuse data that are not real numbers with one line naming the dtype and the fix
    (complex -> ValueError, text, bytes and other objects -> TypeError), never the values:
    scikit-learn's ``check_array`` appends the whole array to its messages.

    Every estimator's input passes here. Numpy input (lists are made arrays) is returned as
    an array of its own dtype, except object arrays of numbers, which become float64 (``None``
    -> NaN); pandas objects (checked column by column) and sparse matrices are returned as
    given. ``expected`` completes "``name`` must ...", e.g. ``"hold integer levels"``."""
    if hasattr(values, "tocsr"):                        # check_array refuses sparse input
        return values
    if isinstance(values, pd.DataFrame):
        problems = [(c, _not_real(values.iloc[:, k])) for k, c in enumerate(values.columns)]
        problems = [(c, p) for c, p in problems if p is not None]
        if not problems:
            return values
        is_complex = any(p[0] for _, p in problems)
        problems = [(c, p) for c, p in problems if p[0] == is_complex]
        cols = [c for c, _ in problems]
        shown = (repr(cols) if len(cols) <= 5
                 else f"{cols[:5]!r}"[:-1] + f", ... ({len(cols)} in all)]")
        kinds = "; ".join(sorted({p[1] for _, p in problems}))
        if is_complex:
            raise _real_error(name, (True, f"complex columns {shown} ({kinds})"), expected)
        raise TypeError(f"{name} has non-numeric columns {shown} ({kinds}); convert them (e.g. "
                        "pd.to_numeric, or encode categories) or drop them.")
    if not isinstance(values, pd.Series):
        try:
            values = np.asarray(values)
        except ValueError:                              # ragged: check_array says so
            return values
    problem = _not_real(values)
    if problem is not None:
        raise _real_error(name, problem, expected)
    if values.dtype == object and isinstance(values, np.ndarray):
        values = np.where(pd.isna(values), np.nan, values).astype(np.float64)
    return values


def _check_values(values, name, ensure_2d=False, allow_nd=False):
    """Real float64 array via :func:`check_real` and scikit-learn's ``check_array`` (sparse
    and empty inputs get its messages); NaN allowed, inf refused (with its position, below)."""
    values = check_real(values, name)
    values = check_array(values, dtype=np.float64, ensure_all_finite=False,
                         ensure_2d=ensure_2d, allow_nd=allow_nd, input_name=name,
                         ensure_min_samples=1, ensure_min_features=1)
    if np.isinf(values).any():
        where = np.argwhere(np.isinf(values))[0]
        raise ValueError(f"{name} contains inf (first at position {tuple(where.tolist())}); "
                         "replace it with a finite value, or with NaN to mark it missing.")
    return values


def check_index(index, name):
    """A time index must increase strictly (no duplicates, no going back)."""
    if isinstance(index, pd.RangeIndex) and index.step > 0:
        return index
    if not isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex, pd.TimedeltaIndex)) and not (
            pd.api.types.is_numeric_dtype(index.dtype)) or isinstance(index, pd.MultiIndex):
        raise TypeError(f"{name} has a {type(index).__name__} of dtype {index.dtype}; a time "
                        "index must be a DatetimeIndex, PeriodIndex, TimedeltaIndex or numeric "
                        "(for long-format panels, pass a list of series, one per entity). "
                        "Convert it, e.g. with pd.to_datetime, or reset it.")
    if index.hasnans:
        raise ValueError(f"{name} has a missing time index entry (NaT/NaN); drop or fill it.")
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        raise ValueError(f"{name} has a duplicated time index entry ({dup}); aggregate or drop "
                         "duplicates first.")
    if not index.is_monotonic_increasing:
        raise ValueError(f"{name} has a time index that is not increasing; sort it first "
                         "(e.g. .sort_index()).")
    return index


def check_series(y, name="y", allow_nan=True, min_length=1):
    """Validate one series -> ``(values float64 (T, C), SeriesInfo)``."""
    if isinstance(y, pd.Series):
        check_real(y, name)
        info = SeriesInfo("series", check_index(y.index, name), None, y.name)
        values = y.to_numpy(dtype=np.float64, na_value=np.nan)[:, None]
    elif isinstance(y, pd.DataFrame):
        if y.columns.has_duplicates:
            raise ValueError(f"{name} has duplicated column names "
                             f"{sorted(map(str, set(y.columns[y.columns.duplicated()])))}; "
                             "rename them so every channel has its own name.")
        check_real(y, name)
        info = SeriesInfo("frame", check_index(y.index, name), list(y.columns))
        values = y.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        if isinstance(y, (str, bytes, dict)) or y is None:
            raise TypeError(f"{name} must be an array-like or pandas series, got "
                            f"{type(y).__name__}.")
        ndim = np.ndim(y)
        if ndim not in (1, 2):
            raise ValueError(f"{name} must be 1-D (T,) or 2-D (T, n_channels); got shape "
                             f"{np.shape(y)}.")
        info = SeriesInfo("1d" if ndim == 1 else "2d")
        values = _check_values(np.reshape(y, (-1, 1)) if ndim == 1 else y, name,
                               ensure_2d=True)
    values = _check_values(values, name, ensure_2d=True)
    if values.shape[1] == 0:
        raise ValueError(f"{name} has no channels (shape {values.shape}).")
    if values.shape[0] < min_length:
        raise ValueError(f"{name} has {values.shape[0]} timesteps; at least {min_length} needed.")
    if not allow_nan and np.isnan(values).any():
        raise ValueError(f"{name} contains NaN; fill the missing values first.")
    return values, info


def check_covariates(X, lengths, many, where, n_cov=None, extra=0, unit="timestep"):
    """Covariate series ``X`` (one per series of ``y``, or one when ``many`` is false) with
    ``lengths[i] + extra`` rows each and no NaN/inf -> list of float arrays.

    ``where`` names the calling method; ``n_cov`` is the fitted number of covariates (``None``
    when fitting, 0 for a model fitted without them); ``unit`` names a row of ``y`` in
    messages ("timestep", "row")."""
    if X is None:
        if n_cov:
            raise ValueError(f"the model was fitted with covariates X: pass X to {where}() "
                             f"(one row per {'row of y' if unit == 'row' else unit}"
                             + (", covering history and forecast)." if extra and any(lengths)
                                else " of the forecast horizon)." if extra else ")."))
        return None
    if n_cov is not None and not n_cov:
        raise ValueError("the model was fitted without covariates; do not pass X.")
    items = list(X) if many else [X]
    if len(items) != len(lengths):
        raise ValueError(f"X has {len(items)} covariate series but y has {len(lengths)}.")
    out = []
    for i, (item, t) in enumerate(zip(items, lengths)):
        v, _ = check_series(item, f"X[{i}]" if many else "X", allow_nan=False)
        need = t + extra
        if v.shape[0] != need:
            raise ValueError(f"X has {v.shape[0]} rows but {need} are needed"
                             + (f" ({t} history + {extra} forecast {unit}s)" if extra and t
                                else f" (one per forecast {unit})" if extra
                                else f" (one per {unit} of y)") + ".")
        if n_cov and v.shape[1] != n_cov:
            raise ValueError(f"X has {v.shape[1]} columns but the model was fitted with "
                             f"{n_cov}.")
        out.append(v)
    if len({v.shape[1] for v in out}) > 1:
        raise ValueError("the covariate series in X have different numbers of columns.")
    return out


def covariate_names(X, many):
    """Column names of covariates given as DataFrames (all the same), else None."""
    items = list(X) if many else [X]
    if not all(isinstance(x, pd.DataFrame) for x in items):
        return None
    names = [list(x.columns) for x in items]
    if any(n != names[0] for n in names):
        raise ValueError("the covariate DataFrames in X have different columns.")
    return names[0]


def check_fitted_columns(metas, fitted_metas, name="y"):
    """New DataFrames must carry the fitted columns in the fitted order (channels are matched by
    position, so a reordered or renamed frame would be read as other channels). Checked when
    every fitted frame had the same columns and there are at least two of them (one column
    cannot be misread, and a global model may be given a new series under another name)."""
    fitted = {tuple(m["columns"]) for m in fitted_metas if m.get("columns") is not None}
    if len(fitted) != 1:
        return
    cols = list(next(iter(fitted)))
    if len(cols) < 2:
        return
    for i, meta in enumerate(metas):
        new = meta.get("columns")
        if new is not None and list(new) != cols:
            where = f"{name}[{i}]" if len(metas) > 1 else name
            raise ValueError(f"{where} has the columns {list(new)} but the model was fitted on "
                             f"{cols}; channels are matched by position, so select and order "
                             f"them the same way ({name}[{cols!r}]).")


def check_covariate_frames(X, many, lengths, metas, stored, fitted_names):
    """Covariates given as pandas must keep the fitted column names (``fitted_names``) and line
    up in time: with ``y``'s index (``metas``) for a stream of ``lengths[i] > 0`` rows, or after
    the stored history's end (``stored``, the fitted metas) for a horizon-only ``X``
    (``lengths[i] == 0``). A RangeIndex (or another kind of index than ``y``'s) is positional
    and taken as given."""
    names = covariate_names(X, many)
    if names is not None and fitted_names is not None and names != fitted_names:
        raise ValueError(f"X has the columns {names} but the model was fitted with "
                         f"{fitted_names}: select and order them the same way.")
    items = list(X) if many else [X]
    for i, (item, t) in enumerate(zip(items, lengths)):
        index = getattr(item, "index", None)
        meta = (metas or [None] * len(items))[i] if t else (stored or [None] * len(items))[i]
        ref = None if meta is None else meta["index"]
        if index is None or ref is None or isinstance(index, pd.RangeIndex) or (
                type(index) is not type(ref)):
            continue
        name = f"X[{i}]" if many else "X"
        if t and not index[:t].equals(ref):
            raise ValueError(f"{name}'s index does not match y's (first rows {list(index[:2])} "
                             f"vs {list(ref[:2])}): align them, e.g. X.reindex(y.index).")
        future = index[t:]
        if not len(future):
            continue
        if not future[0] > ref[-1]:
            raise ValueError(f"{name} should cover the forecast horizon after the history's end "
                             f"{ref[-1]}, but starts at {future[0]}.")
        if _regular(ref):                  # the forecast dates are known: X must carry them
            expected = future_index(ref, len(future))
            if not future.equals(expected.rename(future.name)):
                shown = (lambda ix: ", ".join(map(str, ix[:3])) + (", ..." if len(ix) > 3
                                                                    else ""))
                raise ValueError(
                    f"{name}'s rows for the forecast horizon are dated {shown(future)} but the "
                    f"forecast dates are {shown(expected)}: pass the covariates of those dates "
                    "(or a RangeIndex to give them by position).")


def _regular(index):
    """True if ``index`` has a frequency its future follows exactly (inferred, or a calendar
    frequency with gaps); False for, e.g., market hours continued by their most common step."""
    if isinstance(index, pd.PeriodIndex):
        return True
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return False
    return _index_freq(index) is not None


def is_series_list(y):
    return isinstance(y, (list, tuple)) and len(y) > 0 and not np.isscalar(y[0]) and (
        isinstance(y[0], (pd.Series, pd.DataFrame)) or np.ndim(y[0]) >= 1)


def check_panel(X, name="X"):
    """Validate a panel -> ``(list of float64 (T_i, C), kind)``; kind is ``"2d"``, ``"3d"`` or
    ``"list"`` so outputs can mirror the input."""
    if isinstance(X, pd.DataFrame) and isinstance(X.index, (pd.DatetimeIndex, pd.PeriodIndex)):
        raise ValueError(f"{name} is a DataFrame indexed by time, i.e. one series (timesteps x "
                         f"channels), but a panel of series is expected: pass [{name}] for one "
                         "series, or a list of series.")
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{name} is an empty list; pass at least one series.")
        if not is_series_list(X):
            X = np.asarray(X)
        else:
            series = [check_series(s, f"{name}[{i}]")[0] for i, s in enumerate(X)]
            if len({s.shape[1] for s in series}) > 1:
                raise ValueError(f"the series in {name} have different numbers of channels "
                                 f"{sorted({s.shape[1] for s in series})}.")
            return series, "list"
    ndim = len(getattr(X, "shape", np.shape(X)))
    if ndim not in (2, 3):
        raise ValueError(f"{name} must be a panel (n_series, n_timesteps) or (n_series, "
                         f"n_timesteps, n_channels), or a list of series; got shape "
                         f"{np.shape(X)}. For one series use X[None] (or reshape(1, -1)).")
    values = _check_values(X, name, ensure_2d=True, allow_nd=True)
    if values.ndim == 3 and values.shape[2] == 0:
        raise ValueError(f"{name} has no channels (shape {values.shape}).")
    kind = "2d" if values.ndim == 2 else "3d"
    if values.ndim == 2:
        values = values[:, :, None]
    return list(values), kind


def check_labels(y, n, classes, fitting=False, what="series"):
    """Validate one label per sample. Fitting: the raw labels; otherwise codes ``0..K-1`` of
    ``classes`` as a long tensor (``None`` stays ``None``). A scalar is broadcast to ``n``."""
    if y is None:
        return None
    if not fitting and classes is None:
        raise ValueError("this density was fitted without labels; call without y.")
    y = np.asarray(y)
    if y.ndim == 0:
        y = np.full(n, y.item())
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"y must hold one label per {what}: {n} expected, got shape "
                         f"{y.shape}.")
    if y.dtype.kind in "fO" and pd.isna(y).any():
        raise ValueError("y contains missing labels (NaN/None); drop those samples.")
    if fitting:
        return y
    unknown = set(np.unique(y).tolist()) - set(classes.tolist())
    if unknown:
        raise ValueError(f"y has labels {sorted(map(str, unknown))} not seen in fit "
                         f"(classes_ = {classes.tolist()}).")
    return torch.as_tensor(np.searchsorted(classes, y))


def check_training_params(lr, validation_fraction):
    """``lr``: a positive finite number; ``validation_fraction``: a number in [0, 1)."""
    if not (isinstance(lr, numbers.Real) and not isinstance(lr, bool) and 0 < lr < np.inf):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}.")
    vf = validation_fraction
    if not (isinstance(vf, numbers.Real) and not isinstance(vf, bool) and 0 <= vf < 1):
        raise ValueError(f"validation_fraction must be in [0, 1), got {vf!r}.")


def check_ema_decay(value):
    """``ema_decay``: None (no weight averaging) or a number in [0, 1)."""
    if value is not None and not (isinstance(value, numbers.Real) and not isinstance(value, bool)
                                  and 0 <= value < 1):
        raise ValueError(f"ema_decay must be None or a number in [0, 1) (e.g. 0.99), got "
                         f"{value!r}.")


def check_quantiles(quantiles):
    """Quantile levels -> a 1-D float array, each strictly between 0 and 1 (at least one)."""
    try:
        q = np.atleast_1d(np.asarray(quantiles, dtype=float))
    except (TypeError, ValueError):
        q = np.array([np.nan])
    if q.ndim != 1 or q.size == 0 or not np.all((q > 0) & (q < 1)):
        raise ValueError("quantiles must be one or more levels strictly between 0 and 1, got "
                         f"{quantiles!r}.")
    return q


def check_coverage(coverage):
    """Interval coverages -> ``(1-D float array, one)``: one number, or a sequence of distinct
    numbers, each strictly between 0 and 1; ``one`` says whether a single number was given."""
    one = isinstance(coverage, numbers.Real)
    items = [coverage] if one else coverage
    try:
        items = list(items)
        ok = len(items) > 0 and all(isinstance(c, numbers.Real) and not isinstance(c, bool)
                                    and 0 < c < 1 for c in items)
    except TypeError:                                           # neither a number nor a sequence
        ok = False
    if not ok or len(set(items)) < len(items):
        raise ValueError("coverage must be a number strictly between 0 and 1 (e.g. 0.9), or a "
                         f"list of distinct such numbers, got {coverage!r}.")
    return np.asarray(items, dtype=float), one


def interval_quantiles(coverages):
    """The quantile levels ``(lower_1, upper_1, lower_2, ...)`` of central intervals."""
    return np.stack([(1 - coverages) / 2, (1 + coverages) / 2], axis=1).ravel()


def quantiles_to_intervals(quant, coverages, one):
    """``predict_quantiles`` output at :func:`interval_quantiles` levels -> intervals: arrays
    ``(..., 2)`` for one coverage, ``(..., n_coverages, 2)`` for several (last axis lower,
    upper); DataFrames get columns ``(<variable levels>, coverage, bound)``. Lists map."""
    if isinstance(quant, list):
        return [quantiles_to_intervals(q, coverages, one) for q in quant]
    if isinstance(quant, pd.DataFrame):
        variables = quant.columns.droplevel(-1).unique()
        keys = [v if isinstance(v, tuple) else (v,) for v in variables]
        cols = pd.MultiIndex.from_tuples(
            [(*k, float(c), b) for k in keys for c in coverages for b in ("lower", "upper")],
            names=list(quant.columns.names[:-1]) + ["coverage", "bound"])
        return pd.DataFrame(quant.to_numpy(), index=quant.index, columns=cols)
    out = quant.reshape(*quant.shape[:-1], len(coverages), 2)
    return out[..., 0, :] if one else out


def check_horizon(horizon, name="horizon"):
    """A positive integer count (``horizon``, or ``name`` such as ``n_samples``)."""
    if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon <= 0:
        raise ValueError(f"{name} must be a positive integer, got {horizon!r}.")
    return int(horizon)


# ---------------------------------------------------------------------------- time indexes
def _most_common_step(index):
    """The most frequent gap between consecutive entries (a Timedelta for datetimes)."""
    steps = pd.Series(index[1:] - index[:-1])
    return steps.mode().iloc[0]


#: Calendar frequencies tried for a day-or-coarser index with gaps (no inferable freq).
_CALENDAR_FREQS = (("D", "B") + tuple(f"W-{d}" for d in ("MON", "TUE", "WED", "THU", "FRI",
                                                           "SAT", "SUN"))
                   + ("MS", "ME", "BMS", "BME")
                   + tuple(f"{q}-{m}" for q in ("QS", "QE", "YS", "YE")
                           for m in ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
                                     "SEP", "OCT", "NOV", "DEC")))


def _calendar_freq(index):
    """The calendar frequency every entry of ``index`` lies on, with the most gaps of exactly
    one period (e.g. ``"MS"`` for monthly data with a missing month, ``"B"`` for trading
    days with holidays, every 1, 3 or 12 months on the day of month of data stamped
    mid-month), or None when the most common step does that as well or better.
    Judged on the last 400 entries: the recent calendar is the one the future continues."""
    index = index[-400:]
    step = _most_common_step(index)
    if step < pd.Timedelta(1, "D"):
        return None                                     # intraday: market hours, events
    best, best_share = None, np.mean(np.asarray(index[1:] - index[:-1]) == step.to_timedelta64())
    freqs = _CALENDAR_FREQS
    day = index[0].day
    if 1 < day <= 28 and (index.day == day).all():     # e.g. monthly data stamped on the 15th
        freqs += tuple(pd.DateOffset(months=k) for k in (1, 3, 12))
    for freq in freqs:
        grid = pd.date_range(index[0], index[-1], freq=freq)
        pos = grid.get_indexer(index)
        if len(grid) > 100 * len(index) or (pos < 0).any():
            continue
        share = np.mean(np.diff(pos) == 1)
        if share > best_share:
            best, best_share = freq, share
    return best


def future_index(index, horizon):
    """The ``horizon`` steps after ``index``: by its frequency (inferred, or the calendar
    frequency it lies on when it has gaps), else its most common step; named like ``index``."""
    return None if index is None else _future_index(index, horizon).rename(index.name)


def _infer_freq(index):
    """``pd.infer_freq`` without pandas 3's notice that it will return an offset (either
    works where tsargen uses it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will return a BaseOffset")
        return pd.infer_freq(index)


def _index_freq(index):
    """The frequency a DatetimeIndex (or TimedeltaIndex: no calendar) follows: its own, the
    one pandas infers, or the calendar frequency it lies on with gaps; None without any (or
    with fewer than 3 entries and no freq of its own)."""
    if index.freq is not None or len(index) < 3:
        return index.freq
    freq = _infer_freq(index)
    if freq is None and isinstance(index, pd.DatetimeIndex):
        freq = _calendar_freq(index)
    return freq


def _future_index(index, horizon):
    if isinstance(index, pd.DatetimeIndex):
        freq = _index_freq(index)
        if freq is not None:
            return pd.date_range(index[-1], periods=horizon + 1, freq=freq, tz=index.tz)[1:]
        step = _most_common_step(index) if len(index) > 1 else pd.Timedelta(1, "D")
        return pd.DatetimeIndex([index[-1] + step * (k + 1) for k in range(horizon)])
    if isinstance(index, pd.PeriodIndex):
        return pd.period_range(index[-1] + 1, periods=horizon, freq=index.freq)
    if isinstance(index, pd.TimedeltaIndex):           # elapsed time
        step = _most_common_step(index) if len(index) > 1 else pd.Timedelta(1, "s")
        return pd.TimedeltaIndex([index[-1] + step * (k + 1) for k in range(horizon)])
    if pd.api.types.is_numeric_dtype(index.dtype):
        step = _most_common_step(index) if len(index) > 1 else 1
        values = index[-1] + step * np.arange(1, horizon + 1)
        return pd.RangeIndex(values[0], values[-1] + step, step) if (
            isinstance(index, pd.RangeIndex)) else pd.Index(values)
    raise TypeError(f"cannot extend an index of type {type(index).__name__} into the future; "
                    "use a DatetimeIndex, PeriodIndex or numeric index.")


class IrregularIndexWarning(UserWarning):
    """A time index (DatetimeIndex, PeriodIndex or TimedeltaIndex) with missing steps, or
    with no regular frequency at all.

    The forecasters model rows as consecutive steps: a gap in the index is not seen as time
    passing. Raised once per ``fit`` (and per ``update`` or ``y=`` history) saying how many
    steps are missing. Where rows are events by design -- market hours with overnight and
    weekend gaps, trading days with holidays -- silence it::

        warnings.filterwarnings("ignore", category=tsargen.IrregularIndexWarning)

    Numeric indexes (positions, event times) never raise it.
    """


#: The share of gaps a step must account for to be taken as the index's regular step.
_REGULAR_SHARE = 0.5
#: Entries of a stored index judged with the rows ``update`` appends to it.
_UPDATE_TAIL = 400


def _missing_steps(index):
    """``(n_missing, step)`` of a time index against its regular step: the frequency its
    forecast dates follow (:func:`_index_freq`), else its most common step when that makes
    up at least half the gaps and every gap is a multiple of it. ``(0, step)``: no gaps;
    ``(None, step)``: most gaps are ``step`` but some are not multiples of it; ``(None,
    None)``: no regular step; ``(0, None)``: not judged (numeric, or fewer than 3 entries)."""
    if len(index) < 3:
        return 0, None
    if isinstance(index, pd.PeriodIndex):
        span = (index.asi8[-1] - index.asi8[0]) // index.freq.n + 1
        return int(span - len(index)), index.freqstr
    if not isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)):
        return 0, None                  # positions or event times: irregular by design
    freq = _index_freq(index)
    if freq is not None:
        if index.freq is not None or isinstance(index, pd.TimedeltaIndex):
            return 0, freq              # an index's own or inferred freq has no gaps
        grid = pd.date_range(index[0], index[-1], freq=freq)
        if (grid.get_indexer(index) >= 0).all():        # on the calendar, maybe with gaps
            return len(grid) - len(index), freq
    gaps = index[1:] - index[:-1]
    step = _most_common_step(index)
    if np.mean(gaps == step) < _REGULAR_SHARE:
        return None, None
    if not (gaps % step == pd.Timedelta(0)).all():
        return None, step
    return int(np.sum(np.asarray(gaps // step) - 1)), step


def _freq_code(step):
    """A frequency as code ``asfreq`` takes: ``"'h'"`` for an hourly offset or Timedelta,
    ``"pd.DateOffset(months=1)"`` for an offset without an alias (data stamped mid-month)."""
    if isinstance(step, str):          # an inferred alias, or a PeriodIndex's ("M")
        return repr(step)
    offset = pd.tseries.frequencies.to_offset(step)
    if type(offset) is pd.DateOffset:
        return f"pd.DateOffset({', '.join(f'{k}={v}' for k, v in offset.kwds.items())})"
    return repr(offset.freqstr)


def warn_irregular(metas, name, many, stored=None):
    """Warn once (:class:`IrregularIndexWarning`) about every series of ``metas`` whose time
    index has missing steps or no regular frequency. With ``stored`` (the fitted metas, for
    ``update``), only what the new rows add after the end of the stored index is judged: its
    gaps were reported at fit."""
    found = []                  # (series, what is wrong: in short, in full; asfreq alias)
    for i, meta in enumerate(metas):
        index, where = meta.get("index"), f"{name}[{i}]" if many else name
        if index is None or not len(index):
            continue
        if stored is None:
            missing, step = _missing_steps(index)
        else:
            tail = stored[i]["index"][-_UPDATE_TAIL:]
            before, _ = _missing_steps(tail)
            missing, step = _missing_steps(tail.append(index))
            if before is None:          # no regular frequency before either: said at fit
                continue
            if missing is not None:
                missing -= before
        subject = (f"{where}'s time index" if stored is None
                   else f"with the rows appended, {where}'s time index")
        code = None if step is None else _freq_code(step)
        text = None if code is None else code.strip("'")
        if missing is None and step is None:
            found.append((where, "no regular frequency", f"{subject} has no regular frequency "
                          "(no common step that every gap is a multiple of)", None))
        elif missing is None:
            found.append((where, "no regular step", f"{subject} has no regular step (most "
                          f"gaps are {text}, some are not multiples of it)", None))
        elif missing > 0:
            count = "1 step is" if missing == 1 else f"{missing} steps are"
            full = (f"{where}'s time index (step {text}) has gaps" if stored is None
                    else f"the rows appended to {where} leave gaps (step {text})")
            found.append((where, f"{count} missing (step {text})", f"{full}: {count} missing",
                          code if isinstance(index, pd.DatetimeIndex) and stored is None
                          else None))
    if not found:
        return
    with_new = " (with the rows appended)" if stored is not None else ""
    if len(found) == 1:
        where, _, head, alias = found[0]
    else:
        alias = None
        shown = "; ".join(f"{w}: {short}" for w, short, _, _ in found[:3])
        head = (f"{len(found)} of {len(metas)} series in {name}{with_new} have irregular time "
                f"indexes ({shown}{'; ...' if len(found) > 3 else ''})")
    fix = (f"reindex ({where}.asfreq({alias})) to mark the gaps missing, or silence" if alias
           else "silence")
    warnings.warn(f"{head}. The model treats rows as consecutive events, not elapsed time: "
                  f"{fix} this with warnings.filterwarnings('ignore', "
                  "category=tsargen.IrregularIndexWarning).",
                  IrregularIndexWarning, stacklevel=_caller_level())


def _caller_level():
    """The ``stacklevel`` that makes a warning point at the first frame outside tsargen (the
    user's line, however deep in tsargen the warning is raised), for a ``warnings.warn``
    whose arguments call this."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "tsargen":
        frame, level = frame.f_back, level + 1
    return level


# ---------------------------------------------------------------------------- randomness, device
def draw_classes(log_lik, prior, n_samples, seed):
    """Classes ``(n_samples * n,)`` (sample-major) drawn from the posterior
    ``p(k | x_i) ∝ prior_k exp(log_lik[i, k])`` of each of ``n`` items, ``log_lik (n, K)``."""
    log_post = np.log(prior) + log_lik
    post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    cdf = np.cumsum(post / post.sum(axis=1, keepdims=True), axis=1)       # (n, K)
    u = np.random.RandomState(seed).random_sample((n_samples, len(cdf), 1))
    return torch.as_tensor((u > cdf[None, :, :-1]).sum(-1).reshape(-1))


def make_seed(random_state):
    """An int seed from ``random_state`` (None, int or RandomState). ``None`` draws fresh OS
    entropy rather than from numpy's global generator, which is left untouched."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0] % (2**31 - 1))
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


@contextlib.contextmanager
def seeded(seed, device="cpu"):
    """Seed torch inside the block; the caller's global RNG state is restored afterwards."""
    devices = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def resolve_device(device):
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}.")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device='cuda' but no CUDA device is available; use device='cpu'.")
    return device


# ---------------------------------------------------------------------------- persistence
def _tsargen_class(name):
    """A tsargen estimator or transformer class by name (nested estimators in model files)."""
    from .. import estimators, transforms

    for module in (estimators, transforms):
        cls = getattr(module, str(name), None)
        if isinstance(cls, type) and issubclass(cls, BaseEstimator):
            return cls
    raise ValueError(f"unknown nested estimator class {name!r} in model file")


def _is_tsargen_estimator(value):
    return isinstance(value, BaseEstimator) and type(value).__module__.startswith("tsargen.")


def _tz_key(tz, kind):
    """The IANA name of a zone, or None (fixed offsets, zones read from a file)."""
    if kind == "zoneinfo":
        return tz.key
    if kind == "pytz":
        return getattr(tz, "zone", None)
    if kind == "dateutil" and hasattr(tz, "_filename"):
        # a dateutil tzfile has no public name: 4.0 keeps it in _key, 2.x only as a file path
        return getattr(tz, "_key", None) or tz._filename.rpartition("zoneinfo/")[2] or None
    return None


def _encode_tz(tz):
    """A time zone -> text that :func:`_decode_tz` turns back into a zone of the same kind:
    ``"zoneinfo:<key>"``, ``"pytz:<key>"``, ``"dateutil:<key>"`` or ``"fixed:<seconds>"``.
    Files written before this codec hold ``str(tz)``, which :func:`_decode_tz` passes to pandas
    as before."""
    if tz is None:
        return None
    kind = type(tz).__module__.split(".")[0]
    key = _tz_key(tz, kind)
    if key:
        return f"{kind}:{key}"
    offset = tz.utcoffset(None)        # constant-offset zones answer without a date
    if offset is not None:
        return f"fixed:{int(offset.total_seconds())}"
    raise TypeError(f"cannot save the time zone {tz!r}: use a zoneinfo, pytz or dateutil zone "
                    "from the IANA database, or a fixed offset")


def _decode_tz(text):
    if text is None:
        return None
    kind, sep, key = text.partition(":")
    if not sep or kind not in ("zoneinfo", "pytz", "dateutil", "fixed"):
        return text                    # an older file: str(tz), read by pandas
    if kind == "fixed":
        return datetime.timezone(datetime.timedelta(seconds=int(key)))
    if kind == "zoneinfo":
        return zoneinfo.ZoneInfo(key)
    if kind == "pytz":
        import pytz                    # optional: only a model fitted on a pytz index needs it
        return pytz.timezone(key)
    return dateutil.tz.gettz(key)


def _encode(value, path):
    """Fitted state -> objects ``torch.load(weights_only=True)`` accepts."""
    from ..networks import NETWORKS

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, pd.Timestamp):            # e.g. a series named by a date
        return {"__time__": "timestamp", "text": value.isoformat(),
                "tz": _encode_tz(value.tz)}
    if isinstance(value, pd.Period):
        return {"__time__": "period", "text": str(value), "freq": value.freqstr}
    if isinstance(value, pd.Timedelta):
        return {"__time__": "timedelta", "text": value.isoformat()}
    if _is_tsargen_estimator(value):              # a nested estimator, fitted or not
        return {"__estimator__": type(value).__name__, "params": _json_params(value),
                "fitted": {k: _encode(v, f"{path}.{k}") for k, v in vars(value).items()
                           if k.endswith("_") and not k.startswith("__")}}
    if isinstance(value, torch.nn.Module):
        name = type(value).__name__
        if name not in NETWORKS:
            raise TypeError(f"cannot save a {name} network at {path}")
        return {"__network__": name, "config": json.dumps(value.config),
                "state": {k: v.detach().cpu() for k, v in value.state_dict().items()}}
    if isinstance(value, pd.Index):
        name = _encode(value.name, f"{path}.name")
        if isinstance(value, pd.DatetimeIndex):
            return {"__index__": "datetime", "values": torch.from_numpy(value.asi8.copy()),
                    "unit": value.unit, "tz": _encode_tz(value.tz),
                    "freq": None if value.freq is None else value.freqstr, "name": name}
        if isinstance(value, pd.PeriodIndex):
            return {"__index__": "period", "values": torch.from_numpy(value.asi8.copy()),
                    "freq": value.freqstr, "name": name}
        if isinstance(value, pd.RangeIndex):
            return {"__index__": "range", "start": value.start, "stop": value.stop,
                    "step": value.step, "name": name}
        return {"__index__": "other", "values": _encode(value.to_numpy(), path), "name": name}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "mM":              # datetime64 / timedelta64, e.g. class labels
            return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(value).view("i8").copy()),
                    "dtype": value.dtype.str}
        if np.issubdtype(value.dtype, np.number) or value.dtype == bool:
            return {"__ndarray__": torch.from_numpy(np.array(value, copy=True, order="C"))}
        return {"__objarray__": [_encode(v, path) for v in value.tolist()],
                "dtype": value.dtype.str if value.dtype.kind in "US" else "object"}
    if isinstance(value, (list, tuple)):
        return {"__seq__": [_encode(v, f"{path}[{i}]") for i, v in enumerate(value)],
                "tuple": isinstance(value, tuple)}
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, path), _encode(v, f"{path}[{k!r}]")]
                             for k, v in value.items()]}
    raise TypeError(f"cannot save fitted attribute {path} of type {type(value).__name__}")


def _decode(value):
    from ..networks import NETWORKS

    if not isinstance(value, dict):
        return value
    if "__estimator__" in value:
        est = _tsargen_class(value["__estimator__"])(**_decode_json(json.loads(value["params"])))
        for key, item in value["fitted"].items():
            setattr(est, key, _decode(item))
        return est
    if "__network__" in value:
        net = NETWORKS[value["__network__"]](**json.loads(value["config"]))
        net.load_state_dict(value["state"])
        return net.eval()
    if "__time__" in value:
        kind, text = value["__time__"], value["text"]
        if kind == "timestamp":
            return (pd.Timestamp(text).tz_convert(_decode_tz(value["tz"])) if value["tz"]
                    else pd.Timestamp(text))
        return pd.Period(text, freq=value["freq"]) if kind == "period" else pd.Timedelta(text)
    if "__index__" in value:
        kind, name = value["__index__"], _decode(value["name"])
        if kind == "datetime":
            idx = pd.DatetimeIndex(value["values"].numpy().astype(f"datetime64[{value['unit']}]"),
                                   name=name)
            if value["tz"]:
                idx = idx.tz_localize("UTC").tz_convert(_decode_tz(value["tz"]))
            if value["freq"]:
                idx = pd.DatetimeIndex(idx, freq=value["freq"])
            return idx
        if kind == "period":
            return pd.PeriodIndex.from_ordinals(value["values"].numpy(), freq=value["freq"],
                                                name=name)
        if kind == "range":
            return pd.RangeIndex(value["start"], value["stop"], value["step"], name=name)
        return pd.Index(_decode(value["values"]), name=name)
    if "__ndarray__" in value:
        array = value["__ndarray__"].numpy()
        return array.view(value["dtype"]) if "dtype" in value else array
    if "__objarray__" in value:
        return np.array([_decode(v) for v in value["__objarray__"]], dtype=value["dtype"])
    if "__seq__" in value:
        items = [_decode(v) for v in value["__seq__"]]
        return tuple(items) if value["tuple"] else items
    if "__dict__" in value:
        return {_decode(k): _decode(v) for k, v in value["__dict__"]}
    raise ValueError(f"unrecognised entry in model file: keys {sorted(value)}")


def _json_params(est):
    params = est.get_params(deep=False)
    try:
        return json.dumps(_encode_json(params))
    except TypeError as err:
        raise TypeError(f"save() stores parameters as JSON: {err}. Pass plain values (e.g. an "
                        "int random_state).") from None


def _encode_json(value):
    if isinstance(value, dict):
        return {"__pairs__": [[_encode_json(k), _encode_json(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_encode_json(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":    # e.g. class priors
        return {"__array__": value.tolist(), "dtype": value.dtype.str}
    if _is_tsargen_estimator(value):              # e.g. a density inside a forecaster
        return {"__estimator__": type(value).__name__,
                "params": _encode_json(value.get_params(deep=False))}
    raise TypeError(f"parameter value {value!r} is not JSON-serialisable")


def _decode_json(value):
    if isinstance(value, dict) and "__pairs__" in value:
        return {_decode_json(k): _decode_json(v) for k, v in value["__pairs__"]}
    if isinstance(value, dict) and "__estimator__" in value:
        return _tsargen_class(value["__estimator__"])(**_decode_json(value["params"]))
    if isinstance(value, dict) and "__array__" in value:
        return np.array(value["__array__"], dtype=value["dtype"])
    if isinstance(value, list):
        return [_decode_json(v) for v in value]
    return value


class TsargenEstimator(BaseEstimator):
    """Base of all tsargen estimators: save/load and CPU pickling."""

    def save(self, path):
        """Write the fitted estimator to one file (weights + JSON parameters); see :func:`load`.

        The file is written atomically (a temporary file, then renamed). Under
        ``torch.distributed`` only rank 0 writes; the other ranks return without writing.
        """
        save_fitted(self, path)
        return self

    def __getstate__(self):
        state = super().__getstate__()
        net = state.get("network_")
        if isinstance(net, torch.nn.Module):
            state["network_"] = net.cpu()
        return state


def save_fitted(est, path):
    """Write fitted ``est`` (a class :func:`load` knows) as its JSON parameters and its fitted
    attributes; everything is encoded before the file is opened, so a failure writes nothing."""
    check_is_fitted(est)
    fitted = {k: _encode(v, k) for k, v in vars(est).items()
              if k.endswith("_") and not k.startswith("__")}
    params = _json_params(est)
    if is_primary():
        write_checked({"format": FORMAT, "class": type(est).__name__, "params": params,
                       "fitted": fitted}, path, FORMAT)


def is_primary():
    """True unless this process is a ``torch.distributed`` rank other than 0 (which must not
    write files)."""
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def write_checked(obj, path, fmt):
    """``torch.save`` ``obj`` with a SHA-256 digest of its bytes, atomically when ``path`` is a
    file name (temporary file in the same folder, fsync, ``os.replace``): a crash mid-write
    leaves the previous file intact. ``obj`` must hold only what ``weights_only`` loads."""
    inner = io.BytesIO()
    torch.save(obj, inner)
    blob = inner.getvalue()
    # torch does not verify its archive's checksums: a digest makes corruption loud
    outer = {"format": fmt, "sha256": hashlib.sha256(blob).hexdigest(),
             "payload": torch.frombuffer(bytearray(blob), dtype=torch.uint8)}
    if not isinstance(path, (str, os.PathLike)):
        torch.save(outer, path)
        return
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(outer, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _safe_load(source, path, what):
    """``torch.load`` with ``weights_only=True``: refuses anything but tensors and plain data."""
    try:
        with warnings.catch_warnings():   # torch's notes on foreign pickles: refused below
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(source, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError:  # objects weights_only refuses (torch's advice would be
        # to turn the safety off, the opposite of what loading a tsargen file promises)
        raise ValueError(f"{path} is not a readable tsargen {what} file (one written by "
                         "save() holds only tensors and plain data; this one holds other Python "
                         "objects, which tsargen never unpickles).") from None
    except Exception as err:  # truncated zip, wrong format
        first = str(err).splitlines()[0] if str(err) else ""
        raise ValueError(f"{path} is not a readable tsargen {what} file ({type(err).__name__}: "
                         f"{first})") from None


def read_checked(path, fmt, what="model"):
    """Inverse of :func:`write_checked`: the stored dict, after checking the format marker and
    the digest. Raises ``ValueError`` for a truncated, corrupted or foreign file; never executes
    code from it."""
    outer = _safe_load(path, path, what)
    if not isinstance(outer, dict) or outer.get("format") != fmt or not isinstance(
            outer.get("payload"), torch.Tensor):
        raise ValueError(f"{path} is not a tsargen {what} file (format marker missing).")
    blob = outer["payload"].numpy().tobytes()
    if hashlib.sha256(blob).hexdigest() != outer.get("sha256"):
        raise ValueError(f"{path} is corrupted (checksum mismatch); re-create the {what} file.")
    payload = _safe_load(io.BytesIO(blob), path, what)
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        raise ValueError(f"{path} is not a tsargen {what} file (format marker missing).")
    return payload


def load(path):
    """Load an estimator written by ``save``. Never executes code from the file.

    Raises ``ValueError`` for a file that is truncated, corrupted or not a tsargen model; no
    estimator is returned unless every stored attribute was restored.
    """
    from .. import estimators

    payload = read_checked(path, FORMAT, "model")
    if not all(isinstance(payload.get(k), t) for k, t in
               [("class", str), ("params", str), ("fitted", dict)]):
        raise ValueError(f"{path} is not a complete tsargen model file (entries missing).")
    cls = getattr(estimators, payload["class"], None)
    if not (isinstance(cls, type) and issubclass(
            cls, (TsargenEstimator, estimators.GenerativeClassifier))):
        raise ValueError(f"{path} names an unknown estimator class {payload['class']!r}.")
    try:
        est = cls(**_decode_json(json.loads(payload["params"])))
        for key, value in payload["fitted"].items():
            setattr(est, key, _decode(value))
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise ValueError(f"{path} holds an inconsistent {payload['class']} ({err})") from None
    return est
