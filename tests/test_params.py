"""Hyperparameters: every public estimator and transformer declares one constraint per
constructor parameter (``_parameter_constraints``, checked by tsargen.constraints), and ``fit``
refuses a bad value with one line naming the parameter, before it trains anything."""

import inspect
import math
from numbers import Integral, Real

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

import tsargen
import tsargen.transforms
from tsargen import (AutoForecaster, GatedPixelCNNDensity, GenerativeClassifier,
                     PixelCNNDensity, PixelCNNPPDensity, PixelRNNDensity, SignalImageForecaster,
                     WaveNetDensity, WaveNetForecaster)
from tsargen.constraints import (Check, InvalidParameterError, Interval, Options, check_param,
                                 parameter_constraints, validate_params)
from tsargen.transforms import MuLaw, OrderBookImage, Quantizer, Spectrogram, TickFeatures

from .conftest import TINY

PUBLIC = sorted({getattr(tsargen, n) for n in tsargen.__all__ if isinstance(
    getattr(tsargen, n), type) and issubclass(getattr(tsargen, n), BaseEstimator)} | {
    getattr(tsargen.transforms, n) for n in tsargen.transforms.__all__}, key=lambda c: c.__name__)

IMAGES = np.random.default_rng(9).integers(0, 4, size=(6, 4, 4)).astype(np.uint8)
TINY_IMAGE = dict(n_layers=1, hidden_channels=4, input_kernel_size=3, n_levels=4, max_epochs=1,
                  batch_size=8, random_state=0)
STREAM = (np.arange(40)[:, None] + np.arange(5)[None]) % 4           # signal-image levels
BOOK = pd.DataFrame({"ask_price_1": [10.01, 10.02], "ask_size_1": [100, 50],
                     "bid_price_1": [10.00, 9.99], "bid_size_1": [200, 10]},
                    index=pd.to_datetime(["2012-06-21 09:30:00.2", "2012-06-21 09:30:01.7"]))
X_CLF, Y_CLF = np.random.default_rng(5).normal(size=(10, 2)), [0, 1] * 5

# class -> (tiny settings, fit): copied from the classes' own test modules
CASES = {
    WaveNetDensity: ({**TINY, "max_epochs": 1},
                     lambda e: e.fit(np.random.default_rng(0).normal(size=(4, 30)))),
    WaveNetForecaster: ({**TINY, "max_epochs": 1},
                        lambda e: e.fit(np.random.default_rng(0).normal(size=100))),
    AutoForecaster: (dict(horizon=2, candidates=[{"differences": 1}], n_origins=1, n_paths=2,
                          base_params=dict(n_layers=2, residual_channels=4, skip_channels=4,
                                           max_epochs=1), random_state=0),
                     lambda e: e.fit(np.random.default_rng(0).normal(size=100))),
    PixelCNNDensity: (dict(TINY_IMAGE, hidden_channels=4), lambda e: e.fit(IMAGES)),
    GatedPixelCNNDensity: (TINY_IMAGE, lambda e: e.fit(IMAGES)),
    PixelRNNDensity: (dict(TINY_IMAGE, kind="row_lstm"), lambda e: e.fit(IMAGES)),
    PixelCNNPPDensity: ({k: v for k, v in TINY_IMAGE.items() if "kernel" not in k},
                        lambda e: e.fit(IMAGES)),
    SignalImageForecaster: (dict(density=GatedPixelCNNDensity(**TINY_IMAGE), horizon=2,
                                 context=4, n_paths=2, random_state=0), lambda e: e.fit(STREAM)),
    GenerativeClassifier: (dict(estimator=GaussianMixture()), lambda e: e.fit(X_CLF, Y_CLF)),
    MuLaw: ({}, lambda e: e.fit(np.linspace(-1, 1, 9)[:, None])),
    Quantizer: (dict(n_bins=4), lambda e: e.fit(np.linspace(-1, 1, 9)[:, None])),
    OrderBookImage: (dict(n_ticks=2), lambda e: e.fit(BOOK)),
    Spectrogram: (dict(n_fft=64), lambda e: e.fit(np.zeros(300))),
    TickFeatures: ({}, lambda e: e.fit(BOOK)),
}

# Bad values by parameter name, each bad for every class that takes the parameter; what is
# wrong: below the range, a fraction, a bool for an int, a string for a number, inf, NaN.
COUNT = [0, -3, 2.5, True, np.float64(4.0), "4"]
BAD = {
    **{name: COUNT for name in (
        "n_stacks", "n_layers", "residual_channels", "skip_channels", "n_mixtures", "n_networks",
        "cond_hop", "max_epochs", "batch_size", "patience", "horizon", "context", "n_paths",
        "seasonal_lag", "n_ticks", "mu", "n_origins", "sp")},
    "n_bins": [0, 2.5, True], "hidden_channels": [0, 2.5, False], "n_levels": [1, 2.5, True],
    "kernel_size": [0, 1.5, True], "input_kernel_size": [1, 4, 5.0, True],
    "differences": [-1, 1.5, True, "always"], "scaling": ["local", None],
    "n_threads": [0, 1.5, True, "1"], "n_iter": [-1, 2.5, True], "n_fft": [2, 63, 64.0, True],
    "hop_length": [0, 65, 2.5, True], "n_jobs": [1.5, "2", True],
    "lr": [0, -1e-3, math.inf, math.nan, True, "0.01"],
    "validation_fraction": [-0.1, 1.0, math.nan, True, "0.1"],
    "ema_decay": [-0.1, 1.0, True, "0.9"], "dropout": [-0.1, 1.0, True],
    "momentum": [-0.1, 1.0, True], "eps": [0, -1e-5, math.inf, True],
    "tick_size": [0, -0.01, math.inf, True, "0.01"], "scale": [0, -1.0, math.inf, True],
    "sample_rate": [0, -8000, True, "8000"],
    "random_state": [1.5, "0", True], "verbose": [-1, 1.5, "yes"],
    "time_position": [1, "yes", None], "conditional": [1, "yes", None],
    "device": ["tpu", 0], "kind": ["gru", None], "strategy": ["kmeans", None],
    "channel_dependence": ["both", None], "quantization": ["log", None],
    "distribution": [3, None], "transform": ["log", 3], "resample": ["nope", 5],
    "time_features": ["yes", "hour_of_day", 1, ["month_of_year"], ["hour_of_day"] * 2],
    "density": [StandardScaler(), "gated"], "estimator": [StandardScaler()],
    "candidates": [[], {"n_layers": 2}, [{"n_layers": 2}, "deep"], [{1: 2}], "default"],
    "base_params": [[("n_layers", 2)], "tiny"], "ensemble_size": [1, 0, 2.5, True, "3"],
}
# checked against the data in fit (priors: one per class), covered by the classes' own tests
FIT_CHECKED = {"priors"}
EXTRA_BAD = {PixelCNNDensity: {"kernel_size": [4], "hidden_channels": [1]},
             GatedPixelCNNDensity: {"kernel_size": [4]},
             PixelRNNDensity: {"kernel_size": [4], "hidden_channels": [1]},
             WaveNetDensity: {"kernel_size": [1]}, WaveNetForecaster: {"kernel_size": [1]},
             Quantizer: {"n_bins": [1]}}


def _params(cls):
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def _bad_cases():
    for cls in PUBLIC:
        for name in _params(cls):
            for value in BAD.get(name, []) + EXTRA_BAD.get(cls, {}).get(name, []):
                yield pytest.param(cls, name, value, id=f"{cls.__name__}-{name}={value!r}")


def test_every_public_class_has_a_case():
    assert set(PUBLIC) == set(CASES)


@pytest.mark.parametrize("cls", PUBLIC, ids=lambda c: c.__name__)
def test_constraints_match_the_constructor(cls):
    """One constraint per constructor parameter, no more: the declaration cannot drift."""
    declared = parameter_constraints(cls)
    assert set(declared) == set(_params(cls))
    for name, allowed in declared.items():
        assert isinstance(allowed, list) and allowed, name
    # and the bad values below cover every parameter not checked against the data
    assert set(_params(cls)) - set(BAD) <= FIT_CHECKED


@pytest.mark.parametrize("cls", PUBLIC, ids=lambda c: c.__name__)
def test_defaults_and_tiny_settings_are_valid(cls):
    validate_params(cls())
    validate_params(cls(**CASES[cls][0]))


@pytest.mark.parametrize("cls,name,value", list(_bad_cases()))
def test_fit_refuses_a_bad_value_naming_the_parameter(cls, name, value):
    settings, fit = CASES[cls]
    est = cls(**{**settings, name: value})                 # __init__ only stores
    with pytest.raises((ValueError, TypeError)) as err:
        fit(est)
    msg = str(err.value)
    assert msg.startswith(f"{name} must be ") and "\n" not in msg, msg
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]


# ---------------------------------------------------------------------- the mechanism itself
@pytest.mark.parametrize("interval,text", [
    (Interval(Integral, 1, None), "a positive integer"),
    (Interval(Integral, 0, None), "an integer >= 0"),
    (Interval(Integral, 3, None, parity="odd"), "an odd integer >= 3"),
    (Interval(Integral, 4, None, parity="even"), "an even integer >= 4"),
    (Interval(Integral, 0, 5, closed="both"), "an integer in [0, 5]"),
    (Interval(Real, 0, None, closed="neither"), "a positive number"),
    (Interval(Real, 0, math.inf, closed="neither"), "a positive finite number"),
    (Interval(Real, 0, math.inf), "a finite number >= 0"),
    (Interval(Real, 0, 1), "a number in [0, 1)"),
    (Interval(Real, None, 1, closed="right"), "a number <= 1"),
])
def test_interval_wording(interval, text):
    assert str(interval) == text


def test_intervals_refuse_bools_nan_and_other_types():
    count, unit = Interval(Integral, 1, None), Interval(Real, 0, 1)
    assert count(1) and count(np.int64(7)) and not count(True) and not count(np.True_)
    assert not count(2.0) and not count("2") and not count(None)
    assert unit(0) and unit(np.float32(0.5)) and not unit(1) and not unit(math.nan)
    assert not unit(False)
    odd = Interval(Integral, 1, None, parity="odd")
    assert odd(3) and not odd(4)


def test_check_param_message_lists_every_allowed_kind():
    allowed = [None, Options(("a", "b")), Interval(Integral, 1, None), bool,
               Check(callable, "a function")]
    for good in (None, "a", 3, False, len):
        assert check_param(good, "p", allowed) is good
    with pytest.raises(InvalidParameterError) as err:
        check_param("c", "p", allowed, " (a hint)")
    assert str(err.value) == ("p must be None, one of ['a', 'b'], a positive integer, True or "
                              "False or a function (a hint), got 'c'.")
    assert isinstance(err.value, ValueError) and isinstance(err.value, TypeError)


def test_long_values_are_named_by_type():
    with pytest.raises(InvalidParameterError, match=r"got a list\.$"):
        check_param(list(range(100)), "p", [None])
    with pytest.raises(InvalidParameterError, match=r"got 3\.$"):          # not np.int64(3)
        check_param(np.int64(3), "p", [None])


def test_constraints_merge_along_the_mro():
    class Base(BaseEstimator):
        _parameter_constraints = {"a": [Interval(Integral, 1, None)], "b": [bool]}

        def __init__(self, a=1, b=False):
            self.a, self.b = a, b

    class Child(Base):
        _parameter_constraints = {"a": [Interval(Integral, 2, None)], "c": [str]}

        def __init__(self, a=2, b=False, c="x"):
            super().__init__(a, b)
            self.c = c

    assert parameter_constraints(Child) == {**Base._parameter_constraints,
                                            **Child._parameter_constraints}
    validate_params(Base(a=1))
    with pytest.raises(ValueError, match=r"^a must be an integer >= 2, got 1\.$"):
        validate_params(Child(a=1))                     # the subclass overrides its base
    with pytest.raises(ValueError, match="^b must be True or False"):
        validate_params(Child(b=0))                     # and keeps what it does not override
