"""Benchmarks of tsargen (run as ``python -m benchmarks.<name>``)."""

import subprocess
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
