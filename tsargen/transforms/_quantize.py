"""Quantizing transformers: continuous values <-> integer levels.

Both work column-wise on ``(n_samples, n_features)`` arrays (a series ``(T, C)`` is such an
array) and map back with ``inverse_transform``.
"""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._registry import Registered
from ..audio import mu_law_decode, mu_law_encode
from ..constraints import Interval, Options, validate_params


class _LevelsTransformer(Registered, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Base: the output is integer levels whatever the input dtype."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _check_levels(self, X, n_levels):
        """Validate ``inverse_transform``'s input -> (float levels, NaN mask)."""
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"levels must be numeric (integers 0..{n_levels - 1}), got dtype "
                            f"{X.dtype}.")
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n, {self.n_features_in_}), got {X.shape}.")
        X = X.astype(np.float64)
        missing = np.isnan(X)
        given = X[~missing]
        bad = given[np.isinf(given)]
        if bad.size:
            raise ValueError(f"levels contain {bad[0]}; use NaN to mark a missing level.")
        bad = given[given != np.round(given)]
        if bad.size:
            raise ValueError(f"levels must be integers, got {bad[0]:g}; round them first "
                             "(transform returns integer levels).")
        bad = given[(given < 0) | (given > n_levels - 1)]
        if bad.size:
            raise ValueError(f"levels must lie in [0, {n_levels - 1}], got {bad[0]:g}.")
        return X, missing


class MuLaw(_LevelsTransformer):
    """Mu-law companding to ``mu + 1`` integer levels (WaveNet's 8-bit audio encoding).

    Values are divided by ``scale`` (fitted as the largest absolute value per feature when
    ``scale=None``), clipped to [-1, 1] and companded.

    ``inverse_transform`` takes integer levels ``0..mu`` (a float array of whole numbers is
    fine); NaN marks a missing level and comes back as NaN. Fractional, out-of-range or
    infinite levels are a ``ValueError``. ``transform`` refuses NaN: integer levels cannot
    hold it.

    Examples
    --------
    >>> import numpy as np
    >>> from tsargen.transforms import MuLaw
    >>> x = np.array([[-0.5], [0.0], [0.25], [1.0]])
    >>> mu = MuLaw().fit(x)
    >>> mu.transform(x).ravel().tolist()
    [16, 128, 223, 255]
    >>> np.abs(mu.inverse_transform(mu.transform(x)) - x).max() < 0.01
    np.True_
    """

    _parameter_constraints = {"mu": [Interval(Integral, 1, None)],
                              "scale": [None, Interval(Real, 0, math.inf, closed="neither")]}

    def __init__(self, *, mu=255, scale=None):
        self.mu = mu
        self.scale = scale

    def fit(self, X, y=None):
        validate_params(self)
        X = validate_data(self, X, ensure_all_finite=True)
        if self.scale is None:
            scale = np.abs(X).max(axis=0)
            self.scale_ = np.where(scale > 0, scale, 1.0)
        else:
            self.scale_ = np.full(X.shape[1], float(self.scale))
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite=True)
        return mu_law_encode(X / self.scale_, self.mu)

    def inverse_transform(self, X):
        check_is_fitted(self)
        X, missing = self._check_levels(X, self.mu + 1)
        out = mu_law_decode(np.where(missing, 0, X).astype(np.int64), self.mu) * self.scale_
        out[missing] = np.nan
        return out


class Quantizer(_LevelsTransformer):
    """Bin continuous values per feature into ``n_bins`` integer levels.

    Parameters
    ----------
    n_bins : int, default=256
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins over the fitted range, or bins holding equal shares of the data.

    ``inverse_transform`` returns bin centres. Values outside the fitted range go to the outer
    bins. A constant feature gets zero-width bins at its value: ``transform`` maps the value
    to level ``n_bins - 1`` (values below it to 0) and every level maps back to the value, so
    the constant round-trips exactly.

    ``inverse_transform`` takes integer levels ``0..n_bins - 1`` (a float array of whole
    numbers is fine); NaN marks a missing level and comes back as NaN. Fractional,
    out-of-range or infinite levels are a ``ValueError``. ``transform`` refuses NaN: integer
    levels cannot hold it.

    Examples
    --------
    >>> import numpy as np
    >>> from tsargen.transforms import Quantizer
    >>> q = Quantizer(n_bins=4).fit(np.array([[0.0], [4.0]]))
    >>> q.transform(np.array([[0.5], [1.5], [3.9], [9.0]])).ravel().tolist()
    [0, 1, 3, 3]
    >>> q.inverse_transform(np.array([[0], [3]])).ravel().tolist()
    [0.5, 3.5]
    """

    _parameter_constraints = {"n_bins": [Interval(Integral, 2, None)],
                              "strategy": [Options(("uniform", "quantile"))]}

    def __init__(self, *, n_bins=256, strategy="uniform"):
        self.n_bins = n_bins
        self.strategy = strategy

    def fit(self, X, y=None):
        validate_params(self)
        X = validate_data(self, X, ensure_all_finite=True)
        probs = np.linspace(0, 1, self.n_bins + 1)
        edges = []
        for col in X.T:
            lo, hi = col.min(), col.max()
            if hi <= lo:
                # a single value: every bin is that point, so its centre is the value exactly
                e = np.full(self.n_bins + 1, lo)
            elif self.strategy == "uniform":
                e = lo + probs * (hi - lo)
            else:
                # ties (discrete data) would leave empty bins: keep edges strictly increasing
                ramp = np.arange(self.n_bins + 1) * 1e-9 * (hi - lo)
                e = np.maximum.accumulate(np.quantile(col, probs) - ramp) + ramp
            edges.append(e)
        self.bin_edges_ = np.array(edges)
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite=True)
        out = np.empty(X.shape, dtype=np.int64)
        for j, e in enumerate(self.bin_edges_):
            out[:, j] = np.clip(np.searchsorted(e[1:-1], X[:, j], side="right"), 0,
                                self.n_bins - 1)
        return out

    def inverse_transform(self, X):
        check_is_fitted(self)
        X, missing = self._check_levels(X, self.n_bins)
        centres = 0.5 * (self.bin_edges_[:, 1:] + self.bin_edges_[:, :-1])
        out = np.take_along_axis(centres.T, np.where(missing, 0, X).astype(np.int64), axis=0)
        out[missing] = np.nan
        return out
