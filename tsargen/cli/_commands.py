"""The commands: fit, forecast, sample, score and evaluate (``demo`` is tsargen.demo's own).

Importing this module loads numpy, pandas and torch; the package imports it only once a command
runs, so that ``--help`` and usage errors answer fast.
"""

import inspect
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import parallel_backend

from .. import estimators
from .._registry import ELSEWHERE, registered
from ..estimators import TsargenEstimator, load
from ..estimators.signal_image import _default_density
from ..model_selection import backtest
from ._io import as_frame, as_panel, as_series, column_names, read_table, write_csv
from ._parser import parse_params, parse_quantiles, split_columns
from ._status import CommandError, to_stdout


def run(args):
    """Run the parsed command ``args`` with ``args.threads`` torch threads."""
    torch.set_num_threads(args.threads)
    COMMANDS[args.command](args)


# ---------------------------------------------------------------------------- helpers
def _estimators():
    """Estimator classes the command can build, by name (``AutoForecaster`` too)."""
    found = {name: cls for name in dir(estimators)
             if isinstance(cls := getattr(estimators, name), type)
             and issubclass(cls, TsargenEstimator) and cls is not TsargenEstimator}
    return {**found, **{name: registered(name) for name in ELSEWHERE}}


def _is_forecaster(est):
    return hasattr(est, "predict_quantiles")


def _build(name, params, threads):
    """The estimator ``name`` with ``params``; ``--threads`` becomes its ``n_threads`` (the
    estimator sets its torch threads per call) unless ``params`` names one."""
    classes = _estimators()
    if name not in classes:
        raise CommandError(f"unknown estimator {name!r}; choose one of {sorted(classes)}.")
    cls = classes[name]
    valid = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise CommandError(f"{name} has no parameter(s) {unknown}; valid: {sorted(valid)}.")
    if "n_threads" in valid and "n_threads" not in params:
        params = {**params, "n_threads": threads}
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
        est.set_params(density=_default_density().set_params(verbose=True))
        return {"density": None}
    return {}


def _say(args, message):
    """One progress line on stderr under ``-v``."""
    if args.verbose:
        print(message, file=sys.stderr, flush=True)


def _load(path, threads):
    """The model saved at ``path``, run on ``--threads`` torch threads."""
    if not Path(path).is_file():
        raise CommandError(f"no such model file: {path}")
    est = load(path)
    # an AutoForecaster forecasts with its winner: the commands use that one's data layout
    est = getattr(est, "best_estimator_", est)
    if not (_is_forecaster(est) or hasattr(est, "score_samples")):
        raise CommandError(f"{path} holds a {type(est).__name__}; the command line works with "
                           "densities and forecasters.")
    if "n_threads" in est.get_params(deep=False):
        est.set_params(n_threads=threads)
    return est


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
    columns = split_columns(args.columns)
    data = read_table(path, args.time_column, columns)
    fitted = _fitted_columns(est) if columns is None else None
    if fitted is None or not isinstance(data, pd.DataFrame):
        return as_series(data)
    by_text = {}
    for c in data.columns:
        by_text.setdefault(str(c), c)
    picked = [c if c in data.columns else by_text.get(str(c)) for c in fitted]
    missing = [f for f, c in zip(fitted, picked) if c is None]
    if missing:
        raise CommandError(f"{path} has no column(s) {missing} that the model was fitted on "
                           f"(columns: {list(data.columns)}); pick its targets with --columns.")
    return as_series(data[picked])


def _history(args, est):
    return None if args.data is None else _targets(args.data, args, est)


# ---------------------------------------------------------------------------- commands
def cmd_fit(args):
    est = _build(args.estimator, parse_params(args.param), args.threads)
    restore = _verbose(est) if args.verbose else {}
    data = read_table(args.data, args.time_column, split_columns(args.columns))
    kwargs = {} if args.checkpoint is None else {"checkpoint": args.checkpoint}
    if kwargs and "checkpoint" not in inspect.signature(est.fit).parameters:
        raise CommandError(f"{type(est).__name__} takes no --checkpoint.")
    if _is_forecaster(est):
        if args.label_column is not None:
            raise CommandError("--label-column is for densities; forecasters take one series.")
        est.fit(as_series(data), **kwargs)
    else:
        X, labels = as_panel(data, args.label_column)
        est.fit(X, labels, **kwargs)
    est.set_params(**restore)
    est.save(args.output)
    chosen = getattr(est, "best_params_", None)
    what = (f"in {est.n_iter_} epochs" if chosen is None else
            f"(chose {chosen or 'the defaults'}, refitted in {est.best_estimator_.n_iter_} epochs)")
    print(f"fitted {type(est).__name__} {what}; wrote {args.output}", file=sys.stderr)


def cmd_forecast(args):
    est = _load(args.model, args.threads)
    if not _is_forecaster(est):
        raise CommandError(f"{args.model} holds a {type(est).__name__}, not a forecaster.")
    y = _history(args, est)
    q = parse_quantiles(args.quantiles)
    point = est.predict(args.horizon, y=y)
    quant = est.predict_quantiles(args.horizon, quantiles=q, y=y)
    index = point.index if isinstance(point, (pd.Series, pd.DataFrame)) else None
    h = len(point)
    names = column_names(y if y is not None else point, est.n_channels_)
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
    write_csv(out, args.output)


def cmd_sample(args):
    # no generation progress bar exists in tsargen: -v reports each stage and its time instead
    start = time.perf_counter()
    est = _load(args.model, args.threads)
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
            write_csv(paths, args.output)
            _say(args, f"wrote {len(paths)} rows to {args.output or 'stdout'}")
            return
        n, h = paths.shape[:2]
        _say(args, f"drew {n} paths of {h} steps in {time.perf_counter() - start:.2f} s")
        names = column_names(y, paths.shape[2] if paths.ndim == 3 else 1)
        flat = pd.DataFrame(np.asarray(paths).reshape(n * h, -1), columns=names)
        flat.insert(0, "step", np.tile(np.arange(1, h + 1), n))
        flat.insert(0, "sample", np.repeat(np.arange(n), h))
        write_csv(flat, args.output, index=False)
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
        write_csv(as_frame(draws), args.output, index=False)
    _say(args, f"wrote {len(draws)} samples to {args.output or 'stdout'}")


def cmd_score(args):
    est = _load(args.model, args.threads)
    if _is_forecaster(est):
        y = _targets(args.data, args, est)
        if args.steps:
            steps = est.score_steps(y)
            write_csv(steps.to_frame() if isinstance(steps, pd.Series) else as_frame(steps)
                      if isinstance(steps, np.ndarray) else steps, args.output)
        else:
            score = est.score(y)
            to_stdout(lambda f: print(f"{score:.6g}", file=f))
        return
    data = read_table(args.data, args.time_column, split_columns(args.columns))
    X, labels = as_panel(data, args.label_column)
    scores = est.score_samples(X, labels)
    if args.steps:
        write_csv(as_frame(est.score_steps(X, labels)), args.output, index=False)
    else:
        write_csv(pd.DataFrame({"log_likelihood": scores}), args.output, index=False)


def cmd_evaluate(args):
    params = parse_params(args.param)
    est = _build(args.estimator, params, args.threads)
    if not _is_forecaster(est):
        raise CommandError(f"evaluate backtests forecasters; {args.estimator} is not one.")
    if args.verbose:
        _verbose(est)                   # backtest fits clones, which keep the setting
    y = as_series(read_table(args.data, args.time_column, split_columns(args.columns)))
    # --n-jobs worker processes start torch with --threads threads too (joblib's default
    # would be cores // n_jobs); fits in this process use the torch.set_num_threads of run.
    # n_jobs=1 keeps --n-jobs unset serial (this context's own default is every core).
    with parallel_backend("loky", n_jobs=1, inner_max_num_threads=args.threads):
        table = backtest(est, y, horizon=args.horizon, n_origins=args.n_origins, step=args.step,
                         quantiles=parse_quantiles(args.quantiles), sp=args.sp,
                         n_samples=args.n_samples, n_jobs=args.n_jobs)
    summary = table.drop(columns=[c for c in ("origin", "time") if c in table]).mean()
    summary_row = {**{c: "mean" if c in ("origin", "time") else summary[c] for c in table}}
    write_csv(pd.concat([table, pd.DataFrame([summary_row])], ignore_index=True), args.output,
              index=False)


COMMANDS = {"fit": cmd_fit, "forecast": cmd_forecast, "sample": cmd_sample, "score": cmd_score,
            "evaluate": cmd_evaluate}
