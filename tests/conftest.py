"""Shared fixtures: tiny model settings, the optional real-data folder, and a fixed torch seed per
test."""

import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

# tiny models run no faster on two threads, and one thread per test process keeps timings sane
torch.set_num_threads(1)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# small enough that a fit takes well under a second on 2 cores
#: scikit-learn's estimator checks that need no data (every estimator passes them)
NO_DATA_CHECKS = ["check_no_attributes_set_in_init", "check_get_params_invariance",
                  "check_set_params", "check_parameters_default_constructible",
                  "check_estimator_cloneable", "check_estimator_repr",
                  "check_do_not_raise_errors_in_init_or_set_params"]

TINY = dict(n_layers=3, residual_channels=8, skip_channels=8, max_epochs=3, batch_size=16,
            random_state=0)


@pytest.fixture(autouse=True)
def _torch_seed_per_test(request):
    """Tests that draw inputs from torch's global generator see the same draws whatever ran
    before them, in one process or spread over several (``make test`` runs two)."""
    torch.manual_seed(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def data_dir():
    if not DATA.is_dir():
        pytest.skip(f"real data folder {DATA} is absent")
    return DATA


@pytest.fixture
def ar2():
    """AR(2) series x_t = 0.6 x_{t-1} - 0.3 x_{t-2} + e_t, e_t ~ N(0, 1)."""
    rng = np.random.default_rng(42)
    e = rng.normal(size=3000)
    x = np.zeros(3000)
    for t in range(2, 3000):
        x[t] = 0.6 * x[t - 1] - 0.3 * x[t - 2] + e[t]
    return x
