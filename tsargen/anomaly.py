"""Anomaly scores from per-step log-likelihoods (numpy/pandas only).

Recipe: fit a density or forecaster on normal data, take ``score_steps`` of new data (each
entry conditioned only on the past), and turn the log-likelihoods into surprise:

>>> import numpy as np
>>> from tsargen.anomaly import anomaly_score
>>> steps = np.log(np.full(10, 0.5))          # log-likelihood of 10 ordinary steps...
>>> steps[6] = np.log(1e-4)                   # ...and one very unlikely step
>>> int(np.argmax(anomaly_score(steps)))
6
>>> anomaly_score(steps, window=3)[6:9].round(2).tolist()       # (2 ln 2 + ln 1e4) / 3, causal
[3.53, 3.53, 3.53]
>>> anomaly_score(steps, segments=[(0, 5), (5, 10)]).round(2).tolist()
[0.69, 2.4]

A forecaster's ``score_steps`` of one series is ``(T,)`` or ``(T, C)``, as above. A density's
``score_steps`` is a panel, ``(n_series, T)`` or ``(n_series, T, C)`` (a list for series of
unequal lengths): pass ``panel=True`` to get one row of scores per series:

>>> panel = np.stack([np.log(np.full(10, 0.5)), steps])     # e.g. density.score_steps(X)
>>> anomaly_score(panel, panel=True).shape
(2, 10)
>>> anomaly_score(panel, panel=True, segments=[(0, 5), (5, 10)]).round(2).tolist()
[[0.69, 0.69], [0.69, 2.4]]
"""

import numbers

import numpy as np
import pandas as pd

from .constraints import check_param, check_positive_int


def _check_segments(segments, lengths):
    """``segments`` -> int arrays (starts, stops); each must lie inside every series."""
    try:
        pairs = [tuple(p) for p in segments]
    except TypeError:
        raise ValueError("segments must be a list of (start, stop) integer pairs, got "
                         f"{segments!r}.") from None
    for p in pairs:
        if len(p) != 2 or not all(isinstance(b, numbers.Integral) and not isinstance(b, bool)
                                  for b in p):
            raise ValueError(f"segment {p!r} must be a (start, stop) pair of integers (step "
                             "positions, e.g. (0, 5)); convert float bounds with int().")
    shortest = int(np.argmin(lengths))
    for start, stop in pairs:
        if not 0 <= start < stop <= lengths[shortest]:
            where = f" of series {shortest}" if len(lengths) > 1 else ""
            raise ValueError(f"segment ({start}, {stop}) is outside [0, {lengths[shortest]}]"
                             f"{where}; segments need 0 <= start < stop <= the number of steps.")
    bounds = np.array(pairs, dtype=np.intp).reshape(-1, 2)
    return bounds[:, 0], bounds[:, 1]


def _interval_means(score, starts, stops):
    """Mean over the non-NaN entries of ``score[:, start:stop]`` for each pair, ``(n, k)``.

    Cumulative sums keep it vectorised; infinities are counted apart (a window holding an
    impossible step scores inf, unlike pandas ``rolling``, which skips inf); an interval with
    no observed entry is NaN.
    """
    finite = np.isfinite(score)
    # centre each series first, so the cumulative sums stay small and their differences keep
    # their precision over long series
    centre = (np.where(finite, score, 0.0).sum(axis=1, keepdims=True)
              / np.maximum(finite.sum(axis=1, keepdims=True), 1))

    def cum(a):                                        # (n, T) -> (n, T + 1), starting at 0
        return np.concatenate([np.zeros((len(a), 1)), np.cumsum(a, axis=1)], axis=1)

    def between(c):
        return c[:, stops] - c[:, starts]

    total = between(cum(np.where(finite, score - centre, 0.0)))
    n_finite = between(cum(finite))
    n_pos, n_neg = between(cum(score == np.inf)), between(cum(score == -np.inf))
    mean = np.divide(total, n_finite, out=np.full(total.shape, np.nan), where=n_finite > 0)
    mean = mean + centre
    mean[n_pos > 0] = np.inf
    mean[n_neg > 0] = -np.inf
    mean[(n_pos > 0) & (n_neg > 0)] = np.nan           # inf - inf has no mean
    return mean


def _smooth(score, lengths, window, segments):
    """Per-step scores ``(n, T)`` -> segment means ``(n, k)``, trailing-window means
    ``(n, T)``, or the scores themselves."""
    if segments is not None:
        starts, stops = _check_segments(segments, lengths)
        return _interval_means(score, starts, stops)
    if window is not None:
        t = np.arange(score.shape[1])
        return _interval_means(score, np.maximum(t - window + 1, 0), t + 1)
    return score


def _step_scores(ll):
    """``(n, T, C)`` log-likelihoods -> ``(n, T)`` negative sums over channels (NaN where
    every channel is missing)."""
    score = -np.nansum(ll, axis=2)
    score[np.isnan(ll).all(axis=2)] = np.nan
    return score


def _is_series_list(obj):
    return isinstance(obj, (list, tuple)) and len(obj) > 0 and all(
        isinstance(s, (np.ndarray, pd.Series, pd.DataFrame)) and np.ndim(s) >= 1 for s in obj)


def _panel_score(log_likelihood, window, segments):
    """``anomaly_score(..., panel=True)``."""
    if isinstance(log_likelihood, (pd.Series, pd.DataFrame)):
        raise TypeError("panel=True needs a panel (n_series, T[, C]) array or a list of series; "
                        "a pandas Series/DataFrame is one series, so call with panel=False.")
    if isinstance(log_likelihood, (list, tuple)):
        if not log_likelihood:
            raise ValueError("log_likelihood is an empty list; pass at least one series.")
        items = [np.asarray(s, dtype=float) for s in log_likelihood]
        items = [s[:, None] if s.ndim == 1 else s for s in items]
        bad = [i for i, s in enumerate(items) if s.ndim != 2]
        if bad:
            raise ValueError(f"log_likelihood[{bad[0]}] must be one series (T,) or (T, C), got "
                             f"shape {np.shape(log_likelihood[bad[0]])}.")
        if len({s.shape[1] for s in items}) > 1:
            raise ValueError("the series in log_likelihood have different numbers of channels "
                             f"{sorted({s.shape[1] for s in items})}.")
        lengths = np.array([len(s) for s in items])
        # pad to a common length with NaN (missing): trailing padding changes no earlier window
        ll = np.full((len(items), lengths.max(), items[0].shape[1]), np.nan)
        for i, s in enumerate(items):
            ll[i, :len(s)] = s
    else:
        ll = np.asarray(log_likelihood, dtype=float)
        if ll.ndim == 2:
            ll = ll[:, :, None]
        if ll.ndim != 3:
            raise ValueError("with panel=True, log_likelihood must be (n_series, T), (n_series, "
                             f"T, C) or a list of series; got shape {ll.shape}. For one series "
                             "use panel=False.")
        lengths = np.full(len(ll), ll.shape[1])
        items = None
    if ll.shape[1] == 0:
        raise ValueError("log_likelihood has no timesteps.")
    score = _smooth(_step_scores(ll), lengths, window, segments)
    if items is None or segments is not None:
        return score
    out = []
    for s, row, n in zip(log_likelihood, score, lengths):
        row = row[:n]
        out.append(pd.Series(row, index=s.index, name="anomaly_score")
                   if isinstance(s, (pd.Series, pd.DataFrame)) else row)
    return out


def anomaly_score(log_likelihood, window=None, segments=None, *, panel=False):
    """Negative log-likelihood per timestep (summed over channels), optionally smoothed.

    Parameters
    ----------
    log_likelihood : array-like (T,) or (T, C), or pandas Series/DataFrame
        Per-step log-likelihoods of one series, e.g. a forecaster's ``score_steps``. NaN
        (missing) entries count as 0 in the channel sum; a step with every channel missing
        scores NaN. A step with log-likelihood -inf (impossible under the model) scores inf.
        With ``panel=True``: ``(n_series, T)``, ``(n_series, T, C)`` or a list of series of any
        lengths, e.g. a density's ``score_steps``.
    window : int, optional
        Trailing mean over this many steps, skipping missing (NaN) steps; a window with no
        observed step is NaN, and one holding an infinite score is infinite. Uses only the
        present and past, so it works online.
    segments : list of (start, stop), optional
        Instead of a per-step score, the mean per-step score over each ``[start, stop)``
        (e.g. one score per heartbeat); integer bounds, inside every series. Not combinable
        with ``window``.
    panel : bool, default=False
        Read ``log_likelihood`` as a panel with series along axis 0 (keyword only). A 2-D
        input without it is one series ``(T, C)``.

    Returns
    -------
    ndarray (T,) (a Series for pandas input), or (n_segments,) with ``segments``.
        With ``panel=True``: ``(n_series, T)`` (a list of ``(T_i,)`` scores for a list input,
        Series for pandas items), or ``(n_series, n_segments)`` with ``segments``.
    """
    check_param(panel, "panel", [bool])
    if window is not None:
        check_positive_int(window, "window", " (number of steps)")
    if window is not None and segments is not None:
        raise ValueError("pass window or segments, not both: segments already average the "
                         "per-step scores over each [start, stop).")
    if panel:
        return _panel_score(log_likelihood, window, segments)
    if _is_series_list(log_likelihood):
        raise ValueError(f"log_likelihood is a list of {len(log_likelihood)} series (e.g. "
                         "score_steps of a list); pass panel=True to score each one.")
    index = log_likelihood.index if isinstance(log_likelihood, (pd.Series, pd.DataFrame)) else None
    ll = np.asarray(log_likelihood, dtype=float)
    if ll.ndim == 1:
        ll = ll[:, None]
    if ll.ndim == 3:
        raise ValueError(f"log_likelihood has shape {ll.shape}, a panel (n_series, T, C) such as "
                         "a density's score_steps; pass panel=True to score each series.")
    if ll.ndim != 2:
        raise ValueError(f"log_likelihood must be (T,) or (T, C), got shape {ll.shape}.")
    score = _smooth(_step_scores(ll[None]), [len(ll)], window, segments)[0]
    if segments is not None:
        return score
    return pd.Series(score, index=index, name="anomaly_score") if index is not None else score
