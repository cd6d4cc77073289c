"""Cached generation steps, eager against ``torch.compile``: steps/s, compile time, equal output.

What it measures
----------------
One cached generation step of each network, on one torch thread, under
``torch.inference_mode()``:

* **WaveNet**: ``WaveNet.step`` on a state from ``init_state`` primed with 2047 values, followed
  by ``commit`` (eager in both columns: it only moves indices), at 1 and 100 paths. The
  architecture of ``benchmarks/generation.py`` (receptive field 2047, 2 stacks x 10 layers, 32
  residual / 64 skip channels, 256-way categorical head; random weights).
* **PixelCNN** and **Gated PixelCNN**: the cached stepper's network at one pixel
  (``_output(_hidden(j))``: every layer at that pixel and the output convs; the sampling, 4 ops,
  is left out) at batch 1 and 64, on the 28x28 one-channel mnist architectures of
  ``benchmarks/images.py`` (PixelCNN 6 blocks of 32 channels, Gated PixelCNN 5 layers of 16;
  2 levels). The column ``j`` is fixed (the stepper picks its buffers' views by column, so a
  compiled step is specialised to one column: 28 graphs for a whole row).

*Eager*: the function as tsargen runs it. *Compiled*: ``torch.compile(fn, mode=...)`` (inductor,
which writes and builds C++ on the CPU), called on the same state. *Compile s*: the first call
(trace, compile, run) minus one eager call, with inductor's on-disk caches off (a cold compile).
Steps/s: the best of 3 timed loops of ``n`` calls after a warm-up. *Equal*: the compiled step's
outputs (20 WaveNet steps from a fresh state; the pixel's logits) against eager's from identical
states, bit for bit, and the largest absolute difference. ``torch.compiler.reset()`` runs before
each compile; the table also gives the graphs dynamo captured (and their op count) and its graph
breaks (where it fell back to Python).

``torch.jit.trace`` does not apply as is: these steps read and write buffers that are not
arguments, so a trace records them as constants. Traced that way (probe, not in this module), a
pixel step "ran" at 355,000 steps/s, 43x eager, and a WaveNet step at 8x eager with different
outputs: signs that the traced graph no longer does the step's work on the live buffers. A
correct trace needs the step rewritten as a function of all its state. ``mode="reduce-overhead"``
means CUDA graphs, which do not exist on the CPU.

Run
---
From the repository root::

    python -m benchmarks.compile            # full run (compiles take minutes on a busy machine)
    python -m benchmarks.compile --quick    # smoke run: small networks, default mode only

Options: ``--render JSON`` (only rewrite the report and the plot), ``--modes
default,max-autotune-no-cudagraphs`` (the ``torch.compile`` modes to measure;
default ``default``), ``--cases wavenet,pixelcnn,gated_pixelcnn`` (default all), ``--out DIR``.
Writes ``compile.md``, ``compile.json`` and ``compile.png`` (``compile_quick.*`` with
``--quick``).
"""

import argparse
import os
import shutil
import subprocess
import time
from pathlib import Path

import torch
import torch._inductor.config
from torch._dynamo.utils import counters

from benchmarks import git_state, machine_info
from benchmarks.report import (md_table, output_args, pyplot, render_json, save_figure,
                               write_json)
from tsargen.networks import GatedPixelCNN, PixelCNN, WaveNet

WAVENET = dict(n_stacks=2, n_layers=10, kernel_size=2, residual_channels=32, skip_channels=64)
WAVENET_HEADS = [{"name": "categorical", "kwargs": {"n_bins": 256, "quantization": "mu_law"},
                  "channels": [0]}]
PIXEL = {"pixelcnn": (PixelCNN, dict(n_layers=6, hidden_channels=32)),
         "gated_pixelcnn": (GatedPixelCNN, dict(n_layers=5, hidden_channels=16))}
LABELS = {"wavenet": "WaveNet step + commit", "pixelcnn": "PixelCNN pixel",
          "gated_pixelcnn": "Gated PixelCNN pixel"}
BATCHES = {"wavenet": (1, 100), "pixelcnn": (1, 64), "gated_pixelcnn": (1, 64)}
FULL = dict(history=2047, size=28, calls={1: 400, 100: 100, 64: 200}, wavenet=WAVENET,
            pixel_width=None)
QUICK = dict(history=63, size=8, calls={1: 50, 100: 20, 64: 20},
             wavenet=dict(n_stacks=1, n_layers=6, kernel_size=2, residual_channels=8,
                          skip_channels=16), pixel_width=dict(n_layers=2, hidden_channels=8))


def compiler():
    """The C++ compiler inductor would use (``$CXX`` or the first of g++, c++, clang++) and its
    version line, or None."""
    for name in [os.environ.get("CXX"), "g++", "c++", "clang++"]:
        path = name and shutil.which(name)
        if path:
            out = subprocess.run([path, "--version"], capture_output=True, text=True)
            return f"{path}: {out.stdout.splitlines()[0] if out.stdout else '?'}"
    return None


def best_rate(fn, calls, repeats=3):
    """Calls per second: the best of ``repeats`` loops of ``calls`` calls."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - t0)
    return calls / best


# ----------------------------------------------------------------------------------- cases
def wavenet_case(batch, settings):
    """``(make, run)``: ``make()`` a fresh primed state, ``run(step, state)`` one step + commit
    returning the raw output."""
    torch.manual_seed(0)
    net = WaveNet(WAVENET_HEADS, **settings["wavenet"]).eval()
    history = torch.linspace(-1, 1, settings["history"]).sin().expand(batch, 1, -1).contiguous()
    x_t = torch.zeros(batch, 1)

    def make():
        return net.init_state(history)

    def run(step, state):
        raw = step(x_t, state)
        net.commit(state, x_t)
        return raw

    return make, run, net.step


def pixel_case(key, batch, settings):
    cls, arch = PIXEL[key]
    torch.manual_seed(0)
    net = cls(n_channels=1, n_levels=2, **(settings["pixel_width"] or arch)).eval()
    size = settings["size"]
    x = torch.zeros(batch, 1, size, size)
    j = size // 2

    def make():
        stepper = net.stepper(x, 0)
        stepper.begin_row(0)
        return stepper

    def run(step, stepper):
        return step(stepper, j)

    def step(stepper, col):
        return stepper._output(stepper._hidden(col))

    return make, run, step


def measure(key, batch, mode, settings, log):
    """Eager and compiled rates, compile seconds and equality of one case."""
    calls = settings["calls"][batch]
    with torch.inference_mode():
        make, run, step = (wavenet_case(batch, settings) if key == "wavenet"
                           else pixel_case(key, batch, settings))
        state = make()
        run(step, state)                                                # warm-up
        t0 = time.perf_counter()
        run(step, state)
        one_eager = time.perf_counter() - t0
        eager = best_rate(lambda: run(step, state), calls)
        # reference outputs from a fresh state (WaveNet: a sequence of steps)
        n_check = 20 if key == "wavenet" else 1
        ref_state = make()
        ref = [run(step, ref_state).clone() for _ in range(n_check)]
        torch.compiler.reset()
        counters.clear()
        compiled = torch.compile(step, mode=None if mode == "default" else mode)
        cstate = make()
        t0 = time.perf_counter()
        outs = [run(compiled, cstate).clone()]
        compile_s = time.perf_counter() - t0 - one_eager
        outs += [run(compiled, cstate).clone() for _ in range(n_check - 1)]
        equal = all(torch.equal(a, b) for a, b in zip(outs, ref))
        diff = max((a - b).abs().max().item() for a, b in zip(outs, ref))
        rate = best_rate(lambda: run(compiled, cstate), calls)
    # what dynamo made of it: graphs compiled, and why it fell back to Python (graph breaks)
    breaks = [reason.splitlines()[0] for reason in counters["graph_break"]]
    row = dict(case=key, label=LABELS[key], batch=batch, mode=mode, eager_steps_s=eager,
               compiled_steps_s=rate, speedup=rate / eager, compile_s=compile_s,
               equal=equal, max_abs_diff=diff, checked_steps=n_check,
               graphs=counters["stats"].get("unique_graphs", 0),
               ops_captured=counters["stats"].get("calls_captured", 0), graph_breaks=breaks)
    log(f"  {LABELS[key]} batch {batch} mode {mode}: eager {eager:,.0f} steps/s, compiled "
        f"{rate:,.0f} steps/s ({row['speedup']:.2f}x), compile {compile_s:.1f} s, equal "
        f"{equal} (max |diff| {diff:.1e}); {row['graphs']} graph(s) of {row['ops_captured']} "
        f"ops, graph breaks: {breaks or 'none'}")
    return row


def warm_up():
    """Seconds to compile a one-op function: inductor's one-time start (imports, compiler
    checks), left out of every case's compile time."""
    torch.compiler.reset()
    t0 = time.perf_counter()
    torch.compile(lambda x: x + 1)(torch.zeros(3))
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------------- report
def write_report(results, out, suffix):
    rows = results["rows"]
    head = ["step", "batch", "mode", "eager steps/s", "compiled steps/s", "compiled / eager",
            "compile s", "outputs equal (max abs diff)", "graphs (ops)", "graph breaks"]
    table = md_table(head, [[r["label"], r["batch"], r["mode"], f"{r['eager_steps_s']:,.0f}",
                             f"{r['compiled_steps_s']:,.0f}", f"**{r['speedup']:.2f}x**",
                             f"{r['compile_s']:.1f}",
                             f"{'yes' if r['equal'] else 'no'} ({r['max_abs_diff']:.1e})",
                             f"{r['graphs']} ({r['ops_captured']})" if r["graphs"] else
                             "0: ran eager",
                             "; ".join(r["graph_breaks"]) or "none"]
                            for r in rows], "lrlrrrrlrl")
    m = results["machine"]
    won = [r for r in rows if r["speedup"] >= 1.3]
    lines = [
        "# Cached generation steps: eager vs torch.compile", "",
        f"Run {m['date']} ({'quick' if results['quick'] else 'full'}), commit "
        f"{results['commit']}; {m['cpu']}, {m['cores']} cores, torch {m['torch']}, "
        f"1 thread; C++ compiler: {results['compiler']}; 1-min load average "
        f"{m['load_avg_start'][0]:.1f} at the start, {results['load_avg_end'][0]:.1f} at the "
        "end (a shared machine: rates are indicative, ratios are measured back to back). "
        f"Inductor's one-time start ({results['warm_up_s']:.1f} s, a one-op function compiled "
        "first) is not in the compile times.", "",
        *table, "",
        "Adoption rule (issue 23): adopt what wins by at least 1.3x, its compile time stated and "
        "amortised. " + (f"{len(won)} of {len(rows)} cases reach it." if won else
                         "No case reaches it: the eager steps stay, nothing is adopted."), "",
        "Graphs 0: dynamo captured nothing and the step ran eager, behind dynamo's frame "
        "check (at 100 WaveNet paths and 64 images the steps write `out=` into non-contiguous "
        "views, which dynamo does not trace). Outputs not equal: inductor's fused kernels sum "
        "in another order (differences of one float32 rounding).", "",
        "How each is measured: `python -m benchmarks.compile` (module docstring). "
        "`torch.jit.trace` does not apply to these steps as written, and "
        "`mode=\"reduce-overhead\"` is CUDA graphs (no CPU equivalent): see the docstring.", "",
        f"![compile](compile{suffix}.png)", ""]
    (out / f"compile{suffix}.md").write_text("\n".join(lines))
    plot(rows, out / f"compile{suffix}.png")


def plot(rows, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(rows) + 1.6))
    names = [f"{r['label']}, batch {r['batch']}" + (f" ({r['mode']})" if r["mode"] != "default"
                                                    else "") for r in rows]
    y = range(len(rows))
    ax.barh([i - 0.2 for i in y], [r["eager_steps_s"] for r in rows], 0.4, label="eager")
    ax.barh([i + 0.2 for i in y], [r["compiled_steps_s"] for r in rows], 0.4,
            label="torch.compile")
    for i, r in enumerate(rows):
        ax.text(r["compiled_steps_s"], i + 0.2, f" {r['speedup']:.2f}x, {r['compile_s']:.0f} s",
                va="center", fontsize=7)
    ax.set_yticks(list(y))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("steps/s (1 thread, log scale); label: compiled / eager, compile time")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--modes", default="default")
    parser.add_argument("--cases", default=",".join(LABELS))
    output_args(parser, render="the report and the plot")
    args = parser.parse_args(argv)
    if args.render:
        return render_json(args.render, write_report, "compile")
    torch.set_num_threads(1)
    # cold compiles: inductor's on-disk caches would turn a repeated run's compile into a read
    torch._inductor.config.force_disable_caches = True
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    settings = QUICK if args.quick else FULL
    results = dict(machine=machine_info(), commit=git_state(), quick=args.quick,
                   compiler=compiler(), rows=[])
    print(f"C++ compiler: {results['compiler']}")
    if results["compiler"] is None:
        print("no C++ compiler found: inductor cannot build its CPU kernels; nothing measured")
    else:
        results["warm_up_s"] = warm_up()
        print(f"inductor's one-time start: {results['warm_up_s']:.1f} s")
        for key in args.cases.split(","):
            for batch in BATCHES[key]:
                for mode in args.modes.split(","):
                    results["rows"].append(measure(key, batch, mode, settings, print))
    results["load_avg_end"] = os.getloadavg()
    write_json(out / f"compile{suffix}.json", results)
    if results["rows"]:
        write_report(results, out, suffix)
    print(f"wrote {out / f'compile{suffix}.md'}")


if __name__ == "__main__":
    main()
