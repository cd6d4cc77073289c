"""What every forecaster that draws sample paths shares: the public forecasting surface
(``predict`` / ``predict_quantiles`` / ``predict_interval`` / ``sample`` / ``score`` /
``update``) and output formatting, written once (see docs/architecture.md).

A subclass (``WaveNetForecaster``, ``SignalImageForecaster``) implements four hooks:

* ``_check_targets(y, name="y", fitted=True, warn=True) -> (values, layouts, many)``: each
  series as an array ``(T, *element)`` plus its :class:`Layout`;
* ``_resolve(fh, y, X) -> histories``: whatever ``_paths`` needs to continue the stored
  series (``y=None``) or new histories ``y``, with their covariates;
* ``_paths(fh, histories, n_paths, seed)``: per series, sample paths ``(n_paths, fh,
  *element)`` in the data's units;
* ``_score_arrays(values, covs) -> [(T, *element) arrays]``: per-element log-likelihoods;

and ``_append_history(i, values, covs)`` for ``update``. An element is one timestep: ``(C,)``
channels for a series, ``(n_bins, C)`` for a signal-image row.

Calendar covariates (a ``time_features`` parameter, declared with ``TIME_FEATURES``): ``fit``
chooses the terms with ``_time_terms(layouts)`` and appends their columns to the user's
covariates with ``_time_covariates``, as ``_resolve`` does for the forecast dates; ``score`` and
``update`` append them here, before the hooks see the covariates.
"""

import dataclasses
import numbers

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._registry import Registered
from ..calendar import PERIODS, calendar_features, calendar_harmonics, calendar_terms
from ..constraints import Check, Options
from ..timeindex import future_index, warn_irregular
from ..validation import check_coverage, check_horizon, check_index, check_quantiles
from ._base import TsargenEstimator
from ._runtime import make_seed

#: Most harmonics per calendar term; fewer where the step leaves fewer below the Nyquist limit.
TIME_HARMONICS = 2

#: The constraint of a ``time_features`` parameter: "auto", None, or a list of terms.
TIME_FEATURES = [None, Options(("auto",)), Check(
    lambda v: isinstance(v, (list, tuple)) and len(set(v)) == len(v) and all(
        isinstance(t, str) and t in PERIODS for t in v),
    f"a list of distinct calendar terms among {list(PERIODS)}")]


def _dated(index):
    """True for a time index that has a calendar (a PeriodIndex's periods have one too)."""
    return isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex))


def interval_quantiles(coverages):
    """The quantile levels ``(lower_1, upper_1, lower_2, ...)`` of central intervals."""
    return np.stack([(1 - coverages) / 2, (1 + coverages) / 2], axis=1).ravel()


def quantiles_to_intervals(quant, coverages, one):
    """``predict_quantiles`` output at :func:`interval_quantiles` levels -> intervals: arrays
    ``(..., 2)`` for one coverage, ``(..., n_coverages, 2)`` for several (last axis lower,
    upper); DataFrames get columns ``(<variable levels>, coverage, bound)``. Lists map."""
    if isinstance(quant, list):
        return [quantiles_to_intervals(q, coverages, one) for q in quant]
    if isinstance(quant, pd.DataFrame):
        variables = quant.columns.droplevel(-1).unique()
        keys = [v if isinstance(v, tuple) else (v,) for v in variables]
        cols = pd.MultiIndex.from_tuples(
            [(*k, float(c), b) for k in keys for c in coverages for b in ("lower", "upper")],
            names=list(quant.columns.names[:-1]) + ["coverage", "bound"])
        return pd.DataFrame(quant.to_numpy(), index=quant.index, columns=cols)
    out = quant.reshape(*quant.shape[:-1], len(coverages), 2)
    return out[..., 0, :] if one else out


@dataclasses.dataclass(eq=False)        # fields hold pandas indexes: compare them explicitly
class Layout(Registered):
    """How one series came in, so that every output mirrors it (pandas in, pandas out).

    ``kind`` is how it was given (``"1d"``, ``"2d"``, ``"3d"``, ``"series"`` or ``"frame"``);
    ``squeeze``: outputs drop the element's last (channel) axis, as for a 1-D series or a
    one-channel signal-image; ``level``: the name of the column level of quantile frames.
    """

    kind: str
    index: object = None              # the time index of a pandas input, else None
    columns: list = None              # a DataFrame's columns (tuples for a MultiIndex)
    column_names: list = None         # its ``columns.names``
    name: object = None               # a Series' name
    dtype: str = None                 # an array input's dtype, for outputs of integer levels
    squeeze: bool = False
    level: str = "variable"

    @property
    def pandas(self):
        return self.kind in ("series", "frame")

    def future(self, fh):
        """The ``fh`` timestamps after the series' end, or None for an array input."""
        return None if self.index is None else future_index(self.index, fh)

    def frame_columns(self):
        """The DataFrame's columns as they came in: names and MultiIndex levels kept."""
        cols, names = self.columns, self.column_names
        if cols and all(isinstance(c, tuple) for c in cols):
            return pd.MultiIndex.from_tuples(cols, names=names)
        return pd.Index(cols, name=names[0] if names else None)

    def targets(self):
        """One label per target: the Series' name (0 when unnamed) or the frame's columns."""
        return [0 if self.name is None else self.name] if self.kind == "series" else self.columns

    def _squeezed(self, arr, axis):
        return arr.take(0, axis=axis) if self.squeeze else arr

    def shaped(self, arr, index):
        """``arr (T, *element)`` laid out as the input: array, Series or DataFrame."""
        arr = self._squeezed(arr, -1)
        if self.kind == "series":
            return pd.Series(arr, index=index, name=self.name)
        if self.kind == "frame":
            return pd.DataFrame(arr, index=index, columns=self.frame_columns())
        return arr

    def point(self, arr, fh):
        """A point forecast ``(fh, *element)`` indexed by the future."""
        return self.shaped(arr, self.future(fh))

    def quantiles(self, arr, q, fh):
        """Quantiles ``(fh, *element, Q)``: arrays, or a frame with columns ``(target,
        quantile)``."""
        arr = self._squeezed(arr, -2)
        if not self.pandas:
            return arr
        cols = pd.MultiIndex.from_product([self.targets(), q.tolist()],
                                          names=[self.level, "quantile"])
        return pd.DataFrame(arr.reshape(fh, -1), index=self.future(fh), columns=cols)

    def samples(self, paths, fh):
        """Sample paths ``(n, fh, *element)`` as a long frame indexed by (sample, time)."""
        n = paths.shape[0]
        flat = self._squeezed(paths, -1).reshape(n * fh, -1)
        idx = pd.MultiIndex.from_product([range(n), self.future(fh)], names=["sample", "time"])
        cols = self.targets() if self.kind == "series" else self.frame_columns()
        return pd.DataFrame(flat, index=idx, columns=cols)

    def continued(self, new):
        """This layout with the index of ``new`` (the rows ``update`` appends) appended."""
        if self.index is None:
            return self
        index = check_index(self.index.append(new.index), "y")
        return dataclasses.replace(self, index=index)


class PathForecaster(TsargenEstimator):
    """Base of forecasters that draw sample paths (see the module docstring for the hooks).

    Fitted state it reads: ``layouts_`` (one :class:`Layout` per fitted series), ``multi_``
    (fitted on a list), ``history_`` and ``history_X_`` (stored series and covariates).
    """

    # ---------------------------------------------------------------- calendar covariates
    def _time_terms(self, layouts):
        """The calendar terms of a fit on the series laid out as ``layouts``, each with its
        number of harmonics: ``{term: n}`` in the order of ``tsargen.calendar.PERIODS``.

        ``time_features="auto"``: the cycles some series holds at least twice and samples
        more than twice per period (:func:`~tsargen.calendar.calendar_terms`), none unless every
        series has a DatetimeIndex or PeriodIndex; a list: those terms, which every series
        must be able to date. Harmonic ``k`` is kept below the Nyquist limit of some series'
        step (:func:`~tsargen.calendar.calendar_harmonics`), at most ``TIME_HARMONICS``."""
        setting = getattr(self, "time_features", None)
        if setting is None or (not isinstance(setting, str) and not len(setting)):
            return {}
        auto = isinstance(setting, str)
        indexes = [layout.index for layout in layouts]
        if not all(_dated(index) for index in indexes):
            if auto:
                return {}
            raise ValueError(f"time_features={list(setting)} needs every series of y with a "
                             "DatetimeIndex or PeriodIndex (a Series or DataFrame indexed by "
                             "its dates); pass time_features=None for other series.")
        chosen = {}
        for index in indexes:
            terms = calendar_terms(index) if auto else setting
            for term, n in calendar_harmonics(index, terms, TIME_HARMONICS).items():
                chosen[term] = max(chosen.get(term, 0), n)
        coarse = [] if auto else [term for term in setting if term not in chosen]
        if coarse:
            raise ValueError(f"y's time step is too coarse for the calendar terms {coarse}: a "
                             "cycle needs more than two steps per period; leave them out of "
                             "time_features.")
        return {term: chosen[term] for term in PERIODS if term in chosen}

    def _time_covariates(self, covs, layouts, lengths, extra=0, terms=None):
        """``covs`` (the user's covariates, one array per series, or None) with the calendar
        columns appended: for series ``i``, the ``lengths[i]`` history rows dated by
        ``layouts[i].index`` (0: none, e.g. when forecasting the stored series) and then the
        ``extra`` forecast dates after that index (those of the pandas output). ``terms``:
        ``{term: n_harmonics}``, default the fitted ``time_harmonics_``; without any, ``covs``
        comes back as it is."""
        terms = getattr(self, "time_harmonics_", None) if terms is None else terms
        if not terms:
            return covs
        out = []
        for i, (layout, t) in enumerate(zip(layouts, lengths)):
            index = layout.index
            if not _dated(index):
                name = f"y[{i}]" if len(layouts) > 1 else "y"
                raise ValueError(
                    f"{name} has no DatetimeIndex or PeriodIndex, but the model was fitted with "
                    f"calendar features of y's dates (time_features_={list(terms)}): pass {name} "
                    "as a Series or DataFrame indexed by its dates, or fit with "
                    "time_features=None.")
            parts = [] if covs is None else [covs[i]]
            dates = [index] if t else []
            if extra:
                dates.append(future_index(index, extra))
            calendar = [calendar_features(d, list(terms), terms).to_numpy() for d in dates]
            out.append(np.hstack(parts + [np.concatenate(calendar)]))
        return out

    # ---------------------------------------------------------------- paths
    def _predict_seed(self):
        """The seed of the paths behind ``predict``: those of ``sample(n_paths,
        random_state=random_state)`` for an int ``random_state``, else of ``random_state=0``."""
        return make_seed(self.random_state if isinstance(self.random_state, numbers.Integral)
                         else 0)

    def _draw(self, horizon, y, X, n_paths, seed):
        """-> (fh, per-series paths ``(n_paths, fh, *element)``, layouts, many)."""
        check_is_fitted(self)
        fh = check_horizon(self.horizon if horizon is None else horizon)
        histories, layouts, many = self._resolve(fh, y, X)
        return fh, self._paths(fh, histories, n_paths, seed), layouts, many

    @staticmethod
    def _many(outs, many):
        return outs if many else outs[0]

    # ---------------------------------------------------------------- public forecasting
    def predict(self, horizon=None, *, y=None, X=None):
        """Point forecast: the per-element median of ``n_paths`` sample paths drawn with a
        fixed seed, so deterministic for a fitted model.

        ``y=`` forecasts from a new history without refitting (its covariates ``X`` then cover
        history and horizon); otherwise ``X`` covers the horizon only.
        """
        fh, paths, layouts, many = self._draw(horizon, y, X, self.n_paths, self._predict_seed())
        return self._many([lay.point(np.median(p, axis=0), fh)
                           for p, lay in zip(paths, layouts)], many)

    def predict_quantiles(self, horizon=None, quantiles=(0.1, 0.5, 0.9), *, y=None, X=None):
        """Forecast quantiles from the sample paths of :meth:`predict`: arrays ``(horizon,
        *element, n_quantiles)`` (the element's channel axis dropped where the input had none),
        or a DataFrame with columns ``(target, quantile)``."""
        q = check_quantiles(quantiles)
        fh, paths, layouts, many = self._draw(horizon, y, X, self.n_paths, self._predict_seed())
        return self._many([lay.quantiles(np.moveaxis(np.quantile(p, q, axis=0), 0, -1), q, fh)
                           for p, lay in zip(paths, layouts)], many)

    def predict_interval(self, horizon=None, coverage=0.9, *, y=None, X=None):
        """Central prediction intervals: ``(..., 2)`` as (lower, upper) for one coverage,
        ``(..., n_coverages, 2)`` for a list, or a DataFrame with columns ``(target, coverage,
        "lower"/"upper")``. All coverages come from the same sample paths."""
        coverages, one = check_coverage(coverage)
        quant = self.predict_quantiles(horizon, interval_quantiles(coverages), y=y, X=X)
        return quantiles_to_intervals(quant, coverages, one)

    def sample(self, n_samples=100, horizon=None, *, y=None, X=None, random_state=None):
        """Sample future paths: arrays ``(n_samples, horizon, *element)``, or for pandas input
        a long DataFrame indexed by (sample, time)."""
        n_samples = check_horizon(n_samples, "n_samples")
        fh, paths, layouts, many = self._draw(horizon, y, X, n_samples, make_seed(random_state))
        return self._many([lay.samples(p, fh) if lay.pandas else self._array_paths(p, lay)
                           for p, lay in zip(paths, layouts)], many)

    def _array_paths(self, paths, layout):
        """Sample paths of an array input as returned by :meth:`sample`."""
        return paths

    # ---------------------------------------------------------------- scoring, updating
    def score_steps(self, y, X=None):
        """Log-likelihood (nats, the data's units) of every element of ``y`` given the elements
        before it, shaped like ``y``."""
        check_is_fitted(self)
        values, layouts, many = self._check_targets(y)
        lengths = [v.shape[0] for v in values]
        covs = self._check_covariates(X, lengths, many, "score", layouts=layouts)
        covs = self._time_covariates(covs, layouts, lengths)
        return self._many([lay.shaped(arr, lay.index) for arr, lay in
                           zip(self._score_arrays(values, covs), layouts)], many)

    def score(self, y, X=None):
        """Mean log-likelihood per timestep in nats: a timestep's elements summed, averaged
        over the timesteps that have any observed element. Higher is better."""
        steps = self.score_steps(y, X)
        steps = steps if isinstance(steps, list) else [steps]
        per_t = [np.asarray(s, dtype=float).reshape(len(s), -1) for s in steps]
        observed = np.concatenate([np.nansum(s, axis=1)[~np.isnan(s).all(axis=1)]
                                   for s in per_t])
        if observed.size == 0:
            raise ValueError(self._nothing_to_score())
        return float(observed.mean())

    def _nothing_to_score(self):
        return "y has no step to score: every value is missing."

    def update(self, y, X=None):
        """Append new observations (and their covariates) to the stored history; no refit."""
        check_is_fitted(self)
        values, layouts, many = self._check_targets(y, warn=False)
        if many != self.multi_ or len(values) != len(self.history_):
            raise ValueError(f"update() needs as many series as fit ({len(self.history_)}).")
        lengths = [v.shape[0] for v in values]
        covs = self._check_covariates(X, lengths, many, "update", layouts=layouts)
        for old, new in zip(self.layouts_, layouts):
            _check_continues(old.index, new.index)
        warn_irregular(layouts, "y", many, stored=self.layouts_)
        covs = self._time_covariates(covs, layouts, lengths)
        for i, v in enumerate(values):
            self._append_history(i, v, None if covs is None else covs[i])
            self.layouts_[i] = self.layouts_[i].continued(layouts[i])
        return self

    def _restore_fitted(self, fitted):
        # files written before the Layout object hold ``meta_``, a list of dicts
        if "meta_" in fitted:
            fitted["layouts_"] = [self._layout_from_meta(m) for m in fitted.pop("meta_")]
        if "time_features" in self.get_params(deep=False):     # files from before calendar terms
            fitted.setdefault("time_harmonics_", {})
            fitted.setdefault("time_features_", list(fitted["time_harmonics_"]))
        super()._restore_fitted(fitted)


def _check_continues(old, new):
    """The rows ``update`` appends must be of the same kind and start after the stored end."""
    if (old is None) != (new is None):
        raise ValueError("update() takes the same kind of input as fit (pandas or numpy).")
    if old is None or not len(new):
        return
    try:
        before = new[0] <= old[-1]
    except TypeError:       # e.g. a RangeIndex after dates, tz-aware after naive
        raise ValueError(
            f"the new observations' index ({type(new).__name__}, starting {new[0]!r}) does not "
            f"continue the stored one ({type(old).__name__}, ending {old[-1]!r}); pass them "
            "with the same kind of time index.") from None
    if before:
        raise ValueError(f"the new observations start at {new[0]}, not after the stored "
                         f"history's end {old[-1]}.")
