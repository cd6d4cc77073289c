"""AutoForecaster: the validation protocol (inside the training data only), the choice, the
ensemble stage, delegation to the refitted winner, pandas and lists, errors, save/load."""

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks

import tsargen
from tsargen import AutoForecaster, WaveNetForecaster
from tsargen._registry import REGISTRY
from tsargen.metrics import crps, mase

from .conftest import NO_DATA_CHECKS

NET = dict(n_layers=2, residual_channels=4, skip_channels=4, max_epochs=1, batch_size=16)
H, N_ORIGINS, N_PATHS = 4, 2, 20
CANDIDATES = [{"differences": 0}, {"differences": 1}]


def _series(n=120, seed=0, channels=None):
    rng = np.random.default_rng(seed)
    shape = n if channels is None else (n, channels)
    t = np.arange(n) if channels is None else np.arange(n)[:, None]
    return np.sin(t / 3) + 0.05 * np.cumsum(rng.normal(size=shape), axis=0)


def _auto(**kwargs):
    return AutoForecaster(**{**dict(horizon=H, candidates=CANDIDATES, base_params=NET,
                                    n_origins=N_ORIGINS, ensemble_size=None, n_paths=N_PATHS,
                                    random_state=0), **kwargs})


@pytest.fixture(scope="module")
def y():
    return _series()


@pytest.fixture(scope="module")
def fitted(y):
    return _auto().fit(y)


# ---------------------------------------------------------------------- the choice
def test_choice_is_the_argmin_of_the_validated_crps(fitted):
    table = fitted.cv_results_
    assert len(table) == 2 and table["params"].tolist() == CANDIDATES
    assert table["param_differences"].tolist() == [0, 1]
    scores = table["crps"].to_numpy()
    assert np.isfinite(scores).all() and scores[0] != scores[1]
    assert fitted.best_index_ == int(np.argmin(scores))
    assert fitted.best_params_ == CANDIDATES[fitted.best_index_]
    origin_cols = [f"crps_origin_{k}" for k in range(N_ORIGINS)]
    np.testing.assert_allclose(scores, table[origin_cols].mean(axis=1))
    assert (table["fit_time"] > 0).all() and np.isfinite(table["mase"]).all()
    # the winner is refitted with its settings, AutoForecaster's own and the shared seed
    params = fitted.best_estimator_.get_params()
    assert params["differences"] == fitted.best_params_["differences"]
    assert {k: params[k] for k in NET} == NET
    assert (params["horizon"], params["n_paths"], params["random_state"]) == (H, N_PATHS, 0)
    assert params["n_threads"] == 1
    assert fitted.best_estimator_.history_[0].shape[0] == 120          # all the training data


def test_n_threads_reaches_every_candidate_and_the_winner(y, monkeypatch):
    """AutoForecaster(n_threads=2): every validation fit and the refit run on 2 threads."""
    seen = []
    fit = WaveNetForecaster.fit

    def spy(self, *args, **kwargs):
        seen.append(self.n_threads)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(WaveNetForecaster, "fit", spy)
    auto = _auto(n_threads=2).fit(y)
    assert seen == [2] * (len(CANDIDATES) + 1) and auto.best_estimator_.n_threads == 2


def test_validation_scores_follow_the_protocol(y, fitted):
    """Each score rebuilt by hand: a candidate fitted on the steps before the first origin,
    forecasting every block from the true history before it."""
    first = 120 - N_ORIGINS * H
    assert fitted.origins_ == [first + k * H for k in range(N_ORIGINS)]
    for i, cand in enumerate(CANDIDATES):
        est = WaveNetForecaster(**NET, **cand, horizon=H, n_paths=N_PATHS,
                                random_state=0).fit(y[:first])
        row = fitted.cv_results_.iloc[i]
        # what the validation fit chose where a setting is "auto"
        assert (row["differences_"], row["seasonal_lag_"]) == (est.differences_,
                                                                est.seasonal_lag_)
        mases = []
        for k, origin in enumerate(fitted.origins_):
            paths = est.sample(N_PATHS, H, y=y[:origin], random_state=0)
            truth = y[origin:origin + H]
            assert row[f"crps_origin_{k}"] == pytest.approx(crps(truth, paths).mean(), rel=1e-12)
            mases.append(mase(truth, np.median(paths[..., 0], axis=0), y[:origin]))
        assert row["mase"] == pytest.approx(np.mean(mases), rel=1e-12)


def test_nothing_after_the_training_end_or_an_origin_is_seen(y):
    """Two series equal up to the end of the first validation block and wildly different after
    it: the first block's scores agree exactly, the second's do not."""
    end_first_block = 120 - N_ORIGINS * H + H
    other = y.copy()
    other[end_first_block:] += np.random.default_rng(1).normal(scale=50, size=120 - end_first_block)
    a, b = _auto().fit(y), _auto().fit(other)
    np.testing.assert_array_equal(a.cv_results_["crps_origin_0"], b.cv_results_["crps_origin_0"])
    assert (a.cv_results_["crps_origin_1"] != b.cv_results_["crps_origin_1"]).all()


def test_every_fit_and_forecast_sees_only_the_past(y, monkeypatch):
    """Record the length of every y and X a candidate gets (covariates included)."""
    seen = []
    fit, sample = WaveNetForecaster.fit, WaveNetForecaster.sample

    def spy_fit(self, y, X=None, **kwargs):
        seen.append(("fit", len(y), len(X)))
        return fit(self, y, X, **kwargs)

    def spy_sample(self, n_samples=100, horizon=None, *, y=None, X=None, random_state=None):
        seen.append(("sample", len(y), len(X)))
        return sample(self, n_samples, horizon, y=y, X=X, random_state=random_state)

    monkeypatch.setattr(WaveNetForecaster, "fit", spy_fit)
    monkeypatch.setattr(WaveNetForecaster, "sample", spy_sample)
    X = np.cos(np.arange(120) / 5)[:, None]
    auto = _auto().fit(y, X)
    first, second = 120 - 2 * H, 120 - H
    one = [("fit", first, first), ("sample", first, first + H), ("sample", second, second + H)]
    assert seen == one * len(CANDIDATES) + [("fit", 120, 120)]
    assert auto.best_estimator_.n_covariates_ == 1
    assert auto.predict(X=np.zeros((H, 1))).shape == (H,)


def test_ensemble_stage_validates_the_best_single_as_an_ensemble(y):
    auto = _auto(ensemble_size=2).fit(y)
    table = auto.cv_results_
    singles = table["crps"].to_numpy()[:2]
    winner = CANDIDATES[int(np.argmin(singles))]
    assert table["params"].tolist() == [*CANDIDATES, {**winner, "n_networks": 2}]
    assert table["param_n_networks"].tolist() == [1, 1, 2]
    assert auto.best_index_ == int(np.argmin(table["crps"]))
    assert auto.best_estimator_.n_networks == auto.best_params_.get("n_networks", 1)
    # a winner with as many networks already: no ensemble stage
    many = _auto(ensemble_size=2, candidates=[{"differences": 0}],
                 base_params={**NET, "n_networks": 2}).fit(y)
    assert len(many.cv_results_) == 1 and many.best_estimator_.n_networks == 2


def test_identical_candidates_are_validated_once(y):
    auto = _auto(candidates=[{"n_layers": 2}, {}, {"differences": 1}]).fit(y)
    assert auto.cv_results_["params"].tolist() == [{"n_layers": 2}, {"differences": 1}]


def _default_auto(y, **base):
    return AutoForecaster(horizon=H, base_params={**NET, **base}, n_origins=N_ORIGINS,
                          n_paths=N_PATHS, random_state=0).fit(y)


def _check_default_grid(auto, expected):
    """The defaults first, then ``expected`` (what they chose, changed one at a time), then
    the ensemble of the best; no candidate refits what an earlier one fitted."""
    table = auto.cv_results_
    params = table["params"].tolist()
    assert params[:-1] == [{}, *expected]
    assert params[-1] == {**params[int(np.argmin(table["crps"].to_numpy()[:-1]))],
                          "n_networks": 3}
    assert auto.best_index_ == int(np.argmin(table["crps"]))
    fits = [(p.get("scaling", "window"), d, s) for p, d, s in
            zip(params[:-1], table["differences_"], table["seasonal_lag_"])]
    assert len(set(fits)) == len(fits), fits


def test_default_grid_changes_what_the_defaults_chose():
    """A random walk: the defaults difference it once (no season), so the grid tries global
    scaling and no differencing, not ``seasonal_lag=None`` (what they fitted already)."""
    walk = np.cumsum(np.random.default_rng(1).normal(size=120))
    auto = _default_auto(walk)
    assert auto.cv_results_["differences_"][0] == 1 and auto.cv_results_["seasonal_lag_"][0] is None
    _check_default_grid(auto, [{"scaling": "global"}, {"differences": 0}])


def test_default_grid_with_a_season():
    """An hourly daily cycle: the defaults take a seasonal difference, and the grid tries
    without it; an explicit ``differences`` in ``base_params`` is changed to the other order."""
    index = pd.date_range("2024-01-01", periods=24 * 8, freq="h")
    t = np.arange(len(index))
    rng = np.random.default_rng(2)
    y = pd.Series(5 * np.sin(2 * np.pi * t / 24) + 0.3 * rng.normal(size=t.size), index=index)
    auto = _default_auto(y, differences=0)
    assert auto.cv_results_["seasonal_lag_"][0] == 24
    _check_default_grid(auto, [{"scaling": "global"}, {"differences": 1},
                               {"seasonal_lag": None}])


# ---------------------------------------------------------------------- the forecaster
def test_forecasts_and_scores_are_the_winners(y, fitted):
    best = fitted.best_estimator_
    np.testing.assert_array_equal(fitted.predict(), best.predict())
    np.testing.assert_array_equal(fitted.predict(6, y=y[:90]), best.predict(6, y=y[:90]))
    np.testing.assert_array_equal(fitted.predict_quantiles(3, (0.2, 0.8)),
                                  best.predict_quantiles(3, (0.2, 0.8)))
    np.testing.assert_array_equal(fitted.predict_interval(coverage=[0.5, 0.9]),
                                  best.predict_interval(coverage=[0.5, 0.9]))
    np.testing.assert_array_equal(fitted.sample(5, 3, random_state=7),
                                  best.sample(5, 3, random_state=7))
    np.testing.assert_array_equal(fitted.score_steps(y[:50]), best.score_steps(y[:50]))
    assert fitted.score(y[:50]) == best.score(y[:50])
    assert fitted.predict().shape == (H,) and fitted.sample(5).shape == (5, H, 1)


def test_update_extends_the_winners_history(y):
    auto = _auto(candidates=[{}]).fit(y[:100])
    assert auto.update(y[100:110]) is auto
    assert auto.best_estimator_.history_[0].shape[0] == 110
    expected = WaveNetForecaster(**auto.best_estimator_.get_params()).fit(y[:100])
    np.testing.assert_array_equal(auto.predict(), expected.predict(y=y[:110]))


def test_multichannel_and_lists_of_series():
    two = _series(channels=2)
    auto = _auto(candidates=[{}]).fit(two)
    assert auto.predict().shape == (H, 2) and auto.sample(3).shape == (3, H, 2)
    series = [_series(120, 1), _series(100, 2)]
    listed = _auto(candidates=[{}]).fit(series)
    assert listed.origins_ == [[112, 116], [92, 96]]
    out = listed.predict()
    assert isinstance(out, list) and [o.shape for o in out] == [(H,), (H,)]
    assert [h.shape[0] for h in listed.best_estimator_.history_] == [120, 100]


def test_list_scores_pool_every_series_tail(monkeypatch):
    """A block's CRPS averages the elements of every series' block."""
    series = [_series(120, 1), _series(100, 2)]
    auto = _auto(candidates=[{}]).fit(series)
    first = [120 - 2 * H, 100 - 2 * H]
    est = WaveNetForecaster(**NET, horizon=H, n_paths=N_PATHS, random_state=0).fit(
        [s[:f] for s, f in zip(series, first)])
    for k in range(N_ORIGINS):
        ends = [f + k * H for f in first]
        paths = est.sample(N_PATHS, H, y=[s[:e] for s, e in zip(series, ends)], random_state=0)
        pooled = np.concatenate([crps(s[e:e + H], p) for s, e, p in zip(series, ends, paths)])
        assert auto.cv_results_[f"crps_origin_{k}"][0] == pytest.approx(pooled.mean(), rel=1e-12)


def test_pandas_in_pandas_out(y):
    index = pd.date_range("2024-01-01", periods=120, freq="D")
    series = pd.Series(y, index=index, name="demand")
    auto = _auto(candidates=[{}]).fit(series)
    point = auto.predict()
    assert isinstance(point, pd.Series) and point.name == "demand"
    assert point.index.equals(pd.date_range("2024-04-30", periods=H, freq="D"))
    pd.testing.assert_series_equal(point, auto.best_estimator_.predict())
    quant = auto.predict_quantiles(quantiles=(0.1, 0.9))
    assert list(quant.columns) == [("demand", 0.1), ("demand", 0.9)]
    assert np.isfinite(auto.cv_results_["crps"]).all() and auto.origins_ == [112, 116]
    frame = pd.DataFrame(_series(channels=2), index=index, columns=["a", "b"])
    out = _auto(candidates=[{}]).fit(frame).predict()
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["a", "b"]


def test_a_gapped_index_warns_once(y):
    index = pd.date_range("2024-01-01", periods=121, freq="h").delete(60)
    with pytest.warns(tsargen.IrregularIndexWarning) as record:
        _auto(candidates=[{}]).fit(pd.Series(y, index=index))
    assert len([w for w in record if w.category is tsargen.IrregularIndexWarning]) == 1


# ---------------------------------------------------------------------- errors
def test_too_short_series_name_the_minimum_length():
    need = N_ORIGINS * H + 1 + 1                      # sp=1: two steps before the first origin
    with pytest.raises(ValueError, match=f"y has {need - 1} timesteps but AutoForecaster "
                                         f"needs at least {need}: n_origins=2"):
        _auto().fit(_series(need - 1))
    with pytest.raises(ValueError, match=r"^y\[1\] has 9 timesteps .* at least 12"):
        _auto(sp=3).fit([_series(120), _series(9)])
    # long enough for the protocol, too short for the network: the candidate's error, placed
    with pytest.raises(ValueError, match=r"validating candidate 0 \(\{'differences': 0\}\): its "
                                         r"fit on the first 2 timesteps .*receptive field"):
        _auto().fit(_series(need))


@pytest.mark.parametrize("kwargs,message", [
    (dict(candidates=[{"nope": 1}]),
     r"^candidates\[0\] sets \['nope'\], which WaveNetForecaster does not take"),
    (dict(candidates=[{}, {"horizon": 3}]),
     r"^candidates\[1\] sets \['horizon'\]: set them on AutoForecaster itself"),
    (dict(base_params={"random_state": 1}), r"^base_params sets \['random_state'\]"),
    (dict(base_params={"n_threads": 2}), r"^base_params sets \['n_threads'\]"),
    (dict(n_threads=0), r"^n_threads must be None or a positive integer, got 0"),
    (dict(candidates=[{"n_layers": 0}]),
     r"^candidates\[0\]: n_layers must be a positive integer, got 0"),
    (dict(base_params={"max_epochs": 1.5}), r"^candidates\[0\]: max_epochs must be"),
    (dict(candidates=[]), r"^candidates must be None or a non-empty list of dicts"),
    (dict(n_origins=0), r"^n_origins must be a positive integer"),
    (dict(ensemble_size=1), r"^ensemble_size must be None or an integer >= 2"),
])
def test_bad_settings_fail_before_any_fit(y, kwargs, message):
    auto = _auto(**kwargs)
    with pytest.raises(ValueError, match=message):
        auto.fit(y)
    assert not [k for k in vars(auto) if k.endswith("_")]


def test_unfitted_methods_refuse(y):
    auto = _auto()
    for call in (auto.predict, lambda: auto.sample(3), lambda: auto.score(y),
                 lambda: auto.update(y), lambda: auto.predict_interval()):
        with pytest.raises(NotFittedError):
            call()


# ---------------------------------------------------------------------- scikit-learn contract
@pytest.mark.parametrize("check", NO_DATA_CHECKS)
def test_sklearn_checks_without_data(check):
    getattr(estimator_checks, check)("AutoForecaster", _auto())


def test_clone_keeps_settings_and_drops_the_fit(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert copy.candidates == CANDIDATES and copy.candidates is not fitted.candidates
    assert not hasattr(copy, "best_estimator_")
    assert copy.set_params(n_origins=3).n_origins == 3


def test_verbose_shows_a_bar_on_stderr_only(y, capsys):
    _auto(candidates=[{}], verbose=True).fit(y)
    out = capsys.readouterr()
    assert out.out == ""
    assert "AutoForecaster refit: 100%" in out.err and "2/2" in out.err and "best_crps=" in out.err


# ---------------------------------------------------------------------- save / load
def test_save_load_round_trip(tmp_path, fitted, monkeypatch):
    path = tmp_path / "auto.tsargen"
    fitted.save(path)
    loaded = tsargen.load(path)
    assert type(loaded) is AutoForecaster and loaded.get_params() == fitted.get_params()
    pd.testing.assert_frame_equal(loaded.cv_results_, fitted.cv_results_)
    assert (loaded.best_index_, loaded.best_params_, loaded.origins_) == (
        fitted.best_index_, fitted.best_params_, fitted.origins_)
    np.testing.assert_array_equal(loaded.predict(), fitted.predict())
    np.testing.assert_array_equal(loaded.sample(4, random_state=1),
                                  fitted.sample(4, random_state=1))
    # a session that never imported tsargen.auto_forecaster finds the class by its name
    monkeypatch.delitem(REGISTRY, "AutoForecaster")
    monkeypatch.setattr(tsargen, "auto_forecaster", sys.modules["tsargen.auto_forecaster"])
    monkeypatch.delitem(sys.modules, "tsargen.auto_forecaster")
    again = tsargen.load(path)
    assert type(again).__name__ == "AutoForecaster" and type(again) is not AutoForecaster
    np.testing.assert_array_equal(again.predict(), fitted.predict())
