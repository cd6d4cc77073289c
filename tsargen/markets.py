"""Desk questions answered from an event-time WaveNet of the order book.

A :class:`tsargen.WaveNetForecaster` fitted on :func:`event_series` (one row per order-book
event: type, direction, mid-price move, log inter-arrival time, log size; heads from
:func:`event_distribution`) is a generative model of the event stream. :func:`simulate` samples
future event paths after some recent events and maps them back to calendar time and mid prices
(with the same exact integer arithmetic as :class:`tsargen.transforms.TickFeatures`); the
functions below read the desk's questions off those paths:

* :func:`mid_price_distribution` -- quantiles of the mid price ``h`` seconds ahead;
* :func:`move_probabilities` -- P(mid up / down / unchanged) ``h`` seconds ahead;
* :func:`next_move_probabilities` -- P(the next mid-price change is up / down);
* :func:`expected_events` -- expected number of events in the next ``h`` seconds.

Simulated paths have a fixed number of events, so a path may end before ``h`` seconds have
passed; such paths are *censored* at ``h`` and left out of the mid-price answers (NaN), and
each answer reports the fraction of censored paths. Simulate enough events (a few times the
expected count) to keep it near zero.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from tsargen import WaveNetForecaster
>>> from tsargen.markets import event_distribution, event_series, simulate, expected_events
>>> rng = np.random.default_rng(0)
>>> n = 300
>>> t = pd.Timestamp("2012-06-21 10:00") + pd.to_timedelta(np.cumsum(rng.integers(1, 10**9, n)))
>>> ask = 1002 + np.cumsum(rng.choice([-1, 0, 0, 1], n))           # in ticks
>>> ev = pd.DataFrame({"type": rng.integers(1, 6, n), "direction": rng.choice([-1, 1], n),
...                    "size": rng.integers(1, 300, n), "ask_price_1": ask / 100,
...                    "bid_price_1": (ask - rng.integers(1, 3, n)) / 100}, index=t)
>>> y = event_series(ev, max_move=4)
>>> f = WaveNetForecaster(distribution=event_distribution(max_move=4), n_layers=3,
...                       residual_channels=8, skip_channels=8, max_epochs=1, batch_size=8,
...                       random_state=0).fit(y)
>>> paths = simulate(f, ev, n_paths=20, n_events=30, max_move=4, random_state=0)
>>> paths.mid.shape, float(expected_events(paths, 1.0)["censored"]) <= 1.0
((20, 30), True)
"""

import math
from numbers import Real

import numpy as np
import pandas as pd

from .constraints import Interval, check_param, check_positive_int
from .transforms.ticks import TickFeatures

#: Model channels of :func:`event_series`, in the order of the joint factorisation.
EVENT_CHANNELS = ("type", "direction", "move", "log_dt", "log_size")
#: Width of the duration and size levels of ``binned=True``, in ``log1p`` units.
LOG_BIN_WIDTH = 0.25
#: Levels of the binned ``log_dt`` (``log1p`` ms up to 16, ~2.5 h) and ``log_size`` (up to 12).
DURATION_LEVELS, SIZE_LEVELS = 64, 48
_NS_PER_MS = 1_000_000
_NS_PER_S = 1_000_000_000


def _head_description(spec):
    kw = spec["kwargs"]
    if kw.get("quantization") == "levels":
        return f"has {kw['n_bins']} levels"
    if "quantization" in kw:
        return f"is continuous: {spec['name']} with quantization={kw['quantization']!r}"
    return f"is continuous: {spec['name']}"


def _check_fitted_layout(forecaster, max_move, binned):
    """``max_move`` and ``binned`` must be those :func:`event_series` was called with to fit
    ``forecaster``, read off its fitted heads (as built by :func:`event_distribution`): the
    move head's ``2 * max_move + 1`` levels, and integer levels (``binned=True``) or a
    continuous head (``binned=False``) for ``log_dt`` and ``log_size``. Nothing is checked
    when the heads cannot be read (unfitted forecasters fail in ``sample``)."""
    net = getattr(forecaster, "network_", None)
    if net is None:
        return
    specs = getattr(getattr(net, "heads", None), "specs", None)
    if specs is None:
        return
    by_channel = {c: s for s in specs for c in s["channels"]}
    if sorted(by_channel) != list(range(len(EVENT_CHANNELS))):
        raise ValueError(f"the forecaster was fitted on {len(by_channel)} channels; simulate "
                         f"needs one fitted on event_series (the {len(EVENT_CHANNELS)} "
                         f"channels {list(EVENT_CHANNELS)}).")
    move = by_channel[EVENT_CHANNELS.index("move")]
    if move["kwargs"].get("quantization") == "levels":      # else max_move cannot be read
        n_levels = move["kwargs"]["n_bins"]
        if n_levels != 2 * max_move + 1:
            if n_levels % 2 == 0:
                raise ValueError(f"the forecaster's move head has {n_levels} levels, but "
                                 "event_series(max_move=m) makes 2 * m + 1: refit it with "
                                 "event_distribution(max_move=m).")
            raise ValueError(f"the forecaster was fitted with max_move={(n_levels - 1) // 2} "
                             f"(its move head has {n_levels} levels); pass "
                             f"max_move={(n_levels - 1) // 2}.")
    for name, levels in (("log_dt", DURATION_LEVELS), ("log_size", SIZE_LEVELS)):
        spec = by_channel[EVENT_CHANNELS.index(name)]
        fitted = spec["kwargs"].get("quantization") == "levels"
        if fitted != bool(binned):
            raise ValueError(f"the forecaster was fitted with binned={fitted} (its {name} head "
                             f"{_head_description(spec)}); pass binned={fitted}.")
        if fitted and spec["kwargs"]["n_bins"] < levels:
            raise ValueError(f"the forecaster's {name} head has {spec['kwargs']['n_bins']} "
                             f"levels, but event_series(binned=True) makes {levels}: refit it "
                             "with event_distribution(binned=True).")


def _features(events, tick_size):
    if isinstance(events, pd.DataFrame) and "mid_move" in events and "log_dt" in events:
        return events                                   # already TickFeatures output
    return TickFeatures(tick_size=tick_size).fit(events).transform(events)


def event_series(events, *, max_move=32, binned=True, tick_size=0.01):
    """Model-ready event-time series: one row per event, columns :data:`EVENT_CHANNELS`.

    ``events`` are raw events (:func:`tsargen.datasets.read_lobster`) or
    :class:`~tsargen.transforms.TickFeatures` output with ``type, direction, log_size``.
    ``type`` is 0..4, ``direction`` 0/1, ``move`` the mid-price move in half ticks clipped to
    ``[-max_move, max_move]`` and shifted to the integer levels ``0..2 * max_move`` (clipping is
    the one lossy step: check ``(y.move == 0) | (y.move == 2 * max_move)``), ``log_dt`` and
    ``log_size`` as in ``TickFeatures`` -- or, with ``binned=True`` (default), their integer
    levels ``floor(value / LOG_BIN_WIDTH)`` clipped to ``DURATION_LEVELS`` / ``SIZE_LEVELS``
    (simultaneous events are level 0).

    Why binned by default: durations have an atom at 0 (simultaneous messages, ~10% of
    LOBSTER events) and sizes at round lots (100 shares: about half the orders). A continuous
    head on them is fragile: :class:`~tsargen.WaveNetForecaster` standardises continuous
    channels per series, so its bins or mixture spikes move with the statistics of whatever
    history it is given and miss the atoms (measured: several nats per event worse than an
    i.i.d. histogram). Integer levels are not rescaled, their log-likelihood is an exact
    log-probability, and :func:`simulate` draws the value uniformly within the level.
    """
    f = _features(events, tick_size)
    missing = [c for c in ("type", "direction", "log_size") if c not in f]
    if missing:
        raise ValueError(f"events lack what the columns {missing} are made from (type, "
                         "direction, size).")
    max_move = check_positive_int(max_move, "max_move")
    half = np.round(2.0 * f["mid_move"].to_numpy())
    move = np.clip(half, -max_move, max_move) + max_move
    log_dt, log_size = f["log_dt"].to_numpy(), f["log_size"].to_numpy()
    if binned:
        log_dt = np.minimum(np.floor(log_dt / LOG_BIN_WIDTH), DURATION_LEVELS - 1)
        log_size = np.minimum(np.floor(log_size / LOG_BIN_WIDTH), SIZE_LEVELS - 1)
    return pd.DataFrame({"type": f["type"].to_numpy(), "direction": f["direction"].to_numpy(),
                         "move": move, "log_dt": log_dt, "log_size": log_size}, index=f.index)


def event_distribution(*, max_move=32, binned=True, n_bins=64, n_mixtures=5,
                       quantization="uniform"):
    """Per-channel heads for :func:`event_series` (pass as ``distribution=``).

    Categorical over the 5 event types and the 2 directions, a discretized logistic mixture
    over the ``2 * max_move + 1`` integer half-tick moves, and for ``log_dt`` and
    ``log_size`` categoricals over their levels (``binned=True``, matching
    :func:`event_series`) or continuous piecewise-uniform densities (``binned=False``:
    ``n_bins`` bins placed by ``quantization``; see :func:`event_series` for why the levels
    are the default).
    """
    if binned:
        dur = {"name": "categorical", "quantization": "levels", "n_bins": DURATION_LEVELS}
        size = {"name": "categorical", "quantization": "levels", "n_bins": SIZE_LEVELS}
    else:
        dur = {"name": "categorical", "quantization": quantization, "n_bins": n_bins}
        size = dict(dur)
    return {"type": {"name": "categorical", "quantization": "levels", "n_bins": 5},
            "direction": {"name": "categorical", "quantization": "levels", "n_bins": 2},
            "move": {"name": "discretized_logistic_mixture", "quantization": "levels",
                     "n_bins": 2 * max_move + 1, "n_mixtures": n_mixtures},
            "log_dt": dur, "log_size": size}


class EventPaths:
    """Simulated future events in calendar time.

    Attributes
    ----------
    events : ndarray (n_paths, n_events, 5)
        Sampled model channels (:data:`EVENT_CHANNELS`).
    time_ns : ndarray of int64 (n_paths, n_events)
        Event timestamps, nanoseconds since the epoch.
    mid : ndarray (n_paths, n_events)
        Mid price after each event, currency units.
    start_ns : int
        Time of the last observed event (the simulation origin).
    start_mid : float
        Mid price after the last observed event.
    tz : tzinfo, str or None
        Time zone of the observed events: :attr:`start` and :meth:`to_frame` give times in it
        (naive, as UTC wall-clock times, when None). ``time_ns`` and ``start_ns`` count from
        the epoch in UTC either way.
    """

    def __init__(self, events, time_ns, mid, start_ns, start_mid, tz=None):
        self.events, self.time_ns, self.mid = events, time_ns, mid
        self.start_ns, self.start_mid = start_ns, start_mid
        self.tz = tz

    def _times(self, ns):
        times = pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(ns), unit="ns"), name="time")
        return times if self.tz is None else times.tz_localize("UTC").tz_convert(self.tz)

    @property
    def start(self):
        """Time of the last observed event, in the events' time zone."""
        return self._times(self.start_ns)[0]

    def _horizon_ns(self, seconds):
        s = float(check_param(seconds, "seconds", [Interval(Real, 0, math.inf)]))
        return self.start_ns + int(round(s * _NS_PER_S))

    def censored(self, seconds):
        """``(n_paths,)`` bool: paths that end before ``seconds`` have passed."""
        return self.time_ns[:, -1] < self._horizon_ns(seconds)

    def count(self, seconds):
        """``(n_paths,)`` events within ``seconds`` after the origin (a lower bound where
        censored)."""
        return (self.time_ns <= self._horizon_ns(seconds)).sum(axis=1)

    def mid_at(self, seconds):
        """``(n_paths,)`` mid price ``seconds`` after the origin; NaN on censored paths."""
        n = self.count(seconds)
        padded = np.concatenate([np.full((len(n), 1), self.start_mid), self.mid], axis=1)
        out = padded[np.arange(len(n)), n]
        return np.where(self.censored(seconds), np.nan, out)

    def to_frame(self, path=0):
        """One path as a DataFrame indexed by calendar time in the events' time zone
        (``mid_price`` and the channels)."""
        df = pd.DataFrame(self.events[path], columns=list(EVENT_CHANNELS))
        df["mid_price"] = self.mid[path]
        df.index = self._times(self.time_ns[path])
        return df


def simulate(forecaster, events, *, n_paths=200, n_events=256, max_move=32, binned=True,
             tick_size=0.01, random_state=None):
    """Sample ``n_paths`` future event paths of ``n_events`` events after recent ``events``.

    Parameters
    ----------
    forecaster : fitted WaveNetForecaster
        Fitted on :func:`event_series` with the same ``max_move`` and ``binned`` (checked
        against its fitted heads when they are those of :func:`event_distribution`).
    events : pd.DataFrame or list of DataFrame
        Recent raw events (at least the receptive field for full context); the last one is
        the simulation origin. A list simulates from several origins in one batch.
    n_paths, n_events : int
    max_move, binned, tick_size
        As used for :func:`event_series`. Binned durations are drawn uniformly (in ``log1p``
        ms) within their sampled level.
    random_state : int or None

    Returns
    -------
    EventPaths, or a list of them for a list of ``events``
        Times in each ``events``' time zone (naive when its index is).
    """
    max_move = check_positive_int(max_move, "max_move")
    _check_fitted_layout(forecaster, max_move, binned)
    many = isinstance(events, (list, tuple))
    items = list(events) if many else [events]
    if not items:
        raise ValueError("events is an empty list.")
    tfs = [TickFeatures(tick_size=tick_size).fit(e) for e in items]
    anchors = [tf.end_anchor(e) for tf, e in zip(tfs, items)]
    ys = [event_series(tf.transform(e), max_move=max_move, binned=binned).to_numpy()
          for tf, e in zip(tfs, items)]
    draws = forecaster.sample(n_paths, n_events, y=ys if many else ys[0],
                              random_state=random_state)            # one batch for all origins
    draws = draws if many else [draws]
    rng = np.random.default_rng(random_state)
    out = []
    for tf, anchor, d, e in zip(tfs, anchors, draws, items):
        d = np.asarray(d)
        move = np.round(d[..., 2]).astype(np.int64) - max_move          # half ticks
        log_dt = d[..., 3]
        if binned:
            log_dt = (np.round(log_dt) + rng.uniform(size=log_dt.shape)) * LOG_BIN_WIDTH
        dt = np.round(np.expm1(np.maximum(log_dt, 0.0)) * _NS_PER_MS).astype(np.int64)
        start2 = anchor["ask_ticks"] + anchor["bid_ticks"]
        out.append(EventPaths(d, anchor["time_ns"] + np.cumsum(dt, axis=1),
                              tf.to_price(start2 + np.cumsum(move, axis=1), half=True),
                              anchor["time_ns"],
                              float(tf.to_price(np.array([start2]), half=True)[0]),
                              tz=e.index.tz))
    return out if many else out[0]


def mid_price_distribution(paths, seconds=(1, 10, 60), quantiles=(0.05, 0.25, 0.5, 0.75, 0.95)):
    """Quantiles of the mid price ``seconds`` ahead, one row per horizon, plus the mean and
    the fraction of censored paths (left out)."""
    rows = {}
    for s in np.atleast_1d(seconds):
        m = paths.mid_at(s)
        ok = m[~np.isnan(m)]
        row = {f"q{q:g}": (np.quantile(ok, q) if ok.size else np.nan) for q in quantiles}
        row["mean"] = ok.mean() if ok.size else np.nan
        row["censored"] = float(np.isnan(m).mean())
        rows[float(s)] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("seconds")


def move_probabilities(paths, seconds=(1, 10, 60)):
    """P(mid price up / down / unchanged) ``seconds`` ahead vs the origin's mid price."""
    rows = {}
    for s in np.atleast_1d(seconds):
        m = paths.mid_at(s)
        ok = m[~np.isnan(m)]
        n = max(ok.size, 1)
        rows[float(s)] = {"up": (ok > paths.start_mid).sum() / n,
                          "down": (ok < paths.start_mid).sum() / n,
                          "flat": (ok == paths.start_mid).sum() / n,
                          "censored": float(np.isnan(m).mean())}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("seconds")


def next_move_probabilities(paths):
    """P(the next mid-price change is up / down), over paths that change the mid at all;
    ``none`` is the fraction of paths without a change."""
    moves = np.diff(np.concatenate([np.full((paths.mid.shape[0], 1), paths.start_mid),
                                    paths.mid], axis=1), axis=1)
    nz = moves != 0
    has = nz.any(axis=1)
    first = moves[np.arange(len(moves)), nz.argmax(axis=1)]
    n = max(has.sum(), 1)
    return {"up": float(((first > 0) & has).sum() / n),
            "down": float(((first < 0) & has).sum() / n), "none": float(1 - has.mean())}


def expected_events(paths, seconds=60.0):
    """Expected number of events in the next ``seconds`` (mean over paths, with the 10% and
    90% quantiles) and the fraction of censored paths (their counts are lower bounds)."""
    n = paths.count(seconds)
    return {"mean": float(n.mean()), "q0.1": float(np.quantile(n, 0.1)),
            "q0.9": float(np.quantile(n, 0.9)), "censored": float(paths.censored(seconds).mean())}
