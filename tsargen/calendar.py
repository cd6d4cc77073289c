"""Calendar covariates: Fourier terms of the hour of day, day of week and day of year.

Known-future covariates made from the dates alone: the same timestamp gets the same values
whether it is in the history or among the forecast dates. numpy and pandas only (no torch).

Examples
--------
>>> import pandas as pd
>>> from tsargen.calendar import (calendar_features, calendar_harmonics, calendar_terms,
...                               history_and_future)
>>> index = pd.date_range("2024-01-01", periods=24 * 21, freq="h")     # 3 weeks, hourly
>>> calendar_terms(index)
['hour_of_day', 'day_of_week']
>>> calendar_harmonics(pd.date_range("2024-01-01", periods=40, freq="QS"), ["day_of_year"])
{'day_of_year': 1}
>>> past, future = history_and_future(index, 3, n_harmonics=1)
>>> list(future.columns)
['hour_of_day_sin1', 'hour_of_day_cos1', 'day_of_week_sin1', 'day_of_week_cos1']
>>> future.index[0]
Timestamp('2024-01-22 00:00:00')
"""

import numbers

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from .timeindex import future_index

#: The cycles, finest first, and the length of each. A year is a common year (365 days): the
#: span rule then asks for 730 days of data, and two calendar years always have that many.
PERIODS = {"hour_of_day": pd.Timedelta(days=1),
           "day_of_week": pd.Timedelta(days=7),
           "day_of_year": pd.Timedelta(days=365)}

#: Cycles a span must hold to keep a term: one cycle cannot be told from a trend or a one-off
#: event, two show it repeat.
MIN_CYCLES = 2


def _timestamps(index):
    """``index`` as a DatetimeIndex (a PeriodIndex by the start of each period), or None."""
    if isinstance(index, pd.PeriodIndex):
        return index.to_timestamp(how="start")
    if isinstance(index, pd.DatetimeIndex):
        return index
    return None


def _wall(times):
    """Local wall-clock time: the cycles people keep, whatever a time zone's UTC offset."""
    return times if times.tz is None else times.tz_localize(None)


def _offset_length(offset, ref):
    """The length of one step of a pandas frequency: exact for a fixed one (hours, days),
    else one period from ``ref`` rolled onto it (a month, a week anchored on a weekday)."""
    try:
        return pd.Timedelta(offset)
    except (TypeError, ValueError):
        start = offset.rollforward(ref)
        return (start + offset) - start


def _step(wall, freq, step):
    """The length of a step: ``step`` if given, else the index's fixed frequency, else its
    most common gap (a calendar frequency such as months), else one period of its frequency;
    None when none is known (a single timestamp without a frequency)."""
    if step is None:
        if freq is not None:
            try:
                return pd.Timedelta(freq)
            except (TypeError, ValueError):
                pass                    # months, quarters, anchored weeks: not fixed
        if len(wall) > 1:
            return pd.Series(wall[1:] - wall[:-1]).mode().iloc[0]
        if freq is None:
            return None
        step = freq
    if isinstance(step, (str, pd.DateOffset, pd.offsets.BaseOffset)):
        # a frequency alias: Timedelta cannot read "MS" and reads "1MS" as a millisecond
        return _offset_length(to_offset(step), wall[0])
    return pd.Timedelta(step)


def _wall_step(index, step):
    """-> (sorted unique wall times, step length) of a calendar index; ``(None, None)`` for an
    index without dates or a step that is unknown or not positive."""
    times = _timestamps(index)
    if times is None:
        return None, None
    wall = _wall(times.dropna()).unique().sort_values()    # a repeated wall hour counts once
    if not len(wall):
        return None, None
    step = _step(wall, times.freq, step)
    if step is None or step <= pd.Timedelta(0):
        return None, None
    return wall, step


def _check_terms(terms):
    terms = list(terms)
    unknown = [term for term in terms if term not in PERIODS]
    if unknown:
        raise ValueError(f"unknown calendar terms {unknown}; choose among {list(PERIODS)}.")
    return terms


def _check_n_harmonics(n_harmonics):
    if isinstance(n_harmonics, bool) or not isinstance(n_harmonics, numbers.Integral) or (
            n_harmonics < 1):
        raise ValueError(f"n_harmonics must be a positive integer, got {n_harmonics!r}.")


def calendar_terms(index, step=None, span=None):
    """The calendar cycles that a series with time index ``index`` can show.

    A cycle of length ``P`` (``PERIODS``: 1 day, 7 days, 365 days) is kept when

    - ``step <= P / 2``: at least two samples per cycle, so its phase varies between rows;
    - ``span >= 2 * P``: the history holds the cycle at least twice (``MIN_CYCLES``), so it
      can be told from a trend; yearly terms need two years of data.

    Step and span are measured in local wall-clock time, in which the cycles are defined: a
    day across a daylight-saving change counts as one day.

    Parameters
    ----------
    index : pandas.Index or None
        A DatetimeIndex (tz-aware or naive) or a PeriodIndex (taken at the start of each
        period). Any other index, or None, has no calendar: the result is ``[]``.
    step : str, pandas offset or Timedelta-like, optional
        The sampling step. Default: the index's frequency when it has a fixed length, else
        its most common gap between consecutive timestamps. With one timestamp and no
        frequency the step is unknown and the result is ``[]``.
    span : Timedelta-like, optional
        The time the series covers. Default: last timestamp - first timestamp + step.

    Returns
    -------
    list of str
        Among ``"hour_of_day"``, ``"day_of_week"``, ``"day_of_year"``, in that order.

    Examples
    --------
    >>> import pandas as pd
    >>> calendar_terms(pd.date_range("2020-01-01", periods=3 * 365, freq="D"))
    ['day_of_week', 'day_of_year']
    >>> calendar_terms(pd.date_range("2024-01-01", periods=2 * 96, freq="15min"))
    ['hour_of_day']
    >>> calendar_terms(pd.RangeIndex(100))
    []
    """
    wall, step = _wall_step(index, step)
    if step is None:
        return []
    span = wall[-1] - wall[0] + step if span is None else pd.Timedelta(span)
    return [term for term, period in PERIODS.items()
            if step <= period / 2 and span >= MIN_CYCLES * period]


def calendar_harmonics(index, terms, n_harmonics=2, step=None):
    """How many harmonics of each calendar cycle a series with time index ``index`` resolves.

    Harmonic ``k`` of a cycle of length ``P`` has period ``P / k``; sampled every ``step`` it
    is kept only below the Nyquist limit, ``k * step < P / 2`` (strictly: at the limit its
    sine is the same at every sample, or nearly so). Quarterly data, for example, keep the
    yearly fundamental but not its half-year harmonic, whose period is two quarters.

    Parameters
    ----------
    index : pandas.DatetimeIndex or pandas.PeriodIndex
        The series' time index (any other index: ``{}``).
    terms : list of str
        Cycles among ``"hour_of_day"``, ``"day_of_week"``, ``"day_of_year"``.
    n_harmonics : int, default 2
        The most harmonics to keep per term.
    step : str, pandas offset or Timedelta-like, optional
        The sampling step, as in :func:`calendar_terms` (default: from the index).

    Returns
    -------
    dict
        ``{term: n}`` with ``1 <= n <= n_harmonics``, in the order of ``terms``; a term whose
        fundamental is at or above the Nyquist limit is left out, as is every term when the
        step is unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> calendar_harmonics(pd.date_range("2024-01-01", periods=60, freq="6h"),
    ...                    ["hour_of_day", "day_of_week"], n_harmonics=3)
    {'hour_of_day': 1, 'day_of_week': 3}
    """
    _check_n_harmonics(n_harmonics)
    terms = _check_terms(terms)
    _, step = _wall_step(index, step)
    if step is None:
        return {}
    kept = {}
    for term in terms:
        n = sum(1 for k in range(1, n_harmonics + 1) if k * step < PERIODS[term] / 2)
        if n:
            kept[term] = n
    return kept


def _phases(times, term):
    """The phase in [0, 1) of each timestamp in the cycle ``term``, in local wall time."""
    wall = _wall(times)
    day = (wall - wall.normalize()) / pd.Timedelta(days=1)  # fraction of the day elapsed
    if term == "hour_of_day":
        phase = day
    elif term == "day_of_week":
        phase = (wall.day_of_week + day) / 7                # Monday 00:00 is 0
    else:
        days = np.where(wall.is_leap_year, 366, 365)
        phase = (wall.day_of_year - 1 + day) / days         # 1 January 00:00 is 0
    return np.asarray(phase, dtype=np.float64)


def calendar_features(index, terms, n_harmonics=2):
    """Fourier terms of the calendar cycles ``terms`` at each timestamp of ``index``.

    For each term and ``k = 1..n_harmonics``: ``sin(2 pi k phase)`` and ``cos(2 pi k
    phase)``, with the phase in local wall time (``f`` is the fraction of the day elapsed,
    ``(hour + minute / 60 + second / 3600) / 24``):

    - ``hour_of_day``: ``f``;
    - ``day_of_week``: ``(day_of_week + f) / 7``, Monday 00:00 being 0;
    - ``day_of_year``: ``(day_of_year - 1 + f) / n``, ``n`` the days in that year (365 or
      366), 1 January 00:00 being 0.

    Each row depends on its timestamp only: the same for a date in the history or in the
    forecast.

    Parameters
    ----------
    index : pandas.DatetimeIndex or pandas.PeriodIndex
        The timestamps (a PeriodIndex: the start of each period). With ``terms=[]`` any
        index is accepted.
    terms : list of str
        Cycles among ``"hour_of_day"``, ``"day_of_week"``, ``"day_of_year"``, e.g. from
        :func:`calendar_terms`.
    n_harmonics : int or dict, default 2
        Harmonics per term (a positive integer), or a dict ``{term: count}`` giving each term
        its own, e.g. from :func:`calendar_harmonics`.

    Returns
    -------
    pandas.DataFrame
        float64, indexed by ``index``, columns ``"{term}_sin{k}"``, ``"{term}_cos{k}"`` by
        term, then harmonic.

    Examples
    --------
    >>> import pandas as pd
    >>> index = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 06:00"])
    >>> calendar_features(index, ["hour_of_day"], n_harmonics=1).round(6)
                         hour_of_day_sin1  hour_of_day_cos1
    2024-01-01 00:00:00               0.0               1.0
    2024-01-01 06:00:00               1.0               0.0
    """
    terms = _check_terms(terms)
    if not isinstance(n_harmonics, dict):
        _check_n_harmonics(n_harmonics)
    counts = n_harmonics if isinstance(n_harmonics, dict) else dict.fromkeys(terms, n_harmonics)
    missing = [term for term in terms if term not in counts]
    if missing:
        raise ValueError(f"n_harmonics has no count for the terms {missing}.")
    for term in terms:
        _check_n_harmonics(counts[term])
    if not isinstance(index, pd.Index):
        raise TypeError(f"index must be a pandas Index, got {type(index).__name__}.")
    times = _timestamps(index)
    if times is None and terms:
        raise TypeError(f"calendar terms need a DatetimeIndex or PeriodIndex, got "
                        f"{type(index).__name__}; pass terms=[] for an index without dates.")
    columns = {}
    for term in terms:
        phase = _phases(times, term)
        for k in range(1, counts[term] + 1):
            angle = 2 * np.pi * k * phase
            columns[f"{term}_sin{k}"] = np.sin(angle)
            columns[f"{term}_cos{k}"] = np.cos(angle)
    return pd.DataFrame(columns, index=index, dtype=np.float64)


def history_and_future(index, horizon, terms=None, n_harmonics=2):
    """Calendar features for a history and for the ``horizon`` steps after it.

    The forecast dates are those the forecasters use, :func:`tsargen.timeindex.future_index`.

    Parameters
    ----------
    index : pandas.Index
        The history's time index.
    horizon : int
        The number of future steps (0 or more).
    terms : list of str, optional
        The cycles; default :func:`calendar_terms` of ``index``.
    n_harmonics : int, default 2
        Harmonics per term.

    Returns
    -------
    history, future : pandas.DataFrame
        :func:`calendar_features` of ``index`` and of its ``horizon`` future dates.

    Examples
    --------
    >>> import pandas as pd
    >>> index = pd.date_range("2024-01-01", periods=48, freq="h", tz="Europe/Paris")
    >>> past, future = history_and_future(index, 2, ["hour_of_day"], n_harmonics=1)
    >>> past.shape, future.shape
    ((48, 2), (2, 2))
    >>> future.round(6)
                               hour_of_day_sin1  hour_of_day_cos1
    2024-01-03 00:00:00+01:00          0.000000          1.000000
    2024-01-03 01:00:00+01:00          0.258819          0.965926
    """
    if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon < 0:
        raise ValueError(f"horizon must be a non-negative integer, got {horizon!r}.")
    if terms is None:
        terms = calendar_terms(index)
    history = calendar_features(index, terms, n_harmonics)
    return history, calendar_features(future_index(index, int(horizon)), terms, n_harmonics)
