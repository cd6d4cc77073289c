"""Demo: forecast yearly sunspot numbers with WaveNetForecaster.

Fits on 1700-1968, then forecasts 11 years ahead (one solar cycle) from 8 origins over
1969-2008, feeding the true history at each origin without refitting. Prints MASE, sMAPE, CRPS
and 80%-interval coverage next to the seasonal-naive forecast (period 11) and statsmodels
exponential smoothing (ETS, additive damped trend), and writes a fan chart of the last origin.

Run with ``python -m tsargen.demo [--out demo_forecast.png] [--threads 1]``. Uses only data
shipped with statsmodels.
"""

import argparse
import time
import warnings

import numpy as np

from tsargen.cli import THREADS_HELP, positive_int

PERIOD, HORIZON, N_TRAIN, N_ORIGINS = 11, 11, 269, 8


def _ets_paths(history, horizon, n_paths, seed):
    """Point forecast and simulated paths of a damped-trend ETS fitted to ``history``."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing  # lazy as in main (about 1 s)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(history, trend="add", damped_trend=True).fit()
        sims = fit.simulate(horizon, repetitions=n_paths, error="add",
                            random_state=np.random.RandomState(seed))
    return fit.forecast(horizon), np.asarray(sims).T


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_forecast.png", help="where to write the plot")
    parser.add_argument("--threads", type=positive_int, default=1, metavar="N",
                        help=THREADS_HELP)
    args = parser.parse_args(argv)

    # documented lazy imports: --help (also 'tsargen demo --help') answers without torch or pandas
    import torch

    from tsargen import WaveNetForecaster
    from tsargen.datasets import load_sunspots
    from tsargen.metrics import crps, mase, smape

    torch.set_num_threads(args.threads)

    y = load_sunspots()
    values = y.to_numpy()
    train = y.iloc[:N_TRAIN]
    origins = np.linspace(N_TRAIN, len(y) - HORIZON, N_ORIGINS).astype(int)

    start = time.perf_counter()
    model = WaveNetForecaster(horizon=HORIZON, n_layers=5, residual_channels=32,
                              skip_channels=32, distribution="student_t", max_epochs=100,
                              patience=10, lr=3e-3, random_state=0,
                              n_threads=args.threads).fit(train)
    fit_time = time.perf_counter() - start

    rows = {"WaveNetForecaster": [], "seasonal naive": [], "ETS (statsmodels)": []}
    for origin in origins:
        history, truth = y.iloc[:origin], values[origin:origin + HORIZON]
        point = model.predict(y=history).to_numpy()
        paths = model.sample(200, y=history, random_state=0)["sunspots"].to_numpy().reshape(
            200, HORIZON)
        q10, q90 = np.quantile(paths, [0.1, 0.9], axis=0)
        naive = values[origin - PERIOD:origin][:HORIZON]
        ets_point, ets_paths = _ets_paths(values[:origin], HORIZON, 200, origin)
        e10, e90 = np.quantile(ets_paths, [0.1, 0.9], axis=0)
        for name, pred, samples, cover in [
                ("WaveNetForecaster", point, paths, np.mean((truth >= q10) & (truth <= q90))),
                ("seasonal naive", naive, naive[None], np.nan),
                ("ETS (statsmodels)", ets_point, ets_paths,
                 np.mean((truth >= e10) & (truth <= e90)))]:
            rows[name].append([mase(truth, pred, values[:origin], PERIOD), smape(truth, pred),
                               crps(truth, samples).mean(), cover])

    print(f"Yearly sunspots: fit on 1700-1968 ({fit_time:.1f} s), {HORIZON}-year forecasts "
          f"from {N_ORIGINS} origins over 1969-2008")
    print(f"{'model':<20}{'MASE':>8}{'sMAPE':>8}{'CRPS':>8}{'80% cov':>9}")
    for name, r in rows.items():
        m = np.array(r, dtype=float).mean(axis=0)
        cov = "-" if np.isnan(m[3]) else f"{m[3]:.2f}"
        print(f"{name:<20}{m[0]:>8.3f}{m[1]:>8.1f}{m[2]:>8.2f}{cov:>9}")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install tsargen[plot]); no plot written")
        return
    origin = origins[-1]
    history = y.iloc[:origin]
    quant = model.predict_quantiles(y=history, quantiles=(0.1, 0.5, 0.9))
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(y.index[origin - 60:origin + HORIZON], values[origin - 60:origin + HORIZON],
            color="black", lw=1, label="observed")
    ax.fill_between(quant.index, quant.iloc[:, 0], quant.iloc[:, 2], alpha=0.3,
                    label="80% interval")
    ax.plot(quant.index, quant.iloc[:, 1], label="median forecast")
    ax.axvline(y.index[origin], color="grey", ls=":")
    ax.set_title("WaveNetForecaster on yearly sunspots")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
