"""Audio helpers: mu-law companding (ITU-T G.711 style, continuous form as in WaveNet §2.2).

Examples
--------
>>> import numpy as np
>>> from tsargen.audio import mu_law_encode, mu_law_decode
>>> levels = np.arange(256)
>>> bool((mu_law_encode(mu_law_decode(levels)) == levels).all())
True
"""

import numpy as np


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
