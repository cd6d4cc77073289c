"""The evidence behind :func:`tsargen.seasonality.seasonal_period`: the detrended
autocorrelation that confirms a period, the periodogram's proposals when no calendar gives
candidates, and the choice among the confirmed periods by their seasonal naive error.

numpy and statsmodels only: importing this module does not load torch.
"""

from statistics import NormalDist

import numpy as np
from statsmodels.tsa.stattools import acf

from ._periodogram import peak_periods


def _constant(x, scale=None):
    """True if ``x`` is constant up to the rounding of values of magnitude ``scale`` (default:
    ``x``'s own), such as the difference of a straight line far from 0."""
    if not len(x):
        return True
    if scale is None:
        scale = np.max(np.abs(x))
    return np.ptp(x) <= 1e-12 * scale


def _detrend_ma(x, period):
    """``x`` minus its centred moving average over one ``period`` (a 2 x ``period`` average
    for an even period, classical decomposition's trend): a trend or a random walk's wander
    goes, a cycle of that period stays whole. ``period`` values shorter than ``x``."""
    x = x - x.mean()                                # keeps the cumulative sums small
    c = np.concatenate([[0.0], np.cumsum(x)])
    ma = (c[period:] - c[:-period]) / period        # ma[i]: mean of x[i:i + period]
    half = period // 2
    if period % 2 == 0:
        ma = (ma[:-1] + ma[1:]) / 2                 # centred on a step, not between two
    return x[half:len(x) - half] - ma


def _detrend(x, d, period):
    """``x`` as its autocorrelation at ``period`` is judged: itself when stationary (``d``,
    its :func:`ndiffs`, is 0), else differenced ``d`` times for period 2 (where a 2 x 2
    moving average would correlate white noise at lag 2, r = 1/6, and differencing doubles an
    alternation) and :func:`_detrend_ma` for longer periods."""
    if not d:
        return x
    return np.diff(x, n=d) if period == 2 else _detrend_ma(x, period)


def _acf(x, nlags):
    """Sample autocorrelations of ``x`` at lags 0..nlags, divided by T (the usual biased
    estimator: of equal peaks at a period and its multiples, the period is the largest)."""
    return acf(x, nlags=nlags, fft=True)


def _peak(r, lag):
    """The autocorrelations ``r`` peak near ``lag``: the largest within ``w = max(1, lag //
    12)`` lags of it is a local maximum (noise shifts a smooth cycle's flat peak by a lag or
    two; a season of 52.18 weeks peaks at 52 or 53), where a decay without a season has its
    largest value at the window's first lag and a larger one before it."""
    w = max(1, lag // 12)
    m = lag - w + int(np.argmax(r[lag - w:lag + w + 1]))
    return bool(r[m] >= r[m - 1] and r[m] >= r[m + 1])


def _z(alpha, m):
    """The normal quantile bounding ``m`` one-sided tests at family-wise level ``alpha``."""
    return NormalDist().inv_cdf(1 - alpha / max(m, 1))


def _evidence(series, period):
    """``(r, se)``: the autocorrelation at lag ``period`` of the channels ``series`` holds
    (``(x, d, scale)``: values, :func:`ndiffs`, magnitude), each :func:`_detrend`-ed,
    averaged over channels, and Bartlett's standard error for it; None when it does not peak
    there or fewer than two cycles are left to correlate."""
    kept = [(_detrend(x, d, period), scale) for x, d, scale in series]
    kept = [x for x, scale in kept
            if len(x) >= max(2 * period, period + 4) and not _constant(x, scale)]
    if not kept:
        return None
    r = np.mean([_acf(x, period + max(1, period // 12) + 1) for x in kept], axis=0)
    if not _peak(r, period):
        return None
    # Bartlett: var(r_k) = (1 + 2 sum_{0<j<k} r_j ** 2) / n if the autocorrelation ends at k-1
    se = np.sqrt((1 + 2 * np.sum(r[1:period] ** 2)) / min(len(x) for x in kept))
    return float(r[period]), float(se)


def _proposals(series, alpha):
    """The periods of the periodogram's significant peaks (:func:`_periodogram.peak_periods`)
    over the channels ``series`` holds (as for :func:`_evidence`), each differenced ``d``
    times: that changes the spectrum's level at a frequency, not a peak's height against its
    neighbours, whereas it would drown a slow cycle's autocorrelation."""
    kept = [(np.diff(x, n=d), scale) for x, d, scale in series]
    return peak_periods([x for x, scale in kept if not _constant(x, scale)], alpha)


def _confirmed(series, periods, z, min_acf):
    """The ``periods`` whose autocorrelation exceeds ``min_acf`` and ``z`` standard errors
    (:func:`_evidence`), shortest first."""
    out = []
    for p in sorted(periods):
        found = _evidence(series, p)
        if found is not None and found[0] > max(min_acf, z * found[1]):
            out.append(p)
    return out


def _naive_error(series, period):
    """The mean absolute ``period``-step difference of the channels ``series`` holds (the
    in-sample error of the seasonal naive forecast with that period), each channel's over
    its mean absolute one-step difference, averaged over channels."""
    ratios = [np.mean(np.abs(x[period:] - x[:-period])) / np.mean(np.abs(np.diff(x)))
              for x, _, scale in series if len(x) > period and not _constant(np.diff(x), scale)]
    return float(np.mean(ratios)) if ratios else np.inf


#: A longer confirmed period replaces a shorter one only when its seasonal naive forecast errs
#: less by more than this fraction: a multiple of a period repeats its season just as well.
NAIVE_MARGIN = 0.05

#: Without a calendar, the multiples 2..MAX_MULTIPLE of a confirmed period are tested too: a
#: periodogram's clearest peaks are a day's harmonics, and a week is seven days.
MAX_MULTIPLE = 7


def _best_period(confirmed, series):
    """Of the ``confirmed`` periods, the shortest unless a longer one's seasonal naive forecast
    errs less (:func:`_naive_error`, by more than ``NAIVE_MARGIN``); None for none."""
    best, best_error = None, np.inf
    for p in sorted(confirmed):
        error = _naive_error(series, p)
        if best is None or error < (1 - NAIVE_MARGIN) * best_error:
            best, best_error = p, error
    return best
