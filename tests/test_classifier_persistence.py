"""GenerativeClassifier.save + tsargen.load: same predictions; foreign densities are refused."""

import io
import pickle

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture

import tsargen
from tsargen import GatedPixelCNNDensity, GenerativeClassifier, WaveNetDensity

WAVENET = dict(n_layers=2, residual_channels=4, skip_channels=4, max_epochs=1, batch_size=8,
               random_state=0)


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 24))
    X[8:] = X[8:].cumsum(axis=1) / 3                     # class 2: random walks
    return X


def _densities(clf):
    """The fitted densities: one per class, or the one class-conditional density."""
    return clf.estimators_ if hasattr(clf, "estimators_") else [clf.estimator_]


def _same_predictions(loaded, clf, X):
    assert type(loaded) is GenerativeClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(loaded.class_prior_, clf.class_prior_)
    assert [type(e) for e in _densities(loaded)] == [type(e) for e in _densities(clf)]


def test_wavenet_classifier_round_trip(tmp_path, series):
    y = np.array(["noise"] * 8 + ["walk"] * 8)
    clf = GenerativeClassifier(WaveNetDensity(**WAVENET), priors=np.array([0.3, 0.7]),
                               n_jobs=1).fit(series, y)
    path = tmp_path / "clf.tsargen"
    assert clf.save(path) is clf
    loaded = tsargen.load(path)
    _same_predictions(loaded, clf, series)
    params = loaded.get_params(deep=False)
    assert params["estimator"].get_params() == clf.estimator.get_params()
    assert params["n_jobs"] == 1
    assert isinstance(params["priors"], np.ndarray)
    np.testing.assert_array_equal(params["priors"], [0.3, 0.7])
    assert loaded.n_features_in_ == clf.n_features_in_
    # the loaded classifier refits like the original
    np.testing.assert_array_equal(loaded.fit(series, y).predict_proba(series),
                                  clf.predict_proba(series))


def test_conditional_classifier_round_trip(tmp_path, series):
    y = np.array(["noise"] * 8 + ["walk"] * 8)
    clf = GenerativeClassifier(WaveNetDensity(**WAVENET), conditional=True).fit(series, y)
    clf.save(tmp_path / "cond.tsargen")
    loaded = tsargen.load(tmp_path / "cond.tsargen")
    _same_predictions(loaded, clf, series)
    assert loaded.conditional is True and not hasattr(loaded, "estimators_")
    np.testing.assert_array_equal(loaded.estimator_.classes_, [0, 1])


@pytest.mark.parametrize("labels", [
    np.array([3, 7] * 8),
    np.array([True, False] * 8),
    np.array(["up", "down"] * 8, dtype=object),
    np.array(["2020-01-01", "2021-06-30"] * 8, dtype="datetime64[ns]"),
], ids=["int", "bool", "object-str", "datetime"])
def test_label_kinds_round_trip(series, labels):
    clf = GenerativeClassifier(WaveNetDensity(**{**WAVENET, "n_layers": 1})).fit(series, labels)
    buf = io.BytesIO()
    clf.save(buf)
    buf.seek(0)
    _same_predictions(tsargen.load(buf), clf, series)


@pytest.mark.parametrize("conditional", [False, True], ids=["per-class", "conditional"])
def test_image_classifier_round_trip(tmp_path, conditional):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 4, size=(12, 5, 6))
    images[6:] = np.sort(images[6:], axis=2)              # class 1: rows sorted
    y = np.array([0] * 6 + [1] * 6)
    clf = GenerativeClassifier(GatedPixelCNNDensity(n_levels=4, n_layers=2, hidden_channels=8,
                                                    max_epochs=1, random_state=0),
                               conditional=conditional).fit(images, y)
    clf.save(tmp_path / "img.tsargen")
    loaded = tsargen.load(tmp_path / "img.tsargen")
    _same_predictions(loaded, clf, images)
    assert all(type(e) is GatedPixelCNNDensity for e in _densities(loaded))


class _MyDensity(WaveNetDensity):
    """A user's subclass: load() could not rebuild it by name."""


@pytest.mark.parametrize("make", [lambda: GaussianMixture(random_state=0),
                                  lambda: _MyDensity(**{**WAVENET, "n_layers": 1})],
                         ids=["GaussianMixture", "subclass"])
def test_foreign_estimator_is_refused_and_nothing_written(tmp_path, series, make):
    y = np.array([0, 1] * 8)
    clf = GenerativeClassifier(make()).fit(series[:, :3], y)
    path = tmp_path / "clf.tsargen"
    with pytest.raises(TypeError, match="tsargen densities only.*pickle or joblib"):
        clf.save(path)
    assert list(tmp_path.iterdir()) == []                    # no file, no temporary left
    buf = io.BytesIO()
    with pytest.raises(TypeError, match="pickle or joblib"):
        clf.save(buf)
    assert buf.getvalue() == b""
    again = pickle.loads(pickle.dumps(clf))                  # the advertised way still works
    np.testing.assert_array_equal(again.predict_proba(series[:, :3]),
                                  clf.predict_proba(series[:, :3]))


def test_save_before_fit_and_non_json_params(tmp_path, series):
    with pytest.raises(NotFittedError):
        GenerativeClassifier(WaveNetDensity(**WAVENET)).save(tmp_path / "x")
    rs = np.random.RandomState(0)
    clf = GenerativeClassifier(WaveNetDensity(**{**WAVENET, "n_layers": 1, "random_state": rs}))
    clf.fit(series, np.array([0, 1] * 8))
    with pytest.raises(TypeError, match="JSON"):
        clf.save(tmp_path / "x")
    assert list(tmp_path.iterdir()) == []
