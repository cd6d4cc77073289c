"""One LOBSTER day: fit an event-time WaveNet and draw a fan chart of simulated mid prices.

Reads a LOBSTER sample day (:func:`tsargen.datasets.read_lobster`), fits a small
:class:`tsargen.WaveNetForecaster` with mixed per-channel likelihoods on the first events of
the day (:mod:`tsargen.markets`), simulates future event paths from a later origin, maps them
to calendar time and plots the 5-95% / 25-75% fan of the mid price over the next two minutes
with the realised mid price. Also prints the desk answers at that origin.

Run from the repository root with tsargen importable (``pip install -e .`` or
``PYTHONPATH=.``), about 3-5 minutes on one core::

    python examples/lobster.py                     # PNG into the system temp folder
    python examples/lobster.py --out /tmp/fan.png --ticker GOOG --epochs 5
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tsargen import WaveNetForecaster
from tsargen.datasets import read_lobster
from tsargen.markets import (event_distribution, event_series, expected_events,
                             mid_price_distribution, move_probabilities, simulate)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lobster"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--ticker", default="AMZN", choices=("AMZN", "GOOG"))
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "lobster_fan.png"))
    parser.add_argument("--events", type=int, default=20000, help="events used for training")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    events = read_lobster(Path(args.data) / f"LOBSTER_SampleFile_{args.ticker}_2012-06-21_1.zip")
    max_move = 24
    y = event_series(events, max_move=max_move)
    # the settings of benchmarks/ticks.py (joint heads split each layer into 5 channel groups)
    f = WaveNetForecaster(distribution=event_distribution(max_move=max_move), n_layers=7,
                          residual_channels=48, skip_channels=48, max_epochs=args.epochs,
                          batch_size=16, lr=3e-3, random_state=0).fit(y.iloc[:args.events])
    origin = args.events + 2000
    recent = events.iloc[origin - f.receptive_field_ + 1:origin + 1]
    paths = simulate(f, recent, n_paths=300, n_events=1024, max_move=max_move, random_state=0)

    seconds = np.linspace(0, 120, 121)
    fan = np.stack([paths.mid_at(s) for s in seconds], axis=1)            # (paths, grid)
    q = np.nanquantile(fan, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    t0 = paths.start
    grid = t0 + pd.to_timedelta(seconds, unit="s")
    mid = (events["ask_price_1"] + events["bid_price_1"]) / 2
    past = mid[(mid.index > t0 - pd.Timedelta("5min")) & (mid.index <= t0)]
    future = mid[(mid.index > t0) & (mid.index <= grid[-1])]

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.step(past.index, past, where="post", color="k", lw=1, label="mid price (history)")
    ax.step(future.index, future, where="post", color="C3", lw=1, label="mid price (realised)")
    ax.fill_between(grid, q[0], q[4], color="C0", alpha=0.2, step="post", label="5-95%")
    ax.fill_between(grid, q[1], q[3], color="C0", alpha=0.4, step="post", label="25-75%")
    ax.step(grid, q[2], where="post", color="C0", lw=1.5, label="median")
    ax.set_title(f"{args.ticker} 2012-06-21: simulated mid-price paths after {t0.time()}")
    ax.set_ylabel("price")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"fan chart: {args.out}")
    print(mid_price_distribution(paths, seconds=(1, 10, 60)).round(4))
    print(move_probabilities(paths, seconds=(1, 10, 60)).round(3))
    print("events in the next minute:", expected_events(paths, 60))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
