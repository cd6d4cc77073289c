"""Log-magnitude spectrogram frames of a signal, and back by Griffin-Lim (numpy only).

Frame ``i`` covers samples ``[i * hop_length, i * hop_length + n_fft)`` (periodic Hann window,
no centring, as :func:`tsargen.audio.log_mel`), so frames are causal: a frame is complete once
its last sample is observed, and forecasting frames never peeks ahead of the signal.

Griffin-Lim (Griffin & Lim 1984, "Signal estimation from modified short-time Fourier
transform") finds a signal whose STFT magnitude matches the given one by alternating
projections; the momentum term is the "fast Griffin-Lim" of Perraudin, Balazs & Søndergaard
2013. NOTE: the phase is lost in a magnitude spectrogram, so the reconstruction matches the
original up to phase (for real signals, e.g. a sign flip or small time shifts of components).
"""

import math
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._registry import Registered
from ..constraints import Interval, check_param, validate_params


def _window(n_fft):
    """Periodic Hann window ``(n_fft,)``."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)


def stft(x, n_fft, hop_length):
    """Complex STFT ``(..., n_frames, n_fft // 2 + 1)`` of signals ``x (..., T)``."""
    n_frames = 1 + (x.shape[-1] - n_fft) // hop_length
    idx = np.arange(n_frames)[:, None] * hop_length + np.arange(n_fft)[None]   # (F, n_fft)
    return np.fft.rfft(x[..., idx] * _window(n_fft), axis=-1)


def istft(spec, n_fft, hop_length):
    """Least-squares inverse of :func:`stft` (weighted overlap-add): ``(..., F, n_fft//2+1)``
    -> ``(..., (F - 1) * hop_length + n_fft)``. Samples no window covers come out as 0."""
    win = _window(n_fft)
    frames = np.fft.irfft(spec, n=n_fft, axis=-1) * win                        # (..., F, n_fft)
    n_frames = spec.shape[-2]
    out = np.zeros(spec.shape[:-2] + ((n_frames - 1) * hop_length + n_fft,))
    norm = np.zeros(out.shape[-1])
    # frames r = ceil(n_fft / hop) apart never overlap: add each such group in one indexed op
    r = -(-n_fft // hop_length)
    for m in range(min(r, n_frames)):
        sel = np.arange(m, n_frames, r)
        pos = (sel[:, None] * hop_length + np.arange(n_fft)[None]).ravel()
        out[..., pos] += frames[..., sel, :].reshape(frames.shape[:-2] + (-1,))
        norm[pos] += np.tile(win ** 2, len(sel))
    return out / np.where(norm > 1e-10, norm, 1.0)


def griffin_lim(magnitude, n_fft, hop_length, *, n_iter=32, momentum=0.99, random_state=0):
    """Signals ``(..., T)`` whose STFT magnitude approximates ``magnitude (..., F, n_fft//2+1)``.

    Starts from random phases drawn with ``random_state`` and runs exactly ``n_iter``
    projections with momentum (``momentum=0`` is the original algorithm).
    """
    rng = check_random_state(random_state)
    angles = np.exp(2j * np.pi * rng.random_sample(magnitude.shape))
    previous = np.zeros_like(angles)
    for _ in range(n_iter):
        rebuilt = stft(istft(magnitude * angles, n_fft, hop_length), n_fft, hop_length)
        accelerated = rebuilt - (momentum / (1 + momentum)) * previous
        angles = accelerated / np.maximum(np.abs(accelerated), 1e-16)
        previous = rebuilt
    return istft(magnitude * angles, n_fft, hop_length)


class Spectrogram(Registered, TransformerMixin, BaseEstimator):
    """STFT log-magnitude frames of a 1-D or multichannel signal: a signal-image.

    ``transform`` maps a signal ``(T,)`` to frames ``(n_frames, n_fft // 2 + 1)`` and a
    multichannel signal ``(T, C)`` to ``(n_frames, n_fft // 2 + 1, C)``, with
    ``n_frames = 1 + (T - n_fft) // hop_length``; values are ``log(|STFT| + eps)``. A pandas
    Series with a time index gives a DataFrame indexed by the time of each frame's last
    sample, one column per frequency (Hz with ``sample_rate``, else cycles per sample).
    ``inverse_transform`` rebuilds a signal by Griffin-Lim (seeded, fixed iterations).

    Parameters
    ----------
    n_fft : int, default=256
        Frame length in samples (even, >= 4).
    hop_length : int or None, default=None
        Samples between frames; ``None`` means ``n_fft // 4``.
    eps : float, default=1e-5
        Floor inside the logarithm.
    sample_rate : float or None, default=None
        Only names the frequency columns of pandas output.
    n_iter : int, default=32
        Griffin-Lim iterations of ``inverse_transform``.
    momentum : float, default=0.99
        Fast Griffin-Lim momentum (0: the original algorithm).
    random_state : int, RandomState or None, default=0
        Initial phases of Griffin-Lim.

    Attributes
    ----------
    n_channels_ : int
    n_bins_ : int
        ``n_fft // 2 + 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from tsargen.transforms import Spectrogram
    >>> x = np.sin(2 * np.pi * 1000 * np.arange(8000) / 8000)       # 1 kHz tone at 8 kHz
    >>> sp = Spectrogram(n_fft=64, hop_length=16).fit(x)
    >>> S = sp.transform(x)
    >>> S.shape, int(S.mean(axis=0).argmax())          # bins are 8000 / 64 = 125 Hz apart
    ((497, 33), 8)
    >>> sp.inverse_transform(S).shape
    (8000,)
    """

    _parameter_constraints = {
        "n_fft": [Interval(Integral, 4, None, parity="even")],
        "hop_length": [None, Interval(Integral, 1, None)],
        "eps": [Interval(Real, 0, math.inf, closed="neither")],
        "sample_rate": [None, Interval(Real, 0, math.inf, closed="neither")],
        "n_iter": [Interval(Integral, 0, None)],
        "momentum": [Interval(Real, 0, 1)],
        "random_state": [None, Integral, np.random.RandomState],
    }

    def __init__(self, *, n_fft=256, hop_length=None, eps=1e-5, sample_rate=None, n_iter=32,
                 momentum=0.99, random_state=0):
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.eps = eps
        self.sample_rate = sample_rate
        self.n_iter = n_iter
        self.momentum = momentum
        self.random_state = random_state

    def _params(self):
        """-> ``(n_fft, hop_length)``; a hop beyond ``n_fft`` would leave samples out of every
        frame."""
        validate_params(self)
        n_fft = int(self.n_fft)
        if self.hop_length is None:
            return n_fft, n_fft // 4
        check_param(self.hop_length, "hop_length", [Interval(Integral, 1, n_fft, closed="both")],
                    f" (n_fft={n_fft})")
        return n_fft, int(self.hop_length)

    def _check_signal(self, X):
        """-> (signal float64 (C, T), index or None, was 1-D)."""
        n_fft, _ = self._params()
        index = X.index if isinstance(X, (pd.Series, pd.DataFrame)) else None
        if isinstance(X, (str, bytes, dict)) or X is None:
            raise TypeError(f"X must be a signal (T,) or (T, C); got {type(X).__name__}.")
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError("X must be a numeric signal (T,) or (T, C).") from None
        if arr.ndim not in (1, 2):
            raise ValueError(f"X must be a signal (T,) or (T, n_channels); got shape {arr.shape}.")
        if not np.isfinite(arr).all():
            where = tuple(np.argwhere(~np.isfinite(arr))[0].tolist())
            raise ValueError(f"X contains NaN or inf (first at {where}); fill or drop those "
                             "samples first.")
        if arr.shape[0] < n_fft:
            raise ValueError(f"X has {arr.shape[0]} samples but one frame needs n_fft={n_fft}; "
                             "pass a longer signal or lower n_fft.")
        one_d = arr.ndim == 1
        return (arr[None] if one_d else arr.T), index, one_d

    def fit(self, X, y=None):
        """Check the settings and record the number of channels."""
        sig, _, one_d = self._check_signal(X)
        self.n_channels_ = sig.shape[0]
        self.one_d_ = one_d
        self.n_bins_ = self._params()[0] // 2 + 1
        return self

    def transform(self, X):
        """Log-magnitude frames ``(n_frames, n_bins)`` or ``(n_frames, n_bins, C)``."""
        check_is_fitted(self)
        sig, index, one_d = self._check_signal(X)
        if sig.shape[0] != self.n_channels_:
            raise ValueError(f"X has {sig.shape[0]} channels but the transformer was fitted on "
                             f"{self.n_channels_}.")
        n_fft, hop = self._params()
        frames = np.log(np.abs(stft(sig, n_fft, hop)) + self.eps)               # (C, F, bins)
        if one_d:
            out = frames[0]
            if index is not None:
                last = np.arange(out.shape[0]) * hop + n_fft - 1
                freqs = np.fft.rfftfreq(n_fft, 1.0 / (self.sample_rate or 1.0))
                return pd.DataFrame(out, index=index[last], columns=freqs)
            return out
        return np.moveaxis(frames, 0, -1)

    def inverse_transform(self, X):
        """Signal(s) from log-magnitude frames by Griffin-Lim: ``(T,)`` or ``(T, C)`` with
        ``T = (n_frames - 1) * hop_length + n_fft``."""
        check_is_fitted(self)
        arr = np.asarray(X, dtype=np.float64)
        n_fft, hop = self._params()
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[1] != self.n_bins_:
            raise ValueError(f"X must be frames (n_frames, {self.n_bins_}) or (n_frames, "
                             f"{self.n_bins_}, n_channels); got shape {np.shape(X)}.")
        if not np.isfinite(arr).all():
            raise ValueError("X contains NaN or inf.")
        magnitude = np.maximum(np.exp(np.moveaxis(arr, -1, 0)) - self.eps, 0.0)  # (C, F, bins)
        x = griffin_lim(magnitude, n_fft, hop, n_iter=self.n_iter, momentum=self.momentum,
                        random_state=self.random_state)                          # (C, T)
        return x[0] if arr.shape[2] == 1 and (np.ndim(X) == 2) else x.T
