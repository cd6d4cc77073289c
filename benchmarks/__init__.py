"""Benchmarks of tsargen (run as ``python -m benchmarks.<name>``).

This package's own helpers say what a run ran on (:func:`git_state`, :func:`cpu_model`,
:func:`machine_info`), time a block of code (:class:`Clock`) and run a function under a fixed
torch seed (:func:`seeded`); ``benchmarks.report`` holds what the benchmarks share for writing
their results.
"""

import datetime
import os
import platform
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def git_state():
    """HEAD commit and whether tsargen/ had uncommitted changes (for the reports)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "tsargen"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (+ uncommitted changes under tsargen/)" if dirty else "")


def cpu_model():
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info():
    """CPU, usable cores, torch build, Python, load average and local time at the start."""
    import torch
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_model(), "cores": cores, "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(), "load_avg_start": os.getloadavg(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


class Clock:
    """Wall-clock and process CPU seconds of a block (``with Clock() as c: ...; c.wall``).

    CPU time counts only the time this process ran on a core, so it is insensitive to being
    descheduled by other jobs; with one intra-op thread it is the compute time.
    """

    def __enter__(self):
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._w
        self.cpu = time.process_time() - self._c

    @property
    def seconds(self):
        return {"wall": self.wall, "cpu": self.cpu}

    def per(self, n):
        return {"wall": self.wall / n, "cpu": self.cpu / n}


def seeded(fn, seed=0):
    """``fn()`` under ``torch.manual_seed(seed)``, leaving the global torch RNG as it was."""
    import torch
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return fn()
