"""README's shell snippets run as documented (its Python snippets run as doctests)."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _bash_block(containing):
    text = README.read_text()
    blocks = text.split("```bash\n")[1:]
    block = next(b.split("```")[0] for b in blocks if containing in b)
    block = block.replace("\\\n", " ")                  # continued lines are one command
    return [line for line in block.splitlines() if line.startswith("tsargen ")]


@pytest.mark.slow
def test_command_line_snippet_runs(tmp_path):
    rng = np.random.default_rng(0)
    dates = pd.date_range("2023-01-01", periods=200, freq="D")
    sales = 100 + 10 * np.sin(np.arange(200) * 2 * np.pi / 7) + rng.normal(size=200)
    pd.DataFrame({"date": dates, "sales": sales}).to_csv(tmp_path / "sales.csv", index=False)
    pd.DataFrame({"date": dates[-60:], "sales": sales[-60:]}).to_csv(tmp_path / "recent.csv",
                                                                     index=False)
    lines = _bash_block("tsargen fit")
    assert [shlex.split(line)[1] for line in lines] == ["fit", "forecast", "evaluate", "fit"]
    outputs = []
    for line in lines:
        args = shlex.split(line, comments=True)[1:]
        done = subprocess.run([sys.executable, "-m", "tsargen", *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert done.returncode == 0, f"{line}\n{done.stderr}"
        outputs.append(done.stdout)
    assert (tmp_path / "sales.tsargen").exists() and (tmp_path / "auto.tsargen").exists()
    forecast = pd.read_csv(tmp_path / "fc.csv")
    assert len(forecast) == 7 and np.isfinite(forecast.select_dtypes("number").to_numpy()).all()
    assert "mase" in outputs[2].lower()                    # the backtest table on stdout
