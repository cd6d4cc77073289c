"""1-minute bars: return quantiles and volatility from WaveNet vs random walk and ARIMA.

Protocol
--------
Data: ``bars/2006-01-02-volume-min-001.txt`` (1-minute OHLCV bars of an index future,
Jan-Feb 2006, 41 sessions 09:01-22:00), read with :func:`tsargen.datasets.read_bars`.
Targets per bar: the log return of the close in basis points (the first bar of each session
is NaN -- the overnight gap is not a 1-minute return, and NaN is a missing value to the
forecaster) and the log volume. Covariates, known in advance: sine and cosine of the time of
day (minute of the session over the session length) and a first-bar-of-session flag. The
first 75% of the sessions train, the remaining sessions test. ``--origins`` forecast origins
are spread evenly over the test part, each with 30 bars left in its session; every model
forecasts the 1..30-minute cumulative log return from the true history up to the origin.

Models (all fitted on the training part only; 200 draws each, the same CRPS estimator):

* ``WaveNet`` -- :class:`tsargen.WaveNetForecaster` on (return, log volume) with
  ``distribution={"ret": "student_t", "logvol": "gaussian"}``, joint channel dependence, the
  time-of-day covariates; draws are sample paths, summed to cumulative returns.
* ``RW rolling vol`` -- random walk (zero mean) with Gaussian returns whose standard deviation
  is that of the last 60 one-minute returns; ``k``-minute variance ``k`` times it.
* ``ARIMA`` -- statsmodels ``ARIMA(1, 0, 1)`` with a constant on the training returns,
  re-conditioned on the last 500 bars at each origin (``results.apply``, same parameters),
  Gaussian paths from its forecast means and MA(infinity) weights (exact joint predictive).

Metrics: CRPS (bps) and the coverage of the central 80% interval of the ``k``-minute
cumulative return for ``k`` = 1, 5, 10, 30 and averaged over ``k`` = 1..30; volatility
forecasts: predicted standard deviation of the one-minute returns over the next 30 minutes
(WaveNet: over its paths; RW: the rolling value; ARIMA: its innovation scale) against the
realised root mean square of those returns, as the QLIKE loss ``r/p - log(r/p) - 1`` on
variances (lower is better) and the correlation of log predicted and log realised volatility
across origins.

Run from the repository root::

    nice -n 10 python -m benchmarks.bars              # full run (~10 min on 1 core)
    python -m benchmarks.bars --quick                 # smoke run (< 1 min), *_quick files
    python -m benchmarks.bars --render benchmarks/results/bars.json   # report from the JSON

Writes ``benchmarks/results/bars.md``, ``bars.json`` and ``bars_*.png``.
"""

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks.report import (md_row, md_table, output_args, pyplot, render_json, save_figure,
                               write_json)
from tsargen import WaveNetForecaster
from tsargen.datasets import read_bars
from tsargen.metrics import crps

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "bars"
H = 30
N_DRAWS = 200
SEED = 0
KS = (1, 5, 10, 30)
T0 = time.time()


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')} +{time.time() - T0:6.1f}s] {msg}", flush=True)


def prepare(bars):
    """-> targets DataFrame (ret bps, logvol), covariates DataFrame, session id per bar."""
    day = bars.index.normalize()
    first = np.r_[True, day[1:] != day[:-1]]
    ret = 1e4 * np.log(bars["close"]).diff().to_numpy()
    ret[first] = np.nan
    minute = (bars.index - day).total_seconds().to_numpy() / 60.0
    frac = (minute - 9 * 60) / (13 * 60)                    # session 09:00-22:00
    y = pd.DataFrame({"ret": ret, "logvol": np.log1p(bars["volume"].to_numpy())},
                     index=bars.index)
    X = pd.DataFrame({"sin": np.sin(2 * np.pi * frac), "cos": np.cos(2 * np.pi * frac),
                      "open": first.astype(float)}, index=bars.index)
    return y, X, np.cumsum(first) - 1


def summarise(draws, truth):
    """draws (n_origins, n_draws, H) of 1-minute returns, truth (n_origins, H) -> metrics."""
    cum, cum_true = np.cumsum(draws, axis=2), np.cumsum(truth, axis=1)
    c = np.stack([crps(cum_true[i], cum[i]) for i in range(len(cum))])           # (O, H)
    lo, hi = np.quantile(cum, [0.1, 0.9], axis=1)
    cov = ((cum_true >= lo) & (cum_true <= hi)).astype(float)
    out = {f"crps_{k}": float(c[:, k - 1].mean()) for k in KS}
    out.update({f"cov80_{k}": float(cov[:, k - 1].mean()) for k in KS})
    out["crps_mean"], out["cov80_mean"] = float(c.mean()), float(cov.mean())
    out["crps_by_k"] = c.mean(axis=0).tolist()
    out["cov80_by_k"] = cov.mean(axis=0).tolist()
    return out


def vol_scores(pred_sd, truth):
    realised = np.sqrt(np.mean(truth ** 2, axis=1))
    ok = realised > 0
    r, p = realised[ok] ** 2, pred_sd[ok] ** 2
    qlike = r / p - np.log(r / p) - 1
    constant = np.ptp(pred_sd[ok]) == 0
    corr = np.nan if constant else np.corrcoef(np.log(pred_sd[ok]), np.log(realised[ok]))[0, 1]
    return {"qlike": float(qlike.mean()), "corr_log": float(corr)}


def plot(results, out, suffix):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    ks = np.arange(1, H + 1)
    for name, r in results.items():
        axes[0].plot(ks, r["crps_by_k"], label=name)
        axes[1].plot(ks, r["cov80_by_k"], label=name)
    axes[0].set_xlabel("minutes ahead")
    axes[0].set_ylabel("CRPS of cumulative return (bps)")
    axes[1].axhline(0.8, color="k", ls=":", lw=0.8)
    axes[1].set_xlabel("minutes ahead")
    axes[1].set_ylabel("80% interval coverage")
    axes[0].legend()
    fig.tight_layout()
    return save_figure(fig, out / f"bars_crps{suffix}.png", dpi=90)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (< 1 minute)")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--origins", type=int, default=150)
    output_args(parser, render="the report and the plot")
    args = parser.parse_args(argv)
    if args.render:
        return render_json(args.render, write_outputs, "bars")
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    path = Path(args.data) / "2006-01-02-volume-min-001.txt"
    if not path.exists():
        print(f"{path} is missing; nothing to do.")
        return 1
    return write_outputs(run(args, path), out, suffix)


def wavenet_paths(f, y, X, origins):
    """``N_DRAWS`` sampled paths of the next ``H`` one-minute returns from every origin."""
    rf = f.receptive_field_
    t = time.time()
    wn = []
    chunk = 20
    for i in range(0, len(origins), chunk):
        part = origins[i:i + chunk]
        hist = [y.iloc[o - rf + 1:o + 1] for o in part]
        cov = [X.iloc[o - rf + 1:o + 1 + H] for o in part]
        s = f.sample(N_DRAWS, H, y=hist, X=cov, random_state=SEED + i)
        wn += [sj["ret"].to_numpy().reshape(N_DRAWS, H) for sj in s]
    wn_s = time.time() - t
    log(f"WaveNet paths {wn_s:.1f}s")
    return np.nan_to_num(np.stack(wn)), wn_s


def arima_paths(ret, n_train, origins, rng):
    """ARIMA(1, 0, 1) fitted on the training returns, re-conditioned at every origin: exact
    Gaussian paths -> (paths, innovation sd, seconds)."""
    from statsmodels.tsa.arima.model import ARIMA
    from statsmodels.tsa.arima_process import arma2ma
    t = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ARIMA(ret[:n_train], order=(1, 0, 1), trend="c").fit()
        p = dict(zip(res.param_names, res.params))
        psi = arma2ma([1, -p["ar.L1"]], [1, p["ma.L1"]], lags=H)            # MA(inf) weights
        mix = np.array([[psi[t - i] if i <= t else 0.0 for i in range(H)] for t in range(H)])
        ar = []
        for o in origins:
            mean = np.asarray(res.apply(ret[o - 499:o + 1]).forecast(H))
            eps = rng.normal(size=(N_DRAWS, H)) * np.sqrt(p["sigma2"])
            ar.append(mean + eps @ mix.T)               # exact Gaussian ARMA paths
    ar_s = time.time() - t
    log(f"ARIMA {ar_s:.1f}s, params {dict(zip(res.param_names, np.round(res.params, 4)))}")
    return np.stack(ar), np.sqrt(p["sigma2"]), ar_s


def run(args, path):
    """Fit, forecast and score on the bars file -> the results (as written to the JSON)."""
    bars = read_bars(path)
    y, X, session = prepare(bars)
    n_sessions = session[-1] + 1
    if args.quick:
        keep = session < 12
        y, X, session, n_sessions = y[keep], X[keep], session[keep], 12
    train_sessions = int(0.75 * n_sessions)
    n_train = int(np.searchsorted(session, train_sessions))
    settings = dict(n_layers=7, residual_channels=32, skip_channels=32, batch_size=16, lr=1e-3,
                    max_epochs=2 if args.quick else 20, patience=4,
                    distribution={"ret": "student_t", "logvol": "gaussian"},
                    channel_dependence="joint")
    n_origins = 8 if args.quick else args.origins
    log(f"{len(y)} bars, {n_sessions} sessions; train {n_train} bars ({train_sessions} sessions)")

    f = WaveNetForecaster(random_state=SEED, **settings)
    t = time.time()
    f.fit(y.iloc[:n_train], X=X.iloc[:n_train])
    fit_s = time.time() - t
    rf = f.receptive_field_
    log(f"WaveNet fit {fit_s:.1f}s, {f.n_iter_} epochs, receptive field {rf}")

    # origins: test bars with H bars left in their session and a full context behind them
    idx = np.arange(n_train + rf, len(y) - H)
    idx = idx[session[idx + H] == session[idx]]
    origins = idx[np.linspace(0, len(idx) - 1, n_origins).astype(int)]
    ret = y["ret"].to_numpy()
    truth = np.stack([ret[o + 1:o + 1 + H] for o in origins])                   # (O, H)
    draws = {}
    draws["WaveNet"], wn_s = wavenet_paths(f, y, X, origins)
    rng = np.random.default_rng(SEED)
    sd_rw = np.array([np.nanstd(ret[o - 59:o + 1]) for o in origins])
    draws["RW rolling vol"] = rng.normal(size=(len(origins), N_DRAWS, H)) * sd_rw[:, None, None]
    draws["ARIMA"], sd_arima, ar_s = arima_paths(ret, n_train, origins, rng)

    results = {name: summarise(d, truth) for name, d in draws.items()}
    vol = {"WaveNet": vol_scores(draws["WaveNet"].std(axis=1).mean(axis=1) + 1e-9, truth),
           "RW rolling vol": vol_scores(sd_rw + 1e-9, truth),
           "ARIMA": vol_scores(np.full(len(origins), sd_arima), truth)}
    for name in results:
        log(f"{name}: CRPS mean {results[name]['crps_mean']:.3f}, cov80 "
            f"{results[name]['cov80_mean']:.3f}, vol {vol[name]}")
    meta = dict(n_bars=len(y), n_train=n_train, sessions=int(n_sessions),
                train_sessions=train_sessions, n_origins=len(origins), horizon=H,
                n_draws=N_DRAWS, settings={k: v for k, v in settings.items()},
                epochs=f.n_iter_, receptive_field=rf, fit_s=fit_s, wavenet_paths_s=wn_s,
                arima_s=ar_s, python=sys.version.split()[0], torch=torch.__version__,
                machine=platform.machine(), quick=args.quick)
    return dict(meta=meta, results=results, volatility=vol)


def write_outputs(res, out, suffix):
    """The JSON, the CRPS/coverage plot and the markdown report of ``res`` in ``out``."""
    write_json(out / f"bars{suffix}.json", res)
    png = plot(res["results"], out, suffix)
    (out / f"bars{suffix}.md").write_text("\n".join(report_lines(res, png.name)))
    log(f"wrote {out / f'bars{suffix}.md'}")
    return 0


def report_lines(res, png):
    meta, results = res["meta"], res["results"]
    rw = results["RW rolling vol"]
    lines = ["# 1-minute bars: cumulative-return forecasts 1..30 minutes ahead", "",
             f"{meta['n_bars']} bars ({meta['sessions']} sessions); train "
             f"{meta['train_sessions']} sessions, {meta['n_origins']} test origins; "
             f"{meta['n_draws']} draws per forecast. WaveNet: {meta['epochs']} epochs, receptive "
             f"field {meta['receptive_field']} bars, fit {meta['fit_s']:.0f}s. "
             "Protocol: `benchmarks/bars.py` docstring.", "",
             "## CRPS of the k-minute cumulative log return (bps, lower is better)", ""]
    lines += md_table(["model", *(f"k={k}" for k in KS), "mean 1..30", "ratio to RW"])
    for name, r in results.items():
        lines.append(md_row([name, *(f"{r[f'crps_{k}']:.3f}" for k in KS),
                             f"{r['crps_mean']:.3f}", f"{r['crps_mean'] / rw['crps_mean']:.3f}"]))
    lines += ["", "## Coverage of the central 80% interval", ""]
    lines += md_table(["model", *(f"k={k}" for k in KS), "mean 1..30"])
    for name, r in results.items():
        lines.append(md_row([name, *(f"{r[f'cov80_{k}']:.3f}" for k in KS),
                             f"{r['cov80_mean']:.3f}"]))
    lines += ["", "## Volatility of the next 30 one-minute returns", ""]
    lines += md_table(["model", "QLIKE (lower is better)", "corr(log predicted, log realised)"])
    lines += [f"| {k} | {v['qlike']:.3f} | "
              + ("n/a (constant)" if np.isnan(v["corr_log"]) else f"{v['corr_log']:.3f}") + " |"
              for k, v in res["volatility"].items()]
    return lines + ["", f"Plot: `{png}`.", ""]


if __name__ == "__main__":
    sys.exit(main())
