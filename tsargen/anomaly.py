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
"""

import numpy as np
import pandas as pd


def anomaly_score(log_likelihood, window=None, segments=None):
    """Negative log-likelihood per timestep (summed over channels), optionally smoothed.

    Parameters
    ----------
    log_likelihood : array-like (T,) or (T, C), or pandas Series/DataFrame
        Per-step log-likelihoods, e.g. from ``score_steps``. NaN (missing) entries count as 0
        in the channel sum; a step with every channel missing scores NaN.
    window : int, optional
        Trailing mean over this many steps (uses only the present and past, so it works
        online).
    segments : list of (start, stop), optional
        Instead of a per-step score, the mean per-step score over each ``[start, stop)``
        (e.g. one score per heartbeat).

    Returns
    -------
    ndarray (T,) (a Series for pandas input), or (n_segments,) with ``segments``.
    """
    index = log_likelihood.index if isinstance(log_likelihood, (pd.Series, pd.DataFrame)) else None
    ll = np.asarray(log_likelihood, dtype=float)
    if ll.ndim == 1:
        ll = ll[:, None]
    if ll.ndim != 2:
        raise ValueError(f"log_likelihood must be (T,) or (T, C), got shape {ll.shape}.")
    missing = np.isnan(ll).all(axis=1)
    score = -np.nansum(ll, axis=1)
    score[missing] = np.nan
    if segments is not None:
        out = []
        for start, stop in segments:
            if not 0 <= start < stop <= len(score):
                raise ValueError(f"segment ({start}, {stop}) is outside [0, {len(score)}].")
            out.append(np.nanmean(score[start:stop]))
        return np.array(out)
    if window is not None:
        if not isinstance(window, (int, np.integer)) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}.")
        score = pd.Series(score).rolling(window, min_periods=1).mean().to_numpy()
    return pd.Series(score, index=index, name="anomaly_score") if index is not None else score
