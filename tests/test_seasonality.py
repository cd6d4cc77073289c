"""tsargen.seasonality: differencing orders, candidate periods, seasonal periods and strength.

The rates below come from seeded draws, so each assertion is deterministic; the bounds leave a
margin over the measured rates (written beside them) for other statsmodels / numpy versions.
"""

import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsargen.seasonality import (
    MIN_OBS,
    candidate_periods,
    ndiffs,
    nsdiffs,
    seasonal_period,
    seasonal_strength,
)

ROOT = Path(__file__).resolve().parents[1]
N_DRAWS = 100


def _ar1(rng, n, phi):
    e = rng.normal(size=n)
    x = np.empty(n)
    x[0] = e[0] / np.sqrt(1 - phi ** 2)                 # started in its stationary law
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


# the four processes of the ndiffs rates, each with the order it should get
PROCESSES = {
    "white noise": (0, lambda rng: rng.normal(size=300)),
    "AR(1) phi=0.5": (0, lambda rng: _ar1(rng, 300, 0.5)),
    "random walk": (1, lambda rng: rng.normal(size=300).cumsum()),
    "integrated random walk": (2, lambda rng: rng.normal(size=300).cumsum().cumsum()),
}


def _error_rates(test):
    """Share of N_DRAWS seeded draws (length 300) per process where ndiffs is wrong."""
    rates = {}
    for name, (d, draw) in PROCESSES.items():
        got = [ndiffs(draw(np.random.default_rng(seed)), test=test) for seed in range(N_DRAWS)]
        rates[name] = np.mean(np.asarray(got) != d)
    return rates


# Measured error rates over the 100 draws (statsmodels 0.15, numpy 2.4):
#   KPSS: white noise 4%, AR(1) 8%, random walk 8% (4 gave 0, 4 gave 2), I(2) 4% (gave 1)
#   ADF:  white noise 0%, AR(1) 0%, random walk 5% (gave 0), I(2) 5% (2 gave 0, 3 gave 1)
BOUNDS = {
    "kpss": {"white noise": 0.10, "AR(1) phi=0.5": 0.15, "random walk": 0.15,
             "integrated random walk": 0.10},
    "adf": {"white noise": 0.05, "AR(1) phi=0.5": 0.05, "random walk": 0.10,
            "integrated random walk": 0.12},
}


@pytest.mark.parametrize("test", ["kpss", "adf"])
def test_ndiffs_error_rates(test):
    rates = _error_rates(test)
    for name, bound in BOUNDS[test].items():
        assert rates[name] <= bound, (test, name, rates)


def test_ndiffs_deterministic_trends_and_constants():
    t = np.arange(200.0)
    assert ndiffs(np.full(200, 3.0)) == 0
    assert ndiffs(t) == 1                               # its difference is constant
    assert ndiffs(1e6 + 0.1 * t) == 1                   # the same after rounding
    assert ndiffs(t ** 2) == 2
    assert ndiffs(t ** 3) == 2                          # max_d caps it
    assert ndiffs(t ** 3, max_d=3) == 3
    assert ndiffs(t ** 3, max_d=0) == 0


def test_ndiffs_short_series_give_zero():
    walk = np.random.default_rng(0).normal(size=MIN_OBS - 1).cumsum()
    assert ndiffs(walk) == 0
    assert ndiffs(walk, test="adf") == 0
    assert ndiffs([]) == 0
    assert ndiffs(np.full(50, np.nan)) == 0


def test_ndiffs_statistic_outside_the_table():
    """statsmodels clips the KPSS p-value to [0.01, 0.10] and warns: the clipped 0.01 of a
    strong trend still rejects at alpha = 0.01, the clipped 0.10 of white noise does not at
    0.10, and no warning escapes."""
    rng = np.random.default_rng(0)
    trend = np.arange(300.0) + rng.normal(size=300)
    noise = rng.normal(size=300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ndiffs(trend, alpha=0.01) == 1
        assert ndiffs(trend, alpha=0.001) == 1          # clipped to 0.01
        assert ndiffs(noise, alpha=0.10) == 0
        assert ndiffs(noise, alpha=0.5) == 0            # clipped to 0.10


def test_ndiffs_nans_and_channels():
    rng = np.random.default_rng(1)
    walk, noise = rng.normal(size=300).cumsum(), rng.normal(size=300)
    holed = walk.copy()
    holed[[0, 1, 100, 101, 102, 299]] = np.nan          # edges dropped, interior interpolated
    assert ndiffs(holed) == 1
    assert ndiffs(pd.Series(holed)) == 1
    assert ndiffs(np.column_stack([noise, walk])) == 1  # the largest over channels
    assert ndiffs(pd.DataFrame({"a": noise, "b": noise[::-1]})) == 0


@pytest.mark.parametrize("kwargs", [{"test": "pp"}, {"alpha": 0.0}, {"alpha": 1.5},
                                    {"max_d": -1}, {"max_d": 1.5}])
def test_ndiffs_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ndiffs(np.zeros(50), **kwargs)


def test_ndiffs_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        ndiffs(np.zeros((5, 5, 5)))
    with pytest.raises(ValueError, match="infinite"):
        ndiffs([1.0, np.inf, 2.0])


# ------------------------------------------------------------------------------------------
# candidate_periods


@pytest.mark.parametrize("freq, n_obs, expected", [
    ("h", 336, [24, 168]), ("h", 335, [24]), ("h", 47, []),
    ("30min", 672, [48, 336]), ("30min", 671, [48]),
    ("15min", 1344, [96, 672]), ("15min", 1343, [96]),
    ("min", 2880, [1440]), ("min", 2879, []), ("min", 20160, [1440, 10080]),
    ("D", 730, [7, 365]), ("D", 729, [7]), ("D", 13, []),
    ("B", 10, [5]), ("B", 9, []),
    ("W-SUN", 104, [52]), ("W", 104, [52]), ("W-SAT", 103, []),
    ("ME", 24, [12]), ("MS", 24, [12]), ("M", 24, [12]), ("ME", 23, []),
    ("QE", 8, [4]), ("QS", 8, [4]), ("Q", 8, [4]), ("QE-DEC", 7, []),
    ("YE", 1000, []), ("Y", 1000, []), ("YS", 1000, []),
    ("2h", 1000, [12, 84]), ("7D", 104, [52]), ("2W", 52, [26]), ("3ME", 8, [4]),
])
def test_candidate_periods_by_freq(freq, n_obs, expected):
    assert candidate_periods(freq, n_obs) == expected


def test_candidate_periods_from_index():
    hourly = pd.date_range("2024-01-01", periods=400, freq="h")
    assert candidate_periods(hourly) == [24, 168]       # n_obs defaults to its length
    assert candidate_periods(hourly, 100) == [24]
    inferred = pd.DatetimeIndex(list(hourly))           # no freq of its own
    assert inferred.freq is None and candidate_periods(inferred) == [24, 168]
    gapped = pd.date_range("2000-01-31", periods=40, freq="ME").delete([5, 17])
    assert candidate_periods(gapped) == [12]            # a calendar frequency with gaps
    assert candidate_periods(pd.period_range("2000-01", periods=24, freq="M")) == [12]
    assert candidate_periods(pd.period_range("2000Q1", periods=8, freq="Q")) == [4]
    assert candidate_periods(pd.period_range("1700", periods=300, freq="Y")) == []
    assert candidate_periods(pd.date_range("2020-01-05", periods=110, freq="W-SUN")) == [52]
    assert candidate_periods(pd.date_range("2020-01-01", periods=800, freq="D")) == [7, 365]
    mid_month = pd.DatetimeIndex(list(pd.date_range("2000-01-15", periods=36,
                                                    freq=pd.DateOffset(months=1))))
    assert candidate_periods(mid_month) == [12]


def test_candidate_periods_without_frequency():
    assert candidate_periods(None, 1000) == []
    assert candidate_periods(pd.RangeIndex(1000)) == []
    irregular = pd.DatetimeIndex(["2020-01-01", "2020-01-05", "2020-03-01", "2020-03-02"])
    assert candidate_periods(irregular) == []
    with pytest.raises(ValueError, match="n_obs"):
        candidate_periods("h")
    with pytest.raises(ValueError, match="unknown frequency"):
        candidate_periods("fortnightly", 100)


# ------------------------------------------------------------------------------------------
# seasonal_period

HOURS = 24 * 28                                         # four weeks: candidates 24 and 168
HOURLY = pd.date_range("2024-01-01", periods=HOURS, freq="h")
DAILY = pd.date_range("2020-01-01", periods=400, freq="D")     # candidate 7 only
MONTHLY = pd.date_range("2000-01-31", periods=120, freq="ME")  # candidate 12


def _hourly_trend(rng):
    t = np.arange(HOURS)
    return 0.01 * t + np.sin(2 * np.pi * t / 24) + rng.normal(size=HOURS)


def _hourly_walk(rng):
    t = np.arange(HOURS)
    return 0.2 * rng.normal(size=HOURS).cumsum() + np.sin(2 * np.pi * t / 24) \
        + rng.normal(size=HOURS)


def _daily_weekly(rng):
    t = np.arange(len(DAILY))
    week = np.array([0.0, 0.2, 0.1, 0.3, 0.5, 1.5, 1.2])        # busy weekends
    return 0.02 * t + week[t % 7] + 0.5 * rng.normal(size=len(t))


def _monthly_yearly(rng):
    t = np.arange(len(MONTHLY))
    return 0.05 * t + 2 * np.sin(2 * np.pi * t / 12) + rng.normal(size=len(t))


def _counts(draw, index=None, **kwargs):
    return Counter(seasonal_period(draw(np.random.default_rng(seed)), index, **kwargs)
                   for seed in range(N_DRAWS))


# Measured over 100 draws: 24 in 100/100 (trend), 100/100 (random walk); 7 in 100/100;
# 12 in 100/100. Never the multiple 168.
@pytest.mark.parametrize("draw, index, period", [
    (_hourly_trend, HOURLY, 24), (_hourly_walk, HOURLY, 24), (_daily_weekly, DAILY, 7),
    (_monthly_yearly, MONTHLY, 12),
], ids=["hourly-trend", "hourly-walk", "daily", "monthly"])
def test_seasonal_period_finds_the_season(draw, index, period):
    counts = _counts(draw, index)
    assert counts[period] >= 0.95 * N_DRAWS, counts


# Measured over 100 draws, share of periods found in noise: hourly 1%, daily 4%, monthly 2%
# (alpha = 0.05 is the level of each call's test); an AR(1) with phi = 0.5 and a random walk
# (hourly) 1%, 2%; an AR(1) with phi = 0.9 (daily) 2%, whose r_7 = 0.9 ** 7 passes the bound
# in 51% of draws without the local-peak condition.
@pytest.mark.parametrize("draw, index", [
    (lambda rng: rng.normal(size=HOURS), HOURLY),
    (lambda rng: rng.normal(size=len(DAILY)), DAILY),
    (lambda rng: rng.normal(size=len(MONTHLY)), MONTHLY),
    (lambda rng: _ar1(rng, HOURS, 0.5), HOURLY),
    (lambda rng: rng.normal(size=HOURS).cumsum(), HOURLY),
    (lambda rng: _ar1(rng, len(DAILY), 0.9), DAILY),
], ids=["noise-hourly", "noise-daily", "noise-monthly", "ar1-hourly", "walk-hourly",
        "ar1-0.9-daily"])
def test_seasonal_period_none_without_season(draw, index):
    counts = _counts(draw, index)
    assert counts[None] >= 0.92 * N_DRAWS, counts


def test_seasonal_period_off_season_cycle():
    """A 9-day cycle is no weekly season: at lag 7 its autocorrelation is still rising. 7 in
    0/100 draws (7/100 without the local-peak condition)."""
    t = np.arange(len(DAILY))
    counts = _counts(lambda rng: np.sin(2 * np.pi * t / 9) + rng.normal(size=t.size), DAILY)
    assert counts[None] >= 0.98 * N_DRAWS, counts


def test_seasonal_period_weekly_pattern_beats_its_daily_part():
    """A weekend level on a daily cycle: 168 holds both, and its seasonal naive errs less."""
    index = pd.date_range("2024-01-01", periods=24 * 7 * 6, freq="h")
    t = np.arange(len(index))
    weekend = (index.day_of_week >= 5).astype(float)
    rng = np.random.default_rng(0)
    found = [seasonal_period(np.sin(2 * np.pi * t / 24) + 2 * weekend + rng.normal(size=t.size),
                             index) for _ in range(10)]
    assert found == [168] * 10


def test_seasonal_period_weekly_season_beats_the_detrended_daily_one():
    """A wandering level, a daily cycle and a weekend level, as in electricity demand: the
    moving average over a day removes the weekend, so the detrended autocorrelation is larger
    at 24 than at 168 (the rule "largest ``r_p``" chose 24 in 62/100 draws), while repeating
    last week errs less than repeating yesterday. 168 in 100/100 draws, with the calendar
    and without (83/100 without testing the multiples of the periodogram's periods)."""
    index = pd.date_range("2024-01-01", periods=24 * 7 * 10, freq="h")
    t = np.arange(len(index))
    weekend = (index.day_of_week >= 5).astype(float)

    def draw(rng):
        return 0.03 * rng.normal(size=t.size).cumsum() + 3 * np.sin(2 * np.pi * t / 24) \
            + 2 * weekend + 0.5 * rng.normal(size=t.size)

    assert _counts(draw, index)[168] >= 0.95 * N_DRAWS
    # no calendar: the periodogram's peaks are the day's harmonics, the week their multiple
    assert _counts(draw)[168] >= 0.95 * N_DRAWS


# Search with no frequency known. Measured over 100 draws: 24 found 100/100 on the trending
# hourly series (length 600), 12 found 100/100 on the monthly one; None on white noise, AR(1)
# and random walk 100/100 each (98, 97 and 94/100 with the bound log2(K / alpha), which
# ignores the noise of the median a periodogram value is divided by).
def test_seasonal_period_search_finds_the_season():
    t = np.arange(600)
    counts = _counts(lambda rng: 0.01 * t + np.sin(2 * np.pi * t / 24) + rng.normal(size=600))
    assert counts[24] >= 0.95 * N_DRAWS, counts
    assert _counts(_monthly_yearly)[12] >= 0.95 * N_DRAWS


@pytest.mark.parametrize("draw", [
    lambda rng: rng.normal(size=600), lambda rng: _ar1(rng, 600, 0.5),
    lambda rng: rng.normal(size=600).cumsum(),
], ids=["noise", "ar1", "walk"])
def test_seasonal_period_search_none_without_season(draw):
    counts = _counts(draw)
    assert counts[None] >= 0.95 * N_DRAWS, counts


def test_seasonal_period_search_square_wave():
    """A season far from a sinusoid: the periodogram's harmonics (12, 8, ...) are weaker
    periods than the fundamental."""
    t = np.arange(600)
    rng = np.random.default_rng(0)
    y = np.where(t % 24 >= 18, 2.0, 0.0) + rng.normal(size=600)
    assert seasonal_period(y) == 24


def test_seasonal_period_arguments():
    rng = np.random.default_rng(3)
    y = _hourly_trend(rng)
    assert seasonal_period(y, candidates=[24]) == 24
    assert seasonal_period(y, HOURLY, candidates=[5, 168]) is None  # candidates replace index
    assert seasonal_period(y, HOURLY, candidates=[]) is None
    assert seasonal_period(y, min_acf=0.9) is None
    yearly = pd.period_range("1300", periods=HOURS, freq="Y")
    assert seasonal_period(y, yearly) is None           # a yearly index has no candidates
    assert seasonal_period(y, pd.RangeIndex(HOURS)) == 24   # no calendar: searched
    assert seasonal_period(np.ones(100)) is None
    assert seasonal_period([1.0, 2.0, 3.0]) is None


def test_seasonal_period_straight_lines():
    """Detrended or differenced, a line leaves rounding errors only: no period in them."""
    t = np.arange(HOURS, dtype=float)
    for line in (t, 1e6 + 0.1 * t):
        assert seasonal_period(line, HOURLY) is None
        assert seasonal_period(line) is None
        assert seasonal_strength(line, 24) == 0.0
    assert seasonal_period(1e6 + 0.1 * t + np.sin(2 * np.pi * t / 24)) == 24


def test_seasonal_period_nans_and_channels():
    rng = np.random.default_rng(4)
    a, b = _hourly_trend(rng), _hourly_walk(rng)
    a[[0, 50, 51, 300]] = np.nan
    assert seasonal_period(a, HOURLY) == 24
    assert seasonal_period(np.column_stack([a, b]), HOURLY) == 24
    assert seasonal_period(pd.DataFrame({"a": a, "b": b})) == 24


# ------------------------------------------------------------------------------------------
# nsdiffs

def _monthly(amplitude):
    t = np.arange(120)
    return lambda rng: 0.05 * t + amplitude * np.sin(2 * np.pi * t / 12) + rng.normal(size=120)


# Measured seasonal strengths over 100 draws (ten years of monthly data): amplitude 3 0.82 to
# 0.93; white noise 0.11 to 0.43; amplitude 0.5 0.18 to 0.52.
@pytest.mark.parametrize("draw, expected", [
    (_monthly(3.0), 1), (lambda rng: rng.normal(size=120), 0), (_monthly(0.5), 0),
], ids=["strong", "noise", "weak"])
def test_nsdiffs_by_strength(draw, expected):
    got = Counter(nsdiffs(draw(np.random.default_rng(seed)), 12) for seed in range(N_DRAWS))
    assert got[expected] == N_DRAWS, got


def test_nsdiffs_hourly():
    t = np.arange(HOURS)
    rng = np.random.default_rng(0)
    assert nsdiffs(3 * np.sin(2 * np.pi * t / 24) + rng.normal(size=HOURS), 24) == 1
    assert nsdiffs(rng.normal(size=HOURS), 24) == 0


def test_nsdiffs_needs_six_cycles():
    """On five cycles the STL seasonal of white noise often looks strong; on two it always
    does (strength 1): nsdiffs declines to judge them."""
    rng = np.random.default_rng(0)
    assert seasonal_strength(rng.normal(size=24), 12) > 0.99
    strong = _monthly(3.0)(rng)
    assert nsdiffs(strong[:72], 12) == 1
    assert nsdiffs(strong[:71], 12) == 0


def test_nsdiffs_edges_and_channels():
    rng = np.random.default_rng(1)
    strong, noise = _monthly(3.0)(rng), rng.normal(size=120)
    assert nsdiffs(strong, None) == 0
    assert nsdiffs(strong, 1) == 0
    assert nsdiffs(np.ones(120), 12) == 0
    assert nsdiffs(np.column_stack([noise, strong]), 12) == 1       # any channel
    holed = strong.copy()
    holed[[0, 40, 41]] = np.nan
    assert nsdiffs(holed, 12) == 1
    assert seasonal_strength(np.ones(120), 12) == 0.0
    with pytest.raises(ValueError, match="period"):
        nsdiffs(strong, 12.5)


# ------------------------------------------------------------------------------------------
# real data (shipped with statsmodels)

def _dataset(name):
    try:
        from statsmodels import datasets
        return getattr(datasets, name).load_pandas().data
    except Exception as error:                          # noqa: BLE001 (absent or unreadable)
        pytest.skip(f"statsmodels dataset {name} unavailable: {error}")


def test_co2():
    """Weekly CO2 at Mauna Loa, 1958-2001 (2284 weeks, 59 missing): trending, with a yearly
    cycle. Measured: ndiffs 1, period 52, seasonal strength 0.98."""
    co2 = _dataset("co2")["co2"]
    assert ndiffs(co2) >= 1
    assert seasonal_period(co2, co2.index) == 52
    assert nsdiffs(co2, 52) == 1


def test_sunspots():
    """Yearly sunspot numbers, 1700-2008: an 11-year cycle of varying length. Measured: 11
    when searched with no index; a yearly index has no candidate periods."""
    sun = _dataset("sunspots")
    period = seasonal_period(sun["SUNACTIVITY"].to_numpy())
    assert period is not None and 9 <= period <= 12, period
    years = pd.period_range(str(int(sun["YEAR"].iloc[0])), periods=len(sun), freq="Y")
    assert seasonal_period(sun["SUNACTIVITY"].to_numpy(), years) is None


def test_import_does_not_load_torch():
    code = "import sys, tsargen.seasonality; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
