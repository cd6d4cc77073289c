"""The forecast benchmark's target verdicts and the default-fit benchmark's thread summary,
on made-up results whose ratios are known by construction (no fitting)."""

import numpy as np
import pandas as pd
import pytest

from benchmarks import default_fit, forecast
from benchmarks.forecast_peers import as_frame


def _row(mase, scrps, cov80=0.8, n=4):
    """A method's result with constant per-origin metrics (so every ratio is exact)."""
    return {"mase": mase, "scrps": scrps, "crps": scrps, "cov80": cov80,
            "per_origin": {"mase": [mase] * n, "scrps": [scrps] * n}}


def _dataset(name, default, auto=None, cov80=0.8):
    """Seasonal naive MASE/sCRPS 1.0, ETS 0.9/0.8, N-HiTS 0.85/0.95; the default row
    ``default = (mase, scrps)``, the automatic mode ``auto`` likewise."""
    methods = {"seasonal naive": _row(1.0, 1.0), "ETS": _row(0.9, 0.8),
               "N-HiTS": _row(0.85, 0.95),
               forecast.DEFAULT_ROW: _row(*default, cov80=cov80)}
    if auto:
        methods[forecast.AUTO] = _row(*auto)
    return {"name": name, "methods": methods, "origins": [0, 1, 2, 3]}


def _table(results):
    """The targets table's rows as lists of cells."""
    lines = forecast.targets_lines(results, {"quick": False, "peers": {}})
    start = lines.index("| target | criterion | result | numbers |") + 2
    return [line.strip("|").split(" | ") for line in lines[start:start + 5]]


def test_targets_met_when_every_comparison_wins():
    # default: MASE 1.04 x naive (<= 1.05), sCRPS 0.7 / ETS 0.8 < 1, coverage 0.8;
    # auto: MASE 0.8 < N-HiTS 0.85, sCRPS 0.7 < ETS 0.8
    results = [_dataset(f"d{i}", (1.04, 0.7), auto=(0.8, 0.7)) for i in range(5)]
    rows = _table(results)
    assert [r[2].split(" (")[0] for r in rows] == ["**met**"] * 5
    assert "d0 1.040" in rows[0][3]
    assert "d0 0.875 vs ETS" in rows[1][3]            # 0.7 / 0.8
    assert "d0 0.941 vs N-HiTS" in rows[2][3]         # 0.8 / 0.85
    assert "(5 resolved below 1" in rows[1][3]        # constant per-origin ratios: no spread


def test_targets_missed_at_the_thresholds():
    results = [_dataset(f"d{i}", (1.04, 0.7), auto=(0.8, 0.7)) for i in range(5)]
    results[0] = _dataset("d0", (1.06, 0.9), auto=(0.86, 0.81), cov80=0.74)   # loses all
    results[1] = _dataset("d1", (1.0, 0.81), auto=(0.9, 0.9), cov80=0.86)     # loses CRPS
    rows = _table(results)
    # MASE <= 1.05 must hold on every data set; d0 is at 1.06
    assert rows[0][2] == "**missed** (4 of 5 data sets)"
    # sCRPS below the best statistical model (ETS 0.8) on at least 4 of 5: only 3
    assert rows[1][2] == "**missed** (3 of 5 data sets)"
    # the automatic mode: MASE below N-HiTS's 0.85 on 3 of 5, sCRPS below ETS's 0.8 on 3
    assert rows[2][2] == "**missed** (3 of 5 data sets)"
    assert rows[3][2] == "**missed** (3 of 5 data sets)"
    # coverage within 0.75-0.85 everywhere: d0 (0.74) and d1 (0.86) are outside
    assert rows[4][2] == "**missed** (3 of 5 data sets)"


def test_four_of_five_is_enough():
    results = [_dataset(f"d{i}", (1.0, 0.7), auto=(0.8, 0.7)) for i in range(5)]
    results[2] = _dataset("d2", (1.0, 0.85), auto=(0.9, 0.9))
    rows = _table(results)
    assert rows[1][2] == "**met** (4 of 5 data sets)"
    assert rows[2][2] == "**met** (4 of 5 data sets)"


def test_automatic_mode_absent_is_not_evaluated():
    rows = _table([_dataset(f"d{i}", (1.0, 0.7)) for i in range(5)])
    assert rows[2][2].startswith("not evaluated")
    assert rows[3][2].startswith("not evaluated")


def test_thread_summary_counts_a_killed_fit_as_a_lower_bound():
    rows = [{"condition": "quiet", "threads": 1, "wall": 50.0, "timeout": 600},
            {"condition": "quiet", "threads": 2, "wall": None, "timeout": 600},
            {"condition": "loaded", "threads": 1, "wall": 90.0, "timeout": 600},
            {"condition": "loaded", "threads": 2, "wall": 60.0, "timeout": 600}]
    summary = default_fit.summarise(rows)
    assert summary["quiet"]["faster"] == 1
    assert summary["quiet"]["lower_bound"] == {"1": False, "2": True}
    assert summary["quiet"]["ratio_2_over_1"] == 12.0        # 600 / 50, a lower bound
    assert default_fit._ratio_text(summary["quiet"]) == "> 12.00"
    assert summary["loaded"]["faster"] == 2
    assert summary["loaded"]["ratio_2_over_1"] == pytest.approx(60 / 90)


def test_as_frame_keeps_the_dates_of_the_history():
    index = pd.date_range("2020-01-01", periods=10, freq="h")
    values = np.arange(8.0).reshape(4, 2)
    frame = as_frame(values, (index, ["a", "b"]))
    assert list(frame.columns) == ["a", "b"] and frame.index.equals(index[:4])
    series = as_frame(values[:, :1], (index, ["a"]))
    assert isinstance(series, pd.Series) and series.name == "a"
    assert as_frame(values, (None, ["a", "b"])) is values
