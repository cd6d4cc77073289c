"""Seasonal periods usual for a time index's frequency: the tables behind
:func:`tsargen.seasonality.candidate_periods` (re-exported there, its public home).

pandas only: importing this module does not load torch.
"""

import warnings

import pandas as pd
from pandas.tseries import offsets

from .timeindex import _index_freq

__all__ = ["candidate_periods"]

_NS_DAY, _NS_WEEK = 86_400 * 10**9, 7 * 86_400 * 10**9


def _offset(freq):
    """``freq`` (an alias, including period aliases such as ``"M"``, or an offset) as a pandas
    offset."""
    if isinstance(freq, offsets.BaseOffset):
        return freq
    try:
        return pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return pd.Period("2000-01-01", freq=freq).freq   # period-only aliases: M, Q, Y
    except (ValueError, TypeError):
        raise ValueError(f"unknown frequency {freq!r}; use a pandas alias such as 'h', "
                         "'D', 'W-SUN', 'ME' or 'QE'.") from None


def _periods_per(cycle, step):
    """``cycle / step`` when it is a whole number of at least 2, else None."""
    ratio = cycle / step
    return round(ratio) if ratio >= 2 and abs(ratio - round(ratio)) < 1e-9 else None


def _usual_periods(offset):
    """The usual seasonal periods of one step of ``offset`` (before the two-cycles rule)."""
    n = offset.n
    if isinstance(offset, offsets.Day):             # before Tick: a Tick in pandas 2
        if n % 7 == 0:                              # "7D": weekly
            return [_periods_per(52, n // 7)]
        return [_periods_per(7, n), _periods_per(365, n)]       # a week, a year
    if isinstance(offset, offsets.Tick):            # hours, minutes, seconds, ...
        return [_periods_per(cycle, offset.nanos) for cycle in (_NS_DAY, _NS_WEEK)]
    if isinstance(offset, offsets.BusinessDay):     # a business week
        return [_periods_per(5, n)]
    if isinstance(offset, offsets.Week):            # a year: 52 weeks
        return [_periods_per(52, n)]
    if isinstance(offset, (offsets.SemiMonthEnd, offsets.SemiMonthBegin)):
        return [_periods_per(24, n)]
    if isinstance(offset, (offsets.MonthEnd, offsets.MonthBegin, offsets.BusinessMonthEnd,
                           offsets.BusinessMonthBegin)):
        return [_periods_per(12, n)]
    if isinstance(offset, (offsets.QuarterEnd, offsets.QuarterBegin, offsets.BQuarterEnd,
                           offsets.BQuarterBegin)):
        return [_periods_per(4, n)]
    months = getattr(offset, "kwds", {}).get("months")  # monthly data stamped mid-month
    if type(offset) is pd.DateOffset and months and set(offset.kwds) == {"months"}:
        return [_periods_per(12, n * months)]
    return []                                       # yearly and anything else: no season


def _freq_of(index):
    """The frequency of a PeriodIndex or DatetimeIndex (its own, inferred, or the calendar
    frequency it lies on with gaps), else (other indexes, None) None."""
    if isinstance(index, pd.PeriodIndex):
        return index.freq
    if isinstance(index, pd.DatetimeIndex):
        return _index_freq(index)
    return None


def candidate_periods(index_or_freq, n_obs=None):
    """The usual seasonal periods of a frequency, kept when ``n_obs`` holds two full cycles.

    ============================  ========================
    frequency                     candidate periods
    ============================  ========================
    hourly (``"h"``)              24 (a day), 168 (a week)
    half-hourly (``"30min"``)     48, 336
    15-minute (``"15min"``)       96, 672
    minutely (``"min"``)          1440, 10080
    daily (``"D"``)               7, 365
    business daily (``"B"``)      5
    weekly (``"W-SUN"``, ...)     52
    monthly (``"ME"``, ``"MS"``)  12
    quarterly (``"QE"``, ...)     4
    yearly                        none
    ============================  ========================

    Other sub-daily steps get the steps in a day and in a week when whole (``"2h"``: 12,
    84); multiples of the calendar steps divide their period when whole (``"2W"``: 26).

    Parameters
    ----------
    index_or_freq : DatetimeIndex, PeriodIndex, str, DateOffset or None
        A time index (its own frequency, else the one inferred from it, including a calendar
        frequency with gaps), a frequency alias (pandas 3 aliases such as ``"h"``, ``"min"``,
        ``"ME"``, ``"QE"``, ``"W-SUN"``, and period aliases such as ``"M"``) or offset. None,
        another kind of index, or an index with no regular frequency give ``[]``.
    n_obs : int, optional
        The length of the series; defaults to the length of the index. A period is kept only
        when ``n_obs >= 2 * period``: fewer than two full cycles cannot show a season.

    Returns
    -------
    list of int
        Ascending.

    Examples
    --------
    >>> import pandas as pd
    >>> from tsargen.seasonality import candidate_periods
    >>> candidate_periods("h", 400)                     # a week needs 336 hours
    [24, 168]
    >>> candidate_periods("h", 300)
    [24]
    >>> candidate_periods(pd.date_range("2020-01-01", periods=800, freq="D"))
    [7, 365]
    >>> candidate_periods(pd.period_range("2000-01", periods=60, freq="M"))
    [12]
    >>> candidate_periods("YE", 100), candidate_periods(None, 100)
    ([], [])
    """
    if index_or_freq is None:
        return []
    if isinstance(index_or_freq, pd.Index):
        index = index_or_freq
        if n_obs is None:
            n_obs = len(index)
        freq = _freq_of(index)
        if freq is None:
            return []                               # positions, elapsed time, no regular step
    else:
        freq = index_or_freq
        if n_obs is None:
            raise ValueError("n_obs is required with a frequency (it defaults to the length "
                             "of an index only).")
    periods = _usual_periods(_offset(freq))
    return sorted({p for p in periods if p is not None and 2 * p <= n_obs})
