"""The parameter constraints of tsargen.validation: wording, bools, the MRO merge."""

import math
from numbers import Integral, Real

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from tsargen.validation import (Check, InvalidParameterError, Interval, Options, check_param,
                                parameter_constraints, validate_params)


@pytest.mark.parametrize("interval,text", [
    (Interval(Integral, 1, None), "a positive integer"),
    (Interval(Integral, 0, None), "an integer >= 0"),
    (Interval(Integral, 3, None, parity="odd"), "an odd integer >= 3"),
    (Interval(Integral, 4, None, parity="even"), "an even integer >= 4"),
    (Interval(Integral, 0, 5, closed="both"), "an integer in [0, 5]"),
    (Interval(Real, 0, None, closed="neither"), "a positive number"),
    (Interval(Real, 0, math.inf, closed="neither"), "a positive finite number"),
    (Interval(Real, 0, math.inf), "a finite number >= 0"),
    (Interval(Real, 0, 1), "a number in [0, 1)"),
    (Interval(Real, None, 1, closed="right"), "a number <= 1"),
])
def test_interval_wording(interval, text):
    assert str(interval) == text


def test_intervals_refuse_bools_nan_and_other_types():
    count, unit = Interval(Integral, 1, None), Interval(Real, 0, 1)
    assert count(1) and count(np.int64(7)) and not count(True) and not count(np.True_)
    assert not count(2.0) and not count("2") and not count(None)
    assert unit(0) and unit(np.float32(0.5)) and not unit(1) and not unit(math.nan)
    assert not unit(False)
    odd = Interval(Integral, 1, None, parity="odd")
    assert odd(3) and not odd(4)


def test_check_param_message_lists_every_allowed_kind():
    allowed = [None, Options(("a", "b")), Interval(Integral, 1, None), bool,
               Check(callable, "a function")]
    for good in (None, "a", 3, False, len):
        assert check_param(good, "p", allowed) is good
    with pytest.raises(InvalidParameterError) as err:
        check_param("c", "p", allowed, " (a hint)")
    assert str(err.value) == ("p must be None, one of ['a', 'b'], a positive integer, True or "
                              "False or a function (a hint), got 'c'.")
    assert isinstance(err.value, ValueError) and isinstance(err.value, TypeError)


def test_long_values_are_named_by_type():
    with pytest.raises(InvalidParameterError, match=r"got a list\.$"):
        check_param(list(range(100)), "p", [None])
    with pytest.raises(InvalidParameterError, match=r"got 3\.$"):          # not np.int64(3)
        check_param(np.int64(3), "p", [None])


def test_constraints_merge_along_the_mro():
    class Base(BaseEstimator):
        _parameter_constraints = {"a": [Interval(Integral, 1, None)], "b": [bool]}

        def __init__(self, a=1, b=False):
            self.a, self.b = a, b

    class Child(Base):
        _parameter_constraints = {"a": [Interval(Integral, 2, None)], "c": [str]}

        def __init__(self, a=2, b=False, c="x"):
            super().__init__(a, b)
            self.c = c

    assert parameter_constraints(Child) == {**Base._parameter_constraints,
                                            **Child._parameter_constraints}
    validate_params(Base(a=1))
    with pytest.raises(ValueError, match=r"^a must be an integer >= 2, got 1\.$"):
        validate_params(Child(a=1))                     # the subclass overrides its base
    with pytest.raises(ValueError, match="^b must be True or False"):
        validate_params(Child(b=0))                     # and keeps what it does not override
