"""The periodogram search behind :func:`tsargen.seasonality.seasonal_period` when no
frequency is known: the periods of the periodogram's clear peaks, to be confirmed by the
autocorrelation.

numpy only: importing this module does not load torch.
"""

import numpy as np

__all__ = ["peak_periods"]

#: With no frequency known, the periods of the periodogram's clearest peaks (this many) are
#: tested, each peak judged against the lower median of the periodogram over the
#: ``_SEARCH_WINDOW`` frequencies either side of it.
_SEARCH_PROPOSALS, _SEARCH_WINDOW = 5, 5


def peak_periods(xs, alpha):
    """The periods, as lags from 2 to n // 3, of the significant peaks (the
    ``_SEARCH_PROPOSALS`` largest) of the periodogram averaged over the 1-D arrays ``xs``
    (non-constant, cut to the shortest length n), each peak at family-wise level ``alpha``
    over the frequencies searched."""
    n = min((len(x) for x in xs), default=0)
    if n // 3 < 2:
        return []
    spectra = [np.fft.rfft(x[:n] - x[:n].mean()) for x in xs]
    power = np.mean([np.abs(s) ** 2 for s in spectra], axis=0)
    # a peak stands out from the level of the spectrum around it (coloured: a lower median of
    # the w neighbours either side, the bin itself left out)
    w = _SEARCH_WINDOW
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(power[1:], w, mode="reflect"),
                                                       2 * w + 1)
    neighbours = np.delete(windows, w, axis=1)
    level = np.partition(neighbours, w - 1, axis=1)[:, w - 1]
    ratio = power[1:] / np.maximum(level, np.finfo(float).tiny)
    k = np.arange(1, len(power))
    keep = (k >= 3) & (k < len(power) - 1)          # periods n / k up to n / 3
    k, ratio = k[keep], ratio[keep]
    if not len(k):
        return []
    order = np.argsort(-ratio, kind="stable")[:_SEARCH_PROPOSALS]
    top = k[order[ratio[order] > _ratio_bound(alpha / len(k), 2 * w)]]
    periods = {round(float(n / (f + _bin_offset(spectra, f, n)))) for f in top}
    return sorted(p for p in periods if 2 <= p <= n // 3)


def _ratio_bound(level, m):
    """The ``c`` with ``P(E > c X) = level`` for ``E`` and the ``m / 2``-th smallest ``X`` of
    ``m`` more independent Exp(1) variables -- periodogram values where the spectrum is
    locally flat. ``X`` is a sum of independent Exp(1) / (m - i) for i < m / 2, so
    ``P(E > c X) = E[exp(-c X)] = prod_i (m - i) / (m - i + c)``."""
    rates = m - np.arange(m // 2)

    def log_tail(c):
        return np.sum(np.log(rates / (rates + c)))

    lo, hi = 0.0, 1.0
    while log_tail(hi) > np.log(level):
        hi *= 2
    for _ in range(60):                             # bisection: the tail falls with c
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if log_tail(mid) < np.log(level) else (mid, hi)
    return hi


def _bin_offset(spectra, k, n):
    """Where between Fourier frequencies a peak at bin ``k`` lies, in bins (within 1/2):
    Jacobsen's three-bin estimate with Candan's (2011) bias correction, averaged over channels
    by power. A period is ``n / k`` only to within ``n / k ** 2`` lags: 1429 for 1440 minutes
    in 30000 (k = 21) without it."""
    weights, shifts = [], []
    for s in spectra:
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = np.real((s[k - 1] - s[k + 1]) / (2 * s[k] - s[k - 1] - s[k + 1]))
        if np.isfinite(shift):
            weights.append(abs(s[k]) ** 2)
            shifts.append(shift)
    if not shifts or not sum(weights):
        return 0.0
    shift = np.tan(np.pi / n) / (np.pi / n) * np.average(shifts, weights=weights)
    return float(np.clip(shift, -0.5, 0.5))
