"""Time indexes: the future dates of a forecast, and warnings for gapped or irregular indexes.

numpy and pandas only.
"""

import sys
import warnings

import numpy as np
import pandas as pd


def _regular(index):
    """True if ``index`` has a frequency its future follows exactly (inferred, or a calendar
    frequency with gaps); False for, e.g., market hours continued by their most common step."""
    if isinstance(index, pd.PeriodIndex):
        return True
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return False
    return _index_freq(index) is not None


def _most_common_step(index):
    """The most frequent gap between consecutive entries (a Timedelta for datetimes)."""
    steps = pd.Series(index[1:] - index[:-1])
    return steps.mode().iloc[0]


#: Calendar frequencies tried for a day-or-coarser index with gaps (no inferable freq).
_CALENDAR_FREQS = (("D", "B") + tuple(f"W-{d}" for d in ("MON", "TUE", "WED", "THU", "FRI",
                                                           "SAT", "SUN"))
                   + ("MS", "ME", "BMS", "BME")
                   + tuple(f"{q}-{m}" for q in ("QS", "QE", "YS", "YE")
                           for m in ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
                                     "SEP", "OCT", "NOV", "DEC")))


def _calendar_freq(index):
    """The calendar frequency every entry of ``index`` lies on, with the most gaps of exactly
    one period (e.g. ``"MS"`` for monthly data with a missing month, ``"B"`` for trading
    days with holidays, every 1, 3 or 12 months on the day of month of data stamped
    mid-month), or None when the most common step does that as well or better.
    Judged on the last 400 entries: the recent calendar is the one the future continues."""
    index = index[-400:]
    step = _most_common_step(index)
    if step < pd.Timedelta(1, "D"):
        return None                                     # intraday: market hours, events
    best, best_share = None, np.mean(np.asarray(index[1:] - index[:-1]) == step.to_timedelta64())
    freqs = _CALENDAR_FREQS
    day = index[0].day
    if 1 < day <= 28 and (index.day == day).all():     # e.g. monthly data stamped on the 15th
        freqs += tuple(pd.DateOffset(months=k) for k in (1, 3, 12))
    for freq in freqs:
        grid = pd.date_range(index[0], index[-1], freq=freq)
        pos = grid.get_indexer(index)
        if len(grid) > 100 * len(index) or (pos < 0).any():
            continue
        share = np.mean(np.diff(pos) == 1)
        if share > best_share:
            best, best_share = freq, share
    return best


def future_index(index, horizon):
    """The ``horizon`` steps after ``index``: by its frequency (inferred, or the calendar
    frequency it lies on when it has gaps), else its most common step; named like ``index``."""
    return None if index is None else _future_index(index, horizon).rename(index.name)


def infer_freq(index):
    """``pd.infer_freq`` without pandas 3's notice that it will return an offset (either
    works where tsargen uses it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will return a BaseOffset")
        return pd.infer_freq(index)


def _index_freq(index):
    """The frequency a DatetimeIndex (or TimedeltaIndex: no calendar) follows: its own, the
    one pandas infers, or the calendar frequency it lies on with gaps; None without any (or
    with fewer than 3 entries and no freq of its own)."""
    if index.freq is not None or len(index) < 3:
        return index.freq
    freq = infer_freq(index)
    if freq is None and isinstance(index, pd.DatetimeIndex):
        freq = _calendar_freq(index)
    return freq


def _future_index(index, horizon):
    if isinstance(index, pd.DatetimeIndex):
        freq = _index_freq(index)
        if freq is not None:
            return pd.date_range(index[-1], periods=horizon + 1, freq=freq, tz=index.tz)[1:]
        step = _most_common_step(index) if len(index) > 1 else pd.Timedelta(1, "D")
        return pd.DatetimeIndex([index[-1] + step * (k + 1) for k in range(horizon)])
    if isinstance(index, pd.PeriodIndex):
        return pd.period_range(index[-1] + 1, periods=horizon, freq=index.freq)
    if isinstance(index, pd.TimedeltaIndex):           # elapsed time
        step = _most_common_step(index) if len(index) > 1 else pd.Timedelta(1, "s")
        return pd.TimedeltaIndex([index[-1] + step * (k + 1) for k in range(horizon)])
    if pd.api.types.is_numeric_dtype(index.dtype):
        step = _most_common_step(index) if len(index) > 1 else 1
        values = index[-1] + step * np.arange(1, horizon + 1)
        return pd.RangeIndex(values[0], values[-1] + step, step) if (
            isinstance(index, pd.RangeIndex)) else pd.Index(values)
    raise TypeError(f"cannot extend an index of type {type(index).__name__} into the future; "
                    "use a DatetimeIndex, PeriodIndex or numeric index.")


class IrregularIndexWarning(UserWarning):
    """A time index (DatetimeIndex, PeriodIndex or TimedeltaIndex) with missing steps, or
    with no regular frequency at all.

    The forecasters model rows as consecutive steps: a gap in the index is not seen as time
    passing. Raised once per ``fit`` (and per ``update`` or ``y=`` history) saying how many
    steps are missing. Where rows are events by design -- market hours with overnight and
    weekend gaps, trading days with holidays -- silence it::

        warnings.filterwarnings("ignore", category=tsargen.IrregularIndexWarning)

    Numeric indexes (positions, event times) never raise it.
    """


#: The share of gaps a step must account for to be taken as the index's regular step.
_REGULAR_SHARE = 0.5


#: Entries of a stored index judged with the rows ``update`` appends to it.
_UPDATE_TAIL = 400


def _missing_steps(index):
    """``(n_missing, step)`` of a time index against its regular step: the frequency its
    forecast dates follow (:func:`_index_freq`), else its most common step when that makes
    up at least half the gaps and every gap is a multiple of it. ``(0, step)``: no gaps;
    ``(None, step)``: most gaps are ``step`` but some are not multiples of it; ``(None,
    None)``: no regular step; ``(0, None)``: not judged (numeric, or fewer than 3 entries)."""
    if len(index) < 3:
        return 0, None
    if isinstance(index, pd.PeriodIndex):
        span = (index.asi8[-1] - index.asi8[0]) // index.freq.n + 1
        return int(span - len(index)), index.freqstr
    if not isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)):
        return 0, None                  # positions or event times: irregular by design
    freq = _index_freq(index)
    if freq is not None:
        if index.freq is not None or isinstance(index, pd.TimedeltaIndex):
            return 0, freq              # an index's own or inferred freq has no gaps
        grid = pd.date_range(index[0], index[-1], freq=freq)
        if (grid.get_indexer(index) >= 0).all():        # on the calendar, maybe with gaps
            return len(grid) - len(index), freq
    gaps = index[1:] - index[:-1]
    step = _most_common_step(index)
    if np.mean(gaps == step) < _REGULAR_SHARE:
        return None, None
    if not (gaps % step == pd.Timedelta(0)).all():
        return None, step
    return int(np.sum(np.asarray(gaps // step) - 1)), step


def _freq_code(step):
    """A frequency as code ``asfreq`` takes: ``"'h'"`` for an hourly offset or Timedelta,
    ``"pd.DateOffset(months=1)"`` for an offset without an alias (data stamped mid-month)."""
    if isinstance(step, str):          # an inferred alias, or a PeriodIndex's ("M")
        return repr(step)
    offset = pd.tseries.frequencies.to_offset(step)
    if type(offset) is pd.DateOffset:
        return f"pd.DateOffset({', '.join(f'{k}={v}' for k, v in offset.kwds.items())})"
    return repr(offset.freqstr)


def warn_irregular(layouts, name, many, stored=None):
    """Warn once (:class:`IrregularIndexWarning`) about every series of ``layouts`` whose time
    index has missing steps or no regular frequency. With ``stored`` (the fitted layouts, for
    ``update``), only what the new rows add after the end of the stored index is judged: its
    gaps were reported at fit."""
    found = []                  # (series, what is wrong: in short, in full; asfreq alias)
    for i, layout in enumerate(layouts):
        index, where = layout.index, f"{name}[{i}]" if many else name
        if index is None or not len(index):
            continue
        if stored is None:
            missing, step = _missing_steps(index)
        else:
            tail = stored[i].index[-_UPDATE_TAIL:]
            before, _ = _missing_steps(tail)
            missing, step = _missing_steps(tail.append(index))
            if before is None:          # no regular frequency before either: said at fit
                continue
            if missing is not None:
                missing -= before
        subject = (f"{where}'s time index" if stored is None
                   else f"with the rows appended, {where}'s time index")
        code = None if step is None else _freq_code(step)
        text = None if code is None else code.strip("'")
        if missing is None and step is None:
            found.append((where, "no regular frequency", f"{subject} has no regular frequency "
                          "(no common step that every gap is a multiple of)", None))
        elif missing is None:
            found.append((where, "no regular step", f"{subject} has no regular step (most "
                          f"gaps are {text}, some are not multiples of it)", None))
        elif missing > 0:
            count = "1 step is" if missing == 1 else f"{missing} steps are"
            full = (f"{where}'s time index (step {text}) has gaps" if stored is None
                    else f"the rows appended to {where} leave gaps (step {text})")
            found.append((where, f"{count} missing (step {text})", f"{full}: {count} missing",
                          code if isinstance(index, pd.DatetimeIndex) and stored is None
                          else None))
    if not found:
        return
    with_new = " (with the rows appended)" if stored is not None else ""
    if len(found) == 1:
        where, _, head, alias = found[0]
    else:
        alias = None
        shown = "; ".join(f"{w}: {short}" for w, short, _, _ in found[:3])
        head = (f"{len(found)} of {len(layouts)} series in {name}{with_new} have irregular time "
                f"indexes ({shown}{'; ...' if len(found) > 3 else ''})")
    fix = (f"reindex ({where}.asfreq({alias})) to mark the gaps missing, or silence" if alias
           else "silence")
    warnings.warn(f"{head}. The model treats rows as consecutive events, not elapsed time: "
                  f"{fix} this with warnings.filterwarnings('ignore', "
                  "category=tsargen.IrregularIndexWarning).",
                  IrregularIndexWarning, stacklevel=_caller_level())


def _caller_level():
    """The ``stacklevel`` that makes a warning point at the first frame outside tsargen (the
    user's line, however deep in tsargen the warning is raised), for a ``warnings.warn``
    whose arguments call this."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "tsargen":
        frame, level = frame.f_back, level + 1
    return level
