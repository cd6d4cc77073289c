"""Data-parallel training under torchrun: two gloo ranks on CPU train one model, shard the
batches, agree on every loss, write files only on rank 0, and reach the single-process
validation loss."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture

from tsargen import GenerativeClassifier, WaveNetDensity
from tsargen.estimators import _distributed
from tsargen.model_selection import backtest

ROOT = Path(__file__).resolve().parents[1]
PARAMS = dict(n_layers=3, residual_channels=8, skip_channels=8, max_epochs=6, batch_size=8,
              lr=0.005, patience=100, random_state=0)


def _panel():
    """16 AR(1) series, x_t = 0.8 x_{t-1} + e_t."""
    e = np.random.default_rng(0).normal(size=(16, 120))
    x = np.zeros_like(e)
    for t in range(1, 120):
        x[:, t] = 0.8 * x[:, t - 1] + e[:, t]
    return x


def _torchrun_available():
    return (torch.distributed.is_available() and torch.distributed.is_gloo_available()
            and importlib.util.find_spec("torch.distributed.run") is not None)


@pytest.mark.skipif(not _torchrun_available(), reason="torch.distributed / torchrun with gloo "
                    "is not available")
@pytest.mark.slow
def test_two_gloo_ranks_match_single_process(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        import torch
        torch.set_num_threads(1)
        sys.path.insert(0, {str(ROOT)!r})
        import torch.distributed as dist
        from tests.test_ddp import PARAMS, _panel
        from tsargen import WaveNetDensity
        out = Path(sys.argv[1])
        d = WaveNetDensity(**PARAMS).fit(_panel(), checkpoint=out / "fit.ckpt")
        rank = dist.get_rank()
        d.save(out / f"model_rank{{rank}}.tsargen")
        (out / f"curves{{rank}}.json").write_text(json.dumps(
            {{"world": dist.get_world_size(), "val": d.val_loss_curve_,
              "loss": d.loss_curve_}}))
    """))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node=2", str(script), str(tmp_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"curves{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    # losses are reduced over ranks: both ranks saw the same curves (and stopped together)
    assert ranks[0]["val"] == ranks[1]["val"] and ranks[0]["loss"] == ranks[1]["loss"]
    written = sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".tsargen", ".ckpt"))
    assert written == ["fit.ckpt", "model_rank0.tsargen"]          # rank 1 wrote nothing

    single = WaveNetDensity(**PARAMS).fit(_panel())
    ddp_best, single_best = min(ranks[0]["val"]), min(single.val_loss_curve_)
    # it learned the AR(1) dependence: a N(0, 1) on the standardised data scores 1.419, the
    # true conditional density 0.5 * log(2 pi e (1 - 0.8 ** 2)) = 0.908 nats
    assert ddp_best < 1.1
    assert abs(ddp_best - single_best) < 0.05                      # nats per element


def test_shards_pad_like_distributed_sampler():
    for n in range(7):
        for world in (2, 3):
            shards = [list(_distributed.shard(iter(range(n)), r, world)) for r in range(world)]
            assert len({len(s) for s in shards}) == 1                  # equal step counts
            padded = [i % n for i in range(-(-n // world) * world)] if n else []
            assert [padded[r::world] for r in range(world)] == shards


def test_only_rank_zero_writes(tmp_path, monkeypatch):
    d = WaveNetDensity(**{**PARAMS, "max_epochs": 1}).fit(_panel()[:6, :40])
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    d.save(tmp_path / "m.tsargen")
    assert not (tmp_path / "m.tsargen").exists()
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 0)
    d.save(tmp_path / "m.tsargen")
    assert (tmp_path / "m.tsargen").exists()


def test_no_process_group_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert _distributed.distributed() is None



def test_process_parallel_fits_are_refused_under_torchrun(monkeypatch):
    # joblib workers would inherit torchrun's rendezvous and hang joining as duplicate ranks
    monkeypatch.setenv("WORLD_SIZE", "2")
    X, y = np.random.default_rng(0).normal(size=(8, 3)), [0, 1] * 4
    with pytest.raises(ValueError, match="n_jobs=2 under torchrun"):
        GenerativeClassifier(GaussianMixture(), n_jobs=2).fit(X, y)
    with pytest.raises(ValueError, match="n_jobs=2 under torchrun"):
        backtest(GaussianMixture(), np.arange(50.0), horizon=2, n_jobs=2)
    GenerativeClassifier(GaussianMixture()).fit(X, y)              # n_jobs=None: one process
