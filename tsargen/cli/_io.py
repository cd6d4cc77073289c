"""Reading data files into series and panels, and writing tables (CSV to a file or stdout)."""

from pathlib import Path

import numpy as np
import pandas as pd

from ..timeindex import infer_freq
from ._status import CommandError, to_stdout


def read_table(path, time_column=None, columns=None):
    """CSV / Parquet -> DataFrame indexed by ``time_column`` (parsed as datetimes when it
    holds dates), keeping ``columns`` (default: all numeric ones); ``.npy`` -> ndarray."""
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(path)
        except ImportError as err:
            raise CommandError(f"reading Parquet needs pyarrow or fastparquet ({err}).") from None
    elif suffix in (".csv", ".txt", ".gz"):
        df = pd.read_csv(path)
    else:
        raise CommandError(f"{path}: unsupported file type {suffix!r}; use .csv, .parquet or "
                           ".npy.")
    if time_column is not None:
        df = _indexed_by(df, path, time_column)
    if columns is not None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise CommandError(f"{path} has no column(s) {missing} (columns: "
                               f"{list(df.columns)}).")
        df = df[columns]
    return df


def _indexed_by(df, path, time_column):
    """``df`` indexed by its column ``time_column``: numbers, or dates with their frequency
    when it has one."""
    if time_column not in df.columns:
        raise CommandError(f"{path} has no column {time_column!r} (columns: "
                           f"{list(df.columns)}).")
    index = df.pop(time_column)
    if not pd.api.types.is_numeric_dtype(index):
        try:
            index = pd.to_datetime(index)
        except (ValueError, TypeError) as err:
            raise CommandError(f"time column {time_column!r} is neither numeric nor dates "
                               f"({err}).") from None
    df.index = pd.Index(index)
    if isinstance(df.index, pd.DatetimeIndex) and df.index.freq is None and len(df) >= 3:
        freq = infer_freq(df.index)                  # tsargen's: no pandas 3 notice on stderr
        if freq is not None:
            df.index = pd.DatetimeIndex(df.index, freq=freq)
    return df


def as_series(df):
    """One forecasting series: a Series for one column, else the DataFrame."""
    if isinstance(df, np.ndarray):
        return df
    numeric = df.select_dtypes(include=["number", "bool"])
    if numeric.shape[1] == 0:
        raise CommandError("the data has no numeric columns to model.")
    if numeric.shape[1] != df.shape[1]:
        dropped = [c for c in df.columns if c not in numeric.columns]
        raise CommandError(f"columns {dropped} are not numeric; pick targets with --columns "
                           "(and the index with --time-column).")
    return numeric.iloc[:, 0] if numeric.shape[1] == 1 else numeric


def as_panel(df, label_column):
    """Density data: rows are samples. Returns (X, labels or None)."""
    if isinstance(df, np.ndarray):
        if label_column is not None:
            raise CommandError("--label-column needs a CSV/Parquet file.")
        return df, None
    labels = None
    if label_column is not None:
        if label_column not in df.columns:
            raise CommandError(f"no label column {label_column!r} (columns: {list(df.columns)}).")
        labels = df.pop(label_column).to_numpy()
    return as_series(df).to_numpy(dtype=float).reshape(len(df), -1), labels


def write_csv(df, out, index=True):
    """``df`` as CSV to the file ``out``, or to stdout for None or ``-``."""
    if out in (None, "-"):
        to_stdout(lambda f: df.to_csv(f, index=index))
    else:
        df.to_csv(out, index=index)


def as_frame(arr, index=None, columns=None):
    """An array ``(n, ...)`` as a DataFrame of ``n`` rows (the other axes flattened)."""
    arr = np.asarray(arr)
    return pd.DataFrame(arr.reshape(arr.shape[0], -1), index=index, columns=columns)


def column_names(y, n_channels):
    """Output column names: ``y``'s own, else ``y`` or ``y0, y1, ...``."""
    if isinstance(y, pd.DataFrame):
        return [str(c) for c in y.columns]
    if isinstance(y, pd.Series):
        return [str(y.name if y.name is not None else "y")]
    return [f"y{c}" for c in range(n_channels)] if n_channels > 1 else ["y"]
