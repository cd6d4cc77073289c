"""save/load and pickle round trips; damaged or foreign files give clear errors."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

import tsargen
from tsargen import WaveNetDensity, WaveNetForecaster

from .conftest import TINY


@pytest.fixture
def fitted_forecaster():
    idx = pd.date_range("2020-01-01", periods=300, freq="D")
    rng = np.random.default_rng(0)
    y = pd.DataFrame(rng.normal(size=(300, 2)).cumsum(0), index=idx, columns=["x", "y"])
    X = pd.DataFrame({"dow": idx.day_of_week.to_numpy(float)}, index=idx)
    return WaveNetForecaster(**TINY, horizon=4, distribution={"x": "gaussian",
                                                              "y": "student_t"}).fit(y, X=X), X


def test_forecaster_save_load_identical(tmp_path, fitted_forecaster):
    f, X = fitted_forecaster
    future = pd.DataFrame({"dow": np.arange(4, dtype=float)},
                          index=pd.date_range("2020-10-27", periods=4, freq="D"))
    path = tmp_path / "model.tsargen"
    f.save(path)
    g = tsargen.load(path)
    assert type(g) is WaveNetForecaster and g.get_params() == f.get_params()
    pd.testing.assert_frame_equal(g.predict(X=future), f.predict(X=future))
    y_hist = pd.DataFrame(np.ones((50, 2)), index=pd.date_range("2021", periods=50),
                          columns=["x", "y"])
    pd.testing.assert_frame_equal(g.score_steps(y_hist, X=X.iloc[:50].set_axis(y_hist.index)),
                                  f.score_steps(y_hist, X=X.iloc[:50].set_axis(y_hist.index)))
    assert g.loss_curve_ == f.loss_curve_


@pytest.mark.parametrize("index, name", [
    (pd.period_range("2000-01", periods=120, freq="M"), "sales"),
    (pd.date_range("2000-01-01", periods=120, freq="W-SUN", tz="Europe/Paris"),
     pd.Timestamp("2020-01-01", tz="UTC")),
    (pd.RangeIndex(120, name="step"), pd.Period("2020Q1", freq="Q")),
])
def test_forecaster_save_load_keeps_pandas_time_metadata(tmp_path, index, name):
    y = pd.Series(np.random.default_rng(1).normal(size=120), index=index, name=name)
    f = WaveNetForecaster(**TINY, horizon=3).fit(y)
    f.save(tmp_path / "m.tsargen")
    g = tsargen.load(tmp_path / "m.tsargen")
    pd.testing.assert_series_equal(g.predict(), f.predict())
    assert g.predict().name == name


def test_density_save_load_and_pickle(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, 20))
    labels = np.array(["up", "down"] * 5)
    d = WaveNetDensity(**TINY).fit(X, labels)
    path = tmp_path / "d.pt"
    d.save(path)
    for other in (tsargen.load(path), pickle.loads(pickle.dumps(d))):
        np.testing.assert_array_equal(other.score_steps(X, labels), d.score_steps(X, labels))
        np.testing.assert_array_equal(other.classes_, d.classes_)
        np.testing.assert_array_equal(other.sample(2, y="up", random_state=0),
                                      d.sample(2, y="up", random_state=0))


def test_truncated_and_corrupted_files(tmp_path, fitted_forecaster):
    f, _ = fitted_forecaster
    path = tmp_path / "m.tsargen"
    f.save(path)
    data = path.read_bytes()
    (tmp_path / "cut").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable tsargen model"):
        tsargen.load(tmp_path / "cut")
    flipped = bytearray(data)
    flipped[len(data) // 3: len(data) // 3 + 64] = b"\x00" * 64
    (tmp_path / "bad").write_bytes(bytes(flipped))
    with pytest.raises(ValueError):
        tsargen.load(tmp_path / "bad")
    (tmp_path / "other").write_bytes(b"hello")
    with pytest.raises(ValueError):
        tsargen.load(tmp_path / "other")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign")
    with pytest.raises(ValueError, match="format marker"):
        tsargen.load(tmp_path / "foreign")


class _Boom:
    def __reduce__(self):
        return (print, ("code ran while loading",))


def test_loading_never_executes_code(tmp_path, capsys):
    import hashlib
    import io
    inner = io.BytesIO()
    torch.save({"format": "tsargen-model/1", "class": "WaveNetDensity", "params": "{}",
                "fitted": {"x_": _Boom()}}, inner)
    blob = inner.getvalue()
    for name, obj in [("outer", {"format": "tsargen-model/1", "payload": _Boom()}),
                      ("inner", {"format": "tsargen-model/1",
                                 "sha256": hashlib.sha256(blob).hexdigest(),
                                 "payload": torch.frombuffer(bytearray(blob), dtype=torch.uint8)})]:
        torch.save(obj, tmp_path / name)
        with pytest.raises(ValueError, match="never unpickles") as err:
            tsargen.load(tmp_path / name)
        assert "weights_only" not in str(err.value)       # no advice to turn the safety off
    with open(tmp_path / "plain.pkl", "wb") as fh:
        pickle.dump({"w": np.ones(3)}, fh)
    with pytest.raises(ValueError, match="not a readable.*never unpickles"):
        tsargen.load(tmp_path / "plain.pkl")
    assert "code ran" not in capsys.readouterr().out


def test_save_needs_json_params(tmp_path):
    d = WaveNetDensity(**{**TINY, "random_state": np.random.RandomState(0)}).fit(np.ones((4, 9)))
    with pytest.raises(TypeError, match="JSON"):
        d.save(tmp_path / "x")


def test_save_before_fit(tmp_path):
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        WaveNetDensity().save(tmp_path / "x")


def _as_earlier_format(path, old_path):
    """Rewrite a saved forecaster as files written before the Layout object held it: a
    ``meta_`` list of plain dicts instead of ``layouts_`` records."""
    from tsargen.estimators._persistence import FORMAT, read_checked, write_checked

    payload = read_checked(path, FORMAT)
    records = payload["fitted"].pop("layouts_")["__seq__"]
    payload["fitted"]["meta_"] = {"__seq__": [
        {"__dict__": [[key, value] for key, value in rec["fields"].items()
                      if key not in ("squeeze", "level")]} for rec in records], "tuple": False}
    write_checked(payload, old_path, FORMAT)


@pytest.mark.parametrize("kind", ["frame", "series", "1d", "signal frame", "signal 3d"])
def test_files_written_before_the_layout_object_still_load(tmp_path, kind):
    rng = np.random.default_rng(3)
    idx = pd.date_range("2021-01-01", periods=120, freq="h")
    if kind.startswith("signal"):
        frames = np.abs(rng.normal(size=(120, 5)))
        y = (pd.DataFrame(frames, idx, columns=list("abcde")) if kind == "signal frame"
             else np.stack([frames, frames[::-1]], -1))
        est = tsargen.SignalImageForecaster(
            tsargen.GatedPixelCNNDensity(n_layers=1, hidden_channels=8, n_levels=8,
                                         max_epochs=1), horizon=2, context=4, n_paths=8,
            random_state=0).fit(y)
    else:
        values = rng.normal(size=(120, 2)).cumsum(0)
        y = {"frame": pd.DataFrame(values, idx, columns=["p", "q"]),
             "series": pd.Series(values[:, 0], idx, name="p"), "1d": values[:, 0]}[kind]
        est = WaveNetForecaster(**{**TINY, "max_epochs": 1}, horizon=3, n_paths=20).fit(y)
    est.save(tmp_path / "new.tsargen")
    _as_earlier_format(tmp_path / "new.tsargen", tmp_path / "old.tsargen")
    old = tsargen.load(tmp_path / "old.tsargen")
    assert not hasattr(old, "meta_") and len(old.layouts_) == len(est.layouts_)
    for a, b in zip(old.layouts_, est.layouts_):
        assert (a.kind, a.squeeze, a.level, a.columns, a.name, a.dtype) == (
            b.kind, b.squeeze, b.level, b.columns, b.name, b.dtype)
        assert (a.index is None) == (b.index is None) and (a.index is None
                                                            or a.index.equals(b.index))
    for method in ("predict", "predict_quantiles"):
        a, b = getattr(old, method)(), getattr(est, method)()
        if isinstance(a, (pd.Series, pd.DataFrame)):
            assert a.equals(b) and a.index.equals(b.index)
        else:
            np.testing.assert_array_equal(a, b)


def test_data_frames_in_fitted_state_round_trip():
    """A fitted DataFrame (e.g. a table of validation scores) through the file's codec: numpy
    columns keep their dtype exactly, the others come back as object columns of equal values."""
    import io

    from tsargen.estimators._persistence import _decode, _encode

    frame = pd.DataFrame({
        "params": [{"differences": 0}, {"n_networks": 3, "seasonal_lag": None}, {}],
        "param_lag": pd.Series(["auto", None, 24], dtype=object),
        "crps": [0.5, np.nan, 1.25], "n": np.array([1, 2, 3], dtype=np.int32),
        "kept": [True, False, True], "text": ["a", "b", "c"],
        "when": pd.to_datetime(["2024-01-01", "2024-01-02", "NaT"]),
        ("tuple", "name"): [[1, 2], [3], []],
    }, index=pd.Index([10, 20, 30], name="row"))
    buffer = io.BytesIO()
    torch.save({"frame": _encode(frame, "frame")}, buffer)
    buffer.seek(0)
    back = _decode(torch.load(buffer, weights_only=True)["frame"])
    pd.testing.assert_frame_equal(back, frame.astype({"text": object}))
    assert back["params"][20] == {"n_networks": 3, "seasonal_lag": None}
    assert back[("tuple", "name")][10] == [1, 2]               # lists stay elements
    empty = _decode(_encode(pd.DataFrame(index=pd.RangeIndex(2)), "empty"))
    assert empty.shape == (2, 0)
    with pytest.raises(TypeError, match="MultiIndex"):
        _encode(frame.set_index(["n", "kept"]), "frame")
