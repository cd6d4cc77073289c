"""Differencing orders and seasonal periods chosen from the data.

The building blocks of ``differences="auto"`` and ``seasonal_lag="auto"``:

* :func:`ndiffs` -- how many ordinary differences make a series stationary (repeated KPSS
  tests, or ADF tests), as the forecast package's ``ndiffs`` does (Hyndman & Khandakar 2008).
* :func:`candidate_periods` -- the usual seasonal periods of a time index's frequency.
* :func:`seasonal_period` -- of the candidate periods the autocorrelation confirms (with no
  frequency known, of the clear periodogram peaks it confirms), the one whose seasonal naive
  forecast errs least.
* :func:`nsdiffs` -- whether the seasonal strength (:func:`seasonal_strength`, Wang, Smith &
  Hyndman 2006) calls for one seasonal difference.

In the order of Hyndman & Khandakar (2008): the period ``s = seasonal_period(y, index)``,
then ``D = nsdiffs(y, s)``, then ``d = ndiffs`` of ``y`` seasonally differenced ``D`` times.

The autocorrelation evidence behind :func:`seasonal_period` and its choice among the
confirmed periods live in ``tsargen/_season_evidence.py``.

numpy, pandas and statsmodels only: importing this module does not load torch.

References
----------
Hyndman, R. J. & Khandakar, Y. (2008). Automatic time series forecasting: the forecast
package for R. Journal of Statistical Software 27(3).
Wang, X., Smith, K. A. & Hyndman, R. J. (2006). Characteristic-based clustering for time
series data. Data Mining and Knowledge Discovery 13(3), 335-364.
"""

import inspect
import warnings

import numpy as np
from statsmodels.tools.sm_exceptions import InterpolationWarning
from statsmodels.tsa.seasonal import STL
from statsmodels.tsa.stattools import adfuller, kpss

from ._periods import _freq_of, candidate_periods
from ._season_evidence import MAX_MULTIPLE, _best_period, _confirmed, _constant, _proposals, _z
from ._season_evidence import NAIVE_MARGIN  # noqa: F401  (the docstrings name it here)

__all__ = ["candidate_periods", "ndiffs", "nsdiffs", "seasonal_period", "seasonal_strength"]

#: Fewer finite values than this (after trimming leading and trailing NaNs): :func:`ndiffs`
#: returns 0 -- a unit-root test on a dozen points says next to nothing.
MIN_OBS = 12

# statsmodels 0.15 warns unless told whether to return a result object (0.14 takes no such
# argument): ask for the plain tuples both return.
_TUPLE = {"result_object": False}
_KPSS_KW = _TUPLE if "result_object" in inspect.signature(kpss).parameters else {}
_ADF_KW = _TUPLE if "result_object" in inspect.signature(adfuller).parameters else {}

#: The KPSS p-value table spans [0.01, 0.10]: statsmodels clips p-values to it.
_KPSS_PMIN, _KPSS_PMAX = 0.01, 0.10


# ----------------------------------------------------------------------------------------------
# input


def _channels(y):
    """The channels of a (T,) or (T, C) series as 1-D float arrays with interior NaNs
    interpolated linearly and leading / trailing NaNs dropped (empty for an all-NaN one)."""
    values = np.asarray(y, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"y must be 1-D (T,) or 2-D (T, C); got shape {values.shape}.")
    if np.isinf(values).any():
        raise ValueError("y holds infinite values; replace them with NaN (missing) or drop "
                         "them.")
    out = []
    for x in values.T:
        ok = np.flatnonzero(~np.isnan(x))
        if not len(ok):
            out.append(x[:0])
            continue
        x = x[ok[0]:ok[-1] + 1]
        gaps = np.isnan(x)
        if gaps.any():
            x = x.copy()
            t = np.arange(len(x))
            x[gaps] = np.interp(t[gaps], t[~gaps], x[~gaps])
        out.append(x)
    return out


# ----------------------------------------------------------------------------------------------
# ndiffs


def _needs_diff(x, test, alpha):
    """True if the test says ``x`` is not (level) stationary at level ``alpha``."""
    n = len(x)
    if test == "kpss":
        lags = int(4 * (n / 100) ** 0.25)      # the "short" truncation lag of ndiffs' KPSS
        with warnings.catch_warnings():
            # the statistic lies outside the p-value table: the p-value is clipped to 0.01 or
            # 0.10, which the comparison with the 1% critical value below accounts for
            warnings.simplefilter("ignore", InterpolationWarning)
            stat, p, _, crit = kpss(x, regression="c", nlags=min(lags, n - 1), **_KPSS_KW)
        # a p-value clipped to 0.01 stands for "below 0.01": reject even at alpha = 0.01
        return bool(p < alpha or stat > crit["1%"])
    lags = int((n - 1) ** (1 / 3))              # the fixed ADF lag order ndiffs uses
    p = adfuller(x, maxlag=lags, regression="c", autolag=None, **_ADF_KW)[1]
    return bool(p > alpha)                      # null: a unit root


def _ndiffs_1d(x, test, alpha, max_d):
    d, scale = 0, np.max(np.abs(x), initial=0.0)   # rounding errors scale with the data
    while d < max_d:
        if len(x) < MIN_OBS or _constant(x, scale):
            return d
        if not _needs_diff(x, test, alpha):
            return d
        x = np.diff(x)
        d += 1
    return d


def ndiffs(y, *, alpha=0.05, test="kpss", max_d=2):
    """The number of ordinary differences that make ``y`` stationary.

    Differences ``y`` until a unit-root test no longer asks for another difference, as the
    forecast package's ``ndiffs`` does (Hyndman & Khandakar 2008): with ``test="kpss"`` the
    KPSS test of level stationarity (statsmodels ``kpss``, regression ``"c"``, truncation lag
    ``int(4 (T / 100) ** 0.25)``) differences while it rejects stationarity; with
    ``test="adf"`` the augmented Dickey-Fuller test (constant, fixed lag order
    ``int((T - 1) ** (1 / 3))``) differences while it cannot reject a unit root.

    Parameters
    ----------
    y : array-like of shape (T,) or (T, C)
        The series; for several channels, the largest order over the channels. NaNs are
        missing values: interior ones are interpolated linearly, leading and trailing ones
        dropped.
    alpha : float, default 0.05
        Level of each test. For KPSS it is clipped to [0.01, 0.10], the span of the test's
        p-value table (a statistic beyond the table counts as p < 0.01 or p > 0.10).
    test : {"kpss", "adf"}, default "kpss"
        The test applied at each step.
    max_d : int, default 2
        The largest order returned.

    Returns
    -------
    int
        Between 0 and ``max_d``. Differencing stops early, at the current order, when the
        differenced series is constant (a straight line needs one difference) or has fewer
        than ``MIN_OBS`` (12) values; a series that short from the start gives 0.

    Examples
    --------
    >>> import numpy as np
    >>> from tsargen.seasonality import ndiffs
    >>> rng = np.random.default_rng(0)
    >>> e = rng.normal(size=300)
    >>> ndiffs(e), ndiffs(e.cumsum()), ndiffs(e.cumsum().cumsum())
    (0, 1, 2)
    >>> ndiffs(np.column_stack([e, e.cumsum()]))        # the largest over channels
    1
    """
    if test not in ("kpss", "adf"):
        raise ValueError(f"test must be 'kpss' or 'adf'; got {test!r}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha!r}.")
    if int(max_d) != max_d or max_d < 0:
        raise ValueError(f"max_d must be a non-negative integer; got {max_d!r}.")
    if test == "kpss":
        alpha = min(max(alpha, _KPSS_PMIN), _KPSS_PMAX)
    return max((_ndiffs_1d(x, test, alpha, int(max_d)) for x in _channels(y)), default=0)


# ----------------------------------------------------------------------------------------------
# seasonal period


def _series(y):
    """The channels of ``y`` with at least 4 values, not constant, as ``(x, d, scale)``: values,
    :func:`ndiffs`, magnitude."""
    channels = [x for x in _channels(y) if len(x) >= 4 and not _constant(x)]
    return [(x, ndiffs(x), np.max(np.abs(x))) for x in channels]


def _periods_to_test(series, index, candidates, alpha):
    """``(periods, z, searched)``: the periods to test (``candidates``, else ``index``'s, else
    the periodogram's: ``searched``) and the normal quantile each autocorrelation must
    reach."""
    if candidates is None and _freq_of(index) is not None:
        candidates = candidate_periods(index, max(len(x) for x, _, _ in series))
    if candidates is None:          # the periodogram has tested these against all frequencies
        return _proposals(series, alpha), _z(alpha, 1), True
    candidates = sorted({int(p) for p in candidates if int(p) >= 2})
    return candidates, _z(alpha, len(candidates)), False


def seasonal_period(y, index=None, *, candidates=None, min_acf=0.1, alpha=0.05):
    """The seasonal period the data confirm, or None.

    A period ``p`` is confirmed when the sample autocorrelation ``r_p`` at lag ``p`` of the
    series -- minus its centred moving average over ``p`` (classical decomposition's trend)
    when :func:`ndiffs` finds it non-stationary: unlike differencing, that removes a trend or
    a random walk's wander but keeps a cycle of period ``p`` whole (period 2, an alternation
    that differencing doubles, is differenced) --

    * peaks near ``p``: the largest autocorrelation within ``max(1, p // 12)`` lags of ``p``
      is a local maximum (noise moves a smooth cycle's flat peak by a lag or two; a decay
      without a season has no maximum there), and
    * exceeds both ``min_acf`` and ``z * se``: ``se`` is Bartlett's standard error
      ``sqrt((1 + 2 * sum_{0<j<p} r_j ** 2) / n)`` (autocorrelation at shorter lags -- a
      trend's remains, a shorter season -- widens it, so a multiple of a shorter season
      rarely passes) and ``z`` the one-sided normal quantile at level ``alpha / m`` for ``m``
      periods tested (Bonferroni).

    Of the confirmed periods, the shortest is returned unless a longer one's seasonal naive
    forecast errs less: the mean absolute ``p``-step difference, over the mean absolute
    one-step difference and averaged over channels, smaller by more than ``NAIVE_MARGIN``
    (5%). A detrended autocorrelation would not tell: the moving average over a day removes
    the difference between weekdays and weekends that makes a weekly season the better one
    (half-hourly electricity demand: ``r_48`` 0.95, ``r_336`` 0.89, while repeating last
    week errs 3.2 times less than repeating yesterday). The periods tested
    are ``candidates``, else those of ``index``'s frequency (:func:`candidate_periods`). A
    period is tested only when two of its cycles remain to correlate: two cycles of a
    stationary series, three of a trending one (the moving average takes one).

    With no candidates and no frequency known (no ``index``, a numeric one, or one with no
    regular frequency), the periods 2 to ``n / 3`` are searched in the periodogram of the
    series differenced :func:`ndiffs` times (differencing scales the spectrum around a
    frequency, not a peak against its neighbours, whereas it drowns a slow cycle's
    autocorrelation). Frequency ``k / n`` is a clear peak when its periodogram value exceeds
    ``c`` times the lower median of the 10 values around it, ``c`` chosen so that on a
    locally flat spectrum (independent exponential values) each of the ``K`` frequencies
    searched passes with probability ``alpha / K``: ``c`` is 37 for 600 values, 90 for
    30000, so a season has to stand out. The five clearest peaks give periods ``n / (k +
    delta)``, rounded, with ``delta`` the peak's offset between Fourier frequencies from
    the three values around it (Jacobsen's estimator, Candan 2011), which are then tested
    as above with ``m = 1``; the multiples 2 to ``MAX_MULTIPLE`` (7) of those confirmed are
    tested too (Bonferroni over them), as a day's harmonics stand out more than a week.

    Parameters
    ----------
    y : array-like of shape (T,) or (T, C)
        The series. With several channels, their autocorrelations (and periodograms) are
        averaged. NaNs are interpolated linearly (leading and trailing ones dropped).
    index : pandas Index, optional
        ``y``'s time index: a DatetimeIndex or PeriodIndex with a frequency gives that
        frequency's candidates (a yearly one gives none, hence None).
    candidates : sequence of int, optional
        The periods to test, instead of those of ``index``; an empty sequence gives None.
    min_acf : float, default 0.1
        The smallest autocorrelation that confirms a period, however long the series.
    alpha : float, default 0.05
        The family-wise level of the tests.

    Returns
    -------
    int or None

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from tsargen.seasonality import seasonal_period
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(24 * 28)                      # four weeks of hourly data
    >>> y = 0.01 * t + np.sin(2 * np.pi * t / 24) + rng.normal(size=t.size)
    >>> seasonal_period(y, pd.date_range("2024-01-01", periods=t.size, freq="h"))
    24
    >>> seasonal_period(y)                          # no frequency: the periodogram searched
    24
    >>> print(seasonal_period(rng.normal(size=t.size), candidates=[24, 168]))
    None
    """
    series = _series(y)
    if not series:
        return None
    periods, z, searched = _periods_to_test(series, index, candidates, alpha)
    confirmed = _confirmed(series, periods, z, min_acf)
    if searched and confirmed:
        multiples = {k * p for p in confirmed for k in range(2, MAX_MULTIPLE + 1)} - set(periods)
        confirmed += _confirmed(series, multiples, _z(alpha, len(multiples)), min_acf)
    return _best_period(confirmed, series)


# ----------------------------------------------------------------------------------------------
# nsdiffs


def _stl(x, period):
    """STL with seasonal smoother 11 and statsmodels' other spans, each smoother evaluated at
    every tenth of its span and interpolated between (the default jumps of Cleveland et al.
    1990): two orders of magnitude faster on long periods (30000 minutes, period 1440: 22 s
    without) for strengths within about 0.01."""
    spans = STL(x, period=period, seasonal=11).config         # statsmodels' default spans
    jumps = {f"{name}_jump": -(-spans[name] // 10) for name in ("seasonal", "trend", "low_pass")}
    return STL(x, period=period, seasonal=11, trend=spans["trend"],
               low_pass=spans["low_pass"], **jumps).fit()


def _check_period(period):
    if period is not None and (int(period) != period or period < 0):
        raise ValueError(f"period must be a non-negative integer or None; got {period!r}.")
    return None if period is None else int(period)


def seasonal_strength(y, period):
    """The seasonal strength ``F_s = max(0, 1 - var(R) / var(S + R))`` of ``y`` (Wang, Smith &
    Hyndman 2006).

    ``S`` and ``R`` are the seasonal and remainder components of an STL decomposition
    (statsmodels ``STL``, seasonal smoother 11): near 1 when the season dominates what the
    trend leaves, near 0 without a season. On few cycles it overstates: the seasonal
    component then absorbs noise (:func:`nsdiffs` asks for six).

    Parameters
    ----------
    y : array-like of shape (T,) or (T, C)
        The series; for several channels, the largest strength. NaNs are interpolated
        linearly (leading and trailing ones dropped).
    period : int
        The seasonal period. A period below 2, or a channel constant or shorter than two
        periods, gives 0.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from tsargen.seasonality import seasonal_strength
    >>> rng = np.random.default_rng(0)
    >>> season = np.tile([0.0, 1.0, 3.0, 1.0], 25)
    >>> round(seasonal_strength(season + 0.3 * rng.normal(size=100), 4), 2)
    0.97
    """
    period = _check_period(period)
    strengths = [0.0]
    for x in _channels(y):
        if period is None or period < 2 or len(x) < 2 * period or _constant(x):
            continue
        fit = _stl(x, period)
        detrended = fit.seasonal + fit.resid
        if not _constant(detrended, np.max(np.abs(x))):  # else the trend is all (a line)
            strengths.append(max(0.0, 1 - np.var(fit.resid) / np.var(detrended)))
    return float(max(strengths))


#: :func:`nsdiffs` needs this many cycles and values: on five cycles the STL seasonal of white
#: noise often has a strength above 0.64 (2% of draws for period 12, 23% for period 4), on
#: two always, and periods 2 to 5 need 40 values to keep that under 1%.
MIN_SEASONAL_CYCLES, MIN_SEASONAL_OBS = 6, 40


def nsdiffs(y, period, *, threshold=0.64):
    """The seasonal differences (0 or 1) ``y`` needs, by its seasonal strength.

    One seasonal difference when the seasonal strength :func:`seasonal_strength` exceeds
    ``threshold`` (0.64, the forecast package's ``nsdiffs`` default for this heuristic; Wang,
    Smith & Hyndman 2006).

    Parameters
    ----------
    y : array-like of shape (T,) or (T, C)
        The series; for several channels, 1 if any channel needs it. NaNs are interpolated
        linearly (leading and trailing ones dropped).
    period : int or None
        The seasonal period (e.g. from :func:`seasonal_period`). None, a period below 2, or
        fewer than ``MIN_SEASONAL_CYCLES`` (6) cycles or ``MIN_SEASONAL_OBS`` (40) values
        give 0: the strength of so short a series says little.
    threshold : float, default 0.64
        The strength above which to difference.

    Returns
    -------
    int
        0 or 1.

    Examples
    --------
    >>> import numpy as np
    >>> from tsargen.seasonality import nsdiffs
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(120)                          # ten years of monthly data
    >>> nsdiffs(0.05 * t + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(size=120), 12)
    1
    >>> nsdiffs(rng.normal(size=120), 12), nsdiffs(rng.normal(size=60), 12)
    (0, 0)
    """
    period = _check_period(period)
    if period is None or period < 2:
        return 0
    channels = [x for x in _channels(y)
                if len(x) >= max(MIN_SEASONAL_CYCLES * period, MIN_SEASONAL_OBS)]
    return int(max((seasonal_strength(x, period) for x in channels), default=0.0) > threshold)
