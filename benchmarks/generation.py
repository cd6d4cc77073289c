"""Generation speed of the WaveNet: cached sampling vs the naive algorithm, and FLOP efficiency.

What it measures
----------------
A WaveNet with receptive field 2047 (``kernel_size=2``, 2 stacks x 10 layers, 32 residual / 64
skip channels, one channel with a 256-way mu-law categorical head; random weights, which do not
affect speed) is primed with 2047 real values (an MIT-BIH ECG snippet scaled to [-1, 1]; the
statsmodels weekly CO2 series if the data folder is absent) and sampled at 1, 10, 100 and 1000
parallel paths with :func:`tsargen.networks.generate`:

* **naive**: ``generate(..., naive=True)`` recomputes the full network over the receptive-field
  window (2048 steps) for every sample, at 1 and 100 paths. Only a few steps are timed; the
  rate is per sample.
* **cached**: ``generate(..., paths=...)`` with the Fast WaveNet queues (``init_state`` primes
  the one history once and copies its queues to every path, then ``step`` / ``heads.sample`` /
  ``commit`` per timestep). Reported three ways:

  - *steady state*: the per-timestep loop of ``generate`` (step, sample, commit) timed after
    ``init_state`` -- the rate a long generation runs at, and the one compared with naive;
  - *end to end*: one ``generate`` call of ``n`` steps, priming included;
  - a breakdown: ``step + commit`` alone (the network) and ``heads.sample`` alone.

* **end to end through the estimators**: ``WaveNetDensity.sample`` (600 steps),
  ``WaveNetForecaster.predict`` (500 steps) and ``WaveNetDensity.complete`` (500 steps after
  2047 known) with the same architecture and head (fitted for one epoch: weights do not affect
  speed), at 1, 10, 100 and 1000 paths, each point in a fresh Python process with one torch
  thread, after one warm-up call; the process' peak resident memory during the call minus its
  resident memory before it (``VmHWM`` reset through ``/proc/self/clear_refs``, else
  ``ru_maxrss``) is the *peak memory added*, which counts torch's allocations.

Samples/s = paths x timesteps / seconds. Every measurement runs under
``torch.inference_mode()``. Repetitions are interleaved (naive, cached, naive, cached, ...) and
the tables report medians, and the median of the per-repetition cached/naive ratios, because the
machine may be shared with other jobs. Each timing is taken both by wall clock and by process CPU
time (``time.process_time``: the time this process actually ran; with one thread, its compute
time, insensitive to being descheduled by other jobs); both are reported.

FLOP efficiency: the machine's matmul FLOP/s is measured with a square float32 ``torch.mm``
(best of 3 calls, at the thread count in use, at the start of every repetition). The FLOPs of one
cached step are counted analytically from the layer shapes: a matmul ``(B, n) @ (n, m)`` counts
``2 B n m``; every conv counts all its taps, masked or not (input conv ``k*2C -> R``, per block the
dilated conv ``k*R -> 2R`` and the 1x1 output conv ``R -> R+S``, then ``S -> S`` and
``S -> n_params``); elementwise work (gates, residual adds, softmax, sampling) is not counted.
Achieved FLOP/s = samples/s x FLOPs per sample. The fraction is given against the matmul FLOP/s
measured in the same repetition (median over repetitions; the fair figure when other jobs load
the machine unevenly) and against the best matmul FLOP/s of the whole run (conservative).

A sanity check compares cached and naive samples under the same seed
(``torch.manual_seed`` inside ``torch.random.fork_rng()`` before each call).

Targets (from the issues): cached >= 100x naive at 1 path; >= 40% of the matmul FLOP/s at 100
paths. End to end at 100 paths x 500 steps: >= 80% of the steady state and >= 40% of the
matmul FLOP/s; at 1 path: >= 100x naive and >= 3x the peer reference measured earlier on this
machine kind (990 samples/s); ``sample(1000, length=600)`` adds < 1 GB of peak memory.

How the FLOP fraction differs between the two machines the committed results come from
(``results/generation.md``, ``results/generation_xeon/``), and why: ``results/generation_notes.md``.

Run
---
From the repository root::

    python -m benchmarks.generation            # full run, about 10 minutes
    python -m benchmarks.generation --quick    # smoke run, a few minutes (two short fits)

Options: ``--threads 1,2`` (torch intra-op thread counts to measure, each in every repetition;
default 1: on a shared machine extra threads stall on busy cores, see the notes in the results),
``--data-dir PATH`` (default ``../shared/data`` beside the repository, or
``$TSARGEN_DATA``), ``--out DIR`` (default ``benchmarks/results``). Writes ``generation.md``,
``generation.json`` and ``generation.png`` (``generation_quick.*`` with ``--quick``).
"""

import argparse
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks import Clock, machine_info, seeded
from benchmarks.memory import _reset_peak, _status_kb
from benchmarks.report import RESULTS, bullets, output_args, pyplot, save_figure, write_json
from tsargen.networks import WaveNet, generate

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = Path(os.environ.get("TSARGEN_DATA", HERE.parents[1] / "shared" / "data"))
HEADS = [{"name": "categorical", "kwargs": {"n_bins": 256, "quantization": "mu_law"},
          "channels": [0]}]
CONFIG = dict(n_stacks=2, n_layers=10, kernel_size=2, residual_channels=32, skip_channels=64)
PATHS = (1, 10, 100, 1000)          # steady state and network end to end
NAIVE_PATHS = (1, 100)              # naive recompute (5.7 s per step at 100 paths)
TARGET_RATIO, TARGET_FRACTION = 100.0, 0.40
# end to end through the estimators (see run_end_to_end)
KINDS = ("sample", "predict", "complete")
E2E_STEPS = {"sample": 600, "predict": 500, "complete": 500}
TARGET_E2E_STEADY = 0.80            # end to end / steady state at 100 paths
PEER_SPS = 990.0                    # the peer reference measured earlier on this machine kind
TARGET_PEER, TARGET_MEMORY_MB = 3.0, 1024.0
MB = 2 ** 20
NOTES = RESULTS / "generation_notes.md"      # the report's notes


# ---------------------------------------------------------------------------------- machine
def matmul_flops(n, reps):
    """Best FLOP/s of a square float32 ``torch.mm`` of size ``n`` over ``reps`` calls, by wall
    clock and by process CPU time."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)                                                       # warm-up
    best = {"wall": float("inf"), "cpu": float("inf")}
    for _ in range(reps):
        with Clock() as c:
            torch.mm(a, b)
        best = {"wall": min(best["wall"], c.wall), "cpu": min(best["cpu"], c.cpu)}
    return {k: 2 * n ** 3 / v for k, v in best.items()}


# ---------------------------------------------------------------------------------- model
def flops_per_sample(net):
    """Analytic FLOPs of one cached step for one path, from the layer shapes, by layer kind."""
    k = net.input.kernel_size[0]
    c_in, r = net.input.in_channels, net.input.out_channels
    s, p = net.post1.in_channels, net.post2.out_channels
    blocks = list(net.blocks)
    parts = {
        f"input conv {k}x{c_in} -> {r}": 2 * k * c_in * r,
        f"{len(blocks)} x dilated conv {k}x{r} -> {2 * r}": 2 * len(blocks) * k * r * 2 * r,
        f"{len(blocks)} x 1x1 out conv {r} -> {r}+{s}": 2 * len(blocks) * r * (r + s),
        f"post conv {s} -> {s}": 2 * s * s,
        f"post conv {s} -> {p}": 2 * s * p,
    }
    if blocks[0].cond is not None:
        kc = blocks[0].cond.in_channels
        parts[f"{len(blocks)} x cond {kc} -> {2 * r}"] = 2 * len(blocks) * kc * 2 * r
    return sum(parts.values()), parts


def load_history(data_dir, length):
    """``length`` real values scaled to [-1, 1], and where they came from."""
    ecg = Path(data_dir) / "sensors" / "mitbih_100.csv.gz"
    if ecg.is_file():
        import pandas as pd
        start = 36000                                   # 100 s into the record
        v = pd.read_csv(ecg, nrows=start + length)["MLII"].to_numpy(float)[start:]
        source = f"MIT-BIH record 100, lead MLII, samples {start}..{start + length - 1} (360 Hz)"
    else:
        print(f"data folder {data_dir} not found: priming with statsmodels weekly CO2 instead")
        from tsargen.datasets import load_co2
        v = load_co2("W").to_numpy(float)[-length:]
        source = f"statsmodels CO2, last {length} weekly values"
    v = v - v.mean()
    return torch.tensor(v / np.abs(v).max(), dtype=torch.float32), source


def build_net(history, seed=0):
    torch.manual_seed(seed)
    net = WaveNet(HEADS, **CONFIG).eval()
    net.heads.fit(history[:, None])                       # mu-law bin edges from the data
    return net


# ---------------------------------------------------------------------------------- timing
def time_naive(net, hist, n_steps):
    with Clock() as c:
        seeded(lambda: generate(net, hist, n_steps, naive=True))
    return c.per(n_steps)


def time_cached(net, hist, b, n_steps, cap):
    """Per-timestep seconds (wall and CPU) of ``b`` paths from one history ``hist (1, C, T0)``:
    steady-state loop, step+commit and sample alone; total seconds of ``init_state`` and of one
    end-to-end ``generate`` call (priming shared by the paths)."""
    out = {}
    paths = torch.zeros(b, dtype=torch.long)
    with Clock() as c:
        seeded(lambda: generate(net, hist, n_steps, paths=paths))
    out["end_to_end"] = c.per(1)
    with Clock() as c:
        state = net.init_state(hist, paths=paths)
    out["init"] = c.per(1)

    def loop(body):
        with Clock() as c:
            t0, i = time.perf_counter(), 0
            while i < n_steps:
                body()
                i += 1
                if time.perf_counter() - t0 > cap:
                    break
        return c.per(i)

    zeros, drawn, heads = hist.new_zeros(b, 1), [], net.heads

    def full_step():                                # the cached loop of generate()
        x_t = heads.sample(net.step(zeros, state))
        net.commit(state, x_t)
        drawn.append(x_t)

    def net_step():
        net.step(zeros, state)
        net.commit(state, zeros)

    raw = net.step(zeros, state)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        out["steady"] = loop(full_step)
        out["step_commit"] = loop(net_step)
        out["sample"] = loop(lambda: heads.sample(raw))
    return out


def sanity_checks(history):
    """Cached and naive samples under the same seed (small model, and the benchmark net)."""
    lines = []
    cases = [("small model (2x4 layers, 16/32 channels, 256-way), 4 paths, 60 steps", 4, 60,
              dict(n_stacks=2, n_layers=4, kernel_size=2, residual_channels=16,
                   skip_channels=32))]
    cases.append(("benchmark model (2x10 layers, 32/64), 2 paths, 4 steps", 2, 4, CONFIG))
    for label, b, n, cfg in cases:
        for dtype in (torch.float32, torch.float64):
            if cfg is CONFIG and dtype == torch.float64:
                continue
            torch.manual_seed(0)
            net = WaveNet(HEADS, **cfg).eval().to(dtype)
            hist = history[None, None, -min(len(history), 3 * net.receptive_field):]
            hist = hist.repeat(b, 1, 1).to(dtype)
            net.heads.fit(history[:, None].to(dtype))
            with torch.inference_mode():
                cached = seeded(lambda: generate(net, hist, n), 5)
                naive = seeded(lambda: generate(net, hist, n, naive=True), 5)
            same = torch.equal(cached, naive)
            lines.append(f"{label}, {str(dtype).replace('torch.', '')}: cached and naive samples "
                         f"{'identical' if same else 'DIFFER'} "
                         f"(max abs difference {(cached - naive).abs().max().item():.1e})")
            with torch.inference_mode():
                shared = seeded(lambda: generate(net, hist[:1], n, paths=torch.zeros(
                    b, dtype=torch.long)), 5)
            same = torch.equal(cached, shared)
            lines.append(f"{label}, {str(dtype).replace('torch.', '')}: priming shared by the "
                         f"{b} paths and primed per path: samples "
                         f"{'identical' if same else 'DIFFER'} "
                         f"(max abs difference {(cached - shared).abs().max().item():.1e})")
    return lines


# ---------------------------------------------------------------------------------- end to end
# What a user's call costs: WaveNetDensity.sample / complete and WaveNetForecaster.predict of
# the same architecture and head, priming included, each point in a fresh process (one thread)
# so that its peak resident memory is its own.
EST_PARAMS = dict(CONFIG, distribution="categorical", quantization="mu_law", n_bins=256,
                  max_epochs=1, batch_size=1, validation_fraction=0.0, random_state=0)


def fit_estimators(series, folder):
    """A density (on two halves of ``series``) and a forecaster (on all of it) of the benchmark's
    architecture, one epoch each (the weights do not affect speed), saved in ``folder``."""
    from tsargen import WaveNetDensity, WaveNetForecaster
    half = len(series) // 2
    files = {"density": Path(folder) / "density.tsargen",
             "forecaster": Path(folder) / "forecaster.tsargen"}
    WaveNetDensity(**EST_PARAMS).fit(np.stack([series[:half], series[half:2 * half]])).save(
        files["density"])
    WaveNetForecaster(**EST_PARAMS).fit(series).save(files["forecaster"])
    return files


def estimator_call(kind, model, series, n_paths, n_steps):
    """One end-to-end call: ``n_paths`` paths of ``n_steps`` timesteps (``complete``: after the
    last receptive-field steps of ``series`` before its final ``n_steps``)."""
    if kind == "sample":
        return model.sample(n_paths, length=n_steps, random_state=0)
    if kind == "predict":
        return model.set_params(n_paths=n_paths, random_state=0).predict(n_steps)
    rf = model.receptive_field_
    window = series[None, len(series) - rf - n_steps:]                     # (1, rf + n_steps)
    return model.complete(window, n_known=rf, n_samples=n_paths, random_state=0)


def child(kind, n_paths, n_steps, model_file, npy):
    """Time one call and print a JSON line with its seconds and memory (in a fresh process)."""
    from tsargen import load
    torch.set_num_threads(1)
    model, series = load(model_file), np.load(npy)
    estimator_call(kind, model, series, 1, 5)          # warm-up: one-time costs of the code path
    gc.collect()
    before = _status_kb("VmRSS")
    reset = _reset_peak()
    with Clock() as c:
        estimator_call(kind, model, series, n_paths, n_steps)
    peak = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"kind": kind, "paths": n_paths, "steps": n_steps, "seconds": c.seconds,
                      "rss_before_kb": before, "rss_peak_kb": peak, "peak_reset": reset}))


def run_end_to_end(files, npy, paths, steps):
    """Every (call, paths) point in its own process; rows with samples/s and memory added."""
    rows = []
    for kind in KINDS:
        model = files["forecaster" if kind == "predict" else "density"]
        for p in paths:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.generation", "--child", kind, str(p),
                 str(steps[kind]), str(model), str(npy)], cwd=HERE.parent, capture_output=True,
                text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False)
            if out.returncode != 0:
                raise RuntimeError(f"{kind} at {p} paths failed:\n{out.stderr[-2000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["sps"] = {k: p * r["steps"] / v for k, v in r["seconds"].items()}
            r["added_mb"] = max(r["rss_peak_kb"] - r["rss_before_kb"], 0) * 1024 / MB
            rows.append(r)
            print(f"end to end {kind} {p} paths x {r['steps']} steps: "
                  f"{r['seconds']['wall']:.2f} s wall / {r['seconds']['cpu']:.2f} s CPU, "
                  f"{r['sps']['cpu']:,.0f} samples/s (CPU), +{r['added_mb']:.0f} MB", flush=True)
    return rows


# ---------------------------------------------------------------------------------- report
def med(values):
    return statistics.median(values)


def summarise(raw, flops, bounds, clock):
    """One row per (threads, paths) from the per-repetition timings, on ``clock``."""
    rows = []
    for (threads, b), reps in raw.items():
        steady = [r["cached"]["steady"][clock] for r in reps]
        naive = [r["naive"][clock] for r in reps if r["naive"] is not None]
        ratios = [n_ / c for n_, c in zip(naive, steady)] or [float("nan")]
        sc = [r["cached"]["step_commit"][clock] for r in reps]
        bound = max(x[clock] for x in bounds[threads])
        row = {
            "clock": clock, "threads": threads, "paths": b, "reps": len(reps),
            "naive_sps": b / med(naive) if naive else float("nan"),
            "cached_sps": b / med(steady),
            "ratio": med(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "e2e_sps": b * reps[0]["n_cached"] / med(
                [r["cached"]["end_to_end"][clock] for r in reps]),
            "init_s": med([r["cached"]["init"][clock] for r in reps]),
            "steady_us": 1e6 * med(steady), "step_commit_us": 1e6 * med(sc),
            "sample_us": 1e6 * med([r["cached"]["sample"][clock] for r in reps]),
            "naive_ms": 1e3 * med(naive) if naive else float("nan"), "bound": bound,
        }
        row["gflops"] = row["cached_sps"] * flops / 1e9
        row["fraction"] = med([b * flops / r["cached"]["steady"][clock] / r["bound"][clock]
                               for r in reps])
        row["fraction_best"] = row["gflops"] * 1e9 / bound
        row["net_gflops"] = b * flops / med(sc) / 1e9
        row["net_fraction"] = med([b * flops / r["cached"]["step_commit"][clock]
                                   / r["bound"][clock] for r in reps])
        row["net_fraction_best"] = row["net_gflops"] * 1e9 / bound
        row["e2e_fraction"] = med([b * r["n_cached"] * flops / r["cached"]["end_to_end"][clock]
                                   / r["bound"][clock] for r in reps])
        row["e2e_steady"] = row["e2e_sps"] / row["cached_sps"]
        row["naive_gflops"] = b * flops * 2048 / med(naive) / 1e9 if naive else float("nan")
        rows.append(row)
    return rows


CLOCKS = {"wall": "wall clock", "cpu": "process CPU time"}


def num(v, spec, suffix=""):
    """``v`` formatted, or a dash where it was not measured (NaN)."""
    return "—" if math.isnan(v) else f"{v:{spec}}{suffix}"


def results_tables(rows):
    L = ["| threads | paths | naive samples/s | cached samples/s (steady) | cached / naive "
         "(median, min-max) | `generate` end to end samples/s (/ steady) | achieved GFLOP/s | "
         "fraction of matmul FLOP/s (same repetition; best of run) |",
         "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        spread = ("" if math.isnan(r["ratio"])
                  else f" ({r['ratio_min']:,.0f}-{r['ratio_max']:,.0f})")
        L.append(f"| {r['threads']} | {r['paths']} | {num(r['naive_sps'], ',.1f')} | "
                 f"{r['cached_sps']:,.0f} | **{num(r['ratio'], ',.0f', 'x')}**{spread} | "
                 f"{r['e2e_sps']:,.0f} ({100 * r['e2e_steady']:.0f}%) | {r['gflops']:.1f} | "
                 f"**{100 * r['fraction']:.0f}%**; {100 * r['fraction_best']:.0f}% |")
    L += ["", "Where the time goes (medians per timestep):", "",
          "| threads | paths | naive step (ms) | cached step total (µs) | `step`+`commit` (µs) "
          "| `heads.sample` (µs) | network-only GFLOP/s (fraction: same rep.; best) | "
          "priming `init_state` (s) | naive GFLOP/s |",
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        L.append(f"| {r['threads']} | {r['paths']} | {num(r['naive_ms'], ',.1f')} | "
                 f"{r['steady_us']:,.0f} | {r['step_commit_us']:,.0f} | {r['sample_us']:,.0f} | "
                 f"{r['net_gflops']:.1f} ({100 * r['net_fraction']:.0f}%; "
                 f"{100 * r['net_fraction_best']:.0f}%) | {r['init_s']:.3f} | "
                 f"{num(r['naive_gflops'], '.1f')} |")
    return L


def target_lines(rows):
    L = []
    for r in rows:
        clock = CLOCKS[r["clock"]]
        if r["paths"] not in NAIVE_PATHS:
            continue
        if r["paths"] == 1:
            ok = r["ratio"] >= TARGET_RATIO
            noise = (" (within run-to-run noise: the repetitions range over "
                     f"{r['ratio_min']:.0f}-{r['ratio_max']:.0f}x)"
                     if r["ratio_min"] < TARGET_RATIO <= r["ratio_max"] else "")
            L.append(f"- {clock}, {r['threads']} thread(s), 1 path: cached / naive = "
                     f"{r['ratio']:.0f}x, target >= {TARGET_RATIO:.0f}x: "
                     f"**{'met' if ok else 'missed'}**{noise}")
        else:
            ok = r["fraction"] >= TARGET_FRACTION
            L.append(f"- {clock}, {r['threads']} thread(s), {r['paths']} paths: "
                     f"{100 * r['fraction']:.0f}% of the matmul FLOP/s measured in the same "
                     f"repetition ({100 * r['fraction_best']:.0f}% of the run's best; network "
                     f"alone {100 * r['net_fraction']:.0f}% / "
                     f"{100 * r['net_fraction_best']:.0f}%), target >= "
                     f"{100 * TARGET_FRACTION:.0f}%: **{'met' if ok else 'missed'}**")
    return L


def steady_row(rows, paths):
    """The one-thread steady-state row (process CPU time) at ``paths``, or None."""
    return next((r for r in rows["cpu"] if r["threads"] == 1 and r["paths"] == paths), None)


def e2e_lines(e2e, rows, flops, bounds):
    """The end-to-end table: each call next to the steady state at its path count."""
    bound = med([b["cpu"] for b in bounds.get(1, [])]) if bounds.get(1) else float("nan")
    L = ["| call | paths | timesteps | seconds (wall / CPU) | samples/s (wall / CPU) | "
         "/ steady state at these paths (CPU) | fraction of matmul FLOP/s (CPU) | peak memory "
         "added (MB) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in e2e:
        st = steady_row(rows, r["paths"])
        rel = r["sps"]["cpu"] / st["cached_sps"] if st else float("nan")
        r["steady_ratio"], r["fraction"] = rel, r["sps"]["cpu"] * flops / bound
        L.append(f"| `{r['kind']}` | {r['paths']} | {r['steps']} | "
                 f"{r['seconds']['wall']:.2f} / {r['seconds']['cpu']:.2f} | "
                 f"{r['sps']['wall']:,.0f} / {r['sps']['cpu']:,.0f} | {num(100 * rel, '.0f', '%')}"
                 f" | {100 * r['fraction']:.0f}% | {r['added_mb']:,.0f} |")
    return L


def e2e_target_lines(e2e, rows):
    """End-to-end targets: 100 paths against the steady state and the matmul bound; 1 path
    against naive and the peer reference; the memory of 1000 samples."""
    L = []
    st100 = [r for r in rows["cpu"] if r["threads"] == 1 and r["paths"] == 100]
    for r in st100:            # the network's generate call, 100 paths x n_cached_batch steps
        ok = r["e2e_steady"] >= TARGET_E2E_STEADY and r["e2e_fraction"] >= TARGET_FRACTION
        L.append(f"- `generate` end to end, 100 paths (CPU time): {100 * r['e2e_steady']:.0f}% "
                 f"of the steady state and {100 * r['e2e_fraction']:.0f}% of the matmul FLOP/s "
                 f"(targets >= {100 * TARGET_E2E_STEADY:.0f}% and >= "
                 f"{100 * TARGET_FRACTION:.0f}%): **{'met' if ok else 'missed'}**")
    for r in e2e:
        if r["paths"] == 100 and r["kind"] in ("predict", "complete"):
            ok = r["steady_ratio"] >= TARGET_E2E_STEADY and r["fraction"] >= TARGET_FRACTION
            L.append(f"- `{r['kind']}` end to end, 100 paths x {r['steps']} steps (CPU time): "
                     f"{100 * r['steady_ratio']:.0f}% of the steady state and "
                     f"{100 * r['fraction']:.0f}% of the matmul FLOP/s (targets >= "
                     f"{100 * TARGET_E2E_STEADY:.0f}% and >= {100 * TARGET_FRACTION:.0f}%): "
                     f"**{'met' if ok else 'missed'}**")
    naive = steady_row(rows, 1)
    for r in e2e:
        if r["paths"] == 1 and naive is not None:
            ratio, peer = r["sps"]["cpu"] / naive["naive_sps"], r["sps"]["cpu"] / PEER_SPS
            ok = ratio >= TARGET_RATIO and peer >= TARGET_PEER
            L.append(f"- `{r['kind']}` end to end, 1 path (CPU time): {r['sps']['cpu']:,.0f} "
                     f"samples/s, {ratio:.0f}x the naive recompute and {peer:.1f}x the peer "
                     f"reference measured earlier on this machine kind ({PEER_SPS:.0f} samples/s)"
                     f" (targets >= {TARGET_RATIO:.0f}x and >= {TARGET_PEER:.0f}x): "
                     f"**{'met' if ok else 'missed'}**")
    for r in e2e:
        if r["kind"] == "sample" and r["paths"] == 1000:
            ok = r["added_mb"] < TARGET_MEMORY_MB
            L.append(f"- `sample(1000, length={r['steps']})`: peak memory added "
                     f"{r['added_mb']:,.0f} MB (target < {TARGET_MEMORY_MB:,.0f} MB): "
                     f"**{'met' if ok else 'missed'}**")
    return L


def write_markdown(path, info, args, cfg, flops, parts, rows, bounds, checks, source, wall,
                   e2e):
    L = []
    L.append("# WaveNet generation: cached sampling vs the naive algorithm\n")
    L.append(f"Written by `python -m benchmarks.generation{' --quick' if args.quick else ''}` "
             f"on {info['date']} (wall time {wall / 60:.1f} min).\n")
    L += machine_lines(info, args, bounds)
    L += config_lines(args, cfg, flops, parts, source)
    for clock, title in CLOCKS.items():
        L.append(f"\n## Results, {title}\n")
        L += results_tables(rows[clock])
    L.append("\n- *steady state*: samples/s of the per-timestep loop after priming; the cached / "
             "naive ratio is the median of the per-repetition ratios. *achieved GFLOP/s* = "
             "steady-state samples/s x FLOPs per sample; *network-only* uses the `step`+`commit` "
             "time alone (no sampling). Naive GFLOP/s counts the 2048-step forward it runs per "
             "sample at the same per-timestep FLOPs.")
    L.append("- *`generate` end to end* = one `generate(net, history, n, paths=...)` call, "
             "including priming the queues from the 2047-step history once and copying them to "
             "every path (the *priming* column: `init_state` with the same paths); in brackets, "
             "its rate as a fraction of the steady state.")
    L.append("\n## End to end through the estimators\n")
    L += [f"- `WaveNetDensity` and `WaveNetForecaster` with the same architecture and head "
          f"(`{json.dumps(EST_PARAMS)}`), fitted for one epoch on {source} (the weights do "
          "not affect speed) and saved; each point below loads them in a fresh Python process "
          "with one torch thread, makes one warm-up call (1 path, 5 steps: one-time costs "
          "of the code path), then times one call:",
          f"  - `sample`: `density.sample(paths, length={args.e2e_steps['sample']})` (no "
          "history: the receptive field of missing values is primed once);",
          f"  - `predict`: `forecaster.set_params(n_paths=paths).predict("
          f"{args.e2e_steps['predict']})` (paths from the fitted series' last 2047 values, "
          "their median returned);",
          f"  - `complete`: `density.complete(x, n_known=2047, n_samples=paths)` on one "
          f"series of 2047 + {args.e2e_steps['complete']} values;",
          "- samples/s = paths x timesteps / seconds of the call, by wall clock and by process "
          "CPU time; *steady state* is the one-thread CPU-time row of the tables above at the "
          "same number of paths (same run); the FLOP fraction uses the median matmul FLOP/s "
          "of the run;",
          "- *peak memory added*: the process' peak resident memory during the call "
          "(`VmHWM` after resetting it through `/proc/self/clear_refs`; `ru_maxrss` where "
          "refused) minus its resident memory just before, so torch's allocations count, "
          "not only Python's.", ""]
    L += e2e_lines(e2e, rows, flops, bounds)
    L.append("\n## Targets\n")
    for clock in CLOCKS:
        L += target_lines(rows[clock])
    L += e2e_target_lines(e2e, rows)
    L.append("\n## Sanity check (same seed, `torch.random.fork_rng`)\n")
    L += [f"- {c}" for c in checks]
    L.append("\n## Notes\n")
    notes = bullets(NOTES, "Notes for every run")
    if args.threads == [1]:
        notes += bullets(NOTES, "Notes for one-thread runs")
    L += [f"- {note}" for note in notes]
    L.append("\nRaw per-repetition timings: `" + path.with_suffix(".json").name + "`.")
    path.write_text("\n".join(L) + "\n")


def machine_lines(info, args, bounds):
    la, lb = info["load_avg_start"], info["load_avg_end"]
    L = ["## Machine\n",
         f"- CPU: {info['cpu']}, {info['cores']} cores available; torch {info['torch']} "
         f"(CPU capability {info['cpu_capability']}, default {info['default_threads']} "
         f"intra-op threads); Python {info['python']}",
         f"- Thread counts measured: {', '.join(map(str, args.threads))} "
         "(`torch.set_num_threads`)",
         f"- Load average at start {la[0]:.1f} / {la[1]:.1f} / {la[2]:.1f}, at end "
         f"{lb[0]:.1f} / {lb[1]:.1f} / {lb[2]:.1f} (1/5/15 min) on {info['cores']} cores: "
         "above ~0, other jobs were sharing the cores, so wall-clock rates are pessimistic "
         "and noisy. Hence every number is given both by wall clock and by process CPU "
         "time (the time this process actually ran), and ratios come from interleaved "
         "repetitions."]
    for t in args.threads:
        for clock in CLOCKS:
            bb = [x[clock] for x in bounds[t]]
            L.append(f"- Measured matmul FLOP/s, {t} thread(s), {CLOCKS[clock]}: best "
                     f"{max(bb) / 1e9:.1f} GFLOP/s, median {med(bb) / 1e9:.1f} (float32 "
                     f"`torch.mm` {args.mm_size}x{args.mm_size}, best of 3 calls, measured "
                     f"{len(bb)} times, once per repetition)")
    return L


def config_lines(args, cfg, flops, parts, source):
    L = ["\n## Configuration\n",
         f"- `WaveNet(heads, n_stacks=2, n_layers=10, kernel_size=2, residual_channels=32, "
         f"skip_channels=64)`, heads `{json.dumps(HEADS)}`; receptive field {cfg['rf']}; "
         f"{cfg['params']:,} parameters; random initial weights (seed 0), float32, CPU",
         f"- History: {cfg['t0']} steps of {source}, scaled to [-1, 1]; the head's mu-law "
         "bins are fitted on it; the same history for every path",
         f"- Naive: `generate(net, history, n, naive=True)`, n = {args.n_naive} timesteps at "
         f"1 path and {args.n_naive_batch} at 100 paths per repetition (not run at 10 and "
         "1000 paths)",
         f"- Cached: `generate(net, history, n, paths=torch.zeros(paths, dtype=torch.long))` "
         f"(the history primed once, for all paths) with n = {args.n_cached} timesteps at 1 "
         f"path and {args.n_cached_batch} at more paths per repetition (end to end); steady "
         "state = the same loop (`step`, `heads.sample`, `commit`) timed after `init_state` "
         f"over as many steps (each loop capped at {args.cap:.0f} s); `step`+`commit` and "
         "`heads.sample` timed alone the same way",
         f"- Repetitions: {args.reps} at 1 path, {args.reps_batch} at more paths; in each: "
         "matmul FLOP/s, then per path count naive then cached; medians reported; everything "
         "under `torch.inference_mode()`",
         f"- FLOPs per sample (one cached step, one path), counted from layer shapes as "
         f"2·B·n·m per (B, n) @ (n, m) matmul, all conv taps counted (masked or not), "
         f"elementwise work and sampling not counted: **{flops:,}**"]
    return L + [f"  - {name}: {v:,}" for name, v in parts.items()]


def plot(path, rows, args, e2e):
    plt = pyplot()
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(18, 4.4))
    steady = sorted((r for r in rows["cpu"] if r["threads"] == 1), key=lambda r: r["paths"])
    ax3.plot([r["paths"] for r in steady], [r["cached_sps"] for r in steady], "k-o",
             label="steady state (step loop after priming)")
    ax3.plot([r["paths"] for r in steady], [r["e2e_sps"] for r in steady], "k--s",
             label="`generate` end to end")
    for i, kind in enumerate(KINDS):
        pts = [r for r in e2e if r["kind"] == kind]
        ax3.plot([r["paths"] for r in pts], [r["sps"]["cpu"] for r in pts], "-^",
                 color=f"C{i + 4}", label=f"{kind} end to end")
    ax3.axhline(PEER_SPS, color="grey", lw=1, ls=":", label="peer reference, 1 path")
    ax3.set_xscale("log")
    ax3.set_yscale("log")
    ax3.set_xlabel("paths")
    ax3.set_ylabel("samples / s (process CPU time)")
    ax3.set_title("End to end vs steady state, 1 thread")
    ax3.legend(fontsize=7)
    rows = {k: [r for r in v if r["paths"] in NAIVE_PATHS] for k, v in rows.items()}
    wall, cpu = rows["wall"], rows["cpu"]
    labels = [f"{r['paths']} path{'s' if r['paths'] > 1 else ''}, {r['threads']} thr"
              for r in wall]
    x = np.arange(len(wall))
    w = 0.2
    for i, (rs, name, hatch) in enumerate([(wall, "wall", None), (cpu, "CPU time", "//")]):
        ax1.bar(x - 1.5 * w + i * w, [r["naive_sps"] for r in rs], w, color="C0", hatch=hatch,
                label=f"naive ({name})")
        ax1.bar(x + 0.5 * w + i * w, [r["cached_sps"] for r in rs], w, color="C1",
                hatch=hatch, label=f"cached ({name})")
    for xi, r, rc in zip(x, wall, cpu):
        ax1.text(xi + w, max(r["cached_sps"], rc["cached_sps"]) * 1.15,
                 f"{r['ratio']:.0f}x wall, {rc['ratio']:.0f}x CPU", ha="center", va="bottom",
                 fontsize=8)
    ax1.set_yscale("log")
    ax1.set_ylim(top=ax1.get_ylim()[1] * 3)
    ax1.set_xticks(x, labels)
    ax1.set_ylabel("samples / s")
    ax1.set_title("WaveNet (receptive field 2047, 256-way categorical)")
    ax1.legend(fontsize=7)
    for i, (rs, name, hatch) in enumerate([(wall, "wall", None), (cpu, "CPU time", "//")]):
        ax2.bar(x - 1.5 * w + i * w, [100 * r["fraction"] for r in rs], w, color="C2",
                hatch=hatch, label=f"generation with sampling ({name})")
        ax2.bar(x + 0.5 * w + i * w, [100 * r["net_fraction"] for r in rs], w, color="C3",
                hatch=hatch, label=f"network step only ({name})")
    ax2.axhline(100 * TARGET_FRACTION, color="k", ls="--", lw=1, label="target at 100 paths")
    ax2.set_xticks(x, labels)
    ax2.set_ylabel("% of matmul FLOP/s (same repetition)")
    ax2.set_title("Cached generation FLOP efficiency")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


# ---------------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fast smoke run")
    p.add_argument("--threads", default="1",
                   help="comma-separated torch thread counts, e.g. 1,2 (default: 1)")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    p.add_argument("--child", nargs=5, metavar=("CALL", "PATHS", "STEPS", "MODEL", "NPY"),
                   help=argparse.SUPPRESS)                   # one end-to-end point (internal)
    output_args(p)
    args = p.parse_args(argv)
    args.threads = [int(t) for t in args.threads.split(",")]
    if args.quick:
        args.reps, args.reps_batch, args.n_naive, args.n_naive_batch = 2, 1, 3, 1
        args.n_cached, args.n_cached_batch, args.cap, args.mm_size = 100, 50, 5.0, 1024
        args.e2e_paths, args.e2e_steps = (1, 10), {k: v // 10 for k, v in E2E_STEPS.items()}
    else:
        args.reps, args.reps_batch, args.n_naive, args.n_naive_batch = 5, 3, 10, 2
        args.n_cached, args.n_cached_batch, args.cap, args.mm_size = 1000, 500, 20.0, 2048
        args.e2e_paths, args.e2e_steps = PATHS, dict(E2E_STEPS)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        kind, n_paths, n_steps, model, npy = args.child
        return child(kind, int(n_paths), int(n_steps), model, npy)
    wall = time.perf_counter()
    info = dict(machine_info(), default_threads=torch.get_num_threads())
    history, source = load_history(args.data_dir, 2047)
    net = build_net(history)
    flops, parts = flops_per_sample(net)
    cfg = {"rf": net.receptive_field, "t0": len(history),
           "params": sum(p.numel() for p in net.parameters())}
    assert cfg["rf"] == 2047, cfg
    print(f"receptive field {cfg['rf']}, {flops:,} FLOPs per sample; threads {args.threads}")

    checks = sanity_checks(history)
    for c in checks:
        print(c)

    raw = {(t, b): [] for t in args.threads for b in PATHS}
    bounds = {t: [] for t in args.threads}
    with torch.inference_mode():
        for rep in range(max(args.reps, args.reps_batch)):
            for t in args.threads:
                torch.set_num_threads(t)
                bounds[t].append(matmul_flops(args.mm_size, 3))
                for b in PATHS:
                    if rep >= (args.reps if b == 1 else args.reps_batch):
                        continue
                    hist = history[None, None]
                    n_naive = args.n_naive if b == 1 else args.n_naive_batch
                    n_cached = args.n_cached if b == 1 else args.n_cached_batch
                    naive = (time_naive(net, hist.repeat(b, 1, 1), n_naive)
                             if b in NAIVE_PATHS else None)
                    cached = time_cached(net, hist, b, n_cached, args.cap)
                    raw[(t, b)].append({"naive": naive, "cached": cached, "n_naive": n_naive,
                                        "n_cached": n_cached, "bound": bounds[t][-1]})
                    vs = "" if naive is None else (
                        f"naive {1e3 * naive['wall']:.1f} / {1e3 * naive['cpu']:.1f} ms/step, "
                        f"ratio {naive['cpu'] / cached['steady']['cpu']:.0f}x (cpu), ")
                    print(f"rep {rep} threads {t} paths {b} (wall / cpu): {vs}"
                          f"cached {1e6 * cached['steady']['wall']:.0f} / "
                          f"{1e6 * cached['steady']['cpu']:.0f} us/step (step+commit "
                          f"{1e6 * cached['step_commit']['cpu']:.0f}, sample "
                          f"{1e6 * cached['sample']['cpu']:.0f} cpu), end to end "
                          f"{cached['end_to_end']['cpu']:.2f} s cpu", flush=True)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        series, _ = load_history(args.data_dir, 6000)
        npy = Path(tmp) / "series.npy"
        np.save(npy, series.double().numpy())
        e2e = run_end_to_end(fit_estimators(series.double().numpy(), tmp), npy,
                             args.e2e_paths, args.e2e_steps)
    info["load_avg_end"] = os.getloadavg()
    rows = {clock: summarise(raw, flops, bounds, clock) for clock in CLOCKS}
    wall = time.perf_counter() - wall

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "generation_quick" if args.quick else "generation"
    md = out / f"{stem}.md"
    write_markdown(md, info, args, cfg, flops, parts, rows, bounds, checks, source, wall, e2e)
    write_json(md.with_suffix(".json"), {
        "machine": info, "flops_per_sample": flops, "matmul_flops": bounds, "rows": rows,
        "raw": [{"threads": t, "paths": b, "reps": reps} for (t, b), reps in raw.items()],
        "end_to_end": e2e, "sanity": checks}, default=str)
    plot(md.with_suffix(".png"), rows, args, e2e)
    print(md.read_text())


if __name__ == "__main__":
    main()
