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

# Layout: _parser.py (the arguments), _status.py (errors, exit statuses) import no numpy, pandas
# or torch; _io.py (data files, pandas) and _commands.py (the commands, torch) load on first use.

import importlib
import sys

from ._parser import PROG, THREADS_HELP, build_parser, parse_value, positive_int
from ._status import CommandError, OutputClosed, UsageError, silence_stdout, to_stdout

__all__ = ["PROG", "THREADS_HELP", "CommandError", "UsageError", "build_parser", "main",
           "parse_value", "positive_int", "read_table"]

# helpers importable from here -> their module (loaded on first use, see __getattr__)
_LAZY = {"read_table": "_io", "_estimators": "_commands", "_fitted_columns": "_commands",
         "_verbose": "_commands"}


def main(argv=None):
    """Run the command line; returns the exit status (0 success, 1 failure, 2 usage, 141
    when the reader of stdout closed it early)."""
    try:
        status = _run(argv)
        to_stdout(lambda f: None)       # flush what is buffered while a closed pipe is caught
    except OutputClosed:                # '| head' read enough: stop quietly, as with SIGPIPE
        silence_stdout()
        return 141
    return status


def _run(argv):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args, rest = parser.parse_known_args(argv)
        if args.command == "demo":      # everything after 'demo' belongs to tsargen.demo
            _demo(args.threads, rest)
        else:
            if rest:
                hint = (" (--threads goes before the command)"
                        if any(r.startswith("--threads") for r in rest) else "")
                parser.error(f"unrecognized arguments: {' '.join(rest)}{hint}")
            # documented lazy import: numpy, pandas and torch load only once a command runs,
            # so that --help and usage errors answer in about 0.1 s instead of 2 s
            from . import _commands
            _commands.run(args)
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


def _demo(threads, rest):
    # documented lazy import: tsargen.demo imports this package (its --threads option), and
    # loads torch itself only after parsing its own options, so 'demo --help' stays fast too
    from .. import demo

    # demo sets the threads itself, after its own parsing (its --threads, if repeated, wins)
    demo.main(["--threads", str(threads), *rest])


def __getattr__(name):
    """The helpers of :mod:`tsargen.cli._io` and :mod:`tsargen.cli._commands` that callers
    import from here, loaded on first use (documented lazy import: they import pandas and
    torch, which ``--help`` does without)."""
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
