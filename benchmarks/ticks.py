"""Event-time WaveNet on a LOBSTER order-book day: likelihood, direction, calibration, speed.

Protocol
--------
One LOBSTER sample day (level 1; ``--ticker AMZN`` by default, ``GOOG`` also ships) is read with
:func:`tsargen.datasets.read_lobster` and turned into the model channels of
:func:`tsargen.markets.event_series` (event type, direction, mid-price move in half ticks
clipped to ``+-max_move``, ``log1p`` inter-arrival ms and ``log1p`` size, both as integer levels
of width 0.25). The first 60% of the
events train (the last 10% of those for early stopping), the last 40% test; optionally capped
with ``--max-events`` (from the start of the day). Everything is measured in this one run.

Models, all fitted on the training events only:

* ``WaveNet`` -- :class:`tsargen.WaveNetForecaster` with the per-channel heads of
  :func:`tsargen.markets.event_distribution` (categoricals over the event types, directions,
  duration levels and size levels, a discretized logistic mixture over the integer half-tick
  moves), ``channel_dependence="joint"`` in the order type, direction, move, duration, size.
* ``iid`` -- the i.i.d. empirical distribution of each channel (add-one smoothed training
  frequencies of the levels).
* ``Markov`` -- a first-order Markov chain per channel (add-one smoothed transition
  frequencies of the levels; each channel given its own previous value).
* ``exponential`` (durations) -- i.i.d. exponential inter-arrival times (a Poisson process,
  rate = MLE on the training day), as probabilities of the duration levels.
* ``ARIMA`` (moves) -- statsmodels ``ARIMA(2, 0, 1)`` on the half-tick move series, one-step
  Gaussian predictive re-conditioned on the true past (``results.apply``), discretised to the
  integer moves (tails to the clipped edge levels, as the model's levels).

Metrics:

* ``NLL`` -- mean test negative log-likelihood per event and channel (nats; every channel is
  discrete, so these are exact log-probabilities of the same outcomes for every model). The
  WaveNet scores each test event given the true past (``score_steps`` on the test part
  preceded by one receptive field of training events).
* ``direction`` -- at ``--direction-origins`` test origins spread evenly over the test part,
  the sign of the next mid-price change: WaveNet predicts the more likely sign over 100
  simulated paths of 16 events (:func:`tsargen.markets.next_move_probabilities`);
  ``persistence`` repeats the sign of the last change; ``reversal`` its opposite.
* ``calibration`` -- at ``--origins`` test origins spread evenly over the test part, the mid
  price ``h`` = 1, 10, 60 s ahead
  (:func:`tsargen.markets.simulate`, paths long enough for 60 s; censored paths dropped):
  randomised PIT histogram, coverage of the central 50% / 80% intervals and CRPS, against the
  ``empirical`` baseline: the training day's distribution of ``h``-second mid changes added to
  the current mid.
* ``throughput`` -- training events per second (training targets seen / fit time) and
  simulated events per second when sampling 1000 paths of 256 events (cached generation).

Run from the repository root::

    nice -n 10 python -m benchmarks.ticks                 # full run (~10 min on 1 core)
    python -m benchmarks.ticks --quick                     # smoke run (< 1 min), *_quick files

    nice -n 10 python -m benchmarks.ticks --ticker GOOG --max-move 48   # ticks_goog.* files

    python -m benchmarks.ticks --render benchmarks/results/ticks.json   # report from the JSON

Writes ``benchmarks/results/ticks.md``, ``ticks.json`` and ``ticks_pit.png`` (``ticks_goog.md``,
``ticks_goog.json``, ``ticks_pit_goog.png`` for GOOG). How the settings came about (earlier runs
and what they showed): ``benchmarks/results/ticks_notes.md``.
"""

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from benchmarks.report import (md_row, md_table, output_args, pyplot, render_json, save_figure,
                               write_json)
from tsargen import WaveNetForecaster
from tsargen.datasets import read_lobster
from tsargen.markets import (DURATION_LEVELS, EVENT_CHANNELS, LOG_BIN_WIDTH, SIZE_LEVELS,
                             event_distribution, event_series, next_move_probabilities, simulate)
from tsargen.metrics import crps

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "lobster"
HORIZONS = (1, 10, 60)
SEED = 0
T0 = time.time()


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')} +{time.time() - T0:6.1f}s] {msg}", flush=True)


# --------------------------------------------------------------------------- baselines
def iid_discrete_nll(train, test, n_levels):
    counts = np.bincount(train.astype(int), minlength=n_levels) + 1.0
    p = counts / counts.sum()
    return -np.log(p[test.astype(int)])


def markov_nll(train, test_with_prev, n_levels):
    """First-order Markov chain per channel: add-one smoothed transition frequencies;
    ``test_with_prev`` starts with the last training value."""
    a, b = train[:-1].astype(int), train[1:].astype(int)
    counts = np.ones((n_levels, n_levels))
    np.add.at(counts, (a, b), 1.0)
    p = counts / counts.sum(axis=1, keepdims=True)
    x = test_with_prev.astype(int)
    return -np.log(p[x[:-1], x[1:]])


def exponential_nll(train_level, test_level):
    """Exponential inter-arrivals (a Poisson process, rate by MLE on the training durations,
    taken at their level midpoints) -> probability of each duration level."""
    w = LOG_BIN_WIDTH
    rate = 1.0 / np.expm1((train_level + 0.5) * w).mean()                        # per ms
    lo = np.expm1(test_level * w)
    hi = np.where(test_level >= DURATION_LEVELS - 1, np.inf, np.expm1((test_level + 1) * w))
    p = np.exp(-rate * lo) - np.exp(-rate * hi)
    return -np.log(np.maximum(p, 1e-300))


def arima_move_nll(train_moves, all_moves, n_train, max_move):
    """One-step ARIMA(2,0,1) Gaussian predictive on half-tick moves, discretised to the levels."""
    from scipy.stats import norm
    from statsmodels.tsa.arima.model import ARIMA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ARIMA(train_moves, order=(2, 0, 1), trend="c").fit()
        full = res.apply(all_moves)
    pred = full.get_prediction(start=n_train)
    mu, sd = pred.predicted_mean, np.sqrt(pred.var_pred_mean)
    k = all_moves[n_train:]
    upper = np.where(k >= max_move, np.inf, k + 0.5)
    lower = np.where(k <= -max_move, -np.inf, k - 0.5)
    p = norm.cdf((upper - mu) / sd) - norm.cdf((lower - mu) / sd)
    return -np.log(np.maximum(p, 1e-300)), res


# --------------------------------------------------------------------------- helpers
def mid_at(times_ns, mids, query_ns):
    """Mid price in force at each query time (the last event at or before it)."""
    i = np.searchsorted(times_ns, query_ns, side="right") - 1
    return mids[np.clip(i, 0, None)]


def randomized_pit(draws, truth, rng):
    below = (draws < truth).mean()
    equal = (draws == truth).mean()
    return below + rng.uniform() * equal


def plot(results, pits, out, suffix):
    plt = pyplot()
    fig, axes = plt.subplots(1, len(HORIZONS), figsize=(4 * len(HORIZONS), 3.2), sharey=True)
    for ax, h in zip(axes, HORIZONS):
        for name, color in (("WaveNet", "C0"), ("empirical", "C1")):
            p = np.asarray(pits[name][str(h)])
            if p.size:
                ax.hist(p, bins=10, range=(0, 1), density=True, histtype="step", lw=2,
                        color=color, label=name)
        ax.axhline(1.0, color="k", lw=0.8, ls=":")
        ax.set_title(f"PIT, mid price {h} s ahead")
        ax.set_xlabel("PIT")
    axes[0].legend()
    fig.tight_layout()
    return save_figure(fig, out / f"ticks_pit{suffix}.png", dpi=90)


def fit_wavenet(y, n_train, settings, max_move):
    """The event-time WaveNet fitted on the training events -> (model, fit s, targets seen)."""
    f = WaveNetForecaster(distribution=event_distribution(max_move=max_move),
                          random_state=SEED, **settings)
    t = time.time()
    f.fit(y.iloc[:n_train])
    fit_s = time.time() - t
    rf = f.receptive_field_
    n_targets = max(rf, 32)
    seen = f.n_iter_ * max(n_train, 32 * settings["batch_size"] * n_targets)
    log(f"fit: {fit_s:.1f}s, {f.n_iter_} epochs, receptive field {rf}")
    return f, fit_s, seen


def held_out_nll(f, vals, n_train, M):
    """Mean test NLL per event and channel of the WaveNet and the baselines -> (nll, score s)."""
    rf = f.receptive_field_
    t = time.time()
    steps = f.score_steps(vals[n_train - rf:])[rf:]
    score_s = time.time() - t
    nll = {"WaveNet": dict(zip(EVENT_CHANNELS, (-steps.mean(axis=0)).tolist()))}
    tr, te = vals[:n_train], vals[n_train:]
    nll["iid"] = {"type": iid_discrete_nll(tr[:, 0], te[:, 0], 5).mean(),
                  "direction": iid_discrete_nll(tr[:, 1], te[:, 1], 2).mean(),
                  "move": iid_discrete_nll(tr[:, 2], te[:, 2], 2 * M + 1).mean(),
                  "log_dt": iid_discrete_nll(tr[:, 3], te[:, 3], DURATION_LEVELS).mean(),
                  "log_size": iid_discrete_nll(tr[:, 4], te[:, 4], SIZE_LEVELS).mean()}
    levels = (5, 2, 2 * M + 1, DURATION_LEVELS, SIZE_LEVELS)
    nll["Markov"] = {c: markov_nll(tr[:, i], vals[n_train - 1:, i], levels[i]).mean()
                     for i, c in enumerate(EVENT_CHANNELS)}
    nll["exponential"] = {"log_dt": float(exponential_nll(tr[:, 3], te[:, 3]).mean())}
    arima_nll, _ = arima_move_nll(tr[:, 2] - M, vals[:, 2] - M, n_train, M)
    nll["ARIMA"] = {"move": float(arima_nll.mean())}
    for k in nll:
        nll[k] = {c: float(v) for c, v in nll[k].items()}
    nll["WaveNet"]["total"] = sum(nll["WaveNet"][c] for c in EVENT_CHANNELS)
    nll["iid"]["total"] = sum(nll["iid"][c] for c in EVENT_CHANNELS)
    nll["Markov"]["total"] = sum(nll["Markov"][c] for c in EVENT_CHANNELS)
    best = {c: min(nll[m][c] for m in nll if c in nll[m] and m != "WaveNet")
            for c in EVENT_CHANNELS}
    nll["best baseline"] = {**best, "total": sum(best.values())}
    log(f"NLL per event: WaveNet {nll['WaveNet']['total']:.3f}, iid {nll['iid']['total']:.3f}, "
        f"best baselines {nll['best baseline']['total']:.3f}")
    return nll, score_s


def simulate_origins(f, events, origins, n_paths, n_events, M):
    """``n_paths`` simulated paths of ``n_events`` events from every origin -> (paths, s)."""
    rf = f.receptive_field_
    histories = [events.iloc[o - rf + 1:o + 1] for o in origins]
    t = time.time()
    paths = []
    chunk = max(1, 4000 // n_paths)
    for i in range(0, len(histories), chunk):
        paths += simulate(f, histories[i:i + chunk], n_paths=n_paths, n_events=n_events,
                          max_move=M, random_state=SEED + i)
        log(f"simulated origins {i + 1}..{min(i + chunk, len(histories))} of {len(histories)}")
    return paths, time.time() - t


def direction_accuracy(f, events, origins_d, mid2, nonzero, M):
    """Sign of the next mid change: WaveNet (100 short paths), persistence and reversal ->
    (accuracy per rule, s). The mid changes at about every second event."""
    rf = f.receptive_field_
    hit = {"WaveNet": [], "persistence": [], "reversal": []}
    t = time.time()
    for i in range(0, len(origins_d), 40):
        part = origins_d[i:i + 40]
        short = simulate(f, [events.iloc[o - rf + 1:o + 1] for o in part], n_paths=100,
                         n_events=16, max_move=M, random_state=SEED + 1000 + i)
        for o, p in zip(part, short):
            j = np.searchsorted(nonzero, o + 1)
            truth = np.sign(mid2[nonzero[j]] - mid2[nonzero[j] - 1])
            last = np.sign(mid2[nonzero[j - 1]] - mid2[nonzero[j - 1] - 1])
            pr = next_move_probabilities(p)
            hit["WaveNet"].append(float((1 if pr["up"] >= pr["down"] else -1) == truth))
            hit["persistence"].append(float(last == truth))
            hit["reversal"].append(float(-last == truth))
    dir_s = time.time() - t
    direction = {k: float(np.mean(v)) for k, v in hit.items()}
    log(f"direction accuracy: {direction}")
    return direction, dir_s


def calibration(times, mids, n_train, origins, paths, n_paths):
    """PIT, interval coverage and CRPS of the mid price h seconds ahead, WaveNet paths against
    the training day's empirical h-second changes -> (PITs, mean metrics, censored fraction)."""
    rng = np.random.default_rng(SEED)
    train_grid = np.arange(times[0], times[n_train - 1] - 60 * 10 ** 9, 10 ** 9)
    pits = {m: {str(h): [] for h in HORIZONS} for m in ("WaveNet", "empirical")}
    calib = {m: {str(h): {"cov50": [], "cov80": [], "crps": []} for h in HORIZONS}
             for m in ("WaveNet", "empirical")}
    censored = {str(h): [] for h in HORIZONS}
    for h in HORIZONS:
        base_changes = mid_at(times, mids, train_grid + h * 10 ** 9) - mid_at(times, mids,
                                                                             train_grid)
        for o, p in zip(origins, paths):
            truth = mid_at(times, mids, np.array([times[o] + h * 10 ** 9]))[0]
            draws = p.mid_at(h)
            censored[str(h)].append(float(np.isnan(draws).mean()))
            draws = draws[~np.isnan(draws)]
            emp = mids[o] + rng.choice(base_changes, size=n_paths)
            for name, d in (("WaveNet", draws), ("empirical", emp)):
                if not d.size:
                    continue
                pits[name][str(h)].append(randomized_pit(d, truth, rng))
                c = calib[name][str(h)]
                for cov, key in ((0.5, "cov50"), (0.8, "cov80")):
                    lo, hi = np.quantile(d, [(1 - cov) / 2, (1 + cov) / 2])
                    c[key].append(float(lo <= truth <= hi))
                c["crps"].append(float(crps(np.array([truth]), d[:, None])[0]))
    calib_mean = {m: {h: {k: float(np.mean(v)) if v else float("nan") for k, v in d.items()}
                      for h, d in hs.items()} for m, hs in calib.items()}
    log(f"calibration: {calib_mean}")
    return pits, calib_mean, censored


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (< 1 minute)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="folder with LOBSTER zips")
    parser.add_argument("--ticker", default="AMZN", choices=("AMZN", "GOOG"))
    parser.add_argument("--max-events", type=int, default=0, help="cap on events (0: all)")
    parser.add_argument("--max-move", type=int, default=24, help="half-tick move levels +-")
    parser.add_argument("--origins", type=int, default=40, help="calibration origins")
    parser.add_argument("--direction-origins", type=int, default=300)
    parser.add_argument("--paths", type=int, default=100)
    output_args(parser, render="the report and the plot")
    args = parser.parse_args(argv)
    if args.render:
        return render_json(args.render, write_outputs, "ticks")
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = ("" if args.ticker == "AMZN" else f"_{args.ticker.lower()}") + (
        "_quick" if args.quick else "")
    path = Path(args.data) / f"LOBSTER_SampleFile_{args.ticker}_2012-06-21_1.zip"
    if not path.exists():
        print(f"{path} is missing; nothing to do.")
        return 1
    write_outputs(run(args, path), out, suffix)
    return 0


def run(args, path):
    """The whole measurement on one LOBSTER day -> the results (as written to the JSON)."""
    max_events = args.max_events or (6000 if args.quick else 0)
    M = args.max_move
    # joint channel dependence splits every hidden layer into one group per channel (5 here),
    # so the layers are wider than a single-channel model would need
    settings = dict(n_layers=7, residual_channels=48, skip_channels=48, batch_size=16,
                    lr=3e-3, max_epochs=2 if args.quick else 60, patience=10,
                    validation_fraction=0.1)
    n_origins = 6 if args.quick else args.origins
    n_paths = 50 if args.quick else args.paths
    n_dir = 40 if args.quick else args.direction_origins

    events = read_lobster(path)
    if max_events:
        events = events.iloc[:max_events]
    y = event_series(events, max_move=M)
    vals = y.to_numpy()
    n, n_train = len(y), int(0.6 * len(y))
    clipped = float(((vals[:, 2] == 0) | (vals[:, 2] == 2 * M)).mean())
    log(f"{args.ticker}: {n} events, train {n_train}, test {n - n_train}; "
        f"moves clipped at +-{M} half ticks: {clipped:.4f}")
    f, fit_s, seen = fit_wavenet(y, n_train, settings, M)
    rf = f.receptive_field_
    nll, score_s = held_out_nll(f, vals, n_train, M)

    # origins
    times = events.index.asi8
    mids = (events["ask_price_1"].to_numpy() + events["bid_price_1"].to_numpy()) / 2
    mid2 = np.round(events["ask_price_1"].to_numpy() * 100) + np.round(
        events["bid_price_1"].to_numpy() * 100)
    nonzero = np.flatnonzero(np.diff(mid2) != 0) + 1        # events that changed the mid
    horizon_end = times[-1] - 60 * 10 ** 9
    cand = np.arange(n_train + rf, n)
    cand = cand[(times[cand] <= horizon_end) & (cand < nonzero[-1])]
    origins = cand[np.linspace(0, len(cand) - 1, n_origins).astype(int)]
    # expected events within 60 s on the training day -> simulated path length
    rate = n_train / ((times[n_train - 1] - times[0]) / 1e9)
    n_events = 64 if args.quick else int(min(2048, max(256, 4 * 60 * rate)))
    paths, sim_s = simulate_origins(f, events, origins, n_paths, n_events, M)
    # direction of the next mid change: many origins, short paths
    cand_d = np.arange(n_train + rf, nonzero[-1])
    origins_d = cand_d[np.linspace(0, len(cand_d) - 1, n_dir).astype(int)]
    direction, dir_s = direction_accuracy(f, events, origins_d, mid2, nonzero, M)
    pits, calib_mean, censored = calibration(times, mids, n_train, origins, paths, n_paths)

    # throughput
    t = time.time()
    f.sample(1000, 256, y=vals[n_train - rf:n_train], random_state=SEED)
    samp_s = time.time() - t
    throughput = {"train_events_per_s": seen / fit_s, "fit_s": fit_s,
                  "score_events_per_s": (n - n_train) / score_s,
                  "sample_events_per_s": 1000 * 256 / samp_s, "sample_1000x256_s": samp_s,
                  "simulate_s": sim_s, "direction_s": dir_s}
    log(f"throughput: {throughput}")
    meta = dict(ticker=args.ticker, n_events=n, n_train=n_train, n_test=n - n_train,
                max_move=M, clipped_fraction=clipped, settings=settings, epochs=f.n_iter_,
                receptive_field=rf, n_origins=len(origins),
                n_direction_origins=len(origins_d), n_paths=n_paths,
                path_events=n_events, python=sys.version.split()[0], torch=torch.__version__,
                machine=platform.machine(), quick=args.quick,
                censored={h: float(np.mean(v)) for h, v in censored.items()})
    return dict(meta=meta, nll=nll, direction=direction, calibration=calib_mean,
                pit=pits, throughput=throughput)


def write_outputs(res, out, suffix):
    """The JSON, the PIT plot and the markdown report of ``res`` in ``out``."""
    write_json(out / f"ticks{suffix}.json", res)
    png = plot(res["calibration"], res["pit"], out, suffix)
    (out / f"ticks{suffix}.md").write_text("\n".join(report_lines(res, png.name)))
    log(f"wrote {out / f'ticks{suffix}.md'}")
    return 0


def report_lines(res, png):
    meta, nll, calib = res["meta"], res["nll"], res["calibration"]
    n, n_train, rf = meta["n_events"], meta["n_train"], meta["receptive_field"]
    lines = [f"# Event-time WaveNet on LOBSTER {meta['ticker']} 2012-06-21 (level 1)", "",
             f"{n} events: first {n_train} train, last {n - n_train} test; "
             f"{meta['epochs']} epochs, receptive field {rf} events; moves clipped at "
             f"+-{meta['max_move']} half ticks ({meta['clipped_fraction']:.2%} of events). "
             "Protocol: `benchmarks/ticks.py` docstring.", "",
             "## Test NLL per event (nats, lower is better)", ""]
    lines += md_table(["model", *EVENT_CHANNELS, "total"])
    for m in ("WaveNet", "iid", "Markov", "exponential", "ARIMA", "best baseline"):
        row = [f"{nll[m][c]:.3f}" if c in nll[m] else "" for c in EVENT_CHANNELS + ("total",)]
        lines.append(md_row([m, *row]))
    ratio = nll["WaveNet"]["total"] - nll["best baseline"]["total"]
    lines += ["", f"WaveNet minus best baseline per channel: {ratio:+.3f} nats per event.", "",
              f"## Direction of the next mid-price change ({meta['n_direction_origins']} test "
              "origins, WaveNet: 100 paths of 16 events each)", ""]
    lines += md_table(["rule", "accuracy"], [(k, f"{v:.3f}") for k, v in res["direction"].items()])
    lines += ["", f"## Mid price h seconds ahead ({meta['n_origins']} origins, {meta['n_paths']} "
              f"paths of {meta['path_events']} events)", ""]
    lines += md_table(["h (s)", "model", "cov50", "cov80", "CRPS", "censored paths"])
    for h in HORIZONS:
        for m in ("WaveNet", "empirical"):
            c = calib[m][str(h)]
            cen = f"{meta['censored'][str(h)]:.3f}" if m == "WaveNet" else ""
            lines.append(f"| {h} | {m} | {c['cov50']:.3f} | {c['cov80']:.3f} | "
                         f"{c['crps']:.4f} | {cen} |")
    tp = res["throughput"]
    return lines + ["", f"PIT histograms: `{png}`.", "", "## Throughput (1 CPU thread)", ""] + (
        md_table(["what", "value"], [
            ("training events/s", f"{tp['train_events_per_s']:.0f}"),
            ("fit wall time (s)", f"{tp['fit_s']:.1f}"),
            ("scoring events/s", f"{tp['score_events_per_s']:.0f}"),
            ("sampling events/s (1000 paths x 256 events)",
             f"{tp['sample_events_per_s']:.0f}")])) + [""]


if __name__ == "__main__":
    sys.exit(main())
