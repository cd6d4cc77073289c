"""Generative classification with :class:`tsargen.GenerativeClassifier` on UCR/UEA sets and digits.

What is measured
----------------
**Time series.** Test accuracy on four UCR/UEA archive sets bundled with sktime, with the train
and test splits as published (sktime's ``load_*(split="train"/"test")``; the split sizes are
checked against the archive's: GunPoint 50/150, ItalyPowerDemand 67/1029, BasicMotions 40/40,
JapaneseVowels 270/370):

* ``tsargen WaveNetDensity`` -- ``GenerativeClassifier(WaveNetDensity(...))``: one WaveNet
  density per class fitted on that class's training series, Bayes rule with the training class
  frequencies as priors. Reported twice, with ``time_position=False`` (a stationary
  autoregressive likelihood) and ``time_position=True`` (every step also conditioned on its
  absolute position: ``u = t / n`` and ``sin, cos(2 pi k u)``, ``k = 1, 2``), each with its own
  settings chosen by cross-validation on the training split (below). Multichannel sets
  (BasicMotions: 6 channels, JapaneseVowels: 12) are modelled jointly by one network per class;
  JapaneseVowels (lengths 7-26 in train, 7-29 in test) is passed as a list of ``(T_i, 12)``
  arrays, unpadded.
* ``tsargen (CV choice)`` -- whichever of the two ``time_position`` settings had the better
  cross-validated accuracy on the training split (ties: lower CV log loss). This is the row the
  target (>= 1-NN DTW) is judged on.
* ``1-NN Euclidean`` -- nearest training series in squared Euclidean distance over all steps
  and channels. JapaneseVowels has unequal lengths: every series is linearly resampled to 29
  steps (the longest series) per channel first.
* ``1-NN DTW`` -- nearest training series in dynamic time warping distance, full warping
  window (no band), squared Euclidean local cost summed over channels (the "dependent" DTW of
  the UEA multivariate archive), on the raw unequal lengths for JapaneseVowels. Implemented here
  in numpy (the dynamic programme runs over anti-diagonals, vectorised over all test x train
  pairs), not sktime's.

Reference values published with the archives (not recomputed): 1-NN DTW (full window) 0.907
(GunPoint) and 0.950 (ItalyPowerDemand) on the UCR archive page; ROCKET 1.000 / 0.970
(Dempster et al. 2020). 1-NN DTW_D 0.975 (BasicMotions) and 0.949 (JapaneseVowels) in the UEA
multivariate archive paper (Bagnall et al. 2018). How the baselines computed here compare with
them: ``results/classification_notes.md``.

The order of work (which runs scored the test split, and what was built after them) and how
far runs differ across machines: ``results/classification_notes.md``.

Preprocessing for tsargen: each density standardises its class's data (one location and scale
per channel); ``downsample`` > 1 replaces non-overlapping blocks of that many steps by their
mean before the densities see the series (equal-length sets only). The baselines always see
the raw series.

**Hyperparameters.** ``SETTINGS`` below was chosen by ``--select``: a greedy search with
3-fold stratified cross-validation on the *training split only* (the test split is never used
for choices), separately for each data set and each ``time_position`` value, scored by pooled
CV accuracy (ties: pooled CV log loss). Starting from a small WaveNet (4 layers, 16 residual /
32 skip channels, Gaussian head, joint channels, no downsampling) it tries in turn:
``downsample`` 2 and 3 (series of >= 100 steps), a Student-t head, a smaller network (3 layers,
``max(8, C)`` residual / ``max(16, C)`` skip channels for ``C`` data channels), for multichannel
sets a wider one (4 layers, ``max(16, 4C)`` / ``max(32, 4C)``: with joint channel dependence the
hidden channels are split into one group per data channel) and
``channel_dependence="independent"``; each step keeps the best so far. Training settings are
fixed throughout: ``batch_size=16``, ``max_epochs=40``, ``patience=8``, ``lr=1e-3``,
``validation_fraction=0.1``, ``random_state=0``.

A second stage runs for equal-length series of at most ``SHORT_MAX`` = 64 steps (of the four
sets only ItalyPowerDemand, 24 steps): with ~30 training series per class, 3-fold CV is too noisy
to separate settings, so this stage scores by stratified 5-fold CV repeated twice (mean
accuracy). Starting from the stage-1 choice it tries, all four combinations at once,
``rf="series"`` (enough layers that the receptive field ``2 ** n_layers`` covers the whole
series: with ``time_position=True`` a full autoregressive model of the profile) and
``epochs=20`` (20 epochs on all of the class's series, no validation split and no early
stopping: early stopping on a 10 % split means 3 validation series here); then ``seeds=3``: the
density is the mean of the densities fitted with three seeds (log-mean-exp of their
log-likelihoods, still a normalised density); then ``conditional=True``: one class-conditional
density fitted on all training series, the class a global conditioning input, instead of one
density per class (the classes share the network's weights; same settings otherwise, so with a
fixed number of epochs it takes about twice as many optimiser steps). The stage-2 choice and
its score are final (the ``conditional`` step was searched on ItalyPowerDemand only, the one
short set).
``--select`` writes ``classification_selection.md`` / ``.json`` (a data set searched again
replaces its earlier entry; the others are kept).

**Images.** scikit-learn's ``load_digits`` (1797 images of 8x8 pixels, levels 0..16), a
stratified 70/30 train/test split (``random_state=0``). If ``tsargen.GatedPixelCNNDensity`` is
importable: a per-class ``GatedPixelCNNDensity(n_levels=17, n_layers=4, hidden_channels=32)``
through ``GenerativeClassifier`` (otherwise the report says it was not run). Also (always): a
per-class ``WaveNetDensity`` on the flattened 64-pixel rows (raster order, receptive field 64)
with an exact 17-level categorical head (``distribution="categorical", quantization="levels",
n_bins=17``). Both use fixed settings (not tuned; ``batch_size=16``, ``max_epochs=15``,
``patience=4``, ``random_state=0``). Reported: test accuracy, log loss, expected calibration
error (15 equal-width bins of the top-class probability) and a reliability diagram of
``predict_proba``; ``1-NN Euclidean`` on the 64 pixels as the baseline.

**What ``time_position`` buys.** The two tsargen rows are tuned separately, so they differ in
more than ``time_position``. As an ablation, each row's settings are also refitted with the
other ``time_position`` value (reported, never used for choices or the target).

**Where the decision is made.** Also reported per tsargen row: the accuracy on the training
split itself (in-sample), and for the equal-length sets the *evidence* along the series: per
test series and step, ``log p(x_t | x_<t, true class)`` minus the same under the strongest
other class, summed over channels (``score_steps`` of the per-class densities; for a seed
average, the steps of the mixture). Its running sum, averaged over the correctly and over the
wrongly classified series, is plotted (``classification_evidence.png``) and summarised by the
share of the final evidence gained in the steepest 5 % of steps.

**Which differences the test split resolves.** For every set, the CV choice is compared with
each 1-NN baseline on the same test series: the accuracy difference, a 95 % paired percentile
bootstrap interval (10000 resamples of the test series) and the exact McNemar test (two-sided
binomial test on the series that exactly one of the two classifies correctly).

**Times.** ``fit s`` is the wall time of ``GenerativeClassifier.fit`` (all per-class densities,
one after the other, ``torch.set_num_threads(1)``); ``predict s`` the wall time of
``predict_proba`` on the whole test split (for 1-NN: the distance matrix and the arg-min). The
machine may be shared, so times are indicative.

How to run
----------
From the repository root::

    python -m benchmarks.classification              # full run (about 13 min, 1 thread)
    python -m benchmarks.classification --quick      # smoke run (< 2 min), *_quick files
    python -m benchmarks.classification --select     # the CV search behind SETTINGS (~1.5 h)
    python -m benchmarks.classification --select --datasets ItalyPowerDemand  # one set
    python -m benchmarks.classification --select --time-position true   # only tp=True
    python -m benchmarks.classification --datasets GunPoint,ItalyPowerDemand --no-digits

The sktime data sets load from files inside the installed sktime package (no download); a set
whose loader fails is skipped with a note in the report. Results go to
``benchmarks/results/classification.md`` (``classification_quick.md`` with ``--quick``), a JSON
file with the numbers, and PNGs (``classification_accuracy.png``,
``classification_digits_reliability.png``, ``classification_evidence.png``).
"""

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, clone

from benchmarks.report import (md_table, paired_bootstrap, pyplot, read_json, save_figure,
                               write_json)
from tsargen import GenerativeClassifier, WaveNetDensity

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 0
PUBLISHED_SPLITS = {"GunPoint": (50, 150), "ItalyPowerDemand": (67, 1029),
                    "BasicMotions": (40, 40), "JapaneseVowels": (270, 370)}
# Published accuracies (archive pages / papers), for comparison only.
PUBLISHED = {
    "GunPoint": {"1-NN DTW": 0.907, "1-NN Euclidean": 0.913, "ROCKET": 1.000},
    "ItalyPowerDemand": {"1-NN DTW": 0.950, "1-NN Euclidean": 0.955, "ROCKET": 0.970},
    "BasicMotions": {"1-NN DTW": 0.975, "1-NN Euclidean": 0.676},
    "JapaneseVowels": {"1-NN DTW": 0.949, "1-NN Euclidean": 0.924},
}
LOADERS = {"GunPoint": "load_gunpoint", "ItalyPowerDemand": "load_italy_power_demand",
           "BasicMotions": "load_basic_motions", "JapaneseVowels": "load_japanese_vowels"}

# Fixed training settings and the starting point of the search.
TRAIN = dict(batch_size=16, max_epochs=40, patience=8, lr=1e-3, validation_fraction=0.1)
# Network sizes; joint channel dependence splits the hidden channels into one group per data
# channel, so the widths grow with the number of channels ``c`` where needed.
SIZES = {"small": lambda c: dict(n_layers=4, residual_channels=16, skip_channels=32),
         "tiny": lambda c: dict(n_layers=3, residual_channels=max(8, c),
                                skip_channels=max(16, c)),
         "wide": lambda c: dict(n_layers=4, residual_channels=max(16, 4 * c),
                                skip_channels=max(32, 4 * c))}
BASE = dict(downsample=1, distribution="gaussian", size="small", channel_dependence="joint")

# Chosen by ``--select`` (CV on the training split only; see classification_selection.md).
SETTINGS = {
    "GunPoint": {
        False: dict(downsample=3, distribution="student_t", size="small",
                    channel_dependence="joint"),
        True: dict(downsample=1, distribution="gaussian", size="small",
                   channel_dependence="joint")},
    "ItalyPowerDemand": {       # stage 2 (5-fold CV x 2) of the search, re-run 2026-12-06
        False: dict(downsample=1, distribution="student_t", size="tiny",
                    channel_dependence="joint", seeds=3),
        True: dict(downsample=1, distribution="gaussian", size="small",
                   channel_dependence="joint", rf="size", epochs=20, seeds=3,
                   conditional=True)},
    "BasicMotions": {
        False: dict(downsample=2, distribution="student_t", size="small",
                    channel_dependence="joint"),
        True: dict(downsample=3, distribution="student_t", size="tiny",
                   channel_dependence="joint")},
    "JapaneseVowels": {
        False: dict(downsample=1, distribution="gaussian", size="small",
                    channel_dependence="independent"),
        True: dict(downsample=1, distribution="student_t", size="wide",
                   channel_dependence="independent")},
}

# Second search stage for short equal-length series (see the module docstring).
SHORT_MAX = 64
SHORT_CV = dict(n_splits=5, n_repeats=2)
SHORT_EPOCHS = 20
SHORT_SEEDS = 3
STAGE2_STEPS = ("rf x epochs", "seeds", "conditional")

SEED_SPREAD = (1, 2, 3, 4)     # refits of a data set whose CV choice misses the target

QUICK = dict(max_test=60, max_epochs=2, digits_per_class_train=20, digits_per_class_test=10)


# --------------------------------------------------------------------------- data
def _to_series_list(X):
    """sktime panel (numpy3D ``(n, C, T)`` or nested DataFrame) -> list of ``(T_i, C)``."""
    if hasattr(X, "iloc"):
        return [np.column_stack([np.asarray(X.iloc[i, c], dtype=float)
                                 for c in range(X.shape[1])]) for i in range(len(X))]
    return [np.asarray(x, dtype=float).T for x in X]


def load_ucr(name):
    """Published train/test split -> (train list, y_train, test list, y_test)."""
    import sktime.datasets as skd
    loader = getattr(skd, LOADERS[name])
    out = []
    for split in ("train", "test"):
        try:
            X, y = loader(split=split, return_type="numpy3D")
        except ValueError:                       # unequal lengths (JapaneseVowels)
            X, y = loader(split=split, return_type="nested_univ")
        out += [_to_series_list(X), np.asarray(y)]
    return tuple(out)


def as_panel(series):
    """Equal lengths -> ``(n, T, C)`` array, otherwise the list itself."""
    if len({s.shape[0] for s in series}) == 1:
        return np.stack(series)
    return list(series)


def downsample(series, k):
    """Mean of non-overlapping blocks of ``k`` steps (a trailing partial block is dropped)."""
    if k == 1:
        return series
    return [s[: s.shape[0] // k * k].reshape(s.shape[0] // k, k, s.shape[1]).mean(axis=1)
            for s in series]


def pad(series):
    """Zero-padded ``(n, T_max, C)`` array and the lengths."""
    lengths = np.array([s.shape[0] for s in series])
    out = np.zeros((len(series), lengths.max(), series[0].shape[1]))
    for i, s in enumerate(series):
        out[i, :len(s)] = s
    return out, lengths


def resample(series, length):
    """Linear interpolation of every channel onto ``length`` equally spaced points."""
    out = []
    for s in series:
        old = np.linspace(0.0, 1.0, s.shape[0])
        new = np.linspace(0.0, 1.0, length)
        out.append(np.column_stack([np.interp(new, old, s[:, c]) for c in range(s.shape[1])]))
    return out


# --------------------------------------------------------------------------- baselines
def dtw_distances(A, la, B, lb, budget=4e6):
    """DTW cost between every row of ``A`` and of ``B`` (zero-padded ``(n, T, C)`` stacks with
    lengths ``la``, ``lb``): full window, squared Euclidean local cost summed over channels.

    ``D[i, j] = c(i, j) + min(D[i-1, j-1], D[i-1, j], D[i, j-1])`` is filled one anti-diagonal
    at a time for all pairs at once. Padding does not matter: ``D[la-1, lb-1]`` only depends on
    cells inside both series.
    """
    na, t1, _ = A.shape
    nb, t2, _ = B.shape
    chunk = max(1, int(budget // (nb * t1 * t2)))
    b_sq = (B ** 2).sum(-1)                                             # (nb, t2)
    out = np.empty((na, nb))
    for s in range(0, na, chunk):
        a = A[s:s + chunk]
        m = len(a)
        cost = ((a ** 2).sum(-1)[:, None, :, None] + b_sq[None, :, None, :]
                - 2.0 * np.einsum("itc,jsc->ijts", a, B))
        np.maximum(cost, 0.0, out=cost)
        D = np.full((m, nb, t1 + 1, t2 + 1), np.inf)
        D[:, :, 0, 0] = 0.0
        for k in range(2, t1 + t2 + 1):                                 # cells with i + j = k
            i = np.arange(max(1, k - t2), min(t1, k - 1) + 1)
            j = k - i
            best = np.minimum(np.minimum(D[:, :, i - 1, j - 1], D[:, :, i - 1, j]),
                              D[:, :, i, j - 1])
            D[:, :, i, j] = cost[:, :, i - 1, j - 1] + best
        out[s:s + m] = D[np.arange(m)[:, None], np.arange(nb)[None, :],
                         la[s:s + m][:, None], lb[None, :]]
    return out


def nn1_dtw(train, y_train, test):
    A, la = pad(test)
    B, lb = pad(train)
    return y_train[np.argmin(dtw_distances(A, la, B, lb), axis=1)]


def nn1_euclidean(train, y_train, test):
    lengths = {s.shape[0] for s in train} | {s.shape[0] for s in test}
    if len(lengths) > 1:
        target = max(lengths)
        train, test = resample(train, target), resample(test, target)
    a = np.stack([s.ravel() for s in test])
    b = np.stack([s.ravel() for s in train])
    d = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T
    return y_train[np.argmin(d, axis=1)]


# --------------------------------------------------------------------------- tsargen
class SeedAverage(BaseEstimator):
    """Density averaged over refits with several seeds: ``log mean_s p_s(x)`` (log-mean-exp of
    the members' log-likelihoods, so the mixture is still a normalised density)."""

    def __init__(self, estimator=None, seeds=(0,)):
        self.estimator = estimator
        self.seeds = seeds

    def fit(self, X, y=None):
        """``y``: class labels for class-conditional members (``GenerativeClassifier(...,
        conditional=True)``), else None."""
        self.estimators_ = [clone(self.estimator).set_params(random_state=s).fit(X, y)
                            for s in self.seeds]
        self.n_iter_ = max(int(e.n_iter_) for e in self.estimators_)
        return self

    def score_samples(self, X, y=None):
        scores = np.stack([e.score_samples(X, y) for e in self.estimators_])
        return logsumexp(scores, axis=0) - np.log(len(self.estimators_))

    def score_steps(self, X, y=None):
        """Steps of the mixture (a panel ``X (n, T, C)``): differences of ``log mean_s
        p_s(x_<=t)`` over the prefixes in raster order, so they add up to ``score_samples``."""
        steps = np.stack([e.score_steps(X, y) for e in self.estimators_])  # (S, n, T, C)
        flat = np.nan_to_num(steps.reshape(len(steps), len(X), -1))         # (S, n, T*C)
        prefix = logsumexp(np.cumsum(flat, axis=2), axis=0) - np.log(len(steps))   # (n, T*C)
        return np.diff(prefix, axis=1, prepend=0.0).reshape(steps.shape[1:])


def network_kwargs(setting, n_channels, length):
    """WaveNet size: ``SIZES[size]``; ``rf="series"`` adds layers until the receptive field
    (``2 ** n_layers`` with kernel 2) covers the whole series of ``length`` steps."""
    kw = SIZES[setting["size"]](n_channels)
    if setting.get("rf", "size") == "series":
        kw["n_layers"] = max(kw["n_layers"], int(np.ceil(np.log2(length))))
    return kw


def training_kwargs(setting):
    """``TRAIN``; ``epochs=N`` trains N epochs on all the class's series (no validation split,
    no early stopping) instead."""
    if setting.get("epochs") is None:
        return dict(TRAIN)
    return dict(TRAIN, max_epochs=setting["epochs"], validation_fraction=0.0)


def make_density(setting, time_position, n_channels, quick=False, seed=SEED, length=None):
    kw = dict(training_kwargs(setting), **network_kwargs(setting, n_channels, length or 1))
    if quick:
        kw.update(max_epochs=QUICK["max_epochs"], **SIZES["tiny"](n_channels))
    density = WaveNetDensity(distribution=setting["distribution"],
                             channel_dependence=setting["channel_dependence"],
                             time_position=time_position, random_state=seed, **kw)
    n_seeds = setting.get("seeds", 1)
    if n_seeds == 1:
        return density
    return SeedAverage(density, seeds=tuple(seed * n_seeds + k for k in range(n_seeds)))


def fit_tsargen(train, y_train, setting, time_position, quick=False, seed=SEED):
    series = downsample(train, setting["downsample"])
    clf = GenerativeClassifier(make_density(setting, time_position, train[0].shape[1], quick,
                                            seed, max(s.shape[0] for s in series)),
                               conditional=setting.get("conditional", False))
    t0 = time.perf_counter()
    clf.fit(as_panel(series), y_train)
    return clf, time.perf_counter() - t0


def proba_tsargen(clf, test, setting):
    t0 = time.perf_counter()
    proba = clf.predict_proba(as_panel(downsample(test, setting["downsample"])))
    return proba, time.perf_counter() - t0


def fitted_epochs(clf):
    """Epochs trained per class density (one entry for a class-conditional density)."""
    return [int(e.n_iter_) for e in getattr(clf, "estimators_", None) or [clf.estimator_]]


def evidence(clf, test, y_test, setting):
    """Per-step evidence for the true class, ``(n_test, T)`` on the densities' (downsampled)
    time axis: ``log p(x_t | x_<t, true class)`` minus the same under the strongest other class
    (the one with the largest total likelihood), summed over channels. Its sum over ``t`` is the
    log-likelihood ratio the Bayes rule compares (priors left out). Equal-length sets only."""
    X = as_panel(downsample(test, setting["downsample"]))
    if hasattr(clf, "estimator_"):                  # one class-conditional density
        steps = np.stack([clf.estimator_.score_steps(X, np.full(len(X), k)).sum(-1)
                          for k in range(len(clf.classes_))])                 # (K, n, T)
    else:
        steps = np.stack([e.score_steps(X).sum(-1) for e in clf.estimators_])
    idx = np.arange(len(y_test))
    true = np.searchsorted(clf.classes_, y_test)
    totals = steps.sum(-1)                                                    # (K, n)
    totals[true, idx] = -np.inf
    rival = totals.argmax(0)
    return steps[true, idx] - steps[rival, idx]


def evidence_summary(ev, correct, k):
    """Mean cumulative evidence of the correctly and of the wrongly classified series, on the
    original time axis (the centres of the ``k``-step blocks)."""
    cum = np.cumsum(ev, axis=1)
    mean = (lambda sel: cum[sel].mean(0).tolist() if sel.any() else None)
    return dict(t=((np.arange(ev.shape[1]) + 0.5) * k - 0.5).tolist(),
                correct=mean(correct), wrong=mean(~correct),
                n_correct=int(correct.sum()), n_wrong=int((~correct).sum()))


def concentration(curve, frac=0.05):
    """Share of a mean cumulative evidence curve's final value gained in its steepest ``frac``
    of steps (near ``frac``: evidence spread evenly; near 1: decided in a few steps)."""
    if curve[-1] <= 0:                                  # no net evidence to share out
        return float("nan")
    inc = np.diff(np.asarray(curve), prepend=0.0)
    k = max(1, int(round(frac * len(inc))))
    return float(np.sort(inc)[-k:].sum() / curve[-1])


def log_loss(proba, codes):
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(codes)), codes], 1e-300, None))))


# --------------------------------------------------------------------------- CV search
def cv_score(train, y_train, setting, time_position, n_splits=3, n_repeats=1):
    """Pooled accuracy and log loss of stratified k-fold CV on the training split, averaged
    over ``n_repeats`` repetitions with different fold assignments (``random_state`` 0, 1, ...)."""
    from sklearn.model_selection import StratifiedKFold
    classes = np.unique(y_train)
    codes = np.searchsorted(classes, y_train)
    accs, losses = [], []
    for rep in range(n_repeats):
        proba = np.zeros((len(y_train), len(classes)))
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=SEED + rep)
        for fit_idx, val_idx in folds.split(np.zeros(len(y_train)), y_train):
            clf, _ = fit_tsargen([train[i] for i in fit_idx], y_train[fit_idx], setting,
                                 time_position)
            p, _ = proba_tsargen(clf, [train[i] for i in val_idx], setting)
            proba[val_idx] = p
        accs.append(float(np.mean(proba.argmax(1) == codes)))
        losses.append(log_loss(proba, codes))
    return float(np.mean(accs)), float(np.mean(losses))


def is_short(train):
    """Equal-length series of at most ``SHORT_MAX`` steps: the second search stage applies."""
    return len({s.shape[0] for s in train}) == 1 and train[0].shape[0] <= SHORT_MAX


def candidates(step, best, train):
    t_min = min(s.shape[0] for s in train)
    equal = len({s.shape[0] for s in train}) == 1
    if step == "downsample":
        return [dict(best, downsample=k) for k in (2, 3)] if equal and t_min >= 100 else []
    if step == "distribution":
        return [dict(best, distribution="student_t")]
    if step == "size":
        return [dict(best, size="tiny")] + (
            [dict(best, size="wide")] if train[0].shape[1] > 1 else [])
    if step == "channels":
        return [dict(best, channel_dependence="independent")] if train[0].shape[1] > 1 else []
    # second stage (short series only)
    if step == "rf x epochs":       # both at once: the greedy order would matter
        return [dict(best, rf=rf, epochs=ep) for rf, ep in (("series", None),
                                                             ("size", SHORT_EPOCHS),
                                                             ("series", SHORT_EPOCHS))]
    if step == "seeds":
        return [dict(best, seeds=SHORT_SEEDS)]
    if step == "conditional":
        return [dict(best, conditional=True)]
    raise ValueError(step)


def greedy(train, y_train, tp, best, steps, cv, label, log):
    """Score ``best``, then try the candidates of every step in turn, keeping the best so far."""
    acc, ll = cv_score(train, y_train, best, tp, **cv)
    trials = [dict(setting=dict(best), cv_accuracy=acc, cv_log_loss=ll)]
    log(f"{label} tp={tp} {best} acc={acc:.3f} ll={ll:.3f}")
    score = (acc, -ll)
    for step in steps:
        for cand in candidates(step, best, train):
            a, l_ = cv_score(train, y_train, cand, tp, **cv)
            trials.append(dict(setting=dict(cand), cv_accuracy=a, cv_log_loss=l_))
            log(f"{label} tp={tp} {cand} acc={a:.3f} ll={l_:.3f}")
            if (a, -l_) > score:
                best, score = dict(cand), (a, -l_)
    return best, score, trials


def select(names, log, tps=(False, True)):
    """Greedy CV search for the ``time_position`` values ``tps``; returns {name: {tp:
    {"best": setting, "trials": [...], ...}}}."""
    out = {}
    for name in names:
        train, y_train, _, _ = load_ucr(name)
        out[name] = {}
        for tp in tps:
            best, score, trials = greedy(
                train, y_train, tp, dict(BASE), ("downsample", "distribution", "size",
                                                 "channels"), dict(n_splits=3), name, log)
            res = dict(best=best, cv_accuracy=score[0], cv_log_loss=-score[1], trials=trials)
            if is_short(train):
                best, score, trials2 = greedy(train, y_train, tp, best, STAGE2_STEPS,
                                              SHORT_CV, name + " (stage 2)", log)
                res.update(best=best, cv_accuracy=score[0], cv_log_loss=-score[1],
                           stage1_best=res["best"], stage1_cv_accuracy=res["cv_accuracy"],
                           stage1_cv_log_loss=res["cv_log_loss"], trials2=trials2)
            out[name][tp] = res
    return out


def setting_cells(s):
    return (f"{s['downsample']} | {s['distribution']} | {s['size']} | {s['channel_dependence']} "
            f"| {s.get('rf', 'size')} | {s.get('epochs') or 'early stop'} | {s.get('seeds', 1)} "
            f"| {'shared' if s.get('conditional') else 'per class'}")


def write_selection(sel, path):
    """Write ``sel`` merged into the existing selection file (data sets and ``time_position``
    values not searched in this run keep their earlier results)."""
    merged = {}
    if path.with_suffix(".json").exists():
        merged = read_json(path.with_suffix(".json"))
    for n, v in sel.items():
        merged.setdefault(n, {}).update({str(tp): r for tp, r in v.items()})
    merged = {n: {tp: merged[n][tp] for tp in ("False", "True") if tp in merged[n]}
              for n in merged}
    merged = {n: merged[n] for n in LOADERS if n in merged}
    lines = ["# Classification: hyperparameter search (training split only)", "",
             "Greedy search on the published *training* split, pooled CV accuracy (ties: pooled "
             "CV log loss). Stage 1: 3-fold stratified CV. Stage 2 (equal-length series of at "
             f"most {SHORT_MAX} steps only): continues from the stage-1 choice, scored by "
             f"{SHORT_CV['n_splits']}-fold stratified CV repeated {SHORT_CV['n_repeats']} times "
             "(mean over the repeats); its choice is final. Produced by "
             "`python -m benchmarks.classification --select`; the chosen settings are "
             "`SETTINGS` in `benchmarks/classification.py`. Columns rf / epochs / seeds: "
             "receptive field (`size`: that of the network size, `series`: enough layers to "
             "cover the whole series), training (early stopping on a 10 % validation split, or a "
             "fixed number of epochs on all series) and number of seeds whose densities are "
             "averaged. Column densities: one density per class, or one class-conditional "
             "density shared by all classes (`GenerativeClassifier(conditional=True)`; the "
             "last stage-2 step).", ""]
    head = ("| downsample | distribution | size | channels | rf | epochs | seeds | densities | "
            "CV accuracy | CV log loss |")
    for name, per_tp in merged.items():
        for tp, res in per_tp.items():
            stages = [("", res["trials"])]
            if "trials2" in res:
                stages = [(" (stage 1, 3-fold CV)", res["trials"]),
                          (f" (stage 2, {SHORT_CV['n_splits']}-fold CV x "
                           f"{SHORT_CV['n_repeats']})", res["trials2"])]
            for k, (title, trials) in enumerate(stages):
                chosen = res["best"] if k == len(stages) - 1 else res["stage1_best"]
                lines += [f"## {name}, time_position={tp}{title}", "", head,
                          "|---:|---|---|---|---|---|---:|---|---:|---:|"]
                for t in trials:
                    mark = " **(chosen)**" if t["setting"] == chosen else ""
                    lines.append(f"| {setting_cells(t['setting'])} | {t['cv_accuracy']:.3f}{mark} "
                                 f"| {max(t['cv_log_loss'], 0.0):.3f} |")
                lines.append("")
    path.with_suffix(".md").write_text("\n".join(lines))
    write_json(path.with_suffix(".json"), merged)


# --------------------------------------------------------------------------- benchmark
def subsample_test(X, y, n, rng):
    """Stratified subset of at most ``n`` test series (quick mode only)."""
    if len(y) <= n:
        return X, y
    from sklearn.model_selection import train_test_split
    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=rng)
    idx = np.sort(idx)
    return [X[i] for i in idx], y[idx]


def run_dataset(name, quick, log):
    train, y_train, test, y_test = load_ucr(name)
    info = dict(n_train=len(train), n_test=len(test), n_channels=train[0].shape[1],
                lengths=sorted({s.shape[0] for s in train + test}),
                classes=np.unique(y_train).tolist(),
                published_split=PUBLISHED_SPLITS[name],
                split_ok=(len(train), len(test)) == PUBLISHED_SPLITS[name])
    if quick:
        test, y_test = subsample_test(test, y_test, QUICK["max_test"], SEED)
        info["n_test_used"] = len(test)
    log(f"{name}: train {info['n_train']}, test {info['n_test']}, channels "
        f"{info['n_channels']}, lengths {info['lengths'][0]}-{info['lengths'][-1]}, "
        f"split as published: {info['split_ok']}")
    data = (train, y_train, test, y_test)
    rows = _baseline_rows(data, log)
    rows += [_tsargen_row(name, tp, data, len(info["lengths"]) == 1, quick, log)
             for tp in (False, True)]
    out = dict(name=name, info=info, rows=rows, ablation=_ablation(name, data, quick, log))
    if len(info["lengths"]) == 1 and info["n_channels"] == 1:
        out["profiles"] = {str(k): np.mean([s[:, 0] for s, y in zip(test, y_test) if y == k],
                                           axis=0).tolist() for k in np.unique(y_train)}
    acc = {row["method"]: row["accuracy"] for row in rows}
    choice = cv_choice(name)
    if (not quick and choice is not None
            and acc[f"tsargen WaveNetDensity (time_position={choice})"] < acc["1-NN DTW"]):
        out["seed_spread"] = _seed_spread(name, data, log)    # is the miss seed noise?
    return out


def _baseline_rows(data, log):
    """The two 1-NN rows on ``data = (train, y_train, test, y_test)``."""
    train, y_train, test, y_test = data
    rows = []
    for label, fn in (("1-NN Euclidean", nn1_euclidean), ("1-NN DTW", nn1_dtw)):
        t0 = time.perf_counter()
        pred = fn(train, y_train, test)
        rows.append(dict(method=label, accuracy=float(np.mean(pred == y_test)), fit_s=0.0,
                         predict_s=time.perf_counter() - t0,
                         correct=correct_string(pred == y_test)))
        log(f"  {label}: {rows[-1]['accuracy']:.3f} ({rows[-1]['predict_s']:.1f} s)")
    return rows


def _tsargen_row(name, tp, data, equal_length, quick, log):
    """The tsargen row with the settings chosen for ``time_position=tp``."""
    train, y_train, test, y_test = data
    classes = np.unique(y_train)
    codes = np.searchsorted(classes, y_test)
    setting = SETTINGS[name][tp]
    clf, fit_s = fit_tsargen(train, y_train, setting, tp, quick)
    proba, pred_s = proba_tsargen(clf, test, setting)
    pred = classes[proba.argmax(1)]
    in_sample, _ = proba_tsargen(clf, train, setting)
    row = dict(method=f"tsargen WaveNetDensity (time_position={tp})",
               time_position=tp, setting=setting,
               accuracy=float(np.mean(pred == y_test)),
               train_accuracy=float(np.mean(classes[in_sample.argmax(1)] == y_train)),
               log_loss=log_loss(proba, codes), fit_s=fit_s, predict_s=pred_s,
               epochs=fitted_epochs(clf),
               correct=correct_string(pred == y_test))
    if equal_length:
        row["evidence"] = evidence_summary(evidence(clf, test, y_test, setting),
                                           pred == y_test, setting["downsample"])
    log(f"  tsargen tp={tp} {setting}: {row['accuracy']:.3f} (fit {fit_s:.1f} s, "
        f"predict {pred_s:.1f} s, epochs {row['epochs']})")
    return row


def _ablation(name, data, quick, log):
    """The settings chosen for each ``time_position`` refitted with the other value: its
    effect with the search's other choices held fixed."""
    train, y_train, test, y_test = data
    classes = np.unique(y_train)
    codes = np.searchsorted(classes, y_test)
    out = {}
    for tp in (False, True):
        setting = SETTINGS[name][tp]
        clf, _ = fit_tsargen(train, y_train, setting, not tp, quick)
        proba, _ = proba_tsargen(clf, test, setting)
        out[str(tp).lower()] = dict(accuracy=float(np.mean(classes[proba.argmax(1)] == y_test)),
                                    log_loss=log_loss(proba, codes))
        log(f"  ablation: settings for tp={tp} with tp={not tp}: "
            f"{out[str(tp).lower()]['accuracy']:.3f}")
    return out


def _seed_spread(name, data, log):
    """Test accuracy of both settings refitted with the seeds ``SEED_SPREAD``."""
    train, y_train, test, y_test = data
    classes = np.unique(y_train)
    out = {}
    for tp in (False, True):
        accs = []
        for seed in SEED_SPREAD:
            clf, _ = fit_tsargen(train, y_train, SETTINGS[name][tp], tp, seed=seed)
            proba, _ = proba_tsargen(clf, test, SETTINGS[name][tp])
            accs.append(float(np.mean(classes[proba.argmax(1)] == y_test)))
        out[str(tp).lower()] = dict(seeds=list(SEED_SPREAD), accuracy=accs)
        log(f"  seed spread tp={tp}: {', '.join(f'{a:.3f}' for a in accs)}")
    return out


# --------------------------------------------------------------------------- digits
def reliability(proba, y_true_codes, n_bins=15):
    """Per-bin (mean confidence, accuracy, count) of the top-class probability, and the ECE."""
    conf = proba.max(1)
    correct = proba.argmax(1) == y_true_codes
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, n_bins - 1)
    bins = []
    ece = 0.0
    for b in range(n_bins):
        sel = which == b
        if sel.any():
            bins.append((float(conf[sel].mean()), float(correct[sel].mean()), int(sel.sum())))
            ece += sel.mean() * abs(conf[sel].mean() - correct[sel].mean())
    return bins, float(ece)


def digits_split(quick):
    """Stratified 70/30 split of sklearn's digits (a few per class with ``quick``)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    images = digits.images.astype(np.int64)                     # (1797, 8, 8), levels 0..16
    y = digits.target
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y,
                                      random_state=SEED)
    if quick:
        rng = np.random.RandomState(SEED)
        idx_tr = np.concatenate([rng.permutation(idx_tr[y[idx_tr] == k])[
            :QUICK["digits_per_class_train"]] for k in range(10)])
        idx_te = np.concatenate([rng.permutation(idx_te[y[idx_te] == k])[
            :QUICK["digits_per_class_test"]] for k in range(10)])
    return images[idx_tr], images[idx_te], y[idx_tr], y[idx_te]


def digits_models(quick, notes):
    """``(label, density, preprocessing, settings)`` of the image densities run on digits."""
    models = []
    try:
        from tsargen import GatedPixelCNNDensity
    except ImportError as err:
        notes.append(f"GatedPixelCNNDensity: not run: GatedPixelCNNDensity not available "
                     f"yet (`from tsargen import GatedPixelCNNDensity` failed: {err}).")
    else:
        kw = dict(n_levels=17, n_layers=4, hidden_channels=32, max_epochs=15, patience=4,
                  batch_size=16, random_state=SEED)
        if quick:
            kw.update(n_layers=1, hidden_channels=8, max_epochs=2)
        models.append(("tsargen GatedPixelCNNDensity", GatedPixelCNNDensity(**kw),
                       lambda X: X, kw))
    kw = dict(distribution="categorical", quantization="levels", n_bins=17, n_layers=6,
              residual_channels=16, skip_channels=32, **dict(TRAIN, max_epochs=15, patience=4),
              random_state=SEED)
    if quick:
        kw.update(n_layers=3, residual_channels=8, skip_channels=8, max_epochs=2)
    models.append(("tsargen WaveNetDensity (64-pixel raster rows)", WaveNetDensity(**kw),
                   lambda X: X.reshape(len(X), -1).astype(float), kw))
    return models


def run_digits(quick, log):
    X_tr, X_te, y_tr, y_te = digits_split(quick)
    out = dict(n_train=len(y_tr), n_test=len(y_te), rows=[], notes=[])
    log(f"digits: train {len(y_tr)}, test {len(y_te)}")

    t0 = time.perf_counter()
    a, b = X_te.reshape(len(X_te), -1).astype(float), X_tr.reshape(len(X_tr), -1).astype(float)
    d = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T
    pred = y_tr[d.argmin(1)]
    out["rows"].append(dict(method="1-NN Euclidean (64 pixels)",
                            accuracy=float(np.mean(pred == y_te)), fit_s=0.0,
                            predict_s=time.perf_counter() - t0))
    for label, density, prep, kw in digits_models(quick, out["notes"]):
        clf = GenerativeClassifier(density)
        t0 = time.perf_counter()
        try:
            clf.fit(prep(X_tr), y_tr)
        except Exception as err:                                   # report, do not hide
            out["notes"].append(f"{label}: fit failed: {type(err).__name__}: {err}")
            log(f"  {label}: fit failed: {err!r}")
            continue
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        proba = clf.predict_proba(prep(X_te))
        pred_s = time.perf_counter() - t0
        codes = np.searchsorted(clf.classes_, y_te)
        bins, ece = reliability(proba, codes)
        out["rows"].append(dict(method=label, accuracy=float(np.mean(proba.argmax(1) == codes)),
                                log_loss=log_loss(proba, codes), ece=ece, fit_s=fit_s,
                                predict_s=pred_s, bins=bins,
                                epochs=fitted_epochs(clf),
                                params={k: v for k, v in kw.items()}))
        log(f"  {label}: acc {out['rows'][-1]['accuracy']:.3f}, ECE {ece:.3f}, fit {fit_s:.1f} "
            f"s, predict {pred_s:.1f} s")
    return out


# --------------------------------------------------------------------------- report
def plot_accuracy(results, path):
    plt = pyplot()
    methods = ["1-NN Euclidean", "1-NN DTW", "tsargen WaveNetDensity (time_position=False)",
               "tsargen WaveNetDensity (time_position=True)"]
    short = ["1-NN Eucl.", "1-NN DTW", "tsargen tp=False", "tsargen tp=True"]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.2
    names = [r["name"] for r in results]
    for k, (m, s) in enumerate(zip(methods, short)):
        acc = [next((row["accuracy"] for row in r["rows"] if row["method"] == m), np.nan)
               for r in results]
        ax.bar(np.arange(len(names)) + (k - 1.5) * width, acc, width, label=s)
    ax.set_xticks(np.arange(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylabel("test accuracy")
    lo = min(row["accuracy"] for r in results for row in r["rows"])
    ax.set_ylim(max(0.0, lo - 0.05), 1.0)
    ax.legend(fontsize=8, ncol=4, loc="lower center")
    ax.set_title("UCR/UEA test accuracy (published splits)")
    fig.tight_layout()
    save_figure(fig, path)


def plot_evidence(results, path):
    """Mean cumulative evidence for the true class along the series (one row per equal-length
    set, one column per ``time_position``), correctly vs wrongly classified test series."""
    plt = pyplot()
    sets = [r for r in results if any("evidence" in row for row in r["rows"])]
    if not sets:
        return False
    fig, axes = plt.subplots(len(sets), 2, figsize=(10, 2.8 * len(sets)), squeeze=False)
    for ax_row, r in zip(axes, sets):
        rows = [row for row in r["rows"] if "evidence" in row]
        for ax, row in zip(ax_row, rows):
            ev = row["evidence"]
            if r.get("profiles"):               # where the series' shapes are, for reading
                twin = ax.twinx()
                for prof in r["profiles"].values():
                    twin.plot(prof, color="0.75", lw=1)
                twin.set_yticks([])
            for key, color in (("correct", "C0"), ("wrong", "C3")):
                if ev[key] is not None:
                    ax.plot(ev["t"], ev[key], color=color, lw=2,
                            label=f"{key}ly classified ({ev['n_' + key]})")
            ax.axhline(0.0, color="k", lw=0.8, ls=":")
            ax.set_zorder(ax.get_zorder() + 1)          # the curves above the grey profiles
            ax.patch.set_visible(False)
            ax.set_title(f"{r['name']}, time_position={row['time_position']} "
                         f"(test acc {row['accuracy']:.3f})", fontsize=9)
            ax.set_xlabel("time step")
            ax.set_ylabel("cumulative evidence (nats)")
            ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    return True


def plot_reliability(digits, path):
    plt = pyplot()
    rows = [r for r in digits["rows"] if "bins" in r]
    fig, axes = plt.subplots(1, max(1, len(rows)), figsize=(4.2 * max(1, len(rows)), 4),
                             squeeze=False)
    for ax, r in zip(axes[0], rows):
        conf, acc, count = map(np.array, zip(*r["bins"]))
        ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect calibration")
        ax.plot(conf, acc, "o-", label="test images")
        for c, a, n in zip(conf, acc, count):
            ax.annotate(str(n), (c, a), textcoords="offset points", xytext=(3, -10), fontsize=7)
        ax.set_xlabel("mean top-class probability (bin)")
        ax.set_ylabel("accuracy in bin")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{r['method']}\nacc {r['accuracy']:.3f}, ECE {r['ece']:.3f}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    save_figure(fig, path)


def fmt(x, digits=3):
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def cv_choice(name):
    """The time_position setting with the better CV score (from the selection file)."""
    sel_path = RESULTS / "classification_selection.json"
    if not sel_path.exists():
        return None
    sel = read_json(sel_path).get(name)
    if not sel:
        return None
    score = {tp: (sel[str(tp)]["cv_accuracy"], -sel[str(tp)]["cv_log_loss"])
             for tp in (False, True)}
    return max((False, True), key=lambda tp: score[tp])


def cv_accuracy(name, time_position):
    """CV accuracy of the chosen setting (from the selection file)."""
    sel_path = RESULTS / "classification_selection.json"
    sel = read_json(sel_path).get(name) if sel_path.exists() else None
    return None if not sel else sel[str(time_position)]["cv_accuracy"]


def correct_string(hits):
    """Per-test-series hits as a compact JSON string of '0'/'1', in test order."""
    return "".join("1" if h else "0" for h in hits)


def paired_difference(a, b, level=0.95, n_boot=10000, seed=0):
    """Accuracy difference of two classifiers scored on the same test series (``a``, ``b``:
    0/1 per series, or :func:`correct_string`): ``mean(a) - mean(b)``, a paired percentile
    bootstrap interval (series resampled with replacement) and the exact two-sided McNemar
    p-value (a binomial test on the series exactly one of them gets right)."""
    from scipy.stats import binomtest
    d = np.array(list(a), int) - np.array(list(b), int)
    lo, hi = paired_bootstrap(lambda idx: d[idx].mean(1), len(d), level, n_boot, seed)
    only_a, only_b = int(np.sum(d > 0)), int(np.sum(d < 0))
    p = binomtest(only_a, only_a + only_b).pvalue if only_a + only_b else 1.0
    return dict(diff=float(d.mean()), lo=lo, hi=hi, only_a=only_a, only_b=only_b, p=float(p))


def paired_table(results):
    """CV choice against both 1-NN baselines, per data set: which differences the test split
    resolves."""
    lines = ["| data set | tsargen CV choice vs | accuracy difference | 95% interval | right "
             "only by tsargen / only by the baseline | McNemar p |", "|---|---|---:|---|---|---:|"]
    for r in results:
        choice = cv_choice(r["name"])
        rows = {row["method"]: row for row in r["rows"]}
        ours = rows.get(f"tsargen WaveNetDensity (time_position={choice})", {})
        if choice is None or "correct" not in ours:
            continue
        for base in ("1-NN DTW", "1-NN Euclidean"):
            x = paired_difference(ours["correct"], rows[base]["correct"])
            lines.append(f"| {r['name']} | {base} | {x['diff']:+.3f} | {x['lo']:+.3f} to "
                         f"{x['hi']:+.3f} | {x['only_a']} / {x['only_b']} | {x['p']:.3g} |")
    return "\n".join(lines) if len(lines) > 2 else None


def write_report(results, digits, meta, stem):
    quick = " (QUICK smoke run: not meaningful)" if meta["quick"] else ""
    md = [f"# Classification benchmark{quick}",
          "",
          f"Produced by `python -m benchmarks.classification{' --quick' if meta['quick'] else ''}`"
          f" on {meta['date']} ({meta['platform']}, torch {meta['torch']}, "
          f"{meta['threads']} thread, shared machine); total run {meta['total_s'] / 60:.1f} min. "
          "See the module docstring for the protocol.", ""]
    if results:
        table, missed = _accuracy_lines(results)
        md += table + _timing_lines(results) + _data_check_lines(results)
        md += ["", "![accuracy](" + stem + "_accuracy.png)", ""]
        md += _seed_spread_lines(results) + _time_position_lines(results, missed)
        if meta.get("evidence_plot"):
            md += _evidence_lines(results, stem)
    for note in meta.get("skipped", []):
        md.append(f"* skipped: {note}")
    if digits is not None:
        md += _digits_lines(digits, stem)
    (RESULTS / f"{stem}.md").write_text("\n".join(md) + "\n")


def _tsargen_accuracies(r):
    """Accuracies of every row by method, and those of the two tsargen rows (tp False, True)."""
    acc = {row["method"]: row["accuracy"] for row in r["rows"]}
    return acc, (acc["tsargen WaveNetDensity (time_position=False)"],
                 acc["tsargen WaveNetDensity (time_position=True)"])


def _accuracy_lines(results):
    """Test accuracy table, the target verdict and the paired comparisons; also returns the
    sets whose CV choice misses the target, as ``(name, tp, accuracy, 1-NN DTW accuracy)``."""
    md = ["## UCR/UEA archive sets (published train/test splits)", "",
          "Test accuracy. tsargen rows: `GenerativeClassifier(WaveNetDensity(...))`, "
          "settings chosen by CV on the training split only "
          "(`classification_selection.md`). *CV choice* is the `time_position` value with "
          "the better CV accuracy (ties: lower CV log loss); the target is CV choice >= "
          "1-NN DTW.", ""]
    md += md_table(["data set", "n train / test", "1-NN Euclidean", "1-NN DTW",
                    "tsargen tp=False", "tsargen tp=True", "tsargen CV choice", "target met",
                    "published 1-NN DTW", "published ROCKET"])
    summary = []
    for r in results:
        acc, (f_, t_) = _tsargen_accuracies(r)
        choice = cv_choice(r["name"])
        chosen = None if choice is None else (t_ if choice else f_)
        met = "–" if chosen is None else ("yes" if chosen >= acc["1-NN DTW"] else "**no**")
        summary.append((r["name"], choice, chosen, acc["1-NN DTW"]))
        pub = PUBLISHED[r["name"]]
        n_te = r["info"].get("n_test_used", r["info"]["n_test"])
        md.append(f"| {r['name']} | {r['info']['n_train']} / {n_te} | "
                  f"{fmt(acc['1-NN Euclidean'])} | {fmt(acc['1-NN DTW'])} | {fmt(f_)} | "
                  f"{fmt(t_)} | {fmt(chosen)}"
                  f"{'' if choice is None else f' (tp={choice})'} | {met} | "
                  f"{fmt(pub.get('1-NN DTW'))} | {fmt(pub.get('ROCKET'))} |")
    judged = [x for x in summary if x[2] is not None]
    missed = [x for x in judged if x[2] < x[3]]
    if judged:
        md += ["", f"**Target (CV choice >= 1-NN DTW) met on {len(judged) - len(missed)} of "
               f"{len(judged)} sets**" + ("." if not missed else "; missed on " + ", ".join(
                   f"{n} ({fmt(c)} with time_position={tp} vs 1-NN DTW {fmt(d)}; its CV "
                   f"accuracy on the training split was {fmt(cv_accuracy(n, tp))})"
                   for n, tp, c, d in missed) + ".")]
    paired = paired_table(results)
    if paired:
        md += ["", "Which differences the test split resolves: the CV choice against each "
               "1-NN baseline on the same test series, with a 95% paired bootstrap interval "
               "(test series resampled with replacement) and the exact McNemar test on the "
               "series only one of the two classifies correctly. An interval that contains "
               "0 means the test split does not tell the two apart.", "", paired]
    return md, missed


def _setting_text(s, info):
    """A tsargen row's settings in words (empty for the baselines)."""
    if s is None:
        return ""
    z = network_kwargs(s, info["n_channels"], info["lengths"][-1] // s["downsample"])
    return (f"downsample {s['downsample']}, {s['distribution']}, {s['size']} "
            f"({z['n_layers']} layers, {z['residual_channels']}/{z['skip_channels']} "
            f"ch), {s['channel_dependence']}"
            + (", receptive field covers the series" if s.get("rf") == "series" else "")
            + (f", {s['epochs']} epochs (no early stopping)" if s.get("epochs") else "")
            + (f", mean of {s['seeds']} seeds' densities" if s.get("seeds", 1) > 1 else "")
            + (", one class-conditional density" if s.get("conditional") else ""))


def _timing_lines(results):
    md = ["", "Run times (seconds; fit = all per-class densities, predict = the whole test "
          "split) and tsargen settings; *train accuracy*: the fitted classifier on its own "
          "training series (in-sample):", ""]
    md += md_table(["data set", "method", "accuracy", "train accuracy", "log loss", "fit s",
                    "predict s", "settings", "epochs per class"], align="llrrrrrll")
    for r in results:
        for row in r["rows"]:
            md.append(f"| {r['name']} | {row['method']} | {fmt(row['accuracy'])} | "
                      f"{fmt(row.get('train_accuracy'))} | "
                      f"{fmt(row.get('log_loss'))} | {row['fit_s']:.1f} | "
                      f"{row['predict_s']:.1f} | {_setting_text(row.get('setting'), r['info'])} | "
                      f"{','.join(map(str, row.get('epochs', [])))} |")
    return md


def _data_check_lines(results):
    md = ["", "Data checks:", ""]
    for r in results:
        i = r["info"]
        md.append(f"* {r['name']}: {i['n_train']} train / {i['n_test']} test series "
                  f"(published {i['published_split'][0]} / {i['published_split'][1]}: "
                  f"{'match' if i['split_ok'] else 'MISMATCH'}), {i['n_channels']} "
                  f"channel(s), lengths {i['lengths'][0]}–{i['lengths'][-1]}, "
                  f"{len(i['classes'])} classes.")
    return md


def _seed_spread_lines(results):
    spread = [r for r in results if "seed_spread" in r]
    if not spread:
        return []
    md = ["### Seed spread where the target is missed", "",
          "Same settings, refitted with other `random_state` values (test accuracy; "
          "seed 0 is the table above; a density averaged over k seeds uses seeds "
          "k*s .. k*s+k-1 for seed s):", ""]
    md += md_table(["data set", "time_position", "seed 0", "other seeds", "mean of all"],
                   align="llrlr")
    for r in spread:
        acc, _ = _tsargen_accuracies(r)
        for tp in (False, True):
            a0 = acc[f"tsargen WaveNetDensity (time_position={tp})"]
            others = r["seed_spread"][str(tp).lower()]["accuracy"]
            md.append(f"| {r['name']} | {tp} | {fmt(a0)} | "
                      f"{', '.join(fmt(a) for a in others)} | "
                      f"{fmt(float(np.mean([a0] + others)))} |")
    return md + [""]


def _change(a, b):
    return f"{fmt(a)} → {fmt(b)} ({b - a:+.3f})"


def _time_position_lines(results, missed):
    md = ["### What `time_position` buys", "",
          "Test accuracy without → with `time_position`. *Separately tuned*: the two rows "
          "above, each with its own searched settings (so other settings change too). "
          "*Same settings*: the settings searched for one value, refitted with the other "
          "(`random_state` 0), so only `time_position` changes.", ""]
    md += md_table(["data set", "separately tuned", "same settings (tuned for False)",
                    "same settings (tuned for True)"])
    for r in results:
        _, (f_, t_) = _tsargen_accuracies(r)
        abl = r.get("ablation")
        cells = ["–", "–"] if not abl else [
            _change(f_, abl["false"]["accuracy"]), _change(abl["true"]["accuracy"], t_)]
        md.append(f"| {r['name']} | {_change(f_, t_)} | {cells[0]} | {cells[1]} |")
    md.append("")
    for name, tp, chosen, dtw in missed:
        r = next(r for r in results if r["name"] == name)
        for key, abl in r.get("ablation", {}).items():
            if abl["accuracy"] >= dtw:
                md += [f"On {name} the settings tuned for time_position={key.title()}, "
                       f"refitted with time_position={key != 'true'}, reach "
                       f"{fmt(abl['accuracy'])}, at least 1-NN DTW's {fmt(dtw)}. This "
                       "configuration was not the CV choice, so it does not count for the "
                       "target: taking it now would be choosing on the test split.", ""]
    return md


def _evidence_lines(results, stem):
    md = ["Where along the series the decision is made: for every equal-length test "
          "series, the per-step evidence for its true class is `log p(x_t | x_<t, true "
          "class)` minus the same under the strongest other class (summed over "
          "channels; its sum over the series is the log-likelihood ratio Bayes rule "
          "compares, priors aside). The plot shows its running sum averaged over the "
          "correctly and over the wrongly classified series (grey: the class means of "
          "the test series, univariate sets). A wrongly classified series ends below "
          "zero; where its curve falls is where the model's evidence goes wrong. "
          "*Steepest 5 %*: the share of the correctly classified series' mean final "
          "evidence gained in the 5 % of steps where it grows most.", ""]
    md += md_table(["data set", "time_position", "correctly / wrongly classified",
                    "mean final evidence, correct / wrong (nats)", "steepest 5 %"],
                   align="llllr")
    for r in results:
        for row in r["rows"]:
            ev = row.get("evidence")
            if ev is None:
                continue
            md.append(f"| {r['name']} | {row['time_position']} | {ev['n_correct']} / "
                      f"{ev['n_wrong']} | {ev['correct'][-1]:.1f} / "
                      f"{'–' if ev['wrong'] is None else format(ev['wrong'][-1], '.1f')} "
                      f"| {fmt(100 * concentration(ev['correct']), 0)}% |")
    return md + ["", "![evidence](" + stem + "_evidence.png)", ""]


def _digits_lines(digits, stem):
    md = ["## Images: sklearn digits (8x8, levels 0..16)", "",
          f"Stratified 70/30 split: {digits['n_train']} train / {digits['n_test']} test "
          "images. ECE: expected calibration error of the top-class probability, 15 bins.",
          ""]
    md += [f"* {note}" for note in digits["notes"]]
    md += [""] + md_table(["method", "accuracy", "log loss", "ECE", "fit s", "predict s"],
                          align="lrrrrr")
    for row in digits["rows"]:
        md.append(f"| {row['method']} | {fmt(row['accuracy'])} | {fmt(row.get('log_loss'))} "
                  f"| {fmt(row.get('ece'))} | {row['fit_s']:.1f} | {row['predict_s']:.1f} |")
    for row in digits["rows"]:
        if "params" in row:
            md.append(f"\n{row['method']} settings (fixed, not tuned): `{row['params']}`; "
                      f"epochs per class: {','.join(map(str, row['epochs']))}.")
    return md + ["", "![reliability](" + stem + "_digits_reliability.png)", ""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (< 2 minutes)")
    parser.add_argument("--select", action="store_true",
                        help="run the CV hyperparameter search on the training splits")
    parser.add_argument("--datasets", default=",".join(LOADERS),
                        help="comma-separated subset of " + ",".join(LOADERS))
    parser.add_argument("--time-position", choices=("both", "false", "true"), default="both",
                        help="with --select: the time_position values to search")
    parser.add_argument("--no-digits", action="store_true", help="skip the digits section")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=FutureWarning)
    RESULTS.mkdir(parents=True, exist_ok=True)
    names = [n for n in args.datasets.split(",") if n]
    for n in names:
        if n not in LOADERS:
            parser.error(f"unknown data set {n!r}")
    start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - start:7.1f}s] {msg}", flush=True)

    if args.select:
        tps = {"both": (False, True), "false": (False,), "true": (True,)}[args.time_position]
        sel = select(names, log, tps)
        write_selection(sel, RESULTS / "classification_selection")
        log("wrote classification_selection.md/.json")
        return

    stem = "classification" + ("_quick" if args.quick else "")
    results, skipped = [], []
    for name in names:
        try:
            load_ucr(name)
        except Exception as err:                       # e.g. a loader wanting the network
            skipped.append(f"{name}: loader failed ({type(err).__name__}: {err})")
            log(f"skipping {name}: {err!r}")
            continue
        results.append(run_dataset(name, args.quick, log))
    digits = None if args.no_digits else run_digits(args.quick, log)
    meta = dict(quick=args.quick, date=time.strftime("%Y-%m-%d"), platform=platform.machine(),
                python=sys.version.split()[0], torch=torch.__version__,
                threads=torch.get_num_threads(), total_s=time.perf_counter() - start,
                skipped=skipped)
    if results:
        plot_accuracy(results, RESULTS / f"{stem}_accuracy.png")
        meta["evidence_plot"] = plot_evidence(results, RESULTS / f"{stem}_evidence.png")
    if digits is not None:
        plot_reliability(digits, RESULTS / f"{stem}_digits_reliability.png")
    write_report(results, digits, meta, stem)
    write_json(RESULTS / f"{stem}.json", dict(meta=meta, datasets=results, digits=digits),
               default=str)
    log(f"wrote {RESULTS / (stem + '.md')}")


if __name__ == "__main__":
    main()
