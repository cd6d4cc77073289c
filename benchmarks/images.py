"""Image densities on real images: likelihood against baselines, sampling speed, pictures.

What is measured
----------------
Every tsargen image density -- ``PixelCNNDensity``, ``GatedPixelCNNDensity``,
``PixelCNNPPDensity``, ``PixelRNNDensity(kind="row_lstm")`` and
``PixelRNNDensity(kind="diagonal_bilstm")`` -- that is importable from ``tsargen`` is fitted with
the settings in ``MODELS`` below (one dict, per model and per data set); a model that is not
importable is listed as "not run (not available)". All models are CPU-budget models: small
networks trained for a few minutes on one core, far from the published full-scale ones.

1. **digits** -- scikit-learn's ``load_digits`` (1797 images of 8x8 pixels, 17 levels 0..16),
   ``train_test_split(test_size=0.2, random_state=0, stratify=y)`` (1437 train / 360 test).
   Test negative log-likelihood in nats per image and bits per dimension, and fit time. Two
   baselines fitted on the same training images:

   * *independent categorical*: one 17-way categorical per pixel, Laplace-smoothed
     (add-one counts);
   * *raster logistic*: per pixel ``i`` (raster order), a multinomial
     ``sklearn.linear_model.LogisticRegression`` (``C=1``, lbfgs) on all previous pixels
     (values / 16; ``max_iter=2000``, 50 with ``--quick``) -- a fully visible logistic
     autoregressive model. Pixel 0 and pixels whose training values are constant use the
     smoothed categorical; the regression's
     probabilities are smoothed as if they were counts of the ``N`` training images,
     ``(N p(v) + 1) / (N + 17)``, so that a level unseen in training has a finite loss.

2. **mnist** -- binarized MNIST (``x > 127``). Only the 10k MNIST test split is available
   (``images/t10k-images-idx3-ubyte.gz``): its first 8000 images train, the last 2000 test.
   Test NLL in nats per image. Baseline: an independent Bernoulli per pixel (Laplace-smoothed).
   Published full-scale numbers (PixelRNN paper, van den Oord et al. 2016, on the stochastically
   binarized MNIST with 50k training images): PixelCNN 81.30, Row LSTM 80.54, Diagonal BiLSTM
   79.20 nats -- a different binarization, 6x more training data and hours of GPU training, so
   not comparable with the numbers here.

3. **cifar** -- the CIFAR-10 subset in ``images/cifar10_jpeg_subset.npz`` (decoded from a JPEG
   re-encoding: not comparable with published CIFAR-10 bits/dim). The first ``n_train`` training
   images and the first ``n_test`` test images, 256 levels, RGB. Bits per sub-pixel of Gated
   PixelCNN and PixelCNN++ against two baselines on the same training images: an independent
   256-way categorical per sub-pixel (position and colour; Laplace-smoothed) and one per colour
   channel pooled over positions.

4. **speed** -- sampling 28x28 one-channel images (the mnist settings; the mnist models of the
   same run, else the same architecture fitted for one epoch on a few images: speed does not
   depend on the weights) at batch 1 and 64. *Cached*: ``est.sample(n)`` (each new pixel runs
   every layer at that pixel only), the whole image timed. *Naive*:
   ``est.network_.generate(n, 28, 28, known=..., naive=True)``, which recomputes the full network
   over the whole image for every pixel; its cost per pixel does not depend on the position, so
   only the last ``k`` rows are generated (the rows above are given as ``known``) and the time is
   extrapolated linearly to 28 rows: images/s = n / (t * 28 / k). ``k`` is in the table. Each
   timing is the best of ``SPEED_REPEATS`` wall-clock runs, cached and naive interleaved, so the
   ratio is measured in one run. The same ``known`` rows are then generated cached under the
   same seed and compared with the naive output (must be identical); a second check compares a
   whole cached and naive 8x8 digits sample.

5. **pictures** -- for the digits and mnist models: a grid of samples and a grid of completions
   (top half of test images given, ``N_COMPLETIONS`` completions each, next to the original).
   The images are stored in the JSON and drawn from it.

Fit times are wall clock with ``--threads`` torch threads (default 1) on a machine that may be
shared with other jobs: indicative only.

Incremental results
-------------------
``--models a,b`` runs only those models (and ``baselines`` only if listed) and merges their rows
into the existing ``benchmarks/results/images.json``; ``images.md`` and the PNGs are always
re-rendered from the whole JSON. Every row records when it was run and with which settings. E.g.
once PixelCNN++ and PixelRNN are merged::

    python -m benchmarks.images --models pixelcnn_pp,row_lstm,diagonal_bilstm

How to run
----------
From the repository root::

    nice -n 10 python -m benchmarks.images                   # everything (~25 min, 2 models)
    python -m benchmarks.images --quick                      # smoke run (< 1 min), *_quick*
    python -m benchmarks.images --models baselines,pixelcnn --sections digits,mnist
    python -m benchmarks.images --render                     # only re-render md/PNGs

Options: ``--models`` (comma list of ``baselines`` and the keys of ``MODELS``; default all),
``--sections`` (``digits,mnist,cifar,speed,pictures``; default all), ``--threads`` (default 1),
``--data-dir`` (default ``$TSARGEN_DATA`` or ``../shared/data`` beside the repository). Writes
``images.md``, ``images.json``, ``images_nll.png``, ``images_speed.png``,
``images_{digits,mnist}_{samples,completions}.png`` (``images_quick*`` with ``--quick``).
"""

import argparse
import datetime
import gzip
import json
import math
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from benchmarks import seeded
from benchmarks.report import md_table, paragraph, pyplot, save_figure, write_json
import tsargen

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
NOTES = RESULTS / "images_notes.md"          # hand-written parts of the report
DEFAULT_DATA = Path(os.environ.get("TSARGEN_DATA", HERE.parents[1] / "shared" / "data"))
SEED = 0
SECTIONS = ("digits", "mnist", "cifar", "speed", "pictures")

# --------------------------------------------------------------------------- settings
# One entry per model: the tsargen class, fixed constructor arguments, and per data set the
# architecture + training settings (None: the model is not part of that section). Every model
# also gets n_levels (from the data), validation_fraction=0.1 and random_state=0.
MODELS = {
    "pixelcnn": dict(
        label="PixelCNN", cls="PixelCNNDensity", fixed={},
        digits=dict(n_layers=10, hidden_channels=64, max_epochs=40, batch_size=32, lr=2e-3,
                    patience=8),
        mnist=dict(n_layers=6, hidden_channels=32, max_epochs=8, batch_size=32, lr=2e-3,
                   patience=3),
        cifar=None),
    "gated_pixelcnn": dict(
        label="Gated PixelCNN", cls="GatedPixelCNNDensity", fixed={},
        digits=dict(n_layers=8, hidden_channels=64, max_epochs=30, batch_size=32, lr=2e-3,
                    patience=4),
        mnist=dict(n_layers=5, hidden_channels=16, max_epochs=4, batch_size=32, lr=2e-3,
                   patience=3),
        cifar=dict(n_layers=4, hidden_channels=48, max_epochs=3, batch_size=16, lr=2e-3,
                   patience=3)),
    "pixelcnn_pp": dict(
        label="PixelCNN++", cls="PixelCNNPPDensity", fixed={},
        digits=dict(n_layers=2, hidden_channels=32, n_mixtures=5, dropout=0.5, max_epochs=40,
                    batch_size=32, lr=2e-3, patience=6),
        mnist=dict(n_layers=2, hidden_channels=32, n_mixtures=3, dropout=0.0, max_epochs=3,
                   batch_size=32, lr=2e-3, patience=3),
        cifar=dict(n_layers=3, hidden_channels=48, n_mixtures=5, dropout=0.0, max_epochs=3,
                   batch_size=16, lr=2e-3, patience=3)),
    "row_lstm": dict(
        label="PixelRNN Row LSTM", cls="PixelRNNDensity", fixed=dict(kind="row_lstm"),
        digits=dict(n_layers=2, hidden_channels=64, max_epochs=30, batch_size=32, lr=3e-3,
                    patience=5),
        mnist=dict(n_layers=2, hidden_channels=32, max_epochs=4, batch_size=32, lr=3e-3,
                   patience=3),
        cifar=None),
    "diagonal_bilstm": dict(
        label="PixelRNN Diagonal BiLSTM", cls="PixelRNNDensity",
        fixed=dict(kind="diagonal_bilstm"),
        digits=dict(n_layers=2, hidden_channels=64, max_epochs=30, batch_size=32, lr=3e-3,
                    patience=5),
        mnist=dict(n_layers=2, hidden_channels=32, max_epochs=4, batch_size=32, lr=3e-3,
                   patience=3),
        cifar=None),
}
VALIDATION_FRACTION = 0.1

DIGITS_LEVELS = 17
MNIST_SPLIT = 8000                     # first 8000 of the 10k test images train, the rest test
CIFAR_SIZES = dict(n_train=1000, n_test=1000)
PUBLISHED_MNIST = {"pixelcnn": 81.30, "row_lstm": 80.54, "diagonal_bilstm": 79.20}
LOGISTIC_C = 1.0

SPEED_SIZE = 28
SPEED_BATCHES = (1, 64)
SPEED_NAIVE_ROWS = {1: 4, 64: 1}       # rows generated (and timed) naively per batch size
SPEED_REPEATS = 2

N_SAMPLES = {"digits": 64, "mnist": 36}
N_COMPLETE = {"digits": 8, "mnist": 6}  # test images completed
N_COMPLETIONS = 4                       # completions per image

QUICK = dict(digits_train=200, digits_test=100, mnist_train=200, mnist_test=100,
             cifar_train=64, cifar_test=32, max_epochs=1, batch_size=8,
             net=dict(n_layers=2, hidden_channels=12), speed_batches=(1, 8),
             naive_rows={1: 1, 8: 1}, repeats=1, samples=16, complete=2, completions=2)

CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"   # image encoding in the JSON (<= 36 levels)


def stamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# --------------------------------------------------------------------------- data
def _read_idx(path):
    """An IDX file (optionally gzipped) -> ndarray: big-endian magic, dims, then the data."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for dims {dims}")
    return data.reshape(dims)


def load_digits_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    X = d.images.astype(np.uint8)                                           # (1797, 8, 8)
    X_tr, X_te, y_tr, y_te = train_test_split(X, d.target, test_size=0.2, random_state=0,
                                              stratify=d.target)
    return X_tr, X_te


def load_mnist_binary(data_dir):
    images = _read_idx(Path(data_dir) / "images" / "t10k-images-idx3-ubyte.gz")  # (10000, 28, 28)
    X = (images > 127).astype(np.uint8)
    return X[:MNIST_SPLIT], X[MNIST_SPLIT:]


def load_cifar(data_dir, n_train, n_test):
    with np.load(Path(data_dir) / "images" / "cifar10_jpeg_subset.npz") as f:
        return f["X_train"][:n_train], f["X_test"][:n_test]                # (n, 32, 32, 3)


# --------------------------------------------------------------------------- baselines
def categorical_nll(X_tr, X_te, n_levels, pooled_axes=()):
    """Independent Laplace-smoothed categorical per element (per image position and channel);
    ``pooled_axes`` (of the image, e.g. (0, 1) for rows and columns) share one categorical.
    Returns the test NLL per image in nats."""
    tr, te = X_tr.astype(np.int64), X_te.astype(np.int64)
    onehot_axes = tuple(1 + a for a in pooled_axes)
    counts = np.stack([(tr == v).sum(axis=(0,) + onehot_axes) for v in range(n_levels)])
    n = len(tr) * int(np.prod([tr.shape[a] for a in onehot_axes]))
    logp = np.log((counts + 1.0) / (n + n_levels))                         # (K, *shape)
    for a in pooled_axes:
        logp = np.expand_dims(logp, 1 + a)
    logp = np.broadcast_to(logp, (n_levels,) + te.shape[1:])
    flat = logp.reshape(n_levels, -1)
    idx = te.reshape(len(te), -1)
    return -flat[idx, np.arange(idx.shape[1])].sum(axis=1)                 # (n_test,)


def raster_logistic_nll(X_tr, X_te, n_levels, C=LOGISTIC_C, max_iter=2000):
    """Per-pixel multinomial logistic regression on all previous pixels (raster order)."""
    from sklearn.linear_model import LogisticRegression
    tr = X_tr.reshape(len(X_tr), -1).astype(np.int64)
    te = X_te.reshape(len(X_te), -1).astype(np.int64)
    n = len(tr)
    scale = float(n_levels - 1)
    nll = np.zeros(len(te))
    n_constant = n_unconverged = 0
    for i in range(tr.shape[1]):
        counts = np.bincount(tr[:, i], minlength=n_levels)
        seen = np.flatnonzero(counts)
        if i == 0 or len(seen) == 1:
            n_constant += i > 0
            p = (counts + 1.0) / (n + n_levels)
            nll -= np.log(p[te[:, i]])
            continue
        lr = LogisticRegression(C=C, max_iter=max_iter)
        lr.fit(tr[:, :i] / scale, tr[:, i])
        n_unconverged += int(lr.n_iter_.max() >= max_iter)
        proba = np.zeros((len(te), n_levels))
        proba[:, lr.classes_] = lr.predict_proba(te[:, :i] / scale)
        p = (n * proba + 1.0) / (n + n_levels)
        nll -= np.log(p[np.arange(len(te)), te[:, i]])
    return nll, n_constant, n_unconverged


def bernoulli_nll(X_tr, X_te):
    return categorical_nll(X_tr, X_te, 2)


# --------------------------------------------------------------------------- models
def model_class(key):
    return getattr(tsargen, MODELS[key]["cls"], None)


def model_settings(key, section, quick):
    spec = MODELS[key]
    kw = dict(spec[section])
    if quick:
        kw.update(QUICK["net"], max_epochs=QUICK["max_epochs"], batch_size=QUICK["batch_size"])
    return kw


def make_model(key, section, n_levels, quick, **overrides):
    kw = dict(model_settings(key, section, quick), **overrides)
    return model_class(key)(n_levels=n_levels, validation_fraction=VALIDATION_FRACTION,
                            random_state=SEED, verbose=False, **MODELS[key]["fixed"], **kw), kw


def fit_model(key, section, X_tr, X_te, n_levels, quick, log):
    """Fit one model; returns (estimator or None, row)."""
    spec = MODELS[key]
    row = dict(model=key, label=spec["label"], run=stamp())
    if model_class(key) is None:
        row["status"] = "not available"
        log(f"  {spec['label']}: not run (tsargen.{spec['cls']} not available)")
        return None, row
    row["settings"] = dict(spec["fixed"], **model_settings(key, section, quick))
    t0 = time.perf_counter()
    try:
        est, _ = make_model(key, section, n_levels, quick)
        est.fit(X_tr)
    except Exception as err:                                   # report, do not hide
        row.update(status="failed", error=f"{type(err).__name__}: {err}")
        log(f"  {spec['label']}: fit failed: {err!r}")
        return None, row
    row["fit_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    nll = -est.score_samples(X_te)
    row.update(status="ok", score_s=time.perf_counter() - t0, epochs=int(est.n_iter_),
               nll=float(nll.mean()), nll_se=float(nll.std(ddof=1) / math.sqrt(len(nll))),
               bpd=float(nll.mean() / (np.prod(X_te.shape[1:]) * math.log(2))),
               val_curve=[float(v) for v in est.val_loss_curve_],
               n_params=int(sum(p.numel() for p in est.network_.parameters())))
    log(f"  {spec['label']}: NLL {row['nll']:.2f} nats ({row['bpd']:.4f} bits/dim), "
        f"{row['epochs']} epochs, fit {row['fit_s']:.0f} s")
    return est, row


def baseline_row(name, nll, n_dims, **extra):
    return dict(model=name, label=name, run=stamp(), status="ok", nll=float(nll.mean()),
                nll_se=float(nll.std(ddof=1) / math.sqrt(len(nll))),
                bpd=float(nll.mean() / (n_dims * math.log(2))), **extra)


# --------------------------------------------------------------------------- pictures
def encode(images):
    """Integer images (n, H, W) with <= 36 levels -> list of strings (one char per pixel)."""
    return ["".join(CHARS[v] for v in img.ravel()) for img in np.asarray(images, dtype=np.int64)]


def decode(strings, shape):
    return np.array([[CHARS.index(ch) for ch in s] for s in strings]).reshape(-1, *shape)


def pictures(est, X_te, section, quick, log):
    n_s = QUICK["samples"] if quick else N_SAMPLES[section]
    n_c = QUICK["complete"] if quick else N_COMPLETE[section]
    n_k = QUICK["completions"] if quick else N_COMPLETIONS
    t0 = time.perf_counter()
    samples = est.sample(n_s, random_state=SEED)
    originals = X_te[:n_c]
    n_known = X_te.shape[1] // 2
    comp = est.complete(originals, n_known=n_known, n_samples=n_k, random_state=SEED)
    log(f"  pictures: {n_s} samples, {n_c}x{n_k} completions in {time.perf_counter() - t0:.1f} s")
    return dict(shape=list(X_te.shape[1:]), n_known=n_known, samples=encode(samples),
                originals=encode(originals),
                completions=[encode(c) for c in comp.transpose(1, 0, 2, 3)])  # per original


# --------------------------------------------------------------------------- sections
def load_section(section, data_dir, quick):
    """Train and test images of a likelihood section and their number of levels."""
    if section == "digits":
        X_tr, X_te = load_digits_split()
        if quick:
            X_tr, X_te = X_tr[:QUICK["digits_train"]], X_te[:QUICK["digits_test"]]
        return X_tr, X_te, DIGITS_LEVELS
    if section == "mnist":
        X_tr, X_te = load_mnist_binary(data_dir)
        if quick:
            X_tr, X_te = X_tr[:QUICK["mnist_train"]], X_te[:QUICK["mnist_test"]]
        return X_tr, X_te, 2
    sizes = (dict(n_train=QUICK["cifar_train"], n_test=QUICK["cifar_test"]) if quick
             else CIFAR_SIZES)
    X_tr, X_te = load_cifar(data_dir, **sizes)
    return X_tr, X_te, 256


def baseline_rows(section, X_tr, X_te, n_levels, quick, rows):
    """Fit and score the section's baselines into ``rows`` (by name)."""
    n_dims = int(np.prod(X_te.shape[1:]))
    t0 = time.perf_counter()
    if section == "digits":
        rows["independent categorical"] = baseline_row(
            "independent categorical", categorical_nll(X_tr, X_te, n_levels), n_dims,
            fit_s=time.perf_counter() - t0)
        t0 = time.perf_counter()
        max_iter = 50 if quick else 2000                 # quick: a cheap, worse fit
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            nll, n_const, n_unconv = raster_logistic_nll(X_tr, X_te, n_levels,
                                                         max_iter=max_iter)
        rows["raster logistic"] = baseline_row(
            "raster logistic", nll, n_dims, fit_s=time.perf_counter() - t0,
            n_constant_pixels=int(n_const), C=LOGISTIC_C, max_iter=max_iter,
            n_unconverged=int(n_unconv))
    elif section == "mnist":
        rows["independent Bernoulli"] = baseline_row(
            "independent Bernoulli", bernoulli_nll(X_tr, X_te), n_dims,
            fit_s=time.perf_counter() - t0)
    else:
        rows["independent categorical per sub-pixel"] = baseline_row(
            "independent categorical per sub-pixel", categorical_nll(X_tr, X_te, n_levels),
            n_dims, fit_s=time.perf_counter() - t0)
        rows["categorical per colour channel"] = baseline_row(
            "categorical per colour channel",
            categorical_nll(X_tr, X_te, n_levels, pooled_axes=(0, 1)), n_dims)


def run_likelihood(section, keys, do_baselines, do_pictures, data_dir, quick, log, results):
    """digits / mnist / cifar: fit the models, score the test images; returns fitted models."""
    X_tr, X_te, n_levels = load_section(section, data_dir, quick)
    out = results.setdefault(section, {})
    out["data"] = dict(n_train=len(X_tr), n_test=len(X_te), shape=list(X_te.shape[1:]),
                       n_levels=n_levels)
    log(f"{section}: train {len(X_tr)}, test {len(X_te)}, image {X_te.shape[1:]}, "
        f"{n_levels} levels")
    rows = out.setdefault("baselines", {})
    if do_baselines:
        baseline_rows(section, X_tr, X_te, n_levels, quick, rows)
        for name, r in rows.items():
            log(f"  {name}: NLL {r['nll']:.2f} nats ({r['bpd']:.4f} bits/dim)")
    fitted = {}
    models = out.setdefault("models", {})
    for key in keys:
        if MODELS[key][section] is None:
            continue
        est, row = fit_model(key, section, X_tr, X_te, n_levels, quick, log)
        models[key] = row
        if est is not None:
            fitted[key] = est
            if do_pictures and section in ("digits", "mnist"):
                try:
                    results.setdefault("pictures", {}).setdefault(section, {})[key] = (
                        pictures(est, X_te, section, quick, log))
                except Exception as err:                   # report, do not hide
                    row["pictures_error"] = f"{type(err).__name__}: {err}"
                    log(f"  {MODELS[key]['label']}: pictures failed: {err!r}")
    return fitted


def _best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def speed_model(key, est, known_pool, quick, log):
    """Cached vs naive sampling rate of a 28x28 one-channel model, and cached == naive."""
    batches = QUICK["speed_batches"] if quick else SPEED_BATCHES
    naive_rows = QUICK["naive_rows"] if quick else SPEED_NAIVE_ROWS
    repeats = QUICK["repeats"] if quick else SPEED_REPEATS
    net, size = est.network_, SPEED_SIZE
    rows = []
    for b in batches:
        k = naive_rows[b]
        known = torch.from_numpy(known_pool[np.arange(b) % len(known_pool), None,
                                            :size - k].astype(np.float32))   # (b, 1, H-k, W)
        cached_t, naive_t = [], []
        for _ in range(repeats):                      # interleaved: cached, naive, cached, ...
            cached_t.append(_best_time(lambda: est.sample(b, random_state=SEED), 1))
            naive_t.append(_best_time(lambda: seeded(lambda: net.generate(
                b, size, size, known=known, naive=True)), 1))
        naive_img = seeded(lambda: net.generate(b, size, size, known=known, naive=True))
        cached_img = seeded(lambda: net.generate(b, size, size, known=known))
        same = bool(torch.equal(naive_img, cached_img))
        tc, tn = min(cached_t), min(naive_t)
        row = dict(batch=b, naive_rows=k, repeats=repeats, cached_s=tc, naive_s_measured=tn,
                   cached_ips=b / tc, naive_ips=b / (tn * size / k),
                   cached_equals_naive=same)
        row["ratio"] = row["cached_ips"] / row["naive_ips"]
        rows.append(row)
        log(f"  {MODELS[key]['label']} batch {b}: cached {row['cached_ips']:.3g} img/s, naive "
            f"{row['naive_ips']:.3g} img/s (from {k} row(s)), ratio {row['ratio']:.1f}x, "
            f"cached == naive on those rows: {same}")
    return rows


def digits_check(key, quick, log):
    """Whole-image cached == naive check on a small (8x8 digits-sized) model."""
    X_tr, _ = load_digits_split()
    est, _ = make_model(key, "digits", DIGITS_LEVELS, True, max_epochs=1)
    est.fit(X_tr[:256])
    net = est.network_
    naive = seeded(lambda: net.generate(4, 8, 8, naive=True))
    cached = seeded(lambda: net.generate(4, 8, 8))
    same = bool(torch.equal(naive, cached))
    log(f"  {MODELS[key]['label']}: whole 8x8 sample, batch 4, cached == naive: {same}")
    return same


def run_speed(keys, fitted_mnist, data_dir, quick, log, results):
    out = results.setdefault("speed", {}).setdefault("models", {})
    X_tr, X_te = load_mnist_binary(data_dir)
    log("speed: 28x28 sampling, cached vs naive")
    for key in keys:
        spec = MODELS[key]
        row = dict(model=key, label=spec["label"], run=stamp())
        if model_class(key) is None:
            row["status"] = "not available"
            out[key] = row
            log(f"  {spec['label']}: not run (not available)")
            continue
        est = fitted_mnist.get(key)
        row["weights"] = "mnist model of the same run"
        try:
            if est is None:                      # speed does not depend on the weights
                est, _ = make_model(key, "mnist", 2, quick, max_epochs=1)
                est.fit(X_tr[:64])
                row["weights"] = "mnist architecture, 1 epoch on 64 images"
            row["rows"] = speed_model(key, est, X_te, quick, log)
            row["check_8x8"] = digits_check(key, quick, log)
            row["status"] = "ok"
        except Exception as err:                              # report, do not hide
            row.update(status="failed", error=f"{type(err).__name__}: {err}")
            log(f"  {spec['label']}: speed failed: {err!r}")
        row["settings"] = dict(spec["fixed"], **model_settings(key, "mnist", quick))
        out[key] = row


# --------------------------------------------------------------------------- report
def plot_nll(results, path):
    plt = pyplot()
    panels = [(s, t, m) for s, t, m in (("digits", "digits 8x8: test NLL (nats/image)", "nll"),
                                        ("mnist", "binarized MNIST: test NLL (nats/image)",
                                         "nll"),
                                        ("cifar", "CIFAR-10 subset: bits/dim", "bpd"))
              if s in results]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False)
    for ax, (sec, title, metric) in zip(axes[0], panels):
        rows = list(results[sec].get("baselines", {}).values()) + [
            r for r in results[sec].get("models", {}).values() if r.get("status") == "ok"]
        vals = [r[metric] for r in rows]
        colors = ["0.6" if r["model"] not in MODELS else "C0" for r in rows]
        ax.barh(np.arange(len(rows)), vals, color=colors)
        for i, v in enumerate(vals):
            ax.text(v, i, f" {v:.2f}" if metric == "nll" else f" {v:.3f}", va="center",
                    fontsize=8)
        ax.set_yticks(np.arange(len(rows)))
        ax.set_yticklabels([r["label"] for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, max(vals) * 1.25 if vals else 1)
        ax.set_title(title, fontsize=9)
    fig.suptitle("grey: baselines, blue: tsargen (CPU-budget models; lower is better)",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def plot_speed(results, path):
    rows = [r for r in results.get("speed", {}).get("models", {}).values()
            if r.get("status") == "ok"]
    if not rows:
        return
    plt = pyplot()
    batches = sorted({x["batch"] for r in rows for x in r["rows"]})
    fig, axes = plt.subplots(1, len(batches), figsize=(4.6 * len(batches), 3.6), squeeze=False)
    for ax, b in zip(axes[0], batches):
        labels, cached, naive = [], [], []
        for r in rows:
            x = next((x for x in r["rows"] if x["batch"] == b), None)
            if x is not None:
                labels.append(r["label"])
                cached.append(x["cached_ips"])
                naive.append(x["naive_ips"])
        pos = np.arange(len(labels))
        ax.bar(pos - 0.2, naive, 0.4, label="naive (extrapolated)", color="0.6")
        ax.bar(pos + 0.2, cached, 0.4, label="cached", color="C0")
        for p, c, n in zip(pos, cached, naive):
            ax.text(p + 0.2, c, f"{c / n:.0f}x", ha="center", va="bottom", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylim(min(naive) * 0.5, max(cached) * 3)
        ax.set_xticks(pos)
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylabel("28x28 images / s")
        ax.set_title(f"sampling, batch {b}", fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


PAD, HIDDEN = -1.0, -2.0               # sentinel values of the mosaics, drawn in colour


def _tile(images, ncol, pad=1):
    """(n, H, W) in [0, 1] (``HIDDEN`` allowed) -> one mosaic padded with ``PAD``."""
    n, h, w = images.shape
    nrow = math.ceil(n / ncol)
    out = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad), PAD)
    for k, img in enumerate(images):
        r, c = divmod(k, ncol)
        out[pad + r * (h + pad):pad + r * (h + pad) + h,
            pad + c * (w + pad):pad + c * (w + pad) + w] = img
    return out


def _rgb(mosaic):
    """Mosaic -> RGB: ink black on white, padding light blue, hidden pixels light red."""
    grey = 1.0 - np.clip(mosaic, 0, 1)
    out = np.repeat(grey[..., None], 3, axis=2)
    out[mosaic == PAD] = (0.62, 0.74, 0.88)
    out[mosaic == HIDDEN] = (0.98, 0.80, 0.80)
    return out


def plot_pictures(results, section, path_samples, path_completions):
    pics = results.get("pictures", {}).get(section, {})
    keys = [k for k in MODELS if k in pics]
    if not keys:
        return
    plt = pyplot()
    scale = float(results[section]["data"]["n_levels"] - 1)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.5), squeeze=False)
    for ax, key in zip(axes[0], keys):
        p = pics[key]
        imgs = decode(p["samples"], p["shape"]) / scale
        ax.imshow(_rgb(_tile(imgs, int(math.ceil(math.sqrt(len(imgs)))))),
                  interpolation="nearest")
        ax.set_title(MODELS[key]["label"], fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{section}: samples", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path_samples)

    n_rows = len(pics[keys[0]]["originals"])
    ncol = 2 + len(pics[keys[0]]["completions"][0])
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys), 0.9 + 3.4 * n_rows / ncol),
                             squeeze=False)
    for ax, key in zip(axes[0], keys):
        p = pics[key]
        orig = decode(p["originals"], p["shape"]) / scale
        comps = [decode(c, p["shape"]) / scale for c in p["completions"]]
        given = orig.copy()
        given[:, p["n_known"]:] = HIDDEN
        tiles = []
        for o, g, c in zip(orig, given, comps):
            tiles += [o, g, *c]
        ax.imshow(_rgb(_tile(np.stack(tiles), ncol)), interpolation="nearest")
        ax.set_title(f"{MODELS[key]['label']}\noriginal | top half | completions", fontsize=8)
        ax.axis("off")
    fig.suptitle(f"{section}: completions of test images (top {pics[keys[0]]['n_known']} rows "
                 "given)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path_completions)


def fmt_settings(s):
    short = {"n_layers": "layers", "hidden_channels": "ch", "max_epochs": "max ep",
             "batch_size": "batch", "n_mixtures": "mix"}
    return ", ".join(f"{short.get(k, k)} {v}" for k, v in (s or {}).items())


def _when(row):
    """'2026-11-24 11:49:08 UTC' -> '11-24 11:49' (rows of different runs can be mixed)."""
    return row.get("run", "?")[5:16]


def _status(key, row):
    if row is None or row.get("status") == "not available":
        return ("not run (not available)" if model_class(key) is None
                else "not run yet (now available: `--models " + key + "`)")
    if row.get("status") == "failed":
        return f"failed: {row.get('error', '')}"
    return None


def likelihood_table(results, section, extra=None):
    sec = results.get(section)
    if sec is None:
        return ["(not run)"]
    d = sec["data"]
    md = [f"Train {d['n_train']} / test {d['n_test']} images of {tuple(d['shape'])}, "
          f"{d['n_levels']} levels.", ""]
    head = ("| method | test NLL nats/image (± s.e.) | bits/dim | epochs | fit s | settings | "
            "run (UTC) |")
    sep = "|---|---:|---:|---:|---:|---|---|"
    if extra:
        head += f" {extra[0]} |"
        sep += "---:|"
    md += [head, sep]
    for name, r in sec.get("baselines", {}).items():
        line = (f"| {name} (baseline) | {r['nll']:.2f} ± {r['nll_se']:.2f} | {r['bpd']:.4f} | "
                f"– | {r.get('fit_s', 0):.1f} | – | {_when(r)} |")
        md.append(line + (" – |" if extra else ""))
    for key, spec in MODELS.items():
        if spec[section] is None:
            continue
        r = sec.get("models", {}).get(key)
        status = _status(key, r)
        if status:
            line = f"| tsargen {spec['label']} | {status} | | | | | |"
        else:
            line = (f"| tsargen {spec['label']} | **{r['nll']:.2f}** ± {r['nll_se']:.2f} | "
                    f"{r['bpd']:.4f} | {r['epochs']} | {r['fit_s']:.0f} | "
                    f"{fmt_settings(r['settings'])} | {_when(r)} |")
        if extra:
            line += f" {extra[1](key)} |"
        md.append(line)
    return md


def summary(results):
    """One line per data set: each model against the best baseline (lower NLL is better)."""
    md = []
    for sec, name, m, unit in (("digits", "digits", "nll", "nats/image"),
                               ("mnist", "binarized MNIST", "nll", "nats/image"),
                               ("cifar", "CIFAR subset", "bpd", "bits/dim")):
        base = results.get(sec, {}).get("baselines", {})
        ok = [r for r in results.get(sec, {}).get("models", {}).values()
              if r.get("status") == "ok"]
        if not base or not ok:
            continue
        b = min(base.values(), key=lambda r: r[m])
        d = 2 if m == "nll" else 3
        parts = []
        for r in sorted(ok, key=lambda r: r[m]):
            diff = r[m] - b[m]
            parts.append(f"{r['label']} {r[m]:.{d}f} ({'loses by' if diff > 0 else 'beats it by'}"
                         f" {abs(diff):.{d}f}, {abs(diff) / b[m]:.1%})")
        md.append(f"- **{name}** (test {unit}; best baseline: {b['label']} {b[m]:.{d}f}): "
                  + "; ".join(parts) + ".")
    for r in results.get("speed", {}).get("models", {}).values():
        if r.get("status") == "ok":
            md.append(f"- **sampling 28x28, {r['label']}**: cached / naive = "
                      + ", ".join(f"{x['ratio']:.0f}x at batch {x['batch']}" for x in r["rows"])
                      + "; cached == naive: "
                      + ("yes" if all(x["cached_equals_naive"] for x in r["rows"])
                         and r["check_8x8"] else "**NO**") + ".")
    return md


def render(results, stem, quick):
    title = "Image densities: likelihood, sampling speed, pictures"
    md = [f"# {title}{' (QUICK smoke run)' if quick else ''}",
          "",
          "Protocol, baselines and settings: see the docstring of `benchmarks/images.py`. "
          "All tsargen models here are **CPU-budget models** (small networks, a few minutes "
          "of training on one shared CPU core), not the published full-scale ones. Every row "
          "records its own run; rows of different runs are merged (see Runs at the end).", "",
          "**Caveats.** " + paragraph(NOTES, "Caveats"), ""]
    md += ["## Summary", ""] + summary(results) + [""]
    md += _likelihood_lines(results) + _speed_lines(results)
    md += ["", "## 5. Pictures", ""]
    for sec in ("digits", "mnist"):
        if results.get("pictures", {}).get(sec):
            md += [f"![{sec} samples]({stem}_{sec}_samples.png)", "",
                   f"![{sec} completions]({stem}_{sec}_completions.png)", ""]
    md += ["![likelihoods](" + stem + "_nll.png)", ""]
    if results.get("speed", {}).get("models", {}):
        md += ["![speed](" + stem + "_speed.png)", ""]
    md += ["## Runs", ""]
    for run in results.get("runs", []):
        md.append(f"- {run['date']}: models {', '.join(run['models'])}; sections "
                  f"{', '.join(run['sections'])}; {run['threads']} thread(s); "
                  f"{run['wall_s']:.0f} s wall; torch {run['torch']}, {run['machine']}"
                  + "".join(f"; {run[k]}" for k in ("load", "note") if run.get(k)))
    return "\n".join(md) + "\n"


def _likelihood_lines(results):
    """Sections 1-3: the digits, MNIST and CIFAR tables with their notes."""
    md = ["## 1. digits (8x8, 17 levels)", ""]
    md += likelihood_table(results, "digits")
    dig = results.get("digits", {})
    logi = dig.get("baselines", {}).get("raster logistic")
    ok = [r for r in dig.get("models", {}).values() if r.get("status") == "ok"]
    if logi and ok:
        best = min(ok, key=lambda r: r["nll"])
        below = [r["label"] for r in ok if r["nll"] < logi["nll"] - 2 * logi["nll_se"]]
        md += ["", f"Target: every deep model clearly below the raster-logistic baseline "
               f"({logi['nll']:.2f} nats): {len(below)} of {len(ok)} run "
               f"({', '.join(below) or 'none'}); best below 80 nats: "
               f"{'yes' if best['nll'] < 80 else 'NO'} ({best['label']}, {best['nll']:.2f})."]
        if "n_constant_pixels" in logi:
            md += ["", f"Raster logistic: {logi['n_constant_pixels']} pixels are constant in "
                   "training (and pixel 0 has no predecessors): they use the smoothed "
                   "categorical. "
                   + (f"{logi['n_unconverged']} of the regressions stopped at max_iter="
                      f"{logi['max_iter']} without converging." if "n_unconverged" in logi
                      else "All regressions converged (lbfgs, max_iter=2000).")]
    md += ["", "## 2. binarized MNIST (28x28, x > 127)", ""]
    md += likelihood_table(results, "mnist", extra=(
        "published (full scale, other binarization)",
        lambda k: f"{PUBLISHED_MNIST[k]:.2f}" if k in PUBLISHED_MNIST else "–"))
    md += ["", "Training images: the first 8000 of the MNIST *test* split (the only split "
           "available), test: the last 2000. The budget is the `max ep` setting (a few CPU "
           "minutes, `fit s`); the published numbers are on stochastically binarized MNIST with "
           "50k training images and long GPU training: not comparable."]
    md += ["", "## 3. CIFAR-10 subset (32x32 RGB, 256 levels)", ""]
    md += likelihood_table(results, "cifar")
    return md + ["", paragraph(NOTES, "CIFAR-10 subset")]


def _speed_lines(results):
    """Section 4: cached against naive sampling."""
    md = ["", "## 4. Sampling speed, 28x28 (cached vs naive)", ""]
    md += md_table(["model", "batch", "cached img/s", "naive img/s (extrapolated)",
                    "naive rows timed", "cached / naive", "cached == naive (timed rows)",
                    "cached == naive (whole 8x8)", "run (UTC)"], align="lrrrrrlll")
    sp = results.get("speed", {}).get("models", {})
    for key, spec in MODELS.items():
        r = sp.get(key)
        status = _status(key, r)
        if status:
            md.append(f"| {spec['label']} | {status} | | | | | | | |")
            continue
        for x in r["rows"]:
            md.append(f"| {spec['label']} | {x['batch']} | {x['cached_ips']:.3g} | "
                      f"{x['naive_ips']:.3g} | {x['naive_rows']} of 28 | "
                      f"**{x['ratio']:.0f}x** | {'yes' if x['cached_equals_naive'] else 'NO'} | "
                      f"{'yes' if r['check_8x8'] else 'NO'} | {_when(r)} |")
    if sp:
        md += ["", "Cached: `est.sample(n)`, whole images. Naive: "
               "`est.network_.generate(..., naive=True)` for the last *k* rows with the rows "
               "above given, time x 28/k (the naive cost per pixel is one full forward pass "
               "over the whole image, whatever the position). Best of "
               f"{max(x.get('repeats', 1) for r in sp.values() for x in r.get('rows', []))} "
               "interleaved wall-clock runs; one thread. Weights: "
               + "; ".join(f"{r['label']}: {r.get('weights', '?')}" for r in sp.values()
                           if r.get("status") == "ok") + "."]
    return md


def write_outputs(results, stem, quick):
    write_json(RESULTS / f"{stem}.json", results, newline=True)
    plot_nll(results, RESULTS / f"{stem}_nll.png")
    plot_speed(results, RESULTS / f"{stem}_speed.png")
    for sec in ("digits", "mnist"):
        plot_pictures(results, sec, RESULTS / f"{stem}_{sec}_samples.png",
                      RESULTS / f"{stem}_{sec}_completions.png")
    (RESULTS / f"{stem}.md").write_text(render(results, stem, quick))


# --------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (< 1 minute)")
    parser.add_argument("--models", default=",".join(("baselines",) + tuple(MODELS)),
                        help="comma list of 'baselines' and " + ", ".join(MODELS))
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help="comma list of " + ", ".join(SECTIONS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--render", action="store_true",
                        help="only re-render the md and PNGs from the JSON")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = [m for m in models if m != "baselines" and m not in MODELS] + [
        s for s in sections if s not in SECTIONS]
    if bad:
        parser.error(f"unknown model(s)/section(s): {bad}")
    torch.set_num_threads(args.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "images_quick" if args.quick else "images"
    path = RESULTS / f"{stem}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    if args.render:
        write_outputs(results, stem, args.quick)
        return
    t_start = time.perf_counter()
    load0 = os.getloadavg()[0]                 # the machine may be shared: record its load

    def log(msg):
        print(f"[{stamp()} +{time.perf_counter() - t_start:6.0f}s] {msg}", flush=True)

    keys = [m for m in models if m in MODELS]
    do_baselines = "baselines" in models
    fitted = {}
    for sec in ("digits", "mnist", "cifar"):
        if sec in sections:
            fitted[sec] = run_likelihood(sec, keys, do_baselines, "pictures" in sections,
                                         args.data_dir, args.quick, log, results)
            write_outputs(results, stem, args.quick)             # keep partial results
    if "speed" in sections and keys:
        run_speed(keys, fitted.get("mnist", {}), args.data_dir, args.quick, log, results)
    results.setdefault("runs", []).append(dict(
        date=stamp(), models=models, sections=sections, threads=args.threads,
        wall_s=time.perf_counter() - t_start, torch=torch.__version__,
        machine=f"{platform.machine()}, {os.cpu_count()} CPUs", quick=args.quick,
        load=f"1-min load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"))
    write_outputs(results, stem, args.quick)
    log(f"wrote {RESULTS / (stem + '.md')}")


if __name__ == "__main__":
    main()
