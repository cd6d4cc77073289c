"""Rows of the forecast benchmark beyond its own statsmodels baselines and tuned WaveNet rows.

``benchmarks/forecast.py`` (its module docstring is the protocol) imports these:

* :class:`Theta` -- statsmodels' Theta model, a baseline like ETS and ARIMA;
* :class:`StatsForecastModel` -- statsforecast's AutoETS, AutoARIMA and AutoTheta, and
  :class:`NHiTS` -- neuralforecast's N-HiTS: optional peers from the ``bench`` extra, run
  only where importable (:func:`peer_status` says which);
* :class:`AutoRow` -- ``tsargen.model_selection.AutoForecaster`` with nothing but the horizon
  and the seed set, run only where importable.

Every method has the interface of the benchmark's other rows: ``fit(train (T0, C))`` once,
then ``forecast(history (t, C), h, seed) -> (point (h, C), draw)``, where ``draw()`` returns
``n_draws`` draws ``(n, h, C)`` of the predictive distribution.
"""

import functools
import importlib
import logging

import numpy as np
import pandas as pd

#: z such that N(0, 1) puts 80% of its mass in (-z, z): turns a central 80% interval into a
#: Gaussian standard deviation, ``(hi - lo) / (2 z)``.
Z80 = 1.2815515655446004
STATSFORECAST = ("AutoETS", "AutoARIMA", "AutoTheta")
NEURAL = ("N-HiTS",)
AUTO = "AutoForecaster"


def gaussian_sampler(mean, std, rng_seed, n):
    """``draw()`` -> ``n`` draws ``(n, *mean.shape)`` of independent Gaussians, seeded."""
    def draw():
        rng = np.random.default_rng(rng_seed)
        return mean[None] + std[None] * rng.standard_normal((n,) + mean.shape)
    return draw


def as_frame(values, frame):
    """``values (t, C)`` as the pandas the default rows are given: a Series (one channel) or
    DataFrame indexed by the first ``t`` dates of the data set's time index. ``frame``:
    ``(index, columns)``; ``None`` or a ``None`` index leaves the array as it is."""
    if frame is None or frame[0] is None:
        return values
    index, columns = frame
    if values.shape[1] == 1:
        return pd.Series(values[:, 0], index=index[:len(values)], name=columns[0])
    return pd.DataFrame(values, index=index[:len(values)], columns=columns)


@functools.cache
def peer_status():
    """``{package: version or "not importable: <error>"}`` for the optional peers' packages
    (and the automatic mode's module)."""
    out = {}
    for package in ("statsforecast", "neuralforecast"):
        try:
            out[package] = importlib.import_module(package).__version__
        except Exception as exc:  # noqa: BLE001 -- any failure to import skips the peer
            out[package] = f"not importable: {type(exc).__name__}: {exc}"
    out[AUTO] = auto_forecaster()[1]
    return out


def auto_forecaster():
    """``(AutoForecaster class or None, "importable" or why not)``."""
    try:
        from tsargen.model_selection import AutoForecaster
    except Exception as exc:  # noqa: BLE001 -- any failure to import skips the row
        return None, f"not importable: {type(exc).__name__}: {exc}"
    return AutoForecaster, "importable"


def _first(fit_last, train):
    """Where the fitting window of ``train`` starts (``fit_last``: its length, or all)."""
    return 0 if fit_last is None else max(0, len(train) - fit_last)


# --------------------------------------------------------------------------- statsmodels Theta
class Theta:
    """statsmodels ``ThetaModel`` per channel (the classic theta = 2 forecast: half the OLS
    trend plus simple exponential smoothing, on data deseasonalised with the data set's period
    when its seasonality test asks for it; additive or multiplicative decomposition as
    ``method="auto"`` picks). statsmodels offers no way to run a fitted Theta model over a new
    history, so it is **refitted on the history at every origin** (a few milliseconds per
    channel): unlike the other rows its parameters see the test part before each origin.
    Gaussian predictive: mean = the forecast, standard deviation from its 80% prediction
    interval."""

    name = "Theta"

    def __init__(self, period, n_draws, fit_last=None):
        self.period, self.n_draws, self.fit_last = period, n_draws, fit_last

    def _fit(self, y):
        from statsmodels.tsa.forecasting.theta import ThetaModel
        return ThetaModel(y, period=self.period, deseasonalize=self.period > 1).fit()

    def fit(self, train):
        self.start_ = _first(self.fit_last, train)
        fits = [self._fit(train[self.start_:, c]) for c in range(train.shape[1])]
        alphas = [float(f.params["alpha"]) for f in fits]
        season = (f"period {self.period} (seasonality test)" if self.period > 1
                  else "no season")
        methods = "/".join(sorted({f.model.method for f in fits}))
        self.settings_ = (f"theta 2, {season}, {methods} decomposition; SES alpha "
                          f"{min(alphas):.3g}-{max(alphas):.3g} at the training end; refitted "
                          "on the history at every origin")
        return self

    def forecast(self, hist, h, seed):
        mean, std = np.empty((h, hist.shape[1])), np.empty((h, hist.shape[1]))
        for c in range(hist.shape[1]):
            res = self._fit(hist[self.start_:, c])
            mean[:, c] = np.asarray(res.forecast(h))
            band = res.prediction_intervals(h, alpha=0.2)
            std[:, c] = (np.asarray(band["upper"]) - np.asarray(band["lower"])) / (2 * Z80)
        return mean, gaussian_sampler(mean, std, seed, self.n_draws)


# --------------------------------------------------------------------------- statsforecast peers
class StatsForecastModel:
    """statsforecast's ``AutoETS``, ``AutoARIMA`` or ``AutoTheta`` per channel with
    ``season_length`` = the data set's period and everything else at its defaults (model
    selection by their information criteria). Re-conditioned at each origin with the model's
    ``forward(y=history)``: the fitted model and parameters run over the history, nothing
    re-estimated (as the statsmodels rows' ``smooth``/``apply``). Gaussian predictive: mean =
    the forecast, standard deviation from the 80% interval that ``forward(level=[80])``
    returns."""

    def __init__(self, name, period, n_draws, fit_last=None):
        self.name, self.period, self.n_draws, self.fit_last = name, period, n_draws, fit_last

    def fit(self, train):
        import statsforecast.models
        cls = getattr(statsforecast.models, self.name)
        self.start_ = _first(self.fit_last, train)
        self.fits_ = [cls(season_length=self.period).fit(
            np.ascontiguousarray(train[self.start_:, c])) for c in range(train.shape[1])]
        chosen = sorted({self._label(m) for m in self.fits_})
        self.settings_ = (f"season_length {self.period}; chosen per channel: "
                          f"{', '.join(chosen)}; fitted on the last "
                          f"{len(train) - self.start_} training points")
        return self

    def _label(self, fitted):
        """The model the criterion chose, in statsforecast's own notation."""
        model = fitted.model_
        if self.name == "AutoARIMA":
            from statsforecast.arima import arima_string
            return arima_string(model).strip()
        return str(model.get("method") or model.get("modeltype"))

    def forecast(self, hist, h, seed):
        mean, std = np.empty((h, hist.shape[1])), np.empty((h, hist.shape[1]))
        for c, fitted in enumerate(self.fits_):
            out = fitted.forward(y=np.ascontiguousarray(hist[self.start_:, c]), h=h,
                                 level=[80])
            mean[:, c] = out["mean"]
            std[:, c] = (np.asarray(out["hi-80"]) - np.asarray(out["lo-80"])) / (2 * Z80)
        return mean, gaussian_sampler(mean, std, seed, self.n_draws)


# --------------------------------------------------------------------------- neuralforecast peer
class NHiTS:
    """neuralforecast's ``NHITS``: one global model over the channels (each channel a series
    of the long frame, as the library treats several series), CPU, ``random_seed`` fixed,
    ``input_size = 2 * horizon`` (as neuralforecast's quickstart sets it), its documented
    defaults otherwise (``max_steps=1000``, ``scaler_type="identity"``, no validation or
    early stopping), and a Gaussian likelihood, ``DistributionLoss("Normal",
    return_params=True)``, for a probabilistic forecast. Re-conditioned at each origin by
    ``predict(df=history)`` (no refit); CRPS from draws of the per-step Gaussian whose mean and
    scale ``predict`` returns."""

    name = "N-HiTS"

    def __init__(self, horizon, n_draws, seed, max_steps=None):
        self.horizon, self.n_draws, self.seed, self.max_steps = horizon, n_draws, seed, max_steps

    @staticmethod
    def _long(values):
        """``(T, C)`` -> neuralforecast's long frame: ``unique_id`` = channel, ``ds`` = position."""
        n, c = values.shape
        return pd.DataFrame({"unique_id": np.repeat(np.arange(c), n),
                             "ds": np.tile(np.arange(n), c), "y": values.T.ravel()})

    def fit(self, train):
        from neuralforecast import NeuralForecast
        from neuralforecast.losses.pytorch import DistributionLoss
        from neuralforecast.models import NHITS
        for name in ("lightning", "pytorch_lightning", "lightning.pytorch", "lightning_fabric",
                     "neuralforecast"):
            logging.getLogger(name).setLevel(logging.ERROR)
        steps = {} if self.max_steps is None else dict(max_steps=self.max_steps)
        model = NHITS(h=self.horizon, input_size=2 * self.horizon, random_seed=self.seed,
                      loss=DistributionLoss("Normal", level=[80], return_params=True),
                      accelerator="cpu", devices=1, enable_progress_bar=False, logger=False,
                      enable_model_summary=False, enable_checkpointing=False, **steps)
        self.nf_ = NeuralForecast(models=[model], freq=1)
        self.nf_.fit(self._long(train))
        self.settings_ = (f"input_size {2 * self.horizon}, max_steps {model.max_steps}, "
                          f"scaler_type {model.hparams.get('scaler_type', 'identity')!r}, "
                          f"Normal likelihood, random_seed {self.seed}, CPU; one model over "
                          "the channels")
        return self

    def forecast(self, hist, h, seed):
        out = self.nf_.predict(df=self._long(hist))
        out = out.sort_values(["unique_id", "ds"])
        c = hist.shape[1]
        mean = out["NHITS-loc"].to_numpy(float).reshape(c, -1)[:, :h].T           # (h, C)
        std = out["NHITS-scale"].to_numpy(float).reshape(c, -1)[:, :h].T
        return mean, gaussian_sampler(mean, std, seed, self.n_draws)


# --------------------------------------------------------------------------- automatic mode
class AutoRow:
    """``tsargen.model_selection.AutoForecaster(horizon=h, random_state=seed)``, nothing else
    set (``quick``: the smoke run's settings where it has such parameters), given the same
    input as the default WaveNet row (``frame``); forecasts with ``predict(h, y=history)`` and
    ``sample(n, h, y=history)`` like the WaveNet rows."""

    name = AUTO

    def __init__(self, horizon, n_draws, seed, frame=None, quick=None):
        self.horizon, self.n_draws, self.seed, self.frame = horizon, n_draws, seed, frame
        self.quick = quick

    def fit(self, train):
        cls, status = auto_forecaster()
        if cls is None:
            raise ImportError(status)
        model = cls(horizon=self.horizon, random_state=self.seed)
        if self.quick:
            known = model.get_params()
            model.set_params(**{k: v for k, v in self.quick.items() if k in known})
        self.model_ = model.fit(as_frame(train, self.frame))
        best, table = self.model_.best_estimator_, self.model_.cv_results_
        scores = ", ".join(f"{params or 'defaults'} {crps:.4g}"
                           for params, crps in zip(table["params"], table["crps"]))
        self.settings_ = (f"horizon={self.horizon}, random_state={self.seed}"
                          + ("; pandas input with its time index" if self.frame and
                             self.frame[0] is not None else "")
                          + f"; best_params_={self.model_.best_params_!r} (differences_="
                          f"{best.differences_}, seasonal_lag_={best.seasonal_lag_}); "
                          f"validation CRPS: {scores}")
        return self

    def forecast(self, hist, h, seed):
        hist = as_frame(hist, self.frame)
        point = self.model_.predict(h, y=hist)
        return point, lambda: self.model_.sample(self.n_draws, h, y=hist, random_state=seed)
