"""Per-beat anomaly scores from a :class:`tsargen.WaveNetForecaster` on the MIT-BIH ECG record 100.

What is measured
----------------
Data: MIT-BIH Arrhythmia Database record 100 (``../shared/data/sensors/mitbih_100.csv.gz``,
650000 samples x 2 leads, MLII and V5, 360 Hz, 30 min) and its reference beat annotations
(``mitbih_100_beats.csv``: sample index of each R peak and its symbol). Beats are the
annotations with a beat symbol (``N L R B A a J S V r F e j n E / f Q ?``; the rhythm marker
``+`` is dropped); ``N`` is *normal*, every other beat symbol is *abnormal* (record 100: 33
``A`` atrial premature beats and 1 ``V`` premature ventricular beat among 2273 beats). The
report lists the counts per split.

Protocol:

* Both leads are downsampled to 180 Hz (mean of non-overlapping pairs of samples); an R peak at
  360 Hz sample ``s`` is at ``s // 2``.
* **Train part** = the first ``--train-minutes`` (default 10) minutes. It is made normal-only by
  setting both leads to NaN (missing) from 0.5 s before to 0.5 s after every abnormal beat in
  it (tsargen skips missing targets and flags missing inputs). **Test part** = the rest of the
  record; the scored beats are those whose window (below) lies wholly in it.
* ``tsargen WaveNetForecaster`` -- ``WaveNetForecaster(n_layers=8, residual_channels=32,
  skip_channels=64, distribution="gaussian", channel_dependence="joint", random_state=0, ...)``,
  both leads jointly, receptive field 256 steps (1.42 s: the previous R peak is always in view,
  so the model can learn when the next beat is due). Fitted once on the train part (its last
  10 % is the early-stopping validation part). ``score_steps`` on the test part, preceded by
  the last receptive-field steps of the train part as context, gives the one-step
  log-likelihood of every sample given the past (in mV units; the forecaster standardises the
  scored series with the mean and standard deviation per lead fitted on the train part, so a
  step's score depends on nothing after it); the per-beat score is
  ``tsargen.anomaly.anomaly_score(steps, segments=...)``: the mean NLL (summed over the two
  leads) over ``[R - 0.25 s, R + 0.25 s)``. The settings were fixed before looking at any test
  AUC (they were not tuned).
* Baselines, computed here from the same beats and windows:

  - ``RR deviation`` -- ``|RR - m| / m`` with ``RR`` the interval to the previous annotated beat
    and ``m`` the median of the 8 intervals before it (uses the reference R peaks, i.e. a
    perfect beat detector).
  - ``RR prematurity`` -- ``(m - RR) / m``, the one-sided version (an early beat scores high,
    the long pause after it does not).
  - ``template distance`` -- Euclidean distance of the beat's window (both leads, each minus its
    window mean) to the mean window of the normal training beats (morphology only).
  - ``linear AR(256) NLL`` -- the same likelihood recipe with a linear Gaussian autoregression
    per lead (256 lags, least squares on the train part, Gaussian residuals): what a
    non-neural autoregressive density gives.

Metric: ROC AUC (``sklearn.metrics.roc_auc_score``) for abnormal (positive) vs normal test
beats, with a 95 % bootstrap interval (2000 resamples of the beats, stratified by class). With
~28 abnormal test beats the intervals are wide.

How to run
----------
From the repository root::

    python -m benchmarks.anomaly             # full run (about 2 min on one core)
    python -m benchmarks.anomaly --quick     # smoke run (< 2 min), writes anomaly_quick.*

Options: ``--data DIR`` (default ``../shared/data/sensors`` beside the repository),
``--train-minutes M``, ``--threads N`` (default 1). Writes ``benchmarks/results/anomaly.md``,
``anomaly.json``, ``anomaly_roc.png`` (ROC curves), ``anomaly_scores.png`` (per-beat scores
over the test part) and ``anomaly_trace.png`` (ECG and per-step NLL around abnormal beats).
"""

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks.report import RESULTS, md_table, paragraph, pyplot, save_figure, write_json
from tsargen import WaveNetForecaster
from tsargen.anomaly import anomaly_score

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "sensors"
NOTES = RESULTS / "anomaly_notes.md"          # hand-written parts of the report
SEED = 0
FS_RAW = 360
FACTOR = 2                                  # 360 Hz -> 180 Hz
FS = FS_RAW // FACTOR
BEAT_SYMBOLS = set("NLRBAaJSVrFejnE/fQ?")
WINDOW = (-0.25, 0.25)                      # per-beat segment around the R peak, seconds
MASK = (-0.5, 0.5)                          # NaN around abnormal training beats, seconds
RR_HISTORY = 8
AR_LAGS = 256
WAVENET = dict(n_layers=8, residual_channels=32, skip_channels=64, distribution="gaussian",
               channel_dependence="joint", max_epochs=30, patience=5, batch_size=16, lr=1e-3,
               validation_fraction=0.1, random_state=SEED)
QUICK = dict(train_minutes=3, test_minutes=6,
             wavenet=dict(n_layers=8, residual_channels=8, skip_channels=8, max_epochs=2,
                          batch_size=8))


# --------------------------------------------------------------------------- data
def load(data_dir):
    sig = pd.read_csv(Path(data_dir) / "mitbih_100.csv.gz")
    ann = pd.read_csv(Path(data_dir) / "mitbih_100_beats.csv")
    raw = sig[["MLII", "V5"]].to_numpy(dtype=float)
    n = len(raw) // FACTOR * FACTOR
    x = raw[:n].reshape(n // FACTOR, FACTOR, 2).mean(axis=1)
    beats = ann[ann["symbol"].isin(BEAT_SYMBOLS)].copy()
    beats["r"] = beats["sample"].to_numpy() // FACTOR
    beats["abnormal"] = beats["symbol"] != "N"
    return x, beats.reset_index(drop=True), dict(n_raw=len(raw), dropped=sorted(
        set(ann["symbol"]) - BEAT_SYMBOLS))


# --------------------------------------------------------------------------- baselines
def rr_scores(r):
    """|RR - m| / m and (m - RR) / m with m the median of the RR_HISTORY previous intervals;
    NaN where there is not enough history."""
    rr = np.diff(r).astype(float)                       # rr[i-1]: interval before beat i
    dev = np.full(len(r), np.nan)
    pre = np.full(len(r), np.nan)
    for i in range(RR_HISTORY + 1, len(r)):
        m = np.median(rr[i - 1 - RR_HISTORY:i - 1])
        dev[i] = abs(rr[i - 1] - m) / m
        pre[i] = (m - rr[i - 1]) / m
    return dev, pre


def beat_windows(x, r, lo, hi):
    """``(n_beats, hi - lo, C)`` windows, each lead minus its window mean."""
    w = np.stack([x[k + lo:k + hi] for k in r])
    return w - w.mean(axis=1, keepdims=True)


def fit_ar(x, p, chunk=20000):
    """Per-lead least-squares AR(p) with intercept on ``x (T,)`` (rows touching NaN skipped) ->
    (coefficients on lags 1..p, intercept, residual std). Normal equations accumulated over
    chunks of rows, so the lag matrix is never held whole."""
    from numpy.lib.stride_tricks import sliding_window_view
    windows = sliding_window_view(x, p + 1)                   # row t: x[t .. t+p]
    gram = np.zeros((p + 2, p + 2))                           # [lags p..1, 1, target]
    for start in range(0, len(windows), chunk):
        w = windows[start:start + chunk]
        w = w[np.isfinite(w).all(axis=1)]
        block = np.column_stack([w[:, :p], np.ones(len(w)), w[:, p]])
        gram += block.T @ block
    a, b = gram[:p + 1, :p + 1], gram[:p + 1, p + 1]
    beta = np.linalg.solve(a + 1e-9 * np.trace(a) / (p + 1) * np.eye(p + 1), b)
    sse = gram[p + 1, p + 1] - 2 * beta @ b + beta @ a @ beta
    sigma = float(np.sqrt(max(sse, 0.0) / gram[p, p]))        # gram[p, p]: number of rows
    return beta[:p][::-1], beta[p], sigma


def ar_steps(x, coef, intercept, sigma):
    """Gaussian one-step log-likelihood of ``x (T,)`` under the AR model (NaN for t < p)."""
    p = len(coef)
    pred = np.full(len(x), np.nan)
    pred[p:] = np.convolve(x, np.r_[0.0, coef], mode="full")[p:len(x)] + intercept
    z = (x - pred) / sigma
    return -0.5 * z ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)


# --------------------------------------------------------------------------- metrics
def _auc_ranks(ranks, labels):
    """Mann-Whitney AUC from the ranks (ties averaged) of the scores; rows are resamples."""
    n_pos = labels.sum(axis=-1)
    n_neg = labels.shape[-1] - n_pos
    return ((ranks * labels).sum(axis=-1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auc_with_ci(labels, scores, n_boot=2000, seed=SEED):
    """ROC AUC (scikit-learn) and a 95 % percentile bootstrap interval (beats resampled with
    replacement within each class; the resampled AUCs by the equivalent rank formula)."""
    from scipy.stats import rankdata
    from sklearn.metrics import roc_auc_score
    auc = float(roc_auc_score(labels, scores))
    assert np.isclose(auc, _auc_ranks(rankdata(scores), labels))
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(labels), np.flatnonzero(~labels)
    idx = np.concatenate([rng.choice(pos, (n_boot, len(pos))),
                          rng.choice(neg, (n_boot, len(neg)))], axis=1)
    boots = _auc_ranks(rankdata(scores[idx], axis=1), labels[idx])
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return auc, float(lo), float(hi)


# --------------------------------------------------------------------------- plots
def plot_roc(labels, scores, aucs, path):
    from sklearn.metrics import roc_curve
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.6))
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(labels, s)
        ax.plot(fpr, tpr, lw=2 if name.startswith("tsargen") else 1.2,
                label=f"{name} (AUC {aucs[name][0]:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_xlabel("false positive rate (normal beats)")
    ax.set_ylabel("true positive rate (abnormal beats)")
    ax.set_title("MIT-BIH 100, test beats", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path)


def plot_scores(t_min, score, symbols, path, name):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    normal = symbols == "N"
    ax.plot(t_min[normal], score[normal], ".", ms=3, color="0.6", label="N (normal)")
    for sym, colour in (("A", "tab:red"), ("V", "tab:purple")):
        sel = symbols == sym
        if sel.any():
            ax.plot(t_min[sel], score[sel], "o", ms=5, color=colour, label=sym)
    other = ~np.isin(symbols, ["N", "A", "V"])
    if other.any():
        ax.plot(t_min[other], score[other], "s", ms=5, color="tab:orange", label="other")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("time in record (min)")
    ax.set_ylabel("mean NLL per step (nats, symlog)")
    ax.set_title(f"{name}: per-beat anomaly score on the test part", fontsize=10)
    ax.legend(fontsize=8, ncol=4)
    fig.tight_layout()
    save_figure(fig, path)


def plot_trace(x, nll, test_start, beats_test, path, n_examples=3):
    """ECG (MLII) and per-step NLL around the first few abnormal test beats."""
    plt = pyplot()
    ab = beats_test[beats_test["abnormal"]].head(n_examples)
    if ab.empty:
        return
    fig, axes = plt.subplots(2, len(ab), figsize=(4 * len(ab), 4.2), squeeze=False,
                             sharex="col")
    for col, (_, b) in enumerate(ab.iterrows()):
        lo, hi = b["r"] - 2 * FS, b["r"] + FS
        t = (np.arange(lo, hi) - b["r"]) / FS
        axes[0, col].plot(t, x[lo:hi, 0], lw=1)
        axes[1, col].plot(t, nll[lo - test_start:hi - test_start], lw=1, color="tab:red")
        for _, other in beats_test[(beats_test["r"] >= lo) & (beats_test["r"] < hi)].iterrows():
            tt = (other["r"] - b["r"]) / FS
            axes[0, col].annotate(other["symbol"], (tt, x[other["r"], 0]), fontsize=9,
                                  color="tab:red" if other["abnormal"] else "k")
            axes[1, col].axvspan(tt + WINDOW[0], tt + WINDOW[1], color="0.9")
        axes[0, col].set_title(f"beat '{b['symbol']}' at {b['r'] / FS / 60:.2f} min", fontsize=9)
        axes[1, col].set_xlabel("seconds from the R peak")
    axes[0, 0].set_ylabel("MLII (mV)")
    axes[1, 0].set_ylabel("NLL per step (nats)\n(shaded: beat windows)")
    fig.tight_layout()
    save_figure(fig, path)


# --------------------------------------------------------------------------- steps
def split_beats(x, beats, train_minutes, quick):
    """Train/test boundaries (steps), the beat window, which beats train and which are scored,
    and the beat counts per part."""
    train_end = int(train_minutes * 60 * FS)
    stop = len(x) if not quick else min(len(x), train_end + QUICK["test_minutes"] * 60 * FS)
    lo, hi = int(round(WINDOW[0] * FS)), int(round(WINDOW[1] * FS))
    in_train = beats["r"] < train_end
    test_ok = (beats["r"] + lo >= train_end) & (beats["r"] + hi <= stop)
    counts = {part: beats[sel]["symbol"].value_counts().to_dict()
              for part, sel in (("record", np.ones(len(beats), bool)), ("train", in_train),
                                ("test (scored)", test_ok))}
    return dict(train_end=train_end, stop=stop, lo=lo, hi=hi, in_train=in_train,
                test_ok=test_ok, counts=counts)


def normal_train_part(x, beats, s):
    """The train part with both leads NaN around every abnormal training beat, and how many
    steps that masks."""
    train = x[:s["train_end"]].copy()
    for r in beats.loc[s["in_train"] & beats["abnormal"], "r"]:
        train[max(0, r + int(MASK[0] * FS)):r + int(MASK[1] * FS)] = np.nan
    return train, int(np.isnan(train[:, 0]).sum())


def wavenet_scores(train, x, kw, s, segments, log):
    """Fit the WaveNetForecaster on the train part, score the test part step by step ->
    (model, per-step NLL, per-beat scores, step count, fit s, score s)."""
    model = WaveNetForecaster(**kw)
    t0 = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - t0
    rf = model.receptive_field_
    log(f"WaveNetForecaster fitted in {fit_s:.1f} s ({model.n_iter_} epochs, receptive field "
        f"{rf} steps = {rf / FS:.2f} s)")
    t0 = time.perf_counter()
    steps = model.score_steps(x[s["train_end"] - rf:s["stop"]])[rf:]    # (T_test, 2)
    score_s = time.perf_counter() - t0
    log(f"scored {len(steps)} test steps in {score_s:.1f} s")
    return (model, anomaly_score(steps), anomaly_score(steps, segments=segments), len(steps),
            fit_s, score_s)


def baseline_scores(x, train, beats, bt, s, segments):
    """RR, template and linear AR scores of the scored beats -> (scores, s RR+template,
    s AR)."""
    lo, hi, train_end, stop = s["lo"], s["hi"], s["train_end"], s["stop"]
    scores = {}
    t0 = time.perf_counter()
    dev, pre = rr_scores(beats["r"].to_numpy())
    scores["RR deviation"] = dev[s["test_ok"].to_numpy()]
    scores["RR prematurity"] = pre[s["test_ok"].to_numpy()]
    normal_train = beats[s["in_train"] & ~beats["abnormal"] & (beats["r"] + lo >= 0)
                         & (beats["r"] + hi <= train_end)]["r"].to_numpy()
    template = beat_windows(x, normal_train, lo, hi).mean(axis=0)
    scores["template distance"] = np.sqrt(((beat_windows(x, bt["r"].to_numpy(), lo, hi)
                                            - template) ** 2).sum(axis=(1, 2)))
    base_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ar_ll = np.zeros((stop - train_end, 2))
    for c in range(2):
        coef, icpt, sigma = fit_ar(train[:, c], AR_LAGS)
        seg = x[train_end - AR_LAGS:stop, c]
        ar_ll[:, c] = ar_steps(seg, coef, icpt, sigma)[AR_LAGS:]
    scores[f"linear AR({AR_LAGS}) NLL"] = anomaly_score(ar_ll, segments=segments)
    return scores, base_s, time.perf_counter() - t0


# --------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (< 2 minutes)")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--train-minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "anomaly" + ("_quick" if args.quick else "")
    start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - start:7.1f}s] {msg}", flush=True)

    if not (Path(args.data) / "mitbih_100.csv.gz").exists():
        log(f"no data at {args.data}; nothing to do")
        (RESULTS / f"{stem}.md").write_text(f"# Anomaly benchmark\n\nnot run: "
                                            f"`{args.data}/mitbih_100.csv.gz` not found.\n")
        return
    x, beats, info = load(args.data)
    train_minutes = QUICK["train_minutes"] if args.quick else args.train_minutes
    log(f"{len(x)} samples at {FS} Hz ({len(x) / FS / 60:.1f} min), {len(beats)} beats; "
        f"train part: first {train_minutes:g} min")
    s = split_beats(x, beats, train_minutes, args.quick)
    log(f"beat counts: {s['counts']}")
    train, n_masked = normal_train_part(x, beats, s)
    kw = dict(WAVENET, **(QUICK["wavenet"] if args.quick else {}))
    bt = beats[s["test_ok"]].reset_index(drop=True)
    segments = [(int(r + s["lo"] - s["train_end"]), int(r + s["hi"] - s["train_end"]))
                for r in bt["r"]]
    model, nll, ours, n_steps, fit_s, score_s = wavenet_scores(train, x, kw, s, segments, log)
    scores = {"tsargen WaveNetForecaster NLL": ours}
    more, base_s, ar_s = baseline_scores(x, train, beats, bt, s, segments)
    scores.update(more)

    labels = bt["abnormal"].to_numpy()
    keep = np.all([np.isfinite(v) for v in scores.values()], axis=0)
    labels_k = labels[keep]
    aucs = {name: auc_with_ci(labels_k, v[keep]) for name, v in scores.items()}
    for name, (auc, a, b) in aucs.items():
        log(f"  {name}: AUC {auc:.3f} [{a:.3f}, {b:.3f}]")
    plot_roc(labels_k, {k: v[keep] for k, v in scores.items()}, aucs,
             RESULTS / f"{stem}_roc.png")
    name = "tsargen WaveNetForecaster NLL"
    plot_scores(bt["r"].to_numpy() / FS / 60, scores[name], bt["symbol"].to_numpy(),
                RESULTS / f"{stem}_scores.png", name)
    plot_trace(x, nll, s["train_end"], bt, RESULTS / f"{stem}_trace.png")

    total = time.perf_counter() - start
    n_pos, n_neg = int(labels_k.sum()), int((~labels_k).sum())
    run = dict(quick=args.quick, train_minutes=train_minutes, n_masked=n_masked,
               dropped=info["dropped"], n_pos=n_pos, n_neg=n_neg,
               n_unscored=int((~keep).sum()), aucs=aucs, n_steps=n_steps, fit_s=fit_s,
               score_s=score_s, base_s=base_s, ar_s=ar_s, total=total, epochs=model.n_iter_,
               rf=model.receptive_field_, val_curve=list(model.val_loss_curve_), kw=kw,
               train_end=s["train_end"], stop=s["stop"], counts=s["counts"])
    (RESULTS / f"{stem}.md").write_text("\n".join(report_lines(run, stem)))
    write_json(RESULTS / f"{stem}.json", dict(
        quick=args.quick, counts=s["counts"], n_abnormal=n_pos, n_normal=n_neg,
        auc={k: dict(auc=v[0], ci_low=v[1], ci_high=v[2]) for k, v in aucs.items()},
        fit_s=fit_s, score_s=score_s, baseline_s=base_s, ar_s=ar_s, total_s=total,
        epochs=model.n_iter_, receptive_field=model.receptive_field_, settings=kw, fs=FS,
        train_minutes=train_minutes, window_s=WINDOW, python=sys.version.split()[0],
        torch=torch.__version__), default=str)
    log(f"wrote {RESULTS / (stem + '.md')}")


# --------------------------------------------------------------------------- report
def report_lines(run, stem):
    """The markdown report of one run (``run``: what ``main`` measured)."""
    quick, tm, aucs = run["quick"], run["train_minutes"], run["aucs"]
    md = [f"# Anomaly benchmark: MIT-BIH record 100"
          f"{' (QUICK smoke run: not meaningful)' if quick else ''}", "",
          f"Produced by `python -m benchmarks.anomaly{' --quick' if quick else ''}` on "
          f"{time.strftime('%Y-%m-%d')} ({platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread, shared machine); total run "
          f"{run['total'] / 60:.1f} min. Protocol in the module docstring.", "",
          f"Both leads at {FS} Hz (downsampled from {FS_RAW} Hz by averaging pairs). Train part: "
          f"the first {tm:g} min, abnormal beats masked (NaN from "
          f"{MASK[0]:+g} s to {MASK[1]:+g} s around each: {run['n_masked']} of "
          f"{run['train_end']} steps). Test part: {tm:g} min to {run['stop'] / FS / 60:.1f} "
          f"min. Per-beat window: [R {WINDOW[0]:+g} s, R {WINDOW[1]:+g} s). Non-beat "
          f"annotations dropped: {run['dropped']}.", "",
          "Beat counts (symbol: count):", ""]
    md += md_table(["part", "N (normal)", "abnormal", "by symbol"], align="lrrl")
    for part, c in run["counts"].items():
        ab = sum(v for k, v in c.items() if k != "N")
        md.append(f"| {part} | {c.get('N', 0)} | {ab} | "
                  f"{', '.join(f'{k}: {v}' for k, v in sorted(c.items()))} |")
    md += ["", f"ROC AUC, abnormal vs normal test beats ({run['n_pos']} abnormal, "
           f"{run['n_neg']} normal; {run['n_unscored']} beats without enough RR history "
           "dropped), with 95 % bootstrap intervals:", ""]
    md += md_table(["score", "ROC AUC", "95 % interval"], align="lrl")
    md += [f"| {k} | {auc:.3f} | {a:.3f}–{b:.3f} |" for k, (auc, a, b) in aucs.items()]
    ours = aucs["tsargen WaveNetForecaster NLL"][0]
    better = [f"{k} ({v[0]:.3f})" for k, v in aucs.items() if v[0] > ours]
    if better:
        md += ["", f"**Where tsargen loses:** {', '.join(better)} beat the WaveNet NLL "
               f"({ours:.3f}). " + paragraph(NOTES, "Where tsargen loses")]
    return md + ["", "Times (s):", ""] + md_table(["step", "seconds"], align="lr") + [
        f"| WaveNetForecaster fit ({run['epochs']} epochs) | {run['fit_s']:.1f} |",
        f"| WaveNetForecaster score_steps on the test part ({run['n_steps']} steps) | "
        f"{run['score_s']:.1f} |",
        f"| RR and template baselines | {run['base_s']:.2f} |",
        f"| linear AR({AR_LAGS}) fit + scoring | {run['ar_s']:.1f} |", "",
        _settings_sentence(run), "",
        f"![ROC]({stem}_roc.png)", "", f"![scores]({stem}_scores.png)", "",
        f"![trace]({stem}_trace.png)", ""]


def _settings_sentence(run):
    kw, rf, curve = run["kw"], run["rf"], run["val_curve"]
    return (f"WaveNetForecaster settings: `{kw}` (receptive field {rf} steps = {rf / FS:.2f} s; "
            f"best validation NLL per step {min(curve):.3f} scaled units at "
            f"epoch {int(np.argmin(curve)) + 1}, the weights kept; last "
            f"{curve[-1]:.3f})"
            + (f"; training ran all {run['epochs']} epochs without early stopping, so more "
               "epochs may help" if run["epochs"] >= kw.get("max_epochs", np.inf) else "")
            + ".")


if __name__ == "__main__":
    main()
