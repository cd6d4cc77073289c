"""Real series for examples, tests and benchmarks.

The ``load_*`` functions read data that ships with installed packages (statsmodels), so they
never download anything. ``read_*`` functions read files the user owns.
"""

import numpy as np
import pandas as pd


def load_sunspots():
    """Yearly mean sunspot numbers, 1700-2008 (statsmodels), as a ``pd.Series`` indexed by a
    yearly DatetimeIndex (309 values, an ~11-year cycle)."""
    from statsmodels.datasets import sunspots

    df = sunspots.load_pandas().data
    index = pd.date_range(f"{int(df['YEAR'].iloc[0])}-01-01", periods=len(df), freq="YS")
    return pd.Series(df["SUNACTIVITY"].to_numpy(dtype=float), index=index, name="sunspots")


def load_co2(freq="MS"):
    """Mauna Loa CO2 (ppm), statsmodels' weekly series 1958-2001 averaged to ``freq`` (monthly
    by default; ``None`` keeps the weekly data with its missing weeks as NaN)."""
    from statsmodels.datasets import co2

    s = co2.load_pandas().data["co2"].astype(float)
    s.index = pd.DatetimeIndex(s.index)
    if freq is not None:
        s = s.resample(freq).mean()
        s = s.interpolate(limit_direction="both")
    s.name = "co2"
    return s


def load_macrodata(columns=("realgdp", "realcons", "realinv")):
    """US quarterly macro series 1959Q1-2009Q3 (statsmodels), log-differenced x 100 (quarterly
    growth in percent), as a DataFrame with a quarterly DatetimeIndex."""
    from statsmodels.datasets import macrodata

    df = macrodata.load_pandas().data
    index = pd.date_range("1959-01-01", periods=len(df), freq="QS")
    values = 100 * np.diff(np.log(df[list(columns)].to_numpy(dtype=float)), axis=0)
    return pd.DataFrame(values, index=index[1:], columns=list(columns))
