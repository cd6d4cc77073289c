"""Signal-image forecasting: :class:`tsargen.SignalImageForecaster` on an ECG spectrogram and on
order-book depth images.

Notes
-----
Two real data sets, each split in time: the models are fitted once on the first
``train_fraction`` of the stream; the rest is the test part.

**ECG spectrogram** -- MIT-BIH record 100, lead MLII (360 Hz, ``sensors/mitbih_100.csv.gz``),
log-magnitude STFT frames (``tsargen.transforms.Spectrogram``, ``n_fft=64``, ``hop_length=32``:
11.25 frames per second, a heartbeat is about 9 frames; 33 bins up to 180 Hz). The
forecasters see ``context=16`` frames (1.4 s) and forecast 22 frames (2 s) from
``n_origins`` origins spread evenly over the test part; metrics are reported at 1 s (first 11
frames) and 2 s (all 22).

* ``PixelCNN``, ``GatedPixelCNN`` (and any model added with ``--models``) --
  ``SignalImageForecaster(density, transform="uniform", horizon=11, context=16)``: 32 uniform
  levels over the training range of the log-magnitudes; forecasts of 22 frames are two
  blocks of 11 rows. Point forecast: the per-bin median of the sample paths. Both networks
  have kernel size 5 and 5 layers: a receptive field of 12 rows, more than one heartbeat.
* ``WaveNet (bins as channels)`` -- ``WaveNetForecaster`` on the same 32 levels with one
  categorical head per bin (``quantization="levels"``) and joint channel dependence (bin
  ``b`` of a frame conditioned on bins ``< b`` of that frame, as the image models), receptive
  field 16 frames.
* ``persistence`` -- the last observed frame, repeated.
* ``seasonal naive`` -- per bin, the frame one heartbeat period ``P`` earlier (``P``: the lag
  of the largest autocorrelation of the frame energy between 0.4 and 1.8 s on the training
  part).

Metrics:

* ``NLL`` -- negative log-likelihood in nats per element (bin) of the quantised test frames,
  one frame at a time given at least ``context`` true past frames (chain rule; the same
  32 bins for every model, so the numbers are comparable). The image models use
  ``score_steps`` (a frame's bins are scored given the earlier bins of that frame); WaveNet
  its ``score_steps``; persistence and seasonal naive a per-bin categorical over the level
  change from the reference frame (the previous frame, or the frame ``P`` earlier), estimated
  on the training part with add-one smoothing.
* ``CRPS`` -- per element in log-magnitude units (nats), from 50 draws per origin: sample paths
  of the forecasters (values = bin centres); persistence and seasonal naive draw from a
  Gaussian per bin and step with the training standard deviation of the ``k``-step (resp.
  ``P``-step, ``ceil(k / P)`` seasons) differences.
* ``LSD`` -- log-spectral distance of the point forecast in dB:
  ``20 / ln(10) * sqrt(mean over bins of (log|X| - log|X_hat|)^2)``, averaged over frames.
* ``fit s`` -- wall time of ``fit``; ``sample s`` -- wall time of drawing all paths (all
  origins as one batch).

**Order-book depth** -- LOBSTER GOOG 2012-06-21, 5 levels (``lobster/*GOOG*_5.zip``), book
snapshots resampled to 1 s rows (last event of each second, carried forward), as
``OrderBookImage(n_ticks=16, tick_size=0.05, resample="1s")``: 32 bins of 5 cents on each side
of the mid (the spread is 28 ticks of 1 cent at the median, so 1-cent bins would see little
beyond the best quotes), signed log depth ``±log1p(size)``, quantised to half-log steps
(33 integer levels, 0 = empty). Bins beyond the 5 recorded levels read as empty: the image is
exact near the mid only. Models: ``context=12`` rows, ``horizon=10``; forecasts of 20 s from
``n_origins`` origins. Metrics: ``NLL`` (nats per element, as above), ``CRPS`` at 10 s and 20 s
(in half-log units), fit and sampling time, against persistence (last row; NLL: per-bin
level-change categorical as above) and ``WaveNet (bins as channels)`` (as for the ECG: one
33-way categorical head per bin, joint channel dependence, receptive field 16 rows). There is
no seasonal-naive row here: 1 s depth rows have no period within the 20 s horizon (the only
seasonality of the book is intraday, hours long). The book is read with
``tsargen.datasets.read_lobster``.

Models are a registry (``MODELS``): PixelCNN++ and PixelRNN rows are added automatically when
``tsargen`` exports ``PixelCNNPPDensity`` / ``PixelRNNDensity``; run them alone with
``--models``; their rows are merged into the existing JSON and the markdown and plots are
re-rendered with every model.

Examples
--------
From the repository root::

    nice -n 10 python -m benchmarks.signal_image          # full run (~15 min, shared 2 cores)
    python -m benchmarks.signal_image --quick             # smoke run (< 2 min), *_quick files
    python -m benchmarks.signal_image --models PixelCNN++ --sections lobster   # add a model
    python -m benchmarks.signal_image --render benchmarks/results/signal_image.json
"""

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks import git_state
from benchmarks.report import (RESULTS, bullets, md_table, output_args, pyplot, read_json,
                               save_figure, write_json)
import tsargen
from tsargen import (GatedPixelCNNDensity, PixelCNNDensity, SignalImageForecaster,
                     WaveNetForecaster)
from tsargen.datasets import read_lobster
from tsargen.metrics import crps
from tsargen.transforms import OrderBookImage, Quantizer, Spectrogram

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
NOTES = RESULTS / "signal_image_notes.md"    # observations printed in the report
T0 = time.perf_counter()
CODE = git_state()       # the code this run imports, not HEAD at its end

TRAIN = dict(max_epochs=15, batch_size=16, lr=3e-3, validation_fraction=0.1, patience=3)
MODELS = {
    # receptive field 2 + 5 * 2 = 12 rows: more than one heartbeat of ECG frames
    "PixelCNN": lambda n_levels, train: PixelCNNDensity(
        n_layers=5, hidden_channels=32, kernel_size=5, input_kernel_size=5, n_levels=n_levels,
        **train),
    "GatedPixelCNN": lambda n_levels, train: GatedPixelCNNDensity(
        n_layers=5, hidden_channels=24, kernel_size=5, input_kernel_size=5, n_levels=n_levels,
        **train),
}
if hasattr(tsargen, "PixelCNNPPDensity"):       # merged later: same budget, small network
    MODELS["PixelCNN++"] = lambda n_levels, train: tsargen.PixelCNNPPDensity(
        n_levels=n_levels, **train)
if hasattr(tsargen, "PixelRNNDensity"):
    for _kind in ("row_lstm", "diagonal_bilstm"):
        MODELS[f"PixelRNN ({_kind})"] = (lambda kind: lambda n_levels, train:
                                         tsargen.PixelRNNDensity(kind=kind, n_levels=n_levels,
                                                                 **train))(_kind)
DEFAULT_MODELS = ["PixelCNN", "GatedPixelCNN"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')} +{time.perf_counter() - T0:6.0f}s] {msg}", flush=True)


# ---------------------------------------------------------------------------- data
def load_ecg(data_dir, quick):
    """Log-magnitude STFT frames of lead MLII -> (frames (T, 33), frames per second)."""
    x = pd.read_csv(Path(data_dir) / "sensors" / "mitbih_100.csv.gz",
                    usecols=["MLII"])["MLII"].to_numpy()
    if quick:
        x = x[:360 * 150]
    sp = Spectrogram(n_fft=64, hop_length=32, eps=1e-3).fit(x)
    return sp.transform(x), 360 / 32


def load_lobster(data_dir, quick):
    """Depth image rows at 1 s -> (signed log depth (T, 32), integer levels (T, 32))."""
    path = next((Path(data_dir) / "lobster").glob("*GOOG*_5.zip"))
    book = read_lobster(path, levels=5)
    if quick:
        book = book.iloc[:len(book) // 12]
    img = OrderBookImage(n_ticks=16, tick_size=0.05, resample="1s").fit(book).transform(book)
    levels = (np.clip(np.round(img.to_numpy() * 2), -16, 16) + 16).astype(np.int64)
    return img, levels


# ---------------------------------------------------------------------------- baselines
def change_nll(levels, ref_lag, train_end, start, n_levels):
    """NLL per element of ``levels[start:]`` under a per-bin categorical over the level change
    from ``ref_lag`` rows earlier (training-part histogram, add-one smoothing)."""
    n_bins = levels.shape[1]
    span = 2 * n_levels - 1
    diffs = levels[ref_lag:train_end] - levels[:train_end - ref_lag] + n_levels - 1
    counts = np.ones((n_bins, span))
    np.add.at(counts, (np.broadcast_to(np.arange(n_bins), diffs.shape), diffs), 1.0)
    ref = levels[start - ref_lag:len(levels) - ref_lag]                          # (T, W)
    # normalise over the reachable levels 0..n_levels-1 given each reference level
    cum = np.concatenate([np.zeros((n_bins, 1)), np.cumsum(counts, axis=1)], axis=1)
    lo = n_levels - 1 - ref                                  # change index of level 0
    total = cum[np.arange(n_bins)[None], lo + n_levels] - cum[np.arange(n_bins)[None], lo]
    d = levels[start:] - ref + n_levels - 1
    p = counts[np.arange(n_bins)[None], d] / total
    return float(-np.log(p).mean())


def gaussian_draws(mean, sigma, n_draws, seed):
    """Draws ``(n_draws, *mean.shape)`` from N(mean, sigma)."""
    rng = np.random.default_rng(seed)
    return mean[None] + sigma[None] * rng.standard_normal((n_draws,) + mean.shape)


def period_frames(frames, fps):
    """Heartbeat period in frames: the autocorrelation peak of the frame energy (0.4-1.8 s)."""
    e = frames.mean(axis=1)
    e = e - e.mean()
    lags = np.arange(int(0.4 * fps), int(1.8 * fps) + 1)
    ac = [np.dot(e[:-k], e[k:]) / np.dot(e, e) for k in lags]
    return int(lags[int(np.argmax(ac))])


def lsd_db(truth, point):
    """Log-spectral distance (dB) per frame, averaged: inputs are log-magnitudes (T, W)."""
    return float(np.mean(np.sqrt(np.mean((truth - point) ** 2, axis=-1))) * 20 / math.log(10))


def wavenet_bins(levels, cut, ctx, fh, n_levels, n_paths, origins, train, width):
    """``WaveNetForecaster`` with the bins of a row as jointly dependent channels (one
    ``n_levels``-way categorical each), receptive field 16 rows, fitted on ``levels[:cut]``
    -> (test NLL per element, sampled level paths (O, P, fh, W), fit s, sample s, epochs)."""
    wn = WaveNetForecaster(n_layers=4, kernel_size=2, residual_channels=width,
                           skip_channels=width, distribution="categorical",
                           quantization="levels", n_bins=n_levels, channel_dependence="joint",
                           horizon=fh, context=ctx, n_paths=n_paths, random_state=0, **train)
    t0 = time.perf_counter()
    wn.fit(levels[:cut].astype(float))
    fit_s = time.perf_counter() - t0
    log(f"WaveNet (bins as channels): fit {fit_s:.0f}s ({wn.n_iter_} epochs)")
    nll = float(-wn.score_steps(levels[cut:].astype(float))[ctx:].mean())
    t0 = time.perf_counter()
    paths = np.stack(wn.sample(n_paths, fh, y=[levels[o - ctx:o].astype(float)
                                                for o in origins], random_state=1))
    return nll, paths, fit_s, time.perf_counter() - t0, wn.n_iter_


# ---------------------------------------------------------------------------- sections
def _origins(n_total, first, n_origins, need):
    return np.linspace(first, n_total - need, n_origins).astype(int)


def _forecast_metrics(paths, truth, cuts, scale=1.0):
    """CRPS and LSD at each cut (steps) from paths (O, P, fh, W) and truth (O, fh, W)."""
    out = {}
    point = np.median(paths, axis=1)
    for label, k in cuts.items():
        c = crps(truth[:, :k], np.moveaxis(paths[:, :, :k], 1, 0))
        out[f"CRPS {label}"] = float(c.mean() * scale)
        out[f"LSD {label}"] = lsd_db(truth[:, :k], point[:, :k]) if scale == 1.0 else None
    return out


def fit_image_model(label, name, series, cut, origins, s, transform):
    """``SignalImageForecaster`` with the image density ``MODELS[name]``, fitted on
    ``series[:cut]`` -> (forecaster, test NLL per element, paths (O, P, fh, W), fit s,
    sample s)."""
    ctx = s["context"]
    f = SignalImageForecaster(MODELS[name](s["n_levels"], s["train"]), transform=transform,
                              horizon=s["horizon"], context=ctx, n_paths=s["n_paths"],
                              random_state=0)
    t0 = time.perf_counter()
    f.fit(series[:cut])
    fit_s = time.perf_counter() - t0
    log(f"{label} {name}: fit {fit_s:.0f}s ({f.n_iter_} epochs)")
    nll = float(-f.score_steps(series[cut:])[ctx:].mean())
    t0 = time.perf_counter()
    paths = np.stack(f.sample(s["n_paths"], s["fh"], y=[series[o - ctx:o] for o in origins],
                              random_state=1))
    return f, nll, paths, fit_s, time.perf_counter() - t0


def run_ecg(args, models, quick):
    frames, fps = load_ecg(args.data, quick)
    n = len(frames)
    cut = int(0.6 * n)
    ctx, h, fh = 16, 11, 22
    n_levels, n_paths = 32, 10 if quick else 50
    n_origins = 4 if quick else args.origins
    train = {**TRAIN, **({"max_epochs": 1} if quick else {})}
    period = period_frames(frames[:cut], fps)
    log(f"ECG: {n} frames x {frames.shape[1]} bins, train {cut}, period {period} frames")
    q = Quantizer(n_bins=n_levels).fit(frames[:cut].reshape(-1, 1))
    levels = q.transform(frames.reshape(-1, 1)).reshape(frames.shape)
    origins = _origins(n, cut + ctx, n_origins, fh)
    truth = np.stack([frames[o:o + fh] for o in origins])                        # (O, fh, W)
    cuts = {"1 s": h, "2 s": fh}
    rows, plot = {}, {"origin": int(origins[len(origins) // 2]), "context": ctx,
                      "truth": frames[origins[len(origins) // 2] - ctx:
                                      origins[len(origins) // 2] + fh].round(4).tolist(),
                      "panels": {}}
    mid = len(origins) // 2
    s = dict(context=ctx, horizon=h, fh=fh, n_levels=n_levels, n_paths=n_paths, train=train)
    for name in models:
        f, nll, paths, fit_s, sample_s = fit_image_model("ECG", name, frames, cut, origins, s,
                                                         "uniform")
        assert np.allclose(f.quantizer_.bin_edges_, q.bin_edges_)
        rows[name] = {"NLL": nll, **_forecast_metrics(paths, truth, cuts), "fit s": fit_s,
                      "sample s": sample_s, "epochs": f.n_iter_}
        plot["panels"][f"{name} median"] = np.median(paths[mid], axis=0).round(4).tolist()
        plot["panels"][f"{name} sample"] = paths[mid, 0].round(4).tolist()
        log(f"ECG {name}: NLL {nll:.3f}, sample {sample_s:.1f}s, {rows[name]}")

    if args.baselines:
        nll, lv, fit_s, sample_s, epochs = wavenet_bins(levels, cut, ctx, fh, n_levels,
                                                        n_paths, origins, train, width=66)
        paths = q.inverse_transform(lv.reshape(-1, 1).astype(np.int64)).reshape(lv.shape)
        name = "WaveNet (bins as channels)"
        rows[name] = {"NLL": nll, **_forecast_metrics(paths, truth, cuts), "fit s": fit_s,
                      "sample s": sample_s, "epochs": epochs}
        plot["panels"][f"{name} median"] = np.median(paths[mid], axis=0).round(4).tolist()
        log(f"ECG WaveNet: {rows[name]}")
        ecg_naive_rows(frames, levels, cut, period, origins, truth, cuts, s, rows, plot)
    setup = dict(n_frames=n, n_bins=int(frames.shape[1]), train_frames=cut,
                 frames_per_s=fps, context=ctx, horizon=h, forecast_frames=fh,
                 n_levels=n_levels, n_paths=n_paths, n_origins=int(len(origins)),
                 period_frames=period, train=train)
    return {"setup": setup, "rows": rows, "plot": plot}


def ecg_naive_rows(frames, levels, cut, period, origins, truth, cuts, s, rows, plot):
    """The persistence and seasonal-naive rows of the ECG section (into ``rows``; the
    seasonal naive's mean forecast of the middle origin into ``plot``)."""
    fh, n_paths, n_levels, mid = s["fh"], s["n_paths"], s["n_levels"], len(origins) // 2
    test_start = cut + s["context"]                               # scored rows: >= ctx past
    diffs = {k: frames[k:cut] - frames[:cut - k] for k in range(1, fh + 1)}
    sig_p = np.stack([diffs[k].std(axis=0) for k in range(1, fh + 1)])       # (fh, W)
    last = np.stack([frames[o - 1] for o in origins])                        # (O, W)
    draws = gaussian_draws(np.repeat(last[:, None], fh, 1), sig_p[None], n_paths, 2)
    rows["persistence"] = {
        "NLL": change_nll(levels, 1, cut, test_start, n_levels),
        **_forecast_metrics(np.moveaxis(draws, 0, 1), truth, cuts) | {
            f"LSD {k}": lsd_db(truth[:, :v], np.repeat(last[:, None], v, 1))
            for k, v in cuts.items()}, "fit s": 0.0, "sample s": 0.0}
    sig_s = (frames[period:cut] - frames[:cut - period]).std(axis=0)
    steps_ahead = np.arange(fh)
    seas_mean = np.stack([frames[o - period + steps_ahead % period] for o in origins])
    seas_sig = sig_s[None] * np.sqrt(steps_ahead // period + 1)[:, None]      # (fh, W)
    draws = gaussian_draws(seas_mean, seas_sig[None], n_paths, 3)
    rows["seasonal naive"] = {
        "NLL": change_nll(levels, period, cut, test_start, n_levels),
        **_forecast_metrics(np.moveaxis(draws, 0, 1), truth, cuts) | {
            f"LSD {k}": lsd_db(truth[:, :v], seas_mean[:, :v]) for k, v in cuts.items()},
        "fit s": 0.0, "sample s": 0.0}
    plot["panels"]["seasonal naive"] = seas_mean[mid].round(4).tolist()
    log(f"ECG baselines: persistence {rows['persistence']}, seasonal naive "
        f"{rows['seasonal naive']}")


def run_lobster(args, models, quick):
    img, levels = load_lobster(args.data, quick)
    n = len(levels)
    cut = int(0.6 * n)
    ctx, h, fh = 12, 10, 20
    n_levels, n_paths = 33, 10 if quick else 50
    n_origins = 4 if quick else args.origins
    train = {**TRAIN, **({"max_epochs": 1} if quick else {"max_epochs": 10})}
    log(f"LOBSTER: {n} rows x {levels.shape[1]} bins, train {cut}")
    origins = _origins(n, cut + ctx, n_origins, fh)
    truth = np.stack([levels[o:o + fh] for o in origins]).astype(float)
    cuts = {"10 s": h, "20 s": fh}
    mid = len(origins) // 2
    rows, plot = {}, {"origin": str(img.index[origins[mid]]), "context": ctx,
                      "truth": levels[origins[mid] - ctx:origins[mid] + fh].tolist(),
                      "panels": {}}
    s = dict(context=ctx, horizon=h, fh=fh, n_levels=n_levels, n_paths=n_paths, train=train)
    for name in models:
        f, nll, paths, fit_s, sample_s = fit_image_model("LOBSTER", name, levels, cut, origins,
                                                         s, "levels")
        paths = paths.astype(float)
        rows[name] = {"NLL": nll, **_forecast_metrics(paths, truth, cuts, scale=0.5),
                      "fit s": fit_s, "sample s": sample_s, "epochs": f.n_iter_,
                      "paths/s": n_paths * len(origins) / sample_s}
        plot["panels"][f"{name} median"] = np.median(paths[mid], axis=0).tolist()
        plot["panels"][f"{name} sample"] = paths[mid, 0].tolist()
        log(f"LOBSTER {name}: {rows[name]}")
    if args.baselines:
        last = np.repeat(np.stack([levels[o - 1] for o in origins])[:, None], fh, 1)
        sig = np.stack([(levels[k:cut] - levels[:cut - k]).std(axis=0)
                        for k in range(1, fh + 1)])
        draws = gaussian_draws(last, sig[None], n_paths, 2)
        rows["persistence"] = {"NLL": change_nll(levels, 1, cut, cut + ctx, n_levels),
                               **_forecast_metrics(np.moveaxis(draws, 0, 1), truth, cuts,
                                                   scale=0.5),
                               "fit s": 0.0, "sample s": 0.0}
        log(f"LOBSTER persistence: {rows['persistence']}")
        nll, paths, fit_s, sample_s, epochs = wavenet_bins(levels, cut, ctx, fh, n_levels,
                                                           n_paths, origins, train, width=64)
        name = "WaveNet (bins as channels)"
        rows[name] = {"NLL": nll, **_forecast_metrics(paths, truth, cuts, scale=0.5),
                      "fit s": fit_s, "sample s": sample_s, "epochs": epochs,
                      "paths/s": n_paths * len(origins) / sample_s}
        plot["panels"][f"{name} median"] = np.median(paths[mid], axis=0).tolist()
        log(f"LOBSTER WaveNet: {rows[name]}")
    setup = dict(n_rows=n, n_bins=int(levels.shape[1]), train_rows=cut, context=ctx,
                 horizon=h, forecast_rows=fh, n_levels=n_levels, n_paths=n_paths,
                 n_origins=int(len(origins)), train=train,
                 image="OrderBookImage(n_ticks=16, tick_size=0.05, resample='1s'), "
                       "levels = clip(round(2 * value), -16, 16) + 16")
    return {"setup": setup, "rows": rows, "plot": plot}


# ---------------------------------------------------------------------------- report
def _fmt(x):
    if x is None:
        return "–"
    if isinstance(x, (int, np.integer)):
        return str(x)
    return f"{x:.3f}" if abs(x) < 100 else f"{x:.0f}"


def table(rows, columns):
    return "\n".join(md_table(["model", *columns],
                              [[name, *(_fmt(r.get(c)) for c in columns)]
                               for name, r in rows.items()], align="l" + "r" * len(columns)))


def plot_results(results, out_dir, stem):
    plt = pyplot()
    files = []
    for key, title, cmap in (("ecg", "ECG log-magnitude spectrogram (MLII)", "magma"),
                             ("lobster", "GOOG depth (levels; bids < 16 < asks)", "RdBu_r")):
        if key not in results:
            continue
        p = results[key]["plot"]
        ctx = p["context"]
        truth = np.array(p["truth"])
        panels = {"truth": truth}
        for name, arr in p["panels"].items():
            panels[name] = np.concatenate([truth[:ctx], np.array(arr)])
        vmin, vmax = truth.min(), truth.max()
        fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 4), sharey=True)
        for ax, (name, arr) in zip(np.atleast_1d(axes), panels.items()):
            ax.imshow(arr, aspect="auto", origin="upper", cmap=cmap, vmin=vmin, vmax=vmax,
                      interpolation="nearest")
            ax.axhline(ctx - 0.5, color="w" if key == "ecg" else "k", lw=1, ls="--")
            ax.set_title(name, fontsize=8)
            ax.set_xlabel("bin")
        np.atleast_1d(axes)[0].set_ylabel("row (time, down); dashed: forecast origin")
        fig.suptitle(f"{title}: truth vs forecasts at {p['origin']}", fontsize=9)
        fig.tight_layout()
        files.append(save_figure(fig, out_dir / f"{stem}_{key}.png").name)
    return files


def write_report(results, meta, stem, plots):
    out = [f"# Signal-image forecasting ({'quick smoke run' if meta['quick'] else 'full run'})",
           "", f"`{meta['command']}` — {meta['date']}, {meta['machine']}, torch "
           f"{meta['torch']}, {meta['threads']} thread(s), tsargen {meta['tsargen']}, "
           f"{meta['elapsed_s'] / 60:.1f} min (last run). Protocol: `benchmarks/signal_image.py`"
           " docstring.", ""]
    if "ecg" in results:
        s = results["ecg"]["setup"]
        out += _section_lines(
            "## ECG spectrogram (MIT-BIH 100, MLII)",
            f"{s['n_frames']} STFT frames x {s['n_bins']} bins ({s['frames_per_s']:.1f} "
            f"frames/s), trained on the first {s['train_frames']}; context {s['context']} "
            f"frames, forecasts of {s['forecast_frames']} frames (2 s) from "
            f"{s['n_origins']} test origins, {s['n_paths']} paths; {s['n_levels']} levels; "
            f"heartbeat period {s['period_frames']} frames. NLL: nats per bin (lower is "
            "better); CRPS: log-magnitude nats; LSD: dB.",
            results["ecg"]["rows"], ["NLL", "CRPS 1 s", "CRPS 2 s", "LSD 1 s", "LSD 2 s",
                                     "fit s", "sample s"],
            ["NLL", "CRPS 2 s", "LSD 2 s"],
            ["persistence", "seasonal naive", "WaveNet (bins as channels)"])
    if "lobster" in results:
        s = results["lobster"]["setup"]
        out += _section_lines(
            "## Order-book depth (LOBSTER GOOG 2012-06-21, 5 levels, 1 s rows)",
            f"{s['n_rows']} rows x {s['n_bins']} bins ({s['image']}); trained on the first "
            f"{s['train_rows']} rows; context {s['context']}, horizon {s['horizon']}, "
            f"forecasts of {s['forecast_rows']} s from {s['n_origins']} origins x "
            f"{s['n_paths']} paths. NLL: nats per bin; CRPS: per bin, in log1p(size) units.",
            results["lobster"]["rows"], ["NLL", "CRPS 10 s", "CRPS 20 s", "fit s", "sample s",
                                         "paths/s", "epochs"],
            ["NLL", "CRPS 20 s"], ["persistence", "WaveNet (bins as channels)"])
        out += ["No seasonal-naive row: 1 s depth rows have no period within the 20 s horizon.",
                ""]
    if not meta["quick"]:
        out += ["## Observations", ""] + [f"- {o}" for o in bullets(NOTES, "Observations")]
        out += [""]
    out += [f"![{p}]({p})" for p in plots]
    return "\n".join(out) + "\n"


def _section_lines(title, text, rows, columns, ratio_metrics, refs):
    """A data set's section: title, description, the table and the ratio lines."""
    return [title, "", text, "", table(rows, columns), ""] + _ratios(rows, ratio_metrics, refs)


def _ratios(rows, metrics, refs):
    """Ratio lines: each image model's metric over each reference's (lower is better)."""
    lines = []
    for name, r in rows.items():
        if name in refs:
            continue
        parts = []
        for ref in refs:
            if ref not in rows:
                continue
            for m in metrics:
                a, b = r.get(m), rows[ref].get(m)
                if a is not None and b:
                    parts.append(f"{m} {a / b:.2f}x {ref}")
        if parts:
            lines.append(f"- {name}: " + ", ".join(parts))
    return (lines + [""]) if lines else []


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (< 2 minutes)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder")
    output_args(parser, render="the report and plots")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="comma-separated subset of " + ", ".join(MODELS))
    parser.add_argument("--sections", default="ecg,lobster", help="ecg, lobster or both")
    parser.add_argument("--no-baselines", dest="baselines", action="store_false",
                        help="skip WaveNet / persistence / seasonal naive (e.g. when adding a "
                             "model to an existing JSON)")
    parser.add_argument("--origins", type=int, default=20, help="forecast origins per data set")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.render:
        path = Path(args.render)
        saved = read_json(path)
        plots = plot_results(saved["results"], path.parent, path.stem)
        path.with_suffix(".md").write_text(write_report(saved["results"], saved["meta"],
                                                        path.stem, plots))
        print(f"re-rendered {path.with_suffix('.md')}")
        return 0
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; available: {list(MODELS)}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "signal_image" + ("_quick" if args.quick else "")
    json_path = out_dir / f"{stem}.json"
    results = read_json(json_path)["results"] if json_path.exists() else {}
    for section in [s.strip() for s in args.sections.split(",") if s.strip()]:
        run = {"ecg": run_ecg, "lobster": run_lobster}[section]
        new = run(args, models, args.quick)
        old = results.get(section)
        if old is not None:          # merge: keep rows (and plot panels) of models not rerun
            new["rows"] = {**{k: v for k, v in old["rows"].items() if k not in new["rows"]},
                           **new["rows"]}
            new["plot"]["panels"] = {**{k: v for k, v in old["plot"]["panels"].items()
                                        if k not in new["plot"]["panels"]},
                                     **new["plot"]["panels"]}
        results[section] = new
    meta = dict(command="python -m benchmarks.signal_image" + "".join(
                    " " + a for a in (sys.argv[1:] if argv is None else argv)),
                quick=args.quick, threads=torch.get_num_threads(), torch=torch.__version__,
                machine=f"{platform.machine()}, {os.cpu_count()} CPUs",
                elapsed_s=time.perf_counter() - T0, date=time.strftime("%Y-%m-%d"),
                tsargen=CODE)
    write_json(json_path, {"meta": meta, "results": results}, indent=None)
    plots = plot_results(results, out_dir, stem)
    (out_dir / f"{stem}.md").write_text(write_report(results, meta, stem, plots))
    log(f"wrote {json_path.with_suffix('.md')}, {json_path.name}, {len(plots)} plot(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
