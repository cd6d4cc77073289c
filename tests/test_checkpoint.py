"""Checkpointed training: a fit killed with SIGKILL and resumed ends bit for bit as an
uninterrupted one; damaged, foreign or malicious checkpoint and model files give a clear
ValueError and never execute code."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture

import tsargen
from tsargen import (GenerativeClassifier, PixelCNNDensity, SignalImageForecaster, WaveNetDensity,
                     WaveNetForecaster)
from tsargen.estimators import _checkpoint, _training
from tsargen.estimators._persistence import FORMAT, read_checked, write_checked

from .conftest import TINY

ROOT = Path(__file__).resolve().parents[1]
# long enough to be killed mid-training, no early stop
KILL_PARAMS = dict(TINY, n_layers=2, residual_channels=4, skip_channels=4, max_epochs=10,
                   batch_size=4, patience=1000)
TINY_IMAGE = dict(n_layers=2, hidden_channels=6, kernel_size=3, max_epochs=4, batch_size=8,
                  random_state=0)


def _series():
    rng = np.random.default_rng(7)
    return np.cumsum(rng.normal(size=400)) * 0.1 + np.sin(np.arange(400) / 6)


def _network(est):
    return est.density_.network_ if isinstance(est, SignalImageForecaster) else est.network_


def _same_weights(a, b):
    sa, sb = _network(a).state_dict(), _network(b).state_dict()
    assert sa.keys() == sb.keys()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def _epoch(path):
    return read_checked(path, _checkpoint.CHECKPOINT_FORMAT, "checkpoint")["epoch"]


# ---------------------------------------------------------------------- kill and resume
def test_sigkill_mid_training_then_resume_equals_uninterrupted(tmp_path):
    ckpt = tmp_path / "fit.ckpt"
    script = textwrap.dedent(f"""
        import sys, numpy as np, torch
        torch.set_num_threads(1)
        sys.path.insert(0, {str(ROOT)!r})
        from tsargen import WaveNetForecaster
        rng = np.random.default_rng(7)
        y = np.cumsum(rng.normal(size=400)) * 0.1 + np.sin(np.arange(400) / 6)
        WaveNetForecaster(**{KILL_PARAMS!r}).fit(y, checkpoint={str(ckpt)!r})
        print("finished")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, (out, err)
    killed_at = _epoch(ckpt)
    assert 1 <= killed_at < KILL_PARAMS["max_epochs"]           # really mid-training

    y = _series()
    resumed = WaveNetForecaster(**KILL_PARAMS).fit(y, checkpoint=ckpt)
    whole = WaveNetForecaster(**KILL_PARAMS).fit(y)
    assert _same_weights(resumed, whole)
    assert resumed.loss_curve_ == whole.loss_curve_
    assert resumed.val_loss_curve_ == whole.val_loss_curve_
    assert len(resumed.loss_curve_) == KILL_PARAMS["max_epochs"]
    assert _epoch(ckpt) == KILL_PARAMS["max_epochs"]


class _Interrupt(Exception):
    pass


def _interrupt_after(monkeypatch, n_saves):
    """Make the checkpoint writer raise right after its ``n_saves``-th write."""
    real, calls = _checkpoint.write_checked, []

    def writer(*args, **kwargs):
        real(*args, **kwargs)
        calls.append(1)
        if len(calls) == n_saves:
            raise _Interrupt
    monkeypatch.setattr(_checkpoint, "write_checked", writer)
    return real


@pytest.mark.parametrize("make,data", [
    (lambda: WaveNetDensity(**{**TINY, "max_epochs": 3, "patience": 100}),
     lambda: (np.random.default_rng(0).normal(size=(12, 40)), np.repeat([0, 1], 6))),
    (lambda: WaveNetDensity(**{**TINY, "max_epochs": 3, "patience": 100, "ema_decay": 0.9}),
     lambda: (np.random.default_rng(0).normal(size=(12, 40)), None)),
    (lambda: PixelCNNDensity(**TINY_IMAGE, n_levels=4),
     lambda: (np.random.default_rng(0).integers(0, 4, size=(30, 5, 5)), None)),
    (lambda: PixelCNNDensity(**TINY_IMAGE, n_levels=4, ema_decay=0.9),
     lambda: (np.random.default_rng(0).integers(0, 4, size=(30, 5, 5)), None)),
    (lambda: SignalImageForecaster(PixelCNNDensity(**TINY_IMAGE, n_levels=4, patience=100),
                                   horizon=2, context=3, transform="uniform"),
     lambda: (np.random.default_rng(0).normal(size=(60, 6)), None)),
])
def test_interrupted_density_fit_resumes_exactly(tmp_path, monkeypatch, make, data):
    X, y = data()
    ckpt = tmp_path / "d.ckpt"
    real = _interrupt_after(monkeypatch, 2)
    with pytest.raises(_Interrupt):
        make().fit(X, y, checkpoint=ckpt)
    assert _epoch(ckpt) == 2
    monkeypatch.setattr(_checkpoint, "write_checked", real)
    resumed = make().fit(X, y, checkpoint=ckpt)
    whole = make().fit(X, y)
    assert _same_weights(resumed, whole) and resumed.loss_curve_ == whole.loss_curve_
    assert resumed.n_iter_ == whole.n_iter_ and resumed.val_loss_curve_ == whole.val_loss_curve_


@pytest.mark.parametrize("make,data", [
    (lambda: WaveNetDensity(**{**TINY, "max_epochs": 3, "random_state": None}),
     lambda: np.random.default_rng(0).normal(size=(12, 40))),
    (lambda: PixelCNNDensity(**{**TINY_IMAGE, "random_state": None}, n_levels=4),
     lambda: np.random.default_rng(0).integers(0, 4, size=(30, 5, 5))),
])
def test_without_an_integer_seed_the_checkpoint_keeps_the_fits_seed(tmp_path, monkeypatch,
                                                                    make, data):
    # the split and the initialisation are drawn from a fresh seed: a restarted fit must take
    # the checkpoint's own seed, or its fingerprint (which covers the split) could never match
    X, ckpt = data(), tmp_path / "n.ckpt"
    real = _interrupt_after(monkeypatch, 2)
    with pytest.raises(_Interrupt):
        make().fit(X, checkpoint=ckpt)
    monkeypatch.setattr(_checkpoint, "write_checked", real)
    resumed = make().fit(X, checkpoint=ckpt)
    assert resumed.n_iter_ == resumed.max_epochs and len(resumed.loss_curve_) == resumed.n_iter_


def test_fingerprint_treats_a_nested_density_like_the_estimator_itself():
    fp = _checkpoint.fit_fingerprint

    def forecaster(**kw):
        return SignalImageForecaster(PixelCNNDensity(**{"n_levels": 4, **kw}), horizon=2)
    base = fp(forecaster())
    # verbose, device and a non-integer seed do not change what is trained
    assert fp(forecaster(verbose=True)) == base
    assert fp(forecaster(random_state=np.random.RandomState(0))) == base
    assert fp(forecaster(n_levels=5)) != base and fp(forecaster(lr=0.1)) != base


def test_prediction_only_parameters_do_not_refuse_a_resume(tmp_path, monkeypatch):
    y = _series()[:200]
    ckpt = tmp_path / "f.ckpt"
    first = WaveNetForecaster(**TINY).fit(y, checkpoint=ckpt)

    def no_training(*args, **kwargs):
        raise AssertionError("a finished checkpoint must not train again")
    monkeypatch.setattr("tsargen.estimators._wavenet.window_nll", no_training)
    again = WaveNetForecaster(**TINY, horizon=7, context=20, n_paths=11).fit(y, checkpoint=ckpt)
    assert _same_weights(first, again) and again.predict().shape == (7,)
    fp = _checkpoint.fit_fingerprint
    image = SignalImageForecaster(PixelCNNDensity(n_levels=4), horizon=2)
    assert fp(image) == fp(image.set_params(n_paths=7)) != fp(image.set_params(horizon=3))
    # what the network learns still counts
    with pytest.raises(ValueError, match="different fit"):
        WaveNetForecaster(**{**TINY, "differences": 1}).fit(y, checkpoint=ckpt)


def test_checkpoint_in_a_missing_folder_fails_before_training(tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("must fail before the first epoch")
    monkeypatch.setattr("tsargen.estimators._wavenet.window_nll", no_training)
    with pytest.raises(ValueError, match="its folder does not exist"):
        WaveNetForecaster(**TINY).fit(_series()[:200], checkpoint=tmp_path / "nope" / "f.ckpt")


def test_finished_checkpoint_returns_the_model_without_training(tmp_path, monkeypatch):
    y = _series()[:200]
    ckpt = tmp_path / "f.ckpt"
    first = WaveNetForecaster(**TINY).fit(y, checkpoint=ckpt)
    stamp = ckpt.stat().st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("a finished checkpoint must not train again")
    monkeypatch.setattr(_training, "window_nll", no_training)
    monkeypatch.setattr("tsargen.estimators._wavenet.window_nll", no_training)
    again = WaveNetForecaster(**TINY).fit(y, checkpoint=ckpt)
    assert _same_weights(first, again) and again.loss_curve_ == first.loss_curve_
    assert ckpt.stat().st_mtime_ns == stamp


# ---------------------------------------------------------------------- refusing bad files
def test_checkpoint_of_another_fit_is_refused(tmp_path):
    y = _series()[:200]
    ckpt = tmp_path / "f.ckpt"
    WaveNetForecaster(**TINY).fit(y, checkpoint=ckpt)
    with pytest.raises(ValueError, match="different fit"):
        WaveNetForecaster(**{**TINY, "lr": 0.01}).fit(y, checkpoint=ckpt)
    with pytest.raises(ValueError, match="different fit"):
        WaveNetForecaster(**TINY).fit(y[::-1].copy(), checkpoint=ckpt)
    with pytest.raises(ValueError, match="different fit"):
        WaveNetDensity(**TINY).fit(y[None], checkpoint=ckpt)


def test_damaged_checkpoint_gives_value_error_and_no_model(tmp_path):
    y = _series()[:200]
    ckpt = tmp_path / "f.ckpt"
    WaveNetForecaster(**TINY).fit(y, checkpoint=ckpt)
    data = ckpt.read_bytes()
    flipped = bytearray(data)
    flipped[len(data) // 2: len(data) // 2 + 32] = bytes(32)
    for name, content, match in [("cut", data[: len(data) // 2], "not a readable"),
                                 ("flipped", bytes(flipped), "checksum|not a readable"),
                                 ("empty", b"", "not a readable")]:
        path = tmp_path / name
        path.write_bytes(content)
        est = WaveNetForecaster(**TINY)
        with pytest.raises(ValueError, match=match):
            est.fit(y, checkpoint=path)
        assert not hasattr(est, "network_")
    # a model file is not a checkpoint, and a checkpoint is not a model file
    model = tmp_path / "m.tsargen"
    WaveNetForecaster(**TINY).fit(y).save(model)
    with pytest.raises(ValueError, match="format marker"):
        WaveNetForecaster(**TINY).fit(y, checkpoint=model)
    with pytest.raises(ValueError, match="format marker"):
        tsargen.load(ckpt)


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_loading_never_executes_code(tmp_path):
    target = str(tmp_path / "pwned")
    evil = tmp_path / "evil"
    torch.save({"format": _checkpoint.CHECKPOINT_FORMAT, "payload": _Evil(target)}, evil)
    with pytest.raises(ValueError, match="not a readable"):
        WaveNetForecaster(**TINY).fit(_series()[:200], checkpoint=evil)
    with pytest.raises(ValueError, match="not a readable"):
        tsargen.load(evil)
    assert not os.path.exists(target)


def test_truncated_model_file_never_gives_a_half_loaded_model(tmp_path):
    path = tmp_path / "m.tsargen"
    WaveNetForecaster(**TINY).fit(_series()[:200]).save(path)
    data = path.read_bytes()
    for cut in (10, len(data) // 4, len(data) // 2, len(data) - 10):
        (tmp_path / "cut").write_bytes(data[:cut])
        with pytest.raises(ValueError):
            tsargen.load(tmp_path / "cut")
    # complete file, but a payload with entries missing
    write_checked({"format": FORMAT, "class": "WaveNetForecaster"}, tmp_path / "partial", FORMAT)
    with pytest.raises(ValueError, match="entries missing"):
        tsargen.load(tmp_path / "partial")


def test_save_is_atomic(tmp_path, monkeypatch):
    """A crash while writing leaves the previous file intact and no temporary file behind."""
    path = tmp_path / "m.tsargen"
    f = WaveNetForecaster(**TINY).fit(_series()[:200]).save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        f.save(path)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["m.tsargen"]


# ---------------------------------------------------------------------- classifier
def test_classifier_checkpoints_each_class(tmp_path):
    rng = np.random.default_rng(3)
    X = np.r_[rng.normal(0, 1, (8, 30)), rng.normal(0, 3, (8, 30))]
    y = np.repeat(["calm", "wild"], 8)
    prefix = tmp_path / "clf"
    clf = GenerativeClassifier(WaveNetDensity(**TINY)).fit(X, y, checkpoint=prefix)
    assert sorted(os.listdir(tmp_path)) == ["clf.0", "clf.1"]
    again = GenerativeClassifier(WaveNetDensity(**TINY)).fit(X, y, checkpoint=prefix)
    np.testing.assert_array_equal(again.predict_joint_log_proba(X),
                                  clf.predict_joint_log_proba(X))
    with pytest.raises(TypeError, match="checkpoint"):
        GenerativeClassifier(GaussianMixture()).fit(X, y, checkpoint=prefix)


def test_conditional_classifier_checkpoints_its_one_density(tmp_path):
    rng = np.random.default_rng(3)
    X = np.r_[rng.normal(0, 1, (8, 30)), rng.normal(0, 3, (8, 30))]
    y = np.repeat(["calm", "wild"], 8)
    prefix = tmp_path / "clf"
    clf = GenerativeClassifier(WaveNetDensity(**TINY), conditional=True).fit(
        X, y, checkpoint=prefix)
    assert sorted(os.listdir(tmp_path)) == ["clf.conditional"]
    again = GenerativeClassifier(WaveNetDensity(**TINY), conditional=True).fit(
        X, y, checkpoint=prefix)
    assert again.estimator_.n_iter_ == clf.estimator_.n_iter_
    np.testing.assert_array_equal(again.predict_joint_log_proba(X),
                                  clf.predict_joint_log_proba(X))
