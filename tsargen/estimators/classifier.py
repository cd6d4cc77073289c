"""Generative classifier: Bayes rule on class-conditional likelihoods, from one density per
class or from one class-conditional density shared by all classes."""

import inspect
import os
from numbers import Integral

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils import get_tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from .._registry import REGISTRY, Registered
from ..constraints import CHECKED_IN_FIT, Check, check_jobs, check_param, validate_params
from ..validation import check_real, is_series_list
from ._persistence import save_fitted
from .sequence import WaveNetDensity


def _check_X(X):
    """Lists and pandas pass through (the densities validate them); anything else becomes a
    real array via ``check_real`` (one-line errors for complex, text and other non-numbers)
    and ``check_array`` (2-D panels, 3-D panels, image stacks), NaN left to the density."""
    if isinstance(X, (list, tuple, pd.DataFrame, pd.Series)) or hasattr(X, "tocsr"):
        return X
    return check_array(check_real(X, "X"), allow_nd=True, ensure_all_finite=False, dtype=None)


def _n_samples(X):
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return len(X)
    if isinstance(X, (list, tuple)):
        return len(X)
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) == 0:
        raise TypeError(f"X must be a panel, an image stack or a list of series; got "
                        f"{type(X).__name__}.")
    return shape[0]


def _take(X, idx):
    """Rows ``idx`` of X, keeping its kind (list, pandas or array)."""
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return X.iloc[idx]
    if isinstance(X, (list, tuple)) and (is_series_list(X) or len(X) == 0):
        return [X[i] for i in idx]
    if hasattr(X, "tocsr"):                      # sparse: the density will refuse it clearly
        return X.tocsr()[idx]
    return np.asarray(X)[idx]


def _savable(est):
    """True for an instance of a public tsargen estimator class, which ``load`` rebuilds."""
    return REGISTRY.get(type(est).__name__) is type(est) and hasattr(est, "save")


def _fit_one(estimator, X, checkpoint=None, y=None):
    args = (X,) if y is None else (X, y)
    if checkpoint is None:
        return estimator.fit(*args)
    return estimator.fit(*args, checkpoint=checkpoint)


def _takes_labels(method):
    """True if ``method`` accepts class labels as ``y`` (tsargen densities do)."""
    try:
        return "y" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


class GenerativeClassifier(Registered, ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Classify by Bayes rule over one generative density per class.

    ``log p(k | x) = log p(x | k) + log p(k) - log sum_j p(x | j) p(j)``, with ``log p(x | k)``
    from ``estimators_[k].score_samples(x)`` (or, with ``conditional=True``, from
    ``estimator_.score_samples(x, y=k)``), combined in log space.

    Parameters
    ----------
    estimator : estimator, default=None
        Any object with ``fit(X)`` and ``score_samples(X)``: a tsargen density (sequences or
        images) or e.g. scikit-learn's ``GaussianMixture``. ``None`` means
        :class:`~tsargen.WaveNetDensity` with default settings.
    priors : array-like of shape (n_classes,), default=None
        Class prior probabilities in the order of ``classes_``; ``None`` uses the training
        class frequencies.
    conditional : bool, default=False
        Fit one class-conditional density on all the samples (``estimator.fit(X, y)``: the
        class is a global conditioning input) instead of one density per class. The classes
        then share the network's weights and only the class embedding differs, which helps
        when each class has few samples. Needs a density whose ``fit`` and ``score_samples``
        take class labels as ``y`` (every tsargen density does).
    n_jobs : int, default=None
        Fit the per-class densities in parallel with joblib (any joblib backend, e.g. Dask or
        Ray, spreads them over a cluster). Unused with ``conditional=True`` (one fit).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    class_prior_ : ndarray of shape (n_classes,)
    estimators_ : list of fitted densities, one per class (``conditional=False``)
    estimator_ : the fitted class-conditional density (``conditional=True``); its labels are
        the positions ``0 .. n_classes - 1`` of the classes in ``classes_``

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from tsargen import GenerativeClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-2, 1, (30, 3)), rng.normal(2, 1, (30, 3))]
    >>> y = np.array(["low"] * 30 + ["high"] * 30)
    >>> clf = GenerativeClassifier(GaussianMixture(random_state=0)).fit(X, y)
    >>> clf.predict([[-2.0, -1.5, -2.5], [2.0, 2.5, 1.0]]).tolist()
    ['low', 'high']
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    """

    _parameter_constraints = {
        "estimator": [None, Check(lambda e: hasattr(e, "fit") and hasattr(e, "score_samples"),
                                  "an object with fit(X) and score_samples(X)")],
        "priors": [None, CHECKED_IN_FIT],                # one per class: see _class_prior
        "conditional": [bool],
        "n_jobs": [None, Integral],
    }

    def __init__(self, estimator=None, *, priors=None, conditional=False, n_jobs=None):
        self.estimator = estimator
        self.priors = priors
        self.conditional = conditional
        self.n_jobs = n_jobs

    def _base_estimator(self):
        # also asked for by get_tags before any fit: the declared check, not an AttributeError
        check_param(self.estimator, "estimator", self._parameter_constraints["estimator"])
        return WaveNetDensity() if self.estimator is None else self.estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._base_estimator())
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.three_d_array = inner.input_tags.three_d_array
        tags.input_tags.sparse = inner.input_tags.sparse
        return tags

    def _check_y(self, X, y):
        if y is None:
            raise ValueError("GenerativeClassifier requires y to be passed, but the target y is "
                             "None.")
        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise ValueError(f"y must be one column of labels, got {y.shape[1]} columns.")
            y = y.iloc[:, 0]
        if isinstance(y, pd.Series) and isinstance(X, (pd.DataFrame, pd.Series)) and (
                not y.index.equals(X.index)):
            raise ValueError("X and y are pandas objects with different indexes; align them "
                             "first.")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim != 1:
            raise ValueError(f"y must be a 1-D array of labels, got shape {y.shape}.")
        n = _n_samples(X)
        if len(y) != n:
            raise ValueError(f"X has {n} samples but y has {len(y)} labels.")
        if y.dtype.kind in "fcO" and pd.isna(y).any():
            raise ValueError("y contains missing labels (NaN/None); drop those samples first.")
        if y.dtype.kind in "fc" and not np.isfinite(y).all():
            raise ValueError("y contains inf; labels must be finite.")
        check_classification_targets(y)
        return y

    def _class_prior(self, counts):
        """``priors`` checked against the classes (``counts``: samples per class), or the
        class frequencies."""
        if self.priors is None:
            return counts / counts.sum()
        accepted = (f"None (the class frequencies) or {len(counts)} non-negative numbers "
                    "summing to 1, one per class in the order of classes_")
        prior = None
        if not isinstance(self.priors, (str, bytes, dict)):
            try:
                prior = np.asarray(self.priors, dtype=float)
            except (TypeError, ValueError):
                pass
        if prior is None:
            raise ValueError(f"priors must be {accepted}; got {self.priors!r}.")
        if prior.shape != (len(counts),):
            raise ValueError(f"priors must have one entry per class ({len(counts)}), got "
                             f"shape {prior.shape}.")
        if (prior < 0).any() or not np.isclose(prior.sum(), 1.0):
            raise ValueError(f"priors must be non-negative and sum to 1 ({accepted}); got "
                             f"{self.priors!r}.")
        return prior

    def fit(self, X, y, *, checkpoint=None):
        """Fit one clone of ``estimator`` on the samples of each class (with
        ``conditional=True``: one clone on all samples, labelled by class).

        ``checkpoint``: a path prefix; the density of class ``k`` (its position in
        ``classes_``) checkpoints to ``f"{checkpoint}.{k}"`` (tsargen densities only), so an
        interrupted fit resumes every class where it stopped; the class-conditional density
        checkpoints to ``f"{checkpoint}.conditional"``."""
        validate_params(self)
        check_jobs(self.n_jobs)                          # not under torchrun
        X = _check_X(X)
        y = self._check_y(X, y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) == 0:
            raise ValueError("X and y are empty; pass at least one sample of each of 2 classes.")
        if len(classes) < 2:
            raise ValueError(f"y has only one class ({classes[0]!r}); a classifier needs at "
                             "least 2 classes.")
        counts = np.bincount(codes)
        prior = self._class_prior(counts)
        base = self._base_estimator()
        if checkpoint is not None and "checkpoint" not in inspect.signature(base.fit).parameters:
            raise TypeError(f"checkpoint needs a tsargen density; {type(base).__name__}.fit "
                            "takes no checkpoint.")
        if self.conditional:
            if not (_takes_labels(base.fit) and _takes_labels(base.score_samples)):
                raise TypeError(f"conditional=True needs a density whose fit and score_samples "
                                f"take class labels as y; {type(base).__name__} does not. Use "
                                "a tsargen density, or conditional=False (one density per "
                                "class).")
            path = None if checkpoint is None else f"{os.fspath(checkpoint)}.conditional"
            try:
                fitted = _fit_one(clone(base), X, path, y=codes)
            except ValueError as err:
                raise ValueError(f"fitting the class-conditional density failed: {err}") from err
            self.__dict__.pop("estimators_", None)   # a refit may switch modes: drop the other
            self.estimator_ = fitted
        else:
            paths = [None if checkpoint is None else f"{os.fspath(checkpoint)}.{k}"
                     for k in range(len(classes))]
            parts = [_take(X, np.flatnonzero(codes == k)) for k in range(len(classes))]
            try:
                fitted = Parallel(n_jobs=self.n_jobs)(
                    delayed(_fit_one)(clone(base), part, path)
                    for part, path in zip(parts, paths))
            except ValueError as err:
                small = [classes[k] for k in range(len(classes)) if counts[k] < 2]
                hint = (f" (classes {small!r} have a single sample; collect more or drop them)"
                        if small else "")
                raise ValueError(f"fitting a class density failed: {err}{hint}") from err
            self.__dict__.pop("estimator_", None)
            self.estimators_ = fitted
        self.classes_ = classes
        self.class_prior_ = prior
        if hasattr(X, "shape") and len(X.shape) >= 2:
            self.n_features_in_ = X.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def _densities(self):
        """The fitted densities: the shared one, or one per class."""
        return [self.estimator_] if hasattr(self, "estimator_") else self.estimators_

    def save(self, path):
        """Write the fitted classifier to one file; :func:`tsargen.load` reads it back.

        Like the densities' ``save``: JSON parameters plus tensors, read with
        ``torch.load(weights_only=True)``, so loading never executes code. Only tsargen
        densities can be stored this way; for another ``estimator`` (e.g. ``GaussianMixture``)
        this raises ``TypeError`` without writing anything: use pickle or joblib instead.
        """
        check_is_fitted(self)
        foreign = [est for est in [self.estimator, *self._densities()]
                   if est is not None and not _savable(est)]
        if foreign:
            raise TypeError(f"save() stores tsargen densities only; this classifier holds a "
                            f"{type(foreign[0]).__name__}. Save a GenerativeClassifier with a "
                            "non-tsargen estimator with pickle or joblib instead.")
        save_fitted(self, path)
        return self

    def predict_joint_log_proba(self, X):
        """``log p(x, k)`` for every sample and class, ``(n_samples, n_classes)``."""
        check_is_fitted(self)
        X = _check_X(X)
        with np.errstate(divide="ignore"):
            log_prior = np.log(self.class_prior_)
        if hasattr(self, "estimator_"):          # fitted with conditional=True
            n = _n_samples(X)
            jll = np.column_stack([np.asarray(self.estimator_.score_samples(
                X, y=np.full(n, k)), dtype=float) for k in range(len(self.classes_))])
        else:
            jll = np.column_stack([np.asarray(est.score_samples(X), dtype=float)
                                   for est in self.estimators_])
        if not np.isfinite(jll).any(axis=1).all() or np.isnan(jll).any():
            raise ValueError("a class density returned NaN or -inf for every class; check the "
                             "input for values outside the training range.")
        return jll + log_prior

    def predict_log_proba(self, X):
        """Log posterior class probabilities, normalised with log-sum-exp."""
        jll = self.predict_joint_log_proba(X)
        return jll - logsumexp(jll, axis=1, keepdims=True)

    def predict_proba(self, X):
        """Posterior class probabilities; rows sum to 1."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class (Bayes rule)."""
        jll = self.predict_joint_log_proba(X)
        return self.classes_[np.argmax(jll, axis=1)]
