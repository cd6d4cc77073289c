"""Input checks shared by the estimators, the command line and model selection.

Series are time-first ``(T,)`` / ``(T, C)`` arrays or pandas objects indexed by time; panels are
``(n, T)`` / ``(n, T, C)`` arrays or lists of series. Every check raises ``ValueError`` or
``TypeError`` with one line naming the problem and the fix, never the data. numpy, pandas and
scikit-learn only (no torch), so that the command line can use them before torch is loaded.
"""

import numbers

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_array

from .constraints import check_positive_int
from .timeindex import _regular, future_index


def show_value(value):
    """``value`` for an error message: numpy scalars as plain Python values (numpy 2 writes
    ``np.int64(7)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def first_row(mask):
    """The position of the first True in ``mask``: the row an error message names."""
    return int(np.flatnonzero(mask)[0])


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


def check_fitted_columns(layouts, fitted_layouts, name="y"):
    """New DataFrames must carry the fitted columns in the fitted order (channels are matched by
    position, so a reordered or renamed frame would be read as other channels). Checked when
    every fitted frame had the same columns and there are at least two of them (one column
    cannot be misread, and a global model may be given a new series under another name)."""
    fitted = {tuple(lay.columns) for lay in fitted_layouts if lay.columns is not None}
    if len(fitted) != 1:
        return
    cols = list(next(iter(fitted)))
    if len(cols) < 2:
        return
    for i, layout in enumerate(layouts):
        new = layout.columns
        if new is not None and list(new) != cols:
            where = f"{name}[{i}]" if len(layouts) > 1 else name
            raise ValueError(f"{where} has the columns {list(new)} but the model was fitted on "
                             f"{cols}; channels are matched by position, so select and order "
                             f"them the same way ({name}[{cols!r}]).")


def check_covariate_frames(X, many, lengths, layouts, stored, fitted_names):
    """Covariates given as pandas must keep the fitted column names (``fitted_names``) and line
    up in time: with ``y``'s index (``layouts``) for a stream of ``lengths[i] > 0`` rows, or
    after the stored history's end (``stored``, the fitted layouts) for a horizon-only ``X``
    (``lengths[i] == 0``). A RangeIndex (or another kind of index than ``y``'s) is positional
    and taken as given."""
    names = covariate_names(X, many)
    if names is not None and fitted_names is not None and names != fitted_names:
        raise ValueError(f"X has the columns {names} but the model was fitted with "
                         f"{fitted_names}: select and order them the same way.")
    items = list(X) if many else [X]
    for i, (item, t) in enumerate(zip(items, lengths)):
        index = getattr(item, "index", None)
        layout = (layouts or [None] * len(items))[i] if t else (stored or [None] * len(items))[i]
        ref = None if layout is None else layout.index
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
    ``classes`` as an int array (``None`` stays ``None``). A scalar is broadcast to ``n``."""
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
    return np.searchsorted(classes, y)


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


def check_horizon(horizon, name="horizon"):
    """A forecast horizon (or another count, ``name``): a positive integer."""
    return check_positive_int(horizon, name)
