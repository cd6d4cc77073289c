"""Benchmarks of tsargen (run as ``python -m benchmarks.<name>``)."""

import platform
import subprocess
from pathlib import Path

import numpy as np

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


def paired_bootstrap(stat, n, level=0.95, n_boot=10000, seed=0):
    """Percentile interval ``(lo, hi)`` of ``stat(idx)`` over ``n_boot`` resamples ``idx (n_boot,
    n)`` of ``n`` paired items (origins, test series) drawn with replacement; ``stat`` maps the
    index array to one value per resample, using the same draw for every method it compares."""
    idx = np.random.default_rng(seed).integers(0, n, (n_boot, n))
    lo, hi = np.percentile(stat(idx), [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)
