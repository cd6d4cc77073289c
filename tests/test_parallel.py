"""GenerativeClassifier(n_jobs=2): the per-class densities fitted in joblib worker processes
are bit-identical to a serial fit."""

import numpy as np
import pytest
import torch

from tsargen import GenerativeClassifier, WaveNetDensity

from .test_ddp import PARAMS, _panel


@pytest.mark.slow
def test_classifier_parallel_fits_are_identical_to_serial():
    X = np.r_[_panel()[:8, :40], 2 * _panel()[8:, :40]]
    y = np.repeat(["calm", "wild"], 8)
    tiny = {**PARAMS, "max_epochs": 2}
    serial = GenerativeClassifier(WaveNetDensity(**tiny), n_jobs=1).fit(X, y)
    parallel = GenerativeClassifier(WaveNetDensity(**tiny), n_jobs=2).fit(X, y)
    for a, b in zip(serial.estimators_, parallel.estimators_):
        sa, sb = a.network_.state_dict(), b.network_.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
        assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(serial.predict_joint_log_proba(X),
                                  parallel.predict_joint_log_proba(X))
