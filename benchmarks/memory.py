"""Peak memory of ``WaveNetForecaster.fit`` on long series: training windows are never built.

What it measures
----------------
On a real long series -- the MIT-BIH ECG record 100 (``sensors/mitbih_100.csv.gz``, 360 Hz,
leads MLII and V5 of 650 000 samples each, concatenated into one series of up to 1 300 000
steps and cut to ``n_steps``) -- it fits ``WaveNetForecaster(n_layers=8, residual_channels=16,
skip_channels=32, batch_size=32, max_epochs=1, random_state=0)`` (receptive field 256, windows
of 256 context + 256 target steps) for ``n_steps`` in 10^4, 10^5 and 10^6.

Each fit runs in a fresh Python process that first imports everything and loads the series
from a ``.npy`` file (no parsing peak), then records

* **RSS peak delta**: the process' peak resident memory during ``fit`` minus its resident memory
  just before (Linux ``VmHWM`` after resetting it through ``/proc/self/clear_refs``; where that is
  refused, ``ru_maxrss`` minus the resident size before the fit);
* **tracemalloc peak**: the peak of Python/numpy allocations during ``fit`` (torch tensors are
  not traced; the RSS figure covers them).

Both are compared with the size of the input series (float64, ``8 * n_steps`` bytes) and with
the size of the training windows if they were materialised: all sliding windows at stride 1,
``(n_train - 512 + 1) * 512 * 4`` bytes in float32, which is what building a windowed dataset
up front costs. Target (from the issue): the peak stays within a few multiples of the data size.

Run
---
From the repository root::

    python -m benchmarks.memory            # full run, a few minutes
    python -m benchmarks.memory --quick    # 10^4 and 10^5 steps, under a minute

Options: ``--data-dir PATH`` (default ``../shared/data`` beside the repository, or
``$TSARGEN_DATA``), ``--out DIR`` (default ``benchmarks/results``), ``--sizes N [N ...]``.
Writes ``memory.md``, ``memory.json`` and ``memory.png`` (``memory_quick.*`` with ``--quick``).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.report import md_table, output_args, write_json

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = Path(os.environ.get("TSARGEN_DATA", HERE.parents[1] / "shared" / "data"))
PARAMS = dict(n_layers=8, residual_channels=16, skip_channels=32, batch_size=32, max_epochs=1,
              random_state=0)
MB = 2 ** 20


def log(msg):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


# ---------------------------------------------------------------------------- child process
def _status_kb(field):
    """A ``/proc/self/status`` figure in kB (``VmRSS``: resident now, ``VmHWM``: its peak);
    ``ru_maxrss`` where the field is missing."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak():
    """Reset the kernel's peak-RSS counter (Linux); False when refused."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def child(npy, n_steps):
    """Fit once and print a JSON line with the memory figures (run in a fresh process)."""
    import gc
    import tracemalloc

    import torch

    from tsargen import WaveNetForecaster

    torch.set_num_threads(1)
    y = np.load(npy)[:n_steps]
    # warm up torch's allocator and the code paths on a tiny fit, so the measured fit pays
    # only for its data
    WaveNetForecaster(**{**PARAMS, "n_layers": 2}).fit(y[:2000])
    gc.collect()
    before = _status_kb("VmRSS")
    reset = _reset_peak()
    tracemalloc.start()
    start = time.perf_counter()
    f = WaveNetForecaster(**PARAMS).fit(y)
    seconds = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    window = f.receptive_field_ + f._n_targets([int(0.9 * n_steps)])
    print(json.dumps({"n_steps": int(n_steps), "rss_before_kb": before, "rss_peak_kb": peak,
                      "peak_reset": reset, "traced_peak_bytes": traced_peak,
                      "fit_seconds": seconds, "receptive_field": f.receptive_field_,
                      "window": window, "n_train": int(n_steps - int(np.ceil(0.1 * n_steps))),
                      "epochs": f.n_iter_}))


# ---------------------------------------------------------------------------- parent
def load_series(data_dir):
    import pandas as pd

    path = Path(data_dir) / "sensors" / "mitbih_100.csv.gz"
    if not path.is_file():
        raise SystemExit(f"{path} not found: pass --data-dir (the shared data folder)")
    df = pd.read_csv(path)
    cols = [c for c in df.columns if c != df.columns[0]]
    return np.concatenate([df[c].to_numpy(dtype=np.float64) for c in cols])


def run_one(npy, n):
    out = subprocess.run([sys.executable, "-m", "benchmarks.memory", "--child", str(npy),
                          str(n)], cwd=HERE.parent, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    if out.returncode != 0:
        raise RuntimeError(f"child for n={n} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarise(r):
    data = 8 * r["n_steps"]
    delta = max(r["rss_peak_kb"] - r["rss_before_kb"], 0) * 1024
    windows = max(r["n_train"] - r["window"] + 1, 0) * r["window"] * 4
    return {**r, "data_bytes": data, "rss_delta_bytes": delta,
            "materialised_bytes": windows, "delta_over_data": delta / data,
            "traced_over_data": r["traced_peak_bytes"] / data,
            "materialised_over_delta": windows / max(delta, 1)}


def add_growth(rows):
    """Growth of the RSS delta over the smallest size: what the fit pays per extra step (the
    smallest fit's delta is the per-batch working set -- activations, gradients, optimiser --
    which does not depend on n)."""
    base = rows[0]
    for r in rows:
        extra_data = r["data_bytes"] - base["data_bytes"]
        r["growth_bytes"] = r["rss_delta_bytes"] - base["rss_delta_bytes"]
        r["growth_over_data"] = r["growth_bytes"] / extra_data if extra_data else None
    return rows


def write(rows, args, stem):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "params": PARAMS, "data": "MIT-BIH record 100, MLII then V5 (360 Hz)",
            "date": datetime.datetime.now().isoformat(timespec="seconds")}
    write_json(out / f"{stem}.json", {"meta": meta, "rows": rows}, indent=2)
    (out / f"{stem}.md").write_text("\n".join(report_lines(rows, meta, args.quick)))
    try:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        log("matplotlib missing: no plot")
        return
    plot(rows, Figure(figsize=(6, 4), layout="constrained"), out / f"{stem}.png")


def report_lines(rows, meta, quick):
    lines = [
        "# Peak memory of WaveNetForecaster.fit on long series",
        "",
        f"Written by `python -m benchmarks.memory{' --quick' if quick else ''}` on "
        f"{meta['date']}. Series: {meta['data']}, cut to n steps. Model: "
        f"`WaveNetForecaster({', '.join(f'{k}={v}' for k, v in PARAMS.items())})` "
        f"(receptive field {rows[0]['receptive_field']}, windows of {rows[0]['window']} steps); "
        "each fit in a fresh process after a warm-up fit. RSS delta = peak resident memory "
        "during fit minus resident memory before it"
        + ("" if all(r["peak_reset"] for r in rows) else " (ru_maxrss: peak reset refused)")
        + ". Materialised windows = all stride-1 training windows in float32.",
        "",
    ]
    lines += md_table(["n steps", "data (float64) MB", "RSS peak delta MB", "delta / data",
                       f"growth over {rows[0]['n_steps']:,} steps MB", "growth / extra data",
                       "tracemalloc peak MB", "materialised windows MB",
                       "materialised / delta", "fit s"], align="r" * 10)
    for r in rows:
        growth = "-" if r["growth_over_data"] is None else f"{r['growth_over_data']:.2f}"
        lines.append(f"| {r['n_steps']:,} | {r['data_bytes'] / MB:.1f} | "
                     f"{r['rss_delta_bytes'] / MB:.1f} | {r['delta_over_data']:.2f} | "
                     f"{r['growth_bytes'] / MB:.1f} | {growth} | "
                     f"{r['traced_peak_bytes'] / MB:.1f} | {r['materialised_bytes'] / MB:,.0f} | "
                     f"{r['materialised_over_delta']:.1f}x | {r['fit_seconds']:.1f} |")
    big = rows[-1]
    return lines + ["", f"At {big['n_steps']:,} steps the fit's peak resident memory rises "
                    f"{big['rss_delta_bytes'] / MB:.0f} MB above its starting point "
                    f"({big['delta_over_data']:.1f}x the float64 series), of which "
                    f"{rows[0]['rss_delta_bytes'] / MB:.0f} MB is already needed at "
                    f"{rows[0]['n_steps']:,} steps (one batch's activations, gradients and "
                    "optimiser state: independent of n); the part that grows with n is "
                    + ("-" if big["growth_over_data"] is None else
                       f"{big['growth_over_data']:.1f}x the extra data")
                    + " (input checks' float64 copy, the scaled float32 copy kept by SeriesBank, "
                    "the training values the heads are fitted on). Materialising the stride-1 "
                    f"training windows would need {big['materialised_bytes'] / MB:,.0f} MB "
                    f"({big['materialised_over_delta']:.0f}x the measured delta).", ""]


def plot(rows, fig, path):
    ax = fig.subplots()
    n = [r["n_steps"] for r in rows]
    ax.loglog(n, [r["rss_delta_bytes"] / MB for r in rows], "o-", label="fit: RSS peak delta")
    ax.loglog(n, [r["traced_peak_bytes"] / MB for r in rows], "s-",
              label="fit: tracemalloc peak")
    ax.loglog(n, [r["data_bytes"] / MB for r in rows], "k--", label="series (float64)")
    ax.loglog(n, [max(r["materialised_bytes"], 1) / MB for r in rows], "r:",
              label="materialised windows")
    ax.set_xlabel("series length (steps)")
    ax.set_ylabel("MB")
    ax.set_title("WaveNetForecaster.fit memory")
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="10^4 and 10^5 steps only")
    p.add_argument("--sizes", type=int, nargs="+")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    output_args(p)
    p.add_argument("--child", nargs=2, metavar=("NPY", "N"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
    log("loading the ECG series")
    series = load_series(args.data_dir)
    if max(sizes) > len(series):
        raise SystemExit(f"the series has {len(series)} steps; largest size {max(sizes)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        npy = Path(tmp) / "series.npy"
        np.save(npy, series[:max(sizes)])
        for n in sizes:
            log(f"fit on {n:,} steps")
            rows.append(summarise(run_one(npy, n)))
            r = rows[-1]
            log(f"  RSS delta {r['rss_delta_bytes'] / MB:.1f} MB ({r['delta_over_data']:.2f}x "
                f"data), traced {r['traced_peak_bytes'] / MB:.1f} MB, materialised windows "
                f"would be {r['materialised_bytes'] / MB:,.0f} MB, {r['fit_seconds']:.1f} s")
    write(add_growth(rows), args, "memory_quick" if args.quick else "memory")
    log("done")


if __name__ == "__main__":
    main()
