"""Order-book events -> an event-time feature series and back, exactly.

:class:`TickFeatures` turns a LOBSTER-style event stream (:func:`tsargen.datasets.read_lobster`)
into one row per event: what happened (type, direction, size), when (log inter-arrival time)
and what it did to the best quotes (mid-price move, spread, imbalance). Its inverse rebuilds
the timestamps and the best quotes exactly.

How exactness is kept
---------------------
* Prices live on the tick grid: they are converted to integer ticks (an error names the row of
  any off-grid price). Mid-price moves and order-price offsets are multiples of half a tick,
  so ``2 * mid_move`` and ``2 * price_offset`` are integers and rounding recovers them exactly
  after any float round trip. Prices come back as ``ticks / (1 / tick_size)`` when ``1 /
  tick_size`` is an integer, the correctly rounded float of the same rational number the
  reader produced (``raw / 10**4``), hence bit-identical.
* Time is kept in integer nanoseconds. ``log_dt = log1p(dt / 1 ms)`` is stored as float64;
  ``round(expm1(log_dt) * 10**6)`` returns the nanosecond duration exactly for any duration
  below ~10^7 s (relative float error ~1e-15 times a few).
* The sequence starts from an *anchor*: the time and the best quotes of the first event, kept
  in ``features.attrs["tick_anchor"]`` (integers and the time zone), so ``inverse_transform`` needs
  nothing else; the first row therefore has ``log_dt = 0`` and ``mid_move = 0``. To continue
  a stream (e.g. simulated future events), pass ``anchor=TickFeatures().end_anchor(events)``,
  the state after its last event.
"""

import math
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._registry import Registered
from ..constraints import Interval, validate_params
from ..validation import first_row, show_value

_NS_PER_MS = 1_000_000

#: LOBSTER event types kept by :func:`tsargen.datasets.read_lobster` -> codes ``0..4``.
EVENT_TYPES = (1, 2, 3, 4, 5)


class TickFeatures(Registered, TransformerMixin, BaseEstimator):
    """Event stream -> event-time features, and back (timestamps and prices exactly).

    Parameters
    ----------
    tick_size : float, default=0.01
        Price grid of the instrument, in currency units.

    Notes
    -----
    ``transform(events)`` needs a DatetimeIndex and ``ask_price_1, bid_price_1``; the columns
    ``type, direction, size, price, ask_size_1, bid_size_1`` add features when present. Output
    columns (one row per event, index = event number):

    ``type``
        LOBSTER type 1..5 as code 0..4 (submission, cancellation, deletion, visible
        execution, hidden execution).
    ``direction``
        0 sell order, 1 buy order.
    ``mid_move``
        change of the mid price ``(ask + bid) / 2`` since the previous event, in ticks (a
        multiple of 0.5).
    ``log_dt``
        ``log1p(inter-arrival time in milliseconds)`` (simultaneous events give 0).
    ``log_size``
        ``log1p(size)``.
    ``spread``
        ``ask - bid`` after the event, in ticks (an integer).
    ``imbalance``
        ``(bid_size_1 - ask_size_1) / (bid_size_1 + ask_size_1)`` after the event (0 for an
        empty top of book). A summary only: ``inverse_transform`` does not use it.
    ``price_offset``
        order price minus the mid price before the event, in ticks (a multiple of 0.5).

    ``inverse_transform`` returns whichever of ``type, direction, size, price, mid_price,
    ask_price_1, bid_price_1`` its input determines, indexed by the rebuilt timestamps.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.to_datetime(["2012-06-21 09:30:00.000000001", "2012-06-21 09:30:00.5",
    ...                     "2012-06-21 09:30:00.5"])
    >>> ev = pd.DataFrame({"ask_price_1": [10.02, 10.03, 10.03],
    ...                    "bid_price_1": [10.00, 10.00, 10.01]}, index=t)
    >>> tf = TickFeatures(tick_size=0.01).fit(ev)
    >>> f = tf.transform(ev)
    >>> f[["mid_move", "spread"]].to_numpy().tolist()
    [[0.0, 2.0], [0.5, 3.0], [0.5, 2.0]]
    >>> back = tf.inverse_transform(f)
    >>> bool((back.index == ev.index).all()), back["ask_price_1"].tolist() == [10.02, 10.03, 10.03]
    (True, True)
    """

    _parameter_constraints = {"tick_size": [Interval(Real, 0, math.inf, closed="neither")]}

    def __init__(self, tick_size=0.01):
        self.tick_size = tick_size

    # ------------------------------------------------------------------ helpers
    def _check_tick(self):
        validate_params(self)
        inv = 1.0 / self.tick_size
        return int(round(inv)) if abs(inv - round(inv)) < 1e-9 * inv else None

    def _to_ticks(self, prices, name, doubled=False):
        """Prices -> integer ticks (or half ticks with ``doubled``); off-grid prices raise."""
        k = np.asarray(prices, dtype=np.float64) * (2.0 if doubled else 1.0)
        k = k * self.inverse_tick_ if self.inverse_tick_ else k / self.tick_size
        out = np.round(k)
        bad = np.abs(k - out) > 1e-6
        if bad.any():
            i = first_row(bad)
            raise ValueError(f"row {i}: {name} {show_value(prices[i])} is not on the tick grid "
                             f"(tick_size={self.tick_size}); pass the instrument's tick_size.")
        return out.astype(np.int64)

    def to_price(self, ticks, half=False):
        """Integer ticks (half ticks with ``half=True``) -> prices, bit-identical to
        :func:`~tsargen.datasets.read_lobster`'s ``raw / 10**4`` for on-grid prices."""
        check_is_fitted(self)
        ticks = np.asarray(ticks, dtype=np.float64)
        if self.inverse_tick_:
            return ticks / (self.inverse_tick_ * (2 if half else 1))
        return ticks * (self.tick_size / (2 if half else 1))

    @staticmethod
    def _check_events(events):
        if not isinstance(events, pd.DataFrame):
            raise TypeError("events must be a pandas DataFrame indexed by time, as returned by "
                            f"tsargen.datasets.read_lobster; got {type(events).__name__}.")
        if not isinstance(events.index, pd.DatetimeIndex):
            raise TypeError("events must have a DatetimeIndex (the event timestamps).")
        missing = [c for c in ("ask_price_1", "bid_price_1") if c not in events]
        if missing:
            raise ValueError(f"events misses the columns {missing}.")
        if len(events) == 0:
            raise ValueError("events is empty.")
        ns = events.index.as_unit("ns").asi8    # pandas may store us or ms: read as ns
        if (np.diff(ns) < 0).any():
            i = first_row(np.diff(ns) < 0) + 1
            raise ValueError(f"row {i}: timestamp {events.index[i]} is earlier than the row "
                             "before; sort the events by time.")
        return ns

    def _quotes(self, events):
        ask, bid = events["ask_price_1"].to_numpy(float), events["bid_price_1"].to_numpy(float)
        empty = ~(np.isfinite(ask) & np.isfinite(bid))
        if empty.any():
            raise ValueError(f"row {first_row(empty)}: the best ask or bid is missing (one-sided "
                             "book); the mid price is undefined there. Drop those rows first.")
        a, b = self._to_ticks(ask, "ask_price_1"), self._to_ticks(bid, "bid_price_1")
        if (a < b).any():
            raise ValueError(f"row {first_row(a < b)}: crossed book (ask < bid).")
        return a, b

    # ------------------------------------------------------------------ sklearn API
    def fit(self, events, y=None):
        """Check ``tick_size`` and the columns of ``events``; nothing is learned from data."""
        self.inverse_tick_ = self._check_tick()
        self._check_events(events)
        self.feature_names_in_ = np.asarray(events.columns, dtype=object)
        self.n_features_in_ = events.shape[1]
        return self

    def end_anchor(self, events):
        """The state after the last event of ``events`` (time and best quotes, as integers):
        pass it to :meth:`inverse_transform` to rebuild events that continue ``events``."""
        check_is_fitted(self)
        ns = self._check_events(events)
        a, b = self._quotes(events.iloc[-1:])
        return {"time_ns": int(ns[-1]), "ask_ticks": int(a[0]), "bid_ticks": int(b[0]),
                "tz": events.index.tz}

    def transform(self, events):
        """Events -> features (see the class notes), with the anchor in ``.attrs``."""
        check_is_fitted(self)
        ns = self._check_events(events)
        a, b = self._quotes(events)
        mid2 = a + b                                       # mid price in half ticks
        out = {}
        if "type" in events:
            kind = events["type"].to_numpy()
            bad = ~np.isin(kind, EVENT_TYPES)
            if bad.any():
                i = first_row(bad)
                raise ValueError(f"row {i}: event type {show_value(kind[i])} is not one of "
                                 f"{EVENT_TYPES} (drop trading halts, type 7, first).")
            out["type"] = (kind - 1).astype(np.float64)
        if "direction" in events:
            d = events["direction"].to_numpy()
            bad = ~np.isin(d, (-1, 1))
            if bad.any():
                raise ValueError(f"row {first_row(bad)}: direction must be -1 or 1.")
            out["direction"] = (d > 0).astype(np.float64)
        out["mid_move"] = np.diff(mid2, prepend=mid2[0]) / 2.0
        dt = np.diff(ns, prepend=ns[0])
        out["log_dt"] = np.log1p(dt / _NS_PER_MS)
        if "size" in events:
            size = events["size"].to_numpy(np.float64)
            if np.isinf(size).any():
                raise ValueError(f"row {first_row(np.isinf(size))}: infinite size.")
            if (size < 0).any():
                raise ValueError(f"row {first_row(size < 0)}: negative size.")
            out["log_size"] = np.log1p(size)
        out["spread"] = (a - b).astype(np.float64)
        if "ask_size_1" in events and "bid_size_1" in events:
            qa = events["ask_size_1"].to_numpy(np.float64)
            qb = events["bid_size_1"].to_numpy(np.float64)
            for name, q in (("ask_size_1", qa), ("bid_size_1", qb)):
                if np.isinf(q).any() or (q < 0).any():
                    raise ValueError(f"row {first_row(np.isinf(q) | (q < 0))}: {name} must be a "
                                     "finite non-negative size.")
            tot = qa + qb
            out["imbalance"] = np.divide(qb - qa, tot, out=np.zeros_like(tot), where=tot > 0)
        if "price" in events:
            p2 = self._to_ticks(events["price"].to_numpy(float), "price", doubled=True)
            before = np.concatenate([mid2[:1], mid2[:-1]])
            out["price_offset"] = (p2 - before) / 2.0
        feats = pd.DataFrame(out, index=pd.RangeIndex(len(events), name="event"))
        feats.attrs["tick_anchor"] = {"time_ns": int(ns[0]), "ask_ticks": int(a[0]),
                                      "bid_ticks": int(b[0]),
                                      "tz": events.index.tz}
        return feats

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        cols = set(self.feature_names_in_)
        names = [n for n, need in (("type", ("type",)), ("direction", ("direction",)),
                                   ("mid_move", ()), ("log_dt", ()), ("log_size", ("size",)),
                                   ("spread", ()), ("imbalance", ("ask_size_1", "bid_size_1")),
                                   ("price_offset", ("price",))) if cols.issuperset(need)]
        return np.asarray(names, dtype=object)

    def inverse_transform(self, features, anchor=None):
        """Features -> events: timestamps (exact), ``mid_price`` and, when the features allow,
        ``ask_price_1, bid_price_1`` (needs ``spread``), ``price``, ``type``, ``direction``,
        ``size``.

        ``features`` may be a DataFrame with (a subset of) the transform's columns; ``log_dt``
        and ``mid_move`` are required. ``anchor`` (the state before the first row) defaults to
        ``features.attrs["tick_anchor"]``; give :meth:`end_anchor` of a history to continue
        it. Durations, half-tick moves and sizes are rounded to integers, so sampled (noisy)
        features map to valid events too.
        """
        check_is_fitted(self)
        if not isinstance(features, pd.DataFrame):
            raise TypeError("features must be a DataFrame with the columns of transform().")
        missing = [c for c in ("log_dt", "mid_move") if c not in features]
        if missing:
            raise ValueError(f"features misses the columns {missing}.")
        anchor = anchor if anchor is not None else features.attrs.get("tick_anchor")
        if anchor is None:
            raise ValueError("no anchor: pass anchor=TickFeatures.end_anchor(events) (or use the "
                             "output of transform, which carries it in .attrs).")
        f = {c: features[c].to_numpy(np.float64) for c in features.columns}
        dt = np.round(np.expm1(np.maximum(f["log_dt"], 0.0)) * _NS_PER_MS).astype(np.int64)
        ns = anchor["time_ns"] + np.cumsum(dt)
        index = pd.DatetimeIndex(pd.to_datetime(ns, unit="ns"), name="time")
        if anchor.get("tz") is not None:      # the zone object itself, of any kind
            index = index.tz_localize("UTC").tz_convert(anchor["tz"])
        mid2 = anchor["ask_ticks"] + anchor["bid_ticks"] + np.cumsum(
            np.round(2.0 * f["mid_move"]).astype(np.int64))
        out = {}
        if "type" in f:
            out["type"] = np.asarray(EVENT_TYPES)[np.clip(np.round(f["type"]).astype(int), 0,
                                                          len(EVENT_TYPES) - 1)]
        if "direction" in f:
            out["direction"] = np.where(f["direction"] >= 0.5, 1, -1)
        if "log_size" in f:
            out["size"] = np.round(np.expm1(np.maximum(f["log_size"], 0.0))).astype(np.int64)
        if "price_offset" in f:
            before = np.concatenate([[anchor["ask_ticks"] + anchor["bid_ticks"]], mid2[:-1]])
            out["price"] = self.to_price(before + np.round(2.0 * f["price_offset"])
                                            .astype(np.int64), half=True)
        out["mid_price"] = self.to_price(mid2, half=True)
        if "spread" in f:
            spread = np.round(f["spread"]).astype(np.int64)
            if ((mid2 + spread) % 2).any():
                i = first_row((mid2 + spread) % 2 == 1)
                raise ValueError(f"row {i}: spread and mid price are inconsistent (ask + bid "
                                 "and ask - bid must have the same parity).")
            out["ask_price_1"] = self.to_price((mid2 + spread) // 2)
            out["bid_price_1"] = self.to_price((mid2 - spread) // 2)
        return pd.DataFrame(out, index=index)
