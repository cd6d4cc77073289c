"""The command line's parser and the parsing of option values (no numpy, pandas or torch)."""

import argparse
import ast
import json

from ._status import CommandError, UsageError

PROG = "tsargen"
THREADS_HELP = ("torch threads for this command (default 1: on a 2-core machine shared with "
                "other jobs one thread was faster)")
FITTED_COLUMNS_HELP = ("target columns, comma-separated (default: those the forecaster was "
                       "fitted on, else all numeric)")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: error: {message}")


# ---------------------------------------------------------------------------- option values
def positive_int(text):
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_value(text):
    """``--param`` value: JSON or a Python literal (numbers, true/false/null, lists, dicts),
    else the string itself."""
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):
            continue
    return text


def parse_params(pairs):
    """``--param key=value`` options -> ``{key: value}``."""
    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--param expects key=value, got {pair!r}.")
        params[key.strip()] = parse_value(value.strip())
    return params


def parse_quantiles(text):
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise CommandError(f"--quantiles must be comma-separated numbers, got {text!r}.") \
            from None


def split_columns(text):
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


# ---------------------------------------------------------------------------- parser
def build_parser():
    parser = _Parser(prog=PROG, description="Autoregressive generative models for signals.")
    parser.add_argument("--threads", type=positive_int, default=1, metavar="N",
                        help=THREADS_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for add in (_add_fit, _add_forecast, _add_sample, _add_score, _add_evaluate):
        add(sub)
    # its options are tsargen.demo's: the command hands it everything after 'demo'
    sub.add_parser("demo", add_help=False, help="forecast yearly sunspots (tsargen.demo; "
                   "'demo --help' for its options)")
    return parser


def _data_options(p, columns_help="target columns, comma-separated (default: all numeric)"):
    p.add_argument("--time-column", help="column holding the time index")
    p.add_argument("--columns", help=columns_help)


def _verbose_option(p, help):
    p.add_argument("-v", "--verbose", action="store_true", help=help)


def _add_fit(sub):
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


def _add_forecast(sub):
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


def _add_sample(sub):
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


def _add_score(sub):
    p = sub.add_parser("score", help="log-likelihood of data under a model",
                       description="Forecasters: mean one-step log-likelihood (printed); "
                       "densities: log-likelihood per sample (CSV).")
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--steps", action="store_true", help="per-element log-likelihoods")
    p.add_argument("--label-column", help="densities: column of class labels")
    p.add_argument("-o", "--output", help="CSV to write (default: stdout)")
    _data_options(p, FITTED_COLUMNS_HELP)


def _add_evaluate(sub):
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
