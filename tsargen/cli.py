"""The ``tsargen`` command: fit, forecast, sample, score and backtest from the shell.

Data files are CSV or Parquet (by extension; Parquet needs pyarrow or fastparquet) or ``.npy``
arrays. For forecasters a file is one series: rows are timesteps, ``--time-column`` names the
time index and ``--columns`` the target columns (default: the columns a fitted model was fitted
on, else every numeric column). For densities rows are samples (a panel ``(n_series,
n_timesteps)``; ``--label-column`` gives class labels), or a ``.npy`` array of panels or images.

Examples::

    tsargen fit sales.csv --time-column date --columns units -o sales.tsargen \\
        --estimator WaveNetForecaster --param horizon=14 --param max_epochs=50
    tsargen forecast sales.tsargen --data sales.csv --time-column date --horizon 14
    tsargen sample sales.tsargen -n 100 --horizon 14 -o paths.csv
    tsargen score sales.tsargen recent.csv --time-column date
    tsargen evaluate sales.csv --time-column date --horizon 14 --n-origins 5 --n-jobs 2
    tsargen demo

``-v`` (``fit``, ``evaluate``, ``sample``) reports progress on stderr: the training bar of each
fit, or for ``sample`` one line per stage. ``--threads N``, before the command, sets the torch
threads it uses (default 1).

Errors print one line to stderr and exit with status 1 (2 for a bad command line). When the
reader of stdout goes away early (``tsargen forecast ... | head``), the command stops quietly
with status 141, as a tool killed by SIGPIPE does.
"""

import argparse
import ast
import json
import os
import sys
import time
from pathlib import Path

# Documented lazy imports: numpy, pandas and torch (via tsargen.estimators) are imported inside
# the functions that use them, so that --help and usage errors answer in about 0.1 s instead of
# 0.5 s (pandas) or 2 s (torch).

PROG = "tsargen"
THREADS_HELP = ("torch threads for this command (default 1: on a 2-core machine shared with "
                "other jobs one thread was faster)")


class CommandError(Exception):
    """A problem with the command line or the input: one line to stderr, no traceback."""


class UsageError(CommandError):
    """A malformed command line (exit status 2)."""


class _OutputClosed(Exception):
    """The reader of stdout closed the pipe (``| head``): stop quietly."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: error: {message}")


# ---------------------------------------------------------------------------- helpers
def _estimators():
    """Estimator classes the command can build, by name."""
    from . import estimators            # documented lazy import: imports torch
    from .estimators import TsargenEstimator

    return {name: cls for name in dir(estimators)
            if isinstance(cls := getattr(estimators, name), type)
            and issubclass(cls, TsargenEstimator) and cls is not TsargenEstimator}


def _is_forecaster(est):
    return hasattr(est, "predict_quantiles")


def parse_value(text):
    """``--param`` value: JSON or a Python literal (numbers, true/false/null, lists, dicts),
    else the string itself."""
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):
            continue
    return text


def _params(pairs):
    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--param expects key=value, got {pair!r}.")
        params[key.strip()] = parse_value(value.strip())
    return params


def _build(name, params):
    classes = _estimators()
    if name not in classes:
        raise CommandError(f"unknown estimator {name!r}; choose one of {sorted(classes)}.")
    cls = classes[name]
    valid = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise CommandError(f"{name} has no parameter(s) {unknown}; valid: {sorted(valid)}.")
    return cls(**params)


def _verbose(est):
    """Show the training bar (tqdm, on stderr) of ``est``'s fits: its ``verbose``, or for a
    SignalImageForecaster (which has none) that of its default density. Returns the parameters
    to set back after fitting, so that ``-v`` changes what is shown, not what is saved."""
    params = est.get_params(deep=False)
    if "verbose" in params:
        est.set_params(verbose=True)
        return {"verbose": params["verbose"]}
    if params.get("density", "") is None:       # a density given by name is fit's to refuse
        from .estimators.signal_image import _default_density

        est.set_params(density=_default_density().set_params(verbose=True))
        return {"density": None}
    return {}


def _say(args, message):
    """One progress line on stderr under ``-v``."""
    if args.verbose:
        print(message, file=sys.stderr, flush=True)


def positive_int(text):
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _set_threads(n):
    import torch                        # documented lazy import: not needed for --help

    torch.set_num_threads(n)


def _split_columns(text):
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


def read_table(path, time_column=None, columns=None):
    """CSV / Parquet -> DataFrame indexed by ``time_column`` (parsed as datetimes when it
    holds dates), keeping ``columns`` (default: all numeric ones); ``.npy`` -> ndarray."""
    import numpy as np
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(path)
        except ImportError as err:
            raise CommandError(f"reading Parquet needs pyarrow or fastparquet ({err}).") from None
    elif suffix in (".csv", ".txt", ".gz"):
        df = pd.read_csv(path)
    else:
        raise CommandError(f"{path}: unsupported file type {suffix!r}; use .csv, .parquet or "
                           ".npy.")
    if time_column is not None:
        if time_column not in df.columns:
            raise CommandError(f"{path} has no column {time_column!r} (columns: "
                               f"{list(df.columns)}).")
        index = df.pop(time_column)
        if not pd.api.types.is_numeric_dtype(index):
            try:
                index = pd.to_datetime(index)
            except (ValueError, TypeError) as err:
                raise CommandError(f"time column {time_column!r} is neither numeric nor dates "
                                   f"({err}).") from None
        df.index = pd.Index(index)
        if isinstance(df.index, pd.DatetimeIndex) and df.index.freq is None and len(df) >= 3:
            from .timeindex import infer_freq     # no pandas 3 notice on stderr

            freq = infer_freq(df.index)
            if freq is not None:
                df.index = pd.DatetimeIndex(df.index, freq=freq)
    if columns is not None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise CommandError(f"{path} has no column(s) {missing} (columns: "
                               f"{list(df.columns)}).")
        df = df[columns]
    return df


def _series(df):
    """One forecasting series: a Series for one column, else the DataFrame."""
    import numpy as np

    if isinstance(df, np.ndarray):
        return df
    numeric = df.select_dtypes(include=["number", "bool"])
    if numeric.shape[1] == 0:
        raise CommandError("the data has no numeric columns to model.")
    if numeric.shape[1] != df.shape[1]:
        dropped = [c for c in df.columns if c not in numeric.columns]
        raise CommandError(f"columns {dropped} are not numeric; pick targets with --columns "
                           "(and the index with --time-column).")
    return numeric.iloc[:, 0] if numeric.shape[1] == 1 else numeric


def _panel(df, label_column):
    """Density data: rows are samples. Returns (X, labels or None)."""
    import numpy as np

    if isinstance(df, np.ndarray):
        if label_column is not None:
            raise CommandError("--label-column needs a CSV/Parquet file.")
        return df, None
    labels = None
    if label_column is not None:
        if label_column not in df.columns:
            raise CommandError(f"no label column {label_column!r} (columns: {list(df.columns)}).")
        labels = df.pop(label_column).to_numpy()
    return _series(df).to_numpy(dtype=float).reshape(len(df), -1), labels


def _load(path):
    from .estimators import load  # documented lazy import: imports torch

    if not Path(path).is_file():
        raise CommandError(f"no such model file: {path}")
    est = load(path)
    if not (_is_forecaster(est) or hasattr(est, "score_samples")):
        raise CommandError(f"{path} holds a {type(est).__name__}; the command line works with "
                           "densities and forecasters.")
    return est


def _to_stdout(write):
    """Call ``write(sys.stdout)`` and flush it; a reader that closed the pipe early raises
    :class:`_OutputClosed` (only stdout's broken pipe: other errors keep their message)."""
    try:
        write(sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        raise _OutputClosed from None


def _silence_stdout():
    """Point stdout's descriptor at devnull, so that the interpreter's last flush of what is
    still buffered does not fail again (the recipe of Python's ``signal`` docs)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced stdout without a descriptor
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _write(df, out, index=True):
    if out in (None, "-"):
        _to_stdout(lambda f: df.to_csv(f, index=index))
    else:
        df.to_csv(out, index=index)


def _quantiles(text):
    try:
        q = [float(v) for v in text.split(",")]
    except ValueError:
        raise CommandError(f"--quantiles must be comma-separated numbers, got {text!r}.") \
            from None
    return q


def _frame(arr, index=None, columns=None):
    import numpy as np
    import pandas as pd

    arr = np.asarray(arr)
    return pd.DataFrame(arr.reshape(arr.shape[0], -1), index=index, columns=columns)


def _names(y, n_channels):
    import pandas as pd

    if isinstance(y, pd.DataFrame):
        return [str(c) for c in y.columns]
    if isinstance(y, pd.Series):
        return [str(y.name if y.name is not None else "y")]
    return [f"y{c}" for c in range(n_channels)] if n_channels > 1 else ["y"]


# ---------------------------------------------------------------------------- commands
def cmd_fit(args):
    est = _build(args.estimator, _params(args.param))
    restore = _verbose(est) if args.verbose else {}
    data = read_table(args.data, args.time_column, _split_columns(args.columns))
    kwargs = {} if args.checkpoint is None else {"checkpoint": args.checkpoint}
    if _is_forecaster(est):
        if args.label_column is not None:
            raise CommandError("--label-column is for densities; forecasters take one series.")
        est.fit(_series(data), **kwargs)
    else:
        X, labels = _panel(data, args.label_column)
        est.fit(X, labels, **kwargs)
    est.set_params(**restore)
    est.save(args.output)
    print(f"fitted {type(est).__name__} in {est.n_iter_} epochs; wrote {args.output}",
          file=sys.stderr)


def _fitted_columns(est):
    """The column names a fitted forecaster was fitted on (a Series' name, a DataFrame's
    columns), or None when it was fitted on arrays or its series disagree."""
    layouts = getattr(est, "layouts_", None)
    if not layouts:
        return None
    names = set()
    for layout in layouts:
        if layout.kind == "series" and layout.name is not None:
            names.add((layout.name,))
        elif layout.kind == "frame" and layout.columns is not None:
            names.add(tuple(layout.columns))
        else:
            return None
    return list(names.pop()) if len(names) == 1 else None


def _targets(path, args, est):
    """Read a forecaster's data: ``--columns`` if given, else the columns ``est`` was fitted
    on (matched by name, as text: a file's header is text), else every numeric column."""
    import pandas as pd

    columns = _split_columns(args.columns)
    data = read_table(path, args.time_column, columns)
    fitted = _fitted_columns(est) if columns is None else None
    if fitted is None or not isinstance(data, pd.DataFrame):
        return _series(data)
    by_text = {}
    for c in data.columns:
        by_text.setdefault(str(c), c)
    picked = [c if c in data.columns else by_text.get(str(c)) for c in fitted]
    missing = [f for f, c in zip(fitted, picked) if c is None]
    if missing:
        raise CommandError(f"{path} has no column(s) {missing} that the model was fitted on "
                           f"(columns: {list(data.columns)}); pick its targets with --columns.")
    return _series(data[picked])


def _history(args, est):
    return None if args.data is None else _targets(args.data, args, est)


def cmd_forecast(args):
    import numpy as np
    import pandas as pd

    est = _load(args.model)
    if not _is_forecaster(est):
        raise CommandError(f"{args.model} holds a {type(est).__name__}, not a forecaster.")
    y = _history(args, est)
    q = _quantiles(args.quantiles)
    point = est.predict(args.horizon, y=y)
    quant = est.predict_quantiles(args.horizon, quantiles=q, y=y)
    index = point.index if isinstance(point, (pd.Series, pd.DataFrame)) else None
    h = len(point)
    names = _names(y if y is not None else point, est.n_channels_)
    point_arr = np.asarray(point, dtype=float).reshape(h, -1)
    quant_arr = np.asarray(quant, dtype=float).reshape(h, len(names), len(q))
    cols = {}
    for c, name in enumerate(names):
        cols[name] = point_arr[:, c]
        for k, level in enumerate(q):
            cols[f"{name}_q{level:g}"] = quant_arr[:, c, k]
    out = pd.DataFrame(cols, index=index)
    if index is None:
        out.index = pd.RangeIndex(1, h + 1, name="step")
    elif out.index.name is None:
        out.index.name = "time"
    _write(out, args.output)


def cmd_sample(args):
    # no generation progress bar exists in tsargen: -v reports each stage and its time instead
    import numpy as np
    import pandas as pd

    start = time.perf_counter()
    est = _load(args.model)
    _say(args, f"loaded {type(est).__name__} from {args.model} in "
         f"{time.perf_counter() - start:.2f} s")
    if _is_forecaster(est):
        y = _history(args, est)
        if y is not None:
            _say(args, f"read {len(y)} timesteps of history from {args.data}")
        start = time.perf_counter()
        paths = est.sample(args.n_samples, args.horizon, y=y, random_state=args.seed)
        if isinstance(paths, pd.DataFrame):
            _say(args, f"drew {args.n_samples} paths of {len(paths) // args.n_samples} steps "
                 f"in {time.perf_counter() - start:.2f} s")
            _write(paths, args.output)
            _say(args, f"wrote {len(paths)} rows to {args.output or 'stdout'}")
            return
        n, h = paths.shape[:2]
        _say(args, f"drew {n} paths of {h} steps in {time.perf_counter() - start:.2f} s")
        names = _names(y, paths.shape[2] if paths.ndim == 3 else 1)
        flat = pd.DataFrame(np.asarray(paths).reshape(n * h, -1), columns=names)
        flat.insert(0, "step", np.tile(np.arange(1, h + 1), n))
        flat.insert(0, "sample", np.repeat(np.arange(n), h))
        _write(flat, args.output, index=False)
        _say(args, f"wrote {len(flat)} rows to {args.output or 'stdout'}")
        return
    kwargs = {"random_state": args.seed}
    if args.length is not None:
        kwargs["length"] = args.length
    start = time.perf_counter()
    draws = np.asarray(est.sample(args.n_samples, **kwargs))
    _say(args, f"drew {len(draws)} samples of shape {draws.shape[1:]} in "
         f"{time.perf_counter() - start:.2f} s")
    if args.output and args.output.endswith(".npy"):
        np.save(args.output, draws)
    else:
        _write(_frame(draws), args.output, index=False)
    _say(args, f"wrote {len(draws)} samples to {args.output or 'stdout'}")


def cmd_score(args):
    import numpy as np
    import pandas as pd

    est = _load(args.model)
    if _is_forecaster(est):
        y = _targets(args.data, args, est)
        if args.steps:
            steps = est.score_steps(y)
            _write(steps.to_frame() if isinstance(steps, pd.Series) else _frame(steps)
                   if isinstance(steps, np.ndarray) else steps, args.output)
        else:
            score = est.score(y)
            _to_stdout(lambda f: print(f"{score:.6g}", file=f))
        return
    data = read_table(args.data, args.time_column, _split_columns(args.columns))
    X, labels = _panel(data, args.label_column)
    scores = est.score_samples(X, labels)
    if args.steps:
        _write(_frame(est.score_steps(X, labels)), args.output, index=False)
    else:
        _write(pd.DataFrame({"log_likelihood": scores}), args.output, index=False)


def cmd_evaluate(args):
    import pandas as pd
    from joblib import parallel_backend

    from .model_selection import backtest

    params = _params(args.param)
    est = _build(args.estimator, params)
    if not _is_forecaster(est):
        raise CommandError(f"evaluate backtests forecasters; {args.estimator} is not one.")
    if args.verbose:
        _verbose(est)                   # backtest fits clones, which keep the setting
    y = _series(read_table(args.data, args.time_column, _split_columns(args.columns)))
    # --n-jobs worker processes start torch with --threads threads too (joblib's default
    # would be cores // n_jobs); fits in this process use the torch.set_num_threads of _run.
    # n_jobs=1 keeps --n-jobs unset serial (this context's own default is every core).
    with parallel_backend("loky", n_jobs=1, inner_max_num_threads=args.threads):
        table = backtest(est, y, horizon=args.horizon, n_origins=args.n_origins, step=args.step,
                         quantiles=_quantiles(args.quantiles), sp=args.sp,
                         n_samples=args.n_samples, n_jobs=args.n_jobs)
    summary = table.drop(columns=[c for c in ("origin", "time") if c in table]).mean()
    summary_row = {**{c: "mean" if c in ("origin", "time") else summary[c] for c in table}}
    _write(pd.concat([table, pd.DataFrame([summary_row])], ignore_index=True), args.output,
           index=False)


def cmd_demo(args):
    from . import demo

    # demo sets the threads itself, after its own parsing (its --threads, if repeated, wins)
    demo.main(["--threads", str(args.threads), *args.rest])


# ---------------------------------------------------------------------------- parser
def _data_options(p, columns_help="target columns, comma-separated (default: all numeric)"):
    p.add_argument("--time-column", help="column holding the time index")
    p.add_argument("--columns", help=columns_help)


FITTED_COLUMNS_HELP = ("target columns, comma-separated (default: those the forecaster was "
                       "fitted on, else all numeric)")


def _verbose_option(p, help):
    p.add_argument("-v", "--verbose", action="store_true", help=help)


def build_parser():
    parser = _Parser(prog=PROG, description="Autoregressive generative models for signals.")
    parser.add_argument("--threads", type=positive_int, default=1, metavar="N",
                        help=THREADS_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("fit", help="fit an estimator on a CSV/Parquet/.npy file, save it",
                       description="Fit an estimator and write it to a model file.")
    p.add_argument("data", help="training data (.csv, .parquet or .npy)")
    p.add_argument("-o", "--output", required=True, help="model file to write")
    p.add_argument("--estimator", default="WaveNetForecaster",
                   help="estimator class name (default: WaveNetForecaster)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="estimator parameter, repeatable (e.g. --param max_epochs=50)")
    p.add_argument("--label-column", help="densities: column of class labels")
    p.add_argument("--checkpoint", help="save training state here each epoch; resume from it")
    _verbose_option(p, "show the training progress bar on stderr")
    _data_options(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("forecast", help="point forecasts and quantiles as CSV",
                       description="Forecast from a fitted forecaster: one column per target "
                       "(the point forecast) and one per target and quantile.")
    p.add_argument("model", help="model file written by 'tsargen fit'")
    p.add_argument("--data", help="recent history to forecast from (default: the training "
                   "series)")
    p.add_argument("--horizon", type=int, help="steps ahead (default: the model's horizon)")
    p.add_argument("--quantiles", default="0.1,0.5,0.9", help="comma-separated levels")
    p.add_argument("-o", "--output", help="CSV to write (default: stdout)")
    _data_options(p, FITTED_COLUMNS_HELP)
    p.set_defaults(func=cmd_forecast)

    p = sub.add_parser("sample", help="draw sample paths / new samples as CSV",
                       description="Sample future paths (forecasters) or new series/images "
                       "(densities).")
    p.add_argument("model")
    p.add_argument("-n", "--n-samples", type=int, default=100)
    p.add_argument("--horizon", type=int, help="forecasters: steps ahead")
    p.add_argument("--length", type=int, help="sequence densities: timesteps per sample")
    p.add_argument("--data", help="forecasters: history to continue")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", help="CSV (or .npy for densities) to write; default "
                   "stdout")
    _verbose_option(p, "report each stage (load, draw, write) and its time on stderr")
    _data_options(p, FITTED_COLUMNS_HELP)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("score", help="log-likelihood of data under a model",
                       description="Forecasters: mean one-step log-likelihood (printed); "
                       "densities: log-likelihood per sample (CSV).")
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--steps", action="store_true", help="per-element log-likelihoods")
    p.add_argument("--label-column", help="densities: column of class labels")
    p.add_argument("-o", "--output", help="CSV to write (default: stdout)")
    _data_options(p, FITTED_COLUMNS_HELP)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("evaluate", help="rolling-origin backtest (MASE, sMAPE, CRPS, ...)",
                       description="Refit a forecaster at several origins and score its "
                       "forecasts with tsargen.metrics; the fits run through joblib.")
    p.add_argument("data")
    p.add_argument("--estimator", default="WaveNetForecaster")
    p.add_argument("--param", action="append", metavar="KEY=VALUE")
    p.add_argument("--horizon", type=int, required=True)
    p.add_argument("--n-origins", type=int, default=5)
    p.add_argument("--step", type=int, help="distance between origins (default: horizon)")
    p.add_argument("--sp", type=int, default=1, help="seasonal period scaling MASE")
    p.add_argument("--quantiles", default="0.1,0.5,0.9")
    p.add_argument("--n-samples", type=int, default=200)
    p.add_argument("--n-jobs", type=int, help="parallel fits (joblib processes, each with "
                   "--threads torch threads)")
    p.add_argument("-o", "--output", help="CSV to write (default: stdout)")
    _verbose_option(p, "show each fit's training progress bar on stderr")
    _data_options(p)
    p.set_defaults(func=cmd_evaluate)

    # its options are tsargen.demo's: _run hands it everything after 'demo'
    sub.add_parser("demo", add_help=False, help="forecast yearly sunspots (tsargen.demo; "
                   "'demo --help' for its options)")
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (0 success, 1 failure, 2 usage, 141
    when the reader of stdout closed it early)."""
    try:
        status = _run(argv)
        _to_stdout(lambda f: None)      # flush what is buffered while a closed pipe is caught
    except _OutputClosed:               # '| head' read enough: stop quietly, as with SIGPIPE
        _silence_stdout()
        return 141
    return status


def _run(argv):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args, rest = parser.parse_known_args(argv)
        if args.command == "demo":      # everything after 'demo' belongs to tsargen.demo
            args.func, args.rest = cmd_demo, rest
        else:
            if rest:
                hint = (" (--threads goes before the command)"
                        if any(r.startswith("--threads") for r in rest) else "")
                parser.error(f"unrecognized arguments: {' '.join(rest)}{hint}")
            _set_threads(args.threads)
        args.func(args)
    except SystemExit as exc:           # --help, and argparse's own exits
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as err:
        print(" ".join(str(err).split()), file=sys.stderr)
        return 2
    except CommandError as err:
        print(f"{PROG}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, KeyError, OSError, ImportError, FloatingPointError) as err:
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    return 0
