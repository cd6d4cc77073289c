"""Declarative parameter checks: an estimator declares ``_parameter_constraints = {name:
[allowed, ...]}`` and :func:`validate_params` checks its ``get_params()`` against them (merged
along the MRO), with one line naming the parameter, what is allowed and the value given. A value
passes when it satisfies any entry: None, a type (``Integral``, ``Real``, ``bool``, ``str``,
``dict``, ``callable`` or any class; a bool is never a number), an :class:`Interval`,
:class:`Options` or :class:`Check`. Rules between parameters stay in the estimator's
``_check_params``. numpy only.
"""

import math
import numbers
import os

import numpy as np


class InvalidParameterError(ValueError, TypeError):
    """A parameter outside what is allowed. Both a ValueError and a TypeError (as
    scikit-learn's own), so code catching either for a wrong value or type sees it."""


class Interval:
    """Numbers of ``kind`` (``Integral`` or ``Real``) from ``low`` to ``high`` (None:
    unbounded); ``closed`` ("left", "right", "both", "neither") says which ends belong.
    ``parity`` ("odd", "even") keeps only odd or even integers."""

    def __init__(self, kind, low, high, *, closed="left", parity=None):
        self.kind, self.low, self.high, self.parity = kind, low, high, parity
        self.left, self.right = closed in ("left", "both"), closed in ("right", "both")

    def __call__(self, value):
        # NaN fails every comparison, so it is outside any bounded interval
        return (_is_a(value, self.kind)
                and (self.low is None or value > self.low or self.left and value == self.low)
                and (self.high is None or value < self.high or self.right and value == self.high)
                and (self.parity is None or value % 2 == (self.parity == "odd")))

    def __str__(self):
        noun = "integer" if self.kind is numbers.Integral else "number"
        if self.parity:
            noun = f"{self.parity} {noun}"
        low, high = self.low, self.high
        if high == math.inf and not self.right:           # all finite numbers above low
            noun, high = "finite " + noun, None
        positive = low == 0 and not self.left or low == 1 and self.left and noun == "integer"
        if high is None and positive:
            return f"a positive {noun}"
        a = "an" if noun[0] in "aeiou" else "a"
        if high is None:
            return f"{a} {noun}" + ("" if low is None else f" {'>=' if self.left else '>'} {low}")
        if low is None:
            return f"{a} {noun} {'<=' if self.right else '<'} {high}"
        brackets = ("[" if self.left else "(", "]" if self.right else ")")
        return f"{a} {noun} in {brackets[0]}{low}, {high}{brackets[1]}"


class Options:
    """One of the given strings."""

    def __init__(self, values):
        self.values = tuple(sorted(values) if isinstance(values, (set, frozenset)) else values)

    def __call__(self, value):
        return isinstance(value, str) and value in self.values

    def __str__(self):
        return f"one of {list(self.values)}"


class Check:
    """A value for which ``predicate(value)`` is true, described to users as ``description``
    (e.g. "a pandas offset such as '1s'")."""

    def __init__(self, predicate, description):
        self.predicate, self.description = predicate, description

    def __call__(self, value):
        return bool(self.predicate(value))

    def __str__(self):
        return self.description


#: The allowed value of a parameter whose check needs the data (e.g. class priors, one per
#: class): declared, so that no parameter goes undeclared, and checked in ``fit``.
CHECKED_IN_FIT = Check(lambda value: True, "checked in fit")

_TYPE_NAMES = {type(None): "None", bool: "True or False", numbers.Integral: "an integer",
               numbers.Real: "a number", str: "a string", dict: "a dict", callable: "a callable"}


def _is_a(value, kind):
    if kind is None:
        return value is None
    if kind is callable:
        return callable(value)
    if isinstance(value, (bool, np.bool_)):               # True is not the integer 1 here
        return kind is bool
    return isinstance(value, kind)


def _describe(entry):
    if isinstance(entry, (Interval, Options, Check)):
        return str(entry)
    name = _TYPE_NAMES.get(type(None) if entry is None else entry)
    if name is None:
        name = entry.__name__
        name = f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"
    return name


def _shown(value):
    """``value`` in a one-line message: numpy scalars as Python values (numpy 2 writes
    ``np.int64(7)``), a long or multi-line repr (an estimator's) as its type."""
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 80 and "\n" not in text else f"a {type(value).__name__}"


def check_param(value, name, allowed, hint=""):
    """``value`` if it satisfies an entry of ``allowed`` (see above), else an
    :class:`InvalidParameterError` with one line: "``name`` must be <allowed>``hint``, got
    <value>." """
    if any(entry(value) if isinstance(entry, (Interval, Options, Check)) else _is_a(value, entry)
           for entry in allowed):
        return value
    wanted = [_describe(entry) for entry in allowed]
    wanted = wanted[0] if len(wanted) == 1 else ", ".join(wanted[:-1]) + " or " + wanted[-1]
    raise InvalidParameterError(f"{name} must be {wanted}{hint}, got {_shown(value)}.")


def check_positive_int(value, name, hint=""):
    """A count such as ``n_samples`` or ``window`` -> int, for functions and methods (estimator
    hyperparameters are declared in ``_parameter_constraints``)."""
    return int(check_param(value, name, [Interval(numbers.Integral, 1, None)], hint))


def parameter_constraints(cls):
    """``cls._parameter_constraints`` merged along the MRO: a subclass's entries extend and
    override its bases'."""
    merged = {}
    for klass in reversed(cls.__mro__):
        merged.update(vars(klass).get("_parameter_constraints", {}))
    return merged


def validate_params(estimator):
    """Check ``estimator.get_params(deep=False)`` against its declared constraints (see
    :func:`parameter_constraints`); the first failing parameter raises."""
    constraints = parameter_constraints(type(estimator))
    for name, value in estimator.get_params(deep=False).items():
        if name in constraints:
            check_param(value, name, constraints[name])


def check_jobs(n_jobs):
    """Process-parallel fits (``n_jobs`` other than None or 1) cannot run under ``torchrun``:
    their workers would inherit its rendezvous and join the process group as duplicate ranks."""
    if n_jobs not in (None, 1) and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError(f"n_jobs={n_jobs!r} under torchrun (WORLD_SIZE="
                         f"{os.environ['WORLD_SIZE']}): every fit already trains data-parallel "
                         "across the ranks; use n_jobs=None.")
