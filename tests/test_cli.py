"""The ``tsargen`` command line and the rolling-origin backtest behind ``tsargen evaluate``."""

import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

import tsargen
from tsargen.cli import _fitted_columns, _verbose, main, parse_value
from tsargen.estimators._forecaster import Layout
from tsargen.metrics import crps, mase, smape
from tsargen.model_selection import backtest

from .conftest import TINY

ROOT = Path(__file__).resolve().parents[1]
TINY_ARGS = [f"--param={k}={v}" for k, v in {**TINY, "n_paths": 50}.items()]


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 240
    df = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=n, freq="D").strftime(
                           "%Y-%m-%d"),
                       "load": np.sin(np.arange(n) / 5) + 0.1 * rng.normal(size=n),
                       "temp": np.cos(np.arange(n) / 7) + 0.1 * rng.normal(size=n),
                       "site": "north"})
    path = tmp_path_factory.mktemp("cli") / "data.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model(csv):
    out = csv.parent / "model.tsargen"
    rc = main(["fit", str(csv), "--time-column", "date", "--columns", "load,temp", "-o",
               str(out), "--estimator", "WaveNetForecaster", "--param", "horizon=5"]
              + TINY_ARGS)
    assert rc == 0 and out.is_file()
    return out


def _one_line_error(capsys):
    err = capsys.readouterr().err
    assert err.startswith("tsargen") and "error" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_param_values_are_parsed():
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5
    assert parse_value("true") is True and parse_value("None") is None
    assert parse_value("student_t") == "student_t"
    assert parse_value('{"load": "gaussian", "temp": "student_t"}') == {
        "load": "gaussian", "temp": "student_t"}


def test_fit_writes_a_model_with_the_given_params(model):
    est = tsargen.load(model)
    assert type(est).__name__ == "WaveNetForecaster"
    assert est.horizon == 5 and est.n_layers == TINY["n_layers"] and est.n_paths == 50
    assert est.n_channels_ == 2 and est.layouts_[0].columns == ["load", "temp"]


def test_forecast_csv_has_points_and_quantiles(model, csv, tmp_path):
    out = tmp_path / "fc.csv"
    assert main(["forecast", str(model), "--horizon", "4", "--quantiles", "0.1,0.9",
                 "-o", str(out)]) == 0
    fc = pd.read_csv(out, index_col=0, parse_dates=True)
    assert list(fc.columns) == ["load", "load_q0.1", "load_q0.9", "temp", "temp_q0.1",
                                "temp_q0.9"]
    assert list(fc.index) == list(pd.date_range("2021-08-29", periods=4, freq="D"))
    assert (fc["load_q0.1"] <= fc["load_q0.9"]).all() and (fc["temp_q0.1"] <= fc["temp_q0.9"]).all()
    expected = tsargen.load(model).predict(4)
    np.testing.assert_allclose(fc[["load", "temp"]].to_numpy(), expected.to_numpy())
    # from a new history: the forecast starts after its end
    short = tmp_path / "recent.csv"
    pd.read_csv(csv).iloc[:100].to_csv(short, index=False)
    assert main(["forecast", str(model), "--data", str(short), "--time-column", "date",
                 "--columns", "load,temp", "-o", str(out)]) == 0
    fc = pd.read_csv(out, index_col=0, parse_dates=True)
    assert len(fc) == 5 and fc.index[0] == pd.Timestamp("2021-04-11")


def test_sample_and_score(model, csv, tmp_path, capsys):
    out = tmp_path / "paths.csv"
    assert main(["sample", str(model), "-n", "3", "--horizon", "4", "-o", str(out)]) == 0
    paths = pd.read_csv(out)
    assert list(paths.columns) == ["sample", "time", "load", "temp"] and len(paths) == 12
    capsys.readouterr()
    assert main(["score", str(model), str(csv), "--time-column", "date", "--columns",
                 "load,temp"]) == 0
    printed = float(capsys.readouterr().out)
    df = pd.read_csv(csv, index_col="date", parse_dates=True)[["load", "temp"]]
    assert printed == pytest.approx(tsargen.load(model).score(df.asfreq("D")), rel=1e-5)


def test_auto_forecaster_from_the_command_line(csv, tmp_path, capsys):
    """``fit --estimator AutoForecaster`` validates and saves the selection; ``forecast``
    uses the winner, as ``predict`` does; ``--threads`` reaches every candidate."""
    out = tmp_path / "auto.tsargen"
    base = json.dumps({**{k: v for k, v in TINY.items() if k != "random_state"},
                       "max_epochs": 1})
    assert main(["--threads", "2", "fit", str(csv), "--time-column", "date", "--columns",
                 "load", "-o", str(out), "--estimator", "AutoForecaster", "--param",
                 "horizon=5", "--param", "n_origins=2", "--param", "ensemble_size=null",
                 "--param", "n_paths=20", "--param", "random_state=0", "--param",
                 'candidates=[{"differences": 0}, {"differences": 1}]',
                 "--param", f"base_params={base}"]) == 0
    assert re.search(r"fitted AutoForecaster \(chose \{'differences': [01]\}, refitted in \d+ "
                     r"epochs\)", capsys.readouterr().err)
    auto = tsargen.load(out)
    assert type(auto).__name__ == "AutoForecaster" and len(auto.cv_results_) == 2
    assert auto.n_threads == 2 and auto.best_estimator_.n_threads == 2
    fc = tmp_path / "fc.csv"
    assert main(["forecast", str(out), "--quantiles", "0.1,0.9", "-o", str(fc)]) == 0
    got = pd.read_csv(fc, index_col=0, parse_dates=True)
    np.testing.assert_allclose(got["load"].to_numpy(), auto.predict().to_numpy())
    assert main(["fit", str(csv), "--time-column", "date", "--columns", "load", "-o",
                 str(out), "--estimator", "AutoForecaster", "--checkpoint",
                 str(tmp_path / "ck")]) == 1
    assert "AutoForecaster takes no --checkpoint" in _one_line_error(capsys)


@pytest.fixture(scope="module")
def load_model(csv):
    """Fitted on the one column 'load' of a file that has two numeric columns."""
    out = csv.parent / "load.tsargen"
    assert main(["fit", str(csv), "--time-column", "date", "--columns", "load", "-o", str(out),
                 "--param", "horizon=3"] + TINY_ARGS + ["--param=max_epochs=1"]) == 0
    return out


def test_a_fitted_model_reads_the_columns_it_was_fitted_on(load_model, csv, tmp_path, capsys):
    # the file has load, temp and a text column; the model knows its target is 'load'
    out, explicit = tmp_path / "fc.csv", tmp_path / "explicit.csv"
    assert main(["forecast", str(load_model), "--data", str(csv), "--time-column", "date",
                 "-o", str(out)]) == 0
    assert main(["forecast", str(load_model), "--data", str(csv), "--time-column", "date",
                 "--columns", "load", "-o", str(explicit)]) == 0
    fc = pd.read_csv(out, index_col=0)
    assert list(fc.columns) == ["load", "load_q0.1", "load_q0.5", "load_q0.9"]
    pd.testing.assert_frame_equal(fc, pd.read_csv(explicit, index_col=0))
    assert main(["sample", str(load_model), "-n", "2", "--data", str(csv), "--time-column",
                 "date", "-o", str(out)]) == 0
    assert list(pd.read_csv(out).columns) == ["sample", "time", "load"]
    capsys.readouterr()
    assert main(["score", str(load_model), str(csv), "--time-column", "date"]) == 0
    assert main(["score", str(load_model), str(csv), "--time-column", "date", "--columns",
                 "load"]) == 0
    default, chosen = capsys.readouterr().out.split()
    assert default == chosen
    # explicit --columns still wins: any one column will do for a one-channel model
    assert main(["score", str(load_model), str(csv), "--time-column", "date", "--columns",
                 "temp"]) == 0
    assert capsys.readouterr().out.strip() != default


def test_fitted_columns_are_matched_by_name_and_order(model, csv, tmp_path, capsys):
    # the two-column model on a file with its columns swapped, an extra numeric column first
    df = pd.read_csv(csv)
    shuffled = tmp_path / "shuffled.csv"
    df.assign(humidity=1.0)[["humidity", "date", "temp", "load"]].to_csv(shuffled, index=False)
    capsys.readouterr()
    assert main(["score", str(model), str(shuffled), "--time-column", "date"]) == 0
    assert main(["score", str(model), str(csv), "--time-column", "date", "--columns",
                 "load,temp"]) == 0
    default, chosen = capsys.readouterr().out.split()
    assert default == chosen
    # a file without one of them: one line naming it
    lacking = tmp_path / "lacking.csv"
    df[["date", "load"]].to_csv(lacking, index=False)
    assert main(["forecast", str(model), "--data", str(lacking), "--time-column", "date"]) == 1
    err = _one_line_error(capsys)
    assert "['temp']" in err and "fitted on" in err and "--columns" in err


def test_fitted_columns_of_series_frames_and_arrays():
    def est(*layouts):
        return SimpleNamespace(layouts_=[Layout(**lay) for lay in layouts])

    assert _fitted_columns(est({"kind": "series", "name": "units"})) == ["units"]
    assert _fitted_columns(est({"kind": "frame", "columns": [0.5, 1.5]})) == [0.5, 1.5]
    assert _fitted_columns(est({"kind": "series", "name": None})) is None
    assert _fitted_columns(est({"kind": "2d", "columns": None})) is None
    assert _fitted_columns(est({"kind": "series", "name": "a"},
                               {"kind": "series", "name": "b"})) is None   # a global model
    assert _fitted_columns(SimpleNamespace()) is None


def test_a_closed_stdout_stops_quietly(model, monkeypatch, capsys):
    read, write = os.pipe()
    os.close(read)                              # the reader is gone before anything is written
    stdout = open(write, "w")
    monkeypatch.setattr(sys, "stdout", stdout)
    try:
        status = main(["forecast", str(model)])
        # stdout now writes to devnull: the interpreter's last flush must not fail again
        stdout.write("more\n")
        stdout.close()
    finally:
        if not stdout.closed:
            os.close(stdout.fileno())          # the old code leaves a broken pipe behind
    assert status == 141
    assert capsys.readouterr().err == ""


def test_density_fit_sample_score(tmp_path, capsys):
    rng = np.random.default_rng(1)
    panel = pd.DataFrame(rng.normal(size=(12, 20)), columns=[f"t{i}" for i in range(20)])
    panel["label"] = ["a", "b"] * 6
    data, model = tmp_path / "panel.csv", tmp_path / "d.tsargen"
    panel.to_csv(data, index=False)
    assert main(["fit", str(data), "--estimator", "WaveNetDensity", "--label-column", "label",
                 "-o", str(model), "--checkpoint", str(tmp_path / "fit.ckpt")]
                + TINY_ARGS[:-1]) == 0
    assert (tmp_path / "fit.ckpt").is_file()
    est = tsargen.load(model)
    np.testing.assert_array_equal(est.classes_, ["a", "b"])
    scores = tmp_path / "scores.csv"
    assert main(["score", str(model), str(data), "--label-column", "label", "-o",
                 str(scores)]) == 0
    got = pd.read_csv(scores)["log_likelihood"].to_numpy()
    np.testing.assert_allclose(got, est.score_samples(panel.iloc[:, :20].to_numpy(),
                                                      panel["label"].to_numpy()), rtol=1e-9)
    draws = tmp_path / "draws.npy"
    capsys.readouterr()
    assert main(["sample", str(model), "-n", "4", "--length", "15", "-o", str(draws), "-v"]) == 0
    assert np.load(draws).shape == (4, 15)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and err[0].startswith("loaded WaveNetDensity from ")
    assert err[1].startswith("drew 4 samples of shape (15,) in ")
    assert err[2] == f"wrote 4 samples to {draws}"


@pytest.mark.parametrize("args,needle", [
    (["fit", "missing.csv", "-o", "m"], "no such file"),
    (["fit", "{csv}", "-o", "{tmp}/m", "--estimator", "Nope"], "unknown estimator"),
    (["fit", "{csv}", "-o", "{tmp}/m", "--param", "depth=3"], "no parameter"),
    (["fit", "{csv}", "-o", "{tmp}/m", "--param", "depth"], "key=value"),
    (["fit", "{csv}", "-o", "{tmp}/m", "--time-column", "date"], "not numeric"),
    (["fit", "{csv}", "-o", "{tmp}/m", "--time-column", "when"], "no column 'when'"),
    (["fit", "{csv}", "-o", "{tmp}/m", "--columns", "load", "--param", "lr=-1"], "lr must"),
    (["fit", "{inf}", "-o", "{tmp}/m"], "inf"),
    (["forecast", "{bad}"], "not a readable tsargen model"),
    (["forecast", "{csv}"], "not a readable"),
    (["fit", "{csv}"], "required"),
    (["frobnicate"], "invalid choice"),
    (["forecast", "{model}", "--horizon", "zero"], "invalid int"),
    (["evaluate", "{csv}", "--columns", "load", "--time-column", "date", "--horizon", "500"],
     "too short"),
])
def test_bad_input_gives_one_line_and_nonzero_exit(args, needle, csv, model, tmp_path, capsys):
    bad = tmp_path / "bad.tsargen"
    bad.write_bytes(model.read_bytes()[:300])
    inf = tmp_path / "inf.csv"
    pd.DataFrame({"x": [1.0, np.inf, 2.0] * 20}).to_csv(inf, index=False)
    args = [a.format(csv=csv, tmp=tmp_path, bad=bad, model=model, inf=inf) for a in args]
    assert main(args) != 0
    assert needle in _one_line_error(capsys)


@pytest.mark.parametrize("command", ["sample", "score", "forecast"])
def test_a_saved_classifier_is_refused_in_one_line(command, tmp_path, capsys):
    from tsargen import GenerativeClassifier, WaveNetDensity
    rng = np.random.default_rng(0)
    clf = GenerativeClassifier(WaveNetDensity(n_layers=1, residual_channels=2, skip_channels=2,
                                              max_epochs=1, random_state=0))
    clf.fit(rng.normal(size=(6, 10)), [0, 1] * 3).save(tmp_path / "clf.tsargen")
    data = tmp_path / "x.csv"
    pd.DataFrame(rng.normal(size=(6, 10))).to_csv(data, index=False)
    args = [command, str(tmp_path / "clf.tsargen")] + {
        "sample": [], "score": [str(data)], "forecast": ["--data", str(data)]}[command]
    assert main(args) != 0
    assert "holds a GenerativeClassifier" in _one_line_error(capsys)


@pytest.mark.parametrize("command", ["fit", "forecast", "sample", "score", "evaluate"])
def test_help_of_every_command(command, capsys):
    assert main([command, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: tsargen {command}")


def test_demo_command_forwards_its_options(capsys):
    assert main(["demo", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "--out" in help_text and "--threads" in help_text


def test_module_entry_point_in_a_subprocess(model, tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,oops\n")
    # alongside: 'tsargen forecast ... | head', with a reader that is gone before any output
    piped = subprocess.Popen([sys.executable, "-m", "tsargen", "forecast", str(model)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    piped.stdout.close()
    run = subprocess.run([sys.executable, "-m", "tsargen", "fit", str(bad), "-o",
                          str(tmp_path / "m")], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and "not numeric" in run.stderr
    assert "Traceback" not in run.stderr
    try:
        _, err = piped.communicate(timeout=120)
    finally:
        piped.kill()
    assert piped.returncode == 141 and err == ""               # no 'Broken pipe', no traceback


# ---------------------------------------------------------------------- start-up, -v, --threads
def _python(code):
    """Run ``code`` in a fresh interpreter on this checkout; its stdout, stripped."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(
                              filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_help_and_usage_errors_do_not_import_torch():
    # the robust form of "--help answers in well under a second": torch (1.5-3 s to import)
    # and pandas (0.4 s) are never loaded; a wall-time bound would be flaky on a shared machine
    out = _python("""
        import contextlib, io, sys
        import tsargen.cli
        tsargen.cli.build_parser()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            codes = [tsargen.cli.main(argv) for argv in (
                ["--help"], ["fit", "--help"], ["sample", "--help"], ["demo", "--help"],
                ["fit"], ["frobnicate"], ["--threads", "0", "fit", "x.csv", "-o", "m"])]
        print(codes, sorted({"torch", "pandas"} & set(sys.modules)), tsargen.cli.__file__)
    """)
    result, path = out.rsplit(" ", 1)
    assert result == "[0, 0, 0, 0, 2, 2, 2] []"           # exit codes; torch, pandas loaded
    assert Path(path).resolve() == ROOT / "tsargen" / "cli" / "__init__.py"  # this checkout's


def test_import_tsargen_is_lazy_and_keeps_its_names():
    out = _python("""
        import pickle, sys
        import tsargen
        assert "torch" not in sys.modules, "import tsargen loaded torch"
        listed = dir(tsargen)
        assert set(tsargen.__all__) <= set(listed) and "transforms" in listed, listed
        from tsargen import WaveNetForecaster
        from tsargen.estimators import WaveNetForecaster as original
        assert WaveNetForecaster is original and tsargen.WaveNetForecaster is original
        assert "torch" in sys.modules and tsargen.__version__
        assert tsargen.load.__module__ == "tsargen.estimators._persistence"
        assert pickle.loads(pickle.dumps(WaveNetForecaster(horizon=3))).horizon == 3
        try:
            tsargen.no_such_name
        except AttributeError as err:
            print(err)
    """)
    assert out == "module 'tsargen' has no attribute 'no_such_name'"


def test_fit_verbose_shows_the_epoch_bar_on_stderr(csv, tmp_path, capsys):
    args = ["fit", str(csv), "--time-column", "date", "--columns", "load", "--param",
            "horizon=3"] + TINY_ARGS + ["--param=max_epochs=2"]
    assert main(args + ["-o", str(tmp_path / "quiet.tsargen")]) == 0
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err.splitlines() == [
        f"fitted WaveNetForecaster in 2 epochs; wrote {tmp_path / 'quiet.tsargen'}"]
    assert main(args + ["-o", str(tmp_path / "loud.tsargen"), "-v"]) == 0
    loud = capsys.readouterr()
    assert loud.out == ""
    # the bar names the differencing and season the fit chose
    assert re.search(r"WaveNetForecaster \(differences_=\d+, seasonal_lag_=\w+\): 100%", loud.err)
    assert "2/2" in loud.err and "loss=" in loud.err
    assert loud.err.rstrip().endswith("fitted WaveNetForecaster in 2 epochs; wrote "
                                      f"{tmp_path / 'loud.tsargen'}")
    # the bar is display only: the fit and the saved parameters are those without -v
    quiet_est, loud_est = (tsargen.load(tmp_path / f) for f in ("quiet.tsargen", "loud.tsargen"))
    assert loud_est.get_params() == quiet_est.get_params() and loud_est.verbose is False
    np.testing.assert_array_equal(loud_est.loss_curve_, quiet_est.loss_curve_)


def test_verbose_reaches_every_estimator_the_command_builds():
    from tsargen.cli import _estimators

    for name, cls in _estimators().items():
        est = cls()
        before = est.get_params(deep=False)
        restore = _verbose(est)
        got = est.verbose if "verbose" in before else est.density.verbose
        assert got is True and restore, name
        assert est.set_params(**restore).get_params(deep=False) == before, name


def test_sample_verbose_reports_stages_and_keeps_stdout_csv(model, capsys):
    capsys.readouterr()
    assert main(["sample", str(model), "-n", "3", "--horizon", "4"]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == ""
    assert main(["sample", str(model), "-n", "3", "--horizon", "4", "-v"]) == 0
    loud = capsys.readouterr()
    assert loud.out == quiet.out                                    # the same draws, as CSV
    paths = pd.read_csv(io.StringIO(loud.out))
    assert list(paths.columns) == ["sample", "time", "load", "temp"] and len(paths) == 12
    lines = loud.err.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith(f"loaded WaveNetForecaster from {model} in ")
    assert lines[1].startswith("drew 3 paths of 4 steps in ") and lines[1].endswith(" s")
    assert lines[2] == "wrote 12 rows to stdout"


def test_evaluate_verbose_shows_each_fit(csv, capsys):
    assert main(["evaluate", str(csv), "--time-column", "date", "--columns", "load",
                 "--horizon", "5", "--n-origins", "2", "--n-samples", "10", "-v"]
                + TINY_ARGS + ["--param=max_epochs=1"]) == 0
    out, err = capsys.readouterr()
    table = pd.read_csv(io.StringIO(out))
    assert len(table) == 3 and table["origin"].iloc[-1] == "mean"
    bars = re.findall(r"WaveNetForecaster \(differences_=\d+, seasonal_lag_=\w+\): 100%", err)
    assert len(bars) >= 2 and "1/1" in err


@pytest.mark.parametrize("argv,needle", [
    (["--threads", "0", "fit", "x.csv", "-o", "m"], "--threads: must be at least 1, got 0"),
    (["--threads", "two", "fit", "x.csv", "-o", "m"], "--threads: invalid int value: 'two'"),
    (["fit", "x.csv", "-o", "m", "--threads", "2"], "--threads goes before the command"),
])
def test_threads_is_validated_as_a_usage_error(argv, needle, capsys):
    assert main(argv) == 2
    assert needle in _one_line_error(capsys)


def test_threads_sets_torch_threads_for_the_command(model, capsys):
    try:
        assert main(["--threads", "2", "forecast", str(model), "--horizon", "2"]) == 0
        assert torch.get_num_threads() == 2
        assert main(["forecast", str(model), "--horizon", "2"]) == 0
        assert torch.get_num_threads() == 1                           # the default
    finally:
        torch.set_num_threads(1)


def test_demo_gets_the_thread_setting(monkeypatch):
    import tsargen.datasets

    def stop():
        raise RuntimeError("stop after the set-up")

    monkeypatch.setattr(tsargen.datasets, "load_sunspots", stop)    # read after the threads
    try:
        with pytest.raises(RuntimeError, match="stop after"):
            main(["--threads", "2", "demo", "--out", "x.png"])
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="stop after"):
            main(["--threads", "2", "demo", "--threads", "3"])         # its own option wins
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(1)
    assert main(["demo", "--threads", "0"]) == 2


# ---------------------------------------------------------------------- backtest
class LastValue:
    """Repeat the last value; samples add +-1 around it (metrics computable by hand)."""

    def __init__(self, spread=1.0):
        self.spread = spread

    def get_params(self, deep=True):
        return {"spread": self.spread}

    def set_params(self, **params):
        self.spread = params.get("spread", self.spread)
        return self

    def fit(self, y):
        self.last_ = np.asarray(y, dtype=float)[-1]
        return self

    def predict(self, horizon):
        return np.full(horizon, self.last_)

    def sample(self, n, horizon, random_state=None):
        offsets = np.where(np.arange(n) % 2 == 0, -self.spread, self.spread)
        return self.last_ + np.repeat(offsets[:, None], horizon, axis=1)


def test_backtest_origins_and_metrics_by_hand():
    y = np.arange(30.0) ** 1.5
    table = backtest(LastValue(), y, horizon=3, n_origins=3, step=4, n_samples=10)
    assert table["origin"].tolist() == [19, 23, 27]                 # the last ends at len(y)
    for _, row in table.iterrows():
        t = int(row["origin"])
        truth, pred = y[t:t + 3], np.full(3, y[t - 1])
        assert row["mase"] == pytest.approx(mase(truth, pred, y[:t]))
        assert row["smape"] == pytest.approx(smape(truth, pred))
        paths = y[t - 1] + np.repeat(np.where(np.arange(10) % 2 == 0, -1.0, 1.0)[:, None], 3, 1)
        assert row["crps"] == pytest.approx(crps(truth, paths).mean())
        assert row["coverage_0.1_0.9"] == np.mean(np.abs(truth - y[t - 1]) <= 1)


def test_backtest_runs_through_the_joblib_backend():
    y = pd.Series(np.sin(np.arange(60) / 3), index=pd.date_range("2020", periods=60, freq="h"))
    serial = backtest(LastValue(), y, horizon=4, n_origins=4, n_samples=6)
    with joblib.parallel_backend("threading", n_jobs=2):
        parallel = backtest(LastValue(), y, horizon=4, n_origins=4, n_samples=6)
    pd.testing.assert_frame_equal(serial, parallel)
    assert list(serial["time"]) == list(y.index[[44, 48, 52, 56]])


def test_evaluate_command(csv, tmp_path):
    out = tmp_path / "bt.csv"
    assert main(["evaluate", str(csv), "--time-column", "date", "--columns", "load",
                 "--horizon", "5", "--n-origins", "2", "--n-samples", "30", "-o", str(out)]
                + TINY_ARGS) == 0
    table = pd.read_csv(out)
    assert len(table) == 3 and table["origin"].iloc[-1] == "mean"
    assert {"mase", "smape", "crps", "pinball_0.5", "coverage_0.1_0.9"} <= set(table.columns)
    assert np.isfinite(table["crps"].astype(float)).all()
