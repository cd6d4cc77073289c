"""Bad input: a clear ValueError/TypeError naming the problem, and nothing half-fitted."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from tsargen import IrregularIndexWarning, WaveNetDensity, WaveNetForecaster

from .conftest import TINY

Y = np.random.default_rng(0).normal(size=200)


@pytest.mark.parametrize("y,exc,match", [
    (np.r_[Y[:50], np.inf, Y[51:]], ValueError, "inf"),
    (np.ones((5, 5, 5)), ValueError, "1-D"),
    (Y[:5], ValueError, "receptive field is 8"),
    (pd.Series(Y, index=pd.date_range("2020", periods=200)[::-1]), ValueError, "not increasing"),
    (pd.Series(Y, index=pd.DatetimeIndex(["2020-01-01"] * 200)), ValueError, "duplicated"),
    (pd.DataFrame({"a": Y, "b": ["x"] * 200}), TypeError, "non-numeric"),
    (np.array(["a"] * 200), TypeError, "numeric"),
    ("hello", TypeError, "array-like"),
    (np.full(200, np.nan), ValueError, "no observed"),
    (np.c_[Y, np.full(200, np.nan)], ValueError, r"channel\(s\) \[1\]"),
    (pd.Series(Y, index=[f"t{i}" for i in range(200)]), TypeError, "time index must be"),
    (pd.Series(Y, index=pd.MultiIndex.from_product([["a", "b"], range(100)])), TypeError,
     "long-format panels"),
    (pd.Series(Y, index=pd.DatetimeIndex([pd.NaT] + list(pd.date_range("2020", periods=199)))),
     ValueError, "missing time index"),
    (pd.DataFrame(np.c_[Y, Y], columns=["a", "a"]), ValueError, r"duplicated column names \['a'\]"),
])
def test_forecaster_fit_rejects(y, exc, match):
    f = WaveNetForecaster(**TINY)
    with pytest.raises(exc, match=match):
        f.fit(y)
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(f))


def test_failed_refit_keeps_previous_model():
    f = WaveNetForecaster(**TINY).fit(Y)
    before = f.predict(3)
    with pytest.raises(ValueError):
        f.fit(np.r_[Y, np.inf])
    np.testing.assert_array_equal(f.predict(3), before)


@pytest.mark.parametrize("params,match", [
    ({"n_layers": 0}, "n_layers"), ({"kernel_size": 1}, "kernel_size"),
    ({"lr": -1.0}, "lr"), ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"lr": True}, "lr must be a positive finite"), ({"lr": float("inf")}, "lr must be"),
    ({"validation_fraction": False}, "validation_fraction"),
    ({"channel_dependence": "both"}, "channel_dependence"), ({"horizon": 0}, "horizon"),
    ({"distribution": "poisson"}, "unknown distribution"), ({"device": "tpu"}, "device"),
    ({"distribution": {"a": "gaussian"}}, "channel"), ({"ema_decay": 1.0}, "ema_decay"),
    ({"ema_decay": -0.1}, "ema_decay"), ({"ema_decay": True}, "ema_decay"),
])
def test_bad_hyperparameters(params, match):
    with pytest.raises(ValueError, match=match):
        WaveNetForecaster(**{**TINY, **params}).fit(Y)


def test_predict_errors():
    f = WaveNetForecaster(**TINY)
    with pytest.raises(NotFittedError):
        f.predict(3)
    f.fit(Y)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="horizon"):
            f.predict(bad)
    with pytest.raises(ValueError, match="channels"):
        f.predict(2, y=np.ones((50, 2)))
    with pytest.raises(ValueError, match="without covariates"):
        f.predict(2, X=np.ones((2, 1)))
    for bad in [(0.5, 1.2), [], "median", [[0.1, 0.9]]]:
        with pytest.raises(ValueError, match="quantiles must be one or more levels"):
            f.predict_quantiles(2, quantiles=bad)
    for bad in [95, [0.5, 0.5], [0.5, 1.0], [], "0.9", [[0.5]], True, None]:
        with pytest.raises(ValueError, match="coverage must be a number"):
            f.predict_interval(2, coverage=bad)
    iv = f.predict_interval(2, coverage=np.float32(0.5))
    assert iv.shape == (2, 2)
    several = f.predict_interval(2, coverage=np.array([0.5, 0.9]))
    assert several.shape == (2, 2, 2)
    np.testing.assert_array_equal(several[:, 0], iv)
    assert (several[:, 1, 0] <= iv[:, 0]).all() and (several[:, 1, 1] >= iv[:, 1]).all()


def test_training_or_validation_part_without_observed_targets():
    y = Y.copy()
    y[-30:] = np.nan                       # the validation tail (10%) is all missing
    with pytest.raises(ValueError, match="validation part .* holds no observed target"):
        WaveNetForecaster(**TINY).fit(y)
    WaveNetForecaster(**{**TINY, "validation_fraction": 0.0}).fit(y)
    y = Y.copy()
    y[:170] = np.nan                       # observed only inside the validation tail
    with pytest.raises(ValueError, match="training part holds no observed target"):
        WaveNetForecaster(**{**TINY, "validation_fraction": 0.2}).fit(y)


@pytest.mark.parametrize("shape, vf", [((10, 40), 0.95), ((3, 2), 0.6)])
def test_a_large_validation_fraction_still_leaves_training_data(shape, vf):
    X = np.random.default_rng(0).normal(size=shape)
    d = WaveNetDensity(**{**TINY, "validation_fraction": vf}).fit(X)
    assert np.isfinite(d.loss_curve_).all() and len(d.val_loss_curve_) == len(d.loss_curve_)


def test_score_without_a_scorable_step():
    f = WaveNetForecaster(**TINY, differences=1).fit(Y)
    with pytest.raises(ValueError, match="no step to score"):
        f.score(np.array([1.0]))
    with pytest.raises(ValueError, match="no step to score"):
        f.score(np.full(20, np.nan))


def test_covariate_errors():
    X = np.random.default_rng(1).normal(size=(200, 2))
    f = WaveNetForecaster(**TINY)
    with pytest.raises(ValueError, match="rows but 200"):
        f.fit(Y, X=X[:150])
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        f.fit(Y, X=Xn)
    f.fit(Y, X=X)
    with pytest.raises(ValueError, match="rows but 4"):
        f.predict(4, X=X[:3])
    with pytest.raises(ValueError, match="columns"):
        f.predict(4, X=X[:4, :1])
    with pytest.raises(ValueError, match=r"pass X to predict\(\) \(one row per timestep of the "
                                         "forecast horizon"):
        f.predict(4)
    with pytest.raises(ValueError, match="covering history and forecast"):
        f.predict(4, y=Y)


def test_covariate_frames_must_line_up_with_y():
    idx = pd.date_range("2020", periods=230, freq="D")
    y = pd.Series(Y, index=idx[:200])
    X = pd.DataFrame({"a": np.sin(np.arange(230)), "b": np.cos(np.arange(230))}, index=idx)
    f = WaveNetForecaster(**TINY, horizon=4)
    with pytest.raises(ValueError, match="index does not match y's"):
        f.fit(y, X=X.iloc[1:201])
    f.fit(y, X=X.iloc[:200])
    assert f.covariate_names_ == ["a", "b"]
    f.predict(X=X.iloc[200:204])
    with pytest.raises(ValueError, match=r"columns \['b', 'a'\] but the model was fitted with"):
        f.predict(X=X.iloc[200:204][["b", "a"]])
    with pytest.raises(ValueError, match="should cover the forecast horizon after"):
        f.predict(X=X.iloc[196:200])
    with pytest.raises(ValueError, match="index does not match y's"):
        f.score(y.iloc[:100], X=X.iloc[50:150])
    f.predict(X=X.iloc[200:204].reset_index(drop=True))       # positional X: taken as given
    late = X.iloc[210:214]                                     # after the history, wrong dates
    with pytest.raises(ValueError, match="dated 2020-07-29.* forecast dates are 2020-07-19"):
        f.predict(X=late)
    with pytest.raises(ValueError, match="forecast dates are 2020-04-10"):   # history + horizon
        f.predict(y=y.iloc[:100], X=pd.concat([X.iloc[:100], late]))
    f.predict(y=y.iloc[:100], X=X.iloc[:104])
    # market hours (no frequency the future follows exactly): only the order is checked
    hours = pd.DatetimeIndex([d + pd.Timedelta(h, "h") for d in pd.bdate_range("2020", periods=40)
                              for h in range(9, 16)])[:200]
    with pytest.warns(IrregularIndexWarning, match="steps are missing"):
        g = WaveNetForecaster(**TINY, horizon=2).fit(pd.Series(Y, index=hours),
                                                     X=X.iloc[:200].set_axis(hours))
    nxt = pd.DatetimeIndex([hours[-1] + pd.Timedelta(18, "h"), hours[-1] + pd.Timedelta(19, "h")])
    g.predict(X=X.iloc[200:202].set_axis(nxt))


def test_target_frames_keep_the_fitted_columns():
    idx = pd.date_range("2020", periods=120, freq="D")
    df = pd.DataFrame({"price": 1000 + Y[:120], "ret": Y[80:200]}, index=idx)
    # no calendar covariates, so that an array history is taken too (positional, below)
    f = WaveNetForecaster(**TINY, horizon=2, n_paths=4, time_features=None).fit(df)
    swapped = df[["ret", "price"]]
    fitted_on = r"columns \['ret', 'price'\] but the model was fitted on \['price', 'ret'\]"
    for call in (lambda: f.predict(y=swapped), lambda: f.score(swapped),
                 lambda: f.score_steps(swapped), lambda: f.sample(2, y=swapped),
                 lambda: f.predict_interval(y=swapped)):
        with pytest.raises(ValueError, match=fitted_on):
            call()
    with pytest.raises(ValueError, match=r"columns \['price', 'volume'\]"):
        f.predict(y=df.rename(columns={"ret": "volume"}))
    before = f.predict()
    with pytest.raises(ValueError, match=fitted_on):          # nothing appended
        f.update(pd.DataFrame({"ret": [0.0], "price": [1000.0]},
                              index=[idx[-1] + pd.Timedelta("1D")]))
    pd.testing.assert_frame_equal(f.predict(), before)
    f.predict(y=df.to_numpy())                                 # arrays: positional by design
    # one column cannot be misread: a global model forecasts a series under another name
    g = WaveNetForecaster(**TINY, horizon=2, n_paths=4).fit(df[["ret"]])
    assert list(g.predict(y=df[["ret"]].rename(columns={"ret": "other"})).columns) == ["other"]


def test_signal_image_frames_keep_the_fitted_columns():
    from tsargen import GatedPixelCNNDensity, SignalImageForecaster
    img = pd.DataFrame(np.sin(np.arange(60)[:, None] / 4 + np.arange(4)[None]),
                       index=pd.date_range("2021", periods=60, freq="h"),
                       columns=["f0", "f1", "f2", "f3"])
    s = SignalImageForecaster(GatedPixelCNNDensity(n_layers=1, hidden_channels=4, n_levels=4,
                                                   max_epochs=1), horizon=2, context=4,
                              n_paths=2, random_state=0).fit(img)
    with pytest.raises(ValueError, match=r"columns \['f3', 'f2', 'f1', 'f0'\] but the model"):
        s.predict(y=img[img.columns[::-1]])


def test_density_errors():
    d = WaveNetDensity(**TINY)
    with pytest.raises(ValueError, match="panel"):
        d.fit(np.ones(10))
    with pytest.raises(ValueError, match=r"inf \(first at position \(0, 1\)\).*NaN to mark"):
        d.fit(np.array([[1.0, np.inf]]))
    with pytest.raises(ValueError, match=r"indexed by time.*pass \[X\]"):
        d.fit(pd.DataFrame(np.ones((50, 3)), index=pd.date_range("2020", periods=50)))
    with pytest.raises(ValueError, match="one label per series"):
        d.fit(np.ones((4, 6)), y=[0, 1])
    with pytest.raises(ValueError, match="missing labels"):
        d.fit(np.ones((2, 6)), y=np.array([0.0, np.nan]))
    d.fit(np.random.default_rng(2).normal(size=(6, 12, 2)))
    with pytest.raises(ValueError, match="channels"):
        d.score_samples(np.ones((3, 12, 3)))
    with pytest.raises(ValueError, match="fitted without labels"):
        d.score_samples(np.ones((3, 12, 2)), y=[0, 0, 1])
    with pytest.raises(ValueError, match="n_known"):
        d.complete(np.ones((3, 12, 2)), n_known=13)
    for call, match in [(lambda: d.sample(-1), "n_samples"),
                        (lambda: d.sample(2, length=0), "length"),
                        (lambda: d.complete(np.ones((3, 12, 2)), n_known=3, n_samples=0),
                         "n_samples")]:
        with pytest.raises(ValueError, match=f"^{match} must be a positive integer"):
            call()


# ---------------------------------------------------------------------- data that are not real
Z = np.full((200, 1), 7.25 + 3.5j)              # contents that a message must not show


def _signal_image():
    from tsargen import GatedPixelCNNDensity, SignalImageForecaster
    return SignalImageForecaster(GatedPixelCNNDensity(n_levels=4, n_layers=1, hidden_channels=4,
                                                      max_epochs=1), horizon=2, context=4)


def _classifier():
    from sklearn.mixture import GaussianMixture

    from tsargen import GenerativeClassifier
    return GenerativeClassifier(GaussianMixture())


def _pixelcnn():
    from tsargen import PixelCNNDensity
    return PixelCNNDensity(n_layers=1, hidden_channels=4, max_epochs=1)


NOT_REAL = {
    "forecaster complex": (lambda: WaveNetForecaster(**TINY), Z[:, 0], ValueError,
                           "y has complex dtype complex128"),
    "forecaster complex channels": (lambda: WaveNetForecaster(**TINY), np.c_[Z, Z], ValueError,
                                    "y has complex dtype complex128"),
    "forecaster complex Series": (lambda: WaveNetForecaster(**TINY), pd.Series(Z[:, 0]),
                                  ValueError, "y has complex dtype complex128"),
    "forecaster complex column": (lambda: WaveNetForecaster(**TINY),
                                  pd.DataFrame({"a": Y, "b": Z[:, 0]}), ValueError,
                                  r"y has complex columns \['b'\] \(complex dtype complex128\)"),
    "forecaster complex objects": (lambda: WaveNetForecaster(**TINY), Z[:, 0].astype(object),
                                   ValueError, "y has object dtype holding complex values"),
    "forecaster list of complex": (lambda: WaveNetForecaster(**TINY), [Y, Z[:, 0]], ValueError,
                                   "y\\[1\\] has complex dtype"),
    "forecaster strings": (lambda: WaveNetForecaster(**TINY), np.array(["zq7"] * 200, object),
                           TypeError, "y must be numeric; got object dtype holding str values"),
    "forecaster text Series": (lambda: WaveNetForecaster(**TINY), pd.Series(["zq7"] * 200),
                               TypeError, "y must be numeric; got text dtype str"),
    "forecaster bytes": (lambda: WaveNetForecaster(**TINY), np.array([b"zq7"] * 200), TypeError,
                         r"y must be numeric; got bytes dtype \|S3"),
    "forecaster dicts": (lambda: WaveNetForecaster(**TINY), np.array([{"zq7": 1}] * 200),
                         TypeError, "object dtype holding dict values"),
    "density bytes": (lambda: WaveNetDensity(**TINY), np.array([[b"zq7", b"b"]]), TypeError,
                      r"X must be numeric; got bytes dtype \|S3"),
    "density complex": (lambda: WaveNetDensity(**TINY), Z.reshape(4, 50), ValueError,
                        "X has complex dtype"),
    "classifier complex": (_classifier, Z.reshape(20, 10), ValueError, "X has complex dtype"),
    "classifier bytes": (_classifier, np.full((20, 10), b"zq7"), TypeError, "bytes dtype"),
    "pixelcnn complex": (_pixelcnn, Z.reshape(2, 10, 10), ValueError, "X has complex dtype"),
    "pixelcnn text": (_pixelcnn, np.full((2, 4, 4), "zq7"), TypeError,
                      "X must hold integer levels; got text dtype <U3"),
    "signal-image complex": (_signal_image, Z.reshape(40, 5), ValueError, "y has complex dtype"),
    "signal-image text frame": (_signal_image, pd.DataFrame({"a": ["zq7"] * 40, "b": 1.0}),
                                TypeError, r"y has non-numeric columns \['a'\] \(text dtype"),
}


@pytest.mark.parametrize("make, data, exc, match", NOT_REAL.values(), ids=NOT_REAL.keys())
def test_data_that_are_not_real_get_one_line_without_the_values(make, data, exc, match):
    est = make()
    labels = {"y": np.arange(len(data)) % 2} if "Generative" in type(est).__name__ else {}
    with pytest.raises(exc, match=match) as info:
        est.fit(data, **labels)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 300, msg
    assert "zq7" not in msg and "7.25" not in msg and "3.5" not in msg, msg
    assert ("Complex data not supported" in msg) == (exc is ValueError)      # sklearn's words
    assert "real part, the magnitude or both" in msg if exc is ValueError else (
        "convert" in msg)


def test_complex_covariates_and_histories_are_refused_the_same_way():
    f = WaveNetForecaster(**TINY, horizon=2, n_paths=4).fit(Y, X=Y[:, None])
    with pytest.raises(ValueError, match="^Complex data not supported: X has complex dtype"):
        f.predict(X=Z[:2])
    with pytest.raises(ValueError, match="^Complex data not supported: y has complex dtype"):
        f.predict(y=Z[:, 0], X=np.ones((202, 1)))


def test_object_arrays_of_numbers_fit_as_floats():
    y = pd.DataFrame({"a": Y, "b": Y[::-1]})
    as_objects = [y.astype(object), y.to_numpy().astype(object)]
    as_objects[1][3, 0] = None                             # None in an object array: missing
    expected = WaveNetForecaster(**TINY).fit(y).predict(3)
    np.testing.assert_array_equal(WaveNetForecaster(**TINY).fit(as_objects[0]).predict(3),
                                  expected)
    f = WaveNetForecaster(**TINY).fit(as_objects[1])
    assert np.isnan(f.history_[0][3, 0]) and f.predict(3).shape == (3, 2)
