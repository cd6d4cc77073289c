"""n_threads: the WaveNet estimators run torch on their own thread count per call and give the
caller's setting back."""

import numpy as np
import pytest
import torch

from tsargen import WaveNetDensity, WaveNetForecaster
from tsargen.estimators import _wavenet

from .conftest import TINY


@pytest.fixture
def caller_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


@pytest.mark.parametrize("n_threads", [1, None])
def test_calls_run_on_n_threads_and_restore_the_callers_setting(caller_threads, monkeypatch,
                                                                n_threads):
    seen = []
    train = _wavenet.train

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return train(*args, **kwargs)

    monkeypatch.setattr(_wavenet, "train", spy)
    y = np.sin(np.arange(120) / 3)
    f = WaveNetForecaster(**{**TINY, "max_epochs": 1}, n_paths=5, n_threads=n_threads).fit(y)
    assert seen == [caller_threads if n_threads is None else n_threads]
    assert torch.get_num_threads() == caller_threads
    f.predict(3), f.score_steps(y)
    assert torch.get_num_threads() == caller_threads


def test_restored_after_an_error_and_on_the_density(caller_threads):
    d = WaveNetDensity(**{**TINY, "max_epochs": 1}, n_threads=1)
    with pytest.raises(ValueError):
        d.fit(np.full((2, 50, 1), np.nan))
    assert torch.get_num_threads() == caller_threads
    d.fit(np.random.default_rng(0).normal(size=(4, 40, 1)))
    d.sample(2, length=5, random_state=0)
    assert torch.get_num_threads() == caller_threads
    assert WaveNetForecaster().n_threads == 1 and WaveNetDensity().n_threads == 1


def test_the_command_lines_threads_reach_the_estimator():
    from tsargen.cli._commands import _build

    assert _build("WaveNetForecaster", {}, 3).n_threads == 3
    assert _build("WaveNetForecaster", {"n_threads": 2}, 3).n_threads == 2
    assert "n_threads" not in _build("PixelCNNDensity", {}, 3).get_params()
