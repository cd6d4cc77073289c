"""Real series for examples, tests and benchmarks.

The ``load_*`` functions read data that ships with installed packages (statsmodels), so they
never download anything. ``read_*`` functions read files the user owns.
"""

import re
import zipfile
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd

from .constraints import Interval, check_param
from .validation import first_row

# statsmodels is imported inside the loaders that read its bundled data: the other functions
# here do without it


def load_sunspots():
    """Yearly mean sunspot numbers, 1700-2008 (statsmodels), as a ``pd.Series`` indexed by a
    yearly DatetimeIndex (309 values, an ~11-year cycle)."""
    from statsmodels.datasets import sunspots

    df = sunspots.load_pandas().data
    index = pd.date_range(f"{int(df['YEAR'].iloc[0])}-01-01", periods=len(df), freq="YS")
    return pd.Series(df["SUNACTIVITY"].to_numpy(dtype=float), index=index, name="sunspots")


def load_co2(freq="MS"):
    """Mauna Loa CO2 (ppm), statsmodels' weekly series 1958-2001 averaged to ``freq`` (monthly
    by default; ``None`` keeps the weekly data with its missing weeks as NaN)."""
    from statsmodels.datasets import co2

    s = co2.load_pandas().data["co2"].astype(float)
    s.index = pd.DatetimeIndex(s.index)
    if freq is not None:
        s = s.resample(freq).mean()
        s = s.interpolate(limit_direction="both")
    s.name = "co2"
    return s


def load_macrodata(columns=("realgdp", "realcons", "realinv")):
    """US quarterly macro series 1959Q1-2009Q3 (statsmodels), log-differenced x 100 (quarterly
    growth in percent), as a DataFrame with a quarterly DatetimeIndex.

    ``columns`` (a name, a list of names, or None for all) picks among statsmodels' positive
    level series: realgdp, realcons, realinv, realgovt, realdpi, cpi, m1, tbilrate, unemp, pop
    (``infl`` and ``realint`` take negative values, which have no logarithm)."""
    from statsmodels.datasets import macrodata

    df = macrodata.load_pandas().data
    usable = [c for c in df.columns if c not in ("year", "quarter") and (df[c] > 0).all()]
    columns = (usable if columns is None else [columns] if isinstance(columns, str)
               else list(columns))
    bad = [c for c in columns if c not in usable]
    if bad or not columns:
        raise ValueError(f"{'unknown columns ' + repr(bad) if bad else 'no columns'}: "
                         f"load_macrodata accepts one or more of {usable} (infl and realint "
                         "go negative and have no logarithm).")
    index = pd.date_range("1959-01-01", periods=len(df), freq="QS")
    values = 100 * np.diff(np.log(df[columns].to_numpy(dtype=float)), axis=0)
    return pd.DataFrame(values, index=index[1:], columns=columns)


# ---------------------------------------------------------------------------- market data files
_LOBSTER_TYPES = (1, 2, 3, 4, 5, 7)
_DUMMY_PRICE = 9_999_999_999      # LOBSTER's placeholder price (x 10^4) of an empty book level
_HALT_STATES = {-1: "halt", 0: "quoting", 1: "resume"}


def _lobster_members(path):
    """-> (message file object opener, orderbook opener, message file name) for a zip or csv."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        msgs = [n for n in names if re.search(r"_message_\d+\.csv$", n)]
        books = [n for n in names if re.search(r"_orderbook_\d+\.csv$", n)]
        if len(msgs) != 1 or len(books) != 1:
            raise ValueError(f"{path} must hold exactly one '*_message_L.csv' and one "
                             f"'*_orderbook_L.csv' file; it holds {names}.")

        def opener(name):
            return lambda: zipfile.ZipFile(path).open(name)

        return opener(msgs[0]), opener(books[0]), Path(msgs[0]).name
    if not re.search(r"_message_\d+\.csv$", path.name):
        raise ValueError(f"{path.name} is not a LOBSTER message file: pass the zip, or the "
                         "'TICKER_DATE_START_END_message_L.csv' file with its orderbook beside it.")
    book = path.with_name(re.sub(r"_message_(\d+)\.csv$", r"_orderbook_\1.csv", path.name))
    if not book.exists():
        raise FileNotFoundError(f"the orderbook file {book.name} is not beside {path.name}.")
    return (lambda: open(path, "rb")), (lambda: open(book, "rb")), path.name


def read_lobster(path, *, levels=None):
    """Read one LOBSTER day (message + orderbook files) into one row per event.

    Parameters
    ----------
    path : str or Path
        A LOBSTER zip holding ``TICKER_DATE_START_END_message_L.csv`` and
        ``..._orderbook_L.csv``, or the message csv itself with its orderbook file beside it.
    levels : int or None, default=None
        Book levels to keep (``1..L``); ``None`` keeps all ``L`` levels of the file.

    Returns
    -------
    events : pd.DataFrame
        Indexed by a DatetimeIndex ``time`` (the date from the file name plus LOBSTER's
        seconds after midnight, to the nanosecond), with columns ``type`` (1 submission,
        2 partial cancellation, 3 deletion, 4 visible execution, 5 hidden execution),
        ``order_id``, ``size``, ``price``, ``direction`` (-1 sell order, 1 buy order) and
        ``ask_price_k, ask_size_k, bid_price_k, bid_size_k`` for ``k = 1..levels``: the book
        *after* the event. Prices are in currency units (LOBSTER stores price x 10^4).

    Notes
    -----
    * Empty book levels (LOBSTER's dummy prices +-9999999999 with size 0) become NaN prices
      with size 0.
    * Trading-halt messages (type 7) carry no order and repeat the previous book, so they are
      dropped from the rows and listed in ``events.attrs["halts"]`` as
      ``(timestamp, "halt" | "quoting" | "resume")`` pairs (LOBSTER's price -1 / 0 / 1).
    * Raises ``ValueError`` naming the first offending row (0-based row of the message file)
      for: wrong column counts, decreasing timestamps, unknown event types, directions other
      than +-1, negative sizes, and a crossed book (best ask below best bid).
    """
    open_msg, open_book, name = _lobster_members(path)
    file_levels = int(re.search(r"_message_(\d+)\.csv$", name).group(1))
    date = re.search(r"(\d{4}-\d{2}-\d{2})", name)
    if date is None:
        raise ValueError(f"cannot find the trading date (YYYY-MM-DD) in the file name {name}.")
    if levels is None:
        levels = file_levels
    check_param(levels, "levels", [Interval(Integral, 1, file_levels, closed="both")],
                " (the file's levels)")
    m, book = _lobster_tables(open_msg, open_book, file_levels)
    ns = _checked_messages(m)
    ask, bid, b = _checked_book(book, levels)
    index = pd.DatetimeIndex(pd.Timestamp(date.group(1)) + pd.to_timedelta(ns, unit="ns"),
                             name="time")
    kind = m[:, 1]
    halt = kind == 7
    out = {"type": kind.astype(np.int64), "order_id": m[:, 2].astype(np.int64),
           "size": m[:, 3].astype(np.int64), "price": m[:, 4] / 1e4,
           "direction": m[:, 5].astype(np.int64)}
    for k in range(levels):
        out[f"ask_price_{k + 1}"] = ask[:, k] / 1e4
        out[f"ask_size_{k + 1}"] = b[:, k, 1].astype(np.int64)
        out[f"bid_price_{k + 1}"] = bid[:, k] / 1e4
        out[f"bid_size_{k + 1}"] = b[:, k, 3].astype(np.int64)
    events = pd.DataFrame(out, index=index)
    halts = [(index[i], _HALT_STATES.get(int(m[i, 4]), "halt")) for i in np.flatnonzero(halt)]
    events = events[~halt]
    events.attrs["halts"] = halts
    return events


def _lobster_tables(open_msg, open_book, file_levels):
    """The message rows ``(n, 6)`` as an array and the orderbook rows as a DataFrame, checked
    for their column and row counts."""
    with open_msg() as f:
        msg = pd.read_csv(f, header=None, dtype=np.float64)
    with open_book() as f:
        book = pd.read_csv(f, header=None, dtype=np.float64)
    if msg.shape[1] != 6:
        raise ValueError(f"the message file has {msg.shape[1]} columns; LOBSTER messages have 6 "
                         "(time, type, order id, size, price, direction).")
    if book.shape[1] != 4 * file_levels:
        raise ValueError(f"the orderbook file has {book.shape[1]} columns but {4 * file_levels} "
                         f"are expected for {file_levels} levels (ask price, ask size, bid price, "
                         "bid size per level).")
    if len(msg) != len(book):
        raise ValueError(f"the message file has {len(msg)} rows but the orderbook file "
                         f"{len(book)}; they must match row for row.")
    return msg.to_numpy(), book


def _checked_messages(m):
    """Nanoseconds after midnight of the message rows ``m (n, 6)``, once their values pass."""
    if np.isnan(m).any():
        raise ValueError(f"row {first_row(np.isnan(m).any(axis=1))} of the message file has a "
                         "missing value.")
    ns = np.round(m[:, 0] * 1e9).astype(np.int64)    # float64 keeps ns exactly below 1e5 s
    if (np.diff(ns) < 0).any():
        i = first_row(np.diff(ns) < 0) + 1
        raise ValueError(f"row {i} of the message file has timestamp {m[i, 0]!r}, earlier than "
                         f"row {i - 1} ({m[i - 1, 0]!r}): timestamps must not decrease.")
    kind = m[:, 1]
    bad = ~np.isin(kind, _LOBSTER_TYPES)
    if bad.any():
        i = first_row(bad)
        raise ValueError(f"row {i} of the message file has unknown event type {kind[i]:g}; "
                         f"LOBSTER types are {_LOBSTER_TYPES}.")
    bad = ~np.isin(m[:, 5], (-1, 1))
    if bad.any():
        i = first_row(bad)
        raise ValueError(f"row {i} of the message file has direction {m[i, 5]:g}; it must be "
                         "-1 (sell) or 1 (buy).")
    if (m[:, 3] < 0).any():
        i = first_row(m[:, 3] < 0)
        raise ValueError(f"row {i} of the message file has a negative size {m[i, 3]:g}.")
    return ns


def _checked_book(book, levels):
    """The first ``levels`` levels of the orderbook rows, once they pass: ask and bid prices
    ``(n, levels)`` (x 10^4, NaN on empty levels) and the rows ``(n, levels, 4)``."""
    b = book.to_numpy()[:, :4 * levels].reshape(len(book), levels, 4)   # (n, levels, 4)
    if np.isnan(b).any():
        raise ValueError(f"row {first_row(np.isnan(b).any(axis=(1, 2)))} of the orderbook file "
                         "has a missing value.")
    if (b[:, :, [1, 3]] < 0).any():
        i = first_row((b[:, :, [1, 3]] < 0).any(axis=(1, 2)))
        raise ValueError(f"row {i} of the orderbook file has a negative size.")
    ask, bid = b[:, :, 0].copy(), b[:, :, 2].copy()
    ask[ask >= _DUMMY_PRICE] = np.nan
    bid[bid <= -_DUMMY_PRICE] = np.nan
    crossed = ask[:, 0] < bid[:, 0]       # NaN compares False: one-sided books pass
    if crossed.any():
        i = first_row(crossed)
        raise ValueError(f"row {i} of the orderbook file is crossed: best ask "
                         f"{ask[i, 0] / 1e4:g} < best bid {bid[i, 0] / 1e4:g}.")
    return ask, bid, b


def read_bars(path):
    """Read an OHLCV bar or tick CSV (``Date,Time,Open,...`` or ``Datetime,Open,...`` rows).

    Returns a DataFrame indexed by a DatetimeIndex ``time`` with float columns ``open, high,
    low, close, volume`` and ``open_interest`` when present. Files whose rows hold a separate
    time field the header does not name (``Date,Open,...`` over ``2006-01-02,09:01:00,...``)
    are read too. Raises ``ValueError`` naming the row for missing columns, unparseable or
    decreasing timestamps, negative volume and ``high < low``.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            header = [h.strip().lower() for h in f.readline().split(",")]
            first = f.readline().split(",")
        names = list(header)
        if names and names[0] == "date" and len(first) == len(header) + 1:
            names = ["date", "clock"] + names[1:]
        raw = pd.read_csv(path, header=None, skiprows=1, names=names, dtype=str,
                          encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not a text CSV file (it is not UTF-8 text); read_bars "
                         "reads OHLCV text such as 'Date,Time,Open,High,Low,Close,Volume' "
                         "rows.") from None
    if "datetime" in raw:
        stamps = raw["datetime"]
    elif "date" in raw:
        stamps = raw["date"] + (" " + raw["clock"] if "clock" in raw else
                                " " + raw["time"] if "time" in raw else "")
    else:
        raise ValueError(f"{path.name} has no 'Date' or 'Datetime' column (header: {header}).")
    need = ["open", "high", "low", "close", "volume"]
    missing = [c for c in need if c not in raw]
    if missing:
        raise ValueError(f"{path.name} misses the columns {missing} (header: {header}).")
    index = pd.to_datetime(stamps, errors="coerce")
    if index.isna().any():
        i = first_row(index.isna().to_numpy())
        raise ValueError(f"row {i} of {path.name} has an unreadable timestamp {stamps[i]!r}.")
    index = pd.DatetimeIndex(index, name="time")
    cols = need + (["openinterest"] if "openinterest" in raw else [])
    try:
        values = raw[cols].astype(np.float64)
    except ValueError as err:
        raise ValueError(f"{path.name} has a non-numeric price or volume: {err}") from None
    if values.isna().any(axis=None):
        i = first_row(values.isna().any(axis=1).to_numpy())
        raise ValueError(f"row {i} of {path.name} has a missing value.")
    bad = np.diff(index.asi8) < 0
    if bad.any():
        i = first_row(bad) + 1
        raise ValueError(f"row {i} of {path.name} has timestamp {index[i]}, earlier than row "
                         f"{i - 1} ({index[i - 1]}).")
    if (values["volume"] < 0).any():
        raise ValueError(f"row {first_row((values['volume'] < 0).to_numpy())} of {path.name} "
                         "has a negative volume.")
    if (values["high"] < values["low"]).any():
        raise ValueError(f"row {first_row((values['high'] < values['low']).to_numpy())} of "
                         f"{path.name} has high < low.")
    values = values.rename(columns={"openinterest": "open_interest"})
    values.index = index
    return values
