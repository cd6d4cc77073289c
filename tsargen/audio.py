"""Audio helpers: wav files, mu-law companding (WaveNet §2.2), log-mel features, resampling.

Examples
--------
>>> import numpy as np
>>> from tsargen.audio import mu_law_encode, mu_law_decode
>>> levels = np.arange(256)
>>> bool((mu_law_encode(mu_law_decode(levels)) == levels).all())
True
"""

import numbers
from fractions import Fraction

import numpy as np

# Documented lazy imports: scipy (wav files, resampling) and torch (log_mel) are imported by the
# functions that use them, so that importing this module, as tsargen.transforms does for mu-law,
# loads neither (scipy.signal takes about 0.8 s, torch about 2 s).


def mu_law_encode(x, mu=255):
    """Map ``x`` in [-1, 1] to integer levels ``0..mu`` via ``sign(x) ln(1 + mu|x|) / ln(1 + mu)``.

    Values outside [-1, 1] are clipped.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.rint((y + 1.0) / 2.0 * mu).astype(np.int64)


def mu_law_decode(levels, mu=255):
    """Inverse of :func:`mu_law_encode`: integer levels ``0..mu`` -> values in [-1, 1]."""
    levels = np.asarray(levels)
    if levels.size and (levels.min() < 0 or levels.max() > mu):
        raise ValueError(f"mu-law levels must lie in [0, {mu}], got [{levels.min()}, "
                         f"{levels.max()}].")
    y = 2.0 * levels.astype(np.float64) / mu - 1.0
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


# ---------------------------------------------------------------------------- wav files
_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


def _check_rate(rate, name):
    """A sample rate as a positive int; whole floats (8000.0) pass, 8000.7 is an error."""
    if (isinstance(rate, bool) or not isinstance(rate, numbers.Real)
            or not (np.isfinite(rate) and rate == round(rate) and 0 < rate < 2 ** 32)):
        raise ValueError(f"{name} must be a positive whole number of samples per second "
                         f"(e.g. 8000), got {rate!r}; resample to an integer rate first.")
    return int(rate)


def read_wav(path, *, channel=None, sample_rate=None):
    """Read a wav file as float samples in [-1, 1] and its sample rate.

    Parameters
    ----------
    path : str or path-like
    channel : int, optional
        Which channel of a multichannel file; ``None`` averages the channels to mono.
    sample_rate : int, optional
        The rate the caller expects (e.g. a model's); a file at another rate is an error.

    Returns
    -------
    samples : ndarray of float64, shape (n_samples,)
    sample_rate : int
    """
    from scipy.io import wavfile

    try:
        rate, data = wavfile.read(path)
    except FileNotFoundError:
        raise
    except Exception as err:  # scipy raises ValueError/struct errors on malformed files
        raise ValueError(f"{path} is not a readable wav file ({err}).") from None
    if sample_rate is not None and rate != sample_rate:
        raise ValueError(f"{path} has sample rate {rate} Hz but {sample_rate} Hz is expected; "
                         "resample it first (tsargen.audio.resample).")
    if data.dtype in _INT_SCALE:
        x = data.astype(np.float64) / _INT_SCALE[data.dtype]
    elif data.dtype == np.uint8:
        x = (data.astype(np.float64) - 128.0) / 128.0
    elif data.dtype.kind == "f":
        x = data.astype(np.float64)
    else:
        raise ValueError(f"{path} has unsupported sample type {data.dtype}.")
    if x.ndim == 2:
        if channel is None:
            x = x.mean(axis=1)
        elif not 0 <= channel < x.shape[1]:
            raise ValueError(f"{path} has {x.shape[1]} channels; channel={channel} is out of "
                             "range.")
        else:
            x = x[:, channel]
    elif channel not in (None, 0):
        raise ValueError(f"{path} is mono; channel={channel} does not exist.")
    return x, int(rate)


def write_wav(path, x, sample_rate, *, dtype="int16"):
    """Write float samples in [-1, 1] (clipped) as a mono wav of ``dtype`` int16, int32 or
    float32. ``read_wav`` of an int16 file written here returns the same samples.

    ``sample_rate`` must be a positive whole number of Hz (a wav header holds an integer);
    ``8000.0`` is accepted, ``8000.7`` or ``0`` is a ``ValueError``."""
    from scipy.io import wavfile

    sample_rate = _check_rate(sample_rate, "sample_rate")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D (mono samples), got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or inf.")
    dtype = np.dtype(dtype)
    if dtype in _INT_SCALE:
        info = np.iinfo(dtype)
        data = np.clip(np.rint(x * _INT_SCALE[dtype]), info.min, info.max).astype(dtype)
    elif dtype == np.float32:
        data = np.clip(x, -1.0, 1.0).astype(np.float32)
    else:
        raise ValueError(f"dtype must be int16, int32 or float32, got {dtype}.")
    wavfile.write(path, sample_rate, data)


def resample(x, orig_rate, new_rate):
    """Polyphase resampling (scipy ``resample_poly``) by the exact rational ratio of rates
    (positive whole numbers of Hz)."""
    from scipy.signal import resample_poly

    ratio = Fraction(_check_rate(new_rate, "new_rate"), _check_rate(orig_rate, "orig_rate"))
    return resample_poly(np.asarray(x, dtype=np.float64), ratio.numerator, ratio.denominator)


# ---------------------------------------------------------------------------- features
def mel_filterbank(sample_rate, n_fft, n_mels, fmin=0.0, fmax=None):
    """Triangular mel filters (HTK mel scale), ``(n_mels, n_fft // 2 + 1)``."""
    fmax = sample_rate / 2 if fmax is None else fmax

    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs - lo) / (mid - lo)
    down = (hi - freqs) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down))


def log_mel(x, sample_rate, *, n_fft=256, hop_length=64, n_mels=40, fmin=0.0, fmax=None,
            eps=1e-5, center=False):
    """Log-mel spectrogram frames ``(n_frames, n_mels)`` of mono samples ``x``.

    Without centring, frame ``i`` covers samples ``[i * hop_length, i * hop_length + n_fft)``
    (Hann window), so ``n_frames = 1 + (len(x) - n_fft) // hop_length``. With ``center=True``
    the signal is reflect-padded by ``n_fft // 2`` on both sides, frame ``i`` is centred on
    sample ``i * hop_length`` and ``n_frames = 1 + len(x) // hop_length``: the frames then cover
    every sample, as local conditioning (``WaveNetDensity(cond_hop=hop_length)``) needs.
    """
    import torch

    x = np.asarray(x, dtype=np.float64)
    short = len(x) <= n_fft // 2 if center else len(x) < n_fft
    if x.ndim != 1 or short:
        raise ValueError(f"x must be 1-D with at least {n_fft // 2 + 1 if center else n_fft} "
                         f"samples (n_fft={n_fft}, center={center}), got shape {x.shape}.")
    spec = torch.stft(torch.from_numpy(x), n_fft, hop_length, window=torch.hann_window(
        n_fft, dtype=torch.float64), center=center, pad_mode="reflect",
        return_complex=True).abs().numpy() ** 2
    mel_power = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax) @ spec   # (n_mels, F)
    return np.log(mel_power + eps).T
