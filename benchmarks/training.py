"""Training throughput of ``WaveNetForecaster.fit`` against a bare PyTorch loop.

What it measures
----------------
For a small and a medium WaveNet (32 residual / 64 skip channels, Gaussian head; 1 stack x 6
layers and 2 stacks x 10 layers) on a real series (the half-hourly England & Wales electricity
demand ``forecasting/taylor.csv``, 4032 values; the statsmodels weekly CO2 series if the data
folder is absent), it times

* **library**: ``WaveNetForecaster(..., max_epochs=E, validation_fraction=0.0,
  random_state=0).fit(y)``, end to end (input checks, scaling, network construction, the
  lazily gathered windows of ``SeriesBank`` and the training loop of
  ``tsargen.estimators._training.train``);
* **bare PyTorch loop**: the same :class:`~tsargen.networks.WaveNet` built directly, the same
  standardised data (NaN-padded as the library pads it), the same number of windows of the same
  length per epoch drawn by plain indexing into one tensor (starts uniform from ``n_targets - 1``
  before the series to its last value, as the library draws them, so that every target weighs
  the same), the same batch size, Adam with the same learning rate, ``-net.log_prob(x)``
  averaged over the observed targets, gradient clipping to norm 1.0, and the same number of
  optimiser steps; timed from network construction on.

Timesteps: one epoch of the library draws ``n_windows`` windows (``SeriesBank.train_batches``;
counted here by running it once, untimed) of ``receptive_field + n_targets`` input steps, of
which the last ``n_targets`` are targets (those of a window overhanging an end of the series
are computed but masked). Reported rates are target timesteps (target positions computed) per
second, ``n_windows * n_targets * E / seconds``; input timesteps per second are in the JSON.
The number of epochs ``E`` is chosen so that a run processes about a fixed number of input
timesteps, and ``fit`` is checked to have run exactly ``E`` epochs.

Library and bare runs alternate (library, bare, bare, library, ...) and the tables give medians
and the median of the per-repetition ratios library / bare (throughput of the library over that
of the bare loop), by wall clock and by process CPU time (``time.process_time``, insensitive to
other jobs on a shared machine).
Target (from the issue): ratio >= 0.9 (the library adds no overhead).

Run
---
From the repository root::

    python -m benchmarks.training            # full run, about 6 minutes
    python -m benchmarks.training --quick    # smoke run, under a minute

Options: ``--threads N`` (torch intra-op threads, default 1), ``--data-dir PATH`` (default
``../shared/data`` beside the repository, or ``$TSARGEN_DATA``), ``--out DIR`` (default
``benchmarks/results``), ``--profile`` (also cProfile one library fit per configuration and
append the top entries). Writes ``training.md``, ``training.json`` and ``training.png``
(``training_quick.*`` with ``--quick``).
"""

import argparse
import cProfile
import io
import math
import os
import pstats
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks import Clock, machine_info
from benchmarks.report import md_table, output_args, pyplot, save_figure, write_json
from tsargen import WaveNetForecaster
from tsargen.estimators._training import SeriesBank
from tsargen.networks import WaveNet

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = Path(os.environ.get("TSARGEN_DATA", HERE.parents[1] / "shared" / "data"))
TARGET = 0.9
CLOCKS = {"wall": "wall clock", "cpu": "process CPU time"}
CONFIGS = {
    "small (1x6 layers)": dict(n_stacks=1, n_layers=6, residual_channels=32, skip_channels=64,
                               batch_size=32),
    "medium (2x10 layers)": dict(n_stacks=2, n_layers=10, residual_channels=32,
                                 skip_channels=64, batch_size=4),
}
LR, CLIP = 1e-3, 1.0


def load_series(data_dir):
    path = Path(data_dir) / "forecasting" / "taylor.csv"
    if path.is_file():
        import pandas as pd
        y = pd.read_csv(path)["Y"].to_numpy(float)
        return y, f"taylor.csv (half-hourly electricity demand, England & Wales), {len(y)} values"
    print(f"data folder {data_dir} not found: using statsmodels weekly CO2 instead")
    from tsargen.datasets import load_co2
    y = load_co2("W").to_numpy(float)
    return y, f"statsmodels CO2, weekly, {len(y)} values"


def standardise(y):
    """As ``WaveNetForecaster.fit``: NaN-aware mean and population standard deviation."""
    return (y - np.nanmean(y)) / np.nanstd(y)


def epoch_plan(y, cfg):
    """Windows per epoch, targets per window and receptive field, exactly as ``fit`` draws
    them: a ``SeriesBank`` built with fit's arguments, one epoch iterated (untimed)."""
    est = WaveNetForecaster(**_est_params(cfg, 1))
    rf = est._receptive_field()
    n_targets = est._n_targets([len(y)])
    bank = SeriesBank([torch.as_tensor(standardise(y), dtype=torch.float32)[:, None]], rf,
                      n_targets, train_ranges=[(0, len(y))], val_ranges=[(len(y), len(y))])
    n_windows = n_batches = n_loss = 0
    with torch.random.fork_rng():
        torch.manual_seed(0)
        for x, _, _, keep in bank.train_batches(cfg["batch_size"]):
            n_windows += x.shape[0]
            n_batches += 1
            n_loss += int(keep.sum())
            assert x.shape[2] == rf + n_targets
    return {"rf": rf, "n_targets": n_targets, "n_windows": n_windows, "n_batches": n_batches,
            "loss_positions": n_loss}


def _est_params(cfg, epochs):
    return dict(n_stacks=cfg["n_stacks"], n_layers=cfg["n_layers"],
                residual_channels=cfg["residual_channels"], skip_channels=cfg["skip_channels"],
                batch_size=cfg["batch_size"], lr=LR, max_epochs=epochs,
                validation_fraction=0.0, random_state=0, device="cpu")


def run_library(y, cfg, epochs):
    est = WaveNetForecaster(**_est_params(cfg, epochs))
    with Clock() as c:
        est.fit(y)
    assert len(est.loss_curve_) == epochs, (len(est.loss_curve_), epochs)
    return c.seconds, est.loss_curve_[-1]


def run_bare(y, cfg, plan, epochs, seed=0):
    """The same network, windows, optimiser and clipping, written as a plain loop."""
    rf, n_t, n_w, bs = plan["rf"], plan["n_targets"], plan["n_windows"], cfg["batch_size"]
    length = rf + n_t
    z = torch.as_tensor(standardise(y), dtype=torch.float32)
    nan = float("nan")
    data = torch.cat([torch.full((rf + n_t - 1,), nan), z, torch.full((n_t,), nan)])
    n_starts = len(y) + n_t - 1                     # starts -(n_t - 1) .. len(y) - 1
    offsets = torch.arange(length)
    clock = Clock().__enter__()
    torch.manual_seed(seed)
    net = WaveNet([{"name": "gaussian", "kwargs": {}, "channels": [0]}],
                  n_stacks=cfg["n_stacks"], n_layers=cfg["n_layers"], kernel_size=2,
                  residual_channels=cfg["residual_channels"], skip_channels=cfg["skip_channels"])
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    net.train()
    total = 0.0
    for _ in range(epochs):
        windows = data[torch.randint(n_starts, (n_w,))[:, None] + offsets]     # (n_w, length)
        total = 0.0
        for b in range(0, n_w, bs):
            x = windows[b:b + bs, None, :]
            logp = net.log_prob(x)[:, :, rf:]
            observed = ~torch.isnan(x[:, :, rf:])
            loss = -(logp * observed).sum() / observed.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), CLIP)
            opt.step()
            total += loss.item() * x.shape[0]
    clock.__exit__()
    return clock.seconds, total / n_w


def profile_library(y, cfg, epochs, top=18):
    prof = cProfile.Profile()
    est = WaveNetForecaster(**_est_params(cfg, epochs))
    prof.runcall(est.fit, y)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def plot(path, rows):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(rows))
    for ax, (clock, title) in zip(axes, CLOCKS.items()):
        rs = [r[clock] for r in rows]
        ax.bar(x - 0.2, [r["library_tps"] for r in rs], 0.4, label="WaveNetForecaster.fit")
        ax.bar(x + 0.2, [r["bare_tps"] for r in rs], 0.4, label="bare PyTorch loop")
        for xi, r in zip(x, rs):
            ax.text(xi, max(r["library_tps"], r["bare_tps"]) * 1.02,
                    f"ratio {r['ratio']:.2f}", ha="center", va="bottom", fontsize=9)
        ax.set_xticks(x, [r["config"] for r in rows])
        ax.set_ylabel("target timesteps / s")
        ax.set_title(f"WaveNet training throughput ({title})", fontsize=10)
        ax.set_ylim(0, max(max(r["library_tps"], r["bare_tps"]) for r in rs) * 1.18)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path)


def write_markdown(path, info, args, source, rows, profiles, wall):
    L = ["# WaveNet training: `WaveNetForecaster.fit` vs a bare PyTorch loop\n",
         f"Written by `python -m benchmarks.training{' --quick' if args.quick else ''}` on "
         f"{info['date']} (wall time {wall / 60:.1f} min).\n", "## Machine\n",
         f"- CPU: {info['cpu']}, {info['cores']} cores available; torch {info['torch']} "
         f"(CPU capability {info['cpu_capability']}); Python {info['python']}",
         f"- torch intra-op threads: {args.threads} (`torch.set_num_threads`)"]
    la, lb = info["load_avg_start"], info["load_avg_end"]
    L.append(f"- Load average at start {la[0]:.1f} / {la[1]:.1f} / {la[2]:.1f}, at end "
             f"{lb[0]:.1f} / {lb[1]:.1f} / {lb[2]:.1f} (1/5/15 min) on {info['cores']} cores: "
             "above ~0, other jobs shared the cores. Library and bare runs alternate, so their "
             "ratio is the robust number; every time is given by wall clock and by process CPU "
             "time (the time this process actually ran, insensitive to being descheduled).")
    L += config_lines(args, source, rows)
    for clock, title in CLOCKS.items():
        L.append(f"\n## Results, {title}\n")
        L += md_table(["configuration", "library target timesteps/s",
                       "bare loop target timesteps/s", "library / bare (median, min-max)",
                       "library s/run", "bare s/run", "target >= 0.9"], align="lrrrrrl")
        for row in rows:
            r = row[clock]
            L.append(f"| {row['config']} | {r['library_tps']:,.0f} | {r['bare_tps']:,.0f} | "
                     f"**{r['ratio']:.2f}** ({r['ratio_min']:.2f}-{r['ratio_max']:.2f}) | "
                     f"{r['library_s']:.1f} | {r['bare_s']:.1f} | "
                     f"**{'met' if r['ratio'] >= TARGET else 'missed'}** |")
    L.append("\n- target timesteps = windows x target positions per window x epochs (positions of "
             "windows overhanging an end of the series are computed and masked); input "
             "timesteps/s (targets plus receptive-field context) = target rate x input/target "
             "steps per window.")
    L.append("- Final training losses (last epoch, mean NLL in standardised units), a check that "
             "both sides train the same model: " + "; ".join(
                 f"{r['config']}: library {r['library_loss']:.3f}, bare {r['bare_loss']:.3f}"
                 for r in rows))
    if profiles:
        L.append("\n## Profile of one library fit per configuration (cProfile, by own time)\n")
        for name, text in profiles.items():
            L.append(f"### {name}\n\n```\n{text.strip()}\n```\n")
    L.append("\nRaw per-repetition timings: `" + path.with_suffix(".json").name + "`.")
    path.write_text("\n".join(L) + "\n")


def config_lines(args, source, rows):
    L = ["\n## Configuration\n",
         f"- Data: {source}; standardised (mean, population std) as `fit` does; float32, CPU",
         "- Network: `WaveNet`, kernel_size 2, 32 residual / 64 skip channels, Gaussian head "
         "(the estimator's default), random init with seed 0",
         f"- Training: Adam lr {LR}, gradient clipping to norm {CLIP}; library with "
         "`validation_fraction=0.0` (no early stopping: exactly `max_epochs` epochs, checked)",
         f"- Repetitions: {args.reps} per side and configuration, alternating order; "
         "medians reported",
         "\n| configuration | receptive field | batch size | windows / epoch (batches) | "
         "input steps / window | target steps / window | epochs | optimiser steps |",
         "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        p = r["plan"]
        L.append(f"| {r['config']} | {p['rf']} | {r['batch_size']} | {p['n_windows']} "
                 f"({p['n_batches']}) | {p['rf'] + p['n_targets']} | {p['n_targets']} | "
                 f"{r['epochs']} | {p['n_batches'] * r['epochs']} |")
    return L


def measure(y, name, cfg, budget, args):
    """Library and bare runs of one configuration, alternating -> (row, raw timings)."""
    if args.quick and cfg["n_layers"] >= 10:
        cfg = dict(cfg, batch_size=1)                 # one epoch is MIN_BATCHES+ windows
    plan = epoch_plan(y, cfg)
    per_epoch = plan["n_windows"] * (plan["rf"] + plan["n_targets"])
    epochs = max(1, math.ceil(budget / per_epoch))
    targets = plan["n_windows"] * plan["n_targets"] * epochs
    print(f"{name}: {plan}, {epochs} epoch(s), {targets:,} target timesteps per run",
          flush=True)
    lib, bare = [], []
    for rep in range(args.reps):
        order = ("library", "bare") if rep % 2 == 0 else ("bare", "library")
        for side in order:
            if side == "library":
                lib.append(run_library(y, cfg, epochs))
            else:
                bare.append(run_bare(y, cfg, plan, epochs))
        a, b = lib[-1][0], bare[-1][0]
        print(f"  rep {rep} (wall / cpu): library {a['wall']:.2f} / {a['cpu']:.2f} s, bare "
              f"{b['wall']:.2f} / {b['cpu']:.2f} s, ratio {b['wall'] / a['wall']:.3f} / "
              f"{b['cpu'] / a['cpu']:.3f}", flush=True)
    row = {"config": name, "batch_size": cfg["batch_size"], "plan": plan, "epochs": epochs,
           "target_steps": targets, "library_loss": lib[-1][1], "bare_loss": bare[-1][1],
           "input_steps_per_target": (plan["rf"] + plan["n_targets"]) / plan["n_targets"]}
    for clock in CLOCKS:
        ratios = [b[0][clock] / a[0][clock] for a, b in zip(lib, bare)]
        lib_s = statistics.median(a[0][clock] for a in lib)
        bare_s = statistics.median(b[0][clock] for b in bare)
        row[clock] = {"library_s": lib_s, "bare_s": bare_s,
                      "library_tps": targets / lib_s, "bare_tps": targets / bare_s,
                      "ratio": statistics.median(ratios), "ratio_min": min(ratios),
                      "ratio_max": max(ratios)}
    return row, {"library": lib, "bare": bare}, cfg, epochs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fast smoke run")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    output_args(p)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args(argv)
    args.reps = 2 if args.quick else 5
    budget = 40_000 if args.quick else 500_000              # input timesteps per timed run
    torch.set_num_threads(args.threads)
    wall = time.perf_counter()
    info = machine_info()
    y, source = load_series(args.data_dir)

    # warm-up (allocator, oneDNN primitives), untimed
    small = next(iter(CONFIGS.values()))
    run_library(y, small, 1)
    run_bare(y, small, epoch_plan(y, small), 1)

    rows, raw, profiles = [], {}, {}
    for name, cfg in CONFIGS.items():
        row, raw[name], cfg, epochs = measure(y, name, cfg, budget, args)
        rows.append(row)
        if args.profile:
            profiles[name] = profile_library(y, cfg, epochs)
    info["load_avg_end"] = os.getloadavg()
    wall = time.perf_counter() - wall

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "training_quick" if args.quick else "training"
    md = out / f"{stem}.md"
    write_markdown(md, info, args, source, rows, profiles, wall)
    write_json(md.with_suffix(".json"), {"machine": info, "threads": args.threads, "rows": rows,
                                         "raw": raw}, default=str)
    plot(md.with_suffix(".png"), rows)
    print(md.read_text())


if __name__ == "__main__":
    main()
