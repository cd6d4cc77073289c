"""Rolling-origin forecast backtest of tsargen's forecasters on real series.

Compares :class:`tsargen.WaveNetForecaster` (tuned rows and a row with the library's defaults)
and the automatic mode ``tsargen.model_selection.AutoForecaster`` with seasonal naive, ETS,
ARIMA, Theta and (for the multichannel sets) VAR from statsmodels, and with optional peers
(statsforecast's AutoETS, AutoARIMA and AutoTheta, neuralforecast's N-HiTS), on sunspots and
co2 (shipped with statsmodels), taylor, ETTh1 (7 channels modelled jointly, horizon 24) and
exchange_rate (8 channels), reporting MASE, sMAPE, CRPS, interval coverage, fit time (also per
channel) and predict time, and judging the targets of the forecasting-defaults issue (report
section "Targets"). Writes ``benchmarks/results/forecast.md``, a JSON file with the numbers
(per origin too), one fan chart per data set and a bar chart of MASE and scaled CRPS per
method.

Notes
-----
Protocol. For each data set the series is split at a first forecast origin. Every model is
fitted **once** on the data before that origin and then forecasts ``horizon`` steps ahead from
``n_origins`` origins spread evenly over the test part, each time conditioning on the true
history up to the origin (no refitting; the one exception, Theta, is marked below). The WaveNet
settings in ``DATASETS`` were chosen with
``--split val`` (origins inside a validation part before the test part), but not blind to the
test part: the test origins were evaluated several times while the benchmark was built, and
which rows and library features to try next followed those results (how often, and after
which changes: ``results/forecast_notes.md``, printed in the report under "Observations", or
for a tagged run ``results/forecast_TAG_notes.md`` where it exists; the
settings tried: ``results/forecast_tuning.md``). Margins on the target sets, taylor's above
all, are therefore somewhat optimistic. The reported WaveNet
rows are the fits with ``random_state=0``; each is also refitted with ``--spread-seeds`` more
seeds (default 3) and the report gives the mean and range of its metrics over the seeds, so
that a margin can be told from run-to-run noise.

Methods:

* ``WaveNet`` -- ``WaveNetForecaster(**settings, random_state=0).fit(train)``, then
  ``predict(h, y=history)`` (median of ``n_paths`` sample paths) as the point forecast and
  ``sample(200, h, y=history)`` for CRPS, coverage and the fan chart. Multichannel sets are
  modelled by one network over all channels (``channel_dependence="joint"``).
* ``WaveNet (diff)`` (co2 and exchange_rate only: the series whose test part leaves the
  training range) -- the same, with ``WaveNetForecaster(differences=1)``: the network models
  first differences and the estimator integrates the sample paths back to levels. Reported
  next to, not instead of, the default ``WaveNet`` (``differences=0``).
* ``WaveNet (seasonal)`` (taylor and ETTh1: strong daily cycles) -- the same, with
  ``WaveNetForecaster(seasonal_lag=period)``: the network models the differences to the value
  one day earlier and the estimator adds them back (taylor's row also averages the weights,
  ``ema_decay=0.99``). Also reported next to ``WaveNet``.
* ``WaveNet (default)`` -- ``WaveNetForecaster(horizon=h, random_state=0)``, nothing else set:
  whatever the library's defaults are at the commit that runs (the report's settings table
  shows what they chose, e.g. ``differences_``, ``seasonal_lag_``). It gets the data as a user
  would have them: pandas with the data set's DatetimeIndex where the data have dates
  (sunspots: yearly, co2: monthly, ETTh1: hourly; a Series for one channel, a DataFrame for
  several), so that calendar features and index-based season detection can work; taylor and
  exchange_rate have no dates in their files and are passed as arrays. Never changed by
  ``--wavenet``; its seeds are spread like the other WaveNet rows'. ``--quick`` gives it the
  smoke settings (``max_epochs=3``, ``patience=3``, ``n_paths=50``) like every WaveNet row.
* ``AutoForecaster`` -- ``tsargen.model_selection.AutoForecaster(horizon=h, random_state=0)``,
  the same input as the default row, forecasting with ``predict``/``sample(y=history)``; left
  out, with a note in the report, when it is not importable (``--quick``: the smoke settings
  above where it has such parameters).
* ``seasonal naive`` -- the value one season earlier; Gaussian predictive distribution with
  the in-sample seasonal-difference RMSE ``s`` and standard deviation ``s * sqrt(k + 1)`` for
  steps in the ``k``-th season ahead (the usual seasonal-naive interval).
* ``seasonal naive (weekly)`` (taylor and ETTh1, which also have a weekly cycle) -- the same
  with the weekly period (336 half-hours, 168 hours). The verdicts compare each WaveNet row with
  the better of the two seasonal naive forecasts, per metric; MASE keeps the data set's
  (daily) period in its scale.
* ``ETS`` -- statsmodels ``ETSModel`` with additive errors, per channel, configuration picked by
  AIC among a few candidates; re-conditioned at each origin by running the fitted parameters
  over the history (``ETSModel(history).smooth(params)``, same start, so the initial states
  match); Gaussian predictive mean and variance from ``get_prediction``.
* ``ARIMA`` -- statsmodels ``ARIMA`` per channel (small AIC search on the short series; a fixed
  order plus Fourier regressors for the long seasonal periods, with no order search; on ETTh1
  ETS and ARIMA are fitted on the last 3000 training points, VAR on all); re-conditioned with
  ``results.apply(history)`` (same parameters, Kalman filter rerun); Gaussian predictive from
  ``get_forecast``.
* ``VAR`` (multichannel sets) -- statsmodels ``VAR`` fitted by OLS; at each origin the last
  ``p`` observations are the initial values; CRPS from ``simulate_var`` paths.
* ``Theta`` -- statsmodels ``ThetaModel`` per channel with the data set's period (its
  seasonality test decides whether to deseasonalise; no season for period 1), theta = 2.
  statsmodels cannot run a fitted Theta model over a new history, so it is **refitted on the
  history at every origin** (on the last ``fit_last`` points where ETS has one): its parameters
  see the test part before each origin, an advantage the other rows do not have; ``fit s`` is
  the first fit, ``predict s`` includes the refits. Gaussian predictive: the forecast as mean,
  the standard deviation from its 80% prediction interval (``prediction_intervals``).

Optional peers (the ``bench`` extra; each runs only when its package imports, and the report
says which ran). Like the other rows each is fitted once per data set and re-conditioned on
the true history at every origin:

* ``AutoETS``, ``AutoARIMA``, ``AutoTheta`` -- statsforecast's models per channel,
  ``season_length`` = the data set's period, their defaults otherwise (model choice by
  information criterion). Re-conditioned with ``model.forward(y=history, h, level=[80])``:
  the fitted model and parameters run over the history, nothing re-estimated. Gaussian
  predictive: the forecast as mean, the standard deviation from the 80% interval. Fitted on the
  last ``peer_fit_last`` training points where a data set sets it (ETTh1: 3000, as the
  statsmodels ETS and ARIMA). statsforecast's ETS has no seasonal models for periods above 24,
  so on taylor (48) AutoETS chooses among non-seasonal ones.
* ``N-HiTS`` -- neuralforecast's ``NHITS``, one global model over the channels (each channel a
  series), CPU, ``random_seed=0``, ``input_size = 2 * horizon`` (as neuralforecast's quickstart
  sets it), its documented defaults otherwise (``max_steps=1000``, ``scaler_type="identity"``,
  no early stopping), with a Gaussian likelihood (``DistributionLoss("Normal",
  return_params=True)``). Re-conditioned by ``predict(df=history)``, no refit; CRPS and coverage
  from draws of the per-step Gaussian whose mean and scale it returns. ``--quick``: 10 steps.

Metrics (``tsargen.metrics``), per origin, then averaged over origins (and channels):

* ``MASE`` -- MAE over the in-sample MAE of the seasonal-naive forecast with the data set's
  period on the training part.
* ``sMAPE`` -- symmetric MAPE in percent.
* ``CRPS`` -- from 200 draws of each model's predictive distribution (WaveNet rows and the
  automatic mode: sample paths; seasonal naive, ETS, ARIMA, Theta, the statsforecast models and
  N-HiTS: draws from the per-step Gaussian; VAR: simulated paths), the same sample estimator
  for all methods. ``sCRPS`` divides it per channel by the MASE scale, so
  it is unit-free and can be averaged over channels; ``CRPS`` is in data units.
* ``cov80`` -- fraction of the truth inside the central 80% interval of the draws.
* ``bias`` (JSON and notes) -- mean of forecast minus truth, in MASE-scale units.
* ``fit s`` -- wall time of the one fit; ``fit s per channel`` -- the same over the number of
  channels (one series per data set: the fit time per series and channel);
  ``predict s`` -- mean wall time per origin of the point forecast (WaveNet: one ``predict``
  call, i.e. ``n_paths`` paths; statsmodels and statsforecast: re-conditioning plus forecast
  mean and variance, all channels).

Each ratio behind a verdict (a tsargen row or the best statistical model -- statsmodels or
statsforecast -- against the better seasonal naive, a tsargen row against the best statistical
model; MASE and sCRPS) also gets a 95% paired percentile bootstrap interval over the origins
(``ratio_interval``; report section "Which margins the origins resolve"): a verdict whose
interval contains 1 could flip with another set of origins of the same size.

Targets (report section "Targets", from the forecasting-defaults issue; all in one run, on the
test origins): the default row's MASE at most 1.05 times the better seasonal naive's on every
data set; its sCRPS below the best statistical model's on at least 4 of the 5 data sets; the
automatic mode's MASE and sCRPS below the best of every baseline and peer (seasonal naives,
statistical models, N-HiTS) on at least 4 of 5; the default row's 80% intervals covering 75-85%
of the truth on every data set. A comparison is won when the ratio of the means over the
origins is below 1; the report gives each ratio's bootstrap interval and how many the origins
resolve. CRPS targets are judged on sCRPS, which on the one-channel sets is the same ratio as
CRPS in data units (the report gives both).

Examples
--------
From the repository root::

    python -m benchmarks.forecast --threads 1       # full run (well over an hour: below)
    python -m benchmarks.forecast --quick           # smoke run, writes *_quick files
    python -m benchmarks.forecast --datasets taylor,ETTh1
    python -m benchmarks.forecast --split val       # validation origins, writes *_val files
    python -m benchmarks.forecast --split val --datasets taylor --methods WaveNet \\
        --wavenet '{"n_layers": 8, "lr": 0.001}' --out /tmp/try   # try a WaveNet setting
    python -m benchmarks.forecast --render benchmarks/results/forecast.json   # report, plots

Besides the estimator's parameters, ``--wavenet`` takes ``"fourier": [[period, K], ...]``:
known-future covariates ``sin/cos(2 pi k t / period)``, ``k = 1..K``, of the absolute position
``t`` in the series, passed as ``X`` (tried on taylor's weekly cycle; not in the kept settings).

The smoke run (``--quick``) took about 2 min before the peers; statsforecast's seasonal
AutoARIMA now dominates it: its fit on taylor's last 300 points with ``season_length=48``
alone took 17 min of wall clock on a heavily loaded machine (load average ~15 on 2 cores).
The new rows and peers make the full run much longer than the ~35 min of the earlier ones:
the default row and its three seed refits per data set, the automatic mode's candidates,
N-HiTS's 1000 steps per data set and statsforecast's AutoARIMA search (minutes per channel on
the long seasonal sets) come on top. The peers need the ``bench`` extra, installed in its own
environment (README, section Benchmarks).

The data files are read from ``--data`` (default ``../shared/data/forecasting`` relative to
the repository); a data set whose file is missing is skipped with a printed note.
``--threads`` sets torch's thread count (the committed run used 1, on a shared machine).
"""

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks import git_state
from benchmarks.forecast_peers import (AUTO, NEURAL, STATSFORECAST, AutoRow, NHiTS,
                                       StatsForecastModel, Theta, as_frame, gaussian_sampler,
                                       peer_status)
from benchmarks.report import (RESULTS, bullets, md_row, md_table, output_args, paired_bootstrap,
                               pyplot, read_json, save_figure, table_rows, write_json)
from tsargen import WaveNetForecaster
from tsargen.datasets import load_co2, load_sunspots
from tsargen.metrics import crps, mase, smape

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "forecasting"
N_DRAWS = 200
SEED = 0

# --------------------------------------------------------------------------- data sets
# Split points are positions in the series: the model is fitted on [0, start) of the evaluated
# part; "val" is the part before "test". Origins are spread evenly over the evaluated part.
DATASETS = {
    "sunspots": dict(
        period=11, horizon=11, n_origins=6, val=(177, 243), test=(243, 309),
        why_period="~11-year solar cycle (yearly data)",
        wavenet=dict(n_layers=5, residual_channels=16, skip_channels=32, max_epochs=400,
                     patience=40, batch_size=4, validation_fraction=0.2),
        ets=dict(candidates=[dict(trend=None, seasonal=None), dict(trend="add", damped_trend=True),
                             dict(trend=None, seasonal="add"),
                             dict(trend="add", damped_trend=True, seasonal="add")]),
        arima=dict(grid=[(1, 0, 0), (2, 0, 0), (3, 0, 0), (9, 0, 0), (2, 0, 1), (3, 0, 1)],
                   trend="c"),
    ),
    "co2": dict(
        period=12, horizon=12, n_origins=8, val=(334, 430), test=(430, 526),
        why_period="monthly data, yearly cycle",
        wavenet=dict(n_layers=5, residual_channels=16, skip_channels=32, max_epochs=400,
                     patience=40, batch_size=16),
        wavenet_diff=dict(n_layers=5, residual_channels=16, skip_channels=32, max_epochs=400,
                          patience=40, batch_size=4, validation_fraction=0.2),
        ets=dict(candidates=[dict(trend="add", seasonal="add"),
                             dict(trend="add", damped_trend=True, seasonal="add")]),
        arima=dict(grid=[(p, 1, q) for p in (0, 1) for q in (0, 1)],
                   seasonal_order=(0, 1, 1, 12), trend="n"),
    ),
    "taylor": dict(
        file="taylor.csv", period=48, horizon=48, n_origins=14, val=(2688, 3360),
        test=(3360, 4032),
        why_period="half-hourly electricity demand, daily cycle (the weekly cycle, 336, is "
                   "captured by the models' seasonal terms where noted, and by the weekly "
                   "seasonal naive)",
        weekly=336,
        wavenet=dict(n_layers=9, residual_channels=32, skip_channels=64, max_epochs=300,
                     patience=50, batch_size=2, lr=2e-3),
        ets=dict(candidates=[dict(trend=None, seasonal="add", seasonal_periods=336,
                                  initialization_method="heuristic"),
                             dict(trend=None, seasonal="add")]),
        wavenet_seasonal=dict(n_layers=9, residual_channels=32, skip_channels=64,
                              max_epochs=300, patience=50, batch_size=2, lr=2e-3,
                              validation_fraction=0.2, seasonal_lag=48, ema_decay=0.99),
        arima=dict(grid=[(2, 0, 1)], trend="c", fourier=[(48, 10), (336, 6)]),
    ),
    "ETTh1": dict(
        file="ETTh1.csv", period=24, horizon=24, n_origins=10, val=(8640, 11520),
        test=(11520, 14400),
        why_period="hourly data, daily cycle; standard 12/4/4-month train/val/test split",
        weekly=168,
        wavenet=dict(n_layers=7, residual_channels=32, skip_channels=64, max_epochs=100,
                     patience=15, batch_size=16),
        wavenet_seasonal=dict(n_layers=7, residual_channels=32, skip_channels=64,
                              max_epochs=100, patience=15, batch_size=16, seasonal_lag=24),
        ets=dict(candidates=[dict(trend=None, seasonal="add"),
                             dict(trend="add", damped_trend=True, seasonal="add")],
                 fit_last=3000),
        arima=dict(grid=[(2, 1, 1)], trend="n", fourier=[(24, 3)], fit_last=3000),
        var=dict(lags=24, differences=0),
        peer_fit_last=3000,     # statsforecast's models, as ETS and ARIMA above
    ),
    "exchange_rate": dict(
        file="exchange_rate.csv", period=1, horizon=30, n_origins=10, val=(4553, 6070),
        test=(6070, 7588),
        why_period="daily exchange rates behave like random walks: the file has no dates, and "
                   "on the training part the daily differences show only a small negative "
                   "lag-1 autocorrelation (-0.06 to -0.21) and nothing systematic at lags 5 or "
                   "7, so the benchmark is the naive (random-walk) forecast, period 1; "
                   "60/20/20 split",
        wavenet=dict(n_layers=6, residual_channels=32, skip_channels=64, max_epochs=100,
                     patience=15, batch_size=16),
        wavenet_diff=dict(n_layers=3, residual_channels=8, skip_channels=16,
                          distribution="student_t", max_epochs=100, patience=15, batch_size=16),
        ets=dict(candidates=[dict(trend=None, seasonal=None),
                             dict(trend="add", damped_trend=True, seasonal=None)]),
        arima=dict(grid=[(p, 1, q) for p in (0, 1) for q in (0, 1)], trend="n"),
        var=dict(maxlags=10, differences=1),
    ),
}

# The tuning log (settings tried on the validation origins) and the observations printed in
# the report are markdown files in results/, read when the report is rendered.
TUNING_LOG = RESULTS / "forecast_tuning.md"
NOTES = RESULTS / "forecast_notes.md"

# The row of a WaveNetForecaster with nothing but the horizon set (the library's defaults).
DEFAULT_ROW = "WaveNet (default)"
# Rows whose failure is reported and skipped rather than ending the run: the optional peers
# and the automatic mode (written separately; its API may still change).
OPTIONAL = (*STATSFORECAST, *NEURAL, AUTO)

# Extra WaveNet rows: (key of the data set's settings, row name, settings added to them).
VARIANTS = [("wavenet_diff", "WaveNet (diff)", dict(differences=1)),
            ("wavenet_seasonal", "WaveNet (seasonal)", {})]

QUICK = dict(n_origins=5, wavenet=dict(max_epochs=3, patience=3, n_paths=50), fit_last=300,
             n_draws=50, nhits_steps=10)


def load_values(name, data_dir):
    """Return ``(values (T, C), index or None, columns)`` or ``None`` if the file is absent."""
    if name == "sunspots":
        s = load_sunspots()
        return s.to_numpy()[:, None], s.index, [s.name]
    if name == "co2":
        s = load_co2()
        return s.to_numpy()[:, None], s.index, [s.name]
    path = Path(data_dir) / DATASETS[name]["file"]
    if not path.exists():
        print(f"[{name}] skipped: {path} not found")
        return None
    df = pd.read_csv(path)
    index = None
    if "date" in df.columns:
        index = pd.DatetimeIndex(pd.to_datetime(df.pop("date")))
    return df.to_numpy(dtype=float), index, [str(c) for c in df.columns]


def fourier(t, terms):
    """Fourier regressors ``sin/cos(2 pi k t / period)``, k = 1..K, for each (period, K)."""
    t = np.asarray(t, dtype=float)[:, None]
    cols = []
    for period, k_max in terms:
        k = np.arange(1, k_max + 1)[None]
        cols += [np.sin(2 * np.pi * k * t / period), np.cos(2 * np.pi * k * t / period)]
    return np.hstack(cols)


# --------------------------------------------------------------------------- methods
# Each method: fit(train (T0, C)) once; forecast(history (t, C), h, seed) -> (point (h, C),
# draw() -> (n, h, C)). Only the forecast call is timed as "predict"; draw() is not.
class SeasonalNaive:
    name = "seasonal naive"

    def __init__(self, period, n_draws, name=None):
        self.sp, self.n_draws = period, n_draws
        self.name = name or self.name

    def fit(self, train):
        d = train[self.sp:] - train[:-self.sp]
        self.sigma_ = np.sqrt(np.nanmean(d ** 2, axis=0))
        self.settings_ = f"period {self.sp}; sd = in-sample RMSE x sqrt(seasons ahead)"
        return self

    def forecast(self, hist, h, seed):
        k = np.arange(h)
        point = hist[len(hist) - self.sp + (k % self.sp)]
        std = self.sigma_[None] * np.sqrt(k // self.sp + 1)[:, None]
        return point, gaussian_sampler(point, std, seed, self.n_draws)


class ETS:
    name = "ETS"

    def __init__(self, period, candidates, fit_last=None, n_draws=N_DRAWS):
        self.period, self.candidates, self.fit_last, self.n_draws = (period, candidates,
                                                                    fit_last, n_draws)

    def _model(self, values, cfg):
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel
        cfg = dict(cfg)
        init = cfg.pop("initialization_method", "estimated")
        if cfg.get("seasonal"):
            cfg.setdefault("seasonal_periods", self.period)
        # pandas input: ETSResults.get_prediction fails on a model built from a numpy array
        # after smooth() (statsmodels 0.15: 'numpy.ndarray' object has no attribute 'index')
        return ETSModel(pd.Series(values), error="add", initialization_method=init, **cfg)

    def fit(self, train):
        self.start_ = 0 if self.fit_last is None else max(0, len(train) - self.fit_last)
        self.fits_, labels = [], []
        for c in range(train.shape[1]):
            best = None
            for cfg in self.candidates:
                res = self._model(train[self.start_:, c], cfg).fit(disp=False)
                if best is None or res.aic < best[1].aic:
                    best = (cfg, res)
            self.fits_.append((best[0], best[1].params))
            labels.append(_ets_label(best[0], self.period))
        self.settings_ = (f"per channel: {', '.join(sorted(set(labels)))}; AIC among "
                          f"{len(self.candidates)} candidates; fitted on the last "
                          f"{len(train) - self.start_} training points")
        return self

    def forecast(self, hist, h, seed):
        mean, std = np.empty((h, hist.shape[1])), np.empty((h, hist.shape[1]))
        for c, (cfg, params) in enumerate(self.fits_):
            res = self._model(hist[self.start_:, c], cfg).smooth(params)
            n = len(hist) - self.start_
            pred = res.get_prediction(start=n, end=n + h - 1)
            mean[:, c] = np.asarray(pred.predicted_mean)
            std[:, c] = np.sqrt(np.maximum(np.asarray(pred.forecast_variance), 0))
        return mean, gaussian_sampler(mean, std, seed, self.n_draws)


def _ets_label(cfg, period):
    trend = {None: "N", "add": "A"}[cfg.get("trend")]
    if cfg.get("damped_trend"):
        trend += "d"
    season = "N" if not cfg.get("seasonal") else f"A{cfg.get('seasonal_periods', period)}"
    init = " heuristic init" if cfg.get("initialization_method") == "heuristic" else ""
    return f"ETS(A,{trend},{season}){init}"


class ARIMAModel:
    name = "ARIMA"

    def __init__(self, grid, trend="n", seasonal_order=(0, 0, 0, 0), fourier=None,
                 fit_last=None, n_draws=N_DRAWS):
        self.grid, self.trend, self.seasonal_order = grid, trend, seasonal_order
        self.fourier, self.fit_last, self.n_draws = fourier, fit_last, n_draws

    def _exog(self, lo, hi):
        return None if not self.fourier else fourier(np.arange(lo, hi), self.fourier)

    def fit(self, train):
        from statsmodels.tsa.arima.model import ARIMA
        self.start_ = 0 if self.fit_last is None else max(0, len(train) - self.fit_last)
        exog = self._exog(self.start_, len(train))
        self.fits_, labels = [], []
        for c in range(train.shape[1]):
            best = None
            for order in self.grid:
                res = ARIMA(train[self.start_:, c], exog=exog, order=order,
                            seasonal_order=self.seasonal_order, trend=self.trend).fit()
                if best is None or res.aic < best.aic:
                    best = res
            self.fits_.append(best)
            labels.append(str(best.model.order))
        seas = "" if self.seasonal_order[3] == 0 else f" x {self.seasonal_order}"
        four = "" if not self.fourier else " + Fourier terms " + ", ".join(
            f"(period {p}, K={k})" for p, k in self.fourier)
        search = f"AIC over {len(self.grid)} orders; " if len(self.grid) > 1 else ""
        self.settings_ = (f"orders {', '.join(sorted(set(labels)))}{seas}{four}, trend "
                          f"'{self.trend}'; {search}fitted on the last "
                          f"{len(train) - self.start_} training points")
        return self

    def forecast(self, hist, h, seed):
        mean, std = np.empty((h, hist.shape[1])), np.empty((h, hist.shape[1]))
        n = len(hist)
        for c, res in enumerate(self.fits_):
            new = res.apply(hist[self.start_:, c], exog=self._exog(self.start_, n))
            fc = new.get_forecast(h, exog=self._exog(n, n + h))
            mean[:, c] = np.asarray(fc.predicted_mean)
            std[:, c] = np.sqrt(np.maximum(np.asarray(fc.var_pred_mean), 0))
        return mean, gaussian_sampler(mean, std, seed, self.n_draws)


class VARModel:
    name = "VAR"

    def __init__(self, lags=None, maxlags=None, differences=0, n_draws=N_DRAWS):
        self.lags, self.maxlags, self.d, self.n_draws = lags, maxlags, differences, n_draws

    def fit(self, train):
        from statsmodels.tsa.api import VAR
        x = np.diff(train, axis=0) if self.d else train
        model = VAR(x)
        if self.lags is None:
            self.res_ = model.fit(maxlags=self.maxlags, ic="aic")
            how = f"lag chosen by AIC up to {self.maxlags}"
        else:
            self.res_ = model.fit(self.lags)
            how = "fixed lag"
        self.settings_ = (f"VAR({self.res_.k_ar}) on {'first differences' if self.d else 'levels'}"
                          f", {how}, OLS on the whole training part")
        return self

    def forecast(self, hist, h, seed):
        p = self.res_.k_ar
        x = np.diff(hist[-(p + 1):], axis=0) if self.d else hist[-p:]
        mean = self.res_.forecast(x, h)
        if self.d:
            mean = hist[-1] + np.cumsum(mean, axis=0)

        def draw():
            sims = self.res_.simulate_var(steps=p + h, initial_values=x,
                                          nsimulations=self.n_draws,
                                          rng=np.random.default_rng(seed))[:, p:]
            return hist[-1] + np.cumsum(sims, axis=1) if self.d else sims
        return mean, draw


class WaveNet:
    """WaveNetForecaster on the levels (row "WaveNet"), with its ``differences=1`` option (row
    "WaveNet (diff)": the network models first differences and the sample paths are integrated
    back to levels by the estimator), with a ``seasonal_lag`` (row "WaveNet (seasonal)": the
    network models seasonal differences, set in the data set's ``wavenet_seasonal``) or with
    nothing but the horizon set (row "WaveNet (default)", given pandas input with the data
    set's time index where it has one: ``frame``)."""

    def __init__(self, params, n_draws=N_DRAWS, name="WaveNet", seed=SEED, frame=None):
        self.params, self.n_draws, self.name, self.seed = dict(params), n_draws, name, seed
        self.frame = frame

    def _covariates(self, n):
        """Known-future Fourier covariates of the first ``n`` timesteps (``None`` without)."""
        terms = self.params.get("fourier")
        return None if not terms else fourier(np.arange(n), terms)

    def fit(self, train):
        params = {k: v for k, v in self.params.items() if k != "fourier"}
        self.model_ = WaveNetForecaster(random_state=self.seed, **params).fit(
            as_frame(train, self.frame), X=self._covariates(len(train)))
        m = self.model_
        val = np.asarray(m.val_loss_curve_)
        best = int(np.argmin(val)) + 1 if len(val) else m.n_iter_
        self.info_ = dict(receptive_field=m.receptive_field_, epochs=m.n_iter_,
                          best_epoch=best, max_epochs=m.get_params()["max_epochs"],
                          train_nll=float(m.loss_curve_[best - 1]),
                          val_nll=float(val[best - 1]) if len(val) else None)
        # what the automatic settings chose, where the estimator has them (fitted attributes)
        chosen = [f"{a}={getattr(m, a)}" for a in ("differences_", "seasonal_lag_")
                  if hasattr(m, a)]
        self.settings_ = (", ".join(f"{k}={v}" for k, v in self.params.items())
                          + f", random_state={self.seed}"
                          + (" (the rest at the estimator's defaults)"
                             if self.name == DEFAULT_ROW else "")
                          + ("; pandas input with its time index" if self.frame and
                             self.frame[0] is not None else "")
                          + "".join(f"; {c}" for c in chosen)
                          + f"; receptive field {m.receptive_field_}; "
                          f"stopped after {m.n_iter_} epochs (best {best})")
        return self

    def forecast(self, hist, h, seed):
        X = self._covariates(len(hist) + h)
        hist = as_frame(hist, self.frame)
        point = self.model_.predict(h, y=hist, X=X)
        return point, lambda: self.model_.sample(self.n_draws, h, y=hist, X=X,
                                                 random_state=seed)



def make_methods(spec, n_channels, quick, n_draws, only=None, overrides=None, frame=None):
    """The rows of one data set, in report order; ``frame`` ``(index, columns)`` is what the
    default and automatic rows get as pandas input. Optional peers that are not importable
    are left out (``peer_status``)."""
    fit_last = QUICK["fit_last"] if quick else None
    ets_cfg, arima_cfg = dict(spec["ets"]), dict(spec["arima"])
    var_cfg = dict(spec.get("var", {}))
    if quick:  # smoke run: one small candidate each, short fitting window, few lags
        fits = [c for c in ets_cfg["candidates"] if not c.get("seasonal")
                or 2 * c.get("seasonal_periods", spec["period"]) < fit_last]
        ets_cfg["candidates"] = fits[:1] or [dict(trend=None, seasonal=None)]
        p, d, q = arima_cfg["grid"][0]
        arima_cfg["grid"] = [(1, d, 0)]
        ets_cfg["fit_last"] = arima_cfg["fit_last"] = fit_last
        if arima_cfg.get("fourier"):
            arima_cfg["fourier"] = [(period, 1) for period, k in arima_cfg["fourier"]]
        if var_cfg:
            var_cfg.update(lags=2, maxlags=None)
    methods = [SeasonalNaive(spec["period"], n_draws)]
    if spec.get("weekly"):
        methods.append(SeasonalNaive(spec["weekly"], n_draws, name=WEEKLY))
    methods += [ETS(spec["period"], n_draws=n_draws, **ets_cfg),
               ARIMAModel(n_draws=n_draws, **arima_cfg),
               Theta(spec["period"], n_draws, fit_last=ets_cfg.get("fit_last"))]
    if n_channels > 1 and "var" in spec:
        methods.append(VARModel(n_draws=n_draws, **var_cfg))
    status = peer_status()
    peer_last = fit_last or spec.get("peer_fit_last")
    if not status["statsforecast"].startswith("not importable"):
        methods += [StatsForecastModel(name, spec["period"], n_draws, fit_last=peer_last)
                    for name in STATSFORECAST]
    if not status["neuralforecast"].startswith("not importable"):
        methods.append(NHiTS(spec["horizon"], n_draws, SEED,
                             max_steps=QUICK["nhits_steps"] if quick else None))
    params = dict(spec["wavenet"], horizon=spec["horizon"])
    if quick:
        params.update(QUICK["wavenet"])
    params.update(overrides or {})
    methods.append(WaveNet(params, n_draws))
    for key, name, extra in VARIANTS:
        if key in spec:
            params = dict(spec[key], horizon=spec["horizon"], **extra)
            if quick:
                params.update(QUICK["wavenet"])
            params.update(overrides or {})
            methods.append(WaveNet(params, n_draws, name))
    # the library's defaults: nothing but the horizon (and the seed) set, never --wavenet
    params = dict(horizon=spec["horizon"], **(QUICK["wavenet"] if quick else {}))
    methods.append(WaveNet(params, n_draws, DEFAULT_ROW, frame=frame))
    if status[AUTO] == "importable":
        methods.append(AutoRow(spec["horizon"], n_draws, SEED, frame=frame,
                               quick=QUICK["wavenet"] if quick else None))
    return [m for m in methods if only is None or m.name in only]


# --------------------------------------------------------------------------- backtest
def evaluate(method, y, train, origins, h, sp, scale):
    """Forecast from every origin with a fitted method: per-origin metrics, the last origin's
    point forecast and quantiles (for the fan chart) and the mean predict time."""
    rows, pred_s = [], []
    for k, o in enumerate(origins):
        hist, truth = y[:o], y[o:o + h]
        t0 = time.perf_counter()
        point, draw = method.forecast(hist, h, seed=SEED + k)
        pred_s.append(time.perf_counter() - t0)
        point = np.asarray(point, dtype=float).reshape(h, -1)
        samples = np.asarray(draw(), dtype=float).reshape(-1, h, y.shape[1])
        c = crps(truth, samples)                                           # (h, C)
        q10, q90 = np.quantile(samples, [0.1, 0.9], axis=0)
        rows.append(dict(
            mase=mase(truth, point, train, sp), smape=smape(truth, point),
            crps=float(np.mean(c)), scrps=float(np.mean(c.mean(axis=0) / scale)),
            cov80=float(np.mean((truth >= q10) & (truth <= q90))),
            bias=float(np.mean((point - truth).mean(axis=0) / scale))))
    last = dict(origin=int(origins[-1]), q10=q10.tolist(),
                q50=np.median(samples, axis=0).tolist(), q90=q90.tolist(), point=point.tolist())
    return pd.DataFrame(rows), last, float(np.mean(pred_s))


def backtest(name, data_dir, split, quick, only=None, overrides=None, spread_seeds=0):
    spec = DATASETS[name]
    loaded = load_values(name, data_dir)
    if loaded is None:
        return None
    y, index, columns = loaded
    lo, hi = spec[split]
    h, sp = spec["horizon"], spec["period"]
    n_origins = QUICK["n_origins"] if quick else spec["n_origins"]
    n_draws = QUICK["n_draws"] if quick else N_DRAWS
    origins = np.linspace(lo, hi - h, n_origins).round().astype(int)
    train = y[:lo]
    scale = np.nanmean(np.abs(train[sp:] - train[:-sp]), axis=0)
    out = dict(name=name, split=split, n_train=lo, n_total=len(y), channels=columns,
               period=sp, horizon=h, origins=origins.tolist(), why_period=spec["why_period"],
               methods={}, fan=None)
    print(f"[{name}] T={len(y)} C={y.shape[1]} train={lo} origins={origins.tolist()} h={h}",
          flush=True)
    for method in make_methods(spec, y.shape[1], quick, n_draws, only, overrides,
                               frame=(index, columns)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                t0 = time.perf_counter()
                method.fit(train)
                fit_s = time.perf_counter() - t0
                per_origin, last, pred_s = evaluate(method, y, train, origins, h, sp, scale)
            except Exception as exc:  # an optional row's failure is reported
                if method.name not in OPTIONAL:
                    raise
                out.setdefault("failed", {})[method.name] = f"{type(exc).__name__}: {exc}"
                print(f"  {method.name:15s} FAILED: {type(exc).__name__}: {exc}", flush=True)
                continue
        if method.name in WAVENETS and out["fan"] is None:   # the first WaveNet row present
            out["fan"] = dict(last, method=method.name)
        out.setdefault("last_points", {})[method.name] = last["point"]
        res = dict(per_origin.mean().to_dict(), fit_s=fit_s, predict_s=pred_s,
                   fit_s_per_channel=fit_s / y.shape[1],
                   settings=method.settings_, per_origin=per_origin.to_dict(orient="list"))
        if isinstance(method, WaveNet):
            res["info"] = method.info_
        out["methods"][method.name] = res
        print(f"  {method.name:15s} MASE {res['mase']:.3f}  sMAPE {res['smape']:6.2f}  "
              f"sCRPS {res['scrps']:.3f}  cov80 {res['cov80']:.2f}  fit {fit_s:6.1f}s  "
              f"predict {res['predict_s']:.2f}s  | {method.settings_}", flush=True)
        if isinstance(method, WaveNet) and spread_seeds:
            res["seed_spread"] = seed_spread(method, res, spread_seeds, n_draws,
                                             (y, train, origins, h, sp, scale))
    # diagnostics for the summary: how far the evaluated part leaves the training range
    ev = y[origins[0]:origins[-1] + h]
    span = np.nanmax(train, axis=0) - np.nanmin(train, axis=0)
    above = (np.nanmax(ev, axis=0) - np.nanmax(train, axis=0)) / span
    below = (np.nanmin(train, axis=0) - np.nanmin(ev, axis=0)) / span
    out["outside_range"] = float(np.max(np.maximum(above, below)))
    out["_plot"] = dict(y=y, index=index)
    return out


def seed_spread(method, res, n_seeds, n_draws, problem):
    """The reported row is the fit with random_state=SEED; refits with ``n_seeds`` other seeds
    show how much of a margin is run-to-run noise (they are not used for any choice).
    ``problem``: the arguments of :func:`evaluate` after the method."""
    spread = dict(seeds=[method.seed], mase=[res["mase"]], scrps=[res["scrps"]],
                  cov80=[res["cov80"]])
    y, train = problem[:2]
    for seed in range(SEED + 1, SEED + 1 + n_seeds):
        refit = WaveNet(method.params, n_draws, method.name, seed=seed, frame=method.frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other = evaluate(refit.fit(train), *problem)[0]
        spread["seeds"].append(seed)
        for key in ("mase", "scrps", "cov80"):
            spread[key].append(float(other[key].mean()))
    print(f"  {'':15s} seeds {spread['seeds']}: MASE "
          + " ".join(f"{m:.3f}" for m in spread["mase"]), flush=True)
    return spread


# --------------------------------------------------------------------------- reporting
def _fmt(x, nd=3):
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def _sig(x):
    """Three decimals, or four significant digits for values below 0.1."""
    if x is None or math.isnan(x):
        return "–"
    return f"{x:.3f}" if abs(x) >= 0.1 or x == 0 else f"{x:.4g}"


def _per_channel(r, m):
    """Fit seconds per series and channel (one series per data set; JSON files written before
    the column existed lack the key)."""
    return m.get("fit_s_per_channel", m["fit_s"] / len(r["channels"]))


def method_table(r):
    lines = ["| method | MASE | sMAPE % | CRPS | sCRPS | cov80 | bias | fit s | fit s per "
             "channel | predict s | settings |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = ("mase", "smape", "crps", "scrps")
    best = {k: min(m[k] for m in r["methods"].values()) for k in keys}
    for name, m in r["methods"].items():
        cells = []
        for k in keys:
            s = _fmt(m[k], 2) if k == "smape" else _sig(m[k])
            cells.append(f"**{s}**" if m[k] == best[k] else s)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {m['cov80']:.2f} | "
                     f"{m['bias']:+.2f} | {m['fit_s']:.1f} | {_per_channel(r, m):.1f} | "
                     f"{m['predict_s']:.2f} | {m['settings']} |")
    return "\n".join(lines)


WAVENETS = ("WaveNet", "WaveNet (diff)", "WaveNet (seasonal)", DEFAULT_ROW)
TSARGEN = (*WAVENETS, AUTO)         # every tsargen row (AUTO: the automatic mode)
STATSMODELS = ("ETS", "ARIMA", "VAR", "Theta")
STATS = (*STATSMODELS, *STATSFORECAST)   # the statistical models a verdict compares with
WEEKLY = "seasonal naive (weekly)"
NAIVES = ("seasonal naive", WEEKLY)
ALL_METHODS = [*NAIVES, *STATSMODELS, *STATSFORECAST, *NEURAL, *TSARGEN]
TIE = 0.02          # verdict cells call a ratio within 2% of 1 a tie
LONG_SETS = {"taylor", "ETTh1", "exchange_rate"}


def verdicts(r, wn_name="WaveNet"):
    """A tsargen row against the better seasonal naive (daily or weekly, per metric) and the
    best statistical model (statsmodels or statsforecast), on MASE, sCRPS and CRPS in data
    units."""
    ms = r["methods"]
    stats = {k: v for k, v in ms.items() if k in STATS}
    naives = {k: v for k, v in ms.items() if k in NAIVES}
    if wn_name not in ms or "seasonal naive" not in ms or not stats:
        return None
    wn = ms[wn_name]
    out = dict(dataset=r["name"])
    for metric in ("mase", "scrps", "crps"):
        best_name = min(stats, key=lambda k: stats[k][metric])
        naive_name = min(naives, key=lambda k: naives[k][metric])
        out[f"{metric}_vs_naive"] = wn[metric] / naives[naive_name][metric]
        out[f"{metric}_naive"] = naive_name
        out[f"{metric}_vs_best"] = wn[metric] / stats[best_name][metric]
        out[f"{metric}_best"] = best_name
    a = np.asarray(wn["per_origin"]["mase"])
    b = np.asarray(stats[out["mase_best"]]["per_origin"]["mase"])
    out["origins_won"], out["n_origins"] = int(np.sum(a < b)), len(a)
    return out


BOOT = 10000        # paired bootstrap resamples of the origins


def ratio_interval(a, b, level=0.95, n_boot=BOOT, seed=0):
    """``mean(a) / mean(b)`` of two per-origin metric arrays and its paired percentile bootstrap
    interval: the origins are resampled with replacement (the same draw for both methods), so
    the interval shows how much the ratio moves with which origins happen to be evaluated."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    lo, hi = paired_bootstrap(lambda idx: a[idx].mean(1) / b[idx].mean(1), len(a), level,
                              n_boot, seed)
    return float(a.mean() / b.mean()), lo, hi


def noise_rows(r):
    """Per tsargen row (and for the best statistical model): ratios to the better seasonal
    naive and to the best statistical model on MASE and sCRPS, with bootstrap intervals."""
    ms = r["methods"]
    stats = {k: v for k, v in ms.items() if k in STATS}
    naives = {k: v for k, v in ms.items() if k in NAIVES}
    if not stats or "seasonal naive" not in ms:
        return []
    rows = []
    for metric in ("mase", "scrps"):
        naive = min(naives, key=lambda k: naives[k][metric])
        best = min(stats, key=lambda k: stats[k][metric])
        pairs = [(best, naive)] + [(w, ref) for w in TSARGEN if w in ms
                                   for ref in (naive, best)]
        for x, ref in pairs:
            ratio, lo, hi = ratio_interval(ms[x]["per_origin"][metric],
                                           ms[ref]["per_origin"][metric])
            rows.append(dict(dataset=r["name"], metric=metric, method=x, ref=ref, ratio=ratio,
                             lo=lo, hi=hi, n=len(r["origins"])))
    return rows


def noise_table(results):
    lines = ["| data set | metric | method | vs | ratio | 95% interval over origins | "
             "verdict |", "|---|---|---|---|---|---|---|"]
    for r in results:
        for row in noise_rows(r):
            word = ("better" if row["hi"] < 1 else "worse" if row["lo"] > 1 else
                    "not resolved")
            lines.append(f"| {row['dataset']} ({row['n']} origins) | "
                         f"{'MASE' if row['metric'] == 'mase' else 'sCRPS'} | {row['method']} | "
                         f"{row['ref']} | {row['ratio']:.3f} | {row['lo']:.3f}-{row['hi']:.3f} "
                         f"| {word} |")
    return "\n".join(lines) if len(lines) > 2 else None


# --------------------------------------------------------------------------- the issue's targets
COVERAGE = (0.75, 0.85)      # the default row's 80% intervals must cover this share
NAIVE_SLACK = 1.05           # the default row's MASE at most this times the seasonal naive's
MIN_WINS = 4                 # data sets (of the five) the comparisons below must win


def _best(ms, names, metric):
    """The row among ``names`` with the lowest ``metric`` (``None`` if none is present)."""
    rows = [k for k in ms if k in names]
    return min(rows, key=lambda k: ms[k][metric]) if rows else None


def _ratio(ms, x, ref, metric):
    """``(ratio, lo, hi, ref)``: ``x`` over ``ref`` on ``metric`` with its bootstrap interval."""
    return (*ratio_interval(ms[x]["per_origin"][metric], ms[ref]["per_origin"][metric]), ref)


def target_numbers(r):
    """The numbers the issue's targets are judged on, for one data set: the default row's MASE
    against the better seasonal naive, its sCRPS against the best statistical model and its
    coverage; the automatic mode's MASE and sCRPS against the best of every baseline and
    peer. Ratios come with their 95% paired bootstrap intervals over the origins."""
    ms = r["methods"]
    out = dict(dataset=r["name"])
    everyone = (*NAIVES, *STATS, *NEURAL)
    if DEFAULT_ROW in ms:
        naive, stat = _best(ms, NAIVES, "mase"), _best(ms, STATS, "scrps")
        if naive:
            out["default_mase"] = _ratio(ms, DEFAULT_ROW, naive, "mase")
        if stat:
            out["default_scrps"] = _ratio(ms, DEFAULT_ROW, stat, "scrps")
            out["default_crps"] = ms[DEFAULT_ROW]["crps"] / ms[stat]["crps"]
        out["default_cov80"] = ms[DEFAULT_ROW]["cov80"]
    if AUTO in ms:
        for metric in ("mase", "scrps"):
            ref = _best(ms, everyone, metric)
            if ref:
                out[f"auto_{metric}"] = _ratio(ms, AUTO, ref, metric)
    return out


def _cell(x):
    ratio, lo, hi, ref = x
    return f"{ratio:.3f} ({lo:.3f}-{hi:.3f}) vs {ref}"


def targets_lines(results, meta):
    """The "Targets" section: each target of the issue, met or missed, with the numbers."""
    nums = [target_numbers(r) for r in results]
    n = len(results)

    def judged(key, ok, need_all):
        have = [t for t in nums if key in t]
        wins = [t for t in have if ok(t)]
        if not have:
            return "not evaluated (no such row in this run)", wins, have
        met = len(wins) == len(have) if need_all else len(wins) >= MIN_WINS
        word = "**met**" if met else "**missed**"
        return f"{word} ({len(wins)} of {len(have)} data sets)", wins, have

    def resolved(key):
        return sum(t[key][2] < 1 for t in nums if key in t)
    rows = []
    verdict, _, have = judged("default_mase", lambda t: t["default_mase"][0] <= NAIVE_SLACK,
                              need_all=True)
    rows.append(("default row's MASE never worse than 1.05x the better seasonal naive (daily "
                 "or weekly)", f"ratio <= {NAIVE_SLACK} on every data set", verdict,
                 "; ".join(f"{t['dataset']} {t['default_mase'][0]:.3f}" for t in have)))
    verdict, _, have = judged("default_scrps", lambda t: t["default_scrps"][0] < 1,
                              need_all=False)
    rows.append(("default row beats the best statsmodels/statsforecast model on CRPS",
                 f"sCRPS ratio < 1 on at least {MIN_WINS} of 5", verdict,
                 "; ".join(f"{t['dataset']} {t['default_scrps'][0]:.3f} vs "
                           f"{t['default_scrps'][3]}" for t in have)
                 + (f" ({resolved('default_scrps')} resolved below 1 by the bootstrap)"
                    if have else "")))
    for metric, label in (("mase", "MASE"), ("scrps", "CRPS")):
        key = f"auto_{metric}"
        verdict, _, have = judged(key, lambda t, k=key: t[k][0] < 1, need_all=False)
        if not have and meta.get("peers", {}).get(AUTO, "importable") != "importable":
            verdict = f"not evaluated: {AUTO} is not importable (see Optional rows above)"
        rows.append((f"automatic mode beats the best of all baselines and peers on {label}",
                     f"{'sCRPS' if metric == 'scrps' else 'MASE'} ratio < 1 on at least "
                     f"{MIN_WINS} of 5", verdict,
                     "; ".join(f"{t['dataset']} {t[key][0]:.3f} vs {t[key][3]}" for t in have)
                     + (f" ({resolved(key)} resolved below 1 by the bootstrap)"
                        if have else "")))
    lo, hi = COVERAGE
    verdict, _, have = judged("default_cov80", lambda t: lo <= t["default_cov80"] <= hi,
                              need_all=True)
    rows.append(("default row's central 80% intervals cover 75-85% of the truth",
                 f"{lo:.2f} <= cov80 <= {hi:.2f} on every data set", verdict,
                 "; ".join(f"{t['dataset']} {t['default_cov80']:.2f}" for t in have)))
    detail = [(t["dataset"],
               *(_cell(t[k]) if k in t else "–" for k in ("default_mase", "default_scrps")),
               f"{t['default_crps']:.3f}" if "default_crps" in t else "–",
               f"{t['default_cov80']:.2f}" if "default_cov80" in t else "–",
               *(_cell(t[k]) if k in t else "–" for k in ("auto_mase", "auto_scrps")))
              for t in nums]
    return (["## Targets", "",
             f"The targets of the issue, judged on the test origins of this run ({n} data "
             f"set(s); the targets are stated for 5). `{DEFAULT_ROW}` is "
             "`WaveNetForecaster(horizon=h, random_state=0)`; the automatic mode is "
             f"`{AUTO}(horizon=h, random_state=0)`. A comparison counts as won when the ratio "
             "of the means over the origins is below 1; the 95% paired bootstrap interval "
             "over the origins (section \"Which margins the origins resolve\") says whether "
             "the origins resolve it. CRPS targets are judged on sCRPS (CRPS over the MASE "
             "scale per channel, averaged over channels); on the one-channel sets this is the "
             "same ratio as CRPS in data units, whose ratio the detail table also gives."
             + (" QUICK smoke settings: these verdicts mean nothing." if meta["quick"] else ""),
             ""]
            + md_table(["target", "criterion", "result", "numbers"], rows)
            + ["", "Per data set (ratio, 95% interval, reference row):", ""]
            + md_table(["data set", f"{DEFAULT_ROW} MASE / better seasonal naive",
                        f"{DEFAULT_ROW} sCRPS / best statistical",
                        "same, CRPS in data units", f"{DEFAULT_ROW} cov80",
                        f"{AUTO} MASE / best baseline or peer",
                        f"{AUTO} sCRPS / best baseline or peer"], detail)
            + [""])


def summary_table(results):
    lines = ["| data set | model | MASE / seasonal naive | sCRPS / seasonal naive | CRPS / "
             "seasonal naive | MASE / best statistical | sCRPS / best statistical | CRPS / best "
             "statistical | origins won on MASE vs that model |",
             "|---|---|---|---|---|---|---|---|---|"]

    def cell(x, extra=""):
        word = "tie" if abs(x - 1) < TIE else "win" if x < 1 else "**loss**"
        return f"{x:.2f} ({word}{extra})"

    def naive(v, metric):
        return "" if v[f"{metric}_naive"] == "seasonal naive" else ", vs weekly"
    for r in results:
        for wn_name in TSARGEN:
            v = verdicts(r, wn_name)
            if v is None:
                continue
            name = r["name"] + (" (target)" if r["name"] in LONG_SETS else "")
            lines.append(f"| {name} | {wn_name} | "
                         + " | ".join(cell(v[f"{m}_vs_naive"], naive(v, m))
                                      for m in ("mase", "scrps", "crps")) + " | "
                         + " | ".join(cell(v[f"{m}_vs_best"], ", vs " + v[f"{m}_best"])
                                      for m in ("mase", "scrps", "crps"))
                         + f" | {v['origins_won']}/{v['n_origins']} |")
    return "\n".join(lines)


def spread_table(results):
    """WaveNet rows refitted with other seeds: mean and range of MASE and sCRPS, next to the
    best statistical model, and how many seeds beat it."""
    lines = ["| data set | row | seeds | MASE seed 0 | MASE mean (min-max) | sCRPS mean (min-max) "
             "| best statistical MASE / sCRPS | seeds better on MASE / sCRPS |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        stats = {k: v for k, v in r["methods"].items() if k in STATS}
        for wn_name in WAVENETS:
            sp = r["methods"].get(wn_name, {}).get("seed_spread")
            if not sp or not stats:
                continue
            m, c = np.asarray(sp["mase"]), np.asarray(sp["scrps"])
            bm = min(stats, key=lambda k: stats[k]["mase"])
            bc = min(stats, key=lambda k: stats[k]["scrps"])
            lines.append(
                f"| {r['name']} | {wn_name} | {len(m)} | {_sig(m[0])} | {_sig(m.mean())} "
                f"({_sig(m.min())}-{_sig(m.max())}) | {_sig(c.mean())} ({_sig(c.min())}-"
                f"{_sig(c.max())}) | {bm} {_sig(stats[bm]['mase'])} / {bc} "
                f"{_sig(stats[bc]['scrps'])} | {int(np.sum(m < stats[bm]['mase']))}/{len(m)} / "
                f"{int(np.sum(c < stats[bc]['scrps']))}/{len(c)} |")
    return "\n".join(lines) if len(lines) > 2 else None


def overview_table(results):
    methods = [m for m in ALL_METHODS if any(m in r["methods"] for r in results)]
    head = "| data set | metric | " + " | ".join(methods) + " |"
    lines = [head, "|---|---|" + "---|" * len(methods)]
    for r in results:
        for key, label, nd in (("mase", "MASE", 3), ("smape", "sMAPE %", 2),
                               ("crps", "CRPS", 3), ("scrps", "sCRPS", 3), ("cov80", "cov80", 2),
                               ("fit_s_per_channel", "fit s per channel", 1)):
            vals = {m: (_per_channel(r, r["methods"][m]) if key == "fit_s_per_channel"
                        else r["methods"][m][key]) for m in methods if m in r["methods"]}
            best = min(vals.values()) if vals and key not in ("cov80", "fit_s_per_channel") \
                else None
            cells = []
            for m in methods:
                if m not in vals:
                    cells.append("–")
                else:
                    s = _fmt(vals[m], nd) if key in ("smape", "cov80", "fit_s_per_channel") \
                        else _sig(vals[m])
                    cells.append(f"**{s}**" if vals[m] == best else s)
            lines.append(f"| {r['name']} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _sentence(r, wn_name):
    v = verdicts(r, wn_name)
    if v is None:
        return None
    wn = r["methods"][wn_name]
    parts = []
    beat_naive = v["mase_vs_naive"] < 1 and v["scrps_vs_naive"] < 1
    naive = ("seasonal naive" if WEEKLY not in r["methods"]
             else "the better seasonal naive (daily or weekly)")
    parts.append(f"beats {naive} on MASE and sCRPS" if beat_naive else
                 f"does **not** beat {naive} on "
                 + " and ".join(k for k, x in (("MASE", v["mase_vs_naive"]),
                                               ("sCRPS", v["scrps_vs_naive"])) if x >= 1))
    wins = [k for k, x in (("MASE", v["mase_vs_best"]), ("sCRPS", v["scrps_vs_best"])) if x < 1]
    verdict = ("beats" if len(wins) == 2 else "does **not** beat" if not wins else
               f"beats only on {wins[0]}")
    parts.append(f"{verdict} the best statistical model (MASE x{v['mase_vs_best']:.2f} vs "
                 f"{v['mase_best']}, sCRPS x{v['scrps_vs_best']:.2f} vs {v['scrps_best']})")
    notes = []
    for ref, label in (("naive", v["crps_naive"]), ("best", v["crps_best"])):
        if (v[f"crps_vs_{ref}"] < 1) != (v[f"scrps_vs_{ref}"] < 1):
            notes.append(f"in data units its CRPS is x{v[f'crps_vs_{ref}']:.2f} that of "
                         f"{label}, the opposite verdict to sCRPS (the scaled and the raw "
                         "average weigh the channels differently)")
    if wn_name == "WaveNet" and r["outside_range"] > 0.02:
        notes.append(f"the evaluated part leaves the training range by up to "
                     f"{100 * r['outside_range']:.0f}% of the training span, so the network "
                     "has to produce levels it never saw in training")
    sn_bias = r["methods"]["seasonal naive"]["bias"]
    if abs(wn["bias"]) > 0.3 * wn["mase"] and abs(wn["bias"] - sn_bias) > 0.2 * wn["mase"]:
        notes.append(f"its point forecasts are biased ({wn['bias']:+.2f} MASE-scale units on "
                     f"average, forecast minus truth; seasonal naive {sn_bias:+.2f})")
    if wn["cov80"] < 0.7 or wn["cov80"] > 0.9:
        notes.append(f"its 80% intervals cover {100 * wn['cov80']:.0f}% of the truth")
    info = wn.get("info", {})
    if info and info["epochs"] >= info["max_epochs"]:
        notes.append(f"training hit max_epochs={info['max_epochs']} without early stopping "
                     "(more epochs may help)")
    text = f"{wn_name} " + "; ".join(parts) + "."
    if notes:
        text += " Note: " + "; ".join(notes) + "."
    return text


def narrative(results):
    """Plain statements derived from the numbers (no hand-written claims)."""
    out = []
    for r in results:
        texts = [t for t in (_sentence(r, w) for w in TSARGEN) if t]
        if texts:
            target = " (target set)" if r["name"] in LONG_SETS else ""
            out.append(f"- **{r['name']}**{target}: " + " ".join(texts))
    return "\n".join(out)


def plot_results(results, out_dir, stem):
    """Fan charts of the last origin, the MASE/sCRPS bar chart and the seed-spread chart."""
    plt = pyplot()
    files = [plot_fan(r, out_dir / f"{stem}_fan_{r['name']}.png", plt) for r in results
             if r.get("fan") is not None]
    files.append(plot_scores(results, out_dir / f"{stem}_mase.png", plt))
    # a ratio needs a statistical row of the same data set (absent with --methods WaveNet)
    rows = [(r, m) for r in results for m in WAVENETS
            if r["methods"].get(m, {}).get("seed_spread")
            and any(k in r["methods"] for k in STATS)]
    if rows:
        files.append(plot_seed_spread(rows, out_dir / f"{stem}_seeds.png", plt))
    return files


def plot_fan(r, path, plt):
    """History, truth, the first WaveNet row's median and 80% band and the other rows' point
    forecasts at the last origin, one panel per channel."""
    y, index = r["_plot"]["y"], r["_plot"]["index"]
    o, h, fan = r["fan"]["origin"], r["horizon"], r["fan"]
    n_hist = min(o, max(3 * h, 3 * r["period"], 36))
    c = y.shape[1]
    ncols = 1 if c == 1 else 2
    nrows = math.ceil(c / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(10 if c > 1 else 8, 2.4 * nrows + 0.6),
                             squeeze=False)
    t_hist, t_fut = np.arange(o - n_hist, o), np.arange(o, o + h)
    q10, q90 = np.asarray(fan["q10"]), np.asarray(fan["q90"])
    others = r.get("last_points", {})
    fan_name = fan.get("method", "WaveNet")
    for ch in range(nrows * ncols):
        ax = axes[ch // ncols][ch % ncols]
        if ch >= c:
            ax.axis("off")
            continue
        ax.plot(t_hist, y[o - n_hist:o, ch], color="0.3", lw=1, label="history")
        ax.plot(t_fut, y[o:o + h, ch], color="k", lw=1.2, label="truth")
        ax.fill_between(t_fut, q10[:, ch], q90[:, ch], color="C0", alpha=0.3,
                        label=f"{fan_name} 80%")
        ax.plot(t_fut, np.asarray(fan["point"])[:, ch], color="C0", lw=1.5,
                label=f"{fan_name} median")
        for j, m in enumerate(("seasonal naive", "ETS", "ARIMA", "VAR", "WaveNet (diff)",
                               "WaveNet (seasonal)", DEFAULT_ROW, AUTO)):
            if m in others and m != fan_name:
                ax.plot(t_fut, np.asarray(others[m])[:, ch], lw=0.9, ls="--",
                        color=f"C{j + 1}", label=m)
        ax.set_title(r["channels"][ch], fontsize=9)
        ax.tick_params(labelsize=7)
    when = f" (origin {index[o]:%Y-%m-%d %H:%M})" if index is not None else ""
    fig.suptitle(f"{r['name']}: last origin t={o}{when}, horizon {h}", fontsize=10)
    axes[0][0].legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


COLORS = {"seasonal naive": "C1", WEEKLY: "C7", "ETS": "C2", "ARIMA": "C3", "VAR": "C4",
          "Theta": "C5", "AutoETS": "#8fbc8f", "AutoARIMA": "#e9967a", "AutoTheta": "#d2b48c",
          "N-HiTS": "#9370db", "WaveNet": "C0", "WaveNet (diff)": "C9",
          "WaveNet (seasonal)": "C6", DEFAULT_ROW: "#00008b", AUTO: "k"}


def plot_scores(results, path, plt):
    """MASE and sCRPS of every method on every data set (bars, log scale)."""
    methods = [m for m in ALL_METHODS if any(m in r["methods"] for r in results)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    names = [r["name"] for r in results]
    width = 0.8 / len(methods)
    for ax, key, label in ((axes[0], "mase", "MASE"), (axes[1], "scrps", "scaled CRPS")):
        for j, m in enumerate(methods):
            vals = [r["methods"].get(m, {}).get(key, np.nan) for r in results]
            ax.bar(np.arange(len(names)) + (j - (len(methods) - 1) / 2) * width, vals, width,
                   label=m, color=COLORS[m])
        ax.set_xticks(np.arange(len(names)), names, fontsize=8)
        ax.set_ylabel(label + " (log scale)")
        ax.set_yscale("log")
        if key == "mase":
            ax.axhline(1.0, color="0.5", lw=0.6)
        ax.set_title(f"{label} per method (lower is better)", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(methods), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return save_figure(fig, path, dpi=90)


def plot_seed_spread(rows, path, plt):
    """MASE and sCRPS of every seed of every WaveNet row, as a ratio to the best statistical
    model of its data set (below the line: WaveNet better)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(rows) + 1.4), sharey=True)
    labels = [f"{r['name']}: {m}" for r, m in rows]
    for ax, key, label in ((axes[0], "mase", "MASE"), (axes[1], "scrps", "sCRPS")):
        for i, (r, m) in enumerate(rows):
            stats = [v[key] for k, v in r["methods"].items() if k in STATS]
            ratio = np.asarray(r["methods"][m]["seed_spread"][key]) / min(stats)
            ax.plot(ratio[1:], np.full(len(ratio) - 1, i), "o", color="0.55", ms=5,
                    label="other seeds" if i == 0 else None)
            ax.plot(ratio[:1], [i], "o", color="C0", ms=7, label="seed 0 (reported)"
                    if i == 0 else None)
        ax.axvline(1.0, color="C3", lw=1, label="best statistical model")
        ax.set_xscale("log")
        ax.set_xlabel(f"{label} / best statistical {label} (log scale; < 1: WaveNet better)",
                      fontsize=8)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(range(len(rows)), labels)
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Seed spread of the WaveNet rows", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def write_report(results, meta, stem, plots):
    lines = (_intro_lines(meta) + targets_lines(results, meta)
             + _summary_lines(results, meta, stem) + _settings_lines(results)
             + [line for r in results for line in _dataset_lines(r, stem, plots)])
    return "\n".join(lines)


def _peer_line(meta):
    """Which optional peers (and the automatic mode) this run had."""
    peers = meta.get("peers")
    if not peers:
        return []
    return ["Optional rows: " + "; ".join(f"{k} {v}" for k, v in peers.items())
            + ". A row whose package is not importable is left out; rows that failed: "
            + (", ".join(f"{d}: {m} ({e})" for d, f in meta.get("failed", {}).items()
                         for m, e in f.items()) or "none") + ".", ""]


def _intro_lines(meta):
    return ["# Forecast backtest: tsargen forecasters vs statistical baselines and peers",
            "",
            f"Generated by `{meta['command']}` — split `{meta['split']}`"
            f"{', QUICK smoke settings (not meaningful)' if meta['quick'] else ''}; total run "
            f"time {meta['elapsed_s'] / 60:.1f} min on {meta['machine']} with "
            f"{meta['threads']} torch thread(s), torch {meta['torch']}, tsargen at commit "
            f"{meta.get('tsargen', 'unknown')}, no GPU, on a machine "
            "shared with other jobs (times are indicative). See the module docstring of "
            "`benchmarks/forecast.py` for the protocol.",
            "",
            "Rolling origin: every model is fitted once on the data before the first origin, "
            "then forecasts from each origin given the true history (no refit). Metrics are "
            "averaged over origins and channels. MASE uses the data set's period on the "
            "training part; CRPS is estimated from 200 draws of each predictive distribution "
            "(seasonal naive, ETS, ARIMA, Theta, statsforecast's models, N-HiTS: Gaussian; VAR: "
            "simulated paths; WaveNet rows and the automatic mode: sample paths); sCRPS is "
            "CRPS divided by the MASE scale per channel; cov80 is the coverage of the central "
            "80% interval. Best value per column in bold. Fit time per channel: the one fit's "
            "wall time over the number of channels (one series per data set).",
            ""] + _peer_line(meta)


def _summary_lines(results, meta, stem):
    """Summary table and verdicts, the bootstrap intervals, the observations (main report
    only), the seed spread and the all-methods table."""
    spread, noise = spread_table(results), noise_table(results)
    lines = ["## Summary", "",
             "Each tsargen row's ratio to the baseline (below 1 = tsargen better); "
             "\"statistical\": the statsmodels and statsforecast models:", "",
             summary_table(results), "",
             narrative(results), ""]
    if noise:
        lines += ["### Which margins the origins resolve", "",
                  "Each ratio (below 1 = the method is better) with a 95% paired bootstrap "
                  f"interval: the origins resampled with replacement, {BOOT} times, the same "
                  "draw for both methods. *better* / *worse*: the whole interval lies on that "
                  "side of 1; *not resolved*: it contains 1, so another set of origins of the "
                  "same size could reverse the verdict. With 6-14 origins a percentile "
                  "interval is, if anything, too narrow, and it ignores the seed spread below.",
                  "", noise, ""]
    own = RESULTS / f"{stem}_notes.md"        # a tagged run's observations, else the main ones
    if "--wavenet" not in meta["command"]:
        lines += ["### Observations", "",
                  "\n".join(f"- {o}" for o in bullets(own if own.exists() else NOTES,
                                                      "Observations")), ""]
    else:
        lines += ["The WaveNet rows use the settings given with `--wavenet` on top of the kept "
                  "ones (see the command above and the settings table). The observations of the "
                  "main report (`forecast.md`) are about its own rows and are not repeated here.",
                  ""]
    if spread:
        lines += ["## Seed spread", "",
                  "Every WaveNet row refitted with other `random_state` values (same settings, "
                  "same origins). The tables above report seed 0, fixed before any result was "
                  "seen; these refits show how much of a margin is run-to-run noise.", "",
                  spread, "", f"![seed spread]({stem}_seeds.png)", ""]
    return lines + ["## All methods", "",
                    overview_table(results), "",
                    f"![MASE and sCRPS per method]({stem}_mase.png)", ""]


def _settings_lines(results):
    """The WaveNet settings of every row and the tuning log of the data sets reported."""
    lines = ["## WaveNet settings", "",
             "All with `random_state=0`; anything not listed is the estimator default (e.g. "
             "`n_paths=200`, `distribution=\"gaussian\"`, `channel_dependence=\"joint\"`, "
             "`validation_fraction=0.1`, `device=\"auto\"`, which is the CPU here).", ""]
    lines += md_table(["data set", "row", "settings"],
                      [(r["name"], w, r["methods"][w]["settings"]) for r in results
                       for w in TSARGEN if w in r["methods"]])
    names = {r["name"] for r in results}
    tried = [row for row in table_rows(TUNING_LOG)           # the rows this run reports
             if row[0] in names and any(row[1] in r["methods"] for r in results)]
    if not tried:
        return lines + [""]
    return lines + ["", "Settings tried on the validation origins (`--split val`). The choices "
                    "were made there, but which settings to try followed the test results of "
                    "earlier runs (see the module docstring and Observations). Each line "
                    "changes the listed settings; differences of a few percent are within "
                    "run-to-run noise of such small validation sets.", "",
                    "| data set | row | setting | val MASE | val sCRPS | |",
                    "|---|---|---|---|---|---|"] + [md_row(row) for row in tried] + [""]


def _dataset_lines(r, stem, plots):
    """One data set: its description, the table of every method, WaveNet training, fan chart."""
    lines = [f"## {r['name']}", "",
             f"{r['n_total']} timesteps × {len(r['channels'])} channel(s); period "
             f"{r['period']}: {r['why_period']}. Horizon {r['horizon']}; fitted on the "
             f"first {r['n_train']} timesteps; origins {r['origins']}.", "",
             method_table(r), ""]
    for name, error in r.get("failed", {}).items():
        lines += [f"{name} failed and is left out: {error}", ""]
    for wn_name in WAVENETS:
        wn = r["methods"].get(wn_name, {})
        if wn.get("info"):
            i = wn["info"]
            lines += [f"{wn_name} training: {i['epochs']} epochs (best {i['best_epoch']}), "
                      f"train NLL {i['train_nll']:.3f}, validation NLL "
                      f"{_fmt(i['val_nll'])} (per element, standardised units); mean bias "
                      f"{wn['bias']:+.2f} MASE-scale units.", ""]
    fan = f"{stem}_fan_{r['name']}.png"
    if any(p.name == fan for p in plots):
        lines += [f"![{r['name']} fan chart]({fan})", ""]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run (short fits, 5 origins; the numbers mean nothing)")
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help="comma-separated subset of " + ",".join(DATASETS))
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="folder with the CSV files")
    parser.add_argument("--split", choices=("test", "val"), default="test")
    output_args(parser, render="the report and plots")
    parser.add_argument("--methods", default=None,
                        help="comma-separated subset of: " + ",".join(ALL_METHODS))
    parser.add_argument("--wavenet", default=None, metavar="JSON",
                        help='override WaveNet settings for every data set, e.g. '
                             '\'{"n_layers": 6, "lr": 0.003}\' (to try settings on --split val)')
    parser.add_argument("--tag", default=None,
                        help="name the output files forecast_TAG.* (default with --wavenet: "
                             "forecast_custom.*)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--spread-seeds", type=int, default=3, metavar="K",
                        help="refit every WaveNet row with K more seeds and report the spread "
                             "of its metrics (default 3; 0 with --quick)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {unknown}; choose from {list(DATASETS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.render:
        return render(Path(args.render), args.data)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "forecast" + ("_quick" if args.quick else "") + ("_val" if args.split == "val" else "")
    t0 = time.perf_counter()
    code = git_state()          # the code this run imports, not HEAD at its end
    only = None if args.methods is None else {m.strip() for m in args.methods.split(",")}
    overrides = None if args.wavenet is None else json.loads(args.wavenet)
    if args.tag:
        stem += "_" + args.tag
    elif overrides:
        stem += "_custom"
    spread = 0 if args.quick else args.spread_seeds
    results = [r for r in (backtest(n, args.data, args.split, args.quick, only, overrides, spread)
                           for n in names) if r]
    if not results:
        print("nothing to report")
        return 1
    meta = dict(command="python -m benchmarks.forecast" + "".join(
                    " " + (a if " " not in a and "{" not in a else repr(a))
                    for a in (sys.argv[1:] if argv is None else argv)),
                split=args.split, quick=args.quick, threads=torch.get_num_threads(),
                torch=torch.__version__, machine=f"{platform.machine()}, {os.cpu_count()} CPUs",
                elapsed_s=time.perf_counter() - t0,
                date=time.strftime("%Y-%m-%d"), tsargen=code, peers=peer_status(),
                failed={r["name"]: r["failed"] for r in results if r.get("failed")},
                load_avg_end=os.getloadavg())
    json_path = out_dir / f"{stem}.json"
    write_json(json_path, dict(meta=meta, results=[
        {k: v for k, v in r.items() if k != "_plot"} for r in results]))
    plots = plot_results(results, out_dir, stem)
    (out_dir / f"{stem}.md").write_text(write_report(results, meta, stem, plots))
    print(f"wrote {json_path.with_suffix('.md')}, {json_path.name} and {len(plots)} plot(s) in "
          f"{meta['elapsed_s'] / 60:.1f} min")
    return 0


def render(json_path, data_dir):
    """Rewrite the markdown and plots of an earlier run from its JSON file (no refitting)."""
    saved = read_json(json_path)
    results = saved["results"]
    for r in results:
        y, index, _ = load_values(r["name"], data_dir)
        r["_plot"] = dict(y=y, index=index)
    stem = json_path.stem
    plots = plot_results(results, json_path.parent, stem)
    json_path.with_suffix(".md").write_text(write_report(results, saved["meta"], stem, plots))
    print(f"re-rendered {json_path.with_suffix('.md')} and {len(plots)} plot(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
