"""Limit-order-book snapshots -> depth signal-images (numpy/pandas only).

Every row of the image is one book snapshot seen from its mid price: a fixed number of price
bins on each side, one tick wide, holding the signed log depth (bids negative, asks positive)
resting there. The spread shows as empty bins around the mid; the image is invariant to the
price level, so a model of it learns the shape of the book, not the price.
"""

import math
import re
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._registry import Registered
from ..constraints import Check, Interval, validate_params
from ..validation import first_row

_COLUMN = re.compile(r"^(ask|bid)_(price|size)_(\d+)$")
_MAX_LOG_DEPTH = float(np.log1p(2.0 ** 62))


def _is_offset(value):
    try:
        pd.tseries.frequencies.to_offset(value)
    except (TypeError, ValueError):
        return False
    return True


class OrderBookImage(Registered, TransformerMixin, BaseEstimator):
    """Order-book depth image: signed log depth at tick offsets from the mid price.

    Input is an L-level book: a DataFrame with columns ``ask_price_k, ask_size_k, bid_price_k,
    bid_size_k`` for ``k = 1..L`` (prices in currency units, e.g. from
    ``tsargen.datasets.read_lobster``), one row per event or snapshot. Row ``t`` of the output
    has ``2 * n_ticks`` columns, labelled by their centre in ticks from the mid, from
    ``-n_ticks + 0.5`` (deepest bid bin) to ``n_ticks - 0.5`` (deepest ask bin): bid bin
    ``j`` (``j = 0..n_ticks-1``) holds the bid size at ``mid - price`` in ``[j, j + 1)``
    ticks as ``-log1p(size)``, ask bin ``j`` the ask size at ``price - mid`` in ``[j, j + 1)``
    ticks as ``+log1p(size)``; levels further out are dropped, empty bins are 0.

    Every row needs a best ask and a best bid (``ask_price_1``, ``bid_price_1``) with
    ``ask >= bid``: the image is centred on their mid, which a one-sided or crossed book does
    not have, so such a row is a ``ValueError`` naming it (drop those rows first). Missing
    deeper levels (NaN price or size) are simply empty.

    Parameters
    ----------
    n_ticks : int, default=10
        Price bins on each side of the mid.
    tick_size : float, default=0.01
        Width of a price bin, in the price columns' units: the book's tick for a lossless
        image (``inverse_transform`` then returns the book's prices), or a multiple of it to
        see further from the mid with fewer bins (levels in a bin are summed; the inverse
        puts them at the bin's grid price nearest the mid).
    resample : str or None, default=None
        A pandas offset (e.g. ``"1s"``): one row per interval of a DatetimeIndex holding the
        book as it stood at the interval's end (last event, carried forward through empty
        intervals). ``None`` keeps one row per input row.

    Attributes
    ----------
    n_levels_ : int
        Book levels ``L`` per side found in ``fit``.
    columns_ : ndarray of float
        Bin centres in ticks from the mid (the output columns).

    Examples
    --------
    >>> import pandas as pd
    >>> from tsargen.transforms import OrderBookImage
    >>> book = pd.DataFrame({"ask_price_1": [10.01, 10.02], "ask_size_1": [100, 50],
    ...                      "bid_price_1": [10.00, 9.99], "bid_size_1": [200, 10]})
    >>> ob = OrderBookImage(n_ticks=2).fit(book)
    >>> img = ob.transform(book)
    >>> img.columns.tolist()
    [-1.5, -0.5, 0.5, 1.5]
    >>> img.round(2).values.tolist()
    [[0.0, -5.3, 4.62, 0.0], [-2.4, 0.0, 0.0, 3.93]]
    >>> ob.inverse_transform(img, mid=ob.mid_price(book)).equals(book)
    True
    """

    _parameter_constraints = {
        "n_ticks": [Interval(Integral, 1, None)],
        "tick_size": [Interval(Real, 0, math.inf, closed="neither")],
        "resample": [None, Check(_is_offset, "a pandas offset such as '1s'")],
    }

    def __init__(self, *, n_ticks=10, tick_size=0.01, resample=None):
        self.n_ticks = n_ticks
        self.tick_size = tick_size
        self.resample = resample

    # ------------------------------------------------------------------ checks
    def _levels(self, X):
        """Validate the book's columns -> number of levels L."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X must be a DataFrame with columns ask_price_k, ask_size_k, "
                            f"bid_price_k, bid_size_k (k = 1..L); got {type(X).__name__}.")
        found = {}
        for col in X.columns:
            m = _COLUMN.match(str(col))
            if m:
                found.setdefault(int(m.group(3)), set()).add(f"{m.group(1)}_{m.group(2)}")
        full = {"ask_price", "ask_size", "bid_price", "bid_size"}
        n = 0
        while found.get(n + 1) == full:
            n += 1
        if n == 0:
            raise ValueError("X has no complete book level: it needs columns ask_price_1, "
                             "ask_size_1, bid_price_1, bid_size_1 (and so on for deeper "
                             "levels).")
        return n

    def _book(self, X, n_levels):
        """The book arrays, resampled if asked: (index, ask_p, ask_s, bid_p, bid_s) (N, L)."""
        cols = [f"{side}_{what}_{k}" for side in ("ask", "bid") for what in ("price", "size")
                for k in range(1, n_levels + 1)]
        book = X[cols]
        if not all(pd.api.types.is_numeric_dtype(book[c].dtype) for c in cols):
            raise TypeError("the book's price and size columns must be numeric.")
        if self.resample is not None:
            if not isinstance(book.index, pd.DatetimeIndex):
                raise ValueError("resample needs a DatetimeIndex on X (event times).")
            if not book.index.is_monotonic_increasing:
                raise ValueError("X's time index is not increasing; sort it first.")
            # the whole last row of each interval: resample().last() would take each column's
            # last non-NaN value and mix an emptied level with an older price
            pos = pd.Series(np.arange(len(book)), index=book.index)
            last = pos.resample(self.resample, label="right", closed="right").max()
            last = last.ffill().dropna()
            book = book.iloc[last.to_numpy(np.int64)].set_axis(last.index)
        values = book.to_numpy(dtype=np.float64)
        if np.isinf(values).any():
            raise ValueError("X contains inf; use NaN for missing book levels.")
        parts = values.reshape(len(values), 4, n_levels)
        ask, bid = parts[:, 0, 0], parts[:, 2, 0]
        for bad, what in ((~(np.isfinite(ask) & np.isfinite(bid)),
                           "the best ask or bid is missing (one-sided book)"),
                          (ask < bid, "the book is crossed (best ask < best bid)")):
            if bad.any():
                i = first_row(bad)
                where = f"row {i}" if self.resample is None else (
                    f"resampled row {i} ({book.index[i]})")
                raise ValueError(f"{where}: {what}; the mid price is undefined there. Drop "
                                 "those rows first.")
        return book.index, parts[:, 0], parts[:, 1], parts[:, 2], parts[:, 3]

    # ------------------------------------------------------------------ API
    def fit(self, X, y=None):
        """Check the settings and the book's columns."""
        validate_params(self)
        self.n_levels_ = self._levels(X)
        n = int(self.n_ticks)
        self.columns_ = np.concatenate([-(np.arange(n)[::-1] + 0.5), np.arange(n) + 0.5])
        return self

    def mid_price(self, X):
        """Mid price ``(best ask + best bid) / 2`` per output row (a Series)."""
        check_is_fitted(self)
        index, ask_p, _, bid_p, _ = self._book(X, self.n_levels_)
        return pd.Series((ask_p[:, 0] + bid_p[:, 0]) / 2, index=index, name="mid")

    def transform(self, X):
        """Depth image ``(n_rows, 2 * n_ticks)`` as a DataFrame (index: the book's times)."""
        check_is_fitted(self)
        validate_params(self)
        n_levels = self._levels(X)
        if n_levels < self.n_levels_:
            raise ValueError(f"X has {n_levels} book levels but the transformer was fitted on "
                             f"{self.n_levels_}.")
        index, ask_p, ask_s, bid_p, bid_s = self._book(X, self.n_levels_)
        mid = (ask_p[:, :1] + bid_p[:, :1]) / 2                               # (N, 1)
        n = int(self.n_ticks)
        depth = np.zeros((len(mid), 2, n))                                   # (N, side, bin)
        rows = np.broadcast_to(np.arange(len(mid))[:, None], ask_p.shape)
        for side, price, size, sign in ((1, ask_p, ask_s, 1.0), (0, bid_p, bid_s, -1.0)):
            with np.errstate(invalid="ignore"):
                # half a millionth of a tick absorbs float noise in the division
                b = np.floor(sign * (price - mid) / self.tick_size + 1e-6)
                ok = np.isfinite(b) & (b >= 0) & (b < n) & np.isfinite(size) & (size > 0)
            np.add.at(depth[:, side], (rows[ok], b[ok].astype(np.int64)), size[ok])
        signed = np.concatenate([-np.log1p(depth[:, 0, ::-1]), np.log1p(depth[:, 1])], axis=1)
        return pd.DataFrame(signed + 0.0, index=index, columns=self.columns_.tolist())

    def inverse_transform(self, X, mid=None):
        """Book levels from depth rows: ``ask_price_k, ask_size_k, bid_price_k, bid_size_k``
        for ``k = 1..n_levels_``, in this order as :func:`~tsargen.datasets.read_lobster` has
        them (nearest non-empty bins first; missing levels have NaN price and size 0).

        ``mid`` (one per row, or a scalar) places the bins on the price grid: a bin
        ``[j, j + 1)`` ticks from the mid holds the one grid price in it. Sizes are rounded
        to whole units (int64, as ``read_lobster`` has them), so a lossless image gives back a
        frame that ``equals`` the book.
        """
        check_is_fitted(self)
        if mid is None:
            raise ValueError("inverse_transform needs mid= (the mid price of each row, e.g. "
                             "from mid_price(X)): depth images are relative to the mid.")
        index = X.index if isinstance(X, pd.DataFrame) else None
        arr = np.asarray(X, dtype=np.float64)
        n = int(self.n_ticks)
        if arr.ndim != 2 or arr.shape[1] != 2 * n:
            raise ValueError(f"X must have {2 * n} columns (2 * n_ticks), got shape "
                             f"{arr.shape}.")
        # sizes come back as int64: a log depth beyond log1p(2**62) has no such size
        if not (np.isfinite(arr) & (np.abs(arr) <= _MAX_LOG_DEPTH)).all():
            raise ValueError(f"X must hold finite signed log depths within +-{_MAX_LOG_DEPTH:.1f} "
                             "(log1p of a size); it has NaN, inf or larger values.")
        mids = np.broadcast_to(np.asarray(mid, dtype=np.float64).reshape(-1, 1),
                               (len(arr), 1))
        ticks = mids / self.tick_size
        j = np.arange(n)[None]
        sides = {"ask": (np.expm1(np.maximum(arr[:, n:], 0.0)),
                         np.ceil(ticks + j - 1e-6) * self.tick_size),
                 "bid": (np.expm1(np.maximum(-arr[:, :n][:, ::-1], 0.0)),
                         np.floor(ticks - j + 1e-6) * self.tick_size)}
        out = {}
        for side, (size, price) in sides.items():
            size = np.rint(size)
            order = np.argsort(size <= 0, axis=1, kind="stable")             # non-empty first
            size = np.take_along_axis(size, order, axis=1)[:, :self.n_levels_]
            price = np.take_along_axis(price, order, axis=1)[:, :self.n_levels_]
            price = np.where(size > 0, price, np.nan)
            pad = self.n_levels_ - size.shape[1]
            if pad > 0:
                size = np.pad(size, ((0, 0), (0, pad)))
                price = np.pad(price, ((0, 0), (0, pad)), constant_values=np.nan)
            out[side] = (np.round(price, 10), size.astype(np.int64))
        data = {f"{side}_{what}_{k + 1}": out[side][i][:, k]
                for k in range(self.n_levels_) for side in ("ask", "bid")
                for i, what in enumerate(("price", "size"))}
        return pd.DataFrame(data, index=index)
